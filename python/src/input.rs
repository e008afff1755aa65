//! numpy input: float arrays read in place when they already have the Rust type and are
//! C-contiguous, converted (one copy) from the other float type or from a sequence; anything else
//! is a `TypeError` naming the argument and the dtypes accepted.

use numpy::{
    Element, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::{type_err, value_err};

/// The float types the bindings read: `f32` (substrate, encoder) and `f64` (filter).
pub(crate) trait Float: Element + Copy + Send + Sync + 'static {
    /// numpy's name of the type.
    const NAME: &'static str;
    /// The other float type's name.
    const OTHER: &'static str;
    fn from_f32(v: f32) -> Self;
    fn from_f64(v: f64) -> Self;
}

impl Float for f32 {
    const NAME: &'static str = "float32";
    const OTHER: &'static str = "float64";
    fn from_f32(v: f32) -> Self {
        v
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Float for f64 {
    const NAME: &'static str = "float64";
    const OTHER: &'static str = "float32";
    fn from_f32(v: f32) -> Self {
        v as f64
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

enum Data<'py, T: Float> {
    /// The caller's buffer, read in place (no copy).
    Borrowed(PyReadonlyArrayDyn<'py, T>),
    /// A converted copy.
    Owned(Vec<T>),
}

/// A float array taken from Python.
pub(crate) struct Floats<'py, T: Float> {
    data: Data<'py, T>,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl<T: Float> Floats<'_, T> {
    /// The values in C order.
    pub fn as_slice(&self) -> &[T] {
        match &self.data {
            // a borrowed array is C-contiguous (checked when taken)
            Data::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Data::Owned(v) => v,
        }
    }

    /// Checks the shape against `want` (`None` = any length on that axis); `what` describes
    /// the expected form for the message.
    pub fn expect(&self, name: &str, want: &[Option<usize>], what: &str) -> PyResult<()> {
        let ok = self.shape.len() == want.len()
            && self
                .shape
                .iter()
                .zip(want)
                .all(|(&s, w)| w.is_none_or(|w| w == s));
        if ok {
            Ok(())
        } else {
            Err(value_err(format!(
                "{name}: shape {:?}, expected {what}",
                self.shape
            )))
        }
    }
}

/// Reads `obj` (a numpy array, or a sequence numpy can convert) as an array of `T`.
pub(crate) fn floats<'py, T: Float>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Floats<'py, T>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<T>>() {
        let ro = a.readonly();
        let shape = ro.shape().to_vec();
        if ro.is_c_contiguous() {
            return Ok(Floats {
                data: Data::Borrowed(ro),
                shape,
            });
        }
        let v: Vec<T> = ro.as_array().iter().copied().collect();
        return Ok(Floats {
            data: Data::Owned(v),
            shape,
        });
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f32>>() {
        let ro = a.readonly();
        let v = ro.as_array().iter().map(|&x| T::from_f32(x)).collect();
        return Ok(Floats {
            data: Data::Owned(v),
            shape: ro.shape().to_vec(),
        });
    }
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>() {
        let ro = a.readonly();
        let v = ro.as_array().iter().map(|&x| T::from_f64(x)).collect();
        return Ok(Floats {
            data: Data::Owned(v),
            shape: ro.shape().to_vec(),
        });
    }
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        let dt = a.dtype();
        let dtype = dt.str().map(|s| s.to_string()).unwrap_or_default();
        return Err(type_err(format!(
            "{name}: dtype {dtype} is not supported: expected {} (read in place) or {} (converted)",
            T::NAME,
            T::OTHER
        )));
    }
    // a sequence: let numpy convert it (strings, ragged lists... fail here with numpy's message)
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj, T::NAME)).map_err(|e| {
        type_err(format!(
            "{name}: expected a numpy array of {} or {}, got {}: {e}",
            T::NAME,
            T::OTHER,
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let a = arr.cast::<PyArrayDyn<T>>()?;
    let ro = a.readonly();
    let v: Vec<T> = ro.as_array().iter().copied().collect();
    Ok(Floats {
        data: Data::Owned(v),
        shape: ro.shape().to_vec(),
    })
}
