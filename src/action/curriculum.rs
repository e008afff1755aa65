//! The curriculum of motor primitives: seeded scenarios (primitive of the robot's generated
//! library, amplitude, speed, start pose, object position and mass, noise seed) split into
//! calibration, training and novel sets, and the [`CurriculumSource`] that performs them as the
//! control loop's command source.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::primitive::PrimitiveSet;
use super::{Mark, PrimitiveParams, PrimitiveRun, Role, Tag};
use crate::backend::EpisodeSetup;
use crate::types::{Command, CommandMode, JointVec, Time};
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
    /// Start pose: every joint offset from home by this fraction of 5 % of its range (the
    /// direction per joint drawn from the episode's seed); robots that cannot be reset return
    /// there during the settle phase.
    pub start_pose: Variation,
    /// Continual-learning order in `sattva eval literacy`: the first half of training episodes
    /// performs half of the primitives, the second half the others; the first half's
    /// primitives are recognised after each half (backward transfer).
    pub continual: bool,
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
            start_pose: var(&[0.0, 0.5, 1.0], &[0.25, 0.75, 1.25]),
            continual: true,
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
        c.section("start_pose", |c| self.start_pose.validate(c, 0.0, 4.0));
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
    /// A novel scenario recognised half-way through continual training (recognised only; the
    /// same scenario is recognised again at the end: backward transfer).
    Probe,
}

impl Split {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Calibration => "calibration",
            Split::Train => "train",
            Split::Novel => "novel",
            Split::Probe => "probe",
        }
    }
}

/// One episode to run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    /// Split.
    pub split: Split,
    /// Index of the primitive in the robot's library (the true label).
    pub primitive: usize,
    /// Its name.
    pub name: &'static str,
    /// Its variation (the seed drives execution jitter and sensor noise).
    pub params: PrimitiveParams,
}

/// The curriculum: `n` scenarios of `split` over the primitives `pool` (indices into `names`),
/// in seeded shuffled rounds (every primitive once per round), variations drawn from the
/// split's values (object offsets only when the scene has an object). Deterministic in `seed`.
pub fn curriculum(
    cfg: &EvalConfig,
    names: &[&'static str],
    pool: &[usize],
    object: bool,
    split: Split,
    n: usize,
    seed: u64,
) -> Vec<Scenario> {
    let stream = match split {
        Split::Calibration => 1,
        Split::Train => 2,
        Split::Novel | Split::Probe => 3,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let pick = |rng: &mut ChaCha8Rng, v: &Variation| {
        let vals = if matches!(split, Split::Novel | Split::Probe) {
            &v.novel
        } else {
            &v.train
        };
        // (validation requires values; an unvalidated empty list falls back to 1)
        let i = rng.gen_range(0..vals.len().max(1));
        vals.get(i).copied().unwrap_or(1.0)
    };
    let mut order: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(n);
    if pool.is_empty() {
        return out;
    }
    for i in 0..n {
        if order.is_empty() {
            order = pool.to_vec();
            order.shuffle(&mut rng);
        }
        let primitive = order.pop().unwrap_or(pool[0]);
        let amplitude = pick(&mut rng, &cfg.amplitude);
        let speed = pick(&mut rng, &cfg.speed);
        let (dx, dy, mass) = if object {
            (
                pick(&mut rng, &cfg.object_dx),
                pick(&mut rng, &cfg.object_dy),
                pick(&mut rng, &cfg.mass),
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        let params = PrimitiveParams {
            amplitude,
            speed,
            object: [dx, dy],
            mass,
            start: pick(&mut rng, &cfg.start_pose),
            // disjoint seed ranges per split: novel noise seeds are never seen in training
            seed: seed
                .wrapping_mul(1_000_003)
                .wrapping_add(stream * 1_000_000_000 + i as u64),
        };
        out.push(Scenario {
            split,
            primitive,
            name: names.get(primitive).copied().unwrap_or(""),
            params,
        });
    }
    out
}

/// What a driver asks of the curriculum; the scenarios are drawn once the robot's primitive
/// library is known (the agent assembles it from the backend's body).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanRequest {
    /// Calibration episodes (encoder statistics only).
    pub calibration: usize,
    /// Training episodes.
    pub train: usize,
    /// Novel episodes (recognised only).
    pub novel: usize,
    /// Offset of the training scenarios' seed (a resumed run continues with new scenarios).
    pub offset: u64,
    /// Continual order (see [`EvalConfig::continual`]): half of the primitives in the first
    /// half of training, the rest in the second, probes of the first half in between.
    pub continual: bool,
    /// Named performances appended after the plan (a primitive of the library by name, with
    /// its split and parameters).
    pub then: Vec<(String, Split, PrimitiveParams)>,
}

impl PlanRequest {
    /// The scenarios for a library of `names` (`object`: the scene has one), seeded by `seed`:
    /// calibration, then training, then novel scenarios. In continual order: calibration,
    /// training on the first half of the primitives, probes (their novel scenarios), training
    /// on the others, then every novel scenario (the probes' again among them).
    pub fn scenarios(
        &self,
        cfg: &EvalConfig,
        names: &[&'static str],
        object: bool,
        seed: u64,
    ) -> Vec<Scenario> {
        let all: Vec<usize> = (0..names.len()).collect();
        let train_seed = seed.wrapping_add(self.offset);
        let mut v = curriculum(
            cfg,
            names,
            &all,
            object,
            Split::Calibration,
            self.calibration,
            seed,
        );
        let novel = curriculum(cfg, names, &all, object, Split::Novel, self.novel, seed);
        if self.continual && names.len() >= 2 {
            let mut order = all.clone();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(4);
            order.shuffle(&mut rng);
            let (a, b) = order.split_at(order.len().div_ceil(2));
            let (na, nb) = (self.train.div_ceil(2), self.train / 2);
            v.extend(curriculum(
                cfg,
                names,
                a,
                object,
                Split::Train,
                na,
                train_seed,
            ));
            v.extend(
                novel
                    .iter()
                    .filter(|s| a.contains(&s.primitive))
                    .map(|s| Scenario {
                        split: Split::Probe,
                        ..*s
                    }),
            );
            v.extend(curriculum(
                cfg,
                names,
                b,
                object,
                Split::Train,
                nb,
                train_seed.wrapping_add(0x5eed),
            ));
        } else {
            v.extend(curriculum(
                cfg,
                names,
                &all,
                object,
                Split::Train,
                self.train,
                train_seed,
            ));
        }
        v.extend(novel);
        for (name, split, params) in &self.then {
            if let Some(i) = names.iter().position(|n| n == name) {
                v.push(Scenario {
                    split: *split,
                    primitive: i,
                    name: names[i],
                    params: *params,
                });
            }
        }
        v
    }

    /// The names of [`PlanRequest::then`] that are not in `names` (the caller's error).
    pub fn unknown<'a>(&'a self, names: &[&'static str]) -> Option<&'a str> {
        self.then
            .iter()
            .map(|(n, _, _)| n.as_str())
            .find(|n| !names.contains(n))
    }
}

/// An episode's start pose: `home` offset per joint by `start` x 5 % of its range (`limits`),
/// the direction drawn from `seed`, kept 2 % inside the limits. No allocation.
pub fn start_pose(home: &[f64], limits: &[(f64, f64)], start: f64, seed: u64, out: &mut JointVec) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x57a7_0000);
    out.clear();
    for (j, &h) in home.iter().enumerate() {
        let u: f64 = rng.gen_range(-1.0..1.0);
        let (lo, hi) = limits.get(j).copied().unwrap_or((0.0, 0.0));
        let w = hi - lo;
        let w = if w.is_finite() && w > 0.0 {
            w.min(6.3)
        } else {
            1.0
        };
        let mut v = h + start * 0.05 * w * u;
        if lo.is_finite() && hi.is_finite() && hi > lo {
            v = v.clamp(lo + 0.02 * w, hi - 0.02 * w);
        }
        out.push(if v.is_finite() { v } else { h });
    }
}

/// Where the curriculum source is in its current episode (unboxed: the run is replaced every
/// episode on the control task, which must not allocate).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Phase {
    /// The next episode's world must be set up.
    Setup,
    /// Moving to (and holding) the episode's start pose; the primitive starts at this time.
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
/// (where the backend can do that), the robot moves to the episode's start pose and holds for
/// `eval.settle_s`, then performs the primitive from where it stands; the primitive's cycles
/// form one experience, tagged with the primitive's name (the teacher) and its split's role.
/// Allocates only at construction.
#[derive(Debug)]
pub struct CurriculumSource {
    set: PrimitiveSet,
    scenarios: Vec<Scenario>,
    next: usize,
    phase: Phase,
    settle_ns: i64,
    primitive_s: f64,
    period_ns: i64,
    /// The pose the first episode started from (start poses are offsets from it).
    home: Option<JointVec>,
    /// This episode's start pose.
    start: JointVec,
}

impl CurriculumSource {
    /// Performs `scenarios` of the library `set` in order at control period `period_ns`.
    pub fn new(
        cfg: &EvalConfig,
        set: PrimitiveSet,
        scenarios: Vec<Scenario>,
        period_ns: i64,
    ) -> CurriculumSource {
        let period_ns = period_ns.max(1);
        CurriculumSource {
            set,
            scenarios,
            next: 0,
            phase: Phase::Setup,
            settle_ns: (cfg.settle_s * 1e9 / period_ns as f64).round() as i64 * period_ns,
            primitive_s: cfg.primitive_s,
            period_ns,
            home: None,
            start: JointVec::new(),
        }
    }

    /// The scenarios, in order.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The primitive library.
    pub fn primitives(&self) -> &PrimitiveSet {
        &self.set
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
                    self.start.clear();
                    Prepare::Setup(EpisodeSetup {
                        seed: sc.params.seed,
                        object_offset: sc.params.object,
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

    /// The episode's start pose (see [`start_pose`]). No allocation.
    fn start_pose(&mut self, q: &[f64]) {
        let home = self.home.get_or_insert_with(|| q.iter().copied().collect());
        let sc = &self.scenarios[self.next];
        start_pose(
            home,
            self.set.limits(),
            sc.params.start,
            sc.params.seed,
            &mut self.start,
        );
    }

    /// This cycle's command (after the sensors were fused into joint positions `q`) and where
    /// the cycle stands in the episode.
    pub fn command(&mut self, t: Time, q: &[f64], cmd: &mut Command) -> Mark {
        if let Phase::Settling(begin) = self.phase {
            if self.start.is_empty() && !q.is_empty() {
                self.start_pose(q);
            }
            if t < begin || self.start.is_empty() {
                if self.start.is_empty() {
                    *cmd = Command::hold(t);
                } else {
                    cmd.t = t;
                    cmd.mode = CommandMode::Position;
                    cmd.values.clear();
                    cmd.values.extend(self.start.iter().copied());
                }
                return Mark::Pause;
            }
            let sc = self.scenarios[self.next];
            let mut run = self
                .set
                .start(sc.primitive, sc.params, q, t, self.primitive_s);
            let end = t.add_nanos(run.duration_ns());
            self.set.command(&mut run, t, cmd);
            let tag = Tag {
                label: sc.name,
                role: match sc.split {
                    Split::Calibration => Role::Calibrate,
                    Split::Train => Role::Learn,
                    Split::Novel | Split::Probe => Role::Recognise,
                },
                episode: self.next as u32,
            };
            self.phase = Phase::Performing(run, end);
            return Mark::Begin(tag);
        }
        match &mut self.phase {
            Phase::Performing(run, end) => {
                self.set.command(run, t, cmd);
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

    const NAMES: &[&str] = &["a", "b", "c", "d", "e", "f"];

    #[test]
    fn curriculum_is_deterministic_balanced_and_holds_out_novel_values() {
        let cfg = EvalConfig::default();
        let all: Vec<usize> = (0..NAMES.len()).collect();
        let a = curriculum(&cfg, NAMES, &all, true, Split::Train, 200, 7);
        assert_eq!(a, curriculum(&cfg, NAMES, &all, true, Split::Train, 200, 7));
        assert_ne!(a, curriculum(&cfg, NAMES, &all, true, Split::Train, 200, 8));
        let mut per = vec![0; NAMES.len()];
        a.iter().for_each(|s| per[s.primitive] += 1);
        let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
        assert!(hi - lo <= 1, "{per:?}");
        let novel = curriculum(&cfg, NAMES, &all, true, Split::Novel, 96, 7);
        for s in &novel {
            assert!(!cfg.speed.train.contains(&s.params.speed));
            assert!(!cfg.mass.train.contains(&s.params.mass));
            assert!(!cfg.start_pose.train.contains(&s.params.start));
            assert!(a.iter().all(|t| t.params.seed != s.params.seed));
            assert_eq!(s.name, NAMES[s.primitive]);
        }
        // no object: no object variation
        let b = curriculum(&cfg, NAMES, &all, false, Split::Train, 20, 7);
        assert!(b.iter().all(|s| s.params.object == [0.0, 0.0]));
    }

    #[test]
    fn continual_plan_trains_halves_and_probes_the_first() {
        let cfg = EvalConfig::default();
        let req = PlanRequest {
            calibration: 6,
            train: 40,
            novel: 24,
            offset: 0,
            continual: true,
            then: Vec::new(),
        };
        let v = req.scenarios(&cfg, NAMES, false, 3);
        let split = |k: Split| v.iter().filter(|s| s.split == k).count();
        assert_eq!(split(Split::Calibration), 6);
        assert_eq!(split(Split::Train), 40);
        assert_eq!(split(Split::Novel), 24);
        // the first 20 training episodes use 3 primitives, the last 20 the other 3
        let train: Vec<&Scenario> = v.iter().filter(|s| s.split == Split::Train).collect();
        let first: std::collections::BTreeSet<usize> =
            train[..20].iter().map(|s| s.primitive).collect();
        let second: std::collections::BTreeSet<usize> =
            train[20..].iter().map(|s| s.primitive).collect();
        assert_eq!(first.len(), 3);
        assert_eq!(second.len(), 3);
        assert!(first.is_disjoint(&second));
        // probes: exactly the novel scenarios of the first half, between the halves
        let probes: Vec<&Scenario> = v.iter().filter(|s| s.split == Split::Probe).collect();
        assert!(!probes.is_empty());
        assert!(probes.iter().all(|p| first.contains(&p.primitive)));
        let again = v
            .iter()
            .filter(|s| s.split == Split::Novel && first.contains(&s.primitive))
            .count();
        assert_eq!(again, probes.len());
        let pos = |k: Split| v.iter().position(|s| s.split == k).unwrap();
        assert!(
            pos(Split::Probe) > pos(Split::Train) && pos(Split::Probe) < 6 + 20 + probes.len() + 1
        );
    }
}
