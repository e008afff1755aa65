//! `replay:` and `record:` config sections: defaults, topic mapping, errors naming the key.

use std::path::Path;

use sattva::config::Config;
use sattva::replay::Input;

fn load(text: &str) -> Result<Config, String> {
    Config::from_yaml_str(text, Path::new("test.yaml"), &[]).map_err(|e| e.to_string())
}

#[test]
fn defaults_and_mapping() {
    let c = load("sattva:\n  ros__parameters:\n    backend: replay\n").unwrap();
    assert_eq!(c.replay.input_for("/imu/data"), Some(Input::Imu));
    assert_eq!(
        c.replay.input_for("/joint_states"),
        Some(Input::JointStates)
    );
    assert_eq!(c.replay.input_for("/unrelated"), None);
    assert_eq!(
        c.replay.input_for(""),
        None,
        "empty = unmapped, never matches"
    );
    assert!(!c.record.enabled);

    let c = load(
        "sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      imu_topic: /go2/imu\n      joint_states_topic: /go2/joint_states\n      rate: 2.0\n",
    )
    .unwrap();
    assert_eq!(c.replay.input_for("/go2/imu"), Some(Input::Imu));
    assert_eq!(c.replay.input_for("/imu/data"), None);
    assert_eq!(c.replay.rate, 2.0);
}

#[test]
fn errors_name_the_key() {
    let e = load(
        "sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      imu_topik: /x\n",
    )
    .unwrap_err();
    assert!(
        e.contains("sattva.ros__parameters.replay") && e.contains("imu_topik"),
        "{e}"
    );
    let e = load(
        "sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      imu_topic: /same\n      tf_topic: /same\n",
    )
    .unwrap_err();
    assert!(
        e.contains("sattva.ros__parameters.replay.tf_topic") && e.contains("imu_topic"),
        "{e}"
    );
    let e =
        load("sattva:\n  ros__parameters:\n    backend: replay\n    replay:\n      rate: -1.0\n")
            .unwrap_err();
    assert!(e.contains("sattva.ros__parameters.replay.rate"), "{e}");
    let e = load(
        "sattva:\n  ros__parameters:\n    backend: replay\n    record:\n      queue_capacity: 1\n",
    )
    .unwrap_err();
    assert!(
        e.contains("sattva.ros__parameters.record.queue_capacity"),
        "{e}"
    );
}

#[test]
fn shipped_configs_still_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(root.join("config")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            Config::load(&p, &[]).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}
