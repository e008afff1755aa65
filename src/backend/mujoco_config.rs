//! Configuration of the MuJoCo backend: which model, and which of its named sensors and
//! actuators become the `SensorFrame` / `Command` channels. No robot names live in code.
//!
//! Always compiled (without the `mujoco` feature too) so config files validate everywhere.

use serde::{Deserialize, Serialize};

use crate::types::{MAX_CONTACTS, MAX_JOINTS};
use crate::validate::{Checker, Validate};

/// What an actuator's `ctrl` value means in the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActuatorMode {
    /// Position servo (`<position>`): ctrl is a target position.
    #[default]
    Position,
    /// Velocity servo (`<velocity>`): ctrl is a target velocity.
    Velocity,
    /// Motor (`<motor>`) or no actuator at all: ctrl is a force/torque. Position and velocity
    /// commands are turned into efforts by the backend's PD law (`pd_kp`, `pd_kd`).
    Effort,
}

/// Joints: parallel arrays, one entry per joint, in command/state order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointsConfig {
    /// MJCF joint names (1-DoF hinge or slide joints).
    pub names: Vec<String>,
    /// Position sensors (`<jointpos>`), same order; absent = read the joint's `qpos`.
    pub position_sensors: Option<Vec<String>>,
    /// Velocity sensors (`<jointvel>`), same order; absent = read the joint's `qvel`.
    pub velocity_sensors: Option<Vec<String>>,
    /// Actuator per joint, same order; absent = efforts are applied directly to the joint's DoF.
    pub actuators: Option<Vec<String>>,
    /// What the actuators' ctrl means.
    pub actuator_mode: ActuatorMode,
    /// Proportional gain of the PD law used for hold and for position commands on effort joints.
    pub pd_kp: f64,
    /// Derivative gain of that PD law.
    pub pd_kd: f64,
    /// Per-joint proportional gains, same order as `names` (overrides `pd_kp`; light distal
    /// joints need lower gains than hips and knees at the same timestep).
    pub pd_kp_per_joint: Option<Vec<f64>>,
    /// Per-joint derivative gains (overrides `pd_kd`).
    pub pd_kd_per_joint: Option<Vec<f64>>,
    /// Joint positions after every reset (rad or m, same order as `names`; applied on top of
    /// `keyframe`, or of the model's default pose): the robot's home without editing its MJCF.
    pub initial_positions: Option<Vec<f64>>,
}

/// IMU: named accelerometer and gyro sensors (3-D each), optional magnetometer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImuConfig {
    /// `<accelerometer>` sensor name.
    pub accelerometer: String,
    /// `<gyro>` sensor name.
    pub gyro: String,
    /// `<magnetometer>` sensor name, if the IMU has one.
    #[serde(default)]
    pub magnetometer: Option<String>,
    /// Site the IMU sits on: its world orientation is the ground truth in frames.
    #[serde(default)]
    pub site: Option<String>,
}

/// Seeded sensor noise and bias (all zero = perfect sensors).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseConfig {
    /// White noise std of each accelerometer axis, m/s^2.
    pub accel_std: f64,
    /// Constant accelerometer bias per axis, drawn per reset with this std, m/s^2.
    pub accel_bias_std: f64,
    /// White noise std of each gyro axis, rad/s.
    pub gyro_std: f64,
    /// Constant gyro bias per axis, drawn per reset with this std, rad/s.
    pub gyro_bias_std: f64,
    /// White noise std of joint positions, rad.
    pub joint_position_std: f64,
    /// White noise std of joint velocities, rad/s.
    pub joint_velocity_std: f64,
    /// White noise std of touch forces, N (results are clipped at 0).
    pub touch_std: f64,
}

impl NoiseConfig {
    /// True when any noise or bias is configured.
    pub fn any(&self) -> bool {
        [
            self.accel_std,
            self.accel_bias_std,
            self.gyro_std,
            self.gyro_bias_std,
            self.joint_position_std,
            self.joint_velocity_std,
            self.touch_std,
        ]
        .iter()
        .any(|&s| s > 0.0)
    }
}

/// An offscreen RGB-D camera (feature `render`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// MJCF camera name.
    pub name: String,
    /// Image width, px (must fit the model's `<visual><global offwidth>`).
    #[serde(default = "default_width")]
    pub width: u32,
    /// Image height, px (must fit `offheight`).
    #[serde(default = "default_height")]
    pub height: u32,
    /// Frame rate, Hz.
    #[serde(default = "default_rate")]
    pub rate_hz: f64,
}

fn default_width() -> u32 {
    320
}
fn default_height() -> u32 {
    240
}
fn default_rate() -> f64 {
    30.0
}

/// The `mujoco:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MujocoConfig {
    /// MJCF file: absolute, or relative to the config file.
    pub model: String,
    /// Physics steps per control period; 0 = control period / model timestep (must divide).
    #[serde(default)]
    pub substeps: u32,
    /// Named keyframe to reset to (e.g. a standing pose); absent = the model's default pose.
    #[serde(default)]
    pub keyframe: Option<String>,
    /// Joint mapping.
    #[serde(default)]
    pub joints: JointsConfig,
    /// IMU mapping, if the model has one.
    #[serde(default)]
    pub imu: Option<ImuConfig>,
    /// `<touch>` sensor names.
    #[serde(default)]
    pub touch_sensors: Option<Vec<String>>,
    /// Sensor noise.
    #[serde(default)]
    pub noise: NoiseConfig,
    /// RGB-D camera (used with the `render` feature).
    #[serde(default)]
    pub camera: Option<CameraConfig>,
}

impl Validate for MujocoConfig {
    fn validate(&self, c: &mut Checker) {
        c.require(
            !self.model.is_empty(),
            "model",
            "empty: expected the path of an MJCF file",
        );
        c.range_u64("substeps", self.substeps as u64, 0, 100_000);
        let n = self.joints.names.len();
        c.section("joints", |c| {
            c.require(
                n <= MAX_JOINTS,
                "names",
                format!("{n} joints: at most {MAX_JOINTS} are supported"),
            );
            for (key, list) in [
                ("position_sensors", &self.joints.position_sensors),
                ("velocity_sensors", &self.joints.velocity_sensors),
                ("actuators", &self.joints.actuators),
            ] {
                if let Some(l) = list {
                    c.require(
                        l.len() == n,
                        key,
                        format!(
                            "{} entries: expected one per joint in `names` ({n})",
                            l.len()
                        ),
                    );
                }
            }
            c.range_f64("pd_kp", self.joints.pd_kp, 0.0, 1e6);
            c.range_f64("pd_kd", self.joints.pd_kd, 0.0, 1e6);
            for (key, list, hi) in [
                ("pd_kp_per_joint", &self.joints.pd_kp_per_joint, 1e6),
                ("pd_kd_per_joint", &self.joints.pd_kd_per_joint, 1e6),
                ("initial_positions", &self.joints.initial_positions, 1e3),
            ] {
                if let Some(l) = list {
                    c.require(
                        l.len() == n,
                        key,
                        format!(
                            "{} entries: expected one per joint in `names` ({n})",
                            l.len()
                        ),
                    );
                    for (i, v) in l.iter().enumerate() {
                        let lo = if key == "initial_positions" { -hi } else { 0.0 };
                        c.range_f64(&format!("{key}[{i}]"), *v, lo, hi);
                    }
                }
            }
        });
        if let Some(t) = &self.touch_sensors {
            c.require(
                t.len() <= MAX_CONTACTS,
                "touch_sensors",
                format!("{} sensors: at most {MAX_CONTACTS} are supported", t.len()),
            );
        }
        c.section("noise", |c| {
            let n = &self.noise;
            for (k, v) in [
                ("accel_std", n.accel_std),
                ("accel_bias_std", n.accel_bias_std),
                ("gyro_std", n.gyro_std),
                ("gyro_bias_std", n.gyro_bias_std),
                ("joint_position_std", n.joint_position_std),
                ("joint_velocity_std", n.joint_velocity_std),
                ("touch_std", n.touch_std),
            ] {
                c.range_f64(k, v, 0.0, 100.0);
            }
        });
        if let Some(cam) = &self.camera {
            c.section("camera", |c| {
                c.range_u64("width", cam.width as u64, 8, 4096);
                c.range_u64("height", cam.height as u64, 8, 4096);
                c.range_f64("rate_hz", cam.rate_hz, 0.1, 1000.0);
            });
        }
    }
}
