//! Range and consistency checks with full key paths in every message.

use std::path::{Path, PathBuf};

use super::{ConfigError, Origins};

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
                let full = if rel.is_empty() {
                    prefix
                } else {
                    format!("{prefix}.{rel}")
                };
                (file, full)
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
