//! RealSense backend without a camera: the test records a real librealsense `.bag` through the
//! software device (synthetic depth, color and IMU frames with known values and timestamps), plays
//! it back through the backend in non-real-time mode, and checks every value and timestamp.
#![cfg(feature = "realsense")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use sattva::backend::realsense::software::{merged_schedule, BagWriter, SynthStreams, SynthVideo};
use sattva::backend::realsense::{LinkState, RealsenseBackend};
use sattva::backend::{Backend, BackendError, Lifecycle};
use sattva::config::{BackendKind, Config};
use sattva::types::{ClockKind, Command, CommandMode, JointVec, RgbdFrame, SensorFrame, Time};

mod common;

const W: u32 = 16;
const H: u32 = 12;
const DEPTH_FRAMES: usize = 10;
const T0_MS: f64 = 1000.0;
const DEPTH_DT_MS: f64 = 32.0;
const GYRO_DT_MS: f64 = 2.5; // 400 Hz
const ACCEL_DT_MS: f64 = 5.0; // 200 Hz
const UNITS: f32 = 0.001;
const INTRINSICS: (f32, f32, f32, f32) = (20.5, 21.0, 7.5, 5.25);

fn raw_depth(frame: usize, x: u32, y: u32) -> u16 {
    (100 + frame * 1000 + y as usize * W as usize + x as usize) as u16
}
fn rgb(frame: usize, x: u32, y: u32) -> [u8; 3] {
    [(frame * 20) as u8, (x * 10) as u8, (y * 20) as u8]
}
/// Gyro sample j, librealsense axes (exact in f32).
fn gyro_rs(j: usize) -> [f32; 3] {
    [0.25 * j as f32, -0.5, 1.0 + 0.125 * j as f32]
}
/// Accel sample k, librealsense axes: linear in k, exact in f32 (and at half steps in f64).
fn accel_rs_at(k2: usize) -> [f64; 3] {
    // k2 = twice the accel index (odd = midpoint between two accel samples)
    let k = k2 as f64 / 2.0;
    [0.5 * k, -9.75 + 0.25 * k, 0.125 * k]
}
/// REP-103 body axes from librealsense optical axes.
fn body(v: [f64; 3]) -> [f64; 3] {
    [v[2], -v[0], -v[1]]
}

fn record(path: &Path) {
    let v = SynthVideo {
        width: W,
        height: H,
        fps: 30,
        intrinsics: INTRINSICS,
    };
    let mut w = BagWriter::create(
        path,
        SynthStreams {
            depth: Some((v, UNITS)),
            color: Some(v),
            imu: Some((400, 200)),
        },
    )
    .unwrap();
    // Merge all streams in timestamp order, as a device would deliver them.
    let end_ms = T0_MS + DEPTH_DT_MS * (DEPTH_FRAMES as f64 - 1.0);
    let events = merged_schedule(T0_MS, end_ms, &[DEPTH_DT_MS, GYRO_DT_MS, ACCEL_DT_MS]);
    assert_eq!(events.iter().filter(|e| e.1 == 0).count(), DEPTH_FRAMES);
    for (t, kind, i) in events {
        match kind {
            0 => {
                let z: Vec<u16> = (0..H)
                    .flat_map(|y| (0..W).map(move |x| raw_depth(i, x, y)))
                    .collect();
                w.push_depth(t, &z, W).unwrap();
                let c: Vec<u8> = (0..H)
                    .flat_map(|y| (0..W).flat_map(move |x| rgb(i, x, y)))
                    .collect();
                w.push_color(t, &c, W).unwrap();
            }
            1 => w.push_gyro(t, gyro_rs(i)).unwrap(),
            _ => {
                let a = accel_rs_at(2 * i);
                w.push_accel(t, [a[0] as f32, a[1] as f32, a[2] as f32])
                    .unwrap()
            }
        }
    }
    w.finish().unwrap();
    assert!(path.is_file(), "no bag written");
}

fn write_config(dir: &Path, playback: Option<&str>) -> PathBuf {
    std::fs::write(
        dir.join("synth.yaml"),
        format!(
            "model: SYNTH\ndepth: {{width: {W}, height: {H}, fps: 30, format: z16}}\n\
             color: {{width: {W}, height: {H}, fps: 30, format: rgb8}}\n\
             depth_units_m: 0.001\nimu: {{gyro_hz: 400, accel_hz: 200}}\n"
        ),
    )
    .unwrap();
    let pb = playback
        .map(|p| format!("      playback: {p}\n"))
        .unwrap_or_default();
    let cfg = dir.join("cam.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: synth.yaml\n{pb}      watchdog_timeout_ms: 2000\n"
        ),
    )
    .unwrap();
    cfg
}

struct Run {
    imu: Vec<SensorFrame>,
    rgbd: Vec<RgbdFrame>,
    end: BackendError,
}

fn play(cfg: &Path) -> (sattva::backend::Managed<RealsenseBackend>, Run) {
    let c = Config::load(cfg, &[]).unwrap();
    assert_eq!(c.backend, BackendKind::Realsense);
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    b.configure().unwrap();
    let mut cam = b.take_camera().unwrap();
    b.activate().unwrap();
    assert_eq!(b.clock(), ClockKind::Replay);
    assert!(b.info().has_imu && !b.info().has_magnetometer);
    let mut imu = Vec::new();
    let mut rgbd = Vec::new();
    let mut frame = SensorFrame::default();
    let mut img = RgbdFrame::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let end = loop {
        assert!(std::time::Instant::now() < deadline, "playback did not end");
        while cam.try_recv(&mut img) {
            rgbd.push(img.clone());
        }
        let t = b.now();
        match b.read(t, &mut frame) {
            Ok(()) => {
                if frame.imu.is_some() {
                    imu.push(frame.clone());
                } else {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            Err(e) => break e,
        }
        b.write(t, &Command::hold(t)).unwrap();
    };
    while cam.try_recv(&mut img) {
        rgbd.push(img.clone());
    }
    (b, Run { imu, rgbd, end })
}

#[test]
fn synthetic_bag_plays_back_exactly() {
    // real-time playback: `read` skips IMU samples it lags too far behind, so a starved test
    // thread would see gaps; one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("synth.bag");
    record(&bag);
    let cfg = write_config(dir.path(), Some("synth.bag"));
    let (mut b, run) = play(&cfg);

    // --- IMU: one sample per gyro sample, up to the last accel sample, exact values and stamps
    let end_ms = T0_MS + DEPTH_DT_MS * (DEPTH_FRAMES as f64 - 1.0);
    // gyro samples after the last accel sample have no accel to interpolate from
    let last_accel_ms = T0_MS + ACCEL_DT_MS * ((end_ms - T0_MS) / ACCEL_DT_MS).floor();
    let n_gyro = ((last_accel_ms - T0_MS) / GYRO_DT_MS) as usize + 1;
    assert_eq!(n_gyro, 115);
    assert_eq!(run.imu.len(), n_gyro, "every gyro sample must arrive once");
    for (j, f) in run.imu.iter().enumerate() {
        let t_ns = ((T0_MS + GYRO_DT_MS * j as f64) * 1e6).round() as i64;
        assert_eq!(f.t, Time(t_ns), "sample {j}");
        let s = f.imu.unwrap();
        let g = gyro_rs(j);
        assert_eq!(
            s.gyro,
            body([g[0] as f64, g[1] as f64, g[2] as f64]),
            "gyro {j}"
        );
        // gyro j sits at accel index j/2: exact sample (even j) or midpoint (odd j)
        assert_eq!(s.accel, body(accel_rs_at(j)), "accel {j}");
        assert_eq!(s.mag, None);
    }
    assert!(
        run.imu.windows(2).all(|w| w[0].t < w[1].t),
        "IMU stamps not increasing"
    );

    // --- RGB-D: every depth frame with exact pixels, color, intrinsics and stamps
    assert_eq!(
        run.rgbd.len(),
        DEPTH_FRAMES,
        "every depth frame must arrive once"
    );
    for (i, f) in run.rgbd.iter().enumerate() {
        let t_ns = ((T0_MS + DEPTH_DT_MS * i as f64) * 1e6).round() as i64;
        assert_eq!(f.t, Time(t_ns), "frame {i}");
        assert_eq!((f.width, f.height), (W, H));
        for y in 0..H {
            for x in 0..W {
                let p = (y * W + x) as usize;
                assert_eq!(
                    f.depth[p],
                    raw_depth(i, x, y) as f32 * UNITS,
                    "depth {i} ({x},{y})"
                );
                assert_eq!(&f.rgb[3 * p..3 * p + 3], &rgb(i, x, y), "rgb {i} ({x},{y})");
            }
        }
        let k = f.intrinsics;
        assert_eq!(
            (k.fx, k.fy, k.cx, k.cy),
            (
                INTRINSICS.0 as f64,
                INTRINSICS.1 as f64,
                INTRINSICS.2 as f64,
                INTRINSICS.3 as f64
            )
        );
    }
    assert!(run.rgbd.windows(2).all(|w| w[0].t < w[1].t));

    // --- end of stream = lost device: an error naming the cause, safe state, no panic
    match &run.end {
        BackendError::Disconnected { backend, message } => {
            assert_eq!(*backend, "realsense");
            assert!(message.contains("end of recording"), "{message}");
        }
        e => panic!("expected Disconnected at the end, got {e}"),
    }
    assert_eq!(b.link_state(), LinkState::Ended);
    let mut frame = SensorFrame::default();
    assert!(matches!(
        b.read(Time(0), &mut frame),
        Err(BackendError::Disconnected { .. })
    ));
    assert!(frame.imu.is_none(), "no stale sample after the end");
    // a camera has no joints: Hold is fine, anything else is rejected
    b.write(Time(0), &Command::hold(Time(0))).unwrap();
    let mut v = JointVec::new();
    v.push(0.1);
    let cmd = Command {
        t: Time(0),
        mode: CommandMode::Position,
        values: v,
    };
    assert!(matches!(
        b.write(Time(0), &cmd),
        Err(BackendError::InvalidCommand { .. })
    ));
    let st = b.stats();
    assert_eq!(st.imu_dropped, 0, "{st:?}");
    assert_eq!(st.rgbd_dropped, 0, "{st:?}");
    b.deactivate().unwrap();
    assert_eq!(b.state(), Lifecycle::Inactive);

    // --- deterministic: a second playback gives the same samples
    let (_b2, run2) = play(&cfg);
    assert_eq!(run.imu, run2.imu);
    assert_eq!(run.rgbd, run2.rgbd);
}

#[test]
fn missing_recording_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), Some("nope.bag"));
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    let e = b.configure().unwrap_err().to_string();
    assert!(e.contains("nope.bag"), "{e}");
    assert!(e.contains("not found"), "{e}");
    assert!(e.contains("realsense.playback"), "{e}");
}

#[test]
fn garbage_recording_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.bag"), b"not a rosbag at all").unwrap();
    let cfg = write_config(dir.path(), Some("junk.bag"));
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    b.configure().unwrap();
    let e = b.activate().unwrap_err().to_string();
    assert!(e.contains("junk.bag"), "{e}");
    assert_eq!(b.state(), Lifecycle::Inactive);
}

#[test]
fn no_device_is_a_clear_error() {
    // This machine has no RealSense attached: live mode must say so, not hang or panic.
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), None);
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    assert_eq!(b.clock(), ClockKind::Monotonic);
    match b.configure() {
        Err(BackendError::Disconnected { message, .. }) => {
            assert!(message.contains("no RealSense device"), "{message}")
        }
        Ok(()) => common::skipped(
            "no_device_is_a_clear_error",
            "a RealSense device is attached: the no-device check cannot run",
        ),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn missing_profile_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: nothere.yaml\n",
    )
    .unwrap();
    let c = Config::load(&cfg, &[]).unwrap();
    let e = RealsenseBackend::new(&c).err().unwrap().to_string();
    assert!(e.contains("nothere.yaml"), "{e}");
}

#[test]
fn reset_restarts_the_recording() {
    // real-time playback: `read` skips IMU samples it lags too far behind, so a starved test
    // thread would see gaps; one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let dir = tempfile::tempdir().unwrap();
    record(&dir.path().join("synth.bag"));
    let cfg = write_config(dir.path(), Some("synth.bag"));
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    b.configure().unwrap();
    b.activate().unwrap();
    let mut frame = SensorFrame::default();
    let mut next = |b: &mut RealsenseBackend| -> Time {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            assert!(std::time::Instant::now() < deadline, "no IMU sample");
            b.read(b.now(), &mut frame).unwrap();
            if frame.imu.is_some() {
                return frame.t;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    let first = next(&mut b);
    assert_eq!(first, Time((T0_MS * 1e6) as i64));
    for _ in 0..20 {
        next(&mut b);
    }
    assert!(next(&mut b) > first);
    b.reset(1).unwrap();
    assert_eq!(
        next(&mut b),
        first,
        "reset must replay from the first sample"
    );
}

#[test]
fn profile_the_recording_lacks_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    record(&dir.path().join("synth.bag"));
    let cfg = write_config(dir.path(), Some("synth.bag"));
    // ask for a depth mode the recording does not have
    std::fs::write(
        dir.path().join("synth.yaml"),
        "model: SYNTH\ndepth: {width: 848, height: 480, fps: 30, format: z16}\n",
    )
    .unwrap();
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    b.configure().unwrap();
    let e = b.activate().unwrap_err().to_string();
    assert!(e.contains("synth.bag"), "{e}");
    assert!(e.contains("depth 848x480"), "{e}");
    assert!(e.contains("does not offer"), "{e}");
    assert_eq!(b.state(), Lifecycle::Inactive);
}

#[test]
fn non_finite_motion_samples_are_skipped_not_fatal() {
    // real-time playback: `read` skips IMU samples it lags too far behind, so a starved test
    // thread would see gaps; one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("nan.bag");
    let mut w = BagWriter::create(
        &bag,
        SynthStreams {
            depth: None,
            color: None,
            imu: Some((400, 200)),
        },
    )
    .unwrap();
    for i in 0..21 {
        let t = T0_MS + GYRO_DT_MS * i as f64;
        if i % 2 == 0 {
            w.push_accel(t, [0.0, -9.81, 0.0]).unwrap();
        }
        let g = if i == 7 {
            [f32::NAN, 0.0, 0.0]
        } else {
            [0.0, 0.0, 0.1]
        };
        w.push_gyro(t, g).unwrap();
    }
    w.finish().unwrap();
    std::fs::write(
        dir.path().join("synth.yaml"),
        "model: SYNTH\nimu: {gyro_hz: 400, accel_hz: 200}\n",
    )
    .unwrap();
    let cfg = dir.path().join("cam.yaml");
    std::fs::write(
        &cfg,
        "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: synth.yaml\n      playback: nan.bag\n",
    )
    .unwrap();
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    b.configure().unwrap();
    b.activate().unwrap();
    let mut frame = SensorFrame::default();
    let mut ts = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(std::time::Instant::now() < deadline);
        match b.read(b.now(), &mut frame) {
            Ok(()) => match frame.imu {
                Some(s) => {
                    assert!(s.gyro.iter().chain(&s.accel).all(|v| v.is_finite()));
                    ts.push(frame.t.0);
                }
                None => std::thread::sleep(Duration::from_micros(200)),
            },
            Err(BackendError::Disconnected { .. }) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let want: Vec<i64> = (0..21)
        .filter(|&i| i != 7)
        .map(|i| ((T0_MS + GYRO_DT_MS * i as f64) * 1e6) as i64)
        .collect();
    assert_eq!(ts, want, "every finite gyro sample, the NaN one skipped");
}
