//! Per-task timing statistics, recorded on the RT thread and read lock-free elsewhere.
//!
//! The worker records every job into a small buffer and, while idle, into compact histograms
//! it owns (no sharing, no atomics; see [`Recorder`]). Every `stats_publish_ns`, while idle, it
//! copies their used ranges into the back buffer of a triple buffer and publishes; a non-RT
//! reader ([`StatsReader`]) always gets the newest complete copy, as HDR histograms, without
//! locks and without ever making the worker wait. All buffers are preallocated: recording and
//! publishing allocate nothing.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::rt::RtStatus;

/// Largest value the histograms hold, ns (larger values are recorded as this).
const HIST_MAX_NS: u64 = 60_000_000_000;

/// An empty histogram with the executor's bounds (1 ns .. 60 s, 2 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    // constant, valid bounds (1 <= low, high >= 2 * low, sigfig <= 5): creation cannot fail
    Histogram::new_with_bounds(1, HIST_MAX_NS, 2).expect("constant histogram bounds are valid")
}

/// Counters and histograms of one task.
#[derive(Clone, Debug)]
pub struct TaskSnapshot {
    /// Jobs run.
    pub jobs: u64,
    /// Jobs whose execution time exceeded the budget.
    pub overruns: u64,
    /// Jobs that finished after their absolute deadline.
    pub deadline_misses: u64,
    /// Releases dropped (by the overrun policy, or because they passed entirely during an overrun).
    pub skipped_releases: u64,
    /// Sporadic polls at which the task was not ready.
    pub idle_polls: u64,
    /// True once the task was safe-stopped.
    pub safe_stopped: bool,
    /// True when a job panicked (the task was stopped).
    pub panicked: bool,
    /// Release (wake-up) latency: start of the job minus its release time, ns.
    pub release_latency: Histogram<u64>,
    /// Execution time: end minus start, ns.
    pub execution: Histogram<u64>,
    /// Response time: end minus release, ns.
    pub response: Histogram<u64>,
}

impl TaskSnapshot {
    pub(crate) fn new() -> TaskSnapshot {
        TaskSnapshot {
            jobs: 0,
            overruns: 0,
            deadline_misses: 0,
            skipped_releases: 0,
            idle_polls: 0,
            safe_stopped: false,
            panicked: false,
            release_latency: new_histogram(),
            execution: new_histogram(),
            response: new_histogram(),
        }
    }
}

/// min / percentiles / max of one histogram, ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Smallest, ns.
    pub min: u64,
    /// Median, ns.
    pub p50: u64,
    /// 99th percentile, ns.
    pub p99: u64,
    /// 99.9th percentile, ns.
    pub p999: u64,
    /// Largest, ns.
    pub max: u64,
    /// Mean, ns.
    pub mean: f64,
}

impl Summary {
    /// Summarises a histogram.
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |v: u64| v as f64 / 1000.0;
        write!(
            f,
            "min {:>8.1} p50 {:>8.1} p99 {:>8.1} p99.9 {:>8.1} max {:>9.1} us",
            us(self.min),
            us(self.p50),
            us(self.p99),
            us(self.p999),
            us(self.max)
        )
    }
}

/// Printable, exportable statistics of one task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStats {
    /// Task name.
    pub name: String,
    /// Core it runs on.
    pub core: usize,
    /// Period, ns.
    pub period_ns: i64,
    /// Relative deadline, ns.
    pub deadline_ns: i64,
    /// Budget, ns.
    pub budget_ns: i64,
    /// Jobs run.
    pub jobs: u64,
    /// Jobs over budget.
    pub overruns: u64,
    /// Jobs past their deadline.
    pub deadline_misses: u64,
    /// Releases dropped.
    pub skipped_releases: u64,
    /// Sporadic polls without work.
    pub idle_polls: u64,
    /// Safe-stopped.
    pub safe_stopped: bool,
    /// Stopped by a panic.
    pub panicked: bool,
    /// A job of the task hung (found by the watchdog; the task is safe-stopped).
    pub hung: bool,
    /// Release latency.
    pub release_latency: Summary,
    /// Execution time.
    pub execution: Summary,
    /// Response time.
    pub response: Summary,
}

/// Statistics of a whole executor (what `/diagnostics` publishes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SchedStats {
    /// Real-time status.
    pub rt: RtStatus,
    /// True when driven by a virtual clock (times are virtual: latencies are 0).
    pub virtual_time: bool,
    /// One entry per task, in name order.
    pub tasks: Vec<TaskStats>,
}

impl SchedStats {
    /// The stats of task `name`.
    pub fn task(&self, name: &str) -> Option<&TaskStats> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// One status per task plus one for the executor, shaped like ROS 2
    /// `diagnostic_msgs/DiagnosticStatus` (name, level, message, key/values) so the ROS bridge
    /// can publish them on `/diagnostics` without this module knowing ROS.
    pub fn diagnostics(&self) -> Vec<DiagStatus> {
        let us = |v: u64| format!("{:.1}", v as f64 / 1000.0);
        let mut out = Vec::with_capacity(self.tasks.len() + 1);
        let (level, message) = match self.rt.state {
            super::RtState::Degraded => (
                DiagLevel::Warn,
                format!("rt degraded: {}", self.rt.issues.join("; ")),
            ),
            super::RtState::Full => (DiagLevel::Ok, "rt full".to_string()),
            super::RtState::Off => (
                DiagLevel::Ok,
                if self.virtual_time {
                    "virtual time".to_string()
                } else {
                    "rt off".to_string()
                },
            ),
        };
        out.push(DiagStatus {
            name: "sattva/sched".into(),
            level,
            message,
            values: vec![("rt".into(), self.rt.state.to_string())]
                .into_iter()
                .chain(
                    self.rt
                        .notes
                        .iter()
                        .enumerate()
                        .map(|(i, n)| (format!("note{i}"), n.clone())),
                )
                .collect(),
        });
        for t in &self.tasks {
            let (level, message) = if t.hung {
                (DiagLevel::Error, "hung: safe-stopped".to_string())
            } else if t.panicked {
                (DiagLevel::Error, "panicked: task stopped".to_string())
            } else if t.safe_stopped {
                (DiagLevel::Error, "overrun: safe-stopped".to_string())
            } else if t.deadline_misses > 0 || t.overruns > 0 {
                (
                    DiagLevel::Warn,
                    format!(
                        "{} deadline misses, {} overruns",
                        t.deadline_misses, t.overruns
                    ),
                )
            } else {
                (DiagLevel::Ok, "on time".to_string())
            };
            out.push(DiagStatus {
                name: format!("sattva/sched/{}", t.name),
                level,
                message,
                values: vec![
                    ("core".into(), t.core.to_string()),
                    ("period_us".into(), us(t.period_ns.max(0) as u64)),
                    ("jobs".into(), t.jobs.to_string()),
                    ("deadline_misses".into(), t.deadline_misses.to_string()),
                    ("overruns".into(), t.overruns.to_string()),
                    ("skipped_releases".into(), t.skipped_releases.to_string()),
                    ("release_latency_p50_us".into(), us(t.release_latency.p50)),
                    ("release_latency_p99_us".into(), us(t.release_latency.p99)),
                    ("release_latency_max_us".into(), us(t.release_latency.max)),
                    ("execution_p50_us".into(), us(t.execution.p50)),
                    ("execution_p99_us".into(), us(t.execution.p99)),
                    ("execution_max_us".into(), us(t.execution.max)),
                    ("response_p99_us".into(), us(t.response.p99)),
                    ("response_max_us".into(), us(t.response.max)),
                ],
            });
        }
        out
    }
}

/// Severity of a [`DiagStatus`] (the levels of `diagnostic_msgs/DiagnosticStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagLevel {
    /// All good.
    Ok,
    /// Degraded or occasional misses.
    Warn,
    /// Stopped.
    Error,
}

/// One diagnostic status (maps 1:1 onto `diagnostic_msgs/DiagnosticStatus`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiagStatus {
    /// Status name, e.g. `sattva/sched/control`.
    pub name: String,
    /// Severity.
    pub level: DiagLevel,
    /// One-line summary.
    pub message: String,
    /// Key/value pairs.
    pub values: Vec<(String, String)>,
}

impl fmt::Display for SchedStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sched: rt: {}{}",
            self.rt.state,
            if self.virtual_time {
                " (virtual time)"
            } else {
                ""
            }
        )?;
        for i in &self.rt.issues {
            writeln!(f, "  ! {i}")?;
        }
        for n in &self.rt.notes {
            writeln!(f, "  - {n}")?;
        }
        for t in &self.tasks {
            writeln!(
                f,
                "  task {} (core {}, period {} us): jobs {} overruns {} deadline misses {} skipped {}{}",
                t.name,
                t.core,
                t.period_ns as f64 / 1000.0,
                t.jobs,
                t.overruns,
                t.deadline_misses,
                t.skipped_releases,
                match (t.panicked || t.hung, t.safe_stopped) {
                    (true, _) if t.hung => " HUNG (safe-stopped)",
                    (true, _) => " PANICKED (stopped)",
                    (false, true) => " SAFE-STOPPED",
                    _ => "",
                }
            )?;
            writeln!(f, "    release  {}", t.release_latency)?;
            writeln!(f, "    exec     {}", t.execution)?;
            writeln!(f, "    response {}", t.response)?;
        }
        Ok(())
    }
}

/// Static facts about a task, for building [`TaskStats`].
#[derive(Clone, Debug)]
pub(crate) struct TaskMeta {
    pub name: String,
    pub core: usize,
    pub period_ns: i64,
    pub deadline_ns: i64,
    pub budget_ns: i64,
}

pub(crate) fn task_stats(m: &TaskMeta, s: &TaskSnapshot) -> TaskStats {
    TaskStats {
        name: m.name.clone(),
        core: m.core,
        period_ns: m.period_ns,
        deadline_ns: m.deadline_ns,
        budget_ns: m.budget_ns,
        jobs: s.jobs,
        overruns: s.overruns,
        deadline_misses: s.deadline_misses,
        skipped_releases: s.skipped_releases,
        idle_polls: s.idle_polls,
        safe_stopped: s.safe_stopped,
        panicked: s.panicked,
        hung: false,
        release_latency: Summary::of(&s.release_latency),
        execution: Summary::of(&s.execution),
        response: Summary::of(&s.response),
    }
}

/// Job timings buffered before they go into the histograms (8 bytes each: 1 KiB per task).
const PENDING: usize = 128;

/// Fold the buffer into the histograms (while idle) once it holds this many jobs.
const FLUSH_AT: usize = PENDING / 2;

/// Sub-buckets per power of two of [`LogHist`] (as in the HDR histograms it feeds: 2
/// significant digits, unit 1 ns).
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// [`LogHist`] keeps values below 2^36 ns (68.7 s, above [`HIST_MAX_NS`]); larger ones count
/// as the largest.
const TOP_BIT: u32 = 36;
const LOG_BUCKETS: usize = (TOP_BIT - SUB_BITS) as usize * SUB + SUB;

/// The RT side's histogram: the bucket layout of an HDR histogram with bounds 1 ns .. 60 s and
/// 2 significant digits (bucket `b` = `max(0, floor(log2 v) - 7)`, sub-bucket `v >> b`), kept as
/// a flat array of counters with a branch-free index of a few instructions. `hdrhistogram`'s own
/// `record` costs about 75 instructions (generic counter type, resize and overflow checks);
/// this one about 8. The reader turns the counts into a real HDR histogram bucket by bucket:
/// since the layouts are identical, every percentile comes out exactly as if the values had been
/// recorded there directly.
#[derive(Clone)]
pub(crate) struct LogHist {
    counts: Box<[u64; LOG_BUCKETS]>,
    /// Lowest and highest index used (so publishing scans only that range).
    lo: usize,
    hi: usize,
}

impl LogHist {
    fn new() -> LogHist {
        LogHist {
            counts: Box::new([0; LOG_BUCKETS]),
            lo: LOG_BUCKETS,
            hi: 0,
        }
    }

    #[inline]
    fn index(v: u64) -> usize {
        let v = v.min((1 << TOP_BIT) - 1);
        let b = (64 - (v | (2 * SUB as u64 - 1)).leading_zeros()) - (SUB_BITS + 1);
        b as usize * SUB + (v >> b) as usize
    }

    /// The smallest value that lands in bucket `i`.
    fn lowest(i: usize) -> u64 {
        if i < 2 * SUB {
            i as u64
        } else {
            let b = i / SUB - 1;
            ((i - b * SUB) as u64) << b
        }
    }

    #[inline]
    fn record(&mut self, v: u64) {
        let i = Self::index(v);
        self.counts[i] += 1;
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
    }

    /// Sets `self` to the counts of `src` (same layout), touching only the index ranges either
    /// has used: publishing costs a few KB of copying, not the whole 30 KB array. No allocation.
    fn copy_from(&mut self, src: &LogHist) {
        if self.lo <= self.hi {
            self.counts[self.lo..=self.hi].fill(0);
        }
        if src.lo <= src.hi {
            self.counts[src.lo..=src.hi].copy_from_slice(&src.counts[src.lo..=src.hi]);
        }
        self.lo = src.lo;
        self.hi = src.hi;
    }

    /// Sets `h` to these counts. No allocation (same bounds, values within them).
    fn store_into(&self, h: &mut Histogram<u64>) {
        h.reset();
        if self.lo > self.hi {
            return;
        }
        for i in self.lo..=self.hi {
            let c = self.counts[i];
            if c > 0 {
                h.saturating_record_n(Self::lowest(i).min(HIST_MAX_NS), c);
            }
        }
    }
}

/// Counters of one task, updated by the worker.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub jobs: u64,
    pub overruns: u64,
    pub deadline_misses: u64,
    pub skipped_releases: u64,
    pub idle_polls: u64,
    pub safe_stopped: bool,
    pub panicked: bool,
}

/// RT side: the live statistics of one task and the publishing half of its triple buffer.
///
/// A job's timings (release latency and execution time as two `u32` ns; the response time is
/// their sum) go first into a small sequential buffer: one warm cache line per eight jobs. They
/// are folded into [`LogHist`]s only every [`FLUSH_AT`] jobs while the worker is idle, before
/// each publish, or when the buffer is full. Publishing (every `stats_publish_ns`, while idle)
/// copies the counters and the used ranges of the histograms into the back buffer of a triple
/// buffer; the reader makes HDR histograms of them. Neither the worker's caches nor its time go
/// to HDR bookkeeping.
pub(crate) struct Recorder {
    pub live: Counters,
    hists: [LogHist; 3],
    pending: [[u32; 2]; PENDING],
    n: usize,
    tx: triple_buffer::Input<Raw>,
}

/// What a worker publishes per task: counters and compact histograms (latency, execution,
/// response).
#[derive(Clone)]
pub(crate) struct Raw {
    counters: Counters,
    hists: [LogHist; 3],
}

/// Non-RT side of one task's statistics: the triple buffer's output and the HDR view of it.
pub(crate) struct SnapshotRx {
    rx: triple_buffer::Output<Raw>,
    view: TaskSnapshot,
}

impl SnapshotRx {
    /// The newest published statistics, as HDR histograms. No allocation.
    pub(crate) fn read(&mut self) -> &TaskSnapshot {
        let raw = self.rx.read();
        let (v, c) = (&mut self.view, &raw.counters);
        v.jobs = c.jobs;
        v.overruns = c.overruns;
        v.deadline_misses = c.deadline_misses;
        v.skipped_releases = c.skipped_releases;
        v.idle_polls = c.idle_polls;
        v.safe_stopped = c.safe_stopped;
        v.panicked = c.panicked;
        let [l, e, r] = &raw.hists;
        l.store_into(&mut v.release_latency);
        e.store_into(&mut v.execution);
        r.store_into(&mut v.response);
        &self.view
    }
}

impl Recorder {
    pub(crate) fn new() -> (Recorder, SnapshotRx) {
        let raw = Raw {
            counters: Counters::default(),
            hists: [LogHist::new(), LogHist::new(), LogHist::new()],
        };
        let (tx, rx) = triple_buffer::triple_buffer(&raw);
        let rx = SnapshotRx {
            rx,
            view: TaskSnapshot::new(),
        };
        (
            Recorder {
                live: Counters::default(),
                hists: [LogHist::new(), LogHist::new(), LogHist::new()],
                pending: [[0; 2]; PENDING],
                n: 0,
                tx,
            },
            rx,
        )
    }

    /// Records one job: release latency and execution time, ns (response time = their sum).
    #[inline]
    pub(crate) fn record(&mut self, latency: u64, execution: u64) {
        match (u32::try_from(latency), u32::try_from(execution)) {
            (Ok(l), Ok(e)) => {
                self.pending[self.n] = [l, e];
                self.n += 1;
                if self.n == PENDING {
                    self.flush();
                }
            }
            // over 4.3 s: rare enough to go straight into the histograms
            _ => self.fold(latency, execution),
        }
    }

    #[inline]
    fn fold(&mut self, latency: u64, execution: u64) {
        let [l, e, r] = &mut self.hists;
        l.record(latency);
        e.record(execution);
        r.record(latency.saturating_add(execution));
    }

    /// True when enough jobs are buffered to be worth folding in now.
    #[inline]
    pub(crate) fn flush_due(&self) -> bool {
        self.n >= FLUSH_AT
    }

    /// Jobs recorded but not yet in the histograms.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.n
    }

    /// Folds the buffered timings into the histograms. No allocation.
    pub(crate) fn flush(&mut self) {
        for i in 0..self.n {
            let [l, e] = self.pending[i];
            self.fold(l as u64, e as u64);
        }
        self.n = 0;
    }

    /// Copies the live statistics into the back buffer and publishes them. No allocation.
    pub(crate) fn publish(&mut self) {
        self.flush();
        let b = self.tx.input_buffer_mut();
        b.counters = self.live;
        for (dst, src) in b.hists.iter_mut().zip(&self.hists) {
            dst.copy_from(src);
        }
        self.tx.publish();
    }
}

/// Reads the statistics of running workers from any (non-RT) thread, without locks.
pub struct StatsReader {
    pub(crate) rt: RtStatus,
    pub(crate) tasks: Vec<(TaskMeta, SnapshotRx)>,
}

impl StatsReader {
    /// The newest published statistics.
    pub fn snapshot(&mut self) -> SchedStats {
        let tasks = self
            .tasks
            .iter_mut()
            .map(|(m, rx)| task_stats(m, rx.read()))
            .collect();
        SchedStats {
            rt: self.rt.clone(),
            virtual_time: false,
            tasks,
        }
    }

    /// The newest published histograms of task `name`.
    pub fn histograms(&mut self, name: &str) -> Option<&TaskSnapshot> {
        self.tasks
            .iter_mut()
            .find(|(m, _)| m.name == name)
            .map(|(_, rx)| rx.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_and_direct_timings_all_reach_the_histograms() {
        let (mut r, mut rx) = Recorder::new();
        for i in 0..(PENDING as u64 + 10) {
            r.record(1_000 + i, 5_000);
        }
        // the full buffer was folded once; the rest waits
        assert_eq!(r.pending(), 10);
        let folded = |r: &Recorder| r.hists[0].counts.iter().sum::<u64>();
        assert_eq!(folded(&r), PENDING as u64);
        // too large for the compact buffer: straight in
        r.record(5_000_000_000, 7);
        assert_eq!(folded(&r), PENDING as u64 + 1);
        r.publish();
        assert_eq!(r.pending(), 0);
        let s = rx.read();
        assert_eq!(s.release_latency.len(), PENDING as u64 + 11);
        assert_eq!(s.execution.len(), PENDING as u64 + 11);
        assert!(s
            .release_latency
            .equivalent(s.release_latency.max(), 5_000_000_000));
        assert!(s.execution.equivalent(s.execution.min(), 7));
        // response = latency + execution
        assert!(s.response.equivalent(s.response.min(), 6_000));
        assert!(s.response.equivalent(s.response.max(), 5_000_000_007));
    }

    #[test]
    fn log_hist_has_the_bucket_layout_of_the_hdr_histogram() {
        // every bucket boundary up to the top, and values around them
        let h = new_histogram();
        let mut vs: Vec<u64> = (0..2000).collect();
        for k in 8..TOP_BIT {
            for d in [-2i64, -1, 0, 1, 2] {
                vs.push(((1u64 << k) as i64 + d) as u64);
            }
            vs.push(3 << (k - 1));
        }
        vs.extend([HIST_MAX_NS - 1, HIST_MAX_NS, 12_345_678_901]);
        for v in vs {
            let i = LogHist::index(v);
            assert!(i < LOG_BUCKETS, "{v}");
            let lo = LogHist::lowest(i);
            // the bucket's lowest value is HDR's lowest equivalent value, and v is in it
            assert_eq!(lo, h.lowest_equivalent(v), "v {v} index {i}");
            assert!(
                lo <= v && LogHist::index(lo) == i,
                "v {v} index {i} lowest {lo}"
            );
        }
        // beyond the range: counted in the last bucket
        assert_eq!(LogHist::index(u64::MAX), LOG_BUCKETS - 1);
    }

    #[test]
    fn published_percentiles_equal_direct_hdr_recording() {
        let (mut r, mut rx) = Recorder::new();
        let mut direct = new_histogram();
        let mut x = 12345u64;
        // several publishes: the triple buffer rotates, each back buffer holds an older copy
        // with a narrower range that must be fully replaced
        for round in 0..5u64 {
            for _ in 0..3_000 {
                // spread over 1 ns .. ~1 ms, the range widening round by round
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = 1 + ((x >> 33) % (1 << ((x >> 8) % (8 + 3 * round) + 1)));
                r.record(v, 1);
                direct.record(v).unwrap();
            }
            r.publish();
            let s = rx.read();
            assert_eq!(s.release_latency.len(), direct.len(), "round {round}");
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(
                    s.release_latency.value_at_quantile(q),
                    direct.value_at_quantile(q),
                    "round {round} q {q}"
                );
            }
            assert_eq!(s.release_latency.max(), direct.max());
            assert_eq!(s.release_latency.min(), direct.min());
        }
    }
}
