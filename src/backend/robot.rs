//! The robot-joints backend (feature `ros2`): a real robot through its own ros2_control stack.
//!
//! A non-RT thread runs an r2r node that subscribes to the robot's `sensor_msgs/JointState`,
//! reorders it into the configured joint order and hands it to the RT side through a
//! latest-value slot; commands go the other way through a bounded ring and are published to the
//! robot's forward position/velocity controller (`std_msgs/Float64MultiArray`) or
//! `joint_trajectory_controller` (`trajectory_msgs/JointTrajectory`). `read`/`write` only touch
//! those lock-free structures: no allocation, no locks, no ROS calls on the RT path.
//!
//! Safety: every command is clamped to the profile's position and velocity limits (counted)
//! before it leaves; joint states older than `stale_timeout_ms` make `read` fail, and the
//! backend then holds until fresh states arrive. A hold (stale joint states, a hold the control
//! loop asks for on a stale operator command or a lost device, an invalid command) keeps the
//! robot at the last position it was *commanded* to, which it is tracking: the last measured
//! position is up to `stale_timeout_ms` old when the watchdog trips, and commanding it would
//! jump. Activation seeds the commanded position with the measured one (the robot stands there),
//! so before any command a hold holds the measured position, and the very first command is
//! rate-limited from it too. Hold commands pass the same velocity limit as every position
//! command, and every hold is logged rate-limited ([`Repeated`]).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use futures::StreamExt;

use super::body::{BodyError, BodySpec, RobotBody};
use super::robot_config::{CommandInterface, RobotJointsConfig};
use super::{Backend, BackendError, BackendInfo, Lifecycle};
use crate::repeat::Repeated;
use crate::sched::channel::{latest, ring, LatestRx, LatestTx, RingRx, RingTx};
use crate::sched::monotonic_ns;
use crate::types::{ClockKind, Command, CommandMode, JointSample, JointVec, SensorFrame, Time};

const NAME: &str = "robot";

/// Joint states as handed from the ROS thread to the RT side.
#[derive(Clone, Debug, Default)]
struct Stamped {
    /// 0 = nothing received yet.
    seq: u64,
    /// `CLOCK_MONOTONIC` at receipt, ns.
    received_ns: i64,
    joints: JointSample,
}

/// A command as handed from the RT side to the ROS thread.
#[derive(Clone, Debug, Default)]
struct OutCommand {
    velocity: bool,
    values: JointVec,
}

/// Counters of the backend (shared with non-RT readers).
#[derive(Debug, Default)]
pub struct RobotStats {
    /// Command values changed by the clamp.
    pub clamped: AtomicU64,
    /// Times the joint states went stale (watchdog trips).
    pub stale: AtomicU64,
    /// Commands dropped because the ROS thread did not keep up.
    pub dropped_commands: AtomicU64,
    /// Joint state messages that lacked a configured joint (skipped).
    pub bad_states: AtomicU64,
    /// Commands published.
    pub published: AtomicU64,
    /// Times the backend entered hold (any cause).
    pub holds: AtomicU64,
}

/// Why the backend holds (for the rate-limited log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldCause {
    /// The joint states went stale (watchdog).
    StaleStates,
    /// The control loop sent a hold: a stale operator command, a lost device, mode `hold`.
    Requested,
    /// A command of the wrong length, with a non-finite value or for another interface.
    InvalidCommand,
    /// `reset` or `deactivate`.
    Lifecycle,
}

impl HoldCause {
    const ALL: [HoldCause; 4] = [
        HoldCause::StaleStates,
        HoldCause::Requested,
        HoldCause::InvalidCommand,
        HoldCause::Lifecycle,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn describe(self) -> &'static str {
        match self {
            HoldCause::StaleStates => "joint states stale (watchdog)",
            HoldCause::Requested => {
                "the control loop holds (stale operator command, lost device or mode hold)"
            }
            HoldCause::InvalidCommand => "invalid command",
            HoldCause::Lifecycle => "reset or deactivation",
        }
    }
}

/// The backend. Create with [`RobotJointsBackend::new`], then `configure` and `activate`.
pub struct RobotJointsBackend {
    cfg: RobotJointsConfig,

    period_ns: i64,
    state: Lifecycle,
    info: BackendInfo,
    states: Option<LatestRx<Stamped>>,
    commands: Option<RingTx<OutCommand>>,
    last: Stamped,
    /// The last position command sent; at activation the measured position (empty before).
    prev_target: JointVec,
    hold: JointVec,
    /// The hold target is known: the last commanded position, or a measured one (not before
    /// any state arrived).
    hold_valid: bool,
    /// Hold entries per [`HoldCause`], for the rate-limited log.
    hold_log: [Repeated; HoldCause::ALL.len()],
    holding: bool,
    stale: bool,
    stats: Arc<RobotStats>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    out: OutCommand,
    /// `robot.model`, resolved: the kinematics of [`Backend::body`].
    model: Option<std::path::PathBuf>,
}

impl RobotJointsBackend {
    /// A backend for a `robot:` section.
    pub fn with_section(cfg: &RobotJointsConfig, ctx: &super::Context) -> RobotJointsBackend {
        RobotJointsBackend {
            cfg: cfg.clone(),

            period_ns: ctx.period_ns,
            state: Lifecycle::Unconfigured,
            info: BackendInfo::default(),
            states: None,
            commands: None,
            last: Stamped::default(),
            prev_target: JointVec::new(),
            hold: JointVec::new(),
            hold_valid: false,
            hold_log: [Repeated::default(); HoldCause::ALL.len()],
            holding: true,
            stale: false,
            stats: Arc::new(RobotStats::default()),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            out: OutCommand::default(),
            model: None,
        }
    }

    /// The robot's model file (`robot.model`, resolved), for [`Backend::body`].
    pub fn with_model(mut self, model: Option<std::path::PathBuf>) -> RobotJointsBackend {
        self.model = model;
        self
    }

    /// The backend's counters.
    pub fn stats(&self) -> &Arc<RobotStats> {
        &self.stats
    }

    fn limit(v: &Option<Vec<f64>>, i: usize, default: f64) -> f64 {
        v.as_ref()
            .and_then(|l| l.get(i).copied())
            .unwrap_or(default)
    }

    /// Clamps `v` into `[lo, hi]`, counting a change.
    fn clamp_count(&self, v: f64, lo: f64, hi: f64) -> f64 {
        let c = v.clamp(lo, hi);
        if c != v {
            self.stats.clamped.fetch_add(1, Ordering::Relaxed);
        }
        c
    }

    /// Fills `self.out` with a safe, clamped command for `cmd`. No allocation.
    fn shape(&mut self, cmd: &Command) -> Result<(), &'static str> {
        let n = self.cfg.joint_names.len();
        let dt = self.period_ns as f64 * 1e-9;
        self.out.values.clear();
        let velocity_interface = self.cfg.command_interface == CommandInterface::Velocity;
        let mode = if self.holding || self.stale {
            CommandMode::Hold
        } else {
            cmd.mode
        };
        match mode {
            CommandMode::Hold if velocity_interface => {
                self.out.velocity = true;
                self.out.values.extend(std::iter::repeat_n(0.0, n));
            }
            CommandMode::Hold => {
                // the hold target is the last commanded position (or, before any command, the
                // measured one); it passes the same limits as any position command
                self.out.velocity = false;
                for i in 0..n {
                    let target = self.hold.get(i).copied().unwrap_or(0.0);
                    let p = self.limit_position(i, target, dt);
                    self.out.values.push(p);
                }
            }
            CommandMode::Position if !velocity_interface => {
                self.out.velocity = false;
                for i in 0..n {
                    let p = self.limit_position(i, cmd.values[i], dt);
                    self.out.values.push(p);
                }
            }
            CommandMode::Velocity if velocity_interface => {
                self.out.velocity = true;
                for i in 0..n {
                    let vmax = Self::limit(&self.cfg.velocity_max, i, f64::INFINITY);
                    self.out
                        .values
                        .push(self.clamp_count(cmd.values[i], -vmax, vmax));
                }
            }
            _ => return Err("command mode does not match the robot's command interface"),
        }
        if !self.out.velocity {
            self.prev_target.clone_from(&self.out.values);
        }
        Ok(())
    }

    /// Joint `i`'s position target `p` within the position limits and at most
    /// `velocity_max * dt` from the previous target (changes counted).
    fn limit_position(&self, i: usize, p: f64, dt: f64) -> f64 {
        let lo = Self::limit(&self.cfg.position_min, i, f64::NEG_INFINITY);
        let hi = Self::limit(&self.cfg.position_max, i, f64::INFINITY);
        let mut p = self.clamp_count(p, lo, hi);
        if let (Some(prev), Some(vmax)) = (
            self.prev_target.get(i).copied(),
            self.cfg
                .velocity_max
                .as_ref()
                .and_then(|l| l.get(i).copied()),
        ) {
            p = self.clamp_count(p, prev - vmax * dt, prev + vmax * dt);
        }
        p
    }

    fn enter_hold(&mut self, cause: HoldCause) {
        if self.holding {
            return;
        }
        self.holding = true;
        self.capture_hold();
        self.stats.holds.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.hold_log[cause.index()].note() {
            tracing::warn!(
                backend = NAME,
                cause = cause.describe(),
                occurrence = n,
                "robot holds at the last commanded position (this cause logged at its 1st, 10th, 100th ... occurrence)"
            );
        }
    }

    /// Captures the hold target: the last commanded position (what the robot is tracking; at
    /// activation the measured one), else the last measured one; without either there is
    /// nothing to hold yet.
    fn capture_hold(&mut self) {
        if self.prev_target.is_empty() {
            self.hold_valid = self.last.seq > 0;
            self.hold.clone_from(&self.last.joints.position);
        } else {
            self.hold_valid = true;
            self.hold.clone_from(&self.prev_target);
        }
    }
}

impl Drop for RobotJointsBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Backend for RobotJointsBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configure(&mut self) -> Result<(), BackendError> {
        let n = self.cfg.joint_names.len();
        let mut init = Stamped::default();
        init.joints.position.extend(std::iter::repeat_n(0.0, n));
        let (states_tx, states_rx) = latest(init);
        let (cmd_tx, cmd_rx) = ring::<OutCommand>(64);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let cfg = self.cfg.clone();
        let (stop, stats) = (self.stop.clone(), self.stats.clone());
        let thread = std::thread::Builder::new()
            .name("sattva-robot-ros".into())
            .spawn(move || {
                if let Err(e) = ros_thread(&cfg, states_tx, cmd_rx, &stop, &stats, &ready_tx) {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| BackendError::Disconnected {
                backend: NAME,
                message: format!("cannot start the ROS thread: {e}"),
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                self.stop.store(true, Ordering::Relaxed);
                let _ = thread.join();
                return Err(BackendError::Disconnected {
                    backend: NAME,
                    message,
                });
            }
            Err(_) => {
                let _ = thread.join();
                return Err(BackendError::Disconnected {
                    backend: NAME,
                    message: "ROS thread exited during startup".into(),
                });
            }
        }
        self.thread = Some(thread);
        self.states = Some(states_rx);
        self.commands = Some(cmd_tx);
        let lo = |i| Self::limit(&self.cfg.position_min, i, f64::NEG_INFINITY);
        let hi = |i| Self::limit(&self.cfg.position_max, i, f64::INFINITY);
        self.info = BackendInfo {
            joint_names: self.cfg.joint_names.clone(),
            joint_limits: (0..n).map(|i| (lo(i), hi(i))).collect(),
            contact_names: Vec::new(),
            has_imu: false,
            has_magnetometer: false,
            imu_noise_std: None,
            period_ns: self.period_ns,
            substeps: 0,
        };
        self.state = Lifecycle::Inactive;
        tracing::info!(joints = n, topic = %self.cfg.joint_states_topic, command = %self.cfg.command_topic, "robot joints backend configured");
        Ok(())
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        // activation is not RT: wait (bounded) for the robot's first joint state, so the loop
        // starts from the measured position (discovery takes a moment on a fresh graph)
        let timeout = std::time::Duration::from_millis(self.cfg.start_timeout_ms as u64);
        let t0 = std::time::Instant::now();
        loop {
            if let Some(s) = self.states.as_mut().map(|rx| rx.read()) {
                if s.seq > 0 {
                    self.last.clone_from(s);
                    break;
                }
            }
            if t0.elapsed() >= timeout {
                return Err(BackendError::Disconnected {
                    backend: NAME,
                    message: format!(
                        "no joint states on `{}` within {} ms (robot.start_timeout_ms): is the robot's ros2_control stack running?",
                        self.cfg.joint_states_topic, self.cfg.start_timeout_ms
                    ),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // the robot stands at its measured position: position commands start from there (the
        // velocity limit applies to the very first one), and a hold before any command holds it
        self.prev_target.clone_from(&self.last.joints.position);
        self.holding = true;
        self.capture_hold();
        self.state = Lifecycle::Active;
        Ok(())
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        self.enter_hold(HoldCause::Lifecycle);
        let _ = self.write(Time(monotonic_ns()), &Command::hold(Time::ZERO));
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn body(&self, spec: &BodySpec) -> Result<RobotBody, BodyError> {
        match &self.model {
            #[cfg(feature = "mujoco")]
            Some(path) => {
                let mut body = super::mujoco::body::describe_file(
                    path,
                    "robot.model",
                    &self.cfg.joint_names,
                    spec,
                )?;
                // the model's limits narrowed by those the config enforces (when configured)
                for (l, c) in body.limits.iter_mut().zip(&self.info.joint_limits) {
                    *l = (l.0.max(c.0), l.1.min(c.1));
                }
                Ok(body)
            }
            #[cfg(not(feature = "mujoco"))]
            Some(path) => Err(BodyError::Model {
                key: "robot.model".into(),
                file: path.display().to_string(),
                message: "this build has no MuJoCo to read it (build with feature `mujoco`)".into(),
            }),
            None => RobotBody::from_joints(&self.info.joint_names, &self.info.joint_limits, spec),
        }
    }

    fn clock(&self) -> ClockKind {
        ClockKind::Monotonic
    }

    fn now(&self) -> Time {
        Time(monotonic_ns())
    }

    fn read(&mut self, _t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        let Some(rx) = self.states.as_mut() else {
            return Err(BackendError::Disconnected {
                backend: NAME,
                message: "not configured".into(),
            });
        };
        let s = rx.read();
        if s.seq == 0 {
            return Err(BackendError::Disconnected {
                backend: NAME,
                message: "no joint states received yet".into(),
            });
        }
        let age = monotonic_ns() - s.received_ns;
        if s.seq != self.last.seq {
            self.last.clone_from(s);
        }
        if age > self.cfg.stale_timeout_ms as i64 * 1_000_000 {
            if !self.stale {
                self.stale = true;
                self.stats.stale.fetch_add(1, Ordering::Relaxed);
                self.enter_hold(HoldCause::StaleStates);
            }
            return Err(BackendError::Disconnected {
                backend: NAME,
                message: "joint states stale: holding position".into(),
            });
        }
        self.stale = false;
        frame.clear();
        frame.t = Time(self.last.received_ns);
        frame.joints.clone_from(&self.last.joints);
        Ok(())
    }

    fn write(&mut self, _t: Time, cmd: &Command) -> Result<(), BackendError> {
        let n = self.cfg.joint_names.len();
        let mut result = Ok(());
        match cmd.mode {
            CommandMode::Hold => self.enter_hold(HoldCause::Requested),
            _ if cmd.values.len() != n || cmd.values.iter().any(|v| !v.is_finite()) => {
                self.enter_hold(HoldCause::InvalidCommand);
                result = Err(BackendError::InvalidCommand {
                    backend: NAME,
                    reason: "wrong length or non-finite value",
                });
            }
            _ => self.holding = false,
        }
        if self.last.seq == 0 {
            // no joint state yet: the robot's position is unknown, so no command may leave
            return result;
        }
        if self.holding && !self.hold_valid {
            self.capture_hold();
        }
        if let Err(reason) = self.shape(cmd) {
            self.enter_hold(HoldCause::InvalidCommand);
            let _ = self.shape(cmd);
            result = Err(BackendError::InvalidCommand {
                backend: NAME,
                reason,
            });
        }
        if let Some(tx) = self.commands.as_mut() {
            if !tx.push(self.out.clone()) {
                self.stats.dropped_commands.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    fn reset(&mut self, _seed: u64) -> Result<(), BackendError> {
        // a real robot is not reset by software: hold where it is
        self.enter_hold(HoldCause::Lifecycle);
        Ok(())
    }
}

fn ros_thread(
    cfg: &RobotJointsConfig,
    mut states: LatestTx<Stamped>,
    mut commands: RingRx<OutCommand>,
    stop: &AtomicBool,
    stats: &RobotStats,
    ready: &std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<(), String> {
    let ctx = r2r::Context::create().map_err(|e| format!("rcl init: {e}"))?;
    let mut node =
        r2r::Node::create(ctx, "sattva_robot_joints", "").map_err(|e| format!("node: {e}"))?;
    let mut sub = node
        .subscribe::<r2r::sensor_msgs::msg::JointState>(
            &cfg.joint_states_topic,
            r2r::QosProfile::sensor_data(),
        )
        .map_err(|e| format!("subscribe {}: {e}", cfg.joint_states_topic))?;
    enum Pub {
        Array(r2r::Publisher<r2r::std_msgs::msg::Float64MultiArray>),
        Trajectory(r2r::Publisher<r2r::trajectory_msgs::msg::JointTrajectory>),
    }
    let publisher = match cfg.command_interface {
        CommandInterface::Position | CommandInterface::Velocity => Pub::Array(
            node.create_publisher(&cfg.command_topic, r2r::QosProfile::default())
                .map_err(|e| format!("publisher {}: {e}", cfg.command_topic))?,
        ),
        CommandInterface::Trajectory => Pub::Trajectory(
            node.create_publisher(&cfg.command_topic, r2r::QosProfile::default())
                .map_err(|e| format!("publisher {}: {e}", cfg.command_topic))?,
        ),
    };
    let names = cfg.joint_names.clone();
    let mut pool = LocalPool::new();
    let mut seq = 0u64;
    let bad = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let bad2 = bad.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(m) = sub.next().await {
                // reorder into the configured joint order (by name: robots publish in any order)
                let mut s = Stamped {
                    seq: 0,
                    received_ns: monotonic_ns(),
                    joints: JointSample::default(),
                };
                let mut ok = true;
                for n in &names {
                    match m.name.iter().position(|x| x == n) {
                        Some(i) => {
                            s.joints
                                .position
                                .push(m.position.get(i).copied().unwrap_or(f64::NAN));
                            if let Some(v) = m.velocity.get(i) {
                                s.joints.velocity.push(*v);
                            }
                            if let Some(e) = m.effort.get(i) {
                                s.joints.effort.push(*e);
                            }
                        }
                        None => ok = false,
                    }
                }
                if ok && s.joints.position.iter().all(|p| p.is_finite()) {
                    seq += 1;
                    s.seq = seq;
                    states.write(s);
                } else {
                    bad2.set(bad2.get() + 1);
                }
            }
        })
        .map_err(|e| format!("spawn: {e}"))?;
    let _ = ready.send(Ok(()));
    let traj_t = cfg.trajectory_time_from_start_ms;
    while !stop.load(Ordering::Relaxed) {
        node.spin_once(Duration::from_micros(200));
        pool.run_until_stalled();
        stats.bad_states.store(bad.get(), Ordering::Relaxed);
        while let Some(c) = commands.pop() {
            let res = match &publisher {
                Pub::Array(p) => p.publish(&r2r::std_msgs::msg::Float64MultiArray {
                    data: c.values.to_vec(),
                    ..Default::default()
                }),
                Pub::Trajectory(p) => p.publish(&r2r::trajectory_msgs::msg::JointTrajectory {
                    joint_names: cfg.joint_names.clone(),
                    points: vec![r2r::trajectory_msgs::msg::JointTrajectoryPoint {
                        positions: c.values.to_vec(),
                        time_from_start: r2r::builtin_interfaces::msg::Duration {
                            sec: (traj_t / 1000) as i32,
                            nanosec: (traj_t % 1000) * 1_000_000,
                        },
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            };
            match res {
                Ok(()) => {
                    stats.published.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "publish command"),
            }
        }
    }
    Ok(())
}
