//! The `sched:` config section: which tasks exist, when they run, on which core, and what
//! happens when one overruns.
//!
//! ROS 2 parameters cannot be lists of maps, so tasks are a map keyed by task name:
//!
//! ```yaml
//! sched:
//!   rt: best_effort            # off | best_effort | required
//!   tasks:
//!     control: {period_ns: 2000000, deadline_ns: 1500000, priority: 80, core: 1,
//!               budget_ns: 1000000, kind: periodic, overrun: safe_stop}
//!     learn:   {period_ns: 10000000, priority: 60, core: 1, kind: sporadic, overrun: skip}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// How hard the executor tries to get real-time guarantees from the OS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtMode {
    /// Plain threads: no pinning, no SCHED_FIFO, no memory locking (CI, laptops, tests).
    Off,
    /// Ask for everything; what is refused is logged and the status says `degraded`.
    BestEffort,
    /// Ask for everything; anything refused is an error and nothing runs.
    Required,
}

/// Periodic tasks are released on a fixed grid; sporadic ones are polled on that grid (the period
/// is the minimum inter-arrival time) and run only when [`crate::sched::Task::ready`] says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Released every `period_ns`.
    Periodic,
    /// Released by an event (checked every `period_ns`).
    Sporadic,
}

/// What the executor does when a job exceeds its budget or finishes after its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrunPolicy {
    /// Drop the next release (and any release already due), so the core gets time back.
    Skip,
    /// Run the next release even though it is late; releases missed entirely are dropped.
    RunLate,
    /// Call the safe-stop hook (the action stage holds the robot) and stop releasing the task.
    SafeStop,
}

/// One task's timing, placement and overrun policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Release period (minimum inter-arrival time for sporadic tasks), ns.
    pub period_ns: i64,
    /// Relative deadline, ns; 0 means equal to the period.
    pub deadline_ns: i64,
    /// SCHED_FIFO priority 1..=99; the core's worker thread runs at the highest of its tasks.
    pub priority: u8,
    /// CPU core the task runs on.
    pub core: usize,
    /// Execution time budget per job, ns; 0 means equal to the deadline.
    pub budget_ns: i64,
    /// Release offset from the executor's start, ns (phases tasks against each other).
    pub offset_ns: i64,
    /// Periodic or sporadic.
    pub kind: TaskKind,
    /// What to do on overrun.
    pub overrun: OverrunPolicy,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            period_ns: 2_000_000,
            deadline_ns: 0,
            priority: 80,
            core: 0,
            budget_ns: 0,
            offset_ns: 0,
            kind: TaskKind::Periodic,
            overrun: OverrunPolicy::RunLate,
        }
    }
}

impl TaskConfig {
    /// The relative deadline with the default applied, ns.
    pub fn deadline(&self) -> i64 {
        if self.deadline_ns == 0 {
            self.period_ns
        } else {
            self.deadline_ns
        }
    }

    /// The budget with the default applied, ns.
    pub fn budget(&self) -> i64 {
        if self.budget_ns == 0 {
            self.deadline()
        } else {
            self.budget_ns
        }
    }
}

impl Validate for TaskConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_i64("period_ns", self.period_ns, 1_000, 60_000_000_000);
        c.require(
            self.deadline_ns == 0 || (self.deadline_ns > 0 && self.deadline_ns <= self.period_ns),
            "deadline_ns",
            format!(
                "value {} out of range: expected 0 (= period) or 1..=period_ns ({})",
                self.deadline_ns, self.period_ns
            ),
        );
        c.require(
            self.budget_ns == 0 || (self.budget_ns > 0 && self.budget_ns <= self.deadline()),
            "budget_ns",
            format!(
                "value {} out of range: expected 0 (= deadline) or 1..=deadline ({} ns)",
                self.budget_ns,
                self.deadline()
            ),
        );
        c.range_u64("priority", self.priority as u64, 1, 99);
        c.range_u64("core", self.core as u64, 0, 1023);
        c.range_i64("offset_ns", self.offset_ns, 0, 60_000_000_000);
    }
}

/// The `sched:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedConfig {
    /// `off`, `best_effort` (default) or `required`.
    pub rt: RtMode,
    /// Lock all memory (mlockall) while running.
    pub lock_memory: bool,
    /// Hold `/dev/cpu_dma_latency` at 0 while running (keeps idle cores out of deep C-states).
    pub cpu_dma_latency: bool,
    /// When true, a task core that is not isolated (`isolcpus`) counts as a degradation.
    pub require_isolated: bool,
    /// Stack touched before the loop starts on every worker, KiB (so no page fault hits the loop).
    pub stack_prefault_kib: u32,
    /// How often workers publish statistics for non-RT readers, ns.
    pub stats_publish_ns: i64,
    /// Hang watchdog: a job still running this long after its start is declared hung; a monitor
    /// thread (not real-time) calls the safe-stop hook and `safe_stopped()` turns true while the
    /// job is still stuck (a thread cannot be preempted or killed from outside, so the hook is
    /// the way to hold the robot). 0 turns the watchdog off. ns.
    pub watchdog_ns: i64,
    /// The tasks, keyed by name (ROS 2 params cannot hold lists of maps).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tasks: BTreeMap<String, TaskConfig>,
}

impl Default for SchedConfig {
    fn default() -> Self {
        SchedConfig {
            rt: RtMode::BestEffort,
            lock_memory: true,
            cpu_dma_latency: true,
            require_isolated: false,
            stack_prefault_kib: 256,
            stats_publish_ns: 100_000_000,
            watchdog_ns: 0,
            tasks: BTreeMap::new(),
        }
    }
}

impl Validate for SchedConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64(
            "stack_prefault_kib",
            self.stack_prefault_kib as u64,
            0,
            8192,
        );
        c.range_i64(
            "stats_publish_ns",
            self.stats_publish_ns,
            100_000,
            60_000_000_000,
        );
        c.require(
            self.watchdog_ns == 0 || (1_000_000..=60_000_000_000).contains(&self.watchdog_ns),
            "watchdog_ns",
            format!(
                "value {} out of range: expected 0 (off) or 1000000..=60000000000",
                self.watchdog_ns
            ),
        );
        c.section("tasks", |c| {
            for (name, t) in &self.tasks {
                let ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
                c.require(ok, name, "task names are 1-64 characters of [A-Za-z0-9_]");
                c.section(name, |c| t.validate(c));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    const BASE: &str =
        "sattva:\n  ros__parameters:\n    backend: mujoco\n    mujoco:\n      model: arm.xml\n";

    fn load(extra: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_yaml_str(&format!("{BASE}{extra}"), Path::new("t.yaml"), &[])
    }

    #[test]
    fn tasks_load_as_a_map_with_defaults() {
        let c = load(
            "    control:\n      period_ns: 1000000\n    sched:\n      rt: required\n      tasks:\n        control: {period_ns: 1000000, core: 1, overrun: safe_stop}\n        learn: {period_ns: 5000000, kind: sporadic, budget_ns: 2000000}\n",
        )
        .unwrap();
        assert_eq!(c.sched.rt, RtMode::Required);
        let ctl = &c.sched.tasks["control"];
        assert_eq!((ctl.deadline(), ctl.budget()), (1_000_000, 1_000_000));
        assert_eq!(ctl.overrun, OverrunPolicy::SafeStop);
        let l = &c.sched.tasks["learn"];
        assert_eq!(
            (l.kind, l.deadline(), l.budget()),
            (TaskKind::Sporadic, 5_000_000, 2_000_000)
        );
    }

    #[test]
    fn bad_values_name_the_task_key() {
        let e = load("    sched:\n      tasks:\n        control: {period_ns: 1000000, deadline_ns: 2000000, priority: 0}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sched.tasks.control.deadline_ns"), "{e}");
        assert!(e.contains("sched.tasks.control.priority"), "{e}");
        let e = load("    sched:\n      tasks:\n        control: {overrun: explode}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sched.tasks.control.overrun"), "{e}");
        let e = load("    sched:\n      watchdog_ns: 5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sched.watchdog_ns"), "{e}");
        assert_eq!(
            load("    sched:\n      watchdog_ns: 50000000\n")
                .unwrap()
                .sched
                .watchdog_ns,
            50_000_000
        );
        let e = load("    sched:\n      rt: maybe\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sched.rt"), "{e}");
    }

    #[test]
    fn bad_task_name_is_rejected() {
        let e = load("    sched:\n      tasks:\n        \"a b\": {period_ns: 1000000}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sched.tasks.a b"), "{e}");
    }
}
