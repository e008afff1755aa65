//! Relations between acts, read from the attractors' action memories: what an utterance can
//! mean relative to what was just done ("again": the same; "the other way": its mirror).
//!
//! ```text
//! act relation of attractor b to a recent act a (profiles P_a, P_b: bins x joints, offsets
//! from the start state):
//!   itself        b == a
//!   opposite      b is a's nearest mirror, and the best mirror of a is -P_a (all joints flipped)
//!   mirrored      b is a's nearest mirror, and the best mirror of a flips one joint only
//!   near-mirror   b is a's 2nd or 3rd nearest mirror
//!   same          cos(P_a, P_b) >= SAME_COS
//!   unrelated     anything else
//! mirror score of b: max over flips F of cos(P_b, F(P_a)) - F: all joints, or one joint that
//!   carries at least FLIP_SHARE of a's motion - counted only when it beats the plain match
//!   cos(P_a, P_b) by FLIP_MARGIN (a mirror changes something) and reaches MIRROR_MIN
//! ```
//!
//! The tokens are discrete and name no robot, joint meaning or primitive: the lexicon learns
//! which of them the words go with (P(relation | words), counted like the word x context
//! conjunctions), so "the other way" taught on two mirrored pairs means "the mirror of what
//! was just done" for any pair.

use std::collections::BTreeMap;

use crate::substrate::{ActionMemory, AttractorId, Substrate};

/// What the lexicon may know about attractors' acts: their action memories.
pub trait Acts {
    /// Attractors that may have an action memory.
    fn act_ids(&self) -> Vec<u32>;
    /// Attractor `id`'s action memory (None: it has none or is gone).
    fn act(&self, id: u32) -> Option<&ActionMemory>;
}

impl Acts for Substrate {
    fn act_ids(&self) -> Vec<u32> {
        self.ids().map(|id| id.0).collect()
    }
    fn act(&self, id: u32) -> Option<&ActionMemory> {
        self.action(AttractorId(id))
    }
}

impl Acts for BTreeMap<u32, ActionMemory> {
    fn act_ids(&self) -> Vec<u32> {
        self.keys().copied().collect()
    }
    fn act(&self, id: u32) -> Option<&ActionMemory> {
        self.get(&id)
    }
}

/// No action memories: no relations (the lexicon falls back to words and context alone).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoActs;

impl Acts for NoActs {
    fn act_ids(&self) -> Vec<u32> {
        Vec::new()
    }
    fn act(&self, _: u32) -> Option<&ActionMemory> {
        None
    }
}

/// Profiles at least this similar (cosine) are the same act.
pub const SAME_COS: f64 = 0.8;
/// A mirror must match at least this well (cosine with the flipped profile).
pub const MIRROR_MIN: f64 = 0.5;
/// A flip must beat the plain match by this much (cosine).
pub const FLIP_MARGIN: f64 = 0.2;
/// A joint flipped alone must carry at least this share of the act's motion (sum of squares).
pub const FLIP_SHARE: f64 = 0.2;
/// Mirrors ranked after the nearest that still count as near.
const NEAR_MIRRORS: usize = 2;

/// How one attractor's act relates to a recent act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// The recent act's own attractor.
    Itself,
    /// Its nearest mirror, all joints flipped.
    Opposite,
    /// Its nearest mirror, one joint flipped.
    Mirrored,
    /// Its second or third nearest mirror.
    NearMirror,
    /// A similar act.
    Same,
    /// None of these.
    Unrelated,
}

impl Relation {
    /// The token the lexicon counts.
    pub fn token(self) -> &'static str {
        match self {
            Relation::Itself => "itself",
            Relation::Opposite => "opposite",
            Relation::Mirrored => "mirrored",
            Relation::NearMirror => "near-mirror",
            Relation::Same => "same",
            Relation::Unrelated => "unrelated",
        }
    }
}

/// Cosine of two equally long vectors (0 when either is ~zero).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    let d = (aa * bb).sqrt();
    if d > 1e-12 {
        ab / d
    } else {
        0.0
    }
}

/// How well `b` mirrors `a` (same shape): the best cosine of `b` with a flipped `a` (all
/// joints, or one joint carrying at least [`FLIP_SHARE`] of `a`'s motion) that beats the plain
/// cosine by [`FLIP_MARGIN`], and whether that flip was all joints. None: no flip qualifies.
pub fn mirror_score(a: &ActionMemory, b: &ActionMemory) -> Option<(f64, bool)> {
    if !a.same_shape(b) {
        return None;
    }
    let joints = a.joints as usize;
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    let mut ab_j = vec![0.0f64; joints];
    let mut aa_j = vec![0.0f64; joints];
    for (i, (&x, &y)) in a.profile.iter().zip(&b.profile).enumerate() {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
        ab_j[i % joints] += x * y;
        aa_j[i % joints] += x * x;
    }
    let d = (aa * bb).sqrt();
    if d <= 1e-12 {
        return None;
    }
    let plain = ab / d;
    let mut best: Option<(f64, bool)> = None;
    let mut consider = |score: f64, all: bool| {
        if score - plain >= FLIP_MARGIN && best.is_none_or(|b| score > b.0) {
            best = Some((score, all));
        }
    };
    consider(-plain, true);
    // one joint flipped: a . b changes by -2 * (a_j . b_j)
    if joints > 1 {
        for j in 0..joints {
            if aa_j[j] >= FLIP_SHARE * aa {
                consider((ab - 2.0 * ab_j[j]) / d, false);
            }
        }
    }
    best
}

/// The relations of every attractor with an action memory to one recent act.
#[derive(Clone, Debug, PartialEq)]
pub struct Relations {
    from: u32,
    of: BTreeMap<u32, Relation>,
}

impl Relations {
    /// The relations to `from`'s act of every attractor `acts` holds an action memory for
    /// (None: `from` has none).
    pub fn of(from: u32, acts: &dyn Acts) -> Option<Relations> {
        let a = acts.act(from)?;
        let mut of = BTreeMap::new();
        let mut mirrors: Vec<(f64, bool, u32)> = Vec::new();
        for id in acts.act_ids() {
            if id == from {
                continue;
            }
            let Some(b) = acts.act(id).filter(|b| b.same_shape(a)) else {
                continue;
            };
            if let Some((score, all)) = mirror_score(a, b).filter(|m| m.0 >= MIRROR_MIN) {
                mirrors.push((score, all, id));
            }
            let same = cosine(&a.profile, &b.profile) >= SAME_COS;
            of.insert(
                id,
                if same {
                    Relation::Same
                } else {
                    Relation::Unrelated
                },
            );
        }
        mirrors.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.2.cmp(&y.2)));
        for (rank, &(_, all, id)) in mirrors.iter().take(1 + NEAR_MIRRORS).enumerate() {
            let r = match (rank, all) {
                (0, true) => Relation::Opposite,
                (0, false) => Relation::Mirrored,
                _ => Relation::NearMirror,
            };
            of.insert(id, r);
        }
        of.insert(from, Relation::Itself);
        Some(Relations { from, of })
    }

    /// The recent act's attractor.
    pub fn from(&self) -> u32 {
        self.from
    }

    /// How `id`'s act relates to the recent act (None: no comparable action memory).
    pub fn get(&self, id: u32) -> Option<Relation> {
        self.of.get(&id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memory of 2 bins x 3 joints.
    fn mem(p: [f32; 6]) -> ActionMemory {
        ActionMemory::new(2, 3, 1.0, &p).unwrap()
    }

    #[test]
    fn mirror_scores_by_hand() {
        let a = mem([1.0, 0.5, 0.0, 2.0, 1.0, 0.0]);
        // all joints flipped: cosine 1 with -a, plain -1
        let (s, all) = mirror_score(&a, &mem([-1.0, -0.5, 0.0, -2.0, -1.0, 0.0])).unwrap();
        assert!((s - 1.0).abs() < 1e-9 && all);
        // joint 0 flipped (80 % of a's motion): plain cosine (-1 + .25 - 4 + 1) / 6.25 = -0.6;
        // all flipped 0.6; joint 0 flipped (-3.75 + 2 * 5) / 6.25 = 1; joint 1 flipped -1
        let (s, all) = mirror_score(&a, &mem([-1.0, 0.5, 0.0, -2.0, 1.0, 0.0])).unwrap();
        assert!((s - 1.0).abs() < 1e-9 && !all, "{s}");
        // the same act is no mirror; nor is a flip of a joint a hardly moves
        assert!(mirror_score(&a, &a).is_none());
        let b = mem([1.0, 0.5, 0.1, 2.0, 1.0, 0.1]);
        assert!(mirror_score(&a, &b).is_none());
        // shapes differ: no relation
        let c = ActionMemory::new(3, 2, 1.0, &[0.0; 6]).unwrap();
        assert!(mirror_score(&a, &c).is_none());
    }

    #[test]
    fn relation_tokens_by_hand() {
        let mut acts: BTreeMap<u32, ActionMemory> = BTreeMap::new();
        // 1: joint 0 out (92 % of the motion), joint 1 a little; 2: its joint-0 mirror (1.0);
        // 3: nearly its full opposite (-cos 0.94); 4: nearly 1 (cos 0.9995); 5: joint 2 only
        acts.insert(1, mem([1.0, 0.3, 0.0, 2.0, 0.6, 0.0]));
        acts.insert(2, mem([-1.0, 0.3, 0.0, -2.0, 0.6, 0.0]));
        acts.insert(3, mem([-0.8, -0.6, 0.0, -1.6, -1.2, 0.0]));
        acts.insert(4, mem([1.0, 0.35, 0.05, 2.0, 0.6, 0.0]));
        acts.insert(5, mem([0.0, 0.0, 1.0, 0.0, 0.0, 1.0]));
        let r = Relations::of(1, &acts).unwrap();
        assert_eq!(r.from(), 1);
        assert_eq!(r.get(1), Some(Relation::Itself));
        assert_eq!(r.get(2), Some(Relation::Mirrored));
        assert_eq!(r.get(3), Some(Relation::NearMirror));
        assert_eq!(r.get(4), Some(Relation::Same));
        assert_eq!(r.get(5), Some(Relation::Unrelated));
        assert_eq!(r.get(9), None);
        // from 3: 4 is the nearest mirror (-cos 0.941: all flipped), then 1 (-cos 0.939) and
        // 2 (joint 1 flipped: 0.939, plain 0.59)
        let r = Relations::of(3, &acts).unwrap();
        assert_eq!(r.get(4), Some(Relation::Opposite));
        assert_eq!(r.get(1), Some(Relation::NearMirror));
        assert_eq!(r.get(2), Some(Relation::NearMirror));
        assert_eq!(r.get(5), Some(Relation::Unrelated));
        assert!(Relations::of(9, &acts).is_none());
        assert!(Relations::of(1, &NoActs).is_none());
    }
}
