//! The control loop, top-down: read -> fuse -> act -> clamp -> write, on whichever backend is
//! configured, in every mode.
//!
//! [`ControlLoop::cycle`] is the body of the RT control task: it allocates nothing and only calls
//! the backend and the stages. It is built in exactly one way, [`ControlLoop::new`], from the
//! config: fusion, the safety clamp with the configured limits (always on), the command source
//! (`action.source`) and the operator's command timeout. Every cycle also feeds the run's output
//! fingerprint: a SHA-256 over what the agent produced (the command as it went to the backend
//! and the fused state), so runs can be compared bit for bit.

use sha2::{Digest, Sha256};

use crate::action::ActionConfig;
use crate::action::{
    ControlMode, CurriculumSource, Mark, OperatorInput, PerformEnd, PerformSource, Performer,
    Prepare, SafetyClamp, SineExplorer, SourceKind,
};
use crate::backend::{Backend, BackendError};
use crate::fusion::{FusedState, Fusion, FusionConfig};
use crate::repeat::Repeated;
use crate::types::{Command, CommandMode, SensorFrame, Time};

/// Per-run counters of the control loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopStats {
    /// Cycles run.
    pub cycles: u64,
    /// Cycles whose frame had a touch force above the threshold.
    pub touch_cycles: u64,
    /// Largest touch force seen, N.
    pub max_touch: f64,
    /// Sum of accelerometer norms (for the mean), m/s^2.
    pub accel_norm_sum: f64,
    /// Frames with an IMU sample.
    pub imu_frames: u64,
    /// Sensor read errors (frame skipped, command held).
    pub read_errors: u64,
    /// Commands the backend rejected.
    pub write_errors: u64,
    /// Cycles the loop held because an operator command went stale.
    pub stale_holds: u64,
    /// World resets for curriculum episodes.
    pub episodes: u64,
    /// Episode setups the backend refused.
    pub setup_errors: u64,
}

/// Loop health for diagnostics (fixed size: crosses the ROS bridge).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HealthSample {
    /// Backend time of the sample.
    pub t: Time,
    /// Control cycles so far.
    pub cycles: u64,
    /// Sensor read errors so far.
    pub read_errors: u64,
    /// Rejected commands so far.
    pub write_errors: u64,
    /// Values clamped by the safety clamp so far.
    pub clamped: u64,
    /// Position targets the clamp rate-limited so far.
    pub rate_limited: u64,
    /// Cycles held because the operator's command went stale.
    pub stale_holds: u64,
    /// Joint-cycles braked for overspeed by the clamp.
    pub overspeed: u64,
    /// The backend's fault counters (physics instability, overflows ...).
    pub faults: crate::backend::BackendFaults,
    /// Current control mode.
    pub mode: ControlMode,
    /// STL monitors configured.
    pub monitors: u32,
    /// Monitors violated in the last cycle.
    pub monitors_violated: u32,
    /// Violating monitor-cycles so far (all monitors).
    pub monitor_violations: u64,
    /// Cycles a monitor made the loop hold so far.
    pub monitor_holds: u64,
    /// Smallest robustness of the last cycle over all monitors (NaN when none reported).
    pub monitor_min_robustness: f64,
}

/// The fused IMU state of a cycle (what `sensor_msgs/Imu` carries).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FusedImu {
    /// Orientation of the IMU in the world, `[w, x, y, z]`.
    pub orientation: [f64; 4],
    /// Bias-corrected angular velocity, rad/s.
    pub angular_velocity: [f64; 3],
    /// Whether the orientation is initialised.
    pub orientation_valid: bool,
    /// Whether heading is referenced (magnetometer) rather than relative and drifting.
    pub heading_valid: bool,
}

/// Touch force above which a contact counts, N.
const TOUCH_THRESHOLD: f64 = 0.05;

/// What the control loop is built from (the `action:` and `fusion:` sections and the loop's
/// timing).
#[derive(Clone, Debug)]
pub struct LoopSpec<'a> {
    /// Source, exploration and clamp limits.
    pub action: &'a ActionConfig,
    /// Fusion stage.
    pub fusion: &'a FusionConfig,
    /// STL safety monitors (`monitors:`).
    pub monitors: &'a crate::monitor::MonitorsConfig,
    /// Control period, ns.
    pub period_ns: i64,
    /// An operator command older than this makes the loop hold, ns.
    pub command_timeout_ns: i64,
    /// Master seed (exploration, resets).
    pub seed: u64,
    /// The world is a replayed log (`action.source: auto` performs its commands).
    pub replaying: bool,
    /// The config file (for messages).
    pub config_file: String,
}

/// The agent's own command source (mode `explore`). The explorer is kept inline (the one
/// source of long runs, read every cycle); the curriculum is boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Source {
    /// Seeded smooth exploration around the start pose.
    Explore(SineExplorer),
    /// The curriculum of motor primitives.
    Curriculum(Box<CurriculumSource>),
    /// A plan of performances of learned attractors (`sattva eval perform`).
    Perform(Box<PerformSource>),
    /// The commands of a replayed log.
    Recorded,
    /// Hold position.
    Hold,
}

/// The control path: one backend, fusion, the command source, the safety clamp. The RT task
/// calls [`ControlLoop::cycle`].
pub struct ControlLoop<B: Backend> {
    /// The world.
    pub backend: B,
    source: Source,
    clamp: SafetyClamp,
    frame: SensorFrame,
    fusion: Fusion,
    cmd: Command,
    mark: Mark,
    mode: ControlMode,
    external: Command,
    external_at: Option<Time>,
    command_timeout_ns: i64,
    seed: u64,
    finished: bool,
    fingerprint: Sha256,
    read_failed: Repeated,
    write_failed: Repeated,
    stale: Repeated,
    monitors: crate::monitor::Monitors,
    /// The operator's performances (`OperatorInput::Perform`, the `sattva/perform` action).
    performer: Performer,
    /// Counters.
    pub stats: LoopStats,
}

impl<B: Backend> ControlLoop<B> {
    /// The control loop around an active backend: fusion, the safety clamp (joint limits
    /// from the backend, velocity and effort limits from `action.clamp`), the operator command
    /// timeout and the command source: `curriculum` when given (the driver's plan), else the one
    /// `action.source` names (exploration around the pose read now, with
    /// `action.explore.amplitude`). `Config` builds it with `ControlLoop::new`.
    pub fn with_spec(
        c: &LoopSpec<'_>,
        mut backend: B,
        curriculum: Option<CurriculumSource>,
    ) -> Result<ControlLoop<B>, BackendError> {
        let mut frame = SensorFrame::default();
        let t = backend.now();
        backend.read(t, &mut frame)?;
        let kind = match (c.action.source, c.replaying) {
            (SourceKind::Auto, true) => SourceKind::Recorded,
            (SourceKind::Auto, false) => SourceKind::Explore,
            (k, _) => k,
        };
        let source = match (curriculum, kind) {
            (Some(cur), _) => Source::Curriculum(Box::new(cur)),
            (None, SourceKind::Curriculum) => {
                return Err(BackendError::Mapping {
                    file: c.config_file.clone(),
                    key: "sattva.ros__parameters.action.source".into(),
                    message: "`curriculum` needs a driver that plans episodes (`sattva sim`, `sattva eval`, `sattva run --curriculum`)".into(),
                })
            }
            (None, SourceKind::Recorded) => Source::Recorded,
            (None, SourceKind::Hold) => Source::Hold,
            (None, _) => Source::Explore(SineExplorer::new(
                &frame.joints.position,
                c.action.explore.amplitude,
                c.seed,
                t,
            )),
        };
        let clamp = SafetyClamp::new(&backend.info().joint_limits)
            .with_limits(&c.action.clamp, c.period_ns);
        let info = backend.info();
        let monitors = crate::monitor::Monitors::new(
            c.monitors,
            c.period_ns,
            &info.joint_names,
            &info.contact_names,
        )
        .map_err(|e| BackendError::Mapping {
            file: c.config_file.clone(),
            key: format!("sattva.ros__parameters.monitors.{}.spec", e.monitor),
            message: e.to_string(),
        })?;
        Ok(ControlLoop {
            backend,
            source,
            clamp,
            frame,
            fusion: Fusion::new(c.fusion),
            cmd: Command::default(),
            mark: Mark::Free,
            mode: ControlMode::Explore,
            external: Command::default(),
            external_at: None,
            command_timeout_ns: c.command_timeout_ns,
            seed: c.seed,
            finished: false,
            fingerprint: Sha256::new(),
            read_failed: Repeated::default(),
            write_failed: Repeated::default(),
            stale: Repeated::default(),
            monitors,
            performer: Performer::new(c.period_ns),
            stats: LoopStats::default(),
        })
    }

    /// The sensor frame of the last cycle.
    pub fn frame(&self) -> &SensorFrame {
        &self.frame
    }

    /// The command of the last cycle, as it went to the backend (after the clamp).
    pub fn command(&self) -> &Command {
        &self.cmd
    }

    /// Where the last cycle stood in the command source's plan (for the segmenter).
    pub fn mark(&self) -> Mark {
        self.mark
    }

    /// The fusion stage (e.g. for the vision task's yaw aid, applied between cycles).
    pub fn fusion_mut(&mut self) -> &mut Fusion {
        &mut self.fusion
    }

    /// The fused state of the last cycle.
    pub fn fused(&self) -> &FusedState {
        self.fusion.state()
    }

    /// The fused IMU state of the last cycle, if the backend has an IMU.
    pub fn fused_imu(&self) -> Option<FusedImu> {
        self.frame.imu.map(|_| {
            let s = self.fusion.state();
            FusedImu {
                orientation: s.orientation,
                angular_velocity: s.angular_velocity,
                orientation_valid: s.validity.orientation,
                heading_valid: s.validity.heading,
            }
        })
    }

    /// The STL monitors and their robustness of the last cycle.
    pub fn monitors(&self) -> &crate::monitor::Monitors {
        &self.monitors
    }

    /// The current control mode.
    pub fn mode(&self) -> ControlMode {
        self.mode
    }

    /// The command source.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Replaces the command source by a plan of performances (`sattva eval perform`).
    pub fn set_perform_plan(&mut self, plan: PerformSource) {
        self.source = Source::Perform(Box::new(plan));
        self.finished = false;
    }

    /// The operator's performance under way: `(id, phase)` at the last cycle.
    pub fn performing(&self) -> Option<(u32, f64)> {
        self.performer.progress(self.frame.t)
    }

    /// The operator's last performance that ended and how (once; the control task reports it).
    pub fn take_performance_end(&mut self) -> Option<(u32, PerformEnd)> {
        self.performer.take_ended()
    }

    /// True once the command source has nothing more to do (a curriculum's last episode).
    pub fn source_finished(&self) -> bool {
        self.finished
    }

    /// Applies operator input. Returns the reset's outcome `(request_id, ok)` for a reset.
    /// Allocation-free (commands are fixed-capacity).
    pub fn handle(&mut self, msg: OperatorInput) -> Option<(u64, bool)> {
        match msg {
            OperatorInput::Mode(m) => {
                if m == ControlMode::Hold {
                    self.performer.cancel();
                }
                self.mode = m;
                None
            }
            OperatorInput::Perform(g) => {
                // an operator's request: runs in any mode (a later hold cancels it)
                self.performer.start(g);
                None
            }
            OperatorInput::CancelPerform => {
                if self.performer.cancel().is_some() {
                    self.mode = ControlMode::Hold;
                }
                None
            }
            OperatorInput::Command(c) => {
                self.external = c;
                self.external_at = Some(self.backend.now());
                None
            }
            OperatorInput::Reset { request_id } => {
                let ok = self.backend.reset(self.seed).is_ok();
                self.fusion.reset();
                self.clamp.reset();
                self.monitors.reset();
                self.external_at = None;
                Some((request_id, ok))
            }
        }
    }

    /// Loop counters for diagnostics.
    pub fn health(&self) -> HealthSample {
        HealthSample {
            t: self.frame.t,
            cycles: self.stats.cycles,
            read_errors: self.stats.read_errors,
            write_errors: self.stats.write_errors,
            clamped: self.clamp.clamped(),
            rate_limited: self.clamp.rate_limited(),
            stale_holds: self.stats.stale_holds,
            overspeed: self.clamp.overspeed(),
            faults: self.backend.faults(),
            mode: self.mode,
            monitors: self.monitors.monitors.len() as u32,
            monitors_violated: self.monitors.monitors.iter().filter(|m| m.violated).count() as u32,
            monitor_violations: self.monitors.violations(),
            monitor_holds: self.monitors.holds,
            monitor_min_robustness: self
                .monitors
                .monitors
                .iter()
                .map(|m| m.robustness)
                .filter(|r| !r.is_nan())
                .fold(f64::NAN, f64::min),
        }
    }

    /// The source's preparation of the world before this cycle's read (curriculum episodes).
    fn prepare(&mut self, t: Time) {
        if self.mode != ControlMode::Explore {
            return;
        }
        let p = match &mut self.source {
            Source::Curriculum(cur) => cur.prepare(t),
            Source::Perform(p) => p.prepare(t),
            _ => return,
        };
        match p {
            Prepare::Nothing => {}
            Prepare::Finished => self.finished = true,
            Prepare::Setup(e) => {
                self.stats.episodes += 1;
                if let Err(err) = self.backend.setup_episode(&e) {
                    self.stats.setup_errors += 1;
                    tracing::warn!(error = %err, episode = self.stats.episodes, "episode setup failed; the episode starts from where the robot is");
                }
                // the world jumped: the filters, the clamp's rate limit and the monitors'
                // traces start again
                self.fusion.reset();
                self.clamp.reset();
                self.monitors.reset();
            }
        }
    }

    /// Chooses this cycle's command according to the mode and the source.
    fn act(&mut self, t: Time) {
        self.mark = Mark::Free;
        if self.performer.active() {
            // the operator's performance: from the current pose, then hold where it ended
            self.mark =
                self.performer
                    .command(t, &self.fusion.state().joint_position, &mut self.cmd);
            if !self.performer.active() {
                self.mode = ControlMode::Hold;
            }
            return;
        }
        match self.mode {
            ControlMode::Explore => match &mut self.source {
                Source::Explore(e) => e.command(t, &mut self.cmd),
                Source::Curriculum(c) => {
                    self.mark = c.command(t, &self.fusion.state().joint_position, &mut self.cmd);
                }
                Source::Perform(p) => {
                    self.mark = p.command(t, &self.fusion.state().joint_position, &mut self.cmd);
                }
                Source::Recorded => match self.backend.recorded_command() {
                    Some(c) => {
                        self.cmd.clone_from(c);
                        self.cmd.t = t;
                    }
                    None => self.cmd = Command::hold(t),
                },
                Source::Hold => self.cmd = Command::hold(t),
            },
            ControlMode::Hold => {
                self.cmd = Command::hold(t);
                self.mark = Mark::Pause;
            }
            ControlMode::External => match self.external_at {
                // a stale operator command must not keep driving the robot: hold instead
                Some(at) if t.0 - at.0 <= self.command_timeout_ns => {
                    self.cmd.clone_from(&self.external);
                    self.cmd.t = t;
                }
                Some(_) => {
                    self.stats.stale_holds += 1;
                    if let Some(n) = self.stale.note() {
                        tracing::warn!(
                            times = n,
                            timeout_ms = self.command_timeout_ns / 1_000_000,
                            "operator command stale; holding (logged at the 1st, 10th, 100th ... time)"
                        );
                    }
                    self.cmd = Command::hold(t);
                }
                None => self.cmd = Command::hold(t),
            },
        }
    }

    /// One control cycle. Allocation-free. Returns the frame it read.
    pub fn cycle(&mut self) -> &SensorFrame {
        let t = self.backend.now();
        // 0. the source may set the world up (curriculum episodes)
        self.prepare(t);
        // 1. sense
        match self.backend.read(t, &mut self.frame) {
            Ok(()) => {
                // 2. fuse
                self.fusion.update(&self.frame);
                // 3. act: the agent's source, an operator command, or hold
                self.act(t);
            }
            Err(e) => {
                // degrade safely: hold, and keep the loop (and the clock) running
                self.stats.read_errors += 1;
                if let Some(n) = self.read_failed.note() {
                    tracing::warn!(error = %e, times = n, "sensor read failed; holding (logged at the 1st, 10th, 100th ... time)");
                }
                self.cmd = Command::hold(t);
                self.mark = Mark::Pause;
            }
        }
        // 3b. monitors: over the fused state and the command as chosen; a violated `hold` /
        // `safe_stop` monitor makes this very cycle's command a hold
        if !self.monitors.is_empty() {
            self.check_monitors(t);
        }
        // 4. clamp: always, between action and backend
        self.clamp.apply_sensed(
            &mut self.cmd,
            &self.frame.joints.position,
            &self.frame.joints.velocity,
        );
        // 5. actuate
        if let Err(e) = self.backend.write(t, &self.cmd) {
            self.stats.write_errors += 1;
            if let Some(n) = self.write_failed.note() {
                tracing::warn!(error = %e, times = n, "command rejected (logged at the 1st, 10th, 100th ... time)");
            }
        }
        self.account(t);
        &self.frame
    }

    fn check_monitors(&mut self, t: Time) {
        let inputs = crate::monitor::Inputs {
            t,
            frame: &self.frame,
            fused: self.fusion.state(),
            command: &self.cmd,
            mode: match self.mode {
                ControlMode::Explore => 0.0,
                ControlMode::External => 1.0,
                ControlMode::Hold => 2.0,
            },
            command_at: self.external_at,
        };
        let v = self.monitors.step(&inputs);
        if v.safe_stop {
            self.performer.cancel();
        }
        if v.safe_stop && self.mode != ControlMode::Hold {
            tracing::error!(
                "safety monitor: safe stop, control mode hold (set `sattva/mode` to resume)"
            );
            self.mode = ControlMode::Hold;
        }
        if v.hold {
            self.cmd = Command::hold(t);
            self.mark = Mark::Pause;
        }
    }

    fn account(&mut self, t: Time) {
        let s = &mut self.stats;
        s.cycles += 1;
        let touch = self.frame.contacts.iter().copied().fold(0.0, f64::max);
        if touch > TOUCH_THRESHOLD {
            s.touch_cycles += 1;
        }
        s.max_touch = s.max_touch.max(touch);
        if let Some(imu) = &self.frame.imu {
            s.imu_frames += 1;
            s.accel_norm_sum += imu.accel.iter().map(|a| a * a).sum::<f64>().sqrt();
        }
        // the output fingerprint: what the agent commanded and what it believed, this cycle
        let h = &mut self.fingerprint;
        h.update(t.0.to_le_bytes());
        h.update([match self.cmd.mode {
            CommandMode::Hold => 0u8,
            CommandMode::Position => 1,
            CommandMode::Velocity => 2,
            CommandMode::Effort => 3,
        }]);
        let f = self.fusion.state();
        let mut put = |x: f64| h.update(x.to_le_bytes());
        self.cmd.values.iter().for_each(|&x| put(x));
        f.orientation.iter().for_each(|&x| put(x));
        f.joint_position.iter().for_each(|&x| put(x));
        f.joint_velocity.iter().for_each(|&x| put(x));
        f.contact_force.iter().for_each(|&x| put(x));
    }

    /// SHA-256 over every cycle's outputs so far (the command after the clamp, the fused
    /// orientation, joint positions and velocities, contact forces), hex.
    pub fn output_hash(&self) -> String {
        hex(&self.fingerprint.clone().finalize())
    }

    /// The safety clamp (for its counters).
    pub fn clamp(&self) -> &SafetyClamp {
        &self.clamp
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
