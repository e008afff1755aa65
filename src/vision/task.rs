//! The vision scheduler task: at camera rate, at a priority below the control task's, it takes
//! the newest frame from a [`FrameSource`], runs the [`VisionStage`] and pushes the result into a
//! bounded lock-free ring. The control task drains the ring with [`VisionSink::apply`] (applies
//! accepted rotations to the orientation filter, keeps the newest descriptor); a full ring drops
//! and counts, so neither side ever waits for the other.
//!
//! ```text
//! vision task (camera rate, low priority)        control task (RT)
//!   source.grab -> stage.process -> ring.push ──> sink.apply(fusion): correct_yaw, descriptor
//! ```

use crate::fusion::Fusion;
use crate::sched::channel::{ring, RingRx, RingTx};
use crate::sched::{Job, Task, TaskError};
use crate::types::{RgbdFrame, Time};

use super::{Descriptor, Frame, VisionConfig, VisionOutput, VisionStage};

/// Where frames come from (a camera driver, a renderer, a bag). `grab` must not block for long:
/// it returns `Ok(false)` when there is no new frame.
pub trait FrameSource: Send {
    /// Called once on the vision task's thread before the first grab (open devices here).
    fn start(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Writes the newest frame into `out`; `Ok(false)` when there is none since the last call.
    fn grab(&mut self, t: Time, out: &mut RgbdFrame) -> Result<bool, String>;
}

/// A borrowed source is a source (a runner can keep its renderer across episodes).
impl<S: FrameSource + ?Sized> FrameSource for &mut S {
    fn start(&mut self) -> Result<(), String> {
        (**self).start()
    }
    fn grab(&mut self, t: Time, out: &mut RgbdFrame) -> Result<bool, String> {
        (**self).grab(t, out)
    }
}

/// A boxed source is a source (backends hand theirs out boxed).
impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn start(&mut self) -> Result<(), String> {
        (**self).start()
    }
    fn grab(&mut self, t: Time, out: &mut RgbdFrame) -> Result<bool, String> {
        (**self).grab(t, out)
    }
}

/// RealSense frames (feature `realsense`): the backend's camera end, newest frame first (older
/// ready frames are skipped: the vision task works at its own rate and never queues up).
#[cfg(feature = "realsense")]
impl FrameSource for crate::backend::realsense::RealsenseCamera {
    fn grab(&mut self, _t: Time, out: &mut RgbdFrame) -> Result<bool, String> {
        let mut got = false;
        while self.try_recv(out) {
            got = true;
        }
        Ok(got)
    }
}

/// Ring capacity between the vision task and the control task.
pub const VISION_RING: usize = 8;

/// The vision task (see the module docs).
pub struct VisionTask<S: FrameSource> {
    stage: VisionStage,
    source: S,
    frame: RgbdFrame,
    tx: RingTx<VisionOutput>,
    /// Frames the source failed to deliver.
    pub source_errors: u64,
    /// Frames the stage refused (invalid or stale).
    pub refused: u64,
}

/// The control task's end: accepted rotations go to the fusion stage, the newest descriptor is
/// kept for the encoder.
pub struct VisionSink {
    rx: RingRx<VisionOutput>,
    latest: Option<VisionOutput>,
    /// Rotations applied to the orientation filter.
    pub applied: u64,
    /// Rotations the filter refused (outside its history, magnetometer in use ...).
    pub refused: u64,
}

/// A task and its sink, connected by a ring of [`VISION_RING`] results.
pub fn vision_task<S: FrameSource>(
    cfg: &VisionConfig,
    source: S,
) -> Result<(VisionTask<S>, VisionSink), super::VisionError> {
    let (tx, rx) = ring(VISION_RING);
    Ok((
        VisionTask {
            stage: VisionStage::new(cfg)?,
            source,
            frame: RgbdFrame::default(),
            tx,
            source_errors: 0,
            refused: 0,
        },
        VisionSink {
            rx,
            latest: None,
            applied: 0,
            refused: 0,
        },
    ))
}

impl<S: FrameSource> VisionTask<S> {
    /// The stage (counters, configuration).
    pub fn stage(&self) -> &VisionStage {
        &self.stage
    }

    /// Results dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.tx.dropped()
    }
}

impl<S: FrameSource> Task for VisionTask<S> {
    fn start(&mut self) -> Result<(), TaskError> {
        self.source.start().map_err(TaskError)
    }

    fn run_once(&mut self, job: &Job) {
        match self.source.grab(job.release, &mut self.frame) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                self.source_errors += 1;
                tracing::warn!(error = %e, "vision: no frame");
                return;
            }
        }
        match self.stage.process(&Frame::from_rgbd(&self.frame)) {
            Ok(out) => {
                let out = out.clone();
                self.tx.push(out);
            }
            Err(e) => {
                self.refused += 1;
                tracing::debug!(error = %e, "vision: frame refused");
            }
        }
    }
}

impl VisionSink {
    /// Drains the ring: applies accepted rotations to `fusion` (yaw aid) and keeps the newest
    /// result. Allocation-free, never blocks. Returns the number of results taken.
    pub fn apply(&mut self, fusion: &mut Fusion) -> usize {
        let mut n = 0;
        while let Some(out) = self.rx.pop() {
            n += 1;
            if let Some(r) = &out.rotation {
                match fusion.correct_yaw(r.t0, r.t1, r.imu, r.confidence) {
                    Ok(_) => self.applied += 1,
                    Err(e) => {
                        self.refused += 1;
                        tracing::debug!(error = %e, "vision: yaw aid refused");
                    }
                }
            }
            self.latest = Some(out);
        }
        n
    }

    /// The newest result, if any arrived.
    pub fn latest(&self) -> Option<&VisionOutput> {
        self.latest.as_ref()
    }

    /// The newest descriptor (zeros before the first frame).
    pub fn descriptor(&self) -> Descriptor {
        self.latest
            .as_ref()
            .map(|o| o.descriptor)
            .unwrap_or_default()
    }

    /// Forgets the newest result (e.g. at the start of an episode).
    pub fn clear(&mut self) {
        while self.rx.pop().is_some() {}
        self.latest = None;
    }
}

/// A value usable only on the thread that created it, movable between threads (OpenGL/EGL
/// renderers are bound to their thread). Access from another thread returns `None`; dropping it
/// on another thread leaks it instead of touching it there.
pub struct ThreadBound<T> {
    inner: std::mem::ManuallyDrop<T>,
    owner: std::thread::ThreadId,
}

// SAFETY: the inner value is only ever accessed (and dropped) on the thread that created it;
// on any other thread `get_mut` returns `None` and `drop` leaks it.
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

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if std::thread::current().id() == self.owner {
            // SAFETY: dropped once, on its owner thread
            unsafe { std::mem::ManuallyDrop::drop(&mut self.inner) }
        }
    }
}

/// Frames rendered from MuJoCo (feature `render`): the control task publishes the simulation
/// state (`qpos`) through a latest-value slot; this source copies it into its own `MjData`,
/// runs the kinematics and renders the camera. Rendering never touches the control task's data.
#[cfg(feature = "render")]
pub mod mujoco_source {
    use std::sync::Arc;

    use arrayvec::ArrayVec;
    use mujoco_rs::prelude::*;

    use super::{FrameSource, ThreadBound};
    use crate::backend::camera::MujocoCamera;
    use crate::backend::mujoco_config::CameraConfig;
    use crate::sched::channel::{latest, LatestRx, LatestTx};
    use crate::types::{RgbdFrame, Time};

    /// Largest `nq` the state slot carries.
    pub const MAX_QPOS: usize = 64;

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
