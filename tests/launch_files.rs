//! Static validation of `launch/*.launch.py`: they parse, every referenced executable and params
//! file exists, and every parameter name they set exists in the config schema.

use std::path::PathBuf;
use std::process::Command;

use sattva::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> Command {
    // any Python 3 parses launch files; prefer the setup's venv
    let py = std::env::var("SATTVA_PYTHON").unwrap_or_else(|_| "python3".into());
    Command::new(py)
}

/// The executables the colcon package installs: the crate's binaries.
fn binaries() -> Vec<String> {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    toml.split("[[bin]]")
        .skip(1)
        .filter_map(|sec| {
            sec.lines()
                .find(|l| l.trim_start().starts_with("name"))
                .and_then(|l| l.split('"').nth(1))
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn launch_files_reference_existing_executables_files_and_parameters() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("launch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".launch.py"))
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["sim.launch.py", "robot.launch.py", "replay.launch.py"] {
        assert!(names.contains(&want.to_string()), "launch/{want} missing");
    }
    let out = python()
        .arg(root().join("tests/ros/launch_check.py"))
        .args(&files)
        .output()
        .expect("run python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "launch files do not parse:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_norway::Value = serde_norway::from_str(&text).expect("json");
    let bins = binaries();
    let package_xml =
        std::fs::read_to_string(root().join("ros2_ws/src/sattva/package.xml")).unwrap();
    for f in &files {
        let entry = &parsed[f.to_string_lossy().as_ref()];
        let nodes = entry["nodes"].as_sequence().expect("nodes");
        assert!(!nodes.is_empty(), "{}: no Node action", f.display());
        for n in nodes {
            let pkg = n["package"].as_str().unwrap();
            assert_eq!(pkg, "sattva", "{}", f.display());
            assert!(package_xml.contains(&format!("<name>{pkg}</name>")));
            let exe = n["executable"].as_str().unwrap();
            assert!(
                bins.iter().any(|b| b == exe),
                "{}: executable `{exe}` is not a binary of the crate {bins:?}",
                f.display()
            );
            let args: Vec<String> = n["arguments"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            // the subcommand exists: `sattva <args> --help` succeeds
            let help = Command::new(env!("CARGO_BIN_EXE_sattva"))
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                help.status.success(),
                "{}: `sattva {}` is not a command",
                f.display(),
                args.join(" ")
            );
            let mut layers = Vec::new();
            for p in n["params_files"].as_sequence().unwrap() {
                let p = p.as_str().unwrap();
                let rel = p.strip_prefix("share:sattva/").unwrap_or_else(|| {
                    panic!(
                        "{}: params file `{p}` not from the sattva share",
                        f.display()
                    )
                });
                let path = root().join(rel);
                assert!(
                    path.is_file(),
                    "{}: params file {} missing",
                    f.display(),
                    path.display()
                );
                layers.push(path);
            }
            assert!(!layers.is_empty(), "{}: no params file", f.display());
            let overrides: Vec<String> = n["params"]
                .as_mapping()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}:={}",
                        k.as_str().unwrap(),
                        serde_norway::to_string(v).unwrap().trim()
                    )
                })
                .collect();
            // every parameter name exists in the schema (unknown keys are errors), values valid
            Config::load_layers(&layers, &overrides)
                .unwrap_or_else(|e| panic!("{}: parameters rejected: {e}", f.display()));
        }
    }
}

#[test]
fn the_checker_rejects_a_broken_launch_file() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.launch.py");
    std::fs::write(&bad, "def generate_launch_description(:\n    pass\n").unwrap();
    let empty = d.path().join("empty.launch.py");
    std::fs::write(&empty, "def something_else():\n    pass\n").unwrap();
    let good = d.path().join("good.launch.py");
    std::fs::write(
        &good,
        "def generate_launch_description():\n    return LaunchDescription([Node(package='sattva', executable='sattva', name='n1')])\n",
    )
    .unwrap();
    let out = python()
        .arg(root().join("tests/ros/launch_check.py"))
        .args([&bad, &empty, &good])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the checker's own verdict (exit 1 with a report), not a crash of the checker (a Python
    // exception exits 1 too, but prints a traceback and no JSON)
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        !stderr.contains("Traceback"),
        "the checker crashed: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checker output is not JSON ({e}): {stderr}"));
    let entry = |p: &std::path::Path| report[p.to_str().unwrap()].clone();
    let e = entry(&bad)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(e.contains("line 1"), "syntax error not located: {report}");
    assert_eq!(
        entry(&empty)["error"].as_str(),
        Some("no generate_launch_description()"),
        "{report}"
    );
    // the good file beside them is still read
    let nodes = entry(&good)["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(nodes.len(), 1, "{report}");
    assert_eq!(nodes[0]["name"], "n1", "{report}");
}
