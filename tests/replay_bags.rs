//! The reader on real rosbag2 output (ros2/rosbag2 test resources) and MCAP test files, and on
//! damaged copies of them. Expected values were read with the Python `mcap` + `mcap-ros2-support`
//! packages and `sqlite3` (independent implementations), not with this code.

use std::path::{Path, PathBuf};

use sattva::record::cdr::CdrReader;
use sattva::record::msgs::{decode, AnyMessage, Log, StringMsg};
use sattva::replay::{Bag, ReplayError};

mod common;

fn data(rel: &str) -> PathBuf {
    common::shared_data_path(rel)
}

/// Log times of /rosout and /topic in the talker bags (from the python mcap reader and sqlite3).
const ROSOUT_T0: i64 = 1585866235112411371;
const TOPIC_T0: i64 = 1585866235112609068;
const TOPIC_T9: i64 = 1585866239643508139;

fn check_talker(bag: &Bag) {
    assert_eq!(bag.messages.len(), 20, "warnings: {:?}", bag.warnings);
    let names: Vec<&str> = bag.topics.iter().map(|t| t.name.as_str()).collect();
    for t in ["/topic", "/rosout", "/parameter_events"] {
        assert!(names.contains(&t), "{t} missing from {names:?}");
    }
    // log-time order
    assert!(bag
        .messages
        .windows(2)
        .all(|w| w[0].log_time <= w[1].log_time));
    assert_eq!(bag.messages[0].log_time, ROSOUT_T0);
    let strings: Vec<(i64, String)> = bag
        .messages_on("/topic")
        .map(|m| (m.log_time, decode::<StringMsg>(&m.data).unwrap().data))
        .collect();
    assert_eq!(strings.len(), 10);
    for (i, (_, s)) in strings.iter().enumerate() {
        assert_eq!(s, &format!("Hello, world! {i}"));
    }
    assert_eq!(strings[0].0, TOPIC_T0);
    assert_eq!(strings[9].0, TOPIC_T9);
    let logs: Vec<Log> = bag
        .messages_on("/rosout")
        .map(|m| decode::<Log>(&m.data).unwrap())
        .collect();
    assert_eq!(logs.len(), 10);
    assert_eq!(logs[0].stamp.sec, 1585866235);
    assert_eq!(logs[0].stamp.nanosec, 112130688);
    assert_eq!(logs[3].level, 20);
    assert_eq!(logs[3].name, "minimal_publisher");
    assert_eq!(logs[3].msg, "Publishing: 'Hello, world! 3'");
    assert_eq!(
        logs[3].file,
        "/opt/ros2_ws/eloquent/src/ros2/examples/rclcpp/minimal_publisher/lambda.cpp"
    );
    assert_eq!(logs[3].function, "operator()");
    assert_eq!(logs[3].line, 38);
    // dynamic decoding agrees
    let first = &bag.messages[0];
    match bag.decode(first).unwrap() {
        Some(AnyMessage::Log(l)) => assert_eq!(l, logs[0]),
        other => panic!("expected a Log, got {other:?}"),
    }
}

#[test]
fn mcap_talker_reads_strings_and_logs() {
    let bag = Bag::open(&data("bags/mcap_talker")).unwrap();
    check_talker(&bag);
    assert!(bag.warnings.is_empty(), "{:?}", bag.warnings);
    // The MCAP carries the message definitions (with dependencies).
    let (_, t) = bag.topic("/rosout").unwrap();
    let def = t.definition.as_deref().unwrap();
    assert!(def.contains("uint32 line"));
    // publish_time is kept from MCAP
    assert_eq!(bag.messages[0].publish_time, ROSOUT_T0);
}

#[test]
fn sqlite3_talker_reads_strings_and_logs() {
    let bag = Bag::open(&data("bags/sqlite3_talker")).unwrap();
    check_talker(&bag);
    assert!(bag.warnings.is_empty(), "{:?}", bag.warnings);
    assert_eq!(bag.metadata.as_ref().unwrap().storage_identifier, "sqlite3");
}

/// test_msgs/BasicTypes has no typed struct here; read it with the raw CDR reader.
fn check_cdr_test(bag: &Bag) {
    assert_eq!(bag.messages.len(), 7, "{:?}", bag.warnings);
    let basic: Vec<_> = bag.messages_on("/test_topic").collect();
    let arrays: Vec<_> = bag.messages_on("/array_topic").collect();
    assert_eq!((basic.len(), arrays.len()), (3, 4));
    assert_eq!(basic[0].log_time, 1586406456763032325);
    assert_eq!(arrays[0].log_time, 1586406456782683500);
    assert!(arrays.iter().all(|m| m.data.len() == 696));
    for m in &basic {
        assert_eq!(m.data.len(), 52);
        assert!(
            bag.decode(m).unwrap().is_none(),
            "unknown type decodes to None"
        );
        let mut r = CdrReader::new(&m.data).unwrap();
        assert!(!r.read_bool().unwrap()); // bool_value
        assert_eq!(r.read_u8().unwrap(), 0); // byte
        assert_eq!(r.read_u8().unwrap(), 0); // char
        assert_eq!(r.read_f32().unwrap(), 0.0);
        assert_eq!(r.read_f64().unwrap(), 0.0);
        assert_eq!(r.read_i8().unwrap(), 0);
        assert_eq!(r.read_u8().unwrap(), 0);
        assert_eq!(r.read_i16().unwrap(), 0);
        assert_eq!(r.read_u16().unwrap(), 0);
        assert_eq!(r.read_i32().unwrap(), 123); // int32_value
        assert_eq!(r.read_u32().unwrap(), 0);
        assert_eq!(r.read_i64().unwrap(), 0);
        assert_eq!(r.read_u64().unwrap(), 0);
        assert_eq!(r.remaining(), 0);
    }
    // Arrays starts with bool[3] = [true, false, true]
    let mut r = CdrReader::new(&arrays[0].data).unwrap();
    let b: Vec<bool> = (0..3).map(|_| r.read_bool().unwrap()).collect();
    assert_eq!(b, [true, false, true]);
}

#[test]
fn cdr_test_bags_give_raw_access_on_both_storages() {
    let m = Bag::open(&data("bags/mcap_cdr_test")).unwrap();
    check_cdr_test(&m);
    let s = Bag::open(&data("bags/sqlite3_cdr_test")).unwrap();
    check_cdr_test(&s);
    // Same bytes on both storages.
    for (a, b) in m.messages.iter().zip(&s.messages) {
        assert_eq!((a.log_time, &a.data), (b.log_time, &b.data));
    }
    let (_, t) = m.topic("/array_topic").unwrap();
    assert_eq!(t.type_name, "test_msgs/msg/Arrays");
}

#[test]
fn single_storage_file_opens_without_directory() {
    let bag = Bag::open(&data("bags/mcap_talker/talker.mcap")).unwrap();
    assert_eq!(bag.messages.len(), 20);
    let bag = Bag::open(&data("bags/sqlite3_talker/talker.db3")).unwrap();
    assert_eq!(bag.messages.len(), 20);
}

#[test]
fn generic_mcap_files_read_all_messages() {
    // Foxglove demo files (ROS1 profile: not CDR, but the container must read fully).
    for f in ["mcap/uncompressed.mcap", "mcap/compressed.mcap"] {
        let bag = Bag::open(&data(f)).unwrap();
        // Only the "not cdr" notes (ROS1 payloads), nothing damaged.
        assert!(
            bag.warnings.iter().all(|w| w.contains("(not cdr)")),
            "{f}: {:?}",
            bag.warnings
        );
        // 826 messages per the file's own statistics record (read with python `mcap`).
        assert_eq!(bag.messages.len(), 826, "{f}");
        assert!(bag
            .messages
            .windows(2)
            .all(|w| w[0].log_time <= w[1].log_time));
    }
    let a = Bag::open(&data("mcap/uncompressed.mcap")).unwrap();
    let b = Bag::open(&data("mcap/compressed.mcap")).unwrap();
    assert_eq!(a.messages.len(), b.messages.len());
    assert_eq!(a.messages, b.messages);
}

fn tmp_copy(src: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let dst = dir.join(p.file_name().unwrap());
        std::fs::write(&dst, std::fs::read(&p).unwrap()).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn truncated_copies_of_a_real_bag_never_panic_and_keep_a_prefix() {
    let src = std::fs::read(data("mcap/uncompressed.mcap")).unwrap();
    let full = Bag::open(&data("mcap/uncompressed.mcap")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut last = 0;
    for frac in [0.1, 0.3, 0.5, 0.7, 0.9, 0.999] {
        let n = (src.len() as f64 * frac) as usize;
        let p = tmp.path().join(format!("cut_{n}.mcap"));
        std::fs::write(&p, &src[..n]).unwrap();
        let b = Bag::open(&p).unwrap();
        assert!(!b.warnings.is_empty(), "cut at {n}: no warning");
        assert!(b.warnings[0].contains(&format!("cut_{n}.mcap")));
        // What was read is exactly a prefix (by file order) of the full bag's messages.
        assert!(b.messages.len() >= last, "more cut, fewer messages");
        if frac < 0.9 {
            assert!(b.messages.len() < full.messages.len());
        } else {
            assert!(b.messages.len() <= full.messages.len());
        }
        for m in &b.messages {
            assert!(full.messages.contains(m));
        }
        last = b.messages.len();
    }
    assert!(
        last > full.messages.len() / 2,
        "late cuts keep most messages"
    );
}

#[test]
fn corrupt_chunk_is_skipped_and_the_rest_read() {
    // compressed.mcap has several zstd chunks: damage the bytes in the middle of the file.
    let mut src = std::fs::read(data("mcap/compressed.mcap")).unwrap();
    let full = Bag::open(&data("mcap/compressed.mcap")).unwrap();
    let mid = src.len() / 2;
    for b in &mut src[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("corrupt.mcap");
    std::fs::write(&p, &src).unwrap();
    let b = Bag::open(&p).unwrap();
    assert!(!b.warnings.is_empty());
    assert!(b.warnings.iter().any(|w| w.contains("corrupt.mcap")));
    assert!(b.messages.len() < full.messages.len());
    assert!(!b.messages.is_empty(), "{:?}", b.warnings);
    for m in &b.messages {
        assert!(
            full.messages.contains(m),
            "damaged data surfaced as a message"
        );
    }
}

#[test]
fn missing_metadata_falls_back_to_directory_scan() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["mcap_talker", "sqlite3_talker"] {
        let dir = tmp_copy(&data(&format!("bags/{name}")), &tmp.path().join(name));
        std::fs::remove_file(dir.join("metadata.yaml")).unwrap();
        let bag = Bag::open(&dir).unwrap();
        assert!(
            bag.warnings[0].contains("metadata.yaml"),
            "{:?}",
            bag.warnings
        );
        check_talker(&bag);
    }
    // broken metadata.yaml: also falls back
    let dir = tmp_copy(&data("bags/mcap_talker"), &tmp.path().join("broken"));
    std::fs::write(
        dir.join("metadata.yaml"),
        "rosbag2_bagfile_information: [unclosed",
    )
    .unwrap();
    let bag = Bag::open(&dir).unwrap();
    assert!(
        bag.warnings[0].contains("invalid metadata"),
        "{:?}",
        bag.warnings
    );
    check_talker(&bag);
}

#[test]
fn not_a_bag_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Bag::open(tmp.path()).unwrap_err();
    assert!(matches!(e, ReplayError::NotABag { .. }), "{e}");
    assert!(e.to_string().contains("no readable metadata.yaml"));
    let e = Bag::open(&tmp.path().join("nope")).unwrap_err();
    assert!(matches!(e, ReplayError::NotFound(_)));
    let junk = tmp.path().join("junk.mcap");
    std::fs::write(&junk, b"definitely not mcap").unwrap();
    let e = Bag::open(&junk).unwrap_err();
    assert!(e.to_string().contains("junk.mcap"), "{e}");
    let junk = tmp.path().join("junk.db3");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();
    let e = Bag::open(&junk).unwrap_err();
    assert!(e.to_string().contains("junk.db3"), "{e}");
}

#[test]
fn multi_file_bag_is_merged_in_time_order() {
    // A split bag: metadata lists two files (the mcap and the sqlite3 talker, same messages).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("split");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        data("bags/mcap_cdr_test/cdr_test_0.mcap"),
        dir.join("split_0.mcap"),
    )
    .unwrap();
    std::fs::copy(
        data("bags/mcap_talker/talker.mcap"),
        dir.join("split_1.mcap"),
    )
    .unwrap();
    std::fs::copy(
        data("bags/sqlite3_talker/talker.db3"),
        dir.join("split_2.db3"),
    )
    .unwrap();
    let meta = std::fs::read_to_string(data("bags/mcap_cdr_test/metadata.yaml"))
        .unwrap()
        .replace(
            "    - cdr_test_0.mcap",
            "    - split_0.mcap\n    - split_1.mcap\n    - split_2.db3",
        );
    std::fs::write(dir.join("metadata.yaml"), meta).unwrap();
    let bag = Bag::open(&dir).unwrap();
    assert!(bag.warnings.is_empty(), "{:?}", bag.warnings);
    assert_eq!(bag.files.len(), 3);
    assert_eq!(bag.messages.len(), 7 + 20 + 20);
    assert!(bag
        .messages
        .windows(2)
        .all(|w| w[0].log_time <= w[1].log_time));
    // the talker (2020-04-02) comes before the cdr test (2020-04-09)
    assert_eq!(bag.messages[0].log_time, ROSOUT_T0);
    assert_eq!(bag.messages_on("/topic").count(), 20);
}

#[test]
fn chunk_not_closed_is_a_clear_error_naming_the_file() {
    // 92 bytes: header, then a chunk whose length field was never written (u64::MAX).
    let e = Bag::open(&data("mcap/chunk_not_closed.mcap")).unwrap_err();
    assert!(matches!(e, ReplayError::Unreadable { .. }), "{e}");
    let s = e.to_string();
    assert!(
        s.contains("chunk_not_closed.mcap") && s.contains("truncated or corrupt"),
        "{s}"
    );
}

#[test]
fn storage_from_metadata_when_the_file_has_no_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(data("bags/mcap_talker/talker.mcap"), dir.join("talker_0")).unwrap();
    let meta = std::fs::read_to_string(data("bags/mcap_talker/metadata.yaml"))
        .unwrap()
        .replace("- talker.mcap", "- talker_0");
    std::fs::write(dir.join("metadata.yaml"), meta).unwrap();
    let bag = Bag::open(&dir).unwrap();
    check_talker(&bag);
}

#[test]
fn topic_filter_keeps_only_requested_messages() {
    for b in ["bags/mcap_talker", "bags/sqlite3_talker"] {
        let bag = Bag::open_topics(&data(b), &["/topic"]).unwrap();
        assert_eq!(bag.messages.len(), 10, "{b}");
        assert!(bag.messages_on("/topic").count() == 10);
        assert_eq!(bag.messages[0].log_time, TOPIC_T0);
        // all topics are still listed
        assert!(bag.topic("/rosout").is_some());
        assert_eq!(bag.topic("/rosout").unwrap().1.message_count, 0);
    }
}
