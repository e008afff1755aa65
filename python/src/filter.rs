//! `sattva.OrientationFilter`: the agent's VQF-style IMU orientation filter
//! (`sattva::fusion::ImuFilter`: VQF core plus the input guards), and the BROAD helpers of
//! `sattva bench fusion` (CSV loader, RMSE metric).

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sattva::bench::fusion as bench;
use sattva::fusion::{ImuFilter, ImuFilterConfig};
use sattva::types::{Imu, Time};

use crate::input::floats;
use crate::{lock, rust_err, type_err, value_err};

struct State {
    f: ImuFilter,
    /// Time of the next sample, s (samples are `dt` apart).
    t: f64,
    dt: f64,
}

impl State {
    fn step(&mut self, gyr: [f64; 3], acc: [f64; 3], mag: Option<[f64; 3]>) -> [f64; 4] {
        let imu = Imu {
            accel: acc,
            gyro: gyr,
            mag,
        };
        let t = Time::from_secs_f64(self.t);
        self.t += self.dt;
        self.f.update(t, &imu).orientation
    }
}

fn check_dt(dt: f64) -> PyResult<f64> {
    if dt.is_finite() && dt > 0.0 && dt <= 1.0 {
        Ok(dt)
    } else {
        Err(value_err(format!(
            "dt: {dt} s is not a sample interval in (0, 1] s"
        )))
    }
}

/// The VQF-style orientation filter the agent fuses its IMU with (gyro bias estimation, rest
/// detection, magnetic disturbance rejection; VQF's published defaults).
///
/// `OrientationFilter(dt, **params)`: `dt` is the sample interval in seconds; `params` are the
/// agent's `fusion.imu` keys (e.g. `tau_acc=3.0`, `mag_dist_rejection=False`); unknown keys
/// raise ValueError. Quaternions are `[w, x, y, z]`, sensor to world (ENU, z up); gyro in rad/s,
/// accelerometer in m/s^2, magnetometer in any unit.
///
/// Thread safety: calls on one filter are serialised by a lock; `update_batch` releases the GIL.
#[pyclass(module = "sattva")]
pub struct OrientationFilter {
    inner: Mutex<State>,
}

#[pymethods]
impl OrientationFilter {
    #[new]
    #[pyo3(signature = (dt, **params))]
    fn new(dt: f64, params: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let dt = check_dt(dt)?;
        let mut cfg: ImuFilterConfig = match params {
            Some(d) if !d.is_empty() => pythonize::depythonize(d.as_any())
                .map_err(|e| value_err(format!("invalid filter parameters: {e}")))?,
            _ => ImuFilterConfig::default(),
        };
        cfg.nominal_dt_s = dt;
        // the gap guards are relative to the sample interval the config was made for
        cfg.max_gap_s = cfg.max_gap_s.max(2.5 * dt);
        cfg.realign_gap_s = cfg.realign_gap_s.max(cfg.max_gap_s);
        Ok(OrientationFilter {
            inner: Mutex::new(State {
                f: ImuFilter::new(&cfg),
                t: 0.0,
                dt,
            }),
        })
    }

    /// Sample interval, s.
    #[getter]
    fn dt(&self) -> f64 {
        lock(&self.inner).dt
    }

    /// Back to the initial state (parameters kept).
    fn reset(&self) {
        let mut g = lock(&self.inner);
        g.f.reset();
        g.t = 0.0;
    }

    /// Feeds one sample; returns the orientation `[w, x, y, z]` (float64, (4,)).
    #[pyo3(signature = (gyr, acc, mag = None))]
    fn update<'py>(
        &self,
        py: Python<'py>,
        gyr: &Bound<'py, PyAny>,
        acc: &Bound<'py, PyAny>,
        mag: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v3 = |o: &Bound<'py, PyAny>, name: &str| -> PyResult<[f64; 3]> {
            let a = floats::<f64>(o, name)?;
            a.expect(name, &[Some(3)], "(3,)")?;
            let s = a.as_slice();
            Ok([s[0], s[1], s[2]])
        };
        let (g, a) = (v3(gyr, "gyr")?, v3(acc, "acc")?);
        let m = mag.map(|m| v3(m, "mag")).transpose()?;
        let q = lock(&self.inner).step(g, a, m);
        Ok(q.to_vec().into_pyarray(py))
    }

    /// Runs the filter over N samples `dt` apart: `gyr`, `acc` and (optional) `mag` of shape
    /// (N, 3) (float64 read in place, float32 converted). Returns the orientations (N, 4)
    /// float64 `[w, x, y, z]` after each sample. `out`: a C-contiguous float64 (N, 4) array to
    /// write them into (no allocation; it is returned). The GIL is released while it runs.
    /// `dt`, when given, must equal the filter's (the VQF coefficients are computed for it).
    #[pyo3(signature = (gyr, acc, mag = None, dt = None, out = None))]
    fn update_batch<'py>(
        &self,
        py: Python<'py>,
        gyr: &Bound<'py, PyAny>,
        acc: &Bound<'py, PyAny>,
        mag: Option<&Bound<'py, PyAny>>,
        dt: Option<f64>,
        out: Option<Bound<'py, PyArray2<f64>>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let g = floats::<f64>(gyr, "gyr")?;
        g.expect("gyr", &[None, Some(3)], "(N, 3)")?;
        let n = g.shape[0];
        let a = floats::<f64>(acc, "acc")?;
        a.expect("acc", &[Some(n), Some(3)], &format!("({n}, 3) like gyr"))?;
        let m = mag.map(|m| floats::<f64>(m, "mag")).transpose()?;
        if let Some(m) = &m {
            m.expect("mag", &[Some(n), Some(3)], &format!("({n}, 3) like gyr"))?;
        }
        if let Some(dt) = dt {
            let have = self.dt();
            if (dt - have).abs() > 1e-9 * have {
                return Err(value_err(format!(
                    "dt: {dt} s differs from the filter's {have} s (make a filter for this rate)"
                )));
            }
        }
        let out = match out {
            Some(o) => {
                if o.shape() != [n, 4] {
                    return Err(value_err(format!(
                        "out: shape {:?}, expected ({n}, 4)",
                        o.shape()
                    )));
                }
                if !o.is_c_contiguous() {
                    return Err(type_err("out: must be C-contiguous"));
                }
                o
            }
            None => PyArray2::<f64>::zeros(py, [n, 4], false),
        };
        {
            let mut w = out
                .try_readwrite()
                .map_err(|e| value_err(format!("out: {e}")))?;
            let q = w
                .as_slice_mut()
                .map_err(|e| type_err(format!("out: {e}")))?;
            let (gs, as_, ms) = (g.as_slice(), a.as_slice(), m.as_ref().map(|m| m.as_slice()));
            let inner = &self.inner;
            py.detach(move || {
                let mut st = lock(inner);
                for i in 0..n {
                    let v = |s: &[f64]| [s[3 * i], s[3 * i + 1], s[3 * i + 2]];
                    let o = st.step(v(gs), v(as_), ms.map(v));
                    q[4 * i..4 * i + 4].copy_from_slice(&o);
                }
            });
        }
        Ok(out)
    }

    /// The latest estimate's state: gyro bias (rad/s), rest, magnetic disturbance, whether the
    /// heading is referenced to the magnetometer, and the filter's input counters.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = lock(&self.inner);
        let e = g.f.estimate();
        let d = PyDict::new(py);
        d.set_item("orientation", e.orientation.to_vec())?;
        d.set_item("gyro_bias", e.gyro_bias.to_vec())?;
        d.set_item("at_rest", e.at_rest)?;
        d.set_item("mag_disturbed", e.mag_disturbed)?;
        d.set_item("heading_from_mag", e.heading_from_mag)?;
        d.set_item("initialised", e.initialised)?;
        let c = &g.f.counters;
        d.set_item("counters", format!("{c:?}"))?;
        Ok(d)
    }
}

/// Loads a BROAD trial converted to CSV (the loader of `sattva bench fusion`): a dict of
/// float64 arrays `t` (N,), `gyr`, `acc`, `mag` (N, 3), `truth` (N, 4, w first, NaN where the
/// motion capture had none) and bool `score` (N,) (BROAD's `movement` mask).
#[pyfunction]
pub fn load_broad_csv<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let tr = py
        .detach(|| bench::load_broad_csv(&path))
        .map_err(rust_err)?;
    let n = tr.len();
    let flat3 = |v: &[[f64; 3]]| v.iter().flatten().copied().collect::<Vec<f64>>();
    let arr = |v: Vec<f64>, w: usize| -> PyResult<Bound<'py, PyArray2<f64>>> {
        v.into_pyarray(py)
            .reshape([n, w])
            .map_err(|e| value_err(e.to_string()))
    };
    let d = PyDict::new(py);
    d.set_item("name", &tr.name)?;
    d.set_item("t", tr.t.clone().into_pyarray(py))?;
    d.set_item("gyr", arr(flat3(&tr.gyr), 3)?)?;
    d.set_item("acc", arr(flat3(&tr.acc), 3)?)?;
    if let Some(m) = &tr.mag {
        d.set_item("mag", arr(flat3(m), 3)?)?;
    }
    let truth: Vec<f64> = tr.truth.iter().flatten().copied().collect();
    d.set_item("truth", arr(truth, 4)?)?;
    d.set_item("score", tr.score.clone().into_pyarray(py))?;
    Ok(d)
}

/// BROAD's error metric (the one `sattva bench fusion` reports, same code): RMSE in degrees of
/// `est` (N, 4) against `truth` (N, 4) over rows where `score` is set, after removing the
/// constant heading offset. Returns `{"total", "heading", "inclination", "heading_offset",
/// "rows"}`.
#[pyfunction]
pub fn orientation_rmse<'py>(
    py: Python<'py>,
    est: &Bound<'py, PyAny>,
    truth: &Bound<'py, PyAny>,
    score: Vec<bool>,
) -> PyResult<Bound<'py, PyDict>> {
    let q4 = |o: &Bound<'py, PyAny>, name: &str| -> PyResult<Vec<[f64; 4]>> {
        let a = floats::<f64>(o, name)?;
        a.expect(
            name,
            &[Some(score.len()), Some(4)],
            "(N, 4) with N = len(score)",
        )?;
        Ok(a.as_slice()
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect())
    };
    let (e, t) = (q4(est, "est")?, q4(truth, "truth")?);
    let r = bench::orientation_rmse(&e, &t, &score);
    let d = PyDict::new(py);
    d.set_item("total", r.total)?;
    d.set_item("heading", r.heading)?;
    d.set_item("inclination", r.inclination)?;
    d.set_item("heading_offset", r.heading_offset)?;
    d.set_item("rows", r.rows)?;
    Ok(d)
}
