//! The control cycle on the MuJoCo backend allocates nothing in steady state.
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
    let b = sattva::sim::open_backend(&c).expect("backend");
    let mut lp = ControlLoop::new(b, 1, 0.3).expect("loop");
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
fn counter_sees_allocations() {
    let before = allocations_on_this_thread();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(
        allocations_on_this_thread() > before,
        "counting allocator is not active"
    );
    drop(v);
}
