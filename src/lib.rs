//! sattva: a real-time embodied learning agent for ROS 2.
//!
//! One control cycle, top-down (see `docs/ARCHITECTURE.md`: the assembly, the task graph, the modes):
//!
//! ```text
//! backend.read(t) -> SensorFrame -> fusion -> FusedState -> action -> safety clamp -> backend.write(t)
//!                                        \-> encode -> Experience -> substrate.learn / activate
//! ```
//!
//! Modules follow the pipeline stages. Native parts are behind features: `mujoco`, `render`,
//! `ros2`, `realsense`, `opencv`; the core (config, types, stages) builds and tests without them.

#![warn(missing_docs)]

pub mod action;
pub mod agent;
pub mod alloc_count;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod config;
pub mod encode;
pub mod eval;
pub mod fusion;
pub mod learn;
pub mod pipeline;
pub mod record;
pub mod repeat;
pub mod replay;
pub mod ros;
pub mod run;
pub mod sched;
#[cfg(feature = "mujoco")]
pub mod sim;
pub mod substrate;
pub mod types;
pub mod validate;
pub mod vision;
