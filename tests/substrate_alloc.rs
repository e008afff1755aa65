//! `activate` allocates nothing in steady state (it runs on the learning task each cycle).

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::substrate::{IndexConfig, Substrate, SubstrateConfig};
use sattva::types::Time;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn activate_does_not_allocate() {
    let cfg = SubstrateConfig {
        dim: 32,
        vigilance: 0.9,
        index: IndexConfig {
            exact_threshold: 100, // graph search, not brute force
            ..IndexConfig::default()
        },
        ..SubstrateConfig::default()
    };
    let mut s = Substrate::new(cfg).unwrap();
    let mut st = 7u64;
    let mut next = || {
        (0..32)
            .map(|_| {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                (st >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect::<Vec<f32>>()
    };
    for i in 0..2000 {
        s.learn(Time(i), &next()).unwrap();
    }
    let qs: Vec<Vec<f32>> = (0..500).map(|_| next()).collect();
    for q in &qs[..50] {
        s.activate(Time(3000), q).unwrap(); // warm-up: buffers reach their capacity
    }
    let before = allocations_on_this_thread();
    let mut n = 0;
    for (i, q) in qs.iter().enumerate() {
        n += s.activate(Time(3000 + i as i64), q).unwrap().len();
    }
    let a = allocations_on_this_thread() - before;
    assert_eq!(a, 0, "activate allocated {a} times in 500 calls");
    assert!(n > 0);
}
