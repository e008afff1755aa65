//! Tests gated on a Cargo feature vanish from a build without it: a whole file behind
//! `#![cfg(feature = ...)]` reports `0 tests`, a `#[cfg(feature = ...)] #[test] fn` is simply not
//! there. This test reads `tests/*.rs`, finds every such gate and prints
//! `SKIPPED: <file>[::<fn>]: needs <cfg>` for each one this build leaves out, so a run without the
//! native features names what it did not run (the full-feature run prints none: `scripts/test.sh`
//! fails it on any `SKIPPED:` line). It also fails when a gate names a feature Cargo.toml does not
//! have: `#![cfg(feature = "ros")]` would silently compile a test file to nothing in every build.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The features this build has, by name. Every Cargo feature must be listed here
/// (`the_feature_table_matches_cargo_toml`), since `cfg!` needs literal names.
fn enabled() -> BTreeSet<&'static str> {
    let table = [
        ("mujoco", cfg!(feature = "mujoco")),
        ("render", cfg!(feature = "render")),
        ("ros2", cfg!(feature = "ros2")),
        ("realsense", cfg!(feature = "realsense")),
        ("opencv", cfg!(feature = "opencv")),
    ];
    table
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect()
}

const KNOWN: [&str; 5] = ["mujoco", "render", "ros2", "realsense", "opencv"];

/// A `cfg` predicate over features.
#[derive(Debug, PartialEq)]
enum Pred {
    Feature(String),
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
}

impl Pred {
    fn eval(&self, on: &BTreeSet<&str>) -> bool {
        match self {
            Pred::Feature(f) => on.contains(f.as_str()),
            Pred::All(v) => v.iter().all(|p| p.eval(on)),
            Pred::Any(v) => v.iter().any(|p| p.eval(on)),
            Pred::Not(p) => !p.eval(on),
        }
    }
    fn features(&self, out: &mut BTreeSet<String>) {
        match self {
            Pred::Feature(f) => {
                out.insert(f.clone());
            }
            Pred::All(v) | Pred::Any(v) => v.iter().for_each(|p| p.features(out)),
            Pred::Not(p) => p.features(out),
        }
    }
}

/// Parses `feature = "x"`, `all(..)`, `any(..)`, `not(..)`; `Err` for anything else (a gate on
/// something other than features is not this test's business, and is reported as such).
fn parse(s: &str) -> Result<(Pred, &str), String> {
    let s = s.trim_start();
    for (kw, ctor) in [("all(", 0), ("any(", 1), ("not(", 2)] {
        if let Some(mut rest) = s.strip_prefix(kw) {
            let mut items = Vec::new();
            loop {
                rest = rest.trim_start();
                if let Some(r) = rest.strip_prefix(')') {
                    let p = match ctor {
                        0 => Pred::All(items),
                        1 => Pred::Any(items),
                        _ => {
                            if items.len() != 1 {
                                return Err(format!("not() takes one predicate: {s}"));
                            }
                            Pred::Not(Box::new(items.remove(0)))
                        }
                    };
                    return Ok((p, r));
                }
                let (p, r) = parse(rest)?;
                items.push(p);
                rest = r.trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
    }
    let rest = s
        .strip_prefix("feature")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('='))
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('"'))
        .ok_or_else(|| format!("not a feature predicate: {s}"))?;
    let end = rest.find('"').ok_or_else(|| format!("unterminated: {s}"))?;
    Ok((Pred::Feature(rest[..end].to_string()), &rest[end + 1..]))
}

/// One gate: the file, the test function (None: the whole file) and its predicate.
struct Gate {
    file: String,
    func: Option<String>,
    cfg: String,
    pred: Pred,
}

fn gates() -> Vec<Gate> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(root().join("tests"))
        .expect("tests/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let l = line.trim();
            let (inner, func) = if let Some(c) = l.strip_prefix("#![cfg(") {
                (c, None)
            } else if let Some(c) = l.strip_prefix("#[cfg(") {
                // a gated test function: the next lines are #[test] and its fn
                let next: Vec<&str> = lines[i + 1..].iter().take(3).map(|s| s.trim()).collect();
                if next.first() != Some(&"#[test]") {
                    continue;
                }
                let f = next.iter().find_map(|s| {
                    s.strip_prefix("fn ")
                        .map(|r| r.split('(').next().unwrap_or(r).to_string())
                });
                (c, f)
            } else {
                continue;
            };
            let Some(cfg) = inner.strip_suffix(")]") else {
                panic!("{name}:{}: a cfg gate on one line expected: {l}", i + 1)
            };
            let pred = match parse(cfg) {
                Ok((p, rest)) if rest.trim().is_empty() => p,
                Ok((_, rest)) => panic!("{name}:{}: trailing `{rest}` in {l}", i + 1),
                Err(e) => panic!("{name}:{}: {e}", i + 1),
            };
            out.push(Gate {
                file: name.clone(),
                func,
                cfg: cfg.to_string(),
                pred,
            });
        }
    }
    out
}

#[test]
fn gated_tests_this_build_leaves_out_are_named() {
    let on = enabled();
    let gates = gates();
    // the suite has dozens of gated files (MuJoCo, ROS 2, RealSense, rendering, OpenCV)
    assert!(
        gates.iter().filter(|g| g.func.is_none()).count() >= 20,
        "found only {} gated test files: is the scan broken?",
        gates.len()
    );
    let mut left_out = 0;
    for g in &gates {
        let mut used = BTreeSet::new();
        g.pred.features(&mut used);
        for f in &used {
            assert!(
                KNOWN.contains(&f.as_str()),
                "{}: cfg({}) names feature `{f}`, which Cargo.toml does not have (known: {KNOWN:?}): the test would never compile",
                g.file,
                g.cfg
            );
        }
        if !g.pred.eval(&on) {
            left_out += 1;
            let what = match &g.func {
                Some(f) => format!("{}::{f}", g.file.trim_end_matches(".rs")),
                None => g.file.trim_end_matches(".rs").to_string(),
            };
            common::skipped(&what, &format!("needs cfg({}), not in this build", g.cfg));
        }
    }
    if on.len() == KNOWN.len() {
        assert_eq!(left_out, 0, "with every feature built, nothing is left out");
    }
}

#[test]
fn the_feature_table_matches_cargo_toml() {
    let toml = std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let section = toml
        .split("\n[features]\n")
        .nth(1)
        .expect("a [features] section")
        .split("\n[")
        .next()
        .unwrap_or("");
    let features: BTreeSet<&str> = section
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap_or("").trim())
        .filter(|n| *n != "default")
        .collect();
    let known: BTreeSet<&str> = KNOWN.into_iter().collect();
    assert_eq!(
        features, known,
        "Cargo.toml's features vs this test's table: add the new feature to `enabled()` and KNOWN"
    );
}

#[test]
fn the_cfg_parser_reads_what_the_suite_writes() {
    let on: BTreeSet<&str> = ["mujoco", "ros2"].into_iter().collect();
    let (p, rest) = parse(r#"all(feature = "ros2", feature = "mujoco")"#).unwrap();
    assert!(rest.is_empty());
    assert!(p.eval(&on));
    let (p, _) =
        parse(r#"all(feature = "mujoco", feature = "ros2", feature = "realsense")"#).unwrap();
    assert!(!p.eval(&on));
    let (p, _) = parse(r#"any(feature = "opencv", not(feature = "render"))"#).unwrap();
    assert!(p.eval(&on));
    let (p, _) = parse(r#"feature="render""#).unwrap();
    assert_eq!(p, Pred::Feature("render".into()));
    assert!(parse("target_os = \"linux\"").is_err());
}
