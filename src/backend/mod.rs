//! The world behind the loop: simulation, real hardware or a recording, behind one trait.
//!
//! Modelled on ros2_control's hardware interface: a backend is *configured* (resources opened,
//! names resolved), *activated* (ready to read and write), and *deactivated* (safe state). The
//! framework owns the lifecycle: [`Managed`] holds the state machine and calls a backend's hooks
//! (`configure`, `activate`, `deactivate`) once per transition, in order; backends implement
//! only the hooks and never check states themselves. `Config::open_backend` is the one factory: it builds the
//! backend `backend:` names, wrapped and configured. In the active state the RT control task
//! calls, once per cycle:
//!
//! ```text
//! let t = backend.now();
//! backend.read(t, &mut frame)?;   // sensors at time t
//! ... fusion, action, safety clamp ...
//! backend.write(t, &command)?;    // apply; a lockstep backend advances its clock by one period
//! ```
//!
//! `read` and `write` must not allocate: frames and commands are fixed-capacity values.

pub mod body;
pub mod composite;
pub mod mujoco_config;
pub mod realsense;
pub mod replay;
pub mod replay_camera;
pub mod replay_config;
#[cfg(feature = "ros2")]
pub mod robot;
pub mod robot_config;

#[cfg(feature = "render")]
pub mod camera;
#[cfg(feature = "mujoco")]
pub mod mujoco;

use crate::types::{ClockKind, Command, SensorFrame, Time};

/// What every backend needs beside its own config section: where the config came from
/// (errors name it; relative paths resolve against its directory) and the loop it serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// The config file (for messages).
    pub file: String,
    /// Its directory.
    pub base_dir: std::path::PathBuf,
    /// Control period, ns.
    pub period_ns: i64,
    /// Master seed.
    pub seed: u64,
}

impl Context {
    /// `p` resolved against the config file's directory (absolute paths unchanged).
    pub fn resolve(&self, p: &str) -> std::path::PathBuf {
        let p = std::path::Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// What a curriculum episode asks of the world before it starts (see
/// [`Backend::setup_episode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpisodeSetup {
    /// Noise seed of the episode.
    pub seed: u64,
    /// Object position in the table plane relative to its model position, m.
    pub object_offset: [f64; 2],
    /// Object mass, kg (non-positive or non-finite: the model's).
    pub object_mass: f64,
}

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
    /// Physics steps per control period (simulation; 0 elsewhere).
    pub substeps: u32,
}

/// Fault counters of a backend, cumulative over its life (a `reset` does not clear them), for
/// the run summary and `/diagnostics`. All zero for a backend that reports none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendFaults {
    /// Faults that put the backend into its safe state, where `read` fails until it recovers
    /// (MuJoCo: the simulation became unstable; physics stays halted until `reset`).
    pub fatal: u64,
    /// Warnings of a diverging world: non-finite or huge values in the state (MuJoCo: physics
    /// steps with bad qpos, qvel, qacc or ctrl).
    pub unstable: u64,
    /// Capacity overflows that silently degrade the result (MuJoCo: physics steps whose contact
    /// list or constraint buffer was full).
    pub overflow: u64,
    /// Other warnings (MuJoCo: physics steps with a near-singular inertia matrix).
    pub other: u64,
}

/// A world behind the control loop. The lifecycle hooks are called by [`Managed`] (once per
/// transition, in order: configure, activate, deactivate [, activate ...]); `read`/`write` only
/// in the active state.
pub trait Backend: Send {
    /// Short name for logs and errors (`mujoco`, `realsense`, ...).
    fn name(&self) -> &'static str;
    /// Hook: opens resources and resolves names (Unconfigured -> Inactive).
    fn configure(&mut self) -> Result<(), BackendError>;
    /// Hook: starts exchanging data (Inactive -> Active).
    fn activate(&mut self) -> Result<(), BackendError>;
    /// Hook: puts the robot in its safe state and stops exchanging data (Active -> Inactive).
    fn deactivate(&mut self) -> Result<(), BackendError>;
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
    /// The clock keeps running forward (a reset never moves time backwards).
    fn reset(&mut self, seed: u64) -> Result<(), BackendError>;
    /// Sets the world up for a curriculum episode: [`Backend::reset`] with the episode's noise
    /// seed, then the scene's object placed and weighed where the backend can do that. The
    /// default (a real robot: the world cannot be reset) does nothing; the episode then starts
    /// from wherever the robot is.
    fn setup_episode(&mut self, episode: &EpisodeSetup) -> Result<(), BackendError> {
        let _ = episode;
        Ok(())
    }
    /// The backend's camera as a frame source for the vision task (taken once; `None` when the
    /// backend has no camera, this build cannot use it, or it was taken already). A backend
    /// that hands one out keeps feeding it (MuJoCo publishes its state each cycle for the
    /// renderer, which runs on the vision task's thread).
    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        None
    }
    /// The command the recorded agent gave at the current time (replay of a log that has
    /// one); `None` for live and simulated worlds.
    fn recorded_command(&self) -> Option<&Command> {
        None
    }
    /// True when a recorded source has been played to its end (replay, camera playback):
    /// a run stops there. Live sources and simulation never finish.
    fn finished(&self) -> bool {
        false
    }
    /// Fault counters (see [`BackendFaults`]); all zero unless the backend counts faults.
    fn faults(&self) -> BackendFaults {
        BackendFaults::default()
    }
    /// The robot as the primitive library sees it (valid once configured): joints, limbs, the
    /// arm's end effector, kinematics. The default knows the joints alone (no kinematics).
    fn body(&self, spec: &body::BodySpec) -> Result<body::RobotBody, body::BodyError> {
        let i = self.info();
        body::RobotBody::from_joints(&i.joint_names, &i.joint_limits, spec)
    }
}

impl<B: Backend + ?Sized> Backend for Box<B> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn configure(&mut self) -> Result<(), BackendError> {
        (**self).configure()
    }
    fn activate(&mut self) -> Result<(), BackendError> {
        (**self).activate()
    }
    fn deactivate(&mut self) -> Result<(), BackendError> {
        (**self).deactivate()
    }
    fn info(&self) -> &BackendInfo {
        (**self).info()
    }
    fn clock(&self) -> ClockKind {
        (**self).clock()
    }
    fn now(&self) -> Time {
        (**self).now()
    }
    #[inline]
    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        (**self).read(t, frame)
    }
    #[inline]
    fn write(&mut self, t: Time, cmd: &Command) -> Result<(), BackendError> {
        (**self).write(t, cmd)
    }
    fn reset(&mut self, seed: u64) -> Result<(), BackendError> {
        (**self).reset(seed)
    }
    fn setup_episode(&mut self, episode: &EpisodeSetup) -> Result<(), BackendError> {
        (**self).setup_episode(episode)
    }
    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        (**self).take_frame_source()
    }
    fn finished(&self) -> bool {
        (**self).finished()
    }
    fn recorded_command(&self) -> Option<&Command> {
        (**self).recorded_command()
    }
    fn faults(&self) -> BackendFaults {
        (**self).faults()
    }
    fn body(&self, spec: &body::BodySpec) -> Result<body::RobotBody, body::BodyError> {
        (**self).body(spec)
    }
}

/// The lifecycle state machine around a backend (ros2_control's hardware component manager):
/// the only place that knows the states. Calls the hooks once per transition and refuses
/// operations in the wrong state with an error naming the backend, the operation and the state.
pub struct Managed<B: Backend = Box<dyn Backend>> {
    hw: B,
    state: Lifecycle,
}

impl<B: Backend> Managed<B> {
    /// Wraps an unconfigured backend.
    pub fn new(hw: B) -> Managed<B> {
        Managed {
            hw,
            state: Lifecycle::Unconfigured,
        }
    }

    /// Current lifecycle state.
    pub fn state(&self) -> Lifecycle {
        self.state
    }

    /// The backend itself (e.g. a simulation's model for a benchmark).
    pub fn inner(&self) -> &B {
        &self.hw
    }

    /// The backend itself, mutably.
    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.hw
    }

    fn transition(
        &mut self,
        op: &'static str,
        want: Lifecycle,
        to: Lifecycle,
        hook: impl FnOnce(&mut B) -> Result<(), BackendError>,
    ) -> Result<(), BackendError> {
        self.state.expect(self.hw.name(), op, want)?;
        hook(&mut self.hw)?;
        self.state = to;
        Ok(())
    }
}

impl<B: Backend> Backend for Managed<B> {
    fn name(&self) -> &'static str {
        self.hw.name()
    }
    fn configure(&mut self) -> Result<(), BackendError> {
        self.transition(
            "configure",
            Lifecycle::Unconfigured,
            Lifecycle::Inactive,
            B::configure,
        )
    }
    fn activate(&mut self) -> Result<(), BackendError> {
        self.transition(
            "activate",
            Lifecycle::Inactive,
            Lifecycle::Active,
            B::activate,
        )
    }
    fn deactivate(&mut self) -> Result<(), BackendError> {
        self.transition(
            "deactivate",
            Lifecycle::Active,
            Lifecycle::Inactive,
            B::deactivate,
        )
    }
    fn info(&self) -> &BackendInfo {
        self.hw.info()
    }
    fn clock(&self) -> ClockKind {
        self.hw.clock()
    }
    fn now(&self) -> Time {
        self.hw.now()
    }
    #[inline]
    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        self.state
            .expect(self.hw.name(), "read", Lifecycle::Active)?;
        self.hw.read(t, frame)
    }
    #[inline]
    fn write(&mut self, t: Time, cmd: &Command) -> Result<(), BackendError> {
        self.state
            .expect(self.hw.name(), "write", Lifecycle::Active)?;
        self.hw.write(t, cmd)
    }
    fn reset(&mut self, seed: u64) -> Result<(), BackendError> {
        if self.state == Lifecycle::Unconfigured {
            return self
                .state
                .expect(self.hw.name(), "reset", Lifecycle::Inactive);
        }
        self.hw.reset(seed)
    }
    fn setup_episode(&mut self, episode: &EpisodeSetup) -> Result<(), BackendError> {
        self.state
            .expect(self.hw.name(), "setup_episode", Lifecycle::Active)?;
        self.hw.setup_episode(episode)
    }
    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        self.hw.take_frame_source()
    }
    fn finished(&self) -> bool {
        self.hw.finished()
    }
    fn recorded_command(&self) -> Option<&Command> {
        self.hw.recorded_command()
    }
    fn faults(&self) -> BackendFaults {
        self.hw.faults()
    }
    fn body(&self, spec: &body::BodySpec) -> Result<body::RobotBody, body::BodyError> {
        self.hw.body(spec)
    }
}

/// The backend's own methods (a simulation's model and data, a camera): the lifecycle
/// operations and `read`/`write` stay those of the wrapper, which method resolution prefers.
impl<B: Backend> std::ops::Deref for Managed<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.hw
    }
}

impl<B: Backend> std::ops::DerefMut for Managed<B> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.hw
    }
}

/// Errors of opening the configured backend (`Config::open_backend`).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The backend failed to build or configure.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The configured backend is not in this build.
    #[error("backend `{backend}` needs a build with feature(s) `{features}` (cargo build --features {features})")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// The features it needs.
        features: &'static str,
    },
}
