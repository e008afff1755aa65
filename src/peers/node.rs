//! The peer thread: a ROS 2 node (r2r over the configured RMW: DDS is the distributed layer)
//! that carries the protocol's messages between [`Exchange`] and the other peers, and the
//! learn task's requests and replies between [`Exchange`] and the learn task. Non-RT: it never
//! makes the learn task wait (lock-free rings; a full ring defers the request).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use r2r::QosProfile;

use super::exchange::{Exchange, Out};
use super::protocol::{LibraryUpdate, Proposal, Vote};
use super::PeersError;
use crate::learn::PeerSide;

/// Wall clock, s since the epoch.
pub fn wall() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn r2r_err(what: &'static str) -> impl FnOnce(r2r::Error) -> PeersError {
    move |e| PeersError::Ros(format!("{what}: {e}"))
}

fn to_msg(p: &Proposal) -> r2r::sattva_msgs::msg::Proposal {
    r2r::sattva_msgs::msg::Proposal {
        version: p.version,
        proposal_id: p.id.clone(),
        proposer: p.proposer,
        label: p.label.clone(),
        center: p.center.clone(),
        action_memory: p.action_memory.clone(),
        evidence: p.evidence,
        lineage: p.lineage.clone(),
        stamp: p.stamp,
    }
}

fn from_msg(m: r2r::sattva_msgs::msg::Proposal) -> Proposal {
    Proposal {
        version: m.version,
        id: m.proposal_id,
        proposer: m.proposer,
        label: m.label,
        center: m.center,
        action_memory: m.action_memory,
        evidence: m.evidence,
        lineage: m.lineage,
        stamp: m.stamp,
    }
}

fn vote_msg(v: &Vote) -> r2r::sattva_msgs::msg::Vote {
    r2r::sattva_msgs::msg::Vote {
        version: v.version,
        proposal_id: v.proposal_id.clone(),
        voter: v.voter,
        matches: v.matches,
        total: v.total,
        confidence: v.confidence,
    }
}

fn update_msg(u: &LibraryUpdate) -> r2r::sattva_msgs::msg::LibraryUpdate {
    r2r::sattva_msgs::msg::LibraryUpdate {
        version: u.version,
        decider: u.decider,
        proposal_id: u.proposal_id.clone(),
        proposer: u.proposer,
        label: u.label.clone(),
        accepted: u.accepted,
        confidence: u.confidence,
        voters: u.voters.clone(),
        votes: u.votes.clone(),
        quarantined: u.quarantined.clone(),
        reason: u.reason.clone(),
    }
}

fn diagnostics(ex: &Exchange, now: f64) -> r2r::diagnostic_msgs::msg::DiagnosticArray {
    use r2r::diagnostic_msgs::msg::{DiagnosticArray, DiagnosticStatus, KeyValue};
    let (level, message, kv) = ex.status();
    let secs = now.floor();
    DiagnosticArray {
        header: r2r::std_msgs::msg::Header {
            stamp: r2r::builtin_interfaces::msg::Time {
                sec: secs as i32,
                nanosec: ((now - secs) * 1e9) as u32,
            },
            frame_id: String::new(),
        },
        status: vec![DiagnosticStatus {
            level,
            name: format!("sattva peer {}: peer validation", ex.id()),
            message,
            hardware_id: format!("sattva_peer_{}", ex.id()),
            values: kv
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
        }],
    }
}

/// How the peer thread runs.
pub struct NodeOptions {
    /// Topic prefix (`peers.topic_prefix`).
    pub prefix: String,
    /// Exchange with the others over ROS 2 (false: alone, only the outcomes are collected).
    pub ros: bool,
    /// Where the library is saved whenever it changes.
    pub library: Option<PathBuf>,
    /// After the agent stopped, wait at most this long for pending decisions, s.
    pub linger_s: f64,
}

/// Runs the peer thread until `agent_done` is set and the pending proposals are decided (or
/// `linger_s` passed); returns the exchange.
pub fn spawn(
    mut ex: Exchange,
    mut side: PeerSide,
    opts: NodeOptions,
    agent_done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Exchange, PeersError>> {
    std::thread::Builder::new()
        .name(format!("peer{}", ex.id()))
        .spawn(move || {
            let mut ros = if opts.ros {
                Some(Ros::new(ex.id(), &opts.prefix)?)
            } else {
                None
            };
            let mut done_at: Option<Instant> = None;
            let mut next_diag = 0.0;
            loop {
                let now = wall();
                if let Some(r) = &mut ros {
                    r.node.spin_once(Duration::from_millis(10));
                    r.receive(&mut ex, now);
                } else {
                    std::thread::sleep(Duration::from_millis(10));
                }
                while let Some(r) = side.replies.pop() {
                    ex.on_reply(r, now);
                }
                while let Some(o) = side.outcomes.pop() {
                    ex.on_outcome(o);
                }
                if done_at.is_none() && agent_done.load(Ordering::Acquire) {
                    done_at = Some(Instant::now());
                    ex.agent_done = true;
                }
                if ros.is_some() {
                    ex.tick(now);
                }
                while let Some(r) = ex.next_request() {
                    if ex.agent_done {
                        continue; // nobody serves it anymore
                    }
                    if !side.requests.push(r.clone()) {
                        ex.defer(r);
                        break;
                    }
                }
                if let Some(r) = &mut ros {
                    for o in ex.drain_out() {
                        r.publish(&o);
                    }
                    if now >= next_diag {
                        next_diag = now + 1.0;
                        r.publish_diag(&ex, now);
                    }
                }
                if ex.take_dirty() {
                    if let Some(p) = &opts.library {
                        if let Err(e) = ex.library().save(p) {
                            tracing::error!(error = %e, "library not saved");
                        }
                    }
                }
                if let Some(t) = done_at {
                    let waited = t.elapsed().as_secs_f64();
                    if ros.is_none() || ex.pending() == 0 || waited > opts.linger_s {
                        if let Some(r) = &mut ros {
                            r.publish_diag(&ex, now);
                            r.node.spin_once(Duration::from_millis(50));
                        }
                        break;
                    }
                }
            }
            Ok(ex)
        })
        .expect("spawning the peer thread")
}

type Sub<T> = std::pin::Pin<Box<dyn futures::Stream<Item = T>>>;

struct Ros {
    node: r2r::Node,
    pub_p: r2r::Publisher<r2r::sattva_msgs::msg::Proposal>,
    pub_v: r2r::Publisher<r2r::sattva_msgs::msg::Vote>,
    pub_u: r2r::Publisher<r2r::sattva_msgs::msg::LibraryUpdate>,
    pub_d: r2r::Publisher<r2r::diagnostic_msgs::msg::DiagnosticArray>,
    sub_p: Sub<r2r::sattva_msgs::msg::Proposal>,
    sub_v: Sub<r2r::sattva_msgs::msg::Vote>,
    sub_u: Sub<r2r::sattva_msgs::msg::LibraryUpdate>,
    failed: crate::repeat::Repeated,
}

impl Ros {
    fn new(id: u32, prefix: &str) -> Result<Ros, PeersError> {
        let ctx = r2r::Context::create().map_err(r2r_err("create context (rcl_init)"))?;
        let mut node = r2r::Node::create(ctx, &format!("sattva_peer_{id}"), "")
            .map_err(r2r_err("create node"))?;
        // reliable, volatile: every live peer gets every message; depth covers a burst of
        // proposals and their votes
        let q = QosProfile::default().reliable().keep_last(1024);
        let (tp, tv, tu) = (
            format!("{prefix}/proposals"),
            format!("{prefix}/votes"),
            format!("{prefix}/library"),
        );
        Ok(Ros {
            pub_p: node
                .create_publisher(&tp, q.clone())
                .map_err(r2r_err("publisher proposals"))?,
            pub_v: node
                .create_publisher(&tv, q.clone())
                .map_err(r2r_err("publisher votes"))?,
            pub_u: node
                .create_publisher(&tu, q.clone())
                .map_err(r2r_err("publisher library"))?,
            pub_d: node
                .create_publisher("/diagnostics", QosProfile::default())
                .map_err(r2r_err("publisher /diagnostics"))?,
            sub_p: Box::pin(
                node.subscribe(&tp, q.clone())
                    .map_err(r2r_err("subscription proposals"))?,
            ),
            sub_v: Box::pin(
                node.subscribe(&tv, q.clone())
                    .map_err(r2r_err("subscription votes"))?,
            ),
            sub_u: Box::pin(
                node.subscribe(&tu, q)
                    .map_err(r2r_err("subscription library"))?,
            ),
            node,
            failed: Default::default(),
        })
    }

    fn receive(&mut self, ex: &mut Exchange, now: f64) {
        while let Some(Some(m)) = self.sub_p.next().now_or_never() {
            ex.on_proposal(from_msg(m), now);
        }
        while let Some(Some(m)) = self.sub_v.next().now_or_never() {
            ex.on_vote(
                Vote {
                    version: m.version,
                    proposal_id: m.proposal_id,
                    voter: m.voter,
                    matches: m.matches,
                    total: m.total,
                    confidence: m.confidence,
                },
                now,
            );
        }
        while let Some(Some(m)) = self.sub_u.next().now_or_never() {
            let u = LibraryUpdate {
                version: m.version,
                decider: m.decider,
                proposal_id: m.proposal_id,
                proposer: m.proposer,
                label: m.label,
                accepted: m.accepted,
                confidence: m.confidence,
                voters: m.voters,
                votes: m.votes,
                quarantined: m.quarantined,
                reason: m.reason,
            };
            ex.on_update(&u, now);
        }
    }

    fn publish(&mut self, o: &Out) {
        let r = match o {
            Out::Proposal(p) => self.pub_p.publish(&to_msg(p)),
            Out::Vote(v) => self.pub_v.publish(&vote_msg(v)),
            Out::Update(u) => self.pub_u.publish(&update_msg(u)),
        };
        if let Err(e) = r {
            crate::warn_repeated!(self.failed, error = %e, "publish (peer protocol)");
        }
    }

    fn publish_diag(&mut self, ex: &Exchange, now: f64) {
        if let Err(e) = self.pub_d.publish(&diagnostics(ex, now)) {
            crate::warn_repeated!(self.failed, error = %e, "publish /diagnostics");
        }
    }
}
