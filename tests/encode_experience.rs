//! Experience encoder: determinism, similarity structure, no allocation per call.
//!
//! Experiences come from a small kinematic arm model: 4 joints, 1 contact, a 4x6 depth grid.
//! A "primitive" is a command pattern (one joint driven by +/-0.3 rad relative to its position);
//! its effect is the joint moving there (with velocity), the tilt of the IMU changing with the
//! joint, and noise on everything. Different instances of a primitive start from different
//! random poses.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::encode::{cosine, EncodeConfig, Encoder, Experience, Layout};
use sattva::fusion::{DepthGrid, FusedState};
use sattva::types::{Command, CommandMode, Time};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const LAYOUT: Layout = Layout {
    joints: 4,
    contacts: 1,
    depth_cells: 24,
};

#[allow(clippy::needless_range_loop)]
fn state(rng: &mut ChaCha8Rng, t: i64, pos: &[f64; 4], vel: &[f64; 4]) -> FusedState {
    let mut s = FusedState {
        t: Time(t),
        depth: DepthGrid::new(4, 6, 2.0),
        ..FusedState::default()
    };
    let n = |rng: &mut ChaCha8Rng, a: f64| rng.gen_range(-a..a);
    // IMU tilt follows joints 1 and 2 (pitch), yaw follows joint 0
    let pitch = 0.5 * (pos[1] + pos[2]);
    let yaw = pos[0];
    let (cp, sp, cy, sy) = (
        (pitch / 2.0).cos(),
        (pitch / 2.0).sin(),
        (yaw / 2.0).cos(),
        (yaw / 2.0).sin(),
    );
    s.orientation = [cy * cp, -sy * sp, cy * sp, sy * cp];
    for k in 0..3 {
        s.angular_velocity[k] = vel[k] * 0.5 + n(rng, 0.01);
        s.linear_accel[k] = vel[k] * 0.3 + n(rng, 0.05);
    }
    for j in 0..4 {
        s.joint_position.push(pos[j] + n(rng, 0.002));
        s.joint_velocity.push(vel[j] + n(rng, 0.01));
        s.joint_effort.push(2.0 * vel[j] + n(rng, 0.05));
    }
    s.contact_force
        .push(if pos[1] > 0.6 { 1.0 } else { 0.0 } + n(rng, 0.01));
    s.touching.push(pos[1] > 0.6);
    for c in s.depth.cells[..24].iter_mut() {
        *c = (1.5 - 0.3 * pitch + n(rng, 0.01)) as f32;
    }
    s
}

/// (before, command, after) of primitive `p` (joint p/2, direction +/-) from a random pose.
fn experience(rng: &mut ChaCha8Rng, p: usize) -> (FusedState, Command, FusedState) {
    let mut pos = [0.0; 4];
    for v in pos.iter_mut() {
        *v = rng.gen_range(-0.5..0.5);
    }
    let (j, dir) = (p / 2, if p % 2 == 0 { 1.0 } else { -1.0 });
    let before = state(rng, 0, &pos, &[0.0; 4]);
    let mut cmd = Command {
        t: Time(0),
        mode: CommandMode::Position,
        ..Command::default()
    };
    let mut after_pos = pos;
    after_pos[j] += dir * 0.3;
    let mut vel = [0.0; 4];
    vel[j] = dir * 0.6;
    for v in &after_pos {
        cmd.values.push(*v);
    }
    let after = state(rng, 500_000_000, &after_pos, &vel);
    (before, cmd, after)
}

fn warmed(seed: u64) -> (Encoder, ChaCha8Rng) {
    let mut enc = Encoder::new(&EncodeConfig::default(), LAYOUT, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut e = Experience::new(256);
    for i in 0..3000 {
        let (b, c, a) = experience(&mut rng, i % 8);
        enc.encode(&b, &c, &a, &mut e).expect("encode");
    }
    (enc, rng)
}

#[test]
fn identical_inputs_and_seed_give_identical_bits() {
    let (mut a, _) = warmed(7);
    let (mut b, _) = warmed(7);
    let (mut c, _) = warmed(8);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut ea, mut eb, mut ec) = (
        Experience::new(256),
        Experience::new(256),
        Experience::new(256),
    );
    for i in 0..50 {
        let (bf, cm, af) = experience(&mut rng, i % 8);
        a.encode(&bf, &cm, &af, &mut ea).expect("a");
        b.encode(&bf, &cm, &af, &mut eb).expect("b");
        c.encode(&bf, &cm, &af, &mut ec).expect("c");
        let bits = |e: &Experience| e.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&ea),
            bits(&eb),
            "same seed, same inputs, different bits"
        );
        assert_ne!(
            bits(&ea),
            bits(&ec),
            "a different seed must give a different projection"
        );
        let n: f32 = ea.as_slice().iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-5, "not a unit vector: {n}");
    }
}

#[test]
fn same_primitive_is_similar_different_primitives_are_not() {
    let (mut enc, mut rng) = warmed(7);
    enc.set_learn_stats(false);
    let mut per: Vec<Vec<Experience>> = vec![Vec::new(); 8];
    for (p, list) in per.iter_mut().enumerate() {
        for _ in 0..20 {
            let (b, c, a) = experience(&mut rng, p);
            let mut e = Experience::new(256);
            enc.encode(&b, &c, &a, &mut e).expect("encode");
            list.push(e);
        }
    }
    let (mut same, mut ns, mut diff, mut nd) = (0.0f32, 0, 0.0f32, 0);
    let mut diff_max = f32::MIN;
    for p in 0..8 {
        for q in 0..8 {
            for i in 0..20 {
                for k in 0..20 {
                    if p == q && i >= k {
                        continue;
                    }
                    let c = cosine(per[p][i].as_slice(), per[q][k].as_slice());
                    if p == q {
                        same += c;
                        ns += 1;
                    } else {
                        diff += c;
                        nd += 1;
                        diff_max = diff_max.max(c);
                    }
                }
            }
        }
    }
    let (same, diff) = (same / ns as f32, diff / nd as f32);
    eprintln!(
        "mean cosine: same primitive {same:.3}, different primitives {diff:.3} (max {diff_max:.3})"
    );
    assert!(same > 0.7, "same primitive mean cosine {same}");
    assert!(diff < 0.2, "different primitives mean cosine {diff}");
    assert!(same - diff > 0.6);
}

#[test]
fn encode_does_not_allocate_and_sanitises_input() {
    let (mut enc, mut rng) = warmed(7);
    let mut e = Experience::new(256);
    let mut buf = [0.0f32; 256];
    let (mut b, c, a) = experience(&mut rng, 3);
    b.joint_velocity[2] = f64::NAN;
    b.linear_accel[0] = f64::INFINITY;
    let before = allocations_on_this_thread();
    for _ in 0..1000 {
        enc.encode(&b, &c, &a, &mut e).expect("encode");
        enc.encode_with(&b, &c, &a, &[], &mut buf)
            .expect("encode_with");
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "encode allocated {n} times");
    assert!(e.as_slice().iter().all(|v| v.is_finite()));
    // NaN joint velocity and Inf acceleration: value before and change, 2000 calls
    assert_eq!(enc.counters.nonfinite, 8000);
    // wrong output size is an error, not a panic
    assert!(enc.encode_with(&b, &c, &a, &[], &mut buf[..100]).is_err());
}

#[test]
fn an_extra_modality_can_be_added() {
    let mut enc =
        Encoder::new(&EncodeConfig::default(), LAYOUT, 7).with_extra_modality("visual", 16, 1.0);
    assert_eq!(enc.modalities().last().map(|m| m.name), Some("visual"));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut out = [0.0f32; 256];
    let vis = [0.5f32; 16];
    for i in 0..10 {
        let (b, c, a) = experience(&mut rng, i % 8);
        enc.encode_with(&b, &c, &a, &[&vis], &mut out)
            .expect("with visual");
    }
    let (b, c, a) = experience(&mut rng, 0);
    assert!(
        enc.encode_with(&b, &c, &a, &[], &mut out).is_err(),
        "missing modality"
    );
    assert!(
        enc.encode_with(&b, &c, &a, &[&vis[..3]], &mut out).is_err(),
        "wrong size"
    );
}
