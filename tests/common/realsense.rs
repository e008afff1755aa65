//! RealSense stand-ins: recordings made through librealsense's software device, played back by
//! the `realsense` backend in place of a camera.

use std::path::{Path, PathBuf};

use sattva::backend::realsense::software::{merged_schedule, BagWriter, SynthStreams, SynthVideo};

/// A RealSense recording made through librealsense's software device: `seconds` of a camera at
/// rest (gravity on the optical y axis, a small gyro bias), tiny depth frames at 6 Hz. Returns
/// the recording and a hardware profile that matches it (`realsense.playback`,
/// `realsense.profile`).
pub fn record_camera_at_rest(dir: &Path, seconds: f64) -> (PathBuf, PathBuf) {
    let (w, h) = (16u32, 12u32);
    let v = SynthVideo {
        width: w,
        height: h,
        fps: 6,
        intrinsics: (20.0, 20.0, 7.5, 5.5),
    };
    let bag = dir.join("camera.bag");
    let mut bw = BagWriter::create(
        &bag,
        SynthStreams {
            depth: Some((v, 0.001)),
            color: None,
            imu: Some((200, 100)),
        },
    )
    .unwrap();
    let z = vec![800u16; (w * h) as usize];
    let schedule = merged_schedule(
        1000.0,
        1000.0 + seconds * 1000.0,
        &[1000.0 / 6.0, 5.0, 10.0],
    );
    for (t, stream, _) in schedule {
        match stream {
            0 => bw.push_depth(t, &z, w).unwrap(),
            1 => bw.push_gyro(t, [0.002, -0.001, 0.003]).unwrap(),
            _ => bw.push_accel(t, [0.05, -9.78, 0.1]).unwrap(),
        }
    }
    bw.finish().unwrap();
    let profile = dir.join("synth_cam.yaml");
    std::fs::write(
        &profile,
        format!(
            "model: SYNTH\ndepth: {{width: {w}, height: {h}, fps: 6, format: z16}}\n\
             depth_units_m: 0.001\nimu: {{gyro_hz: 200, accel_hz: 100}}\n"
        ),
    )
    .unwrap();
    (bag, profile)
}
