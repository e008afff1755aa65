//! `sattva` command line: thin wrappers over the library; no logic lives here.

use std::path::PathBuf;
#[cfg(feature = "mujoco")]
use std::time::Instant;

use anyhow::{Context, Result};
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
    /// Experience encoder: ns per encode at the configured D (4 joints, 1 contact, 24 depth cells).
    Encode {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Calls per repetition.
        #[arg(long, default_value_t = 100_000)]
        calls: u64,
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
                BenchCmd::Fusion {
                    cfg,
                    data,
                    sim_seconds,
                },
        } => {
            let r = sattva::fusion::bench::bench_fusion(&load(&cfg)?, &data, sim_seconds)
                .context("bench fusion")?;
            println!("{r}");
            Ok(())
        }
        Cmd::Bench {
            what: BenchCmd::Encode { cfg, calls },
        } => {
            let c = load(&cfg)?;
            let layout = sattva::encode::Layout {
                joints: 4,
                contacts: 1,
                depth_cells: (c.fusion.depth.rows * c.fusion.depth.cols) as usize,
            };
            println!("{}", sattva::encode::bench_encode(&c.encode, layout, calls));
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
