//! The `sattva sim` job and the `sattva bench sim` benchmark (feature `mujoco`).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use mujoco_rs::prelude::*;

use crate::backend::mujoco::MujocoBackend;
use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::eval::episode::{EpisodeRunner, EvalError};
use crate::pipeline::{ControlLoop, LoopStats, PipelineError, SensorTrace};
use crate::types::Time;

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
    /// The control loop or the backend failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The curriculum (episodes, encoder, substrate, snapshot) failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
}

impl From<BackendError> for SimError {
    fn from(e: BackendError) -> Self {
        SimError::Pipeline(e.into())
    }
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
    /// SHA-256 of the sensor trace.
    pub trace_sha256: String,
    /// Joints driven.
    pub joints: usize,
    /// Commands clamped by the safety clamp.
    pub clamped: u64,
    /// The curriculum, when the scene has one (the arm on the table); exploration otherwise.
    pub curriculum: Option<CurriculumSummary>,
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
        out
    }
}

/// Configures and activates the MuJoCo backend of `c`.
pub fn open_backend(c: &Config) -> Result<MujocoBackend, BackendError> {
    let mut b = MujocoBackend::new(c)?;
    b.configure()?;
    b.activate()?;
    Ok(b)
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

fn progress(n: u64, on: bool, what: &str) -> ProgressBar {
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

/// Runs `sattva sim`: on a scene with the curriculum's object (the reference arm), curriculum
/// episodes through the full pipeline, learning as it goes; on other scenes, exploration. Either
/// way for `c.sim.duration_s` simulated seconds, or `opts.episodes` training episodes.
pub fn run_sim(c: &Config, opts: &SimOptions) -> Result<SimSummary, SimError> {
    match EpisodeRunner::new(c) {
        Ok(runner) => run_curriculum(c, opts, runner),
        Err(EvalError::Scene(why)) => {
            tracing::info!(%why, "no curriculum for this scene: exploring");
            run_explore(c, opts)
        }
        Err(e) => Err(e.into()),
    }
}

/// Paces a loop at real time: sleeps until `start + sim elapsed`.
struct Pacer {
    on: bool,
    wall0: Instant,
    sim0: f64,
}

impl Pacer {
    fn wait(&self, sim_s: f64) {
        if self.on {
            let due = std::time::Duration::from_secs_f64((sim_s - self.sim0).max(0.0));
            if let Some(d) = due.checked_sub(self.wall0.elapsed()) {
                std::thread::sleep(d);
            }
        }
    }
}

fn run_curriculum(
    c: &Config,
    opts: &SimOptions,
    mut runner: EpisodeRunner,
) -> Result<SimSummary, SimError> {
    use crate::eval::literacy::{recall, substrate_config};
    use crate::eval::{curriculum, Split};
    use crate::substrate::Substrate;
    use std::collections::BTreeMap;

    let period = c.control.period_ns;
    // budget: simulated time, unless a number of episodes is asked for
    let mut budget_ns: Option<i64> = match opts.episodes {
        Some(_) => None,
        None => Some((c.sim.duration_s * 1e9).round() as i64 / period * period),
    };
    let n_cal = c.eval.calibration_episodes as usize;
    let n_train = opts.episodes.map_or(1_000_000, |n| n as usize);
    let mut trace = match &opts.trace_csv {
        Some(p) => SensorTrace::with_csv(p)?,
        None => SensorTrace::new(),
    };
    let mut trace_err: Option<PipelineError> = None;
    let (mut sub, resumed_from) = match &opts.resume {
        Some(p) => {
            let (s, info) = Substrate::load(std::path::Path::new(p)).map_err(EvalError::from)?;
            tracing::info!(file = %p, attractors = s.len(), step = info.step, "substrate resumed");
            (s, Some(p.clone()))
        }
        None => (
            Substrate::new(substrate_config(c, runner.dim())).map_err(EvalError::from)?,
            None,
        ),
    };
    if sub.config().dim as usize != runner.dim() {
        return Err(EvalError::Scene(format!(
            "snapshot dimension {} != encoder dimension {} (encode.dim)",
            sub.config().dim,
            runner.dim()
        ))
        .into());
    }
    // label counts per attractor: from the snapshot's labels, then from learning
    let mut counts: BTreeMap<u32, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let ids: Vec<_> = sub.ids().collect();
    for id in ids {
        if let Some(a) = sub.attractor(id, Time::ZERO) {
            for l in a.labels {
                if let Some(p) = crate::action::Primitive::from_name(l) {
                    *counts.entry(id.0).or_default().entry(p.name()).or_default() += 1;
                }
            }
        }
    }
    let mut seen: std::collections::BTreeSet<&'static str> =
        counts.values().flat_map(|m| m.keys().copied()).collect();
    let mut stats = LoopStats::default();
    let mut k = CurriculumSummary {
        resumed_from,
        ..Default::default()
    };
    let total = opts.episodes.map(|n| n as u64 + n_cal as u64);
    let bar = match total {
        Some(n) => progress(n, opts.progress, "episodes"),
        None => progress(
            budget_ns.unwrap_or(0) as u64 / period as u64,
            opts.progress,
            "cycles",
        ),
    };
    let pacer = Pacer {
        on: opts.realtime,
        wall0: Instant::now(),
        sim0: 0.0,
    };
    let mut sim_ns: i64 = 0;
    let mut t_learn = Time(sub.step() as i64); // monotonic learning clock, continued on resume
    let mut learn_us = Vec::new();
    let scenarios = curriculum(&c.eval, Split::Calibration, n_cal, c.seed)
        .into_iter()
        // a resumed run continues with new scenarios (same calibration: same encoder statistics)
        .chain(curriculum(
            &c.eval,
            Split::Train,
            n_train.min(100_000),
            c.seed.wrapping_add(sub.step()),
        ));
    for (i, sc) in scenarios.enumerate() {
        if budget_ns.is_some_and(|b| b <= 0) {
            break;
        }
        let sim_before = sim_ns;
        let out = runner.run_with(sc_ref(&sc), budget_ns, &mut |f| {
            if let Err(e) = trace.push(f) {
                trace_err.get_or_insert(e);
            }
            pacer.wait((sim_before + f.t.0) as f64 * 1e-9);
        })?;
        if let Some(e) = trace_err.take() {
            return Err(e.into());
        }
        let ep_ns = (out.sim_s * 1e9).round() as i64;
        sim_ns += ep_ns;
        if let Some(b) = budget_ns.as_mut() {
            *b -= ep_ns;
        }
        add_stats(&mut stats, &out.stats);
        if total.is_none() {
            bar.set_position(stats.cycles);
        } else {
            bar.inc(1);
        }
        if i + 1 == n_cal {
            runner.encoder_mut().set_learn_stats(false);
        }
        if sc.split == Split::Calibration {
            k.calibration_episodes += 1;
            continue;
        }
        if out.truncated {
            break; // an incomplete experience is not learned
        }
        k.episodes += 1;
        t_learn = t_learn.add_nanos(ep_ns);
        // recognise before learning
        let name = sc.primitive.name();
        let best_match = recall(&mut sub, t_learn, &out.experience)?;
        if best_match >= 0 && seen.contains(name) {
            if let Some(best) = counts.get(&(best_match as u32)).and_then(|m| {
                m.iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(l, _)| *l)
            }) {
                k.judged += 1;
                if best == name {
                    k.recognised += 1;
                }
                tracing::debug!(
                    episode = k.episodes,
                    primitive = name,
                    recognised_as = best,
                    "recall"
                );
            }
        }
        let t0 = Instant::now();
        let l = sub
            .learn(t_learn, &out.experience)
            .map_err(EvalError::from)?;
        learn_us.push(t0.elapsed().as_secs_f64() * 1e6);
        if l.created {
            k.formed += 1;
            counts.remove(&l.id.0);
            bar.suspend(|| {
                tracing::info!(
                    episode = k.episodes,
                    attractor = l.id.0,
                    primitive = name,
                    attractors = sub.len(),
                    "attractor formed"
                )
            });
        }
        if let Some(m) = l.merged {
            if let Some(old) = counts.remove(&m.0) {
                let e = counts.entry(l.id.0).or_default();
                for (n, c) in old {
                    *e.entry(n).or_default() += c;
                }
            }
        }
        if let Some(ev) = l.evicted {
            counts.remove(&ev.0);
        }
        seen.insert(name);
        let e = counts.entry(l.id.0).or_default();
        if !e.contains_key(name) {
            sub.add_label(l.id, name);
        }
        *e.entry(name).or_default() += 1;
        bar.set_message(format!(
            "{} attractors, recognised {}/{}",
            sub.len(),
            k.recognised,
            k.judged
        ));
        if opts.episodes.is_some_and(|n| k.episodes >= n as u64) {
            break;
        }
    }
    bar.finish_and_clear();
    k.attractors = sub.len();
    k.vision_frames = runner.vision_frames;
    k.learn_us = [
        crate::eval::metrics::quantile(&learn_us, 0.5),
        crate::eval::metrics::quantile(&learn_us, 0.99),
    ];
    // snapshot when something was learned (a short run that only calibrated has nothing to keep)
    if let Some(p) = opts.snapshot.as_ref().filter(|_| k.episodes > 0) {
        if let Some(dir) = std::path::Path::new(p).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
                    file: dir.display().to_string(),
                    source,
                })?;
            }
        }
        sub.save(std::path::Path::new(p)).map_err(EvalError::from)?;
        k.snapshot = Some(p.clone());
    }
    if let (Some(path), Some(b)) = (&opts.camera_png, runner.backend_mut()) {
        save_camera_png(b, path)?;
    }
    let substeps = runner.backend_mut().map_or(1, |b| b.substeps() as u64);
    Ok(SimSummary {
        model: model_path(c)?,
        seed: c.seed,
        physics_steps: stats.cycles * substeps,
        stats,
        sim_time_s: sim_ns as f64 * 1e-9,
        trace_sha256: trace.finish()?,
        joints: crate::eval::episode::ARM_JOINTS,
        clamped: runner.clamp_events,
        curriculum: Some(k),
    })
}

fn sc_ref(s: &crate::eval::Scenario) -> &crate::eval::Scenario {
    s
}

fn add_stats(a: &mut LoopStats, b: &LoopStats) {
    a.cycles += b.cycles;
    a.touch_cycles += b.touch_cycles;
    a.max_touch = a.max_touch.max(b.max_touch);
    a.accel_norm_sum += b.accel_norm_sum;
    a.imu_frames += b.imu_frames;
    a.read_errors += b.read_errors;
    a.write_errors += b.write_errors;
}

/// Exploration in lockstep for `c.sim.duration_s` simulated seconds (scenes without curriculum).
fn run_explore(c: &Config, opts: &SimOptions) -> Result<SimSummary, SimError> {
    let backend = open_backend(c)?;
    let substeps = backend.substeps() as u64;
    let joints = backend.info().joint_names.len();
    let clamp = crate::action::SafetyClamp::new(&backend.info().joint_limits)
        .with_limits(&c.action.clamp, c.control.period_ns);
    let mut lp = ControlLoop::new(backend, c.seed, 0.3)?.with_clamp(clamp);
    let cycles = (c.sim.duration_s * 1e9 / c.control.period_ns as f64).round() as u64;
    let mut trace = match &opts.trace_csv {
        Some(p) => SensorTrace::with_csv(p)?,
        None => SensorTrace::new(),
    };
    let bar = progress(cycles, opts.progress, "cycles");
    let pacer = Pacer {
        on: opts.realtime,
        wall0: Instant::now(),
        sim0: lp.backend.now().as_secs_f64(),
    };
    for i in 0..cycles {
        let frame = lp.cycle();
        trace.push(frame)?;
        pacer.wait(frame.t.as_secs_f64());
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
        model: model_path(c)?,
        seed: c.seed,
        stats: lp.stats.clone(),
        sim_time_s,
        physics_steps: cycles * substeps,
        trace_sha256: trace.finish()?,
        joints,
        clamped: lp.clamp().clamped() + lp.clamp().rate_limited(),
        curriculum: None,
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
