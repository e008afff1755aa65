//! Executor behaviour: EDF order (real threads and virtual time), virtual-time determinism,
//! overrun policies (skip, run late, safe stop), statistics published while running, the hang
//! watchdog.
//!
//! The real-thread tests pin their workers to core 1 and take the crate-wide timing lock
//! (tests/common/timing.rs): no other timing-sensitive test of any binary runs beside them. They
//! wait for the jobs and events they check (counts), not for fixed sleeps; release times are the
//! executor's schedule, so the gaps they assert are exact whatever the machine's load.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sattva::sched::channel::{ring, RingRx, RingTx};
use sattva::sched::{
    monotonic_ns, task_fn, Executor, Job, OverrunPolicy, RtMode, SchedConfig, Task, TaskConfig,
    TaskKind, TaskSet, VirtualExecutor,
};
use sattva::types::Time;

mod common;
use common::timing::{serial, wait_until};

/// Bound on any wait for jobs or events: a hang, not a latency figure.
const LIMIT: Duration = Duration::from_secs(10);

const MS: i64 = 1_000_000;

fn task(period: i64, deadline: i64, priority: u8) -> TaskConfig {
    TaskConfig {
        period_ns: period,
        deadline_ns: deadline,
        priority,
        core: 1,
        ..Default::default()
    }
}

/// A real-time config that works on this 2-core box as root and degrades elsewhere; no mlockall
/// and no cpu_dma_latency (they would affect the whole test process).
fn rt_cfg() -> SchedConfig {
    SchedConfig {
        rt: RtMode::BestEffort,
        lock_memory: false,
        cpu_dma_latency: false,
        ..Default::default()
    }
}

fn spin_ns(ns: i64) {
    let t = monotonic_ns();
    while monotonic_ns() - t < ns {
        std::hint::spin_loop();
    }
}

type Log = Arc<Mutex<Vec<(&'static str, i64)>>>;

fn logger(log: &Log, name: &'static str) -> impl Task + 'static {
    let log = log.clone();
    task_fn(move |j: &Job| log.lock().unwrap().push((name, j.release.0)))
}

#[test]
fn edf_on_one_core_runs_earliest_deadline_first() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    // same period and release; deadlines 18, 5, 10, 10 ms; d has a higher priority than c
    cfg.tasks.insert("a".into(), task(20 * MS, 18 * MS, 50));
    cfg.tasks.insert("b".into(), task(20 * MS, 5 * MS, 50));
    cfg.tasks.insert("c".into(), task(20 * MS, 10 * MS, 50));
    cfg.tasks.insert("d".into(), task(20 * MS, 10 * MS, 60));
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let set = TaskSet::new()
        .add("a", logger(&log, "a"))
        .add("b", logger(&log, "b"))
        .add("c", logger(&log, "c"))
        .add("d", logger(&log, "d"));
    let ex = Executor::start(&cfg, set).unwrap();
    wait_until("12 jobs", LIMIT, || log.lock().unwrap().len() >= 12);
    let stats = ex.stop();
    let log = log.lock().unwrap().clone();
    assert!(
        log.len() >= 12,
        "only {} jobs ran: {log:?}\n{stats}",
        log.len()
    );
    for batch in log.chunks_exact(4) {
        let names: Vec<_> = batch.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["b", "d", "c", "a"], "EDF order broken: {log:?}");
        assert!(batch.iter().all(|(_, r)| *r == batch[0].1), "{batch:?}");
    }
}

#[test]
fn virtual_time_edf_order_matches_hand_computed_schedule() {
    let mut cfg = SchedConfig::default();
    cfg.tasks.insert("a".into(), task(2 * MS, 2 * MS, 50));
    cfg.tasks.insert("b".into(), task(3 * MS, MS, 50));
    cfg.tasks.insert("c".into(), task(6 * MS, 6 * MS, 90));
    cfg.tasks.insert("d".into(), task(6 * MS, 6 * MS, 50));
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let set = TaskSet::new()
        .add("d", logger(&log, "d"))
        .add("c", logger(&log, "c"))
        .add("b", logger(&log, "b"))
        .add("a", logger(&log, "a"));
    let mut ex = VirtualExecutor::new(&cfg, set, Time(0)).unwrap();
    ex.run_until(Time(7 * MS));
    assert_eq!(ex.now(), Time(7 * MS));
    let got = log.lock().unwrap().clone();
    // t=0: deadlines b 1, a 2, c 6 (prio 90), d 6; t=2: a; t=3: b; t=4: a; t=6: b 7, a 8, c, d
    let want = [
        ("b", 0),
        ("a", 0),
        ("c", 0),
        ("d", 0),
        ("a", 2),
        ("b", 3),
        ("a", 4),
        ("b", 6),
        ("a", 6),
        ("c", 6),
        ("d", 6),
    ]
    .map(|(n, t)| (n, t * MS));
    assert_eq!(got, want);
    let st = ex.finish();
    assert!(st.virtual_time);
    assert_eq!(st.task("a").unwrap().jobs, 4);
}

#[test]
fn virtual_time_release_offsets_shift_the_first_release() {
    let mut cfg = SchedConfig::default();
    cfg.tasks.insert(
        "a".into(),
        TaskConfig {
            offset_ns: MS,
            ..task(4 * MS, 0, 50)
        },
    );
    cfg.tasks.insert(
        "b".into(),
        TaskConfig {
            offset_ns: 3 * MS,
            ..task(4 * MS, 0, 50)
        },
    );
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let set = TaskSet::new()
        .add("a", logger(&log, "a"))
        .add("b", logger(&log, "b"));
    let mut ex = VirtualExecutor::new(&cfg, set, Time(10 * MS)).unwrap();
    ex.run_until(Time(20 * MS));
    // started at 10 ms: a at 10 + 1 + 4k, b at 10 + 3 + 4k (hand-worked)
    let want = [("a", 11), ("b", 13), ("a", 15), ("b", 17), ("a", 19)].map(|(n, t)| (n, t * MS));
    assert_eq!(*log.lock().unwrap(), want);
}

#[test]
fn virtual_time_step_ends_when_every_task_is_stopped() {
    let mut cfg = SchedConfig::default();
    cfg.tasks.insert("only".into(), task(2 * MS, 0, 50));
    let events = Arc::new(Mutex::new(Vec::new()));
    let evs = events.clone();
    let set = TaskSet::new()
        .add(
            "only",
            task_fn(|j: &Job| {
                if j.seq == 1 {
                    panic!("stops the only task (expected by the test)");
                }
            }),
        )
        .on_safe_stop(Arc::new(move |ev| {
            evs.lock()
                .unwrap()
                .push((ev.job.seq, ev.panicked, ev.execution_ns))
        }));
    let mut ex = VirtualExecutor::new(&cfg, set, Time(0)).unwrap();
    assert_eq!(ex.step(), Some(("only", Time(0))));
    assert_eq!(ex.step(), Some(("only", Time(2 * MS))));
    // the panic stopped the task: nothing is left to run, now or ever
    assert_eq!(ex.step(), None);
    // the hook saw the panicking job, which took no virtual time
    assert_eq!(*events.lock().unwrap(), [(1, true, 0)]);
    assert!(ex.finish().task("only").unwrap().panicked);
}

#[test]
fn virtual_time_jobs_carry_their_release_deadline_and_start() {
    let mut cfg = SchedConfig::default();
    // period 4 ms, relative deadline 3 ms; a 0 deadline means "the period" (`b`)
    cfg.tasks.insert("a".into(), task(4 * MS, 3 * MS, 50));
    cfg.tasks.insert("b".into(), task(5 * MS, 0, 50));
    type Jobs = Arc<Mutex<Vec<(&'static str, u64, i64, i64, i64)>>>;
    let jobs: Jobs = Arc::new(Mutex::new(Vec::new()));
    let rec = |name: &'static str| {
        let jobs = jobs.clone();
        task_fn(move |j: &Job| {
            jobs.lock()
                .unwrap()
                .push((name, j.seq, j.release.0, j.deadline.0, j.start.0))
        })
    };
    let set = TaskSet::new().add("a", rec("a")).add("b", rec("b"));
    let mut ex = VirtualExecutor::new(&cfg, set, Time(100 * MS)).unwrap();
    ex.run_until(Time(109 * MS));
    // jobs take no virtual time: every latency and execution time recorded is exactly 0
    let st = ex.finish();
    for name in ["a", "b"] {
        let t = st.task(name).unwrap();
        assert_eq!(
            (t.release_latency.max, t.execution.max, t.response.max),
            (0, 0, 0),
            "{st}"
        );
    }
    // hand-worked: jobs take no virtual time, so each starts at its release; at 100 ms `a`
    // (deadline 103) runs before `b` (105)
    let want = [
        ("a", 0, 100, 103, 100),
        ("b", 0, 100, 105, 100),
        ("a", 1, 104, 107, 104),
        ("b", 1, 105, 110, 105),
        ("a", 2, 108, 111, 108),
    ]
    .map(|(n, q, r, d, st)| (n, q, r * MS, d * MS, st * MS));
    assert_eq!(*jobs.lock().unwrap(), want);
}

/// A producer and a sporadic consumer joined by a ring: the consumer runs only when fed.
struct Producer {
    tx: RingTx<i64>,
    log: Log,
    every: u64,
}
impl Task for Producer {
    fn run_once(&mut self, j: &Job) {
        self.log.lock().unwrap().push(("producer", j.release.0));
        if j.seq % self.every == 0 {
            self.tx.push(j.release.0);
        }
    }
}
struct Consumer {
    rx: RingRx<i64>,
    log: Log,
    sum: i64,
}
impl Task for Consumer {
    fn ready(&mut self) -> bool {
        !self.rx.is_empty()
    }
    fn run_once(&mut self, j: &Job) {
        while let Some(v) = self.rx.pop() {
            self.sum += v;
        }
        self.log.lock().unwrap().push(("consumer", j.release.0));
    }
}

fn virtual_run(reverse: bool) -> (Vec<(&'static str, i64)>, u64) {
    let mut cfg = SchedConfig::default();
    cfg.tasks.insert("producer".into(), task(2 * MS, 0, 80));
    cfg.tasks.insert(
        "consumer".into(),
        TaskConfig {
            kind: TaskKind::Sporadic,
            core: 0,
            ..task(MS, 0, 60)
        },
    );
    cfg.tasks.insert("tick".into(), task(5 * MS, 4 * MS, 70));
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = ring(4);
    let p = Producer {
        tx,
        log: log.clone(),
        every: 3,
    };
    let c = Consumer {
        rx,
        log: log.clone(),
        sum: 0,
    };
    let set = if reverse {
        TaskSet::new()
            .add("tick", logger(&log, "tick"))
            .add("consumer", c)
            .add("producer", p)
    } else {
        TaskSet::new()
            .add("producer", p)
            .add("consumer", c)
            .add("tick", logger(&log, "tick"))
    };
    let mut ex = VirtualExecutor::new(&cfg, set, Time(1_000 * MS)).unwrap();
    ex.run_until(Time(1_100 * MS));
    let st = ex.finish();
    let idle = st.task("consumer").unwrap().idle_polls;
    let l = log.lock().unwrap().clone();
    (l, idle)
}

#[test]
fn virtual_time_is_deterministic() {
    let (a, idle_a) = virtual_run(false);
    let (b, idle_b) = virtual_run(true);
    let (c, _) = virtual_run(false);
    assert_eq!(a, b, "order depends on how tasks were handed over");
    assert_eq!(a, c, "two runs differ");
    let consumed = a.iter().filter(|(n, _)| *n == "consumer").count();
    let produced = a.iter().filter(|(n, _)| *n == "producer").count();
    assert_eq!(produced, 50);
    assert_eq!(
        consumed, 17,
        "consumer runs only when fed (every 3rd producer job)"
    );
    assert_eq!(idle_a, 100 - 17);
    assert_eq!(idle_a, idle_b);
    // the consumer (deadline 1 ms) is polled before the producer (2 ms) at shared instants, so
    // it picks the value up at its next poll, 1 ms after the producing job
    for (n, t) in &a {
        if *n == "consumer" {
            assert!(
                a.iter().any(|(m, u)| *m == "producer" && *u == t - MS),
                "{a:?}"
            );
        }
    }
}

/// (seq, release, start) of every job.
type JobLog = Arc<Mutex<Vec<(u64, i64, i64)>>>;

/// Records (seq, release, start) of every job; spins `spin` ns in the listed jobs.
fn spinner(log: &JobLog, spin_on: &'static [u64], spin: i64) -> impl Task + 'static {
    let log = log.clone();
    task_fn(move |j: &Job| {
        log.lock().unwrap().push((j.seq, j.release.0, j.start.0));
        if spin_on.contains(&j.seq) {
            spin_ns(spin);
        }
    })
}

#[test]
fn overrun_with_skip_drops_the_next_release() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.tasks.insert(
        "t".into(),
        TaskConfig {
            budget_ns: MS,
            overrun: OverrunPolicy::Skip,
            ..task(10 * MS, 0, 50)
        },
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let ex = Executor::start(
        &cfg,
        TaskSet::new().add("t", spinner(&log, &[2, 5], 3 * MS)),
    )
    .unwrap();
    wait_until("7 jobs", LIMIT, || log.lock().unwrap().len() >= 7);
    let st = ex.stop();
    let t = st.task("t").unwrap();
    let log = log.lock().unwrap().clone();
    assert!(t.overruns >= 2, "{st}");
    assert!(t.skipped_releases >= 2, "{st}");
    for seq in [2u64, 5] {
        let r = log.iter().find(|e| e.0 == seq).unwrap().1;
        let next = log.iter().find(|e| e.0 == seq + 1).unwrap().1;
        assert_eq!(
            next - r,
            20 * MS,
            "release after overrun of job {seq} not skipped: {log:?}"
        );
    }
}

#[test]
fn overrun_with_run_late_runs_the_due_release_late() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.tasks.insert(
        "t".into(),
        TaskConfig {
            budget_ns: 2 * MS,
            overrun: OverrunPolicy::RunLate,
            ..task(10 * MS, 0, 50)
        },
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    // job 1 runs 25 ms = 2.5 periods: release r+10 passes entirely (dropped), r+20 runs late
    let ex = Executor::start(&cfg, TaskSet::new().add("t", spinner(&log, &[1], 25 * MS))).unwrap();
    wait_until("3 jobs", LIMIT, || log.lock().unwrap().len() >= 3);
    let st = ex.stop();
    let t = st.task("t").unwrap();
    let log = log.lock().unwrap().clone();
    let (_, r1, _) = log[1];
    let (_, r2, s2) = log[2];
    assert_eq!(r2 - r1, 20 * MS, "{log:?}");
    assert!(
        s2 - r2 >= 4 * MS,
        "job 2 should start late (~5 ms): {log:?}"
    );
    assert!(t.overruns >= 1 && t.deadline_misses >= 1, "{st}");
    assert!(t.skipped_releases >= 1, "{st}");
    assert!(t.release_latency.max >= 4_000_000, "{st}");
}

#[test]
fn overrun_with_safe_stop_calls_the_hook_and_stops_only_that_task() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.tasks.insert(
        "control".into(),
        TaskConfig {
            budget_ns: MS,
            overrun: OverrunPolicy::SafeStop,
            ..task(5 * MS, 0, 60)
        },
    );
    cfg.tasks.insert("other".into(), task(5 * MS, 0, 50));
    cfg.stats_publish_ns = 2 * MS;
    let hits = Arc::new(AtomicU64::new(0));
    let exec_seen = Arc::new(AtomicU64::new(0));
    let (h, e) = (hits.clone(), exec_seen.clone());
    let log = Arc::new(Mutex::new(Vec::new()));
    let other_jobs = Arc::new(AtomicU64::new(0));
    let oj = other_jobs.clone();
    let set = TaskSet::new()
        .add("control", spinner(&log, &[3], 3 * MS))
        .add(
            "other",
            task_fn(move |_: &Job| {
                oj.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .on_safe_stop(Arc::new(move |ev| {
            assert_eq!(ev.task, "control");
            assert!(ev.over_budget);
            h.fetch_add(1, Ordering::SeqCst);
            e.store(ev.execution_ns as u64, Ordering::SeqCst);
        }));
    let mut ex = Executor::start(&cfg, set).unwrap();
    wait_until("the safe stop", LIMIT, || ex.safe_stopped());
    // the other task keeps running: 3 more jobs after the safe stop
    let before = other_jobs.load(Ordering::Relaxed);
    wait_until(
        "3 jobs of the other task after the safe stop",
        LIMIT,
        || other_jobs.load(Ordering::Relaxed) >= before + 3,
    );
    let after = other_jobs.load(Ordering::Relaxed);
    // the statistics publisher (every 2 ms) has seen the other task's jobs
    wait_until("published statistics", LIMIT, || {
        ex.stats().task("other").is_some_and(|t| t.jobs > 0)
    });
    let mid = ex.stats();
    let st = ex.stop();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(exec_seen.load(Ordering::SeqCst) >= 3_000_000);
    let c = st.task("control").unwrap();
    assert!(c.safe_stopped && c.overruns == 1, "{st}");
    assert_eq!(c.jobs, 4, "no job after the safe stop: {st}");
    assert!(after > before, "the other task must keep running");
    assert!(
        mid.task("other").unwrap().jobs > 0,
        "stats published while running"
    );
    let diag = st.diagnostics();
    let d = diag
        .iter()
        .find(|d| d.name == "sattva/sched/control")
        .unwrap();
    assert_eq!(d.level, sattva::sched::DiagLevel::Error, "{d:?}");
    let o = diag
        .iter()
        .find(|d| d.name == "sattva/sched/other")
        .unwrap();
    assert!(o
        .values
        .iter()
        .any(|(k, v)| k == "jobs" && v.parse::<u64>().unwrap() > 0));
    assert!(serde_norway::to_string(&st)
        .unwrap()
        .contains("safe_stopped: true"));
}

#[test]
fn config_and_implementations_must_match() {
    let mut cfg = SchedConfig {
        rt: RtMode::Off,
        ..Default::default()
    };
    cfg.tasks.insert("control".into(), task(MS, 0, 50));
    let e = Executor::start(&cfg, TaskSet::new())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("control") && e.contains("no implementation"),
        "{e}"
    );
    let set = TaskSet::new()
        .add("control", task_fn(|_: &Job| {}))
        .add("contrl", task_fn(|_: &Job| {}));
    let e = Executor::start(&cfg, set).err().unwrap().to_string();
    assert!(e.contains("contrl") && e.contains("not declared"), "{e}");
    struct Bad;
    impl Task for Bad {
        fn start(&mut self) -> Result<(), sattva::sched::TaskError> {
            Err(sattva::sched::TaskError("no camera".into()))
        }
        fn run_once(&mut self, _: &Job) {}
    }
    let e = Executor::start(&cfg, TaskSet::new().add("control", Bad))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("control") && e.contains("no camera"), "{e}");
}

#[test]
fn a_panicking_task_is_stopped_and_triggers_the_safe_stop_hook() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.tasks.insert("flaky".into(), task(2 * MS, 0, 60));
    cfg.tasks.insert("other".into(), task(2 * MS, 0, 50));
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let other_jobs = Arc::new(AtomicU64::new(0));
    let oj = other_jobs.clone();
    let set = TaskSet::new()
        .add(
            "flaky",
            task_fn(|j: &Job| {
                if j.seq == 2 {
                    panic!("sensor driver bug (expected by the test)");
                }
            }),
        )
        .add(
            "other",
            task_fn(move |_: &Job| {
                oj.fetch_add(1, Ordering::Relaxed);
            }),
        )
        .on_safe_stop(Arc::new(move |ev| {
            assert!(ev.panicked && ev.task == "flaky");
            h.fetch_add(1, Ordering::SeqCst);
        }));
    let ex = Executor::start(&cfg, set).unwrap();
    // (the default panic hook, message + backtrace, takes tens of ms on the worker)
    wait_until("the safe stop after the panic", LIMIT, || ex.safe_stopped());
    wait_until("10 jobs of the other task", LIMIT, || {
        other_jobs.load(Ordering::Relaxed) >= 10
    });
    let st = ex.stop();
    let f = st.task("flaky").unwrap();
    assert!(f.panicked && f.safe_stopped, "{st}");
    assert_eq!(f.jobs, 2, "jobs after the panic: {st}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(other_jobs.load(Ordering::Relaxed) >= 10, "{st}");
    assert!(st.to_string().contains("PANICKED"));
}

#[test]
fn a_hung_job_is_reported_by_the_watchdog_while_it_still_runs() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.watchdog_ns = 30 * MS;
    cfg.stats_publish_ns = 2 * MS;
    cfg.tasks.insert("control".into(), task(5 * MS, 0, 60));
    let let_go = Arc::new(AtomicBool::new(false));
    type Ev = (String, u64, bool, i64);
    let events: Arc<Mutex<Vec<Ev>>> = Arc::new(Mutex::new(Vec::new()));
    let (g, evs) = (let_go.clone(), events.clone());
    let set = TaskSet::new()
        .add(
            "control",
            task_fn(move |j: &Job| {
                if j.seq == 5 {
                    // stuck until the test lets it go (at most 5 s)
                    let t = monotonic_ns();
                    while !g.load(Ordering::Acquire) && monotonic_ns() - t < 5_000 * MS {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }),
        )
        .on_safe_stop(Arc::new(move |ev| {
            evs.lock()
                .unwrap()
                .push((ev.task.to_string(), ev.job.seq, ev.hung, ev.execution_ns))
        }));
    let mut ex = Executor::start(&cfg, set).unwrap();
    let t0 = Instant::now();
    while !ex.safe_stopped() && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        ex.safe_stopped(),
        "the watchdog did not report the hung job"
    );
    let mid = ex.stats();
    // still stuck: reported once, not again at every look
    std::thread::sleep(Duration::from_millis(100));
    let ev = events.lock().unwrap().clone();
    assert!(!let_go.load(Ordering::Acquire));
    assert_eq!(ev.len(), 1, "{ev:?}");
    // the quick jobs 0..4 before it were not reported; the stuck one is, with its time so far
    assert_eq!((ev[0].0.as_str(), ev[0].1, ev[0].2), ("control", 5, true));
    assert!(ev[0].3 >= 30 * MS, "{ev:?}");
    let c = mid.task("control").unwrap();
    assert!(c.hung && c.safe_stopped, "{mid}");
    // (the last publish may predate job 4 on a loaded machine; none can count job 5)
    assert!(c.jobs <= 5, "job 5 is still running: {mid}");
    let_go.store(true, Ordering::Release);
    let st = ex.stop();
    assert!(st.task("control").unwrap().hung, "{st}");
    let diag = st.diagnostics();
    let d = diag
        .iter()
        .find(|d| d.name == "sattva/sched/control")
        .unwrap();
    assert_eq!(d.level, sattva::sched::DiagLevel::Error, "{d:?}");
    assert!(d.message.contains("hung"), "{d:?}");
}

#[test]
fn without_a_watchdog_a_slow_job_is_not_reported_as_hung() {
    let _serial = serial();
    let mut cfg = rt_cfg();
    cfg.tasks.insert("control".into(), task(5 * MS, 0, 60));
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let set = TaskSet::new()
        .add(
            "control",
            task_fn(move |j: &Job| {
                if j.seq == 2 {
                    std::thread::sleep(Duration::from_millis(60));
                }
                d.fetch_add(1, Ordering::SeqCst);
            }),
        )
        .on_safe_stop(Arc::new(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        }));
    let ex = Executor::start(&cfg, set).unwrap();
    // past the slow job: 3 quick jobs after it
    wait_until("6 jobs", LIMIT, || done.load(Ordering::SeqCst) >= 6);
    assert!(!ex.safe_stopped());
    let st = ex.stop();
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    assert!(!st.task("control").unwrap().hung);
}
