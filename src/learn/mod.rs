//! The one learning path of every mode (`run`, `sim`, `eval`, `replay`): experiences cut from the
//! control stream, encoded and learned by the substrate in the learn task, with what ROS shows
//! of it. Files by role: `segment` (control task side), `learner` (encoder + substrate), `task`
//! (the scheduler task), `bridge` (what crosses to the ROS node).
//!
//! ```text
//!  control task (RT)                     learn task (lower priority, other core)
//!  FusedState, Command ─> Segmenter ─ring─> Learner: encode -> activate (recognise) -> learn
//!                                                │ events ─ring─────────> ROS node: AttractorEvent
//!                                                │ attractor set ─latest─> AttractorSet, MarkerArray
//!                                                └ requests <─ring─ / replies ─ring─> services
//! ```
//! * [`Segmenter`] runs in the control task: every `learn.window_ms` (or, for a curriculum, at
//!   each episode's end) it emits the fused state at the start and end, the mean command in
//!   between and the course's profiles. Fixed-size values: no heap.
//! * [`Learner`] holds the encoder and the substrate (non-RT: may allocate when the substrate
//!   grows; `learn`/`activate` have the substrate's bounded cost). The first
//!   `learn.calibration_windows` experiences only calibrate the encoder's feature statistics.
//! * [`LearnTask`] is the scheduler task around a learner; it talks to the ROS node only through
//!   the lock-free [`learn_bridge`]: a stalled node costs dropped (counted) events, nothing more.

mod bridge;
mod learner;
mod peer;
mod segment;
mod task;

pub use bridge::{
    bridge_text, learn_bridge, AttractorEvent, AttractorInfo, AttractorSet, EventKind, LearnPorts,
    LearnReply, LearnRequest, LearnRosSide, LearnStats, MeaningInfo, MAX_LABEL, MAX_MEANINGS,
    MAX_PATTERN, MAX_QUERY_K, MAX_TEXT,
};
pub use learner::{encoder_for, JournalEntry, Learner};
pub use peer::{
    peer_bridge, truncated_label, Outcome, PeerPorts, PeerReply, PeerRequest, PeerSide, MAX_ACTION,
};
pub use segment::{Mark, Role, Segment, Segmenter, Tag, MAX_BINS};
pub use task::{LearnOutcome, LearnProbe, LearnSummary, LearnTask};

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

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
    /// An operator label (`sattva/label`) names the most recent experience if it was learned
    /// at most this long ago (the learn task's clock), s; else it is refused and counted.
    pub label_window_s: f64,
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
            label_window_s: 5.0,
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
        c.range_f64("label_window_s", self.label_window_s, 0.001, 1.0e6);
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
    /// The lexicon beside the resume snapshot could not be loaded.
    #[error("learn.resume: lexicon: {0}")]
    Lexicon(#[from] crate::language::LanguageError),
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
