//! The `sattva/perform` action server (`sattva_msgs/action/Perform`): a goal names a learned
//! attractor (by label or id); the learn task turns its action memory into a fixed-size
//! [`crate::action::PerformGoal`], the control task plays it (feedback: phase), the learn task
//! recognises the performance's experience, and the result says whether it was recognised as
//! the requested attractor. Cancel: the control loop holds (mode hold).
//!
//! Runs on the node thread: the acceptor is a local future; [`PerformServer`]'s methods are
//! called from the node's loop with what the control and learn tasks reported.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use arrayvec::ArrayString;
use futures::executor::LocalSpawner;
use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::sattva_msgs::action::Perform;

use super::bridge::{FromRos, RosSide};
use crate::action::PerformEnd;
use crate::learn::{LearnReply, LearnRequest, LearnRosSide, MAX_LABEL};

/// How long after a performance its recognition may take before the goal is aborted.
const RECOGNITION_TIMEOUT: Duration = Duration::from_secs(10);

enum Stage {
    /// Waiting for the learn task's goal (or error).
    Resolving,
    /// The control task plays it.
    Playing { requested: u32 },
    /// Played; waiting for the learn task's recognition.
    Recognising { requested: u32, since: Instant },
}

struct Active {
    goal: r2r::ActionServerGoal<Perform::Action>,
    stage: Stage,
}

type Goals = Rc<RefCell<BTreeMap<u32, Active>>>;

/// The action server's state on the node thread.
pub(super) struct PerformServer {
    goals: Goals,
    cancels: Rc<RefCell<Vec<u32>>>,
}

fn result(
    success: bool,
    requested: i64,
    recognised: i64,
    similarity: f32,
    message: impl Into<String>,
) -> Perform::Result {
    Perform::Result {
        success,
        requested_id: requested,
        recognised_id: recognised,
        similarity,
        message: message.into(),
    }
}

impl PerformServer {
    /// Creates the action server on `node`; goals go to the learn task through `learn`.
    pub(super) fn new(
        node: &mut r2r::Node,
        learn: Rc<RefCell<LearnRosSide>>,
        spawner: &LocalSpawner,
    ) -> Result<PerformServer, super::node::RosError> {
        let mut requests = node
            .create_action_server::<Perform::Action>("sattva/perform")
            .map_err(|source| super::node::RosError::R2r {
                what: "action server sattva/perform".into(),
                source,
            })?;
        let goals: Goals = Rc::new(RefCell::new(BTreeMap::new()));
        let cancels = Rc::new(RefCell::new(Vec::new()));
        let (g2, c2) = (goals.clone(), cancels.clone());
        let sp = spawner.clone();
        let acceptor = async move {
            let mut next_id = 1u32;
            while let Some(req) = requests.next().await {
                let id = next_id;
                next_id = next_id.wrapping_add(1).max(1);
                let m = req.goal.clone();
                let too_long = m.text.trim().len() > MAX_LABEL;
                let text = ArrayString::from(m.text.trim()).unwrap_or_default();
                let r = LearnRequest::Perform {
                    request_id: id,
                    text,
                    too_long,
                    attractor: m.use_id.then_some(m.attractor_id),
                    speed: m.speed,
                };
                let requested = if m.use_id { m.attractor_id as i64 } else { -1 };
                let (mut g, mut cancel) = match req.accept() {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "perform: cannot accept goal");
                        continue;
                    }
                };
                if !learn.borrow_mut().requests.push(r) {
                    let _ = g.abort(result(
                        false,
                        requested,
                        -1,
                        0.0,
                        "learning task queue full; try again",
                    ));
                    continue;
                }
                tracing::info!(goal = id, text = %m.text, use_id = m.use_id, attractor = m.attractor_id, "perform goal accepted");
                g2.borrow_mut().insert(
                    id,
                    Active {
                        goal: g,
                        stage: Stage::Resolving,
                    },
                );
                // cancel requests of this goal: accepted, then handled by `tick`
                let c3 = c2.clone();
                let watch = async move {
                    while let Some(cr) = cancel.next().await {
                        cr.accept();
                        c3.borrow_mut().push(id);
                    }
                };
                if let Err(e) = sp.spawn_local(watch) {
                    tracing::warn!(error = %e, "perform: cannot watch cancels");
                }
            }
        };
        spawner
            .spawn_local(acceptor)
            .map_err(|e| super::node::RosError::Thread(format!("spawn: {e}")))?;
        Ok(PerformServer { goals, cancels })
    }

    /// A learn task reply about a performance (other replies are ignored).
    pub(super) fn on_reply(&mut self, r: LearnReply, rt: &RefCell<RosSide>) {
        let mut goals = self.goals.borrow_mut();
        match r {
            LearnReply::PerformGoal { request_id, goal } => {
                let Some(a) = goals.get_mut(&request_id) else {
                    return;
                };
                match goal {
                    Err(msg) => {
                        tracing::warn!(goal = request_id, error = %msg, "perform goal refused");
                        let _ = a.goal.abort(result(false, -1, -1, 0.0, msg.as_str()));
                        goals.remove(&request_id);
                    }
                    Ok(g) => {
                        if rt.borrow_mut().send(FromRos::Perform(g)) {
                            a.stage = Stage::Playing {
                                requested: g.attractor,
                            };
                        } else {
                            let _ = a.goal.abort(result(
                                false,
                                g.attractor as i64,
                                -1,
                                0.0,
                                "control loop queue full; try again",
                            ));
                            goals.remove(&request_id);
                        }
                    }
                }
            }
            LearnReply::Performed {
                request_id,
                recognised,
                similarity,
                above_vigilance,
            } => {
                let Some(a) = goals.get_mut(&request_id) else {
                    return;
                };
                let requested = match a.stage {
                    Stage::Playing { requested } | Stage::Recognising { requested, .. } => {
                        requested
                    }
                    Stage::Resolving => return,
                };
                let ok = recognised == requested as i64 && above_vigilance;
                let msg =
                    if ok {
                        format!("performed attractor {requested}; recognised as itself")
                    } else if recognised < 0 {
                        format!("performed attractor {requested}; not recognised")
                    } else {
                        format!(
                        "performed attractor {requested}; recognised as attractor {recognised}{}",
                        if above_vigilance { "" } else { " (below vigilance)" }
                    )
                    };
                let _ = a.goal.publish_feedback(Perform::Feedback { phase: 1.0 });
                let _ = a
                    .goal
                    .succeed(result(ok, requested as i64, recognised, similarity, msg));
                goals.remove(&request_id);
            }
            _ => {}
        }
    }

    /// The control task's report on the performance `id`.
    pub(super) fn on_control(&mut self, id: u32, phase: f64, ended: Option<PerformEnd>) {
        let mut goals = self.goals.borrow_mut();
        let Some(a) = goals.get_mut(&id) else {
            return;
        };
        let Stage::Playing { requested } = a.stage else {
            return;
        };
        let _ = a.goal.publish_feedback(Perform::Feedback { phase });
        match ended {
            None => {}
            Some(PerformEnd::Completed) => {
                a.stage = Stage::Recognising {
                    requested,
                    since: Instant::now(),
                };
            }
            Some(PerformEnd::Cancelled) => {
                let _ = a.goal.cancel(result(
                    false,
                    requested as i64,
                    -1,
                    0.0,
                    "cancelled: the control loop holds (mode hold)",
                ));
                goals.remove(&id);
            }
        }
    }

    /// Cancels requested by clients, and recognitions that did not come.
    pub(super) fn tick(&mut self, rt: &RefCell<RosSide>) {
        let cancels: Vec<u32> = self.cancels.borrow_mut().drain(..).collect();
        let mut goals = self.goals.borrow_mut();
        for id in cancels {
            let Some(a) = goals.get_mut(&id) else {
                continue;
            };
            match a.stage {
                Stage::Playing { .. } => {
                    // answered when the control task reports the cancellation
                    if !rt.borrow_mut().send(FromRos::CancelPerform) {
                        tracing::warn!(goal = id, "perform cancel: control queue full");
                    }
                }
                Stage::Resolving | Stage::Recognising { .. } => {
                    let _ = rt
                        .borrow_mut()
                        .send(FromRos::Mode(crate::action::ControlMode::Hold));
                    let _ = a.goal.cancel(result(
                        false,
                        -1,
                        -1,
                        0.0,
                        "cancelled: the control loop holds",
                    ));
                    goals.remove(&id);
                }
            }
        }
        let late: Vec<u32> = goals
            .iter()
            .filter(|(_, a)| {
                matches!(a.stage, Stage::Recognising { since, .. } if since.elapsed() > RECOGNITION_TIMEOUT)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            if let Some(mut a) = goals.remove(&id) {
                let _ = a.goal.abort(result(
                    false,
                    -1,
                    -1,
                    0.0,
                    "performed, but no experience of it reached the learn task (segment dropped?)",
                ));
            }
        }
    }
}
