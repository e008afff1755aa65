//! Replay of rosbag2 bags: the `sattva replay` driver (the agent over the replay backend), its
//! evaluation report, and `--publish` (a bag onto ROS 2 topics). Reading bags lives in
//! `record::reader`, the topic-to-input mapping (`replay:` section) with the replay backend;
//! both are re-exported here.
//!
//! ```yaml
//! sattva:
//!   ros__parameters:
//!     replay:
//!       bag: ../data/run1          # bag directory or a single .mcap/.db3 file
//!       imu_topic: /imu/data
//!       joint_states_topic: /joint_states
//!       rate: 0.0                  # 0 = as fast as possible, k = k x real time
//! ```

pub mod baginfo;
#[cfg(feature = "ros2")]
pub mod controls;
pub mod player;
#[cfg(feature = "ros2")]
pub mod publish;
pub mod report;
pub mod run;

pub use crate::backend::replay_config::{Input, ReplayConfig};
pub use crate::record::reader::{self, Bag, BagMessage, ReplayError, Storage, TopicInfo};
