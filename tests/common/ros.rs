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
    use std::process::Stdio;
    let domain = domain_id(salt);
    // the peer first: rclpy takes a second or two to start
    let mut py = python();
    py.arg(root().join("tests/ros").join(script))
        .args(peer_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut py, &domain);
    let peer = py
        .spawn()
        .expect("start the rclpy peer (did scripts/setup.sh run?)");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(agent_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut agent, &domain);
    let agent = KillOnDrop(agent.spawn().expect("start sattva"));
    let started = std::time::Instant::now();
    let out = peer.wait_with_output().expect("peer output");
    drop(agent);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{report}");
    assert!(
        out.status.success() && report.contains("RESULT OK"),
        "rclpy peer {script} failed after {:?}:\n{report}\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    report
}
