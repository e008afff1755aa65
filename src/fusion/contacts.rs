//! Contacts: normal forces debounced into touch states with hysteresis.
//!
//! A channel turns on after `on_samples` consecutive samples above `on_force_n` and off after
//! `off_samples` consecutive samples below `off_force_n`; a NaN/Inf force keeps the state.

use arrayvec::ArrayVec;

use super::ContactsFilterConfig;
use crate::types::{ContactVec, MAX_CONTACTS};

/// Debounced contact states of one cycle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactEstimate {
    /// Touching, per channel.
    pub touching: ArrayVec<bool, MAX_CONTACTS>,
    /// Last finite force per channel, N.
    pub force: ContactVec,
}

/// Contact debouncer. Allocation-free.
#[derive(Clone, Debug)]
pub struct ContactFilter {
    cfg: ContactsFilterConfig,
    run: ArrayVec<u32, MAX_CONTACTS>,
    est: ContactEstimate,
    /// Non-finite forces seen.
    pub nonfinite: u64,
}

impl ContactFilter {
    /// A debouncer with `cfg`.
    pub fn new(cfg: &ContactsFilterConfig) -> ContactFilter {
        ContactFilter {
            cfg: cfg.clone(),
            run: ArrayVec::new(),
            est: ContactEstimate::default(),
            nonfinite: 0,
        }
    }

    /// The latest estimate.
    pub fn estimate(&self) -> &ContactEstimate {
        &self.est
    }

    /// Feeds one sample of forces (N).
    pub fn update(&mut self, forces: &[f64]) -> &ContactEstimate {
        if forces.len() != self.est.force.len() {
            self.run.clear();
            self.est.touching.clear();
            self.est.force.clear();
            for _ in forces {
                self.run.push(0);
                self.est.touching.push(false);
                self.est.force.push(0.0);
            }
        }
        for (i, &f) in forces.iter().enumerate() {
            if !f.is_finite() {
                self.nonfinite += 1;
                continue;
            }
            self.est.force[i] = f;
            let on = self.est.touching[i];
            // count consecutive samples that argue for a change of state
            let wants_change = if on {
                f < self.cfg.off_force_n
            } else {
                f > self.cfg.on_force_n
            };
            if wants_change {
                self.run[i] += 1;
                let need = if on {
                    self.cfg.off_samples
                } else {
                    self.cfg.on_samples
                };
                if self.run[i] >= need {
                    self.est.touching[i] = !on;
                    self.run[i] = 0;
                }
            } else {
                self.run[i] = 0;
            }
        }
        &self.est
    }
}
