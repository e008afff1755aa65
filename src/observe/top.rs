//! `sattva top`: a terminal monitor of a running agent (ratatui + crossterm).
//!
//! Attaches read-only to the agent's stats socket (`metrics.socket`, JSON lines of
//! [`Snapshot`]s) or, built with `ros2`, to `/diagnostics`. Shows per scheduler task the period,
//! wake-up latency p50 / p99 / p99.9 / max with a p99 trend, misses, overruns and status; the
//! control loop's counters; ROS bridge drops; learning (attractors over time, recognitions,
//! learn p99); vision when enabled. Keys: `q` quit, `p` pause, `s` sort, up/down select.
//! Fits 80x24.

use std::collections::VecDeque;
use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

use super::Snapshot;

/// Errors of `sattva top`.
#[derive(Debug, thiserror::Error)]
pub enum TopError {
    /// The socket could not be opened.
    #[error(
        "cannot attach to {path}: {source} (is an agent running with `-p metrics.socket={path}`?)"
    )]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Nothing arrived in time.
    #[error("{0}: no statistics received within {1} s (is the agent running?)")]
    NoData(String, u64),
    /// A line that is not a snapshot.
    #[error("{0}: not a sattva stats stream: {1}")]
    Protocol(String, String),
    /// The terminal.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// The ROS 2 source.
    #[error("ROS 2: {0}")]
    Ros(String),
    /// This build has no ROS 2.
    #[error("`--ros` needs a build with feature `ros2`")]
    NoRos,
}

/// Where `sattva top` reads from.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// The agent's stats socket.
    Socket(PathBuf),
    /// ROS 2 `/diagnostics` (topic name).
    Ros(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Socket(p) => write!(f, "{}", p.display()),
            Endpoint::Ros(t) => write!(f, "ros2 {t}"),
        }
    }
}

/// Options of `sattva top`.
#[derive(Clone, Debug)]
pub struct TopOptions {
    /// The source.
    pub endpoint: Endpoint,
    /// How long to wait for the first snapshot, s.
    pub wait_s: u64,
}

/// What the reader thread sends.
enum Event {
    Snap(Box<Snapshot>),
    Closed(String),
}

/// Connects and starts the reader thread; returns once the first snapshot arrived.
fn attach(o: &TopOptions) -> Result<(mpsc::Receiver<Event>, Snapshot), TopError> {
    let (tx, rx) = mpsc::channel();
    let name = o.endpoint.to_string();
    match &o.endpoint {
        Endpoint::Socket(path) => {
            let s = std::os::unix::net::UnixStream::connect(path).map_err(|source| {
                TopError::Connect {
                    path: path.clone(),
                    source,
                }
            })?;
            let n = name.clone();
            std::thread::Builder::new()
                .name("top-reader".into())
                .spawn(move || {
                    for line in std::io::BufReader::new(s).lines() {
                        let ev = match line {
                            Ok(l) => match serde_json::from_str::<Snapshot>(&l) {
                                Ok(s) => Event::Snap(Box::new(s)),
                                Err(e) => {
                                    Event::Closed(format!("{n}: not a sattva stats stream: {e}"))
                                }
                            },
                            Err(e) => Event::Closed(format!("{n}: {e}")),
                        };
                        let stop = matches!(ev, Event::Closed(_));
                        if tx.send(ev).is_err() || stop {
                            return;
                        }
                    }
                    let _ = tx.send(Event::Closed(format!("{n}: the agent closed the stream")));
                })?;
        }
        Endpoint::Ros(topic) => ros_reader(topic, tx)?,
    }
    match rx.recv_timeout(Duration::from_secs(o.wait_s)) {
        Ok(Event::Snap(s)) => Ok((rx, *s)),
        Ok(Event::Closed(m)) => Err(TopError::Protocol(name, m)),
        Err(_) => Err(TopError::NoData(name, o.wait_s)),
    }
}

#[cfg(feature = "ros2")]
fn ros_reader(topic: &str, tx: mpsc::Sender<Event>) -> Result<(), TopError> {
    let topic = topic.to_string();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("top-ros".into())
        .spawn(move || {
            use futures::StreamExt as _;
            let setup = (|| -> Result<_, String> {
                let ctx = r2r::Context::create().map_err(|e| e.to_string())?;
                let mut node =
                    r2r::Node::create(ctx, "sattva_top", "").map_err(|e| e.to_string())?;
                let sub = node
                    .subscribe::<r2r::diagnostic_msgs::msg::DiagnosticArray>(
                        &topic,
                        r2r::QosProfile::default(),
                    )
                    .map_err(|e| e.to_string())?;
                Ok((node, sub))
            })();
            let (mut node, mut sub) = match setup {
                Ok(v) => {
                    let _ = ready_tx.send(Ok(()));
                    v
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut pool = futures::executor::LocalPool::new();
            let t0 = Instant::now();
            let fwd = async move {
                let mut acc = Snapshot::default();
                while let Some(msg) = sub.next().await {
                    from_diagnostics(&mut acc, &msg);
                    acc.seq += 1;
                    acc.wall_s = t0.elapsed().as_secs_f64();
                    if tx.send(Event::Snap(Box::new(acc.clone()))).is_err() {
                        return;
                    }
                }
            };
            use futures::task::LocalSpawnExt as _;
            if pool.spawner().spawn_local(fwd).is_err() {
                return;
            }
            loop {
                node.spin_once(Duration::from_millis(50));
                pool.run_until_stalled();
            }
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TopError::Ros(e)),
        Err(_) => Err(TopError::Ros("the ROS thread died".into())),
    }
}

#[cfg(not(feature = "ros2"))]
fn ros_reader(_topic: &str, _tx: mpsc::Sender<Event>) -> Result<(), TopError> {
    Err(TopError::NoRos)
}

/// Folds one `/diagnostics` message (as `sattva run`'s node publishes it) into `s`.
#[cfg(feature = "ros2")]
fn from_diagnostics(s: &mut Snapshot, m: &r2r::diagnostic_msgs::msg::DiagnosticArray) {
    use super::{LearnView, TaskView};
    for st in &m.status {
        let get = |k: &str| -> Option<&str> {
            st.values
                .iter()
                .find(|kv| kv.key == k)
                .map(|kv| kv.value.as_str())
        };
        let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let us = |k: &str| {
            get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0, |v| (v * 1000.0) as u64)
        };
        if st.name == "sattva: control loop" {
            let c = &mut s.control;
            c.cycles = num("cycles");
            c.read_errors = num("read_errors");
            c.write_errors = num("write_errors");
            c.clamped = num("clamped_values");
            c.rate_limited = num("rate_limited");
            c.overspeed = num("overspeed_brakes");
            c.stale_holds = num("stale_holds");
            c.faults = [
                num("faults_fatal"),
                num("physics_unstable"),
                num("physics_overflow"),
                num("physics_other"),
            ];
            c.mode = get("mode").unwrap_or("").into();
            s.backend_s = m.header.stamp.sec as f64 + m.header.stamp.nanosec as f64 * 1e-9;
        } else if st.name == "sattva: ros bridge" {
            s.bridge.sent_to_ros = num("sent_to_ros");
            s.bridge.dropped_to_ros = num("dropped_to_ros");
            s.bridge.dropped_from_ros = num("dropped_from_ros");
        } else if st.name == "sattva: learning" {
            let l = s.learn.get_or_insert_with(LearnView::default);
            l.experiences = num("experiences");
            l.calibrated = num("calibration");
            l.learned = num("learned");
            l.rejected = num("rejected");
            l.recognised = num("recognised");
            l.attractors = num("attractors");
            l.formed = num("formed");
        } else if st.name == "sattva/sched" {
            s.rt = get("rt").unwrap_or("").into();
            s.virtual_time = st.message.contains("virtual");
        } else if let Some(task) = st.name.strip_prefix("sattva/sched/") {
            let t = match s.tasks.iter_mut().position(|t| t.name == task) {
                Some(i) => &mut s.tasks[i],
                None => {
                    s.tasks.push(TaskView {
                        name: task.into(),
                        ..Default::default()
                    });
                    s.tasks.sort_by(|a, b| a.name.cmp(&b.name));
                    let i = s.tasks.iter().position(|t| t.name == task).unwrap_or(0);
                    &mut s.tasks[i]
                }
            };
            t.core = num("core") as usize;
            t.period_ns = us("period_us") as i64;
            t.jobs = num("jobs");
            t.deadline_misses = num("deadline_misses");
            t.overruns = num("overruns");
            t.skipped_releases = num("skipped_releases");
            t.latency.p50 = us("release_latency_p50_us");
            t.latency.p99 = us("release_latency_p99_us");
            t.latency.p999 = us("release_latency_p999_us");
            t.latency.max = us("release_latency_max_us");
            t.execution.p50 = us("execution_p50_us");
            t.execution.p99 = us("execution_p99_us");
            t.execution.max = us("execution_max_us");
            t.status = st.message.clone();
        }
    }
}

/// Sort orders of the task table (`s` cycles through them).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sort {
    Name,
    P99,
    Misses,
}

impl Sort {
    fn next(self) -> Sort {
        match self {
            Sort::Name => Sort::P99,
            Sort::P99 => Sort::Misses,
            Sort::Misses => Sort::Name,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::P99 => "p99",
            Sort::Misses => "misses",
        }
    }
}

/// Points kept per series.
const TREND: usize = 120;

/// The monitor's state: the newest snapshot and the series drawn from the ones before.
struct App {
    endpoint: String,
    snap: Snapshot,
    /// Per task: p99 wake-up latency history, ns.
    p99: Vec<(String, VecDeque<u64>)>,
    attractors: VecDeque<u64>,
    paused: bool,
    sort: Sort,
    selected: usize,
    closed: Option<String>,
}

fn push(q: &mut VecDeque<u64>, v: u64) {
    if q.len() == TREND {
        q.pop_front();
    }
    q.push_back(v);
}

impl App {
    fn new(endpoint: String, s: Snapshot) -> App {
        let mut a = App {
            endpoint,
            snap: Snapshot::default(),
            p99: Vec::new(),
            attractors: VecDeque::new(),
            paused: false,
            sort: Sort::Name,
            selected: 0,
            closed: None,
        };
        a.update(s);
        a
    }

    fn update(&mut self, s: Snapshot) {
        for t in &s.tasks {
            match self.p99.iter_mut().find(|(n, _)| *n == t.name) {
                Some((_, q)) => push(q, t.latency.p99),
                None => {
                    let mut q = VecDeque::new();
                    push(&mut q, t.latency.p99);
                    self.p99.push((t.name.clone(), q));
                }
            }
        }
        if let Some(l) = &s.learn {
            push(&mut self.attractors, l.attractors);
        }
        self.snap = s;
    }

    /// Task indices in display order.
    fn order(&self) -> Vec<usize> {
        let t = &self.snap.tasks;
        let mut ix: Vec<usize> = (0..t.len()).collect();
        match self.sort {
            Sort::Name => ix.sort_by(|&a, &b| t[a].name.cmp(&t[b].name)),
            Sort::P99 => ix.sort_by(|&a, &b| t[b].latency.p99.cmp(&t[a].latency.p99)),
            Sort::Misses => ix.sort_by(|&a, &b| {
                (t[b].deadline_misses + t[b].overruns).cmp(&(t[a].deadline_misses + t[a].overruns))
            }),
        }
        ix
    }

    fn trend(&self, name: &str) -> Option<&VecDeque<u64>> {
        self.p99.iter().find(|(n, _)| n == name).map(|(_, q)| q)
    }
}

/// A duration in ns, 5-6 characters.
fn dur(ns: u64) -> String {
    let v = ns as f64;
    if v < 1e3 {
        format!("{ns}n")
    } else if v < 1e6 {
        format!("{:.1}u", v / 1e3)
    } else if v < 1e9 {
        format!("{:.1}m", v / 1e6)
    } else {
        format!("{:.1}s", v / 1e9)
    }
}

/// `v` as block characters, last `width` points, scaled to their maximum.
fn spark(q: &VecDeque<u64>, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let pts: Vec<u64> = q.iter().rev().take(width).rev().copied().collect();
    let max = pts.iter().copied().max().unwrap_or(0).max(1);
    pts.iter()
        .map(|&v| BARS[((v as f64 / max as f64) * 7.0).round() as usize])
        .collect()
}

fn draw(f: &mut Frame, a: &App) {
    let s = &a.snap;
    let area = f.area();
    let n_tasks = s.tasks.len().max(1) as u16;
    let [head, table, detail, counters, learn, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(n_tasks + 3),
        Constraint::Length(4),
        Constraint::Length(5),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);

    // header
    let state = match (&a.closed, a.paused, s.finished) {
        (_, _, true) => Span::styled(
            " FINISHED ",
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ),
        (Some(_), _, _) => Span::styled(" DETACHED ", Style::new().fg(Color::White).bg(Color::Red)),
        (None, true, _) => Span::styled(" PAUSED ", Style::new().fg(Color::Black).bg(Color::Cyan)),
        (None, false, _) => Span::styled(" LIVE ", Style::new().fg(Color::Black).bg(Color::Green)),
    };
    let rt_style = match s.rt.as_str() {
        "full" => Style::new().fg(Color::Green),
        "degraded" => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Gray),
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("sattva top ", Style::new().add_modifier(Modifier::BOLD)),
            state,
            Span::raw(format!(" {} ", s.backend)),
            Span::styled(
                format!(
                    "rt {}{}",
                    s.rt,
                    if s.virtual_time { " (virtual)" } else { "" }
                ),
                rt_style,
            ),
            Span::raw(format!(" t {:.1}s  {}", s.backend_s, a.endpoint)),
        ])),
        head,
    );

    // task table
    let order = a.order();
    let rows: Vec<Row> = order
        .iter()
        .map(|&i| {
            let t = &s.tasks[i];
            let bad = t.deadline_misses + t.overruns > 0 || t.status != "on time";
            let st = if bad {
                Style::new().fg(Color::Yellow)
            } else {
                Style::new()
            };
            Row::new(vec![
                t.name.clone(),
                dur(t.period_ns.max(0) as u64),
                dur(t.latency.p50),
                dur(t.latency.p99),
                dur(t.latency.p999),
                dur(t.latency.max),
                a.trend(&t.name).map_or(String::new(), |q| spark(q, 8)),
                t.deadline_misses.to_string(),
                t.overruns.to_string(),
                t.status.clone(),
            ])
            .style(st)
        })
        .collect();
    let widths = [
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Min(7),
    ];
    let mut ts = TableState::default();
    ts.select(Some(a.selected.min(order.len().saturating_sub(1))));
    f.render_stateful_widget(
        Table::new(rows, widths)
            .header(
                Row::new([
                    "task", "period", "p50", "p99", "p99.9", "max", "p99 trnd", "misses", "ovr",
                    "status",
                ])
                .style(Style::new().add_modifier(Modifier::BOLD)),
            )
            .column_spacing(1)
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .block(Block::default().borders(Borders::ALL).title(format!(
                " wake-up latency per task (sort: {}) ",
                a.sort.label()
            ))),
        table,
        &mut ts,
    );

    // selected task: execution time and the p99 trend as a sparkline
    if let Some(&i) = order.get(a.selected) {
        let t = &s.tasks[i];
        let data: Vec<u64> = a
            .trend(&t.name)
            .map_or(Vec::new(), |q| q.iter().copied().collect());
        let [l, r] =
            Layout::horizontal([Constraint::Length(40), Constraint::Min(10)]).areas(detail);
        f.render_widget(
            Paragraph::new(vec![
                Line::raw(format!(
                    "core {} jobs {} skipped {}",
                    t.core, t.jobs, t.skipped_releases
                )),
                Line::raw(format!(
                    "exec p50 {} p99 {} max {}",
                    dur(t.execution.p50),
                    dur(t.execution.p99),
                    dur(t.execution.max)
                )),
            ])
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} ", t.name)),
            ),
            l,
        );
        let width = r.width.saturating_sub(2) as usize;
        let tail = &data[data.len().saturating_sub(width)..];
        f.render_widget(
            Sparkline::default()
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(format!(" p99 {} ", dur(t.latency.p99))),
                )
                .data(tail)
                .style(Style::new().fg(Color::Cyan)),
            r,
        );
    }

    // control loop, bridge, vision
    let c = &s.control;
    let b = &s.bridge;
    let mut lines = vec![
        Line::raw(format!(
            "cycles {}  episodes {}  mode {}  read/write errors {}/{}",
            c.cycles, c.episodes, c.mode, c.read_errors, c.write_errors
        )),
        Line::raw(format!(
            "clamp: clamped {} rate-limited {} overspeed {}  stale holds {}  faults {}",
            c.clamped,
            c.rate_limited,
            c.overspeed,
            c.stale_holds,
            c.faults.iter().sum::<u64>()
        )),
    ];
    let drops = b.dropped_to_ros + b.dropped_from_ros;
    let mut bridge = vec![Span::raw(format!(
        "ros bridge: sent {}  dropped ",
        b.sent_to_ros
    ))];
    bridge.push(Span::styled(
        format!("{}/{}", b.dropped_to_ros, b.dropped_from_ros),
        if drops > 0 {
            Style::new().fg(Color::Yellow)
        } else {
            Style::new()
        },
    ));
    if let Some(v) = &s.vision {
        bridge.push(Span::raw(format!(
            "  vision: frames {} yaw applied {} refused {}",
            v.results, v.applied, v.refused
        )));
    }
    lines.push(Line::from(bridge));
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" control loop "),
        ),
        counters,
    );

    // learning
    match &s.learn {
        Some(l) => {
            let [txt, sp] =
                Layout::horizontal([Constraint::Length(40), Constraint::Min(10)]).areas(learn);
            let pct = if l.learned > 0 {
                100.0 * l.recognised as f64 / l.learned as f64
            } else {
                0.0
            };
            f.render_widget(
                Paragraph::new(vec![
                    Line::raw(format!("attractors {} (formed {})", l.attractors, l.formed)),
                    Line::raw(format!(
                        "experiences {} (calib {}, drop {})",
                        l.experiences, l.calibrated, l.segments_dropped
                    )),
                    Line::raw(format!(
                        "recognised {}/{} ({pct:.0} %)",
                        l.recognised, l.learned
                    )),
                    Line::raw(format!(
                        "learn p50 {} p99 {}",
                        dur(l.learn.p50),
                        dur(l.learn.p99)
                    )),
                ])
                .block(Block::default().borders(Borders::ALL).title(" learning ")),
                txt,
            );
            let data: Vec<u64> = a.attractors.iter().copied().collect();
            let width = sp.width.saturating_sub(2) as usize;
            f.render_widget(
                Sparkline::default()
                    .block(
                        Block::default()
                            .borders(Borders::ALL)
                            .title(" attractors over time "),
                    )
                    .data(&data[data.len().saturating_sub(width)..])
                    .style(Style::new().fg(Color::Magenta)),
                sp,
            );
        }
        None => f.render_widget(
            Paragraph::new("learning off")
                .block(Block::default().borders(Borders::ALL).title(" learning ")),
            learn,
        ),
    }

    // footer
    let msg = a.closed.clone().unwrap_or_default();
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("q", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" quit "),
            Span::styled("p", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" pause "),
            Span::styled("s", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" sort "),
            Span::styled("↑↓", Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(format!(" select  {msg}")),
        ])),
        foot,
    );
}

/// Restores the terminal however `run` ends.
struct TermGuard;

impl Drop for TermGuard {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
        let _ = crossterm::execute!(std::io::stdout(), crossterm::terminal::LeaveAlternateScreen);
    }
}

/// Runs the monitor until `q` (or Ctrl-C).
pub fn run(o: &TopOptions) -> Result<(), TopError> {
    use crossterm::event::{self, Event as Ev, KeyCode, KeyEventKind, KeyModifiers};
    let (rx, first) = attach(o)?;
    let mut app = App::new(o.endpoint.to_string(), first);
    crossterm::terminal::enable_raw_mode()?;
    let _guard = TermGuard;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    let mut term =
        ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    let mut dirty = true;
    let mut last_draw = Instant::now();
    loop {
        loop {
            match rx.try_recv() {
                Ok(Event::Snap(s)) => {
                    if !app.paused {
                        app.update(*s);
                        dirty = true;
                    }
                }
                Ok(Event::Closed(m)) => {
                    app.closed = Some(m);
                    dirty = true;
                }
                Err(_) => break,
            }
        }
        if dirty || last_draw.elapsed() > Duration::from_secs(1) {
            term.draw(|f| draw(f, &app))?;
            dirty = false;
            last_draw = Instant::now();
        }
        if event::poll(Duration::from_millis(100))? {
            match event::read()? {
                Ev::Key(k) if k.kind == KeyEventKind::Press => match k.code {
                    KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        return Ok(())
                    }
                    KeyCode::Char('p') => app.paused = !app.paused,
                    KeyCode::Char('s') => app.sort = app.sort.next(),
                    KeyCode::Up => app.selected = app.selected.saturating_sub(1),
                    KeyCode::Down => {
                        app.selected =
                            (app.selected + 1).min(app.snap.tasks.len().saturating_sub(1))
                    }
                    _ => {}
                },
                Ev::Resize(..) => {}
                _ => continue,
            }
            dirty = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{LearnView, TaskView};
    use ratatui::backend::TestBackend;

    fn snap(seq: u64, p99: u64) -> Snapshot {
        Snapshot {
            seq,
            backend: "mujoco".into(),
            rt: "degraded".into(),
            tasks: ["control", "learn"]
                .iter()
                .map(|n| TaskView {
                    name: (*n).into(),
                    period_ns: 2_000_000,
                    jobs: 100 * seq,
                    status: "on time".into(),
                    latency: crate::sched::Summary {
                        p50: 5_000,
                        p99,
                        p999: 2 * p99,
                        max: 3 * p99,
                        ..Default::default()
                    },
                    ..Default::default()
                })
                .collect(),
            learn: Some(LearnView {
                attractors: seq,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn renders_every_section_in_80x24() {
        let mut a = App::new("/tmp/x.sock".into(), snap(1, 40_000));
        a.update(snap(2, 80_000));
        let mut t = ratatui::Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| draw(f, &a)).unwrap();
        let text: String = t
            .backend()
            .buffer()
            .content()
            .chunks(80)
            .map(|r| r.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect();
        for want in [
            "control",
            "learn",
            "80.0u",
            "160.0u",
            "cycles",
            "ros bridge",
            "attractors 2",
            "q quit",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn sort_by_p99_puts_the_worst_first() {
        let mut s = snap(1, 10_000);
        s.tasks[1].latency.p99 = 90_000;
        let mut a = App::new(String::new(), s);
        assert_eq!(a.order(), vec![0, 1]);
        a.sort = Sort::P99;
        assert_eq!(a.order(), vec![1, 0]);
    }
}
