//! The safety clamp's arithmetic, case by case, against values worked out by hand (no simulator:
//! `tests/action_clamp.rs` checks the clamp inside the real loop on MuJoCo). Written to leave no
//! mutant of `src/action/clamp.rs` alive (README, "Mutation testing"): every comparison at its
//! boundary, every counter exactly, every reference of the rate limit.
//!
//! Limits used throughout: `max_velocity` 2 rad/s and a 2 ms period, so the largest position step
//! is 2 * 0.002 = 0.004 rad per cycle; `max_effort` 5 N m.

use std::path::Path;

use sattva::action::{ClampConfig, SafetyClamp};
use sattva::config::Config;
use sattva::types::{Command, CommandMode, JointVec, Time};

const PERIOD_NS: i64 = 2_000_000;
const STEP: f64 = 0.004;

fn cmd(mode: CommandMode, v: &[f64]) -> Command {
    Command {
        t: Time::ZERO,
        mode,
        values: v.iter().copied().collect::<JointVec>(),
    }
}

fn limited(joints: &[(f64, f64)]) -> SafetyClamp {
    let cfg = ClampConfig {
        max_velocity: 2.0,
        max_effort: 5.0,
    };
    SafetyClamp::new(joints).with_limits(&cfg, PERIOD_NS)
}

/// Applies a position command with a measurement and returns the targets that leave the clamp.
fn pos(c: &mut SafetyClamp, target: &[f64], measured: &[f64], velocity: &[f64]) -> Vec<f64> {
    let mut k = cmd(CommandMode::Position, target);
    c.apply_sensed(&mut k, measured, velocity);
    assert_eq!(k.mode, CommandMode::Position);
    k.values.to_vec()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
}

#[test]
fn max_step_is_velocity_times_period_and_zero_means_unlimited() {
    assert!((limited(&[(-1.0, 1.0)]).max_step() - STEP).abs() < 1e-15);
    // 0 = unlimited (not "may not move")
    let free = SafetyClamp::new(&[(-1.0, 1.0)]).with_limits(&ClampConfig::default(), PERIOD_NS);
    assert_eq!(free.max_step(), f64::INFINITY);
    let mut free = free;
    // with no speed limit a step of 1.5 rad passes, and velocity commands are not clamped to 0
    assert_eq!(pos(&mut free, &[0.9], &[-0.6], &[]), vec![0.9]);
    let mut k = cmd(CommandMode::Velocity, &[-7.0]);
    free.apply(&mut k);
    assert_eq!(k.values.as_slice(), &[-7.0]);
    assert_eq!(free.rate_limited() + free.clamped(), 0);
}

#[test]
fn position_targets_are_clamped_into_the_joint_limits_and_counted() {
    let mut c = SafetyClamp::new(&[(-1.0, 1.0), (0.0, 2.0), (-3.0, 3.0)]);
    let mut k = cmd(CommandMode::Position, &[5.0, -3.0, 0.25]);
    c.apply(&mut k);
    assert_eq!(k.values.as_slice(), &[1.0, 0.0, 0.25]);
    assert_eq!(c.clamped(), 2);
    let mut k = cmd(CommandMode::Position, &[-2.0, 1.0, 9.0]);
    c.apply(&mut k);
    assert_eq!(k.values.as_slice(), &[-1.0, 1.0, 3.0]);
    assert_eq!(c.clamped(), 4);
    assert_eq!((c.rate_limited(), c.rejected(), c.overspeed()), (0, 0, 0));
}

#[test]
fn the_rate_limit_steps_from_the_measurement_then_from_the_previous_target() {
    let mut c = limited(&[(-3.0, 3.0); 3]);
    // first command: no previous target, the measurement (0.5) is the reference; up, down, and
    // one within a step
    let out = pos(&mut c, &[1.0, 0.0, 0.502], &[0.5, 0.5, 0.5], &[]);
    assert!(close(&out, &[0.5 + STEP, 0.5 - STEP, 0.502]), "{out:?}");
    assert_eq!(c.rate_limited(), 2);
    // next: the previous target is the reference, whatever is measured now
    let out = pos(&mut c, &[1.0, 0.0, 0.502], &[2.0, -2.0, 2.0], &[]);
    assert!(
        close(&out, &[0.5 + 2.0 * STEP, 0.5 - 2.0 * STEP, 0.502]),
        "{out:?}"
    );
    assert_eq!(c.rate_limited(), 4);
    assert_eq!(c.clamped(), 0);
}

#[test]
fn without_a_usable_measurement_the_first_target_is_not_rate_limited() {
    // no measurement, a measurement of the wrong length, a NaN in the measurement: no reference
    for measured in [&[][..], &[0.0][..], &[0.0, f64::NAN][..]] {
        let mut c = limited(&[(-3.0, 3.0); 2]);
        let out = pos(&mut c, &[1.0, -1.0], measured, &[]);
        assert_eq!(out, vec![1.0, -1.0], "measured {measured:?}");
        assert_eq!(c.rate_limited(), 0);
    }
}

#[test]
fn a_rate_limited_target_still_respects_the_joint_limits() {
    let mut c = limited(&[(-1.0, 1.0)]);
    // measured beyond the limit (pushed there): the step from 1.2 toward the target 1.0 ends at
    // 1.196, which is outside [-1, 1]: the target is the limit
    let out = pos(&mut c, &[1.0], &[1.2], &[]);
    assert_eq!(out, vec![1.0]);
    assert_eq!(c.rate_limited(), 1);
}

#[test]
fn hold_reset_and_non_position_commands_forget_the_previous_target() {
    let fresh = |c: &mut SafetyClamp| pos(c, &[1.0], &[-1.0], &[]);
    // after a hold: reference is the measurement (-1), not the previous target (0.004)
    let mut c = limited(&[(-3.0, 3.0)]);
    pos(&mut c, &[1.0], &[0.0], &[]);
    let mut h = cmd(CommandMode::Hold, &[]);
    c.apply(&mut h);
    assert_eq!(h.mode, CommandMode::Hold);
    assert!(close(&fresh(&mut c), &[-1.0 + STEP]));
    // after reset()
    let mut c = limited(&[(-3.0, 3.0)]);
    pos(&mut c, &[1.0], &[0.0], &[]);
    c.reset();
    assert!(close(&fresh(&mut c), &[-1.0 + STEP]));
    // after a velocity and after an effort command
    for mode in [CommandMode::Velocity, CommandMode::Effort] {
        let mut c = limited(&[(-3.0, 3.0)]);
        pos(&mut c, &[1.0], &[0.0], &[]);
        c.apply(&mut cmd(mode, &[0.0]));
        assert!(close(&fresh(&mut c), &[-1.0 + STEP]), "{mode:?}");
    }
    // and after a rejected command
    let mut c = limited(&[(-3.0, 3.0)]);
    pos(&mut c, &[1.0], &[0.0], &[]);
    c.apply(&mut cmd(CommandMode::Position, &[f64::NAN]));
    assert!(close(&fresh(&mut c), &[-1.0 + STEP]));
    // without any of those: the previous target (0.004) is the reference
    let mut c = limited(&[(-3.0, 3.0)]);
    pos(&mut c, &[1.0], &[0.0], &[]);
    assert!(close(&fresh(&mut c), &[2.0 * STEP]));
}

#[test]
fn malformed_commands_become_hold_and_are_counted_once_each() {
    let mut c = limited(&[(-1.0, 1.0), (-1.0, 1.0)]);
    for (mode, v) in [
        (CommandMode::Position, &[0.1][..]),                // too few
        (CommandMode::Velocity, &[0.1, 0.2, 0.3][..]),      // too many
        (CommandMode::Effort, &[0.1, f64::NAN][..]),        // NaN
        (CommandMode::Position, &[f64::INFINITY, 0.0][..]), // infinite
    ] {
        let mut k = cmd(mode, v);
        c.apply(&mut k);
        assert_eq!(k.mode, CommandMode::Hold, "{v:?}");
        assert!(k.values.is_empty(), "{v:?}");
    }
    assert_eq!(c.rejected(), 4);
    // a well-formed one passes
    let mut k = cmd(CommandMode::Velocity, &[0.1, -0.2]);
    c.apply(&mut k);
    assert_eq!(
        (k.mode, k.values.as_slice()),
        (CommandMode::Velocity, &[0.1, -0.2][..])
    );
    assert_eq!(c.rejected(), 4);
}

#[test]
fn velocity_and_effort_commands_are_clamped_to_their_own_limits() {
    let mut c = limited(&[(-1.0, 1.0); 4]);
    let mut k = cmd(CommandMode::Velocity, &[3.0, -3.0, 1.5, -1.5]);
    c.apply(&mut k);
    assert_eq!(k.values.as_slice(), &[2.0, -2.0, 1.5, -1.5]);
    assert_eq!(c.clamped(), 2);
    let mut k = cmd(CommandMode::Effort, &[3.0, -9.0, 6.0, -4.0]);
    c.apply(&mut k);
    assert_eq!(k.values.as_slice(), &[3.0, -5.0, 5.0, -4.0]);
    assert_eq!(c.clamped(), 4);
    // velocity and effort commands are not position targets: no joint limit applies to them
    assert_eq!(c.rate_limited(), 0);
}

#[test]
fn overspeed_brakes_only_above_the_limit_and_only_with_a_measurement() {
    let mut c = limited(&[(-3.0, 3.0); 6]);
    let measured = [0.5; 6];
    // |w| > 2 brakes (both signs); exactly 2, 1.5, NaN and infinity do not (a non-finite reading
    // is no evidence)
    let w = [2.5, -2.5, 2.0, 1.5, f64::NAN, f64::INFINITY];
    let out = pos(&mut c, &[0.6; 6], &measured, &w);
    let r = 0.5 + STEP; // rate-limited from the measurement
    assert!(close(&out, &[0.5, 0.5, r, r, r, r]), "{out:?}");
    assert_eq!(c.overspeed(), 2);
    // an overspeeding joint measured outside its limits gets the limit, not the measurement
    let mut c = limited(&[(-1.0, 1.0)]);
    let out = pos(&mut c, &[0.0], &[1.5], &[-3.0]);
    assert_eq!(out, vec![1.0]);
    assert_eq!(c.overspeed(), 1);
    // velocities without positions: nothing to brake at, no overspeed
    let mut c = limited(&[(-3.0, 3.0)]);
    let out = pos(&mut c, &[0.7], &[], &[9.0]);
    assert_eq!(out, vec![0.7]);
    assert_eq!(c.overspeed(), 0);
}

#[test]
fn negative_clamp_limits_are_rejected_naming_the_key() {
    for key in ["max_velocity", "max_effort"] {
        let yaml = format!(
            "sattva:\n  ros__parameters:\n    backend: replay\n    action:\n      clamp:\n        {key}: -1.0\n"
        );
        let e = Config::from_yaml_str(&yaml, Path::new("clamp.yaml"), &[])
            .expect_err(key)
            .to_string();
        assert!(e.contains(&format!("action.clamp.{key}")), "{key}: {e}");
    }
    let ok = "sattva:\n  ros__parameters:\n    backend: replay\n    action:\n      clamp:\n        max_velocity: 2.0\n        max_effort: 0.0\n";
    Config::from_yaml_str(ok, Path::new("clamp.yaml"), &[]).expect("valid limits");
}
