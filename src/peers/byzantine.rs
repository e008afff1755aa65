//! Byzantine detection: robust statistics over each peer's votes and proposals, and counts of
//! what no honest peer sends (replayed ids, malformed messages). A peer judged faulty is
//! quarantined: its votes and proposals are ignored from then on.
//!
//! * Votes: for every decided proposal with at least three counted votes, each voter's vote is
//!   compared with the median of the *other* votes; a deviation above `vote_deviation` is an
//!   outlier. A voter is quarantined when at least `min_observations` of its votes are outliers
//!   and its outlier share exceeds both 0.25 and the voters' median share + 3 x 1.4826 x MAD
//!   (a robust z-score of 3): honest voters disagree now and then, a liar systematically.
//!   With fewer than four peers there is no "other votes" majority: detection by votes needs
//!   four peers (3f + 1 for f = 1), the other rules work with any number.
//! * Proposals: a proposal decided with a quorum and a confidence below half the threshold is
//!   *rejected*; one every live peer abstained on is *unrecognised*. A proposer is quarantined
//!   when at least `min_observations` of its proposals are rejected and their share exceeds
//!   `bad_proposals` and the other proposers' median share + 0.3, or when at least
//!   2 x `min_observations` are unrecognised with a share above 0.8 and the others' median +
//!   0.3 (honest peers' early proposals go unrecognised too, while the others have not seen
//!   the primitive yet).
//! * Replayed proposal ids (`replays`) and malformed messages (`malformed`) of a peer id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bias::median;
use super::config::QuarantineConfig;

/// Why and when a peer was quarantined.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quarantine {
    /// The peer.
    pub peer: u32,
    /// Why.
    pub reason: String,
    /// Wall time, s since the epoch.
    pub at: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PeerRecord {
    /// Votes compared with the others' median.
    compared: u32,
    /// Of those, outliers; sum of their signed deviations.
    outliers: u32,
    signed: f64,
    /// Proposals decided with a quorum / rejected among them.
    decided: u32,
    rejected: u32,
    /// Proposals decided in all / nobody recognised.
    proposed: u32,
    unrecognised: u32,
    replays: u32,
    malformed: u32,
}

/// The detector (one per deciding peer).
#[derive(Clone, Debug, Default)]
pub struct Detector {
    cfg: QuarantineConfig,
    threshold: f32,
    peers: BTreeMap<u32, PeerRecord>,
    quarantined: BTreeMap<u32, Quarantine>,
}

/// Robust upper bound of a share among peers: median + 3 x 1.4826 x MAD.
fn robust_bound(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let m = median(&mut v);
    let mut dev: Vec<f32> = v.iter().map(|x| (x - m).abs()).collect();
    m + 3.0 * 1.4826 * median(&mut dev)
}

impl Detector {
    /// A detector with `cfg`; `threshold` is the acceptance threshold (rejected = below half).
    pub fn new(cfg: QuarantineConfig, threshold: f32) -> Detector {
        Detector {
            cfg,
            threshold,
            ..Default::default()
        }
    }

    /// Is `peer` in quarantine?
    pub fn is_quarantined(&self, peer: u32) -> bool {
        self.quarantined.contains_key(&peer)
    }

    /// The quarantined peers.
    pub fn quarantined(&self) -> &BTreeMap<u32, Quarantine> {
        &self.quarantined
    }

    /// The counted votes `(voter, vote)` of one decided proposal.
    pub fn votes(&mut self, votes: &[(u32, f32)]) {
        if votes.len() < 3 {
            return;
        }
        let limit = self.cfg.vote_deviation as f32;
        for (i, &(voter, v)) in votes.iter().enumerate() {
            let mut others: Vec<f32> = votes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, x)| x.1)
                .collect();
            let d = v - median(&mut others);
            let r = self.peers.entry(voter).or_default();
            r.compared += 1;
            if d.abs() > limit {
                r.outliers += 1;
                r.signed += d as f64;
            }
        }
    }

    /// A decided proposal of `proposer`: `quorum` met with `confidence`, or nobody recognised it.
    pub fn proposal(&mut self, proposer: u32, quorum: bool, confidence: f32, unrecognised: bool) {
        let r = self.peers.entry(proposer).or_default();
        r.proposed += 1;
        if unrecognised {
            r.unrecognised += 1;
        }
        if quorum {
            r.decided += 1;
            if confidence < 0.5 * self.threshold {
                r.rejected += 1;
            }
        }
    }

    /// `peer` sent a proposal id it had sent before.
    pub fn replay(&mut self, peer: u32) {
        self.peers.entry(peer).or_default().replays += 1;
    }

    /// A malformed message claiming to come from `peer`.
    pub fn malformed(&mut self, peer: u32) {
        self.peers.entry(peer).or_default().malformed += 1;
    }

    /// Judges every peer not yet in quarantine; returns those quarantined now (at wall time
    /// `now`).
    pub fn judge(&mut self, now: f64) -> Vec<Quarantine> {
        let min = self.cfg.min_observations;
        let share = |a: u32, b: u32| if b == 0 { 0.0 } else { a as f32 / b as f32 };
        let honest: Vec<(&u32, &PeerRecord)> = self
            .peers
            .iter()
            .filter(|(p, _)| !self.quarantined.contains_key(p))
            .collect();
        let vote_bound = robust_bound(
            honest
                .iter()
                .filter(|(_, r)| r.compared > 0)
                .map(|(_, r)| share(r.outliers, r.compared))
                .collect(),
        );
        let mut new = Vec::new();
        for (&p, r) in &honest {
            let others = |f: &dyn Fn(&PeerRecord) -> Option<f32>| -> f32 {
                let mut v: Vec<f32> = honest
                    .iter()
                    .filter(|(q, _)| **q != p)
                    .filter_map(|(_, r)| f(r))
                    .collect();
                median(&mut v)
            };
            let reason = if r.malformed >= self.cfg.malformed {
                Some(format!("{} malformed messages", r.malformed))
            } else if r.replays >= self.cfg.replays {
                Some(format!("{} replayed proposal ids", r.replays))
            } else if r.outliers >= min && share(r.outliers, r.compared) > vote_bound.max(0.25) {
                let mean = r.signed / r.outliers as f64;
                Some(format!(
                    "{} of {} votes far from the others' median (mean deviation {:+.2}{})",
                    r.outliers,
                    r.compared,
                    mean,
                    if mean > 0.0 { ": inflated votes" } else { "" }
                ))
            } else if r.rejected >= min && {
                let s = share(r.rejected, r.decided);
                let o = others(&|q| (q.decided > 0).then(|| share(q.rejected, q.decided)));
                s > (self.cfg.bad_proposals as f32).max(o + 0.3)
            } {
                Some(format!(
                    "{} of {} proposals voted down",
                    r.rejected, r.decided
                ))
            } else if r.unrecognised >= 2 * min && {
                let s = share(r.unrecognised, r.proposed);
                let o = others(&|q| (q.proposed > 0).then(|| share(q.unrecognised, q.proposed)));
                s > 0.8f32.max(o + 0.3)
            } {
                Some(format!(
                    "{} of {} proposals recognised by no peer",
                    r.unrecognised, r.proposed
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                new.push(Quarantine {
                    peer: p,
                    reason,
                    at: now,
                });
            }
        }
        for q in &new {
            tracing::warn!(peer = q.peer, reason = %q.reason, "peer quarantined");
            self.quarantined.insert(q.peer, q.clone());
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det() -> Detector {
        Detector::new(QuarantineConfig::default(), 0.7)
    }

    #[test]
    fn an_inflating_voter_is_quarantined_and_honest_ones_are_not() {
        let mut d = det();
        // four honest voters agree (0.9 +- 0.05) on good proposals; peer 9 votes 1.0 always
        for k in 0..6 {
            let h = 0.85 + 0.05 * (k % 3) as f32;
            d.votes(&[(1, h), (2, 0.9), (3, 0.95), (4, h), (9, 1.0)]);
        }
        assert!(
            d.judge(0.0).is_empty(),
            "agreement on good proposals is no evidence"
        );
        // poisoned proposals: honest voters say 0, peer 9 says 1
        for _ in 0..3 {
            d.votes(&[(1, 0.0), (2, 0.1), (3, 0.0), (4, 0.0), (9, 1.0)]);
        }
        let q = d.judge(1.0);
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0].peer, 9);
        assert!(q[0].reason.contains("inflated"), "{}", q[0].reason);
        assert!(d.is_quarantined(9) && !d.is_quarantined(1));
        // judged once
        assert!(d.judge(2.0).is_empty());
    }

    #[test]
    fn a_proposer_voted_down_is_quarantined() {
        let mut d = det();
        for _ in 0..4 {
            d.proposal(1, true, 0.9, false);
            d.proposal(2, true, 0.8, false);
            d.proposal(7, true, 0.1, false);
        }
        d.proposal(2, true, 0.2, false); // honest peers are voted down now and then
        let q = d.judge(0.0);
        assert_eq!(q.iter().map(|q| q.peer).collect::<Vec<_>>(), vec![7]);
    }

    #[test]
    fn unrecognised_proposals_need_a_clear_margin() {
        let mut d = det();
        // early on, everyone's proposals go unrecognised half of the time
        for k in 0..6 {
            d.proposal(1, k % 2 == 0, 0.9, k % 2 == 1);
            d.proposal(2, k % 2 == 0, 0.9, k % 2 == 1);
            d.proposal(5, false, 0.0, true);
        }
        let q = d.judge(0.0);
        assert_eq!(q.iter().map(|q| q.peer).collect::<Vec<_>>(), vec![5]);
    }

    #[test]
    fn replays_and_malformed_messages_count() {
        let mut d = det();
        d.replay(3);
        d.malformed(4);
        d.malformed(4);
        assert!(d.judge(0.0).is_empty());
        d.replay(3);
        d.malformed(4);
        let q: Vec<u32> = d.judge(0.0).iter().map(|q| q.peer).collect();
        assert_eq!(q, vec![3, 4]);
    }
}
