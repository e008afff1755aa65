//! sattva: a real-time embodied learning agent for ROS 2.
//!
//! One control cycle, top-down (see `ARCHITECTURE.md` of the project):
//!
//! ```text
//! backend.read(t) -> SensorFrame -> fusion -> FusedState -> action -> safety clamp -> backend.write(t)
//!                                        \-> encode -> Experience -> substrate.learn / activate
//! ```
//!
//! Modules follow the pipeline stages. Native parts are behind features: `mujoco`, `render`,
//! `ros2`, `realsense`; the core (config, types, stages) builds and tests without them.

#![warn(missing_docs)]

pub mod action;
pub mod alloc_count;
pub mod backend;
pub mod config;
pub mod pipeline;
#[cfg(feature = "mujoco")]
pub mod sim;
pub mod substrate;
pub mod types;
