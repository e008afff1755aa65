//! The curriculum of motor primitives, the literacy evaluation (`sattva eval literacy`) and the
//! evaluation of performing what was learned (`sattva eval perform`).
//!
//! ```text
//! curriculum (seeded) -> scenarios (primitive + amplitude, speed, object position and mass, seed)
//!   -> the agent (virtual time) performs them as its command source: world set up, settle,
//!      primitive through the control loop (read -> fuse -> act -> clamp -> write)
//!   -> experience = encoder(state before, command summary, state after; + trajectory profile)
//!   -> substrate.learn (training) / substrate.activate (recognition of novel scenarios)
//!   -> metrics (attractors, purity, NMI, recognition accuracy) + report + exported vectors
//! ```

pub mod metrics;

#[cfg(feature = "mujoco")]
pub mod baselines;
#[cfg(feature = "mujoco")]
pub mod grounding;
#[cfg(feature = "mujoco")]
pub mod literacy;
#[cfg(feature = "mujoco")]
pub mod peers;
#[cfg(feature = "mujoco")]
pub mod perform;
#[cfg(feature = "mujoco")]
pub mod report;

/// Errors of the evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] crate::agent::AgentError),
    /// The scene does not fit the curriculum.
    #[error("{0}")]
    Scene(String),
    /// The learner failed.
    #[error(transparent)]
    Learn(#[from] crate::learn::LearnError),
    /// A snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] crate::substrate::snapshot::SnapshotError),
    /// Writing the report or the export failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The baselines script failed.
    #[error("baselines: {0}")]
    Baselines(String),
}

pub use crate::action::curriculum::{curriculum, EvalConfig, Scenario, Split, Variation};
