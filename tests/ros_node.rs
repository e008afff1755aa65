//! The `sattva` ROS 2 node against a real rclpy peer (PyPI ROS 2 wheels from setup, Fast DDS,
//! localhost-only discovery, a ROS_DOMAIN_ID of its own).
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::{domain_id, python, ros_env, KillOnDrop};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn rclpy_peer_sees_topics_params_commands_and_services() {
    let domain = domain_id(1);
    // listener first: rclpy takes a second or two to start
    let mut py = python();
    py.arg(root().join("tests/ros/node_check.py"))
        .args(["imu_override", "99", "25"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut py, &domain);
    let peer = py
        .spawn()
        .expect("start the rclpy peer (did scripts/setup.sh run?)");

    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(["run", "--duration", "40", "--ros-args", "--params-file"])
        .arg(root().join("config/sim.yaml"))
        .args(["-p", "ros.imu_frame_id:=imu_override", "-p", "seed:=99"])
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
