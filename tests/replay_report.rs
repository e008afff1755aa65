//! `sattva replay <bag> --report <dir>`: HTML + SVG plots with the data of the replay.

use std::path::Path;

use sattva::bench::replay::write_synthetic_bag;
use sattva::config::Config;
use sattva::replay::report::write_report;
use sattva::replay::run::{run_replay, run_replay_with_report};

fn cfg() -> Config {
    Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 3\n    control:\n      period_ns: 2000000\n    learn:\n      window_ms: 200\n      calibration_windows: 3\n",
        Path::new("replay.yaml"),
        &[],
    )
    .unwrap()
}

/// Points of every `<polyline>` in an SVG file, in file order.
fn polyline_points(svg: &str) -> Vec<usize> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| {
            let pts = p.split("points=\"").nth(1).unwrap_or("");
            pts[..pts.find('"').unwrap_or(0)].split_whitespace().count()
        })
        .collect()
}

// Expectations worked out by hand from `write_synthetic_bag(_, 3.0)`: IMU every 2.5 ms, joint
// states every 2 ms, /tf every 20 ms, from t = 0 to t = 3 s inclusive.
const IMU_MSGS: u64 = 3000 * 2 / 5 + 1; // 1201
const JOINT_MSGS: u64 = 3000 / 2 + 1; // 1501
const TF_MSGS: u64 = 3000 / 20 + 1; // 151
/// One control cycle per 2 ms of bag time, t = 0 ..= 3 s.
const CYCLES: u64 = 3000 / 2 + 1;
/// 200 ms windows ending at 0.2, 0.4, ... 3.0 s: 15, the first 3 calibrate.
const EXPERIENCES: usize = 15 - 3;

#[test]
fn report_has_plots_of_the_replayed_data_and_the_same_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    write_synthetic_bag(&bag, 3.0).unwrap();
    let c = cfg();
    let (s, data) = run_replay_with_report(&c, Some(&bag), false).unwrap();
    // collecting the report changes nothing the pipeline computes
    assert_eq!(
        s.fingerprint,
        run_replay(&c, Some(&bag), false).unwrap().fingerprint
    );
    assert_eq!(s.cycles, CYCLES);
    assert_eq!(data.cycle_us.len() as u64, CYCLES);
    assert!(data.cycle_us.iter().all(|&u| u.is_finite() && u >= 0.0));
    assert_eq!(s.stats.imu_samples as u64, IMU_MSGS);
    assert_eq!(s.stats.decode_errors, 0);
    // every cycle is an orientation sample, at the bag time of its cycle
    assert_eq!(data.t.len() as u64, CYCLES);
    for (i, t) in data.t.iter().enumerate() {
        assert!((t - i as f64 * 0.002).abs() < 1e-9, "sample {i} at {t} s");
    }
    assert!(data.rpy.iter().all(|r| r.iter().all(|v| v.is_finite())));
    let mut topics = data.topics.clone();
    topics.sort();
    assert_eq!(
        topics,
        vec![
            ("/imu/data".into(), "sensor_msgs/msg/Imu".into(), IMU_MSGS),
            (
                "/joint_states".into(),
                "sensor_msgs/msg/JointState".into(),
                JOINT_MSGS
            ),
            ("/tf".into(), "tf2_msgs/msg/TFMessage".into(), TF_MSGS),
        ]
    );
    // the replay learned: one experience per 200 ms window after calibration, at the window's end
    assert_eq!(data.learning.len(), EXPERIENCES, "{:?}", data.learning);
    for (i, l) in data.learning.iter().enumerate() {
        let end = 0.2 * (i + 4) as f64;
        assert!((l.0 - end).abs() < 1e-9, "experience {i} at {} s", l.0);
    }
    // the first experience meets an empty substrate: it creates the first attractor
    assert!(
        data.learning[0].2 && data.learning[0].1 == 1,
        "{:?}",
        data.learning[0]
    );
    // attractors only grow here (no pruning in 3 s): the count steps by one exactly at a creation
    for w in data.learning.windows(2) {
        assert_eq!(w[1].1, w[0].1 + w[1].2 as usize, "{w:?}");
    }
    let created = data.learning.iter().filter(|l| l.2).count();
    assert_eq!(data.learning[EXPERIENCES - 1].1, created);
    let dir = tmp.path().join("report");
    let html = write_report(&dir, &bag, &s, &data).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(&s.fingerprint.combined()),
        "hash in the summary table"
    );
    let row = |k: &str, v: &str| format!("<tr><th>{k}</th><td>{v}</td></tr>");
    for (k, v) in [
        ("control cycles", CYCLES.to_string()),
        ("IMU samples decoded", IMU_MSGS.to_string()),
        ("experiences learned", EXPERIENCES.to_string()),
        ("attractors at the end", created.to_string()),
        (
            "recognised / new attractor",
            format!("{} / {created}", EXPERIENCES - created),
        ),
    ] {
        assert!(page.contains(&row(k, &v)), "summary row {k} = {v} missing");
    }
    assert!(page.contains(&format!(
        "<tr><td>/imu/data</td><td>sensor_msgs/msg/Imu</td><td>{IMU_MSGS}</td></tr>"
    )));
    for svg in ["orientation.svg", "cycle_time.svg", "learning.svg"] {
        assert!(page.contains(svg), "{svg} not linked");
        let text = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg ") && text.trim_end().ends_with("</svg>"),
            "{svg} is not one complete SVG document"
        );
    }
    // orientation: roll, pitch and yaw each drawn through every sample, fused and (the synthetic
    // bag has no ground truth, its Imu messages carry a valid orientation) the bag's own
    let o = std::fs::read_to_string(dir.join("orientation.svg")).unwrap();
    let full = polyline_points(&o)
        .into_iter()
        .filter(|&n| n as u64 == CYCLES)
        .count();
    assert_eq!(
        full, 6,
        "fused and reference roll, pitch, yaw lines of {CYCLES} points"
    );
    // learning: the attractor count as a line through every experience, one dot per experience,
    // red where it created an attractor
    let l = std::fs::read_to_string(dir.join("learning.svg")).unwrap();
    assert!(polyline_points(&l).contains(&EXPERIENCES));
    assert_eq!(l.matches("<circle").count(), EXPERIENCES);
    let red = l
        .split("<circle")
        .skip(1)
        .filter(|c| c.contains("fill=\"#FF0000\""))
        .count();
    assert_eq!(red, created);
    // cycle time: a histogram, bars drawn (background + bars)
    let h = std::fs::read_to_string(dir.join("cycle_time.svg")).unwrap();
    assert!(
        h.matches("<rect").count() > 20,
        "cycle_time.svg has no bars"
    );
}
