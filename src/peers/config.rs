//! The `peers:` section: peer validation of primitives (`sattva peer`, `sattva peers -n N`).

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// Settings of peer validation (`peers:` section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeersConfig {
    /// BIAS confidence (mean vote x 1 / (1 + std)) at or above which a proposal enters the
    /// shared library.
    pub threshold: f64,
    /// Votes (non-abstaining, not quarantined, not the proposer's) a decision needs at least.
    pub min_votes: u32,
    /// A proposal is decided this long (wall time, s) after it arrived, with the votes received
    /// by then, or as soon as every live peer voted.
    pub vote_timeout_s: f64,
    /// A peer heard from within this long (wall time, s) counts as live.
    pub live_s: f64,
    /// Own training episodes between two proposal rounds.
    pub propose_every: u32,
    /// An attractor is proposed once it absorbed at least this many experiences...
    pub min_evidence: u64,
    /// ... and at least this share of its labelled experiences carry its majority label.
    pub purity: f64,
    /// A candidate whose center reaches this cosine with a known proposal of the same label is
    /// not proposed again.
    pub known_similarity: f64,
    /// Recent own experiences a peer votes with.
    pub recent: u32,
    /// Virtual-time rate of a peer's agent (simulated s per wall s; peers run side by side).
    pub rate: f64,
    /// Topic prefix of the protocol (`<prefix>/proposals`, `/votes`, `/library`).
    pub topic_prefix: String,
    /// Byzantine detection.
    pub quarantine: QuarantineConfig,
}

impl Default for PeersConfig {
    fn default() -> Self {
        PeersConfig {
            threshold: 0.7,
            min_votes: 2,
            vote_timeout_s: 3.0,
            live_s: 5.0,
            propose_every: 4,
            min_evidence: 2,
            purity: 0.8,
            known_similarity: 0.9,
            recent: 256,
            rate: 6.0,
            topic_prefix: "/sattva/peers".into(),
            quarantine: QuarantineConfig::default(),
        }
    }
}

/// When a peer is judged faulty (see `crate::peers::byzantine`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuarantineConfig {
    /// Observations (votes compared, proposals decided) before a peer can be judged.
    pub min_observations: u32,
    /// A voter whose median |vote - median of the other votes| exceeds this (and the robust
    /// spread of all voters' deviations) is quarantined.
    pub vote_deviation: f64,
    /// A proposer whose proposals are rejected or recognised by nobody more often than this
    /// share (and than the other proposers' median share + 0.3) is quarantined.
    pub bad_proposals: f64,
    /// Replayed proposal ids (same id again) before quarantine.
    pub replays: u32,
    /// Malformed messages (wrong dimension, NaN, unknown version, ...) before quarantine.
    pub malformed: u32,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            min_observations: 3,
            vote_deviation: 0.3,
            bad_proposals: 0.5,
            replays: 2,
            malformed: 3,
        }
    }
}

impl Validate for PeersConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("threshold", self.threshold, 0.0, 1.0);
        c.range_u64("min_votes", self.min_votes as u64, 1, 1000);
        c.range_f64("vote_timeout_s", self.vote_timeout_s, 0.01, 3600.0);
        c.range_f64("live_s", self.live_s, 0.01, 3600.0);
        c.range_u64("propose_every", self.propose_every as u64, 1, 1_000_000);
        c.range_u64("min_evidence", self.min_evidence, 1, 1 << 40);
        c.range_f64("purity", self.purity, 0.0, 1.0);
        c.range_f64("known_similarity", self.known_similarity, -1.0, 1.0);
        c.range_u64("recent", self.recent as u64, 1, 1 << 16);
        c.range_f64("rate", self.rate, 0.0, 1e6);
        c.require(
            self.topic_prefix.starts_with('/') && !self.topic_prefix.ends_with('/'),
            "topic_prefix",
            format!(
                "{:?}: an absolute ROS name without a trailing '/' (e.g. /sattva/peers)",
                self.topic_prefix
            ),
        );
        c.section("quarantine", |c| {
            let q = &self.quarantine;
            c.range_u64("min_observations", q.min_observations as u64, 1, 1_000_000);
            c.range_f64("vote_deviation", q.vote_deviation, 0.0, 1.0);
            c.range_f64("bad_proposals", q.bad_proposals, 0.0, 1.0);
            c.range_u64("replays", q.replays as u64, 1, 1_000_000);
            c.range_u64("malformed", q.malformed as u64, 1, 1_000_000);
        });
    }
}
