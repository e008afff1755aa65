//! The curriculum of motor primitives and the literacy evaluation (`sattva eval literacy`).
//!
//! ```text
//! curriculum (seeded) -> scenarios (primitive + amplitude, speed, object position and mass, seed)
//!   -> episode in MuJoCo under the virtual-time executor: reset, settle, primitive through the
//!      control loop (read -> fuse -> act -> clamp -> write)
//!   -> experience = encoder(state before, command summary, state after; + trajectory profile)
//!   -> substrate.learn (training) / substrate.activate (recognition of novel scenarios)
//!   -> metrics (attractors, purity, NMI, recognition accuracy) + report + exported vectors
//! ```

pub mod metrics;

#[cfg(feature = "mujoco")]
pub mod baselines;
#[cfg(feature = "mujoco")]
pub mod episode;
#[cfg(feature = "mujoco")]
pub mod literacy;
#[cfg(feature = "mujoco")]
pub mod report;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::action::{Primitive, PrimitiveParams, PRIMITIVES};
use crate::config::{Checker, Validate};

/// Values one variation takes in training and, disjoint, in the novel scenarios.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Variation {
    /// Values used in training.
    pub train: Vec<f64>,
    /// Held-out values used only in the novel scenarios.
    pub novel: Vec<f64>,
}

impl Default for Variation {
    fn default() -> Self {
        Variation {
            train: vec![1.0],
            novel: vec![1.0],
        }
    }
}

fn var(train: &[f64], novel: &[f64]) -> Variation {
    Variation {
        train: train.to_vec(),
        novel: novel.to_vec(),
    }
}

impl Variation {
    fn validate(&self, c: &mut Checker, lo: f64, hi: f64) {
        c.require(!self.train.is_empty(), "train", "needs at least one value");
        c.require(!self.novel.is_empty(), "novel", "needs at least one value");
        for (k, v) in self
            .train
            .iter()
            .map(|v| ("train", v))
            .chain(self.novel.iter().map(|v| ("novel", v)))
        {
            c.range_f64(k, *v, lo, hi);
        }
    }
}

/// The `eval:` section: curriculum, episodes and experience features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Training episodes (experiences learned).
    pub train_episodes: u32,
    /// Novel-scenario episodes (recognised, not learned).
    pub novel_episodes: u32,
    /// Episodes encoded before training only to calibrate the encoder's feature statistics
    /// (not learned, not scored); the statistics are frozen afterwards.
    pub calibration_episodes: u32,
    /// Nominal duration of a primitive at speed 1, s.
    pub primitive_s: f64,
    /// Hold before each primitive (object settles, fusion warms up), s.
    pub settle_s: f64,
    /// Phase bins of the trajectory profile (sensed joint motion and touch per bin).
    pub profile_bins: u32,
    /// Weight of the sensed joint trajectory profile in the experience.
    pub trajectory_weight: f64,
    /// Weight of the touch profile in the experience.
    pub touch_weight: f64,
    /// Motion amplitude factor.
    pub amplitude: Variation,
    /// Speed factor.
    pub speed: Variation,
    /// Object mass, kg.
    pub mass: Variation,
    /// Object x offset from its home position, m.
    pub object_dx: Variation,
    /// Object y offset from its home position, m.
    pub object_dy: Variation,
    /// Output directory of `sattva eval literacy` (relative to the current directory).
    pub out_dir: String,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            train_episodes: 200,
            novel_episodes: 96,
            calibration_episodes: 48,
            primitive_s: 1.6,
            settle_s: 0.3,
            profile_bins: 8,
            trajectory_weight: 2.0,
            touch_weight: 0.7,
            amplitude: var(&[0.85, 1.0, 1.15], &[0.925, 1.075, 1.2]),
            speed: var(&[0.8, 1.0, 1.2], &[0.9, 1.1, 1.3]),
            mass: var(&[0.1, 0.2, 0.3, 0.4], &[0.15, 0.25, 0.35, 0.5]),
            object_dx: var(&[-0.03, 0.0, 0.03], &[-0.015, 0.015, 0.04]),
            object_dy: var(&[-0.03, 0.0, 0.03], &[-0.015, 0.015]),
            out_dir: "out/literacy".into(),
        }
    }
}

/// Largest number of phase bins.
pub const MAX_BINS: usize = 32;

impl Validate for EvalConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("train_episodes", self.train_episodes as u64, 1, 1_000_000);
        c.range_u64("novel_episodes", self.novel_episodes as u64, 0, 1_000_000);
        c.range_u64(
            "calibration_episodes",
            self.calibration_episodes as u64,
            0,
            1_000_000,
        );
        c.range_f64("primitive_s", self.primitive_s, 0.1, 60.0);
        c.range_f64("settle_s", self.settle_s, 0.0, 60.0);
        c.range_u64("profile_bins", self.profile_bins as u64, 1, MAX_BINS as u64);
        c.range_f64("trajectory_weight", self.trajectory_weight, 0.0, 1000.0);
        c.range_f64("touch_weight", self.touch_weight, 0.0, 1000.0);
        c.section("amplitude", |c| self.amplitude.validate(c, 0.0, 3.0));
        c.section("speed", |c| self.speed.validate(c, 0.1, 10.0));
        c.section("mass", |c| self.mass.validate(c, 0.001, 100.0));
        c.section("object_dx", |c| self.object_dx.validate(c, -0.2, 0.2));
        c.section("object_dy", |c| self.object_dy.validate(c, -0.2, 0.2));
        c.require(!self.out_dir.is_empty(), "out_dir", "must not be empty");
    }
}

/// Which part of the evaluation an episode belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Encoder calibration (not learned).
    Calibration,
    /// Training (learned).
    Train,
    /// Novel scenario (recognised only).
    Novel,
}

impl Split {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Calibration => "calibration",
            Split::Train => "train",
            Split::Novel => "novel",
        }
    }
}

/// One episode to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    /// Split.
    pub split: Split,
    /// The primitive (the true label).
    pub primitive: Primitive,
    /// Its variation (the seed drives execution jitter and sensor noise).
    pub params: PrimitiveParams,
}

/// Home position of the object in the reference scene, m.
pub const OBJECT_HOME: [f64; 2] = [0.42, 0.0];

/// The curriculum: `n` scenarios of `split`, primitives in seeded shuffled rounds (every
/// primitive once per round), variations drawn from the split's values. Deterministic in `seed`.
pub fn curriculum(cfg: &EvalConfig, split: Split, n: usize, seed: u64) -> Vec<Scenario> {
    let stream = match split {
        Split::Calibration => 1,
        Split::Train => 2,
        Split::Novel => 3,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let pick = |rng: &mut ChaCha8Rng, v: &Variation| {
        let vals = if split == Split::Novel {
            &v.novel
        } else {
            &v.train
        };
        // (validation requires values; an unvalidated empty list falls back to 1)
        let i = rng.gen_range(0..vals.len().max(1));
        vals.get(i).copied().unwrap_or(1.0)
    };
    let mut order: Vec<Primitive> = Vec::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if order.is_empty() {
            order = PRIMITIVES.to_vec();
            order.shuffle(&mut rng);
        }
        let primitive = order.pop().unwrap_or(Primitive::HoldStill);
        let params = PrimitiveParams {
            amplitude: pick(&mut rng, &cfg.amplitude),
            speed: pick(&mut rng, &cfg.speed),
            object: [
                OBJECT_HOME[0] + pick(&mut rng, &cfg.object_dx),
                OBJECT_HOME[1] + pick(&mut rng, &cfg.object_dy),
            ],
            mass: pick(&mut rng, &cfg.mass),
            // disjoint seed ranges per split: novel noise seeds are never seen in training
            seed: seed
                .wrapping_mul(1_000_003)
                .wrapping_add(stream * 1_000_000_000 + i as u64),
        };
        out.push(Scenario {
            split,
            primitive,
            params,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curriculum_is_deterministic_balanced_and_holds_out_novel_values() {
        let cfg = EvalConfig::default();
        let a = curriculum(&cfg, Split::Train, 200, 7);
        assert_eq!(a, curriculum(&cfg, Split::Train, 200, 7));
        assert_ne!(a, curriculum(&cfg, Split::Train, 200, 8));
        let mut per = vec![0; PRIMITIVES.len()];
        a.iter().for_each(|s| per[s.primitive.index()] += 1);
        let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
        assert!(hi - lo <= 1, "{per:?}");
        let novel = curriculum(&cfg, Split::Novel, 96, 7);
        for s in &novel {
            assert!(!cfg.speed.train.contains(&s.params.speed));
            assert!(!cfg.mass.train.contains(&s.params.mass));
            assert!(a.iter().all(|t| t.params.seed != s.params.seed));
        }
    }
}
