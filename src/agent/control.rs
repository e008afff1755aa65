//! The control task: one [`ControlLoop::cycle`] per job, with everything that hangs off a
//! cycle: operator input from ROS, the vision task's yaw corrections, the recorder, the frame
//! to ROS, the learning segmenter, the output trace, the end condition. Allocation-free.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use crate::action::PerformEnd;
use crate::backend::Backend;
use crate::learn::{Segment, Segmenter};
use crate::pipeline::{ControlLoop, LoopStats};
use crate::ros::bridge::{RtSide, ToRos};
use crate::sched::channel::{LatestTx, RingTx};
use crate::sched::{Job, Task};
use crate::types::{SensorFrame, Time};

/// Vision results as the control task saw them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisionCounts {
    /// Results (one per processed frame) taken from the vision task.
    pub results: u64,
    /// Rotations applied to the orientation filter as yaw corrections.
    pub applied: u64,
    /// Rotations the filter refused.
    pub refused: u64,
}

/// What the control task hands back when it stops.
pub(super) struct ControlOutcome {
    pub stats: LoopStats,
    pub end: Time,
    pub vision: VisionCounts,
    pub output_hash: String,
    pub clamp: (u64, u64, u64),
    pub health: crate::pipeline::HealthSample,
    pub monitors: Vec<crate::monitor::MonitorSummary>,
}

/// What the control task tells the driver about one cycle (trace file, evaluation report).
#[derive(Clone, Debug, Default)]
pub struct CycleSample {
    /// The frame read.
    pub frame: SensorFrame,
    /// The fused orientation `[w, x, y, z]`, if valid.
    pub orientation: Option<[f64; 4]>,
    /// Wall-clock execution time of the cycle, ns.
    pub cycle_ns: u64,
    /// The STL monitors' robustness of the cycle, in name order.
    pub robustness: crate::monitor::RobustnessRow,
}

/// Progress counters the driver shows (relaxed atomics, written by the control task).
#[derive(Debug, Default)]
pub struct Progress {
    /// Control cycles run.
    pub cycles: AtomicU64,
    /// Curriculum episodes started.
    pub episodes: AtomicU64,
}

pub(super) struct ControlTask<B: Backend> {
    pub lp: ControlLoop<B>,
    pub rt: RtSide,
    pub learn: Option<(Segmenter, RingTx<Segment>)>,
    pub vision: Option<crate::vision::task::VisionSink>,
    pub record: Option<crate::record::RecordSink>,
    pub tap: Option<RingTx<CycleSample>>,
    pub end_ns: Option<i64>,
    pub health_every: u64,
    /// Every this many jobs the monitors' state goes to ROS (`ros.monitors_rate_hz`).
    pub monitors_every: u64,
    pub jobs: u64,
    pub done: Arc<AtomicBool>,
    pub finished: Option<mpsc::Sender<ControlOutcome>>,
    /// False without a ROS node: nothing is handed to the (unread) bridge.
    pub ros: bool,
    pub vision_counts: VisionCounts,
    pub progress: Arc<Progress>,
    /// Live counters for the observer (`crate::observe`), written at the health cadence.
    pub probe: LatestTx<crate::observe::ControlProbe>,
}

impl<B: Backend> ControlTask<B> {
    /// Fixed-size copy into the observer's latest-value slot: no allocation, never waits.
    fn publish_probe(&mut self) {
        let v = self.vision_counts;
        self.probe.write(crate::observe::ControlProbe {
            health: self.lp.health(),
            vision: (v.results, v.applied, v.refused),
            episodes: self.lp.stats.episodes,
            allocations: crate::alloc_count::allocations_on_this_thread(),
        });
    }
}

impl<B: Backend> Task for ControlTask<B> {
    fn run_once(&mut self, _job: &Job) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        while let Some(msg) = self.rt.recv() {
            if let Some((request_id, ok)) = self.lp.handle(msg) {
                self.rt.send(ToRos::ResetDone { request_id, ok });
                if let Some((seg, _)) = &mut self.learn {
                    seg.restart();
                }
            }
        }
        if let Some(v) = &mut self.vision {
            // the vision task's rotations as yaw corrections (ring drain: no wait, no alloc)
            self.vision_counts.results += v.apply(self.lp.fusion_mut()) as u64;
            self.vision_counts.applied = v.applied;
            self.vision_counts.refused = v.refused;
        }
        let t0 = self.tap.is_some().then(std::time::Instant::now);
        self.lp.cycle();
        if let (Some(tx), Some(t0)) = (&mut self.tap, t0) {
            let s = self.lp.fused();
            tx.push(CycleSample {
                frame: self.lp.frame().clone(), // fixed-capacity value; the driver drains it
                orientation: s.validity.orientation.then_some(s.orientation),
                cycle_ns: t0.elapsed().as_nanos() as u64,
                robustness: self.lp.monitors().robustness_row(), // fixed capacity
            });
        }
        if let Some(sink) = &self.record {
            crate::record::push_cycle(sink, self.lp.frame(), self.lp.command());
            // the monitors' state, every cycle (fixed-size chunks; none without monitors)
            for c in self.lp.monitors().chunks() {
                sink.push(crate::record::Sample::Monitors(c));
            }
        }
        if self.ros && self.jobs % self.monitors_every == 0 {
            // latest values at `ros.monitors_rate_hz` (fixed-size chunks; none without monitors)
            for c in self.lp.monitors().chunks() {
                self.rt.send(ToRos::Monitors(c));
            }
        }
        if self.ros {
            let frame = self.lp.frame().clone(); // fixed-capacity: no allocation
            let fused = self.lp.fused_imu();
            self.rt.send(ToRos::Frame(frame, fused));
        }
        if let Some((seg, tx)) = &mut self.learn {
            let visual = self
                .vision
                .as_ref()
                .and_then(|v| v.latest())
                .map(|o| &o.descriptor);
            let mark = self.lp.mark();
            if let Some(s) = seg.push(self.lp.fused(), self.lp.command(), visual, mark) {
                tx.push(s.clone()); // fixed-size value; a full ring drops and counts
            }
        }
        if self.ros {
            // the operator's performance: how it ended (once), its phase at the health cadence
            if let Some((id, end)) = self.lp.take_performance_end() {
                self.rt.send(ToRos::Perform {
                    id,
                    phase: if end == PerformEnd::Completed {
                        1.0
                    } else {
                        0.0
                    },
                    ended: Some(end),
                });
            } else if let Some((id, phase)) = self.lp.performing() {
                if self.jobs % self.health_every == 0 {
                    self.rt.send(ToRos::Perform {
                        id,
                        phase,
                        ended: None,
                    });
                }
            }
        }
        if self.jobs % self.health_every == 0 {
            self.publish_probe();
            if self.ros {
                self.rt.send(ToRos::Health(self.lp.health()));
            }
        }
        self.jobs += 1;
        self.progress
            .cycles
            .store(self.lp.stats.cycles, Ordering::Relaxed);
        self.progress
            .episodes
            .store(self.lp.stats.episodes, Ordering::Relaxed);
        if self
            .end_ns
            .is_some_and(|end| self.lp.backend.now().0 >= end)
            || self.lp.backend.finished()
            || self.lp.source_finished()
        {
            self.done.store(true, Ordering::Relaxed);
        }
    }

    fn stop(&mut self) {
        // the robot's safe state; then hand the counters back (non-RT: the executor is stopping)
        self.rt.send(ToRos::Health(self.lp.health()));
        self.publish_probe();
        if let Err(e) = self.lp.backend.deactivate() {
            tracing::warn!(error = %e, "backend deactivate");
        }
        if let Some(tx) = self.finished.take() {
            let c = self.lp.clamp();
            let _ = tx.send(ControlOutcome {
                stats: self.lp.stats.clone(),
                end: self.lp.backend.now(),
                vision: self.vision_counts,
                output_hash: self.lp.output_hash(),
                clamp: (c.clamped(), c.rate_limited(), c.rejected()),
                health: self.lp.health(),
                monitors: self.lp.monitors().summary(),
            });
        }
    }
}
