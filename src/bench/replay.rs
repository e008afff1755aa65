//! `sattva bench replay`: read + decode throughput of a bag, against the Python `rosbags`
//! package reading and deserialising the same bag in the same run.
//!
//! Without `--bag`, a synthetic robot bag is written first (IMU 400 Hz, 12-joint JointState
//! 500 Hz, TF 50 Hz) so both sides have something realistic to chew on.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::record::msgs;
use crate::record::reader::BagReader;
use crate::record::{BagWriter, RecordError, WriterOptions};

use crate::replay::ReplayError;

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Reading the bag failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Writing the synthetic bag failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The Python reference could not run.
    #[error("python reference ({python}): {message}")]
    Python {
        /// The interpreter used.
        python: String,
        /// What went wrong.
        message: String,
    },
}

/// The interpreter for Python reference tools: `$SATTVA_PYTHON`, else `third_party/venv/bin/python`
/// under the current directory, else under the crate's source directory.
pub fn python_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SATTVA_PYTHON") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("third_party/venv/bin/python");
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/venv/bin/python")
}

fn script_path() -> PathBuf {
    let local = PathBuf::from("scripts/bench/bag_interop.py");
    if local.exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/bag_interop.py")
}

/// Figures of one benchmark run.
#[derive(Clone, Debug)]
pub struct ReplayBenchReport {
    /// The bag measured.
    pub bag: PathBuf,
    /// Messages in it.
    pub messages: usize,
    /// Messages sattva decoded into typed structs (the rest are types it keeps raw).
    pub decoded: usize,
    /// Bag duration (first to last log time), s.
    pub bag_seconds: f64,
    /// Best sattva time to open, read and decode every message, s.
    pub sattva_seconds: f64,
    /// Best `rosbags` time to open, read and deserialise every message, s.
    pub rosbags_seconds: f64,
    /// Messages `rosbags` read.
    pub rosbags_messages: usize,
    /// Repetitions per side.
    pub reps: u32,
}

impl fmt::Display for ReplayBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = |n: usize, s: f64| n as f64 / s.max(1e-12);
        let s_rate = rate(self.messages, self.sattva_seconds);
        let r_rate = rate(self.rosbags_messages, self.rosbags_seconds);
        writeln!(f, "replay bench: {}", self.bag.display())?;
        writeln!(
            f,
            "  bag: {} messages ({} decoded to typed structs), {:.1} s of log time; best of {} runs each",
            self.messages, self.decoded, self.bag_seconds, self.reps
        )?;
        writeln!(
            f,
            "  {:<28} {:>14} {:>12} {:>14}",
            "", "messages/s", "time (s)", "x real time"
        )?;
        writeln!(
            f,
            "  {:<28} {:>14.0} {:>12.4} {:>14.0}",
            "sattva (read + decode)",
            s_rate,
            self.sattva_seconds,
            self.bag_seconds / self.sattva_seconds.max(1e-12)
        )?;
        writeln!(
            f,
            "  {:<28} {:>14.0} {:>12.4} {:>14.0}",
            "rosbags (read + deserialize)",
            r_rate,
            self.rosbags_seconds,
            self.bag_seconds / self.rosbags_seconds.max(1e-12)
        )?;
        write!(
            f,
            "  sattva / rosbags: {:.1}x (goal >= 10x)",
            s_rate / r_rate.max(1e-12)
        )
    }
}

/// Periodic streams merged in time order: stream `k` fires at `first[k] + n * periods[k]`, up
/// to `end` (inclusive); yields `(k, t)`, the earliest stream first on ties. The synthetic bags
/// of both replay benchmarks are written in this order.
pub(super) fn periodic<const N: usize>(
    periods: [i64; N],
    first: [i64; N],
    end: i64,
) -> impl Iterator<Item = (usize, i64)> {
    let mut next = first;
    std::iter::from_fn(move || {
        let (k, t) = (0..N).map(|k| (k, next[k])).min_by_key(|x| x.1)?;
        (t <= end).then(|| {
            next[k] += periods[k];
            (k, t)
        })
    })
}

/// The benchmark bags' 12-joint state at `x` seconds.
pub(super) fn joint_sample(js: &mut msgs::JointState, stamp: msgs::Time, x: f64) {
    js.header.stamp = stamp;
    js.position = (0..12).map(|i| (x + i as f64).sin()).collect();
    js.velocity = (0..12).map(|i| (x + i as f64).cos()).collect();
    js.effort = vec![0.5; 12];
}

/// Writes the synthetic benchmark bag into `dir` (which must not exist): `seconds` of an IMU at
/// 400 Hz, 12-joint JointState at 500 Hz and a two-transform TF at 50 Hz.
pub fn write_synthetic_bag(dir: &Path, seconds: f64) -> Result<(), RecordError> {
    let mut w = BagWriter::create(dir, &WriterOptions::default())?;
    let imu_t = w.add_topic_for::<msgs::Imu>("/imu/data")?;
    let js_t = w.add_topic_for::<msgs::JointState>("/joint_states")?;
    let tf_t = w.add_topic_for::<msgs::TfMessage>("/tf")?;
    let t0: i64 = 1_700_000_000_000_000_000;
    let names: Vec<String> = (0..12).map(|i| format!("joint_{i}")).collect();
    let end = (seconds * 1e9) as i64;
    let mut imu = msgs::Imu::default();
    imu.header.frame_id = "imu_link".into();
    let mut js = msgs::JointState {
        name: names,
        ..Default::default()
    };
    let mut tf = msgs::TfMessage {
        transforms: vec![msgs::TransformStamped::default(); 2],
    };
    for (k, t) in periodic([2_500_000, 2_000_000, 20_000_000], [0; 3], end) {
        let stamp = msgs::Time::from_nanos(t0 + t);
        let x = t as f64 * 1e-9;
        match k {
            0 => {
                imu.header.stamp = stamp;
                imu.angular_velocity = msgs::Vector3 {
                    x: x.sin(),
                    y: 0.1,
                    z: -x.cos(),
                };
                imu.linear_acceleration = msgs::Vector3 {
                    x: 0.01 * x,
                    y: 0.0,
                    z: 9.81,
                };
                w.write(imu_t, t0 + t, &imu)?;
            }
            1 => {
                joint_sample(&mut js, stamp, x);
                w.write(js_t, t0 + t, &js)?;
            }
            _ => {
                for (i, tr) in tf.transforms.iter_mut().enumerate() {
                    tr.header.stamp = stamp;
                    tr.header.frame_id = if i == 0 { "world" } else { "base_link" }.into();
                    tr.child_frame_id = if i == 0 { "base_link" } else { "imu_link" }.into();
                    tr.transform.translation.x = x;
                }
                w.write(tf_t, t0 + t, &tf)?;
            }
        }
    }
    w.finish()?;
    Ok(())
}

/// Opens, reads and decodes every message of `bag`; returns (messages, typed decodes).
fn read_and_decode(bag: &Path) -> Result<(usize, usize, f64), ReplayError> {
    // the streaming reader, as replay uses it (bounded memory, time order)
    let mut r = BagReader::open(bag)?;
    let (mut n, mut decoded) = (0usize, 0usize);
    let mut range: Option<(i64, i64)> = None;
    while let Some(m) = r.next_message() {
        n += 1;
        range = Some(range.map_or((m.log_time, m.log_time), |(a, _)| (a, m.log_time)));
        if let Ok(Some(msg)) = r.decode(&m) {
            std::hint::black_box(&msg);
            decoded += 1;
        }
    }
    let secs = range.map(|(a, z)| (z - a) as f64 * 1e-9).unwrap_or(0.0);
    Ok((n, decoded, secs))
}

/// Runs the benchmark on `bag` (or on a synthetic bag of `seconds` when `None`).
pub fn bench_replay(
    bag: Option<&Path>,
    seconds: f64,
    reps: u32,
) -> Result<ReplayBenchReport, BenchError> {
    let tmp;
    let bag: PathBuf = match bag {
        Some(b) => b.to_path_buf(),
        None => {
            tmp = std::env::temp_dir().join(format!("sattva-bench-replay-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            write_synthetic_bag(&tmp, seconds)?;
            tmp.clone()
        }
    };
    let reps = reps.max(1);
    let mut best = f64::INFINITY;
    let (mut n, mut decoded, mut span) = (0, 0, 0.0);
    for _ in 0..reps {
        let t = Instant::now();
        (n, decoded, span) = read_and_decode(&bag)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let python = python_path();
    let perr = |message: String| BenchError::Python {
        python: python.display().to_string(),
        message,
    };
    let out = Command::new(&python)
        .arg(script_path())
        .arg("bench")
        .arg(&bag)
        .arg(reps.to_string())
        .output()
        .map_err(|e| {
            perr(format!(
                "cannot run: {e} (set SATTVA_PYTHON or create third_party/venv)"
            ))
        })?;
    if !out.status.success() {
        return Err(perr(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| perr(format!("bad output `{text}`: {e}")))?;
    let r_n = v["messages"].as_u64().unwrap_or(0) as usize;
    let r_s = v["seconds"].as_f64().unwrap_or(f64::NAN);
    if std::env::temp_dir().join(format!("sattva-bench-replay-{}", std::process::id())) == bag {
        let _ = std::fs::remove_dir_all(&bag);
    }
    Ok(ReplayBenchReport {
        bag,
        messages: n,
        decoded,
        bag_seconds: span,
        sattva_seconds: best,
        rosbags_seconds: r_s,
        rosbags_messages: r_n,
        reps,
    })
}
