//! `sattva bag info BAG` and `sattva bag check BAG`: what `ros2 bag info` prints (storage, files,
//! duration, start and end, messages, per topic type, count, serialization format and offered
//! QoS), and a full read of every message that reports damage. Neither needs ROS 2: both use
//! the project's own streaming reader ([`BagReader`]).
//!
//! `info` reads no message when the storage declares counts and times (MCAP summary, sqlite3
//! tables); otherwise (an MCAP file without summary, e.g. after a crash) it reads the bag once.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::record::msgs::AnyMessage;
use crate::record::reader::{BagReader, ReplayError};

/// One topic of [`BagInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSummary {
    /// Topic name.
    pub name: String,
    /// Message type, `pkg/msg/Name`.
    pub type_name: String,
    /// Messages on it.
    pub count: u64,
    /// `cdr`.
    pub serialization_format: String,
    /// Offered QoS, short form (`reliable, volatile, keep_last 10`), empty when unknown.
    pub qos: String,
}

/// What `sattva bag info` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BagInfo {
    /// The bag.
    pub path: PathBuf,
    /// `mcap`, `sqlite3`, or both for a mixed directory.
    pub storage: String,
    /// Storage files and their sizes, bytes.
    pub files: Vec<(PathBuf, u64)>,
    /// First and last log time, ns since the epoch (None: no message).
    pub time_range: Option<(i64, i64)>,
    /// Messages in the bag.
    pub messages: u64,
    /// Topics.
    pub topics: Vec<TopicSummary>,
    /// `metadata.yaml`'s compression (`zstd file`, `zstd message`), empty when none.
    pub compression: String,
    /// Where counts come from: `declared` (summary/database) or `read` (every message read).
    pub counted_by: &'static str,
    /// Damage met while reading.
    pub warnings: Vec<String>,
}

impl BagInfo {
    /// Reads the bag's description (cheap when the storage declares counts, see the module docs).
    pub fn read(path: &Path) -> Result<BagInfo, ReplayError> {
        let mut r = BagReader::open(path)?;
        let (counts, range, counted_by) = match (r.declared_counts(), r.declared_time_range()) {
            (Some(c), range) if range.is_some() || c.iter().all(|&n| n == 0) => {
                (c, range, "declared")
            }
            _ => {
                let mut range: Option<(i64, i64)> = None;
                while let Some(m) = r.next_message() {
                    let t = m.log_time;
                    range = Some(range.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                }
                let mut c = r.read_counts().to_vec();
                c.resize(r.topics().len(), 0);
                (c, range, "read")
            }
        };
        Ok(Self::build(&r, &counts, range, counted_by))
    }

    fn build(
        r: &BagReader,
        counts: &[u64],
        range: Option<(i64, i64)>,
        counted_by: &'static str,
    ) -> BagInfo {
        let mut kinds: Vec<&str> = r
            .files()
            .iter()
            .filter_map(|f| crate::record::reader::Storage::of(f))
            .map(|k| match k {
                crate::record::reader::Storage::Mcap => "mcap",
                crate::record::reader::Storage::Sqlite3 => "sqlite3",
            })
            .collect();
        if kinds.is_empty() {
            if let Some(m) = r.metadata() {
                kinds.push(if m.storage_identifier == "sqlite3" {
                    "sqlite3"
                } else {
                    "mcap"
                });
            }
        }
        kinds.sort_unstable();
        kinds.dedup();
        let compression = r
            .metadata()
            .filter(|m| !m.compression_mode.is_empty() && m.compression_mode != "none")
            .map(|m| {
                format!(
                    "{} {}",
                    m.compression_format,
                    m.compression_mode.to_ascii_lowercase()
                )
            })
            .unwrap_or_default();
        let topics: Vec<TopicSummary> = r
            .topics()
            .iter()
            .enumerate()
            .map(|(i, t)| TopicSummary {
                name: t.name.clone(),
                type_name: t.type_name.clone(),
                count: counts.get(i).copied().unwrap_or(0),
                serialization_format: t.serialization_format.clone(),
                qos: qos_short(&t.offered_qos),
            })
            .collect();
        BagInfo {
            path: r.path().to_path_buf(),
            storage: kinds.join("+"),
            files: r
                .files()
                .iter()
                .map(|f| (f.clone(), std::fs::metadata(f).map_or(0, |m| m.len())))
                .collect(),
            time_range: range,
            messages: topics.iter().map(|t| t.count).sum(),
            topics,
            compression,
            counted_by,
            warnings: r.warnings().to_vec(),
        }
    }

    /// Time from the first to the last message, s.
    pub fn duration_s(&self) -> f64 {
        self.time_range.map_or(0.0, |(a, b)| (b - a) as f64 * 1e-9)
    }
}

/// `2020-04-02 22:23:55.112411371 UTC (1585866235.112411371)` for ns since the epoch.
fn fmt_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil from days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{nanos:09} UTC ({secs}.{nanos:09})",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// `reliable, volatile, keep_last 10` from rosbag2's QoS YAML (numeric enums up to Humble,
/// names since Jazzy); the first profile when several publishers offered one.
pub fn qos_short(yaml: &str) -> String {
    use serde_norway::Value;
    let Ok(v) = serde_norway::from_str::<Value>(yaml) else {
        return String::new();
    };
    let p = match &v {
        Value::Sequence(s) => match s.first() {
            Some(p) => p.clone(),
            None => return String::new(),
        },
        Value::Mapping(_) => v.clone(),
        _ => return String::new(),
    };
    let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let name = |k: &str, table: &[(i64, &'static str)]| -> String {
        match get(k) {
            Value::Number(n) => {
                let n = n.as_i64().unwrap_or(-1);
                table
                    .iter()
                    .find(|(i, _)| *i == n)
                    .map_or_else(|| format!("{k} {n}"), |(_, s)| s.to_string())
            }
            Value::String(s) => s,
            _ => String::new(),
        }
    };
    let reliability = name(
        "reliability",
        &[
            (0, "system_default"),
            (1, "reliable"),
            (2, "best_effort"),
            (3, "unknown"),
        ],
    );
    let durability = name(
        "durability",
        &[
            (0, "system_default"),
            (1, "transient_local"),
            (2, "volatile"),
            (3, "unknown"),
        ],
    );
    let history = name(
        "history",
        &[
            (0, "system_default"),
            (1, "keep_last"),
            (2, "keep_all"),
            (3, "unknown"),
        ],
    );
    let depth = match get("depth") {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    };
    let history = if history == "keep_last" {
        format!("keep_last {depth}")
    } else {
        history
    };
    [reliability, durability, history]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for BagInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Files:             {}", {
            let v: Vec<String> = self
                .files
                .iter()
                .map(|(p, _)| {
                    p.file_name()
                        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
                })
                .collect();
            v.join(", ")
        })?;
        let bytes: u64 = self.files.iter().map(|f| f.1).sum();
        writeln!(f, "Bag size:          {}", human_bytes(bytes))?;
        writeln!(f, "Storage id:        {}", self.storage)?;
        if !self.compression.is_empty() {
            writeln!(f, "Compression:       {}", self.compression)?;
        }
        writeln!(f, "Duration:          {:.9}s", self.duration_s())?;
        if let Some((a, b)) = self.time_range {
            writeln!(f, "Start:             {}", fmt_time(a))?;
            writeln!(f, "End:               {}", fmt_time(b))?;
        }
        writeln!(
            f,
            "Messages:          {} ({})",
            self.messages, self.counted_by
        )?;
        write!(f, "Topic information: ")?;
        for (i, t) in self.topics.iter().enumerate() {
            if i > 0 {
                write!(f, "                   ")?;
            }
            write!(
                f,
                "Topic: {} | Type: {} | Count: {} | Serialization Format: {}",
                t.name, t.type_name, t.count, t.serialization_format
            )?;
            if !t.qos.is_empty() {
                write!(f, " | QoS: {}", t.qos)?;
            }
            writeln!(f)?;
        }
        if self.topics.is_empty() {
            writeln!(f)?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units[u])
}

/// What `sattva bag check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Messages read per topic: (name, type, read, declared by the storage).
    pub topics: Vec<(String, String, u64, Option<u64>)>,
    /// Messages read.
    pub messages: u64,
    /// Messages of known types that did not decode.
    pub undecodable: u64,
    /// Messages out of log-time order (never, unless the reader is wrong).
    pub out_of_order: u64,
    /// Damage the reader met (truncation, bad chunks, missing files ...).
    pub warnings: Vec<String>,
    /// First few decode failures, with topic and time.
    pub decode_errors: Vec<String>,
}

impl CheckReport {
    /// True when nothing was damaged, missing or undecodable.
    pub fn ok(&self) -> bool {
        self.warnings.is_empty()
            && self.undecodable == 0
            && self.out_of_order == 0
            && self
                .topics
                .iter()
                .all(|t| t.3.is_none_or(|declared| declared == t.2))
    }
}

/// Reads every message of `path`, decodes those of known types, compares counts with what the
/// storage declares.
pub fn check(path: &Path) -> Result<CheckReport, ReplayError> {
    let mut r = BagReader::open(path)?;
    let declared = r.declared_counts();
    let mut rep = CheckReport::default();
    let mut last = i64::MIN;
    while let Some(m) = r.next_message() {
        rep.messages += 1;
        if m.log_time < last {
            rep.out_of_order += 1;
        }
        last = m.log_time;
        let ty = &r.topics()[m.topic].type_name;
        if let Err(e) = AnyMessage::decode(ty, &m.data) {
            rep.undecodable += 1;
            if rep.decode_errors.len() < 10 {
                rep.decode_errors.push(format!(
                    "{} at {} ns: {e}",
                    r.topics()[m.topic].name,
                    m.log_time
                ));
            }
        }
    }
    let read = r.read_counts().to_vec();
    rep.topics = r
        .topics()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.name.clone(),
                t.type_name.clone(),
                read.get(i).copied().unwrap_or(0),
                declared.as_ref().and_then(|d| d.get(i).copied()),
            )
        })
        .collect();
    rep.warnings = r.warnings().to_vec();
    Ok(rep)
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, t, read, declared) in &self.topics {
            write!(f, "{n} ({t}): {read} read")?;
            match declared {
                Some(d) if d != read => {
                    writeln!(f, ", {d} declared: MISSING {}", d.saturating_sub(*read))?
                }
                Some(_) => writeln!(f, ", as declared")?,
                None => writeln!(f)?,
            }
        }
        for e in &self.decode_errors {
            writeln!(f, "undecodable: {e}")?;
        }
        for w in &self.warnings {
            writeln!(f, "damage: {w}")?;
        }
        write!(
            f,
            "{} messages read, {} undecodable, {} out of order: {}",
            self.messages,
            self.undecodable,
            self.out_of_order,
            if self.ok() { "OK" } else { "DAMAGED" }
        )
    }
}
