//! Operator labels (`sattva/label`) and the `sattva/understand` service of the `sattva` node
//! against a real rclpy peer: labels with no recent experience are refused and counted, labels
//! ground in the most recent experience, empty text and unknown words are error results, and
//! the lexicon written beside the snapshot loads and understands what was labelled.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::peer_checks_agent;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn agent(extra: &[&str]) -> Vec<String> {
    let cfg = root().join("config/sim.yaml").display().to_string();
    let mut a: Vec<String> = [
        "run",
        "--duration",
        "60",
        "--ros-args",
        "--params-file",
        &cfg,
    ]
    .map(String::from)
    .to_vec();
    for p in ["learn.window_ms:=250", "learn.set_period_ms:=200"]
        .iter()
        .chain(extra)
    {
        a.push("-p".into());
        a.push(p.to_string());
    }
    a
}

#[test]
fn labels_without_recent_experience_are_refused_and_counted() {
    // calibration never ends: no experience is ever learned
    let a = agent(&["learn.calibration_windows:=1000000"]);
    peer_checks_agent("language_check.py", &["refuse".into(), "60".into()], &a, 31);
}

#[test]
fn labels_ground_in_recent_experience_and_understand_answers() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("run.snap");
    let snap_param = format!("learn.snapshot:={}", snap.display());
    let a = agent(&["learn.calibration_windows:=4", &snap_param]);
    let peer = vec!["ground".into(), "60".into(), snap.display().to_string()];
    peer_checks_agent("language_check.py", &peer, &a, 37);
    let lex = sattva::language::Lexicon::load(&sattva::language::lexicon_path(&snap))
        .expect("the lexicon beside the snapshot loads (checksum verified)");
    assert!(
        lex.observations() >= 3,
        "{} labels in the lexicon",
        lex.observations()
    );
    let u = lex
        .understand("wave hello", &sattva::language::Context::default(), 3)
        .expect("understood from the file");
    assert!(!u.meanings.is_empty());
}
