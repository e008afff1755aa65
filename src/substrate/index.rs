//! Similarity index over unit vectors (score = inner product = cosine similarity).
//!
//! Exact brute force (SIMD) while at most `exact_threshold` vectors are live, HNSW graph search
//! above. The graph is kept up to date at every size, so crossing the threshold costs nothing.
//!
//! Written here rather than taken from a crate: of the maintained Rust HNSW crates,
//! `instant-distance` builds once (no insert/remove), `hnsw_rs` inserts but cannot remove or move a
//! point, `hora` is unmaintained since 2021, and `usearch` is a C++ build with its own storage that
//! would duplicate the 1 GB of centers at 1M and cannot share them copy-on-write with a snapshot.
//! The substrate needs all three of insert, move and remove on every learning step.
//!
//! * insert: standard HNSW (Malkov & Yashunin 2018), heuristic neighbour selection.
//! * update (a moving center): the vector is overwritten in place; the node's links are rebuilt
//!   only when its accumulated drift (sum of `1 - cos` between successive positions) exceeds
//!   `relink_drift`, so small learning steps cost one write.
//! * remove: the node is unlinked from its out-neighbours, each of which gets the best of the
//!   removed node's other neighbours as a replacement link; remaining in-links to the dead slot
//!   are skipped by search, and point at the new vector once the slot is reused.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::cow::{CowRows, HugeRows};
use super::simd::{dot, prefetch};
use crate::validate::{Checker, Validate};

/// Settings of the similarity index (`substrate.index`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// HNSW links per node on upper layers (level 0 has `2 * m`).
    pub m: u64,
    /// Candidate list size while inserting.
    pub ef_construction: u64,
    /// Candidate list size while searching (raised to `k` if smaller).
    pub ef_search: u64,
    /// Brute-force exact search while at most this many vectors are live.
    pub exact_threshold: u64,
    /// Accumulated drift (sum of `1 - cos`) after which a moving node is relinked.
    pub relink_drift: f64,
    /// Candidate list size of the learning step's nearest-attractor search (used when
    /// `fresh_capacity > 0`; otherwise learning searches with `ef_construction`).
    pub ef_learn: u64,
    /// Distance evaluations after which the learning step's graph search stops (0: no
    /// limit; used when `fresh_capacity > 0`). Bounds `learn`'s cost; what it misses is
    /// reconciled when the new attractor is linked.
    pub learn_budget: u64,
    /// Deferred linking: new vectors (and nodes to relink) wait in a buffer of at most this
    /// many, searched exactly beside the graph, until [`Index::link_pending`] (the substrate's
    /// `maintain`) links them with a full construction search; a full buffer links its oldest
    /// entry synchronously. 0: link at once, from the learning search's candidates.
    pub fresh_capacity: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
            exact_threshold: 2048,
            relink_drift: 0.02,
            ef_learn: 24,
            learn_budget: 768,
            fresh_capacity: 256,
        }
    }
}

impl Validate for IndexConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("m", self.m, 2, 64);
        c.range_u64("ef_construction", self.ef_construction, 1, 4096);
        c.range_u64("ef_search", self.ef_search, 1, 4096);
        c.range_u64("exact_threshold", self.exact_threshold, 0, 1 << 24);
        c.range_f64("relink_drift", self.relink_drift, 0.0, 2.0);
        c.range_u64("ef_learn", self.ef_learn, 1, 4096);
        c.range_u64("learn_budget", self.learn_budget, 0, 1 << 24);
        c.range_u64("fresh_capacity", self.fresh_capacity, 0, 1 << 16);
    }
}

/// Per-node bookkeeping of the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct NodeInfo {
    /// Top layer of the node.
    pub level: u8,
    /// False for removed (free) slots.
    pub live: bool,
    /// Sum of `1 - cos` moved since the node was last linked.
    pub drift: f32,
}

/// Links of layers 1..=level (most nodes have none).
pub(crate) type Upper = Option<Arc<Vec<Vec<u32>>>>;

#[derive(Clone, Copy, PartialEq)]
struct Cand(f32, u32);
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}

/// What [`Index::link_next`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkedNode {
    /// The node linked or relinked.
    pub slot: u32,
    /// True for a pending (new) node, false for a relink of a node that moved.
    pub fresh: bool,
    /// The most similar other node found by the construction search, with its similarity
    /// (new nodes only).
    pub nearest: Option<(u32, f32)>,
}

/// The index. Slots are chosen by the caller (the substrate's attractor slots).
#[derive(Clone)]
pub struct Index {
    pub(crate) dim: usize,
    pub(crate) m: usize,
    pub(crate) m0: usize,
    pub(crate) cfg: IndexConfig,
    pub(crate) vectors: HugeRows,
    /// Level-0 links: `[len, id0, id1, ...]`, width `m0 + 1`.
    pub(crate) links0: CowRows<u32>,
    pub(crate) upper: CowRows<Upper>,
    pub(crate) nodes: CowRows<NodeInfo>,
    pub(crate) entry: Option<u32>,
    pub(crate) max_level: usize,
    pub(crate) live: usize,
    pub(crate) rng: ChaCha8Rng,
    /// Dense copy of `nodes[i].live` (one bit per slot, stays in cache during search).
    live_bits: Vec<u64>,
    /// Live nodes stored but not linked yet (ascending slots; searched exactly). Slot order,
    /// not arrival order, so that the state rebuilt after loading a snapshot is the same.
    pending: Vec<u32>,
    /// Linked nodes that moved more than `relink_drift` and wait to be relinked (ascending).
    stale: Vec<u32>,
    /// Scratch: candidates from the graph and the pending buffer, merged.
    merged: Vec<Cand>,
    /// Best level-0 candidate of the last [`Index::link_node`].
    linked_best: Option<(u32, f32)>,
    /// Distance evaluations of the current/last search.
    visits: usize,
    /// Evaluations after which the current search stops (`usize::MAX`: no limit).
    budget: usize,
    // scratch, not part of the state
    visited: Vec<u8>,
    epoch: u8,
    cands: BinaryHeap<Cand>,
    results: BinaryHeap<std::cmp::Reverse<Cand>>,
    sorted: Vec<Cand>,
    picked: Vec<u32>,
    /// `sorted` holds the level-0 candidates of the last [`Index::search`].
    hint: bool,
    /// Graph searches that found fewer than `k` and fell back to exact search.
    fallbacks: u64,
}

impl Index {
    /// An empty index of `dim`-dimensional vectors.
    pub fn new(dim: usize, cfg: &IndexConfig, seed: u64) -> Self {
        let m = cfg.m.clamp(2, 64) as usize;
        Self {
            dim,
            m,
            m0: 2 * m,
            cfg: cfg.clone(),
            vectors: HugeRows::new(dim),
            links0: CowRows::new(2 * m + 1),
            upper: CowRows::new(1),
            nodes: CowRows::new(1),
            entry: None,
            max_level: 0,
            live: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            live_bits: Vec::new(),
            pending: Vec::new(),
            stale: Vec::new(),
            merged: Vec::new(),
            linked_best: None,
            visits: 0,
            budget: usize::MAX,
            visited: Vec::new(),
            epoch: 0,
            cands: BinaryHeap::new(),
            results: BinaryHeap::new(),
            sorted: Vec::new(),
            picked: Vec::new(),
            hint: false,
            fallbacks: 0,
        }
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no vector is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of slots ever used (live or free).
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// True if `slot` holds a live vector.
    #[inline]
    pub fn is_live(&self, slot: u32) -> bool {
        let s = slot as usize;
        s < self.nodes.len() && (self.live_bits[s / 64] >> (s % 64)) & 1 == 1
    }

    fn set_live(&mut self, slot: u32, live: bool) {
        let s = slot as usize;
        self.nodes.row_mut(s)[0].live = live;
        if live {
            self.live_bits[s / 64] |= 1 << (s % 64);
        } else {
            self.live_bits[s / 64] &= !(1 << (s % 64));
        }
    }

    /// The vector in `slot` (live or not; panics past [`Index::slots`]).
    #[inline]
    pub fn vector(&self, slot: u32) -> &[f32] {
        self.vectors.row(slot as usize)
    }

    /// Graph searches that fell back to exact search (reachable part smaller than `k`).
    pub fn exact_fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// Sets the candidate list size used by [`Index::search`].
    pub fn set_ef_search(&mut self, ef: usize) {
        self.cfg.ef_search = ef.max(1) as u64;
    }

    /// Bytes held by the index (vectors, links, bookkeeping and search scratch).
    pub fn heap_bytes(&self) -> usize {
        let upper: usize = (0..self.upper.len())
            .filter_map(|i| self.upper.row(i)[0].as_ref())
            .map(|u| {
                std::mem::size_of::<Vec<Vec<u32>>>()
                    + u.iter()
                        .map(|l| l.capacity() * 4 + std::mem::size_of::<Vec<u32>>())
                        .sum::<usize>()
            })
            .sum();
        self.vectors.heap_bytes()
            + self.links0.heap_bytes()
            + self.upper.heap_bytes()
            + upper
            + self.nodes.heap_bytes()
            + self.visited.capacity()
            + (self.pending.capacity() + self.stale.capacity()) * 4
            + self.merged.capacity() * 8
    }

    fn grow_to(&mut self, slot: usize) {
        while self.nodes.len() <= slot {
            self.vectors.push(0.0);
            self.links0.push(0);
            self.upper.push(None);
            let i = self.nodes.push(NodeInfo::default());
            if i % 64 == 0 {
                self.live_bits.push(0);
            }
            self.visited.push(0);
        }
    }

    fn random_level(&mut self) -> usize {
        let ml = 1.0 / (self.m as f64).ln();
        let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
        ((-u.ln() * ml) as usize).min(16)
    }

    #[inline]
    fn sim(&self, q: &[f32], slot: u32) -> f32 {
        dot(q, self.vectors.row(slot as usize))
    }

    fn links(&self, slot: u32, level: usize) -> &[u32] {
        if level == 0 {
            let r = self.links0.row(slot as usize);
            &r[1..1 + r[0] as usize]
        } else {
            match &self.upper.row(slot as usize)[0] {
                Some(u) if level <= u.len() => &u[level - 1],
                _ => &[],
            }
        }
    }

    fn set_links(&mut self, slot: u32, level: usize, ids: &[u32]) {
        if level == 0 {
            let r = self.links0.row_mut(slot as usize);
            let n = ids.len().min(r.len() - 1);
            r[0] = n as u32;
            r[1..1 + n].copy_from_slice(&ids[..n]);
        } else if let Some(u) = self.upper.row_mut(slot as usize)[0].as_mut() {
            let u = Arc::make_mut(u);
            if level <= u.len() {
                u[level - 1].clear();
                u[level - 1].extend_from_slice(ids);
            }
        }
    }

    fn next_epoch(&mut self) -> u8 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.iter_mut().for_each(|v| *v = 0);
            self.epoch = 1;
        }
        self.epoch
    }

    fn greedy(&mut self, q: &[f32], ep: u32, level: usize) -> u32 {
        let (ep, n) = self.greedy_count(q, ep, level);
        self.visits += n;
        ep
    }

    /// Greedy descent on one layer; also returns the distance evaluations. Stops early when
    /// the search budget is spent.
    fn greedy_count(&self, q: &[f32], mut ep: u32, level: usize) -> (u32, usize) {
        let mut best = self.sim(q, ep);
        let mut n_eval = 1;
        loop {
            let mut moved = false;
            if self.visits + n_eval >= self.budget {
                return (ep, n_eval);
            }
            let list = self.links(ep, level);
            for &n in list {
                if (n as usize) < self.nodes.len() {
                    prefetch(self.vectors.row_ptr(n as usize));
                }
            }
            for &n in list {
                if !self.is_live(n) {
                    continue;
                }
                let s = self.sim(q, n);
                n_eval += 1;
                if s > best {
                    best = s;
                    ep = n;
                    moved = true;
                }
            }
            if !moved {
                return (ep, n_eval);
            }
        }
    }

    /// Beam search on one layer; leaves the best `ef` in `self.sorted`, best first.
    fn search_layer(&mut self, q: &[f32], ep: u32, ef: usize, level: usize) {
        self.hint = false;
        let epoch = self.next_epoch();
        self.cands.clear();
        self.results.clear();
        let s = self.sim(q, ep);
        self.visited[ep as usize] = epoch;
        self.cands.push(Cand(s, ep));
        self.results.push(std::cmp::Reverse(Cand(s, ep)));
        self.visits += 1;
        while let Some(Cand(s, c)) = self.cands.pop() {
            let worst = self.results.peek().map_or(f32::MIN, |r| r.0 .0);
            if (s < worst && self.results.len() >= ef) || self.visits >= self.budget {
                break;
            }
            // Copy the (unvisited, live) neighbour ids out once, prefetching their vectors.
            let mut nbuf = [0u32; 129];
            let mut nl = 0;
            {
                let list = if level == 0 {
                    let r = self.links0.row(c as usize);
                    &r[1..1 + r[0] as usize]
                } else {
                    self.links(c, level)
                };
                for &n in list {
                    let nu = n as usize;
                    if nu < self.visited.len()
                        && self.visited[nu] != epoch
                        && (self.live_bits[nu / 64] >> (nu % 64)) & 1 == 1
                        && nl < nbuf.len()
                    {
                        prefetch(self.vectors.row_ptr(nu));
                        nbuf[nl] = n;
                        nl += 1;
                    }
                }
            }
            self.visits += nl;
            for &n in &nbuf[..nl] {
                let nu = n as usize;
                if self.visited[nu] == epoch {
                    continue; // listed twice
                }
                self.visited[nu] = epoch;
                let sn = self.sim(q, n);
                if self.results.len() < ef {
                    self.cands.push(Cand(sn, n));
                    self.results.push(std::cmp::Reverse(Cand(sn, n)));
                } else if let Some(mut worst) = self.results.peek_mut() {
                    if sn > worst.0 .0 {
                        // Replace the worst in place: one sift-down instead of push + pop.
                        *worst = std::cmp::Reverse(Cand(sn, n));
                        drop(worst);
                        self.cands.push(Cand(sn, n));
                    }
                }
            }
        }
        self.sorted.clear();
        self.sorted.extend(self.results.drain().map(|r| r.0));
        self.sorted.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// HNSW neighbour heuristic over `self.sorted` (best first, similarities to the base);
    /// leaves the chosen ids in `self.picked`.
    fn select(&mut self, max: usize) {
        self.picked.clear();
        for i in 0..self.sorted.len() {
            if self.picked.len() >= max {
                break;
            }
            let Cand(s, c) = self.sorted[i];
            let vc = self.vectors.row(c as usize);
            let keep = self
                .picked
                .iter()
                .all(|&p| dot(vc, self.vectors.row(p as usize)) < s);
            if keep {
                self.picked.push(c);
            }
        }
    }

    /// Adds `slot` to `n`'s links at `level`, shrinking with the heuristic on overflow.
    fn connect(&mut self, n: u32, slot: u32, level: usize) {
        let max = if level == 0 { self.m0 } else { self.m };
        let cur = self.links(n, level);
        if cur.contains(&slot) {
            return;
        }
        if cur.len() < max {
            if level == 0 {
                let r = self.links0.row_mut(n as usize);
                let l = r[0] as usize;
                r[1 + l] = slot;
                r[0] += 1;
            } else if let Some(u) = self.upper.row_mut(n as usize)[0].as_mut() {
                let u = Arc::make_mut(u);
                if level <= u.len() {
                    u[level - 1].push(slot);
                }
            }
            return;
        }
        self.hint = false;
        let vn = self.vectors.row(n as usize);
        let mut sorted = std::mem::take(&mut self.sorted);
        sorted.clear();
        sorted.push(Cand(dot(vn, self.vectors.row(slot as usize)), slot));
        for &c in self.links(n, level) {
            if self.is_live(c) {
                sorted.push(Cand(dot(vn, self.vectors.row(c as usize)), c));
            }
        }
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        self.sorted = sorted;
        self.select(max);
        let picked = std::mem::take(&mut self.picked);
        self.set_links(n, level, &picked);
        self.picked = picked;
    }

    /// Inserts `v` (unit length expected) into the free or new `slot`.
    pub fn insert(&mut self, slot: u32, v: &[f32]) {
        let level = self.random_level();
        self.insert_at_level(slot, v, level);
    }

    fn insert_at_level(&mut self, slot: u32, v: &[f32], level: usize) {
        if let Some(i) = self.pending.iter().position(|&p| p == slot) {
            self.pending.remove(i);
        }
        let s = slot as usize;
        self.grow_to(s);
        self.vectors.row_mut(s).copy_from_slice(&v[..self.dim]);
        if !self.nodes.row(s)[0].live {
            self.live += 1;
        }
        self.nodes.row_mut(s)[0] = NodeInfo {
            level: level as u8,
            live: true,
            drift: 0.0,
        };
        self.set_live(slot, true);
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = (level > 0).then(|| Arc::new(vec![Vec::new(); level]));
        self.link_node(slot, level);
    }

    /// Links an already stored node into the graph (its own lists must be empty).
    fn link_node(&mut self, slot: u32, level: usize) {
        let Some(entry) = self.entry.filter(|&e| e != slot && self.is_live(e)) else {
            self.entry = Some(slot);
            self.max_level = level;
            return;
        };
        let q: Vec<f32> = self.vectors.row(slot as usize).to_vec();
        let mut ep = entry;
        for l in ((level + 1)..=self.max_level).rev() {
            ep = self.greedy(&q, ep, l);
        }
        let ef = self.cfg.ef_construction as usize;
        for l in (0..=level.min(self.max_level)).rev() {
            self.search_layer(&q, ep, ef, l);
            self.sorted.retain(|c| c.1 != slot);
            if l == 0 {
                self.linked_best = self.sorted.first().map(|c| (c.1, c.0));
            }
            if let Some(best) = self.sorted.first() {
                ep = best.1;
            }
            let max = if l == 0 { self.m0 } else { self.m };
            self.select(max);
            let picked = std::mem::take(&mut self.picked);
            self.set_links(slot, l, &picked);
            for &n in &picked {
                self.connect(n, slot, l);
            }
            self.picked = picked;
        }
        if level > self.max_level {
            self.entry = Some(slot);
            self.max_level = level;
        }
    }

    /// Moves the vector in `slot` to `v`; relinks once the accumulated drift is large.
    pub fn update(&mut self, slot: u32, v: &[f32]) {
        if !self.is_live(slot) {
            self.insert(slot, v);
            return;
        }
        let s = slot as usize;
        let moved = 1.0 - dot(self.vectors.row(s), v);
        self.vectors.row_mut(s).copy_from_slice(&v[..self.dim]);
        let info = &mut self.nodes.row_mut(s)[0];
        info.drift += moved.max(0.0);
        if (info.drift as f64) > self.cfg.relink_drift {
            if self.pending.contains(&slot) {
                return; // linked at its latest position when its turn comes
            }
            let cap = self.cfg.fresh_capacity as usize;
            if cap > 0 && (self.stale.len() < cap || self.stale.binary_search(&slot).is_ok()) {
                insert_sorted(&mut self.stale, slot);
                return;
            }
            self.relink(slot);
        }
    }

    /// Rebuilds the links of the linked node `slot` at its current position.
    fn relink(&mut self, slot: u32) {
        let s = slot as usize;
        self.nodes.row_mut(s)[0].drift = 0.0;
        if self.entry == Some(slot) {
            // Relinking needs another entry point; the entry keeps its links (they were
            // chosen for a nearby position) rather than being cut off from the graph.
            return;
        }
        let level = self.nodes.row(s)[0].level as usize;
        self.unlink(slot);
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = (level > 0).then(|| Arc::new(vec![Vec::new(); level]));
        self.link_node(slot, level);
    }

    /// Stores `v` in the free or new `slot` and makes it searchable at once (exactly, from the
    /// pending buffer); it is linked into the graph by [`Index::link_pending`]. With
    /// `fresh_capacity = 0`, or when the graph is empty, this is [`Index::insert`]; when the
    /// buffer is full its oldest entry is linked first. Cost without linking: one row write.
    pub fn insert_deferred(&mut self, slot: u32, v: &[f32]) {
        let cap = self.cfg.fresh_capacity as usize;
        if cap == 0 || self.entry.is_none() {
            self.insert(slot, v);
            return;
        }
        if self.is_live(slot) {
            self.remove(slot);
        }
        while self.pending.len() >= cap {
            let p = self.pending.remove(0);
            self.link_fresh(p);
        }
        let s = slot as usize;
        self.grow_to(s);
        self.vectors.row_mut(s).copy_from_slice(&v[..self.dim]);
        self.nodes.row_mut(s)[0] = NodeInfo {
            level: 0,
            live: true,
            drift: 0.0,
        };
        self.live += 1;
        self.set_live(slot, true);
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = None;
        insert_sorted(&mut self.pending, slot);
        self.hint = false;
    }

    /// Links a stored, unlinked node (from the pending buffer) at a newly drawn level.
    fn link_fresh(&mut self, slot: u32) {
        if !self.is_live(slot) {
            return;
        }
        let level = self.random_level();
        let s = slot as usize;
        let info = &mut self.nodes.row_mut(s)[0];
        info.level = level as u8;
        info.drift = 0.0;
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = (level > 0).then(|| Arc::new(vec![Vec::new(); level]));
        self.link_node(slot, level);
    }

    /// Does up to `max` units of deferred graph work, lowest slot first: linking a pending
    /// node, then relinking a node that moved. Each unit costs one construction search
    /// (`ef_construction`) per layer plus reciprocal links. Returns the units done.
    pub fn link_pending(&mut self, max: usize) -> usize {
        let mut done = 0;
        while done < max && self.link_next().is_some() {
            done += 1;
        }
        done
    }

    /// One unit of deferred graph work (see [`Index::link_pending`]); `None` when there is
    /// none. For a newly linked node, also reports the most similar node its construction
    /// search found (`ef_construction` candidates over the graph).
    pub fn link_next(&mut self) -> Option<LinkedNode> {
        self.hint = false;
        self.linked_best = None;
        if !self.pending.is_empty() {
            let p = self.pending.remove(0);
            self.link_fresh(p);
            self.hint = false;
            return Some(LinkedNode {
                slot: p,
                fresh: true,
                nearest: self.linked_best.take(),
            });
        }
        if !self.stale.is_empty() {
            let p = self.stale.remove(0);
            if self.is_live(p) {
                self.relink(p);
            }
            self.hint = false;
            return Some(LinkedNode {
                slot: p,
                fresh: false,
                nearest: None,
            });
        }
        None
    }

    /// Deferred graph work waiting (pending inserts plus relinks).
    pub fn pending_work(&self) -> usize {
        self.pending.len() + self.stale.len()
    }

    /// Removes the vector in `slot` (no-op if it is not live).
    pub fn remove(&mut self, slot: u32) {
        if !self.is_live(slot) {
            return;
        }
        if let Some(i) = self.pending.iter().position(|&p| p == slot) {
            self.pending.remove(i); // never linked: nothing to unlink
        } else {
            self.unlink(slot);
        }
        if let Some(i) = self.stale.iter().position(|&p| p == slot) {
            self.stale.remove(i);
        }
        let s = slot as usize;
        self.set_live(slot, false);
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = None;
        self.live -= 1;
        if self.entry == Some(slot) {
            self.entry = None;
            self.max_level = 0;
            // Rare (the entry is one node out of all): scan for the highest live node.
            let mut best: Option<(usize, u32)> = None;
            for i in 0..self.nodes.len() {
                let n = self.nodes.row(i)[0];
                if n.live
                    && best.is_none_or(|(l, _)| n.level as usize > l)
                    && !self.pending.contains(&(i as u32))
                {
                    best = Some((n.level as usize, i as u32));
                }
            }
            if let Some((l, i)) = best {
                self.entry = Some(i);
                self.max_level = l;
            } else if !self.pending.is_empty() {
                // Only unlinked nodes are left: the oldest becomes the graph's entry.
                let p = self.pending.remove(0);
                self.link_fresh(p);
            }
        }
    }

    /// Drops `slot` (and any other dead id) from its out-neighbours' lists and fills the room
    /// with `slot`'s other neighbours, most similar first. Cost: O(m0^2) dot products.
    fn unlink(&mut self, slot: u32) {
        let level = self.nodes.row(slot as usize)[0].level as usize;
        let mut mine: Vec<u32> = Vec::new();
        let mut new: Vec<u32> = Vec::new();
        let mut cand: Vec<Cand> = Vec::new();
        for l in 0..=level {
            let max = if l == 0 { self.m0 } else { self.m };
            mine.clear();
            mine.extend(
                self.links(slot, l)
                    .iter()
                    .copied()
                    .filter(|&x| x != slot && self.is_live(x)),
            );
            for &n in &mine {
                let cur = self.links(n, l);
                if !cur.contains(&slot) {
                    continue;
                }
                new.clear();
                new.extend(
                    cur.iter()
                        .copied()
                        .filter(|&x| x != slot && self.is_live(x)),
                );
                let vn = self.vectors.row(n as usize);
                cand.clear();
                for &c in &mine {
                    if c != n && !new.contains(&c) {
                        cand.push(Cand(dot(vn, self.vectors.row(c as usize)), c));
                    }
                }
                cand.sort_unstable_by(|a, b| b.cmp(a));
                for c in &cand {
                    if new.len() >= max {
                        break;
                    }
                    new.push(c.1);
                }
                self.set_links(n, l, &new);
            }
        }
    }

    /// The `k` most similar live vectors to `q` (unit length expected), best first, into `out`
    /// as `(slot, similarity)`. Exact below the threshold, HNSW above.
    pub fn search(&mut self, q: &[f32], k: usize, out: &mut Vec<(u32, f32)>) {
        self.search_ef(q, k, self.cfg.ef_search as usize, out);
    }

    /// [`Index::search`] with candidate list size `ef` (the learner searches with
    /// `ef_construction` so that a new node can be linked from the same search).
    fn search_ef(&mut self, q: &[f32], k: usize, ef: usize, out: &mut Vec<(u32, f32)>) {
        self.search_budget(q, k, ef, usize::MAX, out);
    }

    /// [`Index::search_ef`] that stops the graph search once it has evaluated `budget`
    /// distances (checked per expanded node, so it may overshoot by one adjacency list): a
    /// hard bound on the cost, at some loss of recall. The pending buffer is always scanned.
    pub fn search_budget(
        &mut self,
        q: &[f32],
        k: usize,
        ef: usize,
        budget: usize,
        out: &mut Vec<(u32, f32)>,
    ) {
        self.visits = 0;
        self.budget = budget.max(1);
        self.search_inner(q, k, ef, out);
        self.budget = usize::MAX;
    }

    /// Distances evaluated in the graph by the last [`Index::search_budget`] /
    /// [`Index::search_ef`] call (pending scan not included; linking work adds to it).
    pub fn last_visits(&self) -> usize {
        self.visits
    }

    fn search_inner(&mut self, q: &[f32], k: usize, ef: usize, out: &mut Vec<(u32, f32)>) {
        out.clear();
        if self.live == 0 || k == 0 {
            return;
        }
        if self.live as u64 <= self.cfg.exact_threshold {
            self.search_exact(q, k, out);
            return;
        }
        let Some(mut ep) = self.entry else { return };
        for l in (1..=self.max_level).rev() {
            ep = self.greedy(q, ep, l);
        }
        let ef = ef.max(k);
        self.search_layer(q, ep, ef, 0);
        if !self.pending.is_empty() {
            self.merge_pending(q, k, out);
            return;
        }
        if self.sorted.len() < k.min(self.live) {
            // The reachable part of the graph is smaller than k (only after heavy removal):
            // answer exactly rather than short.
            self.fallbacks += 1;
            self.search_exact(q, k, out);
            return;
        }
        out.extend(self.sorted.iter().take(k).map(|c| (c.1, c.0)));
        self.hint = true;
    }

    /// Inserts `v` into `slot` right after [`Index::search_ef`] was called with the same `v`:
    /// a node drawn at level 0 (a fraction `1 - 1/m` of all) is linked from that search's
    /// candidates, saving the construction search (its effective `ef_construction` is the `ef`
    /// of that search). Otherwise, or if anything searched since, this is [`Index::insert`].
    pub fn insert_after_search(&mut self, slot: u32, v: &[f32]) {
        let level = self.random_level();
        if level != 0 || !self.hint || self.entry.is_none() {
            self.insert_at_level(slot, v, level);
            return;
        }
        self.hint = false;
        let s = slot as usize;
        self.grow_to(s);
        self.vectors.row_mut(s).copy_from_slice(&v[..self.dim]);
        if !self.nodes.row(s)[0].live {
            self.live += 1;
        }
        self.nodes.row_mut(s)[0] = NodeInfo {
            level: 0,
            live: true,
            drift: 0.0,
        };
        self.set_live(slot, true);
        self.links0.row_mut(s)[0] = 0;
        self.upper.row_mut(s)[0] = None;
        let mut sorted = std::mem::take(&mut self.sorted);
        sorted.retain(|c| c.1 != slot && self.nodes.row(c.1 as usize)[0].live);
        self.sorted = sorted;
        if self.sorted.is_empty() {
            self.link_node(slot, 0);
            return;
        }
        self.select(self.m0);
        let picked = std::mem::take(&mut self.picked);
        self.set_links(slot, 0, &picked);
        for &n in &picked {
            self.connect(n, slot, 0);
        }
        self.picked = picked;
    }

    /// Top `k` of the last level-0 search's candidates and the pending (unlinked) nodes, into
    /// `out`. Leaves `self.sorted` (the graph candidates) untouched.
    fn merge_pending(&mut self, q: &[f32], k: usize, out: &mut Vec<(u32, f32)>) {
        let epoch = self.epoch;
        let mut merged = std::mem::take(&mut self.merged);
        merged.clear();
        merged.extend(self.sorted.iter().take(k).copied());
        for &p in &self.pending {
            // A pending node reached through a stale in-link of its slot is already counted.
            if self.visited[p as usize] != epoch {
                merged.push(Cand(self.sim(q, p), p));
            }
        }
        merged.sort_unstable_by(|a, b| b.cmp(a));
        merged.truncate(k);
        if merged.len() < k.min(self.live) {
            self.merged = merged;
            self.fallbacks += 1;
            self.search_exact(q, k, out);
            return;
        }
        out.extend(merged.iter().map(|c| (c.1, c.0)));
        self.merged = merged;
        // The graph candidates do not include the pending nodes: no linking from them.
        self.hint = false;
    }

    /// Exact top-`k` by brute force over all live vectors.
    pub fn search_exact(&mut self, q: &[f32], k: usize, out: &mut Vec<(u32, f32)>) {
        self.hint = false;
        out.clear();
        self.results.clear();
        for i in 0..self.nodes.len() {
            if !self.nodes.row(i)[0].live {
                continue;
            }
            let s = dot(q, self.vectors.row(i));
            if self.results.len() < k {
                self.results.push(std::cmp::Reverse(Cand(s, i as u32)));
            } else if self.results.peek().is_some_and(|w| s > w.0 .0) {
                self.results.pop();
                self.results.push(std::cmp::Reverse(Cand(s, i as u32)));
            }
        }
        self.sorted.clear();
        self.sorted.extend(self.results.drain().map(|r| r.0));
        self.sorted.sort_unstable_by(|a, b| b.cmp(a));
        out.extend(self.sorted.iter().map(|c| (c.1, c.0)));
    }

    /// Rebuilds scratch buffers after a load.
    pub(crate) fn reset_scratch(&mut self) {
        self.live_bits = vec![0; self.nodes.len().div_ceil(64)];
        for i in 0..self.nodes.len() {
            if self.nodes.row(i)[0].live {
                self.live_bits[i / 64] |= 1 << (i % 64);
            }
        }
        self.visited = vec![0; self.nodes.len()];
        self.epoch = 0;
        // Live nodes without links (other than a lone entry) were stored but not yet linked;
        // linked nodes that drifted too far were waiting to be relinked.
        self.pending.clear();
        self.stale.clear();
        let defer = self.cfg.fresh_capacity > 0;
        for i in 0..self.nodes.len() {
            let n = self.nodes.row(i)[0];
            if !n.live || self.entry == Some(i as u32) {
                continue;
            }
            if self.links0.row(i)[0] == 0 && self.live > 1 {
                self.pending.push(i as u32);
            } else if defer && n.drift as f64 > self.cfg.relink_drift {
                self.stale.push(i as u32);
            }
        }
    }
}

/// Inserts `x` into the ascending `v` unless present.
fn insert_sorted(v: &mut Vec<u32>, x: u32) {
    if let Err(i) = v.binary_search(&x) {
        v.insert(i, x);
    }
}
