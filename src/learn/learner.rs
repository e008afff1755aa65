//! Encoder + substrate: experiences in, attractors and events out. The one learning path of
//! every mode: the learn task runs it on the control task's segments.

mod adopt;

use std::collections::BTreeMap;

use arrayvec::{ArrayString, ArrayVec};

use super::bridge::{
    truncated, AttractorEvent, AttractorInfo, AttractorSet, EventKind, LearnStats, MAX_PATTERN,
    MAX_QUERY_K,
};
use super::segment::{Role, Segment};
use super::LearnError;
use crate::encode::{Encoder, Experience, Layout};
use crate::substrate::{AttractorId, Substrate};
use crate::types::Time;
use crate::vision::{Descriptor, DESCRIPTOR_LEN};

/// One experience as the learner saw it (kept when the journal is on: evaluation).
#[derive(Clone, Debug, PartialEq)]
pub struct JournalEntry {
    /// The experience vector (unit length).
    pub vector: Vec<f32>,
    /// The segment's tag, if it had one.
    pub tag: Option<super::Tag>,
    /// The best-matching attractor before learning (-1: none).
    pub recalled: i64,
    /// The attractor that absorbed it (-1: not learned).
    pub learned: i64,
    /// Similarity to the nearest attractor before learning.
    pub similarity: f32,
    /// A new attractor formed for it.
    pub created: bool,
    /// Live attractors after it.
    pub attractors: usize,
    /// Backend time of the experience's end.
    pub t: Time,
}

/// The encoder the learner uses for a robot with `layout`: `encode`'s modalities, then the
/// course profiles (joint trajectory, touch) when weighted, then the vision descriptor and its
/// change when `visual_weight > 0`. Returns the encoder, which profiles are on
/// `(trajectory, touch)`, and whether the visual modalities are on.
pub fn encoder_for(
    encode: &crate::encode::EncodeConfig,
    layout: Layout,
    seed: u64,
    visual_weight: f64,
) -> (Encoder, (bool, bool), bool) {
    let mut encoder = Encoder::new(encode, layout, seed);
    // the experience's course: joint trajectory and touch profiles over phase bins
    let p = &encode.profile;
    let bins = (p.bins as usize).clamp(1, super::MAX_BINS);
    let traj = p.trajectory_weight > 0.0 && layout.joints > 0;
    let touch = p.touch_weight > 0.0 && layout.contacts > 0;
    if traj {
        encoder = encoder.with_extra_modality(
            "joint_trajectory",
            bins * layout.joints,
            p.trajectory_weight as f32,
        );
    }
    if touch {
        encoder = encoder.with_extra_modality("touch_profile", bins, p.touch_weight as f32);
    }
    // the vision task's descriptor as a modality (segments without one encode zeros)
    let visual = visual_weight > 0.0;
    if visual {
        let w = visual_weight as f32;
        encoder = encoder
            .with_extra_modality("visual", DESCRIPTOR_LEN, w)
            .with_extra_modality("visual_change", DESCRIPTOR_LEN, w);
    }
    (encoder, (traj, touch), visual)
}

/// Encoder + substrate: experiences in, attractors and events out.
pub struct Learner {
    encoder: Encoder,
    visual: bool,
    change: Descriptor,
    substrate: Substrate,
    exp: Experience,
    last: Option<Experience>,
    calibrate_left: u64,
    proj: [Vec<f32>; 3],
    hits: Vec<(u32, f32)>,
    /// Label counts per attractor (the teacher's labels of the experiences it absorbed).
    labels: BTreeMap<u32, BTreeMap<&'static str, u64>>,
    /// Labels ever taught.
    seen: std::collections::BTreeSet<&'static str>,
    profile: (bool, bool),
    journal: Option<Vec<JournalEntry>>,
    /// The best match of the last recognised experience `(attractor or -1, similarity)`.
    last_recall: (i64, f32),
    learn_ns: hdrhistogram::Histogram<u64>,
    /// Counters.
    pub stats: LearnStats,
}

impl Learner {
    /// A learner for a robot with `layout`: the encoder of `encode` (plus the course profiles
    /// and, when `visual_weight > 0`, the vision task's descriptor), the substrate of
    /// `substrate` or the snapshot `resume`, `calibration` experiences calibrating first.
    pub fn with_sections(
        encode: &crate::encode::EncodeConfig,
        substrate: &crate::substrate::SubstrateConfig,
        calibration: u64,
        visual_weight: f64,
        resume: Option<&std::path::Path>,
        seed: u64,
        layout: Layout,
    ) -> Result<Learner, LearnError> {
        let (encoder, (traj, touch), visual) = encoder_for(encode, layout, seed, visual_weight);
        let dim = encoder.dim();
        let substrate = match resume {
            None => {
                let mut sc = substrate.clone();
                sc.dim = dim as u64;
                Substrate::new(sc)?
            }
            Some(p) => {
                let (s, info) = Substrate::load(p)?;
                if s.config().dim as usize != dim {
                    return Err(LearnError::Dimension {
                        file: p.display().to_string(),
                        snapshot: s.config().dim,
                        encoder: dim,
                    });
                }
                tracing::info!(file = %p.display(), attractors = s.len(), step = info.step, "substrate resumed");
                s
            }
        };
        let mut l = Self::with_parts(encoder, substrate, calibration);
        l.visual = visual;
        l.profile = (traj, touch);
        // the labels a resumed substrate carries count as taught
        let ids: Vec<_> = l.substrate.ids().collect();
        for id in ids {
            if let Some(a) = l.substrate.attractor(id, Time::ZERO) {
                for name in a.labels {
                    let name = intern(name);
                    *l.labels.entry(id.0).or_default().entry(name).or_default() += 1;
                    l.seen.insert(name);
                }
            }
        }
        Ok(l)
    }

    /// A learner from an encoder and a substrate of the same dimension (no visual modality).
    fn with_parts(encoder: Encoder, substrate: Substrate, calibration: u64) -> Learner {
        let dim = encoder.dim();
        // a fixed, seeded projection R^D -> R^3 (3 orthogonal +-1/sqrt(D) sign vectors are
        // close to orthonormal for D >= 64), so the markers keep neighbourhoods
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x005a_777a);
        let s = 1.0 / (dim as f32).sqrt();
        let proj = [0, 1, 2].map(|_| {
            (0..dim)
                .map(|_| if rng.gen::<bool>() { s } else { -s })
                .collect::<Vec<f32>>()
        });
        Learner {
            exp: Experience::new(dim),
            visual: false,
            change: Descriptor::default(),
            encoder,
            substrate,
            last: None,
            calibrate_left: calibration,
            proj,
            hits: Vec::with_capacity(MAX_QUERY_K + 1),
            labels: BTreeMap::new(),
            seen: Default::default(),
            profile: (false, false),
            journal: None,
            last_recall: (-1, 0.0),
            learn_ns: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 2)
                .expect("static histogram bounds are valid"),
            stats: LearnStats::default(),
        }
    }

    /// The best match `(attractor or -1, similarity)` of the last experience [`Learner::learn`]
    /// judged (recognised or learned; calibration and rejected experiences leave it as it was).
    pub fn last_recall(&self) -> (i64, f32) {
        self.last_recall
    }

    /// The performance of a learned attractor: by id, or by `text` (see
    /// [`Learner::resolve_text`]), at `speed`, as the goal the control task plays (`id` echoed).
    /// Errors name what is missing.
    pub fn perform_goal(
        &self,
        id: u32,
        attractor: Option<u32>,
        text: &str,
        speed: f64,
        period_ns: i64,
        t: Time,
    ) -> Result<crate::action::PerformGoal, String> {
        let a = match attractor {
            Some(a) => AttractorId(a),
            None => self.resolve_text(text)?,
        };
        let Some(info) = self.substrate.attractor(a, t) else {
            return Err(format!("perform: no attractor {} (not live)", a.0));
        };
        let label = info.labels.first().map_or("", |l| intern(l));
        let mem = self.substrate.action(a).ok_or_else(|| {
            format!(
                "perform: attractor {} has no action memory (learned without commands)",
                a.0
            )
        })?;
        let speed = if speed == 0.0 { 1.0 } else { speed };
        crate::action::PerformGoal::new(id, a.0, label, mem, speed, period_ns)
            .map_err(|e| e.to_string())
    }

    /// The live attractor whose label is exactly `text` (several: the one that absorbed the
    /// most experiences). The learn task falls back to the grounded meaning of the words when no
    /// label matches.
    pub fn resolve_text(&self, text: &str) -> Result<AttractorId, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("perform: empty text: give an attractor label or an id".into());
        }
        self.substrate
            .ids()
            .filter_map(|id| {
                let a = self.substrate.attractor(id, Time::ZERO)?;
                a.labels
                    .iter()
                    .any(|l| l == text)
                    .then_some((id, a.activation_count))
            })
            .max_by_key(|&(id, n)| (n, std::cmp::Reverse(id)))
            .map(|(id, _)| id)
            .ok_or_else(|| format!("perform: no attractor is labelled `{text}`"))
    }

    /// The substrate.
    pub fn substrate(&self) -> &Substrate {
        &self.substrate
    }

    /// The substrate, mutably (labels, snapshots).
    pub fn substrate_mut(&mut self) -> &mut Substrate {
        &mut self.substrate
    }

    /// Experience dimension.
    pub fn dim(&self) -> usize {
        self.encoder.dim()
    }

    /// The most recent experience, if any.
    pub fn last_experience(&self) -> Option<&Experience> {
        self.last.as_ref()
    }

    /// Keeps every experience in a journal from now on (evaluation; grows without bound).
    pub fn keep_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// The journal (see [`Learner::keep_journal`]).
    pub fn journal(&self) -> &[JournalEntry] {
        self.journal.as_deref().unwrap_or(&[])
    }

    /// Learning time per learned experience (`substrate.learn`), ns.
    pub fn learn_histogram(&self) -> &hdrhistogram::Histogram<u64> {
        &self.learn_ns
    }

    /// Learning time per learned experience (`substrate.learn`), us: p50, p99, max.
    pub fn learn_us(&self) -> [f64; 3] {
        let h = &self.learn_ns;
        if h.is_empty() {
            return [0.0; 3];
        }
        [
            h.value_at_quantile(0.5) as f64 * 1e-3,
            h.value_at_quantile(0.99) as f64 * 1e-3,
            h.max() as f64 * 1e-3,
        ]
    }

    /// The majority label of attractor `id` (ties: the alphabetically first), if any.
    fn majority_label(&self, id: u32) -> Option<&'static str> {
        self.labels.get(&id).and_then(|m| {
            m.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(l, _)| *l)
        })
    }

    /// Recall: among the attractors `activate` returns for `v` (context reset first, so
    /// experiences are judged independently), the best-matching one; -1 when empty.
    pub fn recall(&mut self, t: Time, v: &[f32]) -> Result<(i64, f32), LearnError> {
        self.substrate.reset_context();
        let m = self.substrate.activate(t, v)?;
        Ok(m.iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .map_or((-1, 0.0), |m| (m.id.0 as i64, m.similarity)))
    }

    fn encode(&mut self, seg: &Segment) -> Result<(), crate::encode::EncodeError> {
        let (b, a) = seg.visual.unwrap_or_default();
        for (c, (x, y)) in self.change.0.iter_mut().zip(a.0.iter().zip(&b.0)) {
            *c = x - y;
        }
        let all: [&[f32]; 4] = [
            seg.trajectory(),
            seg.touch_profile(),
            &a.0[..],
            &self.change.0[..],
        ];
        let mut extra: ArrayVec<&[f32], 4> = ArrayVec::new();
        for (on, x) in [self.profile.0, self.profile.1, self.visual, self.visual]
            .into_iter()
            .zip(all)
        {
            if on {
                extra.push(x);
            }
        }
        let dim = self.encoder.dim();
        self.exp.dim = dim;
        self.exp.t = seg.after.t;
        self.encoder.encode_with(
            &seg.before,
            &seg.cmd,
            &seg.after,
            &extra,
            &mut self.exp.v[..dim],
        )
    }

    /// Encodes and learns one segment; events go to `emit` (recognised, then created or
    /// strengthened, then merged / pruned). Returns what the substrate did (None while
    /// calibrating, when only recognising, or when the encoder rejected the input).
    ///
    /// The segment's tag decides its role (windows: the first `learn.calibration_windows`
    /// calibrate, then learn). A labelled experience is judged before it is learned: recalled
    /// (context reset) and, when its label was taught before and the best match has labels,
    /// counted as recognised if the match's majority label is its own.
    pub fn learn(
        &mut self,
        seg: &Segment,
        mut emit: impl FnMut(AttractorEvent),
    ) -> Result<Option<crate::substrate::Learned>, LearnError> {
        self.stats.experiences += 1;
        let role = match seg.tag.map(|t| t.role).unwrap_or_default() {
            Role::Auto if self.calibrate_left > 0 => Role::Calibrate,
            Role::Auto => Role::Learn,
            r => r,
        };
        self.encoder.set_learn_stats(role == Role::Calibrate);
        if let Err(e) = self.encode(seg) {
            tracing::debug!(error = %e, "experience rejected by the encoder");
            self.stats.rejected += 1;
            return Ok(None);
        }
        match &mut self.last {
            Some(l) => l.clone_from(&self.exp),
            None => self.last = Some(self.exp.clone()),
        }
        if role == Role::Calibrate {
            self.calibrate_left = self.calibrate_left.saturating_sub(1);
            self.stats.calibrated += 1;
            return Ok(None);
        }
        let t = seg.after.t;
        let label = seg.tag.map(|t| t.label).filter(|l| !l.is_empty());
        let vigilance = self.substrate.config().vigilance as f32;
        let exp = std::mem::replace(&mut self.exp, Experience::new(0));
        let v = exp.as_slice();
        // recognition: the best-matching attractor (labelled experiences: context reset, so
        // each is judged on its own; windows: temporal context kept)
        let recognise_only = matches!(role, Role::Recognise | Role::Perform);
        let best = if label.is_some() || recognise_only {
            let (id, sim) = self.recall(t, v)?;
            (id >= 0).then_some((AttractorId(id as u32), sim))
        } else {
            self.substrate
                .activate(t, v)?
                .iter()
                .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
                .map(|m| (m.id, m.similarity))
        };
        if let Some((id, sim)) = best.filter(|m| m.1 >= vigilance) {
            self.stats.recognised += 1;
            emit(self.event(t, EventKind::Recognised, id, sim));
        }
        self.last_recall = best.map_or((-1, 0.0), |b| (b.0 .0 as i64, b.1));
        // a performance's label is the request, not a teacher's word: not judged
        if let (Some(name), Some((id, _)), false) = (label, best, role == Role::Perform) {
            if self.seen.contains(name) {
                if let Some(major) = self.majority_label(id.0) {
                    self.stats.judged += 1;
                    if major == name {
                        self.stats.judged_right += 1;
                    }
                }
            }
        }
        let recalled = best.map_or(-1, |b| b.0 .0 as i64);
        if recognise_only {
            if let Some(j) = &mut self.journal {
                j.push(JournalEntry {
                    vector: v.to_vec(),
                    tag: seg.tag,
                    recalled,
                    learned: -1,
                    similarity: best.map_or(0.0, |b| b.1),
                    created: false,
                    attractors: self.substrate.len(),
                    t,
                });
            }
            self.exp = exp;
            return Ok(None);
        }
        // what was done (the command profile): the attractor's action memory
        let action = crate::substrate::ActionMemory::new(
            seg.bins,
            seg.joints,
            ((seg.after.t.0 - seg.before.t.0) as f64 * 1e-9) as f32,
            seg.command_profile(),
        );
        let t0 = std::time::Instant::now();
        let l = self.substrate.learn_acting(t, v, action.as_ref());
        let _ = self.learn_ns.record(t0.elapsed().as_nanos().max(1) as u64);
        let l = match l {
            Ok(l) => l,
            Err(e) => {
                self.exp = exp;
                return Err(e.into());
            }
        };
        if let Some(j) = &mut self.journal {
            j.push(JournalEntry {
                vector: v.to_vec(),
                tag: seg.tag,
                recalled,
                learned: l.id.0 as i64,
                similarity: l.similarity,
                created: l.created,
                attractors: self.substrate.len(),
                t,
            });
        }
        self.exp = exp;
        self.stats.learned += 1;
        if let Some(e) = l.evicted {
            self.labels.remove(&e.0);
            emit(AttractorEvent {
                t,
                kind: EventKind::Pruned,
                id: e.0,
                similarity: 0.0,
                strength: 0.0,
                count: 0,
            });
        }
        if let Some(m) = l.merged {
            if let Some(old) = self.labels.remove(&m.0) {
                let e = self.labels.entry(l.id.0).or_default();
                for (n, c) in old {
                    *e.entry(n).or_default() += c;
                }
            }
            emit(AttractorEvent {
                t,
                kind: EventKind::Merged,
                id: m.0,
                similarity: l.similarity,
                strength: 0.0,
                count: 0,
            });
        }
        let kind = if l.created {
            self.stats.created += 1;
            self.labels.remove(&l.id.0); // a reused slot starts without labels
            match label {
                Some(name) => tracing::info!(
                    attractor = l.id.0,
                    label = name,
                    attractors = self.substrate.len(),
                    "attractor formed"
                ),
                None => tracing::debug!(
                    attractor = l.id.0,
                    attractors = self.substrate.len(),
                    "attractor formed"
                ),
            }
            EventKind::Created
        } else {
            EventKind::Strengthened
        };
        if let Some(name) = label {
            self.seen.insert(name);
            let e = self.labels.entry(l.id.0).or_default();
            if !e.contains_key(name) {
                self.substrate.add_label(l.id, name);
            }
            *e.entry(name).or_default() += 1;
        }
        emit(self.event(t, kind, l.id, l.similarity));
        self.stats.attractors = self.substrate.len() as u64;
        Ok(Some(l))
    }

    fn event(&self, t: Time, kind: EventKind, id: AttractorId, similarity: f32) -> AttractorEvent {
        let (strength, count) = self
            .substrate
            .attractor(id, t)
            .map_or((0.0, 0), |a| (a.strength, a.activation_count as u32));
        AttractorEvent {
            t,
            kind,
            id: id.0,
            similarity,
            strength,
            count,
        }
    }

    /// One attractor as shown to ROS (None when `id` is not live).
    pub fn info(&self, id: AttractorId, t: Time) -> Option<AttractorInfo> {
        let a = self.substrate.attractor(id, t)?;
        let mut position = [0.0f32; 3];
        for (p, w) in position.iter_mut().zip(&self.proj) {
            *p = crate::encode::cosine(a.center, w) * (w.len() as f32).sqrt().min(16.0) * 0.25;
        }
        Some(AttractorInfo {
            id: id.0,
            strength: a.strength,
            count: a.activation_count.min(u32::MAX as u64) as u32,
            radius: a.radius,
            last_active: a.last_activation,
            label: a
                .labels
                .first()
                .map_or_else(ArrayString::new, |l| truncated(l)),
            position,
        })
    }

    /// Fills `out` with the live attractors at time `t`.
    pub fn fill_set(&self, t: Time, out: &mut AttractorSet) {
        out.t = t;
        out.step = self.substrate.step();
        out.stats = self.stats;
        out.attractors.clear();
        for id in self.substrate.ids() {
            if let Some(i) = self.info(id, t) {
                out.attractors.push(i);
            }
        }
    }

    /// The `k` attractors nearest to `pattern` (empty: the last experience), most similar first.
    /// A read-only lookup: no activation, no learning.
    pub fn query(
        &mut self,
        t: Time,
        pattern: &[f32],
        k: usize,
        out: &mut ArrayVec<(AttractorInfo, f32), MAX_QUERY_K>,
    ) -> Result<(), String> {
        out.clear();
        let k = k.clamp(1, MAX_QUERY_K);
        let dim = self.dim();
        let mut q = [0.0f32; MAX_PATTERN];
        if pattern.is_empty() {
            let Some(l) = &self.last else {
                return Err("no experience yet: give a pattern".into());
            };
            q[..dim].copy_from_slice(l.as_slice());
        } else {
            if pattern.len() != dim {
                return Err(format!(
                    "pattern has {} values; the encoder's dimension is {dim}",
                    pattern.len()
                ));
            }
            if pattern.iter().any(|x| !x.is_finite()) {
                return Err("pattern has non-finite values".into());
            }
            let n = pattern.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n < 1e-12 {
                return Err("pattern is all zeros".into());
            }
            for (d, s) in q.iter_mut().zip(pattern) {
                *d = s / n;
            }
        }
        if self.substrate.is_empty() {
            return Ok(());
        }
        let mut hits = std::mem::take(&mut self.hits);
        self.substrate.index_mut().search(&q[..dim], k, &mut hits);
        for &(slot, sim) in &hits {
            if let Some(i) = self.info(AttractorId(slot), t) {
                if out.try_push((i, sim)).is_err() {
                    break;
                }
            }
        }
        self.hits = hits;
        Ok(())
    }
}

/// Labels are `&'static str` (they cross the control -> learn ring inside fixed-size tags);
/// a label loaded from a snapshot is stored once per distinct text for the process's life (a
/// substrate holds few distinct labels).
fn intern(name: &str) -> &'static str {
    use std::collections::BTreeSet;
    use std::sync::{Mutex, OnceLock};
    static LABELS: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let Ok(mut set) = LABELS.get_or_init(Default::default).lock() else {
        return "";
    };
    if let Some(l) = set.get(name) {
        return l;
    }
    let l: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(l);
    l
}
