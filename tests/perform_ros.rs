//! The `sattva/perform` ROS 2 action against an rclpy `ActionClient`: a substrate learned by
//! `sattva sim` (with action memories) is resumed by `sattva run`; the peer performs a
//! labelled attractor (goal accepted, phase feedback, result), gets clear error results for an
//! unknown word, an empty text and a bad speed, and cancels a performance (the loop holds);
//! an exploration labelled on `sattva/label` is then performed by a word of its label.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::peer_checks_agent;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rclpy_action_client_performs_cancels_and_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("learned.snap");
    let cfg = root().join("config/sim.yaml").display().to_string();
    // learn a few primitives (virtual time): labelled attractors with action memories
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["sim", "-c", &cfg, "--episodes", "24", "--snapshot"])
        .arg(&snap)
        .args(["-p", "eval.calibration_episodes=8"])
        .output()
        .expect("run sattva sim");
    assert!(
        out.status.success(),
        "sattva sim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, _) = sattva::substrate::Substrate::load(&snap).expect("snapshot loads");
    let with_memory = s.ids().filter(|&id| s.action(id).is_some()).count();
    assert!(
        with_memory >= 2,
        "{with_memory} attractors with action memory"
    );
    let resume = format!("learn.resume:={}", snap.display());
    let agent: Vec<String> = [
        "run",
        "--duration",
        "120",
        "--no-summary",
        "--ros-args",
        "--params-file",
        &cfg,
        "-p",
        &resume,
        "-p",
        "learn.calibration_windows:=2",
        "-p",
        "learn.set_period_ms:=200",
    ]
    .map(String::from)
    .to_vec();
    peer_checks_agent("perform_check.py", &["90".to_string()], &agent, 17);
}
