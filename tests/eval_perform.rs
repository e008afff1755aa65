//! `sattva eval perform` on MuJoCo with a small curriculum: every learned attractor with enough
//! experiences is performed from novel start poses and object positions, each performance is
//! recognised (one journal row per trial), most as the requested attractor, and the HTML
//! section is written.
#![cfg(feature = "mujoco")]

use std::path::Path;

use sattva::config::Config;
use sattva::eval::perform::{html_section, run_perform, PerformOptions};

#[test]
fn learned_attractors_are_performed_and_recognised_as_themselves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o: Vec<String> = vec!["eval.primitive_s=1.0".into(), "eval.settle_s=0.1".into()];
    let c = Config::load(&root.join("config/sim.yaml"), &o).expect("config/sim.yaml");
    let dir = tempfile::tempdir().unwrap();
    let r = run_perform(
        &c,
        &PerformOptions {
            train: Some(52),
            calibration: Some(12),
            trials: 2,
            min_count: 2,
            out_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        },
    )
    .unwrap();
    println!("{r}");
    assert!(
        r.performed.len() >= 4,
        "{} attractors performed",
        r.performed.len()
    );
    assert_eq!(r.missing, 0, "every performance became an experience");
    assert_eq!(r.rows.len(), 2 * r.performed.len());
    // each attractor twice, from two different novel start poses
    for (id, label, _) in &r.performed {
        let mine: Vec<_> = r.rows.iter().filter(|x| x.attractor == *id).collect();
        assert_eq!(mine.len(), 2);
        assert!(mine.iter().all(|x| x.label == *label));
        assert!(mine.iter().all(|x| [0.25, 0.75, 1.25].contains(&x.start)));
    }
    let ok = r.rows.iter().filter(|x| x.success()).count();
    assert!((r.overall - ok as f64 / r.rows.len() as f64).abs() < 1e-12);
    assert!(r.overall >= 0.8, "{:.3} recognised as requested", r.overall);
    assert!(r.same_label >= r.overall - 1e-12);
    let html = std::fs::read_to_string(dir.path().join("perform.html")).unwrap();
    assert!(html.contains("<svg") && html.contains(&html_section(&r)));
}
