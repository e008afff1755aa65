//! The action stage: what the agent commands, and the safety clamp every command passes through.

pub mod clamp;
pub mod explore;

pub use clamp::SafetyClamp;
pub use explore::SineExplorer;
