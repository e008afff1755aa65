//! Player controls, as rosbag2's player has them: pause / resume / toggle, rate, seek, play next
//! message, burst, start paused, start offset and playback duration.
//!
//! [`PlayerClock`] is the playback time: the bag's log time that is "now", which runs at `rate`
//! times wall time while playing and stands still while paused. A message is due when its log
//! time is at or before the clock. Every control re-anchors the clock at the current wall time,
//! so changing the rate or resuming never makes the player catch up on the time it spent paused.
//! The ROS 2 services that drive it are in [`super::publish`] (`sattva replay --publish`).

use std::time::{Duration, Instant};

/// Errors of a player control.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlayerError {
    /// A rate that is not a finite number above 0.
    #[error("rate {0}: expected a finite number > 0")]
    Rate(f64),
    /// A seek target after the end of the played range.
    #[error("seek to {target} ns: after the end of playback ({end} ns)")]
    SeekPastEnd {
        /// The requested log time, ns.
        target: i64,
        /// The last log time played, ns.
        end: i64,
    },
}

/// Playback time: log time (ns) running at `rate` x wall time, frozen while paused.
#[derive(Clone, Debug)]
pub struct PlayerClock {
    rate: f64,
    paused: bool,
    /// Log time at `wall`.
    log: i64,
    wall: Instant,
}

impl PlayerClock {
    /// A clock at log time `start`, running at `rate` (> 0) unless `paused`.
    pub fn new(start: i64, rate: f64, paused: bool) -> Result<PlayerClock, PlayerError> {
        check_rate(rate)?;
        Ok(PlayerClock {
            rate,
            paused,
            log: start,
            wall: Instant::now(),
        })
    }

    /// The playback time at wall time `at`, ns.
    pub fn at(&self, at: Instant) -> i64 {
        if self.paused {
            return self.log;
        }
        let dt = at.saturating_duration_since(self.wall).as_nanos() as f64 * self.rate;
        self.log.saturating_add(dt as i64)
    }

    /// The playback time now, ns.
    pub fn now(&self) -> i64 {
        self.at(Instant::now())
    }

    /// Re-anchors at `log` (ns), now.
    fn anchor(&mut self, log: i64) {
        self.log = log;
        self.wall = Instant::now();
    }

    /// Whether playback is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The rate.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Pauses (idempotent): the clock stands at the current time.
    pub fn pause(&mut self) {
        if !self.paused {
            let now = self.now();
            self.anchor(now);
            self.paused = true;
        }
    }

    /// Resumes (idempotent) from the time the clock stands at.
    pub fn resume(&mut self) {
        if self.paused {
            let now = self.log;
            self.anchor(now);
            self.paused = false;
        }
    }

    /// Pauses a playing clock, resumes a paused one. Returns whether it is paused now.
    pub fn toggle(&mut self) -> bool {
        if self.paused {
            self.resume()
        } else {
            self.pause()
        }
        self.paused
    }

    /// Sets the rate (a finite number > 0) from now on.
    pub fn set_rate(&mut self, rate: f64) -> Result<(), PlayerError> {
        check_rate(rate)?;
        let now = self.now();
        self.anchor(now);
        self.rate = rate;
        Ok(())
    }

    /// Jumps to log time `t`, ns (paused or not, as it was).
    pub fn jump(&mut self, t: i64) {
        self.anchor(t);
    }

    /// How long until log time `t` is due (zero if due; `None` while paused).
    pub fn until(&self, t: i64) -> Option<Duration> {
        if self.paused {
            return None;
        }
        let now = Instant::now();
        let ahead = t.saturating_sub(self.at(now));
        Some(if ahead <= 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos((ahead as f64 / self.rate) as u64)
        })
    }
}

fn check_rate(rate: f64) -> Result<(), PlayerError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(PlayerError::Rate(rate))
    }
}

/// The log-time range to play: `[start + offset, start + offset + duration]` within the bag's
/// `[start, end]`, ns. `offset_s` and `duration_s` are seconds (negative or not finite: refused).
pub fn play_range(
    start: i64,
    end: i64,
    offset_s: f64,
    duration_s: Option<f64>,
) -> Result<(i64, i64), String> {
    if !(offset_s.is_finite() && offset_s >= 0.0) {
        return Err(format!("--start-offset {offset_s}: expected seconds >= 0"));
    }
    let from = start.saturating_add((offset_s * 1e9).round() as i64);
    let to = match duration_s {
        None => end,
        Some(d) if d.is_finite() && d > 0.0 => from.saturating_add((d * 1e9).round() as i64),
        Some(d) => return Err(format!("--playback-duration {d}: expected seconds > 0")),
    };
    Ok((from, to.min(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_clock_stands_and_resumes_where_it_stood() {
        let mut c = PlayerClock::new(1_000, 1.0, true).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.now(), 1_000);
        assert_eq!(c.until(2_000), None);
        c.resume();
        assert!(c.now() < 1_000 + 15_000_000, "no catching up on the pause");
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.now() >= 1_000 + 20_000_000);
        c.pause();
        let stood = c.now();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(c.now(), stood);
        assert!(!c.toggle());
        assert!(c.toggle());
    }

    #[test]
    fn rate_scales_and_bad_rates_are_refused() {
        let mut c = PlayerClock::new(0, 1.0, false).unwrap();
        c.set_rate(10.0).unwrap();
        let d = c.until(c.now() + 100_000_000).unwrap();
        assert!(
            d <= Duration::from_millis(10) && d > Duration::from_millis(8),
            "{d:?}"
        );
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(c.set_rate(r).is_err());
            assert!(PlayerClock::new(0, r, false).is_err());
        }
        assert_eq!(c.rate(), 10.0);
        c.jump(5);
        assert_eq!(c.until(0), Some(Duration::ZERO));
    }

    #[test]
    fn ranges_clip_to_the_bag() {
        assert_eq!(
            play_range(100, 5_000_000_100, 1.0, None),
            Ok((1_000_000_100, 5_000_000_100))
        );
        assert_eq!(
            play_range(100, 5_000_000_100, 1.0, Some(2.0)),
            Ok((1_000_000_100, 3_000_000_100))
        );
        assert_eq!(play_range(0, 1_000, 0.0, Some(9.0)), Ok((0, 1_000)));
        assert!(play_range(0, 1, -1.0, None).is_err());
        assert!(play_range(0, 1, 0.0, Some(0.0)).is_err());
        assert!(play_range(0, 1, f64::NAN, None).is_err());
    }
}
