//! `sattva sim` (a driver over [`crate::agent`]: the agent in MuJoCo under the virtual-time
//! executor, the curriculum as its command source) and the `sattva bench sim` benchmark
//! (feature `mujoco`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mujoco_rs::prelude::*;

use crate::action::PlanRequest;
use crate::agent::{AgentError, AgentOptions, Fingerprint, Progress};
use crate::backend::mujoco::MujocoBackend;
use crate::backend::BackendError;
use crate::config::Config;
use crate::pipeline::{ControlLoop, LoopStats};

/// Options of one `sattva sim` run.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Write the sensor trace as CSV here.
    pub trace_csv: Option<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Render the scene camera at the end of the run into this PNG (feature `render`).
    pub camera_png: Option<String>,
    /// Run this many curriculum training episodes (after calibration) instead of
    /// `sim.duration_s` of simulated time.
    pub episodes: Option<u32>,
    /// Pace the simulation at real time (default: virtual time, as fast as possible).
    pub realtime: bool,
    /// Load the substrate from this snapshot before learning.
    pub resume: Option<String>,
    /// Save the substrate here at the end (curriculum scenes).
    pub snapshot: Option<String>,
}

/// Errors of `sattva sim`.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The snapshot to resume from failed to load.
    #[error(transparent)]
    Learn(#[from] crate::learn::LearnError),
    /// The camera image could not be written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What the curriculum part of a `sattva sim` run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CurriculumSummary {
    /// Calibration episodes run (encoder statistics; not learned).
    pub calibration_episodes: u64,
    /// Training episodes run (experiences learned).
    pub episodes: u64,
    /// Live attractors at the end.
    pub attractors: usize,
    /// Attractors created during this run.
    pub formed: u64,
    /// Episodes judged before learning them: their primitive had been learned before (in this
    /// run or in the resumed snapshot) and the best-matching attractor has a label.
    pub judged: u64,
    /// Of those, recognised as their true primitive (majority label of the attractor).
    pub recognised: u64,
    /// Learning time per experience (substrate.learn), us: p50, p99.
    pub learn_us: [f64; 2],
    /// Snapshot loaded at the start.
    pub resumed_from: Option<String>,
    /// Snapshot written at the end.
    pub snapshot: Option<String>,
    /// Camera frames the vision task processed (0 when `vision.enabled` is off).
    pub vision_frames: u64,
}

/// What a `sattva sim` run did.
#[derive(Clone, Debug)]
pub struct SimSummary {
    /// Model file.
    pub model: String,
    /// Seed used.
    pub seed: u64,
    /// Control loop counters.
    pub stats: LoopStats,
    /// Simulated seconds.
    pub sim_time_s: f64,
    /// Physics steps taken.
    pub physics_steps: u64,
    /// The run's fingerprint (outputs per cycle and the learned state).
    pub fingerprint: Fingerprint,
    /// Joints driven.
    pub joints: usize,
    /// Commands clamped by the safety clamp.
    pub clamped: u64,
    /// The backend's fault counters (physics instability, contact/constraint overflow ...).
    pub faults: crate::backend::BackendFaults,
    /// The curriculum, when the scene has one (the arm on the table); exploration otherwise.
    pub curriculum: Option<CurriculumSummary>,
    /// The STL monitors' counters (`monitors:`).
    pub monitors: Vec<crate::monitor::MonitorSummary>,
}

impl SimSummary {
    /// Human-readable summary; `wall_s` is the elapsed wall time.
    pub fn render(&self, wall_s: f64) -> String {
        let s = &self.stats;
        let accel = if s.imu_frames > 0 {
            format!("{:.3} m/s^2", s.accel_norm_sum / s.imu_frames as f64)
        } else {
            "no IMU".into()
        };
        let mut out = format!(
            "sattva sim summary\n  model            {}\n  seed             {}\n  joints           {}\n  control cycles   {}\n  physics steps    {}\n  sim time         {:.3} s\n  wall time        {:.3} s ({:.1}x real time, {:.0} physics steps/s)\n  mean |accel|     {}\n  touch cycles     {} (max force {:.2} N)\n  clamped values   {}\n  read/write errors {}/{}\n  physics faults   {} fatal, {} unstable, {} overflow, {} other\n  fingerprint      {}",
            self.model,
            self.seed,
            self.joints,
            s.cycles,
            self.physics_steps,
            self.sim_time_s,
            wall_s,
            self.sim_time_s / wall_s.max(1e-9),
            self.physics_steps as f64 / wall_s.max(1e-9),
            accel,
            s.touch_cycles,
            s.max_touch,
            self.clamped,
            s.read_errors,
            s.write_errors,
            self.faults.fatal,
            self.faults.unstable,
            self.faults.overflow,
            self.faults.other,
            self.fingerprint
        );
        if let Some(k) = &self.curriculum {
            out.push_str(&format!(
                "\n  episodes         {} training ({} calibration)\n  attractors       {} live, {} formed in this run\n  recognition      {}/{} episodes of known primitives recognised before learning them ({:.1} %)\n  learn time       p50 {:.1} us, p99 {:.1} us per experience",
                k.episodes,
                k.calibration_episodes,
                k.attractors,
                k.formed,
                k.recognised,
                k.judged,
                100.0 * k.recognised as f64 / k.judged.max(1) as f64,
                k.learn_us[0],
                k.learn_us[1]
            ));
            if k.vision_frames > 0 {
                out.push_str(&format!(
                    "\n  vision           {} camera frames processed",
                    k.vision_frames
                ));
            }
            if let Some(r) = &k.resumed_from {
                out.push_str(&format!("\n  resumed from     {r}"));
            }
            if let Some(p) = &k.snapshot {
                out.push_str(&format!("\n  snapshot         {p}"));
            }
        }
        for m in &self.monitors {
            out.push_str(&format!("\n  monitor          {m}"));
        }
        out
    }
}

fn model_path(c: &Config) -> Result<String, BackendError> {
    Ok(c.resolve_path(
        &c.mujoco()
            .map_err(|e| BackendError::Model {
                file: c.source.display().to_string(),
                message: e.to_string(),
            })?
            .model,
    )
    .display()
    .to_string())
}

fn progress_bar(n: u64, on: bool, what: &str) -> ProgressBar {
    if !on {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n);
    let tpl = format!(
        "{{spinner}} sim [{{bar:40}}] {{pos}}/{{len}} {what} {{per_sec}} eta {{eta}} {{msg}}"
    );
    b.set_style(
        ProgressStyle::with_template(&tpl).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Runs `sattva sim`: the agent in MuJoCo under the virtual-time executor (paced at real time
/// with `realtime`). On a scene that hosts the curriculum, the curriculum is the command source
/// (calibration episodes, then `opts.episodes` training episodes, or as many as fit in
/// `sim.duration_s`); elsewhere the agent explores for `sim.duration_s`.
pub fn run_sim(c: &Config, opts: &SimOptions) -> Result<SimSummary, SimError> {
    let mut c = c.clone();
    // every robot with joints performs the curriculum of its own primitive library
    let curriculum = c.mujoco().is_ok_and(|m| !m.joints.names.is_empty());
    if !curriculum {
        tracing::info!("the scene maps no joints: the agent only observes");
    }
    if let Some(p) = &opts.resume {
        c.learn.resume = std::path::absolute(p)
            .unwrap_or_else(|_| p.into())
            .display()
            .to_string();
    }
    if let Some(p) = &opts.snapshot {
        c.learn.snapshot = std::path::absolute(p)
            .unwrap_or_else(|_| p.into())
            .display()
            .to_string();
    }
    // a resumed run continues with new training scenarios (same calibration)
    let resumed_step = match &opts.resume {
        Some(p) => crate::substrate::Substrate::load(std::path::Path::new(p))
            .map(|(s, _)| s.step())
            .map_err(|e| SimError::Learn(e.into()))?,
        None => 0,
    };
    let n_cal = c.eval.calibration_episodes as usize;
    let (duration_s, plan, total) = match (curriculum, opts.episodes) {
        (true, Some(n)) => (
            None,
            Some(PlanRequest {
                calibration: n_cal,
                train: n as usize,
                offset: resumed_step,
                ..Default::default()
            }),
            (n as u64 + n_cal as u64, "episodes"),
        ),
        (true, None) => (
            Some(c.sim.duration_s),
            Some(PlanRequest {
                calibration: n_cal,
                train: 100_000,
                offset: resumed_step,
                ..Default::default()
            }),
            (
                (c.sim.duration_s * 1e9 / c.control.period_ns as f64) as u64,
                "cycles",
            ),
        ),
        (false, _) => (
            Some(c.sim.duration_s),
            None,
            (
                (c.sim.duration_s * 1e9 / c.control.period_ns as f64) as u64,
                "cycles",
            ),
        ),
    };
    let bar = progress_bar(total.0, opts.progress, total.1);
    let by_episodes = total.1 == "episodes";
    let tick_bar = bar.clone();
    let report = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(if opts.realtime { 1.0 } else { 0.0 }),
            duration_s,
            curriculum: plan,
            trace_csv: opts.trace_csv.as_ref().map(Into::into),
            on_tick: Some(Box::new(move |p: &Progress| {
                use std::sync::atomic::Ordering::Relaxed;
                if by_episodes {
                    tick_bar.set_position(p.episodes.load(Relaxed));
                } else {
                    tick_bar.set_position(p.cycles.load(Relaxed));
                }
            })),
            ..Default::default()
        },
    )?;
    bar.finish_and_clear();
    if let Some(path) = &opts.camera_png {
        save_camera_png(&c, path)?;
    }
    let k = report.learn.as_ref().filter(|_| curriculum).map(|l| {
        let s = &l.stats;
        CurriculumSummary {
            calibration_episodes: s.calibrated,
            episodes: s.learned,
            attractors: s.attractors as usize,
            formed: s.created,
            judged: s.judged,
            recognised: s.judged_right,
            learn_us: [l.learn_us[0], l.learn_us[1]],
            resumed_from: opts.resume.clone(),
            snapshot: l.snapshot.as_ref().map(|p| p.display().to_string()),
            vision_frames: report.vision.map_or(0, |v| v.results),
        }
    });
    Ok(SimSummary {
        model: model_path(&c)?,
        seed: c.seed,
        physics_steps: report.stats.cycles * report.info.substeps.max(1) as u64,
        sim_time_s: report.seconds(),
        fingerprint: report.fingerprint.clone(),
        joints: report.info.joint_names.len(),
        clamped: report.clamp.0 + report.clamp.1,
        faults: report.health.faults,
        stats: report.stats,
        curriculum: k,
        monitors: report.monitors.clone(),
    })
}

/// Result of `sattva bench sim`.
#[derive(Clone, Debug)]
pub struct SimBench {
    /// Model file.
    pub model: String,
    /// Physics steps per measurement.
    pub steps: u64,
    /// Best physics steps/s through the backend (read + write incl. stepping, with the clamp).
    pub backend_steps_per_s: Vec<f64>,
    /// Best physics steps/s of a bare `MjData::step` loop.
    pub bare_steps_per_s: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

impl fmt::Display for SimBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, r) = (
            median(&self.backend_steps_per_s),
            median(&self.bare_steps_per_s),
        );
        writeln!(
            f,
            "bench sim: {} ({} physics steps per rep, {} reps, median)",
            self.model,
            self.steps,
            self.bare_steps_per_s.len()
        )?;
        writeln!(f, "  {:<34} {:>14}", "loop", "steps/s")?;
        writeln!(f, "  {:<34} {:>14.0}", "bare mujoco-rs MjData::step", r)?;
        writeln!(f, "  {:<34} {:>14.0}", "sattva backend read+clamp+write", b)?;
        write!(f, "  ratio backend/bare: {:.3} (goal >= 0.9)", b / r)
    }
}

/// Measures the backend loop against a bare stepping loop of the same model doing identical
/// physics: the bare loop replays the exact `ctrl`/`qfrc_applied` sequence the backend produced
/// (recorded in an untimed pass; the backend is deterministic), so the ratio is our overhead.
pub fn bench_sim(c: &Config, steps: u64, reps: u32) -> Result<SimBench, BackendError> {
    let model_path = model_path(c)?;
    let mut out = SimBench {
        model: model_path.clone(),
        steps,
        backend_steps_per_s: Vec::new(),
        bare_steps_per_s: Vec::new(),
    };
    // untimed recording pass
    // the agent's own control loop (fusion, source, clamp) on the concrete backend
    let backend = MujocoBackend::open(c)?;
    let substeps = backend.inner().substeps() as u64;
    let cycles = (steps / substeps).max(1);
    let (init_qpos, init_qvel, init_ctrl) = match backend.inner().data() {
        Some(d) => (d.qpos().to_vec(), d.qvel().to_vec(), d.ctrl().to_vec()),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let mut lp = ControlLoop::new(c, backend, None)?;
    let mut ctrl_seq = Vec::new();
    let mut qfrc_seq = Vec::new();
    for _ in 0..cycles {
        lp.cycle();
        if let Some(d) = lp.backend.inner().data() {
            ctrl_seq.extend_from_slice(d.ctrl());
            qfrc_seq.extend_from_slice(d.qfrc_applied());
        }
    }
    let final_qpos: Vec<f64> = lp
        .backend
        .inner()
        .data()
        .map(|d| d.qpos().to_vec())
        .unwrap_or_default();
    let model = Arc::new(
        MjModel::from_xml(&model_path).map_err(|e| BackendError::Model {
            file: out.model.clone(),
            message: e.to_string(),
        })?,
    );
    let (nu, nv) = (init_ctrl.len(), init_qvel.len());
    for _ in 0..reps.max(1) {
        // bare mujoco-rs: same initial state, same inputs, nothing else
        let mut data = MjData::new(model.clone());
        data.qpos_mut().copy_from_slice(&init_qpos);
        data.qvel_mut().copy_from_slice(&init_qvel);
        data.forward();
        let t0 = Instant::now();
        for k in 0..cycles as usize {
            data.ctrl_mut()
                .copy_from_slice(&ctrl_seq[k * nu..(k + 1) * nu]);
            data.qfrc_applied_mut()
                .copy_from_slice(&qfrc_seq[k * nv..(k + 1) * nv]);
            for _ in 0..substeps {
                data.step();
            }
        }
        out.bare_steps_per_s
            .push((cycles * substeps) as f64 / t0.elapsed().as_secs_f64());
        if substeps == 1 && data.qpos() != final_qpos.as_slice() {
            tracing::warn!(
                "bare replay diverged from the backend run: the comparison is not exact"
            );
        }

        let mut lp = ControlLoop::new(c, MujocoBackend::open(c)?, None)?;
        let t0 = Instant::now();
        for _ in 0..cycles {
            std::hint::black_box(lp.cycle());
        }
        out.backend_steps_per_s
            .push((cycles * substeps) as f64 / t0.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// Renders the scene camera (`mujoco.camera`) at the scene's initial state into a PNG.
#[cfg(feature = "render")]
fn save_camera_png(c: &Config, path: &str) -> Result<(), SimError> {
    use mujoco_rs::renderer::png;
    let mut b = MujocoBackend::open(c)?;
    let b = b.inner_mut();
    let mut cam = b.open_camera()?;
    let mut f = crate::types::RgbdFrame::default();
    b.render(&mut cam, &mut f)?;
    let io = |e: std::io::Error| SimError::Io {
        file: path.to_string(),
        source: e,
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), f.width, f.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| io(std::io::Error::other(e)))?;
    w.write_image_data(&f.rgb)
        .map_err(|e| io(std::io::Error::other(e)))?;
    tracing::info!(path, "camera image written");
    Ok(())
}

#[cfg(not(feature = "render"))]
fn save_camera_png(_c: &Config, path: &str) -> Result<(), SimError> {
    Err(SimError::Io {
        file: path.to_string(),
        source: std::io::Error::other(
            "this build has no renderer: rebuild with `--features render`",
        ),
    })
}
