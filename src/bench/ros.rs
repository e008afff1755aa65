//! `sattva bench ros`: latency from an RT-task publish to rclpy receipt, beside rclpy -> rclpy
//! on the same message type and QoS, in the same run.
//!
//! The sattva path is the real one: a periodic task of the RT executor pushes frames stamped
//! with `CLOCK_MONOTONIC` into the bridge; the `sattva` node thread publishes them as
//! `sensor_msgs/JointState`; an rclpy subscriber (another process) subtracts the stamp from its
//! own `CLOCK_MONOTONIC` at receipt. A second rclpy process publishes the same message the same
//! way for the reference.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::backend::BackendInfo;
use crate::ros::bridge::{bridge, ToRos};
use crate::ros::node::{spawn, NodeInfo};
use crate::ros::RosConfig;
use crate::sched::{monotonic_ns, task_fn, Executor, SchedConfig, TaskConfig, TaskSet};
use crate::types::{ClockKind, SensorFrame, Time};

/// Latency percentiles of one path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathLatency {
    /// Messages received.
    pub n: u64,
    /// Median, us.
    pub p50_us: f64,
    /// 99th percentile, us.
    pub p99_us: f64,
    /// Largest, us.
    pub max_us: f64,
}

/// Result of `sattva bench ros`.
#[derive(Clone, Debug)]
pub struct RosBench {
    /// Publish rate of both paths, Hz.
    pub rate_hz: f64,
    /// Seconds measured.
    pub seconds: f64,
    /// RT task -> bridge -> sattva node -> rclpy.
    pub sattva: PathLatency,
    /// rclpy -> rclpy.
    pub rclpy: PathLatency,
}

impl fmt::Display for RosBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench ros: sensor_msgs/JointState, sensor-data QoS, {} Hz for {} s (same run)",
            self.rate_hz, self.seconds
        )?;
        writeln!(
            f,
            "  {:<40} {:>7} {:>10} {:>10} {:>10}",
            "path", "msgs", "p50 us", "p99 us", "max us"
        )?;
        for (name, p) in [
            ("sattva RT task -> bridge -> node -> rclpy", &self.sattva),
            ("rclpy -> rclpy", &self.rclpy),
        ] {
            writeln!(
                f,
                "  {:<40} {:>7} {:>10.1} {:>10.1} {:>10.1}",
                name, p.n, p.p50_us, p.p99_us, p.max_us
            )?;
        }
        Ok(())
    }
}

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum RosBenchError {
    /// A Python peer failed.
    #[error("python peer ({python}): {message}")]
    Python {
        /// The interpreter.
        python: String,
        /// What went wrong.
        message: String,
    },
    /// The node failed.
    #[error(transparent)]
    Node(#[from] crate::ros::node::RosError),
    /// The scheduler failed.
    #[error(transparent)]
    Sched(#[from] crate::sched::SchedError),
}

fn parse_path(v: &serde_norway::Value, key: &str) -> PathLatency {
    let g = |k: &str| v[key][k].as_f64().unwrap_or(0.0);
    PathLatency {
        n: g("n") as u64,
        p50_us: g("p50_us"),
        p99_us: g("p99_us"),
        max_us: g("max_us"),
    }
}

/// Runs the benchmark: `seconds` of publishing at `rate_hz` on both paths.
pub fn bench_ros(
    seconds: f64,
    rate_hz: f64,
    python: &str,
    script: &str,
) -> Result<RosBench, RosBenchError> {
    let py_err = |message: String| RosBenchError::Python {
        python: python.to_string(),
        message,
    };
    let warmup = 3.0;
    let mut listener = Command::new(python)
        .args([script, "listen", &format!("{}", seconds + warmup + 2.0)])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| py_err(format!("cannot start {script}: {e}")))?;
    let stdout = listener
        .stdout
        .take()
        .ok_or_else(|| py_err("no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(l)) if l.trim() == "READY" => {}
        other => return Err(py_err(format!("listener did not start: {other:?}"))),
    }
    // the sattva side: real node, RT executor task pushing monotonic-stamped frames
    let mut cfg = RosConfig::default();
    cfg.topics.joint_states = "/sattva_bench/rt".into();
    cfg.topics.imu = "/sattva_bench/unused_imu".into();
    cfg.publish_clock = false;
    let (rt, ros) = bridge(1024);
    let (_diag_tx, diag_rx) = std::sync::mpsc::channel();
    let info = NodeInfo {
        backend: BackendInfo {
            joint_names: ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        clock: ClockKind::Monotonic,
        monitors: Vec::new(),
    };
    let node = spawn(&cfg, info, ros, diag_rx, None)?;
    let mut talker = Command::new(python)
        .args([
            script,
            "talk",
            &format!("{}", seconds + warmup),
            &format!("{rate_hz}"),
        ])
        .spawn()
        .map_err(|e| py_err(format!("cannot start talker: {e}")))?;
    let mut sc = SchedConfig::default();
    sc.tasks.insert(
        "publish".into(),
        TaskConfig {
            period_ns: (1e9 / rate_hz) as i64,
            priority: 80,
            core: 1,
            ..Default::default()
        },
    );
    let mut rt_task = rt;
    let mut frame = SensorFrame::default();
    for _ in 0..4 {
        frame.joints.position.push(0.0);
        frame.joints.velocity.push(0.0);
        frame.joints.effort.push(0.0);
    }
    let ex = Executor::start(
        &sc,
        TaskSet::new().add(
            "publish",
            task_fn(move |_job| {
                frame.t = Time(monotonic_ns());
                rt_task.send(ToRos::Frame(frame.clone(), None));
            }),
        ),
    )?;
    std::thread::sleep(Duration::from_secs_f64(seconds + warmup));
    let _ = ex.stop();
    let _ = talker.wait();
    let mut result = None;
    for l in lines.map_while(Result::ok) {
        if let Some(j) = l.strip_prefix("RESULT ") {
            result = Some(j.to_string());
        }
    }
    let _ = listener.wait();
    node.stop()?;
    let text = result.ok_or_else(|| py_err("listener printed no RESULT".into()))?;
    let v: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| py_err(e.to_string()))?;
    Ok(RosBench {
        rate_hz,
        seconds,
        sattva: parse_path(&v, "rt"),
        rclpy: parse_path(&v, "rclpy"),
    })
}
