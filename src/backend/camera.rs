//! Offscreen RGB-D camera for the MuJoCo backend (feature `render`, headless EGL via Mesa).
//!
//! Rendering is slow next to physics (milliseconds per frame on a CPU), so it never runs inside
//! the RT control task: the camera-rate task calls [`crate::backend::mujoco::MujocoBackend::render`]
//! or keeps its own copy of the state.

use std::sync::Arc;

use mujoco_rs::prelude::*;
use mujoco_rs::renderer::MjRenderer;

use super::mujoco_config::CameraConfig;
use super::BackendError;
use crate::types::{CameraIntrinsics, RgbdFrame, Time};

/// A named MJCF camera rendered offscreen to RGB + metric depth.
pub struct MujocoCamera {
    renderer: MjRenderer,
    width: u32,
    height: u32,
    intrinsics: CameraIntrinsics,
}

impl std::fmt::Debug for MujocoCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MujocoCamera")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("intrinsics", &self.intrinsics)
            .finish()
    }
}

impl MujocoCamera {
    /// Opens an offscreen renderer for camera `cfg.name` of `model`.
    pub fn new(
        model: &MjModel,
        cfg: &CameraConfig,
        config_file: &str,
    ) -> Result<MujocoCamera, BackendError> {
        let mapping = |key: &str, message: String| BackendError::Mapping {
            file: config_file.to_string(),
            key: format!("sattva.ros__parameters.mujoco.camera.{key}"),
            message,
        };
        let id = model
            .name_to_id(MjtObjBase::mjOBJ_CAMERA, &cfg.name)
            .ok_or_else(|| {
                mapping(
                    "name",
                    format!("the model has no camera named `{}`", cfg.name),
                )
            })?;
        let global = &model.vis().global;
        if cfg.width > global.offwidth as u32 || cfg.height > global.offheight as u32 {
            return Err(mapping(
                "width",
                format!(
                    "{}x{} exceeds the model's offscreen buffer {}x{} (<visual><global offwidth offheight>)",
                    cfg.width, cfg.height, global.offwidth, global.offheight
                ),
            ));
        }
        let renderer = MjRenderer::builder()
            .width(cfg.width)
            .height(cfg.height)
            .rgb(true)
            .depth(true)
            .camera(MjvCamera::new_fixed(id))
            .build(model)
            .map_err(|e| BackendError::Model {
                file: config_file.to_string(),
                message: format!("offscreen renderer (EGL) for camera `{}`: {e:?}", cfg.name),
            })?;
        let fovy = model.cam_fovy()[id].to_radians();
        let fy = (cfg.height as f64 / 2.0) / (fovy / 2.0).tan();
        Ok(MujocoCamera {
            renderer,
            width: cfg.width,
            height: cfg.height,
            intrinsics: CameraIntrinsics {
                fx: fy,
                fy,
                cx: cfg.width as f64 / 2.0,
                cy: cfg.height as f64 / 2.0,
            },
        })
    }

    /// The camera's pinhole intrinsics.
    pub fn intrinsics(&self) -> CameraIntrinsics {
        self.intrinsics
    }

    /// Renders the current state of `data` into `out` (buffers reused across calls).
    pub fn render(
        &mut self,
        data: &mut MjData<Arc<MjModel>>,
        t: Time,
        out: &mut RgbdFrame,
    ) -> Result<(), BackendError> {
        let err = |e: mujoco_rs::renderer::RendererError| BackendError::Model {
            file: "<renderer>".into(),
            message: format!("render failed: {e:?}"),
        };
        self.renderer.sync_data(data).map_err(err)?;
        self.renderer.render().map_err(err)?;
        let (rgb, depth) = match (self.renderer.rgb_flat(), self.renderer.depth_flat()) {
            (Some(r), Some(d)) => (r, d),
            _ => {
                return Err(BackendError::Model {
                    file: "<renderer>".into(),
                    message: "renderer returned no image".into(),
                })
            }
        };
        out.t = t;
        out.width = self.width;
        out.height = self.height;
        out.intrinsics = self.intrinsics;
        out.rgb.clear();
        out.rgb.extend_from_slice(rgb);
        out.depth.clear();
        out.depth.extend_from_slice(depth);
        Ok(())
    }
}

/// A value usable only on the thread that created it, movable between threads (OpenGL/EGL
/// renderers are bound to their thread). Access from another thread returns `None`; dropping it
/// on another thread leaks it instead of touching it there.
pub struct ThreadBound<T> {
    inner: std::mem::ManuallyDrop<T>,
    owner: std::thread::ThreadId,
}

// Unsafe code (this impl and `Drop` below): a wrapper that makes a thread-bound value movable.
// SAFETY: the inner value is only ever accessed (and dropped) on the thread that created it:
// on any other thread `get_mut` returns `None` and `drop` leaks it, and there is no other way
// to reach it (no `Deref`, not `Sync`). Moving it only copies its bytes, which is what a move
// of a value that is never used there again amounts to. Thread ids are never reused.
#[allow(unsafe_code)]
unsafe impl<T> Send for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    /// Binds `v` to the current thread.
    pub fn new(v: T) -> ThreadBound<T> {
        ThreadBound {
            inner: std::mem::ManuallyDrop::new(v),
            owner: std::thread::current().id(),
        }
    }

    /// The value, on its owner thread only.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        (std::thread::current().id() == self.owner).then_some(&mut *self.inner)
    }
}

#[allow(unsafe_code)]
impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if std::thread::current().id() == self.owner {
            // SAFETY: `inner` is dropped here only, once (this is `drop`, and nothing else
            // takes it out of the `ManuallyDrop`), on its owner thread
            unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) }
        }
    }
}

// Frames rendered from MuJoCo (feature `render`): the control task publishes the simulation
// state (`qpos`) through a latest-value slot; this source copies it into its own `MjData`,
// runs the kinematics and renders the camera. Rendering never touches the control task's data.
pub use frames::*;

mod frames {

    use std::sync::Arc;

    use arrayvec::ArrayVec;
    use mujoco_rs::prelude::*;

    use super::{MujocoCamera, ThreadBound};
    use crate::backend::mujoco_config::CameraConfig;
    use crate::sched::channel::{latest, LatestRx, LatestTx};
    use crate::types::{RgbdFrame, Time};
    use crate::vision::task::FrameSource;

    /// Largest `nq` the state slot carries.
    const MAX_QPOS: usize = 64;

    /// One published simulation state.
    #[derive(Clone, Debug, Default)]
    pub struct SimState {
        /// Simulation time.
        pub t: Time,
        /// `qpos`.
        pub qpos: ArrayVec<f64, MAX_QPOS>,
    }

    /// The control task's end: publishes the state each cycle (allocation-free).
    pub struct StatePublisher(LatestTx<SimState>);

    impl StatePublisher {
        /// Publishes `qpos` at `t` (truncated to [`MAX_QPOS`]).
        pub fn publish(&mut self, t: Time, qpos: &[f64]) {
            self.0.write_with(|s| {
                s.t = t;
                s.qpos.clear();
                let n = qpos.len().min(MAX_QPOS);
                // capacity checked above: cannot fail
                let _ = s.qpos.try_extend_from_slice(&qpos[..n]);
            });
        }
    }

    /// The renderer side.
    pub struct MujocoSource {
        rx: LatestRx<SimState>,
        model: Arc<MjModel>,
        cfg: CameraConfig,
        file: String,
        data: Option<MjData<Arc<MjModel>>>,
        camera: Option<ThreadBound<MujocoCamera>>,
        last: Option<Time>,
    }

    /// A publisher/source pair for `model`'s camera `cfg`.
    pub fn mujoco_source(
        model: Arc<MjModel>,
        cfg: &CameraConfig,
        file: &str,
    ) -> (StatePublisher, MujocoSource) {
        let (tx, rx) = latest(SimState::default());
        (
            StatePublisher(tx),
            MujocoSource {
                rx,
                model,
                cfg: cfg.clone(),
                file: file.to_string(),
                data: None,
                camera: None,
                last: None,
            },
        )
    }

    impl MujocoSource {
        fn open(&mut self) -> Result<(), String> {
            if self.camera.is_none() {
                let cam = MujocoCamera::new(&self.model, &self.cfg, &self.file)
                    .map_err(|e| e.to_string())?;
                self.camera = Some(ThreadBound::new(cam));
                self.data = Some(MjData::new(self.model.clone()));
            }
            Ok(())
        }

        /// Forgets the last rendered time (a new episode restarts the simulation clock).
        pub fn restart(&mut self) {
            self.last = None;
        }
    }

    impl FrameSource for MujocoSource {
        fn start(&mut self) -> Result<(), String> {
            self.open()
        }

        fn grab(&mut self, _t: Time, out: &mut RgbdFrame) -> Result<bool, String> {
            self.open()?;
            let s = self.rx.read();
            // an equal time is the frame already rendered; an earlier one means the world was reset
            if s.qpos.is_empty() || self.last == Some(s.t) {
                return Ok(false);
            }
            let (t, n) = (s.t, s.qpos.len());
            let (Some(data), Some(cam)) = (self.data.as_mut(), self.camera.as_mut()) else {
                return Err("camera not open".into());
            };
            let cam = cam
                .get_mut()
                .ok_or("the renderer belongs to another thread")?;
            let q = data.qpos_mut();
            if q.len() != n {
                return Err(format!("state has {n} qpos, the model {}", q.len()));
            }
            q.copy_from_slice(&s.qpos);
            data.forward();
            cam.render(data, t, out).map_err(|e| e.to_string())?;
            self.last = Some(t);
            Ok(true)
        }
    }
}
