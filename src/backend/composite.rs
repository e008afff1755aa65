//! Two backends as one: the joints of one (a real robot through ros2_control) and the IMU of
//! another (a RealSense camera), so `backend: robot` feeds the unchanged pipeline.
//!
//! The joints backend owns the clock, the command path and the contact channels; the sensor
//! backend contributes the inertial sample. A failing read on either side is returned as the
//! cycle's error, so the loop holds (safe state) while a device is lost.

use super::{Backend, BackendError, BackendInfo};
use crate::types::{ClockKind, Command, SensorFrame, Time};

/// A robot's joints (`J`) composed with an IMU source (`S`).
pub struct Composite<J: Backend, S: Backend> {
    joints: J,
    sensors: S,
    info: BackendInfo,
    scratch: SensorFrame,
}

impl<J: Backend, S: Backend> Composite<J, S> {
    /// Composes two unconfigured backends; `configure` configures both and checks that the
    /// first has joints and the second an IMU.
    pub fn new(joints: J, sensors: S) -> Result<Self, BackendError> {
        Ok(Composite {
            joints,
            sensors,
            info: BackendInfo::default(),
            scratch: SensorFrame::default(),
        })
    }

    fn compose_info(&mut self) -> Result<(), BackendError> {
        let (ji, si) = (self.joints.info(), self.sensors.info());
        if ji.joint_names.is_empty() {
            return Err(BackendError::Mapping {
                file: String::new(),
                key: "robot.joint_names".into(),
                message: format!("backend `{}` has no joints to compose", self.joints.name()),
            });
        }
        if !si.has_imu {
            return Err(BackendError::Mapping {
                file: String::new(),
                key: "realsense".into(),
                message: format!("backend `{}` has no IMU to compose", self.sensors.name()),
            });
        }
        self.info = BackendInfo {
            joint_names: ji.joint_names.clone(),
            joint_limits: ji.joint_limits.clone(),
            contact_names: ji.contact_names.clone(),
            has_imu: true,
            has_magnetometer: si.has_magnetometer,
            imu_noise_std: si.imu_noise_std,
            period_ns: ji.period_ns,
            substeps: 0,
        };
        Ok(())
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
        self.joints.configure()?;
        self.sensors.configure()?;
        self.compose_info()
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        self.joints.activate()?;
        if let Err(e) = self.sensors.activate() {
            // back to the safe state on the robot before reporting the camera's failure
            let _ = self.joints.deactivate();
            return Err(e);
        }
        Ok(())
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        // the robot's safe state first, then the camera; both always run
        let a = self.joints.deactivate();
        let b = self.sensors.deactivate();
        both(a, b)
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

    fn body(
        &self,
        spec: &super::body::BodySpec,
    ) -> Result<super::body::RobotBody, super::body::BodyError> {
        // the joints know the robot (its model); the sensors add none
        self.joints.body(spec)
    }

    fn finished(&self) -> bool {
        self.joints.finished() || self.sensors.finished()
    }
}
