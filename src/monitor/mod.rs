//! Signal Temporal Logic safety monitors in the control loop (`monitors:` section).
//!
//! ```yaml
//! monitors:
//!   joint_speed:                      # the monitor's name
//!     spec: "always[0:0.02](speed_max < 2.5)"
//!     severity: error                 # info | warn | error (the log level of a violation)
//!     action: hold                    # log | hold | safe_stop
//! ```
//!
//! Each spec is parsed ([`parse`]) and compiled ([`eval`]) once at start-up into a fixed-size
//! evaluator over named signals of the cycle ([`Signal`]: the fused state, the command before
//! the clamp, the mode, data ages). Per cycle, [`Monitors::step`] fills the signals, evaluates
//! every monitor (no allocation, time bounded by the specs) and reports the robustness of each
//! (RTAMT's discrete-time quantitative semantics, see [`eval`]); a robustness below zero is a
//! violation: counted, logged at the 1st, 10th, 100th ... time, and acted on in the same cycle:
//! `hold` makes this cycle's command a hold, `safe_stop` latches the loop into hold mode (the
//! operator's `sattva/mode` releases it).

pub mod eval;
pub mod parse;
pub mod state;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fusion::FusedState;
use crate::repeat::Repeated;
use crate::types::{Command, SensorFrame, Time};
use crate::validate::{Checker, Validate};

pub use eval::{CompileError, Program};
pub use state::{MonitorChunk, MonitorState, RobustnessRow, RobustnessSeries, CHUNK};

/// The log level of a monitor's violations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// `tracing::info!`.
    Info,
    /// `tracing::warn!` (default).
    #[default]
    Warn,
    /// `tracing::error!`.
    Error,
}

/// What a violation does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorAction {
    /// Count and log only (default).
    #[default]
    Log,
    /// The command of every violating cycle is a hold (the robot holds position).
    Hold,
    /// The loop switches to hold mode and stays there until the operator changes the mode.
    SafeStop,
}

/// One monitor of the `monitors:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorConfig {
    /// The STL spec (see [`parse`]).
    pub spec: String,
    /// Log level of violations.
    #[serde(default)]
    pub severity: Severity,
    /// What a violation does.
    #[serde(default)]
    pub action: MonitorAction,
}

/// The `monitors:` section: monitors keyed by name.
pub type MonitorsConfig = BTreeMap<String, MonitorConfig>;

/// A spec that does not parse or compile.
#[derive(Debug, thiserror::Error)]
#[error("monitor `{monitor}`: spec column {col}: {message}")]
pub struct MonitorError {
    /// The monitor's name.
    pub monitor: String,
    /// 1-based column in the spec.
    pub col: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for MonitorSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} violating cycles ({} onsets, action {:?}), min robustness {:.4}",
            self.name, self.violations, self.onsets, self.action, self.min_robustness
        )
    }
}

/// Most monitors one loop runs.
pub const MAX_MONITORS: usize = 256;

/// A named signal of the control cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `pos_<joint>`: fused joint position, rad or m.
    Position(usize),
    /// `vel_<joint>`: fused joint velocity.
    Velocity(usize),
    /// `effort_<joint>`: measured effort (NaN when not measured).
    Effort(usize),
    /// `cmd_<joint>`: the command's value before the clamp (a hold commands the position).
    Command(usize),
    /// `speed_max`: the largest |joint velocity|.
    SpeedMax,
    /// `tilt`: angle between the IMU's z axis and world up, rad.
    Tilt,
    /// `tilt_deg`: the same in degrees.
    TiltDeg,
    /// `rate`: |angular velocity|, rad/s.
    Rate,
    /// `rate_x`, `rate_y`, `rate_z`: angular velocity components, rad/s.
    RateAxis(usize),
    /// `force_<contact>`: contact normal force, N.
    Force(usize),
    /// `force_max`: the largest contact force, N.
    ForceMax,
    /// `mode`: 0 explore, 1 external, 2 hold.
    Mode,
    /// `cmd_hold`: 1 when the command (before the clamp) is a hold, else 0.
    CmdHold,
    /// `imu_age`: seconds since the last frame with an IMU sample (+inf before the first).
    ImuAge,
    /// `cmd_age`: seconds since the last operator command (+inf before the first).
    CmdAge,
}

/// The signal names without a joint or contact suffix.
pub const FIXED_SIGNALS: [&str; 12] = [
    "speed_max",
    "tilt",
    "tilt_deg",
    "rate",
    "rate_x",
    "rate_y",
    "rate_z",
    "force_max",
    "mode",
    "cmd_hold",
    "imu_age",
    "cmd_age",
];

/// Per-joint (`pos_`, `vel_`, `effort_`, `cmd_`) and per-contact (`force_`) prefixes.
pub const SIGNAL_PREFIXES: [&str; 5] = ["pos_", "vel_", "effort_", "cmd_", "force_"];

/// Resolves a signal name against the robot's joint and contact names (a name or an index).
pub fn resolve_signal(
    name: &str,
    joints: &[String],
    contacts: &[String],
) -> Result<Signal, String> {
    let fixed = match name {
        "speed_max" => Some(Signal::SpeedMax),
        "tilt" => Some(Signal::Tilt),
        "tilt_deg" => Some(Signal::TiltDeg),
        "rate" => Some(Signal::Rate),
        "rate_x" => Some(Signal::RateAxis(0)),
        "rate_y" => Some(Signal::RateAxis(1)),
        "rate_z" => Some(Signal::RateAxis(2)),
        "force_max" => Some(Signal::ForceMax),
        "mode" => Some(Signal::Mode),
        "cmd_hold" => Some(Signal::CmdHold),
        "imu_age" => Some(Signal::ImuAge),
        "cmd_age" => Some(Signal::CmdAge),
        _ => None,
    };
    if let Some(s) = fixed {
        return Ok(s);
    }
    let find = |rest: &str, names: &[String]| {
        names
            .iter()
            .position(|n| n == rest)
            .or_else(|| rest.parse::<usize>().ok().filter(|&i| i < names.len()))
    };
    for (prefix, per_joint) in [
        ("pos_", true),
        ("vel_", true),
        ("effort_", true),
        ("cmd_", true),
        ("force_", false),
    ] {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let names = if per_joint { joints } else { contacts };
        let Some(i) = find(rest, names) else {
            return Err(format!(
                "unknown {} `{rest}` in signal `{name}`: expected one of [{}] or an index below {}",
                if per_joint { "joint" } else { "contact" },
                names.join(", "),
                names.len()
            ));
        };
        return Ok(match prefix {
            "pos_" => Signal::Position(i),
            "vel_" => Signal::Velocity(i),
            "effort_" => Signal::Effort(i),
            "cmd_" => Signal::Command(i),
            _ => Signal::Force(i),
        });
    }
    Err(format!(
        "unknown signal `{name}`: expected one of {} or pos_/vel_/effort_/cmd_<joint>, force_<contact>",
        FIXED_SIGNALS.join(", ")
    ))
}

impl Signal {
    /// The canonical name (joints and contacts by name).
    pub fn name(self, joints: &[String], contacts: &[String]) -> String {
        let j = |i: usize| joints.get(i).cloned().unwrap_or_else(|| i.to_string());
        match self {
            Signal::Position(i) => format!("pos_{}", j(i)),
            Signal::Velocity(i) => format!("vel_{}", j(i)),
            Signal::Effort(i) => format!("effort_{}", j(i)),
            Signal::Command(i) => format!("cmd_{}", j(i)),
            Signal::Force(i) => format!(
                "force_{}",
                contacts.get(i).cloned().unwrap_or_else(|| i.to_string())
            ),
            Signal::SpeedMax => "speed_max".into(),
            Signal::Tilt => "tilt".into(),
            Signal::TiltDeg => "tilt_deg".into(),
            Signal::Rate => "rate".into(),
            Signal::RateAxis(k) => ["rate_x", "rate_y", "rate_z"][k.min(2)].into(),
            Signal::ForceMax => "force_max".into(),
            Signal::Mode => "mode".into(),
            Signal::CmdHold => "cmd_hold".into(),
            Signal::ImuAge => "imu_age".into(),
            Signal::CmdAge => "cmd_age".into(),
        }
    }
}

/// What a cycle offers the monitors.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The cycle's time.
    pub t: Time,
    /// The frame read (for data ages).
    pub frame: &'a SensorFrame,
    /// The fused state.
    pub fused: &'a FusedState,
    /// The command before the clamp.
    pub command: &'a Command,
    /// The control mode as a number: 0 explore, 1 external, 2 hold.
    pub mode: f64,
    /// When the last operator command arrived.
    pub command_at: Option<Time>,
}

fn get(v: &[f64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(f64::NAN)
}

impl Signal {
    fn value(self, x: &Inputs<'_>, last_imu: Option<Time>) -> f64 {
        let f = x.fused;
        let age = |at: Option<Time>| at.map_or(f64::INFINITY, |a| (x.t.0 - a.0) as f64 * 1e-9);
        match self {
            Signal::Position(i) => get(&f.joint_position, i),
            Signal::Velocity(i) => get(&f.joint_velocity, i),
            Signal::Effort(i) => get(&f.joint_effort, i),
            Signal::Command(i) => match x.command.values.get(i) {
                Some(v) if x.command.mode != crate::types::CommandMode::Hold => *v,
                _ => get(&f.joint_position, i),
            },
            Signal::SpeedMax => f.joint_velocity.iter().fold(0.0, |m, v| m.max(v.abs())),
            Signal::Tilt | Signal::TiltDeg => {
                let [_, qx, qy, _] = f.orientation;
                let tilt = (1.0 - 2.0 * (qx * qx + qy * qy)).clamp(-1.0, 1.0).acos();
                if self == Signal::Tilt {
                    tilt
                } else {
                    tilt.to_degrees()
                }
            }
            Signal::Rate => f.angular_velocity.iter().map(|w| w * w).sum::<f64>().sqrt(),
            Signal::RateAxis(k) => f.angular_velocity[k],
            Signal::Force(i) => get(&f.contact_force, i),
            Signal::ForceMax => f.contact_force.iter().fold(0.0, |m, v| m.max(*v)),
            Signal::Mode => x.mode,
            Signal::CmdHold => {
                f64::from(u8::from(x.command.mode == crate::types::CommandMode::Hold))
            }
            Signal::ImuAge => age(last_imu),
            Signal::CmdAge => age(x.command_at),
        }
    }
}

/// Parses every spec of the section (syntax, operator kinds) and checks its intervals against
/// the control period and its signal names' forms (joint and contact names are checked when the
/// loop starts, against the backend's).
pub fn validate(section: &MonitorsConfig, period_ns: i64, c: &mut Checker) {
    c.require(
        section.len() <= MAX_MONITORS,
        "",
        format!(
            "{} monitors: expected at most {MAX_MONITORS}",
            section.len()
        ),
    );
    for (name, m) in section {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        c.require(
            ok,
            name,
            "monitor names are 1-64 characters of [A-Za-z0-9_]",
        );
        c.section(name, |c| {
            if let Err(e) = compile_one(name, &m.spec, period_ns, &mut |s| {
                let known = FIXED_SIGNALS.contains(&s)
                    || SIGNAL_PREFIXES
                        .iter()
                        .any(|p| s.strip_prefix(p).is_some_and(|r| !r.is_empty()));
                if known {
                    Ok(Signal::Mode)
                } else {
                    resolve_signal(s, &[], &[])
                }
            }) {
                c.fail("spec", e.to_string());
            }
            m.validate(c);
        });
    }
}

impl Validate for MonitorConfig {
    fn validate(&self, c: &mut Checker) {
        c.require(
            self.spec.len() <= 4096,
            "spec",
            "expected a spec of at most 4096 characters",
        );
    }
}

/// Reads the `monitors:` section of a params file on its own (`sattva replay --monitors FILE`),
/// validated for a loop of `period_ns`: the node `sattva` (or `/**`) with `ros__parameters`
/// holding a `monitors:` map. Errors name the file and the key.
pub fn load_section(
    file: &std::path::Path,
    period_ns: i64,
) -> Result<MonitorsConfig, crate::validate::ConfigError> {
    use crate::validate::ConfigError;
    let invalid = |key: String, message: String| ConfigError::Invalid {
        file: file.to_path_buf(),
        key,
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    let doc: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })?;
    let found = ["sattva", "/**"].iter().find_map(|node| {
        let section = doc.get(node)?.get("ros__parameters")?.get("monitors")?;
        Some((format!("{node}.ros__parameters.monitors"), section.clone()))
    });
    let Some((prefix, section)) = found else {
        return Err(invalid(
            "sattva.ros__parameters.monitors".into(),
            "missing: expected a params file with a `monitors:` section".into(),
        ));
    };
    let section: MonitorsConfig =
        serde_norway::from_value(section).map_err(|e| invalid(prefix.clone(), e.to_string()))?;
    let mut c = Checker::new(file, &prefix);
    validate(&section, period_ns, &mut c);
    c.finish()?;
    if section.is_empty() {
        return Err(invalid(
            prefix,
            "empty: expected at least one monitor".into(),
        ));
    }
    Ok(section)
}

/// Parses and compiles one spec; `resolve` names the signal of a name.
fn compile_one(
    name: &str,
    spec: &str,
    period_ns: i64,
    resolve: &mut dyn FnMut(&str) -> Result<Signal, String>,
) -> Result<(Program, Vec<Signal>), MonitorError> {
    let err = |col, message| MonitorError {
        monitor: name.to_string(),
        col,
        message,
    };
    let e = parse::parse(spec).map_err(|e| err(e.col, e.message))?;
    let mut used: Vec<Signal> = Vec::new();
    let p = Program::compile(&e, period_ns, &mut |s, col| {
        let sig = resolve(s).map_err(|message| CompileError { col, message })?;
        Ok(match used.iter().position(|u| *u == sig) {
            Some(i) => i,
            None => {
                used.push(sig);
                used.len() - 1
            }
        })
    })
    .map_err(|e| err(e.col, e.message))?;
    Ok((p, used))
}

/// One compiled monitor and its counters.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// Its name (the key in `monitors:`).
    pub name: String,
    /// The spec as written.
    pub spec: String,
    /// Log level of violations.
    pub severity: Severity,
    /// What a violation does.
    pub action: MonitorAction,
    program: Program,
    /// Slots of its signals in the shared value array.
    slots: Vec<usize>,
    /// Its signals' values this cycle, in the program's order.
    local: Vec<f64>,
    /// Robustness of the last cycle (NaN while the spec's horizon has not passed).
    pub robustness: f64,
    /// True when the last cycle's robustness was below zero.
    pub violated: bool,
    /// Cycles with a violation.
    pub violations: u64,
    /// Violations that began (satisfied or unknown -> violated).
    pub onsets: u64,
    /// Smallest robustness seen (+inf before the first).
    pub min_robustness: f64,
    repeated: Repeated,
}

/// A monitor's counters at the end of a run (summary, reports).
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSummary {
    /// Its name.
    pub name: String,
    /// What a violation did.
    pub action: MonitorAction,
    /// Cycles with a violation.
    pub violations: u64,
    /// Violations that began.
    pub onsets: u64,
    /// Smallest robustness seen (+inf if none was reported).
    pub min_robustness: f64,
}

impl Monitor {
    /// How many cycles late the robustness is (the spec's bounded-future horizon).
    pub fn horizon(&self) -> u64 {
        self.program.horizon()
    }
}

/// What the monitors ask of this cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// A `hold` or `safe_stop` monitor is violated: this cycle's command must be a hold.
    pub hold: bool,
    /// A `safe_stop` monitor is violated: switch to hold mode.
    pub safe_stop: bool,
}

/// Every monitor of the config, compiled; evaluated once per cycle.
#[derive(Clone, Debug, Default)]
pub struct Monitors {
    /// The monitors, in name order.
    pub monitors: Vec<Monitor>,
    signals: Vec<Signal>,
    names: Vec<String>,
    values: Vec<f64>,
    last_imu: Option<Time>,
    /// Time of the last evaluated cycle.
    t: Time,
    /// Cycles on which a monitor made the loop hold.
    pub holds: u64,
    /// Safe stops triggered.
    pub safe_stops: u64,
}

impl Monitors {
    /// Compiles the section for a robot with these joint and contact names and a loop of
    /// `period_ns`. Errors name the monitor, the column in its spec and what was expected.
    pub fn new(
        section: &MonitorsConfig,
        period_ns: i64,
        joints: &[String],
        contacts: &[String],
    ) -> Result<Monitors, MonitorError> {
        let mut signals: Vec<Signal> = Vec::new();
        let mut monitors = Vec::with_capacity(section.len());
        for (name, m) in section {
            let (program, used) = compile_one(name, &m.spec, period_ns, &mut |s| {
                resolve_signal(s, joints, contacts)
            })?;
            let slots = used
                .iter()
                .map(|u| match signals.iter().position(|s| s == u) {
                    Some(i) => i,
                    None => {
                        signals.push(*u);
                        signals.len() - 1
                    }
                })
                .collect::<Vec<_>>();
            monitors.push(Monitor {
                name: name.clone(),
                spec: m.spec.clone(),
                severity: m.severity,
                action: m.action,
                program,
                local: vec![f64::NAN; slots.len()],
                slots,
                robustness: f64::NAN,
                violated: false,
                violations: 0,
                onsets: 0,
                min_robustness: f64::INFINITY,
                repeated: Repeated::default(),
            });
        }
        let n = signals.len();
        let names = signals.iter().map(|s| s.name(joints, contacts)).collect();
        Ok(Monitors {
            monitors,
            signals,
            names,
            values: vec![f64::NAN; n],
            last_imu: None,
            t: Time::ZERO,
            holds: 0,
            safe_stops: 0,
        })
    }

    /// The monitors' names, in order (allocates: start-up and reports).
    pub fn names(&self) -> Vec<String> {
        self.monitors.iter().map(|m| m.name.clone()).collect()
    }

    /// True when there is no monitor.
    pub fn is_empty(&self) -> bool {
        self.monitors.is_empty()
    }

    /// The signals the monitors read, in slot order (for traces).
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// The signals' canonical names, in slot order (`vel_elbow`, `tilt` ...).
    pub fn signal_names(&self) -> &[String] {
        &self.names
    }

    /// Every monitor's robustness of the last cycle, in name order (fixed capacity: no
    /// allocation; the control task's tap carries it to reports).
    pub fn robustness_row(&self) -> RobustnessRow {
        self.monitors.iter().map(|m| m.robustness).collect()
    }

    /// The signal values of the last cycle, in slot order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Evaluates one cycle: reads the signals, steps every monitor, counts and logs
    /// violations. Allocation-free.
    pub fn step(&mut self, x: &Inputs<'_>) -> Verdict {
        if x.frame.imu.is_some() {
            self.last_imu = Some(x.t);
        }
        for (v, s) in self.values.iter_mut().zip(&self.signals) {
            *v = s.value(x, self.last_imu);
        }
        self.evaluate_filled(x.t)
    }

    /// Steps every monitor over signal values given directly, in slot order (offline
    /// evaluation, benchmarks).
    pub fn step_values(&mut self, t: Time, values: &[f64]) -> Verdict {
        for (v, x) in self.values.iter_mut().zip(values) {
            *v = *x;
        }
        self.evaluate_filled(t)
    }

    fn evaluate_filled(&mut self, t: Time) -> Verdict {
        self.t = t;
        let mut verdict = Verdict::default();
        for m in &mut self.monitors {
            for (l, &s) in m.local.iter_mut().zip(&m.slots) {
                *l = self.values[s];
            }
            let r = m.program.step(&m.local);
            m.robustness = r;
            if r < m.min_robustness {
                m.min_robustness = r;
            }
            let violated = r < 0.0;
            if violated {
                m.violations += 1;
                if !m.violated {
                    m.onsets += 1;
                }
                if let Some(n) = m.repeated.note() {
                    let t_s = t.as_secs_f64();
                    let name = m.name.as_str();
                    let action = m.action;
                    match m.severity {
                        Severity::Info => tracing::info!(
                            monitor = name,
                            robustness = r,
                            t_s,
                            ?action,
                            times = n,
                            "monitor violated (logged at the 1st, 10th, 100th ... violating cycle)"
                        ),
                        Severity::Warn => tracing::warn!(
                            monitor = name,
                            robustness = r,
                            t_s,
                            ?action,
                            times = n,
                            "monitor violated (logged at the 1st, 10th, 100th ... violating cycle)"
                        ),
                        Severity::Error => tracing::error!(
                            monitor = name,
                            robustness = r,
                            t_s,
                            ?action,
                            times = n,
                            "monitor violated (logged at the 1st, 10th, 100th ... violating cycle)"
                        ),
                    }
                }
                match m.action {
                    MonitorAction::Log => {}
                    MonitorAction::Hold => verdict.hold = true,
                    MonitorAction::SafeStop => {
                        verdict.hold = true;
                        verdict.safe_stop = true;
                    }
                }
            }
            m.violated = violated;
        }
        if verdict.hold {
            self.holds += 1;
        }
        if verdict.safe_stop {
            self.safe_stops += 1;
        }
        verdict
    }

    /// Forgets every monitor's past (the world was reset: a teleport is not a trace).
    pub fn reset(&mut self) {
        self.last_imu = None;
        for m in &mut self.monitors {
            m.program.reset();
            m.violated = false;
        }
    }

    /// Every monitor's counters (allocates: for the end of a run, not the cycle).
    pub fn summary(&self) -> Vec<MonitorSummary> {
        self.monitors
            .iter()
            .map(|m| MonitorSummary {
                name: m.name.clone(),
                action: m.action,
                violations: m.violations,
                onsets: m.onsets,
                min_robustness: m.min_robustness,
            })
            .collect()
    }

    /// Total violating cycles over all monitors.
    pub fn violations(&self) -> u64 {
        self.monitors.iter().map(|m| m.violations).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(spec: &str) -> MonitorsConfig {
        let mut s = MonitorsConfig::new();
        s.insert(
            "m".into(),
            MonitorConfig {
                spec: spec.into(),
                severity: Severity::Warn,
                action: MonitorAction::Hold,
            },
        );
        s
    }

    #[test]
    fn unknown_joint_names_the_monitor_and_column() {
        let joints = vec!["elbow".to_string()];
        let e = Monitors::new(
            &section("pos_elbow > 0 and vel_knee < 1"),
            2_000_000,
            &joints,
            &[],
        )
        .unwrap_err();
        assert_eq!(e.monitor, "m");
        assert_eq!(e.col, 19);
        assert!(e.to_string().contains("unknown joint `knee`"), "{e}");
        assert!(Monitors::new(&section("vel_0 < 1"), 2_000_000, &joints, &[]).is_ok());
    }

    #[test]
    fn hold_verdict_on_violation() {
        let joints = vec!["a".to_string()];
        let mut m = Monitors::new(&section("cmd_a < 1"), 1_000_000, &joints, &[]).unwrap();
        assert!(!m.step_values(Time(0), &[0.5]).hold);
        assert!(m.step_values(Time(1), &[1.5]).hold);
        assert_eq!((m.monitors[0].violations, m.holds), (1, 1));
    }
}
