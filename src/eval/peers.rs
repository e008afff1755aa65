//! `sattva eval peers`: the same agents (same seeds, same training scenarios) learning alone,
//! as a team over ROS 2, and as a team with one faulty peer; figures and an HTML report.
//!
//! Figures (every one computed from the peers' results, `team::PeerResult`):
//! * coverage: primitives of the curriculum with at least one entry in a peer's library (the
//!   smallest over the honest peers of the honest team, and the union);
//! * agreement on validity: over every decision an honest peer took with a quorum (validity
//!   judged: accepted, or below the threshold) and every vote it counted from an honest voter,
//!   the share of votes whose own verdict (vote >= threshold) equals the decision; the same
//!   over all decisions; and the share of proposals that every honest peer decided alike;
//! * learning speed: training episodes until literacy over the last `team::LITERACY_WINDOW`
//!   episodes (recognised as their primitive before being learned) reaches 90 %, per agent,
//!   alone vs with peers (an agent that never gets there counts as its episode count);
//! * faulty peer: honest peers that quarantined it, entries it proposed in the honest peers'
//!   libraries (poisoned accepted), honest peers quarantined by mistake, honest literacy
//!   (novel scenarios recognised as their primitive at the end).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::EvalError;
use crate::team::{launch, PeerResult, TeamArgs};

/// Figures of a `sattva eval peers` run.
#[derive(Clone, Debug, Default)]
pub struct PeersReport {
    /// Agents per team.
    pub n: u32,
    /// Curriculum primitives.
    pub primitives: usize,
    /// Acceptance threshold.
    pub threshold: f64,
    /// Results: alone, honest team, team with the last peer faulty.
    pub alone: Vec<PeerResult>,
    /// See `alone`.
    pub team: Vec<PeerResult>,
    /// See `alone`.
    pub faulty: Vec<PeerResult>,
    /// Smallest library coverage over the honest team's peers, and of the union.
    pub coverage: (usize, usize),
    /// Votes agreeing with the decision / compared, over the decisions taken with a quorum.
    pub agreement: (usize, usize),
    /// The same over every decision (a lone vote of a "no quorum" decision counts too).
    pub agreement_all: (usize, usize),
    /// Proposals every honest peer decided alike / decided by all.
    pub consistent: (usize, usize),
    /// Mean episodes to 90 % literacy: alone, with peers (never: the episode count).
    pub episodes_to_90: (f64, f64),
    /// Agents that reached 90 %: alone, with peers.
    pub reached: (usize, usize),
    /// Faulty run: honest peers that quarantined the faulty one / honest peers.
    pub quarantined_by: (usize, usize),
    /// Faulty run: library entries proposed by the faulty peer, over all honest libraries.
    pub poisoned_accepted: usize,
    /// Faulty run: proposals of the faulty peer seen decided by honest peers.
    pub faulty_proposals: usize,
    /// Faulty run: honest peers quarantined by an honest peer.
    pub false_quarantines: usize,
    /// Mean novel-scenario literacy: alone, team, honest peers of the faulty run.
    pub literacy: (f64, f64, f64),
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// Agreement of counted honest votes with the decisions of honest deciders: over the decisions
/// that judged validity (`judged`: a quorum voted; not "no quorum", not "proposer
/// quarantined"), or over all.
fn agreement(rs: &[&PeerResult], threshold: f64, judged: bool) -> (usize, usize) {
    let honest: BTreeSet<u32> = rs.iter().map(|r| r.id).collect();
    let mut n = (0, 0);
    for r in rs {
        for d in &r.decisions {
            let was_judged = d.reason == "accepted" || d.reason.starts_with("confidence");
            if !honest.contains(&d.proposer) || (judged && !was_judged) {
                continue;
            }
            for (v, x) in d.voters.iter().zip(&d.votes) {
                if honest.contains(v) {
                    n.1 += 1;
                    if (*x as f64 >= threshold) == d.accepted {
                        n.0 += 1;
                    }
                }
            }
        }
    }
    n
}

/// Proposals decided alike by every honest peer that decided them (all of them).
fn consistency(rs: &[&PeerResult]) -> (usize, usize) {
    let mut by: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for r in rs {
        for d in &r.decisions {
            by.entry(&d.proposal_id).or_default().push(d.accepted);
        }
    }
    let all: Vec<&Vec<bool>> = by.values().filter(|v| v.len() == rs.len()).collect();
    let same = all.iter().filter(|v| v.iter().all(|&a| a == v[0])).count();
    (same, all.len())
}

fn coverage(rs: &[&PeerResult], primitives: &[String]) -> (usize, usize) {
    let of = |r: &PeerResult| -> BTreeSet<String> {
        r.library_labels
            .iter()
            .filter(|l| primitives.contains(l))
            .cloned()
            .collect()
    };
    let min = rs.iter().map(|r| of(r).len()).min().unwrap_or(0);
    let union: BTreeSet<String> = rs.iter().flat_map(|r| of(r)).collect();
    (min, union.len())
}

/// Runs the three teams of `t.n` agents (alone, honest, one faulty) into `t.out/{alone,team,
/// faulty}` and writes `report.html` and `literacy.svg` into `t.out`; `threshold` is the
/// teams' `peers.threshold`.
pub fn run_peers(t: &TeamArgs, threshold: f64) -> Result<PeersReport, EvalError> {
    let run = |name: &str, alone: bool, faulty: bool| -> Result<Vec<PeerResult>, EvalError> {
        let mut a = t.clone();
        a.alone = alone;
        a.faulty = faulty;
        a.out = t.out.join(name);
        tracing::info!(team = name, n = a.n, "eval peers: starting");
        launch(&a).map_err(|e| EvalError::Scene(format!("{name}: {e}")))
    };
    let alone = run("alone", true, false)?;
    let team = run("team", false, false)?;
    let faulty = run("faulty", false, true)?;
    let primitives = team
        .first()
        .map(|r| r.primitives.clone())
        .unwrap_or_default();
    let honest_team: Vec<&PeerResult> = team.iter().collect();
    let honest_f: Vec<&PeerResult> = faulty.iter().filter(|r| !r.faulty).collect();
    let bad: BTreeSet<u32> = faulty.iter().filter(|r| r.faulty).map(|r| r.id).collect();
    let to90 = |rs: &[PeerResult]| -> (f64, usize) {
        (
            mean(rs.iter().map(|r| {
                r.episodes_to(0.9)
                    .map_or(r.train.len() as f64, |e| e as f64)
            })),
            rs.iter().filter(|r| r.episodes_to(0.9).is_some()).count(),
        )
    };
    let (a90, ar) = to90(&alone);
    let (t90, tr) = to90(&team);
    let ids: BTreeSet<u32> = faulty.iter().map(|r| r.id).collect();
    let mut report = PeersReport {
        n: t.n,
        primitives: primitives.len(),
        threshold,
        coverage: coverage(&honest_team, &primitives),
        agreement: agreement(&honest_team, threshold, true),
        agreement_all: agreement(&honest_team, threshold, false),
        consistent: consistency(&honest_team),
        episodes_to_90: (a90, t90),
        reached: (ar, tr),
        quarantined_by: (
            honest_f
                .iter()
                .filter(|r| r.quarantined.iter().any(|q| bad.contains(&q.peer)))
                .count(),
            honest_f.len(),
        ),
        poisoned_accepted: honest_f
            .iter()
            .flat_map(|r| {
                r.decisions
                    .iter()
                    .filter(|d| d.accepted && bad.contains(&d.proposer))
            })
            .count(),
        faulty_proposals: honest_f
            .iter()
            .flat_map(|r| r.decisions.iter().filter(|d| bad.contains(&d.proposer)))
            .count(),
        false_quarantines: honest_f
            .iter()
            .flat_map(|r| r.quarantined.iter())
            .filter(|q| ids.contains(&q.peer) && !bad.contains(&q.peer))
            .map(|q| q.peer)
            .collect::<BTreeSet<u32>>()
            .len(),
        literacy: (
            mean(alone.iter().map(|r| r.literacy())),
            mean(team.iter().map(|r| r.literacy())),
            mean(honest_f.iter().map(|r| r.literacy())),
        ),
        alone,
        team,
        faulty,
        files: Vec::new(),
    };
    report.files = write_report(&report, t)?;
    Ok(report)
}

fn io(file: &std::path::Path) -> impl Fn(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io {
        file: file.display().to_string(),
        source,
    }
}

/// Mean windowed literacy curve over `rs` (episodes where every agent has a value).
fn mean_curve(rs: &[PeerResult]) -> Vec<(f64, f64)> {
    let curves: Vec<Vec<(f64, f64)>> = rs.iter().map(|r| r.literacy_curve()).collect();
    let n = curves.iter().map(|c| c.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| (curves[0][i].0, mean(curves.iter().map(|c| c[i].1)) * 100.0))
        .collect()
}

fn write_report(r: &PeersReport, t: &TeamArgs) -> Result<Vec<PathBuf>, EvalError> {
    std::fs::create_dir_all(&t.out).map_err(io(&t.out))?;
    let svg = t.out.join("literacy.svg");
    let honest_f: Vec<PeerResult> = r.faulty.iter().filter(|p| !p.faulty).cloned().collect();
    crate::replay::report::plot_lines(
        &svg,
        "literacy over the last 20 training episodes (mean over agents)",
        ("training episodes per agent", "literacy, %"),
        &[
            ("alone", mean_curve(&r.alone)),
            ("with peers", mean_curve(&r.team)),
            (
                "with peers, one faulty (honest agents)",
                mean_curve(&honest_f),
            ),
        ],
    )
    .map_err(|e| EvalError::Scene(e.to_string()))?;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sattva eval peers</title>\
         <style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style></head><body>",
    );
    let _ = write!(
        html,
        "<h1>sattva eval peers</h1><pre>{}</pre><h2>Literacy while learning</h2>\
         <img src=\"literacy.svg\" alt=\"literacy over episodes\">",
        esc(&r.to_string())
    );
    for (name, rs) in [
        ("alone", &r.alone),
        ("team", &r.team),
        ("faulty", &r.faulty),
    ] {
        let _ = write!(
            html,
            "<h2>{name}</h2><pre>{}</pre>",
            esc(&crate::team::summary(rs))
        );
    }
    html.push_str("</body></html>");
    let page = t.out.join("report.html");
    std::fs::write(&page, html).map_err(io(&page))?;
    Ok(vec![page, svg])
}

impl fmt::Display for PeersReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        writeln!(f, "sattva eval peers ({} agents per team)", self.n)?;
        writeln!(
            f,
            "  coverage          {}/{} primitives in every honest library ({} in the union)",
            self.coverage.0, self.primitives, self.coverage.1
        )?;
        writeln!(
            f,
            "  agreement         {:.1} % of honest votes agree with the decision taken with a quorum ({}/{}; over all decisions {:.1} %); {:.1} % of proposals decided alike by all ({}/{})",
            pct(self.agreement.0, self.agreement.1),
            self.agreement.0,
            self.agreement.1,
            pct(self.agreement_all.0, self.agreement_all.1),
            pct(self.consistent.0, self.consistent.1),
            self.consistent.0,
            self.consistent.1
        )?;
        let speed = if self.episodes_to_90.1 > 0.0 {
            self.episodes_to_90.0 / self.episodes_to_90.1
        } else {
            0.0
        };
        writeln!(
            f,
            "  episodes to 90 %  alone {:.1} ({} of {} reached), with peers {:.1} ({} reached): {:.2}x",
            self.episodes_to_90.0,
            self.reached.0,
            self.alone.len(),
            self.episodes_to_90.1,
            self.reached.1,
            speed
        )?;
        writeln!(
            f,
            "  literacy (novel)  alone {:.1} %, with peers {:.1} %, honest with a faulty peer {:.1} %",
            100.0 * self.literacy.0,
            100.0 * self.literacy.1,
            100.0 * self.literacy.2
        )?;
        writeln!(
            f,
            "  faulty peer       quarantined by {}/{} honest peers; {} of its {} proposals accepted; {} honest peers quarantined",
            self.quarantined_by.0,
            self.quarantined_by.1,
            self.poisoned_accepted,
            self.faulty_proposals,
            self.false_quarantines
        )?;
        for p in &self.files {
            writeln!(f, "  wrote             {}", p.display())?;
        }
        Ok(())
    }
}
