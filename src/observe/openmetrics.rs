//! OpenMetrics 1.0 text exposition of a [`Snapshot`]
//! (<https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md>).
//!
//! Written by hand: a few `write!`s over one struct, on the observer thread once per period;
//! the Prometheus client crates would add a registry of their own beside the snapshot.

use std::fmt::Write as _;

use super::{bucket_edges_ns, Buckets, Snapshot};

/// Escapes a label value (`\`, `"`, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out {
    s: String,
    edges_s: Vec<String>,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.s, "# TYPE {name} {kind}\n# HELP {name} {help}");
    }

    fn sample(&mut self, name: &str, labels: &str, v: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.s, "{name} {v}");
        } else {
            let _ = writeln!(self.s, "{name}{{{labels}}} {v}");
        }
    }

    /// One histogram series (buckets in seconds, `_count`, `_sum`).
    fn histogram(&mut self, name: &str, labels: &str, b: &Buckets) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, e) in self.edges_s.iter().enumerate() {
            let c = b.cumulative.get(i).copied().unwrap_or(b.count);
            let _ = writeln!(self.s, "{name}_bucket{{{labels}{sep}le=\"{e}\"}} {c}");
        }
        let _ = writeln!(
            self.s,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            b.count
        );
        let l = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(self.s, "{name}_count{l} {}", b.count);
        let _ = writeln!(self.s, "{name}_sum{l} {:e}", b.sum_ns * 1e-9);
    }
}

/// The OpenMetrics text of `s` (ends with `# EOF`).
pub fn render(s: &Snapshot) -> String {
    let mut o = Out {
        s: String::with_capacity(64 * 1024),
        edges_s: bucket_edges_ns()
            .into_iter()
            .map(|e| format!("{:e}", e as f64 * 1e-9))
            .collect(),
    };
    o.family(
        "sattva_rt",
        "gauge",
        "Real-time status of the executor (1 for the current state).",
    );
    for st in ["full", "degraded", "off"] {
        o.sample("sattva_rt", &format!("state=\"{st}\""), (s.rt == st) as u8);
    }
    o.family(
        "sattva_backend_time_seconds",
        "gauge",
        "Backend time since the start of the run.",
    );
    o.sample("sattva_backend_time_seconds", "", s.backend_s);
    o.family(
        "sattva_finished",
        "gauge",
        "1 once the agent has stopped (final values).",
    );
    o.sample("sattva_finished", "", s.finished as u8);

    // per task
    let task = |t: &super::TaskView| format!("task=\"{}\"", esc(&t.name));
    o.family(
        "sattva_task_period_seconds",
        "gauge",
        "Period of the scheduler task.",
    );
    for t in &s.tasks {
        o.sample(
            "sattva_task_period_seconds",
            &task(t),
            t.period_ns as f64 * 1e-9,
        );
    }
    for (name, help, f) in [
        (
            "sattva_task_jobs",
            "Jobs run.",
            (|t: &super::TaskView| t.jobs) as fn(&super::TaskView) -> u64,
        ),
        (
            "sattva_task_deadline_misses",
            "Jobs that finished after their deadline.",
            |t| t.deadline_misses,
        ),
        (
            "sattva_task_overruns",
            "Jobs whose execution exceeded the budget.",
            |t| t.overruns,
        ),
        (
            "sattva_task_skipped_releases",
            "Releases dropped by the overrun policy.",
            |t| t.skipped_releases,
        ),
    ] {
        o.family(name, "counter", help);
        for t in &s.tasks {
            o.sample(&format!("{name}_total"), &task(t), f(t));
        }
    }
    o.family(
        "sattva_task_wakeup_latency_seconds",
        "histogram",
        "Release (wake-up) latency: start of the job minus its release time (HDR buckets).",
    );
    for t in &s.tasks {
        o.histogram(
            "sattva_task_wakeup_latency_seconds",
            &task(t),
            &t.latency_buckets,
        );
    }
    o.family(
        "sattva_task_execution_seconds",
        "histogram",
        "Execution time of a job (HDR buckets).",
    );
    for t in &s.tasks {
        o.histogram(
            "sattva_task_execution_seconds",
            &task(t),
            &t.execution_buckets,
        );
    }

    // control loop
    let c = &s.control;
    o.family("sattva_control_cycles", "counter", "Control cycles run.");
    o.sample("sattva_control_cycles_total", "", c.cycles);
    o.family(
        "sattva_control_errors",
        "counter",
        "Sensor read errors and rejected commands.",
    );
    o.sample(
        "sattva_control_errors_total",
        "kind=\"read\"",
        c.read_errors,
    );
    o.sample(
        "sattva_control_errors_total",
        "kind=\"write\"",
        c.write_errors,
    );
    o.family(
        "sattva_clamp_interventions",
        "counter",
        "Safety clamp interventions: values clamped, targets rate-limited, overspeed brakes.",
    );
    o.sample(
        "sattva_clamp_interventions_total",
        "kind=\"clamped\"",
        c.clamped,
    );
    o.sample(
        "sattva_clamp_interventions_total",
        "kind=\"rate_limited\"",
        c.rate_limited,
    );
    o.sample(
        "sattva_clamp_interventions_total",
        "kind=\"overspeed\"",
        c.overspeed,
    );
    o.family(
        "sattva_stale_holds",
        "counter",
        "Cycles held because the operator's command went stale.",
    );
    o.sample("sattva_stale_holds_total", "", c.stale_holds);
    o.family(
        "sattva_backend_faults",
        "counter",
        "Backend faults by kind.",
    );
    for (k, v) in ["fatal", "unstable", "overflow", "other"]
        .iter()
        .zip(c.faults)
    {
        o.sample("sattva_backend_faults_total", &format!("kind=\"{k}\""), v);
    }

    // ROS bridge
    o.family(
        "sattva_bridge_sent",
        "counter",
        "Messages the RT side handed to the ROS node.",
    );
    o.sample("sattva_bridge_sent_total", "", s.bridge.sent_to_ros);
    o.family(
        "sattva_bridge_drops",
        "counter",
        "Messages dropped between the RT side and the ROS node (ring full).",
    );
    o.sample(
        "sattva_bridge_drops_total",
        "direction=\"to_ros\"",
        s.bridge.dropped_to_ros,
    );
    o.sample(
        "sattva_bridge_drops_total",
        "direction=\"from_ros\"",
        s.bridge.dropped_from_ros,
    );

    // learning
    if let Some(l) = &s.learn {
        o.family(
            "sattva_experiences",
            "counter",
            "Experiences the learn task received, by what became of them.",
        );
        for (k, v) in [
            ("calibration", l.calibrated),
            ("learned", l.learned),
            ("rejected", l.rejected),
            ("dropped", l.segments_dropped),
        ] {
            o.sample("sattva_experiences_total", &format!("fate=\"{k}\""), v);
        }
        o.family(
            "sattva_recognitions",
            "counter",
            "Experiences recognised (nearest attractor at or above vigilance before learning).",
        );
        o.sample("sattva_recognitions_total", "", l.recognised);
        o.family("sattva_attractors", "gauge", "Attractors alive.");
        o.sample("sattva_attractors", "", l.attractors);
        o.family(
            "sattva_attractors_formed",
            "counter",
            "Attractors formed in this run.",
        );
        o.sample("sattva_attractors_formed_total", "", l.formed);
        o.family(
            "sattva_learn_duration_seconds",
            "histogram",
            "Learning time per experience (substrate.learn, wall clock; HDR buckets).",
        );
        o.histogram("sattva_learn_duration_seconds", "", &l.learn_buckets);
    }

    // vision
    if let Some(v) = &s.vision {
        o.family(
            "sattva_vision_results",
            "counter",
            "Vision results taken by the control task.",
        );
        o.sample("sattva_vision_results_total", "", v.results);
        o.family(
            "sattva_vision_yaw_corrections",
            "counter",
            "Visual yaw corrections, applied or refused by the filter.",
        );
        o.sample(
            "sattva_vision_yaw_corrections_total",
            "result=\"applied\"",
            v.applied,
        );
        o.sample(
            "sattva_vision_yaw_corrections_total",
            "result=\"refused\"",
            v.refused,
        );
    }
    o.s.push_str("# EOF\n");
    o.s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{LearnView, TaskView};

    #[test]
    fn histogram_lines_are_cumulative_and_end_with_inf_count_sum() {
        let mut h = crate::sched::new_histogram();
        for v in [1_000u64, 2_000, 2_000, 50_000] {
            h.record(v).unwrap();
        }
        let s = Snapshot {
            rt: "off".into(),
            tasks: vec![TaskView {
                name: "con\"trol".into(),
                latency_buckets: Buckets::of(&h),
                ..Default::default()
            }],
            learn: Some(LearnView::default()),
            ..Default::default()
        };
        let t = render(&s);
        assert!(t.ends_with("# EOF\n"));
        assert!(t.contains("sattva_rt{state=\"off\"} 1"));
        // 1 us lands below the 1.024 us edge; the 2 us values below 2.048 us
        assert!(t.contains(
            "sattva_task_wakeup_latency_seconds_bucket{task=\"con\\\"trol\",le=\"1.024e-6\"} 1"
        ));
        assert!(t.contains(
            "sattva_task_wakeup_latency_seconds_bucket{task=\"con\\\"trol\",le=\"2.048e-6\"} 3"
        ));
        assert!(t.contains(
            "sattva_task_wakeup_latency_seconds_bucket{task=\"con\\\"trol\",le=\"+Inf\"} 4"
        ));
        assert!(t.contains("sattva_task_wakeup_latency_seconds_count{task=\"con\\\"trol\"} 4"));
        assert!(t.contains("sattva_attractors_formed_total 0"));
        // every family's TYPE line comes before its samples, once
        let types: Vec<&str> = t.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut names: Vec<&str> = types.iter().map(|l| l.split(' ').nth(2).unwrap()).collect();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
