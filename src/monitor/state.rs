//! The monitors' state as it leaves the control task.
//!
//! The RT side cuts the state of every monitor into fixed-size [`MonitorChunk`]s (at most
//! [`CHUNK`] monitors each, plain values: handing one to the RT -> ROS bridge ring or the
//! recorder queue is a copy, no allocation). The non-RT side (the ROS node's `sattva/monitors`,
//! the recorder's bag topic) reassembles the chunks of one cycle into a [`MonitorState`], the
//! content of a `sattva_msgs/msg/MonitorState`. A chunk lost to a full ring makes that cycle's
//! state incomplete: it is discarded, never published half-filled.

use arrayvec::ArrayVec;

use super::{Monitors, MAX_MONITORS};
use crate::types::Time;

/// Every monitor's robustness at one cycle, in name order (fixed capacity).
pub type RobustnessRow = ArrayVec<f64, MAX_MONITORS>;

/// Monitors per [`MonitorChunk`] (256 monitors, the most a loop runs, are 16 chunks).
pub const CHUNK: usize = 16;

/// The state of up to [`CHUNK`] consecutive monitors at one cycle. Fixed size, `Copy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MonitorChunk {
    /// The cycle's time.
    pub t: Time,
    /// Index (in name order) of the chunk's first monitor.
    pub first: u16,
    /// Monitors in this chunk.
    pub len: u16,
    /// Monitors of the loop.
    pub total: u16,
    /// Robustness of the cycle (NaN while a spec's horizon has not passed).
    pub robustness: [f64; CHUNK],
    /// Robustness below zero this cycle.
    pub violated: [bool; CHUNK],
    /// Violating cycles so far.
    pub violations: [u64; CHUNK],
    /// Violations that began so far.
    pub onsets: [u64; CHUNK],
    /// Smallest robustness so far.
    pub min_robustness: [f64; CHUNK],
    /// Cycles a `hold` / `safe_stop` monitor made the loop hold, so far (all monitors).
    pub hold_cycles: u64,
    /// Safe stops so far (all monitors).
    pub safe_stops: u64,
}

impl Monitors {
    /// The last cycle's state of every monitor as `ceil(n / CHUNK)` chunks (none without
    /// monitors). Allocation-free.
    pub fn chunks(&self) -> impl Iterator<Item = MonitorChunk> + '_ {
        let total = self.monitors.len() as u16;
        self.monitors.chunks(CHUNK).enumerate().map(move |(k, ms)| {
            let mut c = MonitorChunk {
                t: self.t,
                first: (k * CHUNK) as u16,
                len: ms.len() as u16,
                total,
                robustness: [f64::NAN; CHUNK],
                violated: [false; CHUNK],
                violations: [0; CHUNK],
                onsets: [0; CHUNK],
                min_robustness: [f64::INFINITY; CHUNK],
                hold_cycles: self.holds,
                safe_stops: self.safe_stops,
            };
            for (i, m) in ms.iter().enumerate() {
                c.robustness[i] = m.robustness;
                c.violated[i] = m.violated;
                c.violations[i] = m.violations;
                c.onsets[i] = m.onsets;
                c.min_robustness[i] = m.min_robustness;
            }
            c
        })
    }
}

/// Every monitor's state at one cycle, reassembled from its chunks (non-RT: owns vectors).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitorState {
    /// The cycle's time.
    pub t: Time,
    /// Robustness per monitor (name order).
    pub robustness: Vec<f64>,
    /// Violated this cycle, per monitor.
    pub violated: Vec<bool>,
    /// Violating cycles so far, per monitor.
    pub violations: Vec<u64>,
    /// Onsets so far, per monitor.
    pub onsets: Vec<u64>,
    /// Smallest robustness so far, per monitor.
    pub min_robustness: Vec<f64>,
    /// Hold cycles so far (all monitors).
    pub hold_cycles: u64,
    /// Safe stops so far (all monitors).
    pub safe_stops: u64,
    filled: usize,
}

impl MonitorState {
    /// Takes one chunk; true when it completed the cycle's state (then the fields hold it).
    /// A chunk of another cycle than the one being filled, or out of order, starts over
    /// (the missing chunk was dropped by a full ring: that cycle is not published).
    pub fn absorb(&mut self, c: &MonitorChunk) -> bool {
        let (first, len, total) = (c.first as usize, c.len as usize, c.total as usize);
        if len > CHUNK || first + len > total {
            return false;
        }
        if first == 0 || c.t != self.t || first != self.filled {
            if first != 0 {
                // the start of this cycle was lost
                self.filled = usize::MAX;
                return false;
            }
            self.t = c.t;
            self.filled = 0;
            for v in [&mut self.robustness, &mut self.min_robustness] {
                v.clear();
                v.resize(total, f64::NAN);
            }
            self.violated.clear();
            self.violated.resize(total, false);
            for v in [&mut self.violations, &mut self.onsets] {
                v.clear();
                v.resize(total, 0);
            }
        }
        let r = first..first + len;
        self.robustness[r.clone()].copy_from_slice(&c.robustness[..len]);
        self.violated[r.clone()].copy_from_slice(&c.violated[..len]);
        self.violations[r.clone()].copy_from_slice(&c.violations[..len]);
        self.onsets[r.clone()].copy_from_slice(&c.onsets[..len]);
        self.min_robustness[r].copy_from_slice(&c.min_robustness[..len]);
        self.hold_cycles = c.hold_cycles;
        self.safe_stops = c.safe_stops;
        self.filled = first + len;
        self.filled == total
    }
}

/// Robustness over time for a report, decimated without hiding a violation: per window of
/// `every` cycles, each monitor's smallest robustness (NaN when it had none in the window).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RobustnessSeries {
    /// Time of each window's first cycle, s.
    pub t: Vec<f64>,
    /// Per monitor (name order), the smallest robustness of each window.
    pub min: Vec<Vec<f64>>,
    acc: Vec<f64>,
    n: u64,
}

impl RobustnessSeries {
    /// Takes one cycle's row; closes a window every `every` cycles.
    pub fn push(&mut self, t: Time, row: &[f64], every: u64) {
        if row.is_empty() {
            return;
        }
        if self.n == 0 {
            self.t.push(t.as_secs_f64());
            self.acc.clear();
            self.acc.resize(row.len(), f64::NAN);
        }
        for (a, r) in self.acc.iter_mut().zip(row) {
            // `f64::min` ignores a NaN operand: NaN only while every value was NaN
            *a = a.min(*r);
        }
        self.n += 1;
        if self.n >= every.max(1) {
            self.close();
        }
    }

    /// Closes the last, partial window (call once at the end).
    pub fn finish(&mut self) {
        if self.n > 0 {
            self.close();
        }
    }

    fn close(&mut self) {
        if self.min.len() < self.acc.len() {
            self.min.resize(self.acc.len(), Vec::new());
        }
        for (m, a) in self.min.iter_mut().zip(&self.acc) {
            m.push(*a);
        }
        self.n = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::{MonitorAction, MonitorConfig, MonitorsConfig, Severity};

    fn monitors(n: usize) -> Monitors {
        let mut s = MonitorsConfig::new();
        for i in 0..n {
            // monitor i is violated when the signal exceeds i
            s.insert(
                format!("m{i:03}"),
                MonitorConfig {
                    spec: format!("pos_0 < {i}"),
                    severity: Severity::Info,
                    action: MonitorAction::Log,
                },
            );
        }
        Monitors::new(&s, 1_000_000, &["j".to_string()], &[]).unwrap()
    }

    #[test]
    fn chunks_reassemble_and_a_lost_chunk_discards_the_cycle() {
        let mut m = monitors(40);
        m.step_values(Time(5), &[10.5]);
        let chunks: Vec<_> = m.chunks().collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks.iter().map(|c| (c.first, c.len)).collect::<Vec<_>>(),
            [(0, 16), (16, 16), (32, 8)]
        );
        let mut s = MonitorState::default();
        assert!(!s.absorb(&chunks[0]));
        assert!(!s.absorb(&chunks[1]));
        assert!(s.absorb(&chunks[2]));
        assert_eq!(s.t, Time(5));
        assert_eq!(s.robustness.len(), 40);
        for i in 0..40 {
            // `pos_0 < i`: robustness i - 10.5
            assert_eq!(s.robustness[i], i as f64 - 10.5);
            assert_eq!(s.violated[i], i <= 10);
            assert_eq!(s.violations[i], u64::from(i <= 10));
        }
        // the middle chunk of the next cycle is lost
        m.step_values(Time(6), &[0.5]);
        let next: Vec<_> = m.chunks().collect();
        assert!(!s.absorb(&next[0]));
        assert!(!s.absorb(&next[2]));
        // and a cycle whose first chunk is lost is not published either
        assert!(!s.absorb(&next[1]));
        assert!(!s.absorb(&next[2]));
        assert!(!s.absorb(&next[0]) && !s.absorb(&next[1]) && s.absorb(&next[2]));
        assert_eq!((s.t, s.violations[20]), (Time(6), 0));
        assert!(!s.violated[3] && s.violated[0]);
    }

    #[test]
    fn series_keeps_the_worst_value_of_each_window() {
        let mut s = RobustnessSeries::default();
        let rows = [
            [1.0, f64::NAN],
            [-2.0, f64::NAN],
            [3.0, 5.0],
            [0.5, 4.0],
            [7.0, 1.0],
        ];
        for (k, r) in rows.iter().enumerate() {
            s.push(Time(k as i64 * 1_000_000_000), r, 2);
        }
        s.finish();
        assert_eq!(s.t, [0.0, 2.0, 4.0]);
        assert_eq!(s.min[0], [-2.0, 0.5, 7.0]);
        assert!(s.min[1][0].is_nan());
        assert_eq!(&s.min[1][1..], [4.0, 1.0]);
    }

    #[test]
    fn a_chunk_is_no_bigger_than_a_joint_sample() {
        // it rides in the recorder's Sample and the bridge's ToRos beside a SensorFrame
        assert!(
            std::mem::size_of::<MonitorChunk>() <= std::mem::size_of::<crate::types::JointSample>()
        );
    }
}
