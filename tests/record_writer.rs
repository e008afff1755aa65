//! The bag writer and the queue-fed recorder, checked with the `mcap` crate's own reader (not
//! sattva's) and by parsing metadata.yaml as plain YAML.

use std::path::Path;

use sattva::record::msgs::{self, RosMessage};
use sattva::record::{
    record_queue, BagWriter, RecordConfig, RecordError, Recorder, Sample, WriterOptions,
};
use sattva::types::{Imu, JointSample, Time};

fn yaml(p: &Path) -> serde_norway::Value {
    serde_norway::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn writer_produces_rosbag2_jazzy_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run_1");
    let mut w = BagWriter::create(&dir, &WriterOptions::default()).unwrap();
    let imu = w.add_topic_for::<msgs::Imu>("/imu").unwrap();
    let s = w.add_topic_for::<msgs::StringMsg>("/chatter").unwrap();
    let m = msgs::Imu::default();
    w.write(imu, 5_000, &m).unwrap();
    w.write(s, 7_000, &msgs::StringMsg { data: "x".into() })
        .unwrap();
    w.write_raw(imu, 9_000, 8_500, &msgs::encode(&m)).unwrap();
    let sum = w.finish().unwrap();
    assert_eq!(sum.message_count, 3);
    assert_eq!(sum.time_range, (5_000, 9_000));

    // metadata.yaml
    let y = yaml(&dir.join("metadata.yaml"));
    let info = &y["rosbag2_bagfile_information"];
    assert_eq!(info["version"].as_u64(), Some(9));
    assert_eq!(info["storage_identifier"].as_str(), Some("mcap"));
    assert_eq!(
        info["relative_file_paths"][0].as_str(),
        Some("run_1_0.mcap")
    );
    assert_eq!(info["message_count"].as_u64(), Some(3));
    assert_eq!(
        info["starting_time"]["nanoseconds_since_epoch"].as_i64(),
        Some(5_000)
    );
    assert_eq!(info["duration"]["nanoseconds"].as_i64(), Some(4_000));
    let topics = info["topics_with_message_count"].as_sequence().unwrap();
    assert_eq!(topics.len(), 2);
    assert_eq!(topics[0]["topic_metadata"]["name"].as_str(), Some("/imu"));
    assert_eq!(
        topics[0]["topic_metadata"]["type"].as_str(),
        Some("sensor_msgs/msg/Imu")
    );
    assert_eq!(
        topics[0]["topic_metadata"]["serialization_format"].as_str(),
        Some("cdr")
    );
    assert_eq!(topics[0]["message_count"].as_u64(), Some(2));
    assert_eq!(info["files"][0]["message_count"].as_u64(), Some(3));

    // the MCAP, read by the mcap crate
    let buf = std::fs::read(dir.join("run_1_0.mcap")).unwrap();
    let summary = mcap::Summary::read(&buf).unwrap().unwrap();
    let schemas: Vec<_> = summary.schemas.values().collect();
    assert!(schemas.iter().all(|s| s.encoding == "ros2msg"));
    let imu_schema = schemas
        .iter()
        .find(|s| s.name == "sensor_msgs/msg/Imu")
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&imu_schema.data).unwrap(),
        msgs::Imu::schema()
    );
    let got: Vec<(String, u64, u64, Vec<u8>)> = mcap::MessageStream::new(&buf)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            assert_eq!(m.channel.message_encoding, "cdr");
            (
                m.channel.topic.clone(),
                m.log_time,
                m.publish_time,
                m.data.to_vec(),
            )
        })
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].0, "/imu");
    assert_eq!((got[0].1, got[0].2), (5_000, 5_000));
    assert_eq!((got[2].1, got[2].2), (9_000, 8_500));
    assert_eq!(got[1].3, b"\x00\x01\x00\x00\x02\x00\x00\x00x\x00");
}

#[test]
fn writer_refuses_existing_dir_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let e = BagWriter::create(tmp.path(), &WriterOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, RecordError::Exists(_)), "{e}");
    let mut w = BagWriter::create(&tmp.path().join("b"), &WriterOptions::default()).unwrap();
    let e = w.add_topic("/x", "test_msgs/msg/Arrays", None).unwrap_err();
    assert!(
        e.to_string().contains("/x") && e.to_string().contains("test_msgs/msg/Arrays"),
        "{e}"
    );
    let t = w.add_topic_for::<msgs::Twist>("/t").unwrap();
    let e = w.add_topic_for::<msgs::Pose>("/t").unwrap_err();
    assert!(e.to_string().contains("already added"), "{e}");
    let e = w.write(t, -1, &msgs::Twist::default()).unwrap_err();
    assert!(e.to_string().contains("negative time"), "{e}");
    // A custom type with its definition given is fine.
    w.add_topic("/arr", "test_msgs/msg/Empty", Some(""))
        .unwrap();
    w.finish().unwrap();
}

#[test]
fn full_queue_drops_and_counts_then_recorder_writes_the_rest() {
    let (sink, source) = record_queue(16);
    let imu = Imu::default();
    let mut accepted = 0;
    for k in 0..20 {
        if sink.push(Sample::Imu { t: Time(k), imu }) {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 16);
    let st = sink.stats();
    assert_eq!((st.pushed, st.dropped), (16, 4));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("q");
    let cfg = RecordConfig {
        command_topic: String::new(), // disabled stream
        ..Default::default()
    };
    let rec = Recorder::start_with(source, &dir, &cfg, vec![]).unwrap();
    // The recorder thread drains what was queued before it started.
    let t = std::time::Instant::now();
    while rec.stats().written < 16 {
        assert!(
            t.elapsed().as_secs() < 10,
            "recorder did not drain the queue"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut j = JointSample::default();
    j.position.push(1.0);
    assert!(sink.push(Sample::Joints {
        t: Time(100),
        joints: j
    }));
    assert!(sink.push(Sample::Command(sattva::types::Command::hold(Time(101)))));
    let (sum, st) = rec.finish().unwrap();
    assert_eq!(st.dropped, 4);
    assert_eq!(st.pushed, 18);
    assert_eq!(st.written, 17, "the command stream is disabled");
    assert_eq!(sum.message_count, 17);
    let bag = sattva::replay::Bag::open(&dir).unwrap();
    assert_eq!(bag.messages.len(), 17);
    assert_eq!(
        bag.topics.len(),
        3,
        "IMU, joint states, contacts (none written)"
    );
    // log times are the sample times; the first 16 IMU samples are 0..16 ns
    let times: Vec<i64> = bag.messages.iter().map(|m| m.log_time).collect();
    assert_eq!(&times[..16], &(0..16).collect::<Vec<_>>()[..]);
    assert_eq!(times[16], 100);
}

#[test]
fn qos_profile_is_written_like_jazzy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("q");
    let mut w = BagWriter::create(&dir, &WriterOptions::default()).unwrap();
    w.add_topic_for::<msgs::Twist>("/t").unwrap();
    w.finish().unwrap();
    let y = yaml(&dir.join("metadata.yaml"));
    let q = &y["rosbag2_bagfile_information"]["topics_with_message_count"][0]["topic_metadata"]
        ["offered_qos_profiles"][0];
    assert_eq!(q["reliability"].as_str(), Some("reliable"));
    assert_eq!(q["history"].as_str(), Some("keep_last"));
    assert_eq!(q["depth"].as_u64(), Some(10));
    let buf = std::fs::read(dir.join("q_0.mcap")).unwrap();
    let summary = mcap::Summary::read(&buf).unwrap().unwrap();
    let ch = summary.channels.values().next().unwrap();
    let text = &ch.metadata["offered_qos_profiles"];
    let parsed: serde_norway::Value = serde_norway::from_str(text).unwrap();
    assert_eq!(parsed[0]["durability"].as_str(), Some("volatile"));
}
