//! Exploration: smooth, seeded joint motion around a home pose.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::types::{Command, CommandMode, JointVec, Time, MAX_JOINTS};

/// Sum-of-sines position targets around `home`, with seeded amplitudes, frequencies and phases.
/// Deterministic for a seed; allocation-free per call.
#[derive(Clone, Debug)]
pub struct SineExplorer {
    home: JointVec,
    amp: [[f64; 2]; MAX_JOINTS],
    freq: [[f64; 2]; MAX_JOINTS],
    phase: [[f64; 2]; MAX_JOINTS],
    t0: Time,
}

impl SineExplorer {
    /// An explorer around `home` (one value per joint) with amplitudes up to `max_amp` rad,
    /// starting (at `home`, ramping in over one second) at `t0`.
    pub fn new(home: &[f64], max_amp: f64, seed: u64, t0: Time) -> SineExplorer {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_e4e1);
        let mut s = SineExplorer {
            home: home.iter().copied().take(MAX_JOINTS).collect(),
            amp: [[0.0; 2]; MAX_JOINTS],
            freq: [[0.0; 2]; MAX_JOINTS],
            phase: [[0.0; 2]; MAX_JOINTS],
            t0,
        };
        for j in 0..s.home.len() {
            for k in 0..2 {
                s.amp[j][k] = rng.gen_range(0.3..1.0) * max_amp / 2.0;
                s.freq[j][k] = rng.gen_range(0.05..0.6);
                s.phase[j][k] = rng.gen_range(0.0..std::f64::consts::TAU);
            }
        }
        s
    }

    /// Writes the position command for time `t` into `cmd`.
    pub fn command(&self, t: Time, cmd: &mut Command) {
        let ts = (t.0 - self.t0.0).max(0) as f64 * 1e-9;
        cmd.t = t;
        cmd.mode = CommandMode::Position;
        cmd.values.clear();
        for j in 0..self.home.len() {
            let mut v = self.home[j];
            for k in 0..2 {
                // ramp in over the first second so the arm does not jump at start
                let ramp = ts.min(1.0);
                v += ramp
                    * self.amp[j][k]
                    * ((std::f64::consts::TAU * self.freq[j][k] * ts + self.phase[j][k]).sin()
                        - self.phase[j][k].sin());
            }
            cmd.values.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = SineExplorer::new(&[0.0, 1.0], 0.5, 1, Time::ZERO);
        let b = SineExplorer::new(&[0.0, 1.0], 0.5, 1, Time::ZERO);
        let c = SineExplorer::new(&[0.0, 1.0], 0.5, 2, Time::ZERO);
        let (mut ca, mut cb, mut cc) = (Command::default(), Command::default(), Command::default());
        let t = Time::from_secs_f64(3.3);
        a.command(t, &mut ca);
        b.command(t, &mut cb);
        c.command(t, &mut cc);
        assert_eq!(ca, cb);
        assert_ne!(ca, cc);
        // starts at home
        a.command(Time::ZERO, &mut ca);
        assert_eq!(ca.values.as_slice(), &[0.0, 1.0]);
    }
}
