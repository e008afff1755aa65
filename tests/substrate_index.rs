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
