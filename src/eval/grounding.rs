//! `sattva eval grounding`: words grounded in attractors from labelled experience, and
//! utterances understood in context, against a context-free baseline measured in the same run.
//!
//! ```text
//! curriculum (MuJoCo, virtual time): calibration, training (learned), novel (recognised only)
//! teacher (sim/phrasebook.yaml, seeded) says, about each training experience:
//!   two descriptions ("push to the left slowly"), a deictic phrase when the object's side
//!   fits ("push it"), "again" / "the other way" referring to an earlier act
//!   -> Lexicon::observe(utterance, context, the experience's attractor, its speed/amplitude)
//!   context: the object's side, the substrate's resonance after the referred-to experience;
//!   the lexicon also counts how the experience's attractor's act relates to the resonating
//!   ones' (action memories: mirror, same, ...), the relations "the other way" goes with
//! held-out tests on the novel experiences: new descriptions (unambiguous), deictic and
//!   anaphoric phrases (ambiguous: only the context decides) -> understand -> attractor ->
//!   the primitive most of its training experiences were
//! baseline: scikit-learn TF-IDF + 1-NN over the same (utterance -> primitive) pairs (text only)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::metrics::majority_map;
use super::{EvalError, Scenario};
use crate::action::PlanRequest;
use crate::agent::AgentOptions;
use crate::config::Config;
use crate::language::{Context, Lexicon, Params, Side, MAX_RECENT};
use crate::learn::{Learner, Role};
use crate::types::Time;

/// The teacher's phrasebook (`sim/phrasebook.yaml`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrasebook {
    /// Primitive -> descriptions.
    #[serde(default)]
    pub describe: BTreeMap<String, Vec<String>>,
    /// Speed and amplitude modifiers.
    pub modifiers: Modifiers,
    /// Phrases whose meaning depends on where the object is.
    pub deictic: Deictic,
    /// Phrases whose meaning depends on what was done before.
    pub anaphora: Anaphora,
}

/// The modifiers of one parameter.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modifier {
    /// Below this value the low words apply.
    pub below: f64,
    /// Above this value the high words apply.
    pub above: f64,
    /// Probability that a modifier is said when one applies.
    pub p: f64,
    /// Words for low values.
    pub low: Vec<String>,
    /// Words for high values.
    pub high: Vec<String>,
}

/// Speed and amplitude modifiers.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modifiers {
    /// Speed.
    pub speed: Modifier,
    /// Amplitude.
    pub amplitude: Modifier,
}

/// One group of deictic phrases.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeicticGroup {
    /// The phrases.
    pub phrases: Vec<String>,
    /// Primitive meant when the object is on the left.
    pub left: String,
    /// ... ahead.
    pub centre: String,
    /// ... on the right.
    pub right: String,
}

/// Deictic phrases.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deictic {
    /// Half-width of "ahead", m.
    pub dead_band: f64,
    /// The groups.
    pub groups: Vec<DeicticGroup>,
}

/// Anaphoric phrases.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anaphora {
    /// "Do the same again".
    pub again: Vec<String>,
    /// "The mirror of what you did".
    pub other_way: Vec<String>,
    /// Mirror pairs of primitives.
    pub mirror: Vec<[String; 2]>,
}

impl Phrasebook {
    /// Reads and checks a phrasebook.
    pub fn load(path: &Path) -> Result<Phrasebook, EvalError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            file: file.clone(),
            source,
        })?;
        let b: Phrasebook =
            serde_norway::from_str(&text).map_err(|e| EvalError::Scene(format!("{file}: {e}")))?;
        let bad = |what: &str| Err(EvalError::Scene(format!("{file}: {what}")));
        for (k, v) in &b.describe {
            if v.iter().all(|p| crate::language::words(p).is_empty()) {
                return bad(&format!("describe.{k}: needs at least one phrase"));
            }
        }
        for (k, m) in [
            ("speed", &b.modifiers.speed),
            ("amplitude", &b.modifiers.amplitude),
        ] {
            if m.low.is_empty() || m.high.is_empty() || !(0.0..=1.0).contains(&m.p) {
                return bad(&format!(
                    "modifiers.{k}: needs low and high words and p in [0, 1]"
                ));
            }
        }
        if b.anaphora.again.is_empty() || b.anaphora.other_way.is_empty() {
            return bad("anaphora: needs again and other_way phrases");
        }
        if b.deictic.groups.iter().any(|g| g.phrases.is_empty()) {
            return bad("deictic.groups: every group needs phrases");
        }
        Ok(b)
    }
}

/// Says things about experiences (seeded).
struct Teacher<'a> {
    book: &'a Phrasebook,
    rng: ChaCha8Rng,
}

/// Which modifiers an utterance carries (-1 low, 0 none, +1 high): speed, amplitude.
type Mods = (i8, i8);

impl<'a> Teacher<'a> {
    fn pick<'s>(&mut self, v: &'s [String]) -> &'s str {
        v.choose(&mut self.rng).map_or("", String::as_str)
    }

    fn modifier(&mut self, m: &Modifier, value: f64) -> (i8, Option<String>) {
        let dir = if value < m.below {
            -1
        } else if value > m.above {
            1
        } else {
            0
        };
        if dir == 0 || !self.rng.gen_bool(m.p.clamp(0.0, 1.0)) {
            return (0, None);
        }
        let words = if dir < 0 { &m.low } else { &m.high };
        (dir, Some(self.pick(words).to_string()))
    }

    /// A description of a performance of `name` with `params`.
    fn describe(&mut self, name: &str, params: Params) -> (String, Mods) {
        let book = self.book;
        let base = match book.describe.get(name) {
            Some(v) => self.pick(v).to_string(),
            None => name.replace('_', " "),
        };
        let book = self.book;
        let (ds, s) = self.modifier(&book.modifiers.speed, params.speed);
        let (da, a) = self.modifier(&book.modifiers.amplitude, params.amplitude);
        let mut parts = vec![base];
        for m in [s, a].into_iter().flatten() {
            if self.rng.gen_bool(0.5) {
                parts.insert(0, m);
            } else {
                parts.push(m);
            }
        }
        (parts.join(" "), (ds, da))
    }

    /// A deictic phrase for `name` when the object's side makes it mean `name`.
    fn deictic(&mut self, name: &str, side: Side) -> Option<String> {
        let book = self.book;
        let g = book.deictic.groups.iter().find(|g| {
            let meant = match side {
                Side::Left => &g.left,
                Side::Centre => &g.centre,
                Side::Right => &g.right,
            };
            meant == name
        })?;
        Some(self.pick(&g.phrases).to_string())
    }

    fn again(&mut self) -> String {
        let book = self.book;
        self.pick(&book.anaphora.again).to_string()
    }

    fn other_way(&mut self) -> String {
        let book = self.book;
        self.pick(&book.anaphora.other_way).to_string()
    }

    fn mirror(&self, name: &str) -> Option<&'a str> {
        self.book.anaphora.mirror.iter().find_map(|[a, b]| {
            if a == name {
                Some(b.as_str())
            } else if b == name {
                Some(a.as_str())
            } else {
                None
            }
        })
    }
}

/// Options of one grounding run (defaults: the config's `eval:` section).
#[derive(Clone, Debug)]
pub struct GroundingOptions {
    /// Training episodes (overrides `eval.train_episodes`).
    pub train: Option<u32>,
    /// Novel episodes (overrides `eval.novel_episodes`).
    pub novel: Option<u32>,
    /// Calibration episodes (overrides `eval.calibration_episodes`).
    pub calibration: Option<u32>,
    /// The teacher's phrasebook.
    pub phrasebook: PathBuf,
    /// Run the scikit-learn baseline (through `$SATTVA_PYTHON` or the project venv).
    pub baseline: bool,
    /// Where to write the report, the lexicon and the test cases (none: nothing written).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for GroundingOptions {
    fn default() -> Self {
        GroundingOptions {
            train: None,
            novel: None,
            calibration: None,
            phrasebook: default_phrasebook(),
            baseline: true,
            out_dir: None,
            progress: false,
        }
    }
}

/// `sim/phrasebook.yaml` under the current directory, else under the source tree.
pub fn default_phrasebook() -> PathBuf {
    let rel = Path::new("sim/phrasebook.yaml");
    if rel.exists() {
        return rel.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Kinds of test utterance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A description not taught verbatim (unambiguous).
    Describe,
    /// A deictic phrase: the object's side decides.
    Scene,
    /// "again": the previous act decides.
    Again,
    /// "the other way": the previous act decides.
    OtherWay,
}

impl Kind {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Describe => "descriptions (unambiguous)",
            Kind::Scene => "deictic (object side)",
            Kind::Again => "again (previous act)",
            Kind::OtherWay => "the other way (previous act)",
        }
    }
}

/// One held-out test utterance and the answers.
#[derive(Clone, Debug)]
pub struct Case {
    /// Kind.
    pub kind: Kind,
    /// The utterance.
    pub text: String,
    /// Its context.
    pub context: Context,
    /// The primitive meant (index into the labels).
    pub truth: usize,
    /// The attractor the substrate recognises the described experience as (-1: none).
    pub recognised: i64,
    /// sattva's top attractor (-1: no answer).
    pub attractor: i64,
    /// Modifiers said (speed, amplitude: -1 low, +1 high).
    pub mods: Mods,
    /// sattva's answer: the primitive of the top attractor (None: no answer or an attractor
    /// without training experiences), and its confidence.
    pub sattva: Option<usize>,
    /// Confidence of sattva's top meaning.
    pub confidence: f32,
    /// Parameters sattva understood.
    pub params: Params,
    /// The baseline's answer.
    pub baseline: Option<usize>,
    /// Chance: 1 / the primitives the same text was taught with.
    pub chance: f64,
}

/// Accuracy of sattva and the baseline on one subset.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    /// Cases.
    pub n: usize,
    /// sattva's accuracy: the top attractor's primitive is the one meant.
    pub sattva: f64,
    /// sattva's accuracy against what the robot itself recognises the act as: the top
    /// attractor is the one the described experience is recognised as, or one of the same
    /// primitive (recognition errors and primitives sharing an attractor not counted against
    /// the grounding).
    pub sattva_act: f64,
    /// The baseline's accuracy (None: not run).
    pub baseline: Option<f64>,
    /// Mean chance level.
    pub chance: f64,
}

/// Figures of a grounding run.
#[derive(Clone, Debug)]
pub struct GroundingReport {
    /// Seed.
    pub seed: u64,
    /// Primitive names (label order).
    pub labels: Vec<&'static str>,
    /// Training and novel experiences.
    pub experiences: (usize, usize),
    /// Live attractors at the end.
    pub attractors: usize,
    /// Observations taught (utterance, context, attractor).
    pub taught: u64,
    /// Distinct utterances taught.
    pub phrases_taught: usize,
    /// Distinct words taught.
    pub words: usize,
    /// Distinct descriptions taught that are understood (no context) as the primitive they
    /// were taught for: the grounded vocabulary.
    pub grounded: usize,
    /// Distinct descriptions taught.
    pub descriptions: usize,
    /// Scores by kind.
    pub scores: BTreeMap<Kind, Score>,
    /// All ambiguous kinds together.
    pub ambiguous: Score,
    /// Modifier direction understood right: speed (right, of), amplitude (right, of).
    pub modifiers: [(usize, usize); 2],
    /// Primitives whose main attractor is their own by majority (the rest share an attractor
    /// with another primitive: no word can tell them apart through the attractors).
    pub separable: usize,
    /// Recognition of the novel experiences (their attractor's primitive), for reference.
    pub recognition: f64,
    /// The test cases.
    pub cases: Vec<Case>,
    /// Attractor -> the primitive most of its training experiences were (how answers are
    /// scored).
    pub attractor_primitive: BTreeMap<u32, usize>,
    /// Wall seconds.
    pub wall_s: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// One experience of the run.
struct Ep {
    scenario: Scenario,
    vector: Vec<f32>,
    attractor: i64,
}

/// How far below the best match a resonating attractor's similarity may be and still count
/// as what was done (weight `exp(-gap / RESONANCE_GAP)`).
const RESONANCE_GAP: f32 = 0.01;

/// The substrate's resonance after experience `v` (context reset first): the winners, weighted
/// by their activation and by how close their similarity is to the best match's (experiences
/// of one robot are all similar, so a near-tie is what makes a second winner count), strongest
/// first, weights below 0.1 dropped, the strongest scaled to 1.
fn resonance(l: &mut Learner, t: Time, v: &[f32]) -> Vec<(u32, f32)> {
    l.substrate_mut().reset_context();
    let m: Vec<(u32, f32, f32)> = match l.substrate_mut().activate(t, v) {
        Ok(m) => m
            .iter()
            .map(|m| (m.id.0, m.similarity, m.activation))
            .collect(),
        Err(_) => Vec::new(),
    };
    let top = m.iter().map(|x| x.1).fold(f32::MIN, f32::max);
    let mut w: Vec<(u32, f32)> = m
        .iter()
        .map(|&(id, sim, act)| {
            (
                id,
                act.clamp(0.0, 1.0) * (-(top - sim) / RESONANCE_GAP).exp(),
            )
        })
        .filter(|x| x.1 >= 0.1)
        .collect();
    w.sort_by(|a, b| b.1.total_cmp(&a.1));
    w.truncate(MAX_RECENT);
    // the strongest counts fully
    if let Some(top) = w.first().map(|x| x.1).filter(|t| *t > 0.0) {
        for x in &mut w {
            x.1 /= top;
        }
    }
    w
}

fn params_of(s: &Scenario) -> Params {
    Params {
        speed: s.params.speed,
        amplitude: s.params.amplitude,
    }
}

/// Runs the grounding evaluation on the MuJoCo scene of `c`.
pub fn run_grounding(c: &Config, o: &GroundingOptions) -> Result<GroundingReport, EvalError> {
    let started = Instant::now();
    let book = Phrasebook::load(&o.phrasebook)?;
    let e = &c.eval;
    let n_train = o.train.unwrap_or(e.train_episodes) as usize;
    let n_novel = o.novel.unwrap_or(e.novel_episodes) as usize;
    let n_cal = o.calibration.unwrap_or(e.calibration_episodes) as usize;
    let mut c = c.clone();
    c.learn.snapshot.clear();
    c.learn.resume.clear();
    c.learn.enabled = true;
    let request = PlanRequest {
        calibration: n_cal,
        train: n_train,
        novel: n_novel,
        offset: 0,
        continual: false,
        then: Vec::new(),
    };
    let pb = super::literacy::bar((n_cal + n_train + n_novel) as u64, o.progress);
    let tick = pb.clone();
    let mut report = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(0.0),
            curriculum: Some(request),
            journal: true,
            on_tick: Some(Box::new(move |p: &crate::agent::Progress| {
                tick.set_position(p.episodes.load(std::sync::atomic::Ordering::Relaxed))
            })),
            ..Default::default()
        },
    )?;
    pb.finish_and_clear();
    let mut learner = report
        .learner
        .take()
        .ok_or_else(|| EvalError::Scene("the agent ran without learning".into()))?;
    let plan_info = report.curriculum.take().unwrap_or_default();
    let names = plan_info.names.clone();
    let t_end = report.span.1;
    let (mut train, mut novel) = (Vec::new(), Vec::new());
    for j in learner.journal().to_vec() {
        let Some(tag) = j.tag else { continue };
        let Some(&scenario) = plan_info.scenarios.get(tag.episode as usize) else {
            continue;
        };
        let ep = Ep {
            scenario,
            vector: j.vector,
            attractor: j.recalled,
        };
        match tag.role {
            Role::Learn => train.push(ep),
            Role::Recognise => novel.push(ep),
            _ => {}
        }
    }
    // the attractor each training experience belongs to at the end (merges resolved)
    for ep in &mut train {
        ep.attractor = learner.recall(t_end, &ep.vector)?.0;
    }
    let clusters: Vec<i64> = train.iter().map(|r| r.attractor).collect();
    let truth: Vec<usize> = train.iter().map(|r| r.scenario.primitive).collect();
    let map = majority_map(&clusters, &truth);
    let primitive_of = |a: u32| map.get(&(a as i64)).copied();
    // the attractor holding most of each primitive's training experiences: what a perfect
    // grounding of a description would answer; the primitives whose own attractor is another
    // primitive's by majority cannot be told apart through the attractors
    let mut holding: BTreeMap<usize, BTreeMap<i64, u32>> = BTreeMap::new();
    for ep in &train {
        *holding
            .entry(ep.scenario.primitive)
            .or_default()
            .entry(ep.attractor)
            .or_default() += 1;
    }
    let separable: BTreeSet<usize> = holding
        .iter()
        .filter_map(|(&p, m)| {
            let (&a, _) = m.iter().max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))?;
            (a >= 0 && primitive_of(a as u32) == Some(p)).then_some(p)
        })
        .collect();
    let has_object = plan_info
        .scenarios
        .iter()
        .any(|s| s.params.object != [0.0; 2]);
    let band = book.deictic.dead_band;
    let scene_of = |s: &Scenario| has_object.then(|| Side::of(s.params.object[1], band));
    let mut teacher = Teacher {
        book: &book,
        rng: ChaCha8Rng::seed_from_u64(c.seed ^ 0x6772_6f75_6e64),
    };
    let index_of = |n: &str| names.iter().position(|x| *x == n);

    // teaching
    let mut lexicon = Lexicon::new();
    let mut pairs: Vec<(String, usize)> = Vec::new();
    let mut meanings: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut descriptions: BTreeMap<String, usize> = BTreeMap::new();
    let resonances: Vec<Vec<(u32, f32)>> = train
        .iter()
        .map(|ep| resonance(&mut learner, t_end, &ep.vector))
        .collect();
    for i in 0..train.len() {
        let ep = &train[i];
        if ep.attractor < 0 {
            continue;
        }
        let a = ep.attractor as u32;
        let s = ep.scenario;
        let params = params_of(&s);
        let scene = scene_of(&s);
        let before = |j: Option<usize>| Context {
            scene,
            recent: j.map(|j| resonances[j].clone()).unwrap_or_default(),
        };
        let prev = before(i.checked_sub(1));
        let acts = learner.substrate();
        let mut teach = |text: String, ctx: &Context, lex: &mut Lexicon| {
            if lex.observe_in(&text, ctx, a, Some(params), acts) {
                let norm = crate::language::words(&text).join(" ");
                meanings
                    .entry(norm.clone())
                    .or_default()
                    .insert(s.primitive);
                pairs.push((norm, s.primitive));
            }
        };
        // one description per experience: a context seen once is coincidence to the learner,
        // two utterances about one experience would repeat it
        {
            let (text, _) = teacher.describe(s.name, params);
            let norm = crate::language::words(&text).join(" ");
            descriptions.entry(norm).or_insert(s.primitive);
            teach(text, &prev, &mut lexicon);
        }
        if let Some(side) = scene {
            if let Some(text) = teacher.deictic(s.name, side) {
                teach(text, &prev, &mut lexicon);
            }
        }
        if let Some(j) = (0..i)
            .rev()
            .find(|&j| train[j].scenario.primitive == s.primitive)
        {
            let text = teacher.again();
            teach(text, &before(Some(j)), &mut lexicon);
        }
        if let Some(m) = teacher.mirror(s.name).and_then(index_of) {
            if let Some(j) = (0..i).rev().find(|&j| train[j].scenario.primitive == m) {
                let text = teacher.other_way();
                teach(text, &before(Some(j)), &mut lexicon);
            }
        }
    }

    // held-out tests on the novel experiences
    let novel_res: Vec<Vec<(u32, f32)>> = novel
        .iter()
        .map(|ep| resonance(&mut learner, t_end, &ep.vector))
        .collect();
    let recognition = if novel.is_empty() {
        0.0
    } else {
        novel
            .iter()
            .filter(|ep| {
                ep.attractor >= 0
                    && primitive_of(ep.attractor as u32) == Some(ep.scenario.primitive)
            })
            .count() as f64
            / novel.len() as f64
    };
    let taught: BTreeSet<&str> = lexicon.phrases().collect();
    let mut cases = Vec::new();
    // a reference act of primitive `p` other than novel experience `i`: the nearest novel one
    // before it, else after it (its resonance is the context)
    let reference = |i: usize, p: usize| -> Option<usize> {
        (0..i)
            .rev()
            .chain(i + 1..novel.len())
            .find(|&j| novel[j].scenario.primitive == p)
    };
    for (i, ep) in novel.iter().enumerate() {
        let s = ep.scenario;
        let params = params_of(&s);
        let scene = scene_of(&s);
        let prev = i.checked_sub(1).map(|j| novel_res[j].clone());
        let mk = |kind, text: String, recent: Option<Vec<(u32, f32)>>, mods| Case {
            kind,
            text,
            context: Context {
                scene,
                recent: recent.unwrap_or_default(),
            },
            truth: s.primitive,
            recognised: ep.attractor,
            attractor: -1,
            mods,
            sattva: None,
            confidence: 0.0,
            params: Params::default(),
            baseline: None,
            chance: 0.0,
        };
        // a description not taught verbatim (a few tries)
        let mut d = teacher.describe(s.name, params);
        for _ in 0..20 {
            if !taught.contains(crate::language::words(&d.0).join(" ").as_str()) {
                break;
            }
            d = teacher.describe(s.name, params);
        }
        cases.push(mk(Kind::Describe, d.0, prev.clone(), d.1));
        if let Some(side) = scene {
            if let Some(text) = teacher.deictic(s.name, side) {
                cases.push(mk(Kind::Scene, text, prev.clone(), (0, 0)));
            }
        }
        if let Some(j) = reference(i, s.primitive) {
            let text = teacher.again();
            cases.push(mk(Kind::Again, text, Some(novel_res[j].clone()), (0, 0)));
        }
        if let Some(m) = teacher.mirror(s.name).and_then(index_of) {
            if let Some(j) = reference(i, m) {
                let text = teacher.other_way();
                cases.push(mk(Kind::OtherWay, text, Some(novel_res[j].clone()), (0, 0)));
            }
        }
    }
    for case in &mut cases {
        let norm = crate::language::words(&case.text).join(" ");
        case.chance = 1.0 / meanings.get(&norm).map_or(names.len(), |m| m.len()).max(1) as f64;
        if let Ok(u) = lexicon.understand_in(&case.text, &case.context, 5, learner.substrate()) {
            if let Some(m) = u.meanings.first() {
                case.sattva = primitive_of(m.attractor);
                case.attractor = m.attractor as i64;
                case.confidence = m.confidence;
            }
            case.params = u.params;
        }
    }
    let baseline_run = if o.baseline {
        let train_pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(t, p)| (t.clone(), names[*p].to_string()))
            .collect();
        let tests: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
        let pred = run_baseline(&train_pairs, &tests)?;
        for (case, p) in cases.iter_mut().zip(pred) {
            case.baseline = index_of(&p);
        }
        true
    } else {
        false
    };
    // vocabulary: descriptions understood without context as what they were taught for
    let grounded = descriptions
        .iter()
        .filter(|(text, &p)| {
            lexicon
                .understand(text, &Context::default(), 1)
                .ok()
                .and_then(|u| u.meanings.first().and_then(|m| primitive_of(m.attractor)))
                == Some(p)
        })
        .count();
    let score = |sel: &dyn Fn(&Case) -> bool| -> Score {
        let sub: Vec<&Case> = cases.iter().filter(|c| sel(c)).collect();
        let n = sub.len();
        let frac = |f: &dyn Fn(&Case) -> bool| {
            if n == 0 {
                0.0
            } else {
                sub.iter().filter(|c| f(c)).count() as f64 / n as f64
            }
        };
        Score {
            n,
            sattva: frac(&|c| c.sattva == Some(c.truth)),
            sattva_act: frac(&|c| {
                c.attractor >= 0
                    && (c.attractor == c.recognised
                        || (c.sattva.is_some()
                            && c.recognised >= 0
                            && c.sattva == primitive_of(c.recognised as u32)))
            }),
            baseline: baseline_run.then(|| frac(&|c| c.baseline == Some(c.truth))),
            chance: if n == 0 {
                0.0
            } else {
                sub.iter().map(|c| c.chance).sum::<f64>() / n as f64
            },
        }
    };
    let mut scores = BTreeMap::new();
    for k in [Kind::Describe, Kind::Scene, Kind::Again, Kind::OtherWay] {
        scores.insert(k, score(&|c| c.kind == k));
    }
    let ambiguous = score(&|c| c.kind != Kind::Describe);
    let dir = |v: f64| {
        if v < 0.97 {
            -1
        } else if v > 1.03 {
            1
        } else {
            0
        }
    };
    let mut modifiers = [(0, 0); 2];
    for case in cases.iter().filter(|c| c.kind == Kind::Describe) {
        for (k, (said, got)) in [
            (case.mods.0, case.params.speed),
            (case.mods.1, case.params.amplitude),
        ]
        .into_iter()
        .enumerate()
        {
            if said != 0 {
                modifiers[k].1 += 1;
                if dir(got) == said {
                    modifiers[k].0 += 1;
                }
            }
        }
    }
    let mut out = GroundingReport {
        seed: c.seed,
        labels: names.clone(),
        experiences: (train.len(), novel.len()),
        attractors: learner.substrate().len(),
        taught: lexicon.observations(),
        phrases_taught: taught.len(),
        words: lexicon.vocabulary(),
        grounded,
        descriptions: descriptions.len(),
        scores,
        ambiguous,
        modifiers,
        recognition,
        separable: separable.len(),
        cases,
        attractor_primitive: map
            .iter()
            .filter(|(a, _)| **a >= 0)
            .map(|(a, p)| (*a as u32, *p))
            .collect(),
        wall_s: 0.0,
        files: Vec::new(),
    };
    if let Some(dir) = &o.out_dir {
        std::fs::create_dir_all(dir).map_err(super::report::io(dir))?;
        let snap = dir.join("substrate.snap");
        learner.substrate_mut().save(&snap)?;
        let lex = crate::language::lexicon_path(&snap);
        lexicon
            .save(&lex)
            .map_err(|e| EvalError::Scene(e.to_string()))?;
        out.wall_s = started.elapsed().as_secs_f64();
        let cases_csv = dir.join("cases.csv");
        std::fs::write(&cases_csv, cases_csv_text(&out)).map_err(super::report::io(&cases_csv))?;
        let page = dir.join("grounding.html");
        std::fs::write(&page, html(&out)).map_err(super::report::io(&page))?;
        out.files = vec![page, cases_csv, snap, lex];
    }
    out.wall_s = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Runs scripts/bench/grounding_baseline.py on the pairs; returns its predictions in order.
fn run_baseline(train: &[(String, String)], tests: &[String]) -> Result<Vec<String>, EvalError> {
    let dir = tempfile_dir()?;
    let input = dir.join("pairs.json");
    let body = serde_json::json!({ "train": train, "test": tests });
    std::fs::write(&input, body.to_string()).map_err(super::report::io(&input))?;
    let script = {
        let rel = Path::new("scripts/bench/grounding_baseline.py");
        if rel.exists() {
            rel.to_path_buf()
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
        }
    };
    let py = super::baselines::python();
    let out = std::process::Command::new(&py)
        .arg(&script)
        .arg(&input)
        .output()
        .map_err(|e| EvalError::Baselines(format!("{} {}: {e}", py.display(), script.display())))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(EvalError::Baselines(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    #[derive(Deserialize)]
    struct Out {
        predictions: Vec<String>,
    }
    let o: Out = serde_json::from_slice(&out.stdout)
        .map_err(|e| EvalError::Baselines(format!("{}: output: {e}", script.display())))?;
    if o.predictions.len() != tests.len() {
        return Err(EvalError::Baselines(format!(
            "{} predicted {} of {} cases",
            script.display(),
            o.predictions.len(),
            tests.len()
        )));
    }
    Ok(o.predictions)
}

/// A fresh private directory under the system's temporary directory.
fn tempfile_dir() -> Result<PathBuf, EvalError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let d = std::env::temp_dir().join(format!("sattva-grounding-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(super::report::io(&d))?;
    Ok(d)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl fmt::Display for GroundingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sattva eval grounding (seed {}): {} primitives, {} training experiences taught, {} novel experiences tested",
            self.seed,
            self.labels.len(),
            self.experiences.0,
            self.experiences.1
        )?;
        writeln!(f, "  attractors                   {}", self.attractors)?;
        writeln!(
            f,
            "  taught                       {} utterances, {} distinct phrases, {} words",
            self.taught, self.phrases_taught, self.words
        )?;
        writeln!(
            f,
            "  vocabulary grounded          {} of {} distinct descriptions understood as taught (goal >= 100)",
            self.grounded, self.descriptions
        )?;
        writeln!(
            f,
            "  recognition (novel)          {} (the experiences' attractors, for reference)",
            pct(self.recognition)
        )?;
        writeln!(
            f,
            "  primitives with an attractor {} / {} (the others share their main attractor with another primitive)",
            self.separable,
            self.labels.len()
        )?;
        writeln!(
            f,
            "  {:<32} {:>5} {:>10} {:>16} {:>8} {:>14}",
            "held-out utterances", "n", "sattva", "TF-IDF + 1-NN", "chance", "sattva (act)"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &Score| {
            writeln!(
                f,
                "  {:<32} {:>5} {:>10} {:>16} {:>8} {:>14}",
                name,
                s.n,
                pct(s.sattva),
                s.baseline.map_or("-".into(), pct),
                pct(s.chance),
                pct(s.sattva_act)
            )
        };
        for (k, s) in &self.scores {
            row(f, k.name(), s)?;
        }
        row(f, "ambiguous, all (goal >= 85 %)", &self.ambiguous)?;
        writeln!(
            f,
            "  (sattva, TF-IDF: the primitive meant; sattva (act): the attractor the robot recognises the described act as)"
        )?;
        for (name, (right, of)) in ["speed", "amplitude"].iter().zip(self.modifiers) {
            writeln!(
                f,
                "  {name} modifiers understood      {right} / {of} ({})",
                pct(right as f64 / of.max(1) as f64)
            )?;
        }
        write!(f, "  wall time                    {:.1} s", self.wall_s)?;
        for p in &self.files {
            write!(f, "\n  wrote {}", p.display())?;
        }
        Ok(())
    }
}

fn cases_csv_text(r: &GroundingReport) -> String {
    let mut s =
        String::from(
        "kind,text,scene,recent,truth,recognised,sattva_attractor,sattva,confidence,baseline,speed,amplitude\n",
    );
    let name = |p: Option<usize>| p.and_then(|p| r.labels.get(p)).copied().unwrap_or("");
    for c in &r.cases {
        let recent: Vec<String> = c
            .context
            .recent
            .iter()
            .map(|(a, w)| format!("{a}:{w:.2}"))
            .collect();
        let _ = writeln!(
            s,
            "{:?},\"{}\",{},{},{},{}:{},{},{},{:.3},{},{:.3},{:.3}",
            c.kind,
            c.text,
            c.context.scene.map_or("", |x| x.name()),
            recent.join(" "),
            name(Some(c.truth)),
            c.recognised,
            name(
                r.attractor_primitive
                    .get(&(c.recognised.max(0) as u32))
                    .copied()
                    .filter(|_| c.recognised >= 0)
            ),
            c.attractor,
            name(c.sattva),
            c.confidence,
            name(c.baseline),
            c.params.speed,
            c.params.amplitude
        );
    }
    s
}

/// SVG bars: per subset, sattva's and the baseline's accuracy, and chance.
fn bars_svg(r: &GroundingReport) -> String {
    let rows: Vec<(&str, Score)> = r
        .scores
        .iter()
        .map(|(k, s)| (k.name(), *s))
        .chain(std::iter::once(("ambiguous, all", r.ambiguous)))
        .collect();
    let (left, bar, gap, width) = (230.0, 12.0, 14.0, 360.0);
    let h = 30.0 + rows.len() as f64 * (3.0 * bar + gap);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">",
        left + width + 80.0
    );
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"4\" width=\"10\" height=\"10\" fill=\"#2a7\"/><text x=\"{}\" y=\"13\">sattva</text>\
         <rect x=\"{}\" y=\"4\" width=\"10\" height=\"10\" fill=\"#c63\"/><text x=\"{}\" y=\"13\">TF-IDF + 1-NN</text>\
         <rect x=\"{}\" y=\"4\" width=\"10\" height=\"10\" fill=\"#999\"/><text x=\"{}\" y=\"13\">chance</text>",
        left + 14.0,
        left + 70.0,
        left + 84.0,
        left + 180.0,
        left + 194.0
    );
    for (i, (name, sc)) in rows.iter().enumerate() {
        let y = 24.0 + i as f64 * (3.0 * bar + gap);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{} (n={})</text>",
            left - 6.0,
            y + 1.5 * bar + 4.0,
            super::report::esc(name),
            sc.n
        );
        for (j, (v, color)) in [
            (Some(sc.sattva), "#2a7"),
            (sc.baseline, "#c63"),
            (Some(sc.chance), "#999"),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(v) = v else { continue };
            let yy = y + j as f64 * bar;
            let _ = write!(
                s,
                "<rect x=\"{left}\" y=\"{yy}\" width=\"{:.1}\" height=\"{}\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                v * width,
                bar - 2.0,
                left + v * width + 4.0,
                yy + bar - 3.0,
                pct(v)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The HTML page.
pub fn html(r: &GroundingReport) -> String {
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sattva grounding</title>\
         <style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}\
         td,th{padding:2px 8px;text-align:left}</style></head><body>",
    );
    let _ = write!(
        s,
        "<h1>sattva eval grounding</h1><pre>{}</pre><h2>Held-out utterances: sattva vs a context-free baseline</h2>{}",
        super::report::esc(&r.to_string()),
        bars_svg(r)
    );
    s.push_str("<h2>Examples (first 40 ambiguous cases)</h2><table><tr><th>kind</th><th>utterance</th><th>scene</th><th>recent attractors</th><th>meant</th><th>sattva</th><th>baseline</th></tr>");
    let name = |p: Option<usize>| p.and_then(|p| r.labels.get(p)).copied().unwrap_or("-");
    for c in r.cases.iter().filter(|c| c.kind != Kind::Describe).take(40) {
        let recent: Vec<String> = c
            .context
            .recent
            .iter()
            .map(|(a, w)| format!("{a} ({w:.2})"))
            .collect();
        let _ = write!(
            s,
            "<tr><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.kind,
            super::report::esc(&c.text),
            c.context.scene.map_or("-", |x| x.name()),
            recent.join(", "),
            name(Some(c.truth)),
            name(c.sattva),
            name(c.baseline)
        );
    }
    s.push_str("</table><p>All cases: <code>cases.csv</code>; the lexicon: <code>substrate.snap.lexicon</code>.</p></body></html>");
    s
}
