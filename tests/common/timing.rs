//! One timing-sensitive test at a time, across every test binary of the crate.
//!
//! Cargo runs the tests of one binary on parallel threads, and CI (`cargo test`) runs the
//! binaries one after another, but a developer's `cargo test -- --test-threads=N`, `cargo
//! nextest` or two `cargo test` invocations run them side by side. Tests that pin workers to a
//! core, run a real-time loop against a wall-clock period or count jobs over a wall-clock window
//! take this lock first: an exclusive `flock` on a file in cargo's per-package scratch directory
//! (`CARGO_TARGET_TMPDIR`, shared by all integration-test binaries). `flock` locks belong to the
//! open file description, so two threads of one binary exclude each other too. The lock is
//! released when the guard drops, also when the test panics or the process dies.

use std::fs::File;
use std::path::PathBuf;

/// Held for the duration of a timing-sensitive test.
pub struct TimingGuard {
    _file: File,
}

/// The lock file shared by all test binaries of this package.
fn lock_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sattva-timing-tests.lock")
}

/// Blocks until no other timing-sensitive test (of any test binary) runs, then returns the
/// guard that keeps them out until it drops.
pub fn serial() -> TimingGuard {
    let path = lock_path();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("timing lock {}: {e}", path.display()));
    // `File::lock` is std since 1.89; the toolchain is 1.95 (scripts/lib.sh insists on it), but
    // Cargo.toml's `rust-version` still says 1.85 and raising it turns on newer lints across the
    // tree, which is not this change's business.
    #[allow(clippy::incompatible_msrv)]
    file.lock()
        .unwrap_or_else(|e| panic!("timing lock {}: {e}", path.display()));
    TimingGuard { _file: file }
}

/// Polls `done` every millisecond until it holds; panics naming `what` after `limit`. Tests
/// wait for the count of jobs or events they need instead of sleeping a fixed time and hoping
/// the machine kept up: the limit only bounds a hang, it is not a latency claim.
pub fn wait_until(what: &str, limit: std::time::Duration, mut done: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !done() {
        assert!(t0.elapsed() < limit, "{what}: not reached within {limit:?}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
