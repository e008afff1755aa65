//! The agent, assembled in one place from the config; the modes are drivers over it.
//!
//! ```text
//!   Config ──> Config::open_backend (lifecycle wrapper) ──> ControlLoop::new (fusion, clamp, source)
//!          ──> tasks from sched.tasks: control (read -> fuse -> act -> clamp -> write, record,
//!              bridge, segmenter) ──ring──> learn (encode -> recognise -> learn; snapshots,
//!              queries) ; vision (frames -> cleanup/descriptor/heading) ──ring──> control
//!          ──> driver: RT executor (`run`) or virtual-time executor (`run --fast`, `sim`, `eval`,
//!              `replay`), paced at k x real time or as fast as possible
//!          ──> report: counters, scheduler statistics, learning, the run's fingerprint
//! ```
//!
//! [`run`] is the only function that wires stages together. `sattva run` drives it with the
//! real-time executor and the ROS node; `sattva run --fast`, `sattva sim` and `sattva eval` with
//! the virtual-time executor (the curriculum is a command source); `sattva replay` with the
//! virtual-time executor over the replay backend. The task set (names, periods, priorities,
//! cores) comes from `sched.tasks` and is the same in every mode ([`sched_config`]).

mod control;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::action::curriculum::{PlanRequest, Scenario};
use crate::action::CurriculumSource;
use crate::backend::{Backend, BackendInfo, OpenError};
use crate::config::Config;
use crate::learn::{LearnOutcome, LearnSummary, LearnTask, Learner, Segment, Segmenter};
use crate::observe::{Buckets, ControlProbe, Final, Observer, SchedSample};
use crate::pipeline::{hex, ControlLoop, LoopStats};
use crate::ros::bridge::bridge;
use crate::sched::channel::{latest, ring};
use crate::sched::pace::{Gate, Pacer};
use crate::sched::{
    DiagStatus, Executor, SchedConfig, SchedError, SchedStats, TaskConfig, TaskKind, TaskSet,
    VirtualExecutor,
};
use crate::types::{ClockKind, SensorFrame, Time};

pub use control::{CycleSample, Progress, VisionCounts};

/// Name of the control task in `sched.tasks`.
const CONTROL_TASK: &str = "control";
/// Name of the learning task in `sched.tasks`.
const LEARN_TASK: &str = "learn";
/// Name of the vision task in `sched.tasks`.
const VISION_TASK: &str = "vision";

/// Errors of an agent run.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The backend failed to open, configure or activate.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The scheduler failed to start.
    #[error(transparent)]
    Sched(#[from] SchedError),
    /// The ROS 2 node failed.
    #[cfg(feature = "ros2")]
    #[error(transparent)]
    Ros(#[from] crate::ros::node::RosError),
    /// Recording failed.
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    /// The learning stage failed to start.
    #[error(transparent)]
    Learn(#[from] crate::learn::LearnError),
    /// `vision.enabled` but the backend has no camera this build can use.
    #[error("vision.enabled: backend `{0}` has no camera this build can use (MuJoCo needs `mujoco.camera` and feature `render`; RealSense a color/depth profile)")]
    NoCamera(&'static str),
    /// The vision stage refused its config.
    #[error(transparent)]
    Vision(#[from] crate::vision::VisionError),
    /// Virtual time asked of a backend that lives in real time.
    #[error("backend `{0}` runs on a live clock: virtual time (`--fast`) needs a simulated or recorded world")]
    NotVirtual(&'static str),
    /// The trace file could not be written.
    #[error("trace file {file}: {source}")]
    Trace {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The metrics endpoint or the stats socket failed to start.
    #[error(transparent)]
    Observe(#[from] crate::observe::ObserveError),
    /// Signal handler installation failed.
    #[error("cannot install the SIGINT/SIGTERM handler: {0}")]
    Signal(String),
    /// The robot's description does not fit `action.primitives`.
    #[error(transparent)]
    Body(#[from] crate::backend::body::BodyError),
    /// A named performance names no primitive of the robot's library.
    #[error("no primitive `{0}` in this robot's library (it has: {1})")]
    UnknownPrimitive(String, String),
    /// A curriculum was asked of a robot with no primitive.
    #[error("backend `{0}` drives no joint: a curriculum needs a robot with joints")]
    NoPrimitives(&'static str),
}

impl From<crate::backend::BackendError> for AgentError {
    fn from(e: crate::backend::BackendError) -> Self {
        AgentError::Open(e.into())
    }
}

/// How time passes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clocking {
    /// The real-time executor: pinned SCHED_FIFO workers on the wall clock.
    Realtime,
    /// The virtual-time executor (lockstep, deterministic), paced at `rate` x real time
    /// (0 = as fast as possible).
    Virtual {
        /// Pace.
        rate: f64,
    },
}

/// The virtual-time driver's progress callback.
pub type OnTick = Box<dyn FnMut(&Progress)>;

/// One orientation sample of a [`Tap`]: time, fused orientation if valid, ground truth if the
/// frame had one (`[w, x, y, z]`).
pub type OrientationSample = (Time, Option<[f64; 4]>, Option<[f64; 4]>);

/// What the driver asks of a run.
#[derive(Default)]
pub struct AgentOptions {
    /// Virtual time (`None` = real time).
    pub virtual_rate: Option<f64>,
    /// Start the ROS 2 node (needs feature `ros2`).
    pub ros: bool,
    /// Stop after this many seconds of backend time (None: until the source or the recording
    /// ends, or SIGINT/SIGTERM).
    pub duration_s: Option<f64>,
    /// The bag to replay (overrides `replay.bag`).
    pub bag: Option<PathBuf>,
    /// A curriculum: the command source performs scenarios of the robot's primitive library
    /// (generated from the backend's body, `action.primitives`).
    pub curriculum: Option<PlanRequest>,
    /// Keep every experience in the learner's journal (evaluation).
    pub journal: bool,
    /// Every frame as a CSV row (virtual time only).
    pub trace_csv: Option<PathBuf>,
    /// Collect every `n`-th cycle's fused orientation and ground truth, and every cycle's
    /// execution time (virtual time only; evaluation reports).
    pub tap_every: Option<u64>,
    /// Progress counters for the driver's display.
    pub progress: Option<Arc<Progress>>,
    /// Called by the virtual-time driver about every 100 ms of wall time (progress display).
    pub on_tick: Option<OnTick>,
    /// Fault injection for tests: block the ROS node thread for `(after, for)` wall time.
    pub stall_ros: Option<(Duration, Duration)>,
    /// Player controls over the virtual-time driver (pause, rate, steps, fast-forward).
    pub player: Option<crate::sched::pace::PlayControl>,
    /// A backend the driver opened itself (to keep handles on it, e.g. replay's statistics);
    /// None = the one the config names.
    pub backend: Option<crate::backend::Managed>,
    /// Start from this learner (its calibrated encoder, substrate and action memories) instead
    /// of a new one (`sattva eval perform` continues after learning).
    pub learner: Option<Learner>,
    /// Performances of learned attractors as the command source (`sattva eval perform`);
    /// overrides `curriculum`'s source.
    pub perform: Option<Vec<crate::action::PerformTrial>>,
    /// Peer validation (`crate::peers`): the learn task serves these ports.
    pub peers: Option<crate::learn::PeerPorts>,
}

impl AgentOptions {
    fn clocking(&self) -> Clocking {
        match self.virtual_rate {
            Some(rate) => Clocking::Virtual { rate },
            None => Clocking::Realtime,
        }
    }
}

/// What a run did.
pub struct AgentReport {
    /// Name of the backend that ran.
    pub backend: &'static str,
    /// Facts about it.
    pub info: BackendInfo,
    /// Loop counters.
    pub stats: LoopStats,
    /// Safety clamp `(clamped values, rate-limited targets, rejected commands)`.
    pub clamp: (u64, u64, u64),
    /// The loop's health at the end (overspeed brakes, stale holds, the backend's faults).
    pub health: crate::pipeline::HealthSample,
    /// Backend time at the start and at the end.
    pub span: (Time, Time),
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// `(sent_to_ros, dropped_to_ros, dropped_from_ros)`.
    pub bridge: (u64, u64, u64),
    /// Scheduler statistics (per task latency, misses, overruns; rt status).
    pub sched: SchedStats,
    /// What the learning task did (None when `learn.enabled` is off).
    pub learn: Option<LearnSummary>,
    /// The learner at the end (final substrate, journal).
    pub learner: Option<Learner>,
    /// What reached the control task from the vision task (None when `vision.enabled` is off).
    pub vision: Option<VisionCounts>,
    /// The run's fingerprint (see [`Fingerprint`]).
    pub fingerprint: Fingerprint,
    /// The bag recorded, if `record.enabled`.
    pub recorded: Option<PathBuf>,
    /// What `tap_every` collected.
    pub tap: Tap,
    /// The curriculum performed (None without one).
    pub curriculum: Option<CurriculumPlan>,
    /// What the observer saw: the final snapshot and learning over time.
    pub observed: crate::observe::History,
    /// The STL monitors' counters (`monitors:`).
    pub monitors: Vec<crate::monitor::MonitorSummary>,
}

/// The curriculum a run performed: the robot's primitive library and the scenarios.
#[derive(Clone, Debug, Default)]
pub struct CurriculumPlan {
    /// Primitive names in label order.
    pub names: Vec<&'static str>,
    /// The scenarios in order (a scenario's index is its episode number).
    pub scenarios: Vec<Scenario>,
    /// Primitives the robot could not perform, and why.
    pub skipped: Vec<(String, String)>,
}

/// Per-cycle series collected for evaluation reports ([`AgentOptions::tap_every`]).
#[derive(Clone, Debug, Default)]
pub struct Tap {
    /// `(time, fused orientation if valid, ground-truth orientation if the frame had one)`,
    /// every n-th cycle.
    pub orientation: Vec<OrientationSample>,
    /// Wall-clock execution time of every cycle, us.
    pub cycle_us: Vec<f64>,
    /// The STL monitors' robustness, smallest per window of n cycles (call `finish` for the
    /// last window).
    pub robustness: crate::monitor::RobustnessSeries,
}

impl AgentReport {
    /// Backend time run, s.
    pub fn seconds(&self) -> f64 {
        (self.span.1 .0 - self.span.0 .0) as f64 * 1e-9
    }
}

/// The fingerprint of a run: a hash of everything the agent output per cycle (command after
/// the clamp, fused state) and a hash of the learned state at the end (the substrate's
/// content, lineage left out). Identical config, seed and world give identical fingerprints
/// in every mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 over every cycle's outputs, hex.
    pub outputs: String,
    /// SHA-256 of the learned state, hex (None without learning).
    pub learned: Option<String>,
}

impl Fingerprint {
    /// One hash over both, hex.
    pub fn combined(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.outputs.as_bytes());
        if let Some(l) = &self.learned {
            h.update(l.as_bytes());
        }
        hex(&h.finalize())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sha256:{} (outputs sha256:{}",
            self.combined(),
            self.outputs
        )?;
        if let Some(l) = &self.learned {
            write!(f, ", learned state sha256:{l}")?;
        }
        write!(f, ")")
    }
}

/// The scheduler config of a run: `sched` from the config file, with a `control` task at the
/// control period and (when learning / vision are on) `learn` and `vision` tasks if the file
/// declares none: learn 20 ms, priority 20, on the core after the control task's; vision at
/// `vision.rate_hz` beside it. The same in every mode.
fn sched_config(c: &Config) -> SchedConfig {
    let mut sc = c.sched.clone();
    let control_core = sc
        .tasks
        .entry(CONTROL_TASK.to_string())
        .or_insert_with(|| TaskConfig {
            period_ns: c.control.period_ns,
            priority: 80,
            ..Default::default()
        })
        .core;
    if c.learn.enabled {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        sc.tasks
            .entry(LEARN_TASK.to_string())
            .or_insert_with(|| TaskConfig {
                period_ns: 20_000_000,
                priority: 20,
                core: if cores > 1 {
                    (control_core + cores - 1) % cores
                } else {
                    control_core
                },
                kind: TaskKind::Periodic,
                ..Default::default()
            });
    } else {
        sc.tasks.remove(LEARN_TASK);
    }
    if c.vision.enabled {
        let learn_core = sc.tasks.get(LEARN_TASK).map_or(control_core, |t| t.core);
        sc.tasks
            .entry(VISION_TASK.to_string())
            .or_insert_with(|| TaskConfig {
                period_ns: (1e9 / c.vision.rate_hz).round() as i64,
                priority: c.vision.priority,
                core: learn_core,
                ..Default::default()
            });
    } else {
        sc.tasks.remove(VISION_TASK);
    }
    sc
}

/// Builds the agent `c` describes and runs it until the duration, the command source or the
/// recording ends (or SIGINT/SIGTERM), as `opts` asks.
pub fn run(c: &Config, mut opts: AgentOptions) -> Result<AgentReport, AgentError> {
    let wall0 = Instant::now();
    let clocking = opts.clocking();
    // 1. the world
    let mut backend = match opts.backend.take() {
        Some(mut b) => {
            if b.state() == crate::backend::Lifecycle::Unconfigured {
                crate::backend::Backend::configure(&mut b)?;
            }
            b
        }
        None => c.open_backend(opts.bag.as_deref())?,
    };
    if matches!(clocking, Clocking::Virtual { .. })
        && !matches!(backend.clock(), ClockKind::Simulated | ClockKind::Replay)
    {
        return Err(AgentError::NotVirtual(backend.name()));
    }
    let backend_name = backend.name();
    // 2. the vision task (camera rate, below the control task) when `vision.enabled`; taken
    //    before activation so that a recording's first frames already have their consumer
    let vision = if c.vision.enabled {
        let source = backend
            .take_frame_source()
            .ok_or(AgentError::NoCamera(backend_name))?;
        Some(crate::vision::task::vision_task(&c.vision, source)?)
    } else {
        None
    };
    let (vision_task, vision_sink) = match vision {
        Some((t, s)) => (Some(t), Some(s)),
        None => (None, None),
    };
    backend.activate()?;
    let info = backend.info().clone();
    let clock = backend.clock();
    // 3. the learner (before the source: a resumed substrate continues the curriculum)
    let learner = if c.learn.enabled {
        let layout = crate::encode::Layout {
            joints: info.joint_names.len(),
            contacts: info.contact_names.len(),
            depth_cells: 0,
        };
        let mut l = match opts.learner.take() {
            Some(l) => l,
            None => Learner::new(c, layout)?,
        };
        if opts.journal {
            l.keep_journal();
        }
        Some(l)
    } else {
        None
    };
    // 4. the control loop: fusion, source, clamp
    let mut plan_out = None;
    let curriculum = match opts.curriculum.take() {
        None => None,
        Some(req) => {
            let body = backend.body(&c.action.primitives.spec())?;
            let set = crate::action::PrimitiveSet::generate(body, &c.action.primitives);
            if set.is_empty() {
                return Err(AgentError::NoPrimitives(backend_name));
            }
            let names = set.names();
            if let Some(n) = req.unknown(&names) {
                return Err(AgentError::UnknownPrimitive(
                    n.to_string(),
                    names.join(", "),
                ));
            }
            let scenarios = req.scenarios(&c.eval, &names, set.object().is_some(), c.seed);
            tracing::info!(
                primitives = names.len(),
                episodes = scenarios.len(),
                "curriculum: the robot's primitive library"
            );
            plan_out = Some(CurriculumPlan {
                names,
                scenarios: scenarios.clone(),
                skipped: set.skipped().to_vec(),
            });
            Some(CurriculumSource::new(
                &c.eval,
                set,
                scenarios,
                c.control.period_ns,
            ))
        }
    };
    let t_start = backend.now();
    let mut lp = ControlLoop::new(c, backend, curriculum)?;
    if let Some(trials) = opts.perform.take() {
        lp.set_perform_plan(crate::action::PerformSource::new(
            trials,
            info.joint_limits.clone(),
            c.eval.settle_s,
            c.control.period_ns,
        ));
    }
    // 5. the channels: ROS bridge, learning, diagnostics
    let (rt, ros_side) = bridge(c.ros.queue_capacity as usize);
    let bridge_stats = rt.stats().clone();
    let (diag_tx, diag_rx) = mpsc::channel::<Vec<DiagStatus>>();
    let (learn_fin_tx, learn_fin_rx) = mpsc::channel::<LearnOutcome>();
    let mut learn_ros = None;
    let mut learn_task = None;
    let mut segment_tx = None;
    let mut learn_probe = None;
    if let Some(learner) = learner {
        let (stx, srx) = ring::<Segment>(c.learn.queue_capacity as usize);
        let (ports, ros) = crate::learn::learn_bridge(c.learn.queue_capacity as usize);
        let (ptx, prx) = latest(crate::learn::LearnProbe::default());
        learn_probe = Some(prx);
        let mut task = LearnTask::new(c, learner, srx, opts.ros.then_some(ports), learn_fin_tx)?
            .with_probe(ptx);
        if let Some(p) = opts.peers.take() {
            task = task.with_peers(p);
        }
        learn_task = Some(task);
        learn_ros = opts.ros.then_some(ros);
        segment_tx = Some((
            Segmenter::new(
                Segmenter::cycles(c.learn.window_ms, c.control.period_ns),
                c.encode.profile.bins as usize,
                info.has_imu,
            ),
            stx,
        ));
    } else {
        drop(learn_fin_tx);
    }
    // 6. the ROS node (non-RT thread)
    #[cfg(feature = "ros2")]
    let node = if opts.ros {
        let ni = crate::ros::node::NodeInfo {
            backend: info.clone(),
            clock,
            monitors: lp.monitors().names(),
        };
        Some(crate::ros::node::spawn(
            &c.ros,
            ni,
            ros_side,
            diag_rx,
            learn_ros.take(),
        )?)
    } else {
        drop((ros_side, diag_rx));
        None
    };
    #[cfg(not(feature = "ros2"))]
    {
        drop((ros_side, diag_rx, learn_ros.take()));
        if opts.ros {
            tracing::warn!("this build has no ROS 2 (feature `ros2`): running without the node");
        }
    }
    let _ = clock;
    // 6b. the observer (non-RT thread): snapshots for `metrics.listen`, `metrics.socket`, the
    //     run's history
    let (control_probe, control_probe_rx) = latest(ControlProbe::default());
    let observer = Observer::start(
        &c.metrics,
        (!c.metrics.socket.is_empty()).then(|| c.resolve_path(&c.metrics.socket)),
        crate::observe::Inputs {
            backend: backend_name.to_string(),
            bridge: bridge_stats.clone(),
            control: control_probe_rx,
            learn: learn_probe,
            vision: c.vision.enabled,
        },
    )?;
    let obs_period = Duration::from_millis(c.metrics.period_ms as u64);
    let buckets = Buckets::pair;
    // 7. the recorder (non-RT writer thread)
    let recorder = start_recorder(c, info.joint_names.clone(), info.contact_names.clone())?
        .map(|(r, s)| (r.with_monitor_names(lp.monitors().names()), s));
    let (recorder, record_sink) = match recorder {
        Some((r, s)) => (Some(r), Some(s)),
        None => (None, None),
    };
    // 8. the tap: per-cycle samples for a trace file or a report (virtual time: the driver
    //    drains it after every step, so nothing is dropped)
    if matches!(clocking, Clocking::Realtime)
        && (opts.trace_csv.is_some() || opts.tap_every.is_some())
    {
        return Err(AgentError::Trace {
            file: opts.trace_csv.clone().unwrap_or_default(),
            source: std::io::Error::other("a trace or report tap needs virtual time"),
        });
    }
    let mut trace = match &opts.trace_csv {
        Some(p) => {
            let f = std::fs::File::create(p).map_err(|source| AgentError::Trace {
                file: p.clone(),
                source,
            })?;
            Some((p.clone(), std::io::BufWriter::new(f)))
        }
        None => None,
    };
    let (tap_tx, mut tap_rx) = if trace.is_some() || opts.tap_every.is_some() {
        let (tx, rx) = ring::<CycleSample>(16);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let tap_every = opts.tap_every.unwrap_or(0);
    let mut tap = Tap::default();
    let mut tapped = 0u64;
    // 9. the control task
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        if let Err(e) = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed)) {
            // a second run in the same process (tests) keeps the first handler
            if !matches!(e, ctrlc::Error::MultipleHandlers) {
                return Err(AgentError::Signal(e.to_string()));
            }
        }
    }
    let done = Arc::new(AtomicBool::new(false));
    let progress = opts.progress.take().unwrap_or_default();
    let (fin_tx, fin_rx) = mpsc::channel();
    let task = control::ControlTask {
        lp,
        rt,
        learn: segment_tx,
        vision: vision_sink,
        record: record_sink.clone(),
        tap: tap_tx,
        end_ns: opts
            .duration_s
            .map(|d| t_start.0 + (d * 1e9).round() as i64),
        health_every: (100_000_000 / c.control.period_ns).max(1) as u64, // 10 Hz
        monitors_every: ((1e9 / c.ros.monitors_rate_hz) as i64 / c.control.period_ns).max(1) as u64,
        jobs: 0,
        done: done.clone(),
        finished: Some(fin_tx),
        ros: opts.ros && cfg!(feature = "ros2"),
        vision_counts: VisionCounts::default(),
        progress: progress.clone(),
        probe: control_probe,
    };
    // 10. the task set, the same in every mode, on the driver's executor
    let sc = sched_config(c);
    let final_sched;
    let diag_period = Duration::from_millis(c.ros.diagnostics_period_ms as u64);
    let sched = match clocking {
        Clocking::Virtual { rate } => {
            let mut set = TaskSet::new().add(CONTROL_TASK, task);
            if let Some(l) = learn_task {
                set = set.add(LEARN_TASK, l);
            }
            if let Some(v) = vision_task {
                set = set.add(VISION_TASK, v);
            }
            let mut ex = VirtualExecutor::new(&sc, set, t_start)?;
            // the one pacing of virtual time: `rate` x real time, under the player's controls
            let mut pacer = Pacer::new(t_start.0, rate, opts.player.take());
            let mut next_diag = Instant::now();
            let mut next_tick = Instant::now();
            let mut next_obs = Instant::now();
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                let gate = pacer.gate(ex.now().0, progress.cycles.load(Ordering::Relaxed));
                if gate == Gate::Hold {
                    std::thread::sleep(Duration::from_millis(2)); // paused
                    continue;
                }
                ex.step();
                n += 1;
                while let Some(s) = tap_rx.as_mut().and_then(|rx| rx.pop()) {
                    if let Some((file, w)) = &mut trace {
                        write_trace_row(w, &s.frame).map_err(|source| AgentError::Trace {
                            file: file.clone(),
                            source,
                        })?;
                    }
                    if tap_every > 0 {
                        if tapped % tap_every == 0 {
                            tap.orientation.push((
                                s.frame.t,
                                s.orientation,
                                s.frame.truth.map(|g| g.orientation),
                            ));
                        }
                        tapped += 1;
                        tap.cycle_us.push(s.cycle_ns as f64 * 1e-3);
                        tap.robustness.push(s.frame.t, &s.robustness, tap_every);
                    }
                }
                if n % 64 == 0 {
                    if gate == Gate::Run {
                        pacer.wait(ex.now().0);
                    }
                    // a simulated run's recording is complete: wait for the writer, never drop
                    if let Some(s) = &record_sink {
                        while s.backlog().0 * 2 > s.backlog().1 {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                    let now = Instant::now();
                    if now >= next_diag {
                        next_diag = now + diag_period;
                        let _ = diag_tx.send(ex.stats().diagnostics());
                    }
                    if now >= next_obs {
                        next_obs = now + obs_period;
                        let st = ex.stats();
                        observer.sched(SchedSample::of(&st, |t| ex.histograms(t).map(buckets)));
                    }
                    if now >= next_tick {
                        next_tick = now + Duration::from_millis(100);
                        if let Some(f) = opts.on_tick.as_mut() {
                            f(&progress);
                        }
                    }
                }
            }
            pacer.end();
            ex.halt();
            let stats = ex.stats();
            let _ = diag_tx.send(stats.diagnostics());
            final_sched = SchedSample::of(&stats, |t| ex.histograms(t).map(buckets));
            if let Some((file, mut w)) = trace {
                std::io::Write::flush(&mut w)
                    .map_err(|source| AgentError::Trace { file, source })?;
            }
            stats
        }
        Clocking::Realtime => {
            let hook: crate::sched::SafeStopHook = Arc::new(|ev| {
                tracing::error!(
                    task = ev.task,
                    execution_ns = ev.execution_ns,
                    "control task overran its budget: safe stop (robot holds)"
                );
            });
            let mut set = TaskSet::new().add(CONTROL_TASK, task).on_safe_stop(hook);
            if let Some(l) = learn_task {
                set = set.add(LEARN_TASK, l);
            }
            if let Some(v) = vision_task {
                set = set.add(VISION_TASK, v);
            }
            let mut ex = Executor::start(&sc, set)?;
            let started = Instant::now();
            let mut next_diag = Instant::now();
            let mut next_obs = Instant::now();
            let mut stalled = false;
            while !done.load(Ordering::Relaxed)
                && !stop.load(Ordering::Relaxed)
                && !ex.safe_stopped()
            {
                std::thread::sleep(Duration::from_millis(10));
                if Instant::now() >= next_diag {
                    next_diag += diag_period;
                    let _ = diag_tx.send(ex.stats().diagnostics());
                }
                if Instant::now() >= next_obs {
                    next_obs = Instant::now() + obs_period;
                    let st = ex.stats();
                    observer.sched(SchedSample::of(&st, |t| {
                        ex.reader().histograms(t).map(buckets)
                    }));
                }
                #[cfg(feature = "ros2")]
                if let (Some((after, dur)), Some(n), false) =
                    (opts.stall_ros, node.as_ref(), stalled)
                {
                    if started.elapsed() >= after {
                        n.stall_for(dur);
                        stalled = true;
                    }
                }
            }
            let _ = (started, &mut stalled);
            ex.halt();
            let stats = ex.stats();
            let _ = diag_tx.send(stats.diagnostics());
            final_sched = SchedSample::of(&stats, |t| ex.reader().histograms(t).map(buckets));
            stats
        }
    };
    // 11. what every part did
    let out = fin_rx.recv().ok();
    let learned = learn_fin_rx.recv().ok();
    let mut recorded = None;
    if let Some(r) = recorder {
        let (bag, rs) = r.finish()?;
        tracing::info!(
            messages = rs.written,
            dropped = rs.dropped,
            "recorded {:?}",
            bag.dir
        );
        recorded = Some(bag.dir);
    }
    #[cfg(feature = "ros2")]
    if let Some(n) = node {
        // let the node publish the last messages
        std::thread::sleep(Duration::from_millis(100));
        n.stop()?;
    }
    let (stats, end, vision_counts, outputs, clamp, health, monitors) = match out {
        Some(o) => (
            o.stats,
            o.end,
            o.vision,
            o.output_hash,
            o.clamp,
            o.health,
            o.monitors,
        ),
        None => (
            LoopStats::default(),
            t_start,
            VisionCounts::default(),
            String::new(),
            (0, 0, 0),
            Default::default(),
            Vec::new(),
        ),
    };
    let (learn, learner) = match learned {
        Some(o) => (Some(o.summary), Some(o.learner)),
        None => (None, None),
    };
    let observed = observer.finish(Final {
        sched: final_sched,
        health,
        episodes: stats.episodes,
        vision: (
            vision_counts.results,
            vision_counts.applied,
            vision_counts.refused,
        ),
        learn: learn
            .as_ref()
            .zip(learner.as_ref())
            .map(|(s, l)| crate::observe::learn_final(s, l.learn_histogram())),
        backend_s: (end.0 - t_start.0) as f64 * 1e-9,
    });
    let fingerprint = Fingerprint {
        outputs,
        learned: learner
            .as_ref()
            .map(|l| hex(&l.substrate().snapshot_view().content_hash())),
    };
    Ok(AgentReport {
        backend: backend_name,
        info,
        stats,
        clamp,
        health,
        span: (t_start, end),
        wall_s: wall0.elapsed().as_secs_f64(),
        bridge: bridge_stats.snapshot(),
        sched,
        learn,
        learner,
        vision: c.vision.enabled.then_some(vision_counts),
        fingerprint,
        recorded,
        tap,
        curriculum: plan_out,
        observed,
        monitors,
    })
}

/// Starts recording a run if `record.enabled`: a new bag directory `sattva_<unix seconds>` under
/// `record.dir` (relative to the config file). Returns the recorder (non-RT writer thread) and the
/// sink the control task pushes into.
fn start_recorder(
    cfg: &Config,
    joint_names: Vec<String>,
    contact_names: Vec<String>,
) -> Result<Option<(crate::record::Recorder, crate::record::RecordSink)>, crate::record::RecordError>
{
    if !cfg.record.enabled {
        return Ok(None);
    }
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = cfg
        .resolve_path(&cfg.record.dir)
        .join(format!("sattva_{stamp}"));
    tracing::info!(bag = %dir.display(), "recording");
    let (sink, source) = crate::record::record_queue(cfg.record.queue_capacity.max(1) as usize);
    let rec = crate::record::Recorder::start_with(source, &dir, &cfg.record, joint_names)?
        .with_contact_names(contact_names);
    Ok(Some((rec, sink)))
}

fn write_trace_row(w: &mut impl std::io::Write, f: &SensorFrame) -> std::io::Result<()> {
    write!(w, "{}", f.t.0)?;
    let vals = f
        .joints
        .position
        .iter()
        .chain(&f.joints.velocity)
        .chain(f.imu.iter().flat_map(|i| i.accel.iter().chain(&i.gyro)))
        .chain(&f.contacts);
    for v in vals {
        write!(w, ",{v:.9e}")?;
    }
    writeln!(w)
}
