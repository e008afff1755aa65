//! What peer validation (`crate::peers`, through `learn::peer`) asks of the learner: its
//! lineage, the attractors it is confident in, and adopting an attractor a peer formed.

use arrayvec::ArrayString;

use super::{intern, Learner};
use crate::learn::bridge::{truncated, MAX_LABEL};
use crate::learn::LearnError;
use crate::substrate::{ActionMemory, Adopted, AttractorId};
use crate::types::Time;

impl Learner {
    /// The encoder's lineage (see [`crate::encode::Encoder::lineage`]): centers of learners with
    /// the same lineage live in the same space.
    pub fn lineage(&self) -> [u8; 32] {
        self.encoder.lineage()
    }

    /// True once the calibration experiences are behind (the encoder's statistics are frozen:
    /// the calibration windows are used up, or a plan's calibration episodes are over and
    /// learning began).
    pub fn calibrated(&self) -> bool {
        self.calibrate_left == 0 || self.stats.learned > 0
    }

    /// The substrate's vigilance (an experience at or above it is recognised as the attractor).
    pub fn vigilance(&self) -> f32 {
        self.substrate.config().vigilance as f32
    }

    /// The attractors this learner is confident in: absorbed at least `min_evidence` experiences
    /// and at least `purity` of its labelled experiences carry its majority label. Calls `f`
    /// with `(id, majority label, experiences absorbed, center, action memory)`, ascending ids.
    pub fn confident(
        &self,
        t: Time,
        min_evidence: u64,
        purity: f32,
        mut f: impl FnMut(AttractorId, ArrayString<MAX_LABEL>, u64, &[f32], Option<&ActionMemory>),
    ) {
        for id in self.substrate.ids() {
            let Some(a) = self.substrate.attractor(id, t) else {
                continue;
            };
            if a.activation_count < min_evidence {
                continue;
            }
            let Some(counts) = self.labels.get(&id.0) else {
                continue;
            };
            let total: u64 = counts.values().sum();
            let Some(major) = self.majority_label(id.0) else {
                continue;
            };
            let n = counts.get(major).copied().unwrap_or(0);
            if total == 0 || (n as f32) < purity * total as f32 {
                continue;
            }
            f(
                id,
                truncated(major),
                a.activation_count,
                a.center,
                self.substrate.action(id),
            );
        }
    }

    /// Adopts a primitive validated by the peers: `center` with `evidence` experiences behind
    /// it, labelled `label` (see [`crate::substrate::Substrate::adopt`]: merged into a similar
    /// own attractor, else inserted), with the proposer's action memory when it sent one (see
    /// [`crate::substrate::Substrate::adopt_action`]: the adopted primitive can be performed).
    /// The label counts as taught from now on.
    pub fn adopt(
        &mut self,
        t: Time,
        center: &[f32],
        evidence: u64,
        label: &str,
        action: Option<&ActionMemory>,
    ) -> Result<Adopted, LearnError> {
        let name = intern(label);
        let a = self.substrate.adopt(t, center, evidence, name)?;
        if let Some(m) = action {
            self.substrate.adopt_action(a.id(), evidence, m);
        }
        if let Adopted::Inserted(id) = a {
            // a reused slot starts without labels
            self.labels.remove(&id.0);
        }
        *self
            .labels
            .entry(a.id().0)
            .or_default()
            .entry(name)
            .or_default() += 1;
        self.seen.insert(name);
        self.stats.attractors = self.substrate.len() as u64;
        Ok(a)
    }
}
