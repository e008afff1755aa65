//! `sattva.Encoder`: the experience encoder the agent's learner uses, built from a config file
//! (`sattva::learn::encoder_for`: the `encode:` section, the course profiles, the vision
//! descriptor when `vision.enabled`).

use std::path::PathBuf;
use std::sync::Mutex;

use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use sattva::config::Config;
use sattva::encode::{Encoder as Core, Layout};
use sattva::fusion::{DepthGrid, FusedState, MAX_DEPTH_CELLS};
use sattva::types::{Command, CommandMode, Time, MAX_CONTACTS, MAX_JOINTS};

use crate::input::floats;
use crate::{lock, rust_err, type_err, value_err};

struct State {
    enc: Core,
    layout: Layout,
    /// Extra modalities (after the built-in ones): name and length.
    extra: Vec<(String, usize)>,
    /// Zeros for extra modalities not passed.
    zeros: Vec<f32>,
}

/// The experience encoder of the agent: `(state before, command, state after)` -> a unit
/// vector of `dim` floats, the substrate's input.
///
/// `Encoder(config, joints, contacts=0, depth_cells=0, overrides=())`: `config` is a sattva
/// config file (`config/sim.yaml`; `overrides` as `-p key.path=value`), the layout the robot's
/// channel counts. The running per-feature normalisation learns only when `update_stats=True`
/// is passed to `encode` (the agent's calibration windows).
///
/// Thread safety: calls on one encoder are serialised by a lock.
#[pyclass(module = "sattva")]
pub struct Encoder {
    inner: Mutex<State>,
}

fn fixed<const N: usize>(
    d: &Bound<'_, PyDict>,
    key: &str,
    what: &str,
) -> PyResult<Option<[f64; N]>> {
    let Some(v) = d.get_item(key)? else {
        return Ok(None);
    };
    let a = floats::<f64>(&v, &format!("{what}[{key:?}]"))?;
    a.expect(&format!("{what}[{key:?}]"), &[Some(N)], &format!("({N},)"))?;
    let mut out = [0.0; N];
    out.copy_from_slice(a.as_slice());
    Ok(Some(out))
}

fn vec_into<const N: usize>(
    d: &Bound<'_, PyDict>,
    key: &str,
    what: &str,
    len: usize,
    out: &mut arrayvec::ArrayVec<f64, N>,
) -> PyResult<()> {
    out.clear();
    let Some(v) = d.get_item(key)? else {
        return Ok(());
    };
    let name = format!("{what}[{key:?}]");
    let a = floats::<f64>(&v, &name)?;
    a.expect(
        &name,
        &[Some(len)],
        &format!("({len},) (the encoder's layout)"),
    )?;
    out.extend(a.as_slice().iter().copied());
    Ok(())
}

const STATE_KEYS: &[&str] = &[
    "t",
    "orientation",
    "angular_velocity",
    "linear_accel",
    "joint_position",
    "joint_velocity",
    "joint_effort",
    "contact_force",
    "depth",
];

fn state(d: &Bound<'_, PyAny>, what: &str, l: &Layout) -> PyResult<FusedState> {
    let d = d.cast::<PyDict>().map_err(|_| {
        type_err(format!(
            "{what}: expected a dict of arrays (keys {STATE_KEYS:?})"
        ))
    })?;
    for k in d.keys() {
        let k: String = k.extract()?;
        if !STATE_KEYS.contains(&k.as_str()) {
            return Err(value_err(format!(
                "{what}: unknown key {k:?} (keys: {STATE_KEYS:?})"
            )));
        }
    }
    let mut s = FusedState::default();
    if let Some(t) = d.get_item("t")? {
        s.t = Time::from_secs_f64(t.extract::<f64>()?);
    }
    if let Some(q) = fixed::<4>(d, "orientation", what)? {
        s.orientation = q;
    }
    if let Some(v) = fixed::<3>(d, "angular_velocity", what)? {
        s.angular_velocity = v;
    }
    if let Some(v) = fixed::<3>(d, "linear_accel", what)? {
        s.linear_accel = v;
    }
    vec_into(d, "joint_position", what, l.joints, &mut s.joint_position)?;
    vec_into(d, "joint_velocity", what, l.joints, &mut s.joint_velocity)?;
    vec_into(d, "joint_effort", what, l.joints, &mut s.joint_effort)?;
    vec_into(d, "contact_force", what, l.contacts, &mut s.contact_force)?;
    if let Some(v) = d.get_item("depth")? {
        let name = format!("{what}[\"depth\"]");
        let a = floats::<f32>(&v, &name)?;
        a.expect(&name, &[None, None], "(rows, cols)")?;
        let (rows, cols) = (a.shape[0], a.shape[1]);
        if rows * cols != l.depth_cells {
            return Err(value_err(format!(
                "{name}: {rows}x{cols} cells, the encoder's layout has depth_cells = {}",
                l.depth_cells
            )));
        }
        let mut g = DepthGrid::new(rows, cols, 0.0);
        g.cells[..rows * cols].copy_from_slice(a.as_slice());
        g.valid_cells = rows * cols;
        s.depth = g;
    }
    Ok(s)
}

fn command(c: &Bound<'_, PyAny>, l: &Layout) -> PyResult<Command> {
    let d = c.cast::<PyDict>().map_err(|_| {
        type_err("command: expected a dict {\"mode\": \"position\" | \"velocity\" | \"effort\" | \"hold\", \"values\": array}")
    })?;
    let mode = match d.get_item("mode")? {
        None => CommandMode::Position,
        Some(m) => match m.extract::<String>()?.as_str() {
            "position" => CommandMode::Position,
            "velocity" => CommandMode::Velocity,
            "effort" => CommandMode::Effort,
            "hold" => CommandMode::Hold,
            other => {
                return Err(value_err(format!(
                    "command[\"mode\"]: {other:?} is not position, velocity, effort or hold"
                )))
            }
        },
    };
    let mut cmd = Command {
        t: Time::ZERO,
        mode,
        values: Default::default(),
    };
    vec_into(d, "values", "command", l.joints, &mut cmd.values)?;
    Ok(cmd)
}

#[pymethods]
impl Encoder {
    #[new]
    #[pyo3(signature = (config, joints, contacts = 0, depth_cells = 0, overrides = Vec::new()))]
    fn new(
        config: PathBuf,
        joints: usize,
        contacts: usize,
        depth_cells: usize,
        overrides: Vec<String>,
    ) -> PyResult<Self> {
        if joints > MAX_JOINTS || contacts > MAX_CONTACTS || depth_cells > MAX_DEPTH_CELLS {
            return Err(value_err(format!(
                "layout: at most {MAX_JOINTS} joints, {MAX_CONTACTS} contacts, {MAX_DEPTH_CELLS} depth cells"
            )));
        }
        let c = Config::load(&config, &overrides).map_err(rust_err)?;
        let visual = if c.vision.enabled {
            c.vision.encoder_weight
        } else {
            0.0
        };
        let layout = Layout {
            joints,
            contacts,
            depth_cells,
        };
        let (enc, _, _) = sattva::learn::encoder_for(&c.encode, layout, c.seed, visual);
        let builtin = Core::new(&c.encode, layout, c.seed).modalities().len();
        let extra: Vec<(String, usize)> = enc.modalities()[builtin..]
            .iter()
            .map(|m| (m.name.to_string(), m.dim))
            .collect();
        let zeros = vec![0.0; extra.iter().map(|e| e.1).max().unwrap_or(0)];
        Ok(Encoder {
            inner: Mutex::new(State {
                enc,
                layout,
                extra,
                zeros,
            }),
        })
    }

    /// Output dimension D (the substrate's `dimensions`).
    #[getter]
    fn dim(&self) -> usize {
        lock(&self.inner).enc.dim()
    }

    /// The modalities in feature order: a list of `(name, features, weight)`; the ones after
    /// the built-in state/command blocks are passed to `encode` in `extra`.
    #[getter]
    fn modalities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let g = lock(&self.inner);
        let l = PyList::empty(py);
        for m in g.enc.modalities() {
            l.append((m.name, m.dim, m.weight))?;
        }
        Ok(l)
    }

    /// Encodes one experience. `before`, `after`: dicts of the fused state (`orientation`
    /// `[w, x, y, z]`, `angular_velocity`, `linear_accel`, `joint_position`, `joint_velocity`,
    /// `joint_effort` (joints,), `contact_force` (contacts,), `depth` (rows, cols), `t` s; missing
    /// keys are the resting defaults); `command`: `{"mode": ..., "values": (joints,)}`;
    /// `extra`: the extra modalities by name (missing ones are zeros, as the agent encodes a
    /// segment without a camera frame). `update_stats`: let the running normalisation learn
    /// from this experience. `out`: a C-contiguous float32 (D,) array to write into (no
    /// allocation; it is returned). Returns the unit vector (float32, (D,)).
    #[pyo3(signature = (before, command, after, extra = None, update_stats = false, out = None))]
    #[allow(clippy::too_many_arguments)]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        before: &Bound<'py, PyAny>,
        command: &Bound<'py, PyAny>,
        after: &Bound<'py, PyAny>,
        extra: Option<&Bound<'py, PyDict>>,
        update_stats: bool,
        out: Option<Bound<'py, PyArray1<f32>>>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mut g = lock(&self.inner);
        let l = g.layout;
        let (b, a) = (state(before, "before", &l)?, state(after, "after", &l)?);
        let cmd = self::command(command, &l)?;
        let mut given = Vec::with_capacity(g.extra.len());
        if let Some(e) = extra {
            for k in e.keys() {
                let k: String = k.extract()?;
                if !g.extra.iter().any(|(n, _)| *n == k) {
                    let names: Vec<&str> = g.extra.iter().map(|e| e.0.as_str()).collect();
                    return Err(value_err(format!(
                        "extra: unknown modality {k:?} (this encoder's: {names:?})"
                    )));
                }
            }
        }
        for (name, len) in &g.extra {
            match extra.map(|e| e.get_item(name)).transpose()?.flatten() {
                Some(v) => {
                    let what = format!("extra[{name:?}]");
                    let a = floats::<f32>(&v, &what)?;
                    a.expect(&what, &[Some(*len)], &format!("({len},)"))?;
                    given.push(Some(a));
                }
                None => given.push(None),
            }
        }
        let dim = g.enc.dim();
        let out = match out {
            Some(o) => {
                if o.shape() != [dim] {
                    return Err(value_err(format!(
                        "out: shape {:?}, expected ({dim},)",
                        o.shape()
                    )));
                }
                o
            }
            None => vec![0.0f32; dim].into_pyarray(py),
        };
        {
            let mut w = out
                .try_readwrite()
                .map_err(|e| value_err(format!("out: {e}")))?;
            let o = w
                .as_slice_mut()
                .map_err(|_| type_err("out: must be C-contiguous"))?;
            let st = &mut *g;
            let slices: Vec<&[f32]> = given
                .iter()
                .zip(&st.extra)
                .map(|(a, (_, len))| a.as_ref().map_or(&st.zeros[..*len], |a| a.as_slice()))
                .collect();
            st.enc.set_learn_stats(update_stats);
            st.enc
                .encode_with(&b, &cmd, &a, &slices, o)
                .map_err(|e| value_err(e.to_string()))?;
        }
        Ok(out)
    }
}
