//! Plain data types that flow through one control cycle.
//!
//! Everything here is fixed-capacity (no heap) so the RT control task can fill and copy these
//! values without allocating. Units are SI and frames follow REP-103 (x forward, y left, z up;
//! angles in radians, angular rates in rad/s, accelerations in m/s^2, forces in N).

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};

/// Most joints a backend may expose (a Unitree Go2 has 12, a Jaco with fingers 9).
pub const MAX_JOINTS: usize = 32;
/// Most touch/force channels a backend may expose.
pub const MAX_CONTACTS: usize = 16;

/// Fixed-capacity vector of per-joint values, in the backend's configured joint order.
pub type JointVec = ArrayVec<f64, MAX_JOINTS>;
/// Fixed-capacity vector of per-contact values (normal force in N), in configured order.
pub type ContactVec = ArrayVec<f64, MAX_CONTACTS>;

/// A point in time, in nanoseconds on the backend's clock (see [`ClockKind`]).
///
/// Sim and replay time start at 0; hardware time is `CLOCK_MONOTONIC`. Stages never read the
/// wall clock: the timestamp in a frame is the only "now" they know.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Time(pub i64);

impl Time {
    /// Time zero.
    pub const ZERO: Time = Time(0);

    /// Time from seconds (rounded to the nearest nanosecond).
    pub fn from_secs_f64(s: f64) -> Time {
        Time((s * 1e9).round() as i64)
    }

    /// This time in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }

    /// Nanoseconds since the clock's epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// `self + ns`, saturating.
    pub fn add_nanos(self, ns: i64) -> Time {
        Time(self.0.saturating_add(ns))
    }
}

/// Which clock a backend's timestamps come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Simulation time, advanced in lockstep with the control loop (MuJoCo).
    Simulated,
    /// Time recorded in a log, advanced by the replay (rosbag2).
    Replay,
    /// `CLOCK_MONOTONIC` of this machine (real hardware).
    Monotonic,
}

/// One inertial sample in the IMU's own frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Imu {
    /// Specific force (accelerometer), m/s^2. Reads +9.81 on the up axis at rest.
    pub accel: [f64; 3],
    /// Angular velocity (gyroscope), rad/s.
    pub gyro: [f64; 3],
    /// Magnetic field, any consistent unit (only its direction is used); `None` when absent.
    pub mag: Option<[f64; 3]>,
}

/// Joint measurements in the backend's configured joint order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JointSample {
    /// Positions, rad (revolute) or m (prismatic).
    pub position: JointVec,
    /// Velocities, rad/s or m/s. Empty when the sensor gives none (fusion estimates them).
    pub velocity: JointVec,
    /// Efforts, N*m or N. Empty when not measured.
    pub effort: JointVec,
}

impl JointSample {
    /// Number of joints in this sample.
    pub fn len(&self) -> usize {
        self.position.len()
    }

    /// True when the sample carries no joints.
    pub fn is_empty(&self) -> bool {
        self.position.is_empty()
    }

    /// Empties all channels, keeping capacity (no allocation: these are inline arrays).
    pub fn clear(&mut self) {
        self.position.clear();
        self.velocity.clear();
        self.effort.clear();
    }
}

/// Ground truth a simulator (or a motion-capture log) knows and a robot does not.
/// Only evaluation code may look at it; stages never do.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroundTruth {
    /// Orientation of the IMU frame in the world, quaternion `[w, x, y, z]`.
    pub orientation: [f64; 4],
    /// Position of the IMU frame in the world, m.
    pub position: [f64; 3],
}

/// Everything a backend measured at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensorFrame {
    /// When the measurement was taken, on the backend's clock.
    pub t: Time,
    /// Inertial sample, if the backend has an IMU.
    pub imu: Option<Imu>,
    /// Joint state.
    pub joints: JointSample,
    /// Touch / contact normal forces, N, in configured order.
    pub contacts: ContactVec,
    /// Ground truth, when the backend knows it (simulation).
    pub truth: Option<GroundTruth>,
}

impl SensorFrame {
    /// Resets the frame to empty without giving up its inline storage.
    pub fn clear(&mut self) {
        self.t = Time::ZERO;
        self.imu = None;
        self.joints.clear();
        self.contacts.clear();
        self.truth = None;
    }
}

/// How the values of a [`Command`] are to be interpreted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandMode {
    /// Hold the current position: the safe state. `values` is ignored.
    #[default]
    Hold,
    /// Joint position targets, rad or m.
    Position,
    /// Joint velocity targets, rad/s or m/s.
    Velocity,
    /// Joint efforts, N*m or N.
    Effort,
}

/// A command for all joints, in the backend's configured joint order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Command {
    /// The cycle time this command was computed for.
    pub t: Time,
    /// Interpretation of `values`.
    pub mode: CommandMode,
    /// One value per joint (empty for [`CommandMode::Hold`]).
    pub values: JointVec,
}

impl Command {
    /// The safe "hold position" command at time `t`.
    pub fn hold(t: Time) -> Command {
        Command {
            t,
            mode: CommandMode::Hold,
            values: JointVec::new(),
        }
    }
}

/// Pinhole intrinsics of a camera, in pixels (row 0 is the top of the image).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CameraIntrinsics {
    /// Focal length along x, px.
    pub fx: f64,
    /// Focal length along y, px.
    pub fy: f64,
    /// Principal point x, px.
    pub cx: f64,
    /// Principal point y, px.
    pub cy: f64,
}

/// One RGB-D image pair. Camera frames travel outside the RT control path (camera-rate task), so
/// their buffers are heap-allocated once and reused.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RgbdFrame {
    /// Capture time on the backend's clock.
    pub t: Time,
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// RGB, 8 bit per channel, row-major, top row first (`width * height * 3` bytes).
    pub rgb: Vec<u8>,
    /// Depth along the optical axis, m, row-major, top row first; 0 = invalid.
    pub depth: Vec<f32>,
    /// Intrinsics of both images (registered).
    pub intrinsics: CameraIntrinsics,
}
