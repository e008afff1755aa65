//! The player services (feature `ros2`), as rosbag2's player offers them
//! (`rosbag2_interfaces`; the same request and response fields in `sattva_msgs/srv`), on a node
//! `sattva_bag_player`: `~/pause`, `~/resume`, `~/toggle_paused`, `~/is_paused`, `~/set_rate`,
//! `~/get_rate`, `~/seek`, `~/play_next`, `~/burst`.
//!
//! Two players serve them: `sattva replay --publish` (messages onto topics; [`super::publish`]
//! answers the requests between two messages) and the agent replaying a bag (`sattva replay
//! --controls`; [`spawn_agent_controls`] answers them on its own thread over the driver's
//! [`PlayControl`], where one "message" is one control cycle and a seek fast-forwards: the
//! agent still learns from every message on the way, it only stops being paced).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::sattva_msgs::srv::{
    Burst, GetRate, IsPaused, Pause, PlayNext, Resume, Seek, SetRate, TogglePaused,
};
use r2r::{QosProfile, ServiceRequest};

use crate::sched::pace::PlayControl;

/// The player node's name (its services are `/<name>/pause`, ...).
pub const NODE: &str = "sattva_bag_player";

/// Errors of the player node.
#[derive(Debug, thiserror::Error)]
pub enum ControlsError {
    /// rcl/r2r failed.
    #[error("ROS 2: {what}: {source}")]
    R2r {
        /// What was being done.
        what: String,
        /// r2r's error.
        #[source]
        source: r2r::Error,
    },
    /// The node's thread could not start, or a service task could not be spawned.
    #[error("player node: {0}")]
    Thread(String),
}

/// A control request waiting for its player.
pub(crate) enum Control {
    Pause(ServiceRequest<Pause::Service>),
    Resume(ServiceRequest<Resume::Service>),
    Toggle(ServiceRequest<TogglePaused::Service>),
    IsPaused(ServiceRequest<IsPaused::Service>),
    SetRate(ServiceRequest<SetRate::Service>),
    GetRate(ServiceRequest<GetRate::Service>),
    Seek(ServiceRequest<Seek::Service>),
    PlayNext(ServiceRequest<PlayNext::Service>),
    Burst(ServiceRequest<Burst::Service>),
}

/// Requests in arrival order.
pub(crate) type Queue = Rc<RefCell<VecDeque<Control>>>;

/// Serves the service `name` by queueing its requests.
fn serve<T>(
    node: &mut r2r::Node,
    pool: &LocalPool,
    name: &str,
    queue: &Queue,
    wrap: fn(ServiceRequest<T>) -> Control,
) -> Result<(), ControlsError>
where
    T: r2r::WrappedServiceTypeSupport + 'static,
{
    let mut srv = node
        .create_service::<T>(name, QosProfile::services_default())
        .map_err(|source| ControlsError::R2r {
            what: format!("service {name}"),
            source,
        })?;
    let queue = queue.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(req) = srv.next().await {
                queue.borrow_mut().push_back(wrap(req));
            }
        })
        .map_err(|e| ControlsError::Thread(format!("spawn {name}: {e}")))
}

/// Creates every player service on `node`; requests land in the returned queue once `pool`
/// runs.
pub(crate) fn serve_all(node: &mut r2r::Node, pool: &LocalPool) -> Result<Queue, ControlsError> {
    let q: Queue = Rc::default();
    serve(node, pool, "~/pause", &q, Control::Pause)?;
    serve(node, pool, "~/resume", &q, Control::Resume)?;
    serve(node, pool, "~/toggle_paused", &q, Control::Toggle)?;
    serve(node, pool, "~/is_paused", &q, Control::IsPaused)?;
    serve(node, pool, "~/set_rate", &q, Control::SetRate)?;
    serve(node, pool, "~/get_rate", &q, Control::GetRate)?;
    serve(node, pool, "~/seek", &q, Control::Seek)?;
    serve(node, pool, "~/play_next", &q, Control::PlayNext)?;
    serve(node, pool, "~/burst", &q, Control::Burst)?;
    Ok(q)
}

/// Nanoseconds of a `builtin_interfaces/Time`.
pub(crate) fn time_ns(t: &r2r::builtin_interfaces::msg::Time) -> i64 {
    (t.sec as i64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.nanosec as i64)
}

/// A `/clock` message at `t` ns.
pub(crate) fn clock_msg(t: i64) -> r2r::rosgraph_msgs::msg::Clock {
    r2r::rosgraph_msgs::msg::Clock {
        clock: r2r::builtin_interfaces::msg::Time {
            sec: t.div_euclid(1_000_000_000) as i32,
            nanosec: t.rem_euclid(1_000_000_000) as u32,
        },
    }
}

/// Logs a failed response (the client went away).
pub(crate) fn responded(r: Result<(), r2r::Error>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "player control response");
    }
}

/// A play_next or burst waiting for its control cycles.
enum Waiting {
    Next(ServiceRequest<PlayNext::Service>, u64),
    Burst(ServiceRequest<Burst::Service>, u64, u64),
}

/// The player node of an agent replay: serves the player services over `control` on a thread
/// of its own until the driver ends, and publishes `/clock` (the bag's time: `t0` + the
/// driver's time) at `clock_hz` when given.
pub fn spawn_agent_controls(
    control: PlayControl,
    t0: i64,
    clock_hz: Option<f64>,
) -> Result<std::thread::JoinHandle<()>, ControlsError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let h = std::thread::Builder::new()
        .name("player".into())
        .spawn(move || {
            let r = agent_node(&control, t0, clock_hz, &ready_tx);
            if let Err(e) = r {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| ControlsError::Thread(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(h),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ControlsError::Thread("the player thread ended".into())),
    }
}

fn agent_node(
    control: &PlayControl,
    t0: i64,
    clock_hz: Option<f64>,
    ready: &std::sync::mpsc::Sender<Result<(), ControlsError>>,
) -> Result<(), ControlsError> {
    let r2r_err = |what: &str| {
        let what = what.to_string();
        move |source| ControlsError::R2r { what, source }
    };
    let ctx = r2r::Context::create().map_err(r2r_err("create context"))?;
    let mut node = r2r::Node::create(ctx, NODE, "").map_err(r2r_err("create node"))?;
    let mut pool = LocalPool::new();
    let queue = serve_all(&mut node, &pool)?;
    let clock_pub = match clock_hz {
        Some(_) => Some(
            node.create_publisher::<r2r::rosgraph_msgs::msg::Clock>(
                "/clock",
                QosProfile::default().keep_last(1),
            )
            .map_err(r2r_err("publisher /clock"))?,
        ),
        None => None,
    };
    let period = clock_hz
        .filter(|hz| *hz > 0.0 && hz.is_finite())
        .map(|hz| Duration::from_secs_f64(1.0 / hz))
        .unwrap_or(Duration::MAX);
    let _ = ready.send(Ok(()));
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut next_clock = Instant::now();
    loop {
        node.spin_once(Duration::from_millis(2));
        pool.run_until_stalled();
        let requests: Vec<Control> = queue.borrow_mut().drain(..).collect();
        for c in requests {
            match c {
                Control::Pause(req) => {
                    control.set_paused(Some(true));
                    responded(req.respond(Pause::Response::default()));
                }
                Control::Resume(req) => {
                    control.set_paused(Some(false));
                    responded(req.respond(Resume::Response::default()));
                }
                Control::Toggle(req) => {
                    control.set_paused(None);
                    responded(req.respond(TogglePaused::Response::default()));
                }
                Control::IsPaused(req) => {
                    let paused = control.snapshot().paused;
                    responded(req.respond(IsPaused::Response { paused }));
                }
                Control::SetRate(req) => {
                    let success = control
                        .set_rate(req.message.rate)
                        .map_err(|e| tracing::warn!("set_rate refused: {e}"))
                        .is_ok();
                    responded(req.respond(SetRate::Response { success }));
                }
                Control::GetRate(req) => {
                    let rate = control.snapshot().rate;
                    responded(req.respond(GetRate::Response { rate }));
                }
                Control::Seek(req) => {
                    let target = time_ns(&req.message.time).saturating_sub(t0);
                    let success = control
                        .seek(target)
                        .map_err(|e| tracing::warn!("seek refused: {e}"))
                        .is_ok();
                    responded(req.respond(Seek::Response { success }));
                }
                Control::PlayNext(req) => match control.step(1) {
                    Ok(until) => waiting.push(Waiting::Next(req, until)),
                    Err(_) => responded(req.respond(PlayNext::Response { success: false })),
                },
                Control::Burst(req) => {
                    let from = control.snapshot().cycles;
                    match control.step(req.message.num_messages) {
                        Ok(until) => waiting.push(Waiting::Burst(req, from, until)),
                        Err(_) => responded(req.respond(Burst::Response { actually_burst: 0 })),
                    }
                }
            }
        }
        let s = control.snapshot();
        // answer the steps that have run (or that the end cut short)
        let mut still = Vec::with_capacity(waiting.len());
        for w in waiting.drain(..) {
            match w {
                Waiting::Next(req, until) if s.cycles >= until || s.ended => {
                    responded(req.respond(PlayNext::Response {
                        success: s.cycles >= until,
                    }))
                }
                Waiting::Burst(req, from, until) if s.cycles >= until || s.ended => {
                    responded(req.respond(Burst::Response {
                        actually_burst: s.cycles.min(until) - from,
                    }))
                }
                w => still.push(w),
            }
        }
        waiting = still;
        if let Some(p) = &clock_pub {
            if Instant::now() >= next_clock {
                next_clock = Instant::now() + period;
                if let Err(e) = p.publish(&clock_msg(t0.saturating_add(s.now))) {
                    tracing::debug!(error = %e, "/clock");
                }
            }
        }
        if s.ended {
            return Ok(());
        }
    }
}
