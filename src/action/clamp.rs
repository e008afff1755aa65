//! The safety clamp between the action stage and the backend. Always on: nothing reaches
//! `Backend::write` without passing through [`SafetyClamp::apply`] (the control loop calls it
//! every cycle, see `pipeline::ControlLoop::cycle`).
//!
//! Per joint: position targets are clamped into the joint limits and rate-limited (a position
//! target moves at most `max_velocity * period` per cycle from the previous target, or from the
//! measured position when there is no previous target); a joint measured faster than
//! `max_velocity` (a servo catching up, gravity) gets its measured position as target, so its
//! servo brakes (counted as `overspeed`); velocity commands are clamped to `max_velocity`;
//! effort commands to `max_effort`. Malformed commands become hold.

use serde::{Deserialize, Serialize};

use crate::types::{Command, CommandMode, JointVec};
use crate::validate::{Checker, Validate};

/// Velocity and effort limits of the clamp (`action.clamp`); 0 = unlimited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClampConfig {
    /// Largest joint speed, rad/s (or m/s): bounds position steps per cycle and velocity
    /// commands. 0 = unlimited.
    pub max_velocity: f64,
    /// Largest joint effort command, N m (or N). 0 = unlimited.
    pub max_effort: f64,
}

impl Default for ClampConfig {
    fn default() -> Self {
        ClampConfig {
            max_velocity: 0.0,
            max_effort: 0.0,
        }
    }
}

impl Validate for ClampConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("max_velocity", self.max_velocity, 0.0, 1e6);
        c.range_f64("max_effort", self.max_effort, 0.0, 1e9);
    }
}

/// Clamps commands into joint, velocity and effort limits and turns malformed commands into hold.
#[derive(Clone, Debug)]
pub struct SafetyClamp {
    limits: Vec<(f64, f64)>,
    max_step: f64,
    max_velocity: f64,
    max_effort: f64,
    prev: JointVec,
    clamped: u64,
    rate_limited: u64,
    rejected: u64,
    overspeed: u64,
}

impl SafetyClamp {
    /// A clamp for joints with position `limits` (`(lo, hi)`, infinite when unlimited), with no
    /// velocity or effort limit.
    pub fn new(limits: &[(f64, f64)]) -> SafetyClamp {
        SafetyClamp {
            limits: limits.to_vec(),
            max_step: f64::INFINITY,
            max_velocity: f64::INFINITY,
            max_effort: f64::INFINITY,
            prev: JointVec::new(),
            clamped: 0,
            rate_limited: 0,
            rejected: 0,
            overspeed: 0,
        }
    }

    /// Adds the velocity and effort limits of `cfg` for a control period of `period_ns`.
    pub fn with_limits(mut self, cfg: &ClampConfig, period_ns: i64) -> SafetyClamp {
        let inf = |v: f64| if v > 0.0 { v } else { f64::INFINITY };
        self.max_velocity = inf(cfg.max_velocity);
        self.max_step = self.max_velocity * (period_ns.max(1) as f64 * 1e-9);
        self.max_effort = inf(cfg.max_effort);
        self
    }

    /// Largest position step per cycle (infinite when unlimited).
    pub fn max_step(&self) -> f64 {
        self.max_step
    }

    /// Makes `cmd` safe in place without a measurement: the rate limit of position targets
    /// refers to the previous position target (none after a hold). No allocation.
    pub fn apply(&mut self, cmd: &mut Command) {
        self.apply_measured(cmd, &[]);
    }

    /// Makes `cmd` safe in place. `measured` (the joint positions read this cycle, may be empty)
    /// is the reference of the rate limit when there is no previous position target. Wrong
    /// length or non-finite values become hold. No allocation.
    fn apply_measured(&mut self, cmd: &mut Command, measured: &[f64]) {
        self.apply_sensed(cmd, measured, &[]);
    }

    /// [`SafetyClamp::apply_measured`], with the measured joint velocities: a joint faster
    /// than `max_velocity` gets its measured position as target (its servo brakes).
    pub fn apply_sensed(&mut self, cmd: &mut Command, measured: &[f64], velocity: &[f64]) {
        if cmd.mode == CommandMode::Hold {
            self.prev.clear();
            return;
        }
        if cmd.values.len() != self.limits.len() || cmd.values.iter().any(|v| !v.is_finite()) {
            self.rejected += 1;
            cmd.mode = CommandMode::Hold;
            cmd.values.clear();
            self.prev.clear();
            return;
        }
        match cmd.mode {
            CommandMode::Position => {
                let have_prev = self.prev.len() == cmd.values.len();
                let have_meas =
                    measured.len() == cmd.values.len() && measured.iter().all(|v| v.is_finite());
                for (i, (v, &(lo, hi))) in cmd.values.iter_mut().zip(&self.limits).enumerate() {
                    let mut c = v.clamp(lo, hi);
                    if c != *v {
                        self.clamped += 1;
                    }
                    let reference = if have_prev {
                        Some(self.prev[i])
                    } else if have_meas {
                        Some(measured[i])
                    } else {
                        None
                    };
                    if let Some(r) = reference {
                        let s = c.clamp(r - self.max_step, r + self.max_step);
                        if s != c {
                            self.rate_limited += 1;
                            c = s.clamp(lo, hi);
                        }
                    }
                    if have_meas
                        && velocity
                            .get(i)
                            .is_some_and(|w| w.is_finite() && w.abs() > self.max_velocity)
                    {
                        // overspeed: the target moves to where the joint is, and it brakes
                        c = measured[i].clamp(lo, hi);
                        self.overspeed += 1;
                    }
                    *v = c;
                }
                self.prev.clear();
                self.prev.extend(cmd.values.iter().copied());
            }
            CommandMode::Velocity | CommandMode::Effort => {
                let m = if cmd.mode == CommandMode::Velocity {
                    self.max_velocity
                } else {
                    self.max_effort
                };
                for v in cmd.values.iter_mut() {
                    let c = v.clamp(-m, m);
                    if c != *v {
                        self.clamped += 1;
                        *v = c;
                    }
                }
                self.prev.clear();
            }
            CommandMode::Hold => {}
        }
    }

    /// Forgets the previous target (the world was reset: rate limits restart from the measured
    /// position).
    pub fn reset(&mut self) {
        self.prev.clear();
    }

    /// Cycles x joints braked because the joint was measured faster than `max_velocity`.
    pub fn overspeed(&self) -> u64 {
        self.overspeed
    }

    /// Values clamped into position, velocity or effort limits so far.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// Position targets rate-limited so far.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited
    }

    /// Commands turned into hold so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{JointVec, Time};

    fn cmd(mode: CommandMode, v: &[f64]) -> Command {
        Command {
            t: Time::ZERO,
            mode,
            values: v.iter().copied().collect::<JointVec>(),
        }
    }

    #[test]
    fn clamps_positions_and_counts() {
        let mut c = SafetyClamp::new(&[(-1.0, 1.0), (0.0, 2.0)]);
        let mut k = cmd(CommandMode::Position, &[5.0, -3.0]);
        c.apply(&mut k);
        assert_eq!(k.values.as_slice(), &[1.0, 0.0]);
        assert_eq!(c.clamped(), 2);
    }

    #[test]
    fn an_overspeeding_joint_is_braked_at_its_measured_position() {
        let cfg = ClampConfig {
            max_velocity: 2.0,
            max_effort: 0.0,
        };
        let mut c = SafetyClamp::new(&[(-3.0, 3.0); 2]).with_limits(&cfg, 2_000_000);
        let mut k = cmd(CommandMode::Position, &[1.0, 1.0]);
        // joint 0 measured at 2.5 rad/s (too fast), joint 1 at 1.5 rad/s
        c.apply_sensed(&mut k, &[0.5, 0.5], &[2.5, -1.5]);
        assert_eq!(k.values[0], 0.5, "overspeed: target = measured position");
        assert!(
            (k.values[1] - 0.504).abs() < 1e-12,
            "rate-limited from measured"
        );
        assert_eq!(c.overspeed(), 1);
        // NaN velocities are not evidence of overspeed
        let mut k = cmd(CommandMode::Position, &[1.0, 1.0]);
        c.apply_sensed(&mut k, &[0.5, 0.5], &[f64::NAN, 0.0]);
        assert_eq!(c.overspeed(), 1);
    }

    #[test]
    fn malformed_commands_become_hold() {
        let mut c = SafetyClamp::new(&[(-1.0, 1.0)]);
        let mut k = cmd(CommandMode::Position, &[f64::NAN]);
        c.apply(&mut k);
        assert_eq!(k.mode, CommandMode::Hold);
        let mut k = cmd(CommandMode::Velocity, &[0.1, 0.2]);
        c.apply(&mut k);
        assert_eq!(k.mode, CommandMode::Hold);
        assert_eq!(c.rejected(), 2);
    }

    #[test]
    fn rate_limits_position_steps_velocity_and_effort() {
        let cfg = ClampConfig {
            max_velocity: 2.0,
            max_effort: 5.0,
        };
        let mut c = SafetyClamp::new(&[(-3.0, 3.0); 2]).with_limits(&cfg, 2_000_000);
        assert!((c.max_step() - 0.004).abs() < 1e-12);
        // first command: relative to the measurement
        let mut k = cmd(CommandMode::Position, &[1.0, -1.0]);
        c.apply_measured(&mut k, &[0.0, 0.0]);
        assert!((k.values[0] - 0.004).abs() < 1e-12 && (k.values[1] + 0.004).abs() < 1e-12);
        // next: relative to the previous target
        let mut k = cmd(CommandMode::Position, &[1.0, 0.0]);
        c.apply_measured(&mut k, &[0.5, 0.5]);
        assert!((k.values[0] - 0.008).abs() < 1e-12 && k.values[1].abs() < 1e-12);
        assert_eq!(c.rate_limited(), 3);
        let mut k = cmd(CommandMode::Velocity, &[9.0, -1.0]);
        c.apply(&mut k);
        assert_eq!(k.values.as_slice(), &[2.0, -1.0]);
        let mut k = cmd(CommandMode::Effort, &[-90.0, 1.0]);
        c.apply(&mut k);
        assert_eq!(k.values.as_slice(), &[-5.0, 1.0]);
    }
}
