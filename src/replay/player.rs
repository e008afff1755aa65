//! Player controls, as rosbag2's player has them: pause / resume / toggle, rate, seek, play next
//! message, burst, start paused, start offset and playback duration.
//!
//! [`PlayerClock`] is the playback time: the bag's log time that is "now", which runs at `rate`
//! times wall time while playing and stands still while paused. A message is due when its log
//! time is at or before the clock. Every control re-anchors the clock at the current wall time,
//! so changing the rate or resuming never makes the player catch up on the time it spent paused.
//! The ROS 2 services that drive it are in [`super::publish`] (`sattva replay --publish`).

pub use crate::sched::pace::{PaceError, PlayerClock};

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
