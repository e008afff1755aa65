//! Helpers for tests against real ROS 2 peers (rclpy from the setup's venv).

use std::path::PathBuf;
use std::process::{Child, Command};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A domain id no other test (or concurrent test run) uses.
pub fn domain_id(salt: u32) -> String {
    // pid and clock mix: concurrent test runs on one machine rarely share a domain
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (1 + (std::process::id().wrapping_mul(7919) ^ nanos).wrapping_add(salt) % 100).to_string()
}

/// Localhost-only discovery on `domain`, the ROS libraries on the loader path and the
/// workspace's Python packages (sattva_msgs) on PYTHONPATH.
pub fn ros_env(cmd: &mut Command, domain: &str) {
    cmd.env("ROS_DOMAIN_ID", domain)
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .env("RUST_LOG", "warn");
    if let Ok(dirs) = std::env::var("SATTVA_ROS_LD_DIRS") {
        cmd.env("LD_LIBRARY_PATH", dirs);
    }
    let mut py: Vec<String> = std::env::var("AMENT_PREFIX_PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p}/lib/python3.11/site-packages"))
        .filter(|p| std::path::Path::new(p).join("sattva_msgs").exists())
        .collect();
    if let Ok(old) = std::env::var("PYTHONPATH") {
        py.push(old);
    }
    if !py.is_empty() {
        cmd.env("PYTHONPATH", py.join(":"));
    }
}

/// The setup venv's Python.
pub fn python() -> Command {
    let py = std::env::var("SATTVA_PYTHON").unwrap_or_else(|_| {
        root()
            .join("third_party/venv/bin/python")
            .display()
            .to_string()
    });
    Command::new(py)
}

/// A child process killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the rclpy peer `tests/ros/<script>` with `peer_args`, then `sattva` with
/// `agent_args`, both on one fresh ROS domain; waits for the peer and asserts it printed
/// `RESULT OK`. Returns the peer's report (the agent is killed when the peer is done).
pub fn peer_checks_agent(
    script: &str,
    peer_args: &[String],
    agent_args: &[String],
    salt: u32,
) -> String {
    peer_and_agent(script, peer_args, agent_args, &domain_id(salt), false).0
}

/// The rclpy peer `tests/ros/<script>` (started first: rclpy takes a second or two) and `sattva`
/// on `domain`. Asserts the peer printed `RESULT OK`; with `wait_agent` the agent must then end
/// by itself, successfully, and its stdout is returned too (else it is killed).
pub fn peer_and_agent(
    script: &str,
    peer_args: &[String],
    agent_args: &[String],
    domain: &str,
    wait_agent: bool,
) -> (String, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut py = python();
    py.arg(root().join("tests/ros").join(script))
        .args(peer_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut py, domain);
    let peer = py
        .spawn()
        .expect("start the rclpy peer (did scripts/setup.sh run?)");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(agent_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut agent, domain);
    let mut agent = KillOnDrop(agent.spawn().expect("start sattva"));
    let started = std::time::Instant::now();
    let out = peer.wait_with_output().expect("peer output");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let (mut summary, mut errors) = (String::new(), String::new());
    if wait_agent {
        let status = agent.0.wait().expect("sattva exit");
        if let Some(mut so) = agent.0.stdout.take() {
            let _ = so.read_to_string(&mut summary);
        }
        if let Some(mut se) = agent.0.stderr.take() {
            let _ = se.read_to_string(&mut errors);
        }
        assert!(status.success(), "sattva failed: {summary}\n{errors}");
    }
    drop(agent);
    println!("{report}");
    assert!(
        out.status.success() && report.contains("RESULT OK"),
        "rclpy peer {script} failed after {:?}:\n{report}\n{}\nagent: {summary}\n{errors}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    (report, summary)
}

/// Starts the rclpy fake ros2_control robot (`tests/ros/fake_robot.py`) on `domain`: joints
/// `names` (comma-separated) at `initial`, joint states at 500 Hz for `seconds`, following
/// position commands on `/forward_position_controller/commands`; returns once it is READY.
pub fn start_fake_robot(names: &str, initial: &str, seconds: u32, domain: &str) -> KillOnDrop {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let secs = seconds.to_string();
    let mut fake = python();
    fake.arg(root().join("tests/ros/fake_robot.py"))
        .args([
            names,
            initial,
            "500",
            &secs,
            &secs,
            "/forward_position_controller/commands",
        ])
        .stdout(Stdio::piped());
    ros_env(&mut fake, domain);
    let mut fake = KillOnDrop(
        fake.spawn()
            .expect("start the fake robot (did scripts/setup.sh run?)"),
    );
    let out = fake.0.stdout.take().expect("piped stdout");
    let first = BufReader::new(out).lines().next();
    assert!(
        matches!(&first, Some(Ok(l)) if l == "READY"),
        "fake robot did not start: {first:?}"
    );
    fake
}
