//! Inserting an attractor learned elsewhere (peer validation, `crate::peers`): a center, a
//! strength, an evidence count and a label, placed into this substrate as if it had formed
//! here, or merged into a similar attractor of its own.

use super::{simd, ActionMemory, AttractorId, Substrate, SubstrateError};
use crate::types::Time;

/// What [`Substrate::adopt`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Adopted {
    /// A new attractor holds the center.
    Inserted(AttractorId),
    /// An own attractor at or above `merge_similarity` absorbed it (its center moved towards
    /// the adopted one, weighted by the evidence counts).
    Merged(AttractorId),
}

impl Adopted {
    /// The attractor that now carries the adopted primitive.
    pub fn id(self) -> AttractorId {
        match self {
            Adopted::Inserted(id) | Adopted::Merged(id) => id,
        }
    }
}

impl Substrate {
    /// Adopts an attractor formed elsewhere: `center` (any nonzero finite vector of length D;
    /// normalised), `evidence` experiences behind it (>= 1), labelled `label`. When an own
    /// attractor's center reaches `merge_similarity` with it, that attractor absorbs it (center
    /// moved by `evidence / (own count + evidence)`, counts added); otherwise a new attractor is
    /// created with strength 1 (evicting at capacity, as `learn` does). Off the hot path:
    /// allocates for the label.
    pub fn adopt(
        &mut self,
        t: Time,
        center: &[f32],
        evidence: u64,
        label: &str,
    ) -> Result<Adopted, SubstrateError> {
        self.take_input(center)?;
        let x = std::mem::take(&mut self.x);
        let ef = self.cfg.index.ef_construction as usize;
        self.index
            .search_budget(&x, 1, ef, usize::MAX, &mut self.hits);
        let evidence = evidence.max(1);
        let out = match self.hits.first().copied() {
            Some((slot, sim)) if sim as f64 >= self.cfg.merge_similarity => {
                let s = slot as usize;
                let m0 = self.meta.row(s)[0];
                let w = evidence as f32 / (m0.count + evidence) as f32;
                let c = self.index.vector(slot);
                for ((y, &c), &x) in self.y.iter_mut().zip(c).zip(&x) {
                    *y = c + w * (x - c);
                }
                simd::normalize(&mut self.y);
                let y = std::mem::take(&mut self.y);
                self.index.update(slot, &y);
                self.y = y;
                let strength = self.decayed(&m0, t) + 1.0;
                let m = &mut self.meta.row_mut(s)[0];
                m.count += evidence;
                m.strength = strength;
                m.last = t;
                Adopted::Merged(AttractorId(slot))
            }
            _ => {
                if self.index.len() as u64 >= self.cfg.capacity {
                    self.evict(t);
                }
                let slot = self.create(&x, t);
                self.meta.row_mut(slot as usize)[0].count = evidence;
                Adopted::Inserted(AttractorId(slot))
            }
        };
        self.x = x;
        self.add_label(out.id(), label);
        Ok(out)
    }
}

impl Substrate {
    /// Gives the attractor `id` that just adopted a primitive with `evidence` experiences behind
    /// it that primitive's action memory: kept as it is when the attractor has none (or one of
    /// another shape), else merged count-weighted (the attractor's own experiences against
    /// `evidence`), as two attractors' memories merge. False when `id` is not live.
    pub fn adopt_action(&mut self, id: AttractorId, evidence: u64, action: &ActionMemory) -> bool {
        let slot = id.0;
        if !self.is_live(slot) {
            return false;
        }
        let count = self.meta.row(slot as usize)[0].count;
        let evidence = evidence.max(1);
        let own = count.saturating_sub(evidence);
        let actions = std::sync::Arc::make_mut(&mut self.actions);
        match actions.get_mut(&slot) {
            Some(a) if a.same_shape(action) && own > 0 => {
                a.merge(action, own as f32, evidence as f32)
            }
            _ => {
                actions.insert(slot, action.clone());
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::substrate::SubstrateConfig;

    fn sub() -> Substrate {
        Substrate::new(SubstrateConfig {
            dim: 4,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn inserts_a_new_center_with_its_label_and_evidence() {
        let mut s = sub();
        s.learn(Time(1), &[1.0, 0.0, 0.0, 0.0]).unwrap();
        let a = s.adopt(Time(2), &[0.0, 2.0, 0.0, 0.0], 5, "lift").unwrap();
        let Adopted::Inserted(id) = a else {
            panic!("expected an insertion, got {a:?}")
        };
        assert_eq!(s.len(), 2);
        let at = s.attractor(id, Time(2)).unwrap();
        assert_eq!(at.center, &[0.0, 1.0, 0.0, 0.0]);
        assert_eq!(at.activation_count, 5);
        assert_eq!(at.labels, &["lift".to_string()]);
        // an experience near the adopted center is now absorbed by it, not created anew
        let l = s.learn(Time(3), &[0.0, 1.0, 0.05, 0.0]).unwrap();
        assert_eq!((l.id, l.created), (id, false));
    }

    #[test]
    fn an_adopted_primitive_carries_its_action_memory() {
        let mut s = sub();
        let mem = |x: f32| ActionMemory::new(1, 2, 1.0, &[x, -x]).unwrap();
        // inserted: the proposer's memory as it is
        let a = s.adopt(Time(1), &[0.0, 1.0, 0.0, 0.0], 3, "lift").unwrap();
        assert!(s.adopt_action(a.id(), 3, &mem(0.4)));
        assert_eq!(s.action(a.id()), Some(&mem(0.4)));
        // merged into an own attractor (1 own experience, memory 0.0) with evidence 3:
        // the count-weighted mean 3/4 of the way
        let own = s.learn(Time(2), &[1.0, 0.0, 0.0, 0.0]).unwrap().id;
        std::sync::Arc::make_mut(&mut s.actions).insert(own.0, mem(0.0));
        let b = s
            .adopt(Time(3), &[1.0, 0.01, 0.0, 0.0], 3, "reach")
            .unwrap();
        assert_eq!(b, Adopted::Merged(own));
        assert!(s.adopt_action(own, 3, &mem(0.4)));
        let m = s.action(own).unwrap();
        assert!((m.profile[0] - 0.3).abs() < 1e-6, "{m:?}");
        assert!((m.profile[1] + 0.3).abs() < 1e-6, "{m:?}");
        // not live
        assert!(!s.adopt_action(AttractorId(999), 1, &mem(0.1)));
    }

    #[test]
    fn merges_into_a_similar_own_attractor() {
        let mut s = sub();
        let own = s.learn(Time(1), &[1.0, 0.0, 0.0, 0.0]).unwrap().id;
        // cos = 0.995 >= merge_similarity 0.95; evidence 3 vs own count 1: moved 3/4 of the way
        let v = [0.995f32, 0.0998749, 0.0, 0.0];
        let a = s.adopt(Time(2), &v, 3, "reach").unwrap();
        assert_eq!(a, Adopted::Merged(own));
        assert_eq!(s.len(), 1);
        let at = s.attractor(own, Time(2)).unwrap();
        assert_eq!(at.activation_count, 4);
        let want_y = 0.75 * 0.0998749f32;
        let want_x = 0.25 + 0.75 * 0.995f32;
        let n = (want_x * want_x + want_y * want_y).sqrt();
        assert!((at.center[0] - want_x / n).abs() < 1e-5, "{:?}", at.center);
        assert!((at.center[1] - want_y / n).abs() < 1e-5, "{:?}", at.center);
        assert_eq!(at.labels, &["reach".to_string()]);
    }

    #[test]
    fn rejects_bad_centers() {
        let mut s = sub();
        assert!(matches!(
            s.adopt(Time(1), &[1.0, 0.0, 0.0], 1, "x"),
            Err(SubstrateError::Dim { want: 4, got: 3 })
        ));
        assert!(matches!(
            s.adopt(Time(1), &[f32::NAN, 0.0, 0.0, 0.0], 1, "x"),
            Err(SubstrateError::NotFinite { index: 0, .. })
        ));
        assert!(s.is_empty());
    }
}
