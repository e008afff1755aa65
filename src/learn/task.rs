//! The learn task: the scheduler task around a [`Learner`], fed by the control task's
//! segments, serving the ROS node's requests, writing snapshots in the background.

use std::path::PathBuf;

use arrayvec::ArrayVec;

use super::bridge::{
    message, truncated, AttractorInfo, LearnPorts, LearnReply, LearnRequest, MAX_MEANINGS,
    MAX_PATTERN, MAX_QUERY_K, MAX_TEXT,
};
use super::{LearnError, LearnStats, Learner, Segment};
use crate::language::{lexicon_path, Lexicon, LiveLexicon};
use crate::sched::channel::{LatestTx, RingRx};
use crate::sched::{Job, Task};
use crate::substrate::snapshot::SnapshotWriter;
use crate::types::Time;

/// The scheduler task that learns from the control task's segments.
pub struct LearnTask {
    learner: Option<Learner>,
    segments: RingRx<Segment>,
    ports: Option<LearnPorts>,
    set_period_ns: i64,
    next_set: i64,
    snapshot_period_ns: i64,
    next_snapshot: i64,
    snapshot_path: Option<PathBuf>,
    writer: Option<SnapshotWriter>,
    /// Snapshot requests waiting for the writer's result.
    pending_snapshots: ArrayVec<u64, 8>,
    /// Requests whose view the busy writer refused: resubmitted next job.
    deferred: ArrayVec<u64, 8>,
    last_t: Time,
    query_out: ArrayVec<(AttractorInfo, f32), MAX_QUERY_K>,
    done: Option<std::sync::mpsc::Sender<LearnOutcome>>,
    learn_failed: crate::repeat::Repeated,
    /// Live counters for the observer (`crate::observe`), published every [`PROBE_PERIOD_NS`].
    probe: Option<(LatestTx<LearnProbe>, i64)>,
    /// Words grounded from operator labels (`sattva/label`, `sattva/understand`).
    language: LiveLexicon,
    /// The learn task's clock: the current job's release, ns.
    now_ns: i64,
    lexicon_failed: crate::repeat::Repeated,
    /// The control period (a performance lasts at least two), ns.
    period_ns: i64,
    /// Peer validation (`crate::peers`): requests served, experiences observed.
    peers: Option<super::PeerPorts>,
}

/// How often the learn task publishes its [`LearnProbe`], ns (its own clock).
const PROBE_PERIOD_NS: i64 = 100_000_000;

/// The learn task's live counters and learning-time histogram, published into a latest-value
/// slot for the observer (`crate::observe`). Filled in place: no allocation.
#[derive(Clone, Debug)]
pub struct LearnProbe {
    /// Counters.
    pub stats: LearnStats,
    /// Segments the control task could not hand over.
    pub segments_dropped: u64,
    /// Learning time per experience, ns.
    pub learn_ns: hdrhistogram::Histogram<u64>,
}

impl Default for LearnProbe {
    fn default() -> Self {
        LearnProbe {
            stats: LearnStats::default(),
            segments_dropped: 0,
            learn_ns: crate::sched::new_histogram(),
        }
    }
}

/// What the learn task did (sent when it stops).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnSummary {
    /// Counters.
    pub stats: LearnStats,
    /// Segments the control task could not hand over (ring full).
    pub segments_dropped: u64,
    /// The last snapshot written (at the end of the run when `learn.snapshot` is set).
    pub snapshot: Option<PathBuf>,
    /// Learning time per learned experience, us: p50, p99, max.
    pub learn_us: [f64; 3],
}

/// What the learn task hands back when it stops: its summary and the learner itself (the
/// final substrate, the journal).
pub struct LearnOutcome {
    /// The summary.
    pub summary: LearnSummary,
    /// The learner.
    pub learner: Learner,
}

impl LearnTask {
    /// A learn task over `learner` as `learn` configures it (snapshots to `snapshot_path`),
    /// fed by `segments`, talking to ROS through `ports`; its outcome goes to `done`.
    pub fn with_section(
        learn: &super::LearnConfig,
        snapshot_path: Option<PathBuf>,
        learner: Learner,
        segments: RingRx<Segment>,
        ports: Option<LearnPorts>,
        done: std::sync::mpsc::Sender<LearnOutcome>,
    ) -> Result<LearnTask, LearnError> {
        let writer = match &snapshot_path {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| LearnError::Writer {
                        file: p.display().to_string(),
                        source,
                    })?;
                }
                Some(SnapshotWriter::spawn(p.clone(), [0; 32]).map_err(|source| {
                    LearnError::Writer {
                        file: p.display().to_string(),
                        source,
                    }
                })?)
            }
            None => None,
        };
        let set_period_ns = learn.set_period_ms as i64 * 1_000_000;
        let snapshot_period_ns = (learn.snapshot_period_s * 1e9) as i64;
        Ok(LearnTask {
            learner: Some(learner),
            segments,
            ports,
            set_period_ns,
            next_set: 0,
            snapshot_period_ns,
            next_snapshot: snapshot_period_ns,
            snapshot_path,
            writer,
            pending_snapshots: ArrayVec::new(),
            deferred: ArrayVec::new(),
            last_t: Time::ZERO,
            query_out: ArrayVec::new(),
            done: Some(done),
            learn_failed: Default::default(),
            probe: None,
            language: LiveLexicon::new(Lexicon::new(), learn.label_window_s),
            now_ns: 0,
            lexicon_failed: Default::default(),
            period_ns: 2_000_000,
            peers: None,
        })
    }

    /// Starts from `lexicon` (read beside the resume snapshot) instead of an empty one.
    pub fn with_lexicon(mut self, lexicon: Lexicon, window_s: f64) -> LearnTask {
        self.language = LiveLexicon::new(lexicon, window_s);
        self
    }

    /// Saves the lexicon beside the snapshot when labels changed it (or `force`).
    fn save_lexicon(&mut self, force: bool) {
        let dirty = self.language.take_dirty();
        let Some(p) = &self.snapshot_path else { return };
        if !(dirty || force) || self.language.lexicon().observations() == 0 {
            return;
        }
        if let Err(e) = self.language.lexicon().save(&lexicon_path(p)) {
            crate::warn_repeated!(self.lexicon_failed, error = %e, "lexicon save");
        }
    }

    /// Sets the control period (performances last at least two periods).
    pub fn with_control_period(mut self, period_ns: i64) -> LearnTask {
        self.period_ns = period_ns.max(1);
        self
    }

    /// Publishes live counters into `probe` (the observer's input).
    pub fn with_probe(mut self, probe: LatestTx<LearnProbe>) -> LearnTask {
        self.probe = Some((probe, 0));
        self
    }

    /// Serves peer validation through `ports` (see [`super::PeerPorts`]).
    pub fn with_peers(mut self, ports: super::PeerPorts) -> LearnTask {
        self.peers = Some(ports);
        self
    }

    fn publish_probe(&mut self, now: i64) {
        let (Some((tx, next)), Some(l)) = (self.probe.as_mut(), self.learner.as_ref()) else {
            return;
        };
        if now < *next {
            return;
        }
        *next = now + PROBE_PERIOD_NS;
        let dropped = self.segments.dropped();
        tx.write_with(|p| {
            p.stats = l.stats;
            p.segments_dropped = dropped;
            p.learn_ns.reset();
            // same bounds: adds counts in place, no allocation
            let _ = p.learn_ns.add(l.learn_histogram());
        });
    }

    fn reply(&mut self, r: LearnReply) {
        if let Some(p) = &mut self.ports {
            p.replies.push(r);
        }
    }

    fn poll_writer(&mut self) {
        let Some(w) = &self.writer else { return };
        for r in w.poll() {
            let (ok, msg) = match &r {
                Ok(info) => {
                    self.save_lexicon(false);
                    self.l().substrate_mut().set_parent_hash(info.hash);
                    self.l().stats.snapshots += 1;
                    let hex: String = info.hash[..8].iter().map(|b| format!("{b:02x}")).collect();
                    (
                        true,
                        format!(
                            "{} ({} bytes, step {}, sha256 {hex}...)",
                            self.snapshot_path
                                .as_ref()
                                .map_or(String::new(), |p| p.display().to_string()),
                            info.bytes,
                            info.step
                        ),
                    )
                }
                Err(e) => {
                    self.l().stats.snapshot_errors += 1;
                    (false, e.to_string())
                }
            };
            if !self.pending_snapshots.is_empty() {
                let id = self.pending_snapshots.remove(0);
                if id != 0 {
                    self.reply(LearnReply::Snapshot {
                        request_id: id,
                        ok,
                        message: message(&msg),
                    });
                }
            }
        }
    }

    /// Starts a background snapshot; `request_id` 0 = periodic (no reply).
    fn snapshot(&mut self, request_id: u64) {
        let Some(w) = &self.writer else {
            self.reply(LearnReply::Snapshot {
                request_id,
                ok: false,
                message: message("snapshots are off: set learn.snapshot to a file"),
            });
            return;
        };
        if self.pending_snapshots.is_full() {
            self.reply(LearnReply::Snapshot {
                request_id,
                ok: false,
                message: message("too many snapshots pending; try again"),
            });
            return;
        }
        let Some(l) = self.learner.as_ref() else {
            return;
        };
        if w.submit(l.substrate().snapshot_view()) {
            self.pending_snapshots.push(request_id);
        } else if request_id != 0 && self.deferred.try_push(request_id).is_err() {
            self.reply(LearnReply::Snapshot {
                request_id,
                ok: false,
                message: message("snapshot writer busy; try again"),
            });
        }
    }

    fn serve(&mut self) {
        let mut deferred = std::mem::take(&mut self.deferred);
        for id in deferred.drain(..) {
            self.snapshot(id);
        }
        loop {
            let Some(req) = self.ports.as_mut().and_then(|p| p.requests.pop()) else {
                break;
            };
            match req {
                LearnRequest::Snapshot { request_id } => self.snapshot(request_id),
                LearnRequest::Query {
                    request_id,
                    k,
                    pattern,
                    too_long,
                } => {
                    let mut out = std::mem::take(&mut self.query_out);
                    let r = if too_long {
                        Err(format!(
                            "pattern longer than {MAX_PATTERN} values; the encoder's dimension is {}",
                            self.l().dim()
                        ))
                    } else {
                        let t = self.last_t;
                        self.l().query(t, &pattern, k as usize, &mut out)
                    };
                    let reply = LearnReply::Query {
                        request_id,
                        ok: r.is_ok(),
                        message: message(r.as_ref().err().map_or("", |e| e.as_str())),
                        matches: out.clone(),
                    };
                    self.query_out = out;
                    self.reply(reply);
                }
                LearnRequest::Label { text } => {
                    let now = self.now_ns;
                    let Some(l) = self.learner.as_mut() else {
                        return;
                    };
                    match self.language.label(&text, now, l.substrate_mut()) {
                        Ok(_) => l.stats.labels += 1,
                        Err(_) => l.stats.labels_refused += 1,
                    }
                }
                LearnRequest::Understand {
                    request_id,
                    text,
                    too_long,
                } => {
                    let reply = self.understand(request_id, &text, too_long);
                    self.reply(reply);
                }
                LearnRequest::Perform {
                    request_id,
                    text,
                    too_long,
                    attractor,
                    speed,
                } => {
                    let goal = if too_long {
                        Err(message(&format!(
                            "perform: text longer than {} bytes",
                            super::MAX_LABEL
                        )))
                    } else {
                        let period = self.period_ns;
                        let t = self.last_t;
                        match self.meaning_of(attractor, &text, speed) {
                            Ok((attractor, speed)) => self
                                .l()
                                .perform_goal(request_id, Some(attractor), &text, speed, period, t)
                                .map_err(|e| message(&e)),
                            Err(e) => Err(message(&e)),
                        }
                    };
                    self.reply(LearnReply::PerformGoal { request_id, goal });
                }
            }
        }
    }
}

impl LearnTask {
    fn understand(&mut self, request_id: u64, text: &str, too_long: bool) -> LearnReply {
        let mut meanings = arrayvec::ArrayVec::new();
        let r = if too_long {
            Err(format!("text longer than {MAX_TEXT} bytes"))
        } else if let Some(l) = self.learner.as_ref() {
            let s = l.substrate();
            self.language
                .understand(text, s, MAX_MEANINGS)
                .map(|u| {
                    for m in &u.meanings {
                        let label = s
                            .attractor(crate::substrate::AttractorId(m.attractor), Time::ZERO)
                            .and_then(|a| a.labels.first().map(|l| truncated(l)))
                            .unwrap_or_default();
                        let _ = meanings.try_push((m.attractor, label, m.confidence));
                    }
                })
                .map_err(|e| e.to_string())
        } else {
            Err("the learner has stopped".into())
        };
        LearnReply::Understand {
            request_id,
            ok: r.is_ok(),
            message: message(r.as_ref().err().map_or("", |e| e.as_str())),
            meanings,
        }
    }
}

impl Task for LearnTask {
    fn run_once(&mut self, _job: &Job) {
        if self.learner.is_none() {
            return;
        }
        self.now_ns = _job.release.0;
        self.drain();
        // link (at most) one deferred attractor into the similarity graph per job: bounded
        // work off the learn path (see `Substrate::maintain`)
        self.l().substrate_mut().maintain(1);
        self.after_learning();
        self.publish_probe(_job.release.0);
    }

    fn stop(&mut self) {
        // segments still in the ring are part of the run: learn them (deterministic end)
        self.drain();
        self.finish();
    }
}

impl LearnTask {
    /// The attractor and speed a perform goal asks for: its id; else an attractor labelled
    /// exactly `text`; else what the grounded words mean in the current context
    /// ([`LiveLexicon::understand`]: the best meaning, and the speed its modifiers ask for when
    /// the goal left `speed` at 0).
    fn meaning_of(
        &mut self,
        attractor: Option<u32>,
        text: &str,
        speed: f64,
    ) -> Result<(u32, f64), String> {
        if let Some(a) = attractor {
            return Ok((a, speed));
        }
        let by_label = self.l().resolve_text(text);
        let Some(l) = self.learner.as_ref() else {
            return Err("perform: the learner has stopped".into());
        };
        match by_label {
            Ok(a) => Ok((a.0, speed)),
            Err(label_err) => match self.language.understand(text, l.substrate(), 1) {
                Ok(u) => match u.meanings.first() {
                    Some(m) => Ok((
                        m.attractor,
                        if speed == 0.0 { u.params.speed } else { speed },
                    )),
                    None => Err(format!("{label_err}; no grounded meaning for `{text}`")),
                },
                Err(e) if text.trim().is_empty() => Err(label_err + &format!(" ({e})")),
                Err(e) => Err(format!("{label_err}; {e}")),
            },
        }
    }

    /// The learner; present until the task has stopped (then nothing calls in anymore).
    fn l(&mut self) -> &mut Learner {
        self.learner
            .as_mut()
            .expect("the learner stays until the learn task stops")
    }

    fn drain(&mut self) {
        if self.learner.is_none() {
            return;
        }
        while let Some(seg) = self.segments.pop() {
            self.last_t = seg.after.t;
            let ports = &mut self.ports;
            let Some(learner) = self.learner.as_mut() else {
                return;
            };
            let mut dropped = 0u64;
            let right0 = learner.stats.judged_right;
            let r = learner.learn(&seg, |e| {
                if let Some(p) = ports.as_mut() {
                    if !p.events.push(e) {
                        dropped += 1;
                    }
                }
            });
            if let (Some(p), true) = (self.peers.as_mut(), r.is_ok()) {
                p.observe(learner, &seg, learner.stats.judged_right > right0);
            }
            self.l().stats.events_dropped += dropped;
            match r {
                Ok(Some(l)) => self.language.learned(&l, self.now_ns),
                Ok(None) => {}
                Err(e) => crate::warn_repeated!(self.learn_failed, error = %e, "learn"),
            }
            // a performance's experience: tell the requester what it was recognised as
            if let Some(tag) = seg.tag.filter(|t| t.role == super::Role::Perform) {
                let (recognised, similarity) = self.l().last_recall();
                let vigilance = self.l().substrate().config().vigilance as f32;
                tracing::info!(
                    performance = tag.episode,
                    requested = tag.label,
                    recognised,
                    similarity,
                    "performance recognised"
                );
                self.reply(LearnReply::Performed {
                    request_id: tag.episode,
                    recognised,
                    similarity,
                    above_vigilance: recognised >= 0 && similarity >= vigilance,
                });
            }
        }
    }

    fn after_learning(&mut self) {
        self.poll_writer();
        self.serve();
        if let (Some(p), Some(l)) = (self.peers.as_mut(), self.learner.as_mut()) {
            p.serve(l, self.last_t);
        }
        let t = self.last_t.0;
        if self.snapshot_period_ns > 0 && t >= self.next_snapshot {
            self.next_snapshot = t + self.snapshot_period_ns;
            self.snapshot(0);
        }
        if t >= self.next_set {
            self.next_set = t + self.set_period_ns;
            if let Some(p) = &mut self.ports {
                let Some(l) = self.learner.as_ref() else {
                    return;
                };
                let tt = self.last_t;
                p.set.write_with(|s| l.fill_set(tt, s));
            }
        }
    }

    fn finish(&mut self) {
        if self.learner.is_none() {
            return;
        }
        let mut summary = LearnSummary {
            stats: self.l().stats,
            segments_dropped: self.segments.dropped(),
            snapshot: None,
            learn_us: self.l().learn_us(),
        };
        // the final snapshot, written synchronously (the executor is stopping: not RT anymore)
        if let Some(w) = self.writer.take() {
            let _ = w.finish();
            let path = self.snapshot_path.clone();
            if let Some(p) = &path {
                if self.l().stats.learned > 0 {
                    match self.l().substrate_mut().save(p) {
                        Ok(_) => {
                            summary.stats.snapshots += 1;
                            summary.snapshot = Some(p.clone());
                            self.save_lexicon(true);
                        }
                        Err(e) => {
                            summary.stats.snapshot_errors += 1;
                            tracing::error!(error = %e, "final snapshot");
                        }
                    }
                }
            }
        }
        if let Some(tx) = self.done.take() {
            if let Some(learner) = self.learner.take() {
                let _ = tx.send(LearnOutcome { summary, learner });
            }
        }
    }
}
