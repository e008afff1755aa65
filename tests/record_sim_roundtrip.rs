//! End to end: MuJoCo frames recorded through the queue-fed Recorder, replayed by the replay
//! backend: the same IMU and joint values come back bit for bit at the same times.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::backend::replay::ReplayBackend;
use sattva::backend::Backend;
use sattva::config::Config;
use sattva::pipeline::ControlLoop;
use sattva::record::{RecordConfig, Recorder, Sample};
use sattva::replay::ReplayConfig;
use sattva::types::SensorFrame;

#[test]
fn recorded_sim_replays_bit_identically() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = Config::load(&root.join("config/sim.yaml"), &[]).expect("config");
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).expect("backend");
    let names = b.info().joint_names.clone();
    let mut lp = ControlLoop::new(&c, b, None).expect("loop");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sim_run");
    let rc = RecordConfig::default();
    let (rec, sink) = Recorder::start(&dir, &rc, names.clone()).unwrap();
    let mut frames: Vec<SensorFrame> = Vec::new();
    for _ in 0..500 {
        let f = lp.cycle().clone();
        if let Some(imu) = f.imu {
            assert!(sink.push(Sample::Imu { t: f.t, imu }));
        }
        assert!(sink.push(Sample::Joints {
            t: f.t,
            joints: f.joints.clone(),
        }));
        frames.push(f);
    }
    let (_, stats) = rec.finish().unwrap();
    assert_eq!(stats.dropped, 0);

    let cfg = ReplayConfig {
        imu_topic: rc.imu_topic.clone(),
        joint_states_topic: rc.joint_states_topic.clone(),
        ..Default::default()
    };
    let mut rb = ReplayBackend::with_mapping(&dir, cfg, c.control.period_ns, "sim.yaml".into());
    rb.configure().unwrap();
    rb.activate().unwrap();
    assert_eq!(rb.info().joint_names, names);
    let t0 = frames[0].t.0;
    let mut out = SensorFrame::default();
    for f in &frames {
        // replay time starts at the first recorded sample
        rb.read(sattva::types::Time(f.t.0 - t0), &mut out).unwrap();
        assert_eq!(
            out.imu.map(|i| (i.accel, i.gyro)),
            f.imu.map(|i| (i.accel, i.gyro)),
            "t={}",
            f.t.0
        );
        assert_eq!(out.joints.position, f.joints.position, "t={}", f.t.0);
        assert_eq!(out.joints.velocity, f.joints.velocity, "t={}", f.t.0);
        assert_eq!(out.joints.effort, f.joints.effort, "t={}", f.t.0);
    }
}
