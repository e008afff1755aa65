//! The substrate: experiences (unit vectors in R^D) form attractors that are learned online,
//! recalled by resonance, regulated over time and saved as snapshots.
//!
//! Runs on the learning task (lower priority than the RT control task). Every call has a cost
//! bounded by configuration constants, independent of the number of attractors except through
//! the index's logarithmic search (see [`Substrate::learn`] and [`Substrate::activate`]).
//!
//! ```text
//! learn(t, x):   index.search(x, 2) -> nearest a, similarity s
//!                s >= vigilance ? strengthen a (move center, strength, radius; maybe merge 2nd nearest)
//!                               : create (evict the weakest sampled attractor when at capacity)
//!                succession edge prev -> a; sweep a few slots (decay, prune below the floor)
//! activate(t, p): index.search(p, k) -> input; + context carried from the last call (decayed)
//!                 propagate over edges `resonance_steps` times, k-winners-take-all, normalise
//!                 -> ranked matches; co-activation edges between the winners
//! ```
//!
//! Attractor ids are slots: a slot freed by pruning, merging or eviction is reused by a later
//! attractor. Edges remember the generation of their target, so they never leak to a reused slot.

mod action;
mod adopt;
mod cow;
pub mod index;
pub mod simd;
pub mod snapshot;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::Time;
use crate::validate::{Checker, Validate};
pub use action::ActionMemory;
pub use adopt::Adopted;
use cow::CowRows;
pub use index::{Index, IndexConfig};

/// Errors of the substrate.
#[derive(Debug, thiserror::Error)]
pub enum SubstrateError {
    /// The experience has the wrong length.
    #[error("experience has {got} values, the substrate is configured for dim = {want}")]
    Dim {
        /// Configured dimension.
        want: usize,
        /// Received length.
        got: usize,
    },
    /// The experience contains NaN or infinity.
    #[error("experience value [{index}] is not finite ({value})")]
    NotFinite {
        /// Position of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The experience is the zero vector (has no direction).
    #[error("experience has zero norm")]
    ZeroNorm,
    /// The configuration is invalid.
    #[error("invalid substrate config: {0}")]
    Config(String),
    /// A snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
}

/// Settings of the substrate (`substrate:` section of the config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubstrateConfig {
    /// Dimension D of experiences.
    pub dim: u64,
    /// Similarity (cosine) at or above which an experience strengthens its nearest attractor.
    pub vigilance: f64,
    /// Hard bound on live attractors; at capacity a creation evicts one (see `evict_sample`).
    pub capacity: u64,
    /// Floor of the center learning rate; the rate is `max(1 / count, min_rate)`.
    pub min_rate: f64,
    /// Two attractors whose centers reach this similarity are merged.
    pub merge_similarity: f64,
    /// Half-life of the strength of an attractor that is neither strengthened nor activated, s.
    pub strength_half_life_s: f64,
    /// Attractors whose decayed strength falls below this are pruned by the sweep.
    pub prune_floor: f64,
    /// Slots examined by the decay/prune sweep per `learn` call.
    pub sweep_per_learn: u64,
    /// Eviction rule at capacity: the weakest (decayed strength) of the next `evict_sample`
    /// live slots in round-robin order is evicted (sampled, CLOCK-like: O(evict_sample)).
    pub evict_sample: u64,
    /// Nearest attractors that receive input activation.
    pub k: u64,
    /// Propagation steps over the connection graph.
    pub resonance_steps: u64,
    /// Gain of activation spread along an edge (activation * weight * spread).
    pub spread: f64,
    /// Winners kept by k-winners-take-all after each step (also the context size).
    pub winners: u64,
    /// Fraction of the last call's activation carried as context into the next call.
    pub activation_decay: f64,
    /// Out-edges per attractor (weakest is replaced when full).
    pub max_edges: u64,
    /// Hebbian rate of succession edges (previous experience -> current).
    pub succession_rate: f64,
    /// Hebbian rate of co-activation edges between winners.
    pub coactivation_rate: f64,
    /// Seed of the index's level generator.
    pub seed: u64,
    /// Similarity index.
    pub index: IndexConfig,
}

impl Default for SubstrateConfig {
    fn default() -> Self {
        Self {
            dim: 256,
            vigilance: 0.7,
            capacity: 100_000,
            min_rate: 0.01,
            merge_similarity: 0.95,
            strength_half_life_s: 600.0,
            prune_floor: 0.05,
            sweep_per_learn: 4,
            evict_sample: 32,
            k: 8,
            resonance_steps: 2,
            spread: 0.5,
            winners: 8,
            activation_decay: 0.5,
            max_edges: 8,
            succession_rate: 0.3,
            coactivation_rate: 0.02,
            seed: 7,
            index: IndexConfig::default(),
        }
    }
}

impl Validate for SubstrateConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("dim", self.dim, 1, 65_536);
        c.range_f64("vigilance", self.vigilance, -1.0, 1.0);
        c.range_u64("capacity", self.capacity, 1, u32::MAX as u64 - 1);
        c.range_f64("min_rate", self.min_rate, 0.0, 1.0);
        c.range_f64("merge_similarity", self.merge_similarity, -1.0, 1.0);
        c.range_f64(
            "strength_half_life_s",
            self.strength_half_life_s,
            1e-6,
            1e12,
        );
        c.range_f64("prune_floor", self.prune_floor, 0.0, 1e6);
        c.range_u64("sweep_per_learn", self.sweep_per_learn, 0, 1 << 20);
        c.range_u64("evict_sample", self.evict_sample, 1, 1 << 20);
        c.range_u64("k", self.k, 1, 1024);
        c.range_u64("resonance_steps", self.resonance_steps, 0, 64);
        c.range_f64("spread", self.spread, 0.0, 10.0);
        c.range_u64("winners", self.winners, 1, 1024);
        c.range_f64("activation_decay", self.activation_decay, 0.0, 1.0);
        c.range_u64("max_edges", self.max_edges, 1, 256);
        c.range_f64("succession_rate", self.succession_rate, 0.0, 1.0);
        c.range_f64("coactivation_rate", self.coactivation_rate, 0.0, 1.0);
        c.section("index", |c| self.index.validate(c));
    }
}

impl SubstrateConfig {
    /// SHA-256 of the serialised config (snapshot lineage).
    pub fn hash(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.to_yaml().as_bytes()).into()
    }

    fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    fn check(&self) -> Result<(), SubstrateError> {
        let mut c = Checker::new(std::path::Path::new("<substrate>"), "substrate");
        self.validate(&mut c);
        c.finish()
            .map_err(|e| SubstrateError::Config(e.to_string()))
    }
}

/// Identifies an attractor (its slot; slots are reused after an attractor is removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AttractorId(pub u32);

/// What [`Substrate::learn`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Learned {
    /// The attractor created or strengthened.
    pub id: AttractorId,
    /// True if a new attractor was created.
    pub created: bool,
    /// Similarity to the nearest attractor before learning (-1 when the substrate was empty).
    pub similarity: f32,
    /// The attractor merged into `id` by this step, if any (its id is now free).
    pub merged: Option<AttractorId>,
    /// The attractor evicted to make room, if any.
    pub evicted: Option<AttractorId>,
}

/// One ranked result of [`Substrate::activate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttractorMatch {
    /// The attractor.
    pub id: AttractorId,
    /// Cosine similarity of its center to the pattern.
    pub similarity: f32,
    /// Activation after resonance and regulation (the winner has 1).
    pub activation: f32,
}

/// Per-attractor state besides its center.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Meta {
    pub generation: u32,
    pub live: bool,
    /// Strength at `last`; decays with the half-life after that.
    pub strength: f32,
    pub count: u64,
    /// Running mean of `1 - cos` between the center and the experiences it absorbed.
    pub radius: f32,
    pub last: Time,
    pub created: Time,
}

/// A directed, weighted connection between attractors.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Edge {
    pub target: u32,
    pub generation: u32,
    pub weight: f32,
}

/// A read-only view of one attractor.
#[derive(Clone, Debug, PartialEq)]
pub struct Attractor<'a> {
    /// Id.
    pub id: AttractorId,
    /// Center (unit vector).
    pub center: &'a [f32],
    /// Strength decayed to the time asked for.
    pub strength: f32,
    /// Experiences absorbed (1 at creation).
    pub activation_count: u64,
    /// Mean `1 - cos` of absorbed experiences to the center.
    pub radius: f32,
    /// Last time it was strengthened or won an activation.
    pub last_activation: Time,
    /// Labels attached with [`Substrate::add_label`].
    pub labels: &'a [String],
}

/// Counters of regulation events since creation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Attractors created.
    pub created: u64,
    /// Strengthening steps.
    pub strengthened: u64,
    /// Merges.
    pub merged: u64,
    /// Pruned by the decay sweep.
    pub pruned: u64,
    /// Evicted at capacity.
    pub evicted: u64,
}

#[derive(Clone, Copy, Debug)]
struct Act {
    slot: u32,
    generation: u32,
    input: f32,
    context: f32,
    a: f32,
    next: f32,
}

/// The substrate. See the module docs.
pub struct Substrate {
    cfg: SubstrateConfig,
    dim: usize,
    index: Index,
    meta: CowRows<Meta>,
    edges: CowRows<Edge>,
    labels: std::sync::Arc<BTreeMap<u32, Vec<String>>>,
    /// Action memory per attractor slot (see [`ActionMemory`]).
    actions: std::sync::Arc<BTreeMap<u32, ActionMemory>>,
    free: Vec<u32>,
    prev: Option<(u32, u32)>,
    step: u64,
    sweep_cursor: usize,
    evict_cursor: usize,
    counters: Counters,
    parent_hash: [u8; 32],
    // scratch / activation state
    x: Vec<f32>,
    y: Vec<f32>,
    hits: Vec<(u32, f32)>,
    work: Vec<Act>,
    context: Vec<(u32, u32, f32)>,
    matches: Vec<AttractorMatch>,
}

impl Substrate {
    /// An empty substrate.
    pub fn new(cfg: SubstrateConfig) -> Result<Self, SubstrateError> {
        cfg.check()?;
        let dim = cfg.dim as usize;
        let index = Index::new(dim, &cfg.index, cfg.seed);
        let k = cfg.k as usize;
        let w = cfg.winners as usize;
        let work_cap = k + w + w * cfg.max_edges as usize;
        Ok(Self {
            dim,
            index,
            meta: CowRows::new(1),
            edges: CowRows::new(cfg.max_edges as usize),
            labels: Default::default(),
            actions: Default::default(),
            free: Vec::new(),
            prev: None,
            step: 0,
            sweep_cursor: 0,
            evict_cursor: 0,
            counters: Counters::default(),
            parent_hash: [0; 32],
            x: vec![0.0; dim],
            y: vec![0.0; dim],
            hits: Vec::with_capacity(k.max(2)),
            work: Vec::with_capacity(work_cap),
            context: Vec::with_capacity(w),
            matches: Vec::with_capacity(work_cap),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SubstrateConfig {
        &self.cfg
    }

    /// Live attractors.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when there is no attractor.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Learning steps taken (`learn` calls that succeeded).
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Regulation counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The similarity index (read access, e.g. for exact checks).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The similarity index, for searching directly (benchmarks, diagnostics).
    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    /// Ids of all live attractors, ascending.
    pub fn ids(&self) -> impl Iterator<Item = AttractorId> + '_ {
        (0..self.meta.len())
            .filter(|&i| self.meta.row(i)[0].live)
            .map(|i| AttractorId(i as u32))
    }

    /// The attractor `id`, with its strength decayed to time `t`.
    pub fn attractor(&self, id: AttractorId, t: Time) -> Option<Attractor<'_>> {
        let s = id.0 as usize;
        if s >= self.meta.len() || !self.meta.row(s)[0].live {
            return None;
        }
        let m = self.meta.row(s)[0];
        Some(Attractor {
            id,
            center: self.index.vector(id.0),
            strength: self.decayed(&m, t),
            activation_count: m.count,
            radius: m.radius,
            last_activation: m.last,
            labels: self.labels.get(&id.0).map_or(&[], |v| v.as_slice()),
        })
    }

    /// What the experiences of attractor `id` did, on average (None: not live, or learned
    /// without a command profile).
    pub fn action(&self, id: AttractorId) -> Option<&ActionMemory> {
        if !self.is_live(id.0) {
            return None;
        }
        self.actions.get(&id.0)
    }

    /// Attaches a label to a live attractor (off the hot path: allocates). Returns false if `id`
    /// is not live.
    pub fn add_label(&mut self, id: AttractorId, label: &str) -> bool {
        if !self.is_live(id.0) {
            return false;
        }
        let l = std::sync::Arc::make_mut(&mut self.labels)
            .entry(id.0)
            .or_default();
        if !l.iter().any(|x| x == label) {
            l.push(label.to_string());
        }
        true
    }

    /// Weight of the edge `from -> to` (0 if none).
    pub fn edge_weight(&self, from: AttractorId, to: AttractorId) -> f32 {
        if !self.is_live(from.0) || !self.is_live(to.0) {
            return 0.0;
        }
        let g = self.meta.row(to.0 as usize)[0].generation;
        self.edges
            .row(from.0 as usize)
            .iter()
            .find(|e| e.weight > 0.0 && e.target == to.0 && e.generation == g)
            .map_or(0.0, |e| e.weight)
    }

    /// Does up to `max` units of deferred index work: linking an attractor created by `learn`
    /// into the HNSW graph, or relinking one whose center moved (see
    /// [`IndexConfig::fresh_capacity`]). Until linked, new attractors are found by an exact scan
    /// of the small pending buffer. Call it from the learning task when it has time left after
    /// `learn` (one unit costs about as much as an insertion with `ef_construction`; see the
    /// README for measured figures). Returns the units done.
    ///
    /// Reconciliation: `learn` decides with a cheaper search (`ef_learn`) than the construction
    /// search (`ef_construction`) that links a new attractor. If the construction search finds
    /// an existing attractor at or above `vigilance` that `learn` missed, the new attractor was
    /// a duplicate: it is merged into that one (same rule as [`SubstrateConfig::merge_similarity`]
    /// merges, counted in `merged`), so the attractors end as if `learn` had searched with
    /// `ef_construction`.
    pub fn maintain(&mut self, max: usize) -> usize {
        let mut done = 0;
        while done < max {
            let Some(l) = self.index.link_next() else {
                break;
            };
            done += 1;
            let Some((other, sim)) = l.nearest else {
                continue;
            };
            if !l.fresh
                || (sim as f64) < self.cfg.vigilance
                || other == l.slot
                || !self.is_live(l.slot)
                || !self.is_live(other)
            {
                continue;
            }
            let prev_was_new = self.prev.is_some_and(|p| p.0 == l.slot);
            let keep = self.merge(other, l.slot);
            if prev_was_new {
                self.prev = Some((keep, self.generation(keep)));
            }
        }
        done
    }

    /// Deferred index work waiting for [`Substrate::maintain`].
    pub fn pending_work(&self) -> usize {
        self.index.pending_work()
    }

    /// Forgets the activation context (the next `activate` starts fresh).
    pub fn reset_context(&mut self) {
        self.context.clear();
    }

    /// Bytes held by the substrate (index, metadata, edges, labels; scratch included).
    pub fn memory_bytes(&self) -> usize {
        let labels: usize = self
            .labels
            .values()
            .map(|v| 48 + v.iter().map(|s| 24 + s.capacity()).sum::<usize>())
            .sum();
        self.index.heap_bytes()
            + self.meta.heap_bytes()
            + self.edges.heap_bytes()
            + labels
            + self
                .actions
                .values()
                .map(|a| 48 + a.heap_bytes())
                .sum::<usize>()
            + self.free.capacity() * 4
            + std::mem::size_of::<Self>()
    }

    fn is_live(&self, slot: u32) -> bool {
        (slot as usize) < self.meta.len() && self.meta.row(slot as usize)[0].live
    }

    fn generation(&self, slot: u32) -> u32 {
        self.meta.row(slot as usize)[0].generation
    }

    fn decayed(&self, m: &Meta, t: Time) -> f32 {
        let dt = (t.0 - m.last.0).max(0) as f64 * 1e-9;
        (m.strength as f64 * (-dt / self.cfg.strength_half_life_s).exp2()) as f32
    }

    /// Copies `v` into `self.x`, checking and normalising it.
    fn take_input(&mut self, v: &[f32]) -> Result<(), SubstrateError> {
        if v.len() != self.dim {
            return Err(SubstrateError::Dim {
                want: self.dim,
                got: v.len(),
            });
        }
        if let Some((index, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(SubstrateError::NotFinite { index, value });
        }
        self.x.copy_from_slice(v);
        let n = simd::normalize(&mut self.x);
        if !(n > 0.0 && n.is_finite()) {
            return Err(SubstrateError::ZeroNorm);
        }
        Ok(())
    }

    /// Learns one experience at time `t` (any nonzero finite vector of length D; it is
    /// normalised). Cost: one index search (k = 2, `ef_learn` candidates, plus an exact scan
    /// of at most `fresh_capacity` not yet linked attractors) plus either a center update or a
    /// stored insertion (plus one removal when at capacity), plus `sweep_per_learn` slot
    /// checks (each may remove one attractor). Graph linking is deferred to
    /// [`Substrate::maintain`]; only when its buffer is full does `learn` link one attractor
    /// itself. With `index.fresh_capacity = 0` the search uses `ef_construction` and a new
    /// attractor is linked at once from its candidates.
    pub fn learn(&mut self, t: Time, experience: &[f32]) -> Result<Learned, SubstrateError> {
        self.learn_acting(t, experience, None)
    }

    /// [`Substrate::learn`] with what was done in the experience: the attractor's action
    /// memory is averaged like its center (a new attractor starts with `action`; a
    /// strengthened one moves toward it at the center's rate; a merge is count-weighted).
    /// Allocates when an attractor gets its first action memory (the learn task; not RT).
    pub fn learn_acting(
        &mut self,
        t: Time,
        experience: &[f32],
        action: Option<&ActionMemory>,
    ) -> Result<Learned, SubstrateError> {
        self.take_input(experience)?;
        let x = std::mem::take(&mut self.x);
        let (ef, budget) = if self.cfg.index.fresh_capacity > 0 {
            let b = self.cfg.index.learn_budget;
            (self.cfg.index.ef_learn, if b == 0 { u64::MAX } else { b })
        } else {
            (self.cfg.index.ef_construction, u64::MAX)
        };
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        self.index
            .search_budget(&x, 2, ef as usize, budget, &mut self.hits);
        let nearest = self.hits.first().copied();
        let second = self.hits.get(1).copied();
        let mut out = Learned {
            id: AttractorId(0),
            created: false,
            similarity: nearest.map_or(-1.0, |h| h.1),
            merged: None,
            evicted: None,
        };
        match nearest {
            Some((slot, sim)) if sim as f64 >= self.cfg.vigilance => {
                self.strengthen(slot, sim, &x, t);
                if let Some(a) = action {
                    // the rate the center moved by (strengthen counted this experience)
                    let count = self.meta.row(slot as usize)[0].count;
                    let rate = (1.0 / count as f64).max(self.cfg.min_rate) as f32;
                    let actions = std::sync::Arc::make_mut(&mut self.actions);
                    match actions.get_mut(&slot) {
                        Some(m) => m.blend(a, rate),
                        None => {
                            actions.insert(slot, a.clone());
                        }
                    }
                }
                out.id = AttractorId(slot);
                if let Some((other, _)) = second {
                    let s = simd::dot(self.index.vector(slot), self.index.vector(other));
                    if s as f64 >= self.cfg.merge_similarity {
                        let keep = self.merge(slot, other);
                        out.id = AttractorId(keep);
                        out.merged = Some(AttractorId(if keep == slot { other } else { slot }));
                    }
                }
            }
            _ => {
                if self.index.len() as u64 >= self.cfg.capacity {
                    out.evicted = self.evict(t).map(AttractorId);
                }
                out.id = AttractorId(self.create(&x, t));
                if let Some(a) = action {
                    std::sync::Arc::make_mut(&mut self.actions).insert(out.id.0, a.clone());
                }
                out.created = true;
            }
        }
        self.x = x;
        let cur = (out.id.0, self.generation(out.id.0));
        if let Some((p, g)) = self.prev {
            if p != cur.0 && self.is_live(p) && self.generation(p) == g {
                let rate = self.cfg.succession_rate as f32;
                self.hebb(p, cur.0, rate);
            }
        }
        self.prev = Some(cur);
        self.sweep(t, cur.0);
        self.step += 1;
        Ok(out)
    }

    fn strengthen(&mut self, slot: u32, sim: f32, x: &[f32], t: Time) {
        let s = slot as usize;
        let m0 = self.meta.row(s)[0];
        let strength = self.decayed(&m0, t) + 1.0;
        let count = m0.count + 1;
        let rate = (1.0 / count as f64).max(self.cfg.min_rate) as f32;
        let c = self.index.vector(slot);
        for ((y, &c), &x) in self.y.iter_mut().zip(c).zip(x) {
            *y = c + rate * (x - c);
        }
        simd::normalize(&mut self.y);
        let y = std::mem::take(&mut self.y);
        self.index.update(slot, &y);
        self.y = y;
        let m = &mut self.meta.row_mut(s)[0];
        m.strength = strength;
        m.count = count;
        m.radius += rate * ((1.0 - sim).max(0.0) - m.radius);
        m.last = t;
        self.counters.strengthened += 1;
    }

    fn create(&mut self, x: &[f32], t: Time) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.meta.push(Meta::default());
                self.edges.push(Edge::default());
                (self.meta.len() - 1) as u32
            }
        };
        let s = slot as usize;
        let generation = self.meta.row(s)[0].generation.wrapping_add(1);
        self.meta.row_mut(s)[0] = Meta {
            generation,
            live: true,
            strength: 1.0,
            count: 1,
            radius: 0.0,
            last: t,
            created: t,
        };
        self.edges.row_mut(s).fill(Edge::default());
        if self.cfg.index.fresh_capacity > 0 {
            self.index.insert_deferred(slot, x);
        } else {
            self.index.insert_after_search(slot, x);
        }
        self.counters.created += 1;
        slot
    }

    fn remove(&mut self, slot: u32) {
        let s = slot as usize;
        self.index.remove(slot);
        self.meta.row_mut(s)[0].live = false;
        self.edges.row_mut(s).fill(Edge::default());
        if self.labels.contains_key(&slot) {
            std::sync::Arc::make_mut(&mut self.labels).remove(&slot);
        }
        if self.actions.contains_key(&slot) {
            std::sync::Arc::make_mut(&mut self.actions).remove(&slot);
        }
        self.free.push(slot);
        if self.prev.is_some_and(|p| p.0 == slot) {
            self.prev = None;
        }
    }

    /// Merges `a` and `b` into the one with more absorbed experiences; returns the survivor.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        let (ma, mb) = (self.meta.row(a as usize)[0], self.meta.row(b as usize)[0]);
        let (keep, gone, mk, mg) = if ma.count >= mb.count {
            (a, b, ma, mb)
        } else {
            (b, a, mb, ma)
        };
        let (wk, wg) = (mk.count as f32, mg.count as f32);
        let (ck, cg) = (self.index.vector(keep), self.index.vector(gone));
        for ((y, &p), &q) in self.y.iter_mut().zip(ck).zip(cg) {
            *y = wk * p + wg * q;
        }
        simd::normalize(&mut self.y);
        let t = if mk.last > mg.last { mk.last } else { mg.last };
        let strength = self.decayed(&mk, t) + self.decayed(&mg, t);
        for i in 0..self.edges.width() {
            let e = self.edges.row(gone as usize)[i];
            if e.weight > 0.0 && e.target != keep {
                self.hebb_set(keep, e.target, e.generation, e.weight);
            }
        }
        if self.labels.contains_key(&gone) {
            let labels = std::sync::Arc::make_mut(&mut self.labels);
            let l = labels.remove(&gone).unwrap_or_default();
            let dst = labels.entry(keep).or_default();
            for s in l {
                if !dst.contains(&s) {
                    dst.push(s);
                }
            }
        }
        if self.actions.contains_key(&gone) {
            let actions = std::sync::Arc::make_mut(&mut self.actions);
            if let Some(g) = actions.remove(&gone) {
                match actions.get_mut(&keep) {
                    Some(k) => k.merge(&g, wk, wg),
                    None => {
                        actions.insert(keep, g);
                    }
                }
            }
        }
        self.remove(gone);
        let y = std::mem::take(&mut self.y);
        self.index.update(keep, &y);
        self.y = y;
        let m = &mut self.meta.row_mut(keep as usize)[0];
        m.strength = strength;
        m.count = mk.count + mg.count;
        m.radius = mk.radius.max(mg.radius);
        m.last = t;
        self.counters.merged += 1;
        keep
    }

    /// Evicts the weakest of the next `evict_sample` live slots (round robin).
    fn evict(&mut self, t: Time) -> Option<u32> {
        let n = self.meta.len();
        if n == 0 {
            return None;
        }
        let mut best: Option<(f32, u32)> = None;
        let mut seen = 0u64;
        let mut scanned = 0usize;
        let protect = self.prev.map(|p| p.0);
        while seen < self.cfg.evict_sample && scanned < n {
            let i = self.evict_cursor % n;
            self.evict_cursor = (i + 1) % n;
            scanned += 1;
            let m = self.meta.row(i)[0];
            if !m.live || protect == Some(i as u32) {
                continue;
            }
            seen += 1;
            let s = self.decayed(&m, t);
            if best.is_none_or(|b| s < b.0) {
                best = Some((s, i as u32));
            }
        }
        let (_, slot) = best?;
        self.remove(slot);
        self.counters.evicted += 1;
        Some(slot)
    }

    /// Decay/prune sweep over `sweep_per_learn` slots.
    fn sweep(&mut self, t: Time, protect: u32) {
        let n = self.meta.len();
        for _ in 0..self.cfg.sweep_per_learn.min(n as u64) {
            let i = self.sweep_cursor % n;
            self.sweep_cursor = (i + 1) % n;
            let m = self.meta.row(i)[0];
            if m.live && i as u32 != protect && (self.decayed(&m, t) as f64) < self.cfg.prune_floor
            {
                self.remove(i as u32);
                self.counters.pruned += 1;
            }
        }
    }

    /// Hebbian update of `from -> to`: `w += rate * (1 - w)`; a new edge replaces the weakest
    /// (or a stale) one when the row is full and the weakest is below `rate`.
    fn hebb(&mut self, from: u32, to: u32, rate: f32) {
        let g = self.generation(to);
        let cur = self.edge_weight(AttractorId(from), AttractorId(to));
        self.hebb_set(from, to, g, cur + rate * (1.0 - cur));
    }

    fn hebb_set(&mut self, from: u32, to: u32, generation: u32, w: f32) {
        let mut slot_pos: Option<usize> = None;
        let mut weakest: Option<(f32, usize)> = None;
        for (i, e) in self.edges.row(from as usize).iter().enumerate() {
            let stale = e.weight <= 0.0
                || !self.is_live(e.target)
                || self.generation(e.target) != e.generation;
            if !stale && e.target == to && e.generation == generation {
                slot_pos = Some(i);
                break;
            }
            let ew = if stale { -1.0 } else { e.weight };
            if weakest.is_none_or(|b| ew < b.0) {
                weakest = Some((ew, i));
            }
        }
        let pos = match (slot_pos, weakest) {
            (Some(p), _) => p,
            (None, Some((ew, p))) if ew < w => p,
            _ => return,
        };
        self.edges.row_mut(from as usize)[pos] = Edge {
            target: to,
            generation,
            weight: w.min(1.0),
        };
    }

    /// Recalls the attractors that resonate with `pattern` at time `t`: the `k` nearest get
    /// input activation (their similarity), the winners of the previous call carry
    /// `activation_decay` of their activation as context, activation spreads along edges for
    /// `resonance_steps` steps, each followed by k-winners-take-all and normalisation (max = 1).
    /// Returns the winners ranked by activation. Cost: one index search plus
    /// `resonance_steps * winners * max_edges` edge visits; no allocation after warm-up.
    pub fn activate(
        &mut self,
        t: Time,
        pattern: &[f32],
    ) -> Result<&[AttractorMatch], SubstrateError> {
        self.take_input(pattern)?;
        let x = std::mem::take(&mut self.x);
        self.index.search(&x, self.cfg.k as usize, &mut self.hits);
        self.work.clear();
        for i in 0..self.hits.len() {
            let (slot, sim) = self.hits[i];
            let g = self.generation(slot);
            self.work.push(Act {
                slot,
                generation: g,
                input: sim.max(0.0),
                context: 0.0,
                a: sim.max(0.0),
                next: 0.0,
            });
        }
        let decay = self.cfg.activation_decay as f32;
        for i in 0..self.context.len() {
            let (slot, g, a) = self.context[i];
            if !self.is_live(slot) || self.generation(slot) != g {
                continue;
            }
            let c = a * decay;
            match self.work.iter_mut().find(|w| w.slot == slot) {
                Some(w) => {
                    w.context = c;
                    w.a += c;
                }
                None => self.work.push(Act {
                    slot,
                    generation: g,
                    input: 0.0,
                    context: c,
                    a: c,
                    next: 0.0,
                }),
            }
        }
        let winners = self.cfg.winners as usize;
        let spread = self.cfg.spread as f32;
        let cap = self.work.capacity();
        self.regulate(winners);
        for _ in 0..self.cfg.resonance_steps {
            for w in self.work.iter_mut() {
                w.next = w.input + w.context;
            }
            let n = self.work.len();
            for i in 0..n {
                let (src, a) = (self.work[i].slot, self.work[i].a);
                if a <= 0.0 {
                    continue;
                }
                for e in 0..self.edges.width() {
                    let edge = self.edges.row(src as usize)[e];
                    if edge.weight <= 0.0
                        || !self.is_live(edge.target)
                        || self.generation(edge.target) != edge.generation
                    {
                        continue;
                    }
                    let add = a * edge.weight * spread;
                    match self.work.iter().position(|w| w.slot == edge.target) {
                        Some(j) => self.work[j].next += add,
                        None if self.work.len() < cap => self.work.push(Act {
                            slot: edge.target,
                            generation: edge.generation,
                            input: 0.0,
                            context: 0.0,
                            a: 0.0,
                            next: add,
                        }),
                        None => {}
                    }
                }
            }
            for w in self.work.iter_mut() {
                w.a = w.next;
            }
            self.regulate(winners);
        }
        // results, context, co-activation, last-activation time
        self.matches.clear();
        self.context.clear();
        for i in 0..self.work.len() {
            let w = self.work[i];
            if w.a <= 0.0 {
                continue;
            }
            let sim = simd::dot(&x, self.index.vector(w.slot));
            self.matches.push(AttractorMatch {
                id: AttractorId(w.slot),
                similarity: sim,
                activation: w.a,
            });
            self.context.push((w.slot, w.generation, w.a));
            let m0 = self.meta.row(w.slot as usize)[0];
            let s = self.decayed(&m0, t);
            let m = &mut self.meta.row_mut(w.slot as usize)[0];
            m.strength = s;
            m.last = t;
        }
        let rate = self.cfg.coactivation_rate as f32;
        if rate > 0.0 {
            let n = self.matches.len().min(3);
            for i in 0..n {
                for j in 0..n {
                    if i != j {
                        let (a, b) = (self.matches[i].id.0, self.matches[j].id.0);
                        self.hebb(a, b, rate * self.matches[j].activation);
                    }
                }
            }
        }
        self.x = x;
        Ok(&self.matches)
    }

    /// k-winners-take-all over the working set, then divide by the maximum.
    fn regulate(&mut self, winners: usize) {
        self.work
            .sort_unstable_by(|a, b| b.a.total_cmp(&a.a).then(a.slot.cmp(&b.slot)));
        let max = self.work.first().map_or(0.0, |w| w.a);
        for (i, w) in self.work.iter_mut().enumerate() {
            if i >= winners || max <= 0.0 {
                w.a = 0.0;
            } else {
                w.a /= max;
            }
        }
    }
}
