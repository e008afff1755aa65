//! `sattva` command line: thin wrappers over the library; no logic lives here.

use std::path::PathBuf;
#[cfg(feature = "mujoco")]
use std::time::Instant;

#[cfg(feature = "mujoco")]
use anyhow::Context;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use sattva::config::Config;

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
    /// Config file (ROS 2 params format).
    #[arg(long, short, default_value = "config/sim.yaml")]
    config: PathBuf,
    /// Override a parameter: `-p key.path=value` (repeatable; value in YAML syntax).
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the agent in MuJoCo simulation (lockstep, as fast as possible) and print a summary.
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

#[derive(Subcommand)]
enum BenchCmd {
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
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn load(cfg: &ConfigArgs) -> Result<Config> {
    Ok(Config::load(&cfg.config, &cfg.params)?)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Config { cfg } => {
            let c = load(&cfg)?;
            println!("{}: OK", cfg.config.display());
            println!("{}", serde_norway::to_string(&c)?);
            Ok(())
        }
        Cmd::Sim {
            cfg,
            seed,
            duration,
            trace,
        } => {
            let mut c = load(&cfg)?;
            if let Some(s) = seed {
                c.seed = s;
            }
            if let Some(d) = duration {
                c.sim.duration_s = d;
            }
            sim(&c, trace)
        }
        Cmd::Bench {
            what: BenchCmd::Sim { cfg, steps, reps },
        } => bench_sim(&load(&cfg)?, steps, reps),
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
            let opts = sattva::sched::bench::BenchOptions {
                seconds,
                intervals_us,
                core,
                priority,
                hog: !no_hog,
                cyclictest,
            };
            println!("{}", sattva::sched::bench::run_bench(&opts)?);
            Ok(())
        }
    }
}

#[cfg(feature = "mujoco")]
fn sim(c: &Config, trace: Option<PathBuf>) -> Result<()> {
    use sattva::sim::{run_sim, SimOptions};
    let started = Instant::now();
    let summary = run_sim(
        c,
        &SimOptions {
            trace_csv: trace.map(|p| p.display().to_string()),
            progress: true,
        },
    )?;
    let wall = started.elapsed().as_secs_f64();
    println!("{}", summary.render(wall));
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn sim(_c: &Config, _trace: Option<PathBuf>) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}

#[cfg(feature = "mujoco")]
fn bench_sim(c: &Config, steps: u64, reps: u32) -> Result<()> {
    let r = sattva::sim::bench_sim(c, steps, reps).context("bench sim")?;
    println!("{r}");
    Ok(())
}

#[cfg(not(feature = "mujoco"))]
fn bench_sim(_c: &Config, _steps: u64, _reps: u32) -> Result<()> {
    anyhow::bail!("this build has no MuJoCo: rebuild with `--features mujoco` (the default)")
}
