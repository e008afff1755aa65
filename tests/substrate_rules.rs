//! One test per learning/regulation rule of the substrate, on hand-built vectors whose
//! expected outcome is computed here, independently of the code under test.

use sattva::substrate::{AttractorId, Substrate, SubstrateConfig, SubstrateError};
use sattva::types::Time;

fn cfg(dim: u64) -> SubstrateConfig {
    SubstrateConfig {
        dim,
        ..SubstrateConfig::default()
    }
}

/// Unit vector at `angle` in the (e0, e1) plane of R^dim.
fn planar(dim: usize, angle: f64) -> Vec<f32> {
    let mut v = vec![0f32; dim];
    v[0] = angle.cos() as f32;
    v[1] = angle.sin() as f32;
    v
}

fn secs(s: f64) -> Time {
    Time::from_secs_f64(s)
}

#[test]
fn vigilance_edge_decides_creation_vs_strengthening() {
    let mut s = Substrate::new(cfg(4)).unwrap();
    let first = s.learn(secs(0.0), &planar(4, 0.0)).unwrap();
    assert!(first.created);
    assert_eq!(first.similarity, -1.0);

    // Just below the vigilance (0.7): a new attractor.
    let below = (0.7f64 - 1e-4).acos();
    let r = s.learn(secs(0.0), &planar(4, below)).unwrap();
    assert!(r.created, "cos = 0.6999 must create: {r:?}");
    assert!((r.similarity - 0.6999).abs() < 1e-5);
    assert_eq!(s.len(), 2);

    // Just above, on the other side of attractor 0: strengthens attractor 0.
    let mut s = Substrate::new(cfg(4)).unwrap();
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    let above = -(0.7f64 + 1e-4).acos();
    let r = s.learn(secs(0.0), &planar(4, above)).unwrap();
    assert!(!r.created, "cos = 0.7001 must strengthen: {r:?}");
    assert_eq!(r.id, a);
    assert_eq!(s.len(), 1);
    let at = s.attractor(a, secs(0.0)).unwrap();
    assert_eq!(at.activation_count, 2);
    assert!((at.strength - 2.0).abs() < 1e-6);
    // Rate 1/2 at the second experience: the center is the normalised mean, i.e. at angle/2.
    let want = planar(4, above / 2.0);
    for (c, w) in at.center.iter().zip(&want) {
        assert!((c - w).abs() < 1e-5, "center {:?} want {want:?}", at.center);
    }
    // Radius: running mean of 1 - cos, here 0.5 * (1 - 0.7001).
    assert!(
        (at.radius - 0.5 * 0.2999).abs() < 1e-5,
        "radius {}",
        at.radius
    );
}

#[test]
fn rate_decays_with_count_and_has_a_floor() {
    let mut c = cfg(4);
    c.min_rate = 0.1;
    let mut s = Substrate::new(c).unwrap();
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    // Learn the same off-center experience 30 times; angle follows a_{n} = a_{n-1} + r_n (x - a).
    // In the plane, with small angles, the center angle tracks the weighted mean.
    let x = 0.3f64;
    let mut angle = 0.0f64;
    for n in 2..=30u64 {
        s.learn(secs(0.0), &planar(4, x)).unwrap();
        let r = (1.0 / n as f64).max(0.1);
        // exact update on the circle: normalise((1-r) c + r x)
        let (cx, cy) = (angle.cos(), angle.sin());
        let (px, py) = ((1.0 - r) * cx + r * x.cos(), (1.0 - r) * cy + r * x.sin());
        angle = py.atan2(px);
    }
    let at = s.attractor(a, secs(0.0)).unwrap();
    let got = (at.center[1] as f64).atan2(at.center[0] as f64);
    assert!((got - angle).abs() < 1e-4, "angle {got} want {angle}");
    assert!(
        got > 0.28,
        "with the 0.1 floor the center converges to x: {got}"
    );
}

#[test]
fn converging_centers_merge() {
    let mut c = cfg(4);
    c.vigilance = 0.96;
    c.merge_similarity = 0.98;
    let mut s = Substrate::new(c).unwrap();
    let theta = 0.95f64.acos(); // A and B are 0.95 apart: two attractors
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap();
    let b = s.learn(secs(0.0), &planar(4, theta)).unwrap();
    assert!(a.created && b.created);
    assert_eq!(s.len(), 2);
    assert!(s.add_label(a.id, "cup") && s.add_label(b.id, "mug"));
    // Experiences between them, nearer B, pull B toward A until their centers converge.
    let mut merged = None;
    let mut learned = 2;
    for i in 0..20 {
        let r = s.learn(secs(i as f64), &planar(4, 0.55 * theta)).unwrap();
        learned += 1;
        assert!(!r.created);
        if r.merged.is_some() {
            merged = Some(r);
            break;
        }
    }
    let r = merged.expect("centers converged but no merge happened");
    assert_eq!(s.len(), 1);
    let survivor = s.attractor(r.id, secs(100.0)).unwrap();
    assert_eq!(
        survivor.activation_count, learned,
        "merge keeps every absorbed experience"
    );
    let ang = (survivor.center[1] as f64).atan2(survivor.center[0] as f64);
    assert!(
        ang > 0.0 && ang < theta,
        "merged center {ang} lies between A and B"
    );
    assert_eq!(s.counters().merged, 1);
}

#[test]
fn unused_attractors_decay_and_are_pruned_below_the_floor() {
    let mut c = cfg(4);
    c.strength_half_life_s = 1.0;
    c.prune_floor = 0.05;
    c.sweep_per_learn = 16;
    c.vigilance = 0.9;
    let mut s = Substrate::new(c).unwrap();
    let old = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    let kept = s.learn(secs(0.0), &planar(4, 1.5)).unwrap().id;
    // 2 s later: strength 1/4 = 0.25, above the floor.
    s.learn(secs(2.0), &planar(4, 1.5)).unwrap();
    assert!(s.attractor(old, secs(2.0)).is_some());
    let st = s.attractor(old, secs(2.0)).unwrap().strength;
    assert!((st - 0.25).abs() < 1e-4, "decayed strength {st}");
    // `kept` is reinforced every 2 s, `old` never: at 5 s old has 1/32 < 0.05.
    s.learn(secs(4.0), &planar(4, 1.5)).unwrap();
    s.learn(secs(5.0), &planar(4, 1.5)).unwrap();
    assert!(
        s.attractor(old, secs(5.0)).is_none(),
        "old attractor must be pruned"
    );
    assert!(s.attractor(kept, secs(5.0)).is_some());
    assert_eq!(s.counters().pruned, 1);
    assert_eq!(s.len(), 1);
}

#[test]
fn capacity_is_a_hard_bound_and_the_weakest_is_evicted() {
    let mut c = cfg(4);
    c.capacity = 3;
    c.evict_sample = 8;
    c.vigilance = 0.9;
    let mut s = Substrate::new(c).unwrap();
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    let b = s.learn(secs(0.0), &planar(4, 1.0)).unwrap().id;
    let cc = s.learn(secs(0.0), &planar(4, 2.0)).unwrap().id;
    for _ in 0..3 {
        s.learn(secs(1.0), &planar(4, 0.0)).unwrap();
        s.learn(secs(1.0), &planar(4, 2.0)).unwrap();
    }
    // b has strength 1, a and c have 4: a fourth attractor evicts b.
    let d = s.learn(secs(1.0), &planar(4, 3.0)).unwrap();
    assert!(d.created);
    assert_eq!(d.evicted, Some(b));
    assert_eq!(s.len(), 3);
    let live: Vec<AttractorId> = s.ids().collect();
    assert!(live.contains(&a) && live.contains(&cc) && live.contains(&d.id));
    assert!(
        s.attractor(b, secs(1.0)).is_none() || d.id == b,
        "b's slot is reused by d"
    );
    assert_eq!(s.counters().evicted, 1);
}

#[test]
fn temporal_context_disambiguates_similar_experiences() {
    let dim = 16;
    let mut c = cfg(dim as u64);
    c.vigilance = 0.95;
    c.merge_similarity = 0.995;
    c.k = 4;
    let mut s = Substrate::new(c).unwrap();
    let e = |i: usize| {
        let mut v = vec![0f32; dim];
        v[i] = 1.0;
        v
    };
    // Two contexts (orthogonal) and two similar experiences A1, A2 (cos 0.92).
    let ctx1 = e(0);
    let ctx2 = e(1);
    let mut a1 = e(2);
    a1[3] = 0.42;
    let mut a2 = e(2);
    a2[4] = 0.42;
    let norm = |v: &mut Vec<f32>| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
    };
    norm(&mut a1);
    norm(&mut a2);
    let mut ids = [AttractorId(0); 4];
    for round in 0..5 {
        for (j, x) in [&ctx1, &a1, &ctx2, &a2].into_iter().enumerate() {
            let r = s.learn(secs(round as f64 + j as f64 * 0.1), x).unwrap();
            ids[j] = r.id;
        }
    }
    assert_eq!(s.len(), 4);
    let (id_a1, id_a2) = (ids[1], ids[3]);
    assert!(
        s.edge_weight(ids[0], id_a1) > 0.5,
        "succession edge ctx1 -> a1"
    );
    // An ambiguous pattern, slightly nearer A2.
    let mut q: Vec<f32> = a1
        .iter()
        .zip(&a2)
        .map(|(x, y)| 0.45 * x + 0.55 * y)
        .collect();
    norm(&mut q);

    s.reset_context();
    let plain = s.activate(secs(10.0), &q).unwrap().to_vec();
    assert_eq!(
        plain[0].id, id_a2,
        "without context the nearer A2 wins: {plain:?}"
    );
    assert!(plain[0].similarity > plain[1].similarity);

    s.reset_context();
    s.activate(secs(11.0), &ctx1).unwrap();
    let after1 = s.activate(secs(11.1), &q).unwrap().to_vec();
    assert_eq!(
        after1[0].id, id_a1,
        "after ctx1, resonance ranks A1 first: {after1:?}"
    );
    assert_eq!(after1[0].activation, 1.0);

    s.reset_context();
    s.activate(secs(12.0), &ctx2).unwrap();
    let after2 = s.activate(secs(12.1), &q).unwrap().to_vec();
    assert_eq!(
        after2[0].id, id_a2,
        "after ctx2, A2 stays first: {after2:?}"
    );
}

#[test]
fn activation_is_regulated() {
    let mut c = cfg(8);
    c.winners = 3;
    c.k = 6;
    c.vigilance = 0.99;
    let mut s = Substrate::new(c).unwrap();
    for i in 0..8 {
        s.learn(secs(0.0), &planar(8, i as f64 * 0.3)).unwrap();
    }
    let m = s.activate(secs(1.0), &planar(8, 0.31)).unwrap();
    assert!(m.len() <= 3, "k-winners-take-all keeps 3: {m:?}");
    assert_eq!(m[0].activation, 1.0, "normalised to the winner");
    assert!(m.windows(2).all(|w| w[0].activation >= w[1].activation));
    assert!(m.iter().all(|x| x.activation > 0.0 && x.activation <= 1.0));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let mut s = Substrate::new(cfg(4)).unwrap();
    assert!(matches!(
        s.learn(Time::ZERO, &[1.0, 0.0]),
        Err(SubstrateError::Dim { want: 4, got: 2 })
    ));
    assert!(matches!(
        s.learn(Time::ZERO, &[1.0, f32::NAN, 0.0, 0.0]),
        Err(SubstrateError::NotFinite { index: 1, .. })
    ));
    assert!(matches!(
        s.activate(Time::ZERO, &[0.0; 4]),
        Err(SubstrateError::ZeroNorm)
    ));
    assert!(s
        .activate(Time::ZERO, &[1.0, 0.0, 0.0, 0.0])
        .unwrap()
        .is_empty());
    assert!(s.is_empty());
    let bad = SubstrateConfig {
        vigilance: 1.5,
        ..cfg(4)
    };
    let e = Substrate::new(bad).err().expect("invalid config");
    assert!(e.to_string().contains("vigilance"), "{e}");
}

/// A long stream of novel experiences: the number of attractors, slots and bytes stays bounded.
/// 100k experiences at D = 8 here (50x the capacity), because a debug build learns only a few
/// thousand experiences/s on this shared box and
/// the suite must stay fast; the bound is a property of the rules, not of the stream length or D,
/// and `sattva bench substrate --stream 1000000` runs the same check on a 1M stream at D = 256.
#[test]
fn long_stream_does_not_grow_without_bound() {
    let mut c = cfg(8);
    c.capacity = 200;
    c.vigilance = 0.97;
    c.strength_half_life_s = 0.05;
    c.sweep_per_learn = 2;
    c.index.exact_threshold = 256;
    c.index.m = 4;
    c.index.ef_construction = 16;
    let cap = c.capacity as usize;
    let mut s = Substrate::new(c).unwrap();
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut x = [0f32; 8];
    let mut mem_at_10k = 0;
    let n = 100_000;
    for i in 0..n {
        x.iter_mut().for_each(|v| *v = rnd());
        s.learn(Time(i as i64 * 1_000_000), &x).unwrap();
        if i % 1000 == 0 {
            assert!(s.len() <= cap, "step {i}: {} attractors", s.len());
        }
        if i == 10_000 {
            mem_at_10k = s.memory_bytes();
        }
    }
    assert!(s.len() <= cap);
    assert!(s.index().slots() <= cap, "slots {}", s.index().slots());
    let mem = s.memory_bytes();
    assert!(
        mem <= mem_at_10k + mem_at_10k / 4,
        "memory grew from {mem_at_10k} to {mem} bytes"
    );
    let k = s.counters();
    assert!(
        k.created > cap as u64 && k.pruned + k.evicted + k.merged > 0,
        "{k:?}"
    );
    assert_eq!(
        k.created - k.pruned - k.evicted - k.merged,
        s.len() as u64,
        "every created attractor is live or accounted for: {k:?}"
    );
}

/// `learn` decides with a cheap search (`ef_learn`); a near-duplicate it misses is created,
/// and `maintain` (whose construction search finds the original) merges it back.
#[test]
fn duplicates_missed_by_the_cheap_learning_search_are_merged_by_maintain() {
    let dim = 16usize;
    let mut c = cfg(dim as u64);
    c.vigilance = 0.98;
    c.merge_similarity = 0.999;
    c.capacity = 10_000;
    c.strength_half_life_s = 1e9;
    c.index.exact_threshold = 0; // graph search from the start
    c.index.m = 4;
    c.index.ef_learn = 1; // misses often
    c.index.ef_construction = 200;
    c.index.fresh_capacity = 4096;
    let mut s = Substrate::new(c).unwrap();
    let mut st = 0x5151_7272_9393_a4a4u64;
    let mut rnd = |scale: f32| -> Vec<f32> {
        (0..dim)
            .map(|_| {
                st ^= st << 13;
                st ^= st >> 7;
                st ^= st << 17;
                scale * ((st >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            })
            .collect()
    };
    let originals: Vec<Vec<f32>> = (0..1500).map(|_| rnd(1.0)).collect();
    for (i, x) in originals.iter().enumerate() {
        let l = s.learn(secs(i as f64), x).unwrap();
        assert!(l.created, "random 16-D vectors are far apart");
        s.maintain(1);
    }
    s.maintain(usize::MAX);
    assert_eq!(s.len(), 1500);
    let before = s.counters();
    let mut missed = 0;
    for (i, o) in originals.iter().enumerate().step_by(3) {
        let noise = rnd(0.002);
        let x: Vec<f32> = o.iter().zip(&noise).map(|(a, b)| a + b).collect();
        let l = s.learn(secs(2000.0 + i as f64), &x).unwrap();
        missed += usize::from(l.created);
    }
    assert!(missed > 0, "ef_learn = 1 should miss some near-duplicates");
    assert_eq!(s.len(), 1500 + missed);
    s.maintain(usize::MAX);
    assert_eq!(s.pending_work(), 0);
    assert_eq!(s.len(), 1500, "every missed duplicate merged back");
    assert_eq!(s.counters().merged - before.merged, missed as u64);
}
