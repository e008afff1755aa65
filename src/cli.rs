//! The `sattva` command line: argument parsing and dispatch to the library; no logic lives here.

use crate::config::Config;
use crate::ros::args::{config_sources, RosArgs};
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sattva",
    version,
    about = "Real-time embodied learning agent for ROS 2"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct ConfigArgs {
    /// Config file (ROS 2 params format; default config/sim.yaml). Repeatable, also as
    /// `--params-file` and after `--ros-args`: files merge key by key in command-line order,
    /// later ones win.
    #[arg(
        long,
        short,
        visible_alias = "params-file",
        value_name = "FILE",
        action = clap::ArgAction::Append
    )]
    config: Vec<PathBuf>,
    /// Override a parameter: `-p key.path=value` or `key.path:=value` (repeatable; value in YAML
    /// syntax). Applied after every file, in order.
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

/// The config file used when the command line names none.
const DEFAULT_CONFIG: &str = "config/sim.yaml";

/// The command line split into sattva's own arguments and the `--ros-args` sections.
struct Invocation {
    own: Vec<String>,
    ros: RosArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the agent in MuJoCo simulation: curriculum episodes through the full pipeline under
    /// the virtual-time executor (or `--realtime`), learning attractors; prints a summary and
    /// snapshots the substrate.
    Sim {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Seed (overrides `seed` in the config).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulated seconds (overrides `sim.duration_s`).
        #[arg(long)]
        duration: Option<f64>,
        /// Also write the sensor trace as CSV.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Render the scene camera at the end into this PNG (needs feature `render`).
        #[arg(long)]
        camera_png: Option<PathBuf>,
        /// Run this many curriculum training episodes (default without `--duration`:
        /// `eval.train_episodes`; scenes without the curriculum's object explore for
        /// `sim.duration_s`).
        #[arg(long)]
        episodes: Option<u32>,
        /// Pace the simulation at real time (default: virtual time, as fast as possible).
        #[arg(long)]
        realtime: bool,
        /// Resume learning from a substrate snapshot.
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Where to snapshot the substrate at the end.
        #[arg(long, default_value = "out/sim/substrate.snap")]
        snapshot: PathBuf,
    },
    /// Run the agent as a long-running process (real time; with the ROS 2 node when built with
    /// feature `ros2`). Accepts `--ros-args --params-file FILE -p k:=v` like any ROS 2 node.
    Run {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Lockstep as fast as possible instead of real time (simulation).
        #[arg(long)]
        fast: bool,
        /// Stop after this many seconds of backend time (default: until SIGINT/SIGTERM).
        #[arg(long)]
        duration: Option<f64>,
        /// Do not start the ROS 2 node.
        #[arg(long)]
        no_ros: bool,
        /// Perform the curriculum of motor primitives (`eval.calibration_episodes`, then this
        /// many training episodes) as the command source: what `sattva sim --episodes N` runs.
        #[arg(long, value_name = "EPISODES")]
        curriculum: Option<u32>,
        /// Fault injection for tests: `AFTER,FOR` seconds (wall time): block the ROS node thread.
        #[arg(long, hide = true, value_delimiter = ',', num_args = 2)]
        stall_ros: Option<Vec<f64>>,
        /// Directory for the run's HTML summary (latency histograms, learning over time);
        /// default: a new `sattva_run_<time>` beside the ROS logs ($ROS_LOG_DIR, else
        /// $ROS_HOME/log, else ~/.ros/log).
        #[arg(long, value_name = "DIR")]
        summary: Option<PathBuf>,
        /// Write no HTML summary.
        #[arg(long, conflicts_with = "summary")]
        no_summary: bool,
    },
    /// Live terminal monitor of a running agent: per-task latency, misses, overruns, control
    /// loop counters, bridge drops, learning. Attaches to the agent's stats socket
    /// (`metrics.socket`) or, with `--ros`, to `/diagnostics`. Keys: q quit, p pause, s sort,
    /// up/down select.
    Top {
        /// The agent's stats socket (`metrics.socket`).
        #[arg(long, default_value = "/tmp/sattva.sock", conflicts_with = "ros")]
        socket: PathBuf,
        /// Read ROS 2 `/diagnostics` instead (needs feature `ros2`).
        #[arg(long)]
        ros: bool,
        /// The diagnostics topic (with `--ros`).
        #[arg(long, default_value = "/diagnostics")]
        topic: String,
        /// Seconds to wait for the first statistics.
        #[arg(long, default_value_t = 5)]
        wait: u64,
    },
    /// Replay a rosbag2 bag (directory, .mcap or .db3) through the control loop in virtual time,
    /// as fast as possible; prints what was decoded and the output hash (determinism check).
    Replay {
        /// The bag.
        bag: PathBuf,
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Pace at k x real time (overrides `replay.rate`; 0 = as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// Write an HTML evaluation report with plots into this directory.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Evaluate STL safety monitors over the replay: those of FILE's `monitors:` section
        /// (replacing the config's), or the config's without FILE; actions become `log` (the
        /// replay is observed, not changed). Counts in the summary, robustness plots in
        /// `--report`.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        monitors: Option<Option<PathBuf>>,
        /// Instead of running the pipeline, play the bag's messages onto ROS 2 topics with their
        /// original timing (like `ros2 bag play`; needs feature `ros2`).
        #[arg(long)]
        publish: bool,
        /// Seconds to wait for subscribers before publishing (with `--publish`).
        #[arg(long, default_value_t = 1.0)]
        publish_delay: f64,
        /// Serve the player services (`/sattva_bag_player/pause`, `resume`, `toggle_paused`,
        /// `is_paused`, `set_rate`, `get_rate`, `seek`, `play_next`, `burst`; needs feature
        /// `ros2`). Always on with `--publish`; for the agent, one message = one control cycle
        /// and seek only goes forward (unpaced).
        #[arg(long)]
        controls: bool,
        /// Start paused (implies `--controls`): `~/resume`, `~/play_next`, `~/burst` move on.
        #[arg(long)]
        start_paused: bool,
        /// Publish the playback time on `/clock` at this rate, Hz (implies `--controls`; 40 Hz
        /// when given without a value, as rosbag2's `--clock`).
        #[arg(long, num_args = 0..=1, default_missing_value = "40")]
        clock: Option<f64>,
        /// Start this many seconds after the bag's start (with `--publish`).
        #[arg(long, default_value_t = 0.0)]
        start_offset: f64,
        /// Play only this many seconds of the bag (from the start offset).
        #[arg(long)]
        playback_duration: Option<f64>,
    },
    /// Inspect a rosbag2 bag without ROS 2: `info` (what `ros2 bag info` prints), `check`
    /// (reads every message, reports damage; exit status 1 when damaged).
    Bag {
        #[command(subcommand)]
        what: BagCmd,
    },
    /// Peer validation: N agents, each a separate `sattva peer` process with its own training
    /// scenarios, propose primitives, vote on and adopt them over ROS 2 (one domain); prints
    /// each peer's literacy, shared library and quarantined peers.
    Peers {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Number of peers.
        #[arg(short = 'n', long, default_value_t = 3)]
        n: u32,
        #[command(flatten)]
        team: TeamFlags,
        /// Output directory (each peer's result, library and log).
        #[arg(long, default_value = "out/peers")]
        out: PathBuf,
    },
    /// One peer of a team (`sattva peers` and launch/peers.launch.py start these).
    Peer {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Peer id (unique in the team; offsets its training scenarios' seed).
        #[arg(long)]
        id: u32,
        #[command(flatten)]
        team: TeamFlags,
        /// Output directory (peer_<id>.json, library_<id>.json).
        #[arg(long, default_value = "out/peers")]
        out: PathBuf,
    },
    /// Evaluations of what the agent learned.
    Eval {
        #[command(subcommand)]
        what: EvalCmd,
    },
    /// Check a config file and print the effective configuration.
    Config {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Benchmarks that print figures beside a reference measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Args, Clone)]
struct TeamFlags {
    /// `sattva peers`: the last peer is faulty; `sattva peer`: this one is (random and poisoned
    /// proposals, replayed ids, inflated votes; for tests).
    #[arg(long)]
    faulty: bool,
    /// Learn alone, without exchange (the baseline with the same seeds).
    #[arg(long)]
    alone: bool,
    /// Training episodes per peer (overrides `eval.train_episodes`).
    #[arg(long)]
    train: Option<u32>,
    /// Novel episodes recognised at the end (overrides `eval.novel_episodes`).
    #[arg(long)]
    novel: Option<u32>,
    /// Calibration episodes (overrides `eval.calibration_episodes`).
    #[arg(long)]
    calibration: Option<u32>,
}

#[derive(Subcommand)]
enum EvalCmd {
    /// Peer validation: 5 agents learning alone, then as a team, then a team with one faulty
    /// peer; prints coverage of the curriculum, agreement on validity, episodes to 90 %
    /// literacy with peers vs alone, quarantine; writes an HTML report.
    Peers {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Agents per team.
        #[arg(short = 'n', long, default_value_t = 5)]
        n: u32,
        /// Training episodes per agent (overrides `eval.train_episodes`).
        #[arg(long)]
        train: Option<u32>,
        /// Novel episodes (overrides `eval.novel_episodes`).
        #[arg(long)]
        novel: Option<u32>,
        /// Calibration episodes (overrides `eval.calibration_episodes`).
        #[arg(long)]
        calibration: Option<u32>,
        /// Output directory.
        #[arg(long, default_value = "out/eval_peers")]
        out: PathBuf,
    },
    /// Motor-primitive literacy: train on curriculum episodes in MuJoCo, recognise novel
    /// scenarios; prints attractors, purity, NMI, recognition accuracy, learning time; writes an
    /// HTML report and the experience vectors (CSV).
    Literacy {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Seed (overrides `seed` in the config).
        #[arg(long)]
        seed: Option<u64>,
        /// Training episodes (overrides `eval.train_episodes`).
        #[arg(long)]
        train: Option<u32>,
        /// Novel-scenario episodes (overrides `eval.novel_episodes`).
        #[arg(long)]
        novel: Option<u32>,
        /// Output directory (overrides `eval.out_dir`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also run the online clustering baselines on the exported vectors
        /// (scripts/bench/baselines.py with $SATTVA_PYTHON or third_party/venv/bin/python).
        #[arg(long)]
        baselines: bool,
    },
    /// Words grounded in attractors: a teacher (sim/phrasebook.yaml) describes the
    /// curriculum's training experiences; held-out descriptions and ambiguous phrases whose
    /// meaning depends on context ("push it", "again", "the other way") are understood on the
    /// novel experiences, beside a scikit-learn TF-IDF + nearest-neighbour baseline (text only)
    /// measured in the same run; writes an HTML report, the cases and the lexicon.
    Grounding {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Seed (overrides `seed` in the config).
        #[arg(long)]
        seed: Option<u64>,
        /// Training episodes (overrides `eval.train_episodes`).
        #[arg(long)]
        train: Option<u32>,
        /// Novel-scenario episodes (overrides `eval.novel_episodes`).
        #[arg(long)]
        novel: Option<u32>,
        /// Output directory [default: out/grounding].
        #[arg(long)]
        out: Option<PathBuf>,
        /// The teacher's phrasebook [default: sim/phrasebook.yaml].
        #[arg(long)]
        phrasebook: Option<PathBuf>,
        /// Skip the scikit-learn baseline.
        #[arg(long)]
        no_baseline: bool,
        /// Also perform the learned attractors (`eval perform`, same curriculum) and add its
        /// section to the report.
        #[arg(long)]
        perform: bool,
    },
    /// Act from what was learned: learn the curriculum, then perform each learned attractor's
    /// action memory from novel start poses (and object positions); prints the share of
    /// performances recognised as the requested attractor, per attractor and overall; writes
    /// perform.html.
    Perform {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Seed (overrides `seed` in the config).
        #[arg(long)]
        seed: Option<u64>,
        /// Training episodes (overrides `eval.train_episodes`).
        #[arg(long)]
        train: Option<u32>,
        /// Performances per attractor.
        #[arg(long, default_value_t = 4)]
        trials: u32,
        /// Speed factor (1 = the attractor's own mean duration).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Attractors that absorbed fewer experiences are not performed.
        #[arg(long, default_value_t = 3)]
        min_count: u64,
        /// Perform one attractor per label (the most experienced: what the label names).
        #[arg(long)]
        per_label: bool,
        /// Output directory (default: `eval.out_dir`/../perform).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BagCmd {
    /// Storage, files, duration, start and end, per topic type, count, serialization, QoS.
    Info {
        /// The bag (directory, .mcap or .db3).
        bag: PathBuf,
    },
    /// Reads and decodes every message; lists damage and counts that differ from the declared.
    Check {
        /// The bag (directory, .mcap or .db3).
        bag: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Substrate learn/activate latency, memory, snapshots, and the index vs FAISS IndexHNSWFlat.
    Substrate(SubstrateBenchArgs),
    /// Backend read/step/write loop vs a bare mujoco-rs stepping loop of the same model.
    Sim {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Physics steps per measurement.
        #[arg(long, default_value_t = 100_000)]
        steps: u64,
        /// Alternating repetitions (best of each side is reported).
        #[arg(long, default_value_t = 5)]
        reps: u32,
    },
    /// STL monitors: ns per cycle for 1, 10, 50 monitors vs RTAMT per sample (same run, same trace).
    Monitors {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Control cycles of the recorded trace.
        #[arg(long, default_value_t = 5000)]
        cycles: usize,
        /// Samples RTAMT evaluates (it is slow: the first N rows of the trace).
        #[arg(long, default_value_t = 1000)]
        rtamt_samples: usize,
    },
    /// Orientation filter vs vqf, imufusion, ahrs Madgwick/Mahony on BROAD and the MuJoCo scene.
    Fusion {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Directory with the BROAD trials (`broad_*.csv`).
        #[arg(long, default_value = "../shared/data/imu")]
        data: PathBuf,
        /// Simulated seconds of the MuJoCo scene (0 = skip).
        #[arg(long, default_value_t = 120.0)]
        sim_seconds: f64,
    },
    /// Vision stage: ms per frame for depth cleanup, descriptor and ORB rotation, Rust vs OpenCV.
    Vision {
        /// Frame width.
        #[arg(long, default_value_t = 640)]
        width: usize,
        /// Frame height.
        #[arg(long, default_value_t = 480)]
        height: usize,
        /// Frames per step.
        #[arg(long, default_value_t = 100)]
        frames: usize,
    },
    /// Experience encoder: ns per encode at the configured D (4 joints, 1 contact, 24 depth cells).
    Encode {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Calls per repetition.
        #[arg(long, default_value_t = 100_000)]
        calls: u64,
    },
    /// RealSense playback throughput (synthetic recording) vs bare librealsense playback.
    Realsense {
        /// Recorded seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Video width (a D435i mode: 424x240, 640x480, 848x480).
        #[arg(long, default_value_t = 424)]
        width: u32,
        /// Video height.
        #[arg(long, default_value_t = 240)]
        height: u32,
        /// Alternating repetitions (median reported).
        #[arg(long, default_value_t = 3)]
        reps: u32,
    },
    /// RT executor wake-up latency vs cyclictest (same run), dispatch overhead, core handoff.
    Sched {
        /// Seconds per latency run (4 rows x 2 tools by default: about 8x this in total).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Task periods to measure, us (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1000,200")]
        intervals_us: Vec<u64>,
        /// Core of the measured task.
        #[arg(long, default_value_t = 1)]
        core: usize,
        /// SCHED_FIFO priority of the measured task.
        #[arg(long, default_value_t = 80)]
        priority: u8,
        /// Skip the runs with a CPU hog on another core.
        #[arg(long)]
        no_hog: bool,
        /// cyclictest executable (Debian package rt-tests).
        #[arg(long, default_value = "cyclictest")]
        cyclictest: String,
    },
    /// The CPU hog process `bench sched` starts on another core (runs until killed).
    #[command(hide = true)]
    SchedHog {
        /// Core to load.
        #[arg(long)]
        core: usize,
    },
    /// Latency RT task -> sattva node -> rclpy beside rclpy -> rclpy (same run; needs `ros2`).
    Ros {
        /// Seconds measured.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Publish rate of both paths, Hz.
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
    },
    /// Bag read + decode throughput vs the Python `rosbags` package on the same bag.
    Replay {
        /// Bag directory or .mcap/.db3 file (default: a synthetic IMU/JointState/TF bag).
        #[arg(long)]
        bag: Option<PathBuf>,
        /// Log-time length of the synthetic bag, s.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Repetitions per side (best is reported).
        #[arg(long, default_value_t = 3)]
        reps: u32,
        /// Instead: peak memory of `sattva replay` with vision over a generated camera bag of
        /// `--gigabytes` (written streaming under `--dir`, deleted afterwards unless `--keep`).
        #[arg(long)]
        big: bool,
        /// Size of the `--big` bag, GB.
        #[arg(long, default_value_t = 10.0)]
        gigabytes: f64,
        /// Where the `--big` bag is written (default target/tmp).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Keep the `--big` bag.
        #[arg(long)]
        keep: bool,
    },
}

/// Arguments of `sattva bench substrate`.
#[derive(Args)]
struct SubstrateBenchArgs {
    /// Attractor counts to measure at (comma-separated, ascending), e.g. 1000,10000,100000,1000000.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1000usize, 10000])]
    sizes: Vec<usize>,
    /// Dimension D.
    #[arg(long, default_value_t = 256)]
    dim: usize,
    /// Timed operations per measurement.
    #[arg(long, default_value_t = 2000)]
    ops: usize,
    /// Queries for the index comparison.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// ef_search values swept for both indexes.
    #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 32, 64, 128])]
    ef: Vec<usize>,
    /// HNSW M (both indexes).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// HNSW efConstruction (both indexes).
    #[arg(long, default_value_t = 100)]
    ef_construction: usize,
    /// Candidate list size of learn()'s nearest-attractor search (`substrate.index.ef_learn`).
    #[arg(long, default_value_t = 24)]
    ef_learn: usize,
    /// Distance evaluations after which learn()'s search stops (`substrate.index.learn_budget`, 0: none).
    #[arg(long, default_value_t = 768)]
    learn_budget: usize,
    /// Skip the FAISS reference.
    #[arg(long)]
    no_faiss: bool,
    /// Threads FAISS may use to build its index.
    #[arg(long, default_value_t = 2)]
    faiss_build_threads: usize,
    /// Directory for exported vectors and the snapshot.
    #[arg(long, default_value = "out/bench_substrate")]
    out_dir: PathBuf,
    /// Long-stream run: experiences learned into a bounded substrate (0: skip).
    #[arg(long, default_value_t = 100_000)]
    stream: usize,
    /// Capacity of the long-stream substrate.
    #[arg(long, default_value_t = 10_000)]
    stream_capacity: usize,
    /// Data seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Entry point of the `sattva` binary (also used by the colcon package `ros2_ws/src/sattva`).
pub fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // MuJoCo's messages to tracing, before any thread can use MuJoCo
    #[cfg(feature = "mujoco")]
    crate::backend::mujoco::install_log_handler();
    let code = match dispatch() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    exit(code)
}

/// Ends the process with `code`.
fn exit(code: i32) -> ! {
    std::process::exit(code)
}

fn dispatch() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (own, ros) = crate::ros::args::split_ros_args(&args)?;
    let cli = match Cli::try_parse_from(&own) {
        Ok(c) => c,
        // --help, --version and usage errors: print as clap would, exit through `exit`
        Err(e) => {
            let _ = e.print();
            exit(e.exit_code())
        }
    };
    run(cli, &Invocation { own, ros })
}

/// Loads the config: every file (`-c`, `--params-file`, with or without `--ros-args`) merges in
/// command-line order, later ones winning; then every `-p` override, in order.
fn load_with(cfg: &ConfigArgs, inv: &Invocation) -> Result<Config> {
    let mut sources = config_sources(&inv.own, &cfg.config, &cfg.params, &inv.ros);
    if sources.files.is_empty() {
        sources.files.push(PathBuf::from(DEFAULT_CONFIG));
    }
    Ok(Config::load_layers(&sources.files, &sources.params)?)
}

fn run(cli: Cli, inv: &Invocation) -> Result<()> {
    let load = |cfg: &ConfigArgs| load_with(cfg, inv);
    match cli.cmd {
        Cmd::Config { cfg } => {
            let c = load(&cfg)?;
            let files: Vec<String> = c
                .origins
                .sources()
                .iter()
                .filter(|s| !s.is_override)
                .map(|s| s.name.display().to_string())
                .collect();
            println!("{}: OK", files.join(" + "));
            println!("{}", serde_norway::to_string(&c)?);
            Ok(())
        }
        Cmd::Bag {
            what: BagCmd::Info { bag },
        } => {
            print!("{}", crate::replay::baginfo::BagInfo::read(&bag)?);
            Ok(())
        }
        Cmd::Bag {
            what: BagCmd::Check { bag },
        } => {
            let r = crate::replay::baginfo::check(&bag)?;
            println!("{r}");
            anyhow::ensure!(r.ok(), "{}: damaged", bag.display());
            Ok(())
        }
        Cmd::Replay {
            bag,
            cfg,
            rate,
            report,
            monitors,
            publish,
            publish_delay,
            controls,
            start_paused,
            clock,
            start_offset,
            playback_duration,
        } => {
            if publish {
                return publish_bag(
                    &bag,
                    PlayArgs {
                        rate: rate.unwrap_or(1.0),
                        delay: publish_delay,
                        start_paused,
                        clock,
                        start_offset,
                        playback_duration,
                    },
                );
            }
            anyhow::ensure!(
                start_offset == 0.0,
                "--start-offset applies to `--publish`: the agent replays a bag from its start"
            );
            let controls = crate::replay::run::ReplayControls {
                serve: controls,
                start_paused,
                clock_hz: clock,
                duration_s: playback_duration,
            };
            let mut c = load(&cfg)?;
            if let Some(r) = rate {
                anyhow::ensure!(
                    r.is_finite() && r >= 0.0,
                    "--rate {r}: expected a number >= 0"
                );
                c.replay.rate = r;
            }
            if let Some(file) = &monitors {
                crate::replay::run::offline_monitors(&mut c, file.as_deref())?;
            }
            let (s, data) = crate::replay::run::run_replay_controlled(
                &c,
                Some(&bag),
                true,
                &controls,
                report.is_some(),
            )?;
            println!("{s}");
            if let (Some(dir), Some(data)) = (report, data) {
                let html = crate::replay::report::write_report(&dir, &bag, &s, &data)?;
                println!("  report: {}", html.display());
            }
            Ok(())
        }
        Cmd::Sim {
            cfg,
            seed,
            duration,
            trace,
            camera_png,
            episodes,
            realtime,
            resume,
            snapshot,
        } => {
            let mut c = load(&cfg)?;
            if let Some(s) = seed {
                c.seed = s;
            }
            if let Some(d) = duration {
                c.sim.duration_s = d;
            }
            // on curriculum scenes, `sattva sim` alone runs `eval.train_episodes` episodes
            let episodes = match (episodes, duration) {
                (None, None) => Some(c.eval.train_episodes),
                (e, _) => e,
            };
            sim(
                &c,
                SimArgs {
                    trace,
                    camera_png,
                    episodes,
                    realtime,
                    resume,
                    snapshot,
                },
            )
        }
        Cmd::Peers { cfg, n, team, out } => {
            load(&cfg)?; // fail here, not in N processes
            anyhow::ensure!(n >= 1, "-n {n}: at least one peer");
            peers_team(&team_args(&cfg, inv, n, &team, out))
        }
        Cmd::Peer { cfg, id, team, out } => peer(&load(&cfg)?, id, &team, out),
        Cmd::Eval {
            what:
                EvalCmd::Peers {
                    cfg,
                    n,
                    train,
                    novel,
                    calibration,
                    out,
                },
        } => {
            let threshold = load(&cfg)?.peers.threshold;
            anyhow::ensure!(n >= 2, "-n {n}: peer validation needs at least two agents");
            let flags = TeamFlags {
                faulty: false,
                alone: false,
                train,
                novel,
                calibration,
            };
            eval_peers(&team_args(&cfg, inv, n, &flags, out), threshold)
        }
        Cmd::Eval {
            what:
                EvalCmd::Literacy {
                    cfg,
                    seed,
                    train,
                    novel,
                    out,
                    baselines,
                },
        } => {
            let mut c = load(&cfg)?;
            if let Some(s) = seed {
                c.seed = s;
            }
            eval_literacy(&c, train, novel, out, baselines)
        }
        Cmd::Eval {
            what:
                EvalCmd::Grounding {
                    cfg,
                    seed,
                    train,
                    novel,
                    out,
                    phrasebook,
                    no_baseline,
                    perform,
                },
        } => {
            let mut c = load(&cfg)?;
            if let Some(s) = seed {
                c.seed = s;
            }
            eval_grounding(&c, train, novel, out, phrasebook, (!no_baseline, perform))
        }
        Cmd::Eval {
            what:
                EvalCmd::Perform {
                    cfg,
                    seed,
                    train,
                    trials,
                    speed,
                    min_count,
                    per_label,
                    out,
                },
        } => {
            let mut c = load(&cfg)?;
            if let Some(s) = seed {
                c.seed = s;
            }
            eval_perform(&c, train, (trials, min_count, per_label), speed, out)
        }
        Cmd::Run {
            cfg,
            fast,
            duration,
            no_ros,
            curriculum,
            stall_ros,
            summary,
            no_summary,
        } => {
            let opts = crate::run::RunOptions {
                fast,
                duration_s: duration,
                ros: !no_ros,
                curriculum,
                stall_ros: stall_ros.map(|v| {
                    (
                        std::time::Duration::from_secs_f64(v[0]),
                        std::time::Duration::from_secs_f64(v[1]),
                    )
                }),
            };
            let report = crate::run::run(&load(&cfg)?, &opts)?;
            println!("{report}");
            if !no_summary {
                let dir = summary.unwrap_or_else(crate::run::default_summary_dir);
                match crate::run::write_summary(&dir, &report) {
                    Ok(p) => println!("summary: {}", p.display()),
                    Err(e) => tracing::warn!(error = %e, "run summary not written"),
                }
            }
            Ok(())
        }
        Cmd::Top {
            socket,
            ros,
            topic,
            wait,
        } => {
            let endpoint = if ros {
                crate::observe::top::Endpoint::Ros(topic)
            } else {
                crate::observe::top::Endpoint::Socket(socket)
            };
            crate::observe::top::run(&crate::observe::top::TopOptions {
                endpoint,
                wait_s: wait,
            })?;
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::Sim { cfg, steps, reps },
        } => bench_sim(&load(&cfg)?, steps, reps),
        Cmd::Bench {
            what: BenchCmd::Substrate(a),
        } => bench_substrate(a),
        Cmd::Bench {
            what:
                BenchCmd::Fusion {
                    cfg,
                    data,
                    sim_seconds,
                },
        } => bench_fusion(&load(&cfg)?, &data, sim_seconds),
        Cmd::Bench {
            what:
                BenchCmd::Vision {
                    width,
                    height,
                    frames,
                },
        } => {
            println!(
                "{}",
                crate::bench::vision::bench_vision(width, height, frames)?
            );
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::Encode { cfg, calls },
        } => {
            let c = load(&cfg)?;
            let layout = crate::encode::Layout {
                joints: 4,
                contacts: 1,
                depth_cells: (c.fusion.depth.rows * c.fusion.depth.cols) as usize,
            };
            println!("{}", crate::encode::bench_encode(&c.encode, layout, calls));
            Ok(())
        }
        Cmd::Bench {
            what:
                BenchCmd::Realsense {
                    seconds,
                    width,
                    height,
                    reps,
                },
        } => bench_realsense(seconds, width, height, reps),
        Cmd::Bench {
            what:
                BenchCmd::Sched {
                    seconds,
                    intervals_us,
                    core,
                    priority,
                    no_hog,
                    cyclictest,
                },
        } => {
            let opts = crate::bench::sched::BenchOptions {
                seconds,
                intervals_us,
                core,
                priority,
                hog: !no_hog,
                cyclictest,
            };
            println!("{}", crate::bench::sched::run_bench(&opts)?);
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::SchedHog { core },
        } => {
            crate::bench::sched::hog(core, None);
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::Ros { seconds, rate },
        } => bench_ros(seconds, rate),
        Cmd::Bench {
            what:
                BenchCmd::Monitors {
                    cfg,
                    cycles,
                    rtamt_samples,
                },
        } => {
            let python = crate::bench::fusion::python_path();
            let r = crate::bench::monitors::bench_monitors(
                &load(&cfg)?,
                cycles,
                rtamt_samples,
                &python,
            )?;
            println!("{r}");
            Ok(())
        }
        Cmd::Bench {
            what:
                BenchCmd::Replay {
                    big: true,
                    gigabytes,
                    dir,
                    keep,
                    ..
                },
        } => {
            let r = crate::bench::replay_big::bench_replay_big(dir.as_deref(), gigabytes, keep)?;
            println!("{r}");
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::Replay {
                bag, seconds, reps, ..
            },
        } => {
            let r = crate::bench::replay::bench_replay(bag.as_deref(), seconds, reps)?;
            println!("{r}");
            Ok(())
        }
    }
}

/// Options of `sattva sim` as parsed.
#[cfg_attr(not(feature = "mujoco"), allow(dead_code))]
struct SimArgs {
    trace: Option<PathBuf>,
    camera_png: Option<PathBuf>,
    episodes: Option<u32>,
    realtime: bool,
    resume: Option<PathBuf>,
    snapshot: PathBuf,
}

/// The team launcher's arguments: config files and overrides passed on to every peer.
/// (Every params file, also those after `--ros-args`, and every override, in merge order.)
fn team_args(
    cfg: &ConfigArgs,
    inv: &Invocation,
    n: u32,
    f: &TeamFlags,
    out: PathBuf,
) -> crate::team::TeamArgs {
    let sources = config_sources(&inv.own, &cfg.config, &cfg.params, &inv.ros);
    let mut config_args = Vec::new();
    for c in &sources.files {
        config_args.extend(["-c".to_string(), c.display().to_string()]);
    }
    for p in &sources.params {
        config_args.extend(["-p".to_string(), p.clone()]);
    }
    crate::team::TeamArgs {
        n,
        faulty: f.faulty,
        alone: f.alone,
        config_args,
        train: f.train,
        novel: f.novel,
        calibration: f.calibration,
        out,
    }
}

fn peers_team(t: &crate::team::TeamArgs) -> Result<()> {
    let results = crate::team::launch(t)?;
    print!("{}", crate::team::summary(&results));
    println!("results, libraries and logs: {}", t.out.display());
    Ok(())
}

fn peer(c: &Config, id: u32, f: &TeamFlags, out: PathBuf) -> Result<()> {
    let r = crate::team::run_peer(
        c,
        &crate::team::PeerArgs {
            id,
            faulty: f.faulty,
            alone: f.alone,
            train: f.train,
            novel: f.novel,
            calibration: f.calibration,
            out,
        },
    )?;
    print!("{}", crate::team::summary(std::slice::from_ref(&r)));
    Ok(())
}

#[cfg(feature = "mujoco")]
fn eval_peers(t: &crate::team::TeamArgs, threshold: f64) -> Result<()> {
    let r = crate::eval::peers::run_peers(t, threshold)?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn eval_peers(_t: &crate::team::TeamArgs, _threshold: f64) -> Result<()> {
    anyhow::bail!("peer validation runs the agent in MuJoCo: build with feature `mujoco`")
}

#[cfg(feature = "mujoco")]
fn sim(c: &Config, a: SimArgs) -> Result<()> {
    let p = |p: PathBuf| p.display().to_string();
    let opts = crate::sim::SimOptions {
        trace_csv: a.trace.map(p),
        progress: true,
        camera_png: a.camera_png.map(p),
        episodes: a.episodes,
        realtime: a.realtime,
        resume: a.resume.map(p),
        snapshot: Some(p(a.snapshot)),
    };
    let started = std::time::Instant::now();
    let summary = crate::sim::run_sim(c, &opts)?;
    let wall = started.elapsed().as_secs_f64();
    println!("{}", summary.render(wall));
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn sim(_c: &Config, _a: SimArgs) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn eval_literacy(
    c: &Config,
    train: Option<u32>,
    novel: Option<u32>,
    out: Option<PathBuf>,
    baselines: bool,
) -> Result<()> {
    use crate::eval::literacy::{run_literacy, LiteracyOptions};
    let dir = out.unwrap_or_else(|| PathBuf::from(&c.eval.out_dir));
    let r = run_literacy(
        c,
        &LiteracyOptions {
            train,
            novel,
            out_dir: Some(dir.clone()),
            progress: true,
            ..Default::default()
        },
    )?;
    println!("{r}");
    if baselines {
        let table = crate::eval::baselines::run_baselines(&dir, r.labels.len(), r.learn_us[1])?;
        println!("{table}");
        crate::eval::report::write_html_with_baselines(&r, &dir, &table)?;
    }
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn eval_literacy(
    _c: &Config,
    _train: Option<u32>,
    _novel: Option<u32>,
    _out: Option<PathBuf>,
    _baselines: bool,
) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn eval_grounding(
    c: &Config,
    train: Option<u32>,
    novel: Option<u32>,
    out: Option<PathBuf>,
    phrasebook: Option<PathBuf>,
    (baseline, perform): (bool, bool),
) -> Result<()> {
    use crate::eval::grounding::{default_phrasebook, run_grounding, GroundingOptions};
    let dir = out.unwrap_or_else(|| PathBuf::from("out/grounding"));
    let r = run_grounding(
        c,
        &GroundingOptions {
            train,
            novel,
            calibration: None,
            phrasebook: phrasebook.unwrap_or_else(default_phrasebook),
            baseline,
            out_dir: Some(dir.clone()),
            progress: true,
        },
    )?;
    println!("{r}");
    if perform {
        use crate::eval::perform::{html_section, run_perform, PerformOptions};
        use anyhow::Context as _;
        let p = run_perform(
            c,
            &PerformOptions {
                train,
                out_dir: Some(dir.join("perform")),
                ..Default::default()
            },
        )?;
        println!("{p}");
        // the perform section into the grounding report
        let page = dir.join("grounding.html");
        let html = std::fs::read_to_string(&page)
            .with_context(|| format!("{}", page.display()))?
            .replacen(
                "</body>",
                &format!(
                    "<h2>Acting from what was learned (perform)</h2>{}</body>",
                    html_section(&p)
                ),
                1,
            );
        std::fs::write(&page, html).with_context(|| format!("{}", page.display()))?;
    }
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn eval_grounding(
    _c: &Config,
    _train: Option<u32>,
    _novel: Option<u32>,
    _out: Option<PathBuf>,
    _phrasebook: Option<PathBuf>,
    _flags: (bool, bool),
) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn eval_perform(
    c: &Config,
    train: Option<u32>,
    (trials, min_count, per_label): (u32, u64, bool),
    speed: f64,
    out: Option<PathBuf>,
) -> Result<()> {
    use crate::eval::perform::{run_perform, PerformOptions};
    let dir = out.unwrap_or_else(|| {
        let d = PathBuf::from(&c.eval.out_dir);
        d.parent().unwrap_or(&d).join("perform")
    });
    let r = run_perform(
        c,
        &PerformOptions {
            train,
            trials,
            min_count,
            per_label,
            speed,
            out_dir: Some(dir),
            ..Default::default()
        },
    )?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn eval_perform(
    _c: &Config,
    _train: Option<u32>,
    _trials: (u32, u64, bool),
    _speed: f64,
    _out: Option<PathBuf>,
) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn bench_sim(c: &Config, steps: u64, reps: u32) -> Result<()> {
    let r = anyhow::Context::context(crate::sim::bench_sim(c, steps, reps), "bench sim")?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn bench_sim(_c: &Config, _steps: u64, _reps: u32) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn bench_fusion(c: &Config, data: &std::path::Path, sim_seconds: f64) -> Result<()> {
    let r = anyhow::Context::context(
        crate::bench::fusion::bench_fusion(c, data, sim_seconds),
        "bench fusion",
    )?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn bench_fusion(_c: &Config, _data: &std::path::Path, _sim_seconds: f64) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "realsense")]
fn bench_realsense(seconds: f64, width: u32, height: u32, reps: u32) -> Result<()> {
    let r = crate::bench::realsense::bench_playback(seconds, width, height, reps)?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "realsense"))]
fn bench_realsense(_seconds: f64, _width: u32, _height: u32, _reps: u32) -> Result<()> {
    anyhow::bail!("this build has no RealSense support: rebuild with `--features realsense`")
}

#[cfg(feature = "ros2")]
fn bench_ros(seconds: f64, rate: f64) -> Result<()> {
    let python =
        std::env::var("SATTVA_PYTHON").unwrap_or_else(|_| "third_party/venv/bin/python".into());
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let script = format!("{root}/scripts/bench/ros_latency.py");
    println!(
        "{}",
        crate::bench::ros::bench_ros(seconds, rate, &python, &script)?
    );
    Ok(())
}

#[cfg(not(feature = "ros2"))]
fn bench_ros(_seconds: f64, _rate: f64) -> Result<()> {
    anyhow::bail!("this build has no ROS 2: rebuild with `--features ros2`")
}

/// `sattva replay --publish` options, as given.
#[cfg_attr(not(feature = "ros2"), allow(dead_code))]
struct PlayArgs {
    rate: f64,
    delay: f64,
    start_paused: bool,
    clock: Option<f64>,
    start_offset: f64,
    playback_duration: Option<f64>,
}

#[cfg(feature = "ros2")]
fn publish_bag(bag: &std::path::Path, a: PlayArgs) -> Result<()> {
    anyhow::ensure!(
        a.delay.is_finite() && a.delay >= 0.0,
        "--publish-delay {}: expected seconds >= 0",
        a.delay
    );
    let opts = crate::replay::publish::PublishOptions {
        rate: a.rate,
        delay: std::time::Duration::from_secs_f64(a.delay),
        start_paused: a.start_paused,
        clock_hz: a.clock,
        start_offset_s: a.start_offset,
        duration_s: a.playback_duration,
    };
    let s = crate::replay::publish::publish_bag(bag, &opts)?;
    println!(
        "published {} messages on {:?}; skipped topics {:?}; errors {}; player controls served {}",
        s.published, s.topics, s.skipped, s.errors, s.controls
    );
    Ok(())
}

#[cfg(not(feature = "ros2"))]
fn publish_bag(_bag: &std::path::Path, _a: PlayArgs) -> Result<()> {
    anyhow::bail!("--publish needs ROS 2: rebuild with `--features ros2`")
}

fn bench_substrate(a: SubstrateBenchArgs) -> Result<()> {
    use crate::bench::substrate::{bench_substrate, BenchOptions};
    // Relative to the current directory, else to the source tree this binary was built from.
    let local = |p: &str| {
        let p = PathBuf::from(p);
        if p.exists() {
            p
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
        }
    };
    let python = std::env::var_os("SATTVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| local("third_party/venv/bin/python"));
    let r = bench_substrate(&BenchOptions {
        sizes: a.sizes,
        dim: a.dim,
        ops: a.ops,
        queries: a.queries,
        ef: a.ef,
        m: a.m,
        ef_construction: a.ef_construction,
        ef_learn: a.ef_learn,
        learn_budget: a.learn_budget,
        faiss: !a.no_faiss,
        python,
        script: local("scripts/bench/substrate_faiss.py"),
        out_dir: a.out_dir,
        faiss_build_threads: a.faiss_build_threads,
        stream: a.stream,
        stream_capacity: a.stream_capacity,
        seed: a.seed,
    });
    let r = anyhow::Context::context(r, "bench substrate")?;
    println!("{r}");
    Ok(())
}
