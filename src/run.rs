//! `sattva run`: the agent as a long-running process (what `ros2 launch` starts).
//!
//! Threads: the control loop (this thread; the RT task), the ROS 2 node (feature `ros2`, non-RT)
//! talking through the lock-free bridge. In simulation the loop is paced to real time by default
//! (`--fast` runs lockstep as fast as possible); sim time is published on `/clock`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::config::Config;
use crate::pipeline::{ControlLoop, LoopStats, PipelineError};
use crate::ros::bridge::{bridge, ToRos};

/// Errors of `sattva run`.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The control pipeline failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The ROS 2 node failed.
    #[cfg(feature = "ros2")]
    #[error(transparent)]
    Ros(#[from] crate::ros::node::RosError),
    /// Signal handler installation failed.
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signal(String),
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run lockstep as fast as possible instead of real time (simulation only).
    pub fast: bool,
    /// Stop after this many seconds of backend time (None: until SIGINT/SIGTERM).
    pub duration_s: Option<f64>,
    /// Start the ROS 2 node (needs feature `ros2`).
    pub ros: bool,
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
    /// Cycles that started late by more than one period (real-time pacing only).
    pub late_cycles: u64,
}

/// Runs the configured MuJoCo backend with the control loop and, if asked, the ROS node.
#[cfg(feature = "mujoco")]
pub fn run(c: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // a second signal while shutting down is ignored; the loop exits at its next cycle
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            // in tests the handler may already be set by an earlier run in the same process
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
    let (mut rt, ros_side) = bridge(c.ros.queue_capacity as usize);

    #[cfg(feature = "ros2")]
    let node = if opts.ros {
        let ni = crate::ros::node::NodeInfo {
            backend: info.clone(),
            clock,
            rt_status: "best_effort".into(),
        };
        Some(crate::ros::node::spawn(&c.ros, ni, ros_side)?)
    } else {
        drop(ros_side);
        None
    };
    #[cfg(not(feature = "ros2"))]
    {
        drop(ros_side);
        if opts.ros {
            tracing::warn!("this build has no ROS 2 (feature `ros2`): running without the node");
        }
    }
    let _ = (&info, clock);

    let period = Duration::from_nanos(c.control.period_ns as u64);
    let end_ns = opts.duration_s.map(|d| (d * 1e9) as i64);
    let health_every = (100_000_000 / c.control.period_ns).max(1) as u64; // 10 Hz
    let start = Instant::now();
    let mut late_cycles = 0u64;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Some(end) = end_ns {
            if lp.backend.now().0 >= end {
                break;
            }
        }
        while let Some(msg) = rt.recv() {
            if let Some(reply) = lp.handle(msg) {
                rt.send(reply);
            }
        }
        let frame = lp.cycle();
        // SensorFrame is fixed-capacity: this clone does not allocate
        let frame = frame.clone();
        rt.send(ToRos::Frame(frame, lp.fused_imu()));
        if i % health_every == 0 {
            rt.send(ToRos::Health(lp.health()));
        }
        i += 1;
        if !opts.fast {
            let deadline = start + Duration::from_nanos(period.as_nanos() as u64 * i);
            let now = Instant::now();
            if now < deadline {
                std::thread::sleep(deadline - now);
            } else if now - deadline > period {
                late_cycles += 1;
            }
        }
    }
    rt.send(ToRos::Health(lp.health()));
    let bridge_stats = rt.stats().snapshot();
    #[cfg(feature = "ros2")]
    if let Some(n) = node {
        // give the node a moment to publish the last messages
        std::thread::sleep(Duration::from_millis(50));
        n.stop()?;
    }
    Ok(RunSummary {
        stats: lp.stats.clone(),
        end_time_s: lp.backend.now().as_secs_f64(),
        bridge: bridge_stats,
        late_cycles,
    })
}
