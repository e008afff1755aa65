//! MuJoCo simulation backend (feature `mujoco`, MuJoCo 3.17 through `mujoco-rs`).
//!
//! Lockstep: each `write` applies the command and advances physics by `substeps` steps of the
//! model's timestep, which together make one control period. Sim time, kept as integer
//! nanoseconds so it never drifts, is the timestamp of every frame. All names (joints, sensors,
//! actuators, sites) come from the config and are resolved to array addresses in `configure`, so
//! `read`/`write` only index preallocated arrays: no allocation, no string lookups.
//!
//! # Physics faults
//!
//! After every physics step the backend reads MuJoCo's warning counters (`mjData.warning`) and
//! counts the steps that raised each warning ([`PhysicsWarnings`], also through
//! [`Backend::faults`]). A non-finite or huge position, velocity or acceleration (MuJoCo's
//! "Nan, Inf or huge value in QACC ... The simulation is unstable") is a **fault**: MuJoCo's
//! automatic reset is disabled (`mjDSBL_AUTORESET`), so the world never jumps back silently;
//! instead the backend halts physics (no more steps: the robot stays where it was, the hold
//! command is kept, its clock keeps running so time-driven loops end), and from then on `read`
//! and `write` fail with [`BackendError::Disconnected`] whose message names the time, the degree
//! of freedom and joint, and the likely causes (gains too stiff for the timestep, forces too
//! large, tiny masses). It stays halted until [`Backend::reset`]. Bad controls, full contact or
//! constraint buffers and near-singular inertia are counted and logged (rate-limited) but do
//! not halt the simulation. MuJoCo's own message text goes to `tracing` ([`install_log_handler`]),
//! never to `MUJOCO_LOG.TXT`.

use std::path::PathBuf;
use std::sync::Arc;

use arrayvec::ArrayVec;
use mujoco_rs::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::mujoco_config::{ActuatorMode, MujocoConfig};
use super::{Backend, BackendError, BackendFaults, BackendInfo, Lifecycle};
use crate::repeat::Repeated;
use crate::types::{
    ClockKind, Command, CommandMode, GroundTruth, Imu, JointVec, SensorFrame, Time, MAX_CONTACTS,
    MAX_JOINTS,
};

const NAME: &str = "mujoco";

pub mod body;
mod log;

/// Routes MuJoCo's log messages (warnings, errors) to `tracing`, rate-limited, instead of
/// stdout and `MUJOCO_LOG.TXT` in the working directory. Idempotent;
/// [`MujocoBackend::with_section`] and `sattva`'s `main` call it. Call it before using
/// `mujoco_rs` directly without a backend.
pub fn install_log_handler() {
    log::install();
}

/// Number of MuJoCo warning kinds (`mjNWARNING`).
const NWARN: usize = MjtWarning::mjNWARNING as usize;
const W_INERTIA: usize = MjtWarning::mjWARN_INERTIA as usize;
const W_CONTACTFULL: usize = MjtWarning::mjWARN_CONTACTFULL as usize;
const W_CNSTRFULL: usize = MjtWarning::mjWARN_CNSTRFULL as usize;
const W_BADQPOS: usize = MjtWarning::mjWARN_BADQPOS as usize;
const W_BADQVEL: usize = MjtWarning::mjWARN_BADQVEL as usize;
const W_BADQACC: usize = MjtWarning::mjWARN_BADQACC as usize;
const W_BADCTRL: usize = MjtWarning::mjWARN_BADCTRL as usize;

/// MuJoCo's physics warnings counted by the backend: each counter is the number of physics steps
/// that raised that warning, cumulative over resets. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysicsWarnings {
    /// Times the simulation became unstable and the backend halted physics (each ended by a
    /// `reset`).
    pub faults: u64,
    /// Steps with a NaN, Inf or huge value in `qpos` (`mjWARN_BADQPOS`): a fault.
    pub bad_qpos: u64,
    /// Steps with a NaN, Inf or huge value in `qvel` (`mjWARN_BADQVEL`): a fault.
    pub bad_qvel: u64,
    /// Steps with a NaN, Inf or huge value in `qacc` (`mjWARN_BADQACC`): a fault.
    pub bad_qacc: u64,
    /// Steps with a NaN, Inf or huge control (`mjWARN_BADCTRL`); MuJoCo zeroed the controls of
    /// that step.
    pub bad_ctrl: u64,
    /// Steps whose contact list was full (`mjWARN_CONTACTFULL`): contacts were dropped.
    pub contact_full: u64,
    /// Steps whose constraint buffer was full (`mjWARN_CNSTRFULL`): constraints were dropped.
    pub constraint_full: u64,
    /// Steps with a (near) singular inertia matrix (`mjWARN_INERTIA`).
    pub inertia: u64,
}

impl PhysicsWarnings {
    /// True when any counter is nonzero.
    pub fn any(&self) -> bool {
        *self != PhysicsWarnings::default()
    }

    fn add(&mut self, kind: usize) {
        let c = match kind {
            W_BADQPOS => &mut self.bad_qpos,
            W_BADQVEL => &mut self.bad_qvel,
            W_BADQACC => &mut self.bad_qacc,
            W_BADCTRL => &mut self.bad_ctrl,
            W_CONTACTFULL => &mut self.contact_full,
            W_CNSTRFULL => &mut self.constraint_full,
            W_INERTIA => &mut self.inertia,
            _ => return, // a warning kind newer than this code
        };
        *c += 1;
    }
}

impl From<PhysicsWarnings> for BackendFaults {
    fn from(w: PhysicsWarnings) -> BackendFaults {
        BackendFaults {
            fatal: w.faults,
            unstable: w.bad_qpos + w.bad_qvel + w.bad_qacc + w.bad_ctrl,
            overflow: w.contact_full + w.constraint_full,
            other: w.inertia,
        }
    }
}

/// `none`, or the nonzero counters: `faults 1, bad qacc 1`.
impl std::fmt::Display for PhysicsWarnings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = [
            ("faults", self.faults),
            ("bad qpos", self.bad_qpos),
            ("bad qvel", self.bad_qvel),
            ("bad qacc", self.bad_qacc),
            ("bad ctrl", self.bad_ctrl),
            ("contacts full", self.contact_full),
            ("constraints full", self.constraint_full),
            ("singular inertia", self.inertia),
        ];
        let mut first = true;
        for (name, n) in all.iter().filter(|(_, n)| *n > 0) {
            write!(f, "{}{name} {n}", if first { "" } else { ", " })?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

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

/// The MuJoCo backend. Create with [`MujocoBackend::with_section`] (or `Config::open_backend`),
/// then `configure` and `activate` (through [`super::Managed`]).
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
    /// Physics warnings counted so far (cumulative over resets).
    warnings: PhysicsWarnings,
    /// `mjData.warning[k].number` as last seen (MuJoCo counts per `mjData`; a reset zeroes it).
    seen: [i32; NWARN],
    /// Rate limiters of the log lines of non-fatal warnings, per kind.
    warn_log: [Repeated; NWARN],
    /// Set while physics is halted after a fault: the message `read`/`write` return.
    fault: Option<String>,
}

/// Name of the free body a curriculum episode places and weighs ([`Backend::setup_episode`]).
pub const OBJECT_BODY: &str = "object";
/// Its free joint.
pub const OBJECT_JOINT: &str = "object_free";

impl MujocoBackend {
    /// A backend for a `mujoco:` section. Nothing is loaded until `configure`.
    pub fn with_section(cfg: &MujocoConfig, ctx: &super::Context) -> MujocoBackend {
        // before any model is loaded (see `log::install`)
        log::install();
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
            warnings: PhysicsWarnings::default(),
            seen: [0; NWARN],
            warn_log: [Repeated::default(); NWARN],
            fault: None,
        }
    }

    /// MuJoCo's physics warnings counted so far (cumulative over resets).
    pub fn physics_warnings(&self) -> PhysicsWarnings {
        self.warnings
    }

    /// The fault message while physics is halted after the simulation became unstable; `None`
    /// when running (cleared by `reset`).
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
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
        let actuator_mode = self.cfg.joints.actuator_mode;
        for i in 0..n {
            let j = &self.cfg.joints;
            let kp = j
                .pd_kp_per_joint
                .as_ref()
                .and_then(|v| v.get(i).copied())
                .unwrap_or(j.pd_kp);
            let kd = j
                .pd_kd_per_joint
                .as_ref()
                .and_then(|v| v.get(i).copied())
                .unwrap_or(j.pd_kd);
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

    /// One control period of physics, unless halted by a fault; the clock advances either way.
    fn step_period(&mut self) {
        if self.fault.is_none() {
            for k in 1..=self.substeps as i64 {
                self.apply_command();
                if let Some(d) = self.data.as_mut() {
                    d.step();
                }
                if let Some(message) = self.check_warnings(self.t_ns + k * self.timestep_ns) {
                    self.halt(message);
                    break;
                }
            }
        }
        self.t_ns += self.period_ns;
    }

    /// Counts the warnings MuJoCo raised since the last check (one physics step), logs the
    /// non-fatal ones (rate-limited) and returns the fault message when the simulation became
    /// unstable. Allocates only then.
    fn check_warnings(&mut self, t_ns: i64) -> Option<String> {
        let d = self.data.as_ref()?;
        let mut fatal: Option<(usize, usize)> = None;
        for (k, w) in d.warning().iter().enumerate() {
            // MuJoCo's count only grows, except when a reset zeroes it
            let new = if w.number >= self.seen[k] {
                w.number - self.seen[k]
            } else {
                w.number
            };
            self.seen[k] = w.number;
            if new == 0 {
                continue;
            }
            self.warnings.add(k);
            let index = w.lastinfo.max(0) as usize;
            match k {
                // the root cause first: a bad acceleration makes velocity and position bad
                W_BADQACC => fatal = Some((k, index)),
                W_BADQVEL | W_BADQPOS => {
                    fatal = fatal.or(Some((k, index)));
                }
                _ => {
                    if let Some(n) = self.warn_log[k].note() {
                        let model = d.model();
                        tracing::warn!(
                            backend = NAME,
                            t = t_ns as f64 * 1e-9,
                            steps = n,
                            "{}",
                            warning_text(model, k, index)
                        );
                    }
                }
            }
        }
        let (kind, index) = fatal?;
        Some(self.fault_message(kind, index, t_ns))
    }

    /// The fault message: when, what, where, and the likely causes.
    fn fault_message(&self, kind: usize, index: usize, t_ns: i64) -> String {
        let Some(model) = self.model() else {
            return "simulation unstable".into();
        };
        let (what, place) = match kind {
            W_BADQPOS => (
                "position",
                format!("qpos[{index}]{}", qpos_joint(model, index)),
            ),
            W_BADQVEL => (
                "velocity",
                format!("dof {index}{}", dof_joint(model, index)),
            ),
            _ => (
                "acceleration",
                format!("dof {index}{}", dof_joint(model, index)),
            ),
        };
        let ts_ms = self.timestep_ns as f64 * 1e-6;
        let gains = match self.cfg.joints.actuator_mode {
            ActuatorMode::Position if self.map.actuator_id.is_some() => format!(
                "position servo gains (`kp` of the model's <position> actuators) too stiff for the \
                 {ts_ms} ms timestep (lower kp, add `kv` damping, or shorten the model's timestep \
                 and raise `mujoco.substeps`)"
            ),
            ActuatorMode::Velocity if self.map.actuator_id.is_some() => format!(
                "velocity servo gains (`kv` of the model's <velocity> actuators) or \
                 `mujoco.joints.pd_kp` {} too stiff for the {ts_ms} ms timestep",
                self.cfg.joints.pd_kp
            ),
            _ => format!(
                "PD gains `mujoco.joints.pd_kp` {} / `pd_kd` {} too stiff for the {ts_ms} ms \
                 timestep (lower them, or shorten the model's timestep and raise \
                 `mujoco.substeps`)",
                self.cfg.joints.pd_kp, self.cfg.joints.pd_kd
            ),
        };
        format!(
            "simulation unstable at t={:.4} s: NaN, Inf or huge {what} in {place} ({}); likely \
             causes: {gains}, efforts or forces too large for the bodies' masses, or near-zero \
             masses/inertias; physics is halted and the robot holds until the backend is reset",
            t_ns as f64 * 1e-9,
            self.model_path.display()
        )
    }

    /// Enters the safe state after a fault: physics halted (no more steps, the robot stays
    /// where it was), hold mode, the fault kept for `read`/`write` until `reset`.
    fn halt(&mut self, message: String) {
        self.warnings.faults += 1;
        tracing::error!(backend = NAME, faults = self.warnings.faults, "{message}");
        // keep the hold target captured while the state was finite
        self.mode = CommandMode::Hold;
        self.fault = Some(message);
    }

    /// The error of a halted backend. Clones the message: the only allocation of `read`/`write`,
    /// and only while halted after a fault, never in a healthy cycle.
    fn fault_error(&self) -> Option<BackendError> {
        self.fault
            .as_ref()
            .map(|message| BackendError::Disconnected {
                backend: NAME,
                message: message.clone(),
            })
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
        let mut model = MjModel::from_xml(&self.model_path).map_err(|e| BackendError::Model {
            file: file.clone(),
            message: e.to_string(),
        })?;
        // an unstable simulation is a fault the backend reports, not a silent reset
        model.opt_mut().disableflags |= MjtDisableBit::mjDSBL_AUTORESET as i32;
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
        if let Some(e) = self.fault_error() {
            frame.clear();
            frame.t = Time(self.t_ns);
            return Err(e);
        }
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
        if let Some(e) = self.fault_error() {
            self.step_period(); // halted: only the clock advances
            return Err(e);
        }
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
            if let Some(home) = &self.cfg.joints.initial_positions {
                let qpos = d.qpos_mut();
                for (&a, &v) in self.map.qpos_adr.iter().zip(home) {
                    qpos[a] = v;
                }
            }
            d.forward();
        }
        // the clock keeps running: a reset teleports the world, time never goes backwards
        // MuJoCo's counters restart at 0; a bad initial state is a fault at once
        self.seen = [0; NWARN];
        if self.fault.take().is_some() {
            tracing::info!(backend = NAME, "physics fault cleared by reset");
        }
        if let Some(message) = self.check_warnings(self.t_ns) {
            self.halt(message);
        }
        self.capture_hold();
        self.mode = CommandMode::Hold;
        Ok(())
    }

    fn body(
        &self,
        spec: &super::body::BodySpec,
    ) -> Result<super::body::RobotBody, super::body::BodyError> {
        let Some(model) = &self.base_model else {
            let i = &self.info;
            return super::body::RobotBody::from_joints(&i.joint_names, &i.joint_limits, spec);
        };
        body::describe(
            model,
            &self.cfg.joints.names,
            "mujoco.joints.names",
            self.map.keyframe,
            self.cfg.joints.initial_positions.as_deref(),
            self.object.map(|o| o.0),
            spec,
        )
    }

    fn faults(&self) -> BackendFaults {
        self.warnings.into()
    }
}

/// ` (joint `name`)` for a dof index, or nothing when unnamed.
fn dof_joint(model: &MjModel, dof: usize) -> String {
    let joint = model.dof_jntid().get(dof).copied().unwrap_or(-1);
    joint_name(model, joint)
}

/// ` (joint `name`)` for a `qpos` index: the joint whose coordinates contain it.
fn qpos_joint(model: &MjModel, index: usize) -> String {
    let joint = model
        .jnt_qposadr()
        .iter()
        .enumerate()
        .filter(|&(_, &adr)| adr >= 0 && adr as usize <= index)
        .max_by_key(|&(_, &adr)| adr)
        .map_or(-1, |(j, _)| j as i32);
    joint_name(model, joint)
}

fn joint_name(model: &MjModel, joint: i32) -> String {
    if joint < 0 {
        return String::new();
    }
    match model.id_to_name(MjtObjBase::mjOBJ_JOINT, joint as usize) {
        Some(name) if !name.is_empty() => format!(" (joint `{name}`)"),
        _ => format!(" (joint {joint})"),
    }
}

/// What a non-fatal warning means and what to do about it.
fn warning_text(model: &MjModel, kind: usize, index: usize) -> String {
    match kind {
        W_BADCTRL => {
            let name = model
                .id_to_name(MjtObjBase::mjOBJ_ACTUATOR, index)
                .unwrap_or_default();
            format!(
                "NaN, Inf or huge control of actuator {index} `{name}`: MuJoCo zeroed all controls of this physics step"
            )
        }
        W_CONTACTFULL => "contact list full: contacts were dropped (give the model more memory: `<size memory=...>`)".into(),
        W_CNSTRFULL => "constraint buffer full: constraints were dropped (give the model more memory: `<size memory=...>`)".into(),
        _ => format!(
            "(near) singular inertia matrix at dof {index}{}: masses or inertias too small (add `armature`, or heavier bodies)",
            dof_joint(model, index)
        ),
    }
}

/// Rotation matrix (row-major 3x3) to unit quaternion `[w, x, y, z]` with `w >= 0`.
fn mat_to_quat(m: &[f64; 9]) -> [f64; 4] {
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
