//! Replay backend: a rosbag2 bag's IMU and joint states as [`SensorFrame`]s, in virtual time.
//!
//! `configure` streams the bag (MCAP or sqlite3, [`BagReader`]: bounded memory whatever its
//! size), decodes every message on the low-rate topics mapped by the `replay:` config section
//! (IMU, joint states, ground truth, commands, contacts) and keeps them as fixed-size samples
//! with times relative to the first of them (the replay's zero). Camera topics (`image_topic`,
//! `depth_topic`, `camera_info_topic`) are not loaded: [`Backend::take_frame_source`] hands the
//! vision task a [`ReplayCamera`] that streams them on its own thread, frame by frame. In the active state the loop is lockstep like the MuJoCo backend: `read(t)`
//! fills the frame with the latest sample of each input whose log time is `<= t` (zero-order
//! hold; no sample yet = `imu: None` / empty joints), and `write` advances the clock by one
//! control period. Commands are checked and otherwise ignored (a recording cannot be steered).
//!
//! Nothing depends on the wall clock or on thread timing, so replaying the same bag with the same
//! period gives bit-identical frames. `read` and `write` index preallocated arrays: no allocation.
//! Pacing at k x real time belongs to the scheduler's virtual-time mode, not to this backend.

use std::path::{Path, PathBuf};

use super::replay_camera::{CameraCounters, CameraTopics, ReplayCamera};
use super::replay_config::ReplayConfig;
use super::{Backend, BackendError, BackendInfo, Lifecycle};
use crate::record::msgs::{self, RosMessage};
use crate::record::reader::{BagReader, ReadOptions, TopicInfo};
use crate::types::{
    ClockKind, Command, CommandMode, ContactVec, GroundTruth, Imu, JointSample, SensorFrame, Time,
    MAX_JOINTS,
};

const NAME: &str = "replay";

/// A message that does not decode: counted, logged at the 1st, 10th, 100th ... (a damaged bag
/// can hold thousands).
macro_rules! decode_warn {
    ($stats:expr, $($arg:tt)+) => {{
        $stats.decode_errors += 1;
        if crate::repeat::logged($stats.decode_errors as u64) {
            tracing::warn!($($arg)+);
        }
    }};
}

/// What `configure` found in the bag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayStats {
    /// IMU samples decoded.
    pub imu_samples: usize,
    /// Joint state samples decoded.
    pub joint_samples: usize,
    /// Recorded commands decoded.
    pub command_samples: usize,
    /// Messages on mapped topics that failed to decode (skipped, logged).
    pub decode_errors: usize,
    /// Warnings of the bag reader (damaged or missing parts).
    pub bag_warnings: Vec<String>,
    /// Orientation samples the bag's IMU carries itself (`Imu.orientation` with a covariance
    /// that is not `-1` = "no orientation"), relative times: the report's reference when the
    /// bag has no ground truth.
    pub imu_orientation: Vec<(i64, [f64; 4])>,
    /// The bag's camera topics present (colour or depth): a frame source exists.
    pub camera: bool,
    /// Log time of the replay's zero, ns since the epoch.
    pub t0: i64,
}

/// The replay backend. Create with [`ReplayBackend::new`], then `configure` and `activate`.
pub struct ReplayBackend {
    bag_path: PathBuf,
    cfg: ReplayConfig,
    config_file: String,
    period_ns: i64,
    state: Lifecycle,
    info: BackendInfo,
    imu: Vec<(i64, Imu)>,
    joints: Vec<(i64, JointSample)>,
    truth: Vec<(i64, GroundTruth)>,
    truth_i: usize,
    commands: Vec<(i64, Command)>,
    command_i: usize,
    contacts: Vec<(i64, ContactVec)>,
    contact_i: usize,
    imu_i: usize,
    joint_i: usize,
    t_ns: i64,
    end_ns: i64,
    stats: ReplayStats,
    camera: Option<ReplayCamera>,
    camera_counters: Option<std::sync::Arc<CameraCounters>>,
}

impl ReplayBackend {
    /// A backend for a `replay:` section over `bag` (else `replay.bag`, resolved against the
    /// config file's directory). Nothing is read until `configure`.
    pub fn with_section(
        cfg: &ReplayConfig,
        ctx: &super::Context,
        bag: Option<&Path>,
    ) -> Result<ReplayBackend, BackendError> {
        let bag_path = match bag {
            Some(b) => b.to_path_buf(),
            None if !cfg.bag.is_empty() => ctx.resolve(&cfg.bag),
            None => {
                return Err(BackendError::Mapping {
                    file: ctx.file.clone(),
                    key: "replay.bag".into(),
                    message: "no bag: set `replay.bag` or pass one on the command line".into(),
                })
            }
        };
        Ok(Self::with_mapping(
            &bag_path,
            cfg.clone(),
            ctx.period_ns,
            ctx.file.clone(),
        ))
    }

    /// A backend from explicit parts (tests, tools). `config_file` names the config in errors.
    pub fn with_mapping(
        bag: &Path,
        cfg: ReplayConfig,
        period_ns: i64,
        config_file: String,
    ) -> ReplayBackend {
        ReplayBackend {
            bag_path: bag.to_path_buf(),
            cfg,
            config_file,
            period_ns: period_ns.max(1),
            state: Lifecycle::Unconfigured,
            info: BackendInfo::default(),
            imu: Vec::new(),
            joints: Vec::new(),
            imu_i: 0,
            truth: Vec::new(),
            truth_i: 0,
            commands: Vec::new(),
            command_i: 0,
            contacts: Vec::new(),
            contact_i: 0,
            joint_i: 0,
            t_ns: 0,
            end_ns: 0,
            stats: ReplayStats::default(),
            camera: None,
            camera_counters: None,
        }
    }

    /// Counters of the camera handed to the vision task (None when none was handed out).
    pub fn camera_counters(&self) -> Option<std::sync::Arc<CameraCounters>> {
        self.camera_counters.clone()
    }

    /// What `configure` decoded.
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// Time of the last sample, relative to the bag start.
    pub fn end(&self) -> Time {
        Time(self.end_ns)
    }

    fn mapping_err(&self, key: &str, message: String) -> BackendError {
        BackendError::Mapping {
            file: self.config_file.clone(),
            key: format!("replay.{key}"),
            message,
        }
    }

    /// Checks that `key`'s topic, when present in the bag, has type `M`.
    fn topic_type_ok<M: RosMessage>(
        &self,
        topics: &[TopicInfo],
        key: &str,
        topic: &str,
    ) -> Result<(), BackendError> {
        if let Some(t) = topics
            .iter()
            .find(|t| t.name == topic && t.type_name != M::TYPE_NAME)
        {
            return Err(self.mapping_err(
                key,
                format!(
                    "topic `{topic}` in {} has type `{}`, expected `{}`",
                    self.bag_path.display(),
                    t.type_name,
                    M::TYPE_NAME
                ),
            ));
        }
        Ok(())
    }

    fn load(&mut self) -> Result<(), BackendError> {
        let (mut imu_topic, mut js_topic) = (
            self.cfg.imu_topic.clone(),
            self.cfg.joint_states_topic.clone(),
        );
        let gt_topic = self.cfg.ground_truth_topic.clone();
        let (mut cmd_topic, mut contacts_topic) = (
            self.cfg.command_topic.clone(),
            self.cfg.contacts_topic.clone(),
        );
        let open = |topics: [&String; 5]| {
            BagReader::open_with(
                &self.bag_path,
                &ReadOptions {
                    topics: Some(topics.iter().map(|t| t.to_string()).collect()),
                    start: None,
                },
            )
            .map_err(|e| BackendError::Model {
                file: self.bag_path.display().to_string(),
                message: e.to_string(),
            })
        };
        let mut bag = open([
            &imu_topic,
            &js_topic,
            &gt_topic,
            &cmd_topic,
            &contacts_topic,
        ])?;
        // the bag's own topic names where the configured ones are absent (see
        // `ReplayConfig::adopt_bag_topics`): opened again with the final names (rare: only
        // when a name was replaced)
        let notes = self.cfg.adopt_bag_topics(bag.topics());
        if !notes.is_empty() {
            for note in &notes {
                tracing::info!("{}: {note}", self.bag_path.display());
            }
            (imu_topic, js_topic) = (
                self.cfg.imu_topic.clone(),
                self.cfg.joint_states_topic.clone(),
            );
            (cmd_topic, contacts_topic) = (
                self.cfg.command_topic.clone(),
                self.cfg.contacts_topic.clone(),
            );
            bag = open([
                &imu_topic,
                &js_topic,
                &gt_topic,
                &cmd_topic,
                &contacts_topic,
            ])?;
        }
        let topics = bag.topics().to_vec();
        self.topic_type_ok::<msgs::Imu>(&topics, "imu_topic", &imu_topic)?;
        self.topic_type_ok::<msgs::JointState>(&topics, "joint_states_topic", &js_topic)?;
        self.topic_type_ok::<msgs::PoseStamped>(&topics, "ground_truth_topic", &gt_topic)?;
        self.topic_type_ok::<msgs::Float64MultiArray>(&topics, "command_topic", &cmd_topic)?;
        self.topic_type_ok::<msgs::Float64MultiArray>(&topics, "contacts_topic", &contacts_topic)?;
        let mut contact_names: Option<Vec<String>> = None;
        let (mut commands, mut contacts) = (Vec::new(), Vec::new());
        let mut t0: Option<i64> = None;
        let mut stats = ReplayStats::default();
        let (mut imu, mut joints, mut truth) = (Vec::new(), Vec::new(), Vec::new());
        let mut names: Option<Vec<String>> = None;
        while let Some(m) = bag.next_message() {
            let Some(topic) = bag.topics().get(m.topic).map(|t| t.name.clone()) else {
                continue;
            };
            let t = m.log_time - *t0.get_or_insert(m.log_time);
            if !cmd_topic.is_empty() && *topic == cmd_topic {
                match msgs::decode::<msgs::Float64MultiArray>(&m.data) {
                    Ok(x) => match to_command(t, &x) {
                        Some(c) => commands.push((t, c)),
                        None => stats.decode_errors += 1,
                    },
                    Err(e) => {
                        decode_warn!(stats, "{}: {topic}: {e}; skipped", self.bag_path.display());
                    }
                }
            } else if !contacts_topic.is_empty() && *topic == contacts_topic {
                match msgs::decode::<msgs::Float64MultiArray>(&m.data) {
                    Ok(x) if x.data.len() <= crate::types::MAX_CONTACTS => {
                        let names = contact_names.get_or_insert_with(|| {
                            x.layout.dim.iter().map(|d| d.label.clone()).collect()
                        });
                        if names.len() == x.data.len() {
                            contacts.push((t, x.data.iter().copied().collect()));
                        } else {
                            stats.decode_errors += 1;
                        }
                    }
                    Ok(_) => stats.decode_errors += 1,
                    Err(e) => {
                        decode_warn!(stats, "{}: {topic}: {e}; skipped", self.bag_path.display());
                    }
                }
            } else if !gt_topic.is_empty() && *topic == gt_topic {
                match msgs::decode::<msgs::PoseStamped>(&m.data) {
                    Ok(x) => {
                        let (p, q) = (x.pose.position, x.pose.orientation);
                        truth.push((
                            t,
                            GroundTruth {
                                orientation: [q.w, q.x, q.y, q.z],
                                position: [p.x, p.y, p.z],
                            },
                        ));
                    }
                    Err(e) => {
                        decode_warn!(stats, "{}: {topic}: {e}; skipped", self.bag_path.display());
                    }
                }
            } else if !imu_topic.is_empty() && *topic == imu_topic {
                match msgs::decode::<msgs::Imu>(&m.data) {
                    Ok(x) => {
                        imu.push((t, to_imu(&x)));
                        let q = x.orientation;
                        let has = x.orientation_covariance[0] >= 0.0
                            && (q.w * q.w + q.x * q.x + q.y * q.y + q.z * q.z - 1.0).abs() < 1e-3;
                        if has {
                            stats.imu_orientation.push((t, [q.w, q.x, q.y, q.z]));
                        }
                    }
                    Err(e) => {
                        decode_warn!(
                            stats,
                            "{}: {topic} at {} ns: {e}; skipped",
                            self.bag_path.display(),
                            m.log_time
                        );
                    }
                }
            } else if !js_topic.is_empty() && *topic == js_topic {
                let x = match msgs::decode::<msgs::JointState>(&m.data) {
                    Ok(x) => x,
                    Err(e) => {
                        decode_warn!(
                            stats,
                            "{}: {topic} at {} ns: {e}; skipped",
                            self.bag_path.display(),
                            m.log_time
                        );
                        continue;
                    }
                };
                let order = names.get_or_insert_with(|| x.name.clone());
                if order.len() > MAX_JOINTS {
                    return Err(self.mapping_err(
                        "joint_states_topic",
                        format!(
                            "{} joints in `{topic}`, at most {MAX_JOINTS} supported",
                            order.len()
                        ),
                    ));
                }
                match to_joints(order, &x) {
                    Some(s) => joints.push((t, s)),
                    None => {
                        decode_warn!(
                            stats,
                            "{}: {topic} at {} ns: joint names/lengths differ from the first message; skipped",
                            self.bag_path.display(),
                            m.log_time
                        );
                    }
                }
            }
        }
        if imu.is_empty() && joints.is_empty() {
            return Err(self.mapping_err(
                "imu_topic",
                format!(
                    "{} has no messages on `{imu_topic}` (IMU) or `{js_topic}` (joint states); topics in the bag: {}",
                    self.bag_path.display(),
                    bag.topics().iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        stats.bag_warnings = bag.warnings().to_vec();
        let t0 = t0.unwrap_or(0);
        stats.t0 = t0;
        let cam = CameraTopics {
            color: self.cfg.image_topic.clone(),
            depth: self.cfg.depth_topic.clone(),
            info: self.cfg.camera_info_topic.clone(),
        };
        let present = |n: &str| !n.is_empty() && topics.iter().any(|t| t.name == n);
        stats.camera = present(&cam.color) || present(&cam.depth);
        if stats.camera {
            let c = ReplayCamera::new(self.bag_path.clone(), cam, t0);
            self.camera_counters = Some(c.counters());
            self.camera = Some(c);
        }
        stats.imu_samples = imu.len();
        stats.joint_samples = joints.len();
        stats.command_samples = commands.len();
        self.end_ns = imu
            .last()
            .map(|x| x.0)
            .max(joints.last().map(|x| x.0))
            .unwrap_or(0);
        self.info = BackendInfo {
            joint_names: names.unwrap_or_default(),
            joint_limits: Vec::new(),
            contact_names: contact_names.unwrap_or_default(),
            has_imu: !imu.is_empty(),
            has_magnetometer: false,
            imu_noise_std: None,
            period_ns: self.period_ns,
            substeps: 0,
        };
        self.info.joint_limits =
            vec![(f64::NEG_INFINITY, f64::INFINITY); self.info.joint_names.len()];
        self.imu = imu;
        self.joints = joints;
        self.truth = truth;
        self.commands = commands;
        self.contacts = contacts;
        self.stats = stats;
        Ok(())
    }
}

fn to_imu(m: &msgs::Imu) -> Imu {
    let v = |v: msgs::Vector3| [v.x, v.y, v.z];
    Imu {
        accel: v(m.linear_acceleration),
        gyro: v(m.angular_velocity),
        mag: None,
    }
}

/// Reorders a JointState into `order` (by name; positionally when the message has no names).
/// A recorded command: the mode in `layout.dim[0].label` (`hold`, `position`, `velocity`,
/// `effort`; position when unlabelled), one value per joint.
fn to_command(t: i64, m: &msgs::Float64MultiArray) -> Option<Command> {
    let mode = match m.layout.dim.first().map(|d| d.label.as_str()) {
        Some("hold") => CommandMode::Hold,
        Some("velocity") => CommandMode::Velocity,
        Some("effort") => CommandMode::Effort,
        Some("position") | Some("") | None => CommandMode::Position,
        Some(_) => return None,
    };
    if m.data.len() > MAX_JOINTS || m.data.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(Command {
        t: Time(t),
        mode,
        values: m.data.iter().copied().collect(),
    })
}

fn to_joints(order: &[String], m: &msgs::JointState) -> Option<JointSample> {
    let n = order.len();
    let mut s = JointSample::default();
    let idx: Vec<usize> = if m.name.is_empty() || m.name == order {
        (0..n).collect()
    } else {
        order
            .iter()
            .map(|o| m.name.iter().position(|x| x == o))
            .collect::<Option<Vec<_>>>()?
    };
    let pick = |src: &[f64], out: &mut crate::types::JointVec| -> Option<()> {
        if src.is_empty() {
            return Some(());
        }
        for &i in &idx {
            out.try_push(*src.get(i)?).ok()?;
        }
        Some(())
    };
    pick(&m.position, &mut s.position)?;
    pick(&m.velocity, &mut s.velocity)?;
    pick(&m.effort, &mut s.effort)?;
    Some(s)
}

impl Backend for ReplayBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configure(&mut self) -> Result<(), BackendError> {
        // a driver may configure before handing the backend over (its statistics): once
        if self.state == Lifecycle::Unconfigured {
            self.load()?;
        }
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        self.state = Lifecycle::Active;
        Ok(())
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn clock(&self) -> ClockKind {
        ClockKind::Replay
    }

    fn now(&self) -> Time {
        Time(self.t_ns)
    }

    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        frame.clear();
        frame.t = t;
        while self.imu_i < self.imu.len() && self.imu[self.imu_i].0 <= t.0 {
            self.imu_i += 1;
        }
        if self.imu_i > 0 {
            frame.imu = Some(self.imu[self.imu_i - 1].1);
        }
        while self.joint_i < self.joints.len() && self.joints[self.joint_i].0 <= t.0 {
            self.joint_i += 1;
        }
        if self.joint_i > 0 {
            frame.joints.clone_from(&self.joints[self.joint_i - 1].1);
        }
        while self.truth_i < self.truth.len() && self.truth[self.truth_i].0 <= t.0 {
            self.truth_i += 1;
        }
        if self.truth_i > 0 {
            frame.truth = Some(self.truth[self.truth_i - 1].1);
        }
        while self.contact_i < self.contacts.len() && self.contacts[self.contact_i].0 <= t.0 {
            self.contact_i += 1;
        }
        if self.contact_i > 0 {
            frame
                .contacts
                .clone_from(&self.contacts[self.contact_i - 1].1);
        }
        while self.command_i < self.commands.len() && self.commands[self.command_i].0 <= t.0 {
            self.command_i += 1;
        }
        Ok(())
    }

    fn write(&mut self, _t: Time, cmd: &Command) -> Result<(), BackendError> {
        self.t_ns = self.t_ns.saturating_add(self.period_ns);
        if cmd.values.iter().any(|v| !v.is_finite()) {
            return Err(BackendError::InvalidCommand {
                backend: NAME,
                reason: "non-finite value",
            });
        }
        Ok(())
    }

    fn reset(&mut self, _seed: u64) -> Result<(), BackendError> {
        // a replay restarts from the bag's start (its time is the bag's time)
        self.t_ns = 0;
        self.imu_i = 0;
        self.truth_i = 0;
        self.joint_i = 0;
        self.command_i = 0;
        self.contact_i = 0;
        Ok(())
    }

    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        self.camera
            .take()
            .map(|c| Box::new(c) as Box<dyn crate::vision::task::FrameSource>)
    }

    fn recorded_command(&self) -> Option<&Command> {
        self.command_i
            .checked_sub(1)
            .and_then(|i| self.commands.get(i))
            .map(|(_, c)| c)
    }

    /// True once the clock is past the last sample of the bag.
    fn finished(&self) -> bool {
        self.t_ns > self.end_ns
    }
}
