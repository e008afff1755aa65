//! What the OS gives the executor: memory locking, CPU wake-up latency, pinning, SCHED_FIFO.
//!
//! Everything here runs during start-up (never in the loop). Each request that the OS refuses
//! becomes one line in [`RtStatus::issues`] saying exactly what was asked, what failed and how to
//! fix it; the executor then runs anyway (`rt: best_effort`, status `degraded`) or refuses to
//! start (`rt: required`).

// Unsafe code: `mlockall`, `sched_getparam`/`sched_getscheduler` and `prctl` (libc), and
// the volatile stack writes that prefault the RT thread's stack.
#![allow(unsafe_code)]

use std::fmt;
use std::fs::File;
use std::io::Write;

use serde::Serialize;
use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadPriorityValue, ThreadSchedulePolicy,
};

use super::config::{RtMode, SchedConfig};

/// How real-time the running executor actually is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtState {
    /// Everything requested was granted.
    Full,
    /// Running, but something was refused (see the issues).
    Degraded,
    /// Real-time features not requested (`rt: off`) or virtual time.
    Off,
}

impl fmt::Display for RtState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RtState::Full => "full",
            RtState::Degraded => "degraded",
            RtState::Off => "off",
        })
    }
}

/// The real-time status of an executor: state, what was refused, and facts about the platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RtStatus {
    /// full / degraded / off.
    pub state: RtState,
    /// Each request the OS refused (empty unless degraded).
    pub issues: Vec<String>,
    /// Facts worth knowing that are not failures (kernel flavour, isolation).
    pub notes: Vec<String>,
}

/// Process-wide resources held while the executor runs.
pub(crate) struct ProcessRt {
    _dma_latency: Option<File>,
}

/// Locks memory and holds `/dev/cpu_dma_latency` at 0, per config; records refusals.
pub(crate) fn setup_process(
    cfg: &SchedConfig,
    cores: &[usize],
    issues: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> ProcessRt {
    if cfg.rt == RtMode::Off {
        return ProcessRt { _dma_latency: None };
    }
    match std::fs::read_to_string("/sys/kernel/realtime") {
        Ok(s) if s.trim() == "1" => notes.push("kernel: PREEMPT_RT".into()),
        _ => notes.push(format!(
            "kernel: not PREEMPT_RT ({}): soft real-time only",
            kernel_preempt_flavour()
        )),
    }
    let isolated = std::fs::read_to_string("/sys/devices/system/cpu/isolated")
        .map(|s| parse_cpu_list(&s))
        .unwrap_or_default();
    for &c in cores {
        if !isolated.contains(&c) {
            let msg = format!(
                "core {c} is not isolated (isolated: {:?}); boot with isolcpus={c} nohz_full={c} rcu_nocbs={c}",
                isolated
            );
            if cfg.require_isolated {
                issues.push(msg);
            } else {
                notes.push(msg);
            }
        }
    }
    if cfg.lock_memory {
        // SAFETY: `mlockall` takes two flag constants and no pointer; it only changes how the
        // process's pages are kept in memory, and failure comes back as its return value.
        let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
        if r != 0 {
            issues.push(format!(
                "mlockall(MCL_CURRENT|MCL_FUTURE) refused: {}; needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK (ulimit -l)",
                std::io::Error::last_os_error()
            ));
        }
    }
    let dma = if cfg.cpu_dma_latency {
        match std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/cpu_dma_latency")
            .and_then(|mut f| f.write_all(&0i32.to_ne_bytes()).map(|_| f))
        {
            Ok(f) => Some(f),
            Err(e) => {
                issues.push(format!(
                    "/dev/cpu_dma_latency = 0 refused: {e}; needs write access to /dev/cpu_dma_latency (root or a udev rule)"
                ));
                None
            }
        }
    } else {
        None
    };
    ProcessRt { _dma_latency: dma }
}

fn kernel_preempt_flavour() -> String {
    let v = std::fs::read_to_string("/proc/sys/kernel/version").unwrap_or_default();
    ["PREEMPT_RT", "PREEMPT_DYNAMIC", "PREEMPT"]
        .iter()
        .find(|k| v.contains(*k))
        .map(|k| k.to_string())
        .unwrap_or_else(|| "no PREEMPT".into())
}

/// Parses a Linux CPU list like `1-3,5`.
pub(crate) fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => {
                if let Ok(a) = part.trim().parse() {
                    out.push(a);
                }
            }
        }
    }
    out
}

/// Cores this process may run on.
pub(crate) fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Pins the calling thread, sets SCHED_FIFO and prefaults its stack; records refusals.
/// Runs on the worker thread before its loop.
pub(crate) fn setup_thread(
    mode: RtMode,
    core: usize,
    priority: u8,
    prefault_kib: u32,
    issues: &mut Vec<String>,
) {
    if mode == RtMode::Off {
        return;
    }
    if !available_cores().contains(&core) {
        issues.push(format!(
            "core {core} is not available to this process (available: {:?}); worker runs unpinned",
            available_cores()
        ));
    } else if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        issues.push(format!(
            "pinning to core {core} refused: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fifo = ThreadPriorityValue::try_from(priority)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Crossplatform(p),
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
            )
            .map_err(|e| match e {
                thread_priority::Error::OS(code) => {
                    std::io::Error::from_raw_os_error(code).to_string()
                }
                other => other.to_string(),
            })
        });
    match fifo {
        Ok(()) => {
            // verify: the OS is the authority, not the library's return value
            let mut sp = libc::sched_param { sched_priority: 0 };
            // SAFETY: pid 0 is the calling thread; `sp` is a writable local `sched_param`, the
            // only pointer; `sched_getscheduler` takes none. Both only read scheduler state.
            let pol = unsafe {
                libc::sched_getparam(0, &mut sp);
                libc::sched_getscheduler(0)
            };
            if pol != libc::SCHED_FIFO || sp.sched_priority != priority as i32 {
                issues.push(format!(
                    "SCHED_FIFO {priority} on core {core} not in effect (policy {pol}, priority {})",
                    sp.sched_priority
                ));
            }
        }
        Err(e) => issues.push(format!(
            "SCHED_FIFO priority {priority} on core {core} refused: {e}; needs CAP_SYS_NICE or RLIMIT_RTPRIO >= {priority} (ulimit -r)"
        )),
    }
    // A SCHED_OTHER thread's absolute sleeps may end up to its timer slack (50 us by default)
    // late, so the kernel can batch wake-ups; real-time threads have none. 1 ns (the minimum)
    // keeps a degraded worker's wake-ups on time too (the kernel ignores it for SCHED_FIFO).
    // SAFETY: PR_SET_TIMERSLACK takes integers only (no pointer) and changes only the calling
    // thread's timer slack.
    if unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        issues.push(format!(
            "timer slack 1 ns on core {core} refused: {}",
            std::io::Error::last_os_error()
        ));
    }
    prefault_stack(prefault_kib as usize * 1024);
}

/// Touches `bytes` of stack below the current frame so those pages are resident (and, after
/// mlockall(MCL_FUTURE), locked) before the loop runs.
#[inline(never)]
fn prefault_stack(bytes: usize) {
    const CHUNK: usize = 64 * 1024;
    #[inline(never)]
    fn touch(left: usize) {
        let mut buf = [0u8; CHUNK];
        let mut i = 0;
        while i < CHUNK {
            // SAFETY: `i < CHUNK` (loop condition), so the write stays inside the local array
            // `buf`; volatile only so the compiler keeps it.
            unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(i), 1) };
            i += 4096;
        }
        std::hint::black_box(&buf);
        if left > CHUNK {
            touch(left - CHUNK);
        }
    }
    if bytes > 0 {
        touch(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(parse_cpu_list("1-3,5\n"), vec![1, 2, 3, 5]);
        assert_eq!(parse_cpu_list("\n"), Vec::<usize>::new());
        assert_eq!(parse_cpu_list("x,2"), vec![2]);
    }
}
