//! `sattva run`: the agent as a long-running process (what `ros2 launch` starts), a thin driver
//! over [`crate::agent`]: the real-time executor and the ROS node, or with `--fast` the
//! virtual-time executor (deterministic, as fast as possible; simulation and replay only).
//!
//! Threads: the control task (RT worker, pinned, SCHED_FIFO) owns the backend and the control
//! loop; the learn task (`sched.tasks.learn`, lower priority) the learner; the vision task the
//! camera; the ROS 2 node and the recorder run on non-RT threads; this thread waits for the end
//! and forwards scheduler statistics to the node.

use std::time::Duration;

use crate::agent::{AgentError, AgentOptions, AgentReport};
use crate::config::Config;

/// Errors of `sattva run`.
pub type RunError = AgentError;

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run lockstep as fast as possible (virtual time) instead of real time.
    pub fast: bool,
    /// Stop after this many seconds of backend time (None: until SIGINT/SIGTERM).
    pub duration_s: Option<f64>,
    /// Start the ROS 2 node (needs feature `ros2`).
    pub ros: bool,
    /// Perform the curriculum (`eval:`; calibration then training episodes) instead of the
    /// source `action.source` names: `sattva sim`'s plan, for comparisons.
    pub curriculum: Option<u32>,
    /// Fault injection for tests: block the ROS node thread for `(after, for)` wall time.
    pub stall_ros: Option<(Duration, Duration)>,
}

/// What a run did.
pub type RunSummary = AgentReport;

impl std::fmt::Display for AgentReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "sattva run ({}): {} cycles, {:.3} s backend time, read/write errors {}/{}, clamped {} (rate-limited {}, rejected {}), ros bridge sent {} dropped {}/{}",
            self.backend,
            self.stats.cycles,
            self.seconds(),
            self.stats.read_errors,
            self.stats.write_errors,
            self.clamp.0,
            self.clamp.1,
            self.clamp.2,
            self.bridge.0,
            self.bridge.1,
            self.bridge.2
        )?;
        let bf = &self.health.faults;
        if bf.fatal + bf.unstable + bf.overflow + bf.other > 0 {
            writeln!(
                f,
                "backend faults: {} fatal (safe state), {} unstable, {} overflow, {} other",
                bf.fatal, bf.unstable, bf.overflow, bf.other
            )?;
        }
        if self.health.overspeed > 0 {
            writeln!(
                f,
                "safety clamp braked overspeeding joints {} times",
                self.health.overspeed
            )?;
        }
        for m in &self.monitors {
            writeln!(f, "monitor {m}")?;
        }
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
        if let Some(b) = &self.recorded {
            writeln!(f, "recorded: {}", b.display())?;
        }
        writeln!(f, "fingerprint: {}", self.fingerprint)?;
        write!(f, "{}", self.sched)
    }
}

/// Runs the agent `c` describes (see [`crate::agent::run`]).
pub fn run(c: &Config, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let curriculum = opts.curriculum.map(|n| {
        crate::action::CurriculumSource::plan(
            &c.eval,
            c.seed,
            0,
            c.eval.calibration_episodes as usize,
            n as usize,
            0,
        )
    });
    crate::agent::run(
        c,
        AgentOptions {
            virtual_rate: opts.fast.then_some(0.0),
            ros: opts.ros,
            duration_s: opts.duration_s,
            curriculum,
            stall_ros: opts.stall_ros,
            ..Default::default()
        },
    )
}
