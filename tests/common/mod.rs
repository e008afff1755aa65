//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A file of the real data set: `$SATTVA_DATA_DIR/<sub>/<file>`, else `../shared/data/...` from
/// the project root (or from its parent, for a git worktree one level deeper).
pub fn shared_data(sub: &str, file: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("SATTVA_DATA_DIR") {
        return Path::new(&d).join(sub).join(file);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let near = root.join("../shared/data").join(sub).join(file);
    if near.exists() {
        return near;
    }
    root.join("../../shared/data").join(sub).join(file)
}

/// `shared_data` for a path relative to the data set root, e.g. `bags/mcap_talker`.
pub fn shared_data_path(rel: &str) -> PathBuf {
    let (sub, file) = rel.split_once('/').unwrap_or((rel, ""));
    let p = shared_data(sub, file);
    assert!(p.exists(), "test data {rel} missing: expected at {} (../shared/data beside the checkout, or $SATTVA_DATA_DIR)", p.display());
    p
}
pub mod http;
#[cfg(feature = "realsense")]
pub mod realsense;
pub mod ros;
pub mod timing;

/// Reports a test (or part of one) that did not run because of the build's features or the
/// environment: one line `SKIPPED: <test>: <reason>` on stdout, which `scripts/test.sh` rejects
/// in the full-feature run.
/// Written to the process's stderr handle, not through `println!`: the test harness captures
/// the print macros of passing tests, and a skip must show in the run's output.
pub fn skipped(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {reason}");
}
