//! The `sattva sim` job and the `sattva bench sim` benchmark (feature `mujoco`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mujoco_rs::prelude::*;

use crate::backend::mujoco::MujocoBackend;
use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::pipeline::{ControlLoop, LoopStats, PipelineError, SensorTrace};

/// Options of one `sattva sim` run.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Write the sensor trace as CSV here.
    pub trace_csv: Option<String>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Render the scene camera at the end of the run into this PNG (feature `render`).
    pub camera_png: Option<String>,
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
    /// SHA-256 of the sensor trace.
    pub trace_sha256: String,
    /// Joints driven.
    pub joints: usize,
    /// Commands clamped by the safety clamp.
    pub clamped: u64,
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
        format!(
            "sattva sim summary\n  model            {}\n  seed             {}\n  joints           {}\n  control cycles   {}\n  physics steps    {}\n  sim time         {:.3} s\n  wall time        {:.3} s ({:.1}x real time, {:.0} physics steps/s)\n  mean |accel|     {}\n  touch cycles     {} (max force {:.2} N)\n  clamped values   {}\n  read/write errors {}/{}\n  sensor trace     sha256:{}",
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
            self.trace_sha256
        )
    }
}

/// Configures and activates the MuJoCo backend of `c`.
pub fn open_backend(c: &Config) -> Result<MujocoBackend, BackendError> {
    let mut b = MujocoBackend::new(c)?;
    b.configure()?;
    b.activate()?;
    Ok(b)
}

/// Runs the control loop in lockstep for `c.sim.duration_s` simulated seconds.
pub fn run_sim(c: &Config, opts: &SimOptions) -> Result<SimSummary, PipelineError> {
    let backend = open_backend(c)?;
    let substeps = backend.substeps() as u64;
    let joints = backend.info().joint_names.len();
    let mut lp = ControlLoop::new(backend, c.seed, 0.3)?;
    let cycles = (c.sim.duration_s * 1e9 / c.control.period_ns as f64).round() as u64;
    let mut trace = match &opts.trace_csv {
        Some(p) => SensorTrace::with_csv(p)?,
        None => SensorTrace::new(),
    };
    let bar = if opts.progress {
        let b = ProgressBar::new(cycles);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} sim [{bar:40}] {pos}/{len} cycles {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    for i in 0..cycles {
        let frame = lp.cycle();
        trace.push(frame)?;
        if i % 1000 == 0 {
            bar.set_position(i);
        }
    }
    bar.finish_and_clear();
    if let Some(path) = &opts.camera_png {
        save_camera_png(&mut lp.backend, path)?;
    }
    let sim_time_s = lp.backend.now().as_secs_f64();
    Ok(SimSummary {
        model: c
            .resolve_path(
                &c.mujoco()
                    .map_err(|e| BackendError::Model {
                        file: c.source.display().to_string(),
                        message: e.to_string(),
                    })?
                    .model,
            )
            .display()
            .to_string(),
        seed: c.seed,
        stats: lp.stats.clone(),
        sim_time_s,
        physics_steps: cycles * substeps,
        trace_sha256: trace.finish()?,
        joints,
        clamped: lp.clamp().clamped(),
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
pub fn bench_sim(c: &Config, steps: u64, reps: u32) -> Result<SimBench, PipelineError> {
    let model_path = c.resolve_path(
        &c.mujoco()
            .map_err(|e| BackendError::Model {
                file: c.source.display().to_string(),
                message: e.to_string(),
            })?
            .model,
    );
    let mut out = SimBench {
        model: model_path.display().to_string(),
        steps,
        backend_steps_per_s: Vec::new(),
        bare_steps_per_s: Vec::new(),
    };
    // untimed recording pass
    let backend = open_backend(c)?;
    let substeps = backend.substeps() as u64;
    let cycles = (steps / substeps).max(1);
    let (init_qpos, init_qvel, init_ctrl) = match backend.data() {
        Some(d) => (d.qpos().to_vec(), d.qvel().to_vec(), d.ctrl().to_vec()),
        None => (Vec::new(), Vec::new(), Vec::new()),
    };
    let mut lp = ControlLoop::new(backend, c.seed, 0.3)?;
    let mut ctrl_seq = Vec::new();
    let mut qfrc_seq = Vec::new();
    for _ in 0..cycles {
        lp.cycle();
        if let Some(d) = lp.backend.data() {
            ctrl_seq.extend_from_slice(d.ctrl());
            qfrc_seq.extend_from_slice(d.qfrc_applied());
        }
    }
    let final_qpos: Vec<f64> = lp
        .backend
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

        let mut lp = ControlLoop::new(open_backend(c)?, c.seed, 0.3)?;
        let t0 = Instant::now();
        for _ in 0..cycles {
            std::hint::black_box(lp.cycle());
        }
        out.backend_steps_per_s
            .push((cycles * substeps) as f64 / t0.elapsed().as_secs_f64());
    }
    Ok(out)
}

#[cfg(feature = "render")]
fn save_camera_png(b: &mut MujocoBackend, path: &str) -> Result<(), PipelineError> {
    use mujoco_rs::renderer::png;
    let mut cam = b.open_camera()?;
    let mut f = crate::types::RgbdFrame::default();
    b.render(&mut cam, &mut f)?;
    let io = |e: std::io::Error| PipelineError::Trace {
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
fn save_camera_png(_b: &mut MujocoBackend, path: &str) -> Result<(), PipelineError> {
    Err(PipelineError::Trace {
        file: path.to_string(),
        source: std::io::Error::other(
            "this build has no renderer: rebuild with `--features render`",
        ),
    })
}
