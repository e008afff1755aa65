//! The `fusion:` and `encode:` config sections: defaults, overrides, and errors naming the key.

use std::path::Path;

use sattva::config::Config;

fn load(overrides: &[&str]) -> Result<Config, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ov: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    Config::load(&root.join("config/sim.yaml"), &ov).map_err(|e| e.to_string())
}

#[test]
fn defaults_and_overrides() {
    let c = load(&[]).expect("defaults");
    assert_eq!(c.encode.dim, 256);
    assert_eq!(c.fusion.imu.tau_acc, 3.0);
    let c = load(&[
        "fusion.imu.tau_acc=1.5",
        "encode.dim=512",
        "encode.weights.depth=0",
    ])
    .expect("overrides");
    assert_eq!(c.fusion.imu.tau_acc, 1.5);
    assert_eq!(c.encode.dim, 512);
    assert_eq!(c.encode.weights.depth, 0.0);
}

#[test]
fn bad_values_name_the_key() {
    let e = load(&["fusion.imu.tau_acc=-1"]).expect_err("negative tau");
    assert!(e.contains("fusion.imu.tau_acc"), "{e}");
    let e = load(&["fusion.imu.tau_accel=1"]).expect_err("unknown key");
    assert!(e.contains("tau_accel"), "{e}");
    let e = load(&["encode.dim=4096"]).expect_err("too large");
    assert!(e.contains("encode.dim"), "{e}");
    let e = load(&["fusion.depth.rows=20", "fusion.depth.cols=20"]).expect_err("too many cells");
    assert!(e.contains("fusion.depth.cols"), "{e}");
    let e = load(&["fusion.contacts.off_force_n=1.0"]).expect_err("no hysteresis");
    assert!(e.contains("fusion.contacts.off_force_n"), "{e}");
}
