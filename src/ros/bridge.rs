//! The RT <-> ROS bridge: two bounded, wait-free single-producer/single-consumer rings (the one
//! ring type of the crate, `sched::channel::ring`).
//!
//! The RT control task owns [`RtSide`]: it pushes [`ToRos`] values (fixed-size, no heap) and
//! polls [`FromRos`] operator input. The ROS thread owns [`RosSide`]. A full ring never blocks
//! the RT task: the value is dropped and counted in [`BridgeStats`], which the diagnostics report.
//! A stalled ROS executor therefore costs the RT task one failed `push` per message, nothing more.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::sched::channel::{ring, RingRx, RingTx};
use crate::types::SensorFrame;

pub use crate::action::{ControlMode, OperatorInput as FromRos};
pub use crate::pipeline::{FusedImu, HealthSample};

/// RT -> ROS messages. Plain values: pushing one never allocates. (Variants differ in size on
/// purpose: boxing the frame would put an allocation on the RT path.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ToRos {
    /// A sensor frame (joint states, raw IMU) and the fused IMU state of the same cycle.
    Frame(SensorFrame, Option<FusedImu>),
    /// Loop health counters.
    Health(HealthSample),
    /// Part of the STL monitors' state of one cycle (`sattva/monitors`; a cycle is
    /// `ceil(monitors / CHUNK)` consecutive chunks).
    Monitors(crate::monitor::MonitorChunk),
    /// The operator's performance (`sattva/perform`): its phase while under way (about every
    /// health period), and how it ended (once).
    Perform {
        /// The performance's id.
        id: u32,
        /// Phase in `[0, 1]`.
        phase: f64,
        /// Set once when it ended.
        ended: Option<crate::action::PerformEnd>,
    },
    /// Answer to a [`FromRos::Reset`] request.
    ResetDone {
        /// The request's id.
        request_id: u64,
        /// Whether the backend reset succeeded.
        ok: bool,
    },
}

/// Drop and traffic counters shared by both sides (relaxed atomics: counters only).
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// RT -> ROS values dropped because the ring was full.
    pub dropped_to_ros: AtomicU64,
    /// ROS -> RT values dropped because the ring was full.
    pub dropped_from_ros: AtomicU64,
    /// RT -> ROS values delivered into the ring.
    pub sent_to_ros: AtomicU64,
}

impl BridgeStats {
    /// `(sent_to_ros, dropped_to_ros, dropped_from_ros)`.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.sent_to_ros.load(Ordering::Relaxed),
            self.dropped_to_ros.load(Ordering::Relaxed),
            self.dropped_from_ros.load(Ordering::Relaxed),
        )
    }
}

/// The RT task's end of the bridge.
pub struct RtSide {
    tx: RingTx<ToRos>,
    rx: RingRx<FromRos>,
    stats: Arc<BridgeStats>,
}

/// The ROS thread's end of the bridge.
pub struct RosSide {
    rx: RingRx<ToRos>,
    tx: RingTx<FromRos>,
    stats: Arc<BridgeStats>,
}

/// Creates a bridge whose rings hold `capacity` values each (allocated here, once).
pub fn bridge(capacity: usize) -> (RtSide, RosSide) {
    let (to_tx, to_rx) = ring(capacity.max(1));
    let (from_tx, from_rx) = ring(capacity.max(1));
    let stats = Arc::new(BridgeStats::default());
    (
        RtSide {
            tx: to_tx,
            rx: from_rx,
            stats: stats.clone(),
        },
        RosSide {
            rx: to_rx,
            tx: from_tx,
            stats,
        },
    )
}

impl RtSide {
    /// Hands `m` to the ROS thread; returns false (and counts a drop) when the ring is full.
    /// Wait-free, no allocation.
    pub fn send(&mut self, m: ToRos) -> bool {
        if self.tx.push(m) {
            self.stats.sent_to_ros.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            self.stats.dropped_to_ros.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// Next operator input, if any. Wait-free, no allocation.
    pub fn recv(&mut self) -> Option<FromRos> {
        self.rx.pop()
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<BridgeStats> {
        &self.stats
    }
}

impl RosSide {
    /// Next value from the RT task, if any.
    pub fn recv(&mut self) -> Option<ToRos> {
        self.rx.pop()
    }

    /// Hands operator input to the RT task; false (and counted) when the ring is full.
    pub fn send(&mut self, m: FromRos) -> bool {
        if self.tx.push(m) {
            true
        } else {
            self.stats.dropped_from_ros.fetch_add(1, Ordering::Relaxed);
            false
        }
    }

    /// The shared counters.
    pub fn stats(&self) -> &Arc<BridgeStats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_ring_drops_and_counts_instead_of_blocking() {
        let (mut rt, mut ros) = bridge(4);
        let mut ok = 0;
        for i in 0..10 {
            let h = HealthSample {
                cycles: i,
                ..Default::default()
            };
            if rt.send(ToRos::Health(h)) {
                ok += 1;
            }
        }
        assert_eq!(ok, 4);
        assert_eq!(rt.stats().snapshot(), (4, 6, 0));
        // FIFO order of what got through
        for i in 0..4 {
            assert!(matches!(ros.recv(), Some(ToRos::Health(h)) if h.cycles == i));
        }
        assert!(ros.recv().is_none());
    }

    #[test]
    fn operator_input_reaches_the_rt_side_in_order() {
        let (mut rt, mut ros) = bridge(8);
        assert!(ros.send(FromRos::Mode(ControlMode::External)));
        assert!(ros.send(FromRos::Reset { request_id: 3 }));
        assert_eq!(rt.recv(), Some(FromRos::Mode(ControlMode::External)));
        assert_eq!(rt.recv(), Some(FromRos::Reset { request_id: 3 }));
        assert_eq!(rt.recv(), None);
    }

    #[test]
    fn mode_parsing() {
        assert_eq!(ControlMode::parse(" Hold "), Some(ControlMode::Hold));
        assert_eq!(ControlMode::parse("external"), Some(ControlMode::External));
        assert_eq!(ControlMode::parse("dance"), None);
    }
}
