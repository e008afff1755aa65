//! `sattva bench monitors`: ns per control cycle of 1, 10 and 50 STL monitors
//! ([`crate::monitor`]) beside RTAMT's discrete-time online monitor (Python, PyPI `rtamt`) per
//! sample, measured in the same run over the same trace, with the largest robustness
//! difference between the two.
//!
//! The trace is recorded from the configured backend (MuJoCo by default) through the control
//! loop with the monitors installed ([`record`]); the same helpers serve
//! `tests/monitor_rtamt.rs`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::Backend;
use crate::config::Config;
use crate::monitor::{MonitorAction, MonitorConfig, Monitors, MonitorsConfig, Severity};
use crate::pipeline::ControlLoop;

/// Errors of the monitor benchmark and its reference.
#[derive(Debug, thiserror::Error)]
pub enum MonitorBenchError {
    /// The backend or the loop could not start.
    #[error("backend: {0}")]
    Backend(String),
    /// A spec does not compile.
    #[error(transparent)]
    Spec(#[from] crate::monitor::MonitorError),
    /// Files of the exchange with the reference.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// RTAMT failed or is missing.
    #[error("RTAMT reference ({python}): {message}")]
    Reference {
        /// The interpreter.
        python: String,
        /// What went wrong.
        message: String,
    },
}

/// A recorded trace: the monitors' signals and robustness per cycle.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// Signal names (columns).
    pub names: Vec<String>,
    /// Cycle times, ns.
    pub t: Vec<i64>,
    /// Signal values per cycle.
    pub rows: Vec<Vec<f64>>,
    /// Monitor names.
    pub monitors: Vec<String>,
    /// Robustness per cycle per monitor (NaN before a monitor's horizon).
    pub robustness: Vec<Vec<f64>>,
    /// Each monitor's horizon, cycles.
    pub horizons: Vec<u64>,
}

/// Runs the control loop of `c` (its backend, source and `monitors:`) for `cycles` cycles and
/// records the monitors' signals and robustness.
pub fn record(c: &Config, cycles: usize) -> Result<Trace, MonitorBenchError> {
    let mut b = c
        .open_backend(None)
        .map_err(|e| MonitorBenchError::Backend(e.to_string()))?;
    b.activate()
        .map_err(|e| MonitorBenchError::Backend(e.to_string()))?;
    let mut lp =
        ControlLoop::new(c, b, None).map_err(|e| MonitorBenchError::Backend(e.to_string()))?;
    let m = lp.monitors();
    let mut tr = Trace {
        names: m.signal_names().to_vec(),
        monitors: m.monitors.iter().map(|m| m.name.clone()).collect(),
        horizons: m.monitors.iter().map(|m| m.horizon()).collect(),
        ..Trace::default()
    };
    for _ in 0..cycles {
        lp.cycle();
        let m = lp.monitors();
        tr.t.push(lp.frame().t.0);
        tr.rows.push(m.values().to_vec());
        tr.robustness
            .push(m.monitors.iter().map(|m| m.robustness).collect());
    }
    Ok(tr)
}

impl Trace {
    /// Writes `t_ns,<signal>...` rows (what the reference reads).
    pub fn write_csv(&self, path: &Path) -> Result<(), MonitorBenchError> {
        let io = |source| MonitorBenchError::Io {
            file: path.to_path_buf(),
            source,
        };
        let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        writeln!(w, "t_ns,{}", self.names.join(",")).map_err(io)?;
        for (t, r) in self.t.iter().zip(&self.rows) {
            write!(w, "{t}").map_err(io)?;
            for v in r {
                write!(w, ",{v:?}").map_err(io)?;
            }
            writeln!(w).map_err(io)?;
        }
        w.flush().map_err(io)
    }
}

/// RTAMT's robustness of `specs` over a trace CSV and its ns per update, per spec.
#[derive(Clone, Debug)]
pub struct Reference {
    /// Robustness per row per spec.
    pub robustness: Vec<Vec<f64>>,
    /// ns per `update` call, per spec.
    pub ns_per_update: Vec<f64>,
}

fn script() -> PathBuf {
    let rel = Path::new("scripts/bench/monitors_reference.py");
    if rel.exists() {
        rel.to_path_buf()
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    }
}

/// Runs `scripts/bench/monitors_reference.py` (RTAMT) with `python` over the first `rows` rows
/// of `trace_csv`.
pub fn rtamt(
    python: &Path,
    trace_csv: &Path,
    specs: &[(String, String)],
    period_ns: i64,
    rows: Option<usize>,
) -> Result<Reference, MonitorBenchError> {
    let pyname = python.display().to_string();
    let rerr = |message: String| MonitorBenchError::Reference {
        python: pyname.clone(),
        message,
    };
    let dir = trace_csv.parent().unwrap_or(Path::new("."));
    let specs_file = dir.join("specs.tsv");
    let out_file = dir.join("rtamt.csv");
    let text: String = specs.iter().map(|(n, s)| format!("{n}\t{s}\n")).collect();
    std::fs::write(&specs_file, text).map_err(|source| MonitorBenchError::Io {
        file: specs_file.clone(),
        source,
    })?;
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script())
        .arg(trace_csv)
        .arg(&specs_file)
        .arg(period_ns.to_string())
        .arg(&out_file);
    if let Some(r) = rows {
        cmd.arg(r.to_string());
    }
    let out = cmd.output().map_err(|e| {
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
    let ns_per_update = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(1).and_then(|x| x.parse().ok()))
        .collect::<Vec<f64>>();
    let body = std::fs::read_to_string(&out_file).map_err(|source| MonitorBenchError::Io {
        file: out_file.clone(),
        source,
    })?;
    let robustness = body
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|x| x.trim().parse::<f64>().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    if ns_per_update.len() != specs.len() {
        return Err(rerr(format!(
            "expected {} timing lines, got {}",
            specs.len(),
            ns_per_update.len()
        )));
    }
    Ok(Reference {
        robustness,
        ns_per_update,
    })
}

/// Where sattva and RTAMT differ: (row, monitor index, sattva, RTAMT).
pub type Mismatch = (usize, usize, f64, f64);

/// The largest |sattva - RTAMT| over the samples where sattva reports a robustness (from each
/// monitor's horizon on); infinities must match exactly. Returns (max difference, samples
/// compared, first mismatch as (row, monitor, sattva, rtamt)).
pub fn compare(tr: &Trace, r: &Reference) -> (f64, usize, Option<Mismatch>) {
    let mut worst = 0.0f64;
    let mut n = 0;
    let mut first = None;
    for (k, (mine, theirs)) in tr.robustness.iter().zip(&r.robustness).enumerate() {
        for (j, (&a, &b)) in mine.iter().zip(theirs).enumerate() {
            if (k as u64) < tr.horizons[j] {
                continue;
            }
            n += 1;
            let d = if a == b {
                0.0
            } else if a.is_finite() && b.is_finite() {
                (a - b).abs()
            } else {
                f64::INFINITY
            };
            if d > 1e-9 && first.is_none() {
                first = Some((k, j, a, b));
            }
            worst = worst.max(d);
        }
    }
    (worst, n, first)
}

/// A spec set covering every operator, `n` monitors long (thresholds vary), over the robot's
/// first and last joints.
pub fn spec_set(joints: &[String], n: usize) -> Vec<(String, String)> {
    let a = joints.first().map_or("0", String::as_str);
    let b = joints.last().map_or("0", String::as_str);
    let base = |k: usize| -> String {
        let th = 0.2 + 0.05 * (k / 12) as f64;
        match k % 12 {
            0 => format!("always[0:0.02](speed_max < {})", 1.0 + th),
            1 => format!("eventually[0.01:0.05](vel_{b} > {th})"),
            2 => format!("historically[0:0.1](abs(pos_{b} - cmd_{b}) < {th})"),
            3 => format!("once[0.02:0.08](rate > {th})"),
            4 => format!("(tilt_deg < {}) since[0:0.1] (vel_{a} >= {th})", 60.0 + th),
            5 => format!("(speed_max <= 2) since (rate < {th})"),
            6 => format!("rise(vel_{b} > {th}) implies once[0:0.04](cmd_{b} > pos_{b})"),
            7 => format!("fall(rate > {th}) or not (pos_{a} * 2 + vel_{a} / 4 !== {th})"),
            8 => format!("always[0:0.01]((vel_{b} > -1) and (rate < {}))", 3.0 + th),
            9 => format!("once(vel_{b} > {th}) and historically(pos_{a} > -3) and (tilt == 0)"),
            10 => format!("always[0:0.02](eventually[0:0.01](vel_{b} > {th}))"),
            _ => format!(
                "(once[0:0.02](vel_{b} > 0)) and eventually[0:0.02](pos_{b} - 0.1 * {th} > -1)"
            ),
        }
    };
    (0..n).map(|k| (format!("m{k:02}"), base(k))).collect()
}

/// The `monitors:` section of a spec set (action `log`).
pub fn section(specs: &[(String, String)]) -> MonitorsConfig {
    specs
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                MonitorConfig {
                    spec: s.clone(),
                    severity: Severity::Info,
                    action: MonitorAction::Log,
                },
            )
        })
        .collect()
}

/// One row of the benchmark.
#[derive(Clone, Debug)]
pub struct Row {
    /// Monitors evaluated per cycle.
    pub monitors: usize,
    /// sattva: ns per cycle (all monitors, signals given).
    pub ns_per_cycle: f64,
    /// RTAMT: ns per sample (sum of the monitors' `update`).
    pub rtamt_ns_per_sample: f64,
}

/// The benchmark's result.
#[derive(Clone, Debug)]
pub struct Report {
    /// Trace length, cycles.
    pub cycles: usize,
    /// Rows RTAMT was run over.
    pub rtamt_rows: usize,
    /// Rows.
    pub rows: Vec<Row>,
    /// Largest |sattva - RTAMT| robustness, samples compared.
    pub max_diff: (f64, usize),
    /// The first sample where they differ by more than 1e-9: (cycle, spec, sattva, RTAMT).
    pub first_mismatch: Option<(usize, String, f64, f64)>,
    /// The interpreter of the reference.
    pub python: String,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "STL monitors: {} cycles of the configured backend; RTAMT 0.4.10 (discrete-time online) over the first {} ({})",
            self.cycles, self.rtamt_rows, self.python
        )?;
        writeln!(
            f,
            "  {:>8}  {:>14}  {:>18}  {:>9}",
            "monitors", "sattva ns/cycle", "RTAMT ns/sample", "speed-up"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "  {:>8}  {:>14.0}  {:>18.0}  {:>8.0}x",
                r.monitors,
                r.ns_per_cycle,
                r.rtamt_ns_per_sample,
                r.rtamt_ns_per_sample / r.ns_per_cycle.max(1e-9)
            )?;
        }
        write!(
            f,
            "  robustness: largest |sattva - RTAMT| {:.1e} over {} samples",
            self.max_diff.0, self.max_diff.1
        )?;
        if let Some((k, spec, a, b)) = &self.first_mismatch {
            write!(
                f,
                "\n  first mismatch: cycle {k}, `{spec}`: sattva {a}, RTAMT {b}"
            )?;
        }
        Ok(())
    }
}

/// Runs the benchmark: records `cycles` cycles of `c`'s loop with 50 monitors, times 1, 10 and
/// 50 of them over the trace, and RTAMT over its first `rtamt_rows` rows.
pub fn bench_monitors(
    c: &Config,
    cycles: usize,
    rtamt_rows: usize,
    python: &Path,
) -> Result<Report, MonitorBenchError> {
    let joints = {
        let b = c
            .open_backend(None)
            .map_err(|e| MonitorBenchError::Backend(e.to_string()))?;
        b.info().joint_names.clone()
    };
    let specs = spec_set(&joints, 50);
    let mut cfg = c.clone();
    cfg.monitors = section(&specs);
    let tr = record(&cfg, cycles)?;
    let dir = std::env::temp_dir().join(format!("sattva-bench-monitors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| MonitorBenchError::Io {
        file: dir.clone(),
        source,
    })?;
    let csv = dir.join("trace.csv");
    tr.write_csv(&csv)?;
    let rows = rtamt_rows.min(cycles);
    let reference = rtamt(python, &csv, &specs, c.control.period_ns, Some(rows))?;
    let (diff, compared, first) = compare(&tr, &reference);
    let first_mismatch = first.map(|(k, j, a, b)| (k, specs[j].1.clone(), a, b));
    let mut out = Vec::new();
    for n in [1usize, 10, 50] {
        let mut m = Monitors::new(&section(&specs[..n]), c.control.period_ns, &joints, &[])?;
        let cols: Vec<usize> = m
            .signal_names()
            .iter()
            .map(|s| tr.names.iter().position(|x| x == s).unwrap_or(0))
            .collect();
        let inputs: Vec<Vec<f64>> = tr
            .rows
            .iter()
            .map(|r| cols.iter().map(|&i| r[i]).collect())
            .collect();
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            m.reset();
            let t0 = Instant::now();
            for (k, r) in inputs.iter().enumerate() {
                std::hint::black_box(m.step_values(crate::types::Time(k as i64), r));
            }
            best = best.min(t0.elapsed().as_nanos() as f64 / inputs.len().max(1) as f64);
        }
        out.push(Row {
            monitors: n,
            ns_per_cycle: best,
            rtamt_ns_per_sample: reference.ns_per_update[..n].iter().sum(),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Report {
        cycles,
        rtamt_rows: rows,
        rows: out,
        max_diff: (diff, compared),
        first_mismatch,
        python: python.display().to_string(),
    })
}
