//! The agent records what it consumes and produces: `sattva run --fast` with `record.enabled`
//! writes a rosbag2 bag that the reader (and `sattva replay`) take back with every message.
#![cfg(feature = "mujoco")]

use std::path::PathBuf;
use std::process::Command;

use sattva::replay::reader::Bag;

#[test]
fn run_records_a_bag_that_replays() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["run", "--fast", "--no-ros", "--duration", "1", "-c"])
        .arg(root.join("config/sim.yaml"))
        .args(["-p", "record.enabled:=true", "-p"])
        .arg(format!("record.dir:={}", tmp.path().display()))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let bags: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(bags.len(), 1, "{bags:?}");
    assert!(bags[0].join("metadata.yaml").is_file());
    let b = Bag::open(&bags[0]).unwrap();
    let count = |t: &str| b.messages_on(t).count();
    // 1 s at 500 Hz: one IMU sample, one joint state and one command per cycle
    assert_eq!(count("/sattva/imu"), 500, "{:?}", b.topics);
    assert_eq!(count("/sattva/joint_states"), 500);
    assert_eq!(count("/sattva/command"), 500);
    // and it replays through the pipeline
    let c = sattva::config::Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      imu_topic: /sattva/imu\n      joint_states_topic: /sattva/joint_states\n",
        std::path::Path::new("replay.yaml"),
        &[],
    )
    .unwrap();
    let s = sattva::replay::run::run_replay(&c, Some(&bags[0]), false).unwrap();
    assert_eq!(s.stats.imu_samples, 500);
    assert_eq!(s.stats.joint_samples, 500);
}
