//! The learning task of a long-running agent (`sattva run`, replay): experiences cut from the
//! control stream, encoded and learned by the substrate, with what ROS shows of it.
//!
//! ```text
//!  control task (RT)                     learn task (lower priority, other core)
//!  FusedState, Command ─> Segmenter ─ring─> Learner: encode -> activate (recognise) -> learn
//!                                                │ events ─ring─────────> ROS node: AttractorEvent
//!                                                │ attractor set ─latest─> AttractorSet, MarkerArray
//!                                                └ requests <─ring─ / replies ─ring─> services
//! ```
//! * [`Segmenter`] runs in the control task: every `learn.window_ms` it emits the fused state
//!   at the window's start and end and the mean command in between. Fixed-size values: no heap.
//! * [`Learner`] holds the encoder and the substrate (non-RT: may allocate when the substrate
//!   grows; `learn`/`activate` have the substrate's bounded cost). The first
//!   `learn.calibration_windows` experiences only calibrate the encoder's feature statistics.
//! * [`LearnTask`] is the scheduler task around a learner; it talks to the ROS node only through
//!   the lock-free [`learn_bridge`]: a stalled node costs dropped (counted) events, nothing more.

use std::path::PathBuf;

use arrayvec::{ArrayString, ArrayVec};
use serde::{Deserialize, Serialize};

use crate::config::{Checker, Config, Validate};
use crate::encode::{Encoder, Experience, Layout};
use crate::fusion::FusedState;
use crate::sched::channel::{latest, ring, LatestRx, LatestTx, RingRx, RingTx};
use crate::sched::{Job, Task};
use crate::substrate::snapshot::SnapshotWriter;
use crate::substrate::{AttractorId, Substrate};
use crate::types::{Command, CommandMode, JointVec, Time};
use crate::vision::{Descriptor, DESCRIPTOR_LEN};

/// Longest attractor label carried to ROS, bytes (longer labels are cut at a char boundary).
pub const MAX_LABEL: usize = 32;
/// Most matches a query returns.
pub const MAX_QUERY_K: usize = 32;
/// Largest query pattern (the encoder's largest dimension).
pub const MAX_PATTERN: usize = crate::encode::MAX_DIM;

/// The `learn:` section: online learning while the agent runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearnConfig {
    /// Learn while running (`sattva run`); off: the control loop only.
    pub enabled: bool,
    /// Length of one experience: state at the window's start and end, mean command, ms.
    pub window_ms: u32,
    /// Experiences used only to calibrate the encoder's feature statistics before learning.
    pub calibration_windows: u32,
    /// Period of the attractor set (and marker) publication, ms.
    pub set_period_ms: u32,
    /// Snapshot file (relative to the config file) for the snapshot service, the periodic
    /// snapshots and the end of the run; empty = snapshots off.
    pub snapshot: String,
    /// Periodic snapshot interval, s (0 = only on request and at the end).
    pub snapshot_period_s: f64,
    /// Resume from this snapshot (relative to the config file); empty = start empty.
    pub resume: String,
    /// Capacity of the control -> learn and learn <-> ROS rings, messages.
    pub queue_capacity: u32,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_ms: 500,
            calibration_windows: 20,
            set_period_ms: 1000,
            snapshot: String::new(),
            snapshot_period_s: 0.0,
            resume: String::new(),
            queue_capacity: 64,
        }
    }
}

impl Validate for LearnConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("window_ms", self.window_ms as u64, 1, 3_600_000);
        c.range_u64(
            "calibration_windows",
            self.calibration_windows as u64,
            0,
            1_000_000,
        );
        c.range_u64("set_period_ms", self.set_period_ms as u64, 10, 3_600_000);
        c.range_f64("snapshot_period_s", self.snapshot_period_s, 0.0, 1.0e7);
        c.range_u64("queue_capacity", self.queue_capacity as u64, 2, 1 << 16);
    }
}

/// Errors of the learning stage.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// The substrate refused its config or an input.
    #[error("learn: substrate: {0}")]
    Substrate(#[from] crate::substrate::SubstrateError),
    /// The resume snapshot could not be loaded.
    #[error("learn.resume: {0}")]
    Resume(#[from] crate::substrate::snapshot::SnapshotError),
    /// The resume snapshot does not fit the encoder.
    #[error("learn.resume `{file}`: snapshot dimension {snapshot} != encoder dimension {encoder} (encode.dim)")]
    Dimension {
        /// The snapshot.
        file: String,
        /// Its dimension.
        snapshot: u64,
        /// The encoder's.
        encoder: usize,
    },
    /// The snapshot writer thread could not start.
    #[error("learn.snapshot `{file}`: cannot start the writer thread: {source}")]
    Writer {
        /// The snapshot path.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// One experience as cut from the control stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    /// Fused state at the start of the window.
    pub before: FusedState,
    /// Mean command over the window (hold when the loop held).
    pub cmd: Command,
    /// Fused state at the end of the window.
    pub after: FusedState,
    /// The newest visual descriptors at the window's start and end (vision task), if any.
    pub visual: Option<(Descriptor, Descriptor)>,
}

/// Cuts the control stream into [`Segment`]s of a fixed number of cycles. Runs in the RT
/// control task: no allocation, no locks.
#[derive(Clone, Debug)]
pub struct Segmenter {
    window: u64,
    n: u64,
    seg: Segment,
    started: bool,
    emitted: bool,
    sum: JointVec,
    position_cycles: u64,
}

impl Segmenter {
    /// A segmenter emitting one segment every `window` cycles (at least 1).
    pub fn new(window: u64) -> Segmenter {
        Segmenter {
            window: window.max(1),
            n: 0,
            seg: Segment::default(),
            started: false,
            emitted: false,
            sum: JointVec::new(),
            position_cycles: 0,
        }
    }

    /// Cycles per segment from a window in ms and the control period in ns.
    pub fn cycles(window_ms: u32, period_ns: i64) -> u64 {
        (window_ms as i64 * 1_000_000 / period_ns.max(1)).max(1) as u64
    }

    /// Feeds one cycle; returns the finished segment at the end of a window. Cycles whose
    /// orientation is not yet valid restart the window (an experience needs both ends).
    pub fn push(&mut self, s: &FusedState, cmd: &Command) -> Option<&Segment> {
        self.push_with(s, cmd, None)
    }

    /// [`Segmenter::push`] with the newest visual descriptor of the cycle (vision task).
    pub fn push_with(
        &mut self,
        s: &FusedState,
        cmd: &Command,
        visual: Option<&Descriptor>,
    ) -> Option<&Segment> {
        if !s.validity.orientation {
            self.started = false;
            self.emitted = false;
            return None;
        }
        if self.emitted {
            std::mem::swap(&mut self.seg.before, &mut self.seg.after);
            if let Some((b, a)) = &mut self.seg.visual {
                *b = *a;
            }
            self.emitted = false;
        }
        if !self.started {
            self.seg.before.clone_from(s);
            self.seg.visual = visual.map(|d| (*d, *d));
            self.started = true;
            self.n = 0;
            self.sum.clear();
            self.position_cycles = 0;
            return None;
        }
        self.n += 1;
        if cmd.mode == CommandMode::Position && !cmd.values.is_empty() {
            if self.sum.len() != cmd.values.len() {
                self.sum.clear();
                self.sum.extend(cmd.values.iter().map(|_| 0.0));
                self.position_cycles = 0;
            }
            for (a, v) in self.sum.iter_mut().zip(cmd.values.iter()) {
                *a += v;
            }
            self.position_cycles += 1;
        }
        if self.n < self.window {
            return None;
        }
        self.seg.after.clone_from(s);
        match (&mut self.seg.visual, visual) {
            (Some((_, a)), Some(d)) => *a = *d,
            (v @ None, Some(d)) => *v = Some((*d, *d)), // the first frame arrived mid-window
            _ => {}
        }
        self.seg.cmd.t = s.t;
        self.seg.cmd.values.clear();
        // the mean position target when the loop mostly commanded positions, else hold
        if self.position_cycles * 2 >= self.n && !self.sum.is_empty() {
            self.seg.cmd.mode = CommandMode::Position;
            let k = 1.0 / self.position_cycles as f64;
            self.seg.cmd.values.extend(self.sum.iter().map(|a| a * k));
        } else {
            self.seg.cmd.mode = CommandMode::Hold;
        }
        // the next window starts where this one ended (rolled at the next push)
        self.n = 0;
        self.sum.iter_mut().for_each(|a| *a = 0.0);
        self.position_cycles = 0;
        self.emitted = true;
        Some(&self.seg)
    }
}

/// What happened to an attractor (the `sattva_msgs/AttractorEvent` kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EventKind {
    /// A new attractor formed.
    Created = 0,
    /// An existing attractor absorbed the experience.
    Strengthened = 1,
    /// The experience was recognised as this attractor before learning (similarity >= vigilance).
    Recognised = 2,
    /// Two attractors merged; `id` is the one that disappeared.
    Merged = 3,
    /// The attractor was removed (evicted at capacity or pruned).
    Pruned = 4,
}

/// An attractor event (fixed size: crosses the learn -> ROS ring without allocation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttractorEvent {
    /// When (backend time of the experience's end).
    pub t: Time,
    /// What happened.
    pub kind: EventKind,
    /// The attractor.
    pub id: u32,
    /// Similarity of the experience to the attractor's center.
    pub similarity: f32,
    /// Strength after the event.
    pub strength: f32,
    /// Activation count after the event.
    pub count: u32,
}

/// One attractor as shown to ROS.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AttractorInfo {
    /// Id.
    pub id: u32,
    /// Strength (decayed to the time of the set).
    pub strength: f32,
    /// Experiences absorbed.
    pub count: u32,
    /// Mean `1 - cos` of absorbed experiences.
    pub radius: f32,
    /// Last activation.
    pub last_active: Time,
    /// First label (e.g. the primitive it was learned from in simulation), may be empty.
    pub label: ArrayString<MAX_LABEL>,
    /// A fixed 3-D projection of the center (for markers): nearby attractors are drawn nearby.
    pub position: [f32; 3],
}

/// The attractor set at one time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttractorSet {
    /// Backend time of the set.
    pub t: Time,
    /// Learning steps so far.
    pub step: u64,
    /// The live attractors, by id.
    pub attractors: Vec<AttractorInfo>,
    /// The learning counters at that time (for diagnostics).
    pub stats: LearnStats,
}

/// A request from the ROS side to the learn task.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum LearnRequest {
    /// Write a snapshot now (`sattva/snapshot`, `std_srvs/Trigger`).
    Snapshot {
        /// Echoed in the reply.
        request_id: u64,
    },
    /// The nearest attractors to a pattern (`sattva/query_attractors`).
    Query {
        /// Echoed in the reply.
        request_id: u64,
        /// How many (clamped to [`MAX_QUERY_K`]).
        k: u32,
        /// The pattern; empty = the most recent experience.
        pattern: ArrayVec<f32, MAX_PATTERN>,
        /// The request's pattern was longer than [`MAX_PATTERN`] (answered with an error).
        too_long: bool,
    },
}

/// A reply of the learn task (unboxed like the requests: no allocation on the learn task).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum LearnReply {
    /// Answer to [`LearnRequest::Snapshot`] (sent when the file is written).
    Snapshot {
        /// The request's id.
        request_id: u64,
        /// Success.
        ok: bool,
        /// What happened (path and hash, or the error).
        message: ArrayString<256>,
    },
    /// Answer to [`LearnRequest::Query`].
    Query {
        /// The request's id.
        request_id: u64,
        /// Success.
        ok: bool,
        /// Error text when not ok.
        message: ArrayString<256>,
        /// Matches, most similar first, with their cosine similarity.
        matches: ArrayVec<(AttractorInfo, f32), MAX_QUERY_K>,
    },
}

/// Counters of the learning stage.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LearnStats {
    /// Experiences received.
    pub experiences: u64,
    /// Experiences used for calibration only.
    pub calibrated: u64,
    /// Experiences learned.
    pub learned: u64,
    /// Experiences the encoder rejected (non-finite input).
    pub rejected: u64,
    /// Experiences recognised (nearest attractor at or above vigilance before learning).
    pub recognised: u64,
    /// Attractors formed.
    pub created: u64,
    /// Attractors now.
    pub attractors: u64,
    /// Events dropped because the ROS side was not reading.
    pub events_dropped: u64,
    /// Snapshots written.
    pub snapshots: u64,
    /// Snapshot writes that failed.
    pub snapshot_errors: u64,
}

/// `s` cut to the capacity `N` at a char boundary (fixed-size strings cross the rings).
fn truncated<const N: usize>(s: &str) -> ArrayString<N> {
    let mut out = ArrayString::new();
    for ch in s.chars() {
        if out.try_push(ch).is_err() {
            break;
        }
    }
    out
}

fn message(s: &str) -> ArrayString<256> {
    truncated(s)
}

/// Encoder + substrate: experiences in, attractors and events out.
pub struct Learner {
    encoder: Encoder,
    visual: bool,
    change: Descriptor,
    substrate: Substrate,
    exp: Experience,
    last: Option<Experience>,
    calibrate_left: u64,
    proj: [Vec<f32>; 3],
    hits: Vec<(u32, f32)>,
    /// Counters.
    pub stats: LearnStats,
}

impl Learner {
    /// A learner for a robot with `layout`, configured by `c.encode`, `c.substrate` and
    /// `c.learn` (resuming from `learn.resume` when set).
    pub fn new(c: &Config, layout: Layout) -> Result<Learner, LearnError> {
        let mut encoder = Encoder::new(&c.encode, layout, c.seed);
        // the vision task's descriptor as a modality (segments without one encode zeros)
        let visual = c.vision.enabled && c.vision.encoder_weight > 0.0;
        if visual {
            let w = c.vision.encoder_weight as f32;
            encoder = encoder
                .with_extra_modality("visual", DESCRIPTOR_LEN, w)
                .with_extra_modality("visual_change", DESCRIPTOR_LEN, w);
        }
        let dim = encoder.dim();
        let substrate = if c.learn.resume.is_empty() {
            let mut sc = c.substrate.clone();
            sc.dim = dim as u64;
            Substrate::new(sc)?
        } else {
            let p = c.resolve_path(&c.learn.resume);
            let (s, info) = Substrate::load(&p)?;
            if s.config().dim as usize != dim {
                return Err(LearnError::Dimension {
                    file: p.display().to_string(),
                    snapshot: s.config().dim,
                    encoder: dim,
                });
            }
            tracing::info!(file = %p.display(), attractors = s.len(), step = info.step, "substrate resumed");
            s
        };
        let mut l = Self::with_parts(encoder, substrate, c.learn.calibration_windows as u64);
        l.visual = visual;
        Ok(l)
    }

    /// A learner from an encoder and a substrate of the same dimension (no visual modality).
    pub fn with_parts(encoder: Encoder, substrate: Substrate, calibration: u64) -> Learner {
        let dim = encoder.dim();
        // a fixed, seeded projection R^D -> R^3 (3 orthogonal +-1/sqrt(D) sign vectors are
        // close to orthonormal for D >= 64), so the markers keep neighbourhoods
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x005a_777a);
        let s = 1.0 / (dim as f32).sqrt();
        let proj = [0, 1, 2].map(|_| {
            (0..dim)
                .map(|_| if rng.gen::<bool>() { s } else { -s })
                .collect::<Vec<f32>>()
        });
        Learner {
            exp: Experience::new(dim),
            visual: false,
            change: Descriptor::default(),
            encoder,
            substrate,
            last: None,
            calibrate_left: calibration,
            proj,
            hits: Vec::with_capacity(MAX_QUERY_K + 1),
            stats: LearnStats::default(),
        }
    }

    /// The substrate.
    pub fn substrate(&self) -> &Substrate {
        &self.substrate
    }

    /// The substrate, mutably (labels, snapshots).
    pub fn substrate_mut(&mut self) -> &mut Substrate {
        &mut self.substrate
    }

    /// Experience dimension.
    pub fn dim(&self) -> usize {
        self.encoder.dim()
    }

    /// The most recent experience, if any.
    pub fn last_experience(&self) -> Option<&Experience> {
        self.last.as_ref()
    }

    /// Encodes and learns one segment; events go to `emit` (recognised, then created or
    /// strengthened, then merged / pruned). Returns what the substrate did (None while
    /// calibrating or when the encoder rejected the input).
    pub fn learn(
        &mut self,
        seg: &Segment,
        mut emit: impl FnMut(AttractorEvent),
    ) -> Result<Option<crate::substrate::Learned>, LearnError> {
        self.stats.experiences += 1;
        let calibrating = self.calibrate_left > 0;
        self.encoder.set_learn_stats(calibrating);
        let encoded = if self.visual {
            let (b, a) = seg.visual.unwrap_or_default();
            for (c, (x, y)) in self.change.0.iter_mut().zip(a.0.iter().zip(&b.0)) {
                *c = x - y;
            }
            let dim = self.encoder.dim();
            self.exp.dim = dim;
            self.exp.t = seg.after.t;
            self.encoder.encode_with(
                &seg.before,
                &seg.cmd,
                &seg.after,
                &[&a.0[..], &self.change.0[..]],
                &mut self.exp.v[..dim],
            )
        } else {
            self.encoder
                .encode(&seg.before, &seg.cmd, &seg.after, &mut self.exp)
        };
        if let Err(e) = &encoded {
            tracing::debug!(error = %e, "experience rejected by the encoder");
            self.stats.rejected += 1;
            return Ok(None);
        }
        match &mut self.last {
            Some(l) => l.clone_from(&self.exp),
            None => self.last = Some(self.exp.clone()),
        }
        if calibrating {
            self.calibrate_left -= 1;
            self.stats.calibrated += 1;
            return Ok(None);
        }
        let t = seg.after.t;
        let v = self.exp.as_slice();
        let vigilance = self.substrate.config().vigilance as f32;
        // recognition: the best-matching attractor of an activation (temporal context kept)
        let best = self
            .substrate
            .activate(t, v)?
            .iter()
            .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
            .copied();
        if let Some(m) = best.filter(|m| m.similarity >= vigilance) {
            self.stats.recognised += 1;
            emit(self.event(t, EventKind::Recognised, m.id, m.similarity));
        }
        let l = self.substrate.learn(t, v)?;
        self.stats.learned += 1;
        if let Some(e) = l.evicted {
            emit(AttractorEvent {
                t,
                kind: EventKind::Pruned,
                id: e.0,
                similarity: 0.0,
                strength: 0.0,
                count: 0,
            });
        }
        if let Some(m) = l.merged {
            emit(AttractorEvent {
                t,
                kind: EventKind::Merged,
                id: m.0,
                similarity: l.similarity,
                strength: 0.0,
                count: 0,
            });
        }
        let kind = if l.created {
            self.stats.created += 1;
            EventKind::Created
        } else {
            EventKind::Strengthened
        };
        emit(self.event(t, kind, l.id, l.similarity));
        self.stats.attractors = self.substrate.len() as u64;
        Ok(Some(l))
    }

    fn event(&self, t: Time, kind: EventKind, id: AttractorId, similarity: f32) -> AttractorEvent {
        let (strength, count) = self
            .substrate
            .attractor(id, t)
            .map_or((0.0, 0), |a| (a.strength, a.activation_count as u32));
        AttractorEvent {
            t,
            kind,
            id: id.0,
            similarity,
            strength,
            count,
        }
    }

    /// One attractor as shown to ROS (None when `id` is not live).
    pub fn info(&self, id: AttractorId, t: Time) -> Option<AttractorInfo> {
        let a = self.substrate.attractor(id, t)?;
        let mut position = [0.0f32; 3];
        for (p, w) in position.iter_mut().zip(&self.proj) {
            *p = crate::encode::cosine(a.center, w) * (w.len() as f32).sqrt().min(16.0) * 0.25;
        }
        Some(AttractorInfo {
            id: id.0,
            strength: a.strength,
            count: a.activation_count.min(u32::MAX as u64) as u32,
            radius: a.radius,
            last_active: a.last_activation,
            label: a
                .labels
                .first()
                .map_or_else(ArrayString::new, |l| truncated(l)),
            position,
        })
    }

    /// Fills `out` with the live attractors at time `t`.
    pub fn fill_set(&self, t: Time, out: &mut AttractorSet) {
        out.t = t;
        out.step = self.substrate.step();
        out.stats = self.stats;
        out.attractors.clear();
        for id in self.substrate.ids() {
            if let Some(i) = self.info(id, t) {
                out.attractors.push(i);
            }
        }
    }

    /// The `k` attractors nearest to `pattern` (empty: the last experience), most similar first.
    /// A read-only lookup: no activation, no learning.
    pub fn query(
        &mut self,
        t: Time,
        pattern: &[f32],
        k: usize,
        out: &mut ArrayVec<(AttractorInfo, f32), MAX_QUERY_K>,
    ) -> Result<(), String> {
        out.clear();
        let k = k.clamp(1, MAX_QUERY_K);
        let dim = self.dim();
        let mut q = [0.0f32; MAX_PATTERN];
        if pattern.is_empty() {
            let Some(l) = &self.last else {
                return Err("no experience yet: give a pattern".into());
            };
            q[..dim].copy_from_slice(l.as_slice());
        } else {
            if pattern.len() != dim {
                return Err(format!(
                    "pattern has {} values; the encoder's dimension is {dim}",
                    pattern.len()
                ));
            }
            if pattern.iter().any(|x| !x.is_finite()) {
                return Err("pattern has non-finite values".into());
            }
            let n = pattern.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n < 1e-12 {
                return Err("pattern is all zeros".into());
            }
            for (d, s) in q.iter_mut().zip(pattern) {
                *d = s / n;
            }
        }
        if self.substrate.is_empty() {
            return Ok(());
        }
        let mut hits = std::mem::take(&mut self.hits);
        self.substrate.index_mut().search(&q[..dim], k, &mut hits);
        for &(slot, sim) in &hits {
            if let Some(i) = self.info(AttractorId(slot), t) {
                if out.try_push((i, sim)).is_err() {
                    break;
                }
            }
        }
        self.hits = hits;
        Ok(())
    }
}

/// The learn task's end of the learn <-> ROS channels.
pub struct LearnPorts {
    events: RingTx<AttractorEvent>,
    set: LatestTx<AttractorSet>,
    requests: RingRx<LearnRequest>,
    replies: RingTx<LearnReply>,
}

/// The ROS node's end of the learn <-> ROS channels.
pub struct LearnRosSide {
    /// Attractor events, in order.
    pub events: RingRx<AttractorEvent>,
    /// The newest attractor set.
    pub set: LatestRx<AttractorSet>,
    /// Requests to the learn task (full: the service answers "busy").
    pub requests: RingTx<LearnRequest>,
    /// Replies of the learn task.
    pub replies: RingRx<LearnReply>,
}

/// Creates the learn <-> ROS channels (allocated here, once).
pub fn learn_bridge(capacity: usize) -> (LearnPorts, LearnRosSide) {
    let (etx, erx) = ring(capacity.max(2));
    let (stx, srx) = latest(AttractorSet::default());
    let (qtx, qrx) = ring(8);
    let (rtx, rrx) = ring(8);
    (
        LearnPorts {
            events: etx,
            set: stx,
            requests: qrx,
            replies: rtx,
        },
        LearnRosSide {
            events: erx,
            set: srx,
            requests: qtx,
            replies: rrx,
        },
    )
}

/// The scheduler task that learns from the control task's segments.
pub struct LearnTask {
    learner: Learner,
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
    done: Option<std::sync::mpsc::Sender<LearnSummary>>,
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
}

impl LearnTask {
    /// A learn task over `learner`, fed by `segments`, talking to ROS through `ports`.
    pub fn new(
        c: &Config,
        learner: Learner,
        segments: RingRx<Segment>,
        ports: Option<LearnPorts>,
        done: std::sync::mpsc::Sender<LearnSummary>,
    ) -> Result<LearnTask, LearnError> {
        let snapshot_path =
            (!c.learn.snapshot.is_empty()).then(|| c.resolve_path(&c.learn.snapshot));
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
        let set_period_ns = c.learn.set_period_ms as i64 * 1_000_000;
        let snapshot_period_ns = (c.learn.snapshot_period_s * 1e9) as i64;
        Ok(LearnTask {
            learner,
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
        })
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
                    self.learner.substrate.set_parent_hash(info.hash);
                    self.learner.stats.snapshots += 1;
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
                    self.learner.stats.snapshot_errors += 1;
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
        if w.submit(self.learner.substrate.snapshot_view()) {
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
                            self.learner.dim()
                        ))
                    } else {
                        self.learner
                            .query(self.last_t, &pattern, k as usize, &mut out)
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
            }
        }
    }
}

impl Task for LearnTask {
    fn run_once(&mut self, _job: &Job) {
        while let Some(seg) = self.segments.pop() {
            self.last_t = seg.after.t;
            let ports = &mut self.ports;
            let mut dropped = 0u64;
            let r = self.learner.learn(&seg, |e| {
                if let Some(p) = ports.as_mut() {
                    if !p.events.push(e) {
                        dropped += 1;
                    }
                }
            });
            self.learner.stats.events_dropped += dropped;
            if let Err(e) = r {
                tracing::warn!(error = %e, "learn");
            }
        }
        // link (at most) one deferred attractor into the similarity graph per job: bounded
        // work off the learn path (see `Substrate::maintain`)
        self.learner.substrate.maintain(1);
        self.poll_writer();
        self.serve();
        let t = self.last_t.0;
        if self.snapshot_period_ns > 0 && t >= self.next_snapshot {
            self.next_snapshot = t + self.snapshot_period_ns;
            self.snapshot(0);
        }
        if t >= self.next_set {
            self.next_set = t + self.set_period_ns;
            if let Some(p) = &mut self.ports {
                let l = &self.learner;
                let tt = self.last_t;
                p.set.write_with(|s| l.fill_set(tt, s));
            }
        }
    }

    fn stop(&mut self) {
        let mut summary = LearnSummary {
            stats: self.learner.stats,
            segments_dropped: self.segments.dropped(),
            snapshot: None,
        };
        // the final snapshot, written synchronously (the executor is stopping: not RT anymore)
        if let Some(w) = self.writer.take() {
            let _ = w.finish();
            if let Some(p) = &self.snapshot_path {
                if self.learner.stats.learned > 0 {
                    match self.learner.substrate.save(p) {
                        Ok(_) => {
                            summary.stats.snapshots += 1;
                            summary.snapshot = Some(p.clone());
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
            let _ = tx.send(summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(t: i64, q: f64) -> FusedState {
        let mut s = FusedState {
            t: Time(t),
            ..Default::default()
        };
        s.validity.orientation = true;
        s.joint_position.push(q);
        s
    }

    fn pos(v: f64) -> Command {
        let mut c = Command::hold(Time::ZERO);
        c.mode = CommandMode::Position;
        c.values.push(v);
        c
    }

    #[test]
    fn segmenter_cuts_windows_with_mean_command() {
        let mut s = Segmenter::new(4);
        assert!(s.push(&state(0, 0.0), &pos(1.0)).is_none()); // start
        for i in 1..4 {
            assert!(s.push(&state(i, i as f64), &pos(i as f64)).is_none());
        }
        let seg = s.push(&state(4, 4.0), &pos(4.0)).cloned().unwrap();
        assert_eq!(seg.before.t, Time(0));
        assert_eq!(seg.after.t, Time(4));
        assert_eq!(seg.cmd.mode, CommandMode::Position);
        assert!((seg.cmd.values[0] - 2.5).abs() < 1e-12); // mean of 1..=4
                                                          // the next window starts at the previous end
        for i in 5..8 {
            assert!(s.push(&state(i, 0.0), &Command::hold(Time(i))).is_none());
        }
        let seg = s
            .push(&state(8, 0.0), &Command::hold(Time(8)))
            .cloned()
            .unwrap();
        assert_eq!(seg.before.t, Time(4));
        assert_eq!(seg.cmd.mode, CommandMode::Hold);
    }

    #[test]
    fn invalid_orientation_restarts_the_window() {
        let mut s = Segmenter::new(2);
        s.push(&state(0, 0.0), &pos(0.0));
        s.push(&state(1, 0.0), &pos(0.0));
        let mut bad = state(2, 0.0);
        bad.validity.orientation = false;
        assert!(s.push(&bad, &pos(0.0)).is_none());
        assert!(s.push(&state(3, 0.0), &pos(0.0)).is_none()); // new start
        assert!(s.push(&state(4, 0.0), &pos(0.0)).is_none());
        assert_eq!(
            s.push(&state(5, 0.0), &pos(0.0)).map(|g| g.before.t),
            Some(Time(3))
        );
    }

    #[test]
    fn labels_are_cut_at_char_boundaries() {
        let l = truncated::<MAX_LABEL>(&"é".repeat(40));
        assert!(l.len() <= MAX_LABEL && l.chars().all(|c| c == 'é'));
    }
}
