//! Runs scripts/bench/baselines.py (river DenStream, CluStream, STREAMKMeans, artlib Fuzzy ART,
//! scikit-learn MiniBatchKMeans with the true k) on the exported experience vectors.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::literacy::export_path;
use super::EvalError;

/// The Python interpreter: `$SATTVA_PYTHON`, else `third_party/venv/bin/python` under the
/// current directory, else under the source tree.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SATTVA_PYTHON") {
        return PathBuf::from(p);
    }
    let rel = Path::new("third_party/venv/bin/python");
    if rel.exists() {
        return rel.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The script, relative to the current directory or the source tree.
pub fn script() -> PathBuf {
    let rel = Path::new("scripts/bench/baselines.py");
    if rel.exists() {
        return rel.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the baselines on `dir`'s export with `k` true classes; `sattva_learn_us` (sattva's p99
/// learning time) is printed in sattva's row. Returns the printed table.
pub fn run_baselines(dir: &Path, k: usize, sattva_learn_us: f64) -> Result<String, EvalError> {
    let (py, sc) = (python(), script());
    let out = Command::new(&py)
        .arg(&sc)
        .arg(export_path(dir))
        .arg("--k")
        .arg(k.to_string())
        .arg("--sattva-learn-us")
        .arg(format!("{sattva_learn_us:.3}"))
        .output()
        .map_err(|e| {
            EvalError::Baselines(format!(
                "cannot run {} {}: {e} (set SATTVA_PYTHON to a python with scripts/requirements/baselines.txt installed)",
                py.display(),
                sc.display()
            ))
        })?;
    if !out.status.success() {
        return Err(EvalError::Baselines(format!(
            "{} {} failed ({}; the python needs `pip install -r scripts/requirements/baselines.txt`, or set SATTVA_PYTHON):\n{}",
            py.display(),
            sc.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}
