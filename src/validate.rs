//! Range and consistency checks with full key paths in every message: the [`Validate`] trait
//! every config section implements, the [`Checker`] it reports to, and [`ConfigError`]. A leaf
//! module: stages validate their own sections without depending on the config loader.
//!
//! Of a configuration merged from several params files and `-p` overrides, [`Origins`] records
//! which source set each key, so an error names the file (or the override) that set the key,
//! with that file's key prefix.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

/// Errors while loading or validating a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read config file")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line of the error (0 when unknown).
        line: usize,
        /// 1-based column of the error (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown, has the wrong type, or its value is out of range.
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Full dotted key path, starting at the node name.
        key: String,
        /// What is wrong and what was expected.
        message: String,
    },
    /// Several validation errors at once (all are reported, not just the first).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ConfigError>),
}

/// Implemented by every config section: report each problem to the [`Checker`].
pub trait Validate {
    /// Checks this section; keys passed to the checker are relative to the section.
    fn validate(&self, c: &mut Checker);
}

/// Collects validation errors, tracking the key path of the section being checked.
pub struct Checker {
    file: PathBuf,
    path: Vec<String>,
    errors: Vec<ConfigError>,
    /// Of a merged config: errors name the source that set the key.
    origins: Option<Origins>,
}

impl Checker {
    /// A checker for `file`, with keys prefixed by `prefix` (e.g. `sattva.ros__parameters`).
    pub fn new(file: &Path, prefix: &str) -> Checker {
        Checker {
            file: file.to_path_buf(),
            path: vec![prefix.to_string()],
            errors: Vec::new(),
            origins: None,
        }
    }

    /// A checker for a config merged from several sources: an error names the file (or `-p`
    /// override) that set the key, with that file's key prefix; `file` and `prefix` are used
    /// when `origins` is empty.
    pub fn with_origins(file: &Path, prefix: &str, origins: Origins) -> Checker {
        let mut c = Checker::new(file, prefix);
        c.origins = (!origins.is_empty()).then_some(origins);
        c
    }

    /// Runs `f` with `name` appended to the key path.
    pub fn section(&mut self, name: &str, f: impl FnOnce(&mut Checker)) {
        self.path.push(name.to_string());
        f(self);
        self.path.pop();
    }

    /// The full key path of `key` in the current section.
    pub fn key(&self, key: &str) -> String {
        let mut k = self.path.join(".");
        if !key.is_empty() {
            k.push('.');
            k.push_str(key);
        }
        k
    }

    /// Records an error for `key`.
    pub fn fail(&mut self, key: &str, message: impl Into<String>) {
        let (file, key) = match &self.origins {
            Some(o) => {
                let rel = self.path[1..]
                    .iter()
                    .map(String::as_str)
                    .chain((!key.is_empty()).then_some(key))
                    .collect::<Vec<_>>()
                    .join(".");
                let (file, prefix) = o.describe(&rel);
                (file, join(&prefix, &rel))
            }
            None => (self.file.clone(), self.key(key)),
        };
        self.errors.push(ConfigError::Invalid {
            file,
            key,
            message: message.into(),
        });
    }

    /// Requires `lo <= v <= hi` (and finite).
    pub fn range_f64(&mut self, key: &str, v: f64, lo: f64, hi: f64) {
        if !(v.is_finite() && v >= lo && v <= hi) {
            self.fail(
                key,
                format!("value {v} out of range: expected a number in [{lo}, {hi}]"),
            );
        }
    }

    /// Requires `lo <= v <= hi`.
    pub fn range_i64(&mut self, key: &str, v: i64, lo: i64, hi: i64) {
        if v < lo || v > hi {
            self.fail(
                key,
                format!("value {v} out of range: expected an integer in [{lo}, {hi}]"),
            );
        }
    }

    /// Requires `lo <= v <= hi` for unsigned values.
    pub fn range_u64(&mut self, key: &str, v: u64, lo: u64, hi: u64) {
        if v < lo || v > hi {
            self.fail(
                key,
                format!("value {v} out of range: expected an integer in [{lo}, {hi}]"),
            );
        }
    }

    /// Requires `cond`, else records `message` for `key`.
    pub fn require(&mut self, cond: bool, key: &str, message: impl Into<String>) {
        if !cond {
            self.fail(key, message);
        }
    }

    /// Ends validation: `Ok` when nothing was recorded.
    pub fn finish(mut self) -> Result<(), ConfigError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(self.errors.remove(0)),
            _ => Err(ConfigError::Many(self.errors)),
        }
    }
}

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
            .unwrap_or_default();
        (PathBuf::from(files.join(" + ")), prefix)
    }

    /// Whether any source was recorded (configs built in code have none).
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// The dotted key `a.b` from `a` and `b`; one of them alone when the other is empty.
pub fn join(a: &str, b: &str) -> String {
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
}
