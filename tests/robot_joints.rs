//! The robot-joints backend against a fake ros2_control robot written with rclpy (a real ROS 2
//! peer): joint order by name, commands within limits (clamped and counted), and the stale-state
//! watchdog tripping within its configured time.
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

#[test]
fn commands_are_ordered_clamped_and_the_watchdog_trips_when_states_stop() {
    let domain = common::ros::domain_id(0);
    // SAFETY: set before any thread of this test process uses ROS; tests in this file are one.
    unsafe {
        std::env::set_var("ROS_DOMAIN_ID", &domain);
        std::env::set_var("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    }
    let py = std::env::var("SATTVA_PYTHON").expect("SATTVA_PYTHON (setup)");
    let mut fake = Command::new(py);
    fake.arg(root().join("tests/ros/fake_robot.py"))
        .args([
            "j1,j2,j3",
            "0.1,0.2,0.3",
            "500",
            "4.0",
            "6.0",
            "/forward_position_controller/commands",
        ])
        .stdout(Stdio::piped());
    if let Ok(d) = std::env::var("SATTVA_ROS_LD_DIRS") {
        fake.env("LD_LIBRARY_PATH", d);
    }
    let mut fake = fake.spawn().unwrap();
    let mut lines = BufReader::new(fake.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
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
    let mut result = None;
    for l in lines.map_while(Result::ok) {
        if let Some(j) = l.strip_prefix("RESULT ") {
            result = Some(j.to_string());
        }
    }
    let _ = fake.wait();
    let v: serde_norway::Value =
        serde_norway::from_str(&result.expect("fake robot result")).unwrap();

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
    let cmds: Vec<Vec<f64>> = v["commands"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_sequence()
                .unwrap()
                .iter()
                .skip(1)
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert!(cmds.len() > 500, "commands received: {}", cmds.len());
    assert!(cmds
        .iter()
        .all(|c| c.len() == 3 && c.iter().all(|x| x.abs() <= 1.0 + 1e-12)));
    let max_step = cmds
        .windows(2)
        .map(|w| {
            (0..3)
                .map(|i| (w[1][i] - w[0][i]).abs())
                .fold(0.0, f64::max)
        })
        .fold(0.0, f64::max);
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
    // after the trip the backend held: the last commands equal the last measured position
    let last = cmds.last().unwrap();
    assert!(
        (last[0] - fin[0]).abs() < 0.05,
        "hold {last:?} vs position {fin:?}"
    );
}
