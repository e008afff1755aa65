//! The `sattva` ROS 2 node against a real rclpy peer (PyPI ROS 2 wheels from setup, Fast DDS,
//! localhost-only discovery, a ROS_DOMAIN_ID of its own).
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::{domain_id, peer_checks_agent, ros_env};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rclpy_peer_sees_topics_params_commands_and_services() {
    let cfg = root().join("config/sim.yaml").display().to_string();
    let agent: Vec<String> = [
        "run",
        "--duration",
        "40",
        "--ros-args",
        "--params-file",
        &cfg,
        "-p",
        "ros.imu_frame_id:=imu_override",
        "-p",
        "seed:=99",
    ]
    .map(String::from)
    .to_vec();
    let peer = ["imu_override", "99", "25"].map(String::from).to_vec();
    let started = Instant::now();
    peer_checks_agent("node_check.py", &peer, &agent, 1);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn bad_params_on_the_ros_command_line_name_the_key() {
    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(["run", "--duration", "1", "--ros-args", "--params-file"])
        .arg(root().join("config/sim.yaml"))
        .args(["-p", "ros.queue_capacity:=1"]);
    ros_env(&mut agent, &domain_id(2));
    let out = agent.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sattva.ros__parameters.ros.queue_capacity"),
        "{err}"
    );
}
