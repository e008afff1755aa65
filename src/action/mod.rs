//! The action stage: what the agent commands (exploration, motor primitives generated from the
//! robot's description), and the safety clamp every command passes through.

pub mod clamp;
pub mod curriculum;
pub mod explore;
pub mod perform;
mod plan;
pub mod primitive;

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

pub use clamp::{ClampConfig, SafetyClamp};
pub use curriculum::{CurriculumSource, PlanRequest, Prepare};
pub use explore::SineExplorer;
pub use perform::{PerformEnd, PerformError, PerformGoal, PerformSource, PerformTrial, Performer};
pub use plan::{Mark, Role, Tag};
pub use primitive::{PrimitiveParams, PrimitiveRun, PrimitiveSet, PrimitivesConfig};

use crate::types::Command;

/// The `action:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionConfig {
    /// Velocity and effort limits of the safety clamp.
    pub clamp: ClampConfig,
    /// What drives the robot in mode `explore` (the agent's own mode).
    pub source: SourceKind,
    /// The exploration source.
    pub explore: ExploreConfig,
    /// How the motor primitives are generated from the robot.
    pub primitives: PrimitivesConfig,
}

/// `action.source`: the agent's own command source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `recorded` on the replay backend, `explore` elsewhere.
    #[default]
    Auto,
    /// Smooth seeded joint motion around the start pose ([`SineExplorer`]).
    Explore,
    /// The curriculum of motor primitives ([`CurriculumSource`]; `eval:` section).
    Curriculum,
    /// The commands recorded in the replayed log (replay backend).
    Recorded,
    /// Hold position.
    Hold,
}

/// `action.explore`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExploreConfig {
    /// Largest sum of sine amplitudes per joint around the start pose, rad.
    pub amplitude: f64,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig { amplitude: 0.3 }
    }
}

impl Validate for ActionConfig {
    fn validate(&self, c: &mut Checker) {
        c.section("clamp", |c| self.clamp.validate(c));
        c.section("explore", |c| {
            c.range_f64("amplitude", self.explore.amplitude, 0.0, 10.0)
        });
        c.section("primitives", |c| self.primitives.validate(c));
    }
}

/// Who drives the robot (`sattva/mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ControlMode {
    /// The agent's own command source (`action.source`; default).
    #[default]
    Explore,
    /// Hold position (safe state).
    Hold,
    /// Operator commands drive the robot; stale commands fall back to hold.
    External,
}

impl ControlMode {
    /// Parses the mode topic's text (`explore`, `hold`, `external`), case-insensitive.
    pub fn parse(s: &str) -> Option<ControlMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "explore" | "auto" => Some(ControlMode::Explore),
            "hold" | "stop" => Some(ControlMode::Hold),
            "external" | "command" => Some(ControlMode::External),
            _ => None,
        }
    }
}

/// Operator input to the control loop (from the ROS node, through a lock-free ring). Unboxed:
/// boxing the command would allocate on the RT path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorInput {
    /// Switch the control mode.
    Mode(ControlMode),
    /// An operator command (used in [`ControlMode::External`]).
    Command(Command),
    /// Reset the world (simulation / replay); answered with the request id.
    Reset {
        /// Echoed in the reply.
        request_id: u64,
    },
    /// Perform an attractor's action memory from the current pose (any mode but hold).
    Perform(PerformGoal),
    /// Cancel the performance under way: the loop holds (mode hold).
    CancelPerform,
}
