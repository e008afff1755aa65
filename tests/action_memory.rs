//! Action memory per attractor: averaged like the center as experiences join, saved in
//! snapshots (format version 2), and version-1 snapshots still load (with no action memories).

use sattva::substrate::{ActionMemory, AttractorId, Substrate, SubstrateConfig};
use sattva::types::Time;
use sha2::Digest;

fn cfg() -> SubstrateConfig {
    SubstrateConfig {
        dim: 4,
        vigilance: 0.9,
        min_rate: 0.0,
        ..SubstrateConfig::default()
    }
}

fn act(profile: &[f32], duration_s: f32) -> ActionMemory {
    ActionMemory::new(2, 2, duration_s, profile).unwrap()
}

#[test]
fn action_memory_is_averaged_like_the_center_and_round_trips_through_a_snapshot() {
    let mut s = Substrate::new(cfg()).unwrap();
    let x = [1.0, 0.0, 0.0, 0.0];
    let y = [0.0, 1.0, 0.0, 0.0];
    // three experiences of one attractor: rates 1, 1/2, 1/3 -> the plain mean
    let a = s
        .learn_acting(Time(1), &x, Some(&act(&[0.0, 0.0, 1.0, 2.0], 1.0)))
        .unwrap();
    assert!(a.created);
    s.learn_acting(Time(2), &x, Some(&act(&[0.0, 0.0, 2.0, 4.0], 2.0)))
        .unwrap();
    s.learn_acting(Time(3), &x, Some(&act(&[0.0, 3.0, 3.0, 6.0], 3.0)))
        .unwrap();
    // an experience without a command profile leaves the memory as it is
    s.learn(Time(4), &x).unwrap();
    let b = s
        .learn_acting(Time(5), &y, Some(&act(&[-1.0, 0.0, -1.0, 0.0], 0.5)))
        .unwrap();
    assert!(b.created && b.id != a.id);
    // an attractor learned without any profile has no memory
    let c = s.learn(Time(6), &[0.0, 0.0, 1.0, 0.0]).unwrap();
    assert!(s.action(c.id).is_none());

    let m = s.action(a.id).unwrap();
    assert_eq!((m.bins, m.joints), (2, 2));
    assert_eq!(m.profile, vec![0.0, 1.0, 2.0, 4.0]);
    assert!((m.duration_s - 2.0).abs() < 1e-6);

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.snap");
    s.save(&p).unwrap();
    let (l, _) = Substrate::load(&p).unwrap();
    for id in [a.id, b.id, c.id] {
        assert_eq!(l.action(id), s.action(id), "attractor {id:?}");
    }
    assert_eq!(l.action(b.id).unwrap().profile, vec![-1.0, 0.0, -1.0, 0.0]);
    // the loaded substrate keeps averaging: (1 + 2 + 3 + 2) / 4 ... with the count of 4
    // experiences absorbed (the one without a profile counts for the center's rate)
    let mut l = l;
    l.learn_acting(Time(7), &x, Some(&act(&[0.0, 1.0, 2.0, 4.0], 7.0)))
        .unwrap();
    let m = l.action(a.id).unwrap();
    assert_eq!(m.profile, vec![0.0, 1.0, 2.0, 4.0]);
    assert!((m.duration_s - (2.0 + (7.0 - 2.0) / 5.0)).abs() < 1e-6);
    // an id that is not live has no memory
    assert!(l.action(AttractorId(999)).is_none());
}

#[test]
fn merged_attractors_weigh_their_memories_by_count() {
    // merge everything that comes within 0.95 of another attractor
    let mut s = Substrate::new(SubstrateConfig {
        vigilance: 0.99,
        merge_similarity: 0.9,
        ..cfg()
    })
    .unwrap();
    let x = [1.0, 0.0, 0.0, 0.0];
    let x2 = [1.0, 0.2, 0.0, 0.0]; // cos = 0.98: a second attractor
    let a = s
        .learn_acting(Time(1), &x, Some(&act(&[0.0, 0.0, 0.0, 0.0], 1.0)))
        .unwrap();
    s.learn_acting(Time(2), &x, Some(&act(&[0.0, 0.0, 0.0, 0.0], 1.0)))
        .unwrap();
    s.learn_acting(Time(3), &x, Some(&act(&[0.0, 0.0, 0.0, 0.0], 1.0)))
        .unwrap();
    let b = s
        .learn_acting(Time(4), &x2, Some(&act(&[4.0, 4.0, 4.0, 4.0], 5.0)))
        .unwrap();
    assert!(b.created, "{b:?}");
    // strengthening b toward x (cos 0.98 >= 0.99? no): learn x2 again -> strengthens b and
    // finds a within merge_similarity: merged, weights 3 (a) and 2 (b)
    let m = s
        .learn_acting(Time(5), &x2, Some(&act(&[4.0, 4.0, 4.0, 4.0], 5.0)))
        .unwrap();
    assert_eq!(m.merged.map(|g| g != m.id), Some(true), "{m:?}");
    assert_eq!(m.id, a.id);
    let mem = s.action(m.id).unwrap();
    for v in &mem.profile {
        assert!((v - 4.0 * 2.0 / 5.0).abs() < 1e-6, "{mem:?}");
    }
    assert!((mem.duration_s - (3.0 + 2.0 * 5.0) / 5.0).abs() < 1e-6);
    assert!(s.action(b.id).is_none());
}

#[test]
fn version_1_snapshots_load_with_empty_action_memories() {
    let mut s = Substrate::new(cfg()).unwrap();
    s.learn(Time(1), &[1.0, 0.0, 0.0, 0.0]).unwrap();
    s.add_label(AttractorId(0), "lift");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v2.snap");
    s.save(&p).unwrap();
    let v2 = std::fs::read(&p).unwrap();
    // version 1 = version 2 without the trailing action section (here: its count, 0)
    let body = &v2[..v2.len() - 32];
    assert_eq!(&body[body.len() - 4..], &[0, 0, 0, 0]);
    let mut v1 = body[..body.len() - 4].to_vec();
    v1[8] = 1;
    let hash: [u8; 32] = sha2::Sha256::digest(&v1).into();
    v1.extend_from_slice(&hash);
    let p1 = dir.path().join("v1.snap");
    std::fs::write(&p1, &v1).unwrap();
    let (l, _) = Substrate::load(&p1).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(
        l.attractor(AttractorId(0), Time(1)).unwrap().labels,
        ["lift"]
    );
    assert!(l.action(AttractorId(0)).is_none());
}
