//! Recording: the CDR codec, typed ROS 2 messages, and a rosbag2 (MCAP) bag writer fed by the
//! RT loop through a bounded lock-free queue.
//!
//! Threads:
//! ```text
//! RT control task --RecordSink::push (no alloc, no lock; full queue drops and counts)-->
//!     ArrayQueue<Sample> --> recorder thread (non-RT): CDR encode -> BagWriter (mcap + metadata.yaml)
//! ```
//!
//! Config (`record:` section; an empty topic name disables that stream):
//! ```yaml
//! record:
//!   enabled: true
//!   dir: ../out/bags
//!   imu_topic: /sattva/imu
//! ```

pub mod cdr;
pub mod metadata;
pub mod msgs;
pub mod reader;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_queue::ArrayQueue;
use serde::{Deserialize, Serialize};

use crate::types::{Command, CommandMode, Imu, JointSample, Time};
use crate::validate::{Checker, Validate};

pub use writer::{BagSummary, BagWriter, TopicId, WriterOptions};

/// Errors while recording. Each names the file or topic.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bag directory already exists.
    #[error("{}: bag directory already exists (rosbag2 does not overwrite bags)", .0.display())]
    Exists(PathBuf),
    /// An OS error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The MCAP writer failed.
    #[error("{}: MCAP: {message}", path.display())]
    Mcap {
        /// The file.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },
    /// A topic cannot be recorded.
    #[error("topic `{topic}`: {message}")]
    Topic {
        /// The topic.
        topic: String,
        /// Why.
        message: String,
    },
    /// The recorder thread panicked or could not be started.
    #[error("recorder thread: {0}")]
    Thread(String),
}

/// The `record:` config section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    /// Record while running.
    pub enabled: bool,
    /// Directory under which each run's bag directory is created (relative to the config file).
    pub dir: String,
    /// Topic for the IMU samples the agent consumes (`sensor_msgs/msg/Imu`); empty = off.
    pub imu_topic: String,
    /// Topic for joint states (`sensor_msgs/msg/JointState`); empty = off.
    pub joint_states_topic: String,
    /// Topic for the commands the agent produces (`std_msgs/msg/Float64MultiArray`, the
    /// command mode in `layout.dim[0].label`); empty = off.
    pub command_topic: String,
    /// Topic for the contact/touch channels (`std_msgs/msg/Float64MultiArray`, one
    /// `layout.dim` per channel labelled with its name); empty = off.
    pub contacts_topic: String,
    /// Topic for the STL monitors' state of every cycle (`sattva_msgs/msg/MonitorState`; only
    /// when `monitors:` has any); empty = off.
    pub monitors_topic: String,
    /// `frame_id` written in IMU headers.
    pub imu_frame_id: String,
    /// Capacity of the RT -> recorder queue, samples.
    pub queue_capacity: u64,
    /// zstd-compress MCAP chunks.
    pub zstd: bool,
    /// MCAP chunk size, bytes.
    pub chunk_size: u64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: "../out/bags".into(),
            imu_topic: "/sattva/imu".into(),
            joint_states_topic: "/sattva/joint_states".into(),
            command_topic: "/sattva/command".into(),
            contacts_topic: "/sattva/contacts".into(),
            monitors_topic: "/sattva/monitors".into(),
            imu_frame_id: "imu_link".into(),
            queue_capacity: 4096,
            zstd: true,
            chunk_size: 1 << 20,
        }
    }
}

impl Validate for RecordConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("queue_capacity", self.queue_capacity, 16, 1 << 20);
        c.range_u64("chunk_size", self.chunk_size, 4096, 1 << 30);
        c.require(!self.dir.is_empty(), "dir", "must not be empty");
        let topics = [
            ("imu_topic", &self.imu_topic),
            ("joint_states_topic", &self.joint_states_topic),
            ("command_topic", &self.command_topic),
            ("contacts_topic", &self.contacts_topic),
            ("monitors_topic", &self.monitors_topic),
        ];
        for (i, (k, t)) in topics.iter().enumerate() {
            if topics[..i].iter().any(|(_, o)| !t.is_empty() && o == t) {
                c.fail(k, format!("`{t}` is used by another stream"));
            }
        }
    }
}

/// One sample the RT loop hands to the recorder. Fixed size, no heap: pushing it is a copy.
// Variants differ in size on purpose: boxing the joint sample would allocate on the RT path.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    /// An IMU sample at time `t`.
    Imu {
        /// Measurement time.
        t: Time,
        /// The sample.
        imu: Imu,
    },
    /// Joint measurements at time `t`.
    Joints {
        /// Measurement time.
        t: Time,
        /// The sample.
        joints: JointSample,
    },
    /// A command the agent produced.
    Command(Command),
    /// Contact/touch forces at time `t`, N.
    Contacts {
        /// Measurement time.
        t: Time,
        /// One force per channel.
        values: crate::types::ContactVec,
    },
    /// Part of the STL monitors' state of one cycle (a cycle is `ceil(monitors / CHUNK)`
    /// consecutive chunks, written as one `MonitorState` once complete).
    Monitors(crate::monitor::MonitorChunk),
}

#[derive(Debug, Default)]
struct Counters {
    pushed: AtomicU64,
    dropped: AtomicU64,
    written: AtomicU64,
}

/// Recorder statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Samples accepted by the queue.
    pub pushed: u64,
    /// Samples dropped because the queue was full.
    pub dropped: u64,
    /// Messages written to the bag.
    pub written: u64,
}

/// Pushes what one control cycle consumed and produced (no allocation, never blocks).
pub fn push_cycle(sink: &RecordSink, frame: &crate::types::SensorFrame, cmd: &Command) {
    if let Some(imu) = frame.imu {
        sink.push(Sample::Imu { t: frame.t, imu });
    }
    if !frame.joints.is_empty() {
        sink.push(Sample::Joints {
            t: frame.t,
            joints: frame.joints.clone(),
        });
    }
    if !frame.contacts.is_empty() {
        sink.push(Sample::Contacts {
            t: frame.t,
            values: frame.contacts.clone(),
        });
    }
    sink.push(Sample::Command(cmd.clone()));
}

/// The RT side of a recorder: cheap to clone, `push` never blocks or allocates.
#[derive(Clone, Debug)]
pub struct RecordSink {
    queue: Arc<ArrayQueue<Sample>>,
    counters: Arc<Counters>,
}

impl RecordSink {
    /// Samples waiting for the writer thread, and the queue's capacity (a virtual-time driver
    /// waits for the writer instead of dropping: recordings of simulated runs are complete).
    pub fn backlog(&self) -> (usize, usize) {
        (self.queue.len(), self.queue.capacity())
    }

    /// Counters so far (pushed, dropped, written).
    pub fn stats(&self) -> RecordStats {
        RecordStats {
            pushed: self.counters.pushed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
        }
    }

    /// Hands a sample to the recorder thread. Returns false (and counts a drop) when the queue
    /// is full. Lock-free, allocation-free.
    pub fn push(&self, s: Sample) -> bool {
        match self.queue.push(s) {
            Ok(()) => {
                self.counters.pushed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The consumer end of a record queue, handed to [`Recorder::start_with`].
#[derive(Debug)]
pub struct SampleSource {
    queue: Arc<ArrayQueue<Sample>>,
    counters: Arc<Counters>,
}

/// A bounded lock-free queue from the RT loop to a recorder: `(producer, consumer)`.
pub fn record_queue(capacity: usize) -> (RecordSink, SampleSource) {
    let queue = Arc::new(ArrayQueue::new(capacity.max(1)));
    let counters = Arc::new(Counters::default());
    (
        RecordSink {
            queue: queue.clone(),
            counters: counters.clone(),
        },
        SampleSource { queue, counters },
    )
}

/// A recorder thread writing one bag directory.
pub struct Recorder {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<BagSummary, RecordError>>>,
    contact_names: Arc<std::sync::Mutex<Vec<String>>>,
    monitor_names: Arc<std::sync::Mutex<Vec<String>>>,
}

struct Topics {
    imu: Option<TopicId>,
    joints: Option<TopicId>,
    command: Option<TopicId>,
    contacts: Option<TopicId>,
    /// Added at the first monitor sample (a run without monitors has no such topic).
    monitors: Option<TopicId>,
    monitors_name: String,
}

impl Recorder {
    /// Creates the bag directory `bag_dir` and starts the recorder thread with a new queue of
    /// `cfg.queue_capacity`. `joint_names` are written in every JointState.
    pub fn start(
        bag_dir: &Path,
        cfg: &RecordConfig,
        joint_names: Vec<String>,
    ) -> Result<(Recorder, RecordSink), RecordError> {
        let (sink, source) = record_queue(cfg.queue_capacity.max(1) as usize);
        let rec = Recorder::start_with(source, bag_dir, cfg, joint_names)?;
        Ok((rec, sink))
    }

    /// Starts the recorder thread on an existing queue (samples already queued are written).
    pub fn start_with(
        source: SampleSource,
        bag_dir: &Path,
        cfg: &RecordConfig,
        joint_names: Vec<String>,
    ) -> Result<Recorder, RecordError> {
        let opts = WriterOptions {
            zstd: cfg.zstd,
            chunk_size: cfg.chunk_size,
        };
        let mut w = BagWriter::create(bag_dir, &opts)?;
        let add = |w: &mut BagWriter, t: &str, ty: &str| -> Result<Option<TopicId>, RecordError> {
            if t.is_empty() {
                Ok(None)
            } else {
                w.add_topic(t, ty, None).map(Some)
            }
        };
        let topics = Topics {
            imu: add(&mut w, &cfg.imu_topic, "sensor_msgs/msg/Imu")?,
            joints: add(
                &mut w,
                &cfg.joint_states_topic,
                "sensor_msgs/msg/JointState",
            )?,
            command: add(&mut w, &cfg.command_topic, "std_msgs/msg/Float64MultiArray")?,
            contacts: add(
                &mut w,
                &cfg.contacts_topic,
                "std_msgs/msg/Float64MultiArray",
            )?,
            monitors: None,
            monitors_name: cfg.monitors_topic.clone(),
        };
        let contact_names: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let monitor_names: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let SampleSource { queue, counters } = source;
        let stop = Arc::new(AtomicBool::new(false));
        let frame_id = cfg.imu_frame_id.clone();
        let thread = {
            let (counters, stop) = (counters.clone(), stop.clone());
            let contact_names = contact_names.clone();
            let monitor_names = monitor_names.clone();
            let mut topics = topics;
            std::thread::Builder::new()
                .name("sattva-recorder".into())
                .spawn(move || {
                    let mut conv = Converter::new(frame_id, joint_names);
                    let mut named = false;
                    loop {
                        let stopping = stop.load(Ordering::Acquire);
                        let mut any = false;
                        while let Some(s) = queue.pop() {
                            any = true;
                            if !named {
                                // the names are set right after start, before any sample
                                if let Ok(n) = contact_names.lock() {
                                    conv.contact_names.clone_from(&n);
                                }
                                if let Ok(n) = monitor_names.lock() {
                                    conv.monitors.names.clone_from(&n);
                                }
                                named = true;
                            }
                            if conv.write(&mut w, &mut topics, &s)? {
                                counters.written.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if stopping {
                            break;
                        }
                        if !any {
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                    }
                    w.finish()
                })
                .map_err(|e| RecordError::Thread(e.to_string()))?
        };
        Ok(Recorder {
            counters,
            stop,
            thread: Some(thread),
            contact_names,
            monitor_names,
        })
    }

    /// Names the contact channels (one `layout.dim` label each in the contacts topic).
    pub fn with_contact_names(self, names: Vec<String>) -> Recorder {
        if let Ok(mut n) = self.contact_names.lock() {
            *n = names;
        }
        self
    }

    /// Names the STL monitors (the `names` of every `MonitorState` written).
    pub fn with_monitor_names(self, names: Vec<String>) -> Recorder {
        if let Ok(mut n) = self.monitor_names.lock() {
            *n = names;
        }
        self
    }

    /// Current counters.
    pub fn stats(&self) -> RecordStats {
        RecordStats {
            pushed: self.counters.pushed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            written: self.counters.written.load(Ordering::Relaxed),
        }
    }

    /// Drains the queue, finishes the bag and returns its summary with the final counters.
    pub fn finish(mut self) -> Result<(BagSummary, RecordStats), RecordError> {
        self.stop.store(true, Ordering::Release);
        let h = self
            .thread
            .take()
            .ok_or_else(|| RecordError::Thread("already finished".into()))?;
        let summary = h
            .join()
            .map_err(|_| RecordError::Thread("panicked".into()))??;
        Ok((summary, self.stats()))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.thread.take() {
            if let Ok(Err(e)) = h.join() {
                tracing::error!("recorder: {e}");
            }
        }
    }
}

/// Turns samples into ROS 2 messages, reusing its message buffers.
struct Converter {
    imu: msgs::Imu,
    joints: msgs::JointState,
    cmd: msgs::Float64MultiArray,
    contacts: msgs::Float64MultiArray,
    contact_names: Vec<String>,
    monitors: msgs::MonitorState,
    monitor_state: crate::monitor::MonitorState,
}

impl Converter {
    fn new(frame_id: String, joint_names: Vec<String>) -> Converter {
        let mut imu = msgs::Imu {
            header: msgs::Header {
                stamp: msgs::Time::default(),
                frame_id,
            },
            ..Default::default()
        };
        // Orientation not provided: covariance[0] = -1 (REP-145 / sensor_msgs convention).
        imu.orientation_covariance[0] = -1.0;
        Converter {
            imu,
            joints: msgs::JointState {
                name: joint_names,
                ..Default::default()
            },
            cmd: msgs::Float64MultiArray {
                layout: msgs::MultiArrayLayout {
                    dim: vec![msgs::MultiArrayDimension::default()],
                    data_offset: 0,
                },
                data: Vec::new(),
            },
            contacts: msgs::Float64MultiArray::default(),
            contact_names: Vec::new(),
            monitors: msgs::MonitorState::default(),
            monitor_state: crate::monitor::MonitorState::default(),
        }
    }

    /// Writes `s` if its stream is enabled; true when something was written.
    fn write(
        &mut self,
        w: &mut BagWriter,
        t: &mut Topics,
        s: &Sample,
    ) -> Result<bool, RecordError> {
        match s {
            Sample::Imu { t: time, imu } => {
                let Some(id) = t.imu else { return Ok(false) };
                let m = &mut self.imu;
                m.header.stamp = msgs::Time::from_nanos(time.0);
                m.angular_velocity = vec3(imu.gyro);
                m.linear_acceleration = vec3(imu.accel);
                w.write(id, time.0, m)?;
            }
            Sample::Joints { t: time, joints } => {
                let Some(id) = t.joints else { return Ok(false) };
                let m = &mut self.joints;
                m.header.stamp = msgs::Time::from_nanos(time.0);
                m.position.clear();
                m.position.extend_from_slice(&joints.position);
                m.velocity.clear();
                m.velocity.extend_from_slice(&joints.velocity);
                m.effort.clear();
                m.effort.extend_from_slice(&joints.effort);
                w.write(id, time.0, m)?;
            }
            Sample::Command(c) => {
                let Some(id) = t.command else {
                    return Ok(false);
                };
                let m = &mut self.cmd;
                let label = match c.mode {
                    CommandMode::Hold => "hold",
                    CommandMode::Position => "position",
                    CommandMode::Velocity => "velocity",
                    CommandMode::Effort => "effort",
                };
                m.layout.dim[0].label.clear();
                m.layout.dim[0].label.push_str(label);
                m.layout.dim[0].size = c.values.len() as u32;
                m.layout.dim[0].stride = c.values.len() as u32;
                m.data.clear();
                m.data.extend_from_slice(&c.values);
                w.write(id, c.t.0, m)?;
            }
            Sample::Contacts { t: time, values } => {
                let Some(id) = t.contacts else {
                    return Ok(false);
                };
                let m = &mut self.contacts;
                if m.layout.dim.len() != values.len() {
                    m.layout.dim = (0..values.len())
                        .map(|i| msgs::MultiArrayDimension {
                            label: self
                                .contact_names
                                .get(i)
                                .cloned()
                                .unwrap_or_else(|| format!("contact{i}")),
                            size: 1,
                            stride: 1,
                        })
                        .collect();
                }
                m.data.clear();
                m.data.extend_from_slice(values);
                w.write(id, time.0, m)?;
            }
            Sample::Monitors(c) => {
                if t.monitors_name.is_empty() || !self.monitor_state.absorb(c) {
                    return Ok(false);
                }
                let id = match t.monitors {
                    Some(id) => id,
                    None => {
                        let id = w.add_topic_for::<msgs::MonitorState>(&t.monitors_name)?;
                        t.monitors = Some(id);
                        id
                    }
                };
                let (m, st) = (&mut self.monitors, &self.monitor_state);
                m.header.stamp = msgs::Time::from_nanos(st.t.0);
                m.robustness.clone_from(&st.robustness);
                m.violated.clone_from(&st.violated);
                m.violations.clone_from(&st.violations);
                m.onsets.clone_from(&st.onsets);
                m.min_robustness.clone_from(&st.min_robustness);
                m.hold_cycles = st.hold_cycles;
                m.safe_stops = st.safe_stops;
                w.write(id, st.t.0, m)?;
            }
        }
        Ok(true)
    }
}

fn vec3(a: [f64; 3]) -> msgs::Vector3 {
    msgs::Vector3 {
        x: a[0],
        y: a[1],
        z: a[2],
    }
}
