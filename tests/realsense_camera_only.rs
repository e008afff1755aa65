//! A RealSense recording without motion streams (a D435/D415/D405, or a recording made without
//! them): depth + color only, recorded through librealsense's software device, run through the
//! whole agent (`sattva run --fast`, vision enabled). The backend's clock advances from the frame
//! timestamps, frames reach the vision task, the agent learns, the missing IMU is stated exactly
//! once, and a camera without joints takes the loop's commands without a write error.
#![cfg(feature = "realsense")]

use std::path::{Path, PathBuf};
use std::process::Command;

use sattva::backend::realsense::software::{BagWriter, SynthStreams, SynthVideo};
use sattva::bench::vision::synth_frame;

const W: u32 = 160;
const H: u32 = 120;
const FPS: u32 = 30;
const FRAMES: usize = 120; // 4 s
const T0_MS: f64 = 5000.0;

/// Records `FRAMES` depth + color frames of a camera panning over a synthetic scene.
fn record(dir: &Path) -> (PathBuf, PathBuf) {
    let v = SynthVideo {
        width: W,
        height: H,
        fps: FPS,
        intrinsics: (140.0, 140.0, 79.5, 59.5),
    };
    let bag = dir.join("d435.bag");
    let mut w = BagWriter::create(
        &bag,
        SynthStreams {
            depth: Some((v, 0.001)),
            color: Some(v),
            imu: None,
        },
    )
    .unwrap();
    for i in 0..FRAMES {
        let t = T0_MS + i as f64 * 1000.0 / FPS as f64;
        let f = synth_frame(W as usize, H as usize, i as i64 / 2, 7);
        w.push_depth(t, &f.depth_mm, W).unwrap();
        w.push_color(t, &f.rgb, W).unwrap();
    }
    w.finish().unwrap();
    let profile = dir.join("d435.yaml");
    std::fs::write(
        &profile,
        format!(
            "model: D435\ndepth: {{width: {W}, height: {H}, fps: {FPS}, format: z16}}\n\
             color: {{width: {W}, height: {H}, fps: {FPS}, format: rgb8}}\n\
             depth_units_m: 0.001\n"
        ),
    )
    .unwrap();
    (bag, profile)
}

fn number_before(text: &str, what: &str) -> f64 {
    let i = text
        .find(what)
        .unwrap_or_else(|| panic!("`{what}` not in:\n{text}"));
    text[..i]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before `{what}` in:\n{text}"))
}

#[test]
fn recording_without_motion_streams_feeds_vision_and_learns() {
    let dir = tempfile::tempdir().unwrap();
    let (bag, profile) = record(dir.path());
    let cfg = dir.path().join("cam.yaml");
    std::fs::write(
        &cfg,
        format!(
            "sattva:\n  ros__parameters:\n    backend: realsense\n    seed: 3\n\
             \x20   realsense:\n      profile: {}\n      playback: {}\n\
             \x20   vision:\n      enabled: true\n      rate_hz: 10.0\n      cleanup: rust\n      descriptor: rust\n\
             \x20   learn:\n      window_ms: 200\n      calibration_windows: 3\n",
            profile.display(),
            bag.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(["run", "--fast", "-c"])
        .arg(&cfg)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // the missing IMU, stated once
    let stated = stderr
        .lines()
        .filter(|l| l.contains("no motion streams"))
        .count();
    assert_eq!(stated, 1, "{stderr}");
    // no write-error flood: the camera takes the loop's commands (it has no joints)
    let errs = stdout
        .split("read/write errors ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("{stdout}"));
    let (read_errors, write_errors) = errs.split_once('/').unwrap();
    assert_eq!(write_errors.trim(), "0", "{stdout}");
    // the end of the recording is the end of the run, not a read error
    assert_eq!(read_errors.trim(), "0", "{stdout}");
    assert!(!stderr.contains("command rejected"), "{stderr}");
    // the clock advanced from the frame stamps: ~the recording's span (3.97 s)
    let span = (FRAMES - 1) as f64 / FPS as f64;
    let backend_s = number_before(&stdout, "s backend time");
    assert!(
        (backend_s - span).abs() < 0.05,
        "backend time {backend_s} s, recording spans {span} s\n{stdout}"
    );
    // frames reached the vision task: at 10 Hz over 4 s, ~40 vision jobs each with a new frame
    let frames = number_before(&stdout, "frames processed");
    assert!(frames >= 30.0, "{frames} frames processed\n{stdout}");
    // and the agent learned from them
    let experiences = number_before(&stdout, "experiences");
    assert!(experiences >= 10.0, "{experiences} experiences\n{stdout}");
    println!("{stdout}");
}
