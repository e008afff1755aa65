//! Gyro + accelerometer, which a RealSense delivers as two motion streams at different rates
//! (D435i: gyro 200/400 Hz, accel 63/250 Hz), combined into one [`Imu`] sample per gyro sample.
//!
//! Each output carries the gyro sample's timestamp and the accelerometer *linearly interpolated*
//! to that instant between the two accel samples that bracket it (realsense-ros calls this
//! `unite_imu_method: linear_interpolation`). A gyro sample therefore waits until the next accel
//! sample arrives (at most one accel period: 4 ms at 250 Hz). Gyro samples older than the first
//! accel sample cannot be interpolated and are dropped, as are out-of-order samples; both are
//! counted. Fixed capacity, no allocation: safe on any thread.

use arrayvec::ArrayVec;

use crate::types::Imu;

/// Gyro samples that may wait for their accel bracket.
const GYRO_BUFFER: usize = 64;

/// Combines the two motion streams (timestamps in ns on one clock).
#[derive(Clone, Debug, Default)]
pub struct ImuCombiner {
    gyro: ArrayVec<(i64, [f64; 3]), GYRO_BUFFER>,
    accel_prev: Option<(i64, [f64; 3])>,
    accel_last: Option<(i64, [f64; 3])>,
    last_gyro_t: Option<i64>,
    /// Samples dropped (before the first accel, out of order, or buffer overflow).
    pub dropped: u64,
}

impl ImuCombiner {
    /// An empty combiner.
    pub fn new() -> ImuCombiner {
        ImuCombiner::default()
    }

    /// Forgets all buffered samples (after a reconnect).
    pub fn reset(&mut self) {
        let dropped = self.dropped;
        *self = ImuCombiner::default();
        self.dropped = dropped;
    }

    /// Adds a gyro sample (rad/s); completed samples are passed to `out` in time order.
    pub fn push_gyro(&mut self, t: i64, w: [f64; 3], mut out: impl FnMut(i64, Imu)) {
        if self.last_gyro_t.is_some_and(|l| t <= l) {
            self.dropped += 1;
            return;
        }
        self.last_gyro_t = Some(t);
        if self.gyro.is_full() {
            self.gyro.remove(0);
            self.dropped += 1;
        }
        self.gyro.push((t, w));
        self.flush(&mut out);
    }

    /// Adds an accelerometer sample (m/s^2); completed samples are passed to `out` in time order.
    pub fn push_accel(&mut self, t: i64, a: [f64; 3], mut out: impl FnMut(i64, Imu)) {
        if self.accel_last.is_some_and(|(l, _)| t <= l) {
            self.dropped += 1;
            return;
        }
        self.accel_prev = self.accel_last;
        self.accel_last = Some((t, a));
        self.flush(&mut out);
    }

    /// Emits every buffered gyro sample that an accel pair now brackets.
    fn flush(&mut self, out: &mut impl FnMut(i64, Imu)) {
        let Some((t1, a1)) = self.accel_last else {
            return;
        };
        let mut used = 0;
        for &(tg, w) in &self.gyro {
            if tg > t1 {
                break;
            }
            used += 1;
            let accel = if tg == t1 {
                a1
            } else {
                match self.accel_prev {
                    Some((t0, a0)) if tg >= t0 => {
                        let s = (tg - t0) as f64 / (t1 - t0) as f64;
                        [
                            a0[0] + (a1[0] - a0[0]) * s,
                            a0[1] + (a1[1] - a0[1]) * s,
                            a0[2] + (a1[2] - a0[2]) * s,
                        ]
                    }
                    _ => {
                        // before the first accel pair: nothing to interpolate from
                        self.dropped += 1;
                        continue;
                    }
                }
            };
            out(
                tg,
                Imu {
                    accel,
                    gyro: w,
                    mag: None,
                },
            );
        }
        self.gyro.drain(..used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accel_at(t: i64) -> [f64; 3] {
        let s = t as f64 * 1e-9;
        [1.0 + 2.0 * s, -3.0 * s, 9.81]
    }

    #[test]
    fn gyro_400_accel_250_interleaved_like_a_d435i() {
        // Merge both streams in arrival order (by timestamp), as the device thread sees them.
        let mut events: Vec<(i64, bool)> = (0..400)
            .map(|i| (1_000_000 + i * 2_500_000, true))
            .collect();
        events.extend((0..250).map(|i| (i * 4_000_000, false)));
        events.sort();
        let mut c = ImuCombiner::new();
        let mut got = Vec::new();
        for (t, is_gyro) in events {
            if is_gyro {
                c.push_gyro(t, [t as f64, 0.5, -0.5], |t, s| got.push((t, s)));
            } else {
                c.push_accel(t, accel_at(t), |t, s| got.push((t, s)));
            }
        }
        // every gyro sample up to the last accel (996 ms) comes out once, in order
        let last_accel = 249 * 4_000_000;
        let expected: Vec<i64> = (0..400)
            .map(|i| 1_000_000 + i * 2_500_000)
            .filter(|&t| t <= last_accel)
            .collect();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), expected);
        for (t, s) in &got {
            assert_eq!(s.gyro, [*t as f64, 0.5, -0.5]);
            let want = accel_at(*t);
            for (k, w) in want.iter().enumerate() {
                assert!((s.accel[k] - w).abs() < 1e-12, "t={t} k={k}");
            }
            assert_eq!(s.mag, None);
        }
        assert_eq!(c.dropped, 0);
    }

    #[test]
    fn gyro_before_first_accel_is_dropped_and_out_of_order_counted() {
        let mut c = ImuCombiner::new();
        let mut n = 0;
        c.push_gyro(10, [0.0; 3], |_, _| n += 1);
        c.push_accel(20, [1.0; 3], |_, _| n += 1); // no pair yet: gyro@10 waits for... nothing
        c.push_accel(40, [3.0; 3], |_, _| n += 1);
        assert_eq!(n, 0);
        assert_eq!(c.dropped, 1);
        c.push_gyro(30, [0.0; 3], |_, s| {
            n += 1;
            assert_eq!(s.accel, [2.0; 3]);
        });
        assert_eq!(n, 1);
        c.push_gyro(30, [0.0; 3], |_, _| n += 1); // duplicate timestamp
        c.push_accel(35, [0.0; 3], |_, _| n += 1); // older than the last accel
        assert_eq!((n, c.dropped), (1, 3));
    }

    #[test]
    fn buffer_overflow_drops_oldest() {
        let mut c = ImuCombiner::new();
        for i in 0..(GYRO_BUFFER as i64 + 5) {
            c.push_gyro(i, [0.0; 3], |_, _| {});
        }
        assert_eq!(c.dropped, 5);
    }
}
