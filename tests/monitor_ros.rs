//! `sattva/monitors` (`sattva_msgs/MonitorState`) from `sattva run` (MuJoCo arm, RT executor,
//! real r2r node) to an rclpy subscriber: a spec that must fire (`pos_0 < -100`) shows
//! `violated = true` with a negative robustness equal to `-100 - position` of the joint state
//! of the same stamp; a spec that must not fire (`pos_0 > -100`) shows a positive robustness and
//! no violation; the counters count every cycle between two messages, which arrive at
//! `ros.monitors_rate_hz` (20 Hz: every 25th 2 ms cycle).
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use std::path::PathBuf;

use common::ros::{domain_id, peer_and_agent};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn monitor_state_reaches_an_rclpy_subscriber_with_the_right_sign_and_value() {
    let dir = std::env::temp_dir().join(format!("sattva-monitor-ros-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let params = dir.join("monitors.yaml");
    std::fs::write(
        &params,
        "sattva:\n  ros__parameters:\n    monitors:\n      \
         below: {spec: \"pos_0 < -100\", severity: info, action: log}\n      \
         above: {spec: \"pos_0 > -100\", action: log}\n",
    )
    .unwrap();
    let cfg = root().join("config/sim.yaml");
    let args: Vec<String> = [
        "run",
        "-c",
        cfg.to_str().unwrap(),
        "-c",
        params.to_str().unwrap(),
        "--duration",
        "30",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let peer: Vec<String> = ["/sattva/monitors", "/joint_states", "40"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (report, _) = peer_and_agent("monitor_check.py", &peer, &args, &domain_id(67), false);
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix("RESULT OK "))
        .expect("peer result");
    let msgs: Vec<serde_json::Value> = serde_json::from_str(line).unwrap();
    assert!(msgs.len() >= 40, "{} messages", msgs.len());
    let (mut matched, mut last_t, mut last_v) = (0, f64::NAN, 0u64);
    let mut gaps = Vec::new();
    for m in &msgs {
        assert_eq!(m["names"], serde_json::json!(["above", "below"]), "{m}");
        let r = |i: usize| m["robustness"][i].as_f64().expect("a robustness value");
        let (above, below) = (r(0), r(1));
        assert!(below < 0.0 && m["violated"][1] == true, "must fire: {m}");
        assert!(
            above > 0.0 && m["violated"][0] == false,
            "must not fire: {m}"
        );
        assert!((above + below).abs() < 1e-9, "{m}");
        assert_eq!(m["violations"][0], 0, "{m}");
        assert_eq!(m["onsets"][1], 1, "one violation since the start: {m}");
        assert_eq!(m["hold_cycles"], 0, "action log never holds: {m}");
        if let Some(p) = m["pos0"].as_f64() {
            // `a < b` has robustness b - a (RTAMT): -100 - position, of the same cycle
            assert!((below - (-100.0 - p)).abs() < 1e-9, "{m}: position {p}");
            matched += 1;
        }
        let (t, v) = (
            m["t"].as_f64().unwrap(),
            m["violations"][1].as_u64().unwrap(),
        );
        if !last_t.is_nan() {
            // every cycle in between was violated and counted: 2 ms cycles
            let cycles = ((t - last_t) / 0.002).round() as u64;
            assert_eq!(v - last_v, cycles, "{m}");
            gaps.push(cycles);
        }
        (last_t, last_v) = (t, v);
    }
    gaps.sort_unstable();
    assert_eq!(gaps[gaps.len() / 2], 25, "20 Hz of 2 ms cycles: {gaps:?}");
    assert!(
        matched * 2 >= msgs.len(),
        "only {matched} of {} messages had the joint state of their stamp",
        msgs.len()
    );
    println!(
        "{} MonitorState messages, {matched} checked against the joint state of the same stamp",
        msgs.len()
    );
}
