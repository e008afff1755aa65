//! `sattva run --fast`: the control and learn tasks under the virtual-time executor are
//! deterministic end to end: the same seed gives the same learning counters and a byte-identical
//! substrate snapshot; another seed gives a different one.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The learning line of `sattva run --fast` (vision off).
fn run(seed: u64, snap: &Path) -> String {
    let text = run_with(seed, snap, &[]);
    text.lines()
        .find(|l| l.starts_with("learning:"))
        .unwrap_or_else(|| panic!("no learning line:\n{text}"))
        .to_string()
}

/// The summary of `sattva run --fast` with `extra` arguments.
fn run_with(seed: u64, snap: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["run", "--fast", "--no-ros", "--duration", "20", "-c"])
        .arg(root().join("config/sim.yaml"))
        .args(["-p", &format!("seed={seed}")])
        .args(["-p", "learn.calibration_windows=5"])
        .args(["-p", &format!("learn.snapshot={}", snap.display())])
        .args(extra)
        .env("RUST_LOG", "warn")
        .output()
        .expect("sattva run");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn same_seed_same_attractors_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.snap"),
        dir.path().join("b.snap"),
        dir.path().join("c.snap"),
    );
    let la = run(5, &a);
    let lb = run(5, &b);
    let lc = run(6, &c);
    println!("seed 5: {la}\nseed 5: {lb}\nseed 6: {lc}");
    assert!(la.contains("(5 calibration"), "{la}");
    assert_eq!(la, lb);
    let (fa, fb, fc) = (
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        std::fs::read(&c).unwrap(),
    );
    assert!(fa.len() > 1000);
    assert!(fa == fb, "same seed: snapshots differ");
    assert!(fa != fc, "different seeds: identical snapshots");
    // and the snapshot is a valid substrate holding what the summary says
    let (s, _) = sattva::substrate::Substrate::load(&a).unwrap();
    assert!(
        la.contains(&format!(", {} attractors (", s.len())),
        "{la} vs {}",
        s.len()
    );
}

/// With the vision task on (MuJoCo renders at 10 Hz in virtual time), frames reach the control
/// task, their descriptor joins the experiences, and the run is still deterministic.
#[cfg(feature = "render")]
#[test]
fn vision_task_in_run_is_deterministic_and_feeds_learning() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.snap"),
        dir.path().join("b.snap"),
        dir.path().join("novis.snap"),
    );
    let vis = ["-p", "vision.enabled=true", "-p", "vision.rate_hz=10"];
    let sa = run_with(5, &a, &vis);
    let sb = run_with(5, &b, &vis);
    println!("{sa}");
    let frames = |s: &str| -> u64 {
        s.lines()
            .find_map(|l| l.strip_prefix("vision: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no vision line:\n{s}"))
    };
    // 20 s at 10 Hz: ~200 renders, each handed to the control task
    assert!((180..=201).contains(&frames(&sa)), "{sa}");
    assert_eq!(frames(&sa), frames(&sb));
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "same seed, vision on: snapshots differ"
    );
    // the visual modality changes what is learned (same seed, vision off)
    run_with(5, &c, &[]);
    assert!(
        std::fs::read(&a).unwrap() != std::fs::read(&c).unwrap(),
        "vision changed nothing"
    );
}
