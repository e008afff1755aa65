//! The world behind the loop: simulation, real hardware or a recording, behind one trait.
//!
//! Modelled on ros2_control's hardware interface: a backend is *configured* (resources opened,
//! names resolved), *activated* (ready to read and write), and *deactivated* (safe state). In the
//! active state the RT control task calls, once per cycle:
//!
//! ```text
//! let t = backend.now();
//! backend.read(t, &mut frame)?;   // sensors at time t
//! ... fusion, action, safety clamp ...
//! backend.write(t, &command)?;    // apply; a lockstep backend advances its clock by one period
//! ```
//!
//! `read` and `write` must not allocate: frames and commands are fixed-capacity values.

pub mod composite;
pub mod mujoco_config;
pub mod realsense;
pub mod replay;
#[cfg(feature = "ros2")]
pub mod robot;
pub mod robot_config;

#[cfg(feature = "render")]
pub mod camera;
#[cfg(feature = "mujoco")]
pub mod mujoco;

use crate::types::{ClockKind, Command, SensorFrame, Time};

/// Where a backend is in its lifecycle (the ros2_control states, minus finalized).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Created; nothing opened yet.
    Unconfigured,
    /// Resources opened and names resolved; not exchanging data.
    Inactive,
    /// Reading sensors and accepting commands.
    Active,
}

impl Lifecycle {
    /// `Ok` when in state `want`; otherwise the error naming the backend, the operation and the
    /// state it was in.
    pub fn expect(
        self,
        backend: &'static str,
        op: &'static str,
        want: Lifecycle,
    ) -> Result<(), BackendError> {
        if self == want {
            Ok(())
        } else {
            Err(BackendError::Lifecycle {
                backend,
                op,
                state: self,
            })
        }
    }
}

/// Errors a backend reports. Each names the place (file, sensor, joint) it concerns.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A model/profile file could not be loaded.
    #[error("{file}: cannot load model: {message}")]
    Model {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// The config refers to something the model/device does not have.
    #[error("{file}: key `{key}`: {message}")]
    Mapping {
        /// The config file.
        file: String,
        /// The config key path.
        key: String,
        /// What is missing or inconsistent.
        message: String,
    },
    /// An operation was called in the wrong lifecycle state.
    #[error("backend `{backend}`: {op} called in state {state:?}")]
    Lifecycle {
        /// Backend name.
        backend: &'static str,
        /// The operation.
        op: &'static str,
        /// The state it was in.
        state: Lifecycle,
    },
    /// A sensor produced a non-finite value (the backend keeps running; the frame is invalid).
    #[error("backend `{backend}`: sensor `{sensor}` read a non-finite value")]
    InvalidSensor {
        /// Backend name.
        backend: &'static str,
        /// The sensor (config name).
        sensor: &'static str,
    },
    /// A command was rejected (wrong length, non-finite, unsupported mode); the backend holds.
    #[error("backend `{backend}`: command rejected, holding position: {reason}")]
    InvalidCommand {
        /// Backend name.
        backend: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The device or peer went away.
    #[error("backend `{backend}`: device lost: {message}")]
    Disconnected {
        /// Backend name.
        backend: &'static str,
        /// Details.
        message: String,
    },
    /// A native library the backend loads at run time is missing or incomplete.
    #[error("backend `{backend}`: {message}")]
    Library {
        /// Backend name.
        backend: &'static str,
        /// What was tried and why it failed.
        message: String,
    },
}

/// Static facts about a configured backend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BackendInfo {
    /// Joint names in command/state order.
    pub joint_names: Vec<String>,
    /// Per-joint position limits `(lo, hi)`; infinite when unlimited.
    pub joint_limits: Vec<(f64, f64)>,
    /// Touch/contact channel names.
    pub contact_names: Vec<String>,
    /// Whether frames carry an IMU sample, and whether it has a magnetometer.
    pub has_imu: bool,
    /// True when the IMU has a magnetometer.
    pub has_magnetometer: bool,
    /// White-noise std of the IMU `(accelerometer m/s^2, gyro rad/s)` when known (sim config,
    /// datasheet); used for honest covariances in published messages.
    pub imu_noise_std: Option<(f64, f64)>,
    /// The control period the backend steps with, ns.
    pub period_ns: i64,
}

/// A world behind the control loop.
pub trait Backend: Send {
    /// Short name for logs and errors (`mujoco`, `realsense`, ...).
    fn name(&self) -> &'static str;
    /// Opens resources and resolves names. Unconfigured -> Inactive.
    fn configure(&mut self) -> Result<(), BackendError>;
    /// Starts exchanging data. Inactive -> Active.
    fn activate(&mut self) -> Result<(), BackendError>;
    /// Puts the robot in its safe state and stops exchanging data. Active -> Inactive.
    fn deactivate(&mut self) -> Result<(), BackendError>;
    /// Current lifecycle state.
    fn state(&self) -> Lifecycle;
    /// Facts about joints, sensors and timing (valid once configured).
    fn info(&self) -> &BackendInfo;
    /// Which clock stamps the frames.
    fn clock(&self) -> ClockKind;
    /// The current time on the backend's clock.
    fn now(&self) -> Time;
    /// Fills `frame` with the measurements at time `t`. No allocation.
    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError>;
    /// Applies `cmd` computed for time `t`. No allocation. An invalid command makes the backend
    /// hold position and return [`BackendError::InvalidCommand`].
    fn write(&mut self, t: Time, cmd: &Command) -> Result<(), BackendError>;
    /// Returns the world to its initial state with a new noise seed (simulation and replay).
    fn reset(&mut self, seed: u64) -> Result<(), BackendError>;
    /// The backend's camera as a frame source for the vision task (taken once; `None` when the
    /// backend has no camera, this build cannot use it, or it was taken already). A backend
    /// that hands one out keeps feeding it (MuJoCo publishes its state each cycle for the
    /// renderer, which runs on the vision task's thread).
    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        None
    }
    /// True when a recorded source has been played to its end (replay, camera playback):
    /// a run stops there. Live sources and simulation never finish.
    fn finished(&self) -> bool {
        false
    }
}
