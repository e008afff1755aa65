//! Observability: one stats [`Snapshot`] of a running agent, produced periodically on a non-RT
//! thread, served as OpenMetrics text (Prometheus, `metrics.listen`) and as JSON lines on a
//! local Unix socket (`metrics.socket`) that `sattva top` attaches to without ROS.
//!
//! ```text
//!  control task ──latest slot──> ControlProbe ─┐
//!  learn task   ──latest slot──> LearnProbe   ─┤  observer thread (non-RT, every period_ms)
//!  driver thread ──mpsc──> SchedSample (HDR) ──┼─> Snapshot ─┬─> HTTP /metrics (OpenMetrics)
//!  bridge counters, progress (atomics) ────────┘             ├─> Unix socket (JSON lines) ─> `sattva top`
//!                                                            └─> History ─> run summary (HTML)
//! ```
//!
//! The RT side only writes fixed-size values into latest-value slots (no allocation, no lock,
//! never waits); everything else (HDR histograms to buckets, text, sockets) happens on the
//! observer's and the servers' own threads. The executor's statistics come from the driver
//! thread, which already reads them for `/diagnostics`.

mod openmetrics;
mod serve;
pub mod top;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::learn::LearnProbe;
use crate::pipeline::HealthSample;
use crate::sched::channel::LatestRx;
use crate::sched::{SchedStats, Summary, TaskSnapshot};
use crate::validate::{Checker, Validate};

pub use openmetrics::render as openmetrics_text;

/// Errors of the observability side.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The metrics endpoint could not listen.
    #[error("metrics.listen `{addr}`: cannot listen: {message}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        message: String,
    },
    /// The stats socket could not be created.
    #[error("metrics.socket {path}: {message}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A thread could not be spawned.
    #[error("cannot spawn the {0} thread: {1}")]
    Spawn(&'static str, #[source] std::io::Error),
}

/// The `metrics:` config section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Prometheus endpoint `host:port` (OpenMetrics text at `/metrics`); empty = off.
    pub listen: String,
    /// Unix socket `sattva top` attaches to (JSON lines, read-only); empty = off. Relative to
    /// the config file.
    pub socket: String,
    /// How often the snapshot is rebuilt, ms.
    pub period_ms: u32,
    /// At the end of a run, keep serving the final snapshot until it was scraped once (or this
    /// long passed), ms: a scraper sees the final counters of a short run. 0 = stop at once.
    pub linger_ms: u32,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: String::new(),
            socket: String::new(),
            period_ms: 250,
            linger_ms: 0,
        }
    }
}

impl Validate for MetricsConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("period_ms", self.period_ms as u64, 10, 60_000);
        c.range_u64("linger_ms", self.linger_ms as u64, 0, 600_000);
        if !self.listen.is_empty() {
            if let Err(e) = self.listen.parse::<std::net::SocketAddr>() {
                c.fail(
                    "listen",
                    format!(
                        "`{}`: {e}: expected `host:port` with a numeric IP, e.g. `127.0.0.1:9464`",
                        self.listen
                    ),
                );
            }
        }
        if self.socket.len() > 100 {
            c.fail(
                "socket",
                "path too long for a Unix socket (at most 100 bytes)",
            );
        }
    }
}

/// Upper edges of the histogram buckets, ns: `2^k x {1, 1.25, 1.5, 1.75}` from 256 ns to
/// ~15 s. Each is a bucket edge of the executor's HDR layout (2 significant digits: 128
/// sub-buckets per power of two), so the count below an edge is exact, not interpolated.
pub fn bucket_edges_ns() -> Vec<u64> {
    let mut v = Vec::with_capacity(104);
    for k in 8..34u32 {
        let b = 1u64 << k;
        v.extend([b, b + b / 4, b + b / 2, b + 3 * b / 4]);
    }
    v
}

/// A histogram as cumulative bucket counts against [`bucket_edges_ns`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Buckets {
    /// `cumulative[i]`: values below edge `i`.
    pub cumulative: Vec<u64>,
    /// All values (the `+Inf` bucket).
    pub count: u64,
    /// Sum of the values, ns (HDR mean x count: within the HDR resolution).
    pub sum_ns: f64,
}

impl Buckets {
    /// Wake-up latency and execution time buckets of a task.
    pub fn pair(h: &TaskSnapshot) -> (Buckets, Buckets) {
        (Buckets::of(&h.release_latency), Buckets::of(&h.execution))
    }

    /// The buckets of an HDR histogram.
    pub fn of(h: &Histogram<u64>) -> Buckets {
        let edges = bucket_edges_ns();
        let mut per = vec![0u64; edges.len()];
        let mut count = 0;
        for it in h.iter_recorded() {
            let lo = h.lowest_equivalent(it.value_iterated_to());
            let c = it.count_at_value();
            count += c;
            let i = edges.partition_point(|&e| e <= lo);
            if i < per.len() {
                per[i] += c;
            }
        }
        let mut acc = 0;
        let cumulative = per
            .into_iter()
            .map(|c| {
                acc += c;
                acc
            })
            .collect();
        Buckets {
            cumulative,
            count,
            sum_ns: if count == 0 {
                0.0
            } else {
                h.mean() * count as f64
            },
        }
    }
}

/// One scheduler task as observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Task name.
    pub name: String,
    /// Core.
    pub core: usize,
    /// Period, ns.
    pub period_ns: i64,
    /// Jobs run.
    pub jobs: u64,
    /// Jobs over budget.
    pub overruns: u64,
    /// Jobs past their deadline.
    pub deadline_misses: u64,
    /// Releases dropped.
    pub skipped_releases: u64,
    /// `on time`, `late`, `safe-stopped`, `panicked`, `hung`.
    pub status: String,
    /// Wake-up (release) latency, ns.
    pub latency: Summary,
    /// Execution time, ns.
    pub execution: Summary,
    /// Wake-up latency histogram.
    pub latency_buckets: Buckets,
    /// Execution time histogram.
    pub execution_buckets: Buckets,
}

/// What the driver thread hands the observer: the executor's statistics with the histograms.
#[derive(Clone, Debug, Default)]
pub struct SchedSample {
    /// `full`, `degraded`, `off`.
    pub rt: String,
    /// What the OS refused.
    pub rt_issues: Vec<String>,
    /// Virtual time.
    pub virtual_time: bool,
    /// Per task.
    pub tasks: Vec<TaskView>,
}

impl SchedSample {
    /// From the executor's statistics and the buckets of its HDR histograms per task
    /// (`hist(name)`: wake-up latency, execution; see [`Buckets::pair`]).
    pub fn of(
        s: &SchedStats,
        mut hist: impl FnMut(&str) -> Option<(Buckets, Buckets)>,
    ) -> SchedSample {
        let tasks = s
            .tasks
            .iter()
            .map(|t| {
                let (lb, eb) = hist(&t.name).unwrap_or_default();
                TaskView {
                    name: t.name.clone(),
                    core: t.core,
                    period_ns: t.period_ns,
                    jobs: t.jobs,
                    overruns: t.overruns,
                    deadline_misses: t.deadline_misses,
                    skipped_releases: t.skipped_releases,
                    status: if t.hung {
                        "hung"
                    } else if t.panicked {
                        "panicked"
                    } else if t.safe_stopped {
                        "safe-stopped"
                    } else if t.deadline_misses + t.overruns > 0 {
                        "late"
                    } else {
                        "on time"
                    }
                    .into(),
                    latency: t.release_latency,
                    execution: t.execution,
                    latency_buckets: lb,
                    execution_buckets: eb,
                }
            })
            .collect();
        SchedSample {
            rt: s.rt.state.to_string(),
            rt_issues: s.rt.issues.clone(),
            virtual_time: s.virtual_time,
            tasks,
        }
    }
}

/// What the control task publishes (fixed size: written from the RT thread into a latest-value
/// slot, about 10 times per second).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ControlProbe {
    /// Loop health.
    pub health: HealthSample,
    /// Vision results taken, yaw corrections applied, refused.
    pub vision: (u64, u64, u64),
    /// Curriculum episodes started.
    pub episodes: u64,
    /// Allocations made on the control task's thread so far (counted only when the process
    /// runs [`crate::alloc_count::CountingAlloc`]; 0 otherwise).
    pub allocations: u64,
}

/// Control-loop counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlView {
    /// Cycles.
    pub cycles: u64,
    /// Curriculum episodes.
    pub episodes: u64,
    /// Sensor read errors.
    pub read_errors: u64,
    /// Rejected commands.
    pub write_errors: u64,
    /// Values clamped by the safety clamp.
    pub clamped: u64,
    /// Targets rate-limited by the clamp.
    pub rate_limited: u64,
    /// Joint-cycles braked for overspeed.
    pub overspeed: u64,
    /// Cycles held because the operator's command went stale.
    pub stale_holds: u64,
    /// Backend faults: fatal, unstable, overflow, other.
    pub faults: [u64; 4],
    /// Control mode.
    pub mode: String,
    /// Allocations on the control task's thread (see [`ControlProbe::allocations`]).
    pub allocations: u64,
}

/// ROS bridge counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeView {
    /// RT -> ROS messages delivered into the ring.
    pub sent_to_ros: u64,
    /// RT -> ROS messages dropped (ring full).
    pub dropped_to_ros: u64,
    /// ROS -> RT messages dropped.
    pub dropped_from_ros: u64,
}

/// Learning counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LearnView {
    /// Experiences received.
    pub experiences: u64,
    /// Used for calibration.
    pub calibrated: u64,
    /// Learned.
    pub learned: u64,
    /// Rejected by the encoder.
    pub rejected: u64,
    /// Recognised before learning.
    pub recognised: u64,
    /// Attractors formed.
    pub formed: u64,
    /// Attractors now.
    pub attractors: u64,
    /// Segments the control task could not hand over.
    pub segments_dropped: u64,
    /// Learning time per experience, ns.
    pub learn: Summary,
    /// Learning time histogram.
    pub learn_buckets: Buckets,
}

impl LearnView {
    fn of(p: &LearnProbe) -> LearnView {
        let s = &p.stats;
        LearnView {
            experiences: s.experiences,
            calibrated: s.calibrated,
            learned: s.learned,
            rejected: s.rejected,
            recognised: s.recognised,
            formed: s.created,
            attractors: s.attractors,
            segments_dropped: p.segments_dropped,
            learn: Summary::of(&p.learn_ns),
            learn_buckets: Buckets::of(&p.learn_ns),
        }
    }
}

/// Vision counters (as the control task saw them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VisionView {
    /// Results taken from the vision task.
    pub results: u64,
    /// Yaw corrections applied.
    pub applied: u64,
    /// Refused by the filter.
    pub refused: u64,
}

/// Everything observed of a running agent at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Counts up with every snapshot.
    pub seq: u64,
    /// Backend name.
    pub backend: String,
    /// Wall time since the start, s.
    pub wall_s: f64,
    /// Backend time since the start, s.
    pub backend_s: f64,
    /// True for the final snapshot (the agent has stopped).
    pub finished: bool,
    /// Real-time status, `full` / `degraded` / `off`.
    pub rt: String,
    /// What the OS refused (rt degraded).
    pub rt_issues: Vec<String>,
    /// Virtual time (latencies are 0).
    pub virtual_time: bool,
    /// Scheduler tasks.
    pub tasks: Vec<TaskView>,
    /// Control loop.
    pub control: ControlView,
    /// ROS bridge.
    pub bridge: BridgeView,
    /// Learning (when enabled).
    pub learn: Option<LearnView>,
    /// Vision (when enabled).
    pub vision: Option<VisionView>,
}

/// Learning over time, one point per snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Backend time, s.
    pub backend_s: f64,
    /// Attractors alive.
    pub attractors: u64,
    /// Experiences learned so far.
    pub learned: u64,
    /// Recognised so far.
    pub recognised: u64,
    /// Control task wake-up latency p99 so far, ns.
    pub control_p99_ns: u64,
}

/// The final snapshot and the learning-over-time series of a run.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Points, one per snapshot (at most [`HISTORY_MAX`], thinned by half when full).
    pub points: Vec<HistoryPoint>,
    /// The final snapshot.
    pub last: Snapshot,
}

/// Most points a [`History`] keeps.
pub const HISTORY_MAX: usize = 4096;

/// What the agent hands the observer at the end (the same values its report prints).
#[derive(Clone, Debug, Default)]
pub struct Final {
    /// Executor statistics.
    pub sched: SchedSample,
    /// Control loop health at the end.
    pub health: HealthSample,
    /// Curriculum episodes started.
    pub episodes: u64,
    /// Vision counts.
    pub vision: (u64, u64, u64),
    /// Learning at the end.
    pub learn: Option<LearnView>,
    /// Backend time at the end, s since the start.
    pub backend_s: f64,
}

/// The observer's inputs.
pub struct Inputs {
    /// Backend name.
    pub backend: String,
    /// ROS bridge counters.
    pub bridge: Arc<crate::ros::bridge::BridgeStats>,
    /// The control task's probe.
    pub control: LatestRx<ControlProbe>,
    /// The learn task's probe (when learning).
    pub learn: Option<LatestRx<LearnProbe>>,
    /// Vision enabled.
    pub vision: bool,
}

enum Msg {
    Sched(SchedSample),
    Final(Box<Final>),
}

/// The published snapshot with its renderings (built once per period, served many times).
pub(crate) struct Published {
    pub snapshot: Snapshot,
    pub openmetrics: String,
    pub json: String,
}

/// What the observer thread and the servers share (non-RT threads only).
pub(crate) struct Shared {
    pub current: RwLock<Arc<Published>>,
    pub stop: AtomicBool,
    /// `/metrics` responses served of the final snapshot.
    pub final_scrapes: AtomicU64,
}

/// The running observer: its thread and servers.
pub struct Observer {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<History>>,
    servers: Vec<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    linger: Duration,
    serving_http: bool,
    socket: Option<PathBuf>,
}

impl Observer {
    /// Starts the observer thread, and the HTTP endpoint and the Unix socket if `cfg` names
    /// them (`socket`: the resolved socket path).
    pub fn start(
        cfg: &MetricsConfig,
        socket: Option<PathBuf>,
        inputs: Inputs,
    ) -> Result<Observer, ObserveError> {
        let shared = Arc::new(Shared {
            current: RwLock::new(Arc::new(publish(Snapshot::default()))),
            stop: AtomicBool::new(false),
            final_scrapes: AtomicU64::new(0),
        });
        let mut servers = Vec::new();
        if !cfg.listen.is_empty() {
            servers.push(serve::http(&cfg.listen, shared.clone())?);
        }
        if let Some(p) = &socket {
            servers.push(serve::unix(p, shared.clone())?);
        }
        let (tx, rx) = mpsc::channel();
        let period = Duration::from_millis(cfg.period_ms.max(10) as u64);
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("sattva-observe".into())
            .spawn(move || observe(inputs, rx, period, &sh))
            .map_err(|e| ObserveError::Spawn("observer", e))?;
        Ok(Observer {
            tx,
            thread: Some(thread),
            servers,
            shared,
            linger: Duration::from_millis(cfg.linger_ms as u64),
            serving_http: !cfg.listen.is_empty(),
            socket,
        })
    }

    /// Hands over the executor's newest statistics (driver thread; never blocks).
    pub fn sched(&self, s: SchedSample) {
        let _ = self.tx.send(Msg::Sched(s));
    }

    /// Publishes the final snapshot, lingers (see [`MetricsConfig::linger_ms`]), stops the
    /// servers and returns the run's history.
    pub fn finish(mut self, f: Final) -> History {
        let _ = self.tx.send(Msg::Final(Box::new(f)));
        let h = self.thread.take().and_then(|t| t.join().ok());
        if self.serving_http && !self.linger.is_zero() {
            let t0 = Instant::now();
            while self.shared.final_scrapes.load(Ordering::Relaxed) == 0
                && t0.elapsed() < self.linger
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        } else if self.socket.is_some() {
            // socket clients poll every 50 ms: give them the final snapshot
            std::thread::sleep(Duration::from_millis(120));
        }
        self.shutdown();
        h.unwrap_or_default()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for s in self.servers.drain(..) {
            let _ = s.join();
        }
        if let Some(p) = self.socket.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn publish(snapshot: Snapshot) -> Published {
    Published {
        openmetrics: openmetrics::render(&snapshot),
        json: serde_json::to_string(&snapshot).unwrap_or_default(),
        snapshot,
    }
}

fn set(shared: &Shared, s: Snapshot) {
    let p = Arc::new(publish(s));
    match shared.current.write() {
        Ok(mut g) => *g = p,
        Err(poisoned) => *poisoned.into_inner() = p,
    }
}

fn control_view(h: &HealthSample, episodes: u64, allocations: u64) -> ControlView {
    ControlView {
        cycles: h.cycles,
        episodes,
        read_errors: h.read_errors,
        write_errors: h.write_errors,
        clamped: h.clamped,
        rate_limited: h.rate_limited,
        overspeed: h.overspeed,
        stale_holds: h.stale_holds,
        faults: [
            h.faults.fatal,
            h.faults.unstable,
            h.faults.overflow,
            h.faults.other,
        ],
        mode: format!("{:?}", h.mode).to_lowercase(),
        allocations,
    }
}

fn push_history(h: &mut History, s: &Snapshot) {
    if h.points.len() >= HISTORY_MAX {
        let kept: Vec<HistoryPoint> = h.points.iter().step_by(2).copied().collect();
        h.points = kept;
    }
    let l = s.learn.as_ref();
    h.points.push(HistoryPoint {
        backend_s: s.backend_s,
        attractors: l.map_or(0, |l| l.attractors),
        learned: l.map_or(0, |l| l.learned),
        recognised: l.map_or(0, |l| l.recognised),
        control_p99_ns: s
            .tasks
            .iter()
            .find(|t| t.name == "control")
            .map_or(0, |t| t.latency.p99),
    });
}

/// The observer thread: every `period`, one snapshot from the newest inputs.
fn observe(mut inp: Inputs, rx: mpsc::Receiver<Msg>, period: Duration, shared: &Shared) -> History {
    let t0 = Instant::now();
    let mut sched = SchedSample::default();
    let mut hist = History::default();
    let mut seq = 0u64;
    let mut next = Instant::now() + period;
    let mut t_first: Option<i64> = None;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Msg::Sched(s)) => {
                sched = s;
                continue;
            }
            Ok(Msg::Final(f)) => {
                let c = *inp.control.read();
                seq += 1;
                let s = Snapshot {
                    seq,
                    backend: inp.backend.clone(),
                    wall_s: t0.elapsed().as_secs_f64(),
                    backend_s: f.backend_s,
                    finished: true,
                    rt: f.sched.rt.clone(),
                    rt_issues: f.sched.rt_issues.clone(),
                    virtual_time: f.sched.virtual_time,
                    tasks: f.sched.tasks.clone(),
                    control: control_view(&f.health, f.episodes, c.allocations),
                    bridge: bridge_view(&inp),
                    learn: f.learn.clone(),
                    vision: inp.vision.then_some(VisionView {
                        results: f.vision.0,
                        applied: f.vision.1,
                        refused: f.vision.2,
                    }),
                };
                push_history(&mut hist, &s);
                set(shared, s.clone());
                hist.last = s;
                return hist;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return hist,
        }
        next += period;
        if next < Instant::now() {
            next = Instant::now() + period;
        }
        let c = *inp.control.read();
        let t = c.health.t.0;
        let t_first = *t_first.get_or_insert(t);
        seq += 1;
        let control = control_view(&c.health, c.episodes, c.allocations);
        let s = Snapshot {
            seq,
            backend: inp.backend.clone(),
            wall_s: t0.elapsed().as_secs_f64(),
            backend_s: (t - t_first) as f64 * 1e-9,
            finished: false,
            rt: sched.rt.clone(),
            rt_issues: sched.rt_issues.clone(),
            virtual_time: sched.virtual_time,
            tasks: sched.tasks.clone(),
            control,
            bridge: bridge_view(&inp),
            learn: inp.learn.as_mut().map(|l| LearnView::of(l.read())),
            vision: inp.vision.then_some(VisionView {
                results: c.vision.0,
                applied: c.vision.1,
                refused: c.vision.2,
            }),
        };
        push_history(&mut hist, &s);
        set(shared, s);
    }
}

fn bridge_view(inp: &Inputs) -> BridgeView {
    let (sent_to_ros, dropped_to_ros, dropped_from_ros) = inp.bridge.snapshot();
    BridgeView {
        sent_to_ros,
        dropped_to_ros,
        dropped_from_ros,
    }
}

/// The learning view of a finished learn task (its summary and the learner's histogram).
pub fn learn_final(s: &crate::learn::LearnSummary, learn_ns: &Histogram<u64>) -> LearnView {
    LearnView::of(&LearnProbe {
        stats: s.stats,
        segments_dropped: s.segments_dropped,
        learn_ns: learn_ns.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges_are_hdr_bucket_edges_and_counts_exact() {
        let mut h = crate::sched::new_histogram();
        for e in bucket_edges_ns() {
            // an edge is the lowest value of its HDR bucket
            assert_eq!(h.lowest_equivalent(e), e, "edge {e}");
        }
        for v in [0u64, 300, 319, 320, 321, 5_000, 1_000_000, 1_000_001] {
            h.record(v).unwrap();
        }
        let b = Buckets::of(&h);
        let edges = bucket_edges_ns();
        assert_eq!(b.count, 8);
        for (i, e) in edges.iter().enumerate() {
            let below = [0u64, 300, 319, 320, 321, 5_000, 1_000_000, 1_000_001]
                .iter()
                .filter(|&&v| v < *e)
                .count() as u64;
            assert_eq!(b.cumulative[i], below, "edge {e}");
        }
    }
}
