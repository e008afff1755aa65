//! RealSense backend, failure paths and the RT contract, on real librealsense recordings made by
//! the test (no camera): frames that stop arriving trip the watchdog (error, safe state), the
//! device thread reconnects with backoff; `read` allocates nothing.
#![cfg(feature = "realsense")]

use std::path::Path;
use std::time::{Duration, Instant};

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::realsense::software::{BagWriter, SynthStreams};
use sattva::backend::realsense::{LinkState, RealsenseBackend};
use sattva::backend::{Backend, BackendError};
use sattva::config::Config;
use sattva::types::{Command, SensorFrame};

mod common;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// IMU-only recording: gyro 400 Hz + accel 200 Hz over each `[from, to]` ms span, with
/// `pause` of wall time between spans (the bag's own clock, which real-time playback follows,
/// is the recorder's wall clock).
fn record_imu(path: &Path, spans: &[(f64, f64)], pause: Duration) -> usize {
    let mut w = BagWriter::create(
        path,
        SynthStreams {
            depth: None,
            color: None,
            imu: Some((400, 200)),
        },
    )
    .unwrap();
    let mut gyros = 0;
    for (k, &(from, to)) in spans.iter().enumerate() {
        if k > 0 {
            std::thread::sleep(pause);
        }
        let mut t = from;
        let mut i = 0;
        while t <= to {
            if i % 2 == 0 {
                w.push_accel(t, [0.0, -9.81, 0.0]).unwrap();
            }
            w.push_gyro(t, [0.01, 0.02, 0.03]).unwrap();
            gyros += 1;
            i += 1;
            t = from + 2.5 * i as f64;
        }
    }
    w.finish().unwrap();
    gyros
}

fn config(dir: &Path, extra: &str) -> Config {
    std::fs::write(
        dir.join("imu.yaml"),
        "model: SYNTH\nimu: {gyro_hz: 400, accel_hz: 200}\n",
    )
    .unwrap();
    let p = dir.join("c.yaml");
    std::fs::write(
        &p,
        format!(
            "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: imu.yaml\n      playback: imu.bag\n{extra}"
        ),
    )
    .unwrap();
    Config::load(&p, &[]).unwrap()
}

#[test]
fn frames_that_stop_trip_the_watchdog_and_the_link_recovers() {
    // wall-clock paced: one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let dir = tempfile::tempdir().unwrap();
    // 100 ms of IMU, a 1.5 s hole, 100 ms more; played at recorded pace.
    record_imu(
        &dir.path().join("imu.bag"),
        &[(1000.0, 1100.0), (2600.0, 2700.0)],
        Duration::from_millis(1500),
    );
    let c = config(
        dir.path(),
        "      playback_real_time: true\n      watchdog_timeout_ms: 300\n      reconnect_initial_ms: 50\n",
    );
    let mut b = RealsenseBackend::new(&c).unwrap();
    b.configure().unwrap();
    b.activate().unwrap();
    let mut frame = SensorFrame::default();
    let start = Instant::now();
    let mut before_loss = 0;
    let mut after_loss = 0;
    let mut lost: Option<(String, Duration)> = None;
    let mut last_sample = start.elapsed();
    while start.elapsed() < Duration::from_secs(6) {
        let t = b.now();
        match b.read(t, &mut frame) {
            Ok(()) if frame.imu.is_some() => {
                if lost.is_none() {
                    before_loss += 1;
                    last_sample = start.elapsed();
                } else {
                    after_loss += 1;
                }
            }
            Ok(()) => {}
            Err(BackendError::Disconnected { message, .. }) => {
                assert!(frame.imu.is_none(), "no sample with an error");
                if lost.is_none() {
                    lost = Some((message, start.elapsed()));
                }
            }
            Err(e) => panic!("unexpected error {e}"),
        }
        // safe state while lost: Hold is always accepted
        b.write(t, &Command::hold(t)).unwrap();
        if after_loss >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let (message, at) = lost.expect("the watchdog never fired");
    assert!(message.contains("no frames"), "{message}");
    let silence = at - last_sample;
    assert!(
        silence >= Duration::from_millis(250) && silence < Duration::from_millis(1400),
        "watchdog fired after {silence:?} of silence (timeout 300 ms)"
    );
    // real-time playback paces frames like a device and, like a device, may drop some
    assert!(before_loss >= 1, "{before_loss} samples before the hole");
    assert!(b.stats().reconnects >= 1, "{:?}", b.stats());
    assert!(
        after_loss >= 3,
        "no samples after the reconnect: {:?}",
        b.stats()
    );
    assert!(b.last_error().contains("no frames"));
    b.deactivate().unwrap();
    assert_eq!(b.link_state(), LinkState::Stopped);
}

#[test]
fn read_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let n = record_imu(
        &dir.path().join("imu.bag"),
        &[(1000.0, 2000.0)],
        Duration::ZERO,
    );
    let c = config(dir.path(), "");
    let mut b = RealsenseBackend::new(&c).unwrap();
    b.configure().unwrap();
    b.activate().unwrap();
    let mut frame = SensorFrame::default();
    let mut samples = 0;
    // warm-up
    for _ in 0..10 {
        let t = b.now();
        if b.read(t, &mut frame).is_ok() && frame.imu.is_some() {
            samples += 1;
        }
    }
    let before = allocations_on_this_thread();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut cycles = 0;
    let end = loop {
        assert!(Instant::now() < deadline, "playback did not end");
        let t = b.now();
        match b.read(t, &mut frame) {
            Ok(()) if frame.imu.is_some() => samples += 1,
            Ok(()) => std::hint::spin_loop(),
            Err(e) => break e,
        }
        b.write(t, &Command::hold(t)).unwrap();
        cycles += 1;
    };
    let allocs = allocations_on_this_thread() - before;
    drop(end);
    assert_eq!(
        allocs, 0,
        "read/write allocated {allocs} times in {cycles} cycles"
    );
    assert_eq!(
        samples, n,
        "every gyro sample (each has an accel at or after it)"
    );
}
