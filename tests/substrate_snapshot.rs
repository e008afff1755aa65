//! Snapshots: round trip, corruption, lineage, background writing, and a writer killed mid-write.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sattva::substrate::snapshot::{tmp_path, SnapshotError, SnapshotWriter};
use sattva::substrate::{Substrate, SubstrateConfig};
use sattva::types::Time;

fn stream(dim: usize, n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            (0..dim)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                })
                .collect()
        })
        .collect()
}

fn trained(n: usize) -> (Substrate, Vec<Vec<f32>>) {
    let cfg = SubstrateConfig {
        dim: 16,
        vigilance: 0.8,
        capacity: 5000,
        index: sattva::substrate::IndexConfig {
            exact_threshold: 64, // exercise the graph too
            ..Default::default()
        },
        ..SubstrateConfig::default()
    };
    let mut s = Substrate::new(cfg).unwrap();
    let xs = stream(16, n, 42);
    for (i, x) in xs.iter().enumerate() {
        s.learn(Time(i as i64 * 1_000_000), x).unwrap();
        if i % 7 == 0 {
            s.activate(Time(i as i64 * 1_000_000), x).unwrap();
        }
    }
    let first = s.ids().next().unwrap();
    s.add_label(first, "cup");
    (s, xs)
}

#[test]
fn round_trip_preserves_state_and_future_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.snap");
    let (mut a, _) = trained(2000);
    let info = a.save(&p).unwrap();
    assert_eq!(info.step, 2000);
    assert_eq!(info.parent, [0; 32]);
    assert_eq!(info.config_hash, a.config().hash());
    let (mut b, linfo) = Substrate::load(&p).unwrap();
    assert_eq!(linfo, info);
    assert_eq!(b.len(), a.len());
    assert_eq!(b.step(), a.step());
    assert_eq!(b.counters(), a.counters());
    let t = Time(5_000_000_000);
    for id in a.ids() {
        assert_eq!(a.attractor(id, t), b.attractor(id, t), "attractor {id:?}");
    }
    assert_eq!(
        b.attractor(a.ids().next().unwrap(), t).unwrap().labels,
        ["cup"]
    );
    // Same future: both learn the same new stream and must agree step by step.
    for (i, x) in stream(16, 500, 7).iter().enumerate() {
        let t = Time(3_000_000_000 + i as i64 * 1_000_000);
        assert_eq!(a.learn(t, x).unwrap(), b.learn(t, x).unwrap(), "step {i}");
    }
    a.reset_context();
    b.reset_context();
    let q = &stream(16, 1, 9)[0];
    assert_eq!(
        a.activate(Time(9_000_000_000), q).unwrap(),
        b.activate(Time(9_000_000_000), q).unwrap()
    );
    // Lineage: the next snapshot names the loaded one as parent.
    let p2 = dir.path().join("s2.snap");
    let info2 = b.save(&p2).unwrap();
    assert_eq!(info2.parent, info.hash);
    assert_ne!(info2.hash, info.hash);
}

#[test]
fn corrupt_or_truncated_snapshots_are_clear_errors_and_the_previous_one_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, xs) = trained(500);
    let p1 = dir.path().join("gen1.snap");
    let i1 = s.save(&p1).unwrap();
    for (i, x) in xs.iter().enumerate() {
        s.learn(Time(1_000_000_000_000 + i as i64), x).unwrap();
    }
    let p2 = dir.path().join("gen2.snap");
    let i2 = s.save(&p2).unwrap();
    assert_eq!(i2.parent, i1.hash);
    let good = std::fs::read(&p2).unwrap();

    // One flipped bit in the middle.
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x10;
    std::fs::write(&p2, &bad).unwrap();
    let e = Substrate::load(&p2).err().expect("corrupt must fail");
    assert!(matches!(e, SnapshotError::Checksum { .. }), "{e}");
    assert!(
        e.to_string().contains("gen2.snap") && e.to_string().contains("corrupt"),
        "{e}"
    );

    // Truncated at several points (including inside the header).
    for cut in [3, 15, 40, good.len() / 3, good.len() - 1] {
        std::fs::write(&p2, &good[..cut]).unwrap();
        let e = Substrate::load(&p2).err().expect("truncated must fail");
        assert!(
            matches!(
                e,
                SnapshotError::Checksum { .. } | SnapshotError::Magic { .. }
            ),
            "cut {cut}: {e}"
        );
    }
    // Another format version (a future one).
    let mut v3 = good.clone();
    v3[8] = 3;
    std::fs::write(&p2, &v3).unwrap();
    let e = Substrate::load(&p2).err().unwrap();
    assert!(matches!(e, SnapshotError::Version { found: 3, .. }), "{e}");
    // Not a snapshot; missing file.
    std::fs::write(&p2, b"hello").unwrap();
    assert!(matches!(
        Substrate::load(&p2),
        Err(SnapshotError::Magic { .. })
    ));
    assert!(matches!(
        Substrate::load(&dir.path().join("missing.snap")),
        Err(SnapshotError::Io { .. })
    ));

    // The previous generation still loads and is the parent of the broken one.
    let (old, info) = Substrate::load(&p1).unwrap();
    assert_eq!(info.hash, i1.hash);
    assert_eq!(old.step(), 500);
}

#[test]
fn a_stale_partial_temp_file_does_not_affect_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.snap");
    let (mut s, _) = trained(300);
    let i1 = s.save(&p).unwrap();
    // What a writer killed mid-write leaves behind.
    let full = std::fs::read(&p).unwrap();
    std::fs::write(tmp_path(&p), &full[..full.len() / 2]).unwrap();
    let (_, info) = Substrate::load(&p).unwrap();
    assert_eq!(info.hash, i1.hash);
    // The next write replaces the stale temp file.
    let i2 = s.save(&p).unwrap();
    assert!(!tmp_path(&p).exists());
    assert_eq!(Substrate::load(&p).unwrap().1.hash, i2.hash);
}

#[test]
fn background_writer_snapshots_the_state_at_hand_off_while_learning_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, xs) = trained(1500);
    let view = s.snapshot_view();
    // Reference: the same state written synchronously (parent zeros in both).
    let reference = view.write(&dir.path().join("ref.snap")).unwrap();
    let p = dir.path().join("bg.snap");
    let w = SnapshotWriter::spawn(p.clone(), [0; 32]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut v = Some(view);
    while let Some(view) = v.take() {
        if !w.submit(view.clone()) {
            assert!(Instant::now() < deadline, "writer never accepted the view");
            std::thread::sleep(Duration::from_millis(1));
            v = Some(view);
        }
    }
    // Learning goes on, mutating chunks the writer is reading.
    for (i, x) in xs.iter().enumerate() {
        s.learn(Time(7_000_000_000_000 + i as i64), x).unwrap();
    }
    let done = w.finish();
    let info = done.into_iter().next().expect("one result").unwrap();
    assert_eq!(
        info.hash, reference.hash,
        "copy-on-write view was not isolated"
    );
    assert_eq!(info.step, 1500);
    assert_eq!(s.step(), 3000);
}

/// Child side of the kill test: writes snapshots of a growing substrate in a loop until killed.
#[test]
fn child_snapshot_writer_loop() {
    let Ok(path) = std::env::var("SATTVA_SNAPSHOT_CHILD") else {
        return; // only runs as the child of the kill test
    };
    let cfg = SubstrateConfig {
        dim: 32,
        vigilance: 0.99,
        capacity: 1_000_000,
        ..SubstrateConfig::default()
    };
    let mut s = Substrate::new(cfg).unwrap();
    let xs = stream(32, 1000, 5);
    for (i, x) in xs.iter().enumerate() {
        s.learn(Time(i as i64), x).unwrap();
    }
    let p = Path::new(&path);
    for round in 0u64.. {
        for x in xs.iter().take(50) {
            s.learn(Time(1_000_000 + round as i64), x).unwrap();
        }
        s.save(p).unwrap();
    }
}

#[test]
fn killing_the_writer_mid_write_leaves_a_loadable_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("killed.snap");
    let exe = std::env::current_exe().unwrap();
    for (round, wait_ms) in [3u64, 17, 41].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_snapshot_writer_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SATTVA_SNAPSHOT_CHILD", &p)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the first complete snapshot (or a later one in the next rounds), then for a
        // write in progress (the temp file exists), then kill -9 at an arbitrary moment.
        let deadline = Instant::now() + Duration::from_secs(60);
        let before = std::fs::metadata(&p).ok().and_then(|m| m.modified().ok());
        loop {
            let now = std::fs::metadata(&p).ok().and_then(|m| m.modified().ok());
            if now.is_some() && now != before && tmp_path(&p).exists() {
                break;
            }
            assert!(Instant::now() < deadline, "child never wrote a snapshot");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let (s, info) = Substrate::load(&p)
            .unwrap_or_else(|e| panic!("round {round}: snapshot unusable after kill: {e}"));
        assert_eq!(s.len(), 1000);
        assert!(info.step >= 1050);
    }
}
