//! Reads rosbag2 bags: a bag directory (`metadata.yaml` + `.mcap` / `.db3` files, several files
//! for a split bag) or a single storage file.
//!
//! Damage is reported, never fatal when something can still be read: a truncated MCAP (crash
//! mid-write) yields every complete message before the cut; a chunk with a bad CRC or a broken
//! compressed stream is skipped and the next one read; a missing `metadata.yaml` falls back to the
//! `.mcap` / `.db3` files found in the directory; message types nobody here decodes stay available
//! as raw CDR. Each such event lands in [`Bag::warnings`] (and in the log) with the file named.
//! zstd-compressed bags (`--compression-mode file` or `message`) are decompressed on the fly.
//!
//! [`BagReader`] streams the messages in log-time order with memory bounded by the chunks that
//! overlap in time, whatever the bag's size: per MCAP file the chunks are visited in the order
//! of their start times (from the summary's chunk indexes, or from a scan of the record headers
//! when the file has no usable summary, e.g. after a crash) and merged message by message; per
//! sqlite3 file a reader thread walks `ORDER BY timestamp, id`; the files are merged by the
//! same rule (equal times keep file order, as a stable sort would). [`Bag`] is the same stream
//! collected into memory, for small bags and tests.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::record::metadata::{BagMetadata, MetadataFile};
use crate::record::msgs::AnyMessage;

/// Errors while opening or reading a bag. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The path does not exist.
    #[error("{}: no such bag directory or file", .0.display())]
    NotFound(PathBuf),
    /// The path is not a bag.
    #[error("{}: not a rosbag2 bag: {message}", path.display())]
    NotABag {
        /// The path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The bag uses something this reader does not support.
    #[error("{}: unsupported: {message}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What.
        message: String,
    },
    /// Nothing at all could be read.
    #[error("{}: unreadable: {message}", path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Every problem met.
        message: String,
    },
    /// An OS error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A topic in a bag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Message type, `pkg/msg/Name`.
    pub type_name: String,
    /// `cdr` for ROS 2 bags.
    pub serialization_format: String,
    /// The message definition stored in the bag (`ros2msg` text), when there is one.
    pub definition: Option<String>,
    /// Messages read on this topic.
    pub message_count: u64,
    /// Offered QoS profiles as the bag stores them (YAML text; empty when unknown).
    pub offered_qos: String,
}

/// One message, raw.
#[derive(Clone, Debug, PartialEq)]
pub struct BagMessage {
    /// Index into [`Bag::topics`].
    pub topic: usize,
    /// When the recorder received it, ns since the epoch.
    pub log_time: i64,
    /// When it was published (MCAP); equal to `log_time` for sqlite3 bags.
    pub publish_time: i64,
    /// Serialized message (CDR with its 4-byte header).
    pub data: Vec<u8>,
}

/// A rosbag2 bag read into memory, messages in log-time order (a [`BagReader`] collected).
#[derive(Clone, Debug, Default)]
pub struct Bag {
    /// The directory (or file) opened.
    pub path: PathBuf,
    /// `metadata.yaml`, when present and valid.
    pub metadata: Option<BagMetadata>,
    /// Storage files read, in order.
    pub files: Vec<PathBuf>,
    /// Topics (from metadata and from the files).
    pub topics: Vec<TopicInfo>,
    /// Messages sorted by log time.
    pub messages: Vec<BagMessage>,
    /// What was damaged or missing and skipped.
    pub warnings: Vec<String>,
}

/// Storage kind of a file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// MCAP.
    Mcap,
    /// sqlite3.
    Sqlite3,
}

impl Storage {
    /// From the file extension (`.mcap`, `.db3`, also with a trailing `.zstd`).
    pub fn of(path: &Path) -> Option<Storage> {
        let inner;
        let path = if path.extension().is_some_and(|e| e == "zstd") {
            inner = path.with_extension("");
            inner.as_path()
        } else {
            path
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("mcap") => Some(Storage::Mcap),
            Some("db3") => Some(Storage::Sqlite3),
            _ => None,
        }
    }
}

/// What to read from a bag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadOptions {
    /// Only messages on these topics (None = all). Chunks without them are not even read when
    /// the MCAP summary says which channels a chunk holds.
    pub topics: Option<Vec<String>>,
    /// Only messages with `log_time >= start` (ns since the epoch); earlier chunks are skipped.
    pub start: Option<i64>,
}

/// Topics, warnings and the topic filter shared by the files of one bag.
#[derive(Debug, Default)]
struct Shared {
    topics: Vec<TopicInfo>,
    warnings: Vec<String>,
    keep: Option<Vec<String>>,
}

impl Shared {
    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.warnings.push(msg);
    }

    fn keeps(&self, topic: usize) -> bool {
        match &self.keep {
            None => true,
            Some(k) => k.iter().any(|n| *n == self.topics[topic].name),
        }
    }

    fn topic_index(&mut self, name: &str, type_name: &str, format: &str) -> usize {
        if let Some(i) = self
            .topics
            .iter()
            .position(|t| t.name == name && t.type_name == type_name)
        {
            return i;
        }
        self.topics.push(TopicInfo {
            name: name.to_string(),
            type_name: type_name.to_string(),
            serialization_format: format.to_string(),
            ..Default::default()
        });
        self.topics.len() - 1
    }
}

/// A time-ordered stream over a rosbag2 bag (see the module docs). Iterate it for
/// [`BagMessage`]s; topics and warnings grow as damaged or newly declared parts are met.
pub struct BagReader {
    path: PathBuf,
    metadata: Option<BagMetadata>,
    files: Vec<PathBuf>,
    shared: Shared,
    sources: Vec<Source>,
    heads: Vec<Option<BagMessage>>,
    message_zstd: bool,
    zstd_failed: u64,
    read: Vec<u64>,
}

impl std::fmt::Debug for BagReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BagReader")
            .field("path", &self.path)
            .field("files", &self.files)
            .field("topics", &self.shared.topics)
            .finish()
    }
}

impl BagReader {
    /// Opens a bag directory or a single `.mcap` / `.db3` file for streaming.
    pub fn open(path: &Path) -> Result<BagReader, ReplayError> {
        Self::open_with(path, &ReadOptions::default())
    }

    /// Opens a bag with a topic filter and a start time.
    pub fn open_with(path: &Path, opts: &ReadOptions) -> Result<BagReader, ReplayError> {
        let mut r = BagReader {
            path: path.to_path_buf(),
            metadata: None,
            files: Vec::new(),
            shared: Shared {
                keep: opts.topics.clone(),
                ..Default::default()
            },
            sources: Vec::new(),
            heads: Vec::new(),
            message_zstd: false,
            zstd_failed: 0,
            read: Vec::new(),
        };
        let files = if path.is_dir() {
            r.discover_files(path)?
        } else if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            return Err(ReplayError::NotFound(path.to_path_buf()));
        };
        r.message_zstd = r.compression_mode() == Some("message");
        let start = opts.start.unwrap_or(i64::MIN);
        for f in files {
            let from_meta = || match r.metadata.as_ref()?.storage_identifier.as_str() {
                "mcap" => Some(Storage::Mcap),
                "sqlite3" => Some(Storage::Sqlite3),
                _ => None,
            };
            let Some(kind) = Storage::of(&f).or_else(from_meta) else {
                return Err(ReplayError::Unsupported {
                    path: f.clone(),
                    message: "unknown storage file (expected .mcap, .db3, or either with .zstd)"
                        .into(),
                });
            };
            let file_zstd = f.extension().is_some_and(|e| e == "zstd");
            // `--compression-mode file`: decompress to a private temporary file (streamed, so
            // memory stays bounded), read that, delete it when the reader goes.
            let (storage, temp) = if file_zstd {
                match unzstd_to_temp(&f, kind) {
                    Ok(t) => (t.0.clone(), Some(t)),
                    Err(e) => {
                        r.shared
                            .warn(format!("{}: cannot decompress: {e}", f.display()));
                        r.files.push(f);
                        continue;
                    }
                }
            } else {
                (f.clone(), None)
            };
            let src = match kind {
                Storage::Mcap => {
                    match std::fs::File::open(&storage).and_then(|h| Ok((h.metadata()?.len(), h))) {
                        Ok((len, h)) => Some(Source::Mcap(McapSource::open(
                            &f,
                            Box::new(h),
                            len,
                            start,
                            temp,
                            &mut r.shared,
                        ))),
                        Err(e) => {
                            r.shared.warn(format!("{}: cannot read: {e}", f.display()));
                            None
                        }
                    }
                }
                Storage::Sqlite3 => {
                    SqliteSource::open(&f, &storage, start, temp, &mut r.shared).map(Source::Sqlite)
                }
            };
            if let Some(s) = src {
                r.sources.push(s);
            }
            r.files.push(f);
        }
        r.prefetch();
        if r.heads.iter().all(Option::is_none)
            && !r.shared.warnings.is_empty()
            && r.shared.topics.is_empty()
        {
            return Err(ReplayError::Unreadable {
                path: path.to_path_buf(),
                message: r.shared.warnings.join("; "),
            });
        }
        Ok(r)
    }

    /// Streams an MCAP file held in memory (`name` is used in warnings).
    pub fn from_mcap_bytes(name: &Path, buf: &[u8]) -> BagReader {
        let mut r = BagReader {
            path: name.to_path_buf(),
            metadata: None,
            files: vec![name.to_path_buf()],
            shared: Shared::default(),
            sources: Vec::new(),
            heads: Vec::new(),
            message_zstd: false,
            zstd_failed: 0,
            read: Vec::new(),
        };
        let src = McapSource::open(
            name,
            Box::new(std::io::Cursor::new(buf.to_vec())),
            buf.len() as u64,
            i64::MIN,
            None,
            &mut r.shared,
        );
        r.sources.push(Source::Mcap(src));
        r.prefetch();
        r
    }

    fn prefetch(&mut self) {
        self.heads = (0..self.sources.len())
            .map(|i| self.sources[i].next(&mut self.shared))
            .collect();
    }

    /// The directory (or file) opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `metadata.yaml`, when present and valid.
    pub fn metadata(&self) -> Option<&BagMetadata> {
        self.metadata.as_ref()
    }

    /// Storage files, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Topics known so far (from metadata and the files' declarations).
    pub fn topics(&self) -> &[TopicInfo] {
        &self.shared.topics
    }

    /// The topic with this name, if any.
    pub fn topic(&self, name: &str) -> Option<(usize, &TopicInfo)> {
        self.shared
            .topics
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name)
    }

    /// What was damaged or missing and skipped, so far.
    pub fn warnings(&self) -> &[String] {
        &self.shared.warnings
    }

    /// Messages yielded so far per topic (index as in [`BagReader::topics`]).
    pub fn read_counts(&self) -> &[u64] {
        &self.read
    }

    /// First and last log time the storage declares (MCAP chunk indexes or scanned chunk
    /// headers, sqlite3 `MIN`/`MAX`), ns; None when nothing is declared. Cheap: no message is read.
    pub fn declared_time_range(&self) -> Option<(i64, i64)> {
        let mut out: Option<(i64, i64)> = None;
        for s in &self.sources {
            if let Some((a, b)) = s.time_range() {
                out = Some(match out {
                    None => (a, b),
                    Some((x, y)) => (x.min(a), y.max(b)),
                });
            }
        }
        out
    }

    /// Messages per topic (index as in [`BagReader::topics`]) as the storage declares them: the
    /// MCAP summary's statistics, the sqlite3 database's counts. None when a file declares
    /// nothing (no summary): only reading tells then. Cheap: no message is read.
    pub fn declared_counts(&self) -> Option<Vec<u64>> {
        let mut out = vec![0u64; self.shared.topics.len()];
        if self.sources.is_empty() {
            return None;
        }
        for s in &self.sources {
            for (&i, &n) in s.declared()? {
                if let Some(c) = out.get_mut(i) {
                    *c += n;
                }
            }
        }
        Some(out)
    }

    /// The next message in log-time order (None at the end).
    pub fn next_message(&mut self) -> Option<BagMessage> {
        loop {
            let mut best: Option<(i64, usize)> = None;
            for (i, h) in self.heads.iter().enumerate() {
                if let Some(m) = h {
                    if best.is_none_or(|(t, _)| m.log_time < t) {
                        best = Some((m.log_time, i));
                    }
                }
            }
            let Some((_, i)) = best else {
                if self.zstd_failed > 0 {
                    let n = std::mem::take(&mut self.zstd_failed);
                    self.shared.warn(format!(
                        "{}: {n} messages failed zstd decompression; skipped",
                        self.path.display()
                    ));
                }
                return None;
            };
            let next = self.sources[i].next(&mut self.shared);
            let mut m = std::mem::replace(&mut self.heads[i], next)?;
            if self.message_zstd {
                match zstd::stream::decode_all(m.data.as_slice()) {
                    Ok(d) => m.data = d,
                    Err(_) => {
                        self.zstd_failed += 1;
                        continue;
                    }
                }
            }
            if self.read.len() < self.shared.topics.len() {
                self.read.resize(self.shared.topics.len(), 0);
            }
            if let Some(c) = self.read.get_mut(m.topic) {
                *c += 1;
            }
            return Some(m);
        }
    }

    /// Decodes a message of a type this crate knows; `Ok(None)` for other types.
    pub fn decode(
        &self,
        m: &BagMessage,
    ) -> Result<Option<AnyMessage>, crate::record::cdr::CdrError> {
        AnyMessage::decode(&self.shared.topics[m.topic].type_name, &m.data)
    }

    /// Storage files of a bag directory: from `metadata.yaml`, else every `.mcap`/`.db3` in it.
    fn discover_files(&mut self, dir: &Path) -> Result<Vec<PathBuf>, ReplayError> {
        let meta_path = dir.join("metadata.yaml");
        match std::fs::read_to_string(&meta_path) {
            Ok(text) => match MetadataFile::from_yaml(&text) {
                Ok(m) => {
                    let info = m.rosbag2_bagfile_information;
                    let mode = info.compression_mode.to_ascii_lowercase();
                    let supported = match mode.as_str() {
                        "" | "none" => true,
                        "file" | "message" => info.compression_format == "zstd",
                        _ => false,
                    };
                    if !supported {
                        return Err(ReplayError::Unsupported {
                            path: meta_path,
                            message: format!(
                                "compression_mode `{}` with format `{}` (supported: file or message with zstd)",
                                info.compression_mode, info.compression_format
                            ),
                        });
                    }
                    for t in &info.topics_with_message_count {
                        let tm = &t.topic_metadata;
                        let i = self.shared.topic_index(
                            &tm.name,
                            &tm.type_name,
                            &tm.serialization_format,
                        );
                        if self.shared.topics[i].offered_qos.is_empty() {
                            self.shared.topics[i].offered_qos = qos_text(&tm.offered_qos_profiles);
                        }
                    }
                    let mut files = Vec::new();
                    for rel in &info.relative_file_paths {
                        // rosbag2 versions differ: some store paths with the bag dir prefixed.
                        let direct = dir.join(rel);
                        let by_name = Path::new(rel).file_name().map(|n| dir.join(n));
                        if direct.is_file() {
                            files.push(direct);
                        } else if let Some(p) = by_name.filter(|p| p.is_file()) {
                            files.push(p);
                        } else {
                            self.shared.warn(format!(
                                "{}: lists `{rel}` but the file is missing; skipped",
                                meta_path.display()
                            ));
                        }
                    }
                    self.metadata = Some(info);
                    if !files.is_empty() {
                        return Ok(files);
                    }
                }
                Err(e) => self.shared.warn(format!(
                    "{}: invalid metadata ({e}); scanning the directory instead",
                    meta_path.display()
                )),
            },
            Err(e) => self.shared.warn(format!(
                "{}: cannot read ({e}); scanning the directory for .mcap/.db3 files",
                meta_path.display()
            )),
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| ReplayError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && Storage::of(p).is_some())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ReplayError::NotABag {
                path: dir.to_path_buf(),
                message: "no readable metadata.yaml and no .mcap or .db3 file in the directory"
                    .into(),
            });
        }
        Ok(files)
    }

    /// `file` / `message` when metadata.yaml says the bag is compressed (lowercase).
    fn compression_mode(&self) -> Option<&'static str> {
        let m = self
            .metadata
            .as_ref()?
            .compression_mode
            .to_ascii_lowercase();
        match m.as_str() {
            "file" => Some("file"),
            "message" => Some("message"),
            _ => None,
        }
    }
}

impl Iterator for BagReader {
    type Item = BagMessage;
    fn next(&mut self) -> Option<BagMessage> {
        self.next_message()
    }
}

/// QoS profiles as YAML text (metadata stores a string up to version 8, a list in version 9).
fn qos_text(v: &serde_norway::Value) -> String {
    match v {
        serde_norway::Value::Null => String::new(),
        serde_norway::Value::String(s) => s.clone(),
        v => serde_norway::to_string(v).unwrap_or_default(),
    }
}

impl Bag {
    /// Opens a bag directory or a single `.mcap` / `.db3` file and reads all its messages.
    pub fn open(path: &Path) -> Result<Bag, ReplayError> {
        Self::collect(BagReader::open(path)?)
    }

    /// Like [`Bag::open`] but keeps only messages on `topics` (the others are skipped while
    /// reading, so a bag with camera streams costs only the memory of the topics replayed).
    /// [`TopicInfo::message_count`] then counts kept messages only.
    pub fn open_topics(path: &Path, topics: &[&str]) -> Result<Bag, ReplayError> {
        let opts = ReadOptions {
            topics: Some(topics.iter().map(|t| t.to_string()).collect()),
            start: None,
        };
        Self::collect(BagReader::open_with(path, &opts)?)
    }

    /// Reads an MCAP file already in memory (`name` is used in warnings). Never fails: what
    /// cannot be read is listed in [`Bag::warnings`]. This is the fuzzing entry point.
    pub fn from_mcap_bytes(name: &Path, buf: &[u8]) -> Bag {
        // an in-memory stream cannot fail to open
        Self::collect(BagReader::from_mcap_bytes(name, buf)).unwrap_or_default()
    }

    fn collect(mut r: BagReader) -> Result<Bag, ReplayError> {
        let messages: Vec<BagMessage> = r.by_ref().collect();
        let mut topics = std::mem::take(&mut r.shared.topics);
        for (i, t) in topics.iter_mut().enumerate() {
            t.message_count = r.read.get(i).copied().unwrap_or(0);
        }
        Ok(Bag {
            path: std::mem::take(&mut r.path),
            metadata: r.metadata.take(),
            files: std::mem::take(&mut r.files),
            topics,
            messages,
            warnings: std::mem::take(&mut r.shared.warnings),
        })
    }

    /// The topic with this name, if any.
    pub fn topic(&self, name: &str) -> Option<(usize, &TopicInfo)> {
        self.topics.iter().enumerate().find(|(_, t)| t.name == name)
    }

    /// Messages on one topic, in log-time order.
    pub fn messages_on<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a BagMessage> + 'a {
        self.messages
            .iter()
            .filter(move |m| self.topics[m.topic].name == name)
    }

    /// Decodes a message of a type this crate knows; `Ok(None)` for other types.
    pub fn decode(
        &self,
        m: &BagMessage,
    ) -> Result<Option<AnyMessage>, crate::record::cdr::CdrError> {
        AnyMessage::decode(&self.topics[m.topic].type_name, &m.data)
    }

    /// Log time of the first and last message, ns (None when the bag is empty).
    pub fn time_range(&self) -> Option<(i64, i64)> {
        Some((
            self.messages.first()?.log_time,
            self.messages.last()?.log_time,
        ))
    }
}

/// One storage file's stream.
enum Source {
    Mcap(McapSource),
    Sqlite(SqliteSource),
}

impl Source {
    fn next(&mut self, sh: &mut Shared) -> Option<BagMessage> {
        match self {
            Source::Mcap(s) => s.next(sh),
            Source::Sqlite(s) => s.next(sh),
        }
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        match self {
            Source::Mcap(s) => s.time_range(),
            Source::Sqlite(s) => s.time_range,
        }
    }

    fn declared(&self) -> Option<&HashMap<usize, u64>> {
        match self {
            Source::Mcap(s) => s.declared.as_ref(),
            Source::Sqlite(s) => Some(&s.declared),
        }
    }
}

/// A temporary file deleted on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Decompresses a `--compression-mode file` storage file into a private temporary file.
fn unzstd_to_temp(path: &Path, kind: Storage) -> std::io::Result<TempFile> {
    let ext = match kind {
        Storage::Mcap => "mcap",
        Storage::Sqlite3 => "db3",
    };
    let tmp = TempFile(std::env::temp_dir().join(format!(
        "sattva-{}-{}.{ext}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )));
    let input = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp.0)?);
    zstd::stream::copy_decode(input, &mut out)?;
    std::io::Write::flush(&mut out)?;
    Ok(tmp)
}

/// Readable and seekable storage.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Where a run of records lives in an MCAP file: a chunk record or a segment of top-level
/// (unchunked) records.
#[derive(Clone, Debug)]
struct Span {
    /// Offset of the first record (a chunk: its opcode).
    offset: u64,
    /// Bytes from `offset`.
    len: u64,
    /// A chunk record (else raw top-level records).
    chunk: bool,
    /// Log time range of its messages.
    start: i64,
    end: i64,
}

/// A message waiting in a loaded chunk, ordered by (log time, load order).
struct Pending {
    key: (i64, u64),
    msg: BagMessage,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

/// Time-ordered stream over one MCAP file: spans visited by start time, their messages merged
/// through a heap (memory: the spans that overlap in time).
struct McapSource {
    file: PathBuf,
    input: BufReader<Box<dyn ReadSeek>>,
    len: u64,
    spans: Vec<Span>,
    next_span: usize,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    start: i64,
    schemas: HashMap<u16, (String, Option<String>)>,
    /// channel id -> (topic index, kept by the topic filter)
    channels: HashMap<u16, (usize, bool)>,
    unknown_channel: usize,
    /// Offsets of chunks found damaged (warned once).
    bad: std::collections::HashSet<u64>,
    /// Messages per topic index as the summary's statistics declare them.
    declared: Option<HashMap<usize, u64>>,
    done: bool,
    _temp: Option<TempFile>,
}

/// Top-level records grouped into one segment at most this long.
const SEGMENT_BYTES: u64 = 4 << 20;

impl McapSource {
    fn open(
        file: &Path,
        input: Box<dyn ReadSeek>,
        len: u64,
        start: i64,
        temp: Option<TempFile>,
        sh: &mut Shared,
    ) -> McapSource {
        let mut s = McapSource {
            file: file.to_path_buf(),
            input: BufReader::with_capacity(1 << 16, input),
            len,
            spans: Vec::new(),
            next_span: 0,
            pending: BinaryHeap::new(),
            seq: 0,
            start,
            schemas: HashMap::new(),
            channels: HashMap::new(),
            unknown_channel: 0,
            bad: Default::default(),
            declared: None,
            done: false,
            _temp: temp,
        };
        // No panic guard here: malformed input must come back as errors (warnings), and a panic
        // in parsing is a bug that `tests/replay_fuzz.rs` reports.
        if !s.index_from_summary(sh) {
            s.spans.clear();
            s.index_by_scan(sh);
        }
        s.spans.retain(|sp| sp.end >= start);
        s.spans.sort_by_key(|sp| (sp.start, sp.offset));
        s
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        let a = self.spans.iter().map(|s| s.start).min()?;
        let b = self.spans.iter().map(|s| s.end).max()?;
        Some((a, b))
    }

    fn register_schema(&mut self, id: u16, name: &str, encoding: &str, data: &[u8]) {
        let def = (encoding == "ros2msg").then(|| String::from_utf8_lossy(data).into_owned());
        self.schemas.insert(id, (name.to_string(), def));
    }

    fn register_channel(
        &mut self,
        sh: &mut Shared,
        id: u16,
        schema_id: u16,
        topic: &str,
        encoding: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) {
        if self.channels.contains_key(&id) {
            return;
        }
        let (type_name, def) = match self.schemas.get(&schema_id) {
            Some((n, d)) => (n.clone(), d.clone()),
            None => (String::new(), None),
        };
        if encoding != "cdr" {
            sh.warn(format!(
                "{}: topic `{topic}` has message encoding `{encoding}` (not cdr): kept raw, not decodable",
                self.file.display(),
            ));
        }
        let i = sh.topic_index(topic, &type_name, encoding);
        let t = &mut sh.topics[i];
        if t.definition.is_none() {
            t.definition = def;
        }
        if t.offered_qos.is_empty() {
            if let Some(q) = metadata.get("offered_qos_profiles") {
                t.offered_qos = q.clone();
            }
        }
        let keep = sh.keeps(i);
        self.channels.insert(id, (i, keep));
    }

    /// Spans from the summary's chunk indexes. False when the file has no usable summary (none,
    /// damaged, or messages outside chunks): then the file is scanned.
    fn index_from_summary(&mut self, sh: &mut Shared) -> bool {
        use mcap::sans_io::summary_reader::{
            SummaryReadEvent, SummaryReader, SummaryReaderOptions,
        };
        let mut reader = SummaryReader::new_with_options(
            SummaryReaderOptions::default()
                .with_file_size(self.len)
                .with_record_length_limit(self.len.min(MAX_CHUNK_BYTES) as usize),
        );
        let mut steps = 0u64;
        while let Some(ev) = reader.next_event() {
            steps += 1;
            if steps > 1 << 24 {
                return false;
            }
            match ev {
                Ok(SummaryReadEvent::ReadRequest(n)) => {
                    match read_up_to(&mut self.input, reader.insert(n)) {
                        Ok(k) => reader.notify_read(k),
                        Err(_) => return false,
                    }
                }
                Ok(SummaryReadEvent::SeekRequest(to)) => match self.input.seek(to) {
                    Ok(p) => reader.notify_seeked(p),
                    Err(_) => return false,
                },
                Err(_) => return false,
            }
        }
        let Some(summary) = reader.finish() else {
            return false;
        };
        let chunked = !summary.chunk_indexes.is_empty();
        let stats_agree = summary.stats.as_ref().is_none_or(|s| {
            s.chunk_count as usize == summary.chunk_indexes.len()
                && (s.message_count == 0 || chunked)
        });
        if !chunked || !stats_agree {
            return false;
        }
        let mut schemas: Vec<_> = summary.schemas.values().collect();
        schemas.sort_by_key(|s| s.id);
        for s in schemas {
            self.register_schema(s.id, &s.name, &s.encoding, &s.data);
        }
        let mut chans: Vec<_> = summary.channels.values().collect();
        chans.sort_by_key(|c| c.id);
        for c in chans {
            let schema_id = c.schema.as_ref().map(|s| s.id).unwrap_or(0);
            self.register_channel(
                sh,
                c.id,
                schema_id,
                &c.topic,
                &c.message_encoding,
                &c.metadata,
            );
        }
        if let Some(st) = &summary.stats {
            let mut d = HashMap::new();
            for (ch, n) in &st.channel_message_counts {
                if let Some(&(topic, _)) = self.channels.get(ch) {
                    *d.entry(topic).or_insert(0) += n;
                }
            }
            self.declared = Some(d);
        }
        for ci in &summary.chunk_indexes {
            let channels: Vec<u16> = ci.message_index_offsets.keys().copied().collect();
            // skip chunks that hold none of the kept topics (when the index says so)
            if !channels.is_empty()
                && !channels
                    .iter()
                    .any(|c| self.channels.get(c).is_some_and(|x| x.1))
            {
                continue;
            }
            self.spans.push(Span {
                offset: ci.chunk_start_offset,
                len: ci.chunk_length,
                chunk: true,
                start: clamp_time(ci.message_start_time),
                end: clamp_time(ci.message_end_time),
            });
        }
        true
    }

    /// Spans from the record headers, front to back (files without a usable summary: crashed
    /// recordings, unchunked writers). Schemas and channels are registered on the way (chunks
    /// are decompressed for them), so every declaration precedes the time-ordered read.
    fn index_by_scan(&mut self, sh: &mut Shared) {
        use mcap::records::op;
        let mut magic = [0u8; 8];
        if self.input.seek(SeekFrom::Start(0)).is_err()
            || read_up_to(&mut self.input, &mut magic).ok() != Some(8)
            || magic != *mcap::MAGIC
        {
            sh.warn(format!(
                "{}: not an MCAP file: bad magic",
                self.file.display()
            ));
            return;
        }
        let mut pos = 8u64;
        let mut n_records = 0usize;
        let mut seg: Option<Span> = None;
        loop {
            let mut hdr = [0u8; 9];
            match read_up_to(&mut self.input, &mut hdr) {
                Ok(9) => {}
                Ok(0) => {
                    // no footer: a file whose writer died between records
                    break;
                }
                Ok(_) => {
                    sh.warn(format!(
                        "{}: stopped after {n_records} records: cut inside a record header (truncated or corrupt file; everything before was read)",
                        self.file.display()
                    ));
                    break;
                }
                Err(e) => {
                    sh.warn(format!("{}: read error: {e}", self.file.display()));
                    break;
                }
            }
            let opcode = hdr[0];
            let rlen = u64::from_le_bytes(hdr[1..9].try_into().unwrap_or([0; 8]));
            let body = pos + 9;
            let Some(next) = body.checked_add(rlen).filter(|&e| e <= self.len) else {
                sh.warn(format!(
                    "{}: stopped after {n_records} records: a record of {rlen} bytes at offset {pos} runs past the end of the file (truncated or corrupt file; everything before was read)",
                    self.file.display()
                ));
                break;
            };
            n_records += 1;
            let in_segment = matches!(opcode, op::MESSAGE | op::SCHEMA | op::CHANNEL);
            if !in_segment || seg.as_ref().is_some_and(|s| s.len >= SEGMENT_BYTES) {
                if let Some(s) = seg.take() {
                    if s.end >= s.start {
                        self.spans.push(s);
                    }
                }
            }
            match opcode {
                op::FOOTER | op::DATA_END => break,
                op::CHUNK => {
                    let mut times = [0u8; 16];
                    if rlen < 16 || read_up_to(&mut self.input, &mut times).ok() != Some(16) {
                        sh.warn(format!(
                            "{}: chunk at offset {pos} too short; skipped",
                            self.file.display()
                        ));
                    } else {
                        let span = Span {
                            offset: pos,
                            len: 9 + rlen,
                            chunk: true,
                            start: clamp_time(u64::from_le_bytes(
                                times[..8].try_into().unwrap_or([0; 8]),
                            )),
                            end: clamp_time(u64::from_le_bytes(
                                times[8..].try_into().unwrap_or([0; 8]),
                            )),
                        };
                        // declarations inside the chunk (the read below re-seeks)
                        self.load(&span, sh, true);
                        self.spans.push(span);
                    }
                }
                op::MESSAGE | op::SCHEMA | op::CHANNEL => {
                    let s = seg.get_or_insert(Span {
                        offset: pos,
                        len: 0,
                        chunk: false,
                        start: i64::MAX,
                        end: i64::MIN,
                    });
                    s.len = next - s.offset;
                    if opcode == op::MESSAGE {
                        let mut mh = [0u8; 14];
                        if rlen >= 22 && read_up_to(&mut self.input, &mut mh).ok() == Some(14) {
                            let t = clamp_time(u64::from_le_bytes(
                                mh[6..14].try_into().unwrap_or([0; 8]),
                            ));
                            s.start = s.start.min(t);
                            s.end = s.end.max(t);
                        }
                    } else if rlen <= MAX_CHUNK_BYTES {
                        let mut b = vec![0u8; rlen as usize];
                        if self.input.seek(SeekFrom::Start(body)).is_ok()
                            && read_up_to(&mut self.input, &mut b).ok() == Some(b.len())
                        {
                            match mcap::parse_record(opcode, &b) {
                                Ok(r) => self.declare(sh, r),
                                Err(e) => sh.warn(format!(
                                    "{}: record {n_records} (opcode {opcode:#04x}) unreadable: {e}; skipped",
                                    self.file.display()
                                )),
                            }
                        }
                    }
                }
                _ => {}
            }
            if self.input.seek(SeekFrom::Start(next)).is_err() {
                break;
            }
            pos = next;
        }
        if let Some(s) = seg.take() {
            if s.end >= s.start {
                self.spans.push(s);
            }
        }
    }

    fn declare(&mut self, sh: &mut Shared, rec: mcap::records::Record<'_>) {
        use mcap::records::Record;
        match rec {
            Record::Schema { header, data } => {
                self.register_schema(header.id, &header.name, &header.encoding, &data)
            }
            Record::Channel(ch) => self.register_channel(
                sh,
                ch.id,
                ch.schema_id,
                &ch.topic,
                &ch.message_encoding,
                &ch.metadata,
            ),
            _ => {}
        }
    }

    /// Reads a span; declarations are registered, messages (unless `defs_only`) queued.
    fn load(&mut self, span: &Span, sh: &mut Shared, defs_only: bool) {
        use mcap::read::LinearReader as SliceReader;
        use mcap::records::Record;
        let file = self.file.clone();
        let limit = if span.chunk {
            MAX_CHUNK_BYTES + (1 << 20)
        } else {
            SEGMENT_BYTES + MAX_CHUNK_BYTES
        };
        if span.len > limit || span.offset.saturating_add(span.len) > self.len {
            sh.warn(format!(
                "{}: span at offset {} of {} bytes is out of bounds; skipped",
                file.display(),
                span.offset,
                span.len
            ));
            return;
        }
        let mut raw = vec![0u8; span.len as usize];
        if self.input.seek(SeekFrom::Start(span.offset)).is_err()
            || read_up_to(&mut self.input, &mut raw).ok() != Some(raw.len())
        {
            sh.warn(format!(
                "{}: cannot read {} bytes at offset {}; skipped",
                file.display(),
                span.len,
                span.offset
            ));
            return;
        }
        let records = if span.chunk {
            let body = raw.get(9..).unwrap_or(&[]);
            if raw.first() != Some(&mcap::records::op::CHUNK) {
                sh.warn(format!(
                    "{}: no chunk at offset {} (index points elsewhere); skipped",
                    file.display(),
                    span.offset
                ));
                return;
            }
            match mcap::parse_record(mcap::records::op::CHUNK, body) {
                Ok(Record::Chunk { header, data }) => match decompress_chunk(&header, &data) {
                    Ok(r) => r,
                    Err(e) => {
                        // warned once: a scanned file meets a bad chunk twice
                        if self.bad.insert(span.offset) {
                            sh.warn(format!(
                                "{}: unreadable chunk (messages from t={} ns): {e}; skipped",
                                file.display(),
                                header.message_start_time
                            ));
                        }
                        return;
                    }
                },
                Ok(_) | Err(_) => {
                    sh.warn(format!(
                        "{}: chunk at offset {} unreadable; skipped",
                        file.display(),
                        span.offset
                    ));
                    return;
                }
            }
        } else {
            raw
        };
        // sans_magic bounds every record length by the buffer's size.
        for inner in SliceReader::sans_magic(&records) {
            match inner {
                Ok(Record::Message { header, data }) if !defs_only => {
                    match self.channels.get(&header.channel_id) {
                        Some(&(topic, true)) => {
                            let log_time = clamp_time(header.log_time);
                            if log_time >= self.start {
                                self.seq += 1;
                                self.pending.push(Reverse(Pending {
                                    key: (log_time, self.seq),
                                    msg: BagMessage {
                                        topic,
                                        log_time,
                                        publish_time: clamp_time(header.publish_time),
                                        data: data.into_owned(),
                                    },
                                }));
                            }
                        }
                        Some(&(_, false)) => {}
                        None => self.unknown_channel += 1,
                    }
                }
                Ok(r @ (Record::Schema { .. } | Record::Channel(_))) => self.declare(sh, r),
                Ok(_) => {}
                Err(e) => {
                    if !defs_only {
                        sh.warn(format!(
                            "{}: damaged chunk (messages from t={} ns): {e}; rest of the chunk skipped",
                            file.display(),
                            span.start
                        ));
                    }
                    break;
                }
            }
        }
    }

    fn next(&mut self, sh: &mut Shared) -> Option<BagMessage> {
        if self.done {
            return None;
        }
        let out = loop {
            let head = self.pending.peek().map(|p| p.0.key.0);
            if let Some(span) = self.spans.get(self.next_span) {
                // load every chunk that starts before the earliest queued message
                if head.is_none_or(|t| span.start < t) {
                    let span = span.clone();
                    self.next_span += 1;
                    self.load(&span, sh, false);
                    continue;
                }
            }
            break self.pending.pop().map(|p| p.0.msg);
        };
        if out.is_none() {
            self.done = true;
            if self.unknown_channel > 0 {
                sh.warn(format!(
                    "{}: {} messages on undeclared channels skipped",
                    self.file.display(),
                    self.unknown_channel
                ));
            }
        }
        out
    }
}

/// One row of a sqlite3 bag: topic id, timestamp, data.
type Row = (i64, i64, Vec<u8>);

/// Time-ordered stream over one sqlite3 file: a reader thread walks the `ORDER BY timestamp,
/// id` cursor (a rusqlite statement borrows its connection, so the thread owns both) and hands
/// rows over in batches through a bounded channel: memory is a few batches.
struct SqliteSource {
    file: PathBuf,
    ids: HashMap<i64, usize>,
    rx: std::sync::mpsc::Receiver<Result<Vec<Row>, String>>,
    batch: VecDeque<Row>,
    time_range: Option<(i64, i64)>,
    declared: HashMap<usize, u64>,
    unknown: usize,
    done: bool,
    _temp: Option<TempFile>,
}

/// Rows per batch handed over by the sqlite3 reader thread.
const SQLITE_BATCH: usize = 256;

impl SqliteSource {
    /// Opens `db` (`file` names it in warnings; they differ for a decompressed `.db3.zstd`).
    fn open(
        file: &Path,
        db: &Path,
        start: i64,
        temp: Option<TempFile>,
        sh: &mut Shared,
    ) -> Option<SqliteSource> {
        match Self::try_open(file, db, start, temp, sh) {
            Ok(s) => Some(s),
            Err(e) => {
                sh.warn(format!(
                    "{}: sqlite3 read stopped: {e} (everything before was read)",
                    file.display()
                ));
                None
            }
        }
    }

    fn connect(db: &Path) -> Result<rusqlite::Connection, rusqlite::Error> {
        use rusqlite::{Connection, OpenFlags};
        // immutable=1: no locking and no -wal/-shm files, so read-only directories work.
        let uri = format!("file:{}?immutable=1", db.display());
        Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
    }

    fn try_open(
        file: &Path,
        db: &Path,
        start: i64,
        temp: Option<TempFile>,
        sh: &mut Shared,
    ) -> Result<SqliteSource, rusqlite::Error> {
        let conn = Self::connect(db)?;
        let mut defs: HashMap<String, String> = HashMap::new();
        if let Ok(mut st) = conn.prepare(
            "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions",
        ) {
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows.flatten() {
                if row.1 == "ros2msg" && !row.2.is_empty() {
                    defs.insert(row.0, row.2);
                }
            }
        }
        let mut ids = HashMap::new();
        let mut kept = Vec::new();
        {
            // offered_qos_profiles exists since rosbag2 Foxy; older bags lack it
            let with_qos = conn
                .prepare(
                    "SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics",
                )
                .is_ok();
            let sql = if with_qos {
                "SELECT id, name, type, serialization_format, offered_qos_profiles FROM topics"
            } else {
                "SELECT id, name, type, serialization_format, '' FROM topics"
            };
            let mut st = conn.prepare(sql)?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                ))
            })?;
            for row in rows {
                let (id, name, ty, fmt, qos) = row?;
                let i = sh.topic_index(&name, &ty, &fmt);
                let t = &mut sh.topics[i];
                if t.definition.is_none() {
                    t.definition = defs.get(&ty).cloned();
                }
                if t.offered_qos.is_empty() {
                    t.offered_qos = qos;
                }
                ids.insert(id, i);
                if sh.keeps(i) {
                    kept.push(id);
                }
            }
        }
        let time_range = conn
            .query_row(
                "SELECT MIN(timestamp), MAX(timestamp) FROM messages",
                [],
                |r| Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .ok()
            .and_then(|(a, b)| Some((a?, b?)));
        let mut declared = HashMap::new();
        if let Ok(mut st) =
            conn.prepare("SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id")
        {
            if let Ok(rows) = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))) {
                for (id, n) in rows.flatten() {
                    if let Some(&i) = ids.get(&id) {
                        *declared.entry(i).or_insert(0) += n.max(0) as u64;
                    }
                }
            }
        }
        let filter = if sh.keep.is_some() {
            let list: Vec<String> = kept.iter().map(|i| i.to_string()).collect();
            format!(" AND topic_id IN ({})", list.join(","))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT topic_id, timestamp, data FROM messages WHERE timestamp >= ?1{filter} ORDER BY timestamp, id"
        );
        // prepared here so that a malformed database fails at open, naming the file
        conn.prepare(&sql)?;
        drop(conn);
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        let db = db.to_path_buf();
        std::thread::Builder::new()
            .name("sattva-db3".into())
            .spawn(move || {
                let run = || -> Result<(), rusqlite::Error> {
                    let conn = Self::connect(&db)?;
                    let mut st = conn.prepare(&sql)?;
                    let mut rows = st.query([start])?;
                    let mut batch = Vec::with_capacity(SQLITE_BATCH);
                    while let Some(r) = rows.next()? {
                        batch.push((r.get(0)?, r.get(1)?, r.get(2)?));
                        if batch.len() == SQLITE_BATCH
                            && tx
                                .send(Ok(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(SQLITE_BATCH),
                                )))
                                .is_err()
                        {
                            return Ok(());
                        }
                    }
                    if !batch.is_empty() {
                        let _ = tx.send(Ok(batch));
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    let _ = tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(SqliteSource {
            file: file.to_path_buf(),
            ids,
            rx,
            batch: VecDeque::new(),
            time_range,
            declared,
            unknown: 0,
            done: false,
            _temp: temp,
        })
    }

    fn next(&mut self, sh: &mut Shared) -> Option<BagMessage> {
        loop {
            if let Some((id, t, data)) = self.batch.pop_front() {
                match self.ids.get(&id) {
                    Some(&topic) => {
                        return Some(BagMessage {
                            topic,
                            log_time: t,
                            publish_time: t,
                            data,
                        })
                    }
                    None => {
                        self.unknown += 1;
                        continue;
                    }
                }
            }
            if self.done {
                return None;
            }
            match self.rx.recv() {
                Ok(Ok(b)) => self.batch = b.into(),
                Ok(Err(e)) => {
                    sh.warn(format!(
                        "{}: sqlite3 read stopped: {e} (everything before was read)",
                        self.file.display()
                    ));
                    self.done = true;
                }
                Err(_) => {
                    self.done = true;
                    if self.unknown > 0 {
                        sh.warn(format!(
                            "{}: {} messages with an unknown topic_id skipped",
                            self.file.display(),
                            self.unknown
                        ));
                    }
                }
            }
        }
    }
}
/// Fills as much of `buf` as the input has (short only at end of input).
fn read_up_to(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

static TMP_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Largest decompressed chunk accepted (rosbag2 writes 768 KiB chunks by default).
const MAX_CHUNK_BYTES: u64 = 1 << 30;

/// Decompresses a chunk's records and checks size and CRC.
///
/// Done here rather than with `mcap::read::ChunkReader` because that reader does not bound the
/// record lengths inside a chunk: a corrupt length aborts the process on allocation (found by
/// tests/replay_fuzz.rs with mcap 0.26). Output grows with the data actually decompressed, never
/// with the size the header claims.
fn decompress_chunk(header: &mcap::records::ChunkHeader, data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let want = header.uncompressed_size;
    if want > MAX_CHUNK_BYTES {
        return Err(format!(
            "declares {want} uncompressed bytes (limit {MAX_CHUNK_BYTES})"
        ));
    }
    let out = match header.compression.as_str() {
        "" => data.to_vec(),
        "zstd" => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(data)
                .map_err(|e| format!("zstd: {e}"))?
                .take(want)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd: {e}"))?;
            out
        }
        "lz4" => {
            let mut out = Vec::new();
            lz4::Decoder::new(data)
                .map_err(|e| format!("lz4: {e}"))?
                .take(want)
                .read_to_end(&mut out)
                .map_err(|e| format!("lz4: {e}"))?;
            out
        }
        other => return Err(format!("unsupported compression `{other}`")),
    };
    if out.len() as u64 != want {
        return Err(format!(
            "decompressed to {} bytes, header says {want}",
            out.len()
        ));
    }
    if header.uncompressed_crc != 0 {
        let crc = crc32fast::hash(&out);
        if crc != header.uncompressed_crc {
            return Err(format!(
                "CRC mismatch: stored {:#010x}, computed {crc:#010x}",
                header.uncompressed_crc
            ));
        }
    }
    Ok(out)
}

/// MCAP times are u64; rosbag2 times are i64. Saturate instead of wrapping.
fn clamp_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
