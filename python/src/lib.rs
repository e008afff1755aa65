//! Python bindings of sattva (module `sattva._sattva`, re-exported by the `sattva` package).
//!
//! The classes wrap the Rust types the agent runs, unchanged: [`substrate::Substrate`] the
//! attractor substrate and its snapshots, [`encoder::Encoder`] the experience encoder built from
//! a config file, [`bag::Bag`] the rosbag2 reader, [`filter::OrientationFilter`] the VQF-style
//! orientation filter. numpy arrays in and out; errors become Python exceptions carrying the Rust
//! message; long calls release the GIL.
//!
//! Thread safety: every class keeps its Rust state behind a `Mutex`, so one object may be used
//! from several Python threads (calls on one object run one at a time; calls on different
//! objects run in parallel while the GIL is released).

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;

mod bag;
mod encoder;
mod filter;
mod input;
mod substrate;

create_exception!(
    _sattva,
    SattvaError,
    PyException,
    "An error of the Rust side (snapshot, bag, config file); the message is the Rust one."
);

/// A Rust error as a [`SattvaError`] with its message (and its sources').
pub(crate) fn rust_err(e: impl std::error::Error) -> PyErr {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    SattvaError::new_err(msg)
}

/// A `ValueError` with `msg`.
pub(crate) fn value_err(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}

/// A `TypeError` with `msg`.
pub(crate) fn type_err(msg: impl Into<String>) -> PyErr {
    PyTypeError::new_err(msg.into())
}

/// Locks `m`; a mutex poisoned by a panic on another thread is still usable (every method
/// leaves the Rust state consistent before it can panic).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The extension module.
#[pymodule]
fn _sattva(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SattvaError", m.py().get_type::<SattvaError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<substrate::Substrate>()?;
    m.add_class::<substrate::Learned>()?;
    m.add_class::<substrate::Match>()?;
    m.add_class::<substrate::Attractors>()?;
    m.add_class::<encoder::Encoder>()?;
    m.add_class::<bag::Bag>()?;
    m.add_class::<bag::Message>()?;
    m.add_class::<bag::MessageIter>()?;
    m.add_class::<filter::OrientationFilter>()?;
    m.add_function(wrap_pyfunction!(filter::load_broad_csv, m)?)?;
    m.add_function(wrap_pyfunction!(filter::orientation_rmse, m)?)?;
    Ok(())
}
