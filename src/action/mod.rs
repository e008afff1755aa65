//! The action stage: what the agent commands (exploration, motor primitives), and the safety
//! clamp every command passes through.

pub mod clamp;
pub mod explore;
pub mod ik;
pub mod primitive;

use serde::{Deserialize, Serialize};

use crate::config::{Checker, Validate};

pub use clamp::{ClampConfig, SafetyClamp};
pub use explore::SineExplorer;
pub use primitive::{Primitive, PrimitiveParams, PrimitiveRun, PRIMITIVES};

/// The `action:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionConfig {
    /// Velocity and effort limits of the safety clamp.
    pub clamp: ClampConfig,
}

impl Validate for ActionConfig {
    fn validate(&self, c: &mut Checker) {
        c.section("clamp", |c| self.clamp.validate(c));
    }
}
