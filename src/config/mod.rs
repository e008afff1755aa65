//! One typed configuration per deployment, loaded from a YAML file in the ROS 2 parameters format.
//!
//! ```yaml
//! sattva:                 # the node name (also accepted: /sattva, /**)
//!   ros__parameters:
//!     backend: mujoco
//!     seed: 7
//!     mujoco:
//!       model: ../sim/arm_table.xml   # relative paths are relative to this file
//! ```
//!
//! The same file is passed to `ros2 launch` as `--params-file` and read by the standalone binary.
//! Several files merge key by key in order, later ones winning (`sattva run -c config/robot.yaml
//! --params-file hardware/my_arm.yaml`), then `-p key.path=value` overrides apply
//! ([`Config::load_layers`]).
//! Because ROS 2 parameters are scalars or arrays of scalars, the schema never uses lists of maps
//! (per-joint settings are parallel arrays) and the loader rejects them with a clear error.
//!
//! Every error names the file (of several, the one that set the key: [`Origins`]), the key path
//! (`sattva.ros__parameters.mujoco.model`) and what was expected. Unknown keys are errors (a typo
//! must not silently fall back to a default).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_norway::Value;

mod assemble;
mod origin;

pub use crate::validate::{Checker, ConfigError, Origins, Source, Validate};
pub use origin::PATH_KEYS;

use crate::backend::mujoco_config::MujocoConfig;

/// The node name under which parameters live in the file.
const NODE_NAME: &str = "sattva";

/// Which world runs behind the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// MuJoCo simulation (`mujoco:` section).
    Mujoco,
    /// Intel RealSense camera + a real robot's joints.
    Robot,
    /// Intel RealSense camera only (live or a `.bag` recording; `realsense:` section).
    Realsense,
    /// A recorded rosbag2 bag.
    Replay,
}

/// The control loop's timing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ControlConfig {
    /// Control period, ns (default 2 ms = 500 Hz).
    pub period_ns: i64,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            period_ns: 2_000_000,
        }
    }
}

impl Validate for ControlConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_i64("period_ns", self.period_ns, 10_000, 1_000_000_000);
    }
}

/// Settings of the `sattva sim` job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Simulated duration of one run, s.
    pub duration_s: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self { duration_s: 10.0 }
    }
}

impl Validate for SimConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("duration_s", self.duration_s, 0.0, 1.0e6);
    }
}

/// The whole configuration of one deployment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which backend drives the loop.
    pub backend: BackendKind,
    /// The standard ROS 2 parameter every node accepts (`ros2 launch ... use_sim_time:=true`).
    /// sattva stamps with its backend's clock either way (sim time in simulation and replay).
    #[serde(default)]
    pub use_sim_time: bool,
    /// Master seed: noise, exploration and projections derive their seeds from it.
    #[serde(default)]
    pub seed: u64,
    /// Control loop timing.
    #[serde(default)]
    pub control: ControlConfig,
    /// The `sattva sim` job.
    #[serde(default)]
    pub sim: SimConfig,
    /// The action stage: safety clamp limits.
    #[serde(default)]
    pub action: crate::action::ActionConfig,
    /// Curriculum and literacy evaluation (`sattva eval literacy`, `sattva sim`).
    #[serde(default)]
    pub eval: crate::action::curriculum::EvalConfig,
    /// The learning substrate.
    #[serde(default)]
    pub substrate: crate::substrate::SubstrateConfig,
    /// MuJoCo backend (required when `backend: mujoco`).
    #[serde(default)]
    pub mujoco: Option<MujocoConfig>,
    /// A real robot's joints through its ros2_control stack (`robot:` section).
    #[serde(default)]
    pub robot: Option<crate::backend::robot_config::RobotJointsConfig>,
    /// ROS 2 node: topics, frames, rates.
    #[serde(default)]
    pub ros: crate::ros::RosConfig,
    /// Recording to rosbag2 (`record:` section).
    #[serde(default)]
    pub record: crate::record::RecordConfig,
    /// Replay of rosbag2 bags (`replay:` section).
    #[serde(default)]
    pub replay: crate::backend::replay_config::ReplayConfig,
    /// Sensor fusion stage.
    #[serde(default)]
    pub fusion: crate::fusion::FusionConfig,
    /// Experience encoder.
    #[serde(default)]
    pub encode: crate::encode::EncodeConfig,
    /// Online learning while the agent runs (`sattva run`).
    #[serde(default)]
    pub learn: crate::learn::LearnConfig,
    /// Vision stage (camera-rate task: depth cleanup, visual descriptor, visual heading aid).
    #[serde(default)]
    pub vision: crate::vision::VisionConfig,
    /// RealSense camera (used when `backend: realsense` or `robot`).
    #[serde(default)]
    pub realsense: crate::backend::realsense::config::RealsenseConfig,
    /// Real-time executor: tasks, cores, priorities, overrun policies.
    #[serde(default)]
    pub sched: crate::sched::SchedConfig,
    /// Observability: Prometheus endpoint, stats socket for `sattva top` (`metrics:` section).
    #[serde(default)]
    pub metrics: crate::observe::MetricsConfig,
    /// Peer validation of primitives (`sattva peer`, `sattva peers -n N`).
    #[serde(default)]
    pub peers: crate::peers::PeersConfig,
    /// STL safety monitors evaluated in the control task, keyed by name (`monitors:`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub monitors: crate::monitor::MonitorsConfig,
    /// Directory of the file this was loaded from; relative paths inside resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The (first) file this was loaded from.
    #[serde(skip)]
    pub source: PathBuf,
    /// Every file and override merged into this config, and which one set each key
    /// ([`Config::source_of`]).
    #[serde(skip)]
    pub origins: Origins,
}

impl Validate for Config {
    fn validate(&self, c: &mut Checker) {
        c.section("control", |c| self.control.validate(c));
        c.section("sim", |c| self.sim.validate(c));
        c.section("ros", |c| self.ros.validate(c));
        if let Some(r) = &self.robot {
            c.section("robot", |c| r.validate(c));
        }
        c.section("record", |c| self.record.validate(c));
        c.section("replay", |c| self.replay.validate(c));
        c.section("fusion", |c| self.fusion.validate(c));
        c.section("encode", |c| self.encode.validate(c));
        c.section("learn", |c| self.learn.validate(c));
        c.section("vision", |c| self.vision.validate(c));
        c.section("realsense", |c| self.realsense.validate(c));
        c.section("sched", |c| self.sched.validate(c));
        c.section("metrics", |c| self.metrics.validate(c));
        c.section("peers", |c| self.peers.validate(c));
        if let Some(t) = self.sched.tasks.get("control") {
            c.require(
                t.period_ns == self.control.period_ns,
                "sched.tasks.control.period_ns",
                format!(
                    "{} differs from control.period_ns {}: the control task runs once per control period",
                    t.period_ns, self.control.period_ns
                ),
            );
        }
        c.section("substrate", |c| self.substrate.validate(c));
        c.section("action", |c| self.action.validate(c));
        c.section("eval", |c| self.eval.validate(c));
        c.section("monitors", |c| {
            crate::monitor::validate(&self.monitors, self.control.period_ns, c)
        });
        if let (BackendKind::Robot, Some(r)) = (&self.backend, &self.robot) {
            // the node must not publish its joint states onto the robot's own topic
            let abs = |t: &str| {
                if t.starts_with('/') {
                    t.to_string()
                } else {
                    format!("{}/{t}", self.ros.namespace)
                }
            };
            c.require(
                abs(&self.ros.topics.joint_states) != abs(&r.joint_states_topic),
                "ros.topics.joint_states",
                format!(
                    "`{}` is the robot's own joint state topic (robot.joint_states_topic): publish sattva's on another, e.g. `sattva/joint_states`",
                    self.ros.topics.joint_states
                ),
            );
        }
        match (&self.backend, &self.mujoco) {
            (BackendKind::Mujoco, None) => c.fail(
                "mujoco",
                "missing: `backend: mujoco` needs a `mujoco:` section with at least `model:`",
            ),
            (_, Some(m)) => c.section("mujoco", |c| m.validate(c)),
            _ => {}
        }
    }
}

impl Config {
    /// Loads one file, applies `overrides` (`key.path=value`, value in YAML syntax) and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        Self::load_layers(&[path.to_path_buf()], overrides)
    }

    /// Parses a config from YAML text; `path` is used for error messages and relative paths.
    pub fn from_yaml_str(
        text: &str,
        path: &Path,
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        Self::from_layers(&[(path.to_path_buf(), text.to_string())], overrides)
    }

    /// Loads several parameter files, later ones overriding earlier ones key by key (what ROS 2
    /// does with several `--params-file`), then applies `overrides` in order (after every file,
    /// as ROS 2 applies `-p` after `--params-file`), and validates.
    ///
    /// Relative paths resolve against the directory of the file that sets them (the first
    /// file's directory is [`Config::base_dir`]; see [`PATH_KEYS`]), a `-p` path against the
    /// current directory. Errors name the file or override that set the key, with the full key
    /// path; a key no single source set names every file.
    pub fn load_layers(paths: &[PathBuf], overrides: &[String]) -> Result<Config, ConfigError> {
        let mut layers = Vec::with_capacity(paths.len());
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                file: p.clone(),
                source,
            })?;
            layers.push((p.clone(), text));
        }
        Self::from_layers(&layers, overrides)
    }

    fn from_layers(
        layers: &[(PathBuf, String)],
        overrides: &[String],
    ) -> Result<Config, ConfigError> {
        let no_file = || ConfigError::Invalid {
            file: PathBuf::from("<none>"),
            key: "<top>".into(),
            message: "no parameter file given".into(),
        };
        let file = layers.first().ok_or_else(no_file)?.0.clone();
        let mut origins = Origins::default();
        let mut merged: Option<Value> = None;
        for (i, (path, text)) in layers.iter().enumerate() {
            let doc: Value = serde_norway::from_str(text).map_err(|e| syntax_error(path, &e))?;
            let (prefix, mut params) = extract_params(path, doc)?;
            check_ros_param_types(path, &prefix, &params)?;
            if i > 0 {
                let dir = path.parent().unwrap_or_else(|| Path::new(""));
                origin::anchor_paths(&mut params, dir);
            }
            let idx = origins.push(path.clone(), prefix, false);
            origins.record(idx, "", &params);
            match merged.as_mut() {
                None => merged = Some(params),
                Some(base) => deep_merge(base, params),
            }
        }
        let mut params = merged.ok_or_else(no_file)?;
        let prefix = origins
            .sources()
            .first()
            .map(|s| s.prefix.clone())
            .unwrap_or_default();
        for ov in overrides {
            let name = PathBuf::from(format!("-p {ov}"));
            let (key, value) = apply_override(&name, &prefix, &mut params, ov)?;
            let idx = origins.push(name, prefix.clone(), true);
            origins.record(idx, &key, &value);
        }
        let mut cfg: Config = serde_path_to_error::deserialize(params).map_err(|e| {
            let rel = match e.path().to_string() {
                p if p == "." => String::new(),
                p => p,
            };
            let message = e.into_inner().to_string();
            // `unknown field `x``: the source that wrote `x` is the one to blame
            let blamed = message
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next())
                .map(|f| crate::validate::join(&rel, f))
                .unwrap_or_else(|| rel.clone());
            let (file, prefix) = origins.describe(&blamed);
            ConfigError::Invalid {
                file,
                key: join_key(&prefix, &rel),
                message,
            }
        })?;
        cfg.base_dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.source = file.clone();
        cfg.origins = origins;
        let mut checker = Checker::with_origins(&file, &prefix, cfg.origins.clone());
        cfg.validate(&mut checker);
        checker.finish()?;
        Ok(cfg)
    }

    /// The file (or `-p` override) that set `key` (dotted, below `ros__parameters`, e.g.
    /// `mujoco.model`), for error messages; every file when no single one did.
    pub fn source_of(&self, key: &str) -> PathBuf {
        if self.origins.is_empty() {
            self.source.clone()
        } else {
            self.origins.describe(key).0
        }
    }

    /// Resolves a path from the config: absolute stays, relative is taken from the file's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The MuJoCo section; an error naming the key when absent.
    pub fn mujoco(&self) -> Result<&MujocoConfig, ConfigError> {
        self.mujoco.as_ref().ok_or_else(|| ConfigError::Invalid {
            file: self.source.clone(),
            key: format!("{NODE_NAME}.ros__parameters.mujoco"),
            message: "missing: this command needs a `mujoco:` section".into(),
        })
    }

    /// A stable hash of the effective configuration (for snapshot lineage and reports).
    pub fn hash(&self) -> [u8; 32] {
        use sha2::Digest;
        let text = serde_norway::to_string(self).unwrap_or_default();
        sha2::Sha256::digest(text.as_bytes()).into()
    }
}

/// Recursively merges `over` into `base`: maps merge key by key, anything else is replaced.
fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn syntax_error(file: &Path, e: &serde_norway::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    ConfigError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message: e.to_string(),
    }
}

fn join_key(prefix: &str, rest: &str) -> String {
    if rest.is_empty() || rest == "." {
        prefix.to_string()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Finds `<node>: ros__parameters:` and returns (key prefix, the parameters map).
fn extract_params(file: &Path, doc: Value) -> Result<(String, Value), ConfigError> {
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let Value::Mapping(top) = doc else {
        return Err(invalid(
            "<top>",
            format!("expected a mapping `{NODE_NAME}: {{ros__parameters: {{...}}}}` (ROS 2 params format)"),
        ));
    };
    for node in [NODE_NAME, "/sattva", "/**"] {
        if let Some(v) = top.get(node) {
            let Value::Mapping(inner) = v else {
                return Err(invalid(
                    node,
                    "expected a mapping with `ros__parameters`".into(),
                ));
            };
            let params = inner.get("ros__parameters").cloned().ok_or_else(|| {
                invalid(
                    node,
                    "missing `ros__parameters` (ROS 2 params format: `sattva: ros__parameters: ...`)".into(),
                )
            })?;
            if let Some(k) = inner.keys().find(|k| k.as_str() != Some("ros__parameters")) {
                return Err(invalid(
                    &format!("{node}.{}", value_key(k)),
                    "unknown key: only `ros__parameters` may appear under the node name".into(),
                ));
            }
            return Ok((format!("{node}.ros__parameters"), params));
        }
    }
    let found: Vec<String> = top.keys().map(value_key).collect();
    Err(invalid(
        "<top>",
        format!(
            "no parameters for node `{NODE_NAME}`: expected top-level key `{NODE_NAME}` (or `/**`), found {found:?}"
        ),
    ))
}

fn value_key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// ROS 2 parameters are bool/int/double/string or homogeneous arrays of those, nested in maps.
/// Reject what `--params-file` would reject, so a file that works here also works under `ros2 launch`.
fn check_ros_param_types(file: &Path, prefix: &str, v: &Value) -> Result<(), ConfigError> {
    fn walk(file: &Path, key: &str, v: &Value) -> Result<(), ConfigError> {
        let bad = |message: &str| ConfigError::Invalid {
            file: file.to_path_buf(),
            key: key.to_string(),
            message: message.to_string(),
        };
        match v {
            Value::Mapping(m) => {
                for (k, child) in m {
                    walk(file, &format!("{key}.{}", value_key(k)), child)?;
                }
                Ok(())
            }
            Value::Sequence(items) => {
                if items.is_empty() {
                    return Err(bad(
                        "empty list: ROS 2 parameters cannot be empty arrays; omit the key instead",
                    ));
                }
                let kind = |x: &Value| match x {
                    Value::Bool(_) => Some(0),
                    Value::Number(n) if n.is_f64() => Some(2),
                    Value::Number(_) => Some(1),
                    Value::String(_) => Some(3),
                    _ => None,
                };
                let first = kind(&items[0]);
                for it in items {
                    match kind(it) {
                        None => return Err(bad("lists may hold only scalars (ROS 2 parameter arrays); use parallel arrays instead of a list of maps")),
                        k if k != first => return Err(bad("mixed types in a list: ROS 2 parameter arrays are homogeneous")),
                        _ => {}
                    }
                }
                Ok(())
            }
            Value::Null => Err(bad(
                "null value: ROS 2 parameters cannot be null; omit the key instead",
            )),
            Value::Tagged(_) => Err(bad("YAML tags are not allowed in ROS 2 parameter files")),
            _ => Ok(()),
        }
    }
    walk(file, prefix, v)
}

/// Applies `a.b.c=value` to the parameter map and returns the key and the value set. The value is
/// parsed as YAML (so `3`, `true`, `[1, 2]` and `text` all work), exactly like
/// `ros2 run ... -p a.b.c:=value`; errors name the override (`name`).
fn apply_override(
    name: &Path,
    prefix: &str,
    params: &mut Value,
    ov: &str,
) -> Result<(String, Value), ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        file: name.to_path_buf(),
        key,
        message,
    };
    let (key, raw) = ov
        .split_once(":=")
        .or_else(|| ov.split_once('='))
        .ok_or_else(|| {
            invalid(
                ov.to_string(),
                "override must look like `key.path=value` (or `key.path:=value`)".into(),
            )
        })?;
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(invalid(
            join_key(prefix, key),
            "override key must be a dotted path like `control.period_ns`".into(),
        ));
    }
    let mut value: Value = serde_norway::from_str(raw).map_err(|e| {
        invalid(
            join_key(prefix, key),
            format!("override value `{raw}` is not valid YAML: {e}"),
        )
    })?;
    check_ros_param_types(name, &join_key(prefix, key), &value)?;
    origin::anchor_override(key, &mut value);
    let mut cur = params;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Value::Mapping(m) = cur else {
            return Err(invalid(
                join_key(prefix, &parts[..i].join(".")),
                "override path goes through a value that is not a mapping".into(),
            ));
        };
        let k = Value::String((*part).to_string());
        if i + 1 == parts.len() {
            m.insert(k, value.clone());
            break;
        }
        cur = m
            .entry(k)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
    Ok((key.to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml_str(text, Path::new("/etc/x/test.yaml"), &[])
    }

    const MIN: &str =
        "sattva:\n  ros__parameters:\n    backend: mujoco\n    mujoco:\n      model: arm.xml\n";

    #[test]
    fn robot_joint_states_must_not_be_republished_on_the_robots_topic() {
        let robot =
            "sattva:\n  ros__parameters:\n    backend: robot\n    robot:\n      joint_names: [a]\n";
        let e = load(robot).unwrap_err().to_string();
        assert!(
            e.contains("ros.topics.joint_states") && e.contains("robot.joint_states_topic"),
            "{e}"
        );
        let ok =
            format!("{robot}    ros:\n      topics:\n        joint_states: sattva/joint_states\n");
        assert!(load(&ok).is_ok());
    }

    #[test]
    fn minimal_file_loads_with_defaults() {
        let c = load(MIN).unwrap();
        assert_eq!(c.backend, BackendKind::Mujoco);
        assert_eq!(c.control.period_ns, 2_000_000);
        assert_eq!(c.resolve_path("arm.xml"), PathBuf::from("/etc/x/arm.xml"));
        assert_eq!(c.resolve_path("/abs/a.xml"), PathBuf::from("/abs/a.xml"));
    }

    #[test]
    fn wildcard_node_name_is_accepted() {
        let text = MIN.replace("sattva:", "/**:");
        assert!(load(&text).is_ok());
    }

    #[test]
    fn unknown_key_names_file_and_path() {
        let text = format!("{MIN}    contorl:\n      period_ns: 5\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(e.contains("/etc/x/test.yaml"), "{e}");
        assert!(e.contains("sattva.ros__parameters"), "{e}");
        assert!(e.contains("contorl"), "{e}");
    }

    #[test]
    fn nested_unknown_key_has_full_path() {
        let text = format!("{MIN}    control:\n      period_nss: 5\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(e.contains("sattva.ros__parameters.control"), "{e}");
        assert!(e.contains("period_nss"), "{e}");
        assert!(e.contains("period_ns"), "expected form listed: {e}");
    }

    #[test]
    fn wrong_type_names_key_and_expected_type() {
        let text = format!("{MIN}    control:\n      period_ns: fast\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(
            e.contains("sattva.ros__parameters.control.period_ns"),
            "{e}"
        );
        assert!(e.contains("i64") || e.contains("integer"), "{e}");
    }

    #[test]
    fn out_of_range_names_key_and_range() {
        let text = format!("{MIN}    control:\n      period_ns: 5\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(
            e.contains("sattva.ros__parameters.control.period_ns"),
            "{e}"
        );
        assert!(e.contains("10000"), "{e}");
    }

    #[test]
    fn missing_ros_parameters_layer_is_explained() {
        let e = load("sattva:\n  backend: mujoco\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ros__parameters"), "{e}");
    }

    #[test]
    fn syntax_error_has_line() {
        let e = load("sattva:\n  ros__parameters: [\n").unwrap_err();
        assert!(
            matches!(e, ConfigError::Syntax { line, .. } if line > 0),
            "{e}"
        );
    }

    #[test]
    fn missing_file_names_file() {
        let e = Config::load(Path::new("/nonexistent/sattva.yaml"), &[]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/sattva.yaml"));
    }

    #[test]
    fn list_of_maps_is_rejected_as_not_ros_params() {
        let text = format!("{MIN}    sim:\n      duration_s: [{{a: 1}}]\n");
        let e = load(&text).unwrap_err().to_string();
        assert!(e.contains("sattva.ros__parameters.sim.duration_s"), "{e}");
        assert!(e.contains("parallel arrays"), "{e}");
    }

    #[test]
    fn overrides_win_over_file_and_are_typed() {
        let c = Config::from_yaml_str(
            MIN,
            Path::new("t.yaml"),
            &["control.period_ns:=1000000".into(), "seed=9".into()],
        )
        .unwrap();
        assert_eq!(c.control.period_ns, 1_000_000);
        assert_eq!(c.seed, 9);
        let e = Config::from_yaml_str(MIN, Path::new("t.yaml"), &["seed=abc".into()]).unwrap_err();
        assert!(e.to_string().contains("seed"), "{e}");
    }

    #[test]
    fn later_params_files_override_earlier_ones_key_by_key() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.yaml");
        let b = d.path().join("b.yaml");
        std::fs::write(
            &a,
            format!("{MIN}    control:\n      period_ns: 1000000\n    seed: 4\n"),
        )
        .unwrap();
        std::fs::write(&b, "/**:\n  ros__parameters:\n    seed: 5\n").unwrap();
        let c = Config::load_layers(&[a.clone(), b], &[]).unwrap();
        assert_eq!(c.seed, 5);
        assert_eq!(c.control.period_ns, 1_000_000);
        assert_eq!(c.source, a);
    }

    #[test]
    fn errors_name_the_file_or_override_that_set_the_key() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("base.yaml");
        let b = d.path().join("profile.yaml");
        std::fs::write(&a, MIN).unwrap();
        // a bad value in the second file: that file and its own key prefix are named
        std::fs::write(
            &b,
            "/**:\n  ros__parameters:\n    control:\n      period_ns: -5\n",
        )
        .unwrap();
        let e = Config::load_layers(&[a.clone(), b.clone()], &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{}: ", b.display())), "{e}");
        assert!(
            e.contains("key `/**.ros__parameters.control.period_ns`"),
            "{e}"
        );
        // a typo in the second file
        std::fs::write(
            &b,
            "sattva:\n  ros__parameters:\n    control:\n      period_nss: 5\n",
        )
        .unwrap();
        let e = Config::load_layers(&[a.clone(), b.clone()], &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&format!("{}: ", b.display())), "{e}");
        assert!(e.contains("unknown field `period_nss`"), "{e}");
        // a wrong type from an override names the override
        let e = Config::load_layers(std::slice::from_ref(&a), &["control.period_ns:=abc".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "-p control.period_ns:=abc: key `sattva.ros__parameters.control.period_ns`"
            ),
            "{e}"
        );
        // a key nobody set (a missing section) names every file
        std::fs::write(&b, "sattva:\n  ros__parameters:\n    seed: 2\n").unwrap();
        let e = Config::load_layers(&[b.clone(), b.clone()], &["backend=mujoco".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("{} + {}", b.display(), b.display())),
            "{e}"
        );
        // an override that is not a parameter array is rejected like a file's
        let e = Config::load_layers(&[a], &["sim.duration_s=[{a: 1}]".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-p sim.duration_s=[{a: 1}]") && e.contains("parallel arrays"),
            "{e}"
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_file_that_sets_them() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("config")).unwrap();
        std::fs::create_dir_all(d.path().join("hardware")).unwrap();
        let a = d.path().join("config/base.yaml");
        let b = d.path().join("hardware/arm.yaml");
        std::fs::write(&a, MIN).unwrap();
        std::fs::write(
            &b,
            "sattva:\n  ros__parameters:\n    realsense:\n      playback: rec.bag\n",
        )
        .unwrap();
        let c = Config::load_layers(&[a, b], &["replay.bag=x.bag".into()]).unwrap();
        // the first file's paths stay relative to it
        assert_eq!(
            c.resolve_path(&c.mujoco().unwrap().model),
            d.path().join("config/arm.xml")
        );
        let playback = c.realsense.playback.clone().unwrap();
        assert_eq!(c.resolve_path(&playback), d.path().join("hardware/rec.bag"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(c.resolve_path(&c.replay.bag), cwd.join("x.bag"));
        assert_eq!(
            c.source_of("realsense.playback"),
            d.path().join("hardware/arm.yaml")
        );
        assert_eq!(
            c.source_of("mujoco.model"),
            d.path().join("config/base.yaml")
        );
    }

    #[test]
    fn control_task_period_must_match_the_control_period() {
        let text = format!(
            "{MIN}    sched:\n      tasks:\n        control:\n          period_ns: 1000000\n"
        );
        let e = load(&text).unwrap_err().to_string();
        assert!(e.contains("sched.tasks.control.period_ns"), "{e}");
    }

    #[test]
    fn mujoco_backend_without_section_is_an_error() {
        let e = load("sattva:\n  ros__parameters:\n    backend: mujoco\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sattva.ros__parameters.mujoco"), "{e}");
    }
}
