//! `sattva.Substrate`: the agent's attractor substrate (`sattva::substrate::Substrate`).

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use sattva::substrate::{AttractorId, Substrate as Core, SubstrateConfig, SubstrateError};
use sattva::types::Time;

use crate::input::floats;
use crate::{lock, rust_err, value_err};

/// A 1-D numpy array handed to Python.
type A1<'py, T> = Bound<'py, PyArray1<T>>;

/// The Rust substrate and the time the Python side is at.
struct State {
    s: Core,
    /// Time of the last call (strength decay runs on this clock; see `t=` arguments).
    t: Time,
}

impl State {
    /// Advances the clock to `t` seconds when given (never backwards: an earlier `t` is an
    /// error naming both times).
    fn at(&mut self, t: Option<f64>) -> PyResult<Time> {
        if let Some(s) = t {
            if !s.is_finite() {
                return Err(value_err(format!("t: {s} is not a finite time in seconds")));
            }
            let nt = Time::from_secs_f64(s);
            if nt < self.t {
                return Err(value_err(format!(
                    "t: {s} s is before the substrate's current time {} s",
                    self.t.as_secs_f64()
                )));
            }
            self.t = nt;
        }
        Ok(self.t)
    }

    /// Like `Learner::recall`: context reset, activate, the best-similarity match.
    fn recall(&mut self, x: &[f32]) -> Result<(i64, f32), SubstrateError> {
        self.s.reset_context();
        let m = self.s.activate(self.t, x)?;
        Ok(m.iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .map_or((-1, 0.0), |m| (m.id.0 as i64, m.similarity)))
    }
}

fn input_err(e: SubstrateError, row: Option<usize>) -> PyErr {
    match e {
        SubstrateError::Dim { .. }
        | SubstrateError::NotFinite { .. }
        | SubstrateError::ZeroNorm => match row {
            Some(r) => value_err(format!("row {r}: {e}")),
            None => value_err(e.to_string()),
        },
        e => rust_err(e),
    }
}

/// Checks every row of a batch before any is learned, so a bad row changes nothing.
fn check_rows(x: &[f32], dim: usize) -> PyResult<()> {
    for (r, row) in x.chunks_exact(dim).enumerate() {
        if let Some((i, v)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(value_err(format!(
                "row {r}: experience value [{i}] is not finite ({v})"
            )));
        }
        if row.iter().all(|&v| v == 0.0) {
            return Err(value_err(format!("row {r}: experience has zero norm")));
        }
    }
    Ok(())
}

/// The attractor substrate the agent learns with: experiences (vectors of `dimensions` floats,
/// normalised on input) form attractors online, are recalled by resonance, and are saved as the
/// same snapshot files `sattva sim` / `sattva run` write.
///
/// `Substrate(dimensions=256, **config)`: `config` keys are the `substrate:` section of the
/// agent's config (e.g. `vigilance=0.8`, `capacity=10000`, `index={"ef_search": 128}`); unknown
/// keys and out-of-range values raise `ValueError` naming them.
///
/// Time: strengths decay with `strength_half_life_s` on the substrate's own clock, which only
/// moves when a call passes `t=` (seconds, never backwards); without `t` nothing decays.
///
/// Thread safety: calls on one substrate are serialised by a lock; `learn_batch`,
/// `recall_batch`, `save` and `load` release the GIL.
#[pyclass(module = "sattva")]
pub struct Substrate {
    inner: Mutex<State>,
}

/// What `Substrate.learn` did.
#[pyclass(module = "sattva", frozen, get_all)]
#[derive(Clone)]
pub struct Learned {
    /// The attractor created or strengthened.
    pub id: i64,
    /// True when a new attractor was created (False: an existing one was strengthened).
    pub created: bool,
    /// Cosine similarity to the nearest attractor before learning (-1 when there was none).
    pub similarity: f32,
    /// The attractor merged into `id` by this step (its id is free now), or None.
    pub merged: Option<i64>,
    /// The attractor evicted to make room (at capacity), or None.
    pub evicted: Option<i64>,
}

#[pymethods]
impl Learned {
    fn __repr__(&self) -> String {
        let py_opt = |o: Option<i64>| o.map_or("None".to_string(), |v| v.to_string());
        format!(
            "Learned(id={}, created={}, similarity={:.4}, merged={}, evicted={})",
            self.id,
            if self.created { "True" } else { "False" },
            self.similarity,
            py_opt(self.merged),
            py_opt(self.evicted)
        )
    }
}

/// One attractor returned by `Substrate.activate`.
#[pyclass(module = "sattva", frozen, get_all)]
#[derive(Clone)]
pub struct Match {
    /// Attractor id.
    pub id: i64,
    /// Cosine similarity of its center to the pattern.
    pub similarity: f32,
    /// Activation after resonance (the winner has 1.0).
    pub activation: f32,
    /// Strength (decayed to the substrate's time).
    pub strength: f32,
    /// Labels attached with `add_label` (the agent attaches the primitive's name).
    pub labels: Vec<String>,
}

#[pymethods]
impl Match {
    /// The first label, or None.
    #[getter]
    fn label(&self) -> Option<String> {
        self.labels.first().cloned()
    }

    fn __repr__(&self) -> String {
        format!(
            "Match(id={}, similarity={:.4}, activation={:.4}, strength={:.3}, labels={:?})",
            self.id, self.similarity, self.activation, self.strength, self.labels
        )
    }
}

/// All live attractors at one moment, as arrays (copies: the substrate keeps learning).
#[pyclass(module = "sattva", frozen, get_all)]
pub struct Attractors {
    /// Ids, ascending (int64, shape (n,)).
    pub ids: Py<PyArray1<i64>>,
    /// Unit-length centers (float32, shape (n, dimensions)), row i belongs to ids[i].
    pub centers: Py<PyArray2<f32>>,
    /// Strengths decayed to the substrate's time (float32, (n,)).
    pub strengths: Py<PyArray1<f32>>,
    /// Experiences absorbed (uint64, (n,)).
    pub counts: Py<PyArray1<u64>>,
    /// Mean `1 - cos` of absorbed experiences to the center (float32, (n,)).
    pub radii: Py<PyArray1<f32>>,
    /// Labels per attractor.
    pub labels: Vec<Vec<String>>,
}

#[pymethods]
impl Attractors {
    fn __len__(&self) -> usize {
        self.labels.len()
    }

    fn __repr__(&self) -> String {
        format!("Attractors(n={})", self.labels.len())
    }
}

fn config_from(
    dimensions: Option<u64>,
    config: Option<&Bound<'_, PyDict>>,
) -> PyResult<SubstrateConfig> {
    let mut cfg: SubstrateConfig = match config {
        Some(d) if !d.is_empty() => {
            if d.contains("dim")? && dimensions.is_some() {
                return Err(value_err(
                    "give the dimension once: `dimensions` or `dim`, not both",
                ));
            }
            pythonize::depythonize(d.as_any())
                .map_err(|e| value_err(format!("invalid substrate config: {e}")))?
        }
        _ => SubstrateConfig::default(),
    };
    if let Some(d) = dimensions {
        cfg.dim = d;
    }
    Ok(cfg)
}

impl Substrate {
    fn wrap(s: Core) -> Substrate {
        Substrate {
            inner: Mutex::new(State { s, t: Time::ZERO }),
        }
    }
}

#[pymethods]
impl Substrate {
    #[new]
    #[pyo3(signature = (dimensions = None, **config))]
    fn new(dimensions: Option<u64>, config: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        // neither `dimensions` nor `dim`: the config's default, 256
        let cfg = config_from(dimensions, config)?;
        let s = Core::new(cfg).map_err(|e| value_err(e.to_string()))?;
        Ok(Self::wrap(s))
    }

    /// Loads a snapshot file written by `save`, `sattva sim`, `sattva run` or
    /// `sattva eval literacy` (checksummed; a damaged file raises SattvaError).
    #[classmethod]
    fn load(_cls: &Bound<'_, PyType>, py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let (s, _) = py.detach(|| Core::load(&path)).map_err(rust_err)?;
        Ok(Self::wrap(s))
    }

    /// Writes a snapshot (atomically: a temporary file renamed). Returns its identity:
    /// `{"hash", "parent", "config_hash"}` (hex) and `step`, `bytes`.
    fn save<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let info = py
            .detach(|| lock(&self.inner).s.save(&path))
            .map_err(rust_err)?;
        let d = PyDict::new(py);
        let hex = |h: &[u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        d.set_item("hash", hex(&info.hash))?;
        d.set_item("parent", hex(&info.parent))?;
        d.set_item("config_hash", hex(&info.config_hash))?;
        d.set_item("step", info.step)?;
        d.set_item("bytes", info.bytes)?;
        Ok(d)
    }

    /// Experience dimension D.
    #[getter]
    fn dimensions(&self) -> usize {
        lock(&self.inner).s.config().dim as usize
    }

    /// The configuration (the `substrate:` section) as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let cfg = lock(&self.inner).s.config().clone();
        pythonize::pythonize(py, &cfg).map_err(|e| value_err(e.to_string()))
    }

    /// Successful `learn` steps so far (kept in snapshots).
    #[getter]
    fn step(&self) -> u64 {
        lock(&self.inner).s.step()
    }

    /// The substrate's clock, seconds (see the class docs).
    #[getter]
    fn time(&self) -> f64 {
        lock(&self.inner).t.as_secs_f64()
    }

    /// Regulation counters: created, strengthened, merged, pruned, evicted.
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = lock(&self.inner).s.counters();
        let d = PyDict::new(py);
        d.set_item("created", c.created)?;
        d.set_item("strengthened", c.strengthened)?;
        d.set_item("merged", c.merged)?;
        d.set_item("pruned", c.pruned)?;
        d.set_item("evicted", c.evicted)?;
        Ok(d)
    }

    fn __len__(&self) -> usize {
        lock(&self.inner).s.len()
    }

    fn __repr__(&self) -> String {
        let g = lock(&self.inner);
        format!(
            "Substrate(dimensions={}, attractors={}, step={})",
            g.s.config().dim,
            g.s.len(),
            g.s.step()
        )
    }

    /// Learns one experience `x` (shape (D,), float32 read in place or float64 converted):
    /// strengthens the nearest attractor when its similarity reaches `vigilance`, else creates
    /// one. `t`: the time in seconds (default: the substrate's current time).
    #[pyo3(signature = (x, t = None))]
    fn learn(&self, x: &Bound<'_, PyAny>, t: Option<f64>) -> PyResult<Learned> {
        let x = floats::<f32>(x, "x")?;
        let mut g = lock(&self.inner);
        let dim = g.s.config().dim as usize;
        x.expect("x", &[Some(dim)], &format!("({dim},)"))?;
        let t = g.at(t)?;
        let l = g.s.learn(t, x.as_slice()).map_err(|e| input_err(e, None))?;
        Ok(Learned {
            id: l.id.0 as i64,
            created: l.created,
            similarity: l.similarity,
            merged: l.merged.map(|m| m.0 as i64),
            evicted: l.evicted.map(|m| m.0 as i64),
        })
    }

    /// Learns the rows of `X` (shape (n, D)) in order, with the GIL released. Every row is
    /// checked first (a bad row raises ValueError naming it, and nothing is learned). Returns
    /// `(ids, created, similarity)`: int64, bool and float32 arrays of length n, as `learn`
    /// would have returned row by row. `maintain_every`: run `maintain(1)` after every that
    /// many rows (0: never; the agent's learn task runs it once per 20 ms job).
    #[pyo3(signature = (x, t = None, maintain_every = 0))]
    fn learn_batch<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        t: Option<f64>,
        maintain_every: usize,
    ) -> PyResult<(A1<'py, i64>, A1<'py, bool>, A1<'py, f32>)> {
        let x = floats::<f32>(x, "x")?;
        let dim = self.dimensions();
        x.expect("x", &[None, Some(dim)], &format!("(n, {dim})"))?;
        let xs = x.as_slice();
        let inner = &self.inner;
        let out = py.detach(move || -> PyResult<_> {
            check_rows(xs, dim)?;
            let mut g = lock(inner);
            let t = g.at(t)?;
            let n = xs.len() / dim.max(1);
            let (mut ids, mut created, mut sim) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for (r, row) in xs.chunks_exact(dim).enumerate() {
                let l = g.s.learn(t, row).map_err(|e| input_err(e, Some(r)))?;
                ids.push(l.id.0 as i64);
                created.push(l.created);
                sim.push(l.similarity);
                if maintain_every > 0 && (r + 1) % maintain_every == 0 {
                    g.s.maintain(1);
                }
            }
            Ok((ids, created, sim))
        })?;
        Ok((
            out.0.into_pyarray(py),
            out.1.into_pyarray(py),
            out.2.into_pyarray(py),
        ))
    }

    /// Recalls the attractors resonating with `x` (shape (D,)): the `k` best matches (at most
    /// the configured `winners`), ranked by activation, each with similarity, strength and
    /// labels. Activation context carries over between calls (the agent's recall);
    /// `reset_context()` forgets it.
    #[pyo3(signature = (x, k = None, t = None))]
    fn activate(
        &self,
        x: &Bound<'_, PyAny>,
        k: Option<usize>,
        t: Option<f64>,
    ) -> PyResult<Vec<Match>> {
        let x = floats::<f32>(x, "x")?;
        let mut g = lock(&self.inner);
        let dim = g.s.config().dim as usize;
        x.expect("x", &[Some(dim)], &format!("({dim},)"))?;
        let t = g.at(t)?;
        let st = &mut *g;
        let m =
            st.s.activate(t, x.as_slice())
                .map_err(|e| input_err(e, None))?;
        let m: Vec<_> = m.iter().take(k.unwrap_or(usize::MAX)).copied().collect();
        Ok(m.into_iter()
            .map(|m| {
                let a = st.s.attractor(m.id, t);
                Match {
                    id: m.id.0 as i64,
                    similarity: m.similarity,
                    activation: m.activation,
                    strength: a.as_ref().map_or(0.0, |a| a.strength),
                    labels: a.map(|a| a.labels.to_vec()).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// The agent's recognition of `x`: activation context reset, then the best-similarity
    /// attractor among the activated ones. Returns `(id, similarity)`, id -1 when empty.
    fn recall(&self, x: &Bound<'_, PyAny>) -> PyResult<(i64, f32)> {
        let x = floats::<f32>(x, "x")?;
        let mut g = lock(&self.inner);
        let dim = g.s.config().dim as usize;
        x.expect("x", &[Some(dim)], &format!("({dim},)"))?;
        g.recall(x.as_slice()).map_err(|e| input_err(e, None))
    }

    /// `recall` for every row of `X` (shape (n, D)), GIL released. Returns `(ids, similarity)`
    /// (int64, float32).
    fn recall_batch<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<(A1<'py, i64>, A1<'py, f32>)> {
        let x = floats::<f32>(x, "x")?;
        let dim = self.dimensions();
        x.expect("x", &[None, Some(dim)], &format!("(n, {dim})"))?;
        let xs = x.as_slice();
        let inner = &self.inner;
        let (ids, sims) = py.detach(move || -> PyResult<_> {
            check_rows(xs, dim)?;
            let mut g = lock(inner);
            let mut ids = Vec::with_capacity(xs.len() / dim.max(1));
            let mut sims = Vec::with_capacity(ids.capacity());
            for (r, row) in xs.chunks_exact(dim).enumerate() {
                let (i, s) = g.recall(row).map_err(|e| input_err(e, Some(r)))?;
                ids.push(i);
                sims.push(s);
            }
            Ok((ids, sims))
        })?;
        Ok((ids.into_pyarray(py), sims.into_pyarray(py)))
    }

    /// Forgets the activation context (the next `activate` starts fresh).
    fn reset_context(&self) {
        lock(&self.inner).s.reset_context();
    }

    /// Does up to `units` of deferred index work (linking new attractors into the graph);
    /// returns the units done. The agent's learn task runs `maintain(1)` once per job.
    #[pyo3(signature = (units = 1))]
    fn maintain(&self, py: Python<'_>, units: usize) -> usize {
        let inner = &self.inner;
        py.detach(move || lock(inner).s.maintain(units))
    }

    /// All live attractors: ids, centers (n, D), strengths, counts, radii, labels (copies).
    #[getter]
    fn attractors(&self, py: Python<'_>) -> PyResult<Attractors> {
        let g = lock(&self.inner);
        let dim = g.s.config().dim as usize;
        let n = g.s.len();
        let (mut ids, mut centers, mut strengths, mut counts, mut radii, mut labels) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n * dim),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for id in g.s.ids() {
            if let Some(a) = g.s.attractor(id, g.t) {
                ids.push(id.0 as i64);
                centers.extend_from_slice(a.center);
                strengths.push(a.strength);
                counts.push(a.activation_count);
                radii.push(a.radius);
                labels.push(a.labels.to_vec());
            }
        }
        drop(g);
        let rows = ids.len();
        let centers = numpy::ndarray::Array2::from_shape_vec((rows, dim), centers)
            .map_err(|e| value_err(e.to_string()))?;
        Ok(Attractors {
            ids: ids.into_pyarray(py).unbind(),
            centers: centers.into_pyarray(py).unbind(),
            strengths: strengths.into_pyarray(py).unbind(),
            counts: counts.into_pyarray(py).unbind(),
            radii: radii.into_pyarray(py).unbind(),
            labels,
        })
    }

    /// Attaches `label` to attractor `id` (saved in snapshots). Raises KeyError when `id` is
    /// not a live attractor.
    fn add_label(&self, id: i64, label: &str) -> PyResult<()> {
        let ok = u32::try_from(id)
            .map(|i| lock(&self.inner).s.add_label(AttractorId(i), label))
            .unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(PyKeyError::new_err(format!(
                "no live attractor with id {id}"
            )))
        }
    }

    /// Weight of the edge `src -> dst` (0 when there is none).
    fn edge_weight(&self, src: u32, dst: u32) -> f32 {
        lock(&self.inner)
            .s
            .edge_weight(AttractorId(src), AttractorId(dst))
    }
}
