//! `scripts/figures.sh` is the one command that regenerates the README's figures: its figure list
//! must name every figure the README refers to (`figure \`NAME\``, `figures.sh --only A,B`), and
//! it must refuse a name it does not know instead of silently running nothing. `--list` builds
//! nothing, so this test is cheap; the figures themselves are checked by running the script
//! (`bash scripts/figures.sh --quick` checks it end to end at tiny sizes).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn figures(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(root().join("scripts/figures.sh"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("bash runs")
}

/// The names `--list` prints (first column).
fn listed() -> BTreeSet<String> {
    let out = figures(&["--list"]);
    assert!(
        out.status.success(),
        "figures.sh --list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Figure names the README refers to.
fn referenced(readme: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in readme.split("figure `").skip(1) {
        if let Some(end) = part.find('`') {
            names.insert(part[..end].to_string());
        }
    }
    for part in readme.split("figures.sh --only ").skip(1) {
        let list: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ',')
            .collect();
        names.extend(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
    }
    names
}

#[test]
fn every_figure_the_readme_names_is_one_the_script_makes() {
    let names = listed();
    // the figures of the README's learning and performance sections, by name
    for must in [
        "sim",
        "literacy",
        "grounding",
        "perform",
        "peers",
        "substrate",
        "sched",
        "bench-monitors",
    ] {
        assert!(
            names.contains(must),
            "figures.sh --list lacks `{must}`: {names:?}"
        );
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let refs = referenced(&readme);
    assert!(
        refs.len() >= 4,
        "the README refers to figures by name (figure `sim`, --only ...): found {refs:?}"
    );
    let unknown: Vec<_> = refs.difference(&names).collect();
    assert!(
        unknown.is_empty(),
        "README refers to figures figures.sh does not make: {unknown:?} (it makes {names:?})"
    );
}

#[test]
fn an_unknown_figure_name_is_refused_with_the_list() {
    let out = figures(&["--only", "sim,no-such-figure"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status of an unknown --only name"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no figure named `no-such-figure`") && err.contains("bench-encode"),
        "the error names the bad figure and lists the real ones: {err}"
    );
    let out = figures(&["--bogus"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit status of an unknown argument"
    );
}

#[test]
fn the_reference_extractor_finds_names_in_a_sample() {
    let refs = referenced(
        "see figure `sim` and `bash scripts/figures.sh --only bench-fusion,bench-encode` here",
    );
    let want: BTreeSet<String> = ["sim", "bench-fusion", "bench-encode"]
        .into_iter()
        .map(str::to_string)
        .collect();
    assert_eq!(refs, want);
}
