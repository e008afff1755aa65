//! STL monitors in bags and in replays (MuJoCo arm, `sattva run --fast` recording a real
//! rosbag2 MCAP bag):
//! * the recorder writes `/sattva/monitors` (`sattva_msgs/msg/MonitorState`) every cycle; Python
//!   `rosbags` and `mcap` + `mcap-ros2-support` both decode it from the bag's own message
//!   definition, and the values are those of the spec over the recorded joint state of the same
//!   stamp (`pos_0 < -100`: robustness `-100 - position`, violated, one more violating cycle per
//!   message);
//! * `sattva replay BAG --monitors FILE --report DIR` evaluates specs over the replayed agent's
//!   fused state: a spec that must fire by construction (`pos_0 < -100`, every cycle), one that
//!   fires on the arm's real motion (`speed_max < 0.5`) and one that must not fire
//!   (`abs(pos_elbow) < 3`); the report has a robustness plot per monitor and their counts, which
//!   equal what the run's online monitors recorded into the bag; the replay is only observed
//!   (same fingerprint as without `--monitors`).
//!
//! Needs the Python venv with `rosbags`, `mcap`, `mcap-ros2-support`
//! (scripts/requirements/record.txt).
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sattva(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(root())
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("sattva runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "sattva {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

const MONITORS: &str = "sattva:\n  ros__parameters:\n    monitors:\n      \
    below: {spec: \"pos_0 < -100\", severity: info}\n      \
    fast: {spec: \"speed_max < 0.5\", severity: info}\n      \
    sane: {spec: \"abs(pos_elbow) < 3\"}\n";

/// The recorded run: (work dir, bag dir, the run's stdout).
fn recorded() -> &'static (PathBuf, PathBuf, String) {
    static RUN: OnceLock<(PathBuf, PathBuf, String)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sattva-monitor-bags-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let params = dir.join("monitors.yaml");
        std::fs::write(&params, MONITORS).unwrap();
        let bags = dir.join("bags");
        let out = sattva(&[
            "run",
            "-c",
            "config/sim.yaml",
            "-c",
            params.to_str().unwrap(),
            "--fast",
            "--no-ros",
            "--no-summary",
            "--duration",
            "3",
            "-p",
            "record.enabled=true",
            "-p",
            &format!("record.dir={}", bags.display()),
        ]);
        let bag = std::fs::read_dir(&bags)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.is_dir())
            .expect("a bag directory");
        (dir, bag, out)
    })
}

/// `rosbags` and `mcap` readings of the bag (bag_interop.py).
fn python_read(bag: &Path) -> Value {
    let py = std::env::var_os("SATTVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("third_party/venv/bin/python"));
    let out = Command::new(py)
        .arg(root().join("scripts/bench/bag_interop.py"))
        .args(["read", bag.to_str().unwrap()])
        .output()
        .expect("run python (did scripts/setup.sh run?)");
    assert!(
        out.status.success(),
        "bag_interop.py read failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python printed JSON")
}

fn stamp(m: &Value) -> u64 {
    let s = &m["msg"]["header"]["stamp"];
    s["sec"].as_u64().unwrap() * 1_000_000_000 + s["nanosec"].as_u64().unwrap()
}

/// The violating cycles a summary line `monitor NAME: N violating cycles ...` reports.
fn violations_in(out: &str, name: &str) -> u64 {
    let prefix = format!("monitor {name}: ");
    out.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{out}"))
}

#[test]
fn the_recorded_bag_carries_every_cycles_monitor_state() {
    let (_, bag, run) = recorded();
    let read = python_read(bag);
    for reader in ["rosbags", "mcap"] {
        let all = read[reader].as_array().unwrap();
        let states: std::collections::HashMap<u64, f64> = all
            .iter()
            .filter(|m| m["topic"] == "/sattva/joint_states")
            .map(|m| (stamp(m), m["msg"]["position"][0].as_f64().unwrap()))
            .collect();
        let mons: Vec<&Value> = all
            .iter()
            .filter(|m| m["topic"] == "/sattva/monitors")
            .collect();
        assert_eq!(mons.len(), 1500, "{reader}: 3 s of 2 ms cycles");
        assert_eq!(mons.len(), states.len(), "{reader}: one per joint state");
        for (k, m) in mons.iter().enumerate() {
            assert_eq!(m["type"], "sattva_msgs/msg/MonitorState");
            let msg = &m["msg"];
            assert_eq!(msg["names"], serde_json::json!(["below", "fast", "sane"]));
            let p = states[&stamp(m)];
            let below = msg["robustness"][0].as_f64().unwrap();
            assert!((below - (-100.0 - p)).abs() < 1e-9, "{reader} #{k}: {msg}");
            assert_eq!(msg["violated"][0], true, "{reader} #{k}");
            assert_eq!(msg["violations"][0], k as u64 + 1, "{reader} #{k}");
            assert_eq!(msg["onsets"][0], 1, "{reader} #{k}");
            let sane = msg["robustness"][2].as_f64().unwrap();
            assert!(sane > 0.0 && msg["violated"][2] == false, "{reader} #{k}");
            let fast = msg["robustness"][1].as_f64().unwrap();
            assert_eq!(msg["violated"][1], fast < 0.0, "{reader} #{k}");
        }
        let last = &mons.last().unwrap()["msg"];
        assert_eq!(
            last["violations"][1].as_u64().unwrap(),
            violations_in(run, "fast"),
            "{reader}: the bag's last count is the run's"
        );
    }
    // both readers decoded the same values
    let mons = |reader: &str| -> Vec<Value> {
        read[reader]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["topic"] == "/sattva/monitors")
            .map(|m| m["msg"].clone())
            .collect()
    };
    assert_eq!(mons("rosbags"), mons("mcap"));
}

#[test]
fn replay_with_monitors_reports_robustness_plots_and_counts() {
    let (dir, bag, run) = recorded();
    let report = dir.join("report");
    let topics = [
        "-p",
        "replay.imu_topic=/sattva/imu",
        "-p",
        "replay.joint_states_topic=/sattva/joint_states",
    ];
    let params = dir.join("monitors.yaml");
    let mut args = vec!["replay", bag.to_str().unwrap()];
    args.extend(topics);
    let plain = sattva(&args);
    args.extend([
        "--monitors",
        params.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    let out = sattva(&args);
    let fp = |s: &str| {
        s.lines()
            .find(|l| l.contains("fingerprint"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert!(!fp(&out).is_empty());
    assert_eq!(
        fp(&out),
        fp(&plain),
        "--monitors must not change the replay"
    );
    // counts: every cycle for `below`, none for `sane`, and the run's online count for `fast`
    assert_eq!(violations_in(&out, "below"), 1500, "{out}");
    assert_eq!(violations_in(&out, "sane"), 0, "{out}");
    let fast = violations_in(&out, "fast");
    assert!(fast > 0, "the arm moves faster than 0.5 rad/s: {out}");
    assert_eq!(
        fast,
        violations_in(run, "fast"),
        "replay vs run:\n{out}\n{run}"
    );
    // the report: a table row and a plot per monitor
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    let below_max_pos = python_read(bag)["rosbags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["topic"] == "/sattva/joint_states")
        .map(|m| m["msg"]["position"][0].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    for (name, spec, count) in [
        ("below", "pos_0 &lt; -100", 1500),
        ("fast", "speed_max &lt; 0.5", fast),
        ("sane", "abs(pos_elbow) &lt; 3", 0),
    ] {
        let row = format!("<tr><td>{name}</td><td><code>{spec}</code></td><td>{count}</td>");
        assert!(html.contains(&row), "no `{row}` in the report");
        let img = format!("<img src=\"monitor_{name}.svg\"");
        assert!(html.contains(&img), "no `{img}` in the report");
        let svg = std::fs::read_to_string(report.join(format!("monitor_{name}.svg"))).unwrap();
        assert!(
            svg.contains("<polyline") && svg.contains("robustness"),
            "monitor_{name}.svg has no robustness line"
        );
    }
    // `below`'s smallest robustness is -100 - the largest recorded position
    let row = format!(
        "<td>1500</td><td>1</td><td>{:.6}</td>",
        -100.0 - below_max_pos
    );
    assert!(html.contains(&row), "no `{row}` in the report");
}
