//! Device timestamps -> the backend clock (`CLOCK_MONOTONIC` ns).
//!
//! **Choice.** librealsense stamps each frame in one of three domains: the device's hardware
//! clock (µs counter, no transport jitter, its own crystal), `SYSTEM_TIME` (host wall clock when
//! the USB transfer completed: jittery) or `GLOBAL_TIME` (D4xx default: the hardware clock mapped
//! to host wall time by librealsense's own linear fit, drift-corrected). Both host-based domains
//! are `CLOCK_REALTIME`, which NTP may step; the control loop runs on `CLOCK_MONOTONIC`. So sattva
//! takes the frame timestamp in whatever domain the device reports, keeps its spacing (the
//! device's precise sample timing), and maps it onto `CLOCK_MONOTONIC` with a *lower-envelope
//! offset*: `offset = min(arrival_monotonic - device_time)` over the frames seen, allowed to
//! creep up at most [`ClockMapper::MAX_SLEW_PPM`] per second of device time so it follows clock
//! drift (and a realtime step) without following transport delays. The smallest observed delay
//! is the best estimate of the true offset (transport only ever adds latency), so a mapped time
//! is never later than the frame's arrival. Each stream's output is forced strictly increasing.
//!
//! A recording (playback) keeps its recorded timestamps unchanged (`ClockKind::Replay`): that is
//! what makes playback deterministic.

/// `CLOCK_MONOTONIC` now, ns (the hardware backends' clock; std's `Instant` hides the raw value).
pub fn monotonic_now() -> i64 {
    crate::sched::monotonic_ns()
}

/// Maps one device's timestamps onto the local monotonic clock (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct ClockMapper {
    offset: Option<i64>,
    last_device: i64,
}

impl ClockMapper {
    /// Fastest the offset estimate may grow, parts per million of elapsed device time. Crystal
    /// drift is tens of ppm; transport delay changes are far faster and are thus ignored.
    const MAX_SLEW_PPM: i64 = 200;

    /// A mapper with no offset yet.
    pub fn new() -> ClockMapper {
        ClockMapper::default()
    }

    /// Forgets the offset (after a reconnect the device clock may have restarted).
    pub fn reset(&mut self) {
        *self = ClockMapper::default();
    }

    /// Maps `device_ns` (a frame's timestamp) that arrived at `arrival_ns` (monotonic).
    pub fn map(&mut self, device_ns: i64, arrival_ns: i64) -> i64 {
        let observed = arrival_ns.saturating_sub(device_ns);
        let offset = match self.offset {
            None => observed,
            Some(prev) => {
                let dt = device_ns.saturating_sub(self.last_device).max(0);
                let slew = dt.saturating_mul(Self::MAX_SLEW_PPM) / 1_000_000;
                observed.min(prev.saturating_add(slew))
            }
        };
        self.offset = Some(offset);
        self.last_device = device_ns;
        device_ns.saturating_add(offset)
    }

    /// The current offset estimate (monotonic - device), ns.
    pub fn offset(&self) -> Option<i64> {
        self.offset
    }
}

/// Forces a stream's timestamps to be strictly increasing (1 ns apart at least).
#[derive(Clone, Copy, Debug, Default)]
pub struct Monotonic {
    last: Option<i64>,
}

impl Monotonic {
    /// `t`, or just after the previous output when `t` would not be later.
    pub fn next(&mut self, t: i64) -> i64 {
        let t = match self.last {
            Some(l) if t <= l => l + 1,
            _ => t,
        };
        self.last = Some(t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_now_advances() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn offset_is_the_smallest_delay_and_never_in_the_future() {
        // Device clock = host clock - 5 s; transport delays vary between 0.2 and 3 ms.
        let mut m = ClockMapper::new();
        let delays = [3_000_000, 200_000, 1_500_000, 900_000, 2_500_000, 200_000];
        let mut out = Vec::new();
        for (i, d) in delays.iter().enumerate() {
            let truth = 10_000_000_000 + i as i64 * 2_500_000; // 400 Hz on the host clock
            let device = truth - 5_000_000_000;
            let t = m.map(device, truth + d);
            assert!(t <= truth + d, "mapped time after arrival");
            out.push(t - truth);
        }
        // Once the 0.2 ms delay was seen the error stays within 0.2 ms + the allowed slew
        // (200 ppm of 2.5 ms = 500 ns per sample).
        for (i, e) in out.iter().enumerate().skip(1) {
            let bound = 200_000 + 500 * (i as i64 - 1);
            assert!(
                (0..=bound).contains(e),
                "sample {i}: error {e} ns > {bound}"
            );
        }
    }

    #[test]
    fn follows_drift_within_the_slew_limit() {
        // Device clock runs 50 ppm slow; constant 100 us delay; 10 minutes at 200 Hz.
        let mut m = ClockMapper::new();
        let mut worst = 0i64;
        for i in 0..120_000i64 {
            let truth = i * 5_000_000;
            let device = truth - truth / 20_000; // -50 ppm
            let t = m.map(device, truth + 100_000);
            worst = worst.max((t - truth).abs());
        }
        assert!(worst <= 100_000 + 10_000, "worst error {worst} ns");
    }

    #[test]
    fn monotonic_guard() {
        let mut g = Monotonic::default();
        assert_eq!(g.next(10), 10);
        assert_eq!(g.next(10), 11);
        assert_eq!(g.next(5), 12);
        assert_eq!(g.next(20), 20);
    }
}
