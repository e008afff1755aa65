//! The executor: per-core dispatchers (EDF among ready jobs), the real-time worker threads, and
//! the virtual-time (lockstep) driver. Both drivers run the same [`CoreSched::step`].
//!
//! Scheduling rule (one core): a job is *ready* when its release time has come. Among ready jobs
//! the one with the **earliest absolute deadline** runs first (EDF); ties go to the higher
//! configured priority, then to the task name. Jobs are not preempted by other jobs on the same
//! core (one worker thread per core); across cores the OS preempts by SCHED_FIFO priority (the
//! worker runs at the highest priority of its tasks).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use super::clock::{sleep_until_ns, Clock, Monotonic, Virtual};
use super::config::{OverrunPolicy, RtMode, SchedConfig, TaskConfig, TaskKind};
use super::rt::{self, ProcessRt, RtState, RtStatus};
use super::stats::{task_stats, Recorder, SchedStats, StatsReader, TaskMeta};
use super::task::{Job, OverrunEvent, SafeStopHook, Task, TaskSet};
use super::SchedError;
use crate::types::Time;

/// One task on a core: its implementation, timing and live statistics.
struct Slot<'a> {
    name: String,
    order: usize,
    cfg: TaskConfig,
    deadline: i64,
    budget: i64,
    task: Box<dyn Task + 'a>,
    next_release: i64,
    seq: u64,
    stopped: bool,
    rec: Recorder,
}

/// What one dispatch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Ran a job (or polled a sporadic task) of slot `.0`; the clock read at its end is `.1`.
    Ran(usize, i64),
    /// Nothing ready; the next release is at `.0`.
    Idle(i64),
    /// Every task is stopped.
    Done,
}

/// What a worker is running, for the hang watchdog: the worker writes it around each job (plain
/// stores to a line only it writes), the watchdog thread reads it every few milliseconds.
#[repr(align(64))]
pub(crate) struct Heartbeat {
    /// Start of the running job, ns; [`IDLE`] between jobs.
    start: AtomicI64,
    slot: AtomicUsize,
    seq: AtomicU64,
    release: AtomicI64,
}

/// [`Heartbeat::start`] when no job runs.
const IDLE: i64 = i64::MIN;

impl Heartbeat {
    fn new() -> Heartbeat {
        Heartbeat {
            start: AtomicI64::new(IDLE),
            slot: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            release: AtomicI64::new(0),
        }
    }
}

/// The dispatcher of one core (or, in virtual time, of the whole task set).
pub(crate) struct CoreSched<'a> {
    slots: Vec<Slot<'a>>,
    hook: Option<SafeStopHook>,
    safe_stopped: Arc<AtomicBool>,
    /// Set when the hang watchdog is on (real-time executor only).
    heartbeat: Option<Arc<Heartbeat>>,
}

impl<'a> CoreSched<'a> {
    /// Sets every task's first release to `t0 + offset`.
    fn arm(&mut self, t0: i64) {
        for s in &mut self.slots {
            s.next_release = t0 + s.cfg.offset_ns;
        }
    }

    /// Runs the ready job with the earliest absolute deadline at `now`, or says when the next
    /// release is. `now` is a fresh clock read after a sleep, or the end of the previous job
    /// when jobs run back to back: one clock read per job. No allocation, no locks, no syscalls
    /// other than reading the clock.
    #[inline]
    pub(crate) fn step<C: Clock>(&mut self, now: i64, clock: &C) -> Step {
        let mut best: Option<usize> = None;
        let mut best_key = (i64::MAX, i32::MAX, usize::MAX);
        let mut next = i64::MAX;
        for (i, s) in self.slots.iter().enumerate() {
            if s.stopped {
                continue;
            }
            if s.next_release <= now {
                let key = (
                    s.next_release + s.deadline,
                    -(s.cfg.priority as i32),
                    s.order,
                );
                if key < best_key {
                    best_key = key;
                    best = Some(i);
                }
            } else {
                next = next.min(s.next_release);
            }
        }
        match best {
            Some(i) => Step::Ran(i, self.run(i, now, clock)),
            None if next == i64::MAX => Step::Done,
            None => Step::Idle(next),
        }
    }

    /// Runs slot `i`, dispatched at `now` (the job's start time); returns the end time.
    #[inline]
    fn run<C: Clock>(&mut self, i: usize, now: i64, clock: &C) -> i64 {
        let s = &mut self.slots[i];
        let period = s.cfg.period_ns;
        let release = s.next_release;
        if s.cfg.kind == TaskKind::Sporadic && !s.task.ready() {
            s.rec.live.idle_polls += 1;
            s.next_release = release + period;
            return now;
        }
        let start = now;
        let job = Job {
            seq: s.seq,
            release: Time(release),
            deadline: Time(release + s.deadline),
            start: Time(start),
        };
        // what runs since when, for the hang watchdog (its fields first, the start last)
        if let Some(hb) = &self.heartbeat {
            hb.slot.store(i, Ordering::Relaxed);
            hb.seq.store(s.seq, Ordering::Relaxed);
            hb.release.store(release, Ordering::Relaxed);
            hb.start.store(start, Ordering::Release);
        }
        // a panicking task must not take the core (and the other tasks) down with it: it is
        // stopped and the safe-stop hook runs (no cost unless a panic happens)
        let task = &mut s.task;
        let ok = std::panic::catch_unwind(AssertUnwindSafe(|| task.run_once(&job))).is_ok();
        let end = clock.now();
        if let Some(hb) = &self.heartbeat {
            // seqlock writer: `start` leaves the job's value before the next job's fields change
            hb.start.store(IDLE, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
        }
        s.seq += 1;
        if !ok {
            s.stopped = true;
            s.rec.live.panicked = true;
            s.rec.live.safe_stopped = true;
            self.safe_stopped.store(true, Ordering::Release);
            if let Some(h) = &self.hook {
                h(&OverrunEvent {
                    task: &s.name,
                    job,
                    end: Time(end),
                    execution_ns: end - start,
                    budget_ns: s.budget,
                    over_budget: false,
                    missed_deadline: false,
                    panicked: true,
                    hung: false,
                });
            }
            return end;
        }
        // response time (end - release) is their sum
        s.rec
            .record((start - release).max(0) as u64, (end - start).max(0) as u64);
        let live = &mut s.rec.live;
        live.jobs += 1;

        let over_budget = end - start > s.budget;
        let missed_deadline = end > release + s.deadline;
        live.overruns += over_budget as u64;
        live.deadline_misses += missed_deadline as u64;
        // Overrun handling. A job that missed its deadline because other jobs on the core held
        // it up counts too: from the task's point of view the deadline is gone either way.
        let mut next = release + period;
        if over_budget || missed_deadline {
            // whole periods between this release and the end of the job (releases due now);
            // divided only here, not for every job
            let due = (end - release) / period;
            match s.cfg.overrun {
                OverrunPolicy::Skip => {
                    // drop every release already due, and at least the next one
                    let dropped = due.max(1);
                    live.skipped_releases += dropped as u64;
                    next = release + (dropped + 1) * period;
                }
                OverrunPolicy::RunLate => {
                    // run the latest due release now (late); drop the ones before it
                    if due >= 2 {
                        live.skipped_releases += (due - 1) as u64;
                        next = release + due * period;
                    }
                }
                OverrunPolicy::SafeStop => {
                    s.stopped = true;
                    live.safe_stopped = true;
                    self.safe_stopped.store(true, Ordering::Release);
                    if let Some(h) = &self.hook {
                        h(&OverrunEvent {
                            task: &s.name,
                            job,
                            end: Time(end),
                            execution_ns: end - start,
                            budget_ns: s.budget,
                            over_budget,
                            missed_deadline,
                            panicked: false,
                            hung: false,
                        });
                    }
                }
            }
        }
        // (deadline <= period, so a job that neither overran nor missed its deadline has at
        // most its own next release due: nothing to catch up)
        s.next_release = next;
        end
    }

    fn publish(&mut self) {
        for s in &mut self.slots {
            s.rec.publish();
        }
    }

    /// Folds buffered job timings into the histograms where enough have gathered (done while
    /// idle).
    fn flush(&mut self) {
        for s in &mut self.slots {
            if s.rec.flush_due() {
                s.rec.flush();
            }
        }
    }

    /// Runs every `start`; on a failure, stops the tasks already started and reports it.
    fn start_tasks(&mut self) -> Result<(), SchedError> {
        for i in 0..self.slots.len() {
            if let Err(e) = self.slots[i].task.start() {
                for s in &mut self.slots[..i] {
                    s.task.stop();
                }
                return Err(SchedError::TaskStart {
                    task: self.slots[i].name.clone(),
                    message: e.0,
                });
            }
        }
        Ok(())
    }

    fn stop_tasks(&mut self) {
        for s in &mut self.slots {
            s.task.stop();
        }
    }
}

/// Matches implementations to configured tasks; returns one dispatcher per core (sorted by core)
/// or, with `merge`, a single one for all.
#[allow(clippy::type_complexity)]
fn build<'a>(
    cfg: &SchedConfig,
    set: TaskSet<'a>,
    merge: bool,
    safe_stopped: &Arc<AtomicBool>,
) -> Result<
    (
        Vec<(usize, CoreSched<'a>)>,
        Vec<(TaskMeta, super::stats::SnapshotRx)>,
    ),
    SchedError,
> {
    let mut impls = set.tasks;
    for (i, (name, _)) in impls.iter().enumerate() {
        if !cfg.tasks.contains_key(name) {
            return Err(SchedError::UnknownTask { name: name.clone() });
        }
        if impls[..i].iter().any(|(n, _)| n == name) {
            return Err(SchedError::DuplicateTask { name: name.clone() });
        }
    }
    if cfg.tasks.is_empty() {
        return Err(SchedError::NoTasks);
    }
    let mut cores: Vec<(usize, CoreSched<'a>)> = Vec::new();
    let mut readers = Vec::new();
    // BTreeMap: name order, the same on every run
    for (order, (name, tc)) in cfg.tasks.iter().enumerate() {
        let pos = impls
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| SchedError::MissingTask { name: name.clone() })?;
        let (_, task) = impls.swap_remove(pos);
        let (rec, rx) = Recorder::new();
        readers.push((
            TaskMeta {
                name: name.clone(),
                core: tc.core,
                period_ns: tc.period_ns,
                deadline_ns: tc.deadline(),
                budget_ns: tc.budget(),
            },
            rx,
        ));
        let slot = Slot {
            name: name.clone(),
            order,
            cfg: tc.clone(),
            deadline: tc.deadline(),
            budget: tc.budget(),
            task,
            next_release: 0,
            seq: 0,
            stopped: false,
            rec,
        };
        let key = if merge { 0 } else { tc.core };
        match cores.iter_mut().find(|(c, _)| *c == key) {
            Some((_, cs)) => cs.slots.push(slot),
            None => cores.push((
                key,
                CoreSched {
                    slots: vec![slot],
                    hook: set.safe_stop.clone(),
                    safe_stopped: safe_stopped.clone(),
                    heartbeat: None,
                },
            )),
        }
    }
    cores.sort_by_key(|(c, _)| *c);
    Ok((cores, readers))
}

/// Longest idle sleep of a worker, so it notices a stop request.
const MAX_IDLE_SLEEP_NS: i64 = 20_000_000;

/// Fold buffered statistics only when the next release is at least this far away.
const FLUSH_GUARD_NS: i64 = 50_000;

/// The real-time executor: one pinned SCHED_FIFO worker thread per used core.
///
/// ```no_run
/// use sattva::sched::{Executor, SchedConfig, TaskConfig, TaskSet, task_fn};
/// let mut cfg = SchedConfig::default();
/// cfg.tasks.insert("control".into(), TaskConfig { period_ns: 1_000_000, core: 1, ..Default::default() });
/// let ex = Executor::start(&cfg, TaskSet::new().add("control", task_fn(|_job| { /* one cycle */ })))?;
/// println!("rt: {}", ex.status().state);
/// std::thread::sleep(std::time::Duration::from_secs(1));
/// println!("{}", ex.stop());
/// # Ok::<(), sattva::sched::SchedError>(())
/// ```
pub struct Executor {
    stop: Arc<AtomicBool>,
    safe_stopped: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    watchdog: Option<JoinHandle<()>>,
    /// Tasks the watchdog found hung (written and read only by non-RT threads).
    hung: Arc<Mutex<Vec<String>>>,
    reader: StatsReader,
    _process: ProcessRt,
}

struct WorkerSetup {
    mode: RtMode,
    core: usize,
    priority: u8,
    prefault_kib: u32,
    publish_ns: i64,
}

impl Executor {
    /// Sets up the process (mlockall, cpu_dma_latency), spawns and sets up one worker per core,
    /// runs every task's `start`, then releases all tasks from a common start time.
    pub fn start(cfg: &SchedConfig, set: TaskSet<'static>) -> Result<Executor, SchedError> {
        let safe_stopped = Arc::new(AtomicBool::new(false));
        let (cores, readers) = build(cfg, set, false, &safe_stopped)?;
        let mut issues = Vec::new();
        let mut notes = Vec::new();
        let core_ids: Vec<usize> = cores.iter().map(|(c, _)| *c).collect();
        let process = rt::setup_process(cfg, &core_ids, &mut issues, &mut notes);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<Vec<String>, SchedError>>();
        let mut gos = Vec::new();
        let mut workers = Vec::new();
        let mut watched = Vec::new();
        let hook = cores.first().and_then(|(_, cs)| cs.hook.clone());
        for (core, mut cs) in cores {
            if cfg.watchdog_ns > 0 {
                let hb = Arc::new(Heartbeat::new());
                cs.heartbeat = Some(hb.clone());
                watched.push(Watched {
                    hb,
                    tasks: cs
                        .slots
                        .iter()
                        .map(|s| (s.name.clone(), s.deadline, s.budget))
                        .collect(),
                });
            }
            let setup = WorkerSetup {
                mode: cfg.rt,
                core,
                priority: cs.slots.iter().map(|s| s.cfg.priority).max().unwrap_or(1),
                prefault_kib: cfg.stack_prefault_kib,
                publish_ns: cfg.stats_publish_ns,
            };
            let (go_tx, go_rx) = mpsc::channel::<Option<i64>>();
            gos.push(go_tx);
            let ready = ready_tx.clone();
            let stop = stop.clone();
            let stack = (cfg.stack_prefault_kib as usize * 1024).max(256 * 1024) + 512 * 1024;
            let h = std::thread::Builder::new()
                .name(format!("sched-core{core}"))
                .stack_size(stack)
                .spawn(move || worker(cs, setup, ready, go_rx, stop))
                .map_err(SchedError::Spawn)?;
            workers.push(h);
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..workers.len() {
            match ready_rx.recv() {
                Ok(Ok(mut i)) => issues.append(&mut i),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(SchedError::WorkerDied);
                }
            }
        }
        let state = match (cfg.rt, issues.is_empty()) {
            (RtMode::Off, _) => RtState::Off,
            (_, true) => RtState::Full,
            (_, false) => RtState::Degraded,
        };
        if first_err.is_none() && cfg.rt == RtMode::Required && !issues.is_empty() {
            first_err = Some(SchedError::RtRequired {
                issues: issues.clone(),
            });
        }
        if let Some(e) = first_err {
            for g in &gos {
                let _ = g.send(None);
            }
            for w in workers {
                let _ = w.join();
            }
            return Err(e);
        }
        match state {
            RtState::Degraded => {
                for i in &issues {
                    tracing::warn!(target: "sattva::sched", "rt degraded: {i}");
                }
            }
            RtState::Full => tracing::info!(target: "sattva::sched", "rt: full"),
            RtState::Off => tracing::info!(target: "sattva::sched", "rt: off (plain threads)"),
        }
        // common time base for every core: first releases 2 ms from now
        let t0 = super::clock::monotonic_ns() + 2_000_000;
        for g in &gos {
            let _ = g.send(Some(t0));
        }
        let hung = Arc::new(Mutex::new(Vec::new()));
        let watchdog = if watched.is_empty() {
            None
        } else {
            let w = Watchdog {
                cores: watched,
                limit_ns: cfg.watchdog_ns,
                hook,
                safe_stopped: safe_stopped.clone(),
                hung: hung.clone(),
                stop: stop.clone(),
            };
            // not fatal: the executor runs without it, and says so
            match std::thread::Builder::new()
                .name("sched-watchdog".into())
                .spawn(move || w.run())
            {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::error!(target: "sattva::sched", "hang watchdog not started: {e}");
                    notes.push(format!("hang watchdog thread not started: {e}"));
                    None
                }
            }
        };
        Ok(Executor {
            stop,
            safe_stopped,
            workers,
            watchdog,
            hung,
            reader: StatsReader {
                rt: RtStatus {
                    state,
                    issues,
                    notes,
                },
                tasks: readers,
            },
            _process: process,
        })
    }

    /// The real-time status (full / degraded / off, and why).
    pub fn status(&self) -> &RtStatus {
        &self.reader.rt
    }

    /// True once any `safe_stop` task overran.
    pub fn safe_stopped(&self) -> bool {
        self.safe_stopped.load(Ordering::Acquire)
    }

    /// The newest published statistics (lock-free; at most `stats_publish_ns` old).
    pub fn stats(&mut self) -> SchedStats {
        let mut st = self.reader.snapshot();
        self.mark_hung(&mut st);
        st
    }

    fn mark_hung(&self, st: &mut SchedStats) {
        if let Ok(h) = self.hung.lock() {
            for t in &mut st.tasks {
                if h.contains(&t.name) {
                    t.hung = true;
                    t.safe_stopped = true;
                }
            }
        }
    }

    /// The lock-free reader of the statistics.
    pub fn reader(&mut self) -> &mut StatsReader {
        &mut self.reader
    }

    /// Stops the workers (each runs its tasks' `stop`) and returns the final statistics.
    pub fn stop(mut self) -> SchedStats {
        self.shutdown();
        self.stats()
    }

    /// Stops the workers (each runs its tasks' `stop` and publishes its final statistics); the
    /// statistics stay readable through [`Executor::reader`]. Idempotent.
    pub fn halt(&mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One core as the watchdog sees it: its heartbeat and (name, deadline, budget) per slot.
struct Watched {
    hb: Arc<Heartbeat>,
    tasks: Vec<(String, i64, i64)>,
}

/// The hang watchdog: a plain (non-RT) thread that looks at every worker's heartbeat a few
/// times per `watchdog_ns` and reports a job running longer than that once.
struct Watchdog {
    cores: Vec<Watched>,
    limit_ns: i64,
    hook: Option<SafeStopHook>,
    safe_stopped: Arc<AtomicBool>,
    hung: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Watchdog {
    fn run(self) {
        let poll =
            std::time::Duration::from_nanos((self.limit_ns / 4).clamp(500_000, 100_000_000) as u64);
        // start time of the last job reported, per core (each hung job is reported once)
        let mut reported = vec![IDLE; self.cores.len()];
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(poll);
            let now = super::clock::monotonic_ns();
            for (k, c) in self.cores.iter().enumerate() {
                let st = c.hb.start.load(Ordering::Acquire);
                if st == IDLE || now - st <= self.limit_ns || reported[k] == st {
                    continue;
                }
                let i = c.hb.slot.load(Ordering::Relaxed);
                let seq = c.hb.seq.load(Ordering::Relaxed);
                let release = c.hb.release.load(Ordering::Relaxed);
                // seqlock reader: the same job still runs, so the fields above belong to it
                std::sync::atomic::fence(Ordering::Acquire);
                if c.hb.start.load(Ordering::Relaxed) != st {
                    continue;
                }
                let Some((name, deadline, budget)) = c.tasks.get(i) else {
                    continue;
                };
                reported[k] = st;
                self.safe_stopped.store(true, Ordering::Release);
                if let Ok(mut h) = self.hung.lock() {
                    if !h.contains(name) {
                        h.push(name.clone());
                    }
                }
                tracing::error!(
                    target: "sattva::sched",
                    task = name.as_str(),
                    running_ms = (now - st) as f64 / 1e6,
                    "job hung (still running after sched.watchdog_ns): safe stop"
                );
                if let Some(h) = &self.hook {
                    h(&OverrunEvent {
                        task: name,
                        job: Job {
                            seq,
                            release: Time(release),
                            deadline: Time(release + deadline),
                            start: Time(st),
                        },
                        end: Time(now),
                        execution_ns: now - st,
                        budget_ns: *budget,
                        over_budget: now - st > *budget,
                        missed_deadline: now > release + deadline,
                        panicked: false,
                        hung: true,
                    });
                }
            }
        }
    }
}

fn worker(
    mut cs: CoreSched<'static>,
    setup: WorkerSetup,
    ready: mpsc::Sender<Result<Vec<String>, SchedError>>,
    go: mpsc::Receiver<Option<i64>>,
    stop: Arc<AtomicBool>,
) {
    let mut issues = Vec::new();
    rt::setup_thread(
        setup.mode,
        setup.core,
        setup.priority,
        setup.prefault_kib,
        &mut issues,
    );
    if let Err(e) = cs.start_tasks() {
        let _ = ready.send(Err(e));
        return;
    }
    let _ = ready.send(Ok(issues));
    drop(ready);
    let Ok(Some(t0)) = go.recv() else {
        cs.stop_tasks();
        return;
    };
    drop(go);
    cs.arm(t0);
    cs.publish();
    // ---- the RT loop: no allocation, no locks, no blocking calls except the absolute sleep ----
    let clock = Monotonic;
    let mut next_publish = t0 + setup.publish_ns;
    let mut publish_cost: i64 = 20_000;
    let mut now = clock.now();
    while !stop.load(Ordering::Relaxed) {
        match cs.step(now, &clock) {
            Step::Ran(_, end) => now = end,
            Step::Idle(next) => {
                // statistics work happens only while idle and far enough from the next release
                if next - now > FLUSH_GUARD_NS {
                    cs.flush();
                }
                if now >= next_publish && next - now > 4 * publish_cost {
                    let before = clock.now();
                    cs.publish();
                    let after = clock.now();
                    publish_cost = (publish_cost + (after - before)) / 2;
                    next_publish = after + setup.publish_ns;
                }
                sleep_until_ns(next.min(now + MAX_IDLE_SLEEP_NS));
                now = clock.now();
            }
            Step::Done => {
                sleep_until_ns(now + MAX_IDLE_SLEEP_NS);
                now = clock.now();
            }
        }
    }
    // ---- end of the RT loop ----
    cs.publish();
    cs.stop_tasks();
}

/// The virtual-time (lockstep) executor: the same task set and the same dispatch rule, driven by
/// a virtual clock in the calling thread, as fast as possible.
///
/// Jobs take zero virtual time, so at each instant every released job runs, in the order
/// (absolute deadline, priority high first, task name): the same inputs always give the same
/// order of task runs. Core assignment does not matter in virtual time. Tasks may borrow from
/// the caller (`TaskSet<'a>`), so a test can inspect them after the run.
pub struct VirtualExecutor<'a> {
    cs: CoreSched<'a>,
    clock: Virtual,
    readers: Vec<(TaskMeta, super::stats::SnapshotRx)>,
    runs: u64,
    finished: bool,
}

impl<'a> VirtualExecutor<'a> {
    /// Builds the task set, runs every `start`, and arms the first releases at `t0 + offset`.
    pub fn new(cfg: &SchedConfig, set: TaskSet<'a>, t0: Time) -> Result<Self, SchedError> {
        let flag = Arc::new(AtomicBool::new(false));
        let (mut cores, readers) = build(cfg, set, true, &flag)?;
        let (_, mut cs) = cores.pop().ok_or(SchedError::NoTasks)?;
        cs.start_tasks()?;
        cs.arm(t0.0);
        Ok(VirtualExecutor {
            cs,
            clock: Virtual(std::cell::Cell::new(t0.0)),
            readers,
            runs: 0,
            finished: false,
        })
    }

    /// The virtual time now.
    pub fn now(&self) -> Time {
        Time(self.clock.0.get())
    }

    /// Dispatches the next job (advancing virtual time to its release if needed). Returns the
    /// task name and the job's release time, or `None` when every task is stopped.
    pub fn step(&mut self) -> Option<(&str, Time)> {
        loop {
            let now = self.clock.0.get();
            match self.cs.step(now, &self.clock) {
                Step::Ran(i, _) => {
                    self.runs += 1;
                    return Some((self.cs.slots[i].name.as_str(), Time(now)));
                }
                Step::Idle(t) => self.clock.0.set(t),
                Step::Done => return None,
            }
        }
    }

    /// Runs every release before `t_end`, then sets the clock to `t_end`. Returns dispatches made.
    pub fn run_until(&mut self, t_end: Time) -> u64 {
        let mut n = 0;
        loop {
            match self.cs.step(self.clock.0.get(), &self.clock) {
                Step::Ran(..) => n += 1,
                Step::Idle(t) if t < t_end.0 => self.clock.0.set(t),
                _ => break,
            }
        }
        self.clock.0.set(self.clock.0.get().max(t_end.0));
        self.runs += n;
        n
    }

    /// Dispatches so far (jobs plus sporadic polls).
    pub fn dispatches(&self) -> u64 {
        self.runs
    }

    /// Statistics so far (times are virtual: latencies and execution times are 0).
    pub fn stats(&mut self) -> SchedStats {
        self.cs.publish();
        let tasks = self
            .readers
            .iter_mut()
            .map(|(m, rx)| task_stats(m, rx.read()))
            .collect();
        SchedStats {
            rt: RtStatus {
                state: RtState::Off,
                issues: Vec::new(),
                notes: vec!["virtual time".into()],
            },
            virtual_time: true,
            tasks,
        }
    }

    /// The histograms of task `name` as last published (after [`VirtualExecutor::stats`]).
    pub fn histograms(&mut self, name: &str) -> Option<&super::TaskSnapshot> {
        self.readers
            .iter_mut()
            .find(|(m, _)| m.name == name)
            .map(|(_, rx)| rx.read())
    }

    /// Runs every task's `stop` (once); the statistics stay readable.
    pub fn halt(&mut self) {
        if !self.finished {
            self.finished = true;
            self.cs.stop_tasks();
        }
    }

    /// Runs every task's `stop` and returns the final statistics.
    pub fn finish(mut self) -> SchedStats {
        self.finished = true;
        self.cs.stop_tasks();
        self.stats()
    }
}

impl Drop for VirtualExecutor<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.cs.stop_tasks();
        }
    }
}
