//! `sattva run`: the agent as a long-running process (what `ros2 launch` starts).
//!
//! Threads:
//! * the control task (RT worker of [`crate::sched::Executor`], pinned, SCHED_FIFO): owns the
//!   backend and the [`ControlLoop`]; per job it drains operator input, runs one cycle and hands
//!   the frame to ROS through the lock-free bridge (never waiting for it);
//! * the ROS 2 node (feature `ros2`, non-RT thread);
//! * this thread (non-RT): waits for the end, forwards scheduler statistics to the node.
//!
//! `--fast` runs the same task set on the virtual-time executor: lockstep, as fast as possible.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::mujoco::MujocoBackend;
use crate::backend::Backend;
use crate::config::Config;
use crate::pipeline::{ControlLoop, LoopStats, PipelineError};
use crate::ros::bridge::{bridge, RtSide, ToRos};
use crate::sched::{
    DiagStatus, Executor, Job, SchedConfig, SchedError, SchedStats, Task, TaskConfig, TaskSet,
    VirtualExecutor,
};
use crate::types::Time;

/// Name of the control task in `sched.tasks`.
pub const CONTROL_TASK: &str = "control";

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
    /// Backend time at the end, s.
    pub end_time_s: f64,
    /// `(sent_to_ros, dropped_to_ros, dropped_from_ros)`.
    pub bridge: (u64, u64, u64),
    /// Scheduler statistics (per task latency, misses, overruns; rt status).
    pub sched: SchedStats,
}

/// The control task: one [`ControlLoop::cycle`] per job, bridged to ROS.
struct ControlTask {
    lp: ControlLoop<MujocoBackend>,
    rt: RtSide,
    end_ns: Option<i64>,
    health_every: u64,
    jobs: u64,
    done: Arc<AtomicBool>,
    finished: Option<mpsc::Sender<(LoopStats, Time)>>,
    record: Option<crate::record::RecordSink>,
}

impl Task for ControlTask {
    fn run_once(&mut self, _job: &Job) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        while let Some(msg) = self.rt.recv() {
            if let Some(reply) = self.lp.handle(msg) {
                self.rt.send(reply);
            }
        }
        let frame = self.lp.cycle().clone(); // fixed-capacity: no allocation
        if let Some(sink) = &self.record {
            crate::record::push_cycle(sink, &frame, self.lp.command());
        }
        let fused = self.lp.fused_imu();
        self.rt.send(ToRos::Frame(frame, fused));
        if self.jobs % self.health_every == 0 {
            self.rt.send(ToRos::Health(self.lp.health()));
        }
        self.jobs += 1;
        if let Some(end) = self.end_ns {
            if self.lp.backend.now().0 >= end {
                self.done.store(true, Ordering::Relaxed);
            }
        }
    }

    fn stop(&mut self) {
        // the robot's safe state; then hand the counters back (non-RT: the executor is stopping)
        self.rt.send(ToRos::Health(self.lp.health()));
        if let Err(e) = self.lp.backend.deactivate() {
            tracing::warn!(error = %e, "backend deactivate");
        }
        if let Some(tx) = self.finished.take() {
            let _ = tx.send((self.lp.stats.clone(), self.lp.backend.now()));
        }
    }
}

/// The scheduler config of a run: `sched` from the config file, with a `control` task at the
/// control period if the file declares none.
pub fn sched_config(c: &Config) -> SchedConfig {
    let mut sc = c.sched.clone();
    sc.tasks
        .entry(CONTROL_TASK.to_string())
        .or_insert_with(|| TaskConfig {
            period_ns: c.control.period_ns,
            priority: 80,
            ..Default::default()
        });
    sc
}

/// Runs the configured MuJoCo backend under the scheduler, with the ROS node if asked.
pub fn run(c: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
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
    let backend = crate::sim::open_backend(c).map_err(PipelineError::from)?;
    let info = backend.info().clone();
    let clock = backend.clock();
    let mut lp = ControlLoop::new(backend, c.seed, 0.3)
        .map_err(PipelineError::from)?
        .with_fusion(&c.fusion);
    lp.set_command_timeout_ns(c.ros.command_timeout_ms as i64 * 1_000_000);
    let (rt, ros_side) = bridge(c.ros.queue_capacity as usize);
    let bridge_stats = rt.stats().clone();
    let (diag_tx, diag_rx) = mpsc::channel::<Vec<DiagStatus>>();

    #[cfg(feature = "ros2")]
    let node = if opts.ros {
        let ni = crate::ros::node::NodeInfo {
            backend: info.clone(),
            clock,
        };
        Some(crate::ros::node::spawn(&c.ros, ni, ros_side, diag_rx)?)
    } else {
        drop((ros_side, diag_rx));
        None
    };
    #[cfg(not(feature = "ros2"))]
    {
        drop((ros_side, diag_rx));
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
        end_ns: opts.duration_s.map(|d| (d * 1e9) as i64),
        health_every: (100_000_000 / c.control.period_ns).max(1) as u64, // 10 Hz
        jobs: 0,
        done: done.clone(),
        finished: Some(fin_tx),
        record: sink,
    };
    let sc = sched_config(c);
    let diag_period = Duration::from_millis(c.ros.diagnostics_period_ms as u64);
    let sched = if opts.fast {
        let mut task = task;
        let mut ex =
            VirtualExecutor::new(&sc, TaskSet::new().add(CONTROL_TASK, &mut task), Time::ZERO)?;
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
        let mut ex = Executor::start(
            &sc,
            TaskSet::new().add(CONTROL_TASK, task).on_safe_stop(hook),
        )?;
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
    let (stats, end) = fin_rx.recv().unwrap_or_default();
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
        end_time_s: end.as_secs_f64(),
        bridge: bridge_stats.snapshot(),
        sched,
    })
}
