//! The `sattva` ROS 2 node (feature `ros2`, r2r over the configured RMW).
//!
//! Runs on its own thread, never on an RT core. Each turn of its loop: spin rcl once, run the
//! subscription/service futures, drain the bridge from the RT task and publish. Conversion to ROS
//! messages (which allocate) happens here, never in the RT task.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::QosProfile;

use super::bridge::{ControlMode, FromRos, FusedImu, HealthSample, RosSide, ToRos};
use super::RosConfig;
use crate::backend::BackendInfo;
use crate::learn::{
    AttractorEvent, AttractorInfo, AttractorSet, LearnReply, LearnRequest, LearnRosSide,
    MAX_PATTERN,
};
use crate::repeat::Repeated;
use crate::sched::{DiagLevel, DiagStatus};
use crate::types::{ClockKind, Command, CommandMode, JointVec, SensorFrame, Time, MAX_JOINTS};
use crate::warn_repeated;

/// Errors of the ROS node.
#[derive(Debug, thiserror::Error)]
pub enum RosError {
    /// rcl/r2r failed (context, node, publisher, subscription or service creation).
    #[error("ROS 2: {what}: {source}")]
    R2r {
        /// What was being done.
        what: String,
        /// r2r's error.
        #[source]
        source: r2r::Error,
    },
    /// The node thread could not be started or panicked.
    #[error("ROS 2 node thread: {0}")]
    Thread(String),
}

fn r2r_err(what: impl Into<String>) -> impl FnOnce(r2r::Error) -> RosError {
    let what = what.into();
    move |source| RosError::R2r { what, source }
}

/// A running node; dropping it (or [`RosNode::stop`]) shuts it down.
pub struct RosNode {
    stop: Arc<AtomicBool>,
    stall_ms: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<(), RosError>>>,
}

impl RosNode {
    /// Fault injection (tests): blocks the node thread for `d` at its next turn, as a stalled
    /// executor or a slow subscriber would. The RT side must not notice beyond counted drops.
    pub fn stall_for(&self, d: Duration) {
        self.stall_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Stops the node thread and returns its result.
    pub fn stop(mut self) -> Result<(), RosError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), RosError> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| RosError::Thread("node thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for RosNode {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "ROS node shut down with an error");
        }
    }
}

/// Static facts the node needs about the run.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Joint names/limits of the backend.
    pub backend: BackendInfo,
    /// Which clock stamps frames (sim/replay time is also published on `/clock`).
    pub clock: ClockKind,
    /// The STL monitors' names, in order (empty: no `sattva/monitors` publisher).
    pub monitors: Vec<String>,
}

/// Starts the node on its own thread. Returns once the node exists (publishers, subscriptions
/// and services created), so the caller can report startup errors.
/// `sched_diag` carries the scheduler's statuses (from the non-RT thread that reads them);
/// `learn` the learning task's channels (attractor topics and services; None: not learning).
pub fn spawn(
    cfg: &RosConfig,
    info: NodeInfo,
    side: RosSide,
    sched_diag: Receiver<Vec<DiagStatus>>,
    learn: Option<LearnRosSide>,
) -> Result<RosNode, RosError> {
    let stop = Arc::new(AtomicBool::new(false));
    let stall_ms = Arc::new(AtomicU64::new(0));
    let stall2 = stall_ms.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let cfg = cfg.clone();
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("sattva-ros".into())
        .spawn(move || {
            let res = run_node(
                &cfg, info, side, sched_diag, learn, &stop2, &stall2, &ready_tx,
            );
            if let Err(e) = &res {
                let _ = ready_tx.send(Err(e.to_string()));
            }
            res
        })
        .map_err(|e| RosError::Thread(e.to_string()))?;
    let mut node = RosNode {
        stop,
        stall_ms,
        thread: Some(thread),
    };
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(node),
        Ok(Err(msg)) => {
            let _ = node.shutdown();
            Err(RosError::Thread(msg))
        }
        Err(_) => Err(node
            .shutdown()
            .err()
            .unwrap_or_else(|| RosError::Thread("node thread exited during startup".into()))),
    }
}

/// ROS time from backend time.
fn to_ros_time(t: Time) -> r2r::builtin_interfaces::msg::Time {
    let ns = t.0.max(0);
    r2r::builtin_interfaces::msg::Time {
        sec: (ns / 1_000_000_000) as i32,
        nanosec: (ns % 1_000_000_000) as u32,
    }
}

fn header(t: Time, frame_id: &str) -> r2r::std_msgs::msg::Header {
    r2r::std_msgs::msg::Header {
        stamp: to_ros_time(t),
        frame_id: frame_id.to_string(),
    }
}

/// `sensor_msgs/JointState` of a frame.
fn joint_state_msg(
    f: &SensorFrame,
    names: &[String],
    frame_id: &str,
) -> r2r::sensor_msgs::msg::JointState {
    r2r::sensor_msgs::msg::JointState {
        header: header(f.t, frame_id),
        name: names.to_vec(),
        position: f.joints.position.to_vec(),
        velocity: f.joints.velocity.to_vec(),
        effort: f.joints.effort.to_vec(),
    }
}

/// Roll/pitch variance of the fused orientation, rad^2: (3 deg)^2, the RMS inclination error the
/// filter shows against MuJoCo ground truth with the arm moving (tests/fusion_mujoco.rs).
const INCLINATION_VARIANCE: f64 = 0.0027;
/// Yaw variance without a magnetometer, rad^2: heading is relative to the start and drifts, so
/// only a loose (20 deg)^2 is claimed.
const RELATIVE_HEADING_VARIANCE: f64 = 0.12;
/// Yaw variance with a magnetometer reference, rad^2: (5 deg)^2.
const REFERENCED_HEADING_VARIANCE: f64 = 0.0076;

/// `sensor_msgs/Imu` of a frame with the fused orientation and bias-corrected rate. Covariances
/// are honest: diagonal white-noise variances when the backend knows them, 0 ("unknown")
/// otherwise; without an initialised orientation, REP-145's `orientation_covariance[0] = -1`.
fn imu_msg(
    f: &SensorFrame,
    fused: Option<&FusedImu>,
    frame_id: &str,
    noise: Option<(f64, f64)>,
) -> Option<r2r::sensor_msgs::msg::Imu> {
    let imu = f.imu?;
    let diag = |v: f64| vec![v, 0.0, 0.0, 0.0, v, 0.0, 0.0, 0.0, v];
    let (acc_var, gyro_var) = noise.map_or((0.0, 0.0), |(a, g)| (a * a, g * g));
    let (q, w, orientation_covariance) = match fused {
        Some(fi) if fi.orientation_valid => {
            let yaw_var = if fi.heading_valid {
                REFERENCED_HEADING_VARIANCE
            } else {
                RELATIVE_HEADING_VARIANCE
            };
            let mut cov = diag(INCLINATION_VARIANCE);
            cov[8] = yaw_var;
            (fi.orientation, fi.angular_velocity, cov)
        }
        _ => {
            let mut cov = vec![0.0; 9];
            cov[0] = -1.0;
            ([1.0, 0.0, 0.0, 0.0], imu.gyro, cov)
        }
    };
    Some(r2r::sensor_msgs::msg::Imu {
        header: header(f.t, frame_id),
        orientation: r2r::geometry_msgs::msg::Quaternion {
            w: q[0],
            x: q[1],
            y: q[2],
            z: q[3],
        },
        orientation_covariance,
        angular_velocity: r2r::geometry_msgs::msg::Vector3 {
            x: w[0],
            y: w[1],
            z: w[2],
        },
        angular_velocity_covariance: diag(gyro_var),
        linear_acceleration: r2r::geometry_msgs::msg::Vector3 {
            x: imu.accel[0],
            y: imu.accel[1],
            z: imu.accel[2],
        },
        linear_acceleration_covariance: diag(acc_var),
    })
}

fn kv(key: &str, value: impl ToString) -> r2r::diagnostic_msgs::msg::KeyValue {
    r2r::diagnostic_msgs::msg::KeyValue {
        key: key.into(),
        value: value.to_string(),
    }
}

/// `diagnostic_msgs/DiagnosticArray` from loop health, bridge counters, scheduler statuses and
/// (when learning) the learning counters.
fn diagnostics_msg(
    h: &HealthSample,
    bridge: (u64, u64, u64),
    sched: &[DiagStatus],
    learn: Option<&crate::learn::LearnStats>,
    clock: ClockKind,
) -> r2r::diagnostic_msgs::msg::DiagnosticArray {
    use r2r::diagnostic_msgs::msg::{DiagnosticArray, DiagnosticStatus};
    let (sent, dropped_out, dropped_in) = bridge;
    let f = &h.faults;
    let loop_level = if f.fatal > 0 {
        2u8
    } else if h.read_errors + h.write_errors + f.unstable + f.overflow > 0 {
        1u8
    } else {
        0u8
    };
    let bridge_level = if dropped_out + dropped_in > 0 {
        1u8
    } else {
        0u8
    };
    let mut status = vec![
        DiagnosticStatus {
            level: loop_level,
            name: "sattva: control loop".into(),
            message: match (loop_level, f.fatal) {
                (0, _) => "ok".into(),
                (_, 0) => "sensor or command errors, or physics warnings".into(),
                _ => "backend fault: safe state (hold)".into(),
            },
            hardware_id: "sattva".into(),
            values: vec![
                kv("cycles", h.cycles),
                kv("read_errors", h.read_errors),
                kv("write_errors", h.write_errors),
                kv("clamped_values", h.clamped),
                kv("rate_limited", h.rate_limited),
                kv("overspeed_brakes", h.overspeed),
                kv("stale_holds", h.stale_holds),
                kv("faults_fatal", f.fatal),
                kv("physics_unstable", f.unstable),
                kv("physics_overflow", f.overflow),
                kv("physics_other", f.other),
                kv("mode", format!("{:?}", h.mode).to_lowercase()),
                kv("clock", format!("{clock:?}").to_lowercase()),
            ],
        },
        DiagnosticStatus {
            level: u8::from(h.monitors_violated > 0),
            name: "sattva: monitors".into(),
            message: match (h.monitors, h.monitors_violated) {
                (0, _) => "none configured".into(),
                (_, 0) => "ok".into(),
                (_, n) => format!("{n} monitor(s) violated"),
            },
            hardware_id: "sattva".into(),
            values: vec![
                kv("monitors", h.monitors),
                kv("violated_now", h.monitors_violated),
                kv("violating_cycles", h.monitor_violations),
                kv("hold_cycles", h.monitor_holds),
                kv("min_robustness", h.monitor_min_robustness),
            ],
        },
        DiagnosticStatus {
            level: bridge_level,
            name: "sattva: ros bridge".into(),
            message: if bridge_level == 0 {
                "ok".into()
            } else {
                "messages dropped (ROS side too slow)".into()
            },
            hardware_id: "sattva".into(),
            values: vec![
                kv("sent_to_ros", sent),
                kv("dropped_to_ros", dropped_out),
                kv("dropped_from_ros", dropped_in),
            ],
        },
    ];
    if let Some(l) = learn {
        let level = if l.snapshot_errors > 0 || l.events_dropped > 0 {
            1u8
        } else {
            0u8
        };
        status.push(DiagnosticStatus {
            level,
            name: "sattva: learning".into(),
            message: if l.calibrated < l.experiences && l.learned == 0 {
                "calibrating".into()
            } else if level == 0 {
                "ok".into()
            } else {
                "events dropped or snapshot errors".into()
            },
            hardware_id: "sattva".into(),
            values: vec![
                kv("experiences", l.experiences),
                kv("calibration", l.calibrated),
                kv("learned", l.learned),
                kv("rejected", l.rejected),
                kv("recognised", l.recognised),
                kv("attractors", l.attractors),
                kv("formed", l.created),
                kv("events_dropped", l.events_dropped),
                kv("snapshots", l.snapshots),
                kv("snapshot_errors", l.snapshot_errors),
                kv("labels", l.labels),
                kv("labels_refused", l.labels_refused),
            ],
        });
    }
    // scheduler: rt status and per-task latency percentiles, misses, overruns
    status.extend(sched.iter().map(|d| DiagnosticStatus {
        level: match d.level {
            DiagLevel::Ok => 0,
            DiagLevel::Warn => 1,
            DiagLevel::Error => 2,
        },
        name: d.name.clone(),
        message: d.message.clone(),
        hardware_id: "sattva".into(),
        values: d.values.iter().map(|(k, v)| kv(k, v)).collect(),
    }));
    DiagnosticArray {
        header: header(h.t, ""),
        status,
    }
}

/// `sattva_msgs/MonitorState` of a reassembled cycle.
fn monitor_msg(
    s: &crate::monitor::MonitorState,
    names: &[String],
    frame_id: &str,
) -> r2r::sattva_msgs::msg::MonitorState {
    r2r::sattva_msgs::msg::MonitorState {
        header: header(s.t, frame_id),
        names: names.to_vec(),
        robustness: s.robustness.clone(),
        violated: s.violated.clone(),
        violations: s.violations.clone(),
        onsets: s.onsets.clone(),
        min_robustness: s.min_robustness.clone(),
        hold_cycles: s.hold_cycles,
        safe_stops: s.safe_stops,
    }
}

/// Maps a `JointTrajectory`'s first point onto the backend's joint order.
fn trajectory_command(
    msg: &r2r::trajectory_msgs::msg::JointTrajectory,
    names: &[String],
) -> Result<Command, String> {
    let p = msg.points.first().ok_or("trajectory has no points")?;
    if p.positions.len() != msg.joint_names.len() {
        return Err(format!(
            "{} positions for {} joint names",
            p.positions.len(),
            msg.joint_names.len()
        ));
    }
    let mut values = JointVec::new();
    for n in names {
        let i = msg
            .joint_names
            .iter()
            .position(|m| m == n)
            .ok_or_else(|| format!("trajectory lacks joint `{n}`"))?;
        values.push(p.positions[i]);
    }
    Ok(Command {
        t: Time::ZERO,
        mode: CommandMode::Position,
        values,
    })
}

/// An operator's `Float64MultiArray`: one value per joint; the interface in
/// `layout.dim[0].label` (`position` when absent, or `velocity`, `effort`: the convention
/// `record.command_topic` writes, so recorded commands play back as they were given).
fn array_command(msg: &r2r::std_msgs::msg::Float64MultiArray, n: usize) -> Result<Command, String> {
    if msg.data.len() != n || n > MAX_JOINTS {
        return Err(format!("{} values for {n} joints", msg.data.len()));
    }
    let mode = match msg.layout.dim.first().map(|d| d.label.as_str()) {
        None | Some("") | Some("position") => CommandMode::Position,
        Some("velocity") => CommandMode::Velocity,
        Some("effort") => CommandMode::Effort,
        Some(other) => {
            return Err(format!(
                "layout.dim[0].label `{other}`: expected position, velocity or effort"
            ))
        }
    };
    Ok(Command {
        t: Time::ZERO,
        mode,
        values: msg.data.iter().copied().collect(),
    })
}

/// `sattva_msgs/Attractor` of an attractor.
fn attractor_msg(a: &AttractorInfo) -> r2r::sattva_msgs::msg::Attractor {
    r2r::sattva_msgs::msg::Attractor {
        id: a.id,
        strength: a.strength,
        count: a.count,
        radius: a.radius,
        last_active: to_ros_time(a.last_active),
        label: a.label.to_string(),
    }
}

/// `sattva_msgs/AttractorEvent` of an event.
fn event_msg(e: &AttractorEvent) -> r2r::sattva_msgs::msg::AttractorEvent {
    r2r::sattva_msgs::msg::AttractorEvent {
        stamp: to_ros_time(e.t),
        kind: e.kind as u8,
        id: e.id,
        similarity: e.similarity,
        strength: e.strength,
        count: e.count,
    }
}

/// `sattva_msgs/AttractorSet` of a set.
fn set_msg(s: &AttractorSet, frame_id: &str) -> r2r::sattva_msgs::msg::AttractorSet {
    r2r::sattva_msgs::msg::AttractorSet {
        header: header(s.t, frame_id),
        step: s.step,
        attractors: s.attractors.iter().map(attractor_msg).collect(),
    }
}

/// `visualization_msgs/MarkerArray` of a set (Foxglove, RViz): a DELETEALL, then per attractor
/// a sphere at a fixed 3-D projection of its center (similar attractors are drawn close), sized
/// by strength, coloured by label (grey when unlabelled), and a text with id and label.
fn markers_msg(s: &AttractorSet, frame_id: &str) -> r2r::visualization_msgs::msg::MarkerArray {
    use r2r::visualization_msgs::msg::Marker;
    const SPHERE: i32 = 2;
    const TEXT: i32 = 9;
    const ADD: i32 = 0;
    const DELETEALL: i32 = 3;
    let mut markers = Vec::with_capacity(1 + 2 * s.attractors.len());
    markers.push(Marker {
        header: header(s.t, frame_id),
        action: DELETEALL,
        ..Default::default()
    });
    for a in &s.attractors {
        let (r, g, b) = label_color(&a.label);
        let pose = r2r::geometry_msgs::msg::Pose {
            position: r2r::geometry_msgs::msg::Point {
                x: a.position[0] as f64,
                y: a.position[1] as f64,
                z: a.position[2] as f64,
            },
            orientation: r2r::geometry_msgs::msg::Quaternion {
                w: 1.0,
                ..Default::default()
            },
        };
        let size = 0.02 + 0.08 * a.strength.clamp(0.0, 1.0) as f64;
        markers.push(Marker {
            header: header(s.t, frame_id),
            ns: "sattva/attractors".into(),
            id: a.id as i32,
            type_: SPHERE,
            action: ADD,
            pose: pose.clone(),
            scale: r2r::geometry_msgs::msg::Vector3 {
                x: size,
                y: size,
                z: size,
            },
            color: r2r::std_msgs::msg::ColorRGBA {
                r,
                g,
                b,
                a: 0.4 + 0.6 * a.strength.clamp(0.0, 1.0),
            },
            ..Default::default()
        });
        let mut text_pose = pose;
        text_pose.position.z += size;
        markers.push(Marker {
            header: header(s.t, frame_id),
            ns: "sattva/attractor_labels".into(),
            id: a.id as i32,
            type_: TEXT,
            action: ADD,
            pose: text_pose,
            scale: r2r::geometry_msgs::msg::Vector3 {
                z: 0.03,
                ..Default::default()
            },
            color: r2r::std_msgs::msg::ColorRGBA {
                r: 1.0,
                g: 1.0,
                b: 1.0,
                a: 1.0,
            },
            text: if a.label.is_empty() {
                format!("#{}", a.id)
            } else {
                format!("#{} {}", a.id, a.label)
            },
            ..Default::default()
        });
    }
    r2r::visualization_msgs::msg::MarkerArray { markers }
}

/// A stable colour per label (FNV-1a hash -> hue); grey for no label.
fn label_color(label: &str) -> (f32, f32, f32) {
    if label.is_empty() {
        return (0.6, 0.6, 0.6);
    }
    let h = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let hue = (h % 360) as f32 / 60.0;
    let x = 1.0 - (hue % 2.0 - 1.0).abs();
    match hue as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    }
}

type Pending = Rc<RefCell<HashMap<u64, r2r::ServiceRequest<r2r::std_srvs::srv::Trigger::Service>>>>;
type PendingQuery =
    Rc<RefCell<HashMap<u64, r2r::ServiceRequest<r2r::sattva_msgs::srv::QueryAttractors::Service>>>>;

type PendingUnderstand =
    Rc<RefCell<HashMap<u64, r2r::ServiceRequest<r2r::sattva_msgs::srv::Understand::Service>>>>;

pub(super) type LocalFuture = std::pin::Pin<Box<dyn futures::Future<Output = ()>>>;

/// The learning side of the node: attractor topics and the snapshot / query services.
struct LearnEnd {
    side: Rc<RefCell<LearnRosSide>>,
    pub_events: r2r::Publisher<r2r::sattva_msgs::msg::AttractorEvent>,
    pub_set: r2r::Publisher<r2r::sattva_msgs::msg::AttractorSet>,
    pub_markers: r2r::Publisher<r2r::visualization_msgs::msg::MarkerArray>,
    snapshots: Pending,
    queries: PendingQuery,
    understands: PendingUnderstand,
    /// Learning counters of the newest attractor set.
    stats: crate::learn::LearnStats,
    publish_failed: Repeated,
    /// Replies about performances, for the `sattva/perform` server.
    perform_replies: Vec<LearnReply>,
}

fn learn_end(
    node: &mut r2r::Node,
    cfg: &RosConfig,
    side: LearnRosSide,
    spawn: &dyn Fn(LocalFuture) -> Result<(), RosError>,
) -> Result<LearnEnd, RosError> {
    use r2r::sattva_msgs::srv::QueryAttractors;
    use r2r::std_srvs::srv::Trigger;
    let t = &cfg.topics;
    let reliable = QosProfile::default();
    let pub_events = node
        .create_publisher::<r2r::sattva_msgs::msg::AttractorEvent>(
            &t.attractor_events,
            reliable.clone().keep_last(100),
        )
        .map_err(r2r_err(format!("publisher {}", t.attractor_events)))?;
    // late joiners (Foxglove, `ros2 topic echo`) get the current set at once
    let latched = QosProfile::default().keep_last(1).transient_local();
    let pub_set = node
        .create_publisher::<r2r::sattva_msgs::msg::AttractorSet>(&t.attractors, latched.clone())
        .map_err(r2r_err(format!("publisher {}", t.attractors)))?;
    let pub_markers = node
        .create_publisher::<r2r::visualization_msgs::msg::MarkerArray>(
            &t.attractor_markers,
            latched,
        )
        .map_err(r2r_err(format!("publisher {}", t.attractor_markers)))?;
    let side = Rc::new(RefCell::new(side));
    let snapshots: Pending = Rc::new(RefCell::new(HashMap::new()));
    let queries: PendingQuery = Rc::new(RefCell::new(HashMap::new()));
    {
        let mut srv = node
            .create_service::<Trigger::Service>("sattva/snapshot", QosProfile::services_default())
            .map_err(r2r_err("service sattva/snapshot"))?;
        let side = side.clone();
        let pending = snapshots.clone();
        spawn(Box::pin(async move {
            let mut next_id = 1u64;
            while let Some(req) = srv.next().await {
                let id = next_id;
                next_id += 1;
                if side
                    .borrow_mut()
                    .requests
                    .push(LearnRequest::Snapshot { request_id: id })
                {
                    pending.borrow_mut().insert(id, req);
                } else if let Err(e) = req.respond(Trigger::Response {
                    success: false,
                    message: "learning task queue full; try again".into(),
                }) {
                    tracing::warn!(error = %e, "snapshot response");
                }
            }
        }))?;
    }
    {
        let mut srv = node
            .create_service::<QueryAttractors::Service>(
                "sattva/query_attractors",
                QosProfile::services_default(),
            )
            .map_err(r2r_err("service sattva/query_attractors"))?;
        let side = side.clone();
        let pending = queries.clone();
        spawn(Box::pin(async move {
            let mut next_id = 1u64;
            while let Some(req) = srv.next().await {
                let id = next_id;
                next_id += 1;
                let p = &req.message.pattern;
                let too_long = p.len() > MAX_PATTERN;
                let pattern = if too_long {
                    Default::default()
                } else {
                    p.iter().copied().collect()
                };
                let r = LearnRequest::Query {
                    request_id: id,
                    k: req.message.k,
                    pattern,
                    too_long,
                };
                if side.borrow_mut().requests.push(r) {
                    pending.borrow_mut().insert(id, req);
                } else if let Err(e) = req.respond(QueryAttractors::Response {
                    success: false,
                    message: "learning task queue full; try again".into(),
                    ..Default::default()
                }) {
                    tracing::warn!(error = %e, "query response");
                }
            }
        }))?;
    }
    let understands: PendingUnderstand = Rc::new(RefCell::new(HashMap::new()));
    language_end(node, &side, &understands, spawn)?;
    Ok(LearnEnd {
        side,
        pub_events,
        pub_set,
        pub_markers,
        snapshots,
        queries,
        understands,
        stats: Default::default(),
        publish_failed: Repeated::default(),
        perform_replies: Vec::new(),
    })
}

/// `sattva/label` (std_msgs/String: names what the robot just did) and `sattva/understand`
/// (sattva_msgs/Understand), both answered by the learn task's lexicon.
fn language_end(
    node: &mut r2r::Node,
    side: &Rc<RefCell<LearnRosSide>>,
    pending: &PendingUnderstand,
    spawn: &dyn Fn(LocalFuture) -> Result<(), RosError>,
) -> Result<(), RosError> {
    use crate::learn::MAX_TEXT;
    use r2r::sattva_msgs::srv::Understand;
    {
        let mut sub = node
            .subscribe::<r2r::std_msgs::msg::String>("sattva/label", QosProfile::default())
            .map_err(r2r_err("subscription sattva/label"))?;
        let side = side.clone();
        spawn(Box::pin(async move {
            let mut full = Repeated::default();
            while let Some(msg) = sub.next().await {
                // a text too long for the ring is sent empty: the learn task refuses and counts it
                let text = if msg.data.len() > MAX_TEXT {
                    Default::default()
                } else {
                    crate::learn::bridge_text(&msg.data)
                };
                if !side
                    .borrow_mut()
                    .requests
                    .push(LearnRequest::Label { text })
                {
                    warn_repeated!(full, "sattva/label dropped: learning task queue full");
                }
            }
        }))?;
    }
    let mut srv = node
        .create_service::<Understand::Service>("sattva/understand", QosProfile::services_default())
        .map_err(r2r_err("service sattva/understand"))?;
    let side = side.clone();
    let pending = pending.clone();
    spawn(Box::pin(async move {
        let mut next_id = 1u64;
        while let Some(req) = srv.next().await {
            let id = next_id;
            next_id += 1;
            let t = &req.message.text;
            let too_long = t.len() > MAX_TEXT;
            let r = LearnRequest::Understand {
                request_id: id,
                text: if too_long {
                    Default::default()
                } else {
                    crate::learn::bridge_text(t)
                },
                too_long,
            };
            if side.borrow_mut().requests.push(r) {
                pending.borrow_mut().insert(id, req);
            } else if let Err(e) = req.respond(Understand::Response {
                success: false,
                error: "learning task queue full; try again".into(),
                ..Default::default()
            }) {
                tracing::warn!(error = %e, "understand response");
            }
        }
    }))
}

impl LearnEnd {
    /// Publishes what the learn task produced and answers finished requests.
    fn pump(&mut self, frame_id: &str) {
        use r2r::sattva_msgs::srv::QueryAttractors;
        use r2r::std_srvs::srv::Trigger;
        let mut side = self.side.borrow_mut();
        while let Some(e) = side.events.pop() {
            if let Err(err) = self.pub_events.publish(&event_msg(&e)) {
                warn_repeated!(self.publish_failed, error = %err, "publish attractor event");
            }
        }
        if side.set.updated() {
            let s = side.set.read();
            self.stats = s.stats;
            if let Err(err) = self.pub_set.publish(&set_msg(s, frame_id)) {
                warn_repeated!(self.publish_failed, error = %err, "publish attractor set");
            }
            if let Err(err) = self.pub_markers.publish(&markers_msg(s, frame_id)) {
                warn_repeated!(self.publish_failed, error = %err, "publish attractor markers");
            }
        }
        while let Some(r) = side.replies.pop() {
            match r {
                LearnReply::Snapshot {
                    request_id,
                    ok,
                    message,
                } => {
                    if let Some(req) = self.snapshots.borrow_mut().remove(&request_id) {
                        if let Err(e) = req.respond(Trigger::Response {
                            success: ok,
                            message: message.to_string(),
                        }) {
                            tracing::warn!(error = %e, "snapshot response");
                        }
                    }
                }
                LearnReply::Query {
                    request_id,
                    ok,
                    message,
                    matches,
                } => {
                    if let Some(req) = self.queries.borrow_mut().remove(&request_id) {
                        if let Err(e) = req.respond(QueryAttractors::Response {
                            success: ok,
                            message: message.to_string(),
                            matches: matches.iter().map(|(a, _)| attractor_msg(a)).collect(),
                            similarity: matches.iter().map(|(_, s)| *s).collect(),
                        }) {
                            tracing::warn!(error = %e, "query response");
                        }
                    }
                }
                LearnReply::Understand {
                    request_id,
                    ok,
                    message,
                    meanings,
                } => {
                    if let Some(req) = self.understands.borrow_mut().remove(&request_id) {
                        if let Err(e) = req.respond(r2r::sattva_msgs::srv::Understand::Response {
                            success: ok,
                            error: message.to_string(),
                            ids: meanings.iter().map(|m| m.0).collect(),
                            labels: meanings.iter().map(|m| m.1.to_string()).collect(),
                            confidences: meanings.iter().map(|m| m.2).collect(),
                        }) {
                            tracing::warn!(error = %e, "understand response");
                        }
                    }
                }
                r @ (LearnReply::PerformGoal { .. } | LearnReply::Performed { .. }) => {
                    self.perform_replies.push(r)
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_node(
    cfg: &RosConfig,
    info: NodeInfo,
    side: RosSide,
    sched_diag: Receiver<Vec<DiagStatus>>,
    learn: Option<LearnRosSide>,
    stop: &AtomicBool,
    stall_ms: &AtomicU64,
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<(), RosError> {
    use r2r::std_srvs::srv::Trigger;

    let ctx = r2r::Context::create().map_err(r2r_err("create context (rcl_init)"))?;
    let mut node = r2r::Node::create(ctx, "sattva", &cfg.namespace)
        .map_err(r2r_err("create node `sattva`"))?;
    let t = &cfg.topics;
    let sensor_qos = QosProfile::sensor_data();
    let reliable = QosProfile::default();
    let pub_js = node
        .create_publisher::<r2r::sensor_msgs::msg::JointState>(&t.joint_states, sensor_qos.clone())
        .map_err(r2r_err(format!("publisher {}", t.joint_states)))?;
    let pub_imu = node
        .create_publisher::<r2r::sensor_msgs::msg::Imu>(&t.imu, sensor_qos.clone())
        .map_err(r2r_err(format!("publisher {}", t.imu)))?;
    let pub_diag = node
        .create_publisher::<r2r::diagnostic_msgs::msg::DiagnosticArray>(
            &t.diagnostics,
            reliable.clone(),
        )
        .map_err(r2r_err(format!("publisher {}", t.diagnostics)))?;
    let pub_monitors = if info.monitors.is_empty() {
        None
    } else {
        Some(
            node.create_publisher::<r2r::sattva_msgs::msg::MonitorState>(
                &t.monitors,
                reliable.clone(),
            )
            .map_err(r2r_err(format!("publisher {}", t.monitors)))?,
        )
    };
    let mut monitor_state = crate::monitor::MonitorState::default();
    let simulated = info.clock != ClockKind::Monotonic;
    let pub_clock = if cfg.publish_clock && simulated {
        Some(
            node.create_publisher::<r2r::rosgraph_msgs::msg::Clock>(
                "/clock",
                QosProfile::default().keep_last(1).best_effort(),
            )
            .map_err(r2r_err("publisher /clock"))?,
        )
    } else {
        None
    };

    let side = Rc::new(RefCell::new(side));
    let mut pool = LocalPool::new();
    let spawner = pool.spawner();
    let spawn = |fut: std::pin::Pin<Box<dyn futures::Future<Output = ()>>>| {
        spawner
            .spawn_local(fut)
            .map_err(|e| RosError::Thread(format!("spawn: {e}")))
    };

    // parameter services (`ros2 param get/list` work against the node)
    let (param_handler, _param_events) = node
        .make_parameter_handler()
        .map_err(r2r_err("parameter services"))?;
    spawn(Box::pin(param_handler))?;

    let names = info.backend.joint_names.clone();
    let n_joints = names.len();
    {
        let mut sub = node
            .subscribe::<r2r::std_msgs::msg::Float64MultiArray>(&t.command, reliable.clone())
            .map_err(r2r_err(format!("subscription {}", t.command)))?;
        let side = side.clone();
        spawn(Box::pin(async move {
            let mut rejected = Repeated::default();
            while let Some(msg) = sub.next().await {
                match array_command(&msg, n_joints) {
                    Ok(c) => {
                        side.borrow_mut().send(FromRos::Command(c));
                    }
                    Err(e) => warn_repeated!(rejected, error = %e, "operator command rejected"),
                }
            }
        }))?;
    }
    {
        let mut sub = node
            .subscribe::<r2r::trajectory_msgs::msg::JointTrajectory>(
                &t.joint_trajectory,
                reliable.clone(),
            )
            .map_err(r2r_err(format!("subscription {}", t.joint_trajectory)))?;
        let side = side.clone();
        let names = names.clone();
        spawn(Box::pin(async move {
            let mut rejected = Repeated::default();
            while let Some(msg) = sub.next().await {
                match trajectory_command(&msg, &names) {
                    Ok(c) => {
                        side.borrow_mut().send(FromRos::Command(c));
                    }
                    Err(e) => warn_repeated!(rejected, error = %e, "joint trajectory rejected"),
                }
            }
        }))?;
    }
    {
        let mut sub = node
            .subscribe::<r2r::std_msgs::msg::String>(&t.mode, reliable.clone())
            .map_err(r2r_err(format!("subscription {}", t.mode)))?;
        let side = side.clone();
        spawn(Box::pin(async move {
            let mut unknown = Repeated::default();
            while let Some(msg) = sub.next().await {
                match ControlMode::parse(&msg.data) {
                    Some(m) => {
                        tracing::info!(mode = ?m, "control mode");
                        side.borrow_mut().send(FromRos::Mode(m));
                    }
                    None => {
                        warn_repeated!(unknown, mode = %msg.data, "unknown mode (explore|hold|external)")
                    }
                }
            }
        }))?;
    }

    // reset: forwarded to the RT task, answered when it reports back
    let pending: Pending = Rc::new(RefCell::new(HashMap::new()));
    {
        let mut srv = node
            .create_service::<Trigger::Service>("sattva/reset", QosProfile::services_default())
            .map_err(r2r_err("service sattva/reset"))?;
        let side = side.clone();
        let pending = pending.clone();
        spawn(Box::pin(async move {
            let mut next_id = 1u64;
            while let Some(req) = srv.next().await {
                let id = next_id;
                next_id += 1;
                if side.borrow_mut().send(FromRos::Reset { request_id: id }) {
                    pending.borrow_mut().insert(id, req);
                } else if let Err(e) = req.respond(Trigger::Response {
                    success: false,
                    message: "control loop queue full; try again".into(),
                }) {
                    tracing::warn!(error = %e, "reset response");
                }
            }
        }))?;
    }

    let mut learn = match learn {
        Some(l) => Some(learn_end(&mut node, cfg, l, &spawn)?),
        None => None,
    };
    // `sattva/perform` (needs the learn task: the attractors' action memories)
    let mut perform = match &learn {
        Some(l) => Some(super::perform::PerformServer::new(
            &mut node,
            l.side.clone(),
            &spawner,
        )?),
        None => None,
    };

    let _ = ready.send(Ok(()));
    tracing::info!(namespace = %cfg.namespace, "ROS 2 node `sattva` up");

    let mut last_health = HealthSample::default();
    let mut publish_failed = Repeated::default();
    let mut last_t = Time::ZERO;
    let mut next_diag = Instant::now();
    let diag_period = Duration::from_millis(cfg.diagnostics_period_ms as u64);
    let mut n_frames = 0u64;
    let mut sched_status: Vec<DiagStatus> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let stall = stall_ms.swap(0, Ordering::Relaxed);
        if stall > 0 {
            tracing::warn!(
                ms = stall,
                "ROS node thread stalled on purpose (fault injection)"
            );
            std::thread::sleep(Duration::from_millis(stall));
        }
        while let Ok(d) = sched_diag.try_recv() {
            sched_status = d;
        }
        // short poll: frames from the RT task wait at most this long before being published
        node.spin_once(Duration::from_micros(200));
        pool.run_until_stalled();
        loop {
            let Some(m) = side.borrow_mut().recv() else {
                break;
            };
            match m {
                ToRos::Frame(f, fused) => {
                    last_t = f.t;
                    n_frames += 1;
                    if let Some(c) = &pub_clock {
                        let _ = c.publish(&r2r::rosgraph_msgs::msg::Clock {
                            clock: to_ros_time(f.t),
                        });
                    }
                    if n_frames % cfg.frame_decimation as u64 != 0 {
                        continue;
                    }
                    let js = joint_state_msg(&f, &names, &cfg.base_frame_id);
                    if let Err(e) = pub_js.publish(&js) {
                        warn_repeated!(publish_failed, error = %e, "publish joint_states");
                    }
                    if let Some(imu) = imu_msg(
                        &f,
                        fused.as_ref(),
                        &cfg.imu_frame_id,
                        info.backend.imu_noise_std,
                    ) {
                        if let Err(e) = pub_imu.publish(&imu) {
                            warn_repeated!(publish_failed, error = %e, "publish imu");
                        }
                    }
                }
                ToRos::Health(h) => last_health = h,
                ToRos::Monitors(c) => {
                    if let Some(p) = &pub_monitors {
                        if monitor_state.absorb(&c) {
                            let m = monitor_msg(&monitor_state, &info.monitors, &cfg.base_frame_id);
                            if let Err(e) = p.publish(&m) {
                                warn_repeated!(publish_failed, error = %e, "publish monitors");
                            }
                        }
                    }
                }
                ToRos::Perform { id, phase, ended } => {
                    if let Some(p) = perform.as_mut() {
                        p.on_control(id, phase, ended);
                    }
                }
                ToRos::ResetDone { request_id, ok } => {
                    if let Some(req) = pending.borrow_mut().remove(&request_id) {
                        let message = if ok { "reset" } else { "backend reset failed" };
                        if let Err(e) = req.respond(Trigger::Response {
                            success: ok,
                            message: message.into(),
                        }) {
                            tracing::warn!(error = %e, "reset response");
                        }
                    }
                }
            }
        }
        if let Some(l) = learn.as_mut() {
            l.pump(&cfg.base_frame_id);
            if let Some(p) = perform.as_mut() {
                for r in l.perform_replies.drain(..) {
                    p.on_reply(r, &side);
                }
                p.tick(&side);
            }
        }
        if Instant::now() >= next_diag {
            next_diag += diag_period;
            let mut h = last_health;
            h.t = h.t.max(last_t);
            let stats = side.borrow().stats().snapshot();
            let learn_stats = learn.as_ref().map(|l| l.stats);
            let msg = diagnostics_msg(&h, stats, &sched_status, learn_stats.as_ref(), info.clock);
            if let Err(e) = pub_diag.publish(&msg) {
                warn_repeated!(publish_failed, error = %e, "publish diagnostics");
            }
        }
    }
    tracing::info!("ROS 2 node `sattva` stopped");
    Ok(())
}
