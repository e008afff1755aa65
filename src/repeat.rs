//! Conditions that can repeat every cycle (a rejected command, a stale sensor, a hold) are
//! logged once and then counted, never a flood: [`Repeated`] says which occurrences to log (the
//! 1st, 10th, 100th, 1000th ... so a run that repeats a condition a million times writes seven
//! lines) and keeps the count for summaries and `/diagnostics`.
//!
//! No allocation, no clock: usable on the RT control path.
//!
//! ```
//! use sattva::repeat::Repeated;
//! let mut rejected = Repeated::default();
//! let logged: Vec<u64> = (0..2500).filter_map(|_| rejected.note()).collect();
//! assert_eq!(logged, vec![1, 10, 100, 1000]);
//! assert_eq!(rejected.count(), 2500);
//! ```

/// `tracing::warn!` for a condition that can repeat: logged at the 1st, 10th, 100th ...
/// occurrence counted by the [`Repeated`] given first (with `times = n`), counted otherwise.
///
/// ```
/// let mut r = sattva::repeat::Repeated::default();
/// for _ in 0..3 {
///     sattva::warn_repeated!(r, reason = "example", "something happened");
/// }
/// assert_eq!(r.count(), 3);
/// ```
#[macro_export]
macro_rules! warn_repeated {
    ($rep:expr, $($arg:tt)+) => {
        if let Some(n) = $rep.note() {
            tracing::warn!(times = n, $($arg)+);
        }
    };
}

/// Counter of one repeated condition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repeated {
    count: u64,
    next_log: u64,
}

/// True for the occurrences of a repeated condition that are logged: the 1st, 10th, 100th ...
/// (for counters kept elsewhere, e.g. atomics shared with a driver callback).
#[inline]
pub fn logged(n: u64) -> bool {
    n == 1 || (n >= 10 && 10u64.pow(n.ilog10()) == n)
}

impl Repeated {
    /// Counts one occurrence; `Some(n)` (the count so far) when this one should be logged: the
    /// first, then each time the count reaches the next power of ten.
    #[inline]
    pub fn note(&mut self) -> Option<u64> {
        self.count += 1;
        if self.count >= self.next_log.max(1) {
            self.next_log = self.count.saturating_mul(10);
            Some(self.count)
        } else {
            None
        }
    }

    /// Occurrences so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_first_then_powers_of_ten() {
        let mut r = Repeated::default();
        let logged: Vec<u64> = (0..100_000).filter_map(|_| r.note()).collect();
        assert_eq!(logged, vec![1, 10, 100, 1000, 10_000, 100_000]);
        assert_eq!(r.count(), 100_000);
    }

    #[test]
    fn logged_matches_note() {
        let mut r = Repeated::default();
        for n in 1..=20_000u64 {
            assert_eq!(r.note().is_some(), logged(n), "{n}");
        }
        assert!(!logged(0));
    }

    #[test]
    fn fresh_counter_is_zero_and_logs_at_once() {
        let mut r = Repeated::default();
        assert_eq!(r.count(), 0);
        assert_eq!(r.note(), Some(1));
        assert_eq!(r.note(), None);
    }
}
