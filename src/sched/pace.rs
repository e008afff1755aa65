//! Pacing of virtual time and the player controls over it (pause / resume / toggle, rate,
//! steps, fast-forward), shared by every player: `sattva replay --publish` (a bag onto topics)
//! and the virtual-time driver of the agent (`sattva replay`, `run --fast`, `sim`).
//!
//! [`PlayerClock`] is the playback time: the log (or virtual) time that is "now", which runs at
//! `rate` times wall time while playing and stands still while paused. Every control re-anchors
//! it at the current wall time, so changing the rate or resuming never makes a player catch up
//! on the time it spent paused. [`PlayControl`] carries the controls from a control surface
//! (the ROS 2 services of `replay::controls`) to a driver thread, and the driver's position back.

use std::time::{Duration, Instant};

/// Errors of a player control.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PaceError {
    /// A rate that is not a finite number above 0.
    #[error("rate {0}: expected a finite number > 0")]
    Rate(f64),
    /// A seek target after the end of the played range.
    #[error("seek to {target} ns: after the end of playback ({end} ns)")]
    SeekPastEnd {
        /// The requested time, ns.
        target: i64,
        /// The last time played, ns.
        end: i64,
    },
    /// A seek backwards in a player that cannot go back (an agent does not unlearn).
    #[error(
        "seek to {target} ns: before the current time ({now} ns); this player only goes forward"
    )]
    SeekBack {
        /// The requested time, ns.
        target: i64,
        /// The current time, ns.
        now: i64,
    },
    /// Play next / burst while playing.
    #[error("not paused: play_next and burst step a paused player")]
    NotPaused,
}

/// The rate of "as fast as possible" (every time is due at once).
pub const FLAT_OUT: f64 = 1e9;

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
    pub fn new(start: i64, rate: f64, paused: bool) -> Result<PlayerClock, PaceError> {
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
    pub fn set_rate(&mut self, rate: f64) -> Result<(), PaceError> {
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

fn check_rate(rate: f64) -> Result<(), PaceError> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(PaceError::Rate(rate))
    }
}

/// What a control surface asks a driver for, and where the driver is (behind one mutex: the
/// driver is not a real-time thread, and requests are rare).
#[derive(Clone, Debug)]
pub struct PlayState {
    /// Paused by a control.
    pub paused: bool,
    /// Rate asked for.
    pub rate: f64,
    /// Changes of `paused` / `rate` so far (the driver re-anchors its clock on a change).
    pub epoch: u64,
    /// Control cycles granted while paused (play_next: 1, burst: n), not yet run.
    pub steps: u64,
    /// Fast-forward to this time, ns (run unpaced until then).
    pub seek: Option<i64>,
    /// The driver's time, ns.
    pub now: i64,
    /// Control cycles the driver has run.
    pub cycles: u64,
    /// The driver has stopped (end of the recording, duration, signal).
    pub ended: bool,
}

/// Player controls shared between a control surface and a virtual-time driver
/// (see the module docs). Cheap to clone (`Arc` inside).
#[derive(Clone, Debug)]
pub struct PlayControl {
    state: std::sync::Arc<std::sync::Mutex<PlayState>>,
}

impl PlayControl {
    /// Controls of a player starting at time `now` (ns), at `rate`, paused or not.
    pub fn new(now: i64, rate: f64, paused: bool) -> Result<PlayControl, PaceError> {
        check_rate(rate)?;
        Ok(PlayControl {
            state: std::sync::Arc::new(std::sync::Mutex::new(PlayState {
                paused,
                rate,
                epoch: 0,
                steps: 0,
                seek: None,
                now,
                cycles: 0,
                ended: false,
            })),
        })
    }

    /// Runs `f` on the state (a poisoned lock is taken over: the state stays consistent).
    pub fn with<R>(&self, f: impl FnOnce(&mut PlayState) -> R) -> R {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> PlayState {
        self.with(|s| s.clone())
    }

    /// Pauses (`Some(true)`), resumes (`Some(false)`) or toggles (`None`); returns the new state.
    pub fn set_paused(&self, paused: Option<bool>) -> bool {
        self.with(|s| {
            let p = paused.unwrap_or(!s.paused);
            if p != s.paused {
                s.paused = p;
                s.epoch += 1;
            }
            p
        })
    }

    /// Sets the rate (a finite number > 0).
    pub fn set_rate(&self, rate: f64) -> Result<(), PaceError> {
        check_rate(rate)?;
        self.with(|s| {
            s.rate = rate;
            s.epoch += 1;
        });
        Ok(())
    }

    /// Grants `n` control cycles while paused; returns the cycle count to wait for.
    pub fn step(&self, n: u64) -> Result<u64, PaceError> {
        self.with(|s| {
            if !s.paused {
                return Err(PaceError::NotPaused);
            }
            s.steps += n;
            Ok(s.cycles + s.steps)
        })
    }

    /// Fast-forwards to `t` (ns, not before the current time).
    pub fn seek(&self, t: i64) -> Result<(), PaceError> {
        self.with(|s| {
            if t < s.now {
                return Err(PaceError::SeekBack {
                    target: t,
                    now: s.now,
                });
            }
            s.seek = Some(t);
            Ok(())
        })
    }
}

/// The driver's side of [`PlayControl`]: its clock and what it may run.
#[derive(Debug)]
pub struct Pacer {
    clock: PlayerClock,
    control: Option<PlayControl>,
    epoch: u64,
    seek: Option<i64>,
}

/// Applies a change of pause state or rate (a new `epoch`) to the driver's clock.
fn follow(clock: &mut PlayerClock, epoch: &mut u64, s: &PlayState) {
    if s.epoch != *epoch {
        *epoch = s.epoch;
        let _ = clock.set_rate(s.rate);
        if s.paused {
            clock.pause()
        } else {
            clock.resume()
        }
    }
}

/// What the driver does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Run the next step (paced with [`Pacer::wait`]).
    Run,
    /// Run the next step without pacing (fast-forward, or a granted step).
    Rush,
    /// Paused: run nothing now.
    Hold,
}

impl Pacer {
    /// Paces time from `t0` (ns) at `rate` x real time (`<= 0`: as fast as possible), under
    /// `control` when given (its rate and pause state take over).
    pub fn new(t0: i64, rate: f64, control: Option<PlayControl>) -> Pacer {
        let rate = if rate > 0.0 && rate.is_finite() {
            rate
        } else {
            FLAT_OUT
        };
        let (rate, paused, epoch) = match &control {
            Some(c) => c.with(|s| {
                s.now = t0;
                (s.rate, s.paused, s.epoch)
            }),
            None => (rate, false, 0),
        };
        Pacer {
            clock: PlayerClock {
                rate,
                paused,
                log: t0,
                wall: Instant::now(),
            },
            control,
            epoch,
            seek: None,
        }
    }

    /// Reports the driver's time `now` and its control cycles; says what to do next.
    pub fn gate(&mut self, now: i64, cycles: u64) -> Gate {
        let Some(c) = &self.control else {
            return Gate::Run;
        };
        let clock = &mut self.clock;
        let (gate, seek) = c.with(|s| {
            let consumed = cycles.saturating_sub(s.cycles);
            s.steps = s.steps.saturating_sub(if s.paused { consumed } else { 0 });
            s.now = now;
            s.cycles = cycles;
            follow(clock, &mut self.epoch, s);
            if let Some(t) = s.seek.take() {
                self.seek = Some(t);
            }
            let gate = if self.seek.is_some_and(|t| now < t) {
                Gate::Rush
            } else if s.paused {
                if s.steps > 0 {
                    Gate::Rush
                } else {
                    Gate::Hold
                }
            } else {
                Gate::Run
            };
            (gate, self.seek)
        });
        if let Some(t) = seek {
            if now >= t {
                // arrived: playing (or paused) continues from here
                self.seek = None;
                clock.jump(now);
            }
        }
        if gate == Gate::Rush {
            clock.jump(now);
        }
        gate
    }

    /// Sleeps until time `t` (ns) is due; returns at once when paused or flat out. Sleeps in
    /// slices of at most 50 ms, following a pause or a new rate in between.
    pub fn wait(&mut self, t: i64) {
        loop {
            match self.clock.until(t) {
                Some(d) if d > Duration::from_micros(200) => {
                    std::thread::sleep(d.min(Duration::from_millis(50)))
                }
                _ => return,
            }
            if let Some(c) = &self.control {
                let (clock, epoch) = (&mut self.clock, &mut self.epoch);
                c.with(|s| follow(clock, epoch, s));
            }
        }
    }

    /// The driver stopped.
    pub fn end(&self) {
        if let Some(c) = &self.control {
            c.with(|s| s.ended = true);
        }
    }
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
    fn controls_reach_the_driver() {
        let c = PlayControl::new(0, 1.0, true).unwrap();
        let mut p = Pacer::new(0, 1.0, Some(c.clone()));
        assert_eq!(p.gate(0, 0), Gate::Hold);
        assert_eq!(c.step(2), Ok(2));
        assert_eq!(p.gate(0, 0), Gate::Rush);
        assert_eq!(p.gate(2_000_000, 1), Gate::Rush);
        assert_eq!(p.gate(4_000_000, 2), Gate::Hold);
        assert_eq!(c.snapshot().steps, 0);
        // forward only
        assert!(matches!(c.seek(1_000_000), Err(PaceError::SeekBack { .. })));
        c.seek(10_000_000).unwrap();
        assert_eq!(p.gate(4_000_000, 2), Gate::Rush);
        assert_eq!(p.gate(10_000_000, 5), Gate::Hold);
        assert!(!c.set_paused(Some(false)));
        assert_eq!(c.step(1), Err(PaceError::NotPaused));
        assert_eq!(p.gate(10_000_000, 5), Gate::Run);
        assert!(c.set_rate(0.0).is_err());
        c.set_rate(4.0).unwrap();
        p.gate(10_000_000, 5);
        assert_eq!(p.clock.rate(), 4.0);
        assert!(c.set_paused(None));
        p.end();
        assert!(c.snapshot().ended);
        // without controls: always run, as fast as the rate says
        let mut free = Pacer::new(0, 0.0, None);
        assert_eq!(free.gate(0, 0), Gate::Run);
        // flat out: an hour is due in 3.6 us
        free.wait(3_600_000_000_000);
        // paced: waits the whole time, not one slice
        let mut paced = Pacer::new(0, 1.0, None);
        let t = Instant::now();
        paced.wait(120_000_000);
        assert!(
            t.elapsed() >= Duration::from_millis(119),
            "{:?}",
            t.elapsed()
        );
    }
}
