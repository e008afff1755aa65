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
//! The whole bag is loaded into memory and sorted by log time (stable, so messages with equal
//! times keep their file order): replay needs random access and a total order anyway, and the
//! evaluation bags are minutes long. Bags larger than memory are out of scope for now.

use std::collections::HashMap;
use std::io::Read;
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

/// A rosbag2 bag read into memory, messages in log-time order.
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
    /// Only messages on these topics are kept (None = all); see [`Bag::open_topics`].
    keep: Option<Vec<String>>,
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

impl Bag {
    /// Opens a bag directory or a single `.mcap` / `.db3` file and reads all its messages.
    pub fn open(path: &Path) -> Result<Bag, ReplayError> {
        Self::open_with(path, None)
    }

    /// Like [`Bag::open`] but keeps only messages on `topics` (the others are skipped while
    /// reading, so a bag with camera streams costs only the memory of the topics replayed).
    /// [`TopicInfo::message_count`] then counts kept messages only.
    pub fn open_topics(path: &Path, topics: &[&str]) -> Result<Bag, ReplayError> {
        Self::open_with(path, Some(topics.iter().map(|t| t.to_string()).collect()))
    }

    fn open_with(path: &Path, keep: Option<Vec<String>>) -> Result<Bag, ReplayError> {
        let mut bag = Bag {
            path: path.to_path_buf(),
            keep,
            ..Default::default()
        };
        let files = if path.is_dir() {
            bag.discover_files(path)?
        } else if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            return Err(ReplayError::NotFound(path.to_path_buf()));
        };
        let message_zstd = bag.compression_mode() == Some("message");
        for f in files {
            let from_meta = || match bag.metadata.as_ref()?.storage_identifier.as_str() {
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
            let first_new = bag.messages.len();
            match (kind, file_zstd) {
                (Storage::Mcap, false) => {
                    match std::fs::File::open(&f).and_then(|h| Ok((h.metadata()?.len(), h))) {
                        Ok((len, h)) => bag.read_mcap(
                            &f,
                            &mut std::io::BufReader::with_capacity(1 << 20, h),
                            len,
                        ),
                        Err(e) => bag.warn(format!("{}: cannot read: {e}", f.display())),
                    }
                }
                (Storage::Mcap, true) => match unzstd_file(&f) {
                    Ok(buf) => bag.read_mcap(&f, &mut buf.as_slice(), buf.len() as u64),
                    Err(e) => bag.warn(format!("{}: cannot decompress: {e}", f.display())),
                },
                (Storage::Sqlite3, false) => bag.read_sqlite(&f, &f),
                (Storage::Sqlite3, true) => {
                    // sqlite needs a file: decompress to a private temporary one.
                    let tmp = std::env::temp_dir().join(format!(
                        "sattva-{}-{}.db3",
                        std::process::id(),
                        TMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    ));
                    match unzstd_file(&f).and_then(|b| std::fs::write(&tmp, b)) {
                        Ok(()) => bag.read_sqlite(&f, &tmp),
                        Err(e) => bag.warn(format!("{}: cannot decompress: {e}", f.display())),
                    }
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            if message_zstd {
                bag.unzstd_messages(&f, first_new);
            }
            bag.files.push(f);
        }
        if bag.messages.is_empty() && !bag.warnings.is_empty() && bag.topics.is_empty() {
            return Err(ReplayError::Unreadable {
                path: path.to_path_buf(),
                message: bag.warnings.join("; "),
            });
        }
        bag.finish();
        Ok(bag)
    }

    /// Reads an MCAP file already in memory (`name` is used in warnings). Never fails: what
    /// cannot be read is listed in [`Bag::warnings`]. This is the fuzzing entry point.
    pub fn from_mcap_bytes(name: &Path, buf: &[u8]) -> Bag {
        let mut bag = Bag {
            path: name.to_path_buf(),
            ..Default::default()
        };
        bag.read_mcap(name, &mut &buf[..], buf.len() as u64);
        bag.files.push(name.to_path_buf());
        bag.finish();
        bag
    }

    fn finish(&mut self) {
        self.messages.sort_by_key(|m| m.log_time);
        for t in &mut self.topics {
            t.message_count = 0;
        }
        for m in &self.messages {
            if let Some(t) = self.topics.get_mut(m.topic) {
                t.message_count += 1;
            }
        }
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
                        self.topic_index(
                            &t.topic_metadata.name,
                            &t.topic_metadata.type_name,
                            &t.topic_metadata.serialization_format,
                        );
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
                            self.warn(format!(
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
                Err(e) => self.warn(format!(
                    "{}: invalid metadata ({e}); scanning the directory instead",
                    meta_path.display()
                )),
            },
            Err(e) => self.warn(format!(
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

    /// Decompresses each message read from `file` (from index `from`) in a `message`-mode bag.
    fn unzstd_messages(&mut self, file: &Path, from: usize) {
        let mut bad = 0usize;
        let tail: Vec<BagMessage> = self.messages.drain(from..).collect();
        for mut m in tail {
            match zstd::stream::decode_all(m.data.as_slice()) {
                Ok(d) => {
                    m.data = d;
                    self.messages.push(m);
                }
                Err(_) => bad += 1,
            }
        }
        if bad > 0 {
            self.warn(format!(
                "{}: {bad} messages failed zstd decompression; skipped",
                file.display()
            ));
        }
    }

    fn keeps(&self, topic: usize) -> bool {
        match &self.keep {
            None => true,
            Some(k) => k.iter().any(|n| *n == self.topics[topic].name),
        }
    }

    fn warn(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.warnings.push(msg);
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
            definition: None,
            message_count: 0,
        });
        self.topics.len() - 1
    }

    fn read_mcap(&mut self, file: &Path, input: &mut dyn Read, len: u64) {
        // Defence in depth: the `mcap` crate is not fuzzed by us to exhaustion; a panic inside it
        // on a malformed file becomes a warning, and what was read before it is kept.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.read_mcap_inner(file, input, len)
        }));
        if r.is_err() {
            self.warn(format!(
                "{}: the MCAP parser panicked on malformed data; rest of the file skipped",
                file.display()
            ));
        }
    }

    fn read_mcap_inner(&mut self, file: &Path, input: &mut dyn Read, len: u64) {
        use mcap::read::LinearReader as SliceReader;
        use mcap::records::Record;
        use mcap::sans_io::{LinearReadEvent, LinearReader, LinearReaderOptions};
        let mut state = McapState::default();
        // Streams records from `input`: memory holds one record (chunk) at a time. Record
        // lengths are bounded by the file size and MAX_CHUNK_BYTES so corrupt lengths cannot
        // trigger huge allocations; chunks are emitted whole and decompressed here.
        let limit = len.min(MAX_CHUNK_BYTES) as usize;
        let mut reader = LinearReader::new_with_options(
            LinearReaderOptions::default()
                .with_skip_end_magic(true)
                .with_emit_chunks(true)
                .with_record_length_limit(limit.max(64)),
        );
        let mut n_records = 0usize;
        while let Some(event) = reader.next_event() {
            let (opcode, body) = match event {
                Ok(LinearReadEvent::ReadRequest(need)) => {
                    let buf = reader.insert(need);
                    match read_up_to(input, buf) {
                        Ok(n) => reader.notify_read(n),
                        Err(e) => {
                            self.warn(format!("{}: read error: {e}", file.display()));
                            break;
                        }
                    }
                    continue;
                }
                Ok(LinearReadEvent::Record { data, opcode }) => (opcode, data),
                Err(e) => {
                    self.warn(if n_records == 0 {
                        format!("{}: not an MCAP file: {e}", file.display())
                    } else {
                        format!(
                            "{}: stopped after {n_records} records: {e} (truncated or corrupt file; everything before was read)",
                            file.display()
                        )
                    });
                    break;
                }
            };
            n_records += 1;
            let rec = match mcap::parse_record(opcode, body) {
                Ok(r) => r,
                Err(e) => {
                    self.warn(format!(
                        "{}: record {n_records} (opcode {opcode:#04x}) unreadable: {e}; skipped",
                        file.display()
                    ));
                    continue;
                }
            };
            match rec {
                Record::Chunk { header, data } => {
                    let start_time = header.message_start_time;
                    match decompress_chunk(&header, &data) {
                        Ok(records) => {
                            // sans_magic bounds every record length by the chunk's size.
                            for inner in SliceReader::sans_magic(&records) {
                                match inner {
                                    Ok(r) => self.mcap_record(file, &mut state, r),
                                    Err(e) => {
                                        self.warn(format!(
                                            "{}: damaged chunk (messages from t={start_time} ns): {e}; rest of the chunk skipped",
                                            file.display()
                                        ));
                                        break;
                                    }
                                }
                            }
                        }
                        Err(e) => self.warn(format!(
                            "{}: unreadable chunk (messages from t={start_time} ns): {e}; skipped",
                            file.display()
                        )),
                    }
                }
                r => self.mcap_record(file, &mut state, r),
            }
        }
        if state.unknown_channel > 0 {
            self.warn(format!(
                "{}: {} messages on undeclared channels skipped",
                file.display(),
                state.unknown_channel
            ));
        }
    }

    fn mcap_record(&mut self, file: &Path, st: &mut McapState, rec: mcap::records::Record<'_>) {
        use mcap::records::Record;
        match rec {
            Record::Schema { header, data } => {
                let def = (header.encoding == "ros2msg")
                    .then(|| String::from_utf8_lossy(&data).into_owned());
                st.schemas.insert(header.id, (header.name.clone(), def));
            }
            Record::Channel(ch) => {
                let (type_name, def) = match st.schemas.get(&ch.schema_id) {
                    Some((n, d)) => (n.clone(), d.clone()),
                    None => (String::new(), None),
                };
                if ch.message_encoding != "cdr" {
                    self.warn(format!(
                        "{}: topic `{}` has message encoding `{}` (not cdr): kept raw, not decodable",
                        file.display(),
                        ch.topic,
                        ch.message_encoding
                    ));
                }
                let i = self.topic_index(&ch.topic, &type_name, &ch.message_encoding);
                if self.topics[i].definition.is_none() {
                    self.topics[i].definition = def;
                }
                st.channels.insert(ch.id, (i, self.keeps(i)));
            }
            Record::Message { header, data } => match st.channels.get(&header.channel_id) {
                Some(&(topic, true)) => self.messages.push(BagMessage {
                    topic,
                    log_time: clamp_time(header.log_time),
                    publish_time: clamp_time(header.publish_time),
                    data: data.into_owned(),
                }),
                Some(&(_, false)) => {}
                None => st.unknown_channel += 1,
            },
            _ => {}
        }
    }

    /// Reads the sqlite3 database at `db`; `file` names it in warnings (they differ for a
    /// decompressed `.db3.zstd`).
    fn read_sqlite(&mut self, file: &Path, db: &Path) {
        if let Err(e) = self.try_read_sqlite(file, db) {
            self.warn(format!(
                "{}: sqlite3 read stopped: {e} (everything before was read)",
                file.display()
            ));
        }
    }

    fn try_read_sqlite(&mut self, file: &Path, db: &Path) -> Result<(), rusqlite::Error> {
        use rusqlite::{Connection, OpenFlags};
        // immutable=1: no locking and no -wal/-shm files, so read-only directories work.
        let uri = format!("file:{}?immutable=1", db.display());
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )?;
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
        let mut ids: HashMap<i64, (usize, bool)> = HashMap::new();
        {
            let mut st = conn.prepare("SELECT id, name, type, serialization_format FROM topics")?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            for row in rows {
                let (id, name, ty, fmt) = row?;
                let i = self.topic_index(&name, &ty, &fmt);
                if self.topics[i].definition.is_none() {
                    self.topics[i].definition = defs.get(&ty).cloned();
                }
                ids.insert(id, (i, self.keeps(i)));
            }
        }
        let mut st =
            conn.prepare("SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, id")?;
        let mut rows = st.query([])?;
        let mut unknown = 0usize;
        while let Some(r) = rows.next()? {
            let topic_id: i64 = r.get(0)?;
            match ids.get(&topic_id) {
                Some(&(topic, true)) => {
                    let t: i64 = r.get(1)?;
                    let data: Vec<u8> = r.get(2)?;
                    self.messages.push(BagMessage {
                        topic,
                        log_time: t,
                        publish_time: t,
                        data,
                    })
                }
                Some(&(_, false)) => {}
                None => unknown += 1,
            }
        }
        if unknown > 0 {
            self.warn(format!(
                "{}: {unknown} messages with an unknown topic_id skipped",
                file.display()
            ));
        }
        Ok(())
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

/// Reads and zstd-decompresses a whole file (`--compression-mode file` bags).
fn unzstd_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    zstd::stream::decode_all(std::io::BufReader::new(f))
}

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

#[derive(Default)]
struct McapState {
    schemas: HashMap<u16, (String, Option<String>)>,
    /// channel id -> (topic index, kept by the topic filter)
    channels: HashMap<u16, (usize, bool)>,
    unknown_channel: usize,
}

/// MCAP times are u64; rosbag2 times are i64. Saturate instead of wrapping.
fn clamp_time(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
