//! The executor's loop allocates nothing in steady state: dispatch, EDF pick, statistics
//! recording and publishing, sleeping, ring traffic, sporadic polls (real worker thread and
//! virtual time).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::sched::channel::{ring, RingRx, RingTx};
use sattva::sched::{
    task_fn, Executor, Job, RtMode, SchedConfig, Task, TaskConfig, TaskKind, TaskSet,
    VirtualExecutor,
};
use sattva::types::Time;

mod common;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MS: i64 = 1_000_000;
const N: usize = 4096;

/// Writes the worker thread's allocation count at every job into a preallocated table.
struct Probe {
    counts: Arc<Vec<AtomicU64>>,
    tx: RingTx<u64>,
}
impl Task for Probe {
    fn run_once(&mut self, j: &Job) {
        if let Some(c) = self.counts.get(j.seq as usize) {
            c.store(allocations_on_this_thread() + 1, Ordering::Relaxed);
        }
        self.tx.push(j.seq);
    }
}
struct Sink(RingRx<u64>, u64);
impl Task for Sink {
    fn ready(&mut self) -> bool {
        !self.0.is_empty()
    }
    fn run_once(&mut self, _: &Job) {
        while let Some(v) = self.0.pop() {
            self.1 = self.1.wrapping_add(v);
        }
    }
}

fn config(mode: RtMode) -> SchedConfig {
    let mut cfg = SchedConfig {
        rt: mode,
        lock_memory: false,
        cpu_dma_latency: false,
        stats_publish_ns: 200_000, // publish as often as allowed: it must not allocate either
        watchdog_ns: 50 * MS,      // heartbeat stores around each job
        ..Default::default()
    };
    let t = |period_ns, kind| TaskConfig {
        period_ns,
        core: 1,
        priority: 50,
        kind,
        ..Default::default()
    };
    cfg.tasks.insert("probe".into(), t(MS, TaskKind::Periodic));
    cfg.tasks
        .insert("sink".into(), t(MS / 2, TaskKind::Sporadic));
    cfg.tasks
        .insert("busy".into(), t(700_000, TaskKind::Periodic));
    cfg
}

fn tasks(counts: &Arc<Vec<AtomicU64>>) -> TaskSet<'static> {
    let (tx, rx) = ring(16);
    let mut x = 0u64;
    TaskSet::new()
        .add(
            "probe",
            Probe {
                counts: counts.clone(),
                tx,
            },
        )
        .add("sink", Sink(rx, 0))
        .add(
            "busy",
            task_fn(move |j: &Job| {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(j.seq));
            }),
        )
}

fn check(counts: &[AtomicU64], what: &str) {
    let c: Vec<u64> = counts
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .take_while(|&v| v > 0)
        .collect();
    assert!(c.len() > 150, "{what}: only {} probe jobs ran", c.len());
    let (warm, last) = (c[20], c[c.len() - 1]);
    assert_eq!(
        last - warm,
        0,
        "{what}: the loop allocated {} times between job 20 and job {}",
        last - warm,
        c.len() - 1
    );
}

#[test]
fn rt_worker_loop_does_not_allocate() {
    // pinned to core 1 at 1 ms: one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
    let mut ex = Executor::start(&config(RtMode::BestEffort), tasks(&counts)).unwrap();
    // run until 200 probe jobs have recorded their count (no fixed sleep)
    common::timing::wait_until("200 probe jobs", Duration::from_secs(10), || {
        counts[200].load(Ordering::Relaxed) > 0
    });
    let mid = ex.stats();
    let st = ex.stop();
    check(&counts, "rt worker");
    assert!(mid.task("probe").unwrap().jobs > 0, "stats were published");
    assert!(st.task("sink").unwrap().jobs > 100, "{st}");
    assert!(st.task("sink").unwrap().idle_polls > 0, "{st}");
}

#[test]
fn virtual_executor_does_not_allocate() {
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..N).map(|_| AtomicU64::new(0)).collect());
    let mut ex = VirtualExecutor::new(&config(RtMode::Off), tasks(&counts), Time(0)).unwrap();
    ex.run_until(Time(30 * MS));
    let before = allocations_on_this_thread();
    ex.run_until(Time(2_000 * MS));
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "virtual run allocated {n} times");
    check(&counts, "virtual");
    assert_eq!(ex.finish().task("probe").unwrap().jobs, 2000);
}

#[test]
fn counter_sees_allocations() {
    let before = allocations_on_this_thread();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations_on_this_thread() > before);
    drop(v);
}
