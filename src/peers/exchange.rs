//! One peer's side of the protocol, without the transport: what to propose, how to vote, when
//! to decide, what to adopt, whom to quarantine. The ROS 2 node (`node.rs`) feeds it received
//! messages and the learn task's replies and publishes what it emits; tests drive it directly.

use std::collections::{BTreeMap, BTreeSet};

use arrayvec::ArrayVec;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::bias::bias;
use super::byzantine::{Detector, Quarantine};
use super::config::PeersConfig;
use super::library::{Entry, Library};
use super::protocol::{hex, proposal_id, LibraryUpdate, Proposal, Vote, VERSION};
use crate::learn::{Outcome, PeerReply, PeerRequest, Role, MAX_PATTERN};

/// How often the learn task's status is asked for, s.
const STATUS_PERIOD_S: f64 = 0.5;
/// Votes kept for proposals not (yet) received.
const MAX_ORPHAN_VOTES: usize = 4096;

/// What the exchange publishes.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    /// On `<prefix>/proposals`.
    Proposal(Proposal),
    /// On `<prefix>/votes`.
    Vote(Vote),
    /// On `<prefix>/library`.
    Update(LibraryUpdate),
}

/// A decision this peer took (accepted or not), for the record and the evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The proposal.
    pub proposal_id: String,
    /// Its proposer.
    pub proposer: u32,
    /// Its label.
    pub label: String,
    /// Entered the library.
    pub accepted: bool,
    /// BIAS confidence over the counted votes.
    pub confidence: f32,
    /// Counted voters and their votes.
    pub voters: Vec<u32>,
    /// See `voters`.
    pub votes: Vec<f32>,
    /// Why.
    pub reason: String,
    /// Wall time of the decision, s since the epoch.
    pub at: f64,
}

/// Counters (on /diagnostics and in the result).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Proposals published.
    pub proposed: u64,
    /// Votes published (abstentions included).
    pub voted: u64,
    /// Proposals received from others and accepted for voting.
    pub received: u64,
    /// Malformed messages by kind (wrong_dimension, not_finite, unknown_version, ...).
    pub malformed: BTreeMap<String, u64>,
    /// Proposals of another encoder lineage (incomparable centers).
    pub lineage_mismatch: u64,
    /// Proposal ids seen before.
    pub replayed: u64,
    /// Second votes of one voter on one proposal.
    pub duplicate_votes: u64,
    /// Votes that came after the decision.
    pub late_votes: u64,
    /// Messages of quarantined peers ignored.
    pub ignored_quarantined: u64,
    /// Proposals decided / accepted.
    pub decided: u64,
    /// See `decided`.
    pub accepted: u64,
    /// Accepted primitives adopted into the substrate (inserted / merged) and refused.
    pub adopted: u64,
    /// See `adopted`.
    pub adopted_merged: u64,
    /// See `adopted`.
    pub adopt_failed: u64,
    /// Requests the learn task's queue could not take at once (retried).
    pub requests_deferred: u64,
}

/// A confident attractor of the learner: (id, label, evidence, center).
/// (attractor id at the learner, label, evidence, center, flat action memory)
type Candidate = (u32, String, u64, Vec<f32>, Vec<f32>);

struct Pending {
    p: Proposal,
    deadline: f64,
    /// voter -> (matches, total, confidence)
    votes: BTreeMap<u32, (u32, u32, f32)>,
}

/// One peer's protocol state.
pub struct Exchange {
    id: u32,
    cfg: PeersConfig,
    faulty: bool,
    lineage: Option<String>,
    dim: usize,
    calibrated: bool,
    next_status: f64,
    seq: u64,
    pending: BTreeMap<String, Pending>,
    /// Decided proposal ids.
    decided_ids: BTreeSet<String>,
    /// Every proposal id seen (replays are counted).
    seen: BTreeSet<String>,
    orphans: BTreeMap<String, Vec<Vote>>,
    orphan_count: usize,
    last_heard: BTreeMap<u32, f64>,
    detector: Detector,
    library: Library,
    decisions: Vec<Decision>,
    /// Proposals pending or accepted: (id, label, unit center), to not propose the same again
    /// (a rejected one leaves: the primitive may be proposed again, by anyone).
    known: Vec<(String, String, Vec<f32>)>,
    /// Own proposals by attractor: evidence when last proposed.
    own: BTreeMap<u32, u64>,
    vote_keys: BTreeMap<u64, String>,
    next_key: u64,
    confident: Option<Vec<Candidate>>,
    learned: u32,
    next_round: u32,
    outcomes: Vec<(u32, Role, bool)>,
    counters: Counters,
    out: Vec<Out>,
    requests: std::collections::VecDeque<PeerRequest>,
    rng: rand_chacha::ChaCha8Rng,
    library_dirty: bool,
    /// The agent stopped: no more votes or adoptions from the learn task.
    pub agent_done: bool,
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Exchange {
    /// Peer `id` with `cfg`; `faulty` = the test fault (random and poisoned proposals, replayed
    /// ids, inflated votes).
    pub fn new(id: u32, cfg: &PeersConfig, faulty: bool) -> Exchange {
        Exchange {
            id,
            faulty,
            lineage: None,
            dim: 0,
            calibrated: false,
            next_status: 0.0,
            seq: 0,
            pending: BTreeMap::new(),
            decided_ids: BTreeSet::new(),
            seen: BTreeSet::new(),
            orphans: BTreeMap::new(),
            orphan_count: 0,
            last_heard: BTreeMap::new(),
            detector: Detector::new(cfg.quarantine.clone(), cfg.threshold as f32),
            library: Library {
                peer: id,
                threshold: cfg.threshold,
                ..Default::default()
            },
            decisions: Vec::new(),
            known: Vec::new(),
            own: BTreeMap::new(),
            vote_keys: BTreeMap::new(),
            next_key: 1,
            confident: None,
            learned: 0,
            next_round: cfg.propose_every,
            outcomes: Vec::new(),
            counters: Counters::default(),
            out: Vec::new(),
            requests: Default::default(),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(0xfa17 ^ id as u64),
            library_dirty: false,
            agent_done: false,
            cfg: cfg.clone(),
        }
    }

    /// This peer's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The library as decided here.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Every decision taken here.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Quarantined peers.
    pub fn quarantined(&self) -> &BTreeMap<u32, Quarantine> {
        self.detector.quarantined()
    }

    /// Labelled experiences in order: (episode, role, recognised as its own label).
    pub fn outcomes(&self) -> &[(u32, Role, bool)] {
        &self.outcomes
    }

    /// Proposals not decided yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The library changed since the last call (save it).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.library_dirty)
    }

    /// Messages to publish.
    pub fn drain_out(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    /// The next request for the learn task (put back with [`Exchange::defer`] if its queue is
    /// full).
    pub fn next_request(&mut self) -> Option<PeerRequest> {
        self.requests.pop_front()
    }

    /// A request the learn task's queue refused: retried first next time.
    pub fn defer(&mut self, r: PeerRequest) {
        self.counters.requests_deferred += 1;
        self.requests.push_front(r);
    }

    fn heard(&mut self, peer: u32, now: f64) {
        if peer != self.id {
            self.last_heard.insert(peer, now);
        }
    }

    /// An outcome of the learn task.
    pub fn on_outcome(&mut self, o: Outcome) {
        if o.role == Role::Learn {
            self.learned += 1;
        }
        self.outcomes.push((o.episode, o.role, o.right));
    }

    /// A reply of the learn task.
    pub fn on_reply(&mut self, r: PeerReply, now: f64) {
        match r {
            PeerReply::Status {
                lineage,
                calibrated,
                dim,
                ..
            } => {
                self.calibrated = calibrated;
                self.dim = dim as usize;
                if calibrated {
                    let h = hex(&lineage);
                    if self.lineage.as_deref() != Some(h.as_str()) {
                        tracing::info!(peer = self.id, lineage = %&h[..16], "encoder lineage");
                        self.library.lineage = h.clone();
                        self.lineage = Some(h);
                    }
                }
            }
            PeerReply::Confident {
                id,
                label,
                evidence,
                center,
                action,
            } => {
                if let Some(c) = &mut self.confident {
                    c.push((
                        id,
                        label.to_string(),
                        evidence,
                        center.to_vec(),
                        action.to_vec(),
                    ));
                }
            }
            PeerReply::ConfidentDone => {
                if let Some(c) = self.confident.take() {
                    self.propose(c, now);
                }
            }
            PeerReply::Vote {
                key,
                matches,
                total,
            } => {
                let Some(pid) = self.vote_keys.remove(&key) else {
                    return;
                };
                let confidence = if total == 0 {
                    0.0
                } else {
                    matches as f32 / total as f32
                };
                let v = Vote {
                    version: VERSION,
                    proposal_id: pid.clone(),
                    voter: self.id,
                    matches,
                    total,
                    confidence,
                };
                if let Some(p) = self.pending.get_mut(&pid) {
                    p.votes.insert(self.id, (matches, total, confidence));
                }
                self.counters.voted += 1;
                self.out.push(Out::Vote(v));
            }
            PeerReply::Adopted {
                id, merged, error, ..
            } => match id {
                Some(_) if merged => self.counters.adopted_merged += 1,
                Some(_) => self.counters.adopted += 1,
                None => {
                    self.counters.adopt_failed += 1;
                    tracing::warn!(error = %error, "adopting an accepted primitive failed");
                }
            },
        }
    }

    /// Periodic work at wall time `now` (s since the epoch): status, proposal rounds, decisions.
    pub fn tick(&mut self, now: f64) {
        if !self.agent_done && now >= self.next_status {
            self.next_status = now + STATUS_PERIOD_S;
            self.requests.push_back(PeerRequest::Status);
        }
        if !self.agent_done
            && self.calibrated
            && self.lineage.is_some()
            && self.confident.is_none()
            && self.learned >= self.next_round
        {
            self.next_round = self.learned + self.cfg.propose_every;
            self.confident = Some(Vec::new());
            self.requests.push_back(PeerRequest::Confident {
                min_evidence: self.cfg.min_evidence,
                purity: self.cfg.purity as f32,
            });
        }
        self.decide(now);
    }

    fn publish_proposal(
        &mut self,
        (label, center, action_memory): (String, Vec<f32>, Vec<f32>),
        evidence: u64,
        now: f64,
    ) {
        self.seq += 1;
        let p = Proposal {
            version: VERSION,
            id: proposal_id(self.id, self.seq),
            proposer: self.id,
            label,
            center,
            action_memory,
            evidence,
            lineage: self.lineage.clone().unwrap_or_default(),
            stamp: now,
        };
        self.send_proposal(p, now);
    }

    fn send_proposal(&mut self, p: Proposal, now: f64) {
        self.seen.insert(p.id.clone());
        self.known
            .push((p.id.clone(), p.label.clone(), unit(&p.center)));
        self.pending.insert(
            p.id.clone(),
            Pending {
                p: p.clone(),
                deadline: now + self.cfg.vote_timeout_s,
                votes: BTreeMap::new(),
            },
        );
        self.counters.proposed += 1;
        self.out.push(Out::Proposal(p));
    }

    /// A proposal round over the learner's confident attractors.
    fn propose(&mut self, cands: Vec<Candidate>, now: f64) {
        if self.faulty {
            return self.propose_faulty(cands, now);
        }
        let sim = self.cfg.known_similarity as f32;
        for (id, label, evidence, center, action) in cands {
            if self.own.get(&id).is_some_and(|&e| evidence < 2 * e) {
                continue; // proposed before, not much more evidence since
            }
            let u = unit(&center);
            let known = self
                .known
                .iter()
                .any(|(_, l, c)| *l == label && dot(c, &u) >= sim);
            let accepted = self
                .library
                .entries
                .iter()
                .any(|e| e.label == label && dot(&unit(&e.center), &u) >= sim);
            if accepted || (known && !self.own.contains_key(&id)) {
                continue;
            }
            self.own.insert(id, evidence);
            self.publish_proposal((label, center, action), evidence, now);
        }
    }

    /// The test fault: a random center, a poisoned one (another primitive's center under this
    /// label), and a replay of an earlier id, per round.
    fn propose_faulty(&mut self, cands: Vec<Candidate>, now: f64) {
        if cands.is_empty() || self.dim == 0 {
            return;
        }
        let label = cands[self.rng.gen_range(0..cands.len())].1.clone();
        let random: Vec<f32> = (0..self.dim)
            .map(|_| self.rng.gen_range(-1.0..1.0))
            .collect();
        self.publish_proposal((label, unit(&random), Vec::new()), 50, now);
        let i = self.rng.gen_range(0..cands.len());
        if let Some(other) = cands.iter().find(|c| c.1 != cands[i].1) {
            let (l, c) = (other.1.clone(), cands[i].3.clone());
            self.publish_proposal((l, c, Vec::new()), 50, now);
        }
        if self.seq > 2 {
            let replay = Proposal {
                version: VERSION,
                id: proposal_id(self.id, 1),
                proposer: self.id,
                label: cands[i].1.clone(),
                center: unit(&random.iter().map(|x| -x).collect::<Vec<_>>()),
                action_memory: Vec::new(),
                evidence: 50,
                lineage: self.lineage.clone().unwrap_or_default(),
                stamp: now,
            };
            self.counters.proposed += 1;
            self.out.push(Out::Proposal(replay));
        }
    }

    /// A received proposal.
    pub fn on_proposal(&mut self, p: Proposal, now: f64) {
        if p.proposer == self.id {
            return; // our own, echoed
        }
        self.heard(p.proposer, now);
        if self.detector.is_quarantined(p.proposer) {
            self.counters.ignored_quarantined += 1;
            return;
        }
        if self.dim == 0 {
            return; // not started: nothing to check it against
        }
        if let Err(e) = p.check(self.dim) {
            tracing::debug!(proposer = p.proposer, error = %e, "proposal rejected");
            *self
                .counters
                .malformed
                .entry(e.kind().to_string())
                .or_default() += 1;
            self.detector.malformed(p.proposer);
            return;
        }
        if !self.seen.insert(p.id.clone()) {
            self.counters.replayed += 1;
            self.detector.replay(p.proposer);
            return;
        }
        if self.lineage.as_deref() != Some(p.lineage.as_str()) {
            self.counters.lineage_mismatch += 1;
            return;
        }
        self.counters.received += 1;
        self.known
            .push((p.id.clone(), p.label.clone(), unit(&p.center)));
        let mut pending = Pending {
            p: p.clone(),
            deadline: now + self.cfg.vote_timeout_s,
            votes: BTreeMap::new(),
        };
        if let Some(vs) = self.orphans.remove(&p.id) {
            self.orphan_count -= vs.len();
            for v in vs {
                pending
                    .votes
                    .insert(v.voter, (v.matches, v.total, v.confidence));
            }
        }
        self.pending.insert(p.id.clone(), pending);
        if self.faulty {
            // inflated vote, whatever the proposal
            self.counters.voted += 1;
            self.out.push(Out::Vote(Vote {
                version: VERSION,
                proposal_id: p.id.clone(),
                voter: self.id,
                matches: 10,
                total: 10,
                confidence: 1.0,
            }));
            return;
        }
        if self.agent_done {
            return;
        }
        let key = self.next_key;
        self.next_key += 1;
        self.vote_keys.insert(key, p.id.clone());
        let label = crate::learn::truncated_label(&p.label);
        let center: ArrayVec<f32, MAX_PATTERN> = p.center.iter().copied().collect();
        self.requests
            .push_back(PeerRequest::Vote { key, label, center });
    }

    /// A received vote.
    pub fn on_vote(&mut self, v: Vote, now: f64) {
        if v.voter == self.id {
            return;
        }
        self.heard(v.voter, now);
        if self.detector.is_quarantined(v.voter) {
            self.counters.ignored_quarantined += 1;
            return;
        }
        if let Err(e) = v.check() {
            *self
                .counters
                .malformed
                .entry(e.kind().to_string())
                .or_default() += 1;
            self.detector.malformed(v.voter);
            return;
        }
        if self.decided_ids.contains(&v.proposal_id) {
            self.counters.late_votes += 1;
            return;
        }
        match self.pending.get_mut(&v.proposal_id) {
            Some(p) => match p.votes.entry(v.voter) {
                std::collections::btree_map::Entry::Occupied(_) => {
                    self.counters.duplicate_votes += 1
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert((v.matches, v.total, v.confidence));
                }
            },
            None if self.orphan_count < MAX_ORPHAN_VOTES => {
                self.orphan_count += 1;
                self.orphans
                    .entry(v.proposal_id.clone())
                    .or_default()
                    .push(v);
            }
            None => {}
        }
    }

    /// A decision another peer published (liveness only: every peer decides for itself).
    pub fn on_update(&mut self, u: &LibraryUpdate, now: f64) {
        self.heard(u.decider, now);
    }

    fn live_voters(&self, proposer: u32, now: f64) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .last_heard
            .iter()
            .filter(|(p, t)| now - **t <= self.cfg.live_s && **p != proposer)
            .map(|(p, _)| *p)
            .filter(|p| !self.detector.is_quarantined(*p))
            .collect();
        if proposer != self.id && !self.agent_done {
            v.push(self.id);
        }
        v
    }

    fn decide(&mut self, now: f64) {
        let ready: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                // early: every live peer voted, and enough of them to decide
                let live = self.live_voters(p.p.proposer, now);
                now >= p.deadline
                    || (live.len() >= self.cfg.min_votes as usize
                        && live.iter().all(|v| p.votes.contains_key(v)))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in ready {
            let Some(p) = self.pending.remove(&k) else {
                continue;
            };
            self.decided_ids.insert(k.clone());
            let proposer = p.p.proposer;
            let counted: Vec<(u32, f32)> = p
                .votes
                .iter()
                .filter(|(v, (_, total, _))| {
                    **v != proposer && *total > 0 && !self.detector.is_quarantined(**v)
                })
                .map(|(v, (_, _, c))| (*v, *c))
                .collect();
            let any_vote = p
                .votes
                .iter()
                .any(|(v, _)| *v != proposer && !self.detector.is_quarantined(*v));
            let votes: Vec<f32> = counted.iter().map(|x| x.1).collect();
            let confidence = bias(&votes);
            let quorum = counted.len() >= self.cfg.min_votes as usize;
            let (accepted, reason) = if self.detector.is_quarantined(proposer) {
                (false, "proposer quarantined".to_string())
            } else if !quorum {
                (
                    false,
                    format!(
                        "no quorum: {} of {} votes",
                        counted.len(),
                        self.cfg.min_votes
                    ),
                )
            } else if (confidence as f64) < self.cfg.threshold {
                (false, format!("confidence {confidence:.2} below threshold"))
            } else {
                (true, "accepted".to_string())
            };
            self.detector.votes(&counted);
            self.detector
                .proposal(proposer, quorum, confidence, any_vote && counted.is_empty());
            for q in self.detector.judge(now) {
                self.library.quarantined.push(q);
                self.library_dirty = true;
            }
            self.counters.decided += 1;
            let d = Decision {
                proposal_id: k.clone(),
                proposer,
                label: p.p.label.clone(),
                accepted,
                confidence,
                voters: counted.iter().map(|x| x.0).collect(),
                votes: votes.clone(),
                reason: reason.clone(),
                at: now,
            };
            self.out.push(Out::Update(LibraryUpdate {
                version: VERSION,
                decider: self.id,
                proposal_id: k.clone(),
                proposer,
                label: p.p.label.clone(),
                accepted,
                confidence,
                voters: d.voters.clone(),
                votes,
                quarantined: self.detector.quarantined().keys().copied().collect(),
                reason,
            }));
            self.decisions.push(d.clone());
            if !accepted {
                self.known.retain(|(id, _, _)| *id != k);
                continue;
            }
            self.counters.accepted += 1;
            self.library.entries.push(Entry {
                proposal_id: k.clone(),
                proposer,
                label: p.p.label.clone(),
                confidence,
                voters: d.voters,
                votes: d.votes,
                evidence: p.p.evidence,
                center: p.p.center.clone(),
                action_memory: p.p.action_memory.clone(),
                proposed_at: p.p.stamp,
                decided_at: now,
            });
            self.library_dirty = true;
            if proposer != self.id && !self.faulty && !self.agent_done {
                let key = self.next_key;
                self.next_key += 1;
                self.requests.push_back(PeerRequest::Adopt {
                    key,
                    label: crate::learn::truncated_label(&p.p.label),
                    center: p.p.center.iter().copied().collect(),
                    evidence: p.p.evidence,
                    // checked on receipt (`Proposal::check`: at most MAX_ACTION values)
                    action: p
                        .p
                        .action_memory
                        .iter()
                        .copied()
                        .take(crate::learn::MAX_ACTION)
                        .collect(),
                });
            }
        }
    }

    /// The state for /diagnostics: (level 0 OK / 1 WARN, message, key-values).
    pub fn status(&self) -> (u8, String, Vec<(String, String)>) {
        let q = self.detector.quarantined();
        let mut kv = vec![
            ("peer".to_string(), self.id.to_string()),
            (
                "lineage".to_string(),
                self.lineage.as_deref().map_or("", |l| &l[..16]).to_string(),
            ),
            (
                "library".to_string(),
                self.library.entries.len().to_string(),
            ),
            ("pending".to_string(), self.pending.len().to_string()),
        ];
        let c = &self.counters;
        for (k, v) in [
            ("proposed", c.proposed),
            ("voted", c.voted),
            ("received", c.received),
            ("decided", c.decided),
            ("accepted", c.accepted),
            ("adopted", c.adopted + c.adopted_merged),
            ("lineage_mismatch", c.lineage_mismatch),
            ("replayed", c.replayed),
            ("late_votes", c.late_votes),
            ("ignored_quarantined", c.ignored_quarantined),
        ] {
            kv.push((k.to_string(), v.to_string()));
        }
        for (k, v) in &c.malformed {
            kv.push((format!("malformed.{k}"), v.to_string()));
        }
        for (p, r) in q {
            kv.push((format!("quarantined.{p}"), r.reason.clone()));
        }
        if q.is_empty() {
            (0, "no peer in quarantine".into(), kv)
        } else {
            let ids: Vec<String> = q.keys().map(|p| p.to_string()).collect();
            (1, format!("quarantined: {}", ids.join(", ")), kv)
        }
    }
}

#[cfg(test)]
mod tests {
    //! The protocol logic without transport (an extra beside `tests/peers.rs`, which runs it
    //! over ROS 2 between real processes).
    use super::*;
    use arrayvec::ArrayString;

    fn status(ex: &mut Exchange, lineage: u8) {
        ex.on_reply(
            PeerReply::Status {
                lineage: [lineage; 32],
                calibrated: true,
                attractors: 1,
                recent: 1,
                dim: 2,
            },
            0.0,
        );
    }

    fn proposal(proposer: u32, seq: u64, label: &str, center: Vec<f32>, lineage: u8) -> Proposal {
        Proposal {
            version: VERSION,
            id: proposal_id(proposer, seq),
            proposer,
            label: label.into(),
            center,
            action_memory: vec![],
            evidence: 3,
            lineage: hex(&[lineage; 32]),
            stamp: 0.0,
        }
    }

    fn vote(id: &str, voter: u32, matches: u32, total: u32) -> Vote {
        Vote {
            version: VERSION,
            proposal_id: id.into(),
            voter,
            matches,
            total,
            confidence: if total == 0 {
                0.0
            } else {
                matches as f32 / total as f32
            },
        }
    }

    fn requests(ex: &mut Exchange) -> Vec<PeerRequest> {
        std::iter::from_fn(|| ex.next_request()).collect()
    }

    #[test]
    fn a_proposal_is_voted_decided_by_bias_and_adopted() {
        let cfg = PeersConfig::default();
        let mut ex = Exchange::new(0, &cfg, false);
        status(&mut ex, 1);
        let mut p = proposal(1, 1, "lift", vec![0.6, 0.8], 1);
        // an action memory: 1 bin x 2 joints, 0.5 s
        p.action_memory = vec![1.0, 2.0, 0.5, 0.1, 0.2];
        ex.on_proposal(p, 10.0);
        // our own vote is asked of the learn task
        let r = requests(&mut ex);
        let key = match &r[..] {
            [PeerRequest::Vote { key, label, center }] => {
                assert_eq!(
                    (label.as_str(), center.as_slice()),
                    ("lift", &[0.6, 0.8][..])
                );
                *key
            }
            other => panic!("{other:?}"),
        };
        ex.on_reply(
            PeerReply::Vote {
                key,
                matches: 4,
                total: 5,
            },
            10.1,
        );
        let out = ex.drain_out();
        assert_eq!(out, vec![Out::Vote(vote("1:1", 0, 4, 5))]);
        ex.on_vote(vote("1:1", 2, 9, 10), 10.2);
        ex.on_vote(vote("1:1", 2, 1, 10), 10.2); // a second vote of 2: counted once
        ex.on_vote(vote("1:1", 3, 0, 0), 10.3); // abstains
        ex.tick(10.5); // peers 2 and 3 are live and voted, we voted: decided early
        assert_eq!(ex.counters().duplicate_votes, 1);
        let d = &ex.decisions()[0];
        // votes 0.8 and 0.9: mean 0.85, std 0.05 -> 0.85 / 1.05
        assert_eq!(d.voters, vec![0, 2]);
        assert!((d.confidence - 0.85 / 1.05).abs() < 1e-6, "{d:?}");
        assert!(d.accepted);
        assert_eq!(ex.library().entries.len(), 1);
        assert_eq!(ex.library().entries[0].action_memory.len(), 5);
        assert!(ex.take_dirty());
        let r = requests(&mut ex);
        assert!(
            r.iter().any(
                |r| matches!(r, PeerRequest::Adopt { label, evidence: 3, action, .. }
                if label.as_str() == "lift" && action.as_slice() == [1.0, 2.0, 0.5, 0.1, 0.2])
            ),
            "{r:?}"
        );
        // a vote after the decision is late
        ex.on_vote(vote("1:1", 4, 1, 1), 11.0);
        assert_eq!(ex.counters().late_votes, 1);
    }

    #[test]
    fn without_a_quorum_the_deadline_decides_and_nothing_is_accepted() {
        let cfg = PeersConfig::default();
        let mut ex = Exchange::new(0, &cfg, false);
        status(&mut ex, 1);
        ex.on_proposal(proposal(1, 1, "lift", vec![1.0, 0.0], 1), 10.0);
        ex.on_vote(vote("1:1", 2, 1, 1), 10.1);
        ex.tick(10.2);
        assert!(
            ex.decisions().is_empty(),
            "our vote is missing: not decided yet"
        );
        ex.tick(10.0 + cfg.vote_timeout_s + 0.01);
        let d = &ex.decisions()[0];
        assert!(!d.accepted && d.reason.starts_with("no quorum"), "{d:?}");
    }

    #[test]
    fn malformed_replayed_and_incomparable_proposals_are_rejected_and_counted() {
        let cfg = PeersConfig::default();
        let mut ex = Exchange::new(0, &cfg, false);
        status(&mut ex, 1);
        ex.on_proposal(proposal(5, 1, "lift", vec![1.0, 0.0, 0.0], 1), 1.0);
        ex.on_proposal(proposal(5, 2, "lift", vec![f32::NAN, 0.0], 1), 1.0);
        let mut v2 = proposal(6, 1, "lift", vec![1.0, 0.0], 1);
        v2.version = 2;
        ex.on_proposal(v2, 1.0);
        ex.on_proposal(proposal(6, 2, "lift", vec![1.0, 0.0], 9), 1.0); // another lineage
        ex.on_proposal(proposal(6, 3, "lift", vec![1.0, 0.0], 1), 1.0);
        ex.on_proposal(proposal(6, 3, "lift", vec![0.0, 1.0], 1), 1.0); // replay
        let c = ex.counters();
        let m = |k: &str| c.malformed.get(k).copied().unwrap_or(0);
        assert_eq!(
            (m("wrong_dimension"), m("not_finite"), m("unknown_version")),
            (1, 1, 1)
        );
        assert_eq!((c.lineage_mismatch, c.replayed, c.received), (1, 1, 1));
        assert_eq!(ex.pending(), 1);
    }

    #[test]
    fn a_faulty_peer_proposes_random_and_poisoned_centers_and_inflates_votes() {
        let cfg = PeersConfig::default();
        let mut ex = Exchange::new(3, &cfg, true);
        status(&mut ex, 1);
        ex.on_proposal(proposal(1, 1, "lift", vec![0.6, 0.8], 1), 1.0);
        assert_eq!(ex.drain_out(), vec![Out::Vote(vote("1:1", 3, 10, 10))]);
        let c = |id: u32, l: &str, v: Vec<f32>| PeerReply::Confident {
            id,
            label: ArrayString::from(l).unwrap(),
            evidence: 4,
            center: v.into_iter().collect(),
            action: Default::default(),
        };
        for round in 0..2 {
            ex.confident = Some(Vec::new());
            ex.on_reply(c(1, "lift", vec![1.0, 0.0]), 2.0);
            ex.on_reply(c(2, "tap", vec![0.0, 1.0]), 2.0);
            ex.on_reply(PeerReply::ConfidentDone, 2.0);
            let props: Vec<Proposal> = ex
                .drain_out()
                .into_iter()
                .filter_map(|o| match o {
                    Out::Proposal(p) => Some(p),
                    _ => None,
                })
                .collect();
            // a random center, a poisoned one (a center under the other label)
            let poisoned = &props[1];
            let own = if poisoned.label == "lift" {
                [0.0, 1.0]
            } else {
                [1.0, 0.0]
            };
            assert_eq!(poisoned.center, own.to_vec());
            if round == 1 {
                assert_eq!(props.len(), 3);
                assert_eq!(props[2].id, "3:1", "a replayed id");
            }
        }
    }
}
