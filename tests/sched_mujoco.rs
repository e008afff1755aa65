//! `ControlLoop::cycle` on the real MuJoCo backend (config/sim.yaml) as the control task of the
//! virtual-time executor: lockstep (each release is exactly the backend's sim time), a sporadic
//! consumer fed through a ring, deterministic, allocation-free, and bit-identical to driving the
//! loop by hand.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::Backend;
use sattva::config::Config;
use sattva::pipeline::ControlLoop;
use sattva::sched::channel::{latest, ring, RingRx};
use sattva::sched::{task_fn, Job, Task, TaskConfig, TaskKind, TaskSet, VirtualExecutor};
use sattva::types::Time;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("config/sim.yaml"), &[]).expect("config/sim.yaml")
}

/// Sporadic: runs when the control task has sent frame times; checks they arrive in order.
struct Learn<'a> {
    rx: RingRx<i64>,
    last: i64,
    out_of_order: u64,
    log: &'a mut Vec<(u8, i64)>,
}
impl Task for Learn<'_> {
    fn ready(&mut self) -> bool {
        !self.rx.is_empty()
    }
    fn run_once(&mut self, j: &Job) {
        while let Some(t) = self.rx.pop() {
            self.out_of_order += (t <= self.last) as u64;
            self.last = t;
        }
        self.log.push((1, j.release.0));
    }
}

struct Run {
    trace: String,
    cycles: u64,
    lockstep_errors: u64,
    order: Vec<(u8, i64)>,
    steady_allocs: u64,
    learn_jobs: u64,
    dropped: u64,
    backend_now: Time,
    exec_now: Time,
}

fn run(c: &Config, seconds: i64) -> Run {
    let period = c.control.period_ns;
    let b = sattva::backend::mujoco::MujocoBackend::open(c).expect("backend");
    let mut lp = ControlLoop::new(c, b, None).expect("loop");
    let t0 = lp.backend.now();
    let mut lockstep_errors = 0u64;
    let mut order = Vec::with_capacity(4 * 1024 * seconds as usize);
    let mut learn_log = Vec::with_capacity(4 * 1024 * seconds as usize);
    let (mut tx, rx) = ring::<i64>(8);
    let (mut state_tx, mut state_rx) = latest(0.0f64);

    let mut sc = c.sched.clone();
    sc.tasks.clear();
    sc.tasks.insert(
        "control".into(),
        TaskConfig {
            period_ns: period,
            priority: 80,
            ..Default::default()
        },
    );
    sc.tasks.insert(
        "learn".into(),
        TaskConfig {
            period_ns: 5 * period,
            priority: 60,
            kind: TaskKind::Sporadic,
            ..Default::default()
        },
    );
    sc.tasks.insert(
        "monitor".into(),
        TaskConfig {
            period_ns: 50 * period,
            priority: 10,
            ..Default::default()
        },
    );
    let mut learn = Learn {
        rx,
        last: i64::MIN,
        out_of_order: 0,
        log: &mut learn_log,
    };
    let mut monitor_sum = 0.0;
    let (steady_allocs, backend_now, exec_now);
    {
        let control = task_fn(|j: &Job| {
            // lockstep: the release is exactly the simulated time of the frame the cycle reads
            lockstep_errors += (lp.backend.now() != j.release) as u64;
            let f = lp.cycle();
            tx.push(f.t.0);
            state_tx.write(f.joints.position.first().copied().unwrap_or(0.0));
            order.push((0, j.release.0));
        });
        let monitor = task_fn(|_: &Job| monitor_sum += *state_rx.read());
        let set = TaskSet::new()
            .add("control", control)
            .add("learn", &mut learn)
            .add("monitor", monitor);
        let mut ex = VirtualExecutor::new(&sc, set, t0).expect("executor");
        ex.run_until(t0.add_nanos(100 * period)); // warm-up
        let before = allocations_on_this_thread();
        ex.run_until(t0.add_nanos(seconds * 1_000_000_000));
        steady_allocs = allocations_on_this_thread() - before;
        exec_now = ex.now();
        let st = ex.finish();
        assert_eq!(st.task("control").unwrap().overruns, 0);
    }
    backend_now = lp.backend.now();
    assert_eq!(learn.out_of_order, 0);
    order.extend(learn_log.iter().copied());
    Run {
        trace: lp.output_hash(),
        cycles: lp.stats.cycles,
        lockstep_errors,
        order,
        steady_allocs,
        learn_jobs: learn_log.len() as u64,
        dropped: tx.dropped(),
        backend_now,
        exec_now,
    }
}

#[test]
fn control_loop_runs_in_virtual_time_on_mujoco() {
    let c = config();
    let period = c.control.period_ns;
    let a = run(&c, 2);
    let n = 2_000_000_000 / period as u64;
    assert_eq!(a.cycles, n, "one control cycle per release");
    assert_eq!(a.lockstep_errors, 0, "release time != simulated time");
    assert_eq!(a.backend_now, Time(2_000_000_000));
    assert_eq!(
        a.exec_now, a.backend_now,
        "virtual clock and sim clock agree"
    );
    assert_eq!(a.steady_allocs, 0, "executor + control cycle allocated");
    assert_eq!(
        a.learn_jobs,
        n / 5,
        "sporadic task ran at each poll with data"
    );
    assert_eq!(a.dropped, 0);

    // deterministic: same inputs, same order of task runs and bit-identical frames
    let b = run(&c, 2);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.order, b.order);

    // the executor adds nothing: the same loop driven by hand gives the same frames
    let bk = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let mut lp = ControlLoop::new(&c, bk, None).unwrap();
    for _ in 0..n {
        lp.cycle();
    }
    assert_eq!(lp.output_hash(), a.trace);
}
