//! Where each parameter of a merged configuration came from. Several params files (`-c`,
//! `--params-file`) and `-p` overrides merge into one configuration; an error about a key names
//! the file (or the override) that set it, with that file's key prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

/// One source of parameters: a params file or a command-line override.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The file, or `-p key=value` for an override: what error messages name.
    pub name: PathBuf,
    /// The key prefix in that source, e.g. `sattva.ros__parameters` or `/**.ros__parameters`.
    pub prefix: String,
    /// An override from the command line (not a file).
    pub is_override: bool,
}

/// The sources of a merged configuration, in merge order, and which one set each key last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origins {
    sources: Vec<Source>,
    /// Dotted key below `ros__parameters` (`mujoco.model`) -> index into `sources`.
    keys: BTreeMap<String, usize>,
}

impl Origins {
    /// Adds a source; returns its index for [`Origins::record`].
    pub(crate) fn push(&mut self, name: PathBuf, prefix: String, is_override: bool) -> usize {
        self.sources.push(Source {
            name,
            prefix,
            is_override,
        });
        self.sources.len() - 1
    }

    /// Records that source `idx` set `key` (`""` = the whole parameter map) to `v`: every leaf
    /// below it now comes from `idx`. Leaves are scalars and arrays (ROS 2 parameters).
    pub(crate) fn record(&mut self, idx: usize, key: &str, v: &Value) {
        match v {
            Value::Mapping(m) => {
                self.keys.remove(key);
                for (k, child) in m {
                    let name = match k {
                        Value::String(s) => s.clone(),
                        other => serde_norway::to_string(other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    self.record(idx, &join(key, &name), child);
                }
            }
            _ => {
                // a scalar replaces whatever map was there before
                let below = format!("{key}.");
                let stale: Vec<String> = self
                    .keys
                    .range(below.clone()..)
                    .take_while(|(k, _)| k.starts_with(&below))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in stale {
                    self.keys.remove(&k);
                }
                self.keys.insert(key.to_string(), idx);
            }
        }
    }

    /// The sources in merge order (files first, then overrides).
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The source that set `key` (dotted, below `ros__parameters`; `[i]` indices allowed): the
    /// one that set the key or the nearest enclosing key, else the only source of every key
    /// below it. `None` when no source or several did.
    pub fn of(&self, key: &str) -> Option<&Source> {
        let key = strip_indices(key);
        let mut k = key.as_str();
        loop {
            if let Some(&i) = self.keys.get(k) {
                return self.sources.get(i);
            }
            match k.rfind('.') {
                Some(dot) => k = &k[..dot],
                None => break,
            }
        }
        let below = if key.is_empty() {
            String::new()
        } else {
            format!("{key}.")
        };
        let set: BTreeSet<usize> = self
            .keys
            .range(below.clone()..)
            .take_while(|(k, _)| k.starts_with(&below))
            .map(|(_, &i)| i)
            .collect();
        match (set.len(), set.first()) {
            (1, Some(&i)) => self.sources.get(i),
            _ => None,
        }
    }

    /// What an error about `key` names: (the source's name, its key prefix). Without a single
    /// source: every file, joined by ` + `, with the first file's prefix.
    pub fn describe(&self, key: &str) -> (PathBuf, String) {
        if let Some(s) = self.of(key) {
            return (s.name.clone(), s.prefix.clone());
        }
        let files: Vec<String> = self
            .sources
            .iter()
            .filter(|s| !s.is_override)
            .map(|s| s.name.display().to_string())
            .collect();
        let prefix = self
            .sources
            .first()
            .map(|s| s.prefix.clone())
            .unwrap_or_else(|| format!("{}.ros__parameters", super::NODE_NAME));
        (PathBuf::from(files.join(" + ")), prefix)
    }

    /// Whether any source was recorded (configs built in code have none).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// `a.b` from `a` and `b`; `b` alone when `a` is empty.
pub(crate) fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else if b.is_empty() {
        a.to_string()
    } else {
        format!("{a}.{b}")
    }
}

/// `mujoco.joints.actuators[2]` -> `mujoco.joints.actuators`.
fn strip_indices(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut depth = 0usize;
    for ch in key.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.trim_matches('.').to_string()
}

/// Parameters that hold file paths. In the first params file a relative path stays relative
/// (it resolves against that file's directory, [`super::Config::base_dir`]); in a later file it
/// is made absolute against *that* file's directory, in a `-p` override against the current
/// directory, so every relative path means what it says where it is written.
pub const PATH_KEYS: [&str; 7] = [
    "mujoco.model",
    "realsense.profile",
    "realsense.playback",
    "replay.bag",
    "record.dir",
    "learn.snapshot",
    "learn.resume",
];

/// Makes the relative path values of [`PATH_KEYS`] in `params` absolute against `dir`.
pub(crate) fn anchor_paths(params: &mut Value, dir: &Path) {
    for key in PATH_KEYS {
        if let Some(v) = lookup_mut(params, key) {
            anchor_value(v, dir);
        }
    }
}

/// The value at dotted `key` in nested mappings.
fn lookup_mut<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    key.split('.').try_fold(v, |cur, part| match cur {
        Value::Mapping(m) => m.get_mut(part),
        _ => None,
    })
}

/// Makes the relative path value of an override of `key` absolute against the current directory.
pub(crate) fn anchor_override(key: &str, value: &mut Value) {
    if PATH_KEYS.contains(&key) {
        if let Ok(cwd) = std::env::current_dir() {
            anchor_value(value, &cwd);
        }
    }
}

fn anchor_value(v: &mut Value, dir: &Path) {
    if let Value::String(s) = v {
        if !s.is_empty() && Path::new(s.as_str()).is_relative() {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            *s = dir.join(s.as_str()).display().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn later_sources_own_the_keys_they_set() {
        let mut o = Origins::default();
        let a = o.push("a.yaml".into(), "sattva.ros__parameters".into(), false);
        o.record(
            a,
            "",
            &yaml("{seed: 1, control: {period_ns: 5}, mujoco: {model: m}}"),
        );
        let b = o.push("b.yaml".into(), "/**.ros__parameters".into(), false);
        o.record(b, "", &yaml("{control: {period_ns: 7}}"));
        let p = o.push("-p seed=3".into(), "sattva.ros__parameters".into(), true);
        o.record(p, "seed", &yaml("3"));
        assert_eq!(o.of("control.period_ns").unwrap().name, Path::new("b.yaml"));
        assert_eq!(o.of("mujoco.model").unwrap().name, Path::new("a.yaml"));
        assert_eq!(o.of("seed").unwrap().name, Path::new("-p seed=3"));
        // a section set by one file only; a deeper key than any leaf; an index
        assert_eq!(o.of("mujoco").unwrap().name, Path::new("a.yaml"));
        assert_eq!(o.of("mujoco.model.x[3]").unwrap().name, Path::new("a.yaml"));
        // nobody set it, or several did: every file is named
        assert!(o.of("").is_none());
        assert!(o.of("robot").is_none());
        let (name, prefix) = o.describe("robot");
        assert_eq!(name, Path::new("a.yaml + b.yaml"));
        assert_eq!(prefix, "sattva.ros__parameters");
        assert_eq!(o.describe("control").1, "/**.ros__parameters");
    }

    #[test]
    fn a_scalar_replaces_a_section() {
        let mut o = Origins::default();
        let a = o.push("a.yaml".into(), "p".into(), false);
        o.record(a, "", &yaml("{x: {y: 1}}"));
        let b = o.push("b.yaml".into(), "p".into(), false);
        o.record(b, "", &yaml("{x: 2}"));
        assert_eq!(o.of("x").unwrap().name, Path::new("b.yaml"));
        assert_eq!(o.of("x.y").unwrap().name, Path::new("b.yaml"));
    }

    #[test]
    fn relative_paths_are_anchored_and_absolute_ones_kept() {
        let mut v = yaml("{mujoco: {model: m.xml}, realsense: {profile: /abs/p.yaml}, seed: 3}");
        anchor_paths(&mut v, Path::new("/etc/hw"));
        assert_eq!(v["mujoco"]["model"].as_str(), Some("/etc/hw/m.xml"));
        assert_eq!(v["realsense"]["profile"].as_str(), Some("/abs/p.yaml"));
        let mut ov = yaml("rec.bag");
        anchor_override("replay.bag", &mut ov);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(ov.as_str(), Some(cwd.join("rec.bag").to_str().unwrap()));
        let mut other = yaml("rec.bag");
        anchor_override("ros.namespace", &mut other);
        assert_eq!(other.as_str(), Some("rec.bag"));
    }
}
