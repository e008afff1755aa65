//! `sattva` command line: thin wrappers over the library; no logic lives here.

use std::path::PathBuf;

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
    /// Substrate learn/activate latency, memory, snapshots, and the index vs FAISS IndexHNSWFlat.
    Substrate(SubstrateBenchArgs),
}

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
            what: BenchCmd::Substrate(a),
        } => bench_substrate(a),
    }
}

#[cfg(feature = "mujoco")]
fn sim(c: &Config, trace: Option<PathBuf>) -> Result<()> {
    use sattva::sim::{run_sim, SimOptions};
    let started = std::time::Instant::now();
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

fn bench_substrate(a: SubstrateBenchArgs) -> Result<()> {
    use sattva::substrate::bench::{bench_substrate, BenchOptions};
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
        faiss: !a.no_faiss,
        python,
        script: local("scripts/bench/substrate_faiss.py"),
        out_dir: a.out_dir,
        faiss_build_threads: a.faiss_build_threads,
        stream: a.stream,
        stream_capacity: a.stream_capacity,
        seed: a.seed,
    })
    .context("bench substrate")?;
    println!("{r}");
    Ok(())
}
