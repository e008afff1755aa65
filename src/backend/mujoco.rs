//! MuJoCo simulation backend (feature `mujoco`, MuJoCo 3.17 through `mujoco-rs`).
//!
//! Lockstep: each `write` applies the command and advances physics by `substeps` steps of the
//! model's timestep, which together make one control period. Sim time, kept as integer
//! nanoseconds so it never drifts, is the timestamp of every frame. All names (joints, sensors,
//! actuators, sites) come from the config and are resolved to array addresses in `configure`, so
//! `read`/`write` only index preallocated arrays: no allocation, no string lookups.

use std::path::PathBuf;
use std::sync::Arc;

use arrayvec::ArrayVec;
use mujoco_rs::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::mujoco_config::{ActuatorMode, MujocoConfig};
use super::{Backend, BackendError, BackendInfo, Lifecycle};
use crate::types::{
    ClockKind, Command, CommandMode, GroundTruth, Imu, JointVec, SensorFrame, Time, MAX_CONTACTS,
    MAX_JOINTS,
};

const NAME: &str = "mujoco";

/// Array addresses resolved from names at configure time.
#[derive(Default)]
struct Map {
    qpos_adr: ArrayVec<usize, MAX_JOINTS>,
    dof_adr: ArrayVec<usize, MAX_JOINTS>,
    pos_sensor_adr: Option<ArrayVec<usize, MAX_JOINTS>>,
    vel_sensor_adr: Option<ArrayVec<usize, MAX_JOINTS>>,
    actuator_id: Option<ArrayVec<usize, MAX_JOINTS>>,
    accel_adr: Option<usize>,
    gyro_adr: Option<usize>,
    mag_adr: Option<usize>,
    imu_site: Option<usize>,
    touch_adr: ArrayVec<usize, MAX_CONTACTS>,
    keyframe: Option<usize>,
}

/// The MuJoCo backend. Create with [`MujocoBackend::new`], then `configure` and `activate`.
pub struct MujocoBackend {
    cfg: MujocoConfig,
    config_file: String,
    model_path: PathBuf,
    period_ns: i64,
    seed: u64,
    data: Option<MjData<Arc<MjModel>>>,
    map: Map,
    info: BackendInfo,
    state: Lifecycle,
    substeps: u32,
    timestep_ns: i64,
    t_ns: i64,
    rng: ChaCha8Rng,
    /// Publishes the state for the vision task's renderer once a frame source was taken.
    #[cfg(feature = "render")]
    state_pub: Option<super::camera::StatePublisher>,
    accel_bias: [f64; 3],
    gyro_bias: [f64; 3],
    /// Active command (mode + targets), re-applied by the PD law at every physics substep.
    mode: CommandMode,
    target: JointVec,
    /// Position captured when entering hold.
    hold: JointVec,
    /// The curriculum's object (free body [`OBJECT_BODY`] with joint [`OBJECT_JOINT`]), if the
    /// scene has one: `(body, qpos address, dof address, model mass)`.
    object: Option<(usize, usize, usize, f64)>,
    /// The model as loaded (episodes that change the object's mass derive from it).
    base_model: Option<Arc<MjModel>>,
}

/// Name of the free body a curriculum episode places and weighs ([`Backend::setup_episode`]).
pub const OBJECT_BODY: &str = "object";
/// Its free joint.
pub const OBJECT_JOINT: &str = "object_free";

impl MujocoBackend {
    /// A backend for a `mujoco:` section. Nothing is loaded until `configure`.
    pub fn with_section(cfg: &MujocoConfig, ctx: &super::Context) -> MujocoBackend {
        MujocoBackend {
            model_path: ctx.resolve(&cfg.model),
            cfg: cfg.clone(),
            config_file: ctx.file.clone(),
            period_ns: ctx.period_ns,
            seed: ctx.seed,
            data: None,
            map: Map::default(),
            info: BackendInfo::default(),
            state: Lifecycle::Unconfigured,
            substeps: 1,
            timestep_ns: 0,
            t_ns: 0,
            rng: ChaCha8Rng::seed_from_u64(ctx.seed),
            #[cfg(feature = "render")]
            state_pub: None,
            accel_bias: [0.0; 3],
            gyro_bias: [0.0; 3],
            mode: CommandMode::Hold,
            target: JointVec::new(),
            hold: JointVec::new(),
            object: None,
            base_model: None,
        }
    }

    /// The loaded model (after `configure`).
    pub fn model(&self) -> Option<&MjModel> {
        self.data.as_ref().map(|d| d.model())
    }

    /// Physics steps per control period.
    pub fn substeps(&self) -> u32 {
        self.substeps
    }

    /// Direct access to the simulation state, for evaluation and tests (not for stages).
    pub fn data(&self) -> Option<&MjData<Arc<MjModel>>> {
        self.data.as_ref()
    }

    /// Mutable access to the simulation state, for scenario setup in tests and curricula.
    pub fn data_mut(&mut self) -> Option<&mut MjData<Arc<MjModel>>> {
        self.data.as_mut()
    }

    /// Opens the configured RGB-D camera (`mujoco.camera`), after `configure`.
    #[cfg(feature = "render")]
    pub fn open_camera(&self) -> Result<super::camera::MujocoCamera, BackendError> {
        let cam = self.cfg.camera.as_ref().ok_or_else(|| {
            self.mapping_err(
                "camera",
                "missing: no `camera:` section in the config".into(),
            )
        })?;
        let model = self.model().ok_or(BackendError::Lifecycle {
            backend: NAME,
            op: "open_camera",
            state: self.state,
        })?;
        super::camera::MujocoCamera::new(model, cam, &self.config_file)
    }

    /// Renders the current simulation state with `camera` into `out`. Not for the RT task.
    #[cfg(feature = "render")]
    pub fn render(
        &mut self,
        camera: &mut super::camera::MujocoCamera,
        out: &mut crate::types::RgbdFrame,
    ) -> Result<(), BackendError> {
        let t = Time(self.t_ns);
        let data = self.data.as_mut().ok_or(BackendError::Lifecycle {
            backend: NAME,
            op: "render",
            state: self.state,
        })?;
        camera.render(data, t, out)
    }

    fn mapping_err(&self, key: &str, message: String) -> BackendError {
        BackendError::Mapping {
            file: self.config_file.clone(),
            key: format!("sattva.ros__parameters.mujoco.{key}"),
            message,
        }
    }

    /// Resolves a sensor name to its address in `sensordata`, checking its dimension.
    fn sensor_adr(
        &self,
        model: &MjModel,
        key: &str,
        name: &str,
        dim: i32,
    ) -> Result<usize, BackendError> {
        let id = model
            .name_to_id(MjtObjBase::mjOBJ_SENSOR, name)
            .ok_or_else(|| {
                self.mapping_err(
                    key,
                    format!(
                        "the model {} has no sensor named `{name}`",
                        self.model_path.display()
                    ),
                )
            })?;
        let d = model.sensor_dim()[id];
        if d != dim {
            return Err(self.mapping_err(
                key,
                format!("sensor `{name}` has dimension {d}, expected {dim}"),
            ));
        }
        Ok(model.sensor_adr()[id] as usize)
    }

    fn resolve(&mut self, model: &MjModel) -> Result<(), BackendError> {
        let mut map = Map::default();
        let j = &self.cfg.joints;
        let mut limits = Vec::with_capacity(j.names.len());
        for (i, name) in j.names.iter().enumerate() {
            let id = model
                .name_to_id(MjtObjBase::mjOBJ_JOINT, name)
                .ok_or_else(|| {
                    self.mapping_err(
                        &format!("joints.names[{i}]"),
                        format!(
                            "the model {} has no joint named `{name}`",
                            self.model_path.display()
                        ),
                    )
                })?;
            let jtype = model.jnt_type()[id];
            if !matches!(jtype, MjtJoint::mjJNT_HINGE | MjtJoint::mjJNT_SLIDE) {
                return Err(self.mapping_err(
                    &format!("joints.names[{i}]"),
                    format!("joint `{name}` is {jtype:?}: only 1-DoF hinge/slide joints can be commanded"),
                ));
            }
            map.qpos_adr.push(model.jnt_qposadr()[id] as usize);
            map.dof_adr.push(model.jnt_dofadr()[id] as usize);
            let r = model.jnt_range()[id];
            limits.push(if model.jnt_limited()[id] {
                (r[0], r[1])
            } else {
                (f64::NEG_INFINITY, f64::INFINITY)
            });
        }
        if let Some(list) = &j.position_sensors {
            let mut v = ArrayVec::new();
            for (i, s) in list.iter().enumerate() {
                v.push(self.sensor_adr(model, &format!("joints.position_sensors[{i}]"), s, 1)?);
            }
            map.pos_sensor_adr = Some(v);
        }
        if let Some(list) = &j.velocity_sensors {
            let mut v = ArrayVec::new();
            for (i, s) in list.iter().enumerate() {
                v.push(self.sensor_adr(model, &format!("joints.velocity_sensors[{i}]"), s, 1)?);
            }
            map.vel_sensor_adr = Some(v);
        }
        if let Some(list) = &j.actuators {
            let mut v = ArrayVec::new();
            for (i, a) in list.iter().enumerate() {
                let id = model
                    .name_to_id(MjtObjBase::mjOBJ_ACTUATOR, a)
                    .ok_or_else(|| {
                        self.mapping_err(
                            &format!("joints.actuators[{i}]"),
                            format!(
                                "the model {} has no actuator named `{a}`",
                                self.model_path.display()
                            ),
                        )
                    })?;
                v.push(id);
            }
            map.actuator_id = Some(v);
        }
        if let Some(imu) = &self.cfg.imu {
            map.accel_adr =
                Some(self.sensor_adr(model, "imu.accelerometer", &imu.accelerometer, 3)?);
            map.gyro_adr = Some(self.sensor_adr(model, "imu.gyro", &imu.gyro, 3)?);
            if let Some(m) = &imu.magnetometer {
                map.mag_adr = Some(self.sensor_adr(model, "imu.magnetometer", m, 3)?);
            }
            if let Some(site) = &imu.site {
                map.imu_site = Some(model.name_to_id(MjtObjBase::mjOBJ_SITE, site).ok_or_else(
                    || {
                        self.mapping_err(
                            "imu.site",
                            format!("the model has no site named `{site}`"),
                        )
                    },
                )?);
            }
        }
        let mut contact_names = Vec::new();
        for (i, s) in self.cfg.touch_sensors.iter().flatten().enumerate() {
            map.touch_adr
                .push(self.sensor_adr(model, &format!("touch_sensors[{i}]"), s, 1)?);
            contact_names.push(s.clone());
        }
        if let Some(k) = &self.cfg.keyframe {
            map.keyframe = Some(model.name_to_id(MjtObjBase::mjOBJ_KEY, k).ok_or_else(|| {
                self.mapping_err("keyframe", format!("the model has no keyframe named `{k}`"))
            })?);
        }
        self.info = BackendInfo {
            joint_names: j.names.clone(),
            joint_limits: limits,
            contact_names,
            has_imu: map.accel_adr.is_some(),
            has_magnetometer: map.mag_adr.is_some(),
            imu_noise_std: map
                .accel_adr
                .map(|_| (self.cfg.noise.accel_std, self.cfg.noise.gyro_std)),
            period_ns: self.period_ns,
            substeps: self.substeps,
        };
        self.map = map;
        Ok(())
    }

    fn noise(&mut self, std: f64) -> f64 {
        if std > 0.0 {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            z * std
        } else {
            0.0
        }
    }

    fn joint_position(&self, d: &MjData<Arc<MjModel>>, i: usize) -> f64 {
        d.qpos()[self.map.qpos_adr[i]]
    }

    fn joint_velocity(&self, d: &MjData<Arc<MjModel>>, i: usize) -> f64 {
        d.qvel()[self.map.dof_adr[i]]
    }

    /// Applies the active command to `ctrl`/`qfrc_applied` for the next physics step.
    fn apply_command(&mut self) {
        let Some(mut d) = self.data.take() else {
            return;
        };
        let n = self.map.qpos_adr.len();
        let (kp, kd) = (self.cfg.joints.pd_kp, self.cfg.joints.pd_kd);
        let actuator_mode = self.cfg.joints.actuator_mode;
        for i in 0..n {
            let q = self.joint_position(&d, i);
            let qd = self.joint_velocity(&d, i);
            // (position target, velocity target, feed-forward effort) for this joint
            let (pos, vel, eff) = match self.mode {
                CommandMode::Hold => (Some(self.hold[i]), 0.0, 0.0),
                CommandMode::Position => (Some(self.target[i]), 0.0, 0.0),
                CommandMode::Velocity => (None, self.target[i], 0.0),
                CommandMode::Effort => (None, 0.0, self.target[i]),
            };
            let value = match (actuator_mode, self.mode) {
                (ActuatorMode::Position, CommandMode::Effort) => q, // rejected in write; be safe
                (ActuatorMode::Position, CommandMode::Velocity) => {
                    q + vel * 1e-9 * self.timestep_ns as f64
                }
                (ActuatorMode::Position, _) => pos.unwrap_or(q),
                (ActuatorMode::Velocity, CommandMode::Velocity) => vel,
                (ActuatorMode::Velocity, _) => pos.map_or(0.0, |p| kp * (p - q)),
                (ActuatorMode::Effort, CommandMode::Effort) => eff,
                (ActuatorMode::Effort, CommandMode::Velocity) => kd * (vel - qd),
                (ActuatorMode::Effort, _) => pos.map_or(0.0, |p| kp * (p - q) - kd * qd),
            };
            match &self.map.actuator_id {
                Some(ids) => d.ctrl_mut()[ids[i]] = value,
                None => d.qfrc_applied_mut()[self.map.dof_adr[i]] = value,
            }
        }
        self.data = Some(d);
    }

    fn capture_hold(&mut self) {
        self.hold.clear();
        if let Some(d) = &self.data {
            for i in 0..self.map.qpos_adr.len() {
                self.hold.push(d.qpos()[self.map.qpos_adr[i]]);
            }
        }
    }

    fn reject(&mut self, reason: &'static str) -> BackendError {
        if self.mode != CommandMode::Hold {
            self.capture_hold();
            self.mode = CommandMode::Hold;
        }
        BackendError::InvalidCommand {
            backend: NAME,
            reason,
        }
    }

    fn step_period(&mut self) {
        for _ in 0..self.substeps {
            self.apply_command();
            if let Some(d) = self.data.as_mut() {
                d.step();
            }
        }
        self.t_ns += self.period_ns;
    }
}

impl Backend for MujocoBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configure(&mut self) -> Result<(), BackendError> {
        let file = self.model_path.display().to_string();
        if !self.model_path.is_file() {
            return Err(BackendError::Model {
                file,
                message: format!(
                    "no such file (from key `sattva.ros__parameters.mujoco.model` in {})",
                    self.config_file
                ),
            });
        }
        let model = MjModel::from_xml(&self.model_path).map_err(|e| BackendError::Model {
            file: file.clone(),
            message: e.to_string(),
        })?;
        self.timestep_ns = (model.opt().timestep * 1e9).round() as i64;
        if self.timestep_ns <= 0 {
            return Err(BackendError::Model {
                file,
                message: "model timestep must be positive".into(),
            });
        }
        self.substeps = if self.cfg.substeps == 0 {
            if self.period_ns % self.timestep_ns != 0 {
                return Err(self.mapping_err(
                    "substeps",
                    format!(
                        "control.period_ns {} is not a multiple of the model timestep {} ns: set `substeps` or change the period",
                        self.period_ns, self.timestep_ns
                    ),
                ));
            }
            (self.period_ns / self.timestep_ns) as u32
        } else {
            if self.cfg.substeps as i64 * self.timestep_ns != self.period_ns {
                return Err(self.mapping_err(
                    "substeps",
                    format!(
                        "{} substeps x {} ns timestep != control.period_ns {}",
                        self.cfg.substeps, self.timestep_ns, self.period_ns
                    ),
                ));
            }
            self.cfg.substeps
        };
        self.resolve(&model)?;
        let body = model.name_to_id(MjtObjBase::mjOBJ_BODY, OBJECT_BODY);
        let joint = model.name_to_id(MjtObjBase::mjOBJ_JOINT, OBJECT_JOINT);
        self.object = match (body, joint) {
            (Some(b), Some(j)) => Some((
                b,
                model.jnt_qposadr()[j] as usize,
                model.jnt_dofadr()[j] as usize,
                model.body_mass()[b],
            )),
            _ => None,
        };
        let model = Arc::new(model);
        self.base_model = Some(model.clone());
        let data = MjData::try_new(model).map_err(|e| BackendError::Model {
            file,
            message: e.to_string(),
        })?;
        self.data = Some(data);
        self.state = Lifecycle::Inactive;
        self.reset(self.seed)?;
        tracing::info!(
            model = %self.model_path.display(),
            joints = self.info.joint_names.len(),
            imu = self.info.has_imu,
            contacts = self.info.contact_names.len(),
            substeps = self.substeps,
            "mujoco backend configured"
        );
        Ok(())
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        self.capture_hold();
        self.mode = CommandMode::Hold;
        self.state = Lifecycle::Active;
        Ok(())
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        self.capture_hold();
        self.mode = CommandMode::Hold;
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn clock(&self) -> ClockKind {
        ClockKind::Simulated
    }

    fn now(&self) -> Time {
        Time(self.t_ns)
    }

    fn read(&mut self, _t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        let Some(d) = self.data.take() else {
            return Err(BackendError::Lifecycle {
                backend: NAME,
                op: "read",
                state: self.state,
            });
        };
        frame.clear();
        frame.t = Time(self.t_ns);
        let sd = d.sensordata();
        let n = self.map.qpos_adr.len();
        let (pstd, vstd) = (
            self.cfg.noise.joint_position_std,
            self.cfg.noise.joint_velocity_std,
        );
        for i in 0..n {
            let p = match &self.map.pos_sensor_adr {
                Some(a) => sd[a[i]],
                None => self.joint_position(&d, i),
            };
            let v = match &self.map.vel_sensor_adr {
                Some(a) => sd[a[i]],
                None => self.joint_velocity(&d, i),
            };
            let (np, nv) = (self.noise(pstd), self.noise(vstd));
            frame.joints.position.push(p + np);
            frame.joints.velocity.push(v + nv);
        }
        if let Some(ids) = &self.map.actuator_id {
            let force = d.actuator_force();
            for &id in ids {
                frame.joints.effort.push(force[id]);
            }
        }
        if let (Some(aa), Some(ga)) = (self.map.accel_adr, self.map.gyro_adr) {
            let mut imu = Imu::default();
            for k in 0..3 {
                imu.accel[k] =
                    sd[aa + k] + self.accel_bias[k] + self.noise(self.cfg.noise.accel_std);
                imu.gyro[k] = sd[ga + k] + self.gyro_bias[k] + self.noise(self.cfg.noise.gyro_std);
            }
            imu.mag = self.map.mag_adr.map(|m| [sd[m], sd[m + 1], sd[m + 2]]);
            frame.imu = Some(imu);
        }
        for i in 0..self.map.touch_adr.len() {
            let f = sd[self.map.touch_adr[i]] + self.noise(self.cfg.noise.touch_std);
            frame.contacts.push(f.max(0.0));
        }
        if let Some(site) = self.map.imu_site {
            let m = d.site_xmat()[site];
            frame.truth = Some(GroundTruth {
                orientation: mat_to_quat(&m),
                position: d.site_xpos()[site],
            });
        }
        #[cfg(feature = "render")]
        if let Some(p) = self.state_pub.as_mut() {
            p.publish(frame.t, d.qpos()); // latest-value slot: no allocation, never waits
        }
        self.data = Some(d);
        // A diverged simulation produces NaN; report which channel, never pass it on silently.
        if frame
            .joints
            .position
            .iter()
            .chain(&frame.joints.velocity)
            .any(|x| !x.is_finite())
        {
            return Err(BackendError::InvalidSensor {
                backend: NAME,
                sensor: "joints",
            });
        }
        if let Some(imu) = &frame.imu {
            if imu.accel.iter().chain(&imu.gyro).any(|x| !x.is_finite()) {
                return Err(BackendError::InvalidSensor {
                    backend: NAME,
                    sensor: "imu",
                });
            }
        }
        if frame.contacts.iter().any(|x| !x.is_finite()) {
            return Err(BackendError::InvalidSensor {
                backend: NAME,
                sensor: "touch",
            });
        }
        Ok(())
    }

    fn write(&mut self, _t: Time, cmd: &Command) -> Result<(), BackendError> {
        let n = self.map.qpos_adr.len();
        let mut result = Ok(());
        match cmd.mode {
            CommandMode::Hold => {
                if self.mode != CommandMode::Hold {
                    self.capture_hold();
                    self.mode = CommandMode::Hold;
                }
            }
            mode if cmd.values.len() != n => {
                let _ = mode;
                result = Err(self.reject("wrong number of joint values"));
            }
            _ if cmd.values.iter().any(|v| !v.is_finite()) => {
                result = Err(self.reject("non-finite joint value"));
            }
            CommandMode::Effort if self.cfg.joints.actuator_mode == ActuatorMode::Position => {
                result =
                    Err(self
                        .reject("effort commands need effort actuators (actuator_mode: effort)"));
            }
            mode => {
                self.mode = mode;
                self.target.clone_from(&cmd.values);
            }
        }
        self.step_period();
        result
    }

    #[cfg(feature = "render")]
    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        if self.state_pub.is_some() {
            return None;
        }
        let cam = self.cfg.camera.clone()?;
        let model = Arc::new(self.model()?.clone());
        let (publisher, source) = super::camera::mujoco_source(model, &cam, &self.config_file);
        self.state_pub = Some(publisher);
        Some(Box::new(source))
    }

    /// Resets with the episode's seed, then weighs and places the scene's object (a scene
    /// without one: the reset only). Changing the mass swaps in a copy of the model (allocates:
    /// simulation only, once per episode).
    fn setup_episode(&mut self, e: &super::EpisodeSetup) -> Result<(), BackendError> {
        self.reset(e.seed)?;
        let (Some((body, qadr, dadr, base_mass)), Some(base)) = (self.object, &self.base_model)
        else {
            return Ok(());
        };
        let [dx, dy] = e.object_offset;
        if !(dx.is_finite() && dy.is_finite()) {
            return Err(self.mapping_err(
                "object",
                format!("episode object offset {:?} is not finite", e.object_offset),
            ));
        }
        let mass = if e.object_mass.is_finite() && e.object_mass > 0.0 {
            e.object_mass
        } else {
            base_mass
        };
        let file = self.model_path.display().to_string();
        let Some(d) = self.data.as_mut() else {
            return Ok(());
        };
        if d.model().body_mass()[body] != mass {
            let mut m = (**base).clone();
            let k = mass / base_mass;
            m.body_mass_mut()[body] = mass;
            for v in m.body_inertia_mut()[body].iter_mut() {
                *v *= k;
            }
            if d.try_swap_model(Arc::new(m)).is_err() {
                return Err(BackendError::Model {
                    file,
                    message: "cannot swap in the model with the episode's object mass".into(),
                });
            }
        }
        // offsets from where the reset (keyframe) put the object
        let q = d.qpos_mut();
        q[qadr] += dx;
        q[qadr + 1] += dy;
        q[qadr + 3..qadr + 7].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
        d.qvel_mut()[dadr..dadr + 6].fill(0.0);
        d.forward();
        Ok(())
    }

    fn reset(&mut self, seed: u64) -> Result<(), BackendError> {
        if self.state == Lifecycle::Unconfigured {
            return Err(BackendError::Lifecycle {
                backend: NAME,
                op: "reset",
                state: self.state,
            });
        }
        self.seed = seed;
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        for k in 0..3 {
            self.accel_bias[k] = self.noise(self.cfg.noise.accel_bias_std);
            self.gyro_bias[k] = self.noise(self.cfg.noise.gyro_bias_std);
        }
        let key = self.map.keyframe;
        if let Some(d) = self.data.as_mut() {
            match key {
                Some(k) => d.reset_keyframe(k).map_err(|e| BackendError::Model {
                    file: self.model_path.display().to_string(),
                    message: e.to_string(),
                })?,
                None => d.reset(),
            }
            d.forward();
        }
        // the clock keeps running: a reset teleports the world, time never goes backwards
        self.capture_hold();
        self.mode = CommandMode::Hold;
        Ok(())
    }
}

/// Rotation matrix (row-major 3x3) to unit quaternion `[w, x, y, z]` with `w >= 0`.
pub fn mat_to_quat(m: &[f64; 9]) -> [f64; 4] {
    let (m00, m01, m02, m10, m11, m12, m20, m21, m22) =
        (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
    let tr = m00 + m11 + m22;
    let q = if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s]
    } else if m00 > m11 && m00 > m22 {
        let s = (1.0 + m00 - m11 - m22).sqrt() * 2.0;
        [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s]
    } else if m11 > m22 {
        let s = (1.0 + m11 - m00 - m22).sqrt() * 2.0;
        [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s]
    } else {
        let s = (1.0 + m22 - m00 - m11).sqrt() * 2.0;
        [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s]
    };
    let norm = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    let sign = if q[0] < 0.0 { -1.0 } else { 1.0 };
    [
        q[0] * sign / norm,
        q[1] * sign / norm,
        q[2] * sign / norm,
        q[3] * sign / norm,
    ]
}

#[cfg(test)]
mod tests {
    use super::mat_to_quat;

    #[test]
    fn quat_of_identity_and_90deg_yaw() {
        let q = mat_to_quat(&[1., 0., 0., 0., 1., 0., 0., 0., 1.]);
        assert!((q[0] - 1.0).abs() < 1e-12);
        // 90 deg about z: x->y
        let q = mat_to_quat(&[0., -1., 0., 1., 0., 0., 0., 0., 1.]);
        let h = std::f64::consts::FRAC_1_SQRT_2;
        assert!(
            (q[0] - h).abs() < 1e-12 && (q[3] - h).abs() < 1e-12,
            "{q:?}"
        );
        // 180 deg about x (trace < 0 branch)
        let q = mat_to_quat(&[1., 0., 0., 0., -1., 0., 0., 0., -1.]);
        assert!((q[1].abs() - 1.0).abs() < 1e-12, "{q:?}");
    }
}
