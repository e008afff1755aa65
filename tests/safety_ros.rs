//! Safety is not per mode: the clamp applies wherever the agent commands a joint, proven through
//! the interface an operator uses. `sattva run` with its ROS node (real r2r); an rclpy operator
//! switches it to `external` and commands a step:
//! * MuJoCo arm: a 1.2 rad position step never moves a joint faster than
//!   `action.clamp.max_velocity` (4 rad/s in config/sim.yaml; measured from `/joint_states` over
//!   0.1 s windows of its stamps);
//! * MuJoCo Go2 with effort actuators: an effort step of 20 N m is never applied above
//!   `action.clamp.max_effort` (5 N m here: below the motors' own range, so only the clamp can
//!   hold it there);
//! * robot backend (an rclpy fake ros2_control robot following its position controller): the
//!   robot's joints never move faster than `action.clamp.max_velocity` (2 rad/s here, below the
//!   robot profile's own 10 rad/s limit; over 0.2 s windows: the fake ticks at 30 Hz, and an
//!   unclamped step (the profile's 10 rad/s) would show 3.9 rad/s over such a window, the clamped
//!   one 1.93).
//!
//! Each test measures speeds against wall-clock stamps of real-time peers (an agent, an rclpy
//! operator, the fake robot): they take the timing lock (`common::timing`), so no other
//! timing-sensitive test - nor each other - loads the 2 cores meanwhile (four agents with their
//! Python peers at once stalled the fake robot, whose caught-up ticks then showed 2.32 rad/s).
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use std::path::PathBuf;

use common::ros::{domain_id, peer_and_agent, start_fake_robot};
use common::timing;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The operator's JSON report.
fn result(report: &str) -> serde_json::Value {
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix("RESULT OK "))
        .unwrap_or_else(|| panic!("no result in {report}"));
    serde_json::from_str(line).unwrap()
}

#[test]
fn a_position_step_on_the_mujoco_arm_respects_the_velocity_limit() {
    let _serial = timing::serial();
    let cfg = root().join("config/sim.yaml");
    let (report, summary) = peer_and_agent(
        "operator_step.py",
        &strings(&["/joint_states", "position", "1.2", "2.5", "0.1"]),
        &strings(&["run", "-c", cfg.to_str().unwrap(), "--duration", "9"]),
        &domain_id(41),
        true,
    );
    let r = result(&report);
    let (speed, moved) = (
        r["max_speed"].as_f64().unwrap(),
        r["moved"].as_f64().unwrap(),
    );
    println!("arm: max joint speed {speed:.3} rad/s (limit 4.0), moved {moved:.3} rad\n{summary}");
    assert!(moved > 0.6, "the step must move the arm: {moved}");
    assert!(
        speed > 2.0,
        "the step should drive a joint near the limit: {speed}"
    );
    assert!(
        speed <= 4.0 * 1.1 + 0.1,
        "joint faster than the clamp allows: {speed} rad/s"
    );
    assert!(summary.contains("rate-limited"), "{summary}");
}

#[test]
fn an_effort_step_on_the_go2_never_exceeds_max_effort() {
    let _serial = timing::serial();
    let cfg = root().join("config/go2.yaml");
    let (report, summary) = peer_and_agent(
        "operator_step.py",
        &strings(&["/joint_states", "effort", "20.0", "2.0", "0.1"]),
        &strings(&[
            "run",
            "-c",
            cfg.to_str().unwrap(),
            "--duration",
            "8",
            "-p",
            "action.clamp.max_effort=5.0",
        ]),
        &domain_id(42),
        true,
    );
    let r = result(&report);
    let effort = r["max_effort"].as_f64().unwrap();
    println!("go2: max |effort| while commanding 20 N m: {effort:.3} (limit 5.0)\n{summary}");
    assert!(
        effort >= 4.5,
        "the effort step must reach the motors: {effort}"
    );
    assert!(effort <= 5.0 + 1e-6, "effort above the clamp: {effort}");
}

#[test]
fn a_position_step_on_the_robot_backend_respects_the_velocity_limit() {
    let _serial = timing::serial();
    let domain = domain_id(43);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("robot.yaml");
    std::fs::write(
        &cfg,
        "sattva:\n  ros__parameters:\n    backend: robot\n    robot:\n      joint_names: [j1, j2, j3, j4, j5, j6]\n      position_min: [-3.0, -3.0, -3.0, -3.0, -3.0, -3.0]\n      position_max: [3.0, 3.0, 3.0, 3.0, 3.0, 3.0]\n      velocity_max: [10.0, 10.0, 10.0, 10.0, 10.0, 10.0]\n      camera: false\n    action:\n      clamp:\n        max_velocity: 2.0\n    ros:\n      topics:\n        joint_states: sattva/joint_states\n",
    )
    .unwrap();
    let _fake = start_fake_robot(
        "j1,j2,j3,j4,j5,j6",
        "0.1,0.2,0.3,-0.1,-0.2,0.0",
        30,
        &domain,
    );
    let (report, summary) = peer_and_agent(
        "operator_step.py",
        &strings(&["/joint_states", "position", "1.2", "2.5", "0.2"]),
        &strings(&["run", "-c", cfg.to_str().unwrap(), "--duration", "10"]),
        &domain,
        true,
    );
    let r = result(&report);
    let (speed, moved) = (
        r["max_speed"].as_f64().unwrap(),
        r["moved"].as_f64().unwrap(),
    );
    println!(
        "robot: max joint speed {speed:.3} rad/s (limit 2.0), moved {moved:.3} rad\n{summary}"
    );
    assert!(moved > 0.8, "the step must move the robot: {moved}");
    assert!(
        speed > 1.0,
        "the step should drive a joint near the limit: {speed}"
    );
    assert!(
        speed <= 2.0 * 1.1 + 0.1,
        "robot joint faster than the clamp allows: {speed} rad/s"
    );
}

#[test]
fn an_unstable_simulation_is_a_fault_on_diagnostics_and_the_robot_holds() {
    let cfg = root().join("sim/test/unstable_arm.yaml");
    let (report, summary) = peer_and_agent(
        "diag_fault_check.py",
        &strings(&["20"]),
        &strings(&["run", "-c", cfg.to_str().unwrap(), "--duration", "4"]),
        &domain_id(44),
        true,
    );
    let r = result(&report);
    println!("{r}\n{summary}");
    assert_eq!(r["level"], 2, "{r}");
    assert!(r["message"].as_str().unwrap().contains("safe state"), "{r}");
    assert!(summary.contains("backend faults: 1 fatal"), "{summary}");
}
