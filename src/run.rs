//! `sattva run`: the agent as a long-running process (what `ros2 launch` starts).
//!
//! The backend is whatever `backend:` selects (`mujoco`, `replay`, `realsense`, `robot` =
//! robot joints + RealSense); everything above the [`Backend`] trait is the same code.
//!
//! Threads:
//! * the control task (RT worker of [`crate::sched::Executor`], pinned, SCHED_FIFO): owns the
//!   backend and the [`ControlLoop`]; per job it drains operator input, runs one cycle and hands
//!   the frame to ROS through the lock-free bridge (never waiting for it); every
//!   `learn.window_ms` it hands an experience segment to the learn task (ring; dropped if full);
//! * the learn task (`sched.tasks.learn`, lower priority, another core): encoder + substrate,
//!   attractor events / set to the node, snapshot and query requests from it ([`crate::learn`]);
//! * the ROS 2 node (feature `ros2`, non-RT thread);
//! * this thread (non-RT): waits for the end, forwards scheduler statistics to the node.
//!
//! `--fast` runs the same task set on the virtual-time executor: lockstep, as fast as possible.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::config::{BackendKind, Config};
use crate::learn::{LearnSummary, LearnTask, Learner, Segment, Segmenter};
use crate::pipeline::{ControlLoop, LoopStats, PipelineError};
use crate::ros::bridge::{bridge, RtSide, ToRos};
use crate::sched::channel::{ring, RingTx};
use crate::sched::{
    DiagStatus, Executor, Job, SchedConfig, SchedError, SchedStats, Task, TaskConfig, TaskKind,
    TaskSet, VirtualExecutor,
};
use crate::types::Time;

/// Name of the control task in `sched.tasks`.
pub const CONTROL_TASK: &str = "control";
/// Name of the learning task in `sched.tasks`.
pub const LEARN_TASK: &str = "learn";
/// Name of the vision task in `sched.tasks`.
pub const VISION_TASK: &str = "vision";

/// Errors of `sattva run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The control pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The scheduler failed to start.
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// The ROS 2 node failed.
    #[cfg(feature = "ros2")]
    #[error(transparent)]
    Ros(#[from] crate::ros::node::RosError),
    /// Recording failed.
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    /// The learning stage failed to start.
    #[error(transparent)]
    Learn(#[from] crate::learn::LearnError),
    /// `vision.enabled` but the backend has no camera this build can use.
    #[error("vision.enabled: backend `{0}` has no camera this build can use (MuJoCo needs `mujoco.camera` and feature `render`; RealSense a color/depth profile)")]
    NoCamera(&'static str),
    /// The vision stage refused its config.
    #[error(transparent)]
    Vision(#[from] crate::vision::VisionError),
    /// The configured backend is not in this build.
    #[error("backend `{backend}` needs a build with feature(s) `{features}` (cargo build --features {features})")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// The features it needs.
        features: &'static str,
    },
    /// Signal handler installation failed.
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signal(String),
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run lockstep as fast as possible (virtual time) instead of real time (simulation only).
    pub fast: bool,
    /// Stop after this many seconds of backend time (None: until SIGINT/SIGTERM).
    pub duration_s: Option<f64>,
    /// Start the ROS 2 node (needs feature `ros2`).
    pub ros: bool,
    /// Fault injection for tests: block the ROS node thread for `(after, for)` wall time.
    pub stall_ros: Option<(Duration, Duration)>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// Loop counters.
    pub stats: LoopStats,
    /// Backend time run, s (from the first to the last cycle).
    pub end_time_s: f64,
    /// `(sent_to_ros, dropped_to_ros, dropped_from_ros)`.
    pub bridge: (u64, u64, u64),
    /// Scheduler statistics (per task latency, misses, overruns; rt status).
    pub sched: SchedStats,
    /// Name of the backend that ran.
    pub backend: &'static str,
    /// What the learning task did (None when `learn.enabled` is off).
    pub learn: Option<LearnSummary>,
    /// What reached the control task from the vision task (None when `vision.enabled` is off).
    pub vision: Option<VisionCounts>,
}

/// Vision results as the control task saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisionCounts {
    /// Results (one per processed frame) taken from the vision task.
    pub results: u64,
    /// Rotations applied to the orientation filter as yaw corrections.
    pub applied: u64,
    /// Rotations the filter refused.
    pub refused: u64,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sattva run ({}): {} cycles, {:.3} s backend time, read/write errors {}/{}, ros bridge sent {} dropped {}/{}",
            self.backend,
            self.stats.cycles,
            self.end_time_s,
            self.stats.read_errors,
            self.stats.write_errors,
            self.bridge.0,
            self.bridge.1,
            self.bridge.2
        )?;
        if let Some(l) = &self.learn {
            let s = &l.stats;
            writeln!(
                f,
                "learning: {} experiences ({} calibration, {} rejected, {} dropped), {} attractors ({} formed), recognised {}/{}",
                s.experiences,
                s.calibrated,
                s.rejected,
                l.segments_dropped,
                s.attractors,
                s.created,
                s.recognised,
                s.learned
            )?;
            if let Some(p) = &l.snapshot {
                writeln!(f, "snapshot: {}", p.display())?;
            }
        }
        if let Some(v) = &self.vision {
            writeln!(
                f,
                "vision: {} frames processed, {} yaw corrections applied, {} refused",
                v.results, v.applied, v.refused
            )?;
        }
        write!(f, "{}", self.sched)
    }
}

/// The control task: one [`ControlLoop::cycle`] per job, bridged to ROS; every learning window
/// an experience segment goes to the learn task.
struct ControlTask<B: Backend> {
    lp: ControlLoop<B>,
    rt: RtSide,
    learn: Option<(Segmenter, RingTx<Segment>)>,
    vision: Option<crate::vision::task::VisionSink>,
    end_ns: Option<i64>,
    health_every: u64,
    jobs: u64,
    done: Arc<AtomicBool>,
    finished: Option<mpsc::Sender<(LoopStats, Time, VisionCounts)>>,
    /// False without a ROS node: nothing is handed to the (unread) bridge.
    ros: bool,
    vision_counts: VisionCounts,
    record: Option<crate::record::RecordSink>,
}

impl<B: Backend> Task for ControlTask<B> {
    fn run_once(&mut self, _job: &Job) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        while let Some(msg) = self.rt.recv() {
            if let Some(reply) = self.lp.handle(msg) {
                self.rt.send(reply);
            }
        }
        if let Some(v) = &mut self.vision {
            // the vision task's rotations as yaw corrections (ring drain: no wait, no alloc)
            self.vision_counts.results += v.apply(self.lp.fusion_mut()) as u64;
            self.vision_counts.applied = v.applied;
            self.vision_counts.refused = v.refused;
        }
        self.lp.cycle();
        if let Some(sink) = &self.record {
            crate::record::push_cycle(sink, self.lp.frame(), self.lp.command());
        }
        if self.ros {
            let frame = self.lp.frame().clone(); // fixed-capacity: no allocation
            let fused = self.lp.fused_imu();
            self.rt.send(ToRos::Frame(frame, fused));
        }
        if let Some((seg, tx)) = &mut self.learn {
            let visual = self
                .vision
                .as_ref()
                .and_then(|v| v.latest())
                .map(|o| &o.descriptor);
            if let Some(s) = seg.push_with(self.lp.fused(), self.lp.command(), visual) {
                tx.push(s.clone()); // fixed-size value; a full ring drops and counts
            }
        }
        if self.ros && self.jobs % self.health_every == 0 {
            self.rt.send(ToRos::Health(self.lp.health()));
        }
        self.jobs += 1;
        if self
            .end_ns
            .is_some_and(|end| self.lp.backend.now().0 >= end)
            || self.lp.backend.finished()
        {
            self.done.store(true, Ordering::Relaxed);
        }
    }

    fn stop(&mut self) {
        // the robot's safe state; then hand the counters back (non-RT: the executor is stopping)
        self.rt.send(ToRos::Health(self.lp.health()));
        if let Err(e) = self.lp.backend.deactivate() {
            tracing::warn!(error = %e, "backend deactivate");
        }
        if let Some(tx) = self.finished.take() {
            let _ = tx.send((
                self.lp.stats.clone(),
                self.lp.backend.now(),
                self.vision_counts,
            ));
        }
    }
}

/// The scheduler config of a run: `sched` from the config file, with a `control` task at the
/// control period and (when learning) a `learn` task if the file declares none: 20 ms period,
/// priority 20, on the core after the control task's, sporadic (released when segments wait).
pub fn sched_config(c: &Config) -> SchedConfig {
    let mut sc = c.sched.clone();
    let control_core = sc
        .tasks
        .entry(CONTROL_TASK.to_string())
        .or_insert_with(|| TaskConfig {
            period_ns: c.control.period_ns,
            priority: 80,
            ..Default::default()
        })
        .core;
    if c.learn.enabled {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        sc.tasks
            .entry(LEARN_TASK.to_string())
            .or_insert_with(|| TaskConfig {
                period_ns: 20_000_000,
                priority: 20,
                core: if cores > 1 {
                    (control_core + cores - 1) % cores
                } else {
                    control_core
                },
                kind: TaskKind::Periodic,
                ..Default::default()
            });
    } else {
        sc.tasks.remove(LEARN_TASK);
    }
    if c.vision.enabled {
        let learn_core = sc.tasks.get(LEARN_TASK).map_or(control_core, |t| t.core);
        sc.tasks
            .entry(VISION_TASK.to_string())
            .or_insert_with(|| TaskConfig {
                period_ns: (1e9 / c.vision.rate_hz).round() as i64,
                priority: c.vision.priority,
                core: learn_core,
                ..Default::default()
            });
    } else {
        sc.tasks.remove(VISION_TASK);
    }
    sc
}

/// Runs the backend `c.backend` selects under the scheduler, with the ROS node if asked. The
/// pipeline above the [`Backend`] trait is the same code for every backend.
pub fn run(c: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    match c.backend {
        BackendKind::Mujoco => {
            #[cfg(feature = "mujoco")]
            {
                let b = crate::sim::open_backend(c).map_err(PipelineError::from)?;
                run_with(c, b, opts)
            }
            #[cfg(not(feature = "mujoco"))]
            Err(RunError::Unsupported {
                backend: "mujoco",
                features: "mujoco",
            })
        }
        BackendKind::Replay => {
            let mut b =
                crate::backend::replay::ReplayBackend::new(c, None).map_err(PipelineError::from)?;
            activate(&mut b)?;
            run_with(c, b, opts)
        }
        BackendKind::Realsense => {
            #[cfg(feature = "realsense")]
            {
                let mut b = crate::backend::realsense::RealsenseBackend::new(c)
                    .map_err(PipelineError::from)?;
                activate(&mut b)?;
                run_with(c, b, opts)
            }
            #[cfg(not(feature = "realsense"))]
            Err(RunError::Unsupported {
                backend: "realsense",
                features: "realsense",
            })
        }
        BackendKind::Robot => run_robot(c, opts),
    }
}

fn activate(b: &mut impl Backend) -> Result<(), RunError> {
    b.configure().map_err(PipelineError::from)?;
    b.activate().map_err(PipelineError::from)?;
    Ok(())
}

/// `backend: robot`: the robot's joints (ros2_control over ROS 2) composed with the RealSense
/// camera (IMU, depth) into one backend.
fn run_robot(c: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    #[cfg(feature = "ros2")]
    {
        let mut joints =
            crate::backend::robot::RobotJointsBackend::new(c).map_err(PipelineError::from)?;
        activate(&mut joints)?;
        let camera = c.robot.as_ref().is_some_and(|r| r.camera);
        #[cfg(feature = "realsense")]
        if camera {
            let mut cam =
                crate::backend::realsense::RealsenseBackend::new(c).map_err(PipelineError::from)?;
            activate(&mut cam)?;
            let b = crate::backend::composite::Composite::new(joints, cam)
                .map_err(PipelineError::from)?;
            return run_with(c, b, opts);
        }
        #[cfg(not(feature = "realsense"))]
        if camera {
            return Err(RunError::Unsupported {
                backend: "robot with robot.camera: true",
                features: "ros2,realsense",
            });
        }
        run_with(c, joints, opts)
    }
    #[cfg(not(feature = "ros2"))]
    {
        let _ = (c, opts);
        Err(RunError::Unsupported {
            backend: "robot",
            features: "ros2",
        })
    }
}

/// Runs an active backend under the scheduler (see [`run`]).
pub fn run_with<B: Backend + 'static>(
    c: &Config,
    mut backend: B,
    opts: &RunOptions,
) -> Result<RunSummary, RunError> {
    // the vision task (camera rate, below the control task) when `vision.enabled`
    let vision = if c.vision.enabled {
        let source = backend
            .take_frame_source()
            .ok_or(RunError::NoCamera(backend.name()))?;
        Some(crate::vision::task::vision_task(&c.vision, source)?)
    } else {
        None
    };
    let (vision_task, vision_sink) = match vision {
        Some((t, s)) => (Some(t), Some(s)),
        None => (None, None),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            // a second run in the same process (tests) keeps the first handler
            if !matches!(e, ctrlc::Error::MultipleHandlers) {
                return Err(RunError::Signal(e.to_string()));
            }
        }
    }
    let backend_name = backend.name();
    let info = backend.info().clone();
    let clock = backend.clock();
    // durations count from the start: sim/replay clocks start near 0, monotonic ones do not
    let t_start = backend.now();
    let mut lp = ControlLoop::new(backend, c.seed, 0.3)
        .map_err(PipelineError::from)?
        .with_fusion(&c.fusion);
    lp.set_command_timeout_ns(c.ros.command_timeout_ms as i64 * 1_000_000);
    let (rt, ros_side) = bridge(c.ros.queue_capacity as usize);
    let bridge_stats = rt.stats().clone();
    let (diag_tx, diag_rx) = mpsc::channel::<Vec<DiagStatus>>();
    // learning: segments from the control task to the learn task, events etc. to ROS
    let (learn_fin_tx, learn_fin_rx) = mpsc::channel::<LearnSummary>();
    let mut learn_ros = None;
    let mut learn_task = None;
    let mut segment_tx = None;
    if c.learn.enabled {
        let layout = crate::encode::Layout {
            joints: info.joint_names.len(),
            contacts: info.contact_names.len(),
            depth_cells: 0,
        };
        let learner = Learner::new(c, layout)?;
        let (stx, srx) = ring::<Segment>(c.learn.queue_capacity as usize);
        let (ports, ros) = crate::learn::learn_bridge(c.learn.queue_capacity as usize);
        learn_task = Some(LearnTask::new(
            c,
            learner,
            srx,
            opts.ros.then_some(ports),
            learn_fin_tx,
        )?);
        learn_ros = opts.ros.then_some(ros);
        segment_tx = Some((
            Segmenter::new(Segmenter::cycles(c.learn.window_ms, c.control.period_ns)),
            stx,
        ));
    } else {
        drop(learn_fin_tx);
    }

    #[cfg(feature = "ros2")]
    let node = if opts.ros {
        let ni = crate::ros::node::NodeInfo {
            backend: info.clone(),
            clock,
        };
        Some(crate::ros::node::spawn(
            &c.ros,
            ni,
            ros_side,
            diag_rx,
            learn_ros.take(),
        )?)
    } else {
        drop((ros_side, diag_rx));
        None
    };
    #[cfg(not(feature = "ros2"))]
    {
        drop((ros_side, diag_rx, learn_ros.take()));
        if opts.ros {
            tracing::warn!("this build has no ROS 2 (feature `ros2`): running without the node");
        }
    }
    let _ = (&info, clock);

    let recorder = crate::record::start_for_run(c, info.joint_names.clone())?;
    let (recorder, sink) = match recorder {
        Some((r, s)) => (Some(r), Some(s)),
        None => (None, None),
    };
    let done = Arc::new(AtomicBool::new(false));
    let (fin_tx, fin_rx) = mpsc::channel();
    let task = ControlTask {
        lp,
        rt,
        learn: segment_tx,
        vision: vision_sink,
        end_ns: opts.duration_s.map(|d| t_start.0 + (d * 1e9) as i64),
        health_every: (100_000_000 / c.control.period_ns).max(1) as u64, // 10 Hz
        jobs: 0,
        done: done.clone(),
        finished: Some(fin_tx),
        ros: opts.ros && cfg!(feature = "ros2"),
        vision_counts: VisionCounts::default(),
        record: sink,
    };
    let sc = sched_config(c);
    let diag_period = Duration::from_millis(c.ros.diagnostics_period_ms as u64);
    let sched = if opts.fast {
        let mut set = TaskSet::new().add(CONTROL_TASK, task);
        if let Some(l) = learn_task {
            set = set.add(LEARN_TASK, l);
        }
        if let Some(v) = vision_task {
            set = set.add(VISION_TASK, v);
        }
        let mut ex = VirtualExecutor::new(&sc, set, Time::ZERO)?;
        let mut next_diag = Instant::now();
        while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
            for _ in 0..1000 {
                ex.step();
            }
            if Instant::now() >= next_diag {
                next_diag += diag_period;
                let _ = diag_tx.send(ex.stats().diagnostics());
            }
        }
        let stats = ex.finish();
        let _ = diag_tx.send(stats.diagnostics());
        stats
    } else {
        let hook: crate::sched::SafeStopHook = Arc::new(|ev| {
            tracing::error!(
                task = ev.task,
                execution_ns = ev.execution_ns,
                "control task overran its budget: safe stop (robot holds)"
            );
        });
        let mut set = TaskSet::new().add(CONTROL_TASK, task).on_safe_stop(hook);
        if let Some(l) = learn_task {
            set = set.add(LEARN_TASK, l);
        }
        if let Some(v) = vision_task {
            set = set.add(VISION_TASK, v);
        }
        let mut ex = Executor::start(&sc, set)?;
        let started = Instant::now();
        let mut next_diag = Instant::now();
        let mut stalled = false;
        while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) && !ex.safe_stopped() {
            std::thread::sleep(Duration::from_millis(10));
            if Instant::now() >= next_diag {
                next_diag += diag_period;
                let _ = diag_tx.send(ex.stats().diagnostics());
            }
            #[cfg(feature = "ros2")]
            if let (Some((after, dur)), Some(n), false) = (opts.stall_ros, node.as_ref(), stalled) {
                if started.elapsed() >= after {
                    n.stall_for(dur);
                    stalled = true;
                }
            }
        }
        let _ = (started, &mut stalled);
        let stats = ex.stop();
        let _ = diag_tx.send(stats.diagnostics());
        stats
    };
    let (stats, end, vision_counts) = fin_rx.recv().unwrap_or_default();
    let learn = learn_fin_rx.recv().ok();
    if let Some(r) = recorder {
        let (bag, rs) = r.finish()?;
        tracing::info!(
            messages = rs.written,
            dropped = rs.dropped,
            "recorded {bag:?}"
        );
    }
    #[cfg(feature = "ros2")]
    if let Some(n) = node {
        // let the node publish the last messages
        std::thread::sleep(Duration::from_millis(100));
        n.stop()?;
    }
    Ok(RunSummary {
        stats,
        end_time_s: (end.0 - t_start.0) as f64 * 1e-9,
        bridge: bridge_stats.snapshot(),
        sched,
        backend: backend_name,
        learn,
        vision: c.vision.enabled.then_some(vision_counts),
    })
}
