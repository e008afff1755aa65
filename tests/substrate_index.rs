//! The similarity index against exact search, through inserts, moves and removals.

use sattva::substrate::{Index, IndexConfig};

fn rnd_unit(state: &mut u64, dim: usize, center: Option<&[f32]>) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|i| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let r = (*state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            center.map_or(r, |c| c[i] + 0.35 * r)
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn exact(vs: &[Option<Vec<f32>>], q: &[f32], k: usize) -> Vec<u32> {
    let mut s: Vec<(f32, u32)> = vs
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            v.as_ref()
                .map(|v| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i as u32))
        })
        .collect();
    s.sort_by(|a, b| b.0.total_cmp(&a.0));
    s.into_iter().take(k).map(|x| x.1).collect()
}

fn recall(ix: &mut Index, vs: &[Option<Vec<f32>>], qs: &[Vec<f32>]) -> f64 {
    let mut out = Vec::new();
    let mut found = 0;
    for q in qs {
        ix.search(q, 10, &mut out);
        let want = exact(vs, q, 10);
        for (slot, _) in &out {
            assert!(vs[*slot as usize].is_some(), "removed slot {slot} returned");
        }
        found += out.iter().filter(|h| want.contains(&h.0)).count();
    }
    found as f64 / (10 * qs.len()) as f64
}

#[test]
fn hnsw_agrees_with_exact_through_inserts_moves_and_removals() {
    let dim = 16;
    let cfg = IndexConfig {
        m: 8,
        ef_construction: 64,
        ef_search: 64,
        exact_threshold: 0, // always the graph
        ..IndexConfig::default()
    };
    let mut ix = Index::new(dim, &cfg, 3);
    let mut st = 0x1234_5678_9abc_def1u64;
    let centers: Vec<Vec<f32>> = (0..20).map(|_| rnd_unit(&mut st, dim, None)).collect();
    let mut vs: Vec<Option<Vec<f32>>> = Vec::new();
    for i in 0..4000 {
        let v = rnd_unit(&mut st, dim, Some(&centers[i % 20]));
        ix.insert(i as u32, &v);
        vs.push(Some(v));
    }
    let qs: Vec<Vec<f32>> = (0..100)
        .map(|i| rnd_unit(&mut st, dim, Some(&centers[i % 20])))
        .collect();
    let r0 = recall(&mut ix, &vs, &qs);
    assert!(r0 >= 0.95, "recall after inserts {r0}");

    // Remove a quarter, move a quarter (some far), reuse removed slots for new vectors.
    for i in (0..4000).step_by(4) {
        ix.remove(i as u32);
        vs[i] = None;
    }
    for i in (1..4000).step_by(4) {
        let c = if i % 8 == 1 {
            &centers[(i + 7) % 20]
        } else {
            &centers[i % 20]
        };
        let v = rnd_unit(&mut st, dim, Some(c));
        ix.update(i as u32, &v);
        vs[i] = Some(v);
    }
    assert_eq!(ix.len(), 3000);
    let r1 = recall(&mut ix, &vs, &qs);
    assert!(r1 >= 0.95, "recall after removals and moves {r1}");
    for i in (0..2000).step_by(4) {
        let v = rnd_unit(&mut st, dim, Some(&centers[i % 20]));
        ix.insert(i as u32, &v);
        vs[i] = Some(v);
    }
    let r2 = recall(&mut ix, &vs, &qs);
    assert!(r2 >= 0.95, "recall after slot reuse {r2}");
    assert_eq!(ix.len(), 3500);

    // Below the threshold the same index answers exactly.
    let mut out = Vec::new();
    let mut ex = Vec::new();
    for q in &qs {
        ix.search_exact(q, 10, &mut ex);
        let want = exact(&vs, q, 10);
        assert_eq!(ex.iter().map(|h| h.0).collect::<Vec<_>>(), want);
        ix.search(q, 10, &mut out);
    }
}

#[test]
fn removing_everything_and_the_entry_point_is_safe() {
    let cfg = IndexConfig {
        exact_threshold: 0,
        ..IndexConfig::default()
    };
    let mut ix = Index::new(4, &cfg, 1);
    let mut st = 99u64;
    for i in 0..300u32 {
        ix.insert(i, &rnd_unit(&mut st, 4, None));
    }
    let mut out = Vec::new();
    for i in 0..300u32 {
        ix.remove(i);
        ix.search(&[1.0, 0.0, 0.0, 0.0], 5, &mut out);
        assert!(out.iter().all(|h| h.0 > i), "removed slot returned");
        assert_eq!(out.len(), 5.min(299 - i as usize));
    }
    assert!(ix.is_empty());
    ix.insert(7, &[0.0, 1.0, 0.0, 0.0]);
    ix.search(&[0.0, 1.0, 0.0, 0.0], 3, &mut out);
    assert_eq!(out, vec![(7, 1.0)]);
}

#[test]
fn deferred_inserts_are_found_before_and_after_linking() {
    let dim = 16;
    let cfg = IndexConfig {
        m: 8,
        ef_construction: 64,
        ef_search: 64,
        exact_threshold: 0, // always the graph (plus the pending buffer)
        fresh_capacity: 50,
        ..IndexConfig::default()
    };
    let mut ix = Index::new(dim, &cfg, 5);
    let mut st = 0x0bad_cafe_1234_5678u64;
    let centers: Vec<Vec<f32>> = (0..20).map(|_| rnd_unit(&mut st, dim, None)).collect();
    let mut vs: Vec<Option<Vec<f32>>> = Vec::new();
    let qs: Vec<Vec<f32>> = (0..100)
        .map(|i| rnd_unit(&mut st, dim, Some(&centers[i % 20])))
        .collect();
    let mut out = Vec::new();
    for i in 0..3000 {
        let v = rnd_unit(&mut st, dim, Some(&centers[i % 20]));
        ix.insert_deferred(i as u32, &v);
        vs.push(Some(v.clone()));
        // A stored but unlinked vector is its own nearest neighbour at once.
        ix.search(&v, 1, &mut out);
        assert_eq!(out[0].0, i as u32, "fresh vector {i} not found");
        assert!(ix.pending_work() <= 50, "buffer bound exceeded");
        if i % 3 == 0 {
            ix.link_pending(1); // the learning task links less often than it inserts
        }
    }
    assert!(ix.pending_work() > 0);
    let r0 = recall(&mut ix, &vs, &qs);
    assert!(r0 >= 0.95, "recall with a full pending buffer {r0}");
    // Removing and moving pending vectors.
    let pending: Vec<u32> = (2950..3000).collect();
    for &p in pending.iter().step_by(2) {
        ix.remove(p);
        vs[p as usize] = None;
    }
    for &p in pending.iter().skip(1).step_by(2) {
        let v = rnd_unit(&mut st, dim, Some(&centers[(p as usize + 3) % 20]));
        ix.update(p, &v);
        vs[p as usize] = Some(v);
    }
    assert_eq!(ix.len(), 2975);
    let r1 = recall(&mut ix, &vs, &qs);
    assert!(
        r1 >= 0.95,
        "recall after removing/moving pending vectors {r1}"
    );
    let n = ix.link_pending(usize::MAX);
    assert!(n > 0);
    assert_eq!(ix.pending_work(), 0);
    assert_eq!(ix.link_pending(5), 0);
    let r2 = recall(&mut ix, &vs, &qs);
    assert!(r2 >= 0.95, "recall after linking everything {r2}");
    for (i, v) in vs.iter().enumerate() {
        if let Some(v) = v {
            ix.search(v, 1, &mut out);
            assert_eq!(out[0].0, i as u32, "linked vector {i} not found");
        }
    }
}

#[test]
fn removing_every_linked_node_promotes_a_pending_one() {
    let cfg = IndexConfig {
        exact_threshold: 0,
        fresh_capacity: 10,
        ..IndexConfig::default()
    };
    let mut ix = Index::new(4, &cfg, 1);
    let mut st = 42u64;
    let vs: Vec<Vec<f32>> = (0..8).map(|_| rnd_unit(&mut st, 4, None)).collect();
    for (i, v) in vs.iter().enumerate() {
        ix.insert_deferred(i as u32, v); // the first is linked (empty graph), the rest wait
    }
    assert_eq!(ix.pending_work(), 7);
    ix.remove(0);
    let mut out = Vec::new();
    for (i, v) in vs.iter().enumerate().skip(1) {
        ix.search(v, 7, &mut out);
        assert_eq!(out.len(), 7);
        assert_eq!(out[0].0, i as u32);
    }
}
