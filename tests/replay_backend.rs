//! The replay backend: a bag's IMU and joint states as frames in virtual time; deterministic
//! (two replays hash identically) and allocation-free in read/write.

use std::path::Path;

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::replay::ReplayBackend;
use sattva::backend::{Backend, BackendError};
use sattva::bench::replay::write_synthetic_bag;
use sattva::record::msgs;
use sattva::record::{BagWriter, WriterOptions};
use sattva::replay::ReplayConfig;
use sattva::types::{Command, SensorFrame, Time};
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const PERIOD: i64 = 1_000_000; // 1 kHz, faster than the 400 Hz IMU and 500 Hz joints

fn backend(bag: &Path) -> ReplayBackend {
    let mut b =
        ReplayBackend::with_mapping(bag, ReplayConfig::default(), PERIOD, "test.yaml".into());
    b.configure().unwrap();
    b.activate().unwrap();
    b
}

fn hash_frame(h: &mut Sha256, f: &SensorFrame) {
    h.update(f.t.0.to_le_bytes());
    if let Some(i) = &f.imu {
        for x in i.accel.iter().chain(&i.gyro) {
            h.update(x.to_le_bytes());
        }
    }
    for x in f
        .joints
        .position
        .iter()
        .chain(&f.joints.velocity)
        .chain(&f.joints.effort)
    {
        h.update(x.to_le_bytes());
    }
}

/// Runs the whole bag; returns (hash, frames, distinct IMU samples seen).
fn replay(b: &mut ReplayBackend) -> ([u8; 32], usize, usize) {
    let mut h = Sha256::new();
    let mut frame = SensorFrame::default();
    let (mut frames, mut distinct, mut last) = (0, 0, None);
    let cmd = Command::hold(Time::ZERO);
    while !b.finished() {
        let t = b.now();
        b.read(t, &mut frame).unwrap();
        hash_frame(&mut h, &frame);
        if frame.imu != last {
            distinct += 1;
            last = frame.imu;
        }
        b.write(t, &cmd).unwrap();
        frames += 1;
    }
    (h.finalize().into(), frames, distinct)
}

#[test]
fn two_replays_are_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    write_synthetic_bag(&bag, 2.0).unwrap();
    let mut a = backend(&bag);
    assert_eq!(a.stats().imu_samples, 801); // 400 Hz over [0, 2] s inclusive
    assert_eq!(a.stats().joint_samples, 1001);
    assert_eq!(a.info().joint_names.len(), 12);
    let (ha, frames, distinct) = replay(&mut a);
    assert_eq!(frames, 2001);
    assert_eq!(distinct, 801, "every IMU sample reaches a frame at 1 kHz");
    let mut b = backend(&bag);
    let (hb, _, _) = replay(&mut b);
    let hex: String = ha.iter().map(|x| format!("{x:02x}")).collect();
    println!("replay output hash: {hex}");
    assert_eq!(ha, hb, "two replays differ");
    // reset replays identically too
    a.reset(0).unwrap();
    assert_eq!(replay(&mut a).0, ha);
}

#[test]
fn frames_carry_the_bag_values_at_their_times() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    let mut w = BagWriter::create(&dir, &WriterOptions::default()).unwrap();
    let imu_t = w.add_topic_for::<msgs::Imu>("/robot/imu").unwrap();
    let js_t = w
        .add_topic_for::<msgs::JointState>("/robot/joints")
        .unwrap();
    let t0 = 5_000_000_000;
    let mut imu = msgs::Imu::default();
    imu.linear_acceleration.z = 9.8;
    imu.angular_velocity.x = 0.5;
    w.write(imu_t, t0, &imu).unwrap();
    // names in a different order than the first message: reordered by name
    let js1 = msgs::JointState {
        name: vec!["a".into(), "b".into()],
        position: vec![1.0, 2.0],
        ..Default::default()
    };
    let js2 = msgs::JointState {
        name: vec!["b".into(), "a".into()],
        position: vec![20.0, 10.0],
        velocity: vec![0.2, 0.1],
        ..Default::default()
    };
    w.write(js_t, t0 + 1_500_000, &js1).unwrap();
    w.write(js_t, t0 + 3_000_000, &js2).unwrap();
    w.finish().unwrap();

    let cfg = ReplayConfig {
        imu_topic: "/robot/imu".into(),
        joint_states_topic: "/robot/joints".into(),
        ..Default::default()
    };
    let mut b = ReplayBackend::with_mapping(&dir, cfg, PERIOD, "test.yaml".into());
    b.configure().unwrap();
    b.activate().unwrap();
    assert_eq!(b.info().joint_names, ["a", "b"]);
    let mut f = SensorFrame::default();
    b.read(Time(0), &mut f).unwrap();
    assert_eq!(f.imu.unwrap().accel, [0.0, 0.0, 9.8]);
    assert_eq!(f.imu.unwrap().gyro, [0.5, 0.0, 0.0]);
    assert!(f.joints.is_empty(), "no joint sample before 1.5 ms");
    b.read(Time(2_000_000), &mut f).unwrap();
    assert_eq!(&f.joints.position[..], &[1.0, 2.0]);
    assert!(f.joints.velocity.is_empty());
    b.read(Time(3_000_000), &mut f).unwrap();
    assert_eq!(&f.joints.position[..], &[10.0, 20.0]);
    assert_eq!(&f.joints.velocity[..], &[0.1, 0.2]);
    assert_eq!(b.end(), Time(3_000_000));
}

#[test]
fn read_and_write_do_not_allocate() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    write_synthetic_bag(&bag, 1.0).unwrap();
    let mut b = backend(&bag);
    let mut frame = SensorFrame::default();
    let cmd = Command::hold(Time::ZERO);
    let before = allocations_on_this_thread();
    while !b.finished() {
        let t = b.now();
        b.read(t, &mut frame).unwrap();
        b.write(t, &cmd).unwrap();
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "replay read/write allocated {n} times");
    assert!(frame.imu.is_some() && frame.joints.len() == 12);
}

#[test]
fn wrong_mapping_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    write_synthetic_bag(&bag, 0.1).unwrap();
    // IMU mapped onto a JointState topic
    let cfg = ReplayConfig {
        imu_topic: "/joint_states".into(),
        joint_states_topic: "/other".into(),
        ..Default::default()
    };
    let mut b = ReplayBackend::with_mapping(&bag, cfg, PERIOD, "robot.yaml".into());
    let e = b.configure().unwrap_err();
    assert!(matches!(e, BackendError::Mapping { .. }));
    let s = e.to_string();
    assert!(
        s.contains("robot.yaml")
            && s.contains("replay.imu_topic")
            && s.contains("sensor_msgs/msg/JointState"),
        "{s}"
    );
    // topics not in the bag
    let cfg = ReplayConfig {
        imu_topic: "/nope".into(),
        joint_states_topic: "/nope2".into(),
        ..Default::default()
    };
    let mut b = ReplayBackend::with_mapping(&bag, cfg, PERIOD, "robot.yaml".into());
    let s = b.configure().unwrap_err().to_string();
    assert!(
        s.contains("/nope") && s.contains("/imu/data"),
        "lists the bag's topics: {s}"
    );
    // missing bag
    let mut b = ReplayBackend::with_mapping(
        &tmp.path().join("missing"),
        ReplayConfig::default(),
        PERIOD,
        "r.yaml".into(),
    );
    let s = b.configure().unwrap_err().to_string();
    assert!(s.contains("missing"), "{s}");
}
