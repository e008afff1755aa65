//! The peer protocol's messages as plain values (the ROS 2 node converts them to and from
//! `sattva_msgs/Proposal`, `Vote`, `LibraryUpdate`) and the checks every received message
//! passes before it is used.

use serde::{Deserialize, Serialize};

/// Protocol version carried by every message; any other is rejected.
pub const VERSION: u32 = 1;

/// Longest label accepted, bytes.
pub const MAX_LABEL: usize = crate::learn::MAX_LABEL;

/// A proposal (see `sattva_msgs/Proposal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Protocol version.
    pub version: u32,
    /// `"<proposer>:<sequence>"`.
    pub id: String,
    /// Proposing peer.
    pub proposer: u32,
    /// Label.
    pub label: String,
    /// Center (unit vector in the encoder's space).
    pub center: Vec<f32>,
    /// Action memory (empty when the proposer has none).
    pub action_memory: Vec<f32>,
    /// Experiences behind it.
    pub evidence: u64,
    /// Hex SHA-256 of the proposer's encoder (see [`crate::encode::Encoder::lineage`]).
    pub lineage: String,
    /// Proposer's wall clock, s since the epoch.
    pub stamp: f64,
}

/// A vote (see `sattva_msgs/Vote`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// Protocol version.
    pub version: u32,
    /// The proposal.
    pub proposal_id: String,
    /// Voting peer.
    pub voter: u32,
    /// Agreeing experiences.
    pub matches: u32,
    /// Experiences the test covered (0: abstain).
    pub total: u32,
    /// The voter's confidence, `matches / total`.
    pub confidence: f32,
}

/// A decision (see `sattva_msgs/LibraryUpdate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LibraryUpdate {
    /// Protocol version.
    pub version: u32,
    /// Deciding peer.
    pub decider: u32,
    /// The proposal.
    pub proposal_id: String,
    /// Its proposer.
    pub proposer: u32,
    /// Its label.
    pub label: String,
    /// Entered the library.
    pub accepted: bool,
    /// BIAS confidence.
    pub confidence: f32,
    /// Votes counted: voters...
    pub voters: Vec<u32>,
    /// ... and their votes.
    pub votes: Vec<f32>,
    /// Peers in quarantine at the decider.
    pub quarantined: Vec<u32>,
    /// Why.
    pub reason: String,
}

/// Why a received message was rejected (each kind is counted).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Malformed {
    /// Unknown protocol version.
    #[error("unknown protocol version {0} (this peer speaks {VERSION})")]
    Version(u32),
    /// The center's length is not the encoder's dimension.
    #[error("center has {got} values, the encoder's dimension is {want}")]
    Dimension {
        /// Received length.
        got: usize,
        /// Expected.
        want: usize,
    },
    /// NaN or infinity in the center, the action memory or the vote.
    #[error("non-finite value in {0}")]
    NotFinite(&'static str),
    /// The center is the zero vector.
    #[error("center has zero norm")]
    ZeroNorm,
    /// The id is not `"<proposer>:<sequence>"` of its proposer.
    #[error("id {0:?} is not \"<proposer>:<sequence>\" of its proposer")]
    Id(String),
    /// Empty or too long label.
    #[error("label {0:?} is empty or longer than {MAX_LABEL} bytes")]
    Label(String),
    /// A vote's counts or confidence are inconsistent.
    #[error("vote inconsistent: {0}")]
    Vote(String),
    /// The action memory is not empty and not `[bins, joints, duration_s, profile...]` of at
    /// most `crate::learn::MAX_ACTION` values.
    #[error("action memory of {0} values is not [bins, joints, duration_s, bins x joints values]")]
    ActionMemory(usize),
}

impl Malformed {
    /// Short name for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Malformed::Version(_) => "unknown_version",
            Malformed::Dimension { .. } => "wrong_dimension",
            Malformed::NotFinite(_) => "not_finite",
            Malformed::ZeroNorm => "zero_norm",
            Malformed::Id(_) => "bad_id",
            Malformed::Label(_) => "bad_label",
            Malformed::Vote(_) => "bad_vote",
            Malformed::ActionMemory(_) => "bad_action_memory",
        }
    }
}

/// `"<proposer>:<sequence>"`.
pub fn proposal_id(proposer: u32, seq: u64) -> String {
    format!("{proposer}:{seq}")
}

impl Proposal {
    /// Checks a received proposal against this peer's encoder dimension `dim`.
    pub fn check(&self, dim: usize) -> Result<(), Malformed> {
        if self.version != VERSION {
            return Err(Malformed::Version(self.version));
        }
        let ok_id = self
            .id
            .split_once(':')
            .is_some_and(|(p, s)| p.parse() == Ok(self.proposer) && s.parse::<u64>().is_ok());
        if !ok_id {
            return Err(Malformed::Id(self.id.clone()));
        }
        if self.label.is_empty() || self.label.len() > MAX_LABEL {
            return Err(Malformed::Label(self.label.clone()));
        }
        if self.center.len() != dim {
            return Err(Malformed::Dimension {
                got: self.center.len(),
                want: dim,
            });
        }
        if self.center.iter().any(|x| !x.is_finite()) {
            return Err(Malformed::NotFinite("center"));
        }
        if self.action_memory.iter().any(|x| !x.is_finite()) {
            return Err(Malformed::NotFinite("action_memory"));
        }
        if self.center.iter().map(|x| x * x).sum::<f32>() <= 1e-12 {
            return Err(Malformed::ZeroNorm);
        }
        let n = self.action_memory.len();
        if n > 0
            && (n > crate::learn::MAX_ACTION
                || crate::substrate::ActionMemory::from_flat(&self.action_memory).is_none())
        {
            return Err(Malformed::ActionMemory(n));
        }
        Ok(())
    }
}

impl Vote {
    /// Checks a received vote.
    pub fn check(&self) -> Result<(), Malformed> {
        if self.version != VERSION {
            return Err(Malformed::Version(self.version));
        }
        if !self.confidence.is_finite() {
            return Err(Malformed::NotFinite("confidence"));
        }
        if self.matches > self.total || !(0.0..=1.0).contains(&self.confidence) {
            return Err(Malformed::Vote(format!(
                "{} matches of {}, confidence {}",
                self.matches, self.total, self.confidence
            )));
        }
        Ok(())
    }
}

/// Hex of a hash.
pub fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Proposal {
        Proposal {
            version: VERSION,
            id: "3:17".into(),
            proposer: 3,
            label: "lift".into(),
            center: vec![0.6, 0.8],
            action_memory: vec![],
            evidence: 4,
            lineage: "ab".into(),
            stamp: 0.0,
        }
    }

    #[test]
    fn proposals_are_checked() {
        assert_eq!(good().check(2), Ok(()));
        let p = |f: &dyn Fn(&mut Proposal)| {
            let mut p = good();
            f(&mut p);
            p.check(2).map_err(|e| e.kind())
        };
        assert_eq!(p(&|p| p.version = 2), Err("unknown_version"));
        assert_eq!(p(&|p| p.center.push(0.0)), Err("wrong_dimension"));
        assert_eq!(p(&|p| p.center[1] = f32::NAN), Err("not_finite"));
        assert_eq!(
            p(&|p| p.action_memory = vec![f32::INFINITY]),
            Err("not_finite")
        );
        assert_eq!(p(&|p| p.center = vec![0.0, 0.0]), Err("zero_norm"));
        // [bins 1, joints 2, 0.5 s, 2 values]: fine; a length that does not fit its shape is not
        assert_eq!(
            p(&|p| p.action_memory = vec![1.0, 2.0, 0.5, 0.1, 0.2]),
            Ok(())
        );
        assert_eq!(
            p(&|p| p.action_memory = vec![1.0, 2.0, 0.5, 0.1]),
            Err("bad_action_memory")
        );
        assert_eq!(
            p(&|p| p.action_memory = vec![0.0; crate::learn::MAX_ACTION + 1]),
            Err("bad_action_memory")
        );
        assert_eq!(p(&|p| p.id = "4:17".into()), Err("bad_id"));
        assert_eq!(p(&|p| p.id = "3-17".into()), Err("bad_id"));
        assert_eq!(p(&|p| p.label = String::new()), Err("bad_label"));
        assert_eq!(p(&|p| p.label = "x".repeat(33)), Err("bad_label"));
    }

    #[test]
    fn votes_are_checked() {
        let v = Vote {
            version: VERSION,
            proposal_id: "1:1".into(),
            voter: 2,
            matches: 3,
            total: 4,
            confidence: 0.75,
        };
        assert_eq!(v.check(), Ok(()));
        let bad = |f: &dyn Fn(&mut Vote)| {
            let mut w = v.clone();
            f(&mut w);
            w.check().map_err(|e| e.kind())
        };
        assert_eq!(bad(&|w| w.matches = 5), Err("bad_vote"));
        assert_eq!(bad(&|w| w.confidence = 1.5), Err("bad_vote"));
        assert_eq!(bad(&|w| w.confidence = f32::NAN), Err("not_finite"));
        assert_eq!(bad(&|w| w.version = 0), Err("unknown_version"));
    }
}
