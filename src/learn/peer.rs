//! What the learn task exchanges with the peer-validation thread (`crate::peers`): requests to
//! propose, vote on and adopt primitives, their replies, and the outcome of every labelled
//! experience, over lock-free rings. The learn task never waits on the network: it serves what
//! is queued, a bounded number of requests per job, and drops (counts) what does not fit.
//!
//! ```text
//!  peer thread (non-RT, ROS 2)            learn task
//!  Status / Confident / Vote / Adopt ─ring─> serve: lineage, confident attractors,
//!                                              vote = recent experiences the proposal's center
//!                                              recognises (cos >= vigilance) with its label / all
//!                                              it recognises; adopt into the substrate
//!  <─ring─ replies, outcomes (labelled experience recognised as its own label before learning?)
//! ```

use arrayvec::{ArrayString, ArrayVec};

use super::bridge::{truncated, MAX_LABEL, MAX_PATTERN};
use super::{Learner, Role, Segment};
use crate::sched::channel::{ring, RingRx, RingTx};
use crate::types::Time;

/// Requests served per learn job (bounded work on the learn task).
const PER_JOB: usize = 4;

/// Largest action memory exchanged, in its flat layout
/// ([`crate::substrate::ActionMemory::flat`]: 3 + bins x joints, e.g. 16 bins x 64 joints); a
/// larger one travels without its action memory.
pub const MAX_ACTION: usize = 3 + 16 * 64;

/// An attractor's action memory in the flat layout, empty when it has none or it is larger than
/// [`MAX_ACTION`].
fn flat_action(m: Option<&crate::substrate::ActionMemory>) -> ArrayVec<f32, MAX_ACTION> {
    match m {
        Some(m) if m.flat_len() <= MAX_ACTION => m.flat().collect(),
        _ => ArrayVec::new(),
    }
}

/// A request of the peer thread to the learn task.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum PeerRequest {
    /// Lineage, calibration state and size (answered with [`PeerReply::Status`]).
    Status,
    /// The attractors the learner is confident in (answered with one [`PeerReply::Confident`]
    /// each, up to what the reply ring holds, then [`PeerReply::ConfidentDone`]).
    Confident {
        /// Experiences absorbed, at least.
        min_evidence: u64,
        /// Share of labelled experiences with the majority label, at least.
        purity: f32,
    },
    /// Test a proposal against the recent experiences.
    Vote {
        /// Echoed in the reply.
        key: u64,
        /// The proposal's label.
        label: ArrayString<MAX_LABEL>,
        /// Its center (the encoder's dimension; checked by the peer thread).
        center: ArrayVec<f32, MAX_PATTERN>,
    },
    /// Adopt an accepted primitive into the substrate.
    Adopt {
        /// Echoed in the reply.
        key: u64,
        /// Label.
        label: ArrayString<MAX_LABEL>,
        /// Center.
        center: ArrayVec<f32, MAX_PATTERN>,
        /// Experiences behind it at the proposer.
        evidence: u64,
        /// Its action memory, flat (empty: none).
        action: ArrayVec<f32, MAX_ACTION>,
    },
}

/// A reply of the learn task to the peer thread.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum PeerReply {
    /// Answer to [`PeerRequest::Status`].
    Status {
        /// The encoder's lineage.
        lineage: [u8; 32],
        /// Calibration is over (the lineage is final).
        calibrated: bool,
        /// Live attractors.
        attractors: u64,
        /// Experiences in the recent ring.
        recent: u32,
        /// The encoder's dimension.
        dim: u32,
    },
    /// One confident attractor.
    Confident {
        /// Its id (slot) at the learner.
        id: u32,
        /// Majority label.
        label: ArrayString<MAX_LABEL>,
        /// Experiences absorbed.
        evidence: u64,
        /// Center.
        center: ArrayVec<f32, MAX_PATTERN>,
        /// Action memory, flat (empty: none).
        action: ArrayVec<f32, MAX_ACTION>,
    },
    /// The end of a [`PeerRequest::Confident`] answer.
    ConfidentDone,
    /// Answer to [`PeerRequest::Vote`].
    Vote {
        /// The request's key.
        key: u64,
        /// Recognised experiences carrying the proposal's label.
        matches: u32,
        /// Recent experiences the proposal's center recognises.
        total: u32,
    },
    /// Answer to [`PeerRequest::Adopt`].
    Adopted {
        /// The request's key.
        key: u64,
        /// The attractor that carries it now (None: refused, see `error`).
        id: Option<u32>,
        /// Merged into an own attractor (else inserted).
        merged: bool,
        /// Why it was refused.
        error: ArrayString<128>,
    },
}

/// `s` cut to a label's capacity at a char boundary.
pub fn truncated_label(s: &str) -> ArrayString<MAX_LABEL> {
    truncated(s)
}

/// What became of one labelled experience (literacy over time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The episode's index in the plan.
    pub episode: u32,
    /// Learned (training) or only recognised (novel scenario).
    pub role: Role,
    /// Before learning, its nearest attractor's majority label was its own label.
    pub right: bool,
    /// Backend time.
    pub t: Time,
}

/// The recent experiences a peer votes with: a fixed ring of (unit vector, label).
struct Recent {
    dim: usize,
    cap: usize,
    v: Vec<f32>,
    labels: Vec<&'static str>,
    next: usize,
}

impl Recent {
    fn new(cap: usize) -> Recent {
        Recent {
            dim: 0,
            cap: cap.max(1),
            v: Vec::new(),
            labels: Vec::new(),
            next: 0,
        }
    }

    fn push(&mut self, v: &[f32], label: &'static str) {
        if self.dim != v.len() {
            // first experience (or a new dimension): allocate once
            self.dim = v.len();
            self.v = vec![0.0; self.cap * self.dim];
            self.labels.clear();
            self.next = 0;
        }
        let i = self.next % self.cap;
        self.v[i * self.dim..(i + 1) * self.dim].copy_from_slice(v);
        if self.labels.len() < self.cap {
            self.labels.push(label);
        } else {
            self.labels[i] = label;
        }
        self.next += 1;
    }

    fn len(&self) -> usize {
        self.labels.len()
    }

    /// `(matches, total)`: experiences `center` recognises (cos >= `vigilance`) with `label`,
    /// and all it recognises.
    fn vote(&self, center: &[f32], label: &str, vigilance: f32) -> (u32, u32) {
        if center.len() != self.dim {
            return (0, 0);
        }
        let n = crate::substrate::simd::dot(center, center).sqrt();
        if !(n > 0.0 && n.is_finite()) {
            return (0, 0);
        }
        let (mut matches, mut total) = (0u32, 0u32);
        for (i, l) in self.labels.iter().enumerate() {
            let v = &self.v[i * self.dim..(i + 1) * self.dim];
            if crate::substrate::simd::dot(v, center) / n >= vigilance {
                total += 1;
                if *l == label {
                    matches += 1;
                }
            }
        }
        (matches, total)
    }
}

/// The learn task's end of the peer channels.
pub struct PeerPorts {
    requests: RingRx<PeerRequest>,
    replies: RingTx<PeerReply>,
    outcomes: RingTx<Outcome>,
    recent: Recent,
}

/// The peer thread's end of the peer channels.
pub struct PeerSide {
    /// Requests to the learn task (full: try later).
    pub requests: RingTx<PeerRequest>,
    /// Its replies.
    pub replies: RingRx<PeerReply>,
    /// One outcome per labelled experience, in order.
    pub outcomes: RingRx<Outcome>,
}

/// Creates the learn <-> peer channels (allocated here, once): `recent` experiences kept for
/// voting.
pub fn peer_bridge(recent: usize) -> (PeerPorts, PeerSide) {
    let (qtx, qrx) = ring(64);
    let (rtx, rrx) = ring(256);
    let (otx, orx) = ring(8192);
    (
        PeerPorts {
            requests: qrx,
            replies: rtx,
            outcomes: otx,
            recent: Recent::new(recent),
        },
        PeerSide {
            requests: qtx,
            replies: rrx,
            outcomes: orx,
        },
    )
}

impl PeerPorts {
    /// After the learner took `seg`: keeps a learned labelled experience for voting and reports
    /// the outcome (`right`: recognised as its own label before learning).
    pub(crate) fn observe(&mut self, learner: &Learner, seg: &Segment, right: bool) {
        let Some(tag) = seg.tag else { return };
        if tag.label.is_empty() || !matches!(tag.role, Role::Learn | Role::Recognise) {
            return;
        }
        let Some(e) = learner.last_experience().filter(|e| e.t == seg.after.t) else {
            return; // rejected by the encoder
        };
        if tag.role == Role::Learn {
            self.recent.push(e.as_slice(), tag.label);
        }
        self.outcomes.push(Outcome {
            episode: tag.episode,
            role: tag.role,
            right,
            t: seg.after.t,
        });
    }

    /// Serves up to [`PER_JOB`] queued requests.
    pub(crate) fn serve(&mut self, learner: &mut Learner, t: Time) {
        for _ in 0..PER_JOB {
            let Some(req) = self.requests.pop() else {
                return;
            };
            match req {
                PeerRequest::Status => {
                    let r = PeerReply::Status {
                        lineage: learner.lineage(),
                        calibrated: learner.calibrated(),
                        attractors: learner.substrate().len() as u64,
                        recent: self.recent.len() as u32,
                        dim: learner.dim() as u32,
                    };
                    self.replies.push(r);
                }
                PeerRequest::Confident {
                    min_evidence,
                    purity,
                } => {
                    let replies = &mut self.replies;
                    learner.confident(t, min_evidence, purity, |id, label, evidence, c, m| {
                        replies.push(PeerReply::Confident {
                            id: id.0,
                            label,
                            evidence,
                            center: c.iter().copied().take(MAX_PATTERN).collect(),
                            action: flat_action(m),
                        });
                    });
                    self.replies.push(PeerReply::ConfidentDone);
                }
                PeerRequest::Vote { key, label, center } => {
                    let (matches, total) = self.recent.vote(&center, &label, learner.vigilance());
                    self.replies.push(PeerReply::Vote {
                        key,
                        matches,
                        total,
                    });
                }
                PeerRequest::Adopt {
                    key,
                    label,
                    center,
                    evidence,
                    action,
                } => {
                    let m = crate::substrate::ActionMemory::from_flat(&action);
                    let r = learner.adopt(t, &center, evidence, &label, m.as_ref());
                    self.replies.push(match r {
                        Ok(a) => PeerReply::Adopted {
                            key,
                            id: Some(a.id().0),
                            merged: matches!(a, crate::substrate::Adopted::Merged(_)),
                            error: ArrayString::new(),
                        },
                        Err(e) => PeerReply::Adopted {
                            key,
                            id: None,
                            merged: false,
                            error: truncated(&e.to_string()),
                        },
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_counts_recognised_experiences_with_the_label() {
        let mut r = Recent::new(3);
        r.push(&[1.0, 0.0], "a");
        r.push(&[0.8, 0.6], "b"); // cos to (1,0) = 0.8
        r.push(&[0.0, 1.0], "a"); // cos 0
                                  // center (2, 0): recognises the first two at vigilance 0.7; one of them is "a"
        assert_eq!(r.vote(&[2.0, 0.0], "a", 0.7), (1, 2));
        assert_eq!(r.vote(&[2.0, 0.0], "a", 0.9), (1, 1));
        // the ring keeps the last 3: pushing a 4th replaces the oldest ("a" at (1,0))
        r.push(&[0.0, -1.0], "c");
        assert_eq!(r.vote(&[2.0, 0.0], "a", 0.7), (0, 1));
        // wrong dimension, NaN: nothing to judge
        assert_eq!(r.vote(&[1.0], "a", 0.7), (0, 0));
        assert_eq!(r.vote(&[f32::NAN, 0.0], "a", 0.7), (0, 0));
    }
}
