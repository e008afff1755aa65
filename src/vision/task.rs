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

/// Ring capacity between the vision task and the control task.
const VISION_RING: usize = 8;

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
                if crate::repeat::logged(self.source_errors) {
                    tracing::warn!(error = %e, times = self.source_errors, "vision: no frame");
                }
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
