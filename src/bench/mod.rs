//! Benchmarks (`sattva bench ...`): each prints its figures beside a reference measured in the
//! same run. They sit above the stages they measure; no stage depends on them.

pub mod fusion;
pub mod monitors;
#[cfg(feature = "realsense")]
pub mod realsense;
pub mod replay;
pub mod replay_big;
#[cfg(feature = "ros2")]
pub mod ros;
pub mod sched;
pub mod substrate;
pub mod vision;
