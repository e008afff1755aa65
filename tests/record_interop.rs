//! Interop with the Python ecosystem, message by message:
//! - bags written by `rosbags` (MCAP and sqlite3) and an MCAP written by `mcap-ros2-support`
//!   are read and decoded by sattva with the values the Python side wrote;
//! - bags written by sattva (BagWriter and the queue-fed Recorder) are read back by `rosbags`
//!   and by `mcap` + `mcap-ros2-support` with identical values.
//!
//! Needs the Python venv (scripts/requirements/record.txt): `SATTVA_PYTHON` or
//! `third_party/venv/bin/python`. A missing venv FAILS the test (CI provides it).

use std::path::{Path, PathBuf};
use std::process::Command;

use sattva::record::msgs::{schema_text, AnyMessage};
use sattva::record::{BagWriter, RecordConfig, Recorder, Sample, WriterOptions};
use sattva::replay::Bag;
use sattva::types::{Command as Cmd, CommandMode, Imu, JointSample, JointVec, Time};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let p = std::env::var_os("SATTVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("third_party/venv/bin/python"));
    assert!(
        p.exists(),
        "python venv not found at {} (set SATTVA_PYTHON or run the setup that creates \
         third_party/venv with scripts/requirements/record.txt installed)",
        p.display()
    );
    p
}

fn py(args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(root().join("scripts/bench/bag_interop.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "bag_interop.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

/// Compares every message of `bag` with the Python-side list (same order: log time).
fn assert_same(bag: &Bag, expected: &[Value], what: &str) {
    assert_eq!(bag.messages.len(), expected.len(), "{what}: message count");
    for (i, (m, e)) in bag.messages.iter().zip(expected).enumerate() {
        let topic = &bag.topics[m.topic];
        assert_eq!(
            topic.name,
            e["topic"].as_str().unwrap(),
            "{what} #{i}: topic"
        );
        assert_eq!(
            topic.type_name,
            e["type"].as_str().unwrap(),
            "{what} #{i}: type"
        );
        assert_eq!(
            m.log_time,
            e["log_time"].as_i64().unwrap(),
            "{what} #{i}: log_time"
        );
        let decoded = bag
            .decode(m)
            .unwrap_or_else(|err| panic!("{what} #{i} ({}): {err}", topic.type_name))
            .unwrap_or_else(|| panic!("{what} #{i}: type {} not decoded", topic.type_name));
        let got = serde_json::to_value(&decoded).unwrap();
        assert_eq!(
            got, e["msg"],
            "{what} #{i} on {}: values differ",
            topic.name
        );
    }
}

#[test]
fn bags_written_by_rosbags_read_message_by_message() {
    let tmp = tempfile::tempdir().unwrap();
    for storage in ["mcap", "sqlite3"] {
        let dir = tmp.path().join(format!("rosbags_{storage}"));
        let expected = py(&["write-rosbags", dir.to_str().unwrap(), storage]);
        let expected = expected.as_array().unwrap();
        assert!(expected.len() > 100);
        let bag = Bag::open(&dir).unwrap();
        assert!(bag.warnings.is_empty(), "{storage}: {:?}", bag.warnings);
        assert_eq!(
            bag.metadata.as_ref().unwrap().storage_identifier,
            storage,
            "metadata read"
        );
        assert_same(&bag, expected, &format!("rosbags {storage}"));
    }
}

#[test]
fn zstd_compressed_rosbags_bags_read_message_by_message() {
    let tmp = tempfile::tempdir().unwrap();
    for storage in ["mcap", "sqlite3"] {
        for mode in ["file", "message"] {
            let dir = tmp.path().join(format!("{storage}_{mode}"));
            let expected = py(&["write-rosbags", dir.to_str().unwrap(), storage, mode]);
            let bag = Bag::open(&dir).unwrap();
            assert!(
                bag.warnings.is_empty(),
                "{storage}/{mode}: {:?}",
                bag.warnings
            );
            assert_eq!(
                bag.metadata
                    .as_ref()
                    .unwrap()
                    .compression_mode
                    .to_lowercase(),
                mode
            );
            assert_same(
                &bag,
                expected.as_array().unwrap(),
                &format!("rosbags {storage} zstd {mode}"),
            );
        }
    }
}

#[test]
fn mcap_written_by_mcap_ros2_support_reads_message_by_message() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mcap_ros2");
    std::fs::create_dir(&dir).unwrap();
    let expected = py(&["write-mcap-ros2", dir.join("x.mcap").to_str().unwrap()]);
    let expected = expected.as_array().unwrap();
    // A bare .mcap with no metadata.yaml: the reader scans the directory (and says so).
    let bag = Bag::open(&dir).unwrap();
    assert_eq!(bag.warnings.len(), 1, "{:?}", bag.warnings);
    assert_same(&bag, expected, "mcap-ros2-support");
    for (m, e) in bag.messages.iter().zip(expected) {
        assert_eq!(m.publish_time, e["publish_time"].as_i64().unwrap());
    }
}

/// Writes all messages of a decoded bag with BagWriter, reads them back in Python.
#[test]
fn bags_written_by_sattva_read_back_by_rosbags_and_mcap() {
    let tmp = tempfile::tempdir().unwrap();
    let src_dir = tmp.path().join("src");
    py(&["write-rosbags", src_dir.to_str().unwrap(), "mcap"]);
    let src = Bag::open(&src_dir).unwrap();

    let out = tmp.path().join("sattva_bag");
    let mut w = BagWriter::create(&out, &WriterOptions::default()).unwrap();
    let mut ids = Vec::new();
    for t in &src.topics {
        // The schema text written is sattva's own (not the one read from the source bag).
        assert!(schema_text(&t.type_name).is_some(), "{}", t.type_name);
        ids.push(w.add_topic(&t.name, &t.type_name, None).unwrap());
    }
    let mut buf = Vec::new();
    let mut written: Vec<(usize, i64, AnyMessage)> = Vec::new();
    for m in &src.messages {
        let msg = src.decode(m).unwrap().unwrap();
        msg.encode_into(&mut buf);
        w.write_raw(ids[m.topic], m.log_time, m.log_time, &buf)
            .unwrap();
        written.push((m.topic, m.log_time, msg));
    }
    let summary = w.finish().unwrap();
    assert_eq!(summary.message_count as usize, written.len());

    let back = py(&["read", out.to_str().unwrap()]);
    for reader in ["rosbags", "mcap"] {
        let msgs = back[reader].as_array().unwrap();
        assert_eq!(msgs.len(), written.len(), "{reader}: count");
        for (i, ((topic, t, msg), e)) in written.iter().zip(msgs).enumerate() {
            assert_eq!(
                e["topic"].as_str().unwrap(),
                src.topics[*topic].name,
                "{reader} #{i}"
            );
            assert_eq!(e["type"].as_str().unwrap(), src.topics[*topic].type_name);
            assert_eq!(e["log_time"].as_i64().unwrap(), *t, "{reader} #{i}");
            assert_eq!(
                e["msg"],
                serde_json::to_value(msg).unwrap(),
                "{reader} #{i} on {}",
                src.topics[*topic].name
            );
        }
    }
}

/// The queue-fed Recorder's bag, read by rosbags and mcap: the values pushed come back.
#[test]
fn recorder_output_reads_back_in_python() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let cfg = RecordConfig::default();
    let names = vec!["j0".to_string(), "j1".to_string()];
    let (rec, sink) = Recorder::start(&dir, &cfg, names.clone()).unwrap();
    let t0 = 1_000_000_000i64; // 1 s
    let n = 50;
    for k in 0..n {
        let t = Time(t0 + k * 2_000_000);
        let imu = Imu {
            accel: [0.1 * k as f64, 0.0, 9.81],
            gyro: [0.0, -0.01 * k as f64, 1.0 / 3.0],
            mag: None,
        };
        assert!(sink.push(Sample::Imu { t, imu }));
        let mut j = JointSample::default();
        j.position.extend([k as f64, -1.5]);
        j.velocity.extend([0.5, 0.25]);
        assert!(sink.push(Sample::Joints { t, joints: j }));
        let mut values = JointVec::new();
        values.extend([0.01 * k as f64, 0.02]);
        assert!(sink.push(Sample::Command(Cmd {
            t: Time(t.0 + 1000),
            mode: CommandMode::Position,
            values,
        })));
    }
    let (summary, stats) = rec.finish().unwrap();
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.written, 3 * n as u64);
    assert_eq!(summary.message_count, 3 * n as u64);

    let back = py(&["read", dir.to_str().unwrap()]);
    for reader in ["rosbags", "mcap"] {
        let msgs = back[reader].as_array().unwrap();
        assert_eq!(msgs.len(), 3 * n as usize, "{reader}");
        let imus: Vec<&Value> = msgs
            .iter()
            .filter(|m| m["topic"] == "/sattva/imu")
            .collect();
        let joints: Vec<&Value> = msgs
            .iter()
            .filter(|m| m["topic"] == "/sattva/joint_states")
            .collect();
        let cmds: Vec<&Value> = msgs
            .iter()
            .filter(|m| m["topic"] == "/sattva/command")
            .collect();
        assert_eq!(
            (imus.len(), joints.len(), cmds.len()),
            (50, 50, 50),
            "{reader}"
        );
        for k in 0..n as usize {
            let t = t0 + k as i64 * 2_000_000;
            let im = &imus[k];
            assert_eq!(im["log_time"].as_i64().unwrap(), t);
            assert_eq!(im["msg"]["header"]["stamp"]["sec"], 1);
            assert_eq!(
                im["msg"]["header"]["stamp"]["nanosec"].as_i64().unwrap(),
                k as i64 * 2_000_000
            );
            assert_eq!(im["msg"]["header"]["frame_id"], "imu_link");
            assert_eq!(
                im["msg"]["linear_acceleration"]["x"].as_f64().unwrap(),
                0.1 * k as f64
            );
            assert_eq!(
                im["msg"]["linear_acceleration"]["z"].as_f64().unwrap(),
                9.81
            );
            assert_eq!(
                im["msg"]["angular_velocity"]["y"].as_f64().unwrap(),
                -0.01 * k as f64
            );
            assert_eq!(
                im["msg"]["angular_velocity"]["z"].as_f64().unwrap(),
                1.0 / 3.0
            );
            assert_eq!(
                im["msg"]["orientation_covariance"][0].as_f64().unwrap(),
                -1.0
            );
            let js = &joints[k]["msg"];
            assert_eq!(js["name"], serde_json::json!(["j0", "j1"]));
            assert_eq!(js["position"], serde_json::json!([k as f64, -1.5]));
            assert_eq!(js["velocity"], serde_json::json!([0.5, 0.25]));
            assert_eq!(js["effort"], serde_json::json!([]));
            let c = &cmds[k];
            assert_eq!(c["log_time"].as_i64().unwrap(), t + 1000);
            assert_eq!(c["msg"]["layout"]["dim"][0]["label"], "position");
            assert_eq!(c["msg"]["data"], serde_json::json!([0.01 * k as f64, 0.02]));
        }
    }
    // and sattva's own reader agrees on the count and order
    let bag = Bag::open(&dir).unwrap();
    assert!(bag.warnings.is_empty());
    assert_eq!(bag.messages.len(), 150);
    let _ = Path::new("");
}
