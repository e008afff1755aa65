//! Two backends as one: the joints of one (a real robot through ros2_control) and the IMU of
//! another (a RealSense camera), so `backend: robot` feeds the unchanged pipeline.
//!
//! The joints backend owns the clock, the command path and the contact channels; the sensor
//! backend contributes the inertial sample. A failing read on either side is returned as the
//! cycle's error, so the loop holds (safe state) while a device is lost.

use super::{Backend, BackendError, BackendInfo, Lifecycle};
use crate::types::{ClockKind, Command, SensorFrame, Time};

/// A robot's joints (`J`) composed with an IMU source (`S`).
pub struct Composite<J: Backend, S: Backend> {
    joints: J,
    sensors: S,
    info: BackendInfo,
    scratch: SensorFrame,
}

impl<J: Backend, S: Backend> Composite<J, S> {
    /// Composes two configured backends (the joints one must have joints, the sensor one an IMU).
    pub fn new(joints: J, sensors: S) -> Result<Self, BackendError> {
        let (ji, si) = (joints.info(), sensors.info());
        if ji.joint_names.is_empty() {
            return Err(BackendError::Mapping {
                file: String::new(),
                key: "robot.joint_names".into(),
                message: format!("backend `{}` has no joints to compose", joints.name()),
            });
        }
        if !si.has_imu {
            return Err(BackendError::Mapping {
                file: String::new(),
                key: "realsense".into(),
                message: format!("backend `{}` has no IMU to compose", sensors.name()),
            });
        }
        let info = BackendInfo {
            joint_names: ji.joint_names.clone(),
            joint_limits: ji.joint_limits.clone(),
            contact_names: ji.contact_names.clone(),
            has_imu: true,
            has_magnetometer: si.has_magnetometer,
            imu_noise_std: si.imu_noise_std,
            period_ns: ji.period_ns,
        };
        Ok(Composite {
            joints,
            sensors,
            info,
            scratch: SensorFrame::default(),
        })
    }

    /// The joints backend.
    pub fn joints(&self) -> &J {
        &self.joints
    }

    /// The sensor backend.
    pub fn sensors(&self) -> &S {
        &self.sensors
    }
}

fn both(a: Result<(), BackendError>, b: Result<(), BackendError>) -> Result<(), BackendError> {
    match (a, b) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        _ => Ok(()),
    }
}

impl<J: Backend, S: Backend> Backend for Composite<J, S> {
    fn name(&self) -> &'static str {
        "robot"
    }

    fn configure(&mut self) -> Result<(), BackendError> {
        // each part configures itself once; already configured parts are left alone
        let a = match self.joints.state() {
            Lifecycle::Unconfigured => self.joints.configure(),
            _ => Ok(()),
        };
        let b = match self.sensors.state() {
            Lifecycle::Unconfigured => self.sensors.configure(),
            _ => Ok(()),
        };
        both(a, b)
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        let a = match self.joints.state() {
            Lifecycle::Active => Ok(()),
            _ => self.joints.activate(),
        };
        let b = match self.sensors.state() {
            Lifecycle::Active => Ok(()),
            _ => self.sensors.activate(),
        };
        both(a, b)
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        // the robot's safe state first, then the camera; both always run
        let a = self.joints.deactivate();
        let b = self.sensors.deactivate();
        both(a, b)
    }

    fn state(&self) -> Lifecycle {
        match (self.joints.state(), self.sensors.state()) {
            (Lifecycle::Active, Lifecycle::Active) => Lifecycle::Active,
            (Lifecycle::Unconfigured, _) | (_, Lifecycle::Unconfigured) => Lifecycle::Unconfigured,
            (a, _) => a,
        }
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn clock(&self) -> ClockKind {
        self.joints.clock()
    }

    fn now(&self) -> Time {
        self.joints.now()
    }

    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        self.joints.read(t, frame)?;
        self.sensors.read(t, &mut self.scratch)?;
        frame.imu = self.scratch.imu;
        Ok(())
    }

    fn write(&mut self, t: Time, cmd: &Command) -> Result<(), BackendError> {
        self.joints.write(t, cmd)
    }

    fn reset(&mut self, seed: u64) -> Result<(), BackendError> {
        let a = self.joints.reset(seed);
        let b = self.sensors.reset(seed);
        both(a, b)
    }

    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        self.sensors.take_frame_source()
    }

    fn finished(&self) -> bool {
        self.joints.finished() || self.sensors.finished()
    }
}
