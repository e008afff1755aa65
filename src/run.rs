//! `sattva run`: the agent as a long-running process (what `ros2 launch` starts), a thin driver
//! over [`crate::agent`]: the real-time executor and the ROS node, or with `--fast` the
//! virtual-time executor (deterministic, as fast as possible; simulation and replay only).
//!
//! Threads: the control task (RT worker, pinned, SCHED_FIFO) owns the backend and the control
//! loop; the learn task (`sched.tasks.learn`, lower priority) the learner; the vision task the
//! camera; the ROS 2 node and the recorder run on non-RT threads; this thread waits for the end
//! and forwards scheduler statistics to the node.

use std::path::{Path, PathBuf};
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
        if let Some(p) = &self.curriculum {
            writeln!(
                f,
                "curriculum: {} episodes of {} primitives ({}){}",
                p.scenarios.len(),
                p.names.len(),
                p.names.join(", "),
                if p.skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} not performable by this robot", p.skipped.len())
                }
            )?;
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
            writeln!(
                f,
                "learn time: p50 {:.3} us, p99 {:.3} us, max {:.3} us per experience",
                l.learn_us[0], l.learn_us[1], l.learn_us[2]
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
    let curriculum = opts.curriculum.map(|n| crate::action::PlanRequest {
        calibration: c.eval.calibration_episodes as usize,
        train: n as usize,
        ..Default::default()
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

/// Where `sattva run` writes its summary by default: a new `sattva_run_<unix time>` beside the
/// ROS logs (`$ROS_LOG_DIR`, else `$ROS_HOME/log`, else `~/.ros/log`, as rcl picks its log
/// directory).
pub fn default_summary_dir() -> PathBuf {
    let base = std::env::var_os("ROS_LOG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("ROS_HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join("log"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ros/log")))
        .unwrap_or_else(|| PathBuf::from("."));
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    base.join(format!("sattva_run_{stamp}"))
}

/// Bars `(from us, to us, count)` of the non-empty range of a bucketed histogram.
fn bars(b: &crate::observe::Buckets) -> Vec<(f64, f64, u64)> {
    let edges = crate::observe::bucket_edges_ns();
    let mut prev = 0u64;
    let mut lo_edge = 0u64;
    let mut out = Vec::new();
    for (e, c) in edges.iter().zip(&b.cumulative) {
        out.push((lo_edge as f64 * 1e-3, *e as f64 * 1e-3, c - prev));
        prev = *c;
        lo_edge = *e;
    }
    let first = out.iter().position(|b| b.2 > 0).unwrap_or(0);
    let last = out.iter().rposition(|b| b.2 > 0).unwrap_or(0);
    out[first..=last.max(first)].to_vec()
}

/// Writes the run's HTML summary into `dir` (`index.html` and SVG plots: wake-up latency and
/// execution time per task from the executor's histograms, learning over time); returns the
/// HTML path. The plots are the replay report's.
pub fn write_summary(
    dir: &Path,
    r: &AgentReport,
) -> Result<PathBuf, crate::replay::report::ReportError> {
    use crate::replay::report::{html_escape, html_head, plot_bars, plot_lines, ReportError};
    use std::fmt::Write as _;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let s = &r.observed.last;
    let mut h = html_head(
        "sattva run summary",
        &format!(
            "<p>backend <code>{}</code>, rt {}{}</p>",
            r.backend,
            html_escape(&r.sched.rt.state.to_string()),
            if r.sched.virtual_time {
                " (virtual time: latencies are 0)"
            } else {
                ""
            }
        ),
    );
    h.push_str("<h2>Summary</h2><pre>");
    h.push_str(&html_escape(&r.to_string()));
    h.push_str("</pre><h2>Scheduler tasks</h2>");
    for t in &s.tasks {
        let _ = write!(
            h,
            "<h3>{}</h3><p>period {:.1} us, {} jobs, {} deadline misses, {} overruns; \
             wake-up latency {}; execution {}</p>",
            html_escape(&t.name),
            t.period_ns as f64 * 1e-3,
            t.jobs,
            t.deadline_misses,
            t.overruns,
            t.latency,
            t.execution
        );
        for (kind, b, title) in [
            ("latency", &t.latency_buckets, "wake-up latency"),
            ("execution", &t.execution_buckets, "execution time"),
        ] {
            if b.count == 0 {
                continue;
            }
            let file = format!("{}_{kind}.svg", t.name.replace(['/', ' '], "_"));
            plot_bars(
                &dir.join(&file),
                &format!("{}: {title} (HDR buckets)", t.name),
                ("us", "jobs"),
                &bars(b),
            )?;
            let _ = write!(h, "<img src=\"{file}\" width=\"960\">");
        }
    }
    let pts = &r.observed.points;
    if r.learn.is_some() && !pts.is_empty() {
        let series = |f: fn(&crate::observe::HistoryPoint) -> u64| {
            pts.iter()
                .map(|p| (p.backend_s, f(p) as f64))
                .collect::<Vec<_>>()
        };
        plot_lines(
            &dir.join("learning.svg"),
            "learning over time",
            ("backend time (s)", "count"),
            &[
                ("attractors", series(|p| p.attractors)),
                ("experiences learned", series(|p| p.learned)),
                ("recognised", series(|p| p.recognised)),
            ],
        )?;
        h.push_str("<h2>Learning over time</h2><img src=\"learning.svg\" width=\"960\">");
    }
    if !r.sched.virtual_time && !pts.is_empty() {
        plot_lines(
            &dir.join("control_p99.svg"),
            "control task wake-up latency p99 so far (us)",
            ("backend time (s)", "us"),
            &[(
                "p99",
                pts.iter()
                    .map(|p| (p.backend_s, p.control_p99_ns as f64 * 1e-3))
                    .collect(),
            )],
        )?;
        h.push_str("<img src=\"control_p99.svg\" width=\"960\">");
    }
    h.push_str("</body></html>");
    let path = dir.join("index.html");
    std::fs::write(&path, h).map_err(io(&path))?;
    Ok(path)
}
