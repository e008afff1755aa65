//! Perform through the real control loop on MuJoCo: an attractor's action memory is played from
//! the current pose through the same safety clamp as every other command (a profile that would
//! exceed the joint and velocity limits is clamped and counted), the performance is cut as one
//! experience tagged `Role::Perform`, cancel holds, and no cycle of it allocates.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::action::{PerformEnd, PerformGoal, PerformSource, PerformTrial};
use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::{Backend, EpisodeSetup};
use sattva::config::Config;
use sattva::learn::{Mark, Role, Segmenter};
use sattva::pipeline::ControlLoop;
use sattva::ros::bridge::{ControlMode, FromRos};
use sattva::substrate::ActionMemory;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("config/sim.yaml"), &[]).expect("config/sim.yaml")
}

type Lp = ControlLoop<sattva::backend::Managed<sattva::backend::mujoco::MujocoBackend>>;

fn open() -> (Config, Lp, Vec<(f64, f64)>) {
    let c = config();
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let limits = b.info().joint_limits.clone();
    let mut lp = ControlLoop::new(&c, b, None).unwrap();
    // settle in hold, then leave the agent's own source out of it
    lp.handle(FromRos::Mode(ControlMode::External));
    for _ in 0..50 {
        lp.cycle();
    }
    (c, lp, limits)
}

fn ctrl(lp: &Lp) -> Vec<f64> {
    lp.backend.inner().data().unwrap().ctrl().to_vec()
}

/// A 4-bin profile moving joint `j` by `d` (rad), others still, over `s` seconds.
fn goal(c: &Config, joints: usize, j: usize, d: f32, s: f32) -> PerformGoal {
    let bins = 4;
    let mut p = vec![0.0f32; bins * joints];
    for b in 0..bins {
        p[b * joints + j] = d * (b + 1) as f32 / bins as f32;
    }
    let m = ActionMemory::new(bins, joints, s, &p).unwrap();
    PerformGoal::new(5, 9, "lift", &m, 1.0, c.control.period_ns).unwrap()
}

#[test]
fn a_profile_beyond_the_limits_is_clamped_and_counted_and_allocates_nothing() {
    let (c, mut lp, limits) = open();
    let n = limits.len();
    let max_step = lp.clamp().max_step();
    assert!(max_step.is_finite() && max_step > 0.0);
    let q0 = lp.fused().joint_position.clone();
    // joint 0 to 3 rad beyond its upper limit within 0.2 s: too far and too fast
    let (_, hi) = limits[0];
    let g = goal(&c, n, 0, (hi - q0[0] + 3.0) as f32, 0.2);
    let (clamped0, limited0) = (lp.clamp().clamped(), lp.clamp().rate_limited());
    let mut seg = Segmenter::new(1000, 4, false);
    let mut segments = Vec::new();
    let mut prev = ctrl(&lp);
    let (mut limit_violations, mut step_violations, mut cycles) = (0, 0, 0);
    let mut first_mark = None;
    let mut allocated = 0;
    segments.reserve(4);
    let before = allocations_on_this_thread();
    lp.handle(FromRos::Perform(g));
    allocated += allocations_on_this_thread() - before;
    loop {
        // the control path: the cycle and the segmenter (the checks below allocate)
        let before = allocations_on_this_thread();
        lp.cycle();
        let cut = seg
            .push(lp.fused(), lp.command(), None, lp.mark())
            .map(|s| s.tag);
        allocated += allocations_on_this_thread() - before;
        if let Some(t) = cut {
            segments.push(t);
        }
        cycles += 1;
        first_mark.get_or_insert(lp.mark());
        let now = ctrl(&lp);
        for j in 0..n {
            let (lo, hi) = limits[j];
            if now[j] < lo - 1e-9 || now[j] > hi + 1e-9 {
                limit_violations += 1;
            }
            // (the first cycle leaves a hold: the clamp steps from the measured position)
            if cycles > 1 && (now[j] - prev[j]).abs() > max_step + 1e-9 {
                step_violations += 1;
            }
        }
        prev = now;
        if lp.performing().is_none() {
            break;
        }
        assert!(cycles < 10_000, "the performance never ended");
    }
    assert_eq!(allocated, 0, "a performance allocated on the control path");
    assert_eq!(
        limit_violations, 0,
        "a target beyond the joint limits reached the actuators"
    );
    assert_eq!(
        step_violations, 0,
        "a target faster than the velocity limit reached the actuators"
    );
    // 0.2 s at the control period
    let expected = (0.2e9 / c.control.period_ns as f64).round() as i64;
    assert!(
        (cycles as i64 - expected).abs() <= 1,
        "{cycles} cycles, expected {expected}"
    );
    assert!(
        lp.clamp().clamped() > clamped0,
        "the limit clamp was not counted"
    );
    assert!(
        lp.clamp().rate_limited() > limited0,
        "the rate limit was not counted"
    );
    // one experience, tagged as the performance
    assert!(
        matches!(first_mark, Some(Mark::Begin(t)) if t.role == Role::Perform && t.episode == 5)
    );
    assert_eq!(segments.len(), 1);
    let tag = segments[0].unwrap();
    assert_eq!(
        (tag.label, tag.role, tag.episode),
        ("lift", Role::Perform, 5)
    );
    // then the loop holds where the performance left it
    assert_eq!(lp.mode(), ControlMode::Hold);
    assert_eq!(lp.take_performance_end(), Some((5, PerformEnd::Completed)));
}

#[test]
fn a_performance_moves_the_joint_by_its_profile_from_wherever_it_starts() {
    let (c, mut lp, limits) = open();
    let n = limits.len();
    // joint 1 by -0.15 rad over 1 s (well inside the velocity limit)
    let j = 1.min(n - 1);
    let q0 = lp.fused().joint_position.clone();
    lp.handle(FromRos::Perform(goal(&c, n, j, -0.15, 1.0)));
    let mut first_cmd = None;
    while {
        lp.cycle();
        first_cmd.get_or_insert(lp.command().values.to_vec());
        lp.performing().is_some()
    } {}
    // retargeted: the first command is the pose the robot stood in
    let first = first_cmd.unwrap();
    for k in 0..n {
        assert!(
            (first[k] - q0[k]).abs() < 0.02,
            "joint {k}: {} vs {}",
            first[k],
            q0[k]
        );
    }
    let last = lp.command().values.to_vec();
    assert!(
        (last[j] - (q0[j] - 0.15)).abs() < 0.01,
        "{} vs {}",
        last[j],
        q0[j] - 0.15
    );
    // hold a while: the joint arrives near the target
    for _ in 0..300 {
        lp.cycle();
    }
    let q = lp.fused().joint_position[j];
    assert!(
        (q - (q0[j] - 0.15)).abs() < 0.05,
        "joint {j} at {q}, wanted {}",
        q0[j] - 0.15
    );
}

#[test]
fn cancel_holds_and_reports_the_cancellation() {
    let (c, mut lp, limits) = open();
    lp.handle(FromRos::Perform(goal(&c, limits.len(), 0, 0.3, 2.0)));
    for _ in 0..100 {
        lp.cycle();
    }
    assert!(lp.performing().is_some());
    lp.handle(FromRos::CancelPerform);
    lp.cycle();
    assert!(lp.performing().is_none());
    assert_eq!(lp.mode(), ControlMode::Hold);
    assert_eq!(lp.take_performance_end(), Some((5, PerformEnd::Cancelled)));
    assert_eq!(lp.command().mode, sattva::types::CommandMode::Hold);
}

#[test]
fn a_plan_of_performances_allocates_only_when_it_sets_a_trial_up() {
    let (c, _, limits) = open();
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let mut lp = ControlLoop::new(&c, b, None).unwrap();
    let n = limits.len();
    let trials: Vec<PerformTrial> = (0..3)
        .map(|i| PerformTrial {
            goal: goal(&c, n, i, 0.1, 0.5),
            setup: EpisodeSetup {
                seed: 100 + i as u64,
                object_offset: [0.01 * i as f64, 0.0],
                object_mass: 0.2,
            },
            start: 0.75,
        })
        .collect();
    lp.set_perform_plan(PerformSource::new(
        trials,
        limits,
        c.eval.settle_s,
        c.control.period_ns,
    ));
    let (mut allocating, mut setups, mut begins, mut cycles) = (0, 0, 0, 0u64);
    while !lp.source_finished() {
        let episodes = lp.stats.episodes;
        let before = allocations_on_this_thread();
        lp.cycle();
        cycles += 1;
        if matches!(lp.mark(), Mark::Begin(t) if t.role == Role::Perform) {
            begins += 1;
        }
        if lp.stats.episodes != episodes {
            setups += 1;
        } else if allocations_on_this_thread() > before {
            allocating += 1;
        }
        assert!(cycles < 100_000);
    }
    assert_eq!((setups, begins), (3, 3));
    assert_eq!(allocating, 0, "cycles outside trial setup allocated");
}
