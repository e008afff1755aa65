//! The executor's clocks: CLOCK_MONOTONIC with absolute sleeps, or a virtual clock.

// Unsafe code: `clock_gettime` and `clock_nanosleep` (libc, no std equivalent for
// absolute CLOCK_MONOTONIC sleeps).
#![allow(unsafe_code)]

use std::cell::Cell;

/// A source of "now" for the dispatcher, ns.
pub(crate) trait Clock {
    fn now(&self) -> i64;
}

/// CLOCK_MONOTONIC (vDSO: no syscall, no allocation).
pub(crate) struct Monotonic;

impl Clock for Monotonic {
    #[inline]
    fn now(&self) -> i64 {
        monotonic_ns()
    }
}

/// Virtual time: moves only when the executor says so. Jobs take zero virtual time.
pub(crate) struct Virtual(pub Cell<i64>);

impl Clock for Virtual {
    #[inline]
    fn now(&self) -> i64 {
        self.0.get()
    }
}

/// CLOCK_MONOTONIC now, ns.
#[inline]
pub fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable local `timespec`, the only pointer; CLOCK_MONOTONIC exists on
    // every Linux, so the call cannot fail and `ts` is always written.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Sleeps until CLOCK_MONOTONIC reaches `t_ns` (absolute: no drift, no lost time on signals).
#[inline]
pub fn sleep_until_ns(t_ns: i64) {
    let ts = libc::timespec {
        tv_sec: t_ns.div_euclid(1_000_000_000),
        tv_nsec: t_ns.rem_euclid(1_000_000_000),
    };
    loop {
        // SAFETY: `ts` is a valid, initialised `timespec` that outlives the call; the remainder
        // pointer may be null (it is unused with TIMER_ABSTIME).
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            break;
        }
    }
}
