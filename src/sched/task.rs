//! What the executor runs: a [`Task`] with lifecycle hooks, and the [`TaskSet`] handed to it.

use std::sync::Arc;

use crate::types::Time;

/// The timing of one job (one release of a task), passed to [`Task::run_once`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// 0 for the first job of the task, then counting up (skipped releases are not counted).
    pub seq: u64,
    /// When the job was released (on the executor's clock: monotonic or virtual).
    pub release: Time,
    /// Absolute deadline: release + relative deadline.
    pub deadline: Time,
    /// When the job was dispatched: the clock read after the wake-up, or, for jobs that run
    /// back to back, the end of the previous job (one clock read per job).
    pub start: Time,
}

/// A task failed to start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(pub String);

/// A unit of periodic or sporadic work. The executor owns the loop and calls the hooks:
///
/// * `start` once, on the task's worker thread after its real-time setup, before the first job
///   (allocate and warm up here);
/// * `ready` at each release of a sporadic task (is there work?); periodic tasks are not asked;
/// * `run_once` once per job: must not allocate, lock or block;
/// * `stop` once when the executor stops (also after a safe-stop).
pub trait Task: Send {
    /// Prepares the task; an error stops the executor from starting.
    fn start(&mut self) -> Result<(), TaskError> {
        Ok(())
    }
    /// Sporadic tasks: true when there is work (e.g. the input queue is not empty).
    fn ready(&mut self) -> bool {
        true
    }
    /// Runs one job.
    fn run_once(&mut self, job: &Job);
    /// Releases resources; called once at the end.
    fn stop(&mut self) {}
}

/// A borrowed task is a task: the virtual-time executor can drive a task the caller still owns.
impl<T: Task + ?Sized> Task for &mut T {
    fn start(&mut self) -> Result<(), TaskError> {
        (**self).start()
    }
    fn ready(&mut self) -> bool {
        (**self).ready()
    }
    fn run_once(&mut self, job: &Job) {
        (**self).run_once(job)
    }
    fn stop(&mut self) {
        (**self).stop()
    }
}

/// A task made of a closure (for tasks that need no `start`/`stop`/`ready`).
pub struct FnTask<F>(pub F);

impl<F: FnMut(&Job) + Send> Task for FnTask<F> {
    fn run_once(&mut self, job: &Job) {
        (self.0)(job)
    }
}

/// Wraps a closure as a [`Task`].
pub fn task_fn<F: FnMut(&Job) + Send>(f: F) -> FnTask<F> {
    FnTask(f)
}

/// Why the overrun policy fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverrunEvent<'a> {
    /// The task.
    pub task: &'a str,
    /// The job that overran.
    pub job: Job,
    /// When it finished.
    pub end: Time,
    /// Its execution time, ns.
    pub execution_ns: i64,
    /// The task's budget, ns.
    pub budget_ns: i64,
    /// True when the execution time exceeded the budget.
    pub over_budget: bool,
    /// True when the job finished after its deadline.
    pub missed_deadline: bool,
    /// True when the job panicked (the task is stopped whatever its policy).
    pub panicked: bool,
    /// True when the hang watchdog found the job still running `watchdog_ns` after its start
    /// (reported from the watchdog thread while the job is still running; `end` is then the
    /// time of detection).
    pub hung: bool,
}

/// Called on the RT thread when a task with `overrun: safe_stop` overruns, and when any task
/// panics (a panicking task is stopped; the other tasks keep running); called on the watchdog
/// thread when a job hangs (`sched.watchdog_ns`). Typically the action
/// stage flips an atomic that makes the robot hold; it must not allocate, lock or block.
pub type SafeStopHook = Arc<dyn Fn(&OverrunEvent<'_>) + Send + Sync>;

/// The task implementations for an executor, by the names used in the `sched.tasks` config.
pub struct TaskSet<'a> {
    pub(crate) tasks: Vec<(String, Box<dyn Task + 'a>)>,
    pub(crate) safe_stop: Option<SafeStopHook>,
}

impl<'a> TaskSet<'a> {
    /// An empty set.
    pub fn new() -> TaskSet<'a> {
        TaskSet {
            tasks: Vec::new(),
            safe_stop: None,
        }
    }

    /// Adds the implementation of the configured task `name`.
    pub fn add(mut self, name: &str, task: impl Task + 'a) -> TaskSet<'a> {
        self.tasks.push((name.to_string(), Box::new(task)));
        self
    }

    /// Adds an already boxed task.
    pub fn add_boxed(mut self, name: &str, task: Box<dyn Task + 'a>) -> TaskSet<'a> {
        self.tasks.push((name.to_string(), task));
        self
    }

    /// Sets the hook called when a `safe_stop` task overruns.
    pub fn on_safe_stop(mut self, hook: SafeStopHook) -> TaskSet<'a> {
        self.safe_stop = Some(hook);
        self
    }
}

impl Default for TaskSet<'_> {
    fn default() -> Self {
        Self::new()
    }
}
