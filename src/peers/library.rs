//! The shared primitive library: accepted primitives with their lineage (who proposed, who
//! voted what, when) and the quarantined peers, persisted atomically (temporary file, fsync,
//! rename) with a SHA-256 of the content verified on load.
//!
//! File format: one header line `sattva-library 1 sha256:<hex of the body>`, then the body (JSON).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::byzantine::Quarantine;

const MAGIC: &str = "sattva-library 1 sha256:";

/// Errors of the library file.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// Reading or writing failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a library, or damaged.
    #[error("{file}: {message}")]
    Format {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One accepted primitive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The proposal's id.
    pub proposal_id: String,
    /// Proposer.
    pub proposer: u32,
    /// Label.
    pub label: String,
    /// BIAS confidence.
    pub confidence: f32,
    /// Counted voters and their votes.
    pub voters: Vec<u32>,
    /// Votes, in `voters` order.
    pub votes: Vec<f32>,
    /// Experiences behind it at the proposer.
    pub evidence: u64,
    /// Center.
    pub center: Vec<f32>,
    /// Action memory (may be empty).
    pub action_memory: Vec<f32>,
    /// Proposed (proposer's clock) and decided (decider's clock), s since the epoch.
    pub proposed_at: f64,
    /// See `proposed_at`.
    pub decided_at: f64,
}

/// The library as one peer decided it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// The deciding peer.
    pub peer: u32,
    /// The encoder lineage every center lives in (hex).
    pub lineage: String,
    /// The acceptance threshold.
    pub threshold: f64,
    /// Accepted primitives, in decision order.
    pub entries: Vec<Entry>,
    /// Peers in quarantine (their proposals and votes were ignored from `at` on).
    pub quarantined: Vec<Quarantine>,
}

impl Library {
    /// Writes the library to `path` atomically: a temporary file beside it, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<(), LibraryError> {
        let io = |source| LibraryError::Io {
            file: path.to_path_buf(),
            source,
        };
        let body = serde_json::to_vec_pretty(self).map_err(|e| LibraryError::Format {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let hash = super::protocol::hex(&sha2::Sha256::digest(&body));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let name = path
            .file_name()
            .map_or_else(|| "library".into(), |n| n.to_string_lossy().into_owned());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(format!("{MAGIC}{hash}\n").as_bytes())
                .map_err(io)?;
            f.write_all(&body).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        // the rename itself is durable once the directory is synced
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads a library written by [`Library::save`], verifying its checksum.
    pub fn load(path: &Path) -> Result<Library, LibraryError> {
        let bytes = std::fs::read(path).map_err(|source| LibraryError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let bad = |message: String| LibraryError::Format {
            file: path.to_path_buf(),
            message,
        };
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no header line".into()))?;
        let header = std::str::from_utf8(&bytes[..nl]).map_err(|e| bad(e.to_string()))?;
        let want = header
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad(format!("header {header:?} is not `{MAGIC}<hex>`")))?;
        let body = &bytes[nl + 1..];
        let got = super::protocol::hex(&sha2::Sha256::digest(body));
        if got != want {
            return Err(bad(format!(
                "checksum mismatch: header says {want}, content is {got} (damaged or edited)"
            )));
        }
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib() -> Library {
        Library {
            peer: 2,
            lineage: "ab12".into(),
            threshold: 0.7,
            entries: vec![Entry {
                proposal_id: "1:3".into(),
                proposer: 1,
                label: "lift".into(),
                confidence: 0.81,
                voters: vec![0, 2],
                votes: vec![0.8, 0.9],
                evidence: 5,
                center: vec![0.6, 0.8],
                action_memory: vec![],
                proposed_at: 10.0,
                decided_at: 11.5,
            }],
            quarantined: vec![Quarantine {
                peer: 4,
                reason: "2 replayed proposal ids".into(),
                at: 12.0,
            }],
        }
    }

    #[test]
    fn round_trip_and_damage_detected() {
        let dir = std::env::temp_dir().join(format!("sattva-lib-{}", std::process::id()));
        let p = dir.join("library.json");
        lib().save(&p).unwrap();
        assert_eq!(Library::load(&p).unwrap(), lib());
        // no temporary file left behind
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("library.json")]);
        // one changed byte in the body: refused
        let mut b = std::fs::read(&p).unwrap();
        let i = b.len() - 10;
        b[i] = if b[i] == b'1' { b'2' } else { b'1' };
        std::fs::write(&p, &b).unwrap();
        let e = Library::load(&p).unwrap_err().to_string();
        assert!(e.contains("checksum mismatch"), "{e}");
        std::fs::write(&p, b"{}").unwrap();
        assert!(Library::load(&p).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
