//! Bad input reaches the user as a non-zero exit and a message naming the file and the key.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn sattva(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run sattva");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes config/sim.yaml with `from` replaced by `to` into `dir`, returns its path.
fn variant(dir: &Path, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("config/sim.yaml")).unwrap();
    assert!(
        text.contains(from),
        "fixture text `{from}` not in config/sim.yaml"
    );
    let abs_model = root().join("sim/arm_table.xml").display().to_string();
    let text = text
        .replace(from, to)
        .replace("../sim/arm_table.xml", &abs_model);
    let p = dir.join("variant.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

fn expect_failure(cfg: &Path, must_contain: &[&str]) {
    let (code, _out, err) = sattva(&["sim", "--duration", "0.1", "-c", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "expected failure, stderr: {err}");
    for m in must_contain {
        assert!(err.contains(m), "stderr lacks `{m}`:\n{err}");
    }
}

#[test]
fn default_config_runs() {
    let (code, out, err) = sattva(&[
        "sim",
        "--duration",
        "0.2",
        "-c",
        root().join("config/sim.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("control cycles   100"), "{out}");
    assert!(out.contains("sha256:"), "{out}");
}

#[test]
fn missing_config_file() {
    let (code, _, err) = sattva(&["sim", "-c", "/nonexistent/dir/sattva.yaml"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/dir/sattva.yaml"), "{err}");
}

#[test]
fn missing_mjcf_names_model_file_and_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(
        d.path(),
        "model: ../sim/arm_table.xml",
        "model: /nonexistent/arm.xml",
    );
    expect_failure(
        &cfg,
        &["/nonexistent/arm.xml", "mujoco.model", "variant.yaml"],
    );
}

#[test]
fn invalid_mjcf_gives_mujoco_parse_error_and_file() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("broken.xml");
    std::fs::write(
        &bad,
        "<mujoco><worldbody><body name='a'><geom type='sphere'/></worldbody>",
    )
    .unwrap();
    let cfg = variant(
        d.path(),
        "model: ../sim/arm_table.xml",
        &format!("model: {}", bad.display()),
    );
    expect_failure(&cfg, &["broken.xml", "cannot load model"]);
}

#[test]
fn sensor_missing_from_model_names_key_and_sensor() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "gyro: ee_gyro", "gyro: ee_gyroscope");
    expect_failure(&cfg, &["variant.yaml", "mujoco.imu.gyro", "ee_gyroscope"]);
}

#[test]
fn actuator_missing_from_model_names_index() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "elbow_servo,", "elbow_motor,");
    expect_failure(&cfg, &["mujoco.joints.actuators[2]", "elbow_motor"]);
}

#[test]
fn bad_value_names_key_and_expected_range() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "period_ns: 2000000", "period_ns: -5");
    expect_failure(
        &cfg,
        &[
            "variant.yaml",
            "sattva.ros__parameters.control.period_ns",
            "expected an integer in",
        ],
    );
}

#[test]
fn wrong_type_names_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "accel_std: 0.05", "accel_std: loud");
    expect_failure(
        &cfg,
        &[
            "sattva.ros__parameters.mujoco.noise.accel_std",
            "invalid type",
        ],
    );
}

#[test]
fn unknown_key_is_rejected_with_alternatives() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(
        d.path(),
        "keyframe: home",
        "keyframe: home\n      keyframes: home",
    );
    expect_failure(
        &cfg,
        &[
            "sattva.ros__parameters.mujoco",
            "unknown field `keyframes`",
            "keyframe",
        ],
    );
}

#[test]
fn period_not_multiple_of_timestep_is_explained() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "period_ns: 2000000", "period_ns: 3000000");
    expect_failure(
        &cfg,
        &["mujoco.substeps", "not a multiple of the model timestep"],
    );
}

#[test]
fn joint_arrays_of_different_length_are_rejected() {
    let d = tempfile::tempdir().unwrap();
    let cfg = variant(d.path(), "wrist_servo]", "]");
    expect_failure(&cfg, &["mujoco.joints.actuators", "expected one per joint"]);
}

#[test]
fn command_line_params_override_the_file() {
    let cfg = root().join("config/sim.yaml");
    let (code, out, err) = sattva(&[
        "config",
        "-c",
        cfg.to_str().unwrap(),
        "-p",
        "sim.duration_s:=3.5",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("duration_s: 3.5"), "{out}");
    let (code, _, err) = sattva(&[
        "config",
        "-c",
        cfg.to_str().unwrap(),
        "-p",
        "control.period_ns:=abc",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("control.period_ns"), "{err}");
}

#[test]
fn every_shipped_config_is_valid() {
    for entry in std::fs::read_dir(root().join("config")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let (code, _, err) = sattva(&["config", "-c", p.to_str().unwrap()]);
            assert_eq!(code, 0, "{}: {err}", p.display());
        }
    }
}

/// Writes a params file with `body` (lines under `ros__parameters:`, 4-space indented) into `dir`.
fn params_file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("sattva:\n  ros__parameters:\n{body}")).unwrap();
    p
}

/// `seed:` of the effective configuration `sattva config` prints.
fn effective_seed(args: &[&str]) -> u64 {
    let mut all = vec!["config"];
    all.extend_from_slice(args);
    let (code, out, err) = sattva(&all);
    assert_eq!(code, 0, "sattva {}: {err}", all.join(" "));
    out.lines()
        .find_map(|l| l.strip_prefix("seed: "))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no seed in {out}"))
}

#[test]
fn config_files_merge_in_command_line_order_with_or_without_ros_args() {
    let d = tempfile::tempdir().unwrap();
    let sim = root().join("config/sim.yaml");
    let sim = sim.to_str().unwrap();
    let a = params_file(d.path(), "a.yaml", "    seed: 11\n");
    let b = params_file(d.path(), "b.yaml", "    seed: 12\n");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    // `-c` then `--params-file` (the hardware/README.md robot command's form)
    assert_eq!(effective_seed(&["-c", sim, "--params-file", a]), 11);
    assert_eq!(
        effective_seed(&["-c", sim, "--params-file", a, "-c", b]),
        12
    );
    // `--params-file` inside `--ros-args` merges after the `-c` before it ...
    assert_eq!(
        effective_seed(&["-c", sim, "--ros-args", "--params-file", a]),
        11
    );
    // ... and before a file after the section
    assert_eq!(
        effective_seed(&[
            "-c",
            sim,
            "--ros-args",
            "--params-file",
            a,
            "--",
            "--params-file",
            b
        ]),
        12
    );
    assert_eq!(
        effective_seed(&["--ros-args", "--params-file", sim, "--params-file", b]),
        12
    );
    // overrides apply after every file, in order, wherever they stand
    assert_eq!(
        effective_seed(&["-p", "seed=5", "-c", sim, "--params-file", a]),
        5
    );
    assert_eq!(
        effective_seed(&[
            "-c",
            sim,
            "-p",
            "seed=5",
            "--ros-args",
            "-p",
            "seed:=6",
            "--params-file",
            a
        ]),
        6
    );
    // the banner names every file
    let (_, out, _) = sattva(&["config", "-c", sim, "--params-file", a]);
    assert!(out.starts_with(&format!("{sim} + {a}: OK")), "{out}");
}

#[test]
fn an_error_in_a_later_file_names_that_file_and_the_full_key() {
    let d = tempfile::tempdir().unwrap();
    let sim = root().join("config/sim.yaml");
    let bad = params_file(
        d.path(),
        "profile.yaml",
        "    robot:\n      joint_names: [a, b]\n      velocity_max: [1.0]\n",
    );
    let (code, _, err) = sattva(&[
        "config",
        "-c",
        sim.to_str().unwrap(),
        "--params-file",
        bad.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "{}: key `sattva.ros__parameters.robot.velocity_max`",
            bad.display()
        )),
        "{err}"
    );
    // a profile alone is not a deployment: the missing key is named with the file
    let (code, _, err) = sattva(&["config", "-c", bad.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("profile.yaml") && err.contains("missing field `backend`"),
        "{err}"
    );
}
