//! The robot-joints backend against a fake ros2_control robot written with rclpy (a real ROS 2
//! peer): joint order by name, commands within limits (clamped and counted), the stale-state
//! watchdog tripping within its configured time, and the hold it then commands: at the last
//! commanded position, never a jump beyond the velocity limit.
#![cfg(feature = "ros2")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sattva::backend::robot::RobotJointsBackend;
use sattva::backend::{Backend, BackendError};
use sattva::config::Config;
use sattva::types::{Command as Cmd, CommandMode, SensorFrame, Time};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One ROS domain for this test process, set before any test uses ROS (the tests of this file
/// share it and keep apart by topic names).
fn ros_domain() -> &'static str {
    static DOMAIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOMAIN.get_or_init(|| {
        let domain = common::ros::domain_id(0);
        // SAFETY: runs once, inside `get_or_init`, before any test of this process starts a ROS
        // thread or a peer: no other thread reads the environment concurrently.
        unsafe {
            std::env::set_var("ROS_DOMAIN_ID", &domain);
            std::env::set_var("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
        }
        domain
    })
}

/// The tests of this file run one at a time, and beside no other timing-sensitive test of any
/// test binary (tests/common/timing.rs): each drives a 500 Hz loop against a 500 Hz rclpy peer
/// and times the watchdog against the wall clock; two at once on a small machine starve the
/// peers into spurious watchdog trips.
fn one_at_a_time() -> common::timing::TimingGuard {
    common::timing::serial()
}

/// Starts `tests/ros/fake_robot.py` with `args`; returns it (killed on drop) and its stdout
/// lines after `READY`.
fn start_fake_robot(
    args: &[&str],
) -> (
    common::ros::KillOnDrop,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    ros_domain();
    let py = std::env::var("SATTVA_PYTHON").expect("SATTVA_PYTHON (setup)");
    let mut fake = Command::new(py);
    fake.arg(root().join("tests/ros/fake_robot.py"))
        .args(args)
        .stdout(Stdio::piped());
    if let Ok(d) = std::env::var("SATTVA_ROS_LD_DIRS") {
        fake.env("LD_LIBRARY_PATH", d);
    }
    let mut fake = common::ros::KillOnDrop(fake.spawn().unwrap());
    let mut lines = BufReader::new(fake.0.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    (fake, lines)
}

/// The fake robot's final report (`RESULT {...}`), read until it exits.
fn fake_result(
    mut fake: common::ros::KillOnDrop,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
) -> serde_norway::Value {
    let mut result = None;
    for l in lines.map_while(Result::ok) {
        if let Some(j) = l.strip_prefix("RESULT ") {
            result = Some(j.to_string());
        }
    }
    let _ = fake.0.wait();
    serde_norway::from_str(&result.expect("fake robot result")).unwrap()
}

/// Every command the fake robot received: (receipt time, values).
fn received(v: &serde_norway::Value) -> Vec<(f64, Vec<f64>)> {
    v["commands"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            let c: Vec<f64> = c
                .as_sequence()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            (c[0], c[1..].to_vec())
        })
        .collect()
}

/// The largest change of any joint between consecutive commands, and where it happened.
fn largest_step(cmds: &[(f64, Vec<f64>)]) -> (f64, usize) {
    let mut worst = (0.0, 0);
    for (k, w) in cmds.windows(2).enumerate() {
        for (a, b) in w[0].1.iter().zip(&w[1].1) {
            if (b - a).abs() > worst.0 {
                worst = ((b - a).abs(), k + 1);
            }
        }
    }
    worst
}

#[test]
fn commands_are_ordered_clamped_and_the_watchdog_trips_when_states_stop() {
    let _serial = one_at_a_time();
    let (fake, lines) = start_fake_robot(&[
        "j1,j2,j3",
        "0.1,0.2,0.3",
        "500",
        "4.0",
        "6.0",
        "/forward_position_controller/commands",
    ]);
    let fake_start = Instant::now();

    let c = Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: robot\n    robot:\n      joint_names: [j1, j2, j3]\n      position_min: [-1.0, -1.0, -1.0]\n      position_max: [1.0, 1.0, 1.0]\n      velocity_max: [2.0, 2.0, 2.0]\n      stale_timeout_ms: 100\n    ros:\n      topics:\n        joint_states: sattva/joint_states\n",
        Path::new("robot.yaml"),
        &[],
    )
    .unwrap();
    let mut b = RobotJointsBackend::new(&c).unwrap();
    b.configure().unwrap();
    b.activate().unwrap();
    let mut f = SensorFrame::default();
    let mut first: Option<Vec<f64>> = None;
    let mut last_ok: Option<(Instant, i64)> = None;
    let mut first_stale: Option<Instant> = None;
    let target = [0.5, -0.3, 5.0]; // j3 beyond its limit
    let period = Duration::from_millis(2);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs_f64(5.0) {
        let now = b.now();
        match b.read(now, &mut f) {
            Ok(()) => {
                first.get_or_insert_with(|| f.joints.position.to_vec());
                last_ok = Some((Instant::now(), f.t.0));
                let cmd = Cmd {
                    t: now,
                    mode: CommandMode::Position,
                    values: target.iter().copied().collect(),
                };
                b.write(now, &cmd).unwrap();
            }
            Err(BackendError::Disconnected { message, .. }) => {
                if message.contains("stale") && first_stale.is_none() {
                    first_stale = Some(Instant::now());
                }
                b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(period);
    }
    let stats = b.stats().clone();
    drop(b);
    let v = fake_result(fake, lines);

    // joint order: the robot publishes j3,j2,j1; the frame is in config order j1,j2,j3
    let first = first.expect("joint states arrived");
    assert!(
        (first[0] - 0.1).abs() < 0.05 && (first[2] - 0.3).abs() < 0.05,
        "first frame {first:?}"
    );
    // the robot followed the commands in the right joint order, j3 clamped to its limit
    let fin: Vec<f64> = v["final"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(
        (fin[0] - 0.5).abs() < 0.02 && (fin[1] + 0.3).abs() < 0.02,
        "final {fin:?}"
    );
    assert!(
        (fin[2] - 1.0).abs() < 0.02,
        "j3 must stop at its limit 1.0: {fin:?}"
    );
    // every command within limits, and rate-limited to velocity_max * period between commands
    let timed = received(&v);
    let cmds: Vec<Vec<f64>> = timed.iter().map(|(_, c)| c.clone()).collect();
    assert!(cmds.len() > 500, "commands received: {}", cmds.len());
    assert!(cmds
        .iter()
        .all(|c| c.len() == 3 && c.iter().all(|x| x.abs() <= 1.0 + 1e-12)));
    let (max_step, _) = largest_step(&timed);
    assert!(
        max_step <= 2.0 * 0.002 + 1e-9,
        "largest step between commands {max_step}"
    );
    assert!(stats.clamped.load(std::sync::atomic::Ordering::Relaxed) > 0);
    // watchdog: stale within the configured 100 ms (+ one loop period and scheduling slack)
    let (ok_at, _) = last_ok.unwrap();
    let stale_at = first_stale.expect("the watchdog never tripped");
    let lag = stale_at.duration_since(ok_at);
    println!(
        "robot publishing stopped after {:.2} s; watchdog tripped {:.1} ms after the last fresh state",
        v["stopped_at"].as_f64().unwrap_or(0.0),
        lag.as_secs_f64() * 1e3
    );
    assert!(
        lag <= Duration::from_millis(100 + 40),
        "watchdog after {lag:?}"
    );
    assert!(
        stale_at.duration_since(fake_start) > Duration::from_secs(3),
        "tripped too early"
    );
    assert_eq!(stats.stale.load(std::sync::atomic::Ordering::Relaxed), 1);
    // after the trip the backend held where it had commanded the robot to, where it stands
    let last = cmds.last().unwrap();
    assert!(
        (last[0] - fin[0]).abs() < 0.05,
        "hold {last:?} vs position {fin:?}"
    );
}

/// A 6-joint arm whose driver goes silent for 1 s while the arm moves at its velocity limit:
/// the watchdog trips after 100 ms and the backend holds. The hold is the last *commanded*
/// position (the last measured one is 100 ms old by then: commanding it would jump back by up to
/// 0.1 rad in one period), every command the robot receives stays within `velocity_max *
/// period` of the previous one (hold entry and exit included), and motion resumes from the hold
/// when the driver is back.
#[test]
fn a_silent_driver_makes_the_arm_hold_at_the_commanded_position_without_a_jump() {
    let _serial = one_at_a_time();
    const N: usize = 6;
    const VMAX: f64 = 1.0;
    const DT: f64 = 0.002;
    let (fake, lines) = start_fake_robot(&[
        "a1,a2,a3,a4,a5,a6",
        "0,0,0,0,0,0",
        "500",
        "2.5", // the driver goes silent 2.5 s in ...
        "5.0",
        "/arm6/commands",
        "1.0", // ... for 1 s
        "/arm6/joint_states",
    ]);
    let fake_start = Instant::now();
    let c = Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: robot\n    robot:\n      joint_names: [a1, a2, a3, a4, a5, a6]\n      joint_states_topic: /arm6/joint_states\n      command_topic: /arm6/commands\n      position_min: [-2.0, -2.0, -2.0, -2.0, -2.0, -2.0]\n      position_max: [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]\n      velocity_max: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]\n      stale_timeout_ms: 100\n    ros:\n      topics:\n        joint_states: sattva/joint_states\n",
        Path::new("arm6.yaml"),
        &[],
    )
    .unwrap();
    let mut b = RobotJointsBackend::new(&c).unwrap();
    b.configure().unwrap();
    b.activate().unwrap();
    let mut f = SensorFrame::default();
    // the last fresh measurement before the trip, and the watchdog's first report
    // every watchdog trip: (seconds since the fake robot started, the last fresh measurement);
    // a loaded machine may add a spurious one, the silence must cause one
    let mut trips: Vec<(f64, Vec<f64>)> = Vec::new();
    let mut last_fresh: Vec<f64> = Vec::new();
    let mut stale = false;
    let mut fresh_at: Vec<f64> = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs_f64(4.5) {
        let now = b.now();
        match b.read(now, &mut f) {
            Ok(()) => {
                stale = false;
                last_fresh = f.joints.position.to_vec();
                fresh_at.push(fake_start.elapsed().as_secs_f64());
                // hold for 0.5 s (discovery), then fast sines: the rate limit (1 rad/s) is active
                // much of the time
                let t = t0.elapsed().as_secs_f64();
                if t < 0.5 {
                    b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                let cmd = Cmd {
                    t: now,
                    mode: CommandMode::Position,
                    values: (0..N)
                        .map(|i| 1.2 * (2.0 * std::f64::consts::PI * 0.5 * t + i as f64).sin())
                        .collect(),
                };
                b.write(now, &cmd).unwrap();
            }
            Err(BackendError::Disconnected { message, .. }) => {
                if message.contains("stale") && !stale {
                    stale = true;
                    trips.push((fake_start.elapsed().as_secs_f64(), last_fresh.clone()));
                }
                // what the control loop does on a failed read: hold
                b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let stats = b.stats().clone();
    drop(b);
    let v = fake_result(fake, lines);
    let cmds = received(&v);
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);

    let times: Vec<String> = trips.iter().map(|(t, _)| format!("{t:.3}")).collect();
    println!("watchdog trips at {times:?} s (driver silent from 2.5 s to 3.5 s)");
    // the silence trips the watchdog after 100 ms (plus a loop period and slack)
    let (trip, measured) = trips
        .iter()
        .find(|(t, _)| (2.5..2.5 + 0.1 + 0.2).contains(t))
        .cloned()
        .unwrap_or_else(|| panic!("no watchdog trip 0.1-0.3 s after the silence began: {times:?}"));
    assert_eq!(load(&stats.stale), trips.len() as u64, "trips counted");
    assert!(load(&stats.holds) >= 1, "the backend entered hold");
    let fresh_after = fresh_at.iter().filter(|t| **t > trip + 1.0).count();
    assert!(
        fresh_after > 100,
        "fresh states after the driver came back: {fresh_after}"
    );
    assert!(cmds.len() > 1000, "commands received: {}", cmds.len());
    assert!(cmds.iter().all(|(_, c)| c.len() == N));
    // the first commands (before discovery completes some are lost) hold the arm where it
    // stands; the motion then starts from there, rate-limited like the rest
    assert!(
        cmds[0].1.iter().all(|x| x.abs() < 1e-6),
        "first command {:?}: the rest position 0",
        cmds[0].1
    );

    // no command, hold or motion, moves a joint further than the velocity limit allows in one
    // control period (the robot receives every command: reliable QoS, a deep queue)
    let (max_step, at) = largest_step(&cmds);
    println!(
        "{} commands; largest step between consecutive commands {max_step:.6} rad (limit {:.6}) at #{at}",
        cmds.len(),
        VMAX * DT
    );
    assert!(
        max_step <= VMAX * DT + 1e-9,
        "command #{at} jumped {max_step:.4} rad in one period against velocity_max {VMAX} rad/s: {:?} -> {:?}",
        cmds[at - 1].1,
        cmds[at].1
    );

    // the hold: the longest run of identical commands, during the silence
    let mut best = (0usize, 0usize);
    let mut start = 0;
    for k in 1..=cmds.len() {
        if k == cmds.len() || cmds[k].1 != cmds[start].1 {
            if k - start > best.1 - best.0 {
                best = (start, k);
            }
            start = k;
        }
    }
    let (h0, h1) = best;
    let held_for = cmds[h1 - 1].0 - cmds[h0].0;
    assert!(
        held_for > 0.7,
        "the hold lasted {held_for:.3} s (driver silent for 1 s, watchdog 100 ms)"
    );
    let hold = &cmds[h0].1;
    // it is where the robot was last commanded to (the first hold command repeats the last
    // motion command: zero step), not the 100 ms old measurement
    assert!(h0 > 0, "commands before the hold");
    let before = &cmds[h0 - 1].1;
    let stale_gap = hold
        .iter()
        .zip(&measured)
        .map(|(h, m)| (h - m).abs())
        .fold(0.0, f64::max);
    println!(
        "held {held_for:.3} s at {hold:?}; last measured before the trip {measured:?} (differs by up to {stale_gap:.4} rad)"
    );
    assert!(
        stale_gap > 5.0 * VMAX * DT,
        "the arm was moving: holding the measured position would have jumped (gap {stale_gap})"
    );
    assert!(
        hold.iter()
            .zip(before)
            .all(|(h, p)| (h - p).abs() <= VMAX * DT + 1e-9),
        "hold {hold:?} vs the command before it {before:?}"
    );
    // and the arm moved again once the driver was back
    assert!(
        cmds[h1..].windows(2).any(|w| w[0].1 != w[1].1),
        "no motion after the hold"
    );
}

/// A robot-joints backend for `robot:` keys given as YAML lines (indented under `robot:`).
fn backend(robot_keys: &str) -> RobotJointsBackend {
    let yaml = format!(
        "sattva:\n  ros__parameters:\n    backend: robot\n    robot:\n{robot_keys}    ros:\n      topics:\n        joint_states: sattva/joint_states\n"
    );
    let c = Config::from_yaml_str(&yaml, Path::new("robot.yaml"), &[]).unwrap();
    RobotJointsBackend::new(&c).unwrap()
}

/// Reads until the first joint state arrives (bounded: discovery on a fresh graph).
fn first_state(b: &mut RobotJointsBackend, f: &mut SensorFrame) -> Vec<f64> {
    let t0 = Instant::now();
    while b.read(b.now(), f).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no joint state from the fake robot"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    f.joints.position.to_vec()
}

/// The `joint_trajectory_controller` interface: every command the robot receives is a one-point
/// `trajectory_msgs/JointTrajectory` naming the joints in the configured order, with the
/// commanded positions and `time_from_start` = the configured 1250 ms (1 s + 250,000,000 ns);
/// and every frame `read` returns carries the newest joint state received: the robot follows the
/// command, the frames follow the robot (the fake publishes its joints in reverse order).
#[test]
fn trajectory_commands_name_the_joints_and_frames_carry_each_new_state() {
    let _serial = one_at_a_time();
    let (fake, lines) = start_fake_robot(&[
        "t1,t2,t3",
        "0.1,0.2,0.3",
        "500",
        "60",
        "3.0",
        "/traj/commands",
        "0",
        "/traj/joint_states",
        "--trajectory",
    ]);
    let mut b = backend(
        "      joint_names: [t1, t2, t3]\n      joint_states_topic: /traj/joint_states\n      command_topic: /traj/commands\n      command_interface: trajectory\n      trajectory_time_from_start_ms: 1250\n      position_min: [-1.0, -1.0, -1.0]\n      position_max: [1.0, 1.0, 1.0]\n      velocity_max: [2.0, 2.0, 2.0]\n      stale_timeout_ms: 500\n",
    );
    b.configure().unwrap();
    b.activate().unwrap();
    let target = [0.6, -0.4, 0.5];
    let mut f = SensorFrame::default();
    // (frame time, positions) of every successful read
    let mut frames: Vec<(i64, Vec<f64>)> = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let now = b.now();
        if b.read(now, &mut f).is_ok() {
            frames.push((f.t.0, f.joints.position.to_vec()));
            let cmd = Cmd {
                t: now,
                mode: CommandMode::Position,
                values: target.iter().copied().collect(),
            };
            b.write(now, &cmd).unwrap();
        } else {
            b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(b);
    let v = fake_result(fake, lines);

    let trajs = v["trajectories"].as_sequence().unwrap();
    assert!(trajs.len() > 100, "trajectories received: {}", trajs.len());
    for (k, t) in trajs.iter().enumerate() {
        let names: Vec<&str> = t["joint_names"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(names, ["t1", "t2", "t3"], "trajectory #{k}");
        let points = t["points"].as_sequence().unwrap();
        assert_eq!(points.len(), 1, "trajectory #{k}: one point");
        assert_eq!(points[0]["sec"].as_u64(), Some(1), "trajectory #{k}");
        assert_eq!(
            points[0]["nanosec"].as_u64(),
            Some(250_000_000),
            "trajectory #{k}"
        );
        assert_eq!(points[0]["positions"].as_sequence().unwrap().len(), 3);
    }
    // the last command is the target itself (the rate limit reached it after 0.25 s)
    let cmds = received(&v);
    let last = &cmds.last().unwrap().1;
    assert!(
        last.iter().zip(target).all(|(a, b)| (a - b).abs() < 1e-12),
        "last command {last:?} vs target {target:?}"
    );
    // frames: the robot's newest state, in config order. It starts at (0.1, 0.2, 0.3) and ends
    // on the target (first-order lag 0.2 per 2 ms tick: within 1e-6 in 0.15 s after the command
    // stops changing); frame times advance with each new state.
    assert!(frames.len() > 100, "frames read: {}", frames.len());
    let first = &frames[0].1;
    assert!(
        (first[0] - 0.1).abs() < 0.05 && (first[2] - 0.3).abs() < 0.05,
        "first frame {first:?}"
    );
    let (_, end) = frames.last().unwrap();
    assert!(
        end.iter().zip(target).all(|(a, b)| (a - b).abs() < 1e-6),
        "last frame {end:?}: the robot stands at {target:?}"
    );
    let mut times: Vec<i64> = frames.iter().map(|(t, _)| *t).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "frame times go back"
    );
    times.dedup();
    assert!(
        times.len() > 100,
        "distinct joint states in the frames: {} of {} reads",
        times.len(),
        frames.len()
    );
}

/// A hold asked for before any joint state has arrived (the backend configured, not yet
/// activated) has nothing to hold; once the first state arrives, the hold commands the measured
/// position, never a default target (zeros: a jump to the joints' zero).
#[test]
fn a_hold_before_the_first_joint_state_holds_the_measured_position_once_known() {
    let _serial = one_at_a_time();
    let (fake, lines) = start_fake_robot(&[
        "e1,e2,e3",
        "0.1,0.2,0.3",
        "500",
        "60",
        "2.5",
        "/early/commands",
        "0",
        "/early/joint_states",
    ]);
    let mut b = backend(
        "      joint_names: [e1, e2, e3]\n      joint_states_topic: /early/joint_states\n      command_topic: /early/commands\n      stale_timeout_ms: 500\n",
    );
    b.configure().unwrap();
    let now = b.now();
    // a motion command and then a hold, before any state was read: nothing may leave
    b.write(
        now,
        &Cmd {
            t: now,
            mode: CommandMode::Position,
            values: [0.5, 0.5, 0.5].into_iter().collect(),
        },
    )
    .unwrap();
    b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
    let mut f = SensorFrame::default();
    let measured = first_state(&mut b, &mut f);
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(800) {
        let now = b.now();
        let _ = b.read(now, &mut f);
        b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(b);
    let v = fake_result(fake, lines);
    let cmds = received(&v);
    assert!(cmds.len() > 50, "hold commands received: {}", cmds.len());
    for (k, (_, c)) in cmds.iter().enumerate() {
        assert!(
            c.iter().zip(&measured).all(|(a, b)| (a - b).abs() < 1e-9),
            "command #{k} {c:?}: the hold must be the measured position {measured:?}"
        );
    }
}

/// A hold keeps the position measured when it began (before activation, with no command sent
/// yet): a robot that moves on its own afterwards (pushed, sagging: the fake drifts 0.5 rad/s) is
/// commanded back there, the target does not creep along with the drift.
#[test]
fn a_hold_resists_a_drifting_robot_instead_of_following_it() {
    let _serial = one_at_a_time();
    let (fake, lines) = start_fake_robot(&[
        "d1,d2,d3",
        "0.1,0.2,0.3",
        "500",
        "60",
        "2.5",
        "/drift/commands",
        "0",
        "/drift/joint_states",
        "--drift",
        "0.5",
    ]);
    let mut b = backend(
        "      joint_names: [d1, d2, d3]\n      joint_states_topic: /drift/joint_states\n      command_topic: /drift/commands\n      stale_timeout_ms: 500\n",
    );
    b.configure().unwrap();
    let now = b.now();
    // a motion command before any state: the backend leaves hold, nothing is sent
    b.write(
        now,
        &Cmd {
            t: now,
            mode: CommandMode::Position,
            values: [0.5, 0.5, 0.5].into_iter().collect(),
        },
    )
    .unwrap();
    let mut f = SensorFrame::default();
    let at_hold = first_state(&mut b, &mut f);
    // the hold begins (a reset: a real robot is not reset by software, it holds) ...
    b.reset(0).unwrap();
    // ... while the robot drifts on for 300 ms (frames keep coming)
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(300) {
        let _ = b.read(b.now(), &mut f);
        std::thread::sleep(Duration::from_millis(2));
    }
    let drifted = f.joints.position.to_vec();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(800) {
        let now = b.now();
        let _ = b.read(now, &mut f);
        b.write(now, &Cmd::hold(Time::ZERO)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(b);
    let v = fake_result(fake, lines);
    assert!(
        drifted.iter().zip(&at_hold).all(|(a, b)| a - b > 0.1),
        "the robot drifted from {at_hold:?} to {drifted:?} before the hold command"
    );
    let cmds = received(&v);
    assert!(cmds.len() > 50, "hold commands received: {}", cmds.len());
    for (k, (_, c)) in cmds.iter().enumerate() {
        assert!(
            c.iter().zip(&at_hold).all(|(a, b)| (a - b).abs() < 1e-9),
            "command #{k} {c:?}: the hold is where the robot was when it began, {at_hold:?} (now at {drifted:?})"
        );
    }
}
