//! The ROS 2 surface: topics, parameters and services (node behind feature `ros2`, via r2r).
//!
//! The node runs on its own non-RT thread. It talks to the RT control task only through the
//! lock-free [`bridge`]: the RT task never waits for ROS, and a stalled ROS side only shows up as
//! counted drops. Standard messages first (REP-103 units, REP-105 frame ids from config):
//! `sensor_msgs/JointState`, `sensor_msgs/Imu`, `diagnostic_msgs/DiagnosticArray`,
//! `rosgraph_msgs/Clock` in simulation; `sattva_msgs` for attractors and the STL monitors
//! (`MonitorState` on `sattva/monitors`).

pub mod args;
pub mod bridge;
#[cfg(feature = "ros2")]
pub mod node;
#[cfg(feature = "ros2")]
mod perform;

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// Topic names (absolute, or relative to the node namespace).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicsConfig {
    /// `sensor_msgs/JointState`, sensor-data QoS.
    pub joint_states: String,
    /// `sensor_msgs/Imu`, sensor-data QoS.
    pub imu: String,
    /// `diagnostic_msgs/DiagnosticArray`, reliable.
    pub diagnostics: String,
    /// `sattva_msgs/AttractorEvent`, reliable.
    pub attractor_events: String,
    /// `sattva_msgs/AttractorSet`, reliable, transient local.
    pub attractors: String,
    /// `visualization_msgs/MarkerArray` of the attractors, reliable.
    pub attractor_markers: String,
    /// Operator joint command, `std_msgs/Float64MultiArray` (positions in joint order).
    pub command: String,
    /// Operator joint command, `trajectory_msgs/JointTrajectory` (first point, joints by name).
    pub joint_trajectory: String,
    /// Control mode, `std_msgs/String`: `explore`, `hold` or `external`.
    pub mode: String,
    /// The STL monitors' robustness and violations, `sattva_msgs/MonitorState`, reliable
    /// (published at `monitors_rate_hz` when `monitors:` has any).
    pub monitors: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            joint_states: "joint_states".into(),
            imu: "imu/data".into(),
            diagnostics: "/diagnostics".into(),
            attractor_events: "sattva/attractor_events".into(),
            attractors: "sattva/attractors".into(),
            attractor_markers: "sattva/attractor_markers".into(),
            command: "sattva/command".into(),
            joint_trajectory: "sattva/joint_trajectory".into(),
            mode: "sattva/mode".into(),
            monitors: "sattva/monitors".into(),
        }
    }
}

/// The `ros:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RosConfig {
    /// Node namespace ("" = root).
    pub namespace: String,
    /// REP-105 frame of the robot base (frame of the joint states).
    pub base_frame_id: String,
    /// Frame of the IMU (`sensor_msgs/Imu.header.frame_id`).
    pub imu_frame_id: String,
    /// Topic names.
    pub topics: TopicsConfig,
    /// Publish `/clock` with sim/replay time (set `use_sim_time` on other nodes).
    pub publish_clock: bool,
    /// Publish every n-th sensor frame (1 = every control cycle).
    pub frame_decimation: u32,
    /// Diagnostics period, ms.
    pub diagnostics_period_ms: u32,
    /// An operator command older than this makes the robot hold (external mode), ms.
    pub command_timeout_ms: u32,
    /// Capacity of each bridge ring, messages.
    pub queue_capacity: u32,
    /// Rate of `topics.monitors`, Hz (the latest cycle's values; the counters cover every
    /// cycle in between).
    pub monitors_rate_hz: f64,
}

impl Default for RosConfig {
    fn default() -> Self {
        Self {
            namespace: String::new(),
            base_frame_id: "base_link".into(),
            imu_frame_id: "imu_link".into(),
            topics: TopicsConfig::default(),
            publish_clock: true,
            frame_decimation: 1,
            diagnostics_period_ms: 1000,
            command_timeout_ms: 500,
            queue_capacity: 512,
            monitors_rate_hz: 20.0,
        }
    }
}

impl Validate for RosConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("frame_decimation", self.frame_decimation as u64, 1, 100_000);
        c.range_u64(
            "diagnostics_period_ms",
            self.diagnostics_period_ms as u64,
            10,
            3_600_000,
        );
        c.range_u64(
            "command_timeout_ms",
            self.command_timeout_ms as u64,
            1,
            3_600_000,
        );
        c.range_u64("queue_capacity", self.queue_capacity as u64, 2, 1 << 20);
        c.range_f64("monitors_rate_hz", self.monitors_rate_hz, 0.1, 1000.0);
        c.require(
            self.namespace.is_empty() || self.namespace.starts_with('/'),
            "namespace",
            format!(
                "`{}`: expected empty or an absolute namespace like `/robot1`",
                self.namespace
            ),
        );
        let t = &self.topics;
        c.section("topics", |c| {
            for (k, v) in [
                ("joint_states", &t.joint_states),
                ("imu", &t.imu),
                ("diagnostics", &t.diagnostics),
                ("attractor_events", &t.attractor_events),
                ("attractors", &t.attractors),
                ("attractor_markers", &t.attractor_markers),
                ("command", &t.command),
                ("joint_trajectory", &t.joint_trajectory),
                ("mode", &t.mode),
                ("monitors", &t.monitors),
            ] {
                let ok = !v.is_empty()
                    && v.chars().all(|ch| {
                        ch.is_ascii_alphanumeric() || ch == '_' || ch == '/' || ch == '~'
                    })
                    && !v.contains("//")
                    && !v.ends_with('/');
                c.require(ok, k, format!("`{v}` is not a valid ROS 2 topic name"));
            }
        });
    }
}
