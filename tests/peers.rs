//! Peer validation with real processes over ROS 2 (issue 18): four `sattva peer` processes on
//! one fresh domain (three honest, one faulty), an rclpy peer sending malformed proposals, and
//! one honest peer killed in the middle of the run. The survivors must keep deciding (vote
//! timeouts), quarantine the liar and accept none of its proposals, reject and count the
//! malformed messages, and persist a library whose lineage and confidences check out.
#![cfg(all(feature = "ros2", feature = "mujoco"))]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ros::{domain_id, python, ros_env, KillOnDrop};
use sattva::peers::library::Library;
use sattva::team::{read_result, PeerResult};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wall() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn peer(id: u32, faulty: bool, dir: &Path, domain: &str) -> KillOnDrop {
    let log = std::fs::File::create(dir.join(format!("peer_{id}.log"))).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_sattva"));
    c.args(["peer", "--id", &id.to_string()])
        .args(["-c", &root().join("config/sim.yaml").display().to_string()])
        .args(["--calibration", "10", "--train", "60", "--novel", "0"])
        .args(["-p", "peers.rate=4", "-p", "peers.min_votes=1"])
        .args(["--out", &dir.display().to_string()])
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    if faulty {
        c.arg("--faulty");
    }
    ros_env(&mut c, domain);
    c.env("RUST_LOG", "info");
    KillOnDrop(c.spawn().expect("start sattva peer"))
}

/// BIAS by hand: mean x 1 / (1 + population std).
fn bias(v: &[f32]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
    m / (1.0 + var.sqrt())
}

fn wait(what: &str, bound: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(
            t.elapsed() < bound,
            "timed out after {bound:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn peers_validate_over_ros2_quarantine_a_liar_and_survive_a_vanished_peer() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let domain = domain_id(18);
    let mut py = python();
    py.arg(root().join("tests/ros/peers_malformed.py"))
        .args(["/sattva/peers", "150"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut py, &domain);
    let py = py
        .spawn()
        .expect("start the rclpy peer (did scripts/setup.sh run?)");
    let mut peers: Vec<Option<KillOnDrop>> = (0..4u32)
        .map(|id| Some(peer(id, id == 3, d, &domain)))
        .collect();
    // peer 2 vanishes (SIGKILL) once votes flow: two seconds after the first accepted entry
    wait(
        "a first accepted primitive",
        Duration::from_secs(240),
        || d.join("library_0.json").exists() || d.join("library_1.json").exists(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let killed_at = wall();
    drop(peers[2].take());
    let mut results: Vec<PeerResult> = Vec::new();
    for id in [0u32, 1, 3] {
        let mut p = peers[id as usize].take().unwrap();
        let t = Instant::now();
        let status = loop {
            if let Some(s) = p.0.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(300),
                "peer {id} did not finish: blocked?\n{}",
                std::fs::read_to_string(d.join(format!("peer_{id}.log"))).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            status.success(),
            "peer {id} failed:\n{}",
            std::fs::read_to_string(d.join(format!("peer_{id}.log"))).unwrap_or_default()
        );
        if id != 3 {
            results.push(read_result(d, id).unwrap());
        }
    }
    let out = py.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("RESULT OK"),
        "rclpy peer failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for r in &results {
        let ctx = format!("peer {}: {:?}\n{:#?}", r.id, r.counters, r.quarantined);
        // the liar (3) and the rclpy sender of malformed proposals (7) are quarantined
        let q: Vec<u32> = r.quarantined.iter().map(|q| q.peer).collect();
        assert!(q.contains(&3) && q.contains(&7), "{ctx}");
        assert!(
            !q.contains(&0) && !q.contains(&1) && !q.contains(&2),
            "{ctx}"
        );
        let q7 = r.quarantined.iter().find(|q| q.peer == 7).unwrap();
        assert!(q7.reason.contains("malformed"), "{ctx}");
        for kind in ["unknown_version", "wrong_dimension", "not_finite"] {
            assert_eq!(r.counters.malformed.get(kind), Some(&1), "{kind}: {ctx}");
        }
        // none of the liar's proposals entered the library
        assert!(
            r.decisions.iter().all(|d| !(d.accepted && d.proposer == 3)),
            "{ctx}"
        );
        assert!(r.counters.accepted >= 1, "{ctx}");
        // every proposal this peer made or took for voting was decided: nothing hangs
        assert_eq!(
            r.decisions.len() as u64,
            r.counters.received + r.counters.proposed,
            "{ctx}"
        );
        // after peer 2 vanished, decisions went on without it: a decision later than the kill
        // + the vote timeout (3 s) + 1 s is on a proposal that arrived after the kill
        let after: Vec<_> = r
            .decisions
            .iter()
            .filter(|d| d.at > killed_at + 4.0)
            .collect();
        assert!(!after.is_empty(), "no decision after the kill: {ctx}");
        assert!(after.iter().all(|d| !d.voters.contains(&2)), "{ctx}");
        // confidence = BIAS over the counted votes; accepted iff >= 0.7
        for dcs in &r.decisions {
            if dcs.votes.is_empty() {
                assert!(!dcs.accepted);
                continue;
            }
            let b = bias(&dcs.votes);
            assert!((b - dcs.confidence as f64).abs() < 1e-5, "{dcs:?}");
            if dcs.reason == "accepted" {
                assert!(dcs.accepted && b >= 0.7, "{dcs:?}");
            }
        }
        // the library on disk: checksum verified, one entry per accepted decision, with lineage
        let lib = Library::load(&r.library).unwrap();
        let accepted: Vec<&str> = r
            .decisions
            .iter()
            .filter(|d| d.accepted)
            .map(|d| d.proposal_id.as_str())
            .collect();
        let ids: Vec<&str> = lib.entries.iter().map(|e| e.proposal_id.as_str()).collect();
        assert_eq!(ids, accepted);
        assert_eq!(lib.lineage, r.lineage);
        assert_eq!(lib.lineage.len(), 64);
        // the liar's votes count until it is quarantined, never after
        let q3 = r.quarantined.iter().find(|q| q.peer == 3).unwrap().at;
        for e in &lib.entries {
            let ctx = format!(
                "{} {:?} {:?} at {}",
                e.proposal_id, e.voters, e.votes, e.decided_at
            );
            assert!(
                !e.voters.is_empty() && e.voters.len() == e.votes.len(),
                "{ctx}"
            );
            assert!(!e.voters.contains(&e.proposer), "{ctx}");
            // what the proposer's experiences commanded travels with the primitive
            let m = sattva::substrate::ActionMemory::from_flat(&e.action_memory);
            assert!(
                m.is_some_and(|m| m.joints > 0 && m.bins > 0 && m.duration_s > 0.0),
                "{ctx}: action memory of {} values",
                e.action_memory.len()
            );
            assert!(
                !e.voters.contains(&3) || e.decided_at <= q3,
                "{ctx}, 3 quarantined at {q3}"
            );
            assert!(
                e.decided_at >= e.proposed_at && e.proposed_at > 1e9,
                "{ctx}"
            );
        }
        let lq: Vec<u32> = lib.quarantined.iter().map(|q| q.peer).collect();
        assert!(lq.contains(&3) && lq.contains(&7), "{lq:?}");
    }
    // the two survivors share one lineage (same calibration) and decided alike on the
    // proposals both decided
    assert_eq!(results[0].lineage, results[1].lineage);
}
