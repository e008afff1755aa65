//! `sattva replay <bag> --publish`: the real rosbag2 talker bag played onto ROS 2 topics, received
//! by an rclpy subscriber with identical payloads and the recorded spacing.
#![cfg(feature = "ros2")]

use std::process::{Command, Stdio};

mod common;

#[test]
fn talker_bag_is_played_onto_ros2_topics() {
    let bag = common::shared_data_path("bags/mcap_talker");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let domain = (1 + (std::process::id().wrapping_mul(7919) ^ nanos) % 100).to_string();
    let script = r#"
import sys, time, rclpy
from std_msgs.msg import String
rclpy.init(); n = rclpy.create_node("bag_listener"); got = []
n.create_subscription(String, "/topic", lambda m: got.append((time.monotonic(), m.data)), 10)
end = time.time() + float(sys.argv[1])
while time.time() < end and len(got) < 10:
    rclpy.spin_once(n, timeout_sec=0.05)
for t, d in got:
    print(f"{t:.6f}|{d}")
"#;
    let py = std::env::var("SATTVA_PYTHON").expect("SATTVA_PYTHON (setup)");
    let mut listener = Command::new(py);
    listener
        .args(["-c", script, "25"])
        .env("ROS_DOMAIN_ID", &domain)
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .stdout(Stdio::piped());
    if let Ok(d) = std::env::var("SATTVA_ROS_LD_DIRS") {
        listener.env("LD_LIBRARY_PATH", d);
    }
    let listener = listener.spawn().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["replay", "--publish", "--publish-delay", "3"])
        .arg(&bag)
        .env("ROS_DOMAIN_ID", &domain)
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(summary.contains("published 20 messages"), "{summary}");
    let got = listener.wait_with_output().unwrap();
    let lines: Vec<(f64, String)> = String::from_utf8_lossy(&got.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once('|')
                .map(|(t, d)| (t.parse().unwrap_or(0.0), d.to_string()))
        })
        .collect();
    assert_eq!(lines.len(), 10, "received {:?}", lines);
    // payloads as recorded by the real rosbag2 talker (checked against the bag reader's decode)
    let b = sattva::replay::reader::Bag::open(&bag).unwrap();
    let (idx, _) = b.topic("/topic").unwrap();
    let expected: Vec<String> = b
        .messages
        .iter()
        .filter(|m| m.topic == idx)
        .map(
            |m| match sattva::record::msgs::AnyMessage::decode("std_msgs/msg/String", &m.data) {
                Ok(Some(sattva::record::msgs::AnyMessage::String(s))) => s.data,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    let received: Vec<String> = lines.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(received, expected);
    // original timing: the recorded spacing (~0.5 s per message) is kept
    let span = lines.last().unwrap().0 - lines.first().unwrap().0;
    let rec_ns = b
        .messages
        .iter()
        .filter(|m| m.topic == idx)
        .map(|m| m.log_time)
        .collect::<Vec<_>>();
    let rec_span = (rec_ns[rec_ns.len() - 1] - rec_ns[0]) as f64 * 1e-9;
    assert!(
        (span - rec_span).abs() < 0.3,
        "received over {span:.3} s, recorded over {rec_span:.3} s"
    );
}
