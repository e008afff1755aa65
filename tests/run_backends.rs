//! One pipeline, interchangeable worlds: the same config run with `backend: mujoco`, with
//! `backend: replay` (a bag the MuJoCo run recorded) and, with RealSense support, with
//! `backend: robot` (RealSense playback + a fake ros2_control robot written with rclpy). A real
//! rclpy peer lists what the node publishes: the same topics with the same message types, every
//! one of them carrying data, whatever the backend; and each run learned attractors.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use common::ros::{domain_id, peer_and_agent, start_fake_robot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared config: every backend's section, `backend:` chosen per run by `-p backend:=...`.
fn write_config(dir: &Path) -> PathBuf {
    let sim = std::fs::read_to_string(root().join("config/sim.yaml")).unwrap();
    // sim.yaml's relative paths resolve against its own directory
    let sim = sim.replace("../sim/", &format!("{}/sim/", root().display()));
    let extra = format!(
        "    ros:\n      topics:\n        joint_states: sattva/joint_states\n\
         \x20   learn:\n      window_ms: 200\n      calibration_windows: 3\n      set_period_ms: 200\n\
         \x20   replay:\n      imu_topic: /sattva/imu\n      joint_states_topic: /sattva/joint_states\n\
         \x20   record:\n      dir: {}\n",
        dir.join("bags").display()
    );
    let text = sim.replacen(
        "  ros__parameters:\n",
        &format!("  ros__parameters:\n{extra}"),
        1,
    );
    let p = dir.join("all.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `sattva run` with `args` (real time) while the peer observes; returns topic -> (type,
/// count) and the agent's summary.
fn observe(cfg: &Path, args: &[&str], salt: u32) -> (BTreeMap<String, (String, u64)>, String) {
    observe_in(cfg, args, &domain_id(salt))
}

/// [`observe`] on a given ROS domain (shared with other peers, e.g. a fake robot).
fn observe_in(
    cfg: &Path,
    args: &[&str],
    domain: &str,
) -> (BTreeMap<String, (String, u64)>, String) {
    let mut agent_args: Vec<String> = ["run", "--duration", "12", "-c"].map(String::from).to_vec();
    agent_args.push(cfg.display().to_string());
    agent_args.extend(args.iter().map(|a| a.to_string()));
    let peer_args = ["30", "4"].map(String::from).to_vec();
    // the run ends by itself (duration, or the end of a recording): its summary
    let (report, summary) =
        peer_and_agent("topics_check.py", &peer_args, &agent_args, domain, true);
    let topics = report
        .lines()
        .filter_map(|l| l.strip_prefix("TOPIC "))
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (v[0].to_string(), (v[1].to_string(), v[2].parse().unwrap()))
        })
        .collect();
    (topics, summary)
}

/// Topics every backend publishes with data (`/clock` only exists on simulated clocks).
const PIPELINE_TOPICS: [(&str, &str); 6] = [
    ("/sattva/joint_states", "sensor_msgs/msg/JointState"),
    ("/imu/data", "sensor_msgs/msg/Imu"),
    ("/diagnostics", "diagnostic_msgs/msg/DiagnosticArray"),
    ("/sattva/attractor_events", "sattva_msgs/msg/AttractorEvent"),
    ("/sattva/attractors", "sattva_msgs/msg/AttractorSet"),
    (
        "/sattva/attractor_markers",
        "visualization_msgs/msg/MarkerArray",
    ),
];

fn check_pipeline(name: &str, topics: &BTreeMap<String, (String, u64)>) {
    println!("{name}: {topics:?}");
    for (t, ty) in PIPELINE_TOPICS {
        let (got, n) = topics
            .get(t)
            .unwrap_or_else(|| panic!("{name}: no publisher on {t}: {topics:?}"));
        assert_eq!(got, ty, "{name}: type of {t}");
        assert!(*n > 0, "{name}: no message on {t} in the window");
    }
}

fn types(topics: &BTreeMap<String, (String, u64)>) -> BTreeMap<&str, &str> {
    topics
        .iter()
        .filter(|(t, _)| t.as_str() != "/clock")
        .map(|(t, (ty, _))| (t.as_str(), ty.as_str()))
        .collect()
}

#[test]
fn the_pipeline_above_the_backend_is_the_same_for_mujoco_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    // MuJoCo, recording what the loop consumed
    let (sim, sim_summary) = observe(&cfg, &["-p", "record.enabled=true"], 21);
    check_pipeline("mujoco", &sim);
    let bag = std::fs::read_dir(dir.path().join("bags"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the mujoco run recorded a bag");
    // the same config, replaying that bag
    let (rep, rep_summary) = observe(
        &cfg,
        &[
            "-p",
            "backend=replay",
            "-p",
            &format!("replay.bag={}", bag.display()),
        ],
        22,
    );
    check_pipeline("replay", &rep);
    assert_eq!(types(&sim), types(&rep), "same topics and types");
    for (name, s) in [("mujoco", &sim_summary), ("replay", &rep_summary)] {
        assert_learned(name, s);
    }
}

/// The run's summary says the learn task formed attractors.
fn assert_learned(name: &str, summary: &str) {
    println!("{name}: {summary}");
    let line = summary
        .lines()
        .find(|l| l.starts_with("learning:"))
        .unwrap_or_else(|| panic!("{name}: no learning line in {summary}"));
    let attractors: u64 = line
        .split(", ")
        .find_map(|p| p.strip_suffix(" formed)"))
        .and_then(|p| p.split(" attractors (").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name}: cannot parse {line}"));
    assert!(attractors >= 1, "{name}: {line}");
}

#[cfg(feature = "realsense")]
#[test]
fn the_pipeline_is_the_same_on_realsense_playback_with_a_fake_robot() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let (sim, sim_summary) = observe(&cfg, &[], 31);
    check_pipeline("mujoco", &sim);
    assert_learned("mujoco", &sim_summary);

    let (bag, profile) = common::realsense::record_camera_at_rest(dir.path(), 30.0);
    let domain = domain_id(32);
    let _fake = start_fake_robot(
        "shoulder_yaw,shoulder_pitch,elbow,wrist",
        "0.0,0.3,-0.6,0.2",
        60,
        &domain,
    );
    let robot_args = [
        "-p".to_string(),
        "backend=robot".into(),
        "-p".into(),
        "robot.joint_names=[shoulder_yaw, shoulder_pitch, elbow, wrist]".into(),
        "-p".into(),
        "robot.position_min=[-2.5, -1.5, -2.5, -2.0]".into(),
        "-p".into(),
        "robot.position_max=[2.5, 1.5, 2.5, 2.0]".into(),
        "-p".into(),
        "robot.velocity_max=[2.0, 2.0, 2.0, 2.0]".into(),
        "-p".into(),
        "robot.stale_timeout_ms=200".into(),
        "-p".into(),
        format!("realsense.profile={}", profile.display()),
        "-p".into(),
        format!("realsense.playback={}", bag.display()),
        "-p".into(),
        "ros.publish_clock=false".into(),
    ];
    let args: Vec<&str> = robot_args.iter().map(|s| s.as_str()).collect();
    let (rob, rob_summary) = observe_in(&cfg, &args, &domain);
    check_pipeline("robot", &rob);
    assert!(rob_summary.contains("sattva run (robot)"), "{rob_summary}");
    assert_learned("robot", &rob_summary);
    assert_eq!(types(&sim), types(&rob), "same topics and types");
}
