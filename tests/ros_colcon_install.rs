//! The colcon workspace's install: `sattva` resolved through the ament index like `ros2 run` and
//! `ros2 launch` resolve it, and the installed executable runs with the installed config and scene.
#![cfg(feature = "ros2")]

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn installed_package_resolves_and_runs() {
    let install = root().join("ros2_ws/install");
    assert!(
        install.join("sattva/lib/sattva/sattva").is_file(),
        "ros2_ws not built: run scripts/colcon_build.sh (scripts/test.sh does)"
    );
    let base = std::env::var("AMENT_PREFIX_PATH").unwrap_or_default();
    let prefix = format!(
        "{}:{}:{base}",
        install.join("sattva").display(),
        install.join("sattva_msgs").display()
    );
    let py = std::env::var("SATTVA_PYTHON").expect("SATTVA_PYTHON (set by setup)");
    let out = Command::new(py)
        .arg(root().join("tests/ros/ament_layout.py"))
        .env("AMENT_PREFIX_PATH", &prefix)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let share = PathBuf::from(v["share"].as_str().unwrap());
    assert!(share.ends_with("share/sattva"), "{}", share.display());
    let list = |k: &str| -> Vec<String> {
        v[k].as_sequence()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(list("executables"), vec!["sattva".to_string()]);
    for l in ["sim.launch.py", "robot.launch.py", "replay.launch.py"] {
        assert!(
            list("launch").contains(&l.to_string()),
            "share/sattva/launch lacks {l}"
        );
    }
    assert!(list("config").contains(&"sim.yaml".to_string()));
    assert!(v["msgs_share"]
        .as_str()
        .unwrap()
        .ends_with("share/sattva_msgs"));

    // the installed executable runs the installed config, whose relative model path resolves
    // inside share/sattva (config/../sim/arm_table.xml)
    let exe = PathBuf::from(v["prefix"].as_str().unwrap()).join("lib/sattva/sattva");
    let out = Command::new(&exe)
        .args(["sim", "--duration", "0.2", "-c"])
        .arg(share.join("config/sim.yaml"))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("control cycles   100"), "{stdout}");
    assert!(
        stdout.contains(
            &share
                .join("config/../sim/arm_table.xml")
                .display()
                .to_string()
        ),
        "{stdout}"
    );
}
