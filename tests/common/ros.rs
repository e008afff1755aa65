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
