//! Replay with ground truth: 30 s of the BROAD benchmark's trial 02 (real IMU, optical motion
//! capture) written into a rosbag2 bag (`/imu/data` + `/mocap/pose`), replayed with
//! `replay.ground_truth_topic`; the report's fused roll/pitch follow the motion-capture truth.

use std::path::{Path, PathBuf};

use sattva::bench::fusion::load_broad_csv;
use sattva::config::Config;
use sattva::record::msgs;
use sattva::record::writer::{BagWriter, WriterOptions};
use sattva::replay::run::run_replay_with_report;

mod common;

fn data(file: &str) -> PathBuf {
    common::shared_data_path(&format!("imu/{file}"))
}

#[test]
fn fused_orientation_follows_motion_capture_truth_in_replay() {
    let tr = load_broad_csv(&data("broad_02_undisturbed_slow_rotation_B.csv")).expect("BROAD data");
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("broad");
    let mut w = BagWriter::create(&bag, &WriterOptions::default()).unwrap();
    let imu_topic = w.add_topic_for::<msgs::Imu>("/imu/data").unwrap();
    let gt_topic = w.add_topic_for::<msgs::PoseStamped>("/mocap/pose").unwrap();
    let t0 = 1_600_000_000_000_000_000i64;
    let mut n_truth = 0;
    for i in 0..tr.t.len() {
        if tr.t[i] > 30.0 {
            break;
        }
        let t = t0 + (tr.t[i] * 1e9) as i64;
        let stamp = msgs::Time::from_nanos(t);
        let mut m = msgs::Imu::default();
        m.header.stamp = stamp;
        let (g, a) = (tr.gyr[i], tr.acc[i]);
        m.angular_velocity = msgs::Vector3 {
            x: g[0],
            y: g[1],
            z: g[2],
        };
        m.linear_acceleration = msgs::Vector3 {
            x: a[0],
            y: a[1],
            z: a[2],
        };
        w.write(imu_topic, t, &m).unwrap();
        let q = tr.truth[i];
        if q.iter().all(|v| v.is_finite()) {
            let mut p = msgs::PoseStamped::default();
            p.header.stamp = stamp;
            p.pose.orientation = msgs::Quaternion {
                w: q[0],
                x: q[1],
                y: q[2],
                z: q[3],
            };
            w.write(gt_topic, t, &p).unwrap();
            n_truth += 1;
        }
    }
    w.finish().unwrap();
    assert!(n_truth > 5000);
    let c = Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      ground_truth_topic: /mocap/pose\n",
        Path::new("replay.yaml"),
        &[],
    )
    .unwrap();
    let (_s, d) = run_replay_with_report(&c, Some(&bag), false).unwrap();
    let pairs: Vec<([f64; 3], [f64; 3])> = d
        .rpy
        .iter()
        .zip(&d.truth_rpy)
        .zip(&d.t)
        .filter(|(_, t)| **t > 5.0) // after initial convergence
        .filter_map(|((r, g), _)| g.map(|g| (*r, g)))
        .collect();
    assert!(pairs.len() > 500, "samples with truth: {}", pairs.len());
    let rms = |k: usize| {
        (pairs
            .iter()
            .map(|(r, g)| {
                let e = (r[k] - g[k] + 180.0).rem_euclid(360.0) - 180.0;
                e * e
            })
            .sum::<f64>()
            / pairs.len() as f64)
            .sqrt()
    };
    let (roll, pitch) = (rms(0), rms(1));
    println!("replayed BROAD 02 (30 s, 6-D): roll RMS {roll:.2} deg, pitch RMS {pitch:.2} deg vs motion capture");
    // the mocap and IMU frames differ by a heading offset only: roll/pitch compare directly
    // (achieved: 0.13 / 0.19 deg; the replay is deterministic, the margin leaves room for filter
    // tuning, not for a broken filter: a filter that ignores the accelerometer drifts by degrees)
    assert!(roll < 0.4 && pitch < 0.4, "roll {roll:.2} pitch {pitch:.2}");
}
