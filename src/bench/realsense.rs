//! `sattva bench realsense`: non-real-time playback throughput of the backend against bare
//! librealsense playing the same recording in the same run.
//!
//! The recording is synthetic (software device, see [`crate::backend::realsense::software`]): depth + color at a
//! D435i mode and the IMU at 400/200 Hz. The bare side opens the same `.bag` as a playback device
//! and only counts frames in its callbacks; the backend side converts depth to metres, pairs
//! color, combines the IMU, and a consumer drains both rings through `read` / `try_recv`, as the
//! control and camera tasks would.

// Unsafe code: the bare-librealsense side of the bench (a C frame callback, raw sensor start).
#![allow(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::backend::realsense::bag;
use crate::backend::realsense::ffi::{Context, RsError};
use crate::backend::realsense::software::{BagWriter, SynthStreams, SynthVideo};
use crate::backend::realsense::RealsenseBackend;
use crate::backend::{Backend, BackendError};
use crate::config::Config;
use crate::types::{RgbdFrame, SensorFrame};

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// librealsense failed.
    #[error(transparent)]
    Rs(#[from] RsError),
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Files or config.
    #[error("{0}")]
    Other(String),
}

/// Figures of one benchmark run.
#[derive(Clone, Debug, Default)]
pub struct PlaybackBench {
    /// Recorded duration, s.
    pub seconds: f64,
    /// Video size.
    pub width: u32,
    /// Video size.
    pub height: u32,
    /// Frames in the recording (all streams).
    pub frames: u64,
    /// Frames the bare playback delivered (last rep).
    pub bare_frames: u64,
    /// Wall time of each bare playback, s.
    pub bare_s: Vec<f64>,
    /// Wall time of each backend playback, s.
    pub backend_s: Vec<f64>,
    /// IMU samples and RGB-D frames the backend delivered (last rep).
    pub delivered: (u64, u64),
    /// `read` call times, ns: (median, p99), over all reps.
    pub read_ns: (f64, f64),
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
}

impl fmt::Display for PlaybackBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, r) = (median(&self.backend_s), median(&self.bare_s));
        let n = self.frames as f64;
        writeln!(
            f,
            "bench realsense: synthetic {:.1} s recording, depth+color {}x{} @30 Hz + gyro 400 Hz + accel 200 Hz = {} frames; non-real-time playback, median of {} reps",
            self.seconds, self.width, self.height, self.frames, self.bare_s.len()
        )?;
        writeln!(f, "  {:<44} {:>10} {:>9}", "playback", "frames/s", "wall s")?;
        writeln!(
            f,
            "  {:<44} {:>10.0} {:>9.3}",
            "bare librealsense (count in callbacks)",
            n / r,
            r
        )?;
        writeln!(
            f,
            "  {:<44} {:>10.0} {:>9.3}",
            "sattva backend (convert, pair, combine, read)",
            n / b,
            b
        )?;
        writeln!(f, "  ratio backend/bare throughput: {:.3}", r / b)?;
        writeln!(
            f,
            "  delivered: bare {} frames; backend {} IMU samples, {} RGB-D frames",
            self.bare_frames, self.delivered.0, self.delivered.1
        )?;
        write!(
            f,
            "  read(): median {:.0} ns, p99 {:.0} ns per call (RT side)",
            self.read_ns.0, self.read_ns.1
        )
    }
}

fn record(path: &Path, seconds: f64, width: u32, height: u32) -> Result<(), BenchError> {
    let v = SynthVideo {
        width,
        height,
        fps: 30,
        intrinsics: (
            width as f32 * 0.72,
            width as f32 * 0.72,
            width as f32 / 2.0,
            height as f32 / 2.0,
        ),
    };
    let mut w = BagWriter::create(
        path,
        SynthStreams {
            depth: Some((v, 0.001)),
            color: Some(v),
            imu: Some((400, 200)),
        },
    )?;
    let n = (width * height) as usize;
    let z: Vec<u16> = (0..n).map(|i| (500 + i % 3000) as u16).collect();
    let rgb: Vec<u8> = (0..3 * n).map(|i| (i % 251) as u8).collect();
    let end = 1000.0 + seconds * 1000.0;
    for (t, stream, _) in crate::backend::realsense::software::merged_schedule(
        1000.0,
        end,
        &[5.0, 2.5, 1000.0 / 30.0],
    ) {
        match stream {
            0 => w.push_accel(t, [0.0, -9.81, 0.0])?,
            1 => w.push_gyro(t, [0.01, 0.0, -0.01])?,
            _ => {
                w.push_depth(t, &z, width)?;
                w.push_color(t, &rgb, width)?;
            }
        }
    }
    w.finish()?;
    Ok(())
}

unsafe extern "C" fn count_frame(
    f: *mut crate::backend::realsense::sys::rs2_frame,
    user: *mut std::ffi::c_void,
) {
    // SAFETY: librealsense hands the callback one reference to `f`, released here exactly once;
    // `user` is the `AtomicU64` boxed by `bare`, which stops every sensor (waiting for running
    // callbacks) before the box drops.
    unsafe {
        crate::backend::realsense::sys::rs2_release_frame(f);
        (*(user as *const AtomicU64)).fetch_add(1, Ordering::AcqRel);
    }
}

/// Started sensors, stopped (each waits for its running callbacks) and closed when dropped: on
/// every path out of [`bare`], before the counter their callbacks write is dropped.
struct Started(Vec<crate::backend::realsense::ffi::Sensor>);

impl Drop for Started {
    fn drop(&mut self) {
        for s in &self.0 {
            let _ = s.stop_close();
        }
    }
}

/// Bare librealsense: play the file, count frames, stop when all have arrived.
fn bare(path: &Path, frames: u64) -> Result<(f64, u64), BenchError> {
    let t0 = Instant::now(); // like the backend's: open + start + stream
    let ctx = Context::new()?;
    let dev = ctx.add_playback(&path.display().to_string())?;
    dev.set_real_time(false)?;
    let count = Box::new(AtomicU64::new(0));
    let user = &*count as *const AtomicU64 as *mut std::ffi::c_void;
    // declared after `count`: dropped (sensors stopped) before it on every path
    let mut sensors = Started(Vec::new());
    for s in dev.sensors()? {
        let (_list, p) = s.profiles()?;
        let ptrs: Vec<_> = p.iter().map(|d| d.ptr).collect();
        if ptrs.is_empty() {
            continue;
        }
        // SAFETY: `ptrs` are profiles of `s` from its list `_list`, alive until the end of this
        // iteration.
        unsafe { s.open(&ptrs) }?;
        sensors.0.push(s);
    }
    dev.set_paused(true)?; // no frames before every sensor runs
    for s in &sensors.0 {
        // SAFETY: `user` points into the box `count`, which outlives the sensors: `sensors`
        // (declared after `count`) stops them when dropped, on every path out of here.
        unsafe { s.start(count_frame, user) }?;
    }
    dev.set_paused(false)?;
    // all frames in, or the reader stopped and nothing came for 500 ms (librealsense may keep
    // the last frames of a stream)
    let mut last = (0, Instant::now());
    loop {
        std::thread::sleep(Duration::from_micros(200));
        let n = count.load(Ordering::Acquire);
        if n >= frames {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_millis(500) && dev.playback_stopped()? {
            break;
        }
    }
    let dt = last_frame_time(&count, frames, t0, last.1);
    drop(sensors);
    Ok((dt, count.load(Ordering::Acquire)))
}

/// Wall time until the last frame: now when all arrived, else when the last one did.
fn last_frame_time(count: &AtomicU64, frames: u64, t0: Instant, last: Instant) -> f64 {
    if count.load(Ordering::Acquire) >= frames {
        t0.elapsed().as_secs_f64()
    } else {
        (last - t0).as_secs_f64()
    }
}

/// The backend: drain both rings as the control and camera tasks would.
fn backend(cfg: &Config, read_ns: &mut Vec<f64>) -> Result<(f64, u64, u64), BenchError> {
    let mut b = RealsenseBackend::new(cfg)?;
    b.configure()?;
    let mut cam = b
        .take_camera()
        .ok_or_else(|| BenchError::Other("camera already taken".into()))?;
    let mut frame = SensorFrame::default();
    let mut img = RgbdFrame::default();
    let (mut imu, mut rgbd) = (0u64, 0u64);
    let t0 = Instant::now();
    b.activate()?;
    // until the last item delivered (the end report itself may wait for silence)
    let mut last = t0;
    loop {
        while cam.try_recv(&mut img) {
            rgbd += 1;
            last = Instant::now();
        }
        let t = b.now();
        let r0 = Instant::now();
        let r = b.read(t, &mut frame);
        read_ns.push(r0.elapsed().as_nanos() as f64);
        match r {
            Ok(()) if frame.imu.is_some() => {
                imu += 1;
                last = Instant::now();
            }
            Ok(()) => std::thread::yield_now(),
            Err(_) => break,
        }
    }
    while cam.try_recv(&mut img) {
        rgbd += 1;
        last = Instant::now();
    }
    let dt = (last - t0).as_secs_f64();
    b.deactivate()?;
    Ok((dt, imu, rgbd))
}

fn temp_dir() -> Result<PathBuf, BenchError> {
    let d = std::env::temp_dir().join(format!("sattva-bench-realsense-{}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| BenchError::Other(format!("{}: {e}", d.display())))?;
    Ok(d)
}

/// Records a synthetic recording of `seconds` at `width`x`height` and plays it `reps` times
/// through bare librealsense and through the backend, alternating.
pub fn bench_playback(
    seconds: f64,
    width: u32,
    height: u32,
    reps: u32,
) -> Result<PlaybackBench, BenchError> {
    if !(seconds > 0.0 && seconds <= 60.0) || width == 0 || height == 0 || reps == 0 {
        return Err(BenchError::Other(
            "seconds must be in (0, 60], sizes and reps positive".into(),
        ));
    }
    let dir = temp_dir()?;
    let bag_path = dir.join("synth.bag");
    let result = (|| {
        record(&bag_path, seconds, width, height)?;
        let counts =
            bag::message_counts(&bag_path).map_err(|e| BenchError::Other(e.to_string()))?;
        let frames: u64 = ["Depth", "Color", "Gyro", "Accel"]
            .iter()
            .map(|s| bag::stream_frames(&counts, s))
            .sum();
        std::fs::write(
            dir.join("profile.yaml"),
            format!(
                "model: SYNTH\ndepth: {{width: {width}, height: {height}, fps: 30, format: z16}}\n\
                 color: {{width: {width}, height: {height}, fps: 30, format: rgb8}}\n\
                 imu: {{gyro_hz: 400, accel_hz: 200}}\n"
            ),
        )
        .map_err(|e| BenchError::Other(e.to_string()))?;
        let yaml = "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: profile.yaml\n      playback: synth.bag\n      watchdog_timeout_ms: 5000\n";
        let cfg = Config::from_yaml_str(yaml, &dir.join("bench.yaml"), &[])
            .map_err(|e| BenchError::Other(e.to_string()))?;
        let mut out = PlaybackBench {
            seconds,
            width,
            height,
            frames,
            ..Default::default()
        };
        let mut read_ns = Vec::with_capacity(1 << 20);
        for _ in 0..reps {
            let (dt, got) = bare(&bag_path, frames)?;
            out.bare_s.push(dt);
            out.bare_frames = got;
            let (dt, imu, rgbd) = backend(&cfg, &mut read_ns)?;
            out.backend_s.push(dt);
            out.delivered = (imu, rgbd);
        }
        read_ns.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| {
            read_ns
                .get(((read_ns.len() as f64 - 1.0) * p) as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        out.read_ns = (q(0.5), q(0.99));
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
