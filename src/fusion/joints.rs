//! Joint state: positions as measured, velocities as measured or by filtered differentiation,
//! efforts as measured. Non-finite channels keep their last good value and are flagged.

use super::JointsFilterConfig;
use crate::types::{JointSample, JointVec, Time};

/// Joint estimate of one cycle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JointEstimate {
    /// Positions, rad or m.
    pub position: JointVec,
    /// Velocities, rad/s or m/s (measured, or estimated when `velocity_estimated`).
    pub velocity: JointVec,
    /// Efforts, N*m or N (empty when not measured).
    pub effort: JointVec,
    /// Velocities come from filtered differentiation of positions.
    pub velocity_estimated: bool,
    /// Some channel was non-finite this cycle (its last good value is kept).
    pub had_nonfinite: bool,
}

/// Joint-state stage. Allocation-free (inline arrays).
#[derive(Clone, Debug)]
pub struct JointFilter {
    cfg: JointsFilterConfig,
    last_t: Option<Time>,
    last_pos: JointVec,
    est: JointEstimate,
    /// Non-finite joint values seen (count of values, not frames).
    pub nonfinite: u64,
}

impl JointFilter {
    /// A joint filter with `cfg`.
    pub fn new(cfg: &JointsFilterConfig) -> JointFilter {
        JointFilter {
            cfg: cfg.clone(),
            last_t: None,
            last_pos: JointVec::new(),
            est: JointEstimate::default(),
            nonfinite: 0,
        }
    }

    /// The latest estimate.
    pub fn estimate(&self) -> &JointEstimate {
        &self.est
    }

    /// Feeds the joint sample taken at `t`. Samples with a timestamp not after the last are
    /// ignored (returns the previous estimate).
    pub fn update(&mut self, t: Time, s: &JointSample) -> &JointEstimate {
        if matches!(self.last_t, Some(last) if t <= last) {
            return &self.est;
        }
        let n = s.position.len();
        if n != self.est.position.len() {
            // joint set changed (or first sample): start over
            self.est = JointEstimate::default();
            self.last_t = None;
            self.last_pos.clear();
        }
        self.est.had_nonfinite = false;
        // positions
        for i in 0..n {
            let p = s.position[i];
            if self.est.position.len() <= i {
                self.est.position.push(if p.is_finite() { p } else { 0.0 });
            } else if p.is_finite() {
                self.est.position[i] = p;
            }
            if !p.is_finite() {
                self.nonfinite += 1;
                self.est.had_nonfinite = true;
            }
        }
        // velocities
        let dt = self.last_t.map(|l| (t.0 - l.0) as f64 * 1e-9);
        self.est.velocity_estimated = s.velocity.len() != n;
        if self.est.velocity.len() != n {
            self.est.velocity.clear();
            self.est.velocity.extend(std::iter::repeat_n(0.0, n));
        }
        if !self.est.velocity_estimated {
            for i in 0..n {
                let v = s.velocity[i];
                if v.is_finite() {
                    self.est.velocity[i] = v;
                } else {
                    self.nonfinite += 1;
                    self.est.had_nonfinite = true;
                }
            }
        } else if let Some(dt) = dt.filter(|&dt| dt > 0.0 && dt <= self.cfg.max_gap_s) {
            let fc = self.cfg.velocity_cutoff_hz;
            let alpha = 1.0 - (-2.0 * std::f64::consts::PI * fc * dt).exp();
            for i in 0..n {
                let raw = (self.est.position[i] - self.last_pos[i]) / dt;
                self.est.velocity[i] += alpha * (raw - self.est.velocity[i]);
            }
        } else {
            // first sample or after a gap: no derivative yet
            self.est.velocity.iter_mut().for_each(|v| *v = 0.0);
        }
        // efforts
        self.est.effort.clear();
        for &e in &s.effort {
            if e.is_finite() {
                self.est.effort.push(e);
            } else {
                self.nonfinite += 1;
                self.est.had_nonfinite = true;
                self.est.effort.push(0.0);
            }
        }
        self.last_pos.clear();
        self.last_pos
            .try_extend_from_slice(&self.est.position)
            .unwrap_or(());
        self.last_t = Some(t);
        &self.est
    }
}
