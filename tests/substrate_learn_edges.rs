//! `Substrate::learn`'s decisions that `tests/substrate_rules.rs` left open (found by
//! `cargo mutants`, README "Mutation testing"), on hand-built vectors with hand-worked
//! outcomes: what `Learned` reports (no similarity on an empty substrate, the merged id is the
//! attractor that went), the step count, no succession edge from an attractor to itself, and
//! which search `learn` uses (`index.fresh_capacity` 0: the construction search, unbounded;
//! `index.learn_budget` 0: no budget).

use sattva::substrate::{AttractorId, IndexConfig, Substrate, SubstrateConfig};
use sattva::types::Time;

fn secs(s: f64) -> Time {
    Time::from_secs_f64(s)
}

/// Unit vector at `angle` in the (e0, e1) plane of R^dim.
fn planar(dim: usize, angle: f64) -> Vec<f32> {
    let mut v = vec![0f32; dim];
    v[0] = angle.cos() as f32;
    v[1] = angle.sin() as f32;
    v
}

#[test]
fn learned_reports_no_similarity_when_empty_and_steps_count_successful_learns() {
    let mut s = Substrate::new(SubstrateConfig {
        dim: 4,
        ..SubstrateConfig::default()
    })
    .unwrap();
    assert_eq!(s.step(), 0);
    let first = s.learn(secs(0.0), &planar(4, 0.0)).unwrap();
    assert!(first.created);
    assert_eq!(
        first.similarity, -1.0,
        "an empty substrate has nothing to compare with"
    );
    assert_eq!(s.step(), 1);
    // failed learns are no steps
    assert!(s.learn(secs(0.1), &[1.0, 0.0]).is_err());
    assert!(s.learn(secs(0.1), &[f32::NAN, 0.0, 0.0, 0.0]).is_err());
    assert_eq!(s.step(), 1);
    let again = s.learn(secs(0.2), &planar(4, 0.0)).unwrap();
    assert!(!again.created);
    assert!(
        (again.similarity - 1.0).abs() < 1e-6,
        "{}",
        again.similarity
    );
    for i in 0..10 {
        s.learn(secs(1.0 + i as f64), &planar(4, 0.0)).unwrap();
    }
    assert_eq!(s.step(), 12);
}

#[test]
fn relearning_the_same_attractor_makes_no_edge_to_itself_only_to_its_successor() {
    let mut s = Substrate::new(SubstrateConfig {
        dim: 4,
        ..SubstrateConfig::default()
    })
    .unwrap();
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    let a2 = s.learn(secs(0.1), &planar(4, 0.0)).unwrap();
    assert_eq!(a2.id, a);
    assert_eq!(s.edge_weight(a, a), 0.0, "a -> a after a, a");
    // a then b (orthogonal: a new attractor): one succession edge a -> b of `succession_rate`
    let b = s
        .learn(secs(0.2), &planar(4, std::f64::consts::FRAC_PI_2))
        .unwrap();
    assert!(b.created);
    let rate = s.config().succession_rate as f32;
    assert!(
        (s.edge_weight(a, b.id) - rate).abs() < 1e-6,
        "{}",
        s.edge_weight(a, b.id)
    );
    assert_eq!(s.edge_weight(b.id, a), 0.0);
    assert_eq!(s.edge_weight(b.id, b.id), 0.0);
    s.learn(secs(0.3), &planar(4, std::f64::consts::FRAC_PI_2))
        .unwrap();
    assert_eq!(s.edge_weight(b.id, b.id), 0.0, "b -> b after b, b");
}

/// The merge rule of `converging_centers_merge` (substrate_rules.rs), checking what `Learned`
/// says: B, pulled towards A, absorbs more experiences than A, so B survives (`id`) and A goes
/// (`merged`, no longer an attractor).
#[test]
fn the_merged_id_is_the_attractor_that_went() {
    let mut s = Substrate::new(SubstrateConfig {
        dim: 4,
        vigilance: 0.96,
        merge_similarity: 0.98,
        ..SubstrateConfig::default()
    })
    .unwrap();
    let theta = 0.95f64.acos();
    let a = s.learn(secs(0.0), &planar(4, 0.0)).unwrap().id;
    let b = s.learn(secs(0.0), &planar(4, theta)).unwrap().id;
    let mut merge = None;
    for i in 0..20 {
        let r = s.learn(secs(i as f64), &planar(4, 0.55 * theta)).unwrap();
        if r.merged.is_some() {
            merge = Some(r);
            break;
        }
    }
    let r = merge.expect("no merge");
    assert_eq!(r.id, b, "B absorbed the experiences: it survives");
    assert_eq!(r.merged, Some(a), "A went");
    assert!(
        s.attractor(a, secs(100.0)).is_none(),
        "the merged id is free"
    );
    assert!(s.attractor(b, secs(100.0)).is_some());
    assert_eq!(s.ids().collect::<Vec<AttractorId>>(), vec![b]);
}

/// 300 random unit vectors in R^32 (pairwise cosine well below vigilance 0.9: 300 attractors),
/// all linked into the HNSW graph (`exact_threshold` 0: every search walks the graph), then each
/// presented again: `learn` must find each one's own attractor (cosine 1) and strengthen it.
/// Returns (found, attractors at the end, mean graph distance evaluations per re-presentation).
/// The evaluations tell which search ran: one stopped after a single evaluation falls back to
/// an exact scan (fewer than k results) and still finds the vector, so only its cost shows it.
fn represent(index: IndexConfig) -> (usize, usize, f64) {
    let dim = 32;
    let mut s = Substrate::new(SubstrateConfig {
        dim: dim as u64,
        capacity: 10_000,
        index,
        ..SubstrateConfig::default()
    })
    .unwrap();
    let mut seed = 0x5eed_u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64) as f32 * 2.0 - 1.0
    };
    let xs: Vec<Vec<f32>> = (0..300)
        .map(|_| (0..dim).map(|_| rnd()).collect())
        .collect();
    for (i, x) in xs.iter().enumerate() {
        assert!(
            s.learn(secs(i as f64 * 1e-3), x).unwrap().created,
            "vector {i}"
        );
    }
    while s.maintain(64) > 0 {}
    assert_eq!(s.len(), 300);
    let (mut found, mut visits) = (0, 0);
    for (i, x) in xs.iter().enumerate() {
        let r = s.learn(secs(1.0 + i as f64 * 1e-3), x).unwrap();
        visits += s.index().last_visits();
        if !r.created && r.similarity > 0.9999 {
            found += 1;
        }
    }
    (found, s.len(), visits as f64 / xs.len() as f64)
}

#[test]
fn without_deferred_linking_learn_searches_with_ef_construction_and_no_budget() {
    // fresh_capacity 0: the construction search (ef_construction 100, no budget), whatever
    // ef_learn / learn_budget say (here: the least they can be, 1 and 1)
    let (found, len, visits) = represent(IndexConfig {
        exact_threshold: 0,
        fresh_capacity: 0,
        ef_learn: 1,
        learn_budget: 1,
        ..IndexConfig::default()
    });
    eprintln!("fresh_capacity 0: found {found} of 300, {len} attractors, {visits:.1} evaluations per learn");
    assert!(
        found >= 295 && len <= 305,
        "found {found} of 300, {len} attractors"
    );
    // a beam of 100 over a 300-node graph evaluates well over 100 distances (a budget of 1: ~1)
    assert!(visits > 100.0, "{visits} distance evaluations per learn");
}

#[test]
fn a_learn_budget_of_zero_means_no_budget() {
    let run = |learn_budget| {
        represent(IndexConfig {
            exact_threshold: 0,
            learn_budget,
            ..IndexConfig::default()
        })
    };
    let (found, len, unlimited) = run(0);
    let (_, _, one) = run(1);
    eprintln!("learn_budget 0: found {found} of 300, {len} attractors, {unlimited:.1} evaluations per learn; learn_budget 1: {one:.1}");
    assert!(
        found >= 295 && len <= 305,
        "found {found} of 300, {len} attractors"
    );
    // ef_learn 24: dozens of evaluations without a budget, a handful with a budget of 1
    assert!(
        unlimited > 4.0 * one && unlimited > 24.0,
        "learn_budget 0: {unlimited} evaluations per learn, learn_budget 1: {one}"
    );
}
