//! The learning side of the `sattva` node against a real rclpy peer: attractor events, the
//! attractor set and its markers, the snapshot and query services; then the snapshot file
//! written through the service loads and holds what was learned.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::{domain_id, python, ros_env, KillOnDrop};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rclpy_peer_sees_attractors_and_uses_the_learning_services() {
    let domain = domain_id(11);
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("run.snap");
    let mut py = python();
    py.arg(root().join("tests/ros/learn_check.py"))
        .arg("60")
        .arg(&snap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut py, &domain);
    let peer = py
        .spawn()
        .expect("start the rclpy peer (did scripts/setup.sh run?)");

    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(["run", "--duration", "60", "--ros-args", "--params-file"])
        .arg(root().join("config/sim.yaml"))
        .args([
            "-p",
            "learn.window_ms:=250",
            "-p",
            "learn.calibration_windows:=4",
            "-p",
            "learn.set_period_ms:=200",
            "-p",
        ])
        .arg(format!("learn.snapshot:={}", snap.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut agent, &domain);
    let agent = KillOnDrop(agent.spawn().expect("start sattva run"));

    let started = Instant::now();
    let out = peer.wait_with_output().expect("peer output");
    let report = String::from_utf8_lossy(&out.stdout);
    let peer_err = String::from_utf8_lossy(&out.stderr);
    drop(agent);
    println!("{report}");
    assert!(
        out.status.success() && report.contains("RESULT OK"),
        "rclpy peer failed after {:?}:\n{report}\n{peer_err}",
        started.elapsed()
    );
    // the snapshot the service wrote is a valid, verified substrate with what was learned
    let (s, info) = sattva::substrate::Substrate::load(&snap).expect("snapshot loads");
    assert!(s.len() >= 3, "{} attractors in the snapshot", s.len());
    assert!(info.step >= 3 && s.config().dim == 256);
}
