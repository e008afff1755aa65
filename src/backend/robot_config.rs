//! Configuration of the robot-joints backend: a real robot driven through its own ros2_control
//! stack. Always compiled so config files validate without the `ros2` feature.
//!
//! Joint order, topics and limits usually come from a hardware profile passed as a second
//! params file (`--params-file config/robot.yaml --params-file hardware/<robot>.yaml`), which
//! merges into the `robot:` section key by key.

use serde::{Deserialize, Serialize};

use crate::types::MAX_JOINTS;
use crate::validate::{Checker, Validate};

/// Which ros2_control command interface the robot exposes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandInterface {
    /// `forward_position_controller`: `std_msgs/Float64MultiArray` of positions.
    #[default]
    Position,
    /// `forward_velocity_controller`: `std_msgs/Float64MultiArray` of velocities.
    Velocity,
    /// `joint_trajectory_controller`: one-point `trajectory_msgs/JointTrajectory`.
    Trajectory,
}

/// The `robot:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RobotJointsConfig {
    /// Joints in command/state order (names as in the robot's `/joint_states`).
    pub joint_names: Vec<String>,
    /// The robot's joint states (`sensor_msgs/JointState`, any joint order).
    pub joint_states_topic: String,
    /// Command interface of the robot's controller.
    pub command_interface: CommandInterface,
    /// Command topic of that controller.
    pub command_topic: String,
    /// Lower position limits, one per joint (absent: unlimited).
    pub position_min: Option<Vec<f64>>,
    /// Upper position limits, one per joint (absent: unlimited).
    pub position_max: Option<Vec<f64>>,
    /// Velocity limits |v|, one per joint; position commands are rate-limited by them.
    pub velocity_max: Option<Vec<f64>>,
    /// Joint states older than this make the backend report a lost robot and hold, ms.
    pub stale_timeout_ms: u32,
    /// `time_from_start` of the trajectory point (trajectory interface), ms.
    pub trajectory_time_from_start_ms: u32,
    /// How long `activate` waits for the first joint state, ms.
    pub start_timeout_ms: u32,
    /// The robot's model (MJCF, or URDF through MuJoCo's importer; relative to this file),
    /// joints named as in `joint_names`: with it (and feature `mujoco`) the primitive library
    /// has the robot's kinematics (task-space primitives at `action.primitives.end_effector`,
    /// limbs from the kinematic tree); without it, joint-space primitives from the limits.
    pub model: Option<String>,
    /// Compose the joints with the RealSense camera of the `realsense:` section (its IMU feeds
    /// the orientation filter); off: joints only.
    pub camera: bool,
}

impl Default for RobotJointsConfig {
    fn default() -> Self {
        Self {
            joint_names: Vec::new(),
            joint_states_topic: "/joint_states".into(),
            command_interface: CommandInterface::Position,
            command_topic: "/forward_position_controller/commands".into(),
            position_min: None,
            position_max: None,
            velocity_max: None,
            stale_timeout_ms: 100,
            trajectory_time_from_start_ms: 20,
            start_timeout_ms: 5000,
            model: None,
            camera: true,
        }
    }
}

impl Validate for RobotJointsConfig {
    fn validate(&self, c: &mut Checker) {
        let n = self.joint_names.len();
        c.require(
            (1..=MAX_JOINTS).contains(&n),
            "joint_names",
            format!("{n} joints: expected 1 to {MAX_JOINTS}"),
        );
        for (k, v) in [
            ("position_min", &self.position_min),
            ("position_max", &self.position_max),
            ("velocity_max", &self.velocity_max),
        ] {
            if let Some(v) = v {
                c.require(
                    v.len() == n,
                    k,
                    format!(
                        "{} values: expected one per joint in `joint_names` ({n})",
                        v.len()
                    ),
                );
                c.require(v.iter().all(|x| x.is_finite()), k, "values must be finite");
            }
        }
        if let (Some(lo), Some(hi)) = (&self.position_min, &self.position_max) {
            c.require(
                lo.iter().zip(hi).all(|(a, b)| a < b),
                "position_max",
                "every upper limit must exceed its lower limit",
            );
        }
        if let Some(v) = &self.velocity_max {
            c.require(
                v.iter().all(|x| *x > 0.0),
                "velocity_max",
                "limits must be > 0",
            );
        }
        c.range_u64("stale_timeout_ms", self.stale_timeout_ms as u64, 1, 60_000);
        c.range_u64("start_timeout_ms", self.start_timeout_ms as u64, 0, 600_000);
        c.range_u64(
            "trajectory_time_from_start_ms",
            self.trajectory_time_from_start_ms as u64,
            1,
            60_000,
        );
        for (k, t) in [
            ("joint_states_topic", &self.joint_states_topic),
            ("command_topic", &self.command_topic),
        ] {
            c.require(
                t.starts_with('/'),
                k,
                format!("`{t}`: expected an absolute topic name"),
            );
        }
    }
}
