//! `sattva eval perform`: act from what was learned. The agent learns the curriculum (as `sattva
//! eval literacy` does: calibration, then training episodes), then performs each learned
//! attractor's action memory from novel start poses (`eval.start_pose.novel`) and, where the
//! scene has an object, novel object positions and masses - through the same control loop and
//! safety clamp - and recognises each performance without learning it. Success = the
//! performance's experience is recognised as the requested attractor.
//!
//! [`run_perform`] returns a [`PerformReport`] (Display: the text summary; [`html_section`]:
//! an HTML/SVG section other reports can include).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::report::{esc, io};
use super::{EvalError, Split};
use crate::action::{PerformGoal, PerformTrial, PlanRequest};
use crate::agent::AgentOptions;
use crate::backend::EpisodeSetup;
use crate::config::Config;
use crate::learn::Role;
use crate::substrate::AttractorId;

/// Options of one perform evaluation (defaults: the config's `eval:` section).
#[derive(Clone, Debug)]
pub struct PerformOptions {
    /// Training episodes (overrides `eval.train_episodes`).
    pub train: Option<u32>,
    /// Calibration episodes (overrides `eval.calibration_episodes`).
    pub calibration: Option<u32>,
    /// Performances per attractor.
    pub trials: u32,
    /// Attractors that absorbed fewer experiences are not performed (noise).
    pub min_count: u64,
    /// Speed factor of the performances (1 = the attractor's own mean duration).
    pub speed: f64,
    /// Perform only one attractor per label: the one that absorbed the most experiences (what
    /// a label names, see `Learner::resolve_text`).
    pub per_label: bool,
    /// Where to write `perform.html` (none: nothing).
    pub out_dir: Option<PathBuf>,
}

impl Default for PerformOptions {
    fn default() -> Self {
        PerformOptions {
            train: None,
            calibration: None,
            trials: 4,
            min_count: 3,
            speed: 1.0,
            per_label: false,
            out_dir: None,
        }
    }
}

/// One performance.
#[derive(Clone, Debug, PartialEq)]
pub struct PerformRow {
    /// The requested attractor.
    pub attractor: u32,
    /// Its label (the primitive the teacher named most in it).
    pub label: &'static str,
    /// Start pose factor (`eval.start_pose.novel`).
    pub start: f64,
    /// Object offset, m.
    pub object: [f64; 2],
    /// The attractor the performance was recognised as (-1: none).
    pub recognised: i64,
    /// Its similarity.
    pub similarity: f32,
    /// Its label (a curriculum primitive's name), if any.
    pub recognised_label: Option<&'static str>,
}

impl PerformRow {
    /// Recognised as the requested attractor.
    pub fn success(&self) -> bool {
        self.recognised == self.attractor as i64
    }
}

/// Figures of a perform evaluation.
#[derive(Clone, Debug)]
pub struct PerformReport {
    /// Seed.
    pub seed: u64,
    /// The config file.
    pub config: String,
    /// Live attractors after training.
    pub attractors: usize,
    /// Attractors performed: id, label, experiences absorbed.
    pub performed: Vec<(u32, &'static str, u64)>,
    /// Every performance.
    pub rows: Vec<PerformRow>,
    /// Performances planned but without an experience (e.g. the segment was dropped).
    pub missing: usize,
    /// Share recognised as the requested attractor.
    pub overall: f64,
    /// Share recognised as an attractor with the requested one's label.
    pub same_label: f64,
    /// Clamp interventions (clamped or rate-limited targets) while performing.
    pub clamp_events: u64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl PerformReport {
    /// Per attractor: (id, label, performances, recognised as requested).
    pub fn per_attractor(&self) -> Vec<(u32, &'static str, usize, usize)> {
        let mut m: BTreeMap<u32, (&'static str, usize, usize)> = BTreeMap::new();
        for r in &self.rows {
            let e = m.entry(r.attractor).or_insert((r.label, 0, 0));
            e.1 += 1;
            e.2 += r.success() as usize;
        }
        m.into_iter().map(|(k, (l, n, ok))| (k, l, n, ok)).collect()
    }
}

/// Runs the perform evaluation on the MuJoCo scene of `c` (see the module docs).
pub fn run_perform(c: &Config, opts: &PerformOptions) -> Result<PerformReport, EvalError> {
    let started = Instant::now();
    let e = &c.eval;
    let mut c = c.clone();
    c.learn.snapshot.clear();
    c.learn.resume.clear();
    c.learn.enabled = true;
    // 1. learn the curriculum
    let request = PlanRequest {
        calibration: opts.calibration.unwrap_or(e.calibration_episodes) as usize,
        train: opts.train.unwrap_or(e.train_episodes) as usize,
        novel: 0,
        offset: 0,
        continual: false,
        then: Vec::new(),
    };
    let mut learned = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(0.0),
            curriculum: Some(request),
            ..Default::default()
        },
    )?;
    let learner = learned
        .learner
        .take()
        .ok_or_else(|| EvalError::Scene("the agent ran without learning".into()))?;
    let plan = learned.curriculum.take().unwrap_or_default();
    let object = plan.scenarios.iter().any(|s| s.params.object != [0.0, 0.0]);
    // 2. the attractors to perform: labelled, with an action memory, not noise
    let t_end = learned.span.1;
    let s = learner.substrate();
    let mut performed = Vec::new();
    for id in s.ids() {
        let Some(a) = s.attractor(id, t_end) else {
            continue;
        };
        let label = a
            .labels
            .iter()
            .find_map(|l| plan.names.iter().copied().find(|n| n == l));
        if let (Some(label), Some(_)) = (label, s.action(id)) {
            if a.activation_count >= opts.min_count {
                performed.push((id.0, label, a.activation_count));
            }
        }
    }
    if opts.per_label {
        // the most experienced attractor of each label (ties: the lower id)
        let mut best: BTreeMap<&'static str, (u32, &'static str, u64)> = BTreeMap::new();
        for p in performed {
            let e = best.entry(p.1).or_insert(p);
            if p.2 > e.2 {
                *e = p;
            }
        }
        performed = best.into_values().collect();
        performed.sort();
    }
    if performed.is_empty() {
        return Err(EvalError::Scene(
            "no learned attractor has an action memory to perform".into(),
        ));
    }
    // 3. trials: novel start poses, object positions and masses, noise seeds
    let n = performed.len() * opts.trials.max(1) as usize;
    let draws = super::curriculum(
        &c.eval,
        &["perform"],
        &[0],
        object,
        Split::Novel,
        n,
        c.seed ^ 0x0070_6572,
    );
    let mut trials = Vec::with_capacity(n);
    for (i, d) in draws.iter().enumerate() {
        let (id, label, _) = performed[i % performed.len()];
        let mem = s
            .action(AttractorId(id))
            .ok_or_else(|| EvalError::Scene(format!("attractor {id} lost its action memory")))?;
        let goal = PerformGoal::new(i as u32, id, label, mem, opts.speed, c.control.period_ns)
            .map_err(|e| EvalError::Scene(e.to_string()))?;
        trials.push(PerformTrial {
            goal,
            setup: EpisodeSetup {
                seed: d.params.seed,
                object_offset: d.params.object,
                object_mass: d.params.mass,
            },
            start: d.params.start,
        });
    }
    // 4. perform them with the learned agent, recognising each performance
    let mut run = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(0.0),
            learner: Some(learner),
            perform: Some(trials.clone()),
            journal: true,
            ..Default::default()
        },
    )?;
    let learner = run
        .learner
        .take()
        .ok_or_else(|| EvalError::Scene("the agent ran without learning".into()))?;
    let mut rows = Vec::with_capacity(n);
    for j in learner.journal() {
        let Some(tag) = j.tag.filter(|t| t.role == Role::Perform) else {
            continue;
        };
        let Some(tr) = trials.get(tag.episode as usize) else {
            continue;
        };
        rows.push(PerformRow {
            attractor: tr.goal.attractor,
            label: tr.goal.label,
            start: tr.start,
            object: tr.setup.object_offset,
            recognised: j.recalled,
            similarity: j.similarity,
            recognised_label: None,
        });
    }
    let s = learner.substrate();
    let label_of = |id: i64| -> Option<&'static str> {
        let a = s.attractor(AttractorId(u32::try_from(id).ok()?), t_end)?;
        let l = a.labels.first()?;
        plan.names.iter().copied().find(|n| n == l)
    };
    for r in &mut rows {
        r.recognised_label = label_of(r.recognised);
    }
    let share = |k: usize| k as f64 / rows.len().max(1) as f64;
    let ok = rows.iter().filter(|r| r.success()).count();
    let same = rows
        .iter()
        .filter(|r| r.recognised_label == Some(r.label))
        .count();
    let mut out = PerformReport {
        seed: c.seed,
        config: c.source.display().to_string(),
        attractors: s.len(),
        performed,
        missing: n.saturating_sub(rows.len()),
        overall: share(ok),
        same_label: share(same),
        clamp_events: run.clamp.0 + run.clamp.1,
        wall_s: 0.0,
        files: Vec::new(),
        rows,
    };
    out.wall_s = started.elapsed().as_secs_f64();
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let p = dir.join("perform.html");
        std::fs::write(&p, html(&out)).map_err(io(&p))?;
        out.files.push(p);
    }
    Ok(out)
}

impl fmt::Display for PerformReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sattva eval perform ({}, seed {}): {} attractors performed ({} live), {} performances",
            self.config,
            self.seed,
            self.performed.len(),
            self.attractors,
            self.rows.len()
        )?;
        for (id, label, n, ok) in self.per_attractor() {
            writeln!(
                f,
                "  attractor {id:>4} {label:<24} {ok:>3} / {n:<3} recognised as requested"
            )?;
        }
        let misses: Vec<String> = self
            .rows
            .iter()
            .filter(|r| !r.success())
            .map(|r| {
                let got = r.recognised_label.unwrap_or("(no label)");
                format!("{} {} -> {} {got}", r.attractor, r.label, r.recognised)
            })
            .collect();
        if !misses.is_empty() {
            let more = misses.len().saturating_sub(12);
            writeln!(
                f,
                "  misses (requested -> recognised): {}{}",
                misses[..misses.len().min(12)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
        writeln!(
            f,
            "  recognised as requested      {:.1} % (goal >= 90 %)",
            100.0 * self.overall
        )?;
        writeln!(
            f,
            "  recognised as its label      {:.1} %",
            100.0 * self.same_label
        )?;
        if self.missing > 0 {
            writeln!(f, "  performances without an experience: {}", self.missing)?;
        }
        writeln!(f, "  clamp interventions          {}", self.clamp_events)?;
        write!(f, "  wall time                    {:.1} s", self.wall_s)
    }
}

/// An HTML section: the summary and an SVG bar per attractor (share recognised as requested).
pub fn html_section(r: &PerformReport) -> String {
    let per = r.per_attractor();
    let (w, row) = (520, 18);
    let h = row * per.len() + 30;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">"#
    );
    for (i, (id, label, n, ok)) in per.iter().enumerate() {
        let y = 10 + i * row;
        let share = *ok as f64 / (*n).max(1) as f64;
        let bw = (share * 300.0).round();
        let color = if share >= 0.9 {
            "rgb(40,150,80)"
        } else {
            "rgb(200,90,40)"
        };
        let _ = write!(
            svg,
            r#"<text x="0" y="{}">{} {}</text><rect x="180" y="{}" width="{bw}" height="{}" fill="{color}"/><text x="{}" y="{}">{ok}/{n}</text>"#,
            y + 12,
            id,
            esc(label),
            y + 2,
            row - 4,
            185.0 + bw,
            y + 12
        );
    }
    let x90 = 180.0 + 0.9 * 300.0;
    let _ = write!(
        svg,
        r#"<line x1="{x90}" y1="5" x2="{x90}" y2="{}" stroke="black" stroke-dasharray="3,3"/></svg>"#,
        h - 10
    );
    format!(
        "<h2>Perform: recognised as the requested attractor</h2><pre>{}</pre>{svg}",
        esc(&r.to_string())
    )
}

fn html(r: &PerformReport) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>sattva perform</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em}}</style></head><body>{}</body></html>",
        html_section(r)
    )
}

/// Path of the HTML page inside `dir`.
pub fn html_path(dir: &Path) -> PathBuf {
    dir.join("perform.html")
}
