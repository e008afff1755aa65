//! STL monitors in the control loop on MuJoCo: a spec that must fire (the arm commanded too
//! fast, with the clamp's velocity limit switched off) makes the command of the violating cycle
//! itself a hold; `safe_stop` latches hold mode; a spec that must not fire stays quiet over a
//! whole curriculum; the cycle with 50 monitors allocates nothing (with their state handed to
//! the recorder queue and the ROS bridge as the control task does); a spec naming a joint the
//! robot lacks fails at start-up naming the monitor.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};

use sattva::action::{ControlMode, OperatorInput};
use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::Backend;
use sattva::config::Config;
use sattva::pipeline::ControlLoop;
use sattva::types::{Command, CommandMode, JointVec};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn config(name: &str, monitors: &[(&str, &str, &str)], overrides: &[&str]) -> Config {
    let dir =
        std::env::temp_dir().join(format!("sattva-monitor-loop-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut yaml = String::from("sattva:\n  ros__parameters:\n    monitors:\n");
    for (n, spec, action) in monitors {
        yaml.push_str(&format!(
            "      {n}: {{spec: \"{spec}\", severity: warn, action: {action}}}\n"
        ));
    }
    let extra: PathBuf = dir.join("monitors.yaml");
    std::fs::write(&extra, yaml).unwrap();
    let ov: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load_layers(&[root().join("config/sim.yaml"), extra], &ov).expect("config")
}

/// Runs the loop: settles, then an operator step command of +1.2 rad on every joint in mode
/// external. Returns per cycle (robustness of monitor 0, command mode, speed_max, control mode).
fn step_response(c: &Config, cycles: usize) -> Vec<(f64, CommandMode, f64, ControlMode)> {
    let mut b = c.open_backend(None).expect("backend");
    b.activate().expect("active");
    let mut lp = ControlLoop::new(c, b, None).expect("loop");
    lp.handle(OperatorInput::Mode(ControlMode::Hold));
    for _ in 0..100 {
        lp.cycle();
    }
    let mut target = JointVec::new();
    for p in &lp.fused().joint_position {
        target.push(p + 1.2);
    }
    lp.handle(OperatorInput::Mode(ControlMode::External));
    let mut out = Vec::new();
    for _ in 0..cycles {
        // the operator keeps sending the far target (fresh: never stale)
        lp.handle(OperatorInput::Command(Command {
            t: lp.backend.now(),
            mode: CommandMode::Position,
            values: target.clone(),
        }));
        lp.cycle();
        let speed = lp
            .fused()
            .joint_velocity
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        out.push((
            lp.monitors().monitors[0].robustness,
            lp.command().mode,
            speed,
            lp.mode(),
        ));
    }
    out
}

const TOO_FAST: &str = "speed_max < 1.5";

#[test]
fn a_violated_hold_monitor_holds_in_the_same_cycle() {
    // the clamp's velocity limit off: only the monitor stands between the step and the arm
    let loose = ["action.clamp.max_velocity=0"];
    let log = step_response(
        &config("log", &[("too_fast", TOO_FAST, "log")], &loose),
        500,
    );
    let first_log = log
        .iter()
        .position(|s| s.0 < 0.0)
        .expect("the step drives the arm over 1.5 rad/s (log-only monitor)");
    assert_eq!(
        log[first_log].1,
        CommandMode::Position,
        "a log monitor does not hold"
    );
    let held = step_response(
        &config("hold", &[("too_fast", TOO_FAST, "hold")], &loose),
        500,
    );
    let first = held
        .iter()
        .position(|s| s.0 < 0.0)
        .expect("the hold monitor fires");
    assert!(
        held[..first].iter().all(|s| s.1 == CommandMode::Position),
        "commands before the violation were the operator's"
    );
    // within the cycle: the command that went to the backend in the violating cycle is a hold
    for s in &held {
        if s.0 < 0.0 {
            assert_eq!(s.1, CommandMode::Hold, "every violating cycle holds");
        }
    }
    let peak_log = log.iter().map(|s| s.2).fold(0.0, f64::max);
    let peak_held = held.iter().map(|s| s.2).fold(0.0, f64::max);
    assert!(
        peak_held < peak_log,
        "holding limits the speed: peak {peak_held:.2} rad/s with hold, {peak_log:.2} without"
    );
}

#[test]
fn safe_stop_latches_hold_mode() {
    let c = config(
        "safe_stop",
        &[("too_fast", TOO_FAST, "safe_stop")],
        &["action.clamp.max_velocity=0"],
    );
    let r = step_response(&c, 500);
    let first = r.iter().position(|s| s.0 < 0.0).expect("fires");
    assert_eq!(r[first].1, CommandMode::Hold);
    assert!(
        r[first..]
            .iter()
            .all(|s| s.3 == ControlMode::Hold && s.1 == CommandMode::Hold),
        "after a safe stop the loop stays in hold mode (the operator's command is ignored)"
    );
    assert!(
        r[first..].iter().any(|s| s.0 >= 0.0),
        "the arm came to rest"
    );
}

#[test]
fn a_sane_monitor_stays_quiet_over_a_curriculum() {
    // the clamp limits position targets to 4 rad/s: the arm never runs at 1.5 times that; the
    // simulated IMU delivers a sample every cycle (fresh at least every 10 ms)
    let c = config(
        "quiet",
        &[
            ("speed", "always[0:0.02](speed_max < 6)", "hold"),
            (
                "imu_fresh",
                "historically[0:0.1](imu_age < 0.01)",
                "safe_stop",
            ),
        ],
        &[],
    );
    let opts = sattva::sim::SimOptions {
        episodes: Some(6),
        ..Default::default()
    };
    let s = sattva::sim::run_sim(&c, &opts).expect("sim");
    assert!(s.curriculum.is_some(), "the curriculum ran");
    assert_eq!(s.monitors.len(), 2);
    for m in &s.monitors {
        assert_eq!(m.violations, 0, "{m}");
        assert!(m.min_robustness.is_finite(), "{m}");
    }
}

#[test]
fn fifty_monitors_allocate_nothing_per_cycle() {
    let mut c = Config::load(&root().join("config/sim.yaml"), &[]).expect("config");
    let b = c.open_backend(None).expect("backend");
    let joints = b.info().joint_names.clone();
    drop(b);
    let specs = sattva::bench::monitors::spec_set(&joints, 50);
    c.monitors = sattva::bench::monitors::section(&specs);
    let mut b = c.open_backend(None).expect("backend");
    b.activate().expect("active");
    let mut lp = ControlLoop::new(&c, b, None).expect("loop");
    for _ in 0..200 {
        lp.cycle(); // warm-up: past every horizon
    }
    // what the control task does with the monitors' state: chunks to the recorder every cycle
    // and to the ROS bridge (both fill up: the drop path is measured too)
    let (sink, _source) = sattva::record::record_queue(64);
    let (mut rt, _ros) = sattva::ros::bridge::bridge(32);
    let before = allocations_on_this_thread();
    for _ in 0..2000 {
        std::hint::black_box(lp.cycle());
        for c in lp.monitors().chunks() {
            sink.push(sattva::record::Sample::Monitors(c));
            rt.send(sattva::ros::bridge::ToRos::Monitors(c));
        }
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "50 monitors allocated {n} times in 2000 cycles");
    assert_eq!(lp.monitors().monitors.len(), 50);
    // 50 monitors are 4 chunks a cycle
    assert_eq!(sink.stats().pushed + sink.stats().dropped, 8000);
    assert_eq!(rt.stats().snapshot().0, 32);
    assert!(lp
        .monitors()
        .monitors
        .iter()
        .all(|m| !m.robustness.is_nan()));
}

#[test]
fn an_unknown_joint_fails_at_start_naming_the_monitor() {
    let c = config("unknown", &[("knee_speed", "vel_knee < 1", "hold")], &[]);
    let mut b = c.open_backend(None).expect("backend");
    b.activate().expect("active");
    let e = ControlLoop::new(&c, b, None)
        .err()
        .expect("unknown joint")
        .to_string();
    assert!(e.contains("monitors.knee_speed.spec"), "{e}");
    assert!(e.contains("column 1"), "{e}");
    assert!(e.contains("unknown joint `knee`"), "{e}");
    assert!(e.contains("shoulder_yaw"), "lists the joints: {e}");
}
