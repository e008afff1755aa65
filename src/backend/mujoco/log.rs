//! MuJoCo's messages go to `tracing`, rate-limited; nothing is written to `MUJOCO_LOG.TXT`.
//!
//! Left alone, MuJoCo prints each warning to stdout and appends it to `MUJOCO_LOG.TXT` in the
//! working directory. [`install`] registers a handler for MuJoCo's log messages (through
//! mujoco-rs's `set_log_handler`, which wraps `mju_setLogHandler`, the successor of the
//! deprecated `mju_user_warning` / `mju_user_error` globals; those stay unset so every message
//! reaches the handler) and turns MuJoCo's default console and file output off.
//!
//! Each message goes to `tracing` with target `mujoco`: warnings at `warn`, info at `info`,
//! debug at `debug`. Messages of one kind (the text with its numbers left out, so "... at DOF 3
//! ... Time = 0.0120" and "... at DOF 5 ... Time = 2.5" are one kind) are rate-limited with
//! [`Repeated`]: the 1st, 10th, 100th ... occurrence is logged with its count. An error
//! (`mju_error`: MuJoCo cannot continue) is always logged, at `error`, and then mujoco-rs ends the
//! process with exit code 1, as MuJoCo itself would.
//!
//! Physics warnings of a running simulation are also counted per step by the backend itself
//! (`mjData.warning`), which turns an unstable simulation into a fault; this handler only
//! decides where MuJoCo's own text goes.

// Unsafe code here: the two mujoco-rs calls that replace process-wide MuJoCo globals (the log
// handler and its configuration), each sound only while no other thread uses MuJoCo.
#![allow(unsafe_code)]

use std::sync::{LazyLock, Mutex, Once};

use mujoco_rs::prelude::{
    log_config, set_log_config, set_log_handler, MjLogMessage, MjtLogLevel, MjtLogTopic,
};

use crate::repeat::Repeated;

/// Distinct message kinds tracked; further kinds share the last slot.
const KINDS: usize = 32;

/// Rate limiter per message kind: `(kind hash, counter)`, kind 0 = free slot.
static SEEN: LazyLock<Mutex<[(u64, Repeated); KINDS]>> =
    LazyLock::new(|| Mutex::new([(0, Repeated::default()); KINDS]));

static INSTALL: Once = Once::new();

/// Routes MuJoCo's log messages to `tracing` (idempotent; the first call wins).
///
/// Call it before anything uses MuJoCo: `sattva`'s `main` calls it first thing, and
/// [`super::MujocoBackend::with_section`] calls it before a model is loaded, so library users
/// and tests that only go through the backend are covered too. Code that uses `mujoco_rs`
/// directly without a backend calls it before loading its first model (`sim`'s scene check
/// does).
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: `set_log_handler` and `set_log_config` write process-wide MuJoCo globals
        // (the handler pointer and the log configuration) without synchronisation, so no other
        // thread may be inside MuJoCo meanwhile. Every sattva path into MuJoCo loads a model
        // first, and each calls `install` before it does: `main` at start-up, the backend's
        // constructor (which precedes the model loads of the backend, its camera and the sim
        // benchmark), and `sim`'s scene check; `Once` makes every other caller wait until this
        // closure has returned. So when this runs, no thread has loaded a model yet, i.e. none
        // is using MuJoCo. `to_tracing` is a plain `fn`, valid for the whole program, and it
        // never calls `mju_error`.
        unsafe {
            set_log_handler(to_tracing);
            // MuJoCo's own console/file output: off (the handler replaces it; this keeps a
            // legacy path from writing MUJOCO_LOG.TXT too); no opt-in info/debug topics (the
            // step-timing topic would format a message in every physics step).
            set_log_config(
                log_config()
                    .with_logto_console(false)
                    .with_logto_file(false)
                    .with_topics(0),
            );
        }
    });
}

/// The handler: one MuJoCo message to `tracing`. Runs on whichever thread MuJoCo runs on (the
/// control task, for physics warnings); must not panic (it is called across the C boundary).
fn to_tracing(message: &MjLogMessage) {
    let level = message.level();
    // `subject` panics on text that is not UTF-8 (MuJoCo truncates long text at a byte, which
    // can split a character); a panic must not unwind into C.
    let subject = std::panic::catch_unwind(|| message.subject()).unwrap_or("<non-UTF-8 message>");
    if level == MjtLogLevel::mjLOG_ERROR {
        // MuJoCo cannot continue: mujoco-rs ends the process after this handler returns
        tracing::error!(target: "mujoco", "{subject} (MuJoCo error: the process exits)");
        return;
    }
    if level != MjtLogLevel::mjLOG_WARNING && message.topic() != MjtLogTopic::mjTOPIC_NONE {
        // opt-in diagnostics (compile/step timing, sleep events) that MuJoCo sends whatever the
        // topic mask says: on request only (`RUST_LOG=mujoco=trace`)
        tracing::trace!(target: "mujoco", topic = ?message.topic(), "{subject}");
        return;
    }
    let Some(n) = note(kind_of(subject)) else {
        return;
    };
    match level {
        MjtLogLevel::mjLOG_WARNING => {
            tracing::warn!(target: "mujoco", occurrence = n, "{subject}")
        }
        MjtLogLevel::mjLOG_INFO => tracing::info!(target: "mujoco", occurrence = n, "{subject}"),
        _ => tracing::debug!(target: "mujoco", occurrence = n, "{subject}"),
    }
}

/// Hash of the message with its digits left out (FNV-1a), never 0.
fn kind_of(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes().filter(|b| !b.is_ascii_digit()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

/// Counts one message of `kind`; `Some(count)` when it is to be logged.
fn note(kind: u64) -> Option<u64> {
    // a poisoned lock only means another thread panicked while counting: keep counting
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let i = seen
        .iter()
        .position(|&(k, _)| k == kind || k == 0)
        .unwrap_or(KINDS - 1);
    if seen[i].0 == 0 {
        seen[i].0 = kind;
    }
    seen[i].1.note()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_ignore_numbers() {
        let a = kind_of("Nan, Inf or huge value in QACC at DOF 3. Time = 0.0120.");
        let b = kind_of("Nan, Inf or huge value in QACC at DOF 15. Time = 2.5000.");
        let c = kind_of("Nan, Inf or huge value in QVEL at DOF 3. Time = 0.0120.");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, 0);
    }
}
