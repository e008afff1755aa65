//! The backend object (RT side) and its device thread (librealsense side).

// Unsafe code: librealsense's frame callback (a C function receiving our `Sink` as a raw
// pointer) and opening/starting its sensors.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::sys;

use super::clock::{monotonic_now, ClockMapper, Monotonic};
use super::config::{HardwareProfile, PixelFormat, RealsenseConfig};
use super::ffi::{Context, Device, Frame, RsError, Sensor};
use super::imu_sync::ImuCombiner;
use crate::backend::{Backend, BackendError, BackendInfo, Lifecycle};
use crate::types::{
    CameraIntrinsics, ClockKind, Command, CommandMode, Imu, RgbdFrame, SensorFrame, Time,
};

const NAME: &str = "realsense";

/// Where the link to the camera (or recording) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Opening the device and starting its sensors.
    Starting = 0,
    /// Frames are arriving.
    Streaming = 1,
    /// The device went away or frames stopped; reconnection attempts are running.
    Lost = 2,
    /// The recording was played to its end (playback only; final).
    Ended = 3,
    /// Stopped by `deactivate`.
    Stopped = 4,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            0 => LinkState::Starting,
            1 => LinkState::Streaming,
            2 => LinkState::Lost,
            3 => LinkState::Ended,
            _ => LinkState::Stopped,
        }
    }
}

/// Counters of the device thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Frames (or framesets) received from librealsense.
    pub frames: u64,
    /// Combined IMU samples produced.
    pub imu_samples: u64,
    /// IMU samples dropped (queue full, or skipped by `read` because it lagged too far).
    pub imu_dropped: u64,
    /// RGB-D frames produced for the camera task.
    pub rgbd_frames: u64,
    /// RGB-D frames dropped (no free buffer: the camera task is behind).
    pub rgbd_dropped: u64,
    /// Successful restarts after a loss.
    pub reconnects: u64,
}

#[derive(Default)]
struct Shared {
    state: AtomicU8,
    last_arrival: AtomicI64,
    stop: AtomicBool,
    camera_attached: AtomicBool,
    framesets: AtomicU64,
    imu_samples: AtomicU64,
    imu_dropped: AtomicU64,
    rgbd_frames: AtomicU64,
    rgbd_dropped: AtomicU64,
    reconnects: AtomicU64,
    /// Losses and ends reported so far (each is returned by `read` once, with its message).
    losses: AtomicU64,
    /// Last error text, for non-RT readers (`last_error`).
    last_error: Mutex<String>,
    /// The clock of a playback without motion streams, ns (-1: no frame yet): the stamp of the
    /// newest frame the camera task has taken (the first frame's before that), or of the newest
    /// frame received while no camera task holds the camera.
    frame_t: AtomicI64,
    /// RGB-D frames the camera task has taken (the end of a camera-only playback waits for it
    /// to take every frame produced).
    rgbd_taken: AtomicU64,
}

impl Shared {
    fn state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::Acquire))
    }
    fn set_state(&self, s: LinkState) {
        self.state.store(s as u8, Ordering::Release);
    }
}

/// The device thread's ends of the queues (returned to the backend when it stops).
struct WorkerEnds {
    imu_tx: rtrb::Producer<(Time, Imu)>,
    err_tx: rtrb::Producer<String>,
    rgbd_tx: rtrb::Producer<RgbdFrame>,
    rgbd_free: rtrb::Consumer<RgbdFrame>,
}

/// The camera-rate task's end: RGB-D frames, each stamped on the backend clock.
pub struct RealsenseCamera {
    filled: rtrb::Consumer<RgbdFrame>,
    free: rtrb::Producer<RgbdFrame>,
    shared: Arc<Shared>,
}

impl RealsenseCamera {
    /// Takes the next frame if one is ready, swapping buffers with `out` (no allocation once the
    /// pool is warm). Returns false when none is ready.
    pub fn try_recv(&mut self, out: &mut RgbdFrame) -> bool {
        match self.filled.pop() {
            Ok(mut f) => {
                self.shared.rgbd_taken.fetch_add(1, Ordering::AcqRel);
                self.shared.frame_t.fetch_max(f.t.0, Ordering::AcqRel);
                std::mem::swap(out, &mut f);
                // hand the old buffer back to the device thread (the pool never grows)
                let _ = self.free.push(f);
                true
            }
            Err(_) => false,
        }
    }

    /// Like [`try_recv`](Self::try_recv), waiting up to `timeout` (for the camera task, not RT).
    pub fn recv_timeout(&mut self, out: &mut RgbdFrame, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.try_recv(out) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// Where the link is (a camera task stops waiting when it is `Ended`).
    pub fn link_state(&self) -> LinkState {
        self.shared.state()
    }
}

impl Drop for RealsenseCamera {
    fn drop(&mut self) {
        self.shared.camera_attached.store(false, Ordering::Release);
    }
}

/// The RealSense backend. Create with [`RealsenseBackend::new`], then `configure`, `activate`.
pub struct RealsenseBackend {
    cfg: RealsenseConfig,
    profile: HardwareProfile,
    config_file: String,
    profile_file: PathBuf,
    playback: Option<PathBuf>,
    info: BackendInfo,
    state: Lifecycle,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<WorkerEnds>>,
    ends: Option<WorkerEnds>,
    imu_rx: Option<rtrb::Consumer<(Time, Imu)>>,
    err_rx: Option<rtrb::Consumer<String>>,
    camera: Option<RealsenseCamera>,
    last_t: Time,
    /// Losses already returned by `read`.
    seen_losses: u64,
}

impl RealsenseBackend {
    /// A backend for a `realsense:` section; loads the hardware profile it names.
    pub fn with_section(
        cfg: &super::config::RealsenseConfig,
        ctx: &crate::backend::Context,
    ) -> Result<RealsenseBackend, BackendError> {
        let cfg = cfg.clone();
        let profile_file = ctx.resolve(&cfg.profile);
        let profile = HardwareProfile::load(&profile_file).map_err(|e| BackendError::Model {
            file: profile_file.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(RealsenseBackend {
            playback: cfg.playback.as_deref().map(|p| ctx.resolve(p)),
            cfg,
            profile,
            config_file: ctx.file.clone(),
            profile_file,
            info: BackendInfo {
                period_ns: ctx.period_ns,
                ..Default::default()
            },
            state: Lifecycle::Unconfigured,
            shared: Arc::new(Shared::default()),
            worker: None,
            ends: None,
            imu_rx: None,
            err_rx: None,
            camera: None,
            last_t: Time::ZERO,
            seen_losses: 0,
        })
    }

    /// The hardware profile in use.
    pub fn profile(&self) -> &HardwareProfile {
        &self.profile
    }

    /// True when playing a recording instead of a live device.
    pub fn is_playback(&self) -> bool {
        self.playback.is_some()
    }

    /// The camera-rate task's end of the RGB-D stream (once, after `configure`). While nobody
    /// holds it, depth and color are not converted at all; while it is held during playback,
    /// the recording waits for the camera task (no frame is dropped).
    pub fn take_camera(&mut self) -> Option<RealsenseCamera> {
        let cam = self.camera.take()?;
        self.shared.camera_attached.store(true, Ordering::Release);
        Some(cam)
    }

    /// Where the link is.
    pub fn link_state(&self) -> LinkState {
        self.shared.state()
    }

    /// The last error the device thread reported (empty if none). Takes a lock: not for RT.
    pub fn last_error(&self) -> String {
        self.shared
            .last_error
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Counters of the device thread.
    pub fn stats(&self) -> StreamStats {
        let s = &self.shared;
        StreamStats {
            frames: s.framesets.load(Ordering::Relaxed),
            imu_samples: s.imu_samples.load(Ordering::Relaxed),
            imu_dropped: s.imu_dropped.load(Ordering::Relaxed),
            rgbd_frames: s.rgbd_frames.load(Ordering::Relaxed),
            rgbd_dropped: s.rgbd_dropped.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
        }
    }

    fn rs_err(&self, e: RsError) -> BackendError {
        BackendError::Model {
            file: self
                .playback
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<librealsense>".into()),
            message: e.to_string(),
        }
    }

    /// The error `read` returns once the link is down: the device thread's message for each
    /// loss (moved out of a ring: no allocation here), an empty one while it stays down.
    fn lost_error(&mut self) -> BackendError {
        let message = self
            .err_rx
            .as_mut()
            .and_then(|rx| rx.pop().ok())
            .unwrap_or_default();
        BackendError::Disconnected {
            backend: NAME,
            message,
        }
    }

    /// A playback without motion streams: the clock is the frames' timestamps.
    fn frame_clocked(&self) -> bool {
        self.playback.is_some() && self.profile.imu.is_none()
    }

    fn stop_worker(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(h) = self.worker.take() {
            match h.join() {
                Ok(ends) => self.ends = Some(ends),
                Err(_) => tracing::error!("realsense device thread panicked"),
            }
        }
    }
}

impl Backend for RealsenseBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn configure(&mut self) -> Result<(), BackendError> {
        super::sys::load().map_err(|e| BackendError::Library {
            backend: NAME,
            message: e.to_string(),
        })?;
        if let Some(p) = &self.playback {
            if !p.is_file() {
                return Err(BackendError::Model {
                    file: p.display().to_string(),
                    message: format!(
                        "recording not found (config {} key `sattva.ros__parameters.realsense.playback`)",
                        self.config_file
                    ),
                });
            }
        } else {
            let ctx = Context::new().map_err(|e| self.rs_err(e))?;
            let devices = ctx.devices().map_err(|e| self.rs_err(e))?;
            if devices.is_empty() {
                return Err(BackendError::Disconnected {
                    backend: NAME,
                    message: "no RealSense device connected (check the USB 3 cable, `lsusb | grep 8086`, and the udev rules in hardware/99-realsense-libusb.rules)".into(),
                });
            }
            if let Some(serial) = &self.cfg.serial {
                if !devices.iter().any(|(_, s)| s == serial) {
                    return Err(BackendError::Mapping {
                        file: self.config_file.clone(),
                        key: "sattva.ros__parameters.realsense.serial".into(),
                        message: format!(
                            "no connected device has serial `{serial}`; connected: {devices:?}"
                        ),
                    });
                }
            }
            tracing::info!(?devices, "realsense: devices found");
        }
        let n = self.cfg.rgbd_queue as usize;
        let (imu_tx, imu_rx) = rtrb::RingBuffer::new(self.cfg.imu_queue as usize);
        let (err_tx, err_rx) = rtrb::RingBuffer::new(8);
        // The pool: n buffers cycle device thread -> filled ring -> camera task -> free ring.
        // The camera task swaps in its own buffer on the first receive, hence n + 1 in `free`.
        let (rgbd_tx, filled) = rtrb::RingBuffer::new(n);
        let (mut free, rgbd_free) = rtrb::RingBuffer::new(n + 1);
        let (w, h) = self
            .profile
            .depth
            .map(|d| (d.width as usize, d.height as usize))
            .unwrap_or((0, 0));
        for _ in 0..n {
            let f = RgbdFrame {
                rgb: Vec::with_capacity(w * h * 3),
                depth: Vec::with_capacity(w * h),
                ..Default::default()
            };
            let _ = free.push(f);
        }
        self.imu_rx = Some(imu_rx);
        self.err_rx = Some(err_rx);
        self.ends = Some(WorkerEnds {
            imu_tx,
            err_tx,
            rgbd_tx,
            rgbd_free,
        });
        self.camera = Some(RealsenseCamera {
            filled,
            free,
            shared: self.shared.clone(),
        });
        self.info.has_imu = self.profile.imu.is_some();
        self.info.has_magnetometer = self.profile.imu.is_some_and(|i| i.magnetometer);
        if self.profile.imu.is_none() {
            // stated once here, never per cycle: `read` then returns frames without an IMU
            tracing::warn!(
                model = %self.profile.model,
                profile = %self.profile_file.display(),
                "realsense: no motion streams (camera without IMU, or a recording without them): fusion runs without orientation; {}",
                if self.playback.is_some() {
                    "the clock advances from the frame timestamps"
                } else {
                    "the clock is CLOCK_MONOTONIC"
                }
            );
        }
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn activate(&mut self) -> Result<(), BackendError> {
        let ends = self.ends.take().ok_or(BackendError::Lifecycle {
            backend: NAME,
            op: "activate",
            state: self.state,
        })?;
        if let Some(rx) = self.imu_rx.as_mut() {
            while rx.pop().is_ok() {}
        }
        if let Some(rx) = self.err_rx.as_mut() {
            while rx.pop().is_ok() {}
        }
        let shared = self.shared.clone();
        shared.stop.store(false, Ordering::Release);
        shared.set_state(LinkState::Starting);
        shared
            .last_arrival
            .store(monotonic_now(), Ordering::Release);
        shared.frame_t.store(-1, Ordering::Release);
        let job = Job {
            cfg: self.cfg.clone(),
            profile: self.profile.clone(),
            playback: self.playback.as_ref().map(|p| p.display().to_string()),
            shared: shared.clone(),
            expected: self
                .playback
                .as_ref()
                .and_then(|p| match super::bag::message_counts(p) {
                    Ok(c) => Some(STREAM_TOPICS.map(|t| super::bag::stream_frames(&c, t))),
                    Err(e) => {
                        tracing::warn!(
                            "realsense: {e}; the end of playback is detected by silence"
                        );
                        None
                    }
                }),
        };
        let handle = std::thread::Builder::new()
            .name("realsense".into())
            .spawn(move || job.run(ends))
            .map_err(|e| BackendError::Disconnected {
                backend: NAME,
                message: format!("cannot start the device thread: {e}"),
            })?;
        self.worker = Some(handle);
        // Wait for the first start: errors such as an unsupported profile surface here.
        let deadline = monotonic_now() + self.cfg.start_timeout_ms as i64 * 1_000_000;
        loop {
            match shared.state() {
                LinkState::Streaming => break,
                LinkState::Starting if monotonic_now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                s => {
                    self.stop_worker();
                    let msg = self.last_error();
                    let msg = if s == LinkState::Starting {
                        format!(
                            "the streams did not start within {} ms",
                            self.cfg.start_timeout_ms
                        )
                    } else {
                        msg
                    };
                    return Err(BackendError::Model {
                        file: self
                            .playback
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| self.profile_file.display().to_string()),
                        message: format!("cannot start the RealSense streams: {msg}"),
                    });
                }
            }
        }
        if self.frame_clocked() {
            // the run's start time is the first frame's stamp: wait for it (or for the end)
            while shared.frame_t.load(Ordering::Acquire) < 0
                && shared.state() == LinkState::Streaming
                && monotonic_now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        self.last_t = Time(self.shared.frame_t.load(Ordering::Acquire).max(0));
        self.seen_losses = self.shared.losses.load(Ordering::Acquire);
        self.state = Lifecycle::Active;
        Ok(())
    }

    fn deactivate(&mut self) -> Result<(), BackendError> {
        self.stop_worker();
        self.shared.set_state(LinkState::Stopped);
        self.state = Lifecycle::Inactive;
        Ok(())
    }

    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn clock(&self) -> ClockKind {
        if self.playback.is_some() {
            ClockKind::Replay
        } else {
            ClockKind::Monotonic
        }
    }

    fn now(&self) -> Time {
        if self.frame_clocked() {
            // no motion streams: the newest frame's stamp (never behind the last one read)
            Time(
                self.shared
                    .frame_t
                    .load(Ordering::Acquire)
                    .max(self.last_t.0),
            )
        } else if self.playback.is_some() {
            // replay time: the next sample's stamp, else the last one delivered
            self.imu_rx
                .as_ref()
                .and_then(|rx| rx.peek().ok().map(|(t, _)| *t))
                .unwrap_or(self.last_t)
        } else {
            Time(monotonic_now())
        }
    }

    fn read(&mut self, t: Time, frame: &mut SensorFrame) -> Result<(), BackendError> {
        frame.clear();
        frame.t = t;
        let backlog = self.cfg.imu_max_backlog as usize;
        let mut sample = None;
        if let Some(rx) = self.imu_rx.as_mut() {
            let pending = rx.slots();
            // live only: a recording is delivered losslessly at the consumer's pace
            if pending > backlog && self.playback.is_none() {
                // the control task fell behind: skip to the newest `backlog` samples
                let skip = pending - backlog;
                if let Ok(chunk) = rx.read_chunk(skip) {
                    chunk.commit_all();
                }
                self.shared
                    .imu_dropped
                    .fetch_add(skip as u64, Ordering::Relaxed);
            }
            sample = rx.pop().ok();
        }
        if let Some((ts, imu)) = sample {
            frame.t = ts;
            frame.imu = Some(imu);
            self.last_t = ts;
            return Ok(());
        }
        if self.frame_clocked() {
            // no IMU to read: the cycle's time is the frame clock (`now`)
            self.last_t = Time(t.0.max(self.last_t.0));
            frame.t = self.last_t;
        }
        if self.frame_clocked() && self.shared.state() == LinkState::Ended {
            // the end of a camera-only recording is no read error: the camera task takes the
            // frames still queued, then `finished` ends the run
            self.seen_losses = self.shared.losses.load(Ordering::Acquire);
            return Ok(());
        }
        // Nothing queued. A loss since the last call is reported once, even if the device
        // thread has already reconnected (the frames in between are missing).
        if self.shared.losses.load(Ordering::Acquire) > self.seen_losses {
            self.seen_losses += 1;
            return Err(self.lost_error());
        }
        match self.shared.state() {
            LinkState::Streaming | LinkState::Starting => {
                // RT-side watchdog, in case the device thread itself is stuck inside librealsense
                let age = monotonic_now() - self.shared.last_arrival.load(Ordering::Acquire);
                if age > 2 * self.cfg.watchdog_timeout_ms as i64 * 1_000_000 {
                    return Err(self.lost_error());
                }
                Ok(())
            }
            LinkState::Lost | LinkState::Ended | LinkState::Stopped => Err(self.lost_error()),
        }
    }

    fn write(&mut self, _t: Time, cmd: &Command) -> Result<(), BackendError> {
        match cmd.mode {
            // a camera has no joints: hold, and a command for no joints, leave nothing to do
            CommandMode::Hold => Ok(()),
            _ if cmd.values.is_empty() => Ok(()),
            _ => Err(BackendError::InvalidCommand {
                backend: NAME,
                reason:
                    "the RealSense backend is a camera: it has no joints, only Hold is accepted",
            }),
        }
    }

    fn reset(&mut self, _seed: u64) -> Result<(), BackendError> {
        // Playback restarts the recording from its start; a live camera has nothing to reset.
        if self.playback.is_some() && self.state == Lifecycle::Active {
            self.deactivate()?;
            self.activate()?;
        }
        Ok(())
    }

    fn take_frame_source(&mut self) -> Option<Box<dyn crate::vision::task::FrameSource>> {
        self.take_camera()
            .map(|c| Box::new(c) as Box<dyn crate::vision::task::FrameSource>)
    }

    /// A recording played to its end, and every sample of it read.
    fn finished(&self) -> bool {
        let s = &self.shared;
        s.state() == LinkState::Ended
            && self.imu_rx.as_ref().is_none_or(|rx| rx.is_empty())
            // camera-only: the camera task has taken every frame (they are the recording)
            && (!self.frame_clocked()
                || !s.camera_attached.load(Ordering::Acquire)
                || s.rgbd_taken.load(Ordering::Acquire) >= s.rgbd_frames.load(Ordering::Acquire))
    }
}

impl Drop for RealsenseBackend {
    fn drop(&mut self) {
        self.stop_worker();
    }
}

// ---------------------------------------------------------------------------------------------
// Device thread
//
// Sensor-level streaming (as realsense-ros does): each sensor of the device (or of the playback
// device) is opened with the profile's streams and started with `on_frame`, which librealsense
// calls on its own threads with every frame as it arrives. No `rs2_pipeline`: its syncer merges
// motion frames into video framesets and loses most of them (measured: 25 of 116 gyro samples of
// a recording), and in non-real-time playback it stalls. Depth and color are paired here by
// timestamp. The device thread itself only supervises: stop requests, the watchdog, the end of a
// recording, and reconnection with backoff.

struct Job {
    cfg: RealsenseConfig,
    profile: HardwareProfile,
    playback: Option<String>,
    shared: Arc<Shared>,
    /// Frames per stream in the recording (from its index), for the enabled streams.
    expected: Option<[u64; 4]>,
}

/// Started sensors of one device (fields drop in order: sensors, device, context).
struct Stream {
    sensors: Vec<Sensor>,
    dev: Device,
    _ctx: Context,
}

impl Stream {
    fn stop(&mut self) {
        for s in self.sensors.drain(..) {
            if let Err(e) = s.stop_close() {
                tracing::warn!("realsense: sensor stop: {e}");
            }
        }
    }
}

enum End {
    Stop,
    Lost(String),
    Ended(String),
}

/// The IMU path: motion frames -> combined samples -> RT ring.
struct ImuPath {
    tx: rtrb::Producer<(Time, Imu)>,
    clock: ClockMapper,
    mono: Monotonic,
    combiner: ImuCombiner,
}

/// The RGB-D path: video framesets -> pooled RgbdFrames -> camera ring.
struct RgbdPath {
    tx: rtrb::Producer<RgbdFrame>,
    free: rtrb::Consumer<RgbdFrame>,
    clock: ClockMapper,
    mono: Monotonic,
    /// A depth frame waiting for its color partner, with its device timestamp (ms).
    pending: Option<(Frame, f64)>,
    /// The newest color frame, with its device timestamp (ms).
    color: Option<(Frame, f64)>,
}

/// What librealsense's callback threads see (boxed; outlives the started sensors).
struct Sink {
    shared: Arc<Shared>,
    playback: bool,
    default_units: f32,
    /// Whether a color stream is enabled (depth then waits for its partner).
    has_color: bool,
    /// Depth and color stamps closer than this pair up, ms (half a color period).
    pair_tol_ms: f64,
    imu: Mutex<ImuPath>,
    rgbd: Mutex<RgbdPath>,
    /// Callbacks currently running (the end of a recording waits for 0).
    busy: AtomicU64,
    /// Frames the handler refused (logged at the 1st, 10th, 100th ...).
    bad_frames: AtomicU64,
    /// Set before the sensors are stopped: callbacks waiting for ring space give up.
    halt: AtomicBool,
    /// Frames received per stream: depth, color, gyro, accel (playback end detection).
    received: [AtomicU64; 4],
}

unsafe extern "C" fn on_frame(f: *mut sys::rs2_frame, user: *mut std::ffi::c_void) {
    let Some(f) = std::ptr::NonNull::new(f) else {
        return;
    };
    // The callback owns the frame: released when `frame` drops.
    let frame = Frame(f);
    // SAFETY: `user` is the `Sink` that `Job::run` boxed and passed to `Sensor::start` (the only
    // place this callback is registered); `run` stops every sensor (`rs2_stop` waits for running
    // callbacks) before it moves the sink out of its box, so the pointer is valid and the `Sink`
    // unmoved for every call; shared access only (`Sink` synchronises with mutexes and atomics).
    let sink = unsafe { &*(user as *const Sink) };
    sink.busy.fetch_add(1, Ordering::AcqRel);
    // never unwind into C
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.handle(&frame)));
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let n = sink.bad_frames.fetch_add(1, Ordering::Relaxed) + 1;
            if crate::repeat::logged(n) {
                tracing::warn!(times = n, "realsense: bad frame skipped: {e}");
            }
        }
        Err(_) => tracing::error!("realsense: frame handler panicked; frame skipped"),
    }
    sink.busy.fetch_sub(1, Ordering::AcqRel);
}

/// Stream order of `Sink::received` and `Job::expected`.
const STREAMS: [sys::rs2_stream; 4] = [
    sys::rs2_stream_RS2_STREAM_DEPTH,
    sys::rs2_stream_RS2_STREAM_COLOR,
    sys::rs2_stream_RS2_STREAM_GYRO,
    sys::rs2_stream_RS2_STREAM_ACCEL,
];
/// Names of those streams in librealsense's bag topics.
const STREAM_TOPICS: [&str; 4] = ["Depth", "Color", "Gyro", "Accel"];
/// A stopped playback whose frames did not all arrive (or whose bag index is unreadable) counts
/// as ended after this long without frames, ms.
const END_QUIET_MS: u64 = 500;

fn rs_format(f: PixelFormat) -> sys::rs2_format {
    match f {
        PixelFormat::Z16 => sys::rs2_format_RS2_FORMAT_Z16,
        PixelFormat::Rgb8 => sys::rs2_format_RS2_FORMAT_RGB8,
        PixelFormat::Bgr8 => sys::rs2_format_RS2_FORMAT_BGR8,
        PixelFormat::Rgba8 => sys::rs2_format_RS2_FORMAT_RGBA8,
    }
}

/// librealsense optical axes (x right, y down, z forward) -> REP-103 body (x fwd, y left, z up).
fn to_body(v: [f32; 3]) -> [f64; 3] {
    [v[2] as f64, -(v[0] as f64), -(v[1] as f64)]
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sink {
    /// The backend is stopping or these sensors are about to be stopped.
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire) || self.halt.load(Ordering::Acquire)
    }

    /// Frame time on the backend clock: recorded time in playback, mapped device time live.
    fn stamp(&self, clock: &mut ClockMapper, f: &Frame, arrival: i64) -> Result<i64, RsError> {
        let ms = f.timestamp_ms()?;
        if !ms.is_finite() {
            return Err(RsError::local(
                "rs2_get_frame_timestamp",
                "non-finite timestamp",
            ));
        }
        let ns = (ms * 1e6).round() as i64;
        Ok(if self.playback {
            ns
        } else {
            clock.map(ns, arrival)
        })
    }

    fn handle(&self, f: &Frame) -> Result<(), RsError> {
        let arrival = monotonic_now();
        self.shared.last_arrival.store(arrival, Ordering::Release);
        self.shared.framesets.fetch_add(1, Ordering::Relaxed);
        let n = f.embedded_count();
        if n == 0 {
            return self.one(f, arrival);
        }
        for i in 0..n {
            self.one(&f.extract(i)?, arrival)?;
        }
        Ok(())
    }

    fn one(&self, f: &Frame, arrival: i64) -> Result<(), RsError> {
        let stream = f.kind()?.stream;
        if let Some(k) = STREAMS.iter().position(|&s| s == stream) {
            self.received[k].fetch_add(1, Ordering::AcqRel);
        }
        if self.playback
            && (stream == sys::rs2_stream_RS2_STREAM_DEPTH
                || stream == sys::rs2_stream_RS2_STREAM_COLOR)
        {
            // the frame clock (used without motion streams): recorded time, never backwards;
            // the camera task moves it as it takes frames, this sets the start
            let ms = f.timestamp_ms()?;
            if ms.is_finite() {
                let ns = (ms * 1e6).round() as i64;
                let clock = &self.shared.frame_t;
                if self.shared.camera_attached.load(Ordering::Acquire) {
                    let _ = clock.compare_exchange(-1, ns, Ordering::AcqRel, Ordering::Acquire);
                } else {
                    clock.fetch_max(ns, Ordering::AcqRel);
                }
            }
        }
        match stream {
            s if s == sys::rs2_stream_RS2_STREAM_DEPTH => self.depth(f, arrival),
            s if s == sys::rs2_stream_RS2_STREAM_COLOR => self.color(f, arrival),
            s => self.motion(s, f, arrival),
        }
    }

    /// A depth frame: emitted with its color partner (same stamp within `pair_tol_ms`), or alone
    /// once the next depth frame shows that no partner is coming.
    fn depth(&self, f: &Frame, arrival: i64) -> Result<(), RsError> {
        if !self.shared.camera_attached.load(Ordering::Acquire) {
            return Ok(());
        }
        let ts = f.timestamp_ms()?;
        let mut guard = lock(&self.rgbd);
        let path = &mut *guard;
        if let Some((d, _)) = path.pending.take() {
            self.emit(path, &d, arrival)?;
        }
        let partner = path
            .color
            .as_ref()
            .is_some_and(|(_, tc)| (tc - ts).abs() <= self.pair_tol_ms);
        if !self.has_color || partner {
            self.emit(path, f, arrival)
        } else {
            path.pending = Some((f.add_ref()?, ts));
            Ok(())
        }
    }

    fn color(&self, f: &Frame, arrival: i64) -> Result<(), RsError> {
        if !self.shared.camera_attached.load(Ordering::Acquire) {
            return Ok(());
        }
        let ts = f.timestamp_ms()?;
        let mut guard = lock(&self.rgbd);
        let path = &mut *guard;
        path.color = Some((f.add_ref()?, ts));
        if let Some((_, td)) = &path.pending {
            if (ts - td).abs() <= self.pair_tol_ms {
                if let Some((d, _)) = path.pending.take() {
                    self.emit(path, &d, arrival)?;
                }
            }
        }
        Ok(())
    }

    /// Emits the depth frame still waiting for a partner (end of a recording).
    fn flush(&self) {
        let mut guard = lock(&self.rgbd);
        let path = &mut *guard;
        if let Some((d, _)) = path.pending.take() {
            if let Err(e) = self.emit(path, &d, monotonic_now()) {
                tracing::warn!("realsense: last depth frame skipped: {e}");
            }
        }
        path.color = None;
    }

    fn motion(&self, stream: sys::rs2_stream, f: &Frame, arrival: i64) -> Result<(), RsError> {
        let gyro = stream == sys::rs2_stream_RS2_STREAM_GYRO;
        if !gyro && stream != sys::rs2_stream_RS2_STREAM_ACCEL {
            return Ok(());
        }
        let d = f.data()?;
        if d.len() < 12 {
            return Err(RsError::local(
                "motion frame",
                format!("{} bytes, expected 12", d.len()),
            ));
        }
        let mut v = [0f32; 3];
        for (k, x) in v.iter_mut().enumerate() {
            *x = f32::from_le_bytes([d[4 * k], d[4 * k + 1], d[4 * k + 2], d[4 * k + 3]]);
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(RsError::local("motion frame", "non-finite value"));
        }
        let v = to_body(v);
        let mut guard = lock(&self.imu);
        let path = &mut *guard;
        let t = self.stamp(&mut path.clock, f, arrival)?;
        let ImuPath {
            tx, mono, combiner, ..
        } = path;
        let mut emit = |ts: i64, imu: Imu| self.push_imu(tx, Time(mono.next(ts)), imu);
        if gyro {
            combiner.push_gyro(t, v, &mut emit);
        } else {
            combiner.push_accel(t, v, &mut emit);
        }
        Ok(())
    }

    /// Queues one IMU sample; playback waits for room (lossless), live drops and counts.
    fn push_imu(&self, tx: &mut rtrb::Producer<(Time, Imu)>, t: Time, imu: Imu) {
        let mut item = (t, imu);
        loop {
            match tx.push(item) {
                Ok(()) => {
                    self.shared.imu_samples.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(rtrb::PushError::Full(back)) => {
                    if !self.playback || self.stopping() {
                        self.shared.imu_dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    item = back;
                    // the consumer is behind, not the device: keep the watchdog quiet
                    self.shared
                        .last_arrival
                        .store(monotonic_now(), Ordering::Release);
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }

    /// Converts `depth` (+ the newest color if it is its partner) into a pooled RgbdFrame.
    fn emit(&self, path: &mut RgbdPath, depth: &Frame, arrival: i64) -> Result<(), RsError> {
        let td = depth.timestamp_ms()?;
        let t = self.stamp(&mut path.clock, depth, arrival)?;
        let t = Time(path.mono.next(t));
        let color = path
            .color
            .as_ref()
            .filter(|(_, tc)| (tc - td).abs() <= self.pair_tol_ms)
            .map(|(c, _)| c);
        let mut buf = loop {
            match path.free.pop() {
                Ok(b) => break b,
                Err(_) => {
                    if !self.playback
                        || self.stopping()
                        || !self.shared.camera_attached.load(Ordering::Acquire)
                    {
                        self.shared.rgbd_dropped.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    self.shared
                        .last_arrival
                        .store(monotonic_now(), Ordering::Release);
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        };
        let r = fill_rgbd(&mut buf, t, depth, color, self.default_units);
        let r = r.and_then(|()| {
            path.tx
                .push(buf)
                .map_err(|_| RsError::local("rgbd queue", "full"))
        });
        match r {
            Ok(()) => {
                self.shared.rgbd_frames.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.shared.rgbd_dropped.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

impl Job {
    fn report(&self, err_tx: &mut rtrb::Producer<String>, state: LinkState, msg: String) {
        tracing::error!(state = ?state, "realsense: {msg}");
        if let Ok(mut s) = self.shared.last_error.lock() {
            s.clone_from(&msg);
        }
        // order matters for `read`: message, then the loss count, then the state
        let _ = err_tx.push(msg);
        self.shared.losses.fetch_add(1, Ordering::AcqRel);
        self.shared.set_state(state);
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    fn run(self, ends: WorkerEnds) -> WorkerEnds {
        let WorkerEnds {
            imu_tx,
            mut err_tx,
            rgbd_tx,
            rgbd_free,
        } = ends;
        // Boxed: librealsense callback threads hold a pointer to it while the sensors run.
        let sink = Box::new(Sink {
            shared: self.shared.clone(),
            playback: self.playback.is_some(),
            default_units: self.profile.depth_units_m as f32,
            has_color: self.profile.color.is_some() && self.profile.depth.is_some(),
            pair_tol_ms: self
                .profile
                .color
                .map(|c| 500.0 / c.fps.max(1) as f64)
                .unwrap_or(0.0),
            imu: Mutex::new(ImuPath {
                tx: imu_tx,
                clock: ClockMapper::new(),
                mono: Monotonic::default(),
                combiner: ImuCombiner::new(),
            }),
            rgbd: Mutex::new(RgbdPath {
                tx: rgbd_tx,
                free: rgbd_free,
                clock: ClockMapper::new(),
                mono: Monotonic::default(),
                pending: None,
                color: None,
            }),
            busy: AtomicU64::new(0),
            bad_frames: AtomicU64::new(0),
            halt: AtomicBool::new(false),
            received: Default::default(),
        });
        let mut backoff = self.cfg.reconnect_initial_ms;
        let mut ever_started = false;
        loop {
            if self.stopping() {
                break;
            }
            {
                // a restarted device may have restarted its clock (a reopened recording has)
                let mut imu = lock(&sink.imu);
                imu.clock.reset();
                imu.combiner.reset();
                imu.mono = Monotonic::default();
                let mut rgbd = lock(&sink.rgbd);
                rgbd.clock.reset();
                rgbd.mono = Monotonic::default();
                rgbd.pending = None;
                rgbd.color = None;
                for r in &sink.received {
                    r.store(0, Ordering::Release);
                }
                sink.halt.store(false, Ordering::Release);
            }
            match self.open(&sink) {
                Ok(mut stream) => {
                    if ever_started {
                        self.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("realsense: reconnected");
                    }
                    ever_started = true;
                    backoff = self.cfg.reconnect_initial_ms;
                    self.shared
                        .last_arrival
                        .store(monotonic_now(), Ordering::Release);
                    self.shared.set_state(LinkState::Streaming);
                    let end = self.supervise(&stream, &sink);
                    // Report first: stopping a hung (or real-time, sleeping) device can block.
                    match &end {
                        End::Stop => {}
                        End::Ended(m) => {
                            sink.flush();
                            self.report(&mut err_tx, LinkState::Ended, m.clone());
                        }
                        End::Lost(m) => self.report(&mut err_tx, LinkState::Lost, m.clone()),
                    }
                    // callbacks blocked on a full ring give up once `halt` is set
                    sink.halt.store(true, Ordering::Release);
                    stream.stop();
                    drop(stream);
                    if !matches!(end, End::Lost(_)) {
                        break;
                    }
                }
                Err(e) => {
                    let msg = format!("cannot start: {e}");
                    if !ever_started {
                        self.report(&mut err_tx, LinkState::Lost, msg);
                        break;
                    }
                    tracing::warn!("realsense: reconnect failed, next try in {backoff} ms: {msg}");
                }
            }
            // Lost (not ended): retry with backoff. A recording is reopened from its start.
            let until = monotonic_now() + backoff as i64 * 1_000_000;
            while monotonic_now() < until && !self.stopping() {
                std::thread::sleep(Duration::from_millis(5));
            }
            backoff = (backoff * 2).min(self.cfg.reconnect_max_ms);
        }
        {
            let mut rgbd = lock(&sink.rgbd);
            rgbd.pending = None;
            rgbd.color = None;
        }
        let Sink { imu, rgbd, .. } = *sink;
        let imu = imu.into_inner().unwrap_or_else(|p| p.into_inner());
        let rgbd = rgbd.into_inner().unwrap_or_else(|p| p.into_inner());
        WorkerEnds {
            imu_tx: imu.tx,
            err_tx,
            rgbd_tx: rgbd.tx,
            rgbd_free: rgbd.free,
        }
    }

    /// Which of [`STREAMS`] the profile enables.
    fn enabled(&self) -> [bool; 4] {
        let p = &self.profile;
        [
            p.depth.is_some(),
            p.color.is_some(),
            p.imu.is_some(),
            p.imu.is_some(),
        ]
    }

    /// The streams the hardware profile asks for: `(stream, format, width, height, fps, name)`.
    fn wanted(&self) -> Vec<(sys::rs2_stream, sys::rs2_format, i32, i32, i32, String)> {
        let p = &self.profile;
        let mut w = Vec::new();
        for (stream, v, name) in [
            (sys::rs2_stream_RS2_STREAM_DEPTH, p.depth, "depth"),
            (sys::rs2_stream_RS2_STREAM_COLOR, p.color, "color"),
        ] {
            if let Some(v) = v {
                w.push((
                    stream,
                    rs_format(v.format),
                    v.width as i32,
                    v.height as i32,
                    v.fps as i32,
                    format!(
                        "{name} {}x{} {:?} @{} Hz",
                        v.width, v.height, v.format, v.fps
                    ),
                ));
            }
        }
        if let Some(i) = p.imu {
            let xyz = sys::rs2_format_RS2_FORMAT_MOTION_XYZ32F;
            w.push((
                sys::rs2_stream_RS2_STREAM_GYRO,
                xyz,
                0,
                0,
                i.gyro_hz as i32,
                format!("gyro @{} Hz", i.gyro_hz),
            ));
            w.push((
                sys::rs2_stream_RS2_STREAM_ACCEL,
                xyz,
                0,
                0,
                i.accel_hz as i32,
                format!("accel @{} Hz", i.accel_hz),
            ));
        }
        w
    }

    fn open(&self, sink: &Sink) -> Result<Stream, RsError> {
        let ctx = Context::new()?;
        let dev = match &self.playback {
            Some(file) => {
                let d = ctx.add_playback(file)?;
                // Non-real-time playback must be set BEFORE any sensor starts.
                d.set_real_time(self.cfg.playback_real_time)?;
                d
            }
            None => ctx.device(self.cfg.serial.as_deref())?,
        };
        let mut wanted = self.wanted();
        let mut plan: Vec<(
            Sensor,
            Vec<*const sys::rs2_stream_profile>,
            super::ffi::ProfileList,
        )> = Vec::new();
        let mut offered = Vec::new();
        for sensor in dev.sensors()? {
            let (list, profiles) = sensor.profiles()?;
            let mut chosen = Vec::new();
            for p in &profiles {
                offered.push(format!(
                    "{}:{}x{}@{}(fmt {})",
                    p.stream, p.width, p.height, p.fps, p.format
                ));
                if let Some(i) = wanted.iter().position(|w| {
                    w.0 == p.stream
                        && w.1 == p.format
                        && w.4 == p.fps
                        && (w.2 == 0 || (w.2, w.3) == (p.width, p.height))
                }) {
                    chosen.push(p.ptr);
                    wanted.remove(i);
                }
            }
            if !chosen.is_empty() {
                plan.push((sensor, chosen, list));
            }
        }
        if !wanted.is_empty() {
            let missing: Vec<&str> = wanted.iter().map(|w| w.5.as_str()).collect();
            return Err(RsError::local(
                "stream profile",
                format!(
                    "the {} does not offer {missing:?} (hardware profile {}); it offers {offered:?}",
                    if self.playback.is_some() { "recording" } else { "device" },
                    self.profile.model
                ),
            ));
        }
        let mut sensors = Vec::new();
        let user = sink as *const Sink as *mut std::ffi::c_void;
        // A playback starts reading the file when its first sensor starts, and drops frames of
        // sensors not started yet: hold it paused until all are running.
        if self.playback.is_some() {
            dev.set_paused(true)?;
        }
        for (sensor, chosen, _list) in plan {
            if self.playback.is_none() && self.profile.depth.is_some() {
                // ask the depth sensor for the profile's units (others do not have the option)
                let _ = sensor.set_option(
                    sys::rs2_option_RS2_OPTION_DEPTH_UNITS,
                    self.profile.depth_units_m as f32,
                );
            }
            // SAFETY: `chosen` holds profiles of this sensor from its list `_list`, alive until
            // the end of this iteration.
            unsafe { sensor.open(&chosen) }?;
            // SAFETY: `user` is the boxed `sink`, which outlives the sensors: `run` stops them
            // (and on failure here they are stopped below) before the box is moved or dropped.
            if let Err(e) = unsafe { sensor.start(on_frame, user) } {
                let _ = sensor.stop_close();
                let mut st = Stream {
                    sensors,
                    dev,
                    _ctx: ctx,
                };
                st.stop();
                return Err(e);
            }
            sensors.push(sensor);
        }
        if self.playback.is_some() {
            if let Err(e) = dev.set_paused(false) {
                let mut st = Stream {
                    sensors,
                    dev,
                    _ctx: ctx,
                };
                st.stop();
                return Err(e);
            }
        }
        Ok(Stream {
            sensors,
            dev,
            _ctx: ctx,
        })
    }

    /// Watches the running sensors until it must stop, is lost, or the recording ends.
    fn supervise(&self, s: &Stream, sink: &Sink) -> End {
        let timeout_ns = self.cfg.watchdog_timeout_ms as i64 * 1_000_000;
        let mut quiet_polls = 0u32;
        let mut last_count = u64::MAX;
        loop {
            if self.stopping() {
                return End::Stop;
            }
            std::thread::sleep(Duration::from_millis(5));
            let count = self.shared.framesets.load(Ordering::Acquire);
            let idle = count == last_count && sink.busy.load(Ordering::Acquire) == 0;
            last_count = count;
            quiet_polls = if idle { quiet_polls + 1 } else { 0 };
            if self.playback.is_some() {
                // librealsense's "stopped" comes as soon as its reader is done, while its
                // per-sensor queues still hold frames: ended = every frame the bag's index
                // counts for the enabled streams has been delivered.
                let (got, want) = match &self.expected {
                    Some(exp) => {
                        let enabled = self.enabled();
                        (0..4).filter(|&k| enabled[k]).fold((0, 0), |(g, w), k| {
                            (
                                g + sink.received[k].load(Ordering::Acquire).min(exp[k]),
                                w + exp[k],
                            )
                        })
                    }
                    None => (0, 1),
                };
                let file = self.playback.as_deref().unwrap_or("");
                if got == want && sink.busy.load(Ordering::Acquire) == 0 {
                    return End::Ended(format!("end of recording {file}"));
                }
                // Non-real-time: frames come back to back, so silence after the reader is done
                // is the end (a recording whose index counts frames that never come, e.g. a
                // truncated file), not a fault.
                if !self.cfg.playback_real_time && s.dev.playback_stopped().unwrap_or(false) {
                    if quiet_polls as u64 * 5 >= END_QUIET_MS {
                        return End::Ended(if self.expected.is_some() {
                            format!(
                                "end of recording {file} (only {got} of the {want} frames its index counts were delivered)"
                            )
                        } else {
                            format!("end of recording {file}")
                        });
                    }
                    continue;
                }
                // Real-time: paced like a device, so the watchdog below applies.
            }
            let age = monotonic_now() - self.shared.last_arrival.load(Ordering::Acquire);
            if age > timeout_ns {
                return End::Lost(format!(
                    "no frames for {} ms (watchdog {} ms): device unplugged, USB error or stalled stream",
                    age / 1_000_000,
                    self.cfg.watchdog_timeout_ms
                ));
            }
        }
    }
}

/// Converts a depth (+ optional color) frame into `out` (buffers reused).
fn fill_rgbd(
    out: &mut RgbdFrame,
    t: Time,
    depth: &Frame,
    color: Option<&Frame>,
    default_units: f32,
) -> Result<(), RsError> {
    let (w, h, stride) = depth.video_size()?;
    let data = depth.data()?;
    if data.len() < stride * (h - 1) + w * 2 {
        return Err(RsError::local(
            "depth frame",
            "buffer shorter than its geometry",
        ));
    }
    let units = depth
        .depth_units()
        .ok()
        .filter(|u| *u > 0.0 && u.is_finite())
        .unwrap_or(default_units);
    out.t = t;
    out.width = w as u32;
    out.height = h as u32;
    out.depth.clear();
    for row in 0..h {
        let r = &data[row * stride..row * stride + w * 2];
        out.depth.extend(
            r.chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]) as f32 * units),
        );
    }
    let (fx, fy, cx, cy) = depth.intrinsics()?;
    out.intrinsics = CameraIntrinsics {
        fx: fx as f64,
        fy: fy as f64,
        cx: cx as f64,
        cy: cy as f64,
    };
    out.rgb.clear();
    if let Some(c) = color {
        let (cw, ch, cstride) = c.video_size()?;
        let kind = c.kind()?;
        let bpp = match kind.format {
            f if f == sys::rs2_format_RS2_FORMAT_RGB8 || f == sys::rs2_format_RS2_FORMAT_BGR8 => 3,
            f if f == sys::rs2_format_RS2_FORMAT_RGBA8 => 4,
            _ => 0,
        };
        let cd = c.data()?;
        if (cw, ch) == (w, h) && bpp > 0 && cd.len() >= cstride * (ch - 1) + cw * bpp {
            let bgr = kind.format == sys::rs2_format_RS2_FORMAT_BGR8;
            for row in 0..ch {
                let r = &cd[row * cstride..row * cstride + cw * bpp];
                for px in r.chunks_exact(bpp) {
                    if bgr {
                        out.rgb.extend_from_slice(&[px[2], px[1], px[0]]);
                    } else {
                        out.rgb.extend_from_slice(&px[..3]);
                    }
                }
            }
        }
    }
    Ok(())
}
