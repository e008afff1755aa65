//! `metadata.yaml` of a rosbag2 bag directory (read: versions 1..9 as written by rosbag2 and
//! `rosbags`; write: version 9, what rosbag2 Jazzy writes).

use serde::{Deserialize, Serialize};

/// The file's top level: `rosbag2_bagfile_information: {...}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataFile {
    /// The bag's information.
    pub rosbag2_bagfile_information: BagMetadata,
}

/// A duration in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nanoseconds {
    /// Nanoseconds.
    #[serde(default)]
    pub nanoseconds: i64,
}

/// A time in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NanosSinceEpoch {
    /// Nanoseconds since the epoch.
    #[serde(default)]
    pub nanoseconds_since_epoch: i64,
}

/// `rosbag2_bagfile_information`. Unknown keys are ignored (newer rosbag2 versions add keys).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BagMetadata {
    /// Metadata format version.
    pub version: u32,
    /// `mcap` or `sqlite3`.
    pub storage_identifier: String,
    /// Storage files, relative to the bag directory.
    pub relative_file_paths: Vec<String>,
    /// Time from the first to the last message.
    pub duration: Nanoseconds,
    /// Log time of the first message.
    pub starting_time: NanosSinceEpoch,
    /// Messages in the bag.
    pub message_count: u64,
    /// Topics and their message counts.
    pub topics_with_message_count: Vec<TopicWithCount>,
    /// `zstd` or empty.
    pub compression_format: String,
    /// `FILE`, `MESSAGE` or empty.
    pub compression_mode: String,
    /// Per-file information (version >= 5).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    /// Free key/value pairs (version >= 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<std::collections::BTreeMap<String, String>>,
    /// ROS distribution that wrote the bag (version >= 8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ros_distro: Option<String>,
}

/// One entry of `topics_with_message_count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicWithCount {
    /// The topic.
    pub topic_metadata: TopicMetadata,
    /// Messages on it.
    pub message_count: u64,
}

/// A topic's metadata.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Type, `pkg/msg/Name`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `cdr`.
    pub serialization_format: String,
    /// QoS profiles: a YAML string (version <= 8) or a list (version 9).
    pub offered_qos_profiles: serde_norway::Value,
    /// RIHS01 type hash (version >= 7), may be empty.
    pub type_description_hash: String,
}

/// One entry of `files`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileInfo {
    /// Path relative to the bag directory.
    pub path: String,
    /// First message's log time.
    pub starting_time: NanosSinceEpoch,
    /// Time from first to last message.
    pub duration: Nanoseconds,
    /// Messages in the file.
    pub message_count: u64,
}

impl MetadataFile {
    /// Parses `metadata.yaml` text.
    pub fn from_yaml(text: &str) -> Result<MetadataFile, String> {
        serde_norway::from_str(text).map_err(|e| e.to_string())
    }

    /// Serializes to YAML text.
    pub fn to_yaml(&self) -> Result<String, String> {
        serde_norway::to_string(self).map_err(|e| e.to_string())
    }
}
