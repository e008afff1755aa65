//! Range and consistency checks with full key paths in every message: the [`Validate`] trait
//! every config section implements, the [`Checker`] it reports to, and [`ConfigError`]. A leaf
//! module: stages validate their own sections without depending on the config loader.

use std::path::{Path, PathBuf};

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
}

impl Checker {
    /// A checker for `file`, with keys prefixed by `prefix` (e.g. `sattva.ros__parameters`).
    pub fn new(file: &Path, prefix: &str) -> Checker {
        Checker {
            file: file.to_path_buf(),
            path: vec![prefix.to_string()],
            errors: Vec::new(),
        }
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
        let key = self.key(key);
        self.errors.push(ConfigError::Invalid {
            file: self.file.clone(),
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
