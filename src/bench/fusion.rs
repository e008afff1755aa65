//! `sattva bench fusion`: our orientation filter beside the reference filters, on the same samples
//! in the same run, scored with one metric implementation.
//!
//! Metric (BROAD, Laidig et al. 2021): error quaternion in the world frame `e = q_est * q_ref^-1`;
//! the constant heading offset between the two world frames (circular mean of the heading part of
//! `e` over the scored rows) is removed; inclination error = `2 acos(sqrt(w^2 + z^2))`, heading
//! error = `2 atan(|z / w|)`; RMSE in degrees over rows with ground truth (NaN mocap rows are
//! skipped) and, for BROAD, inside the trial's `movement` mask (as BROAD's published figures).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::fusion::{ImuFilter, ImuFilterConfig};
use crate::types::{Imu, Time};

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A data file could not be read or parsed.
    #[error("{file}: {message}")]
    Data {
        /// The file.
        file: String,
        /// What went wrong (row and column when known).
        message: String,
    },
    /// The reference side (Python) failed.
    #[error("reference filters ({python}): {message}")]
    Reference {
        /// The interpreter used.
        python: String,
        /// What went wrong.
        message: String,
    },
    /// Running the simulation failed.
    #[error("simulation: {0}")]
    Sim(String),
}

/// IMU samples with ground truth.
#[derive(Clone, Debug, Default)]
pub struct ImuTrial {
    /// Name for the report.
    pub name: String,
    /// Sample times, s.
    pub t: Vec<f64>,
    /// Gyro, rad/s.
    pub gyr: Vec<[f64; 3]>,
    /// Accelerometer, m/s^2.
    pub acc: Vec<[f64; 3]>,
    /// Magnetometer (any unit), when the trial has one.
    pub mag: Option<Vec<[f64; 3]>>,
    /// Ground-truth orientation `[w, x, y, z]` (NaN = none for that row).
    pub truth: Vec<[f64; 4]>,
    /// Rows to score.
    pub score: Vec<bool>,
}

impl ImuTrial {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
}

/// Loads a BROAD trial converted to CSV (columns named as in `../shared/data/imu/`).
pub fn load_broad_csv(path: &Path) -> Result<ImuTrial, BenchError> {
    let file = path.display().to_string();
    let err = |message: String| BenchError::Data {
        file: file.clone(),
        message,
    };
    let mut rdr = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| err(format!("missing column `{name}`")))
    };
    let names = [
        "t_s",
        "gyr_x_rad_s",
        "gyr_y_rad_s",
        "gyr_z_rad_s",
        "acc_x_m_s2",
        "acc_y_m_s2",
        "acc_z_m_s2",
        "mag_x_uT",
        "mag_y_uT",
        "mag_z_uT",
        "opt_qw",
        "opt_qx",
        "opt_qy",
        "opt_qz",
        "movement",
    ];
    let mut idx = [0usize; 15];
    for (i, n) in names.iter().enumerate() {
        idx[i] = col(n)?;
    }
    let mut tr = ImuTrial {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        mag: Some(Vec::new()),
        ..ImuTrial::default()
    };
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let mut v = [0.0f64; 15];
        for (k, &c) in idx.iter().enumerate() {
            let s = rec.get(c).unwrap_or("");
            v[k] = s.trim().parse::<f64>().map_err(|e| {
                err(format!(
                    "row {}: column `{}`: `{s}`: {e}",
                    row + 2,
                    names[k]
                ))
            })?;
        }
        if !v[..10].iter().all(|x| x.is_finite()) {
            return Err(err(format!("row {}: non-finite IMU value", row + 2)));
        }
        tr.t.push(v[0]);
        tr.gyr.push([v[1], v[2], v[3]]);
        tr.acc.push([v[4], v[5], v[6]]);
        if let Some(m) = tr.mag.as_mut() {
            m.push([v[7], v[8], v[9]]);
        }
        tr.truth.push([v[10], v[11], v[12], v[13]]);
        tr.score.push(v[14] != 0.0);
    }
    if tr.is_empty() {
        return Err(err("no rows".into()));
    }
    Ok(tr)
}

/// RMSE figures of one filter on one trial, degrees.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rmse {
    /// Total rotation error.
    pub total: f64,
    /// Heading (yaw) error after removing the constant heading offset.
    pub heading: f64,
    /// Inclination (roll/pitch) error.
    pub inclination: f64,
    /// The heading offset that was removed, degrees.
    pub heading_offset: f64,
    /// Rows scored.
    pub rows: usize,
}

fn qmul(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

fn qnorm(q: &[f64; 4]) -> Option<[f64; 4]> {
    let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    (n.is_finite() && n > 1e-9).then(|| [q[0] / n, q[1] / n, q[2] / n, q[3] / n])
}

/// BROAD's errors of `est` against `truth` over rows where `score` is set and both are finite.
pub fn orientation_rmse(est: &[[f64; 4]], truth: &[[f64; 4]], score: &[bool]) -> Rmse {
    let mut errs = Vec::with_capacity(est.len());
    for i in 0..est.len().min(truth.len()).min(score.len()) {
        if !score[i] {
            continue;
        }
        let (Some(a), Some(b)) = (qnorm(&est[i]), qnorm(&truth[i])) else {
            continue;
        };
        let e = qmul(&a, &[b[0], -b[1], -b[2], -b[3]]);
        errs.push(e);
    }
    if errs.is_empty() {
        return Rmse {
            total: f64::NAN,
            heading: f64::NAN,
            inclination: f64::NAN,
            heading_offset: f64::NAN,
            rows: 0,
        };
    }
    // constant heading offset: circular mean of the heading part of e
    let (mut s, mut c) = (0.0, 0.0);
    for e in &errs {
        let psi = 2.0 * e[3].atan2(e[0]);
        s += psi.sin();
        c += psi.cos();
    }
    let off = s.atan2(c);
    let rot = [(off / 2.0).cos(), 0.0, 0.0, -(off / 2.0).sin()];
    let (mut tot, mut head, mut inc) = (0.0, 0.0, 0.0);
    for e in &errs {
        let e = qmul(&rot, e);
        let t = 2.0 * e[0].abs().clamp(0.0, 1.0).acos();
        let h = 2.0 * (e[3] / e[0]).abs().atan();
        let i = 2.0 * (e[0] * e[0] + e[3] * e[3]).sqrt().clamp(0.0, 1.0).acos();
        tot += t * t;
        head += h * h;
        inc += i * i;
    }
    let n = errs.len() as f64;
    Rmse {
        total: (tot / n).sqrt().to_degrees(),
        heading: (head / n).sqrt().to_degrees(),
        inclination: (inc / n).sqrt().to_degrees(),
        heading_offset: off.to_degrees(),
        rows: errs.len(),
    }
}

/// Runs our filter over a trial; returns the orientations and the mean ns per update (best of
/// three runs).
pub fn run_ours(cfg: &ImuFilterConfig, tr: &ImuTrial) -> (Vec<[f64; 4]>, f64) {
    let mut cfg = cfg.clone();
    if let Some(dt) = median_dt(&tr.t) {
        cfg.nominal_dt_s = dt;
    }
    let mut out = vec![[0.0; 4]; tr.len()];
    // best of 3 runs (the box is shared); the outputs of every run are identical
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut f = ImuFilter::new(&cfg);
        let start = Instant::now();
        for i in 0..tr.len() {
            let imu = Imu {
                accel: tr.acc[i],
                gyro: tr.gyr[i],
                mag: tr.mag.as_ref().map(|m| m[i]),
            };
            out[i] = f.update(Time::from_secs_f64(tr.t[i]), &imu).orientation;
        }
        let ns = start.elapsed().as_nanos() as f64 / tr.len().max(1) as f64;
        best = best.min(ns);
        std::hint::black_box(&out);
    }
    (out, best)
}

fn median_dt(t: &[f64]) -> Option<f64> {
    let mut d: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    Some(d[d.len() / 2]).filter(|x| *x > 0.0 && *x <= 0.1)
}

/// One row of the report.
#[derive(Clone, Debug)]
pub struct FilterResult {
    /// Filter name.
    pub name: String,
    /// Errors (or why there are none).
    pub rmse: Result<Rmse, String>,
    /// Mean time per update, ns.
    pub ns_per_update: f64,
    /// How it was run (batch, per-sample loop, language).
    pub how: String,
}

/// All filters on one trial.
#[derive(Clone, Debug)]
pub struct TrialReport {
    /// Trial name.
    pub trial: String,
    /// Samples.
    pub samples: usize,
    /// Magnetometer used.
    pub with_mag: bool,
    /// Per filter.
    pub results: Vec<FilterResult>,
}

/// The whole benchmark.
#[derive(Clone, Debug, Default)]
pub struct FusionBenchReport {
    /// Per trial.
    pub trials: Vec<TrialReport>,
    /// Interpreter used for the references.
    pub python: String,
    /// Mean ns of a whole `Fusion::update` (IMU of the first trial, 4 joints without velocity
    /// sensor, 1 contact), best of 3 runs.
    pub ns_fusion_update: Option<f64>,
}

impl fmt::Display for FusionBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "orientation RMSE vs ground truth (BROAD metric, constant heading offset removed), deg"
        )?;
        writeln!(f, "references run by {}", self.python)?;
        if let Some(ns) = self.ns_fusion_update {
            writeln!(
                f,
                "whole Fusion::update (IMU filter + 4 joints differentiated + 1 contact): {ns:.0} ns"
            )?;
        }
        for t in &self.trials {
            writeln!(
                f,
                "\n{} ({} samples, {})",
                t.trial,
                t.samples,
                if t.with_mag {
                    "9-D: gyro+acc+mag"
                } else {
                    "6-D: gyro+acc"
                }
            )?;
            writeln!(
                f,
                "  {:<15} {:>8} {:>8} {:>8} {:>8} {:>10}  how",
                "filter", "incl", "heading", "total", "offset", "ns/update"
            )?;
            for r in &t.results {
                match &r.rmse {
                    Ok(e) => writeln!(
                        f,
                        "  {:<15} {:>8.3} {:>8.3} {:>8.3} {:>8.1} {:>10.0}  {}",
                        r.name,
                        e.inclination,
                        e.heading,
                        e.total,
                        e.heading_offset,
                        r.ns_per_update,
                        r.how
                    )?,
                    Err(m) => writeln!(f, "  {:<15} failed: {m}", r.name)?,
                }
            }
        }
        Ok(())
    }
}

/// The Python interpreter of the reference tools: `$SATTVA_PYTHON`, else `third_party/venv` under
/// the current directory or the crate root.
pub fn python_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SATTVA_PYTHON") {
        return PathBuf::from(p);
    }
    let rel = Path::new("third_party/venv/bin/python");
    if rel.exists() {
        return rel.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn script_path() -> PathBuf {
    let rel = Path::new("scripts/bench/fusion_reference.py");
    if rel.exists() {
        rel.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

/// Runs the reference filters (Python) on the trial's samples and scores them.
fn run_references(tr: &ImuTrial, python: &Path) -> Result<Vec<FilterResult>, BenchError> {
    let pyname = python.display().to_string();
    let rerr = |message: String| BenchError::Reference {
        python: pyname.clone(),
        message,
    };
    let dir = std::env::temp_dir().join(format!("sattva-bench-fusion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| rerr(format!("{}: {e}", dir.display())))?;
    let samples = dir.join("samples.f64");
    let mut bytes = Vec::with_capacity(tr.len() * 80);
    for i in 0..tr.len() {
        let mag = tr.mag.as_ref().map_or([f64::NAN; 3], |m| m[i]);
        for v in std::iter::once(tr.t[i])
            .chain(tr.gyr[i])
            .chain(tr.acc[i])
            .chain(mag)
        {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(&samples, &bytes).map_err(|e| rerr(format!("{}: {e}", samples.display())))?;
    let out = std::process::Command::new(python)
        .arg(script_path())
        .arg(&samples)
        .arg(dir.join("out"))
        .output()
        .map_err(|e| {
            rerr(format!(
                "cannot start: {e} (set SATTVA_PYTHON or run the setup)"
            ))
        })?;
    if !out.status.success() {
        return Err(rerr(format!(
            "exit {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut results = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        match parts.as_slice() {
            [name, "ERROR", msg] => results.push(FilterResult {
                name: name.to_string(),
                rmse: Err(msg.to_string()),
                ns_per_update: f64::NAN,
                how: String::new(),
            }),
            [name, file, ns, how] => {
                let q = read_quats(Path::new(file), tr.len());
                results.push(FilterResult {
                    name: name.to_string(),
                    rmse: q.map(|q| orientation_rmse(&q, &tr.truth, &tr.score)),
                    ns_per_update: ns.parse().unwrap_or(f64::NAN),
                    how: format!("Python: {how}"),
                });
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(results)
}

fn read_quats(path: &Path, n: usize) -> Result<Vec<[f64; 4]>, String> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if b.len() != n * 32 {
        return Err(format!(
            "{}: {} bytes, expected {}",
            path.display(),
            b.len(),
            n * 32
        ));
    }
    Ok(b.chunks_exact(32)
        .map(|c| {
            let mut q = [0.0; 4];
            for (k, v) in q.iter_mut().enumerate() {
                let mut w = [0u8; 8];
                w.copy_from_slice(&c[8 * k..8 * k + 8]);
                *v = f64::from_le_bytes(w);
            }
            q
        })
        .collect())
}

/// Scores our filter and the references on one trial.
fn bench_trial(
    cfg: &ImuFilterConfig,
    tr: &ImuTrial,
    python: &Path,
) -> Result<TrialReport, BenchError> {
    let (q, ns) = run_ours(cfg, tr);
    let mut results = vec![FilterResult {
        name: "sattva (ours)".into(),
        rmse: Ok(orientation_rmse(&q, &tr.truth, &tr.score)),
        ns_per_update: ns,
        how: "Rust, per sample, with input guards (best of 3)".into(),
    }];
    match run_references(tr, python) {
        Ok(r) => results.extend(r),
        Err(e) => results.push(FilterResult {
            name: "references".into(),
            rmse: Err(e.to_string()),
            ns_per_update: f64::NAN,
            how: String::new(),
        }),
    }
    Ok(TrialReport {
        trial: tr.name.clone(),
        samples: tr.len(),
        with_mag: tr.mag.is_some(),
        results,
    })
}

/// Mean ns per whole `Fusion::update` over the trial's IMU samples plus 4 joints (positions
/// only: velocities are differentiated) and 1 contact; best of 3 runs.
fn time_fusion_update(tr: &ImuTrial) -> f64 {
    use crate::types::SensorFrame;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let mut fu = crate::fusion::Fusion::new(&crate::fusion::FusionConfig::default());
        let mut fr = SensorFrame::default();
        let start = Instant::now();
        for i in 0..tr.len() {
            fr.t = Time::from_secs_f64(tr.t[i]);
            fr.imu = Some(Imu {
                accel: tr.acc[i],
                gyro: tr.gyr[i],
                mag: tr.mag.as_ref().map(|m| m[i]),
            });
            fr.joints.clear();
            for j in 0..4 {
                fr.joints.position.push((tr.t[i] * (1.0 + j as f64)).sin());
            }
            fr.contacts.clear();
            fr.contacts.push(if i % 200 < 50 { 1.0 } else { 0.0 });
            std::hint::black_box(fu.update(&fr));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / tr.len().max(1) as f64);
    }
    best
}

/// Records an IMU trial with ground truth from the MuJoCo scene of `config`, driven by the sine
/// explorer for `seconds` of simulated time.
#[cfg(feature = "mujoco")]
fn mujoco_trial(
    config: &crate::config::Config,
    seconds: f64,
    amplitude: f64,
) -> Result<ImuTrial, BenchError> {
    use crate::pipeline::ControlLoop;
    let b = crate::backend::mujoco::MujocoBackend::open(config)
        .map_err(|e| BenchError::Sim(e.to_string()))?;
    let mut c = config.clone();
    c.action.source = crate::action::SourceKind::Explore;
    c.action.explore.amplitude = amplitude;
    let mut lp = ControlLoop::new(&c, b, None).map_err(|e| BenchError::Sim(e.to_string()))?;
    let period = config.control.period_ns as f64 * 1e-9;
    let n = (seconds / period).ceil() as usize;
    let mut tr = ImuTrial {
        name: format!(
            "mujoco {} ({seconds} s, sine explorer amplitude {amplitude} rad, seed {})",
            config
                .mujoco
                .as_ref()
                .map_or(String::new(), |m| m.model.clone()),
            config.seed
        ),
        ..ImuTrial::default()
    };
    for _ in 0..n {
        let f = lp.cycle();
        let (Some(imu), Some(truth)) = (f.imu, f.truth) else {
            return Err(BenchError::Sim(
                "the scene gives no IMU or no ground truth (mujoco.imu.site)".into(),
            ));
        };
        tr.t.push(f.t.as_secs_f64());
        tr.gyr.push(imu.gyro);
        tr.acc.push(imu.accel);
        tr.truth.push(truth.orientation);
        tr.score.push(true);
    }
    Ok(tr)
}

/// `sattva bench fusion`: the BROAD trials in `data_dir` (every `broad_*.csv`) and, with the
/// `mujoco` feature, `sim_seconds` of the configured scene.
pub fn bench_fusion(
    config: &crate::config::Config,
    data_dir: &Path,
    sim_seconds: f64,
) -> Result<FusionBenchReport, BenchError> {
    let python = python_path();
    let mut report = FusionBenchReport {
        python: python.display().to_string(),
        ..Default::default()
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .map_err(|e| BenchError::Data {
            file: data_dir.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("broad_") && n.ends_with(".csv"))
        })
        .collect();
    files.sort();
    for p in files {
        let tr = load_broad_csv(&p)?;
        if report.ns_fusion_update.is_none() {
            report.ns_fusion_update = Some(time_fusion_update(&tr));
        }
        report
            .trials
            .push(bench_trial(&config.fusion.imu, &tr, &python)?);
    }
    #[cfg(feature = "mujoco")]
    if sim_seconds > 0.0 && config.mujoco.is_some() {
        let tr = mujoco_trial(config, sim_seconds, 0.8)?;
        report
            .trials
            .push(bench_trial(&config.fusion.imu, &tr, &python)?);
    }
    #[cfg(not(feature = "mujoco"))]
    let _ = sim_seconds;
    Ok(report)
}
