//! Player controls of `sattva replay --publish` (rosbag2's player services, `sattva_msgs/srv`),
//! driven by a real rclpy client against the real r2r node: start paused, pause stops messages,
//! play_next delivers exactly one, burst n delivers n, seek lands on the right time, set_rate,
//! toggle, `/clock`; and `--start-offset` / `--playback-duration` play exactly that span. The bag
//! is written by `rosbags` (tests/ros/player_client.py): /counter Int32 = i at T0 + i x 100 ms.
#![cfg(feature = "ros2")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::ros::{domain_id, python, ros_env, KillOnDrop};

const T0_NS: i64 = 1_700_000_000_000_000_000;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ros/player_client.py")
}

fn write_bag(dir: &Path) -> PathBuf {
    let bag = dir.join("counter");
    let out = python()
        .arg(script())
        .arg("write")
        .arg(&bag)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bag
}

fn player(bag: &Path, domain: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sattva"));
    c.args(["replay", "--publish"]).args(args).arg(bag);
    ros_env(&mut c, domain);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn ints(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

#[test]
fn every_player_control_against_an_rclpy_client() {
    let dir = tempfile::tempdir().unwrap();
    let bag = write_bag(dir.path());
    let domain = domain_id(61);
    let sattva = player(
        &bag,
        &domain,
        &["--start-paused", "--clock", "--publish-delay", "0.5"],
    )
    .spawn()
    .unwrap();
    let mut sattva = KillOnDrop(sattva);
    let mut client = python();
    client.arg(script()).args(["controls", "60"]);
    ros_env(&mut client, &domain);
    let out = client.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    println!("{r}");
    // started paused: nothing published, the clock stands at the bag's start
    assert_eq!(r["paused_at_start"], true, "{r}");
    assert_eq!(ints(&r["while_paused"]), Vec::<i64>::new(), "{r}");
    let clock_paused = ints(&r["clock_while_paused"]);
    assert_eq!(clock_paused, vec![T0_NS], "{r}");
    // play_next: exactly one message, the first
    assert_eq!(r["play_next"][0], true, "{r}");
    assert_eq!(ints(&r["play_next"][1]), vec![0], "{r}");
    // burst 5: exactly the next five
    assert_eq!(r["burst"][0], 5, "{r}");
    assert_eq!(ints(&r["burst"][1]), vec![1, 2, 3, 4, 5], "{r}");
    // seek to T0 + 10 s: the next message is the one logged at 10 s (i = 100)
    assert_eq!(r["seek"][0], true, "{r}");
    assert_eq!(r["seek"][1], true, "{r}");
    assert_eq!(ints(&r["seek"][2]), vec![100], "{r}");
    assert_eq!(r["seek_past_end"], false, "{r}");
    // rates: 5x accepted, -1 refused (5x kept)
    assert_eq!(r["set_rate"], true, "{r}");
    assert_eq!(r["bad_rate"], false, "{r}");
    assert_eq!(r["get_rate"], 5.0, "{r}");
    assert_eq!(r["paused_after_resume"], false, "{r}");
    assert_eq!(r["play_next_while_playing"], false, "{r}");
    // playing at 5x (50 messages/s) for ~1 s, then paused: the messages continue from 101 in
    // order, and nothing more arrives after the pause
    let (at_pause, later) = (ints(&r["pause"][0]), ints(&r["pause"][1]));
    assert!(
        at_pause.len() >= 25 && at_pause.len() <= 75,
        "{} messages in ~1 s at 5x: {r}",
        at_pause.len()
    );
    assert_eq!(
        at_pause,
        (101..101 + at_pause.len() as i64).collect::<Vec<_>>()
    );
    assert_eq!(later, at_pause, "messages after the pause: {r}");
    // toggle resumes (at 50x) and plays to the end
    let rest = ints(&r["to_the_end"]);
    let first = 101 + at_pause.len() as i64;
    assert_eq!(rest, (first..200).collect::<Vec<_>>(), "{r}");
    // /clock carried the playback time, within the bag
    let clock = ints(&r["clock"]);
    assert!(
        clock[0] == T0_NS
            && clock[1] > T0_NS + 10_000_000_000
            && clock[1] <= T0_NS + 20_000_000_000,
        "{r}"
    );
    // the player ends with the bag: 1 + 5 + 1 + 99 messages published
    let status = sattva.0.wait().unwrap();
    let mut summary = String::new();
    std::io::Read::read_to_string(sattva.0.stdout.as_mut().unwrap(), &mut summary).unwrap();
    assert!(status.success(), "{summary}");
    assert!(summary.contains("published 106 messages"), "{summary}");
}

#[test]
fn start_offset_and_playback_duration_play_that_span() {
    let dir = tempfile::tempdir().unwrap();
    let bag = write_bag(dir.path());
    let domain = domain_id(62);
    let mut listener = python();
    listener
        .arg(script())
        .args(["listen", "20"])
        .stdout(Stdio::piped());
    ros_env(&mut listener, &domain);
    let listener = listener.spawn().unwrap();
    let out = player(
        &bag,
        &domain,
        &[
            "--start-offset",
            "5",
            "--playback-duration",
            "2",
            "--rate",
            "4",
            "--publish-delay",
            "3",
        ],
    )
    .output()
    .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // [T0 + 5 s, T0 + 7 s]: messages 50 ..= 70
    assert!(summary.contains("published 21 messages"), "{summary}");
    let got = listener.wait_with_output().unwrap();
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).expect("JSON");
    assert_eq!(ints(&got), (50..=70).collect::<Vec<_>>());
}

#[test]
fn bad_player_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bag = write_bag(dir.path());
    for (args, want) in [
        (&["--start-offset=-1"][..], "--start-offset"),
        (&["--playback-duration", "0"][..], "--playback-duration"),
        (&["--clock", "0"][..], "--clock"),
    ] {
        let out = player(&bag, &domain_id(63), args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}: {err}"
        );
    }
    // a start offset belongs to --publish (the agent learns from the bag's start)
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["replay", "--start-offset", "1"])
        .arg(&bag)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--publish"));
}

/// The agent replaying a bag under the player controls: one "message" is one control cycle
/// (2 ms of the bag), seek fast-forwards, pause holds the agent; what it learns is the same as
/// without controls (same fingerprint).
#[test]
fn agent_replay_under_player_controls() {
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("imu");
    sattva::bench::replay::write_synthetic_bag(&bag, 3.0).unwrap();
    let cfg = dir.path().join("replay.yaml");
    std::fs::write(
        &cfg,
        "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 3\n    control:\n      period_ns: 2000000\n",
    )
    .unwrap();
    let free = sattva::replay::run::run_replay(
        &sattva::config::Config::load(&cfg, &[]).unwrap(),
        Some(&bag),
        false,
    )
    .unwrap();
    let domain = domain_id(64);
    let mut c = Command::new(env!("CARGO_BIN_EXE_sattva"));
    c.args(["replay", "--start-paused", "--clock", "100", "-c"])
        .arg(&cfg)
        .arg(&bag);
    ros_env(&mut c, &domain);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut sattva = KillOnDrop(c.spawn().unwrap());
    let mut client = python();
    client.arg(script()).args(["agent", "60"]);
    ros_env(&mut client, &domain);
    let out = client.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    println!("{r}");
    let t0 = r["t0"].as_i64().unwrap();
    // started paused: the bag's time stands at its start
    assert_eq!(r["paused_at_start"], true, "{r}");
    assert_eq!(ints(&r["clock_at_start"]), vec![t0], "{r}");
    // the first cycle runs at the bag's start; burst 10 = 10 cycles = 20 ms; next = 2 ms more
    assert_eq!(r["play_next"], true, "{r}");
    assert_eq!(ints(&r["after_first"]), vec![t0], "{r}");
    assert_eq!(r["burst"], 10, "{r}");
    assert_eq!(ints(&r["after_burst"]), vec![t0 + 20_000_000], "{r}");
    assert_eq!(ints(&r["after_next"]), vec![t0 + 22_000_000], "{r}");
    // paused: the agent stands still
    assert_eq!(ints(&r["while_paused"]), vec![t0 + 22_000_000], "{r}");
    // seek lands on the time asked for (fast-forward), and stays paused; not backwards
    assert_eq!(r["seek"], true, "{r}");
    assert_eq!(ints(&r["after_seek"]), vec![t0 + 1_500_000_000], "{r}");
    assert_eq!(r["seek_back"], false, "{r}");
    assert_eq!(r["paused_after_seek"], true, "{r}");
    // 2x for ~0.25 s: ~0.5 s of the bag played, then paused again (the clock stands)
    assert_eq!(r["set_rate"], true, "{r}");
    assert_eq!(r["get_rate"], 2.0, "{r}");
    let played = ints(&r["played"]);
    assert_eq!(played.len(), 1, "paused: {r}");
    let dt = played[0] - (t0 + 1_500_000_000);
    assert!(
        dt > 200_000_000 && dt < 1_200_000_000,
        "{dt} ns played in ~0.25 s at 2x: {r}"
    );
    assert_eq!(r["play_next_paused_ok"], true, "{r}");
    // resumed to the end: the agent learned exactly what it learns without controls
    let status = sattva.0.wait().unwrap();
    let mut summary = String::new();
    std::io::Read::read_to_string(sattva.0.stdout.as_mut().unwrap(), &mut summary).unwrap();
    assert!(status.success(), "{summary}");
    assert!(
        summary.contains(&format!("fingerprint: {}", free.fingerprint)),
        "{summary}\nwithout controls: {}",
        free.fingerprint
    );
    assert!(
        summary.contains(&format!("{} cycles", free.cycles)),
        "{summary}"
    );
}
