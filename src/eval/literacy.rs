//! `sattva eval literacy`: train the substrate on curriculum episodes, recognise novel
//! scenarios, and measure what was learned.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use super::episode::{EpisodeRunner, EvalError};
use super::metrics::{confusion, majority_map, nmi, purity, quantile, recognise};
use super::{curriculum, Scenario, Split};
use crate::action::PRIMITIVES;
use crate::config::Config;
use crate::substrate::{Substrate, SubstrateConfig};
use crate::types::Time;

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
    /// Skip `substrate.learn` (an ablation: recognition must then fail).
    pub no_learning: bool,
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
    /// Largest touch force in the episode, N.
    pub max_touch: f64,
    /// Object displacement, m (ground truth, diagnostics).
    pub object_moved: f64,
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
    /// Chance level (1 / primitives).
    pub chance: f64,
    /// Confusion `[truth][predicted]`, last column: unmapped attractor / none.
    pub confusion: Vec<Vec<u64>>,
    /// Live attractors after each training experience.
    pub attractors_over_time: Vec<usize>,
    /// Learning time per experience (substrate.learn), us: p50, p99, max.
    pub learn_us: [f64; 3],
    /// Wall time per episode (simulation, fusion, encoding), ms: p50, p99.
    pub episode_ms: [f64; 2],
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

fn bar(n: u64, on: bool) -> ProgressBar {
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

/// Substrate settings for the curriculum: the config's `substrate:` with `dim` set to the
/// encoder's output dimension.
pub fn substrate_config(c: &Config, dim: usize) -> SubstrateConfig {
    let mut s = c.substrate.clone();
    s.dim = dim as u64;
    s
}

/// Recall: among the attractors `activate` returns for `v` (context reset first, so episodes
/// are judged independently), the best-matching one (highest similarity; the resonance winner
/// can be a successor of it through the succession edges, which a label must not follow);
/// -1 when the substrate is empty.
pub fn recall(sub: &mut Substrate, t: Time, v: &[f32]) -> Result<i64, EvalError> {
    sub.reset_context();
    let m = sub.activate(t, v)?;
    Ok(m.iter()
        .max_by(|a, b| a.similarity.total_cmp(&b.similarity))
        .map_or(-1, |m| m.id.0 as i64))
}

/// Runs the literacy evaluation on the MuJoCo scene of `c`.
pub fn run_literacy(c: &Config, opts: &LiteracyOptions) -> Result<LiteracyReport, EvalError> {
    let started = Instant::now();
    let e = &c.eval;
    let n_train = opts.train.unwrap_or(e.train_episodes) as usize;
    let n_novel = opts.novel.unwrap_or(e.novel_episodes) as usize;
    let n_cal = opts.calibration.unwrap_or(e.calibration_episodes) as usize;
    let mut runner = EpisodeRunner::new(c)?;
    let mut sub = Substrate::new(substrate_config(c, runner.dim()))?;
    let total = (n_train + n_novel + n_cal) as u64;
    let pb = bar(total, opts.progress);

    // 1. calibrate the encoder's feature statistics, then freeze them
    pb.set_message("calibration");
    for sc in curriculum(e, Split::Calibration, n_cal, c.seed) {
        runner.run(&sc)?;
        pb.inc(1);
    }
    if n_cal > 0 {
        runner.encoder_mut().set_learn_stats(false);
    }

    // 2. train: one experience per episode, learned online
    pb.set_message("training");
    let mut train = Vec::with_capacity(n_train);
    let mut over_time = Vec::with_capacity(n_train);
    let (mut learn_us, mut episode_ms) = (Vec::new(), Vec::new());
    let mut t = Time::ZERO;
    for sc in curriculum(e, Split::Train, n_train, c.seed) {
        let t_ep = Instant::now();
        let out = runner.run(&sc)?;
        episode_ms.push(t_ep.elapsed().as_secs_f64() * 1e3);
        t = t.add_nanos((out.sim_s * 1e9) as i64);
        if !opts.no_learning {
            let t_learn = Instant::now();
            let l = sub.learn(t, &out.experience)?;
            learn_us.push(t_learn.elapsed().as_secs_f64() * 1e6);
            if l.created {
                tracing::debug!(
                    attractor = l.id.0,
                    primitive = sc.primitive.name(),
                    "attractor formed"
                );
            }
        }
        over_time.push(sub.len());
        train.push(Row {
            scenario: sc,
            vector: out.experience,
            cluster: -1,
            max_touch: out.max_touch,
            object_moved: out.object_moved,
        });
        pb.inc(1);
    }
    // assignments of the training experiences by the final substrate
    for r in &mut train {
        r.cluster = recall(&mut sub, t, &r.vector)?;
    }
    let clusters: Vec<i64> = train.iter().map(|r| r.cluster).collect();
    let labels: Vec<usize> = train.iter().map(|r| r.scenario.primitive.index()).collect();
    let map = majority_map(&clusters, &labels);

    // 3. novel scenarios: recognise only
    pb.set_message("novel");
    let mut novel = Vec::with_capacity(n_novel);
    for sc in curriculum(e, Split::Novel, n_novel, c.seed) {
        let out = runner.run(&sc)?;
        t = t.add_nanos((out.sim_s * 1e9) as i64);
        let cluster = recall(&mut sub, t, &out.experience)?;
        novel.push(Row {
            scenario: sc,
            vector: out.experience,
            cluster,
            max_touch: out.max_touch,
            object_moved: out.object_moved,
        });
        pb.inc(1);
    }
    pb.finish_and_clear();
    let truth: Vec<usize> = novel.iter().map(|r| r.scenario.primitive.index()).collect();
    let predicted: Vec<i64> = novel.iter().map(|r| r.cluster).collect();
    let (accuracy, pred) = recognise(&map, &predicted, &truth);
    let nl = PRIMITIVES.len();
    let conf = confusion(nl, &pred, &truth);
    let distinguished = (0..nl)
        .filter(|&p| {
            let owns = map.values().any(|&l| l == p);
            let n: u64 = conf[p].iter().sum();
            owns && n > 0 && conf[p][p] * 2 >= n
        })
        .count();
    let mut report = LiteracyReport {
        seed: c.seed,
        labels: PRIMITIVES.iter().map(|p| p.name()).collect(),
        attractors: sub.len(),
        labelled_attractors: map.keys().filter(|&&k| k >= 0).count(),
        distinguished,
        purity: purity(&clusters, &labels),
        nmi: nmi(&clusters, &labels),
        accuracy,
        chance: 1.0 / nl as f64,
        confusion: conf,
        attractors_over_time: over_time,
        learn_us: [
            quantile(&learn_us, 0.5),
            quantile(&learn_us, 0.99),
            quantile(&learn_us, 1.0),
        ],
        episode_ms: [quantile(&episode_ms, 0.5), quantile(&episode_ms, 0.99)],
        cycles: runner.cycles,
        sim_s: runner.sim_s,
        wall_s: 0.0,
        clamp_events: runner.clamp_events,
        files: Vec::new(),
        train,
        novel,
    };
    if let Some(dir) = &opts.out_dir {
        report.files = super::report::write_all(&report, dir)?;
        let snap = dir.join("substrate.snap");
        sub.save(&snap)?;
        report.files.push(snap);
    }
    report.wall_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Path of the exported experiences inside `dir`.
pub fn export_path(dir: &Path) -> PathBuf {
    dir.join("experiences.csv")
}
