//! The learning side of the `sattva` node against a real rclpy peer: attractor events, the
//! attractor set and its markers, the snapshot and query services; then the snapshot file
//! written through the service loads and holds what was learned.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::peer_checks_agent;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rclpy_peer_sees_attractors_and_uses_the_learning_services() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("run.snap");
    let cfg = root().join("config/sim.yaml").display().to_string();
    let snap_param = format!("learn.snapshot:={}", snap.display());
    let agent: Vec<String> = [
        "run",
        "--duration",
        "60",
        "--ros-args",
        "--params-file",
        &cfg,
        "-p",
        "learn.window_ms:=250",
        "-p",
        "learn.calibration_windows:=4",
        "-p",
        "learn.set_period_ms:=200",
        "-p",
        &snap_param,
    ]
    .map(String::from)
    .to_vec();
    let peer = vec!["60".to_string(), snap.display().to_string()];
    peer_checks_agent("learn_check.py", &peer, &agent, 11);
    // the snapshot the service wrote is a valid, verified substrate with what was learned
    let (s, info) = sattva::substrate::Substrate::load(&snap).expect("snapshot loads");
    assert!(s.len() >= 3, "{} attractors in the snapshot", s.len());
    assert!(info.step >= 3 && s.config().dim == 256);
}
