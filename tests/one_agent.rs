//! One config, three modes, one answer: the modes are drivers over the same agent.
//!
//! * `sattva sim --episodes N` and `sattva run --fast --curriculum N` with the same seed give
//!   the same fingerprint (every cycle's outputs and the learned state);
//! * `sattva run --fast` records a bag; `sattva replay` of that bag (the replayed agent performs
//!   the recorded commands) reproduces the learned state of the run, bit for bit.
//!
//! Through the binary, as a user runs it.
#![cfg(feature = "mujoco")]

use std::path::Path;
use std::process::Command;

fn sattva(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(root)
        .args(args)
        .env("RUST_LOG", "warn")
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

/// `(combined, outputs, learned state)` of the printed fingerprint.
fn fingerprint(out: &str) -> (String, String, String) {
    let line = out
        .lines()
        .find(|l| l.contains("fingerprint"))
        .unwrap_or_else(|| panic!("no fingerprint in:\n{out}"));
    let hashes: Vec<String> = line
        .split("sha256:")
        .skip(1)
        .map(|s| s.chars().take_while(|c| c.is_ascii_hexdigit()).collect())
        .collect();
    assert_eq!(hashes.len(), 3, "{line}");
    assert!(hashes.iter().all(|h| h.len() == 64), "{line}");
    (hashes[0].clone(), hashes[1].clone(), hashes[2].clone())
}

const SHORT: [&str; 6] = [
    "-p",
    "eval.calibration_episodes=4",
    "-p",
    "eval.primitive_s=0.8",
    "-p",
    "eval.settle_s=0.1",
];

#[test]
fn sim_and_run_fast_agree_on_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    let snap = snap.to_str().unwrap();
    let mut sim = vec!["sim", "--episodes", "8", "--seed", "5", "--snapshot", snap];
    sim.extend(SHORT);
    let a = fingerprint(&sattva(&sim));
    let mut run = vec![
        "run",
        "--fast",
        "--no-ros",
        "--curriculum",
        "8",
        "-p",
        "seed=5",
    ];
    run.extend(SHORT);
    let b = fingerprint(&sattva(&run));
    assert_eq!(a, b, "sim and run --fast ran different agents");
    // the fingerprint sees the seed
    let mut other = run.clone();
    other[6] = "seed=6";
    let c = fingerprint(&sattva(&other));
    assert_ne!(a.1, c.1);
    assert_ne!(a.2, c.2);
}

#[test]
fn replay_of_a_recorded_run_reproduces_what_it_learned() {
    let dir = tempfile::tempdir().unwrap();
    let bags = dir.path().display().to_string();
    let rec = format!("record.dir={bags}");
    let common = [
        "-p",
        "learn.window_ms=100",
        "-p",
        "learn.calibration_windows=5",
    ];
    let mut run = vec![
        "run",
        "--fast",
        "--no-ros",
        "--duration",
        "4",
        "-p",
        "record.enabled=true",
        "-p",
        rec.as_str(),
    ];
    run.extend(common);
    let out = sattva(&run);
    let (_, _, learned) = fingerprint(&out);
    let bag = out
        .lines()
        .find_map(|l| l.strip_prefix("recorded: "))
        .unwrap_or_else(|| panic!("no bag recorded:\n{out}"))
        .to_string();
    assert!(out.contains("learning: "), "{out}");
    let mut replay = vec![
        "replay",
        bag.as_str(),
        "-p",
        "replay.imu_topic=/sattva/imu",
        "-p",
        "replay.joint_states_topic=/sattva/joint_states",
    ];
    replay.extend(common);
    let rout = sattva(&replay);
    let (_, _, replayed) = fingerprint(&rout);
    assert!(rout.contains("learned "), "{rout}");
    assert_eq!(
        learned, replayed,
        "the replay learned something else than the run:\nrun:\n{out}\nreplay:\n{rout}"
    );
    // the recorder's topic names are found in the bag by their types when the config's
    // defaults (`/imu/data`, `/joint_states`) are not there: the same replay without overrides
    let mut plain = vec!["replay", bag.as_str()];
    plain.extend(common);
    let pout = sattva(&plain);
    assert_eq!(
        fingerprint(&pout).2,
        learned,
        "the replay without topic overrides learned something else:\n{pout}"
    );
    // and it is the data that decides: without the recorded contacts the learned state differs
    replay.extend(["-p", "replay.contacts_topic=\"\""]);
    let (_, _, without) = fingerprint(&sattva(&replay));
    assert_ne!(learned, without);
}
