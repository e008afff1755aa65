//! Bad input to the vision stage: clear errors or flagged results, never a panic; dropped and
//! late frames; the Rust and OpenCV paths agree; the yaw aid refuses what it cannot use.

use sattva::bench::vision::synth_frame;
use sattva::fusion::{DepthPixels, Fusion, FusionConfig, YawAidError};
use sattva::types::{CameraIntrinsics, Imu, SensorFrame, Time};
use sattva::vision::{Frame, RotationReject, VisionConfig, VisionError, VisionStage};

mod common;

/// The rotation half of a test needs OpenCV (feature `opencv`); without it that half is reported
/// as skipped by name (`scripts/test.sh` fails the full-feature run on any skip).
fn without_opencv(test: &str, what: &str) {
    common::skipped(test, &format!("{what}: feature `opencv` not built"));
}

const K: CameraIntrinsics = CameraIntrinsics {
    fx: 200.0,
    fy: 200.0,
    cx: 80.0,
    cy: 60.0,
};

fn frame<'a>(t_ms: i64, w: usize, h: usize, rgb: &'a [u8], depth: &'a [f32]) -> Frame<'a> {
    Frame {
        t: Time(t_ms * 1_000_000),
        width: w,
        height: h,
        rgb,
        depth: DepthPixels::F32(depth),
        intrinsics: Some(K),
    }
}

fn stage() -> VisionStage {
    let mut c = VisionConfig::default();
    c.heading.enabled = true;
    VisionStage::new(&c).expect("stage")
}

#[test]
fn malformed_frames_are_clear_errors() {
    let mut s = stage();
    let (rgb, depth) = (vec![0u8; 160 * 120 * 3], vec![1.0f32; 160 * 120]);
    let e = s.process(&frame(0, 0, 0, &[], &[])).unwrap_err();
    assert!(matches!(e, VisionError::Empty { .. }), "{e}");
    let e = s
        .process(&frame(0, 160, 120, &rgb[..100], &depth))
        .unwrap_err();
    assert!(matches!(e, VisionError::Size { what: "rgb", .. }), "{e}");
    assert!(e.to_string().contains("expected 57600"), "{e}");
    let e = s
        .process(&frame(0, 160, 120, &rgb, &depth[..10]))
        .unwrap_err();
    assert!(matches!(e, VisionError::Size { what: "depth", .. }), "{e}");
    let e = s
        .process(&frame(0, 4, 2, &rgb[..24], &depth[..8]))
        .unwrap_err();
    assert!(matches!(e, VisionError::TooSmall { .. }), "{e}");
    let mut f = frame(0, 160, 120, &rgb, &depth);
    f.intrinsics = Some(CameraIntrinsics { fx: f64::NAN, ..K });
    assert!(matches!(s.process(&f), Err(VisionError::Intrinsics(_))));
    let raw = vec![1000u16; 160 * 120];
    f.intrinsics = Some(K);
    f.depth = DepthPixels::U16 {
        data: &raw,
        depth_units: 0.0,
    };
    assert!(matches!(s.process(&f), Err(VisionError::DepthUnits(_))));
    assert_eq!(s.counters.invalid, 6);
    assert_eq!(s.counters.frames, 0);
}

#[test]
fn black_and_nan_frames_are_processed_and_flagged() {
    let mut s = stage();
    let rgb = vec![0u8; 160 * 120 * 3];
    let depth = vec![f32::NAN; 160 * 120];
    let out = s
        .process(&frame(0, 160, 120, &rgb, &depth))
        .expect("black frame");
    assert_eq!(out.depth_valid, 0.0, "NaN depth is invalid everywhere");
    assert!(out.descriptor.0.iter().all(|v| v.is_finite()));
    let out = s
        .process(&frame(100, 160, 120, &rgb, &depth))
        .expect("black frame");
    assert!(out.rotation.is_none());
    let why = out.rotation_reject.expect("flagged");
    if cfg!(feature = "opencv") {
        assert_eq!(why, RotationReject::FewFeatures);
        assert_eq!(s.counters.rotations_rejected, 1);
    } else {
        assert_eq!(why, RotationReject::Unavailable);
        without_opencv(
            "black_and_nan_frames_are_processed_and_flagged",
            "the few-features rejection",
        );
    }
}

#[test]
fn missing_intrinsics_stale_and_dropped_frames() {
    let mut s = stage();
    let a = synth_frame(160, 120, 0, 1);
    let b = synth_frame(160, 120, 2, 1);
    let da: Vec<f32> = a.depth_mm.iter().map(|&v| v as f32 * 1e-3).collect();
    let db: Vec<f32> = b.depth_mm.iter().map(|&v| v as f32 * 1e-3).collect();
    s.process(&frame(0, 160, 120, &a.rgb, &da)).expect("first");
    // no intrinsics: processed (descriptor), the rotation is refused and counted
    let mut f = frame(100, 160, 120, &b.rgb, &db);
    f.intrinsics = None;
    let out = s.process(&f).expect("frame without intrinsics");
    if cfg!(feature = "opencv") {
        assert_eq!(out.rotation_reject, Some(RotationReject::NoIntrinsics));
    } else {
        assert_eq!(out.rotation_reject, Some(RotationReject::Unavailable));
        without_opencv(
            "missing_intrinsics_stale_and_dropped_frames",
            "the rotation checks (no intrinsics, gap, recovery)",
        );
    }
    // out of order and duplicate: stale
    let e = s.process(&frame(50, 160, 120, &a.rgb, &da)).unwrap_err();
    assert!(matches!(e, VisionError::Stale { .. }), "{e}");
    assert!(s.process(&frame(100, 160, 120, &a.rgb, &da)).is_err());
    assert_eq!(s.counters.stale, 2);
    // a gap (dropped frames upstream): no rotation across it, counted
    let out = s
        .process(&frame(2000, 160, 120, &a.rgb, &da))
        .expect("after a gap");
    if cfg!(feature = "opencv") {
        assert_eq!(out.rotation_reject, Some(RotationReject::Gap));
        assert_eq!(s.counters.gaps, 1);
        // and the next pair works again
        let out = s
            .process(&frame(2100, 160, 120, &b.rgb, &db))
            .expect("next");
        assert!(out.rotation.is_some(), "{:?}", out.rotation_reject);
    }
}

#[cfg(feature = "opencv")]
#[test]
fn rust_and_opencv_paths_agree() {
    use sattva::vision::Implementation;
    let f = synth_frame(160, 120, 0, 9);
    let mk = |cleanup, descriptor| {
        let mut s = VisionStage::new(&VisionConfig {
            cleanup,
            descriptor,
            ..VisionConfig::default()
        })
        .expect("stage");
        let fr = Frame {
            t: Time(0),
            width: 160,
            height: 120,
            rgb: &f.rgb,
            depth: DepthPixels::U16 {
                data: &f.depth_mm,
                depth_units: 0.001,
            },
            intrinsics: Some(K),
        };
        let d = s.process(&fr).expect("frame").descriptor;
        (s.depth_m().to_vec(), d)
    };
    let (dr, r) = mk(Implementation::Rust, Implementation::Rust);
    let (dc, c) = mk(Implementation::Opencv, Implementation::Opencv);
    assert!(dr.iter().any(|&v| v > 0.0));
    let dd = dr
        .iter()
        .zip(&dc)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let de =
        r.0.iter()
            .zip(&c.0)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
    assert!(
        dd < 1e-6 && de < 1e-5,
        "cleanup diff {dd}, descriptor diff {de}"
    );
}

#[test]
fn yaw_aid_refuses_bad_input_and_stamps_outside_the_history() {
    let mut f = Fusion::new(&FusionConfig::default());
    let mut s = SensorFrame::default();
    let q = [1.0, 0.0, 0.0, 0.0];
    assert_eq!(
        f.correct_yaw(Time(0), Time(1), q, 1.0),
        Err(YawAidError::NotInitialised)
    );
    for i in 0..100 {
        s.t = Time(i * 2_000_000);
        s.imu = Some(Imu {
            accel: [0.0, 0.0, 9.81],
            gyro: [0.0; 3],
            mag: None,
        });
        f.update(&s);
    }
    let (t0, t1) = (Time(100_000_000), Time(150_000_000));
    assert!(matches!(
        f.correct_yaw(t0, t1, [f64::NAN; 4], 1.0),
        Err(YawAidError::Invalid(_))
    ));
    assert!(matches!(
        f.correct_yaw(t0, t1, q, 1.5),
        Err(YawAidError::Invalid(_))
    ));
    assert!(matches!(
        f.correct_yaw(t1, t0, q, 1.0),
        Err(YawAidError::Invalid(_))
    ));
    assert!(matches!(
        f.correct_yaw(t0, Time(500_000_000), q, 1.0),
        Err(YawAidError::OutOfHistory { .. })
    ));
    // a measured turn of 0.1 rad about z that the (still) gyro did not see: heading follows it
    let h = 0.05f64;
    let turned = [h.cos(), 0.0, 0.0, h.sin()];
    let c = f.correct_yaw(t0, t1, turned, 1.0).expect("applied");
    assert!((c - 0.1).abs() < 1e-9, "{c}");
    let o = f.state().orientation;
    let yaw = (2.0 * (o[0] * o[3] + o[1] * o[2])).atan2(1.0 - 2.0 * (o[2] * o[2] + o[3] * o[3]));
    assert!((yaw - 0.1).abs() < 1e-6, "{yaw}");
    assert!(f.state().validity.heading_aided);
    assert_eq!(f.imu.counters.yaw_aids, 1);
    assert_eq!(f.imu.counters.yaw_aids_rejected, 5);
    // with a magnetometer the aid is not used
    s.t = Time(200 * 2_000_000);
    s.imu = Some(Imu {
        accel: [0.0, 0.0, 9.81],
        gyro: [0.0; 3],
        mag: Some([20.0, 0.0, -40.0]),
    });
    f.update(&s);
    assert_eq!(
        f.correct_yaw(t0, t1, q, 1.0),
        Err(YawAidError::MagnetometerInUse)
    );
}
