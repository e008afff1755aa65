//! Words grounded in attractors, and utterances understood in context.
//!
//! ```text
//! teacher / operator: (utterance, context) about an experience -> the experience's attractor
//!   Lexicon::observe: association counts  feature -> attractor, for
//!     text features     words and word pairs ("push", "push it")
//!     conjunctions      text feature x context feature ("push it|scene:left", "again|prev:17")
//!   Lexicon::observe_in, also: relation counts  text feature -> how the meant attractor's act
//!     relates to a recent act's (action memories, relation.rs: itself, opposite, mirrored,
//!     near-mirror, same, unrelated) ("the other way" -> mirrored or opposite)
//!   and per word the performance parameters it was said with (speed, amplitude)
//! understand(text, context) -> attractors with confidences (+ speed / amplitude factors)
//!   score(a) = ln P(a) + sum over text features f of I(f) * ln P(f | a)   (weighted naive Bayes)
//!            + 3 * ( sum over conjunctions c = (word f, context g) of
//!                      w_g * I(c) * [P(a | c) - P(a | f)]+ * (n(c,a) - 1) / n(c,a)
//!                  + B(words) * activation of a among the recent attractors )
//!            + 2 * sum over recent acts r of activation(r) * ln(P(rel(r,a) | words) / (N_rel/N))
//!   I(c) = 1 - H(attractor | c) / ln K     (K attractors known; 0: said with all alike)
//!   B(words) = how much more often than the base rate the words were said about a recent one
//!   P(rel | words) = mean over text features f, weighted (1 - I(f))^2, of their rates
//!                    (n(f,rel) - 1)+ / n(f), shrunk to the base rate, and of N_rel / N (weight
//!                    1): the share of the N candidates in that relation to r (itself: left to B)
//!   confidence = softmax of the scores
//! ```
//!
//! Nothing here knows a primitive or a word: every number is a count learned online from
//! labelled experience (no table in code). The words compose by naive Bayes ("reach" and
//! "right"). A word said with several attractors ("push" with push left, right and forward)
//! grounds in all of them; the context decides, through the conjunction features (weighted by
//! how discriminative they are: one minus their normalised entropy over attractors, a
//! tf-idf-like weight; and needing repeated evidence: the context is present in every
//! observation, so a pair seen once is mostly coincidence), and through the words said about an
//! attractor that had just been active ("again"), whose pointing-back rate is learned against
//! the base rate, and through the relations of the attractors' acts to the recent acts
//! ([`Lexicon::observe_in`] / [`Lexicon::understand_in`] with the action memories): a relation
//! is not a pair of attractors, so "the other way" taught on a few mirrored pairs means "the
//! mirror of what was just done" for any pair. The context features come with each labelled experience: where the object
//! was, which attractors were active before (the substrate's resonance after the previous
//! experience).
//!
//! The lexicon is persisted beside the substrate snapshot in its own file (`<snapshot>.lexicon`,
//! [`Lexicon::save`] / [`Lexicon::load`]): a header line with a SHA-256 of the body, then JSON;
//! written to a temporary file and renamed.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod live;
mod relation;
pub use live::LiveLexicon;
pub use relation::{
    mirror_score, Acts, NoActs, Relation, Relations, FLIP_MARGIN, FLIP_SHARE, MIRROR_MIN, SAME_COS,
};

/// Errors of grounding and understanding.
#[derive(Debug, thiserror::Error)]
pub enum LanguageError {
    /// The text has no words.
    #[error("empty text: say what to do")]
    Empty,
    /// No word of the text was ever taught.
    #[error("unknown words: {}", .0.join(", "))]
    Unknown(Vec<String>),
    /// A label arrived with no recent experience to name.
    #[error("no recent experience to label: {0}")]
    NoRecentExperience(String),
    /// Nothing has been taught yet.
    #[error("nothing has been taught yet: label some experiences first")]
    NothingLearned,
    /// The lexicon file could not be read or written.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The lexicon file is damaged or not a lexicon.
    #[error("{file}: {why}")]
    Corrupt {
        /// The file.
        file: String,
        /// What is wrong.
        why: String,
    },
}

/// Where the scene's object is, seen from the robot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// To the robot's left (+y in REP-103).
    Left,
    /// Straight ahead.
    Centre,
    /// To the robot's right.
    Right,
}

impl Side {
    /// The side of an object at lateral offset `y` (m, +left) from the robot's forward axis;
    /// within `dead_band` of the axis it is ahead.
    pub fn of(y: f64, dead_band: f64) -> Side {
        if y > dead_band {
            Side::Left
        } else if y < -dead_band {
            Side::Right
        } else {
            Side::Centre
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Centre => "centre",
            Side::Right => "right",
        }
    }
}

/// What surrounds an utterance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// Where the object is (None: no object or not known).
    pub scene: Option<Side>,
    /// Recently active attractors with their activation (the substrate's resonance after the
    /// previous experience, or what a previous utterance was understood as), strongest first.
    pub recent: Vec<(u32, f32)>,
}

impl Context {
    /// The context features with their weights.
    fn features(&self) -> Vec<(String, f64)> {
        let mut out = Vec::with_capacity(1 + self.recent.len());
        if let Some(s) = self.scene {
            out.push((format!("scene:{}", s.name()), 1.0));
        }
        for &(id, a) in self.recent.iter().take(MAX_RECENT) {
            if a.is_finite() && a > 0.0 {
                out.push((format!("prev:{id}"), a.min(1.0) as f64));
            }
        }
        out
    }
}

/// Recent attractors a context contributes at most.
pub const MAX_RECENT: usize = 3;

/// Performance parameters an utterance was said with, or is understood to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Speed factor (1 = nominal).
    pub speed: f64,
    /// Amplitude factor (1 = nominal).
    pub amplitude: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            speed: 1.0,
            amplitude: 1.0,
        }
    }
}

/// One meaning of an utterance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Meaning {
    /// The attractor.
    pub attractor: u32,
    /// Confidence in [0, 1] (the meanings' confidences sum to at most 1).
    pub confidence: f32,
    /// The association score behind it.
    pub score: f32,
}

/// What an utterance was understood as.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Understanding {
    /// Meanings, most confident first (at most `k` of [`Lexicon::understand`]).
    pub meanings: Vec<Meaning>,
    /// Speed and amplitude factors the words ask for (1: no modifier).
    pub params: Params,
    /// Words of the text never taught (ignored).
    pub unknown: Vec<String>,
}

/// Running sums of the log parameters a word was said with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
struct ParamSums {
    n: f64,
    ln_speed: f64,
    ln_amplitude: f64,
}

impl ParamSums {
    fn add(&mut self, p: Params) {
        self.n += 1.0;
        self.ln_speed += p.speed.max(1e-6).ln();
        self.ln_amplitude += p.amplitude.max(1e-6).ln();
    }
    fn mean(&self) -> (f64, f64) {
        if self.n <= 0.0 {
            return (0.0, 0.0);
        }
        (self.ln_speed / self.n, self.ln_amplitude / self.n)
    }
}

/// Pseudo-count shrinking the association of rare pairs (a pair seen once weighs half).
const SHRINK: f64 = 1.0;
/// Additive smoothing of the words' naive Bayes likelihoods.
const ALPHA: f64 = 0.5;
/// Weight of the context's votes against the words' log posterior.
const CONTEXT_WEIGHT: f64 = 6.0;
/// Weight of the relations' log-likelihood ratios in the score (chosen on `eval grounding`,
/// reference arm and YAM: 1 leaves "the other way" at 35 % on the reference arm, 3 costs the
/// YAM 8 points of it and both arms 3-5 points of descriptions).
const RELATION_WEIGHT: f64 = 2.0;
/// Pseudo-count pulling a word's pointing-back rate towards the base rate.
const REPEAT_PRIOR: f64 = 2.0;
/// Pseudo-count shrinking a word's parameter deviation (a word said twice weighs half).
const PARAM_SHRINK: f64 = 2.0;

/// How often the attractor meant stood in each relation to a recent act (see [`Relation`]),
/// over the observations of one text feature (or of all observations).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct RelationCounts {
    /// Observations in which the meant attractor's relation to a recent act was known.
    n: f64,
    /// relation token -> weighted count (a recent act counts with its activation; per
    /// observation and token the strongest, at most 1).
    tokens: BTreeMap<String, f64>,
}

impl RelationCounts {
    fn add(&mut self, tokens: &[(&'static str, f64)]) {
        if tokens.is_empty() {
            return;
        }
        self.n += 1.0;
        for &(t, w) in tokens {
            *self.tokens.entry(t.to_string()).or_default() += w;
        }
    }
}

/// Association strengths words / phrases -> attractors, learned online.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lexicon {
    /// feature -> attractor -> weighted count.
    pairs: BTreeMap<String, BTreeMap<u32, f64>>,
    /// feature -> weighted count.
    features: BTreeMap<String, f64>,
    /// attractor -> observations.
    attractors: BTreeMap<u32, f64>,
    /// Observations.
    total: f64,
    /// Distinct utterances taught (normalised) -> times.
    phrases: BTreeMap<String, u64>,
    /// attractor -> weighted count of the text features said with it (naive Bayes mass).
    #[serde(default)]
    text_mass: BTreeMap<u32, f64>,
    /// text feature -> (how much the attractor meant was among the recent ones, times said):
    /// words that point back at what was just done ("again").
    #[serde(default)]
    repeats: BTreeMap<String, (f64, f64)>,
    /// The same over every observation (the base rate).
    #[serde(default)]
    repeats_all: (f64, f64),
    /// text feature -> the relations the attractor meant stood in to the recent acts when it
    /// was said, from the action memories.
    #[serde(default)]
    relations: BTreeMap<String, RelationCounts>,
    /// The same over every observation (the base rates).
    #[serde(default)]
    relations_all: RelationCounts,
    /// word -> parameters it was said with.
    params: BTreeMap<String, ParamSums>,
    /// All observations' parameters.
    all_params: ParamSums,
}

/// The words of `text`: lower case, letters and digits (apostrophes dropped), split at
/// anything else.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| {
            w.chars()
                .filter(|c| *c != '\'')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Text features of `words`: each word and each pair of neighbouring words.
fn text_features(words: &[String]) -> Vec<String> {
    let mut f: Vec<String> = words.to_vec();
    for p in words.windows(2) {
        f.push(format!("{} {}", p[0], p[1]));
    }
    f.sort();
    f.dedup();
    f
}

impl Lexicon {
    /// An empty lexicon.
    pub fn new() -> Lexicon {
        Lexicon::default()
    }

    /// Observations taught.
    pub fn observations(&self) -> u64 {
        self.total as u64
    }

    /// Distinct utterances taught (normalised: lower case, single spaces).
    pub fn phrases(&self) -> impl Iterator<Item = &str> {
        self.phrases.keys().map(String::as_str)
    }

    /// Distinct words taught.
    pub fn vocabulary(&self) -> usize {
        self.params.len()
    }

    /// The utterance's features with weights: text features (1), and each text feature joined
    /// with each context feature (the context feature's weight).
    fn features(words: &[String], ctx: &Context) -> Vec<(String, f64)> {
        let text = text_features(words);
        let cf = ctx.features();
        let mut out = Vec::with_capacity(text.len() * (1 + cf.len()));
        for t in &text {
            out.push((t.clone(), 1.0));
            for (c, w) in &cf {
                out.push((format!("{t}|{c}"), *w));
            }
        }
        out
    }

    /// Learns that `text`, said in `ctx`, was about the experience that `attractor` holds;
    /// `params` (when known) are the performance's speed and amplitude factors. Returns false
    /// (and learns nothing) when the text has no words. No action memories: learns no
    /// relations (see [`Lexicon::observe_in`]).
    pub fn observe(
        &mut self,
        text: &str,
        ctx: &Context,
        attractor: u32,
        params: Option<Params>,
    ) -> bool {
        self.observe_in(text, ctx, attractor, params, &NoActs)
    }

    /// The relation tokens of `attractor` to the recent acts of `ctx`, each with the strongest
    /// activation (at most 1) of a recent act it relates so to.
    fn relation_tokens(ctx: &Context, attractor: u32, acts: &dyn Acts) -> Vec<(&'static str, f64)> {
        if acts.act(attractor).is_none() {
            return Vec::new();
        }
        let mut out: BTreeMap<&'static str, f64> = BTreeMap::new();
        for &(r, w) in ctx.recent.iter().take(MAX_RECENT) {
            if !(w.is_finite() && w > 0.0) {
                continue;
            }
            let Some(rel) = Relations::of(r, acts).and_then(|x| x.get(attractor)) else {
                continue;
            };
            let e = out.entry(rel.token()).or_default();
            *e = e.max(w.min(1.0) as f64);
        }
        out.into_iter().collect()
    }

    /// [`Lexicon::observe`], also learning which relations the words go with: how the
    /// attractor's act (its action memory in `acts`) relates to the recent acts' (see
    /// [`Relation`]).
    pub fn observe_in(
        &mut self,
        text: &str,
        ctx: &Context,
        attractor: u32,
        params: Option<Params>,
        acts: &dyn Acts,
    ) -> bool {
        let w = words(text);
        if w.is_empty() {
            return false;
        }
        let rel = Self::relation_tokens(ctx, attractor, acts);
        if !rel.is_empty() {
            for f in text_features(&w) {
                self.relations.entry(f).or_default().add(&rel);
            }
            self.relations_all.add(&rel);
        }
        for (f, weight) in Self::features(&w, ctx) {
            if !f.contains('|') {
                *self.text_mass.entry(attractor).or_default() += weight;
            }
            *self
                .pairs
                .entry(f.clone())
                .or_default()
                .entry(attractor)
                .or_default() += weight;
            *self.features.entry(f).or_default() += weight;
        }
        let back = ctx
            .recent
            .iter()
            .take(MAX_RECENT)
            .filter(|r| r.0 == attractor && r.1.is_finite())
            .map(|r| r.1.clamp(0.0, 1.0) as f64)
            .fold(0.0, f64::max);
        for f in text_features(&w) {
            let e = self.repeats.entry(f).or_default();
            e.0 += back;
            e.1 += 1.0;
        }
        self.repeats_all.0 += back;
        self.repeats_all.1 += 1.0;
        *self.attractors.entry(attractor).or_default() += 1.0;
        self.total += 1.0;
        *self.phrases.entry(w.join(" ")).or_default() += 1;
        for word in &w {
            let e = self.params.entry(word.clone()).or_default();
            if let Some(p) = params {
                e.add(p);
            }
        }
        if let Some(p) = params {
            self.all_params.add(p);
        }
        true
    }

    /// How much feature `f` (its attractor counts `m`, total `nf`) says about the attractor:
    /// `1 - H(attractor | f) / ln K` over the K attractors the lexicon knows (0: said with all
    /// alike, 1: said with one only).
    fn informativeness(&self, nf: f64, m: &BTreeMap<u32, f64>) -> f64 {
        let k = (self.attractors.len() as f64).max(2.0);
        if nf <= 0.0 {
            return 0.0;
        }
        let h: f64 = m
            .values()
            .filter(|&&c| c > 0.0)
            .map(|&c| {
                let p = c / nf;
                -p * p.ln()
            })
            .sum();
        (1.0 - h / k.ln()).max(0.0)
    }

    /// The vote of a feature seen `nfa` times with an attractor: shrunk for rare pairs; a
    /// conjunction with the context needs repeated evidence (a context feature is present in
    /// every observation, so a pair seen once is mostly coincidence and weighs nothing).
    fn shrink(nfa: f64, conjunction: bool) -> f64 {
        if conjunction {
            ((nfa - 1.0) / nfa).max(0.0)
        } else {
            nfa / (nfa + SHRINK)
        }
    }

    /// How much the words `text` point back at the recent acts: per text feature, how much more
    /// often than the base rate the attractor meant was among the recent ones when it was said
    /// (shrunk towards the base rate for features said rarely), summed.
    fn pointing_back(&self, text: &[String]) -> f64 {
        let (bh, bn) = self.repeats_all;
        if bn <= 0.0 {
            return 0.0;
        }
        let base = (bh / bn).clamp(0.0, 0.999);
        text.iter()
            .filter_map(|f| self.repeats.get(f))
            .map(|&(h, n)| {
                let rate = (h + base * REPEAT_PRIOR) / (n + REPEAT_PRIOR);
                ((rate - base) / (1.0 - base)).max(0.0)
            })
            .sum()
    }

    /// The relations' log-likelihood ratios: for each attractor `a` and recent act `r`,
    /// `ln( P(rel(r, a) | words) / P(rel(r, a) | a random candidate) )`, weighted by `r`'s
    /// activation. `P(rel | words)` is the mean over the text features of their (shrunk,
    /// one sighting discounted) relation rates, each weighted by how open the feature leaves
    /// the attractor (`(1 - I(f))^2`: a word that names an act says little through its
    /// relation to the previous one), pulled towards the random rate with the weight of one
    /// such feature. The recent act's own attractor is left to the pointing-back rate.
    fn relation_loglik(
        &self,
        text: &[String],
        ctx: &Context,
        acts: &dyn Acts,
    ) -> BTreeMap<u32, f64> {
        let mut out: BTreeMap<u32, f64> = BTreeMap::new();
        let all = &self.relations_all;
        if all.n <= 0.0 {
            return out;
        }
        // per text feature: how open it leaves the attractor, and its relation counts
        let feats: Vec<(f64, &RelationCounts)> = text
            .iter()
            .filter_map(|f| {
                let c = self.relations.get(f)?;
                let open = match (self.features.get(f), self.pairs.get(f)) {
                    (Some(&nf), Some(m)) => 1.0 - self.informativeness(nf, m),
                    _ => 1.0,
                };
                Some((open * open, c))
            })
            .collect();
        let wsum: f64 = feats.iter().map(|x| x.0).sum();
        for &(r, wt) in ctx.recent.iter().take(MAX_RECENT) {
            if !(wt.is_finite() && wt > 0.0) {
                continue;
            }
            let Some(rel) = Relations::of(r, acts) else {
                continue;
            };
            let cands: Vec<(u32, Relation)> = self
                .attractors
                .keys()
                .filter_map(|&a| Some((a, rel.get(a)?)))
                .collect();
            let k = cands.len() as f64;
            if k < 2.0 {
                continue;
            }
            let mut per: BTreeMap<Relation, f64> = BTreeMap::new();
            for (_, x) in &cands {
                *per.entry(*x).or_default() += 1.0;
            }
            for (&x, &nt) in &per {
                if x == Relation::Itself {
                    continue;
                }
                let t = x.token();
                let base = (all.tokens.get(t).copied().unwrap_or(0.0) / all.n).clamp(1e-3, 0.999);
                let random = nt / k;
                let said: f64 = feats
                    .iter()
                    .map(|(o, c)| {
                        // one sighting is coincidence (the context is there every time)
                        let h = (c.tokens.get(t).copied().unwrap_or(0.0) - 1.0).max(0.0);
                        o * (h + base * REPEAT_PRIOR) / (c.n + REPEAT_PRIOR)
                    })
                    .sum();
                let p = (said + random) / (wsum + 1.0);
                let ll = (p.max(1e-6) / random).ln() * wt.min(1.0) as f64;
                for (a, y) in &cands {
                    if *y == x {
                        *out.entry(*a).or_default() += ll;
                    }
                }
            }
        }
        out
    }

    /// Understands `text` in `ctx`: the `k` attractors it grounds in, most confident first, and
    /// the parameters its words ask for. Empty text, a text of unknown words only, or an empty
    /// lexicon are errors; unknown words beside known ones are listed and ignored. No action
    /// memories: no relations (see [`Lexicon::understand_in`]).
    pub fn understand(
        &self,
        text: &str,
        ctx: &Context,
        k: usize,
    ) -> Result<Understanding, LanguageError> {
        self.understand_in(text, ctx, k, &NoActs)
    }

    /// [`Lexicon::understand`], with the relations the words were learned to ask for: each
    /// attractor whose act (its action memory in `acts`) stands in such a relation to a recent
    /// act ("the other way": its mirror) or to the scene gets their vote.
    pub fn understand_in(
        &self,
        text: &str,
        ctx: &Context,
        k: usize,
        acts: &dyn Acts,
    ) -> Result<Understanding, LanguageError> {
        let w = words(text);
        if w.is_empty() {
            return Err(LanguageError::Empty);
        }
        if self.total <= 0.0 {
            return Err(LanguageError::NothingLearned);
        }
        let unknown: Vec<String> = w
            .iter()
            .filter(|x| !self.features.contains_key(x.as_str()))
            .cloned()
            .collect();
        if unknown.len() == w.len() {
            return Err(LanguageError::Unknown(unknown));
        }
        // the words: naive Bayes over the attractors (words compose: "reach" and "right"), each
        // feature's log likelihood weighted by how discriminative it is (a word said about
        // every attractor alike, like "again", says nothing, instead of its sampling noise)
        let text = text_features(&w);
        let vocab = self.features.keys().filter(|f| !f.contains('|')).count() as f64;
        // each known text feature with how discriminative it is
        let evidence: Vec<(&String, f64, &BTreeMap<u32, f64>)> = text
            .iter()
            .filter_map(|f| {
                let (&nf, m) = (self.features.get(f)?, self.pairs.get(f)?);
                Some((f, self.informativeness(nf, m), m))
            })
            .collect();
        let mut scores: BTreeMap<u32, f64> = BTreeMap::new();
        for (&a, &na) in &self.attractors {
            let mass = self.text_mass.get(&a).copied().unwrap_or(0.0);
            let mut l = (na / self.total).ln();
            for (_, info, m) in &evidence {
                let nfa = m.get(&a).copied().unwrap_or(0.0);
                l += info * ((nfa + ALPHA) / (mass + ALPHA * vocab)).ln();
            }
            scores.insert(a, l);
        }
        // as log posterior probabilities
        let top = scores.values().copied().fold(f64::MIN, f64::max);
        let z: f64 = scores.values().map(|l| (l - top).exp()).sum();
        for l in scores.values_mut() {
            *l -= top + z.ln();
        }
        // the context: conjunction votes, and the words that point back at the recent acts
        let mut votes: BTreeMap<u32, f64> = BTreeMap::new();
        for (f, weight) in Self::features(&w, ctx) {
            if !f.contains('|') {
                continue;
            }
            let (Some(&nf), Some(m)) = (self.features.get(&f), self.pairs.get(&f)) else {
                continue;
            };
            let info = self.informativeness(nf, m);
            // what the context adds to the word alone: P(a | word, context) - P(a | word)
            let word = f.split('|').next().unwrap_or("");
            let alone = |a: &u32| -> f64 {
                match (self.features.get(word), self.pairs.get(word)) {
                    (Some(&n), Some(m)) if n > 0.0 => m.get(a).copied().unwrap_or(0.0) / n,
                    _ => 0.0,
                }
            };
            for (&a, &nfa) in m {
                let gain = (nfa / nf - alone(&a)).max(0.0);
                *votes.entry(a).or_default() += weight * info * gain * Self::shrink(nfa, true);
            }
        }
        let back = self.pointing_back(&text);
        for &(a, wt) in ctx.recent.iter().take(MAX_RECENT) {
            if wt.is_finite() && wt > 0.0 && self.attractors.contains_key(&a) {
                *votes.entry(a).or_default() += back * wt.min(1.0) as f64;
            }
        }
        for (a, v) in votes {
            if let Some(l) = scores.get_mut(&a) {
                *l += CONTEXT_WEIGHT * v;
            }
        }
        // the relations of the attractors' acts to the recent acts
        for (a, ll) in self.relation_loglik(&text, ctx, acts) {
            if let Some(l) = scores.get_mut(&a) {
                *l += RELATION_WEIGHT * ll;
            }
        }
        let mut ranked: Vec<(u32, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top = ranked.first().map_or(0.0, |r| r.1);
        let z: f64 = ranked.iter().map(|r| (r.1 - top).exp()).sum();
        let meanings = ranked
            .iter()
            .take(k.max(1))
            .map(|&(a, s)| Meaning {
                attractor: a,
                confidence: ((s - top).exp() / z.max(1e-12)) as f32,
                score: s as f32,
            })
            .collect();
        Ok(Understanding {
            meanings,
            params: self.params_of(&w),
            unknown,
        })
    }

    /// The parameters `words` ask for: the overall mean, moved by each word's mean deviation
    /// from it (shrunk for words said rarely with known parameters).
    fn params_of(&self, words: &[String]) -> Params {
        let (gs, ga) = self.all_params.mean();
        let (mut ds, mut da) = (0.0, 0.0);
        for w in words {
            let Some(p) = self.params.get(w) else {
                continue;
            };
            if p.n <= 0.0 {
                continue;
            }
            let (s, a) = p.mean();
            let r = p.n / (p.n + PARAM_SHRINK);
            ds += (s - gs) * r;
            da += (a - ga) * r;
        }
        Params {
            speed: (gs + ds).exp(),
            amplitude: (ga + da).exp(),
        }
    }

    /// Moves what was learned about attractor `from` to `into` (the substrate merged them).
    pub fn merge(&mut self, from: u32, into: u32) {
        // (every attractor with counts is in `attractors`: the common case costs a lookup)
        if from == into || !self.attractors.contains_key(&from) {
            return;
        }
        for m in self.pairs.values_mut() {
            if let Some(c) = m.remove(&from) {
                *m.entry(into).or_default() += c;
            }
        }
        if let Some(c) = self.attractors.remove(&from) {
            *self.attractors.entry(into).or_default() += c;
        }
        if let Some(c) = self.text_mass.remove(&from) {
            *self.text_mass.entry(into).or_default() += c;
        }
    }

    /// Forgets attractor `id` (the substrate pruned it, or a new attractor reuses its slot).
    pub fn forget(&mut self, id: u32) {
        if !self.attractors.contains_key(&id) {
            return;
        }
        for (f, m) in self.pairs.iter_mut() {
            if let Some(c) = m.remove(&id) {
                if let Some(n) = self.features.get_mut(f) {
                    *n = (*n - c).max(0.0);
                }
            }
        }
        self.pairs.retain(|_, m| !m.is_empty());
        self.features.retain(|_, n| *n > 0.0);
        if let Some(c) = self.attractors.remove(&id) {
            self.total = (self.total - c).max(0.0);
        }
        self.text_mass.remove(&id);
    }

    /// Attractors the lexicon grounds words in.
    pub fn attractors(&self) -> impl Iterator<Item = u32> + '_ {
        self.attractors.keys().copied()
    }

    /// Writes the lexicon to `path` atomically (temporary file beside it, then rename), with a
    /// SHA-256 of the body in the header line.
    pub fn save(&self, path: &Path) -> Result<(), LanguageError> {
        let io = |source| LanguageError::Io {
            file: path.display().to_string(),
            source,
        };
        let body = serde_json::to_vec(self).map_err(|e| LanguageError::Corrupt {
            file: path.display().to_string(),
            why: e.to_string(),
        })?;
        let hash = hex(&Sha256::digest(&body));
        let tmp = tmp_path(path);
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            writeln!(f, "{HEADER} {hash}").map_err(io)?;
            f.write_all(&body).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a lexicon [`Lexicon::save`] wrote; the checksum must match.
    pub fn load(path: &Path) -> Result<Lexicon, LanguageError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LanguageError::Io {
            file: file.clone(),
            source,
        })?;
        let bad = |why: &str| LanguageError::Corrupt {
            file: file.clone(),
            why: why.to_string(),
        };
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header line"))?;
        let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text"))?;
        let want = HEADERS
            .iter()
            .find_map(|h| header.strip_prefix(h))
            .map(str::trim)
            .ok_or_else(|| bad("not a sattva lexicon of a known version (header)"))?;
        let body = &bytes[nl + 1..];
        if hex(&Sha256::digest(body)) != want {
            return Err(bad("checksum mismatch: the file is damaged"));
        }
        serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))
    }
}

/// The header of the current format (2: relation counts; version-1 files load without them).
const HEADER: &str = "sattva-lexicon 2 sha256";
/// Headers of the versions [`Lexicon::load`] reads.
const HEADERS: [&str; 2] = [HEADER, "sattva-lexicon 1 sha256"];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The lexicon file beside a substrate snapshot: `<snapshot>.lexicon`.
pub fn lexicon_path(snapshot: &Path) -> PathBuf {
    let mut s = snapshot.as_os_str().to_owned();
    s.push(".lexicon");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(scene: Option<Side>, prev: Option<u32>) -> Context {
        Context {
            scene,
            recent: prev.map(|p| vec![(p, 1.0)]).unwrap_or_default(),
        }
    }

    #[test]
    fn words_are_normalised() {
        assert_eq!(
            words("  Push it, LEFT!  don't"),
            ["push", "it", "left", "dont"]
        );
        assert!(words(" ,. ").is_empty());
    }

    #[test]
    fn context_decides_an_ambiguous_word() {
        let mut l = Lexicon::new();
        // "push it": attractor 1 when the object is left, 2 when right
        for _ in 0..3 {
            l.observe("push it", &ctx(Some(Side::Left), None), 1, None);
            l.observe("push it", &ctx(Some(Side::Right), None), 2, None);
            l.observe("push left", &ctx(Some(Side::Right), None), 1, None);
            l.observe("push right", &ctx(Some(Side::Left), None), 2, None);
            l.observe("lift", &ctx(Some(Side::Left), None), 3, None);
        }
        let top = |s| {
            l.understand("push it", &ctx(Some(s), None), 3)
                .unwrap()
                .meanings[0]
                .attractor
        };
        assert_eq!(top(Side::Left), 1);
        assert_eq!(top(Side::Right), 2);
        // without context both groundings come first, about equally, lift far behind
        let u = l.understand("push it", &Context::default(), 5).unwrap();
        let m = &u.meanings;
        let mut first: Vec<u32> = m[..2].iter().map(|m| m.attractor).collect();
        first.sort();
        assert_eq!(first, [1, 2], "{m:?}");
        assert!((m[0].confidence - m[1].confidence).abs() < 0.1, "{m:?}");
        assert!(m[2].attractor == 3 && m[2].confidence < 0.2, "{m:?}");
        // with the context the right one is confident
        let u = l
            .understand("push it", &ctx(Some(Side::Left), None), 3)
            .unwrap();
        assert!(u.meanings[0].confidence > 0.8, "{:?}", u.meanings);
        assert_eq!(
            l.understand("lift", &Context::default(), 1)
                .unwrap()
                .meanings[0]
                .attractor,
            3
        );
    }

    #[test]
    fn errors_are_results() {
        let mut l = Lexicon::new();
        assert!(matches!(
            l.understand("lift", &Context::default(), 1),
            Err(LanguageError::NothingLearned)
        ));
        l.observe("lift", &Context::default(), 3, None);
        assert!(matches!(
            l.understand("  ", &Context::default(), 1),
            Err(LanguageError::Empty)
        ));
        match l.understand("fly away", &Context::default(), 1) {
            Err(LanguageError::Unknown(w)) => assert_eq!(w, ["fly", "away"]),
            other => panic!("{other:?}"),
        }
        let u = l.understand("lift please", &Context::default(), 1).unwrap();
        assert_eq!(u.unknown, ["please"]);
    }

    #[test]
    fn modifiers_move_parameters() {
        let mut l = Lexicon::new();
        let p = |s, a| {
            Some(Params {
                speed: s,
                amplitude: a,
            })
        };
        for _ in 0..4 {
            l.observe("slowly lift", &Context::default(), 1, p(0.8, 1.0));
            l.observe("lift", &Context::default(), 1, p(1.0, 1.0));
            l.observe("quickly lift", &Context::default(), 1, p(1.2, 1.0));
            l.observe("a big lift", &Context::default(), 1, p(1.0, 1.2));
        }
        let u = |t| l.understand(t, &Context::default(), 1).unwrap().params;
        assert!(u("slowly lift").speed < 0.95, "{:?}", u("slowly lift"));
        assert!(u("quickly lift").speed > 1.05);
        assert!(u("big lift").amplitude > 1.05);
    }

    #[test]
    fn merge_and_forget_follow_the_substrate() {
        let mut l = Lexicon::new();
        l.observe("wave", &Context::default(), 4, None);
        l.observe("nod", &Context::default(), 5, None);
        l.merge(4, 6);
        let top = l
            .understand("wave", &Context::default(), 1)
            .unwrap()
            .meanings[0]
            .attractor;
        assert_eq!(top, 6);
        l.forget(6);
        assert!(matches!(
            l.understand("wave", &Context::default(), 1),
            Err(LanguageError::Unknown(_))
        ));
    }

    /// Acts of 2 bins x 3 joints: three pairs of opposite acts (10/11: joint 0, 20/21: joint 1,
    /// 30/31: joint 2, each with a little of the next joint) and one act of joints 0 and 1.
    fn mirrored_acts() -> BTreeMap<u32, crate::substrate::ActionMemory> {
        let m = |p: [f32; 6]| crate::substrate::ActionMemory::new(2, 3, 1.0, &p).unwrap();
        let mut acts = BTreeMap::new();
        for (id, j) in [(10u32, 0usize), (20, 1), (30, 2)] {
            let mut p = [0.0f32; 6];
            p[j] = 1.0;
            p[3 + j] = 2.0;
            p[3 + (j + 1) % 3] = 0.3;
            acts.insert(id, m(p));
            acts.insert(id + 1, m(p.map(|x| -x)));
        }
        acts.insert(40, m([1.0, 1.0, 0.0, 2.0, 2.0, 0.0]));
        acts
    }

    /// A lexicon taught "do <id>" about every act, each said after unrelated acts (two to four
    /// on in the list).
    fn described(acts: &BTreeMap<u32, crate::substrate::ActionMemory>) -> Lexicon {
        let ids: Vec<u32> = acts.keys().copied().collect();
        let mut l = Lexicon::new();
        for k in 0..3 {
            for (i, &a) in ids.iter().enumerate() {
                let prev = ids[(i + 2 + k) % ids.len()];
                l.observe_in(&format!("do {a}"), &ctx(None, Some(prev)), a, None, acts);
            }
        }
        l
    }

    #[test]
    fn the_other_way_generalises_to_an_unseen_pair() {
        let acts = mirrored_acts();
        let mut l = described(&acts);
        // "the other way" about the mirror of what was just done: pairs 10/11 and 20/21 only
        for _ in 0..2 {
            for (from, to) in [(10, 11), (11, 10), (20, 21), (21, 20)] {
                l.observe_in("the other way", &ctx(None, Some(from)), to, None, &acts);
            }
        }
        // the unseen pair, both ways
        for (from, to) in [(30, 31), (31, 30)] {
            let u = l
                .understand_in("the other way", &ctx(None, Some(from)), 3, &acts)
                .unwrap();
            assert_eq!(u.meanings[0].attractor, to, "{:?}", u.meanings);
            // without the action memories the words and the context alone cannot know it
            let u = l
                .understand("the other way", &ctx(None, Some(from)), 3)
                .unwrap();
            assert_ne!(u.meanings[0].attractor, to, "{:?}", u.meanings);
        }
        // the descriptions are unmoved by the relation counts
        let u = l
            .understand_in("do 31", &ctx(None, Some(30)), 1, &acts)
            .unwrap();
        assert_eq!(u.meanings[0].attractor, 31);
        let u = l
            .understand_in("do 40", &ctx(None, Some(30)), 1, &acts)
            .unwrap();
        assert_eq!(u.meanings[0].attractor, 40);
    }

    #[test]
    fn a_relation_seen_once_is_coincidence() {
        let acts = mirrored_acts();
        let mut l = described(&acts);
        // "the other way" about a mirror once, and about unrelated acts: not yet a relation
        // (shrunk to the base rate, one sighting discounted)
        l.observe_in("the other way", &ctx(None, Some(10)), 11, None, &acts);
        for (from, to) in [(40, 20), (10, 21), (11, 40)] {
            l.observe_in("the other way", &ctx(None, Some(from)), to, None, &acts);
        }
        let top = |l: &Lexicon| {
            l.understand_in("the other way", &ctx(None, Some(30)), 3, &acts)
                .unwrap()
                .meanings[0]
                .attractor
        };
        assert_ne!(top(&l), 31);
        // a second time: it is
        l.observe_in("the other way", &ctx(None, Some(11)), 10, None, &acts);
        assert_eq!(top(&l), 31);
    }

    #[test]
    fn a_version_1_lexicon_loads_without_relations() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.lexicon");
        let mut l = Lexicon::new();
        l.observe("wave", &ctx(None, Some(3)), 4, None);
        let mut v = serde_json::to_value(&l).unwrap();
        let o = v.as_object_mut().unwrap();
        assert!(o.remove("relations").is_some() && o.remove("relations_all").is_some());
        let body = serde_json::to_vec(&v).unwrap();
        let mut bytes =
            format!("sattva-lexicon 1 sha256 {}\n", hex(&Sha256::digest(&body))).into_bytes();
        bytes.extend_from_slice(&body);
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(Lexicon::load(&p).unwrap(), l);
        // an unknown version is refused
        bytes[15] = b'9';
        std::fs::write(&p, &bytes).unwrap();
        let e = Lexicon::load(&p).unwrap_err().to_string();
        assert!(e.contains("version"), "{e}");
    }

    #[test]
    fn save_load_round_trip_and_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = lexicon_path(&dir.path().join("s.snap"));
        let mut l = Lexicon::new();
        l.observe("push it", &ctx(Some(Side::Left), Some(3)), 1, None);
        l.save(&p).unwrap();
        assert_eq!(Lexicon::load(&p).unwrap(), l);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x20;
        std::fs::write(&p, bytes).unwrap();
        let e = Lexicon::load(&p).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
    }
}
