//! The `substrate:` config section: defaults, overrides, and clear errors.

use std::path::Path;

use sattva::config::Config;

const BASE: &str = "sattva:\n  ros__parameters:\n    backend: replay\n";

#[test]
fn defaults_and_keys() {
    let c = Config::from_yaml_str(BASE, Path::new("t.yaml"), &[]).unwrap();
    assert_eq!(c.substrate.vigilance, 0.7);
    assert_eq!(c.substrate.dim, 256);
    let text = format!(
        "{BASE}    substrate:\n      vigilance: 0.8\n      capacity: 5000\n      index:\n        ef_search: 32\n"
    );
    let c = Config::from_yaml_str(&text, Path::new("t.yaml"), &[]).unwrap();
    assert_eq!(c.substrate.vigilance, 0.8);
    assert_eq!(c.substrate.capacity, 5000);
    assert_eq!(c.substrate.index.ef_search, 32);
    let c = Config::from_yaml_str(BASE, Path::new("t.yaml"), &["substrate.k=4".into()]).unwrap();
    assert_eq!(c.substrate.k, 4);
}

#[test]
fn bad_values_name_the_key() {
    let text = format!("{BASE}    substrate:\n      vigilence: 0.8\n");
    let e = Config::from_yaml_str(&text, Path::new("t.yaml"), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("substrate") && e.contains("vigilence"), "{e}");
    let text = format!("{BASE}    substrate:\n      vigilance: 1.5\n      index:\n        m: 1\n");
    let e = Config::from_yaml_str(&text, Path::new("t.yaml"), &[])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("substrate.vigilance"), "{e}");
    assert!(e.contains("substrate.index.m"), "{e}");
}
