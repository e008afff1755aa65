//! `sattva replay <bag>`: the control loop over the replay backend in virtual time, as fast as
//! possible (`replay.rate: 0`) or paced at k x real time (`replay.rate: k`), with a SHA-256 over every frame the loop saw (the determinism fingerprint:
//! replaying the same bag with the same config prints the same hash).

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::backend::replay::{ReplayBackend, ReplayStats};
use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::pipeline::ControlLoop;
use crate::types::SensorFrame;

use super::report::{quat_to_rpy_deg, ReportData};

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
    /// SHA-256 over every frame (time, IMU, joints), hex.
    pub hash: String,
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay: {} IMU samples, {} joint samples decoded ({} decode errors)",
            self.stats.imu_samples, self.stats.joint_samples, self.stats.decode_errors
        )?;
        for w in &self.stats.bag_warnings {
            writeln!(f, "  warning: {w}")?;
        }
        writeln!(
            f,
            "  {} cycles ({} with IMU) over {:.3} s of bag time",
            self.cycles, self.imu_frames, self.seconds
        )?;
        write!(f, "  output hash: {}", self.hash)
    }
}

/// Feeds one frame into the fingerprint (little-endian bytes, fixed field order).
pub fn hash_frame(h: &mut Sha256, f: &SensorFrame) {
    h.update(f.t.0.to_le_bytes());
    match &f.imu {
        Some(i) => {
            h.update([1u8]);
            for x in i.accel.iter().chain(&i.gyro) {
                h.update(x.to_le_bytes());
            }
        }
        None => h.update([0u8]),
    }
    for v in [&f.joints.position, &f.joints.velocity, &f.joints.effort] {
        h.update((v.len() as u32).to_le_bytes());
        for x in v.iter() {
            h.update(x.to_le_bytes());
        }
    }
}

/// Replays `bag` (or `replay.bag` of the config) through the control loop.
pub fn run_replay(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
) -> Result<ReplaySummary, BackendError> {
    replay_inner(cfg, bag, progress, None)
}

/// Like [`run_replay`], also collecting the time series of the evaluation report.
pub fn run_replay_with_report(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
) -> Result<(ReplaySummary, ReportData), BackendError> {
    let mut data = ReportData::default();
    if let Some(p) = bag {
        // message counts per topic as read (a second pass over the bag; report only)
        if let Ok(b) = crate::replay::reader::Bag::open(p) {
            data.topics = b
                .topics
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let n = b.messages.iter().filter(|m| m.topic == i).count() as u64;
                    (t.name.clone(), t.type_name.clone(), n)
                })
                .collect();
        }
    }
    let s = replay_inner(cfg, bag, progress, Some(&mut data))?;
    Ok((s, data))
}

fn replay_inner(
    cfg: &Config,
    bag: Option<&Path>,
    progress: bool,
    mut report: Option<&mut ReportData>,
) -> Result<ReplaySummary, BackendError> {
    let mut backend = ReplayBackend::new(cfg, bag)?;
    backend.configure()?;
    backend.activate()?;
    let stats = backend.stats().clone();
    let end = backend.end();
    let period = cfg.control.period_ns.max(1);
    let total = (end.0 / period + 1).max(1) as u64;
    let bar = if progress {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let joints = backend.info().joint_names.len();
    let mut lp = ControlLoop::new(backend, cfg.seed, 0.0)?.with_fusion(&cfg.fusion);
    let window = (cfg.replay.experience_window_ms as i64 * 1_000_000 / period).max(1) as u64;
    let mut learner = match report {
        Some(_) => Some(Learner::new(cfg, joints, window)?),
        None => None,
    };
    let every = (total / 5000).max(1);
    let mut h = Sha256::new();
    let rate = cfg.replay.rate;
    let wall0 = std::time::Instant::now();
    while !lp.backend.finished() {
        if rate > 0.0 {
            // k x real time: wait until the wall clock catches up with virtual time / k.
            // Pacing only; frames depend on virtual time alone, so the hash is unchanged.
            let due = std::time::Duration::from_secs_f64(lp.backend.now().as_secs_f64() / rate);
            if let Some(wait) = due.checked_sub(wall0.elapsed()) {
                if wait > std::time::Duration::from_micros(500) {
                    std::thread::sleep(wait);
                }
            }
        }
        let c0 = std::time::Instant::now();
        let f = lp.cycle();
        let cycle_us = c0.elapsed().as_secs_f64() * 1e6;
        hash_frame(&mut h, f);
        let (t, truth) = (f.t, f.truth);
        if let (Some(r), Some(l)) = (report.as_deref_mut(), learner.as_mut()) {
            l.step(lp.fused(), r);
            r.cycle_us.push(cycle_us);
            if lp.stats.cycles % every == 0 && lp.fused().validity.orientation {
                r.t.push(t.as_secs_f64());
                r.rpy.push(quat_to_rpy_deg(&lp.fused().orientation));
                r.truth_rpy
                    .push(truth.map(|g| quat_to_rpy_deg(&g.orientation)));
            }
        }
        if lp.stats.cycles % 4096 == 0 {
            bar.set_position(lp.stats.cycles);
        }
    }
    bar.finish_and_clear();
    let digest: [u8; 32] = h.finalize().into();
    Ok(ReplaySummary {
        stats,
        cycles: lp.stats.cycles,
        imu_frames: lp.stats.imu_frames,
        seconds: end.as_secs_f64(),
        hash: digest.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// The learning path of a replay: one experience per window (state at its start and end, hold
/// command: a log carries no commands of ours), encoded and learned as in `sattva run`
/// ([`crate::learn`]; the first `learn.calibration_windows` calibrate the encoder).
struct Learner {
    seg: crate::learn::Segmenter,
    learner: crate::learn::Learner,
}

impl Learner {
    fn new(cfg: &Config, joints: usize, window: u64) -> Result<Learner, BackendError> {
        let layout = crate::encode::Layout {
            joints,
            contacts: 0,
            depth_cells: 0,
        };
        let learner =
            crate::learn::Learner::new(cfg, layout).map_err(|e| BackendError::Mapping {
                file: cfg.source.display().to_string(),
                key: "sattva.ros__parameters.learn".into(),
                message: e.to_string(),
            })?;
        Ok(Learner {
            seg: crate::learn::Segmenter::new(window),
            learner,
        })
    }

    fn step(&mut self, after: &crate::fusion::FusedState, r: &mut ReportData) {
        let hold = crate::types::Command::hold(after.t);
        let Some(seg) = self.seg.push(after, &hold) else {
            return;
        };
        match self.learner.learn(seg, |_| {}) {
            Ok(Some(l)) => r.learning.push((
                after.t.as_secs_f64(),
                self.learner.substrate().len(),
                l.created,
                l.similarity,
            )),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "learn"),
        }
    }
}
