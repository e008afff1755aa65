//! `sattva peer` and `sattva peers -n N` (drivers over [`crate::agent`] and
//! [`crate::peers`]): one peer is one process, its agent performing its own training scenarios
//! of the curriculum in MuJoCo (virtual time paced at `peers.rate`), its peer thread speaking
//! the protocol over ROS 2; the team launcher starts N of them and collects their results.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::peers::byzantine::Quarantine;
use crate::peers::exchange::{Counters, Decision};

/// Training episodes over which literacy is measured while learning (see
/// [`PeerResult::episodes_to`]).
pub const LITERACY_WINDOW: usize = 20;

/// Errors of the team drivers.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The agent failed.
    #[error(transparent)]
    Agent(#[from] crate::agent::AgentError),
    /// Peer validation failed.
    #[error(transparent)]
    Peers(#[from] crate::peers::PeersError),
    /// A file.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A peer process.
    #[error("peer {id}: {message}")]
    Process {
        /// The peer.
        id: u32,
        /// What went wrong.
        message: String,
    },
    /// This build cannot do it.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// One peer's run.
#[derive(Clone, Debug, Default)]
pub struct PeerArgs {
    /// Peer id (also the offset of its training scenarios' seed).
    pub id: u32,
    /// Misbehave (random and poisoned proposals, replayed ids, inflated votes): tests.
    pub faulty: bool,
    /// Learn alone: no exchange (the baseline with the same seeds).
    pub alone: bool,
    /// Training episodes (default `eval.train_episodes`).
    pub train: Option<u32>,
    /// Novel episodes recognised at the end (default `eval.novel_episodes`).
    pub novel: Option<u32>,
    /// Calibration episodes (default `eval.calibration_episodes`).
    pub calibration: Option<u32>,
    /// Output directory: `peer_<id>.json` (result), `library_<id>.json` (library).
    pub out: PathBuf,
}

/// What one peer did (written as `peer_<id>.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerResult {
    /// Peer id.
    pub id: u32,
    /// Ran the test fault.
    pub faulty: bool,
    /// Ran without exchange.
    pub alone: bool,
    /// The team's seed and this peer's training-seed offset.
    pub seed: u64,
    /// See `seed`.
    pub offset: u64,
    /// The curriculum's primitives.
    pub primitives: Vec<String>,
    /// Training episodes in order: recognised as their own primitive before being learned.
    pub train: Vec<bool>,
    /// Novel scenarios recognised as their primitive / performed (at the end).
    pub novel_right: u32,
    /// See `novel_right`.
    pub novel_total: u32,
    /// Encoder lineage (hex).
    pub lineage: String,
    /// Protocol counters.
    pub counters: Counters,
    /// Every decision this peer took.
    pub decisions: Vec<Decision>,
    /// Peers it quarantined.
    pub quarantined: Vec<Quarantine>,
    /// Labels of its library's entries.
    pub library_labels: Vec<String>,
    /// The library file.
    pub library: PathBuf,
    /// Live attractors at the end.
    pub attractors: u64,
    /// Wall time, s.
    pub wall_s: f64,
}

impl PeerResult {
    /// Literacy of the novel scenarios (share recognised as their primitive).
    pub fn literacy(&self) -> f64 {
        if self.novel_total == 0 {
            return 0.0;
        }
        self.novel_right as f64 / self.novel_total as f64
    }

    /// Training episodes until the share of the last [`LITERACY_WINDOW`] episodes recognised
    /// as their primitive before being learned first reached `goal` (None: never).
    pub fn episodes_to(&self, goal: f64) -> Option<usize> {
        let w = LITERACY_WINDOW;
        (w..=self.train.len()).find(|&e| {
            let right = self.train[e - w..e].iter().filter(|&&r| r).count();
            right as f64 >= goal * w as f64 - 1e-9
        })
    }

    /// Windowed literacy after each training episode (from episode [`LITERACY_WINDOW`] on).
    pub fn literacy_curve(&self) -> Vec<(f64, f64)> {
        let w = LITERACY_WINDOW;
        (w..=self.train.len())
            .map(|e| {
                let right = self.train[e - w..e].iter().filter(|&&r| r).count();
                (e as f64, right as f64 / w as f64)
            })
            .collect()
    }
}

/// The seed offset of peer `id`'s training scenarios.
pub fn offset(id: u32) -> u64 {
    1 + id as u64 * 7919
}

/// Path of peer `id`'s result in `dir`.
pub fn result_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("peer_{id}.json"))
}

/// Path of peer `id`'s library in `dir`.
pub fn library_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("library_{id}.json"))
}

/// Runs one peer: its agent (its own training scenarios, virtual time at `peers.rate`) and its
/// peer thread; writes `peer_<id>.json` and `library_<id>.json` into `a.out`.
#[cfg(feature = "ros2")]
pub fn run_peer(c: &Config, a: &PeerArgs) -> Result<PeerResult, TeamError> {
    use crate::action::PlanRequest;
    use crate::agent::AgentOptions;
    use crate::learn::Role;
    use crate::peers::exchange::Exchange;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let started = std::time::Instant::now();
    let e = &c.eval;
    let mut c = c.clone();
    c.learn.snapshot.clear();
    c.learn.resume.clear();
    c.learn.enabled = true;
    let request = PlanRequest {
        calibration: a.calibration.unwrap_or(e.calibration_episodes) as usize,
        train: a.train.unwrap_or(e.train_episodes) as usize,
        novel: a.novel.unwrap_or(e.novel_episodes) as usize,
        offset: offset(a.id),
        continual: false,
        then: Vec::new(),
    };
    std::fs::create_dir_all(&a.out).map_err(|e| TeamError::File {
        file: a.out.clone(),
        message: e.to_string(),
    })?;
    let library = library_path(&a.out, a.id);
    let (ports, side) = crate::learn::peer_bridge(c.peers.recent as usize);
    let ex = Exchange::new(a.id, &c.peers, a.faulty);
    let done = Arc::new(AtomicBool::new(false));
    let thread = crate::peers::node::spawn(
        ex,
        side,
        crate::peers::node::NodeOptions {
            prefix: c.peers.topic_prefix.clone(),
            ros: !a.alone,
            library: Some(library.clone()),
            linger_s: c.peers.vote_timeout_s + 1.0,
        },
        done.clone(),
    );
    tracing::info!(
        peer = a.id,
        faulty = a.faulty,
        alone = a.alone,
        "peer starting"
    );
    let report = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(c.peers.rate),
            curriculum: Some(request),
            peers: Some(ports),
            ..Default::default()
        },
    );
    done.store(true, Ordering::Release);
    let ex = thread.join().map_err(|_| TeamError::Process {
        id: a.id,
        message: "the peer thread panicked".into(),
    })??;
    let report = report?;
    let plan = report.curriculum.clone().unwrap_or_default();
    let mut train = Vec::new();
    let (mut novel_right, mut novel_total) = (0, 0);
    for &(_, role, right) in ex.outcomes() {
        match role {
            Role::Learn => train.push(right),
            Role::Recognise => {
                novel_total += 1;
                novel_right += right as u32;
            }
            _ => {}
        }
    }
    let lib = ex.library();
    if let Err(e) = lib.save(&library) {
        tracing::error!(error = %e, "library not saved");
    }
    let out = PeerResult {
        id: a.id,
        faulty: a.faulty,
        alone: a.alone,
        seed: c.seed,
        offset: offset(a.id),
        primitives: plan.names.iter().map(|s| s.to_string()).collect(),
        train,
        novel_right,
        novel_total,
        lineage: lib.lineage.clone(),
        counters: ex.counters().clone(),
        decisions: ex.decisions().to_vec(),
        quarantined: ex.quarantined().values().cloned().collect(),
        library_labels: lib.entries.iter().map(|e| e.label.clone()).collect(),
        library,
        attractors: report.learn.as_ref().map_or(0, |l| l.stats.attractors),
        wall_s: started.elapsed().as_secs_f64(),
    };
    let p = result_path(&a.out, a.id);
    let text = serde_json::to_string_pretty(&out).map_err(|e| TeamError::File {
        file: p.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&p, text).map_err(|e| TeamError::File {
        file: p.clone(),
        message: e.to_string(),
    })?;
    Ok(out)
}

/// Without ROS 2 there is no peer thread.
#[cfg(not(feature = "ros2"))]
pub fn run_peer(_c: &Config, _a: &PeerArgs) -> Result<PeerResult, TeamError> {
    Err(TeamError::Unsupported(
        "peer validation needs ROS 2: build with feature `ros2`",
    ))
}

/// A team of `n` peer processes.
#[derive(Clone, Debug, Default)]
pub struct TeamArgs {
    /// Peers.
    pub n: u32,
    /// The last peer runs the test fault.
    pub faulty: bool,
    /// Every peer learns alone (the baseline).
    pub alone: bool,
    /// Passed to every `sattva peer` (config files and `-p` overrides).
    pub config_args: Vec<String>,
    /// Episode counts passed on.
    pub train: Option<u32>,
    /// See `train`.
    pub novel: Option<u32>,
    /// See `train`.
    pub calibration: Option<u32>,
    /// Output directory (each peer's files and log).
    pub out: PathBuf,
}

/// The `sattva peer` command line of peer `id` of `t`.
pub fn peer_command(t: &TeamArgs, id: u32) -> Vec<String> {
    let mut v = vec!["peer".to_string(), "--id".into(), id.to_string()];
    v.extend(t.config_args.iter().cloned());
    v.extend(["--out".into(), t.out.display().to_string()]);
    for (flag, val) in [
        ("--train", t.train),
        ("--novel", t.novel),
        ("--calibration", t.calibration),
    ] {
        if let Some(x) = val {
            v.extend([flag.to_string(), x.to_string()]);
        }
    }
    if t.faulty && id + 1 == t.n {
        v.push("--faulty".into());
    }
    if t.alone {
        v.push("--alone".into());
    }
    v
}

/// Starts `t.n` `sattva peer` processes (this executable; logs in `peer_<id>.log`), waits for
/// all, returns their results by id.
pub fn launch(t: &TeamArgs) -> Result<Vec<PeerResult>, TeamError> {
    let exe = std::env::current_exe().map_err(|e| TeamError::File {
        file: "sattva".into(),
        message: e.to_string(),
    })?;
    std::fs::create_dir_all(&t.out).map_err(|e| TeamError::File {
        file: t.out.clone(),
        message: e.to_string(),
    })?;
    let mut children = Vec::new();
    for id in 0..t.n {
        let log = t.out.join(format!("peer_{id}.log"));
        let f = std::fs::File::create(&log).map_err(|e| TeamError::File {
            file: log.clone(),
            message: e.to_string(),
        })?;
        let f2 = f.try_clone().map_err(|e| TeamError::File {
            file: log.clone(),
            message: e.to_string(),
        })?;
        let _ = std::fs::remove_file(result_path(&t.out, id));
        let child = std::process::Command::new(&exe)
            .args(peer_command(t, id))
            .stdout(f)
            .stderr(f2)
            .spawn()
            .map_err(|e| TeamError::Process {
                id,
                message: format!("{}: {e}", exe.display()),
            })?;
        tracing::info!(peer = id, pid = child.id(), log = %log.display(), "peer process started");
        children.push((id, child));
    }
    let mut failed = Vec::new();
    for (id, mut ch) in children {
        match ch.wait() {
            Ok(s) if s.success() => {}
            Ok(s) => failed.push(format!("peer {id} exited with {s}")),
            Err(e) => failed.push(format!("peer {id}: {e}")),
        }
    }
    if !failed.is_empty() {
        return Err(TeamError::Process {
            id: 0,
            message: format!("{} (logs in {})", failed.join("; "), t.out.display()),
        });
    }
    (0..t.n).map(|id| read_result(&t.out, id)).collect()
}

/// Reads peer `id`'s result from `dir`.
pub fn read_result(dir: &Path, id: u32) -> Result<PeerResult, TeamError> {
    let p = result_path(dir, id);
    let text = std::fs::read_to_string(&p).map_err(|e| TeamError::File {
        file: p.clone(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| TeamError::File {
        file: p,
        message: e.to_string(),
    })
}

/// One line per peer: literacy, library, decisions, quarantine.
pub fn summary(results: &[PeerResult]) -> String {
    use std::fmt::Write;
    let mut s = String::from(
        "peer  role     train  to90%  novel literacy  library  decided/accepted  adopted  quarantined\n",
    );
    for r in results {
        let q: Vec<String> = r.quarantined.iter().map(|q| q.peer.to_string()).collect();
        let _ = writeln!(
            s,
            "{:<5} {:<8} {:>5}  {:>5}  {:>5.1} % ({}/{})  {:>7}  {:>7}/{:<8}  {:>7}  {}",
            r.id,
            if r.faulty {
                "faulty"
            } else if r.alone {
                "alone"
            } else {
                "honest"
            },
            r.train.len(),
            r.episodes_to(0.9)
                .map_or_else(|| "-".to_string(), |e| e.to_string()),
            100.0 * r.literacy(),
            r.novel_right,
            r.novel_total,
            r.library_labels.len(),
            r.counters.decided,
            r.counters.accepted,
            r.counters.adopted + r.counters.adopted_merged,
            if q.is_empty() {
                "-".to_string()
            } else {
                q.join(",")
            },
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episodes_to_a_goal_by_hand() {
        // 20 wrong, then right: the window of the last 20 holds 18 right after episode 38
        let mut r = PeerResult {
            train: [vec![false; 20], vec![true; 30]].concat(),
            ..Default::default()
        };
        assert_eq!(r.episodes_to(0.9), Some(38));
        assert_eq!(r.episodes_to(1.0), Some(40));
        r.train.truncate(30);
        assert_eq!(r.episodes_to(0.9), None);
        assert_eq!(r.literacy_curve().first(), Some(&(20.0, 0.0)));
    }
}
