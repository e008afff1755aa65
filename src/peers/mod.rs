//! Peer validation: several agents agree on primitives over ROS 2, and a lying peer is caught.
//!
//! Every `sattva peer` process runs its own agent (own training scenarios, own substrate) and
//! a peer thread (`node.rs`, non-RT) that speaks the protocol of `sattva_msgs/Proposal`, `Vote`
//! and `LibraryUpdate` on one ROS 2 domain:
//!
//! ```text
//!  learn task ──Confident──> exchange ──Proposal──> DDS ──> other peers' exchanges
//!  (recent experiences) <──Vote request── exchange <──Proposal── DDS   (check: version, id,
//!         └──(matches, total)──> exchange ──Vote──> DDS ──> every peer   dim, NaN, lineage)
//!  every peer, per proposal, at the deadline or when every live peer voted:
//!    BIAS confidence = mean x 1/(1+std) over the counted votes; >= threshold and quorum ->
//!    library entry (proposer, voters, votes, time), LibraryUpdate, adopt into the substrate;
//!    byzantine statistics over the votes and proposals -> quarantine (/diagnostics, library)
//! ```
//!
//! Comparable spaces: a center means the same in two peers only if their encoders match. The
//! peers of a team share the config's `seed` (the encoder's projection and the calibration
//! scenarios), so their encoders calibrate on the same experiences and end with the same
//! statistics; training scenarios differ per peer (seed offset by the peer id). Every proposal
//! carries the proposer's encoder lineage (SHA-256 of projection, modalities and calibrated
//! statistics, [`crate::encode::Encoder::lineage`]); a peer with another lineage does not
//! compare the vectors: it rejects the proposal and counts it (`lineage_mismatch`).
//!
//! Votes: a peer tests a proposal against its recent experiences (a ring of the last
//! `peers.recent` learned experiences with their labels, in the learn task) with its
//! substrate's recognition rule: an experience is recognised as the proposal when its cosine to
//! the center reaches the substrate's vigilance. `total` = experiences recognised, `matches` =
//! those carrying the proposal's label; confidence = matches / total (total 0: abstain).

pub mod bias;
pub mod byzantine;
pub mod config;
pub mod exchange;
pub mod library;
#[cfg(feature = "ros2")]
pub mod node;
pub mod protocol;

pub use config::PeersConfig;

/// Errors of peer validation.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// ROS 2 failed.
    #[error("ROS 2: {0}")]
    Ros(String),
    /// The library file.
    #[error(transparent)]
    Library(#[from] library::LibraryError),
}
