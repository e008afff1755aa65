//! Each stage built from its section of the one [`Config`]. The stages know only their own
//! sections (and a [`Context`]); this is the only place besides the agent that sees the whole
//! config, so `config` depends on the stages and no stage depends on `config`.

use std::path::Path;

use super::{BackendKind, Config};
use crate::backend::mujoco_config::MujocoConfig;
use crate::backend::{BackendError, Context, Managed, OpenError};

impl Config {
    /// What every backend needs beside its section.
    fn backend_context(&self) -> Context {
        Context {
            file: self.source.display().to_string(),
            base_dir: self.base_dir.clone(),
            period_ns: self.control.period_ns,
            seed: self.seed,
        }
    }

    /// The one backend factory: builds the backend `backend:` names (`robot` = the robot's
    /// joints composed with its RealSense camera when `robot.camera`), wrapped in its lifecycle
    /// and configured. `bag` overrides `replay.bag`.
    pub fn open_backend(&self, bag: Option<&Path>) -> Result<Managed, OpenError> {
        let ctx = self.backend_context();
        let hw: Box<dyn crate::backend::Backend> =
            match self.backend {
                BackendKind::Mujoco => {
                    #[cfg(feature = "mujoco")]
                    {
                        Box::new(crate::backend::mujoco::MujocoBackend::with_section(
                            self.mujoco_section()?,
                            &ctx,
                        ))
                    }
                    #[cfg(not(feature = "mujoco"))]
                    return Err(OpenError::Unsupported {
                        backend: "mujoco",
                        features: "mujoco",
                    });
                }
                BackendKind::Replay => Box::new(
                    crate::backend::replay::ReplayBackend::with_section(&self.replay, &ctx, bag)?,
                ),
                BackendKind::Realsense => {
                    #[cfg(feature = "realsense")]
                    {
                        Box::new(crate::backend::realsense::RealsenseBackend::with_section(
                            &self.realsense,
                            &ctx,
                        )?)
                    }
                    #[cfg(not(feature = "realsense"))]
                    return Err(OpenError::Unsupported {
                        backend: "realsense",
                        features: "realsense",
                    });
                }
                BackendKind::Robot => self.open_robot(&ctx)?,
            };
        let mut b = Managed::new(hw);
        crate::backend::Backend::configure(&mut b)?;
        Ok(b)
    }

    #[cfg_attr(not(feature = "mujoco"), allow(dead_code))]
    fn mujoco_section(&self) -> Result<&MujocoConfig, BackendError> {
        self.mujoco().map_err(|e| BackendError::Mapping {
            file: self.source.display().to_string(),
            key: "mujoco".into(),
            message: e.to_string(),
        })
    }

    /// `backend: robot`: the robot's joints (ros2_control over ROS 2), with the RealSense
    /// camera (IMU, depth) composed in when `robot.camera`.
    fn open_robot(&self, ctx: &Context) -> Result<Box<dyn crate::backend::Backend>, OpenError> {
        #[cfg(feature = "ros2")]
        {
            let joints = crate::backend::robot::RobotJointsBackend::new(self)?;
            let camera = self.robot.as_ref().is_some_and(|r| r.camera);
            if !camera {
                return Ok(Box::new(joints));
            }
            #[cfg(feature = "realsense")]
            {
                let cam = crate::backend::realsense::RealsenseBackend::with_section(
                    &self.realsense,
                    ctx,
                )?;
                Ok(Box::new(crate::backend::composite::Composite::new(
                    joints, cam,
                )?))
            }
            #[cfg(not(feature = "realsense"))]
            Err(OpenError::Unsupported {
                backend: "robot with robot.camera: true",
                features: "ros2,realsense",
            })
        }
        #[cfg(not(feature = "ros2"))]
        {
            let _ = ctx;
            Err(OpenError::Unsupported {
                backend: "robot",
                features: "ros2",
            })
        }
    }
}

#[cfg(feature = "mujoco")]
impl crate::backend::mujoco::MujocoBackend {
    /// The MuJoCo backend of `config` (its `mujoco:` section). Nothing is loaded until
    /// `configure`.
    pub fn new(config: &Config) -> Result<Self, BackendError> {
        Ok(Self::with_section(
            config.mujoco_section()?,
            &config.backend_context(),
        ))
    }

    /// The backend of `config`, configured and activated under the lifecycle wrapper, with its
    /// concrete type kept (tests and benchmarks that look into the simulation).
    pub fn open(config: &Config) -> Result<Managed<Self>, BackendError> {
        use crate::backend::Backend;
        let mut b = Managed::new(Self::new(config)?);
        b.configure()?;
        b.activate()?;
        Ok(b)
    }
}

impl crate::backend::replay::ReplayBackend {
    /// The replay backend of `config` over `bag` (else `replay.bag`).
    pub fn new(config: &Config, bag: Option<&Path>) -> Result<Self, BackendError> {
        Self::with_section(&config.replay, &config.backend_context(), bag)
    }
}

#[cfg(feature = "realsense")]
impl crate::backend::realsense::RealsenseBackend {
    /// The RealSense backend of `config` (its `realsense:` section).
    pub fn new(config: &Config) -> Result<Self, BackendError> {
        Self::with_section(&config.realsense, &config.backend_context())
    }
}

#[cfg(feature = "ros2")]
impl crate::backend::robot::RobotJointsBackend {
    /// The robot-joints backend of `config` (its `robot:` section, required).
    pub fn new(config: &Config) -> Result<Self, BackendError> {
        let cfg = config.robot.as_ref().ok_or_else(|| BackendError::Mapping {
            file: config.source.display().to_string(),
            key: "sattva.ros__parameters.robot".into(),
            message: "missing: the robot-joints backend needs a `robot:` section (joint_names, topics, limits)".into(),
        })?;
        let model = cfg.model.as_deref().map(|m| config.resolve_path(m));
        Ok(Self::with_section(cfg, &config.backend_context()).with_model(model))
    }
}

impl crate::learn::Learner {
    /// The learner of `config` for a robot with `layout` (`encode:`, `substrate:`, `learn:`
    /// and the vision descriptor's weight when `vision.enabled`).
    pub fn new(
        config: &Config,
        layout: crate::encode::Layout,
    ) -> Result<Self, crate::learn::LearnError> {
        let visual = if config.vision.enabled {
            config.vision.encoder_weight
        } else {
            0.0
        };
        let resume =
            (!config.learn.resume.is_empty()).then(|| config.resolve_path(&config.learn.resume));
        Self::with_sections(
            &config.encode,
            &config.substrate,
            config.learn.calibration_windows as u64,
            visual,
            resume.as_deref(),
            config.seed,
            layout,
        )
    }
}

impl crate::learn::LearnTask {
    /// The learn task of `config` (`learn:`; snapshots to `learn.snapshot` when set).
    pub fn new(
        config: &Config,
        learner: crate::learn::Learner,
        segments: crate::sched::channel::RingRx<crate::learn::Segment>,
        ports: Option<crate::learn::LearnPorts>,
        done: std::sync::mpsc::Sender<crate::learn::LearnOutcome>,
    ) -> Result<Self, crate::learn::LearnError> {
        let snapshot = (!config.learn.snapshot.is_empty())
            .then(|| config.resolve_path(&config.learn.snapshot));
        let task = Self::with_section(&config.learn, snapshot, learner, segments, ports, done)?
            .with_control_period(config.control.period_ns);
        // the lexicon grounded beside the resumed snapshot, when there is one
        if !config.learn.resume.is_empty() {
            let p = crate::language::lexicon_path(&config.resolve_path(&config.learn.resume));
            if p.exists() {
                let lexicon = crate::language::Lexicon::load(&p)?;
                return Ok(task.with_lexicon(lexicon, config.learn.label_window_s));
            }
        }
        Ok(task)
    }
}

impl<B: crate::backend::Backend> crate::pipeline::ControlLoop<B> {
    /// The control loop of `config` around an active backend (see
    /// [`crate::pipeline::ControlLoop::with_spec`]).
    pub fn new(
        config: &Config,
        backend: B,
        curriculum: Option<crate::action::CurriculumSource>,
    ) -> Result<Self, BackendError> {
        let spec = crate::pipeline::LoopSpec {
            action: &config.action,
            fusion: &config.fusion,
            monitors: &config.monitors,
            period_ns: config.control.period_ns,
            command_timeout_ns: config.ros.command_timeout_ms as i64 * 1_000_000,
            seed: config.seed,
            replaying: config.backend == BackendKind::Replay,
            config_file: config.source.display().to_string(),
        };
        Self::with_spec(&spec, backend, curriculum)
    }
}
