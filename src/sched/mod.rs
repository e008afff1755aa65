//! The real-time executor ("nanosecond scheduler").
//!
//! Tasks are declared in the `sched:` config ([`SchedConfig`]) and implemented as [`Task`]s
//! (lifecycle hooks `start` / `ready` / `run_once` / `stop`). The executor owns the loop:
//!
//! * [`Executor`]: one worker thread per used core, pinned, SCHED_FIFO at the highest priority of
//!   its tasks, memory locked, stack prefaulted, `/dev/cpu_dma_latency` held at 0, woken by
//!   `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`. Among the ready jobs of one core the one
//!   with the earliest absolute deadline runs (EDF; ties: priority, then name). Whatever the OS
//!   refuses is logged and reported (`rt: degraded`), or is an error with `rt: required`.
//! * [`VirtualExecutor`]: the same task set and dispatch rule on a virtual clock, as fast as
//!   possible, in a deterministic order (simulation in lockstep, replay).
//! * Per task: release latency, execution and response time in HDR histograms, deadline misses,
//!   overruns, skipped releases ([`SchedStats`], read lock-free through a triple buffer).
//! * Overrun policy per task ([`OverrunPolicy`]): skip, run late, or safe-stop (calls a
//!   [`SafeStopHook`]).
//! * [`channel`]: bounded SPSC rings and latest-value slots between tasks; full rings drop and count.
//!
//! Which thread runs what: `Executor::start`/`stop`/`stats` on the caller's (non-RT) thread;
//! `Task::start`, `ready`, `run_once`, `stop` and the safe-stop hook on the task's core worker.

pub mod channel;
mod clock;
mod config;
mod exec;
pub mod pace;
pub(crate) mod rt;
pub(crate) mod stats;
mod task;

pub use clock::{monotonic_ns, sleep_until_ns};
pub use config::{OverrunPolicy, RtMode, SchedConfig, TaskConfig, TaskKind};
pub use exec::{Executor, VirtualExecutor};
pub use rt::{RtState, RtStatus};
pub use stats::{
    new_histogram, DiagLevel, DiagStatus, SchedStats, StatsReader, Summary, TaskSnapshot, TaskStats,
};
pub use task::{task_fn, FnTask, Job, OverrunEvent, SafeStopHook, Task, TaskError, TaskSet};

/// Errors of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// An implementation was given for a task the config does not declare.
    #[error("task `{name}` is not declared in `sched.tasks`")]
    UnknownTask {
        /// Task name.
        name: String,
    },
    /// A configured task has no implementation.
    #[error("task `{name}` is declared in `sched.tasks` but no implementation was given")]
    MissingTask {
        /// Task name.
        name: String,
    },
    /// Two implementations for one name.
    #[error("task `{name}` was given twice")]
    DuplicateTask {
        /// Task name.
        name: String,
    },
    /// No tasks configured.
    #[error("`sched.tasks` is empty: nothing to run")]
    NoTasks,
    /// A task's `start` hook failed.
    #[error("task `{task}` failed to start: {message}")]
    TaskStart {
        /// Task name.
        task: String,
        /// Its error.
        message: String,
    },
    /// `rt: required` and the OS refused something.
    #[error("`sched.rt: required` but real-time setup failed:\n  {}", .issues.join("\n  "))]
    RtRequired {
        /// What was refused.
        issues: Vec<String>,
    },
    /// A worker thread could not be created.
    #[error("cannot spawn worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A worker thread died during setup.
    #[error("a worker thread died during setup")]
    WorkerDied,
    /// A benchmark could not run.
    #[error("bench: {0}")]
    Bench(String),
}
