//! The curriculum of motor primitives: seeded scenarios (primitive, amplitude, speed, object
//! position and mass, noise seed) split into calibration, training and novel sets, and the
//! [`CurriculumSource`] that performs them as the control loop's command source.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Mark, Primitive, PrimitiveParams, PrimitiveRun, Role, Tag, PRIMITIVES};
use crate::backend::EpisodeSetup;
use crate::types::{Command, Time};
use crate::validate::{Checker, Validate};

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
            amplitude: var(&[0.85, 1.0, 1.15], &[0.925, 1.075, 1.2]),
            speed: var(&[0.8, 1.0, 1.2], &[0.9, 1.1, 1.3]),
            mass: var(&[0.1, 0.2, 0.3, 0.4], &[0.15, 0.25, 0.35, 0.5]),
            object_dx: var(&[-0.03, 0.0, 0.03], &[-0.015, 0.015, 0.04]),
            object_dy: var(&[-0.03, 0.0, 0.03], &[-0.015, 0.015]),
            out_dir: "out/literacy".into(),
        }
    }
}

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

/// Where the curriculum source is in its current episode.
#[derive(Clone, Debug)]
enum Phase {
    /// The next episode's world must be set up.
    Setup,
    /// Holding until the world has settled; the primitive starts at this time.
    Settling(Time),
    /// Performing the primitive until this time (exclusive).
    Performing(PrimitiveRun, Time),
    /// All episodes done.
    Finished,
}

/// What the curriculum asks of the control loop this cycle, before it reads the sensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prepare {
    /// Nothing.
    Nothing,
    /// Set the world up for the next episode (reset, place and weigh the object); the stages
    /// that track the world restart.
    Setup(EpisodeSetup),
    /// The curriculum is done: hold, and the run may end.
    Finished,
}

/// The curriculum as a command source of the control loop: per scenario, the world is set up
/// (where the backend can do that), the robot holds for `eval.settle_s`, then performs the
/// primitive from where it stands; the primitive's cycles form one experience, tagged with the
/// primitive's name (the teacher) and its split's role. Allocates only at construction.
#[derive(Clone, Debug)]
pub struct CurriculumSource {
    scenarios: Vec<Scenario>,
    next: usize,
    phase: Phase,
    settle_ns: i64,
    primitive_s: f64,
    period_ns: i64,
    home: [f64; 2],
}

impl CurriculumSource {
    /// Performs `scenarios` in order at control period `period_ns`.
    pub fn new(cfg: &EvalConfig, scenarios: Vec<Scenario>, period_ns: i64) -> CurriculumSource {
        let period_ns = period_ns.max(1);
        CurriculumSource {
            scenarios,
            next: 0,
            phase: Phase::Setup,
            settle_ns: (cfg.settle_s * 1e9 / period_ns as f64).round() as i64 * period_ns,
            primitive_s: cfg.primitive_s,
            period_ns,
            home: OBJECT_HOME,
        }
    }

    /// The standard plan: `calibration` calibration episodes, then `train` training episodes,
    /// then `novel` novel ones (recognised only); training scenarios are drawn with
    /// `seed + offset` (a resumed run continues with new scenarios).
    pub fn plan(
        cfg: &EvalConfig,
        seed: u64,
        offset: u64,
        calibration: usize,
        train: usize,
        novel: usize,
    ) -> Vec<Scenario> {
        let mut v = curriculum(cfg, Split::Calibration, calibration, seed);
        v.extend(curriculum(
            cfg,
            Split::Train,
            train,
            seed.wrapping_add(offset),
        ));
        v.extend(curriculum(cfg, Split::Novel, novel, seed));
        v
    }

    /// The scenarios, in order.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// Episodes started so far.
    pub fn started(&self) -> usize {
        self.next
    }

    /// Called at the start of a cycle at time `t`, before the sensors are read.
    pub fn prepare(&mut self, t: Time) -> Prepare {
        match self.phase {
            Phase::Setup => match self.scenarios.get(self.next) {
                Some(sc) => {
                    self.phase = Phase::Settling(t.add_nanos(self.settle_ns));
                    Prepare::Setup(EpisodeSetup {
                        seed: sc.params.seed,
                        object_offset: [
                            sc.params.object[0] - self.home[0],
                            sc.params.object[1] - self.home[1],
                        ],
                        object_mass: sc.params.mass,
                    })
                }
                None => {
                    self.phase = Phase::Finished;
                    Prepare::Finished
                }
            },
            Phase::Finished => Prepare::Finished,
            _ => Prepare::Nothing,
        }
    }

    /// This cycle's command (after the sensors were fused into joint positions `q`) and where
    /// the cycle stands in the episode.
    pub fn command(&mut self, t: Time, q: &[f64], cmd: &mut Command) -> Mark {
        if let Phase::Settling(start) = self.phase {
            if t < start {
                *cmd = Command::hold(t);
                return Mark::Pause;
            }
            let sc = &self.scenarios[self.next];
            let run = PrimitiveRun::new(sc.primitive, sc.params, q, t, self.primitive_s);
            let end = t.add_nanos(run.duration_ns());
            run.command(t, cmd);
            let tag = Tag {
                label: sc.primitive.name(),
                role: match sc.split {
                    Split::Calibration => Role::Calibrate,
                    Split::Train => Role::Learn,
                    Split::Novel => Role::Recognise,
                },
                episode: self.next as u32,
            };
            self.phase = Phase::Performing(run, end);
            return Mark::Begin(tag);
        }
        match &self.phase {
            Phase::Performing(run, end) => {
                run.command(t, cmd);
                let phase = run.phase(t);
                if t.0 + self.period_ns >= end.0 {
                    self.next += 1;
                    self.phase = Phase::Setup;
                    Mark::End(phase)
                } else {
                    Mark::Within(phase)
                }
            }
            _ => {
                *cmd = Command::hold(t);
                Mark::Pause
            }
        }
    }
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
