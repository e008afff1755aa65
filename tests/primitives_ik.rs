//! The primitive library generated from robot models (MuJoCo): damped-least-squares IK on
//! MuJoCo's Jacobian reaches targets on two different arms (checked with MuJoCo's own forward
//! kinematics), every shipped robot config gets a library whose commands stay inside the joint
//! limits, and bad names in `action.primitives` are errors naming the key and what the model has.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::action::primitive::PointOf;
use sattva::action::{PrimitiveParams, PrimitiveSet};
use sattva::backend::Backend;
use sattva::config::Config;
use sattva::types::{Command, Time};

fn config(file: &str, overrides: &[&str]) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let ov: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(&path, &ov).expect("config loads")
}

/// The library of `file` and the robot's sensed start pose.
fn library(file: &str, overrides: &[&str]) -> (PrimitiveSet, Vec<f64>) {
    let c = config(file, overrides);
    let mut b = c.open_backend(None).expect("backend opens");
    let body = b.body(&c.action.primitives.spec()).expect("body");
    b.activate().expect("activate");
    let mut frame = sattva::types::SensorFrame::default();
    let t = b.now();
    b.read(t, &mut frame).expect("read");
    let q0: Vec<f64> = frame.joints.position.iter().copied().collect();
    (PrimitiveSet::generate(body, &c.action.primitives), q0)
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn ik_reaches_targets(file: &str) {
    let (mut set, q0) = library(file, &[]);
    let h = set
        .point_at(&q0, PointOf::Arm)
        .expect("the config names an end effector");
    // 4 cm in six directions from the start
    for d in [
        [0.04, 0.0, 0.0],
        [-0.04, 0.0, 0.0],
        [0.0, 0.04, 0.0],
        [0.0, -0.04, 0.0],
        [0.0, 0.0, 0.04],
        [0.0, 0.0, -0.04],
    ] {
        let target = [h[0] + d[0], h[1] + d[1], h[2] + d[2]];
        let q = set.solve_arm(&q0, target, 60);
        // MuJoCo's forward kinematics of the solution
        let p = set.point_at(&q, PointOf::Arm).unwrap();
        assert!(
            dist(p, target) < 0.002,
            "{file}: target {target:?} reached {p:?} ({:.4} m off)",
            dist(p, target)
        );
        for (j, (&v, &(lo, hi))) in q.iter().zip(set.limits()).enumerate() {
            assert!(
                v >= lo && v <= hi,
                "{file}: joint {j} at {v} outside [{lo}, {hi}]"
            );
        }
    }
}

#[test]
fn generic_ik_reaches_targets_on_the_reference_arm() {
    ik_reaches_targets("config/sim.yaml");
}

#[test]
fn generic_ik_reaches_targets_on_a_six_dof_arm() {
    ik_reaches_targets("config/yam.yaml");
}

/// Every shipped robot config: a library of at least `min` primitives (arms >= 20, legged and
/// humanoid >= 12) whose commands stay inside the joint limits at every phase.
#[test]
fn every_shipped_robot_gets_a_library_within_its_joint_limits() {
    for (file, min) in [
        ("config/sim.yaml", 20),
        ("config/jaco.yaml", 20),
        ("config/yam.yaml", 20),
        ("config/go2.yaml", 12),
        ("config/g1.yaml", 12),
    ] {
        let (mut set, q0) = library(file, &[]);
        let names = set.names();
        println!("{file}: {} primitives: {}", names.len(), names.join(", "));
        assert!(names.len() >= min, "{file}: {} primitives", names.len());
        let limits = set.limits().to_vec();
        let mut cmd = Command::hold(Time::ZERO);
        for (i, name) in names.iter().enumerate() {
            for amplitude in [0.5, 1.0, 2.0] {
                let pp = PrimitiveParams {
                    amplitude,
                    ..Default::default()
                };
                let mut run = set.start(i, pp, &q0, Time::ZERO, 1.0);
                let mut moved: f64 = 0.0;
                for k in 0..=100 {
                    set.command(&mut run, Time(k * 10_000_000), &mut cmd);
                    assert_eq!(cmd.values.len(), q0.len());
                    for (j, (&v, &(lo, hi))) in cmd.values.iter().zip(&limits).enumerate() {
                        assert!(
                            v.is_finite() && v >= lo && v <= hi,
                            "{file} {name}: joint {j} commanded {v} outside [{lo}, {hi}]"
                        );
                        moved = moved.max((v - q0[j]).abs());
                    }
                }
                if *name != "hold_still" {
                    assert!(moved > 0.02, "{file} {name}: moves only {moved} rad");
                }
            }
        }
    }
}

#[test]
fn names_the_model_lacks_are_errors_naming_the_key_and_what_it_has() {
    let c = config(
        "config/yam.yaml",
        &["action.primitives.end_effector=no_such_site"],
    );
    let b = c.open_backend(None).unwrap();
    let e = b.body(&c.action.primitives.spec()).unwrap_err().to_string();
    assert!(e.contains("action.primitives.end_effector"), "{e}");
    assert!(
        e.contains("no_such_site") && e.contains("grasp_site"),
        "{e}"
    );
    let c = config(
        "config/go2.yaml",
        &["action.primitives.groups.front=[FL_hip_joint,FL_knee]"],
    );
    let b = c.open_backend(None).unwrap();
    let e = b.body(&c.action.primitives.spec()).unwrap_err().to_string();
    assert!(e.contains("action.primitives.groups.front[1]"), "{e}");
    assert!(e.contains("FL_knee") && e.contains("FL_calf_joint"), "{e}");
    // the agent refuses to start with it, naming the key
    let err = match sattva::agent::run(
        &c,
        sattva::agent::AgentOptions {
            virtual_rate: Some(0.0),
            curriculum: Some(Default::default()),
            ..Default::default()
        },
    ) {
        Ok(_) => panic!("the agent started with a group naming a missing joint"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("action.primitives.groups.front[1]"), "{err}");
}

#[test]
fn an_arm_with_too_few_joints_for_a_primitive_skips_it_with_a_reason() {
    // the reference arm driving only its yaw and pitch joints: the end effector moves with 2
    // joints, so `twist` (needs 3) is skipped, not a crash
    let c = config(
        "config/sim.yaml",
        &[
            "mujoco.joints.names=[shoulder_yaw,shoulder_pitch]",
            "mujoco.joints.position_sensors=[shoulder_yaw_pos,shoulder_pitch_pos]",
            "mujoco.joints.velocity_sensors=[shoulder_yaw_vel,shoulder_pitch_vel]",
            "mujoco.joints.actuators=[shoulder_yaw_servo,shoulder_pitch_servo]",
        ],
    );
    let b = c.open_backend(None).unwrap();
    let set = PrimitiveSet::generate(
        b.body(&c.action.primitives.spec()).unwrap(),
        &c.action.primitives,
    );
    assert!(set.index("twist").is_none());
    assert!(set.index("reach_left").is_some());
    assert!(
        set.skipped()
            .iter()
            .any(|(what, why)| what.contains("twist") && why.contains("fewer than 3")),
        "{:?}",
        set.skipped()
    );
}
