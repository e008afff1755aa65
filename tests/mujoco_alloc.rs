//! The control cycle on the MuJoCo backend (and the learning handoff of `sattva run`) allocates
//! nothing in steady state.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::config::Config;
use sattva::pipeline::ControlLoop;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn control_cycle_does_not_allocate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = Config::load(&root.join("config/sim.yaml"), &[]).expect("config");
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).expect("backend");
    let mut lp = ControlLoop::new(&c, b, None).expect("loop");
    for _ in 0..100 {
        lp.cycle(); // warm-up
    }
    let before = allocations_on_this_thread();
    for _ in 0..2000 {
        std::hint::black_box(lp.cycle());
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "control cycle allocated {n} times in 2000 cycles");
    assert!(lp.stats.cycles >= 2000);
}

#[test]
fn learning_handoff_in_the_control_task_does_not_allocate() {
    // what `sattva run`'s control task adds per cycle: cut experience segments and hand them
    // to the learn task through the SPSC ring (fixed-size values), dropping when it is full
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = Config::load(&root.join("config/sim.yaml"), &[]).expect("config");
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).expect("backend");
    let mut lp = ControlLoop::new(&c, b, None).expect("loop");
    let mut seg = sattva::learn::Segmenter::new(10, 8, true);
    let (mut tx, mut rx) = sattva::sched::channel::ring::<sattva::learn::Segment>(4);
    for _ in 0..100 {
        lp.cycle();
    }
    let before = allocations_on_this_thread();
    let mut cut = 0;
    for _ in 0..2000 {
        lp.cycle();
        if let Some(s) = seg.push(lp.fused(), lp.command(), None, lp.mark()) {
            tx.push(s.clone());
            cut += 1;
        }
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "segment handoff allocated {n} times in 2000 cycles");
    assert!(cut >= 190, "{cut} segments cut");
    assert!(
        tx.dropped() > 0,
        "the full ring dropped instead of blocking"
    );
    assert!(rx.pop().is_some_and(|s| s.after.t > s.before.t));
}

#[test]
fn counter_sees_allocations() {
    let before = allocations_on_this_thread();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(
        allocations_on_this_thread() > before,
        "counting allocator is not active"
    );
    drop(v);
}
