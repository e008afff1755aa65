//! `sattva bench sched`: the executor's wake-up latency beside cyclictest and a bare
//! `clock_nanosleep` loop measured in the same run (same interval, priority and core; idle and
//! with a memory-walking CPU hog on another core; p99, p99.9 and max with the executor's ratio to
//! each, and how quiet the core was), the dispatch overhead per task with 8 tasks on one core,
//! and the core-to-core handoff latency through [`crate::sched::channel`].
//!
//! Installs nothing: cyclictest comes from Debian's `rt-tests` (the project's setup installs
//! it); when it is missing the bench says so and prints the executor's figures alone.

use std::fmt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::sched::channel::{latest, ring};
use crate::sched::rt::{self, available_cores, RtStatus};
use crate::sched::stats::{new_histogram, Summary};
use crate::sched::{monotonic_ns, sleep_until_ns};
use crate::sched::{task_fn, Job, TaskSet};
use crate::sched::{Executor, SchedError};
use crate::sched::{OverrunPolicy, RtMode, SchedConfig, TaskConfig};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Seconds per latency run (each row runs cyclictest and the executor this long).
    pub seconds: f64,
    /// Task periods to measure, us.
    pub intervals_us: Vec<u64>,
    /// Core of the measured task (the hog runs on another one).
    pub core: usize,
    /// SCHED_FIFO priority of the measured task.
    pub priority: u8,
    /// Also measure with a CPU hog on another core.
    pub hog: bool,
    /// The cyclictest executable.
    pub cyclictest: String,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            seconds: 5.0,
            intervals_us: vec![1000, 200],
            core: 1,
            priority: 80,
            hog: true,
            cyclictest: "cyclictest".into(),
        }
    }
}

/// One latency comparison.
#[derive(Clone, Debug)]
pub struct LatencyRow {
    /// Period, us.
    pub interval_us: u64,
    /// "idle" or "hog".
    pub load: &'static str,
    /// cyclictest's wake-up latency, or why it could not run.
    pub cyclictest: Result<Summary, String>,
    /// The executor's release latency for one task at the same interval, priority and core.
    pub executor: Summary,
    /// The executor's latencies truncated to whole microseconds, as cyclictest counts them.
    pub executor_whole_us: Summary,
    /// Noise floor: p99 of the even chunks vs the odd chunks (larger / smaller) for cyclictest
    /// and for the executor: how far each tool differs from itself in this run.
    pub noise: (Option<f64>, Option<f64>),
    /// A bare Rust `clock_nanosleep` loop with the worker's thread setup (no executor): the floor.
    pub bare: Summary,
    /// The bare loop's latencies truncated to whole microseconds.
    pub bare_whole_us: Summary,
    /// Median over the chunks of each chunk's p99 (whole us, ns) for cyclictest, sattva and the
    /// bare loop: robust to a burst of foreign load that lands in one tool's chunk (on a busy
    /// machine the pooled p99 is decided by such bursts).
    pub chunk_p99: [Option<u64>; 3],
    /// Median over the chunks of each chunk's p99.9 (whole us, ns), same order.
    pub chunk_p999: [Option<u64>; 3],
    /// Median over the chunks of each chunk's maximum (whole us, ns), same order: the tail a
    /// typical chunk sees, which one stalled chunk cannot decide.
    pub chunk_max: [Option<u64>; 3],
    /// Late wake-ups: samples of at least 100 us and at least 500 us (whole us) for
    /// cyclictest, sattva and the bare loop. Counts, unlike a pooled p99.9, add up over runs.
    pub late: [[Option<u64>; 3]; 2],
    /// How quiet the machine was during the row.
    pub quiet: Quiet,
}

/// Wake-up latency thresholds of [`LatencyRow::late`], ns.
const LATE_NS: [u64; 2] = [100_000, 500_000];

/// What else the measured core did during a row, from the kernel's counters: the three tools
/// share the core with everything else on the machine, and on this kind of VM the tail is
/// decided by that, not by the tools.
#[derive(Clone, Debug, Default)]
pub struct Quiet {
    /// Share of the row's wall time the measured core was not idle (all processes; the three
    /// tools themselves use well under 1 %), %.
    pub busy_pct: Option<f64>,
    /// Time the host ran something else on the measured core's virtual CPU (`steal` in
    /// /proc/stat), ms.
    pub steal_ms: Option<f64>,
    /// Real-time (SCHED_FIFO / SCHED_RR) user threads of other processes seen between chunks,
    /// as `comm(pid) FIFO prio`: an equal or higher priority one on the measured core holds the
    /// measured thread off for as long as it runs.
    pub foreign_rt: Vec<String>,
}

/// Time of `core` from /proc/stat in USER_HZ ticks: (not idle, idle + iowait, steal).
fn core_ticks(core: usize) -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&format!("cpu{core}")))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let f = |i: usize| v.get(i).copied().unwrap_or(0);
    Some((f(0) + f(1) + f(2) + f(5) + f(6), f(3) + f(4), f(7)))
}

/// SCHED_FIFO / SCHED_RR user threads (not kernel threads) of processes other than this one.
fn foreign_rt_threads() -> Vec<String> {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let pid = p.file_name().to_string_lossy().to_string();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            // "tid (comm) state ppid ...": fields after the comm, 1-based as in proc(5)
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let comm = head.split_once('(').map_or("?", |(_, c)| c);
            let f: Vec<&str> = rest.split_whitespace().collect();
            let field = |n: usize| f.get(n - 3).and_then(|x| x.parse::<u64>().ok());
            let (Some(flags), Some(prio), Some(policy)) = (field(9), field(40), field(41)) else {
                continue;
            };
            if flags & PF_KTHREAD != 0 || !(policy == 1 || policy == 2) {
                continue;
            }
            let pol = if policy == 1 { "FIFO" } else { "RR" };
            let name = format!("{comm}({pid}) {pol} {prio}");
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// A point of a latency distribution, for the ratios `bench sched` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantile {
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
    /// Largest sample.
    Max,
}

impl Quantile {
    fn of(self, s: &Summary) -> u64 {
        match self {
            Quantile::P99 => s.p99,
            Quantile::P999 => s.p999,
            Quantile::Max => s.max,
        }
    }
}

/// `a / b` for two latencies in whole microseconds (`None` when `b` is 0).
fn whole_us_ratio(a: u64, b: u64) -> Option<f64> {
    let (a, b) = (a / 1000, b / 1000);
    (b > 0).then(|| a as f64 / b as f64)
}

impl LatencyRow {
    /// executor p99 / cyclictest p99, both in whole microseconds (cyclictest truncates each
    /// sample to whole us; comparing its figures with nanosecond ones would favour it by up to
    /// 1 us).
    pub fn p99_ratio(&self) -> Option<f64> {
        self.ratio_to_cyclictest(Quantile::P99)
    }

    /// executor / cyclictest at `q`, both in whole microseconds.
    pub fn ratio_to_cyclictest(&self, q: Quantile) -> Option<f64> {
        let c = self.cyclictest.as_ref().ok()?;
        whole_us_ratio(q.of(&self.executor_whole_us), q.of(c))
    }

    /// executor / bare loop at `q`, both in whole microseconds: what the executor adds to the
    /// environment's own latency.
    pub fn ratio_to_bare(&self, q: Quantile) -> Option<f64> {
        whole_us_ratio(q.of(&self.executor_whole_us), q.of(&self.bare_whole_us))
    }
}

fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

fn truncate(h: &LatencyHist) -> LatencyHist {
    LatencyHist {
        hist: truncate_to_us(&h.hist),
        min: h.min / 1000 * 1000,
        max: h.max / 1000 * 1000,
    }
}

/// The samples of `h` truncated to whole microseconds (the way cyclictest records them). Each
/// HDR bucket is taken at its midpoint (buckets are 1 % wide, so a sample within 0.5 % of a
/// microsecond boundary may land one microsecond off).
fn truncate_to_us(h: &Histogram<u64>) -> Histogram<u64> {
    let mut out = new_histogram();
    for v in h.iter_recorded() {
        let ns = h.median_equivalent(v.value_iterated_to());
        out.saturating_record_n(ns / 1000 * 1000, v.count_at_value());
    }
    out
}

/// Results of `sattva bench sched`.
#[derive(Clone, Debug)]
pub struct SchedBench {
    /// Options used.
    pub opts: BenchOptions,
    /// cyclictest version line.
    pub cyclictest_version: String,
    /// RT status of the executor runs.
    pub rt: Option<RtStatus>,
    /// Latency comparisons.
    pub rows: Vec<LatencyRow>,
    /// Gap between the end of one job and the start of the next, 8 tasks released together, ns.
    pub dispatch: Summary,
    /// Ring (SPSC queue) push -> pop on another core, ns.
    pub handoff_ring: Summary,
    /// Latest-value slot write -> read on another core, ns.
    pub handoff_latest: Summary,
    /// One atomic word written on one core and read on the other: the cache-line transfer that
    /// any queue between cores pays, ns.
    pub handoff_line: Summary,
    /// Timestamp source of the handoff figures.
    pub handoff_stamp: &'static str,
    /// p50 of each round (ring, floor), ns: the paths take turns in rounds, and on a VM the
    /// figure moves with where the host puts the two virtual CPUs (both paths move together).
    pub handoff_rounds: (Vec<u64>, Vec<u64>),
    /// Cores used by the handoff (producer, consumer).
    pub handoff_cores: (usize, usize),
    /// Median cost of one CLOCK_MONOTONIC read, ns (each dispatched job contains one).
    pub clock_read_ns: u64,
}

/// Median cost of reading CLOCK_MONOTONIC, ns.
fn clock_read_cost() -> u64 {
    let mut h = new_histogram();
    for _ in 0..100_000 {
        let a = monotonic_ns();
        let b = monotonic_ns();
        h.saturating_record((b - a).max(0) as u64);
    }
    h.value_at_quantile(0.5)
}

fn other_core(core: usize) -> usize {
    available_cores()
        .into_iter()
        .find(|&c| c != core)
        .unwrap_or(core)
}

/// Walks a 32 MiB buffer on `core` (ALU and memory traffic) until `stop` is set (or forever).
/// The body of the hog process (`sattva bench sched-hog --core N`).
pub fn hog(core: usize, stop: Option<&AtomicBool>) {
    core_affinity::set_for_current(core_affinity::CoreId { id: core });
    let mut buf = vec![1u64; 4 << 20];
    let mut i = 0usize;
    while !stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        for _ in 0..4096 {
            i = (i + 4099) % buf.len();
            buf[i] = buf[i].wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(&mut buf);
    }
}

/// Keeps another core busy until dropped: a separate process (this executable, `bench
/// sched-hog`), so that cyclictest, the bare loop and the executor all share the machine with
/// a foreign process, none of them with a thread of its own process; a thread when the
/// executable cannot be started again.
enum Hog {
    Process(std::process::Child),
    Thread(Arc<AtomicBool>, Option<std::thread::JoinHandle<()>>),
}

impl Hog {
    // Unsafe code: `pre_exec` (a closure run between fork and exec).
    #[allow(unsafe_code)]
    fn start(core: usize) -> Hog {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        let child = std::env::current_exe().and_then(|exe| {
            let mut cmd = Command::new(exe);
            cmd.args(["bench", "sched-hog", "--core", &core.to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            // SAFETY: `pre_exec` requires the closure to be async-signal-safe (it runs in the
            // forked child of a multithreaded process, before exec): it calls only `prctl` and
            // `getppid`, both async-signal-safe syscalls, reads a copied integer and builds its
            // errors without allocating. It makes the hog die with the bench (even when the
            // bench is killed).
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::getppid() != parent {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                    Ok(())
                })
            };
            cmd.spawn()
        });
        match child {
            Ok(c) => Hog::Process(c),
            Err(e) => {
                tracing::warn!(target: "sattva::sched", "bench: hog process failed ({e}); using a thread");
                let stop = Arc::new(AtomicBool::new(false));
                let s = stop.clone();
                Hog::Thread(stop, Some(std::thread::spawn(move || hog(core, Some(&s)))))
            }
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        match self {
            Hog::Process(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Hog::Thread(stop, h) => {
                stop.store(true, Ordering::Relaxed);
                if let Some(h) = h.take() {
                    let _ = h.join();
                }
            }
        }
    }
}

/// A latency histogram with exact min and max (cyclictest's histogram has 1 us buckets).
#[derive(Clone, Debug)]
pub struct LatencyHist {
    /// The samples, ns.
    pub hist: Histogram<u64>,
    /// Exact minimum, ns.
    pub min: u64,
    /// Exact maximum, ns.
    pub max: u64,
}

impl LatencyHist {
    fn new() -> LatencyHist {
        LatencyHist {
            hist: new_histogram(),
            min: u64::MAX,
            max: 0,
        }
    }

    fn merge(&mut self, o: &LatencyHist) {
        let _ = self.hist.add(&o.hist);
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    /// Percentiles, with the exact min and max.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::of(&self.hist);
        if !self.hist.is_empty() {
            s.min = self.min;
            s.max = self.max;
        }
        s
    }
}

/// Parses `cyclictest -q -h N` output (histogram in us, then `# Min/Avg/Max Latencies`,
/// `# Histogram Overflows`). Overflowed samples count as the reported maximum.
pub fn parse_cyclictest(out: &str) -> Result<LatencyHist, String> {
    let mut h = new_histogram();
    let (mut min, mut max, mut overflows) = (None, None, 0u64);
    let field =
        |l: &str| -> Option<u64> { l.split(':').nth(1)?.split_whitespace().next()?.parse().ok() };
    for line in out.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix('#') {
            let rest = rest.trim();
            if rest.starts_with("Min Latencies") {
                min = field(rest);
            } else if rest.starts_with("Max Latencies") {
                max = field(rest);
            } else if rest.starts_with("Histogram Overflows") {
                overflows = field(rest).unwrap_or(0);
            }
            continue;
        }
        let mut it = l.split_whitespace();
        if let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) {
            if let (Ok(us), Ok(n)) = (a.parse::<u64>(), b.parse::<u64>()) {
                if n > 0 {
                    h.saturating_record_n(us * 1000, n);
                }
            }
        }
    }
    let (Some(min), Some(max)) = (min, max) else {
        return Err(format!(
            "cyclictest output has no `# Min/Max Latencies` summary: {:?}",
            out.lines().take(5).collect::<Vec<_>>()
        ));
    };
    if overflows > 0 {
        h.saturating_record_n(max * 1000, overflows);
    }
    if h.is_empty() {
        return Err("cyclictest output has no histogram rows".into());
    }
    Ok(LatencyHist {
        hist: h,
        min: min * 1000,
        max: max * 1000,
    })
}

fn run_cyclictest(o: &BenchOptions, interval_us: u64, seconds: f64) -> Result<LatencyHist, String> {
    let loops = ((seconds * 1e6) / interval_us as f64).round().max(1.0) as u64;
    let out = Command::new(&o.cyclictest)
        .args([
            "-q",
            "-m",
            &format!("-p{}", o.priority),
            &format!("-a{}", o.core),
            "-t1",
            &format!("-i{interval_us}"),
            &format!("-l{loops}"),
            "-h10000",
        ])
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "`{}` not found: install rt-tests (Debian: apt-get install rt-tests; the project's setup does)",
                    o.cyclictest
                )
            } else {
                format!("cannot run `{}`: {e}", o.cyclictest)
            }
        })?;
    if !out.status.success() {
        return Err(format!(
            "cyclictest failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    parse_cyclictest(&String::from_utf8_lossy(&out.stdout))
}

fn run_executor(
    o: &BenchOptions,
    interval_us: u64,
    seconds: f64,
) -> Result<(LatencyHist, RtStatus), SchedError> {
    let mut cfg = SchedConfig {
        rt: RtMode::BestEffort,
        ..Default::default()
    };
    cfg.tasks.insert(
        "probe".into(),
        TaskConfig {
            period_ns: interval_us as i64 * 1000,
            priority: o.priority,
            core: o.core,
            // a wake-up later than a whole period drops the releases it missed, as cyclictest
            // does: one sample per stall, in all three tools (see `run_bare`)
            overrun: OverrunPolicy::Skip,
            ..Default::default()
        },
    );
    let mut x = 0u64;
    let set = TaskSet::new().add(
        "probe",
        task_fn(move |j: &Job| x = std::hint::black_box(x ^ j.seq)),
    );
    // without its start-up log line: a run starts the executor 100 times per row (the status is
    // printed once, with the results), and the write is I/O only the executor's chunks would do
    let mut ex =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            Executor::start(&cfg, set)
        })?;
    let status = ex.status().clone();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    ex.halt();
    let snap = ex
        .reader()
        .histograms("probe")
        .ok_or_else(|| SchedError::Bench("probe task missing".into()))?;
    let h = snap.release_latency.clone();
    let lat = LatencyHist {
        min: h.min(),
        max: h.max(),
        hist: h,
    };
    Ok((lat, status))
}

/// The floor any Rust program gets here: the same process and thread setup as an executor
/// worker (memory locked, `/dev/cpu_dma_latency` 0, pinned, SCHED_FIFO, stack prefaulted) and a
/// bare `clock_nanosleep` loop that stores each wake-up latency in a preallocated array. The
/// gap between this and the executor is what the executor itself costs; the gap between this and
/// cyclictest is the environment (process, thread, measurement).
///
/// After a wake-up later than a whole period the loop skips the periods it missed, like
/// cyclictest (`while (now > next) next += interval`) and the executor's probe task (`overrun:
/// skip`): a stall of the virtual CPU for 7 ms is one late sample in each tool. (Catching up
/// instead, as this loop did before, turned one such stall into 7 samples of 7, 6, ... 1 ms in
/// the bare loop alone, enough to decide its p99.9 in a 10 s run.)
fn run_bare(o: &BenchOptions, interval_us: u64, seconds: f64) -> Result<LatencyHist, SchedError> {
    let cfg = SchedConfig::default();
    let (mut issues, mut notes) = (Vec::new(), Vec::new());
    let _process = rt::setup_process(&cfg, &[o.core], &mut issues, &mut notes);
    let period = interval_us as i64 * 1000;
    let n = ((seconds * 1e9) as i64 / period).max(1) as usize;
    let (core, priority, prefault) = (o.core, o.priority, cfg.stack_prefault_kib);
    let h = std::thread::Builder::new()
        .name("bench-bare".into())
        .stack_size((prefault as usize + 512) * 1024)
        .spawn(move || {
            let mut issues = Vec::new();
            rt::setup_thread(RtMode::BestEffort, core, priority, prefault, &mut issues);
            let mut lat = vec![0i64; n];
            let mut next = monotonic_ns() + 2_000_000;
            let end = next + n as i64 * period;
            let mut k = 0;
            while next < end && k < n {
                sleep_until_ns(next);
                let now = monotonic_ns();
                lat[k] = now - next;
                k += 1;
                next += period;
                while now > next {
                    next += period;
                }
            }
            lat.truncate(k);
            lat
        })
        .map_err(SchedError::Spawn)?;
    let lat = h.join().map_err(|_| SchedError::WorkerDied)?;
    let mut out = LatencyHist::new();
    for &l in &lat {
        let v = l.max(0) as u64;
        out.hist.saturating_record(v);
        out.min = out.min.min(v);
        out.max = out.max.max(v);
    }
    Ok(out)
}

/// Time per dispatched job with 8 empty tasks released together on one core: the difference
/// between the start times (as the executor stamps them) of consecutive jobs of one release.
fn dispatch_overhead(o: &BenchOptions) -> Result<Summary, SchedError> {
    const TASKS: usize = 8;
    let period_ns = 1_000_000i64;
    let batches = ((o.seconds.min(3.0) * 1e9) as i64 / period_ns).max(100) as usize;
    let starts: Arc<Vec<AtomicI64>> =
        Arc::new((0..TASKS * batches).map(|_| AtomicI64::new(0)).collect());
    let mut cfg = SchedConfig {
        rt: RtMode::BestEffort,
        ..Default::default()
    };
    let mut set = TaskSet::new();
    for i in 0..TASKS {
        let name = format!("t{i}");
        cfg.tasks.insert(
            name.clone(),
            TaskConfig {
                period_ns,
                deadline_ns: period_ns - i as i64 * 10_000,
                priority: o.priority,
                core: o.core,
                ..Default::default()
            },
        );
        let st = starts.clone();
        set = set.add(
            &name,
            task_fn(move |j: &Job| {
                if let Some(a) = st.get(j.seq as usize * TASKS + i) {
                    a.store(j.start.0, Ordering::Relaxed);
                }
            }),
        );
    }
    let ex = Executor::start(&cfg, set)?;
    std::thread::sleep(Duration::from_nanos(
        (batches as u64 + 5) * period_ns as u64,
    ));
    ex.stop();
    let mut h = new_histogram();
    let mut batch = Vec::with_capacity(TASKS);
    for b in 10..batches {
        batch.clear();
        batch.extend(
            starts[b * TASKS..(b + 1) * TASKS]
                .iter()
                .map(|a| a.load(Ordering::Relaxed)),
        );
        if batch.contains(&0) {
            continue;
        }
        batch.sort_unstable();
        for w in batch.windows(2) {
            h.saturating_record((w[1] - w[0]).max(0) as u64);
        }
    }
    if h.is_empty() {
        return Err(SchedError::Bench("dispatch: no complete batches".into()));
    }
    Ok(Summary::of(&h))
}

fn set_fifo(priority: u8) -> bool {
    thread_priority::ThreadPriorityValue::try_from(priority)
        .ok()
        .and_then(|p| {
            thread_priority::set_thread_priority_and_policy(
                thread_priority::thread_native_id(),
                thread_priority::ThreadPriority::Crossplatform(p),
                thread_priority::ThreadSchedulePolicy::Realtime(
                    thread_priority::RealtimeThreadSchedulePolicy::Fifo,
                ),
            )
            .ok()
        })
        .is_some()
}

/// Timestamps for the handoff: the CPU's time-stamp counter where there is one (a few ns per
/// read instead of the ~20 ns of a CLOCK_MONOTONIC read, which on this VM reads the same counter
/// through the vDSO), CLOCK_MONOTONIC elsewhere. The counter is invariant and synchronised across
/// cores on the machines this runs on (`constant_tsc`, `nonstop_tsc`; Linux uses it as its
/// clocksource only when it is), and is converted to ns with a rate calibrated against
/// CLOCK_MONOTONIC.
// Unsafe code: the RDTSC/RDTSCP intrinsics.
#[allow(unsafe_code)]
mod stamp {
    /// Counter now, taken before the value is handed over (plain read: may run early, which can
    /// only make the measured latency longer).
    #[inline(always)]
    pub fn before() -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: RDTSC is part of the x86_64 baseline (every x86_64 CPU has it); the intrinsic
        // only reads the time-stamp counter.
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            crate::sched::monotonic_ns() as u64
        }
    }

    /// Counter now, taken after the value was received (RDTSCP waits until the loads before it
    /// have completed, so it cannot run early).
    #[inline(always)]
    pub fn after() -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: RDTSCP is present: `after` is only called once `usable` has checked the CPU
        // flags for it (`rdtscp`); it writes only `aux`, a local.
        unsafe {
            let mut aux = 0u32;
            core::arch::x86_64::__rdtscp(&mut aux)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            crate::sched::monotonic_ns() as u64
        }
    }

    /// True when the counter can be used across cores: invariant TSC, RDTSCP present and Linux
    /// itself using the TSC as clocksource (it stops doing so when the counters drift apart).
    pub fn usable() -> bool {
        if !cfg!(target_arch = "x86_64") {
            return false;
        }
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags = flags
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or_default();
        let has = |f: &str| flags.split_whitespace().any(|x| x == f);
        let cs = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .unwrap_or_default();
        has("constant_tsc") && has("nonstop_tsc") && has("rdtscp") && cs.trim() == "tsc"
    }

    /// Counter ticks per ns, measured against CLOCK_MONOTONIC over `ms` milliseconds.
    pub fn ticks_per_ns(ms: u64) -> f64 {
        let (c0, t0) = (after(), crate::sched::monotonic_ns());
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let (c1, t1) = (after(), crate::sched::monotonic_ns());
        (c1.wrapping_sub(c0)) as f64 / (t1 - t0).max(1) as f64
    }
}

/// What the handoff bench passes from core to core.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Path {
    /// The SPSC ring.
    Ring,
    /// The latest-value slot.
    Latest,
    /// One bare atomic word: the cost of moving one cache line between the two cores (the floor
    /// any queue pays).
    Line,
}

/// Push -> pop (write -> read) latency: the consumer spins on its core, the producer sends a
/// timestamp every 50 us from another core (both SCHED_FIFO when allowed, so the figure is the
/// cache-line transfer, not the OS scheduler). The timestamp is read once per side: before the
/// push on the producer, after the pop on the consumer. Returns the latencies in ns.
fn handoff_path(
    producer: usize,
    consumer: usize,
    priority: u8,
    samples: usize,
    path: Path,
    (use_tsc, ticks_per_ns): (bool, f64),
) -> Histogram<u64> {
    let ready = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let word = Arc::new(AtomicU64::new(0));
    let (mut tx, mut rx) = ring::<u64>(64);
    let (mut lw, mut lr) = latest(0u64);
    let (r2, d2, w2) = (ready.clone(), done.clone(), word.clone());
    let before = move || {
        if use_tsc {
            stamp::before()
        } else {
            monotonic_ns() as u64
        }
    };
    let after = move || {
        if use_tsc {
            stamp::after()
        } else {
            monotonic_ns() as u64
        }
    };
    let cons = std::thread::spawn(move || {
        core_affinity::set_for_current(core_affinity::CoreId { id: consumer });
        set_fifo(priority);
        let mut ticks = vec![0u64; samples];
        r2.store(true, Ordering::Release);
        let mut n = 0;
        let mut last = 0u64;
        while n < samples && !d2.load(Ordering::Relaxed) {
            let t = match path {
                Path::Ring => rx.pop(),
                Path::Latest => lr.updated().then(|| *lr.read()),
                Path::Line => {
                    let v = w2.load(Ordering::Acquire);
                    (v != last).then(|| {
                        last = v;
                        v
                    })
                }
            };
            // a busy-wait without PAUSE: the consumer is a spinning RT thread on its own core,
            // and PAUSE (tens of ns on recent cores) would add up to its length to each sample
            if let Some(t) = t {
                ticks[n] = after().wrapping_sub(t);
                n += 1;
            }
        }
        ticks.truncate(n);
        ticks
    });
    let prod = std::thread::spawn(move || {
        core_affinity::set_for_current(core_affinity::CoreId { id: producer });
        // wait (not spin) until the consumer runs, then become real-time: a spinning FIFO
        // thread could keep the not-yet-migrated consumer off this core
        while !ready.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        set_fifo(priority);
        let mut next = monotonic_ns();
        for _ in 0..samples + 100 {
            next += 50_000;
            sleep_until_ns(next);
            let t = before();
            match path {
                Path::Ring => {
                    tx.push(t);
                }
                Path::Latest => lw.write(t),
                Path::Line => word.store(t, Ordering::Release),
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let _ = prod.join();
    let ticks = cons.join().unwrap_or_default();
    let mut h = new_histogram();
    for t in ticks {
        // a counter step backwards (never seen with an invariant TSC) is recorded as 0
        let ns = if t > u64::MAX / 2 {
            0.0
        } else {
            t as f64 / ticks_per_ns
        };
        h.saturating_record(ns.round() as u64);
    }
    h
}

/// Ring, latest-value slot, one-cache-line floor, timestamp source, per-round p50 of ring and
/// floor.
type Handoff = (
    Summary,
    Summary,
    Summary,
    &'static str,
    (Vec<u64>, Vec<u64>),
);

/// Ring, latest-value slot and one-cache-line floor, producer on `producer`, consumer on
/// `consumer`.
fn handoff(producer: usize, consumer: usize, priority: u8, samples: usize) -> Handoff {
    let use_tsc = stamp::usable();
    let clock = if use_tsc {
        (true, stamp::ticks_per_ns(50))
    } else {
        (false, 1.0)
    };
    // the three paths take turns in rounds, so the ring and its floor see the same background
    const ROUNDS: usize = 5;
    let mut h = [new_histogram(), new_histogram(), new_histogram()];
    let mut rounds: [Vec<u64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (k, p) in [Path::Ring, Path::Latest, Path::Line]
            .into_iter()
            .enumerate()
        {
            let r = handoff_path(
                producer,
                consumer,
                priority,
                samples.div_ceil(ROUNDS),
                p,
                clock,
            );
            rounds[k].push(r.value_at_quantile(0.5));
            let _ = h[k].add(&r);
        }
    }
    let [r, l, w] = h.map(|h| Summary::of(&h));
    let [rr, _, wr] = rounds;
    let src = if use_tsc {
        "TSC (rdtsc / rdtscp)"
    } else {
        "CLOCK_MONOTONIC"
    };
    (r, l, w, src, (rr, wr))
}

/// Mean length of one chunk, s: the three tools take turns this often. Each round (one chunk of
/// each tool) draws its length uniformly from 0.5..1.5 times this. With one fixed length the
/// schedule would be periodic, and a periodic disturbance (a trace of the development VM showed
/// host stalls recurring every 100 ms and every 4 s) could keep landing in the same tool's
/// chunks for a whole run. A burst of host stalls (5-15 ms of late wake-ups) still falls into
/// one tool's chunk; the next one may fall into any tool's.
const CHUNK_S: f64 = 0.1;

/// A small pseudo-random generator (SplitMix64) for the chunk lengths.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Order of the three tools (0 cyclictest, 1 sattva, 2 bare loop) in successive chunks: all six
/// orders, arranged so that over six chunks (counting the step from one chunk to the next) each
/// tool follows each other one equally often (three times). A plain rotation (0 1 2, 1 2 0,
/// 2 0 1) put the executor right after cyclictest twice as often as the bare loop, so whatever a
/// tool leaves behind (an exiting process) would have landed on one of them more than on the
/// other.
const CHUNK_ORDER: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
];

/// Runs the whole benchmark.
pub fn run_bench(o: &BenchOptions) -> Result<SchedBench, SchedError> {
    let version = Command::new(&o.cyclictest)
        .arg("--help")
        .output()
        .ok()
        .and_then(|out| {
            let t = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            t.lines()
                .find(|l| l.contains("cyclictest V"))
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "cyclictest: not found".into());
    let mut rows = Vec::new();
    let mut rt = None;
    let loads: &[&'static str] = if o.hog { &["idle", "hog"] } else { &["idle"] };
    // alternate short chunks of the three tools so all see the same background load
    let mut rng = SplitMix64(monotonic_ns() as u64);
    for &interval_us in &o.intervals_us {
        for &load in loads {
            let _hog = (load == "hog").then(|| Hog::start(other_core(o.core)));
            std::thread::sleep(Duration::from_millis(100));
            let (ticks0, wall0) = (core_ticks(o.core), monotonic_ns());
            let mut foreign_rt = Vec::new();
            let mut ct: Result<LatencyHist, String> = Ok(LatencyHist::new());
            let mut ex = LatencyHist::new();
            let mut bare = LatencyHist::new();
            // per half (even / odd chunks): how much each tool differs from itself
            let mut ct_half = [LatencyHist::new(), LatencyHist::new()];
            let mut ex_half = [LatencyHist::new(), LatencyHist::new()];
            // p99, p99.9 and max of each chunk in whole us: [cyclictest, sattva, bare]
            let mut per_chunk: [[Vec<u64>; 3]; 3] = Default::default();
            let p99 = |h: &LatencyHist| h.hist.value_at_quantile(0.99);
            let mut chunk_done = |tool: usize, h: &LatencyHist| {
                per_chunk[0][tool].push(p99(h));
                per_chunk[1][tool].push(h.hist.value_at_quantile(0.999));
                per_chunk[2][tool].push(h.max);
            };
            let (mut left, mut k) = (o.seconds, 0);
            while left > 1e-9 {
                // one round: a chunk of each tool, all of the same length, random per round
                let mut chunk_s = CHUNK_S * (0.5 + rng.unit());
                if left - chunk_s < 0.5 * CHUNK_S {
                    chunk_s = left;
                }
                left -= chunk_s;
                // the order of the three tools changes from round to round, so none always runs
                // right after another one (or first after the hog started)
                for tool in CHUNK_ORDER[k % CHUNK_ORDER.len()] {
                    match tool {
                        0 => {
                            if let Ok(acc) = &mut ct {
                                match run_cyclictest(o, interval_us, chunk_s) {
                                    Ok(h) => {
                                        acc.merge(&h);
                                        ct_half[k % 2].merge(&h);
                                        chunk_done(0, &h);
                                    }
                                    Err(e) => ct = Err(e),
                                }
                            }
                        }
                        1 => {
                            let (h, status) = run_executor(o, interval_us, chunk_s)?;
                            ex.merge(&h);
                            let t = truncate(&h);
                            ex_half[k % 2].merge(&t);
                            chunk_done(1, &t);
                            rt.get_or_insert(status);
                        }
                        _ => {
                            let h = run_bare(o, interval_us, chunk_s)?;
                            bare.merge(&h);
                            chunk_done(2, &truncate(&h));
                        }
                    }
                }
                // between chunks (not during one: the scan itself is kernel work on some
                // core), every few seconds
                let scan = k % 10 == 9 || left <= 1e-9;
                for t in scan.then(foreign_rt_threads).unwrap_or_default() {
                    if !foreign_rt.contains(&t) {
                        foreign_rt.push(t);
                    }
                }
                k += 1;
            }
            let chunks = k;
            let wall_s = (monotonic_ns() - wall0) as f64 / 1e9;
            // USER_HZ is 100 on every Linux architecture that matters here
            let quiet = match (ticks0, core_ticks(o.core)) {
                (Some(a), Some(b)) => Quiet {
                    busy_pct: Some(((b.0 - a.0) as f64 / (wall_s * 100.0) * 100.0).min(100.0)),
                    steal_ms: Some((b.2 - a.2) as f64 * 10.0),
                    foreign_rt,
                },
                _ => Quiet {
                    foreign_rt,
                    ..Default::default()
                },
            };
            let spread = |a: &LatencyHist, b: &LatencyHist| {
                let (x, y) = (p99(a), p99(b));
                (chunks >= 2 && x.min(y) > 0).then(|| x.max(y) as f64 / x.min(y) as f64)
            };
            let [c99, c999, cmax] = per_chunk;
            let (ex_us, bare_us) = (truncate(&ex), truncate(&bare));
            let late = LATE_NS.map(|t| {
                let over = |h: &Histogram<u64>| h.count_between(t, u64::MAX);
                [
                    ct.as_ref().ok().map(|c| over(&c.hist)),
                    Some(over(&ex_us.hist)),
                    Some(over(&bare_us.hist)),
                ]
            });
            rows.push(LatencyRow {
                interval_us,
                load,
                noise: (
                    spread(&ct_half[0], &ct_half[1]),
                    spread(&ex_half[0], &ex_half[1]),
                ),
                cyclictest: ct.map(|h| h.summary()),
                executor: ex.summary(),
                executor_whole_us: ex_us.summary(),
                bare: bare.summary(),
                bare_whole_us: bare_us.summary(),
                chunk_p99: c99.map(median),
                chunk_p999: c999.map(median),
                chunk_max: cmax.map(median),
                late,
                quiet,
            });
        }
    }
    let dispatch = dispatch_overhead(o)?;
    let prod = other_core(o.core);
    // a spinning real-time consumer would starve a producer on the same core: needs two cores
    let (handoff_ring, handoff_latest, handoff_line, handoff_stamp, handoff_rounds) =
        if prod != o.core {
            handoff(prod, o.core, o.priority, 10_000)
        } else {
            (
                Summary::default(),
                Summary::default(),
                Summary::default(),
                "",
                Default::default(),
            )
        };
    Ok(SchedBench {
        opts: o.clone(),
        cyclictest_version: version,
        rt,
        rows,
        dispatch,
        handoff_ring,
        handoff_latest,
        handoff_line,
        handoff_stamp,
        handoff_rounds,
        handoff_cores: (prod, o.core),
        clock_read_ns: clock_read_cost(),
    })
}

fn us(v: u64) -> f64 {
    v as f64 / 1000.0
}

/// "(goal ...: met)" or "NOT met" for a ratio, empty when there is no ratio.
fn goal_verdict(goal: &str, ratio: Option<f64>, limit: f64) -> String {
    match ratio {
        Some(q) => format!(
            "(goal {goal}: {})",
            if q <= limit { "met" } else { "NOT met" }
        ),
        None => String::new(),
    }
}

/// One line of the side-by-side tail table: sattva, cyclictest, bare loop (whole us, given in
/// ns) and sattva's ratio to each.
fn tail_line(
    f: &mut fmt::Formatter<'_>,
    load: &str,
    label: &str,
    [x, c, b]: [Option<u64>; 3],
    verdict: String,
) -> fmt::Result {
    let whole = |v: Option<u64>| v.map_or("-".to_string(), |v| (v / 1000).to_string());
    let ratio = |o: Option<u64>| match (x, o) {
        (Some(x), Some(o)) => whole_us_ratio(x, o).map_or("-".into(), |q| format!("{q:.2}")),
        _ => "-".to_string(),
    };
    let line = format!(
        "  {:>8} {:<5} {:<24} {:>7} {:>10} {:>9} {:>18} {:>12}  {}",
        "",
        load,
        label,
        whole(x),
        whole(c),
        whole(b),
        ratio(c),
        ratio(b),
        verdict
    );
    writeln!(f, "{}", line.trim_end())
}

impl fmt::Display for SchedBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.opts;
        writeln!(
            f,
            "bench sched: wake-up latency, one task on core {} at SCHED_FIFO {}, {:.1} s per run ({})",
            o.core, o.priority, o.seconds, self.cyclictest_version
        )?;
        if let Some(rt) = &self.rt {
            writeln!(f, "  executor rt: {}", rt.state)?;
            for i in &rt.issues {
                writeln!(f, "    ! {i}")?;
            }
            for n in &rt.notes {
                writeln!(f, "    - {n}")?;
            }
        }
        writeln!(
            f,
            "  wake-up latency = clock read after the wake-up - programmed absolute time, for all three; \
             bare loop = the worker's process and thread setup around a plain clock_nanosleep loop \
             (no executor); hog = a memory-walking process on core {}; tools alternate in chunks \
             of {:.2}-{:.2} s (random per round), in an order where each follows each other one equally often; a wake-up later than \
             a period skips the periods it missed, in all three (cyclictest's rule); tail ratios in \
             whole us (as cyclictest counts), goal for the executor's own share: p99.9 <= 1.5 x the \
             bare loop's",
            other_core(o.core),
            CHUNK_S * 0.5,
            CHUNK_S * 1.5
        )?;
        writeln!(
            f,
            "  {:>8} {:<5} {:<11} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
            "interval",
            "load",
            "tool",
            "samples",
            "min us",
            "p50 us",
            "p99 us",
            "p99.9 us",
            "max us"
        )?;
        let line = |f: &mut fmt::Formatter<'_>, iv: String, load: &str, tool: &str, s: &Summary| {
            writeln!(
                f,
                "  {:>8} {:<5} {:<11} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>9.1} {:>9.1}",
                iv,
                load,
                tool,
                s.count,
                us(s.min),
                us(s.p50),
                us(s.p99),
                us(s.p999),
                us(s.max)
            )
        };
        for r in &self.rows {
            let iv = format!("{}us", r.interval_us);
            match &r.cyclictest {
                Ok(c) => line(f, iv.clone(), r.load, "cyclictest", c)?,
                Err(e) => writeln!(f, "  {iv:>8} {:<5} cyclictest  unavailable: {e}", r.load)?,
            }
            line(f, iv.clone(), r.load, "bare loop", &r.bare)?;
            line(f, iv, r.load, "sattva", &r.executor)?;
            // the three tools side by side in whole us (as cyclictest counts), with the ratios
            let ct = r.cyclictest.as_ref().ok();
            writeln!(
                f,
                "  {:>8} {:<5} {:<24} {:>7} {:>10} {:>9} {:>18} {:>12}",
                "",
                r.load,
                "whole us",
                "sattva",
                "cyclictest",
                "bare loop",
                "sattva/cyclictest",
                "sattva/bare"
            )?;
            let pooled = [
                ("p99", Quantile::P99, "sattva/cyclictest <= 1.10"),
                ("p99.9", Quantile::P999, "sattva/bare <= 1.50"),
                ("max", Quantile::Max, ""),
            ];
            for (label, q, goal) in pooled {
                let (rc, rb) = (r.ratio_to_cyclictest(q), r.ratio_to_bare(q));
                let verdict = match (goal, q) {
                    ("", _) => String::new(),
                    (g, Quantile::P99) => goal_verdict(g, rc, 1.10),
                    (g, _) => goal_verdict(g, rb, 1.50),
                };
                tail_line(
                    f,
                    r.load,
                    label,
                    [
                        Some(q.of(&r.executor_whole_us)),
                        ct.map(|c| q.of(c)),
                        Some(q.of(&r.bare_whole_us)),
                    ],
                    verdict,
                )?;
            }
            let chunked = [
                ("median of chunk p99", r.chunk_p99),
                ("median of chunk p99.9", r.chunk_p999),
                ("median of chunk max", r.chunk_max),
            ];
            for (label, [c, x, b]) in chunked {
                if x.is_some() {
                    tail_line(f, r.load, label, [x, c, b], String::new())?;
                }
            }
            for (t, [c, x, b]) in LATE_NS.iter().zip(r.late) {
                let n = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                let q = |o: Option<u64>| match (x, o) {
                    (Some(x), Some(o)) if o > 0 => format!("{:.2}", x as f64 / o as f64),
                    _ => "-".to_string(),
                };
                let label = format!("samples >= {} us", t / 1000);
                writeln!(
                    f,
                    "  {:>8} {:<5} {:<24} {:>7} {:>10} {:>9} {:>18} {:>12}",
                    "",
                    r.load,
                    label,
                    n(x),
                    n(c),
                    n(b),
                    q(c),
                    q(b)
                )?;
            }
            let q = &r.quiet;
            if let (Some(b), Some(st)) = (q.busy_pct, q.steal_ms) {
                writeln!(
                    f,
                    "  {:>8} {:<5} quiet? core {} busy {b:.1} % of the row (every process; the three tools use < 1 %), host steal {st:.0} ms",
                    "", r.load, o.core
                )?;
            }
            if !q.foreign_rt.is_empty() {
                writeln!(
                    f,
                    "  {:>8} {:<5} ! real-time threads of other processes ran meanwhile (they hold off the measured thread while they run): {}",
                    "",
                    r.load,
                    q.foreign_rt.join(", ")
                )?;
            }
            if let (Some(a), Some(b)) = r.noise {
                writeln!(
                    f,
                    "  {:>8} {:<5} noise floor: p99 of even vs odd chunks differs by x{a:.2} for cyclictest, x{b:.2} for sattva",
                    "", r.load
                )?;
            }
        }
        let d = &self.dispatch;
        writeln!(
            f,
            "  one CLOCK_MONOTONIC read costs {} ns here (median); each dispatch gap includes one",
            self.clock_read_ns
        )?;
        writeln!(
            f,
            "  dispatch overhead, 8 tasks on core {}: median {} ns, p99 {} ns, {} gaps (goal median <= 200 ns: {})",
            o.core,
            d.p50,
            d.p99,
            d.count,
            if d.p50 <= 200 { "met" } else { "NOT met" }
        )?;
        let (p, c) = self.handoff_cores;
        let (r, l) = (&self.handoff_ring, &self.handoff_latest);
        if p == c {
            return write!(f, "  handoff: skipped (needs a second core)");
        }
        writeln!(
            f,
            "  handoff core {p} -> core {c}, ring (SPSC): p50 {} ns, p99 {} ns, {} samples (goal p50 <= 300 ns: {})",
            r.p50,
            r.p99,
            r.count,
            if r.p50 <= 300 { "met" } else { "NOT met" }
        )?;
        writeln!(
            f,
            "  handoff core {p} -> core {c}, latest-value slot: p50 {} ns, p99 {} ns, {} samples",
            l.p50, l.p99, l.count
        )?;
        let w = &self.handoff_line;
        writeln!(
            f,
            "  handoff core {p} -> core {c}, one atomic word (cache-line floor): p50 {} ns, p99 {} ns; timestamps: {}, read once per side",
            w.p50, w.p99, self.handoff_stamp
        )?;
        write!(
            f,
            "  handoff p50 per round (ring / floor, ns; the three paths take turns): {:?} / {:?}",
            self.handoff_rounds.0, self.handoff_rounds.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cyclictest_histogram() {
        let out = "# /dev/cpu_dma_latency set to 0us\n# Histogram\n000002 000006\n000003 000010\n000004 000083\n000132 000001\n# Total: 000000100\n# Min Latencies: 00002\n# Avg Latencies: 00007\n# Max Latencies: 00132\n# Histogram Overflows: 00000\n# Histogram Overflow at cycle number:\n# Thread 0:\n";
        let s = parse_cyclictest(out).unwrap().summary();
        assert_eq!(s.count, 100);
        assert_eq!((s.min, s.max), (2000, 132_000));
        // HDR reports the top of the value's bucket (2 significant digits: within 1 %)
        assert!((4000..=4040).contains(&s.p50), "{s:?}");
        assert!((4000..=4040).contains(&s.p99), "{s:?}");
        assert!(s.p999 >= 131_000);
    }

    #[test]
    fn truncation_matches_cyclictest_counting() {
        let mut h = new_histogram();
        h.record_n(16_900, 99).unwrap();
        h.record(40_100).unwrap();
        let t = truncate_to_us(&h);
        assert_eq!(t.len(), 100);
        assert!(t.equivalent(t.value_at_quantile(0.5), 16_000));
        assert!(t.equivalent(t.max(), 40_000));
        assert!(!t.equivalent(t.max(), 41_000));
    }

    #[test]
    fn each_tool_follows_each_other_equally_often() {
        let seq: Vec<usize> = CHUNK_ORDER.iter().flatten().copied().collect();
        let mut follows = [[0; 3]; 3];
        for i in 0..seq.len() {
            follows[seq[i]][seq[(i + 1) % seq.len()]] += 1;
        }
        assert_eq!(follows, [[0, 3, 3], [3, 0, 3], [3, 3, 0]]);
        for order in CHUNK_ORDER {
            let mut o = order;
            o.sort_unstable();
            assert_eq!(o, [0, 1, 2]);
        }
    }

    #[test]
    fn chunk_lengths_are_uniform_around_the_mean() {
        let mut r = SplitMix64(7);
        let u: Vec<f64> = (0..10_000).map(|_| r.unit()).collect();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let low = u.iter().filter(|&&x| x < 0.25).count();
        assert!((2_200..2_800).contains(&low), "{low}");
    }

    #[test]
    fn tail_ratios_are_in_whole_microseconds() {
        assert_eq!(whole_us_ratio(52_900, 48_100), Some(52.0 / 48.0));
        assert_eq!(whole_us_ratio(5_000, 900), None);
        let s = Summary {
            p99: 1,
            p999: 2,
            max: 3,
            ..Default::default()
        };
        assert_eq!(
            [Quantile::P99, Quantile::P999, Quantile::Max].map(|q| q.of(&s)),
            [1, 2, 3]
        );
    }

    #[test]
    fn overflows_count_as_max_and_garbage_is_an_error() {
        let out = "000010 000090\n# Min Latencies: 00010\n# Max Latencies: 20000\n# Histogram Overflows: 00010\n";
        let s = parse_cyclictest(out).unwrap().summary();
        assert_eq!(s.count, 100);
        assert!(s.p99 >= 19_000_000, "{s:?}");
        assert!(parse_cyclictest("Segmentation fault\n").is_err());
        assert!(parse_cyclictest("# Min Latencies: 1\n# Max Latencies: 2\n").is_err());
    }
}
