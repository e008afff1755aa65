//! Relative paths of merged parameter files: a path means what it says where it is written.

use std::path::Path;

use serde_norway::Value;

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
