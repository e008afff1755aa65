//! Writes a rosbag2 bag directory: `<name>_0.mcap` (profile `ros2`, schemas `ros2msg`, messages
//! `cdr`) and a version-9 `metadata.yaml`, as `ros2 bag record -s mcap` on Jazzy does.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::metadata::{
    BagMetadata, FileInfo, MetadataFile, NanosSinceEpoch, Nanoseconds, TopicMetadata,
    TopicWithCount,
};
use super::msgs::{encode_into, schema_text, RosMessage};
use super::RecordError;

/// The QoS sattva publishes with (rclcpp's default: reliable, volatile, keep last 10), as the
/// version-9 list rosbag2 Jazzy writes (`metadata.yaml`, and as YAML text in MCAP channels).
fn default_qos() -> serde_norway::Value {
    let text = "- history: keep_last\n  depth: 10\n  reliability: reliable\n  durability: volatile\n  \
                deadline: {sec: 0, nsec: 0}\n  lifespan: {sec: 0, nsec: 0}\n  liveliness: automatic\n  \
                liveliness_lease_duration: {sec: 0, nsec: 0}\n  avoid_ros_namespace_conventions: false\n";
    serde_norway::from_str(text).unwrap_or(serde_norway::Value::Sequence(Vec::new()))
}

/// Handle of a topic added to a [`BagWriter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopicId(pub u16);

/// Options of a [`BagWriter`].
#[derive(Clone, Debug, PartialEq)]
pub struct WriterOptions {
    /// Compress chunks with zstd (rosbag2's `--compression-mode message` equivalent inside MCAP).
    pub zstd: bool,
    /// Target chunk size, bytes.
    pub chunk_size: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            zstd: true,
            chunk_size: 1 << 20,
        }
    }
}

struct WTopic {
    name: String,
    type_name: String,
    channel: u16,
    count: u64,
}

/// What a finished bag holds.
#[derive(Clone, Debug, PartialEq)]
pub struct BagSummary {
    /// The bag directory.
    pub dir: PathBuf,
    /// Messages written.
    pub message_count: u64,
    /// First and last log time, ns (0, 0 when empty).
    pub time_range: (i64, i64),
}

/// Writes one rosbag2 bag directory with MCAP storage.
pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    mcap: mcap::Writer<BufWriter<File>>,
    topics: Vec<WTopic>,
    first: i64,
    last: i64,
    count: u64,
    seq: u32,
    buf: Vec<u8>,
}

impl BagWriter {
    /// Creates the bag directory `dir` (it must not exist, like `ros2 bag record -o`).
    pub fn create(dir: &Path, opts: &WriterOptions) -> Result<BagWriter, RecordError> {
        let io = |source| RecordError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if dir.exists() {
            return Err(RecordError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let stem = dir
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("bag");
        let file_name = format!("{stem}_0.mcap");
        let path = dir.join(&file_name);
        let file = File::create(&path).map_err(|source| RecordError::Io {
            path: path.clone(),
            source,
        })?;
        let mcap = mcap::WriteOptions::new()
            .profile("ros2")
            .library("sattva")
            .compression(opts.zstd.then_some(mcap::Compression::Zstd))
            .chunk_size(Some(opts.chunk_size))
            .create(BufWriter::new(file))
            .map_err(|e| RecordError::Mcap {
                path: path.clone(),
                message: e.to_string(),
            })?;
        Ok(BagWriter {
            dir: dir.to_path_buf(),
            file_name,
            mcap,
            topics: Vec::new(),
            first: i64::MAX,
            last: i64::MIN,
            count: 0,
            seq: 0,
            buf: Vec::new(),
        })
    }

    fn mcap_err(&self, e: mcap::McapError) -> RecordError {
        RecordError::Mcap {
            path: self.dir.join(&self.file_name),
            message: e.to_string(),
        }
    }

    /// Adds a topic of a type `pkg/msg/Name` with its `ros2msg` definition. When `definition` is
    /// `None` the definition of a type this crate knows is used; unknown types without a
    /// definition are an error (a bag without schemas cannot be decoded by others).
    pub fn add_topic(
        &mut self,
        name: &str,
        type_name: &str,
        definition: Option<&str>,
    ) -> Result<TopicId, RecordError> {
        if let Some(i) = self.topics.iter().position(|t| t.name == name) {
            if self.topics[i].type_name != type_name {
                return Err(RecordError::Topic {
                    topic: name.into(),
                    message: format!(
                        "already added with type `{}`, now `{type_name}`",
                        self.topics[i].type_name
                    ),
                });
            }
            return Ok(TopicId(i as u16));
        }
        let def = match definition {
            Some(d) => d.to_string(),
            None => schema_text(type_name).ok_or_else(|| RecordError::Topic {
                topic: name.into(),
                message: format!("no message definition known for `{type_name}`; pass one"),
            })?,
        };
        let schema = self
            .mcap
            .add_schema(type_name, "ros2msg", def.as_bytes())
            .map_err(|e| self.mcap_err(e))?;
        let mut meta = BTreeMap::new();
        meta.insert(
            "offered_qos_profiles".to_string(),
            serde_norway::to_string(&default_qos())
                .unwrap_or_default()
                .trim()
                .to_string(),
        );
        meta.insert("topic_type_hash".to_string(), String::new());
        let channel = self
            .mcap
            .add_channel(schema, name, "cdr", &meta)
            .map_err(|e| self.mcap_err(e))?;
        if self.topics.len() >= u16::MAX as usize {
            return Err(RecordError::Topic {
                topic: name.into(),
                message: "too many topics".into(),
            });
        }
        self.topics.push(WTopic {
            name: name.into(),
            type_name: type_name.into(),
            channel,
            count: 0,
        });
        Ok(TopicId((self.topics.len() - 1) as u16))
    }

    /// Adds a topic of a message type this crate knows.
    pub fn add_topic_for<M: RosMessage>(&mut self, name: &str) -> Result<TopicId, RecordError> {
        self.add_topic(name, M::TYPE_NAME, None)
    }

    /// Writes one serialized message (CDR with its header).
    pub fn write_raw(
        &mut self,
        topic: TopicId,
        log_time: i64,
        publish_time: i64,
        cdr: &[u8],
    ) -> Result<(), RecordError> {
        let t = self
            .topics
            .get_mut(topic.0 as usize)
            .ok_or_else(|| RecordError::Topic {
                topic: format!("#{}", topic.0),
                message: "unknown topic id".into(),
            })?;
        if log_time < 0 || publish_time < 0 {
            return Err(RecordError::Topic {
                topic: t.name.clone(),
                message: format!("negative time {log_time} ns"),
            });
        }
        t.count += 1;
        let header = mcap::records::MessageHeader {
            channel_id: t.channel,
            sequence: self.seq,
            log_time: log_time as u64,
            publish_time: publish_time as u64,
        };
        self.seq = self.seq.wrapping_add(1);
        self.first = self.first.min(log_time);
        self.last = self.last.max(log_time);
        self.count += 1;
        self.mcap
            .write_to_known_channel(&header, cdr)
            .map_err(|e| self.mcap_err(e))
    }

    /// Encodes and writes a typed message. `publish_time` = `log_time`.
    pub fn write<M: RosMessage>(
        &mut self,
        topic: TopicId,
        log_time: i64,
        msg: &M,
    ) -> Result<(), RecordError> {
        let mut buf = std::mem::take(&mut self.buf);
        encode_into(msg, &mut buf);
        let r = self.write_raw(topic, log_time, log_time, &buf);
        self.buf = buf;
        r
    }

    /// Messages written so far.
    pub fn message_count(&self) -> u64 {
        self.count
    }

    /// Finishes the MCAP file (summary, footer) and writes `metadata.yaml`.
    pub fn finish(mut self) -> Result<BagSummary, RecordError> {
        self.mcap.finish().map_err(|e| self.mcap_err(e))?;
        let (first, last) = if self.count == 0 {
            (0, 0)
        } else {
            (self.first, self.last)
        };
        let duration = Nanoseconds {
            nanoseconds: last - first,
        };
        let start = NanosSinceEpoch {
            nanoseconds_since_epoch: first,
        };
        let meta = MetadataFile {
            rosbag2_bagfile_information: BagMetadata {
                version: 9,
                storage_identifier: "mcap".into(),
                relative_file_paths: vec![self.file_name.clone()],
                duration,
                starting_time: start,
                message_count: self.count,
                topics_with_message_count: self
                    .topics
                    .iter()
                    .map(|t| TopicWithCount {
                        topic_metadata: TopicMetadata {
                            name: t.name.clone(),
                            type_name: t.type_name.clone(),
                            serialization_format: "cdr".into(),
                            offered_qos_profiles: default_qos(),
                            type_description_hash: String::new(),
                        },
                        message_count: t.count,
                    })
                    .collect(),
                compression_format: String::new(),
                compression_mode: String::new(),
                files: vec![FileInfo {
                    path: self.file_name.clone(),
                    starting_time: start,
                    duration,
                    message_count: self.count,
                }],
                custom_data: None,
                ros_distro: Some("jazzy".into()),
            },
        };
        let path = self.dir.join("metadata.yaml");
        let text = meta.to_yaml().map_err(|message| RecordError::Mcap {
            path: path.clone(),
            message,
        })?;
        std::fs::write(&path, text).map_err(|source| RecordError::Io { path, source })?;
        Ok(BagSummary {
            dir: self.dir.clone(),
            message_count: self.count,
            time_range: (first, last),
        })
    }
}
