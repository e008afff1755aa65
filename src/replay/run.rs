//! `sattva replay <bag>`: the agent over the replay backend in virtual time, as fast as possible
//! (`replay.rate: 0`) or paced at k x real time (`replay.rate: k`); a thin driver over
//! [`crate::agent`]. With `action.source: auto` the replayed agent performs the commands the
//! bag recorded, so replaying a bag that `sattva run` recorded reproduces what it learned. The
//! fingerprint (outputs per cycle, learned state) is printed: replaying the same bag with the
//! same config prints the same one.

use std::fmt;
use std::path::Path;

use super::report::{quat_to_rpy_deg, MonitorReport, ReportData};
use crate::agent::{AgentError, AgentOptions, AgentReport, Fingerprint, Progress};
use crate::backend::replay::ReplayStats;
use crate::config::{BackendKind, Config};

/// What one replay did.
#[derive(Clone, Debug)]
pub struct ReplaySummary {
    /// What the backend decoded from the bag.
    pub stats: ReplayStats,
    /// Control cycles run.
    pub cycles: u64,
    /// Cycles whose frame carried an IMU sample.
    pub imu_frames: u64,
    /// Virtual time covered, s.
    pub seconds: f64,
    /// Experiences learned and attractors at the end (None with `learn.enabled: false`).
    pub learned: Option<(u64, u64)>,
    /// The run's fingerprint.
    pub fingerprint: Fingerprint,
    /// Vision (when enabled): frames the bag's camera delivered, results the control task
    /// took, yaw corrections applied, images that did not decode.
    pub vision: Option<VisionSummary>,
    /// The STL monitors' counters over the replay (`monitors:` or `--monitors`).
    pub monitors: Vec<crate::monitor::MonitorSummary>,
}

/// What vision did over a replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisionSummary {
    /// Frames the bag's camera handed to the vision task.
    pub frames: u64,
    /// Results (processed frames) the control task took.
    pub results: u64,
    /// Rotations applied to the orientation filter.
    pub applied: u64,
    /// Images that did not decode.
    pub decode_errors: u64,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay: {} IMU samples, {} joint samples, {} commands decoded ({} decode errors)",
            self.stats.imu_samples,
            self.stats.joint_samples,
            self.stats.command_samples,
            self.stats.decode_errors
        )?;
        for w in &self.stats.bag_warnings {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(
            f,
            "  {} cycles ({} with IMU) over {:.3} s of bag time",
            self.cycles, self.imu_frames, self.seconds
        )?;
        if let Some(v) = &self.vision {
            writeln!(
                f,
                "  vision: {} camera frames, {} processed, {} yaw corrections, {} undecodable images",
                v.frames, v.results, v.applied, v.decode_errors
            )?;
        }
        if let Some((n, a)) = self.learned {
            writeln!(f, "  learned {n} experiences, {a} attractors")?;
        }
        for m in &self.monitors {
            writeln!(f, "  monitor {m}")?;
        }
        writeln!(
            f,
            "  output hash:        sha256:{}",
            self.fingerprint.outputs
        )?;
        if let Some(l) = &self.fingerprint.learned {
            writeln!(f, "  learned-state hash: sha256:{l}")?;
        }
        write!(f, "  fingerprint: {}", self.fingerprint)
    }
}

/// `sattva replay --monitors [FILE]`: the STL monitors evaluated over the replay are those of
/// FILE's `monitors:` section (replacing the config's), or the config's without FILE; each
/// with action `log`, so the replay observes and never changes what the agent does (same
/// fingerprint). Returns how many there are.
pub fn offline_monitors(
    c: &mut Config,
    file: Option<&Path>,
) -> Result<usize, crate::validate::ConfigError> {
    if let Some(f) = file {
        c.monitors = crate::monitor::load_section(f, c.control.period_ns)?;
    }
    if c.monitors.is_empty() {
        return Err(crate::validate::ConfigError::Invalid {
            file: c
                .origins
                .sources()
                .first()
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            key: "sattva.ros__parameters.monitors".into(),
            message: "--monitors without FILE: the config has no monitors".into(),
        });
    }
    for m in c.monitors.values_mut() {
        m.action = crate::monitor::MonitorAction::Log;
    }
    Ok(c.monitors.len())
}

/// Player controls of an agent replay (`sattva replay --controls`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayControls {
    /// Serve the player services (`replay::controls`; implied by the other options).
    pub serve: bool,
    /// Start paused.
    pub start_paused: bool,
    /// Publish the bag's time on `/clock` at this rate, Hz.
    pub clock_hz: Option<f64>,
    /// Replay only this many seconds of the bag.
    pub duration_s: Option<f64>,
}

impl ReplayControls {
    fn node(&self) -> bool {
        self.serve || self.start_paused || self.clock_hz.is_some()
    }
}

/// Errors of a controlled replay.
#[derive(Debug, thiserror::Error)]
pub enum ReplayRunError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A bad control option, or the player node failed.
    #[error("player controls: {0}")]
    Controls(String),
}

/// Replays `bag` (or `replay.bag` of the config) through the agent.
pub fn run_replay(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
) -> Result<ReplaySummary, ReplayRunError> {
    replay(cfg, bag, progress, None, None)
}

/// Like [`run_replay`] under player controls (the ROS 2 player services with `controls.serve`,
/// feature `ros2`), with the report's series when `report` is set.
pub fn run_replay_controlled(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
    controls: &ReplayControls,
    report: bool,
) -> Result<(ReplaySummary, Option<ReportData>), ReplayRunError> {
    if let Some(d) = controls.duration_s {
        if !(d.is_finite() && d > 0.0) {
            return Err(ReplayRunError::Controls(format!(
                "--playback-duration {d}: expected seconds > 0"
            )));
        }
    }
    if let Some(hz) = controls.clock_hz {
        if !(hz.is_finite() && hz > 0.0) {
            return Err(ReplayRunError::Controls(format!(
                "--clock {hz}: expected a rate in Hz > 0"
            )));
        }
    }
    if report {
        let mut data = report_topics(bag);
        let s = replay(cfg, bag, progress, Some(&mut data), Some(controls))?;
        Ok((s, Some(data)))
    } else {
        Ok((replay(cfg, bag, progress, None, Some(controls))?, None))
    }
}

/// The player node's thread (feature `ros2`).
#[cfg(feature = "ros2")]
type PlayerNode = std::thread::JoinHandle<()>;
#[cfg(not(feature = "ros2"))]
type PlayerNode = ();

/// The player controls and their node, when `ctl` asks for them (`rate`: `replay.rate`; `t0`:
/// the bag's time of the replay's zero, for `/clock` and seek).
fn start_player(
    ctl: &ReplayControls,
    rate: f64,
    t0: i64,
) -> Result<Option<(crate::sched::pace::PlayControl, PlayerNode)>, ReplayRunError> {
    if !ctl.node() {
        return Ok(None);
    }
    #[cfg(not(feature = "ros2"))]
    {
        let _ = (rate, t0);
        Err(ReplayRunError::Controls(
            "the player services need ROS 2: rebuild with `--features ros2`".into(),
        ))
    }
    #[cfg(feature = "ros2")]
    {
        let rate = if rate > 0.0 {
            rate
        } else {
            crate::sched::pace::FLAT_OUT
        };
        let pc = crate::sched::pace::PlayControl::new(0, rate, ctl.start_paused)
            .map_err(|e| ReplayRunError::Controls(e.to_string()))?;
        let node = super::controls::spawn_agent_controls(pc.clone(), t0, ctl.clock_hz)
            .map_err(|e| ReplayRunError::Controls(e.to_string()))?;
        Ok(Some((pc, node)))
    }
}

/// The report's topic table, as the bag declares it.
fn report_topics(bag: Option<&Path>) -> ReportData {
    let mut data = ReportData::default();
    if let Some(p) = bag {
        // message counts per topic as the bag declares them (summary, database, metadata):
        // no second pass over the messages
        if let Ok(info) = super::baginfo::BagInfo::read(p) {
            data.topics = info
                .topics
                .iter()
                .map(|t| (t.name.clone(), t.type_name.clone(), t.count))
                .collect();
        }
    }
    data
}

/// Like [`run_replay`], also collecting the time series of the evaluation report.
pub fn run_replay_with_report(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
) -> Result<(ReplaySummary, ReportData), ReplayRunError> {
    let mut data = report_topics(bag);
    let s = replay(cfg, bag, progress, Some(&mut data), None)?;
    Ok((s, data))
}

fn replay(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
    report: Option<&mut ReportData>,
    controls: Option<&ReplayControls>,
) -> Result<ReplaySummary, ReplayRunError> {
    let mut c = cfg.clone();
    c.backend = BackendKind::Replay;
    let bar = if progress {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = bar.clone();
    // the backend is configured here (one streaming pass over the bag's low-rate topics) and
    // handed to the agent, which keeps it: its statistics stay readable through the handles
    let mut rb = crate::backend::replay::ReplayBackend::new(&c, bag).map_err(AgentError::from)?;
    {
        use crate::backend::Backend;
        rb.configure().map_err(AgentError::from)?;
    }
    let (stats, end) = (rb.stats().clone(), rb.end());
    let camera = rb.camera_counters();
    // report series: about 5000 orientation samples whatever the bag's length
    let cycles = (end.0 / c.control.period_ns.max(1)).max(1) as u64;
    let tap_every = (cycles / 5000).max(1);
    let ctl = controls.cloned().unwrap_or_default();
    let started = start_player(&ctl, c.replay.rate, stats.t0)?;
    let r = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(c.replay.rate),
            bag: bag.map(Into::into),
            journal: report.is_some(),
            duration_s: ctl.duration_s,
            player: started.as_ref().map(|(p, _)| p.clone()),
            tap_every: report.is_some().then_some(tap_every),
            backend: Some(crate::backend::Managed::new(Box::new(rb))),
            on_tick: Some(Box::new(move |p: &Progress| {
                tick.set_message(format!(
                    "{} cycles",
                    p.cycles.load(std::sync::atomic::Ordering::Relaxed)
                ));
                tick.tick();
            })),
            ..Default::default()
        },
    );
    if let Some((p, node)) = started {
        // the driver has ended (or never started): the player node stops
        p.with(|s| s.ended = true);
        #[cfg(feature = "ros2")]
        let _ = node.join();
        #[cfg(not(feature = "ros2"))]
        let () = node;
    }
    let r: AgentReport = r?;
    bar.finish_and_clear();
    let vision = r.vision.as_ref().map(|v| VisionSummary {
        frames: camera
            .as_ref()
            .map_or(0, |c| c.frames.load(std::sync::atomic::Ordering::Relaxed)),
        results: v.results,
        applied: v.applied,
        decode_errors: camera.as_ref().map_or(0, |c| {
            c.decode_errors.load(std::sync::atomic::Ordering::Relaxed)
        }),
    });
    if let Some(d) = report {
        let has_truth = r.tap.orientation.iter().any(|o| o.2.is_some());
        // without ground truth the bag's own Imu.orientation (e.g. the IMU's onboard filter)
        // is the reference, held from sample to sample
        let imu_ref = &stats.imu_orientation;
        let mut k = 0usize;
        d.reference = if has_truth {
            "ground truth".into()
        } else if !imu_ref.is_empty() {
            "the bag's Imu.orientation".into()
        } else {
            String::new()
        };
        for (t, q, truth) in &r.tap.orientation {
            if let Some(q) = q {
                d.t.push(t.as_secs_f64());
                d.rpy.push(quat_to_rpy_deg(q));
                let reference = if has_truth {
                    *truth
                } else {
                    while k < imu_ref.len() && imu_ref[k].0 <= t.0 {
                        k += 1;
                    }
                    k.checked_sub(1).map(|i| imu_ref[i].1)
                };
                d.truth_rpy.push(reference.as_ref().map(quat_to_rpy_deg));
            }
        }
        d.vision = vision;
        d.cycle_us.clone_from(&r.tap.cycle_us);
        let mut series = r.tap.robustness.clone();
        series.finish();
        for (i, m) in r.monitors.iter().enumerate() {
            let min = series.min.get(i).map_or(&[][..], Vec::as_slice);
            d.monitors.push(MonitorReport {
                spec: c
                    .monitors
                    .get(&m.name)
                    .map(|x| x.spec.clone())
                    .unwrap_or_default(),
                summary: m.clone(),
                robustness: series.t.iter().copied().zip(min.iter().copied()).collect(),
            });
        }
        if let Some(l) = &r.learner {
            d.learning = l
                .journal()
                .iter()
                .filter(|j| j.learned >= 0)
                .map(|j| (j.t.as_secs_f64(), j.attractors, j.created, j.similarity))
                .collect();
        }
    }
    Ok(ReplaySummary {
        stats,
        cycles: r.stats.cycles,
        imu_frames: r.stats.imu_frames,
        seconds: r.seconds(),
        learned: r
            .learn
            .as_ref()
            .map(|l| (l.stats.learned, l.stats.attractors)),
        fingerprint: r.fingerprint,
        vision,
        monitors: r.monitors,
    })
}
