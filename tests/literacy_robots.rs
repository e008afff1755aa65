//! Any robot learns: every robot config the project ships (the reference arm, Kinova Jaco, i2rt
//! YAM, Unitree Go2, Unitree G1) performs the curriculum of its own generated primitive library
//! and recognises novel scenarios well above chance (a small curriculum; the full figures come
//! from `sattva eval literacy -c config/<robot>.yaml --baselines`). A robot without IMU or touch
//! sensors (YAM) learns in `sattva run` and again from its own recording in `sattva replay`.
#![cfg(feature = "mujoco")]

use std::path::Path;
use std::process::Command;

use sattva::config::Config;
use sattva::eval::literacy::{run_literacy, LiteracyOptions};

fn config(file: &str) -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o: Vec<String> = [
        "eval.primitive_s=1.0",
        "eval.settle_s=0.2",
        "eval.calibration_episodes=16",
        "eval.continual=false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Config::load(&root.join(file), &o).expect("config loads")
}

#[test]
fn every_shipped_robot_recognises_novel_scenarios_of_its_own_primitives() {
    let mut failures = Vec::new();
    for file in [
        "config/sim.yaml",
        "config/jaco.yaml",
        "config/yam.yaml",
        "config/go2.yaml",
        "config/g1.yaml",
    ] {
        let c = config(file);
        // three training and one novel episode per primitive (the library's size decides)
        let probe = run_literacy(
            &c,
            &LiteracyOptions {
                train: Some(1),
                novel: Some(0),
                calibration: Some(0),
                ..Default::default()
            },
        )
        .expect("literacy runs");
        let n = probe.labels.len() as u32;
        let r = run_literacy(
            &c,
            &LiteracyOptions {
                train: Some(3 * n),
                novel: Some(n),
                ..Default::default()
            },
        )
        .expect("literacy runs");
        println!(
            "{file}: {n} primitives, {} attractors, NMI {:.3}, recognition {:.1} % (chance {:.1} %)",
            r.attractors,
            r.nmi,
            100.0 * r.accuracy,
            100.0 * r.chance
        );
        assert_eq!(
            r.train.len() as u32,
            3 * n,
            "{file}: every training episode learned"
        );
        assert_eq!(
            r.novel.len() as u32,
            n,
            "{file}: every novel episode recognised"
        );
        if r.accuracy < 0.6 {
            failures.push(format!("{file}: {:.1} %", 100.0 * r.accuracy));
        }
    }
    assert!(failures.is_empty(), "recognition below 60 %: {failures:?}");
}

#[test]
fn an_arm_without_imu_learns_in_run_and_in_replay_of_its_recording() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let bags = dir.path().display().to_string();
    let run = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(root)
        .args(["run", "--fast", "--duration", "20", "-c", "config/yam.yaml"])
        .args([
            "-p",
            "record.enabled=true",
            "-p",
            &format!("record.dir={bags}"),
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // "learning: N experiences (...), M attractors"
    let learned = |s: &str, key: &str| -> u64 {
        let line = s.lines().find(|l| l.contains(key)).unwrap_or("");
        line.split(key)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let experiences = learned(&out, "learning: ");
    assert!(
        experiences >= 20,
        "run learned {experiences} experiences:\n{out}"
    );
    assert!(
        out.contains("attractors") && !out.contains(", 0 attractors"),
        "{out}"
    );
    let bag = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a recorded bag");
    let replay = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(root)
        .args(["replay", "-c", "config/yam.yaml"])
        .args(["-p", "replay.imu_topic=/sattva/imu"])
        .args(["-p", "replay.joint_states_topic=/sattva/joint_states"])
        .arg(&bag)
        .output()
        .unwrap();
    let rout = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{rout}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let replayed = learned(&rout, "learned ");
    assert!(
        replayed >= 10,
        "replay learned {replayed} experiences:\n{rout}"
    );
}
