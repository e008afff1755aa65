//! The safety clamp between the action stage and the backend. Always on: nothing reaches
//! `Backend::write` without passing through [`SafetyClamp::apply`].

use crate::types::{Command, CommandMode};

/// Clamps position targets into joint limits and turns malformed commands into hold.
#[derive(Clone, Debug)]
pub struct SafetyClamp {
    limits: Vec<(f64, f64)>,
    clamped: u64,
    rejected: u64,
}

impl SafetyClamp {
    /// A clamp for joints with position `limits` (`(lo, hi)`, infinite when unlimited).
    pub fn new(limits: &[(f64, f64)]) -> SafetyClamp {
        SafetyClamp {
            limits: limits.to_vec(),
            clamped: 0,
            rejected: 0,
        }
    }

    /// Makes `cmd` safe in place: wrong length or non-finite values become hold; position
    /// targets outside the limits are clamped (and counted). No allocation.
    pub fn apply(&mut self, cmd: &mut Command) {
        if cmd.mode == CommandMode::Hold {
            return;
        }
        if cmd.values.len() != self.limits.len() || cmd.values.iter().any(|v| !v.is_finite()) {
            self.rejected += 1;
            cmd.mode = CommandMode::Hold;
            cmd.values.clear();
            return;
        }
        if cmd.mode == CommandMode::Position {
            for (v, &(lo, hi)) in cmd.values.iter_mut().zip(&self.limits) {
                let c = v.clamp(lo, hi);
                if c != *v {
                    self.clamped += 1;
                    *v = c;
                }
            }
        }
    }

    /// Values clamped so far.
    pub fn clamped(&self) -> u64 {
        self.clamped
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
}
