//! `sattva sim` on the curriculum: deterministic, learns, snapshots, resumes from the snapshot.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::config::Config;
use sattva::sim::{run_sim, SimOptions};

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o: Vec<String> = [
        "eval.primitive_s=1.0",
        "eval.settle_s=0.1",
        "eval.calibration_episodes=12",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Config::load(&root.join("config/sim.yaml"), &o).expect("config/sim.yaml")
}

#[test]
fn sim_learns_snapshots_and_resumes() {
    let c = config();
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("a.snap").display().to_string();
    let opts = SimOptions {
        episodes: Some(52),
        snapshot: Some(snap.clone()),
        ..Default::default()
    };
    let a = run_sim(&c, &opts).unwrap();
    let k = a
        .curriculum
        .clone()
        .expect("the arm scene runs the curriculum");
    assert_eq!(k.episodes, 52);
    assert_eq!(k.calibration_episodes, 12);
    assert!(k.attractors >= 10, "{} attractors", k.attractors);
    // merging can fold converging attractors together: alive <= formed
    assert!(k.formed as usize >= k.attractors, "{k:?}");
    // after the first round every primitive is known: most are recognised before learning
    assert!(k.judged >= 8, "{k:?}");
    assert!(k.recognised * 10 >= k.judged * 6, "{k:?}");
    assert!(Path::new(&snap).is_file());

    // deterministic
    let b = run_sim(
        &c,
        &SimOptions {
            episodes: Some(52),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.stats, b.stats);
    let kb = b.curriculum.unwrap();
    assert_eq!(
        (k.attractors, k.recognised, k.judged),
        (kb.attractors, kb.recognised, kb.judged)
    );

    // resume: the snapshot's attractors and labels carry over; new scenarios are recognised
    let r = run_sim(
        &c,
        &SimOptions {
            episodes: Some(12),
            resume: Some(snap.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    let kr = r.curriculum.unwrap();
    assert_eq!(kr.resumed_from.as_deref(), Some(snap.as_str()));
    assert!(kr.attractors >= k.attractors);
    assert_eq!(
        kr.judged, 12,
        "every primitive is known from the snapshot: {kr:?}"
    );
    // (recognition quality is measured by the literacy tests; here: the snapshot carries it)
    assert!(kr.recognised * 2 >= kr.judged, "{kr:?}");
    assert_ne!(
        r.fingerprint, a.fingerprint,
        "a resumed run continues with new scenarios"
    );
}
