//! One episode in MuJoCo: reset the world with the scenario's noise seed, place and weigh the
//! object, settle, run the primitive through the control loop (read -> fuse -> act -> clamp ->
//! write) as the control task of the virtual-time executor, and encode the experience.
//!
//! Per control cycle nothing is allocated (the primitive, the command and the trajectory profile
//! are fixed-size); per episode the executor and the control loop are rebuilt (the backend's
//! clock restarts at every reset, and a fresh fusion stage must not see time go backwards).

use std::sync::Arc;

use mujoco_rs::prelude::*;

use super::{EvalConfig, Scenario, MAX_BINS};
use crate::action::{PrimitiveRun, SafetyClamp};
use crate::backend::mujoco::MujocoBackend;
use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::encode::{Encoder, Layout};
use crate::fusion::FusedState;
use crate::pipeline::ControlLoop;
use crate::ros::bridge::{ControlMode, FromRos};
use crate::sched::{task_fn, Job, SchedConfig, TaskConfig, TaskSet, VirtualExecutor};
use crate::types::{Command, CommandMode};

/// Name of the free body the curriculum places and weighs.
pub const OBJECT_BODY: &str = "object";
/// Its free joint.
pub const OBJECT_JOINT: &str = "object_free";
/// Joints the primitives drive.
pub const ARM_JOINTS: usize = 4;

/// Errors of the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The scene does not fit the curriculum.
    #[error("{0}")]
    Scene(String),
    /// The scheduler refused the task set.
    #[error(transparent)]
    Sched(#[from] crate::sched::SchedError),
    /// The encoder failed.
    #[error(transparent)]
    Encode(#[from] crate::encode::EncodeError),
    /// The substrate failed.
    #[error(transparent)]
    Substrate(#[from] crate::substrate::SubstrateError),
    /// A snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] crate::substrate::snapshot::SnapshotError),
    /// Writing the report or the export failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The baselines script failed.
    #[error("baselines: {0}")]
    Baselines(String),
}

/// What one episode produced.
#[derive(Clone, Debug)]
pub struct EpisodeOutcome {
    /// The encoded experience (unit vector, length D).
    pub experience: Vec<f32>,
    /// Control cycles run.
    pub cycles: u64,
    /// Simulated duration of the episode, s.
    pub sim_s: f64,
    /// Largest fingertip touch force, N.
    pub max_touch: f64,
    /// Object displacement in the table plane, m (ground truth, for diagnostics only).
    pub object_moved: f64,
    /// The control loop's counters of this episode.
    pub stats: crate::pipeline::LoopStats,
    /// True when the episode was cut short by `max_ns` (the experience is then not complete).
    pub truncated: bool,
}

/// Runs curriculum episodes on one MuJoCo backend. Allocates at construction and per episode,
/// never per control cycle.
pub struct EpisodeRunner {
    backend: Option<MujocoBackend>,
    base_model: MjModel,
    object_body: usize,
    object_qpos: usize,
    object_dof: usize,
    eval: EvalConfig,
    clamp: SafetyClamp,
    fusion: crate::fusion::FusionConfig,
    sched: SchedConfig,
    period_ns: i64,
    seed: u64,
    encoder: Encoder,
    bins: usize,
    /// Control cycles run so far.
    pub cycles: u64,
    /// Simulated seconds run so far (the episodes' virtual time, summed).
    pub sim_s: f64,
    /// Position targets the clamp rate-limited or clamped, summed over episodes.
    pub clamp_events: u64,
    /// The vision task's parts when `vision.enabled` (feature `render`).
    #[cfg(feature = "render")]
    vision: Option<EpisodeVision>,
    /// Vision counters summed over episodes (frames, rotations ...).
    pub vision_frames: u64,
}

/// The vision task's parts kept across episodes (the renderer is expensive to open).
#[cfg(feature = "render")]
struct EpisodeVision {
    cfg: crate::vision::VisionConfig,
    publisher: crate::vision::task::mujoco_source::StatePublisher,
    source: crate::vision::task::mujoco_source::MujocoSource,
    task: TaskConfig,
    encode: bool,
}

impl EpisodeRunner {
    /// Opens the MuJoCo backend of `c` and checks that its scene has the object.
    pub fn new(c: &Config) -> Result<EpisodeRunner, EvalError> {
        let backend = crate::sim::open_backend(c)?;
        let joints = backend.info().joint_names.len();
        if joints != ARM_JOINTS {
            return Err(EvalError::Scene(format!(
                "the curriculum drives a {ARM_JOINTS}-joint arm; {} maps {joints} joints (key `mujoco.joints.names`)",
                c.source.display()
            )));
        }
        let model = backend
            .model()
            .ok_or_else(|| EvalError::Scene("backend has no model".into()))?;
        let body = model.name_to_id(MjtObjBase::mjOBJ_BODY, OBJECT_BODY);
        let joint = model.name_to_id(MjtObjBase::mjOBJ_JOINT, OBJECT_JOINT);
        let (body, joint) = match (body, joint) {
            (Some(b), Some(j)) => (b, j),
            _ => {
                return Err(EvalError::Scene(format!(
                    "the scene has no free body `{OBJECT_BODY}` with joint `{OBJECT_JOINT}` (the curriculum places and weighs it)"
                )))
            }
        };
        let object_qpos = model.jnt_qposadr()[joint] as usize;
        let object_dof = model.jnt_dofadr()[joint] as usize;
        let base_model = model.clone();
        let clamp = SafetyClamp::new(&backend.info().joint_limits)
            .with_limits(&c.action.clamp, c.control.period_ns);
        let bins = (c.eval.profile_bins as usize).clamp(1, MAX_BINS);
        let layout = Layout {
            joints: ARM_JOINTS,
            contacts: backend.info().contact_names.len(),
            depth_cells: 0,
        };
        #[cfg_attr(not(feature = "render"), allow(unused_mut))]
        let mut encoder = Encoder::new(&c.encode, layout, c.seed)
            .with_extra_modality(
                "joint_trajectory",
                bins * ARM_JOINTS,
                c.eval.trajectory_weight as f32,
            )
            .with_extra_modality("touch_profile", bins, c.eval.touch_weight as f32);
        #[cfg(feature = "render")]
        let vision = match c.vision.enabled {
            false => None,
            true => {
                let cam = c
                    .mujoco()
                    .ok()
                    .and_then(|m| m.camera.clone())
                    .ok_or_else(|| {
                        EvalError::Scene(
                            "`vision.enabled` needs a camera (`mujoco.camera`)".to_string(),
                        )
                    })?;
                let (publisher, source) = crate::vision::task::mujoco_source::mujoco_source(
                    Arc::new(model.clone()),
                    &cam,
                    &c.source.display().to_string(),
                );
                let encode = c.vision.encoder_weight > 0.0;
                if encode {
                    let w = c.vision.encoder_weight as f32;
                    let n = crate::vision::DESCRIPTOR_LEN;
                    encoder = encoder
                        .with_extra_modality("visual", n, w)
                        .with_extra_modality("visual_change", n, w);
                }
                Some(EpisodeVision {
                    cfg: c.vision.clone(),
                    publisher,
                    source,
                    task: TaskConfig {
                        period_ns: (1e9 / c.vision.rate_hz).round() as i64,
                        priority: c.vision.priority,
                        ..TaskConfig::default()
                    },
                    encode,
                })
            }
        };
        #[cfg(not(feature = "render"))]
        if c.vision.enabled {
            return Err(EvalError::Scene(
                "`vision.enabled` needs the camera: rebuild with `--features render`".into(),
            ));
        }
        let mut sched = c.sched.clone();
        sched.tasks.clear();
        sched.tasks.insert(
            "control".into(),
            TaskConfig {
                period_ns: c.control.period_ns,
                ..TaskConfig::default()
            },
        );
        Ok(EpisodeRunner {
            backend: Some(backend),
            base_model,
            object_body: body,
            object_qpos,
            object_dof,
            eval: c.eval.clone(),
            clamp,
            fusion: c.fusion.clone(),
            sched,
            period_ns: c.control.period_ns,
            seed: c.seed,
            encoder,
            bins,
            cycles: 0,
            sim_s: 0.0,
            clamp_events: 0,
            #[cfg(feature = "render")]
            vision,
            vision_frames: 0,
        })
    }

    /// The experience encoder (e.g. to freeze its statistics).
    pub fn encoder_mut(&mut self) -> &mut Encoder {
        &mut self.encoder
    }

    /// Dimension of the experiences.
    pub fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn prepare_world(&mut self, sc: &Scenario) -> Result<MujocoBackend, EvalError> {
        let mut b = self
            .backend
            .take()
            .ok_or_else(|| EvalError::Scene("backend lost by an earlier failure".into()))?;
        b.reset(sc.params.seed)?;
        let base_mass = self.base_model.body_mass()[self.object_body];
        let mass = if sc.params.mass.is_finite() && sc.params.mass > 0.0 {
            sc.params.mass
        } else {
            base_mass
        };
        let (ox, oy) = (sc.params.object[0], sc.params.object[1]);
        if !(ox.is_finite() && oy.is_finite()) {
            self.backend = Some(b);
            return Err(EvalError::Scene(format!(
                "object position {:?} is not finite",
                sc.params.object
            )));
        }
        if let Some(d) = b.data_mut() {
            let cur = d.model().body_mass()[self.object_body];
            if cur != mass {
                let mut m = self.base_model.clone();
                let k = mass / base_mass;
                m.body_mass_mut()[self.object_body] = mass;
                for v in m.body_inertia_mut()[self.object_body].iter_mut() {
                    *v *= k;
                }
                if d.try_swap_model(Arc::new(m)).is_err() {
                    return Err(EvalError::Scene("cannot swap the model".into()));
                }
            }
            let z = d.qpos()[self.object_qpos + 2];
            let q = d.qpos_mut();
            q[self.object_qpos] = ox;
            q[self.object_qpos + 1] = oy;
            q[self.object_qpos + 2] = z;
            q[self.object_qpos + 3..self.object_qpos + 7].copy_from_slice(&[1.0, 0.0, 0.0, 0.0]);
            d.qvel_mut()[self.object_dof..self.object_dof + 6].fill(0.0);
            d.forward();
        }
        Ok(b)
    }

    fn object_xy(b: &MujocoBackend, qpos: usize) -> [f64; 2] {
        b.data()
            .map(|d| [d.qpos()[qpos], d.qpos()[qpos + 1]])
            .unwrap_or([0.0; 2])
    }

    /// Runs `sc` and encodes its experience (the encoder's statistics learn unless frozen).
    pub fn run(&mut self, sc: &Scenario) -> Result<EpisodeOutcome, EvalError> {
        self.run_with(sc, None, &mut |_| {})
    }

    /// The backend (between episodes).
    pub fn backend_mut(&mut self) -> Option<&mut MujocoBackend> {
        self.backend.as_mut()
    }

    /// Runs `sc` for at most `max_ns` of simulated time (whole episode when `None`), calling
    /// `on_frame` with every frame read (on the control task: it must not block or allocate for
    /// the loop to stay allocation-free).
    pub fn run_with(
        &mut self,
        sc: &Scenario,
        max_ns: Option<i64>,
        on_frame: &mut (dyn FnMut(&crate::types::SensorFrame) + Send),
    ) -> Result<EpisodeOutcome, EvalError> {
        let backend = self.prepare_world(sc)?;
        let obj0 = Self::object_xy(&backend, self.object_qpos);
        let mut lp = ControlLoop::new(backend, self.seed ^ sc.params.seed, 0.3)?
            .with_fusion(&self.fusion)
            .with_clamp(self.clamp.clone());
        let period = self.period_ns;
        let t0 = lp.backend.now();
        let settle = (self.eval.settle_s * 1e9 / period as f64).round() as i64 * period;
        let t_start = t0.add_nanos(settle);
        let probe = PrimitiveRun::new(sc.primitive, sc.params, &[], t_start, self.eval.primitive_s);
        let t_end = t_start.add_nanos(probe.duration_ns());
        let bins = self.bins;
        let mut rec = Recorder::default();
        let mut before = FusedState::default();
        let mut run: Option<PrimitiveRun> = None;
        let mut cmd = Command::default();
        let mut cmd_sum = [0.0f64; ARM_JOINTS];
        let mut cmd_n = 0u64;
        let mut cycles = 0u64;
        lp.handle(FromRos::Mode(ControlMode::Hold));
        // the visual descriptors at the primitive's start and end (feature `render`)
        #[allow(unused_mut)]
        let mut visual_before = crate::vision::Descriptor::default();
        #[allow(unused_mut)]
        let mut visual_after = crate::vision::Descriptor::default();
        #[allow(unused_mut)]
        let mut visual_on = false;
        {
            #[cfg(feature = "render")]
            let mut vision_parts = match self.vision.as_mut() {
                Some(v) => {
                    v.source.restart();
                    let (task, sink) = crate::vision::task::vision_task(&v.cfg, &mut v.source)
                        .map_err(|e| EvalError::Scene(format!("vision: {e}")))?;
                    visual_on = v.encode;
                    Some((task, sink, &mut v.publisher, v.task.clone()))
                }
                None => None,
            };
            #[cfg(feature = "render")]
            let (mut vision_task, mut vision_io) = match vision_parts.take() {
                Some((task, sink, publisher, tc)) => (Some((task, tc)), Some((sink, publisher))),
                None => (None, None),
            };
            #[cfg(feature = "render")]
            let vb = &mut visual_before;
            let control = task_fn(|_j: &Job| {
                let t = lp.backend.now();
                // the vision task's results (yaw aid, descriptor) and the state it renders
                #[cfg(feature = "render")]
                if let Some((sink, publisher)) = vision_io.as_mut() {
                    sink.apply(lp.fusion_mut());
                    if let Some(d) = lp.backend.data() {
                        publisher.publish(t, d.qpos());
                    }
                }
                if run.is_none() && t >= t_start {
                    #[cfg(feature = "render")]
                    if let Some((sink, _)) = vision_io.as_ref() {
                        *vb = sink.descriptor();
                    }
                    before.clone_from(lp.fused());
                    run = Some(PrimitiveRun::new(
                        sc.primitive,
                        sc.params,
                        &before.joint_position,
                        t_start,
                        self.eval.primitive_s,
                    ));
                    lp.handle(FromRos::Mode(ControlMode::External));
                }
                if let Some(r) = &run {
                    r.command(t, &mut cmd);
                    for (s, v) in cmd_sum.iter_mut().zip(&cmd.values) {
                        *s += v;
                    }
                    cmd_n += 1;
                    lp.handle(FromRos::Command(cmd.clone()));
                }
                on_frame(lp.cycle());
                if let Some(r) = &run {
                    rec.record(lp.fused(), &before, r.phase(t), bins);
                }
                cycles += 1;
            });
            #[allow(unused_mut)]
            let mut set = TaskSet::new().add("control", control);
            #[allow(unused_mut)]
            let mut sched = self.sched.clone();
            #[cfg(feature = "render")]
            if let Some((task, tc)) = vision_task.as_mut() {
                sched.tasks.insert("vision".into(), tc.clone());
                set = set.add("vision", task);
            }
            let mut ex = VirtualExecutor::new(&sched, set, t0)?;
            ex.run_until(match max_ns {
                Some(m) if m < t_end.0 - t0.0 => t0.add_nanos(m.max(0)),
                _ => t_end,
            });
            drop(ex);
            #[cfg(feature = "render")]
            if let Some((task, _)) = vision_task.as_ref() {
                self.vision_frames += task.stage().counters.frames;
            }
            #[cfg(feature = "render")]
            if let Some((sink, _)) = vision_io.as_mut() {
                sink.apply(lp.fusion_mut());
                visual_after = sink.descriptor();
            }
        }
        let after = lp.fused().clone();
        self.clamp_events += lp.clamp().clamped() + lp.clamp().rate_limited();
        let sim_s = (lp.backend.now().0 - t0.0) as f64 * 1e-9;
        let max_touch = lp.stats.max_touch;
        let stats = lp.stats.clone();
        let truncated = lp.backend.now() < t_end;
        let obj1 = Self::object_xy(&lp.backend, self.object_qpos);
        self.backend = Some(lp.backend);
        // the command summary: the mean position target of the primitive
        let mut summary = Command {
            t: after.t,
            mode: CommandMode::Position,
            ..Command::default()
        };
        for s in cmd_sum {
            summary.values.push(s / cmd_n.max(1) as f64);
        }
        let mut out = vec![0.0f32; self.encoder.dim()];
        let mut change = crate::vision::Descriptor::default();
        for (c, (a, b)) in change
            .0
            .iter_mut()
            .zip(visual_after.0.iter().zip(&visual_before.0))
        {
            *c = a - b;
        }
        let traj = &rec.traj[..bins * ARM_JOINTS];
        let touch = &rec.touch[..bins];
        let with_visual = [traj, touch, &visual_after.0[..], &change.0[..]];
        let extra: &[&[f32]] = if visual_on {
            &with_visual
        } else {
            &with_visual[..2]
        };
        self.encoder
            .encode_with(&before, &summary, &after, extra, &mut out)?;
        self.cycles += cycles;
        self.sim_s += sim_s;
        Ok(EpisodeOutcome {
            experience: out,
            cycles,
            sim_s,
            max_touch,
            object_moved: ((obj1[0] - obj0[0]).powi(2) + (obj1[1] - obj0[1]).powi(2)).sqrt(),
            stats,
            truncated,
        })
    }
}

/// The trajectory profile of an episode: per phase bin, the sensed joint displacement from the
/// start at the end of the bin, and the largest touch force in the bin. Fixed-size.
#[derive(Clone, Debug)]
struct Recorder {
    traj: [f32; MAX_BINS * ARM_JOINTS],
    touch: [f32; MAX_BINS],
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            traj: [0.0; MAX_BINS * ARM_JOINTS],
            touch: [0.0; MAX_BINS],
        }
    }
}

impl Recorder {
    fn record(&mut self, s: &FusedState, before: &FusedState, phase: f64, bins: usize) {
        let b = ((phase * bins as f64) as usize).min(bins - 1);
        for j in 0..ARM_JOINTS {
            let d = s.joint_position.get(j).copied().unwrap_or(0.0)
                - before.joint_position.get(j).copied().unwrap_or(0.0);
            // later bins keep the last value until they are reached: fill forward
            for k in b..bins {
                self.traj[k * ARM_JOINTS + j] = d as f32;
            }
        }
        let f = s.contact_force.iter().copied().fold(0.0, f64::max) as f32;
        self.touch[b] = self.touch[b].max(f);
    }
}
