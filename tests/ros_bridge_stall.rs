//! A blocked ROS side never delays the RT control task: the ROS node thread is stalled for 2 s
//! mid-run; the control task's deadline misses stay at the level of an undisturbed run, and the
//! messages the ROS side could not take are dropped and counted (reported on /diagnostics).
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Outcome {
    misses: u64,
    overruns: u64,
    /// Longest execution of one control job, in microseconds.
    exec_max_us: f64,
    cycles: u64,
    dropped_to_ros: u64,
    text: String,
}

fn run(extra: &[&str], domain: u32) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sattva"));
    cmd.args(["run", "--duration", "6", "-c"])
        .arg(root().join("config/sim.yaml"))
        .args(extra)
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .env("RUST_LOG", "warn");
    let out = cmd.output().expect("run sattva");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    let num_after = |key: &str| -> u64 {
        let i = text
            .find(key)
            .unwrap_or_else(|| panic!("`{key}` not in output:\n{text}"));
        text[i + key.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no number after `{key}`:\n{text}"))
    };
    // the control task's `exec ... max <us>` line of the scheduler report
    let exec_max_us = text
        .lines()
        .skip_while(|l| !l.contains("task control"))
        .find(|l| l.trim_start().starts_with("exec"))
        .and_then(|l| l.split_whitespace().rev().nth(1)) // "... max 426.0 us"
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no control exec line:\n{text}"));
    Outcome {
        exec_max_us,
        misses: num_after("deadline misses "),
        overruns: num_after("overruns "),
        cycles: num_after("sattva run (mujoco): "),
        dropped_to_ros: num_after("dropped "),
        text,
    }
}

#[test]
fn stalled_ros_thread_costs_the_rt_task_nothing_but_counted_drops() {
    let _serial = common::timing::serial();
    let domain: u32 = common::ros::domain_id(5).parse().unwrap();
    let base = run(&[], domain);
    let stalled = run(&["--stall-ros", "2", "2"], domain);
    println!(
        "undisturbed: misses {} overruns {} drops {} | ROS stalled 2 s: misses {} overruns {} drops {} exec max {} us",
        base.misses, base.overruns, base.dropped_to_ros, stalled.misses, stalled.overruns, stalled.dropped_to_ros, stalled.exec_max_us
    );
    assert_eq!(stalled.cycles, 3000, "{}", stalled.text);
    assert!(
        stalled.text.contains("fault injection"),
        "the stall did not happen:\n{}",
        stalled.text
    );
    // 2 s at 500 Hz is ~1000 frames into a 512-slot ring: hundreds must have been dropped
    assert!(
        stalled.dropped_to_ros > 300,
        "drops {}:\n{}",
        stalled.dropped_to_ros,
        stalled.text
    );
    assert_eq!(base.dropped_to_ros, 0, "{}", base.text);
    // The RT task does not wait for ROS. Had one control job waited for the stalled thread, its
    // execution time would include (part of) the 2 s stall and ~1000 releases would be missed or
    // skipped. What is left is this shared VM's own jitter: a few release-latency spikes over a
    // period (seen: 1-6 misses in either run), which a deadline-miss count alone cannot tell
    // from a blocked task, so the test bounds the cause (execution time) tightly and the misses
    // loosely (1 % of the jobs, 10x below what a 2 s block costs).
    assert!(
        stalled.exec_max_us < 20_000.0,
        "a control job ran {} us while ROS was stalled:\n{}",
        stalled.exec_max_us,
        stalled.text
    );
    assert!(
        stalled.misses <= base.misses + 30,
        "misses {} vs {} undisturbed",
        stalled.misses,
        base.misses
    );
    // overruns (a job still running at its next release) are the same VM jitter seen from the
    // other side: a blocked job would be one overrun of ~2 s, which the exec bound above catches
    assert!(
        stalled.overruns <= base.overruns + 30,
        "overruns {} vs {}",
        stalled.overruns,
        base.overruns
    );
}
