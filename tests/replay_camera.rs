//! Camera topics in replay and `sattva bag info`, against bags written and read by `rosbags`
//! (tests/ros/camera_bag.py): colour as raw `Image` (sqlite3) or JPEG `CompressedImage` (MCAP),
//! depth `16UC1`, `CameraInfo`, IMU at 200 Hz. Needs the project's venv (CI provides it).

use std::path::{Path, PathBuf};
use std::process::Command;

use sattva::config::Config;
use sattva::replay::baginfo::BagInfo;
use sattva::replay::run::run_replay;

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn py(args: &[&str]) -> serde_json::Value {
    let python = std::env::var_os("SATTVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("third_party/venv/bin/python"));
    let out = Command::new(python)
        .arg(root().join("tests/ros/camera_bag.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "camera_bag.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `bag info`'s figures equal rosbags' reading of the same bag.
fn assert_info_matches(bag: &Path, rosbags: &serde_json::Value) {
    let info = BagInfo::read(bag).unwrap();
    println!("{info}");
    assert_eq!(info.messages, rosbags["count"].as_u64().unwrap(), "{bag:?}");
    let (a, b) = info.time_range.expect("messages");
    assert_eq!(a, rosbags["start"].as_i64().unwrap(), "{bag:?} start");
    // rosbags reports the end one nanosecond past the last message
    assert_eq!(b + 1, rosbags["end"].as_i64().unwrap(), "{bag:?} end");
    let topics = rosbags["topics"].as_object().unwrap();
    assert_eq!(info.topics.len(), topics.len(), "{bag:?}");
    for t in &info.topics {
        let r = &topics[&t.name];
        assert_eq!(t.type_name, r[0].as_str().unwrap(), "{}", t.name);
        assert_eq!(t.count, r[1].as_u64().unwrap(), "{}", t.name);
        assert_eq!(t.serialization_format, "cdr");
    }
}

#[test]
fn bag_info_matches_rosbags() {
    let tmp = tempfile::tempdir().unwrap();
    for (storage, color) in [("mcap", "jpeg"), ("sqlite3", "raw")] {
        let dir = tmp.path().join(format!("{storage}_{color}"));
        let r = py(&[dir.to_str().unwrap(), storage, color, "1"]);
        assert_info_matches(&dir, &r);
    }
    for b in [
        "mcap_talker",
        "sqlite3_talker",
        "mcap_cdr_test",
        "sqlite3_cdr_test",
    ] {
        let p = common::shared_data_path(&format!("bags/{b}"));
        let r = py(&["read", p.to_str().unwrap()]);
        assert_info_matches(&p, &r);
    }
}

fn cfg(image_topic: &str, vision: bool) -> Config {
    let yaml = format!(
        "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 3\n    control:\n      period_ns: 2000000\n    \
         replay:\n      image_topic: {image_topic}\n    vision:\n      enabled: {vision}\n      rate_hz: 10.0\n      cleanup: rust\n      descriptor: rust\n"
    );
    Config::from_yaml_str(&yaml, Path::new("replay.yaml"), &[]).unwrap()
}

#[test]
fn camera_bags_replay_with_vision_deterministically() {
    let tmp = tempfile::tempdir().unwrap();
    for (storage, color, topic) in [
        ("mcap", "jpeg", "/camera/color/image_raw/compressed"),
        ("sqlite3", "raw", "/camera/color/image_raw"),
    ] {
        let dir = tmp.path().join(format!("{storage}_{color}"));
        py(&[dir.to_str().unwrap(), storage, color, "3"]);
        let c = cfg(topic, true);
        let r1 = run_replay(&c, Some(&dir), false).unwrap();
        println!("{storage}/{color}:\n{r1}");
        let v = r1.vision.expect("vision ran");
        assert_eq!(v.decode_errors, 0, "{storage}/{color}");
        // 3 s of bag at 10 Hz: one new camera frame per vision job (the camera runs at 30 Hz)
        assert!((28..=31).contains(&v.frames), "{storage}/{color}: {v:?}");
        assert!(v.results >= v.frames - 2, "{storage}/{color}: {v:?}");
        let r2 = run_replay(&c, Some(&dir), false).unwrap();
        assert_eq!(r1.fingerprint, r2.fingerprint, "{storage}/{color}");
        assert_eq!(r1.vision, r2.vision);
        // without vision the same bag replays too, and no frame is taken
        let r0 = run_replay(&cfg(topic, false), Some(&dir), false).unwrap();
        assert!(r0.vision.is_none());
        assert_eq!(r0.cycles, r1.cycles);
    }
}
