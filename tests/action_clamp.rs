//! The safety clamp sits between the action stage and the backend and is never bypassed:
//! out-of-range operator commands injected into the real control loop on MuJoCo never reach the
//! actuators outside the joint limits or faster than the velocity limit; malformed commands
//! become hold. The control cycle with primitives and the clamp allocates nothing.
#![cfg(feature = "mujoco")]

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sattva::action::{PrimitiveParams, PrimitiveSet, SafetyClamp};
use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::backend::Backend;
use sattva::config::Config;
use sattva::pipeline::ControlLoop;
use sattva::ros::bridge::{ControlMode, FromRos};
use sattva::types::{Command, CommandMode, JointVec};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("config/sim.yaml"), &[]).expect("config/sim.yaml")
}

#[test]
fn injected_out_of_range_commands_never_reach_the_actuators() {
    let c = config();
    assert!(
        c.action.clamp.max_velocity > 0.0,
        "config/sim.yaml sets a velocity limit"
    );
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let limits = b.info().joint_limits.clone();
    // the loop's clamp comes from the config: nothing to add, nothing to forget
    let mut lp = ControlLoop::new(&c, b, None).unwrap();
    let max_step = lp.clamp().max_step();
    let expected = SafetyClamp::new(&limits).with_limits(&c.action.clamp, c.control.period_ns);
    assert_eq!(max_step, expected.max_step());
    assert!(max_step.is_finite() && max_step > 0.0);
    lp.handle(FromRos::Mode(ControlMode::External));
    type Lp = ControlLoop<sattva::backend::Managed<sattva::backend::mujoco::MujocoBackend>>;
    let ctrl = |lp: &Lp| -> Vec<f64> { lp.backend.inner().data().unwrap().ctrl().to_vec() };
    let mut prev = ctrl(&lp);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = limits.len();
    let (mut limit_violations, mut step_violations, mut held, mut moved) = (0, 0, 0, 0);
    for i in 0..1500 {
        let mut cmd = Command {
            mode: CommandMode::Position,
            ..Command::default()
        };
        match i % 5 {
            // far outside the limits
            0 | 1 => (0..n).for_each(|_| cmd.values.push(rng.gen_range(-50.0..50.0))),
            // inside the limits but a huge jump
            2 => limits
                .iter()
                .for_each(|&(lo, hi)| cmd.values.push(if rng.gen::<bool>() { lo } else { hi })),
            // malformed: NaN / wrong length
            3 => {
                (0..n).for_each(|_| cmd.values.push(f64::NAN));
                if rng.gen::<bool>() {
                    cmd.values.pop();
                }
            }
            // infinities
            _ => (0..n).for_each(|_| cmd.values.push(f64::INFINITY)),
        }
        cmd.t = lp.backend.now();
        lp.handle(FromRos::Command(cmd));
        let measured: Vec<f64> = lp.cycle().joints.position.to_vec();
        let now = ctrl(&lp);
        for j in 0..n {
            let (lo, hi) = limits[j];
            if now[j] < lo - 1e-9 || now[j] > hi + 1e-9 {
                limit_violations += 1;
            }
            // position commands: at most one step from the previous target, or from the
            // measured position right after a hold (malformed commands, i % 5 in {3, 4})
            let reference = match i % 5 {
                1 | 2 => Some((prev[j], 1e-9)),
                0 if i > 0 => Some((measured[j], 1e-9)),
                _ => None,
            };
            if let Some((r, tol)) = reference {
                if (now[j] - r).abs() > max_step + tol {
                    step_violations += 1;
                }
            }
        }
        if now == prev {
            held += 1;
        } else {
            moved += 1;
        }
        prev = now;
    }
    assert_eq!(
        limit_violations, 0,
        "a target outside the joint limits reached the actuators"
    );
    assert_eq!(
        step_violations, 0,
        "a target faster than the velocity limit reached the actuators"
    );
    assert!(moved > 500 && held > 100, "moved {moved}, held {held}");
    assert!(lp.clamp().clamped() > 1000);
    assert!(lp.clamp().rate_limited() > 1000);
    assert!(lp.clamp().rejected() > 300);
}

#[test]
fn primitives_through_the_clamped_loop_allocate_nothing_per_cycle() {
    let c = config();
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let mut set = PrimitiveSet::generate(
        b.body(&c.action.primitives.spec()).unwrap(),
        &c.action.primitives,
    );
    let mut lp = ControlLoop::new(&c, b, None).unwrap();
    lp.handle(FromRos::Mode(ControlMode::External));
    let q0: JointVec = lp.fused().joint_position.clone();
    let mut cmd = Command::default();
    // warm-up
    let mut run = set.start(0, PrimitiveParams::default(), &q0, lp.backend.now(), 0.2);
    for _ in 0..10 {
        set.command(&mut run, lp.backend.now(), &mut cmd);
        lp.handle(FromRos::Command(cmd.clone()));
        lp.cycle();
    }
    let before = allocations_on_this_thread();
    // starting a primitive (IK set-up included) and every cycle of it allocate nothing
    for i in 0..set.len() {
        let q: JointVec = lp.fused().joint_position.clone();
        let mut run = set.start(i, PrimitiveParams::default(), &q, lp.backend.now(), 0.2);
        for _ in 0..20 {
            let t = lp.backend.now();
            set.command(&mut run, t, &mut cmd);
            lp.handle(FromRos::Command(cmd.clone()));
            lp.cycle();
        }
    }
    assert_eq!(allocations_on_this_thread() - before, 0);
    assert_eq!(lp.stats.write_errors, 0);
    // the reference arm's library: task-space arm primitives at its end effector
    assert!(set.len() >= 20, "{:?}", set.names());
    assert!(set.index("push_left").is_some() && set.index("reach_back_left").is_some());
}

#[test]
fn curriculum_source_allocates_only_when_it_sets_an_episode_up() {
    use sattva::action::{CurriculumSource, PlanRequest};
    let c = config();
    let b = sattva::backend::mujoco::MujocoBackend::open(&c).unwrap();
    let set = PrimitiveSet::generate(
        b.body(&c.action.primitives.spec()).unwrap(),
        &c.action.primitives,
    );
    let n = set.len();
    let names = set.names();
    let req = PlanRequest {
        train: n,
        ..Default::default()
    };
    let plan = req.scenarios(&c.eval, &names, set.object().is_some(), 1);
    let cur = CurriculumSource::new(&c.eval, set, plan, c.control.period_ns);
    let mut lp = ControlLoop::new(&c, b, Some(cur)).unwrap();
    let (mut allocating_cycles, mut setup_cycles, mut cycles) = (0u64, 0u64, 0u64);
    while !lp.source_finished() {
        let episodes = lp.stats.episodes;
        let before = allocations_on_this_thread();
        lp.cycle();
        let allocated = allocations_on_this_thread() - before;
        cycles += 1;
        if lp.stats.episodes != episodes {
            setup_cycles += 1; // the world is set up: a new object mass swaps the model
        } else if allocated > 0 {
            allocating_cycles += 1;
        }
    }
    assert_eq!(setup_cycles, n as u64, "one setup per episode");
    assert!(cycles > 200 * n as u64, "{cycles} cycles");
    // the primitive, clamp, fusion and source cycles allocate nothing
    assert_eq!(
        allocating_cycles, 0,
        "cycles outside episode setup allocated"
    );
    assert_eq!(lp.stats.write_errors + lp.stats.read_errors, 0);
}
