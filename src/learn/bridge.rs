//! What the learn task exchanges with the ROS node: attractor events, the attractor set,
//! snapshot and query requests and replies, over lock-free rings and a latest-value slot.

use arrayvec::{ArrayString, ArrayVec};

use crate::sched::channel::{latest, ring, LatestRx, LatestTx, RingRx, RingTx};
use crate::types::Time;

/// Longest attractor label carried to ROS, bytes (longer labels are cut at a char boundary).
pub const MAX_LABEL: usize = 32;
/// Most matches a query returns.
pub const MAX_QUERY_K: usize = 32;
/// Largest query pattern (the encoder's largest dimension).
pub const MAX_PATTERN: usize = crate::encode::MAX_DIM;
/// Longest utterance (`sattva/label`, `sattva/understand`), bytes.
pub const MAX_TEXT: usize = 256;
/// Most meanings an understanding returns.
pub const MAX_MEANINGS: usize = 8;

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
    /// An operator's label of what the robot just did (`sattva/label`): grounds the text in
    /// the most recent experience's attractor, or is refused (no experience within
    /// `learn.label_window_s`) and counted.
    Label {
        /// The text (empty when it was longer than [`MAX_TEXT`]: refused).
        text: ArrayString<MAX_TEXT>,
    },
    /// Understand a text in the current context (`sattva/understand`).
    Understand {
        /// Echoed in the reply.
        request_id: u64,
        /// The text.
        text: ArrayString<MAX_TEXT>,
        /// The request's text was longer than [`MAX_TEXT`] (answered with an error).
        too_long: bool,
    },
    /// The performance of a learned attractor (`sattva/perform`): answered with the goal the
    /// control task plays, or an error; after the performance, [`LearnReply::Performed`].
    Perform {
        /// Echoed in the reply and in the performance's tag (`episode`).
        request_id: u32,
        /// The attractor by label (used when `attractor` is None).
        text: ArrayString<MAX_LABEL>,
        /// The request's text was longer than [`MAX_LABEL`] (answered with an error).
        too_long: bool,
        /// The attractor by id.
        attractor: Option<u32>,
        /// Time scale (1 = the attractor's own mean duration).
        speed: f64,
    },
}

/// One meaning of an understood text: attractor id, its first label, confidence.
pub type MeaningInfo = (u32, ArrayString<MAX_LABEL>, f32);

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
    /// Answer to [`LearnRequest::Understand`].
    Understand {
        /// The request's id.
        request_id: u64,
        /// Success.
        ok: bool,
        /// Error text when not ok.
        message: ArrayString<256>,
        /// Meanings, most confident first.
        meanings: ArrayVec<MeaningInfo, MAX_MEANINGS>,
    },
    /// Answer to [`LearnRequest::Perform`]: the goal for the control task, or why not.
    PerformGoal {
        /// The request's id.
        request_id: u32,
        /// The goal, or the error text.
        goal: Result<crate::action::PerformGoal, ArrayString<256>>,
    },
    /// A performance's experience was recognised (or not): sent when its segment arrives.
    Performed {
        /// The performance's id (the request's).
        request_id: u32,
        /// The best-matching attractor (-1: none).
        recognised: i64,
        /// Its similarity.
        similarity: f32,
        /// It matched at or above the substrate's vigilance.
        above_vigilance: bool,
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
    /// Labelled experiences judged before learning (their label was taught before and the
    /// best match had labels).
    pub judged: u64,
    /// Of those, recognised as their own label (the match's majority label).
    pub judged_right: u64,
    /// Operator labels grounded in the most recent experience (`sattva/label`).
    pub labels: u64,
    /// Operator labels refused: no experience within `learn.label_window_s`, or no words.
    pub labels_refused: u64,
}

/// `s` cut to the capacity `N` at a char boundary (fixed-size strings cross the rings).
pub(crate) fn truncated<const N: usize>(s: &str) -> ArrayString<N> {
    let mut out = ArrayString::new();
    for ch in s.chars() {
        if out.try_push(ch).is_err() {
            break;
        }
    }
    out
}

/// `s` as a fixed-size text for the rings (cut at [`MAX_TEXT`] bytes at a char boundary).
pub fn bridge_text(s: &str) -> ArrayString<MAX_TEXT> {
    truncated(s)
}

pub(crate) fn message(s: &str) -> ArrayString<256> {
    truncated(s)
}

/// The learn task's end of the learn <-> ROS channels.
pub struct LearnPorts {
    pub(super) events: RingTx<AttractorEvent>,
    pub(super) set: LatestTx<AttractorSet>,
    pub(super) requests: RingRx<LearnRequest>,
    pub(super) replies: RingTx<LearnReply>,
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
