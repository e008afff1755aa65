//! `sattva eval literacy`: train the substrate on curriculum episodes, recognise novel
//! scenarios, and measure what was learned.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::metrics::{confusion, majority_map, nmi, purity, recognise};
use super::{EvalError, Scenario, Split};
use crate::action::PlanRequest;
use crate::agent::{AgentOptions, Progress};
use crate::config::Config;
use crate::learn::Role;

/// Options of one literacy run (defaults: the config's `eval:` section).
#[derive(Clone, Debug, Default)]
pub struct LiteracyOptions {
    /// Training episodes (overrides `eval.train_episodes`).
    pub train: Option<u32>,
    /// Novel episodes (overrides `eval.novel_episodes`).
    pub novel: Option<u32>,
    /// Calibration episodes (overrides `eval.calibration_episodes`).
    pub calibration: Option<u32>,
    /// Where to write the report and the export (none: write nothing).
    pub out_dir: Option<PathBuf>,
    /// Show a progress bar.
    pub progress: bool,
}

/// One encoded episode with its truth and assignment.
#[derive(Clone, Debug)]
pub struct Row {
    /// The scenario.
    pub scenario: Scenario,
    /// The experience vector.
    pub vector: Vec<f32>,
    /// Attractor the final substrate assigns (recall), -1 when none.
    pub cluster: i64,
}

/// Figures of a literacy run.
#[derive(Clone, Debug)]
pub struct LiteracyReport {
    /// Seed.
    pub seed: u64,
    /// Primitive names (label order).
    pub labels: Vec<&'static str>,
    /// Training rows (in learning order) and novel rows.
    pub train: Vec<Row>,
    /// Novel-scenario rows.
    pub novel: Vec<Row>,
    /// Live attractors at the end of training.
    pub attractors: usize,
    /// Attractors that own at least one training experience (after training).
    pub labelled_attractors: usize,
    /// Primitives that are the majority of an attractor and recognised in at least half of their
    /// novel scenarios.
    pub distinguished: usize,
    /// Purity of the training experiences' final assignment.
    pub purity: f64,
    /// NMI of the same.
    pub nmi: f64,
    /// Recognition accuracy on the novel scenarios.
    pub accuracy: f64,
    /// Continual learning (`eval.continual`): recognition of the first half's primitives on
    /// their novel scenarios right after the first half of training, and the same scenarios
    /// after the second half; backward transfer = after - before (LIBERO's BWT; negative:
    /// forgetting).
    pub continual: Option<Continual>,
    /// Primitives the robot could not perform, and why.
    pub skipped: Vec<(String, String)>,
    /// Chance level (1 / primitives).
    pub chance: f64,
    /// Confusion `[truth][predicted]`, last column: unmapped attractor / none.
    pub confusion: Vec<Vec<u64>>,
    /// Live attractors after each training experience.
    pub attractors_over_time: Vec<usize>,
    /// Learning time per experience (substrate.learn), us: p50, p99, max.
    pub learn_us: [f64; 3],
    /// Wall time per episode (simulation, fusion, encoding, learning), ms: mean.
    pub episode_ms: f64,
    /// Control cycles run.
    pub cycles: u64,
    /// Simulated seconds.
    pub sim_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Clamp interventions (clamped or rate-limited targets).
    pub clamp_events: u64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Backward transfer of a continual run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Continual {
    /// Primitives trained in the first half.
    pub first_half: usize,
    /// Their recognition right after the first half.
    pub before: f64,
    /// The same scenarios' recognition at the end.
    pub after: f64,
}

impl Continual {
    /// Backward transfer, after - before.
    pub fn bwt(&self) -> f64 {
        self.after - self.before
    }
}

pub(super) fn bar(n: u64, on: bool) -> ProgressBar {
    if !on {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:>12} [{bar:40}] {pos}/{len} episodes eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    b
}

/// Runs the literacy evaluation on the MuJoCo scene of `c`: the agent (virtual time) performs
/// the curriculum (calibration, training, then novel scenarios recognised only), keeping a
/// journal of its experiences; the final substrate assigns the training experiences.
pub fn run_literacy(c: &Config, opts: &LiteracyOptions) -> Result<LiteracyReport, EvalError> {
    let started = Instant::now();
    let e = &c.eval;
    let n_train = opts.train.unwrap_or(e.train_episodes) as usize;
    let n_novel = opts.novel.unwrap_or(e.novel_episodes) as usize;
    let n_cal = opts.calibration.unwrap_or(e.calibration_episodes) as usize;
    let mut c = c.clone();
    c.learn.snapshot.clear();
    c.learn.resume.clear();
    c.learn.enabled = true;
    let request = PlanRequest {
        calibration: n_cal,
        train: n_train,
        novel: n_novel,
        offset: 0,
        continual: e.continual,
        then: Vec::new(),
    };
    // (probes of a continual plan add up to half the novel episodes)
    let total = (n_cal + n_train + n_novel + if e.continual { n_novel / 2 } else { 0 }) as u64;
    let pb = bar(total, opts.progress);
    let tick = pb.clone();
    let mut report = crate::agent::run(
        &c,
        AgentOptions {
            virtual_rate: Some(0.0),
            curriculum: Some(request),
            journal: true,
            on_tick: Some(Box::new(move |p: &Progress| {
                tick.set_position(p.episodes.load(std::sync::atomic::Ordering::Relaxed))
            })),
            ..Default::default()
        },
    )?;
    pb.finish_and_clear();
    let mut learner = report
        .learner
        .take()
        .ok_or_else(|| EvalError::Scene("the agent ran without learning".into()))?;
    let summary = report.learn.clone().unwrap_or_default();
    let plan_info = report.curriculum.take().unwrap_or_default();
    let plan = &plan_info.scenarios;
    let names = plan_info.names.clone();
    let journal = learner.journal().to_vec();
    let row = |j: &crate::learn::JournalEntry| -> Option<Row> {
        let tag = j.tag?;
        let scenario = *plan.get(tag.episode as usize)?;
        Some(Row {
            scenario,
            vector: j.vector.clone(),
            cluster: j.recalled,
        })
    };
    let t_end = report.span.1;
    let mut train = Vec::with_capacity(n_train);
    let mut novel = Vec::with_capacity(n_novel);
    let mut probes = Vec::new();
    // attractor -> label as learned up to the probes (the learner's own assignment then)
    let mut mid_pairs: Vec<(i64, usize)> = Vec::new();
    let mut over_time = Vec::with_capacity(n_train);
    let mut live = std::collections::BTreeSet::new();
    for j in &journal {
        let Some(r) = row(j) else { continue };
        match j.tag.map(|t| t.role) {
            Some(Role::Learn) => {
                if j.learned >= 0 {
                    live.insert(j.learned);
                }
                if probes.is_empty() {
                    mid_pairs.push((j.learned, r.scenario.primitive));
                }
                over_time.push(live.len());
                train.push(r);
            }
            Some(Role::Recognise) if r.scenario.split == Split::Probe => probes.push(r),
            Some(Role::Recognise) => novel.push(r),
            _ => {}
        }
    }
    // assignments of the training experiences by the final substrate
    for r in &mut train {
        r.cluster = learner.recall(t_end, &r.vector)?.0;
    }
    if !train.is_empty() && train.len() != n_train {
        tracing::warn!(
            learned = train.len(),
            planned = n_train,
            "not every training episode became an experience"
        );
    }
    let clusters: Vec<i64> = train.iter().map(|r| r.cluster).collect();
    let labels: Vec<usize> = train.iter().map(|r| r.scenario.primitive).collect();
    let map = majority_map(&clusters, &labels);
    let truth: Vec<usize> = novel.iter().map(|r| r.scenario.primitive).collect();
    let predicted: Vec<i64> = novel.iter().map(|r| r.cluster).collect();
    let (accuracy, pred) = recognise(&map, &predicted, &truth);
    let continual = (!probes.is_empty()).then(|| {
        let (mc, ml): (Vec<i64>, Vec<usize>) = mid_pairs.iter().copied().unzip();
        let mid_map = majority_map(&mc, &ml);
        let pt: Vec<usize> = probes.iter().map(|r| r.scenario.primitive).collect();
        let pp: Vec<i64> = probes.iter().map(|r| r.cluster).collect();
        let before = recognise(&mid_map, &pp, &pt).0;
        // the same scenarios (seeds) recognised at the end
        let again: Vec<&Row> = novel
            .iter()
            .filter(|r| {
                probes
                    .iter()
                    .any(|p| p.scenario.params.seed == r.scenario.params.seed)
            })
            .collect();
        let at: Vec<usize> = again.iter().map(|r| r.scenario.primitive).collect();
        let ap: Vec<i64> = again.iter().map(|r| r.cluster).collect();
        let after = recognise(&map, &ap, &at).0;
        let first: std::collections::BTreeSet<usize> = pt.iter().copied().collect();
        Continual {
            first_half: first.len(),
            before,
            after,
        }
    });
    let nl = names.len().max(1);
    let conf = confusion(nl, &pred, &truth);
    let distinguished = (0..nl)
        .filter(|&p| {
            let owns = map.values().any(|&l| l == p);
            let n: u64 = conf[p].iter().sum();
            owns && n > 0 && conf[p][p] * 2 >= n
        })
        .count();
    let episodes = (n_cal + n_train + n_novel).max(1) as f64;
    let mut out = LiteracyReport {
        seed: c.seed,
        labels: names,
        attractors: learner.substrate().len(),
        labelled_attractors: map.keys().filter(|&&k| k >= 0).count(),
        distinguished,
        purity: purity(&clusters, &labels),
        nmi: nmi(&clusters, &labels),
        accuracy,
        continual,
        skipped: plan_info.skipped.clone(),
        chance: 1.0 / nl as f64,
        confusion: conf,
        attractors_over_time: over_time,
        learn_us: summary.learn_us,
        episode_ms: report.wall_s * 1e3 / episodes,
        cycles: report.stats.cycles,
        sim_s: report.seconds(),
        wall_s: 0.0,
        clamp_events: report.clamp.0 + report.clamp.1,
        files: Vec::new(),
        train,
        novel,
    };
    if let Some(dir) = &opts.out_dir {
        out.files = super::report::write_all(&out, dir)?;
        let snap = dir.join("substrate.snap");
        learner.substrate_mut().save(&snap)?;
        out.files.push(snap);
    }
    out.wall_s = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Path of the exported experiences inside `dir`.
pub fn export_path(dir: &Path) -> PathBuf {
    dir.join("experiences.csv")
}
