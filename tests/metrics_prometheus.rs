//! A real Prometheus server (Debian's `prometheus`, started here on a loopback port with a
//! generated config) scrapes `sattva run --fast`'s OpenMetrics endpoint; its HTTP API must then
//! give the run's own summary: the attractor gauge and counter, the control task's job counter,
//! the learned-experience count, and the learning-time p99 from the histogram buckets (within
//! the bucket the summary's HDR p99 falls into).
#![cfg(feature = "mujoco")]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{encode, free_port, get};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn prometheus(dir: &Path, target_port: u16) -> (Killed, u16) {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n  - job_name: sattva\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus (Debian package `prometheus`; scripts/setup.sh installs it)");
    let p = Killed(child);
    let t0 = Instant::now();
    while get(port, "/-/ready").map(|r| r.0).ok() != Some(200) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "prometheus not ready: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (p, port)
}

/// One instant-query result as a number.
fn query(port: u16, q: &str) -> f64 {
    let (code, body) = get(port, &format!("/api/v1/query?query={}", encode(q))).unwrap();
    assert_eq!(code, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let r = &v["data"]["result"];
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{q}: {body}");
    r[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// The number after `before` in `text`, up to the next non-number character.
fn after(text: &str, before: &str) -> f64 {
    let i = text
        .find(before)
        .unwrap_or_else(|| panic!("`{before}` not in\n{text}"));
    text[i + before.len()..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn prometheus_scrapes_the_run_and_agrees_with_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let sattva_port = free_port();
    let (_prom, prom_port) = prometheus(dir.path(), sattva_port);
    let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--fast",
            "--no-ros",
            "--duration",
            "240",
            "--no-summary",
        ])
        .args(["-p", &format!("metrics.listen=127.0.0.1:{sattva_port}")])
        .args([
            "-p",
            "metrics.linger_ms=30000",
            "-p",
            "metrics.period_ms=50",
        ])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{summary}");
    // the series as last scraped (the target is gone now: read through the staleness marker)
    let last = |m: &str| query(prom_port, &format!("last_over_time({m}[10m])"));
    assert_eq!(
        last("sattva_finished"),
        1.0,
        "the final snapshot was scraped"
    );
    let attractors = after(&summary, "dropped),");
    assert_eq!(last("sattva_attractors"), attractors);
    assert_eq!(
        last("sattva_attractors_formed_total"),
        after(&summary, "attractors (")
    );
    assert_eq!(
        last("sattva_task_jobs_total{task=\"control\"}"),
        after(&summary, "task control (core 1, period 2000 us): jobs")
    );
    let recognised = after(&summary, "recognised ");
    let learned_total: f64 = summary
        .split("recognised ")
        .nth(1)
        .and_then(|s| s.split('/').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last("sattva_recognitions_total"), recognised);
    assert_eq!(
        last("sattva_learn_duration_seconds_count"),
        learned_total,
        "one learning time per learned experience"
    );
    // virtual time: wake-up latencies are 0 (summary), all in the lowest bucket (256 ns)
    let wake = query(
        prom_port,
        "histogram_quantile(0.99, last_over_time(sattva_task_wakeup_latency_seconds_bucket{task=\"control\"}[10m]))",
    );
    assert!(wake <= 256e-9, "control wake-up p99 {wake} s");
    assert!(
        learned_total > 50.0,
        "a run long enough to learn: {summary}"
    );
    // learning-time p99: Prometheus interpolates within the bucket the rank falls into; the
    // summary's HDR p99 lies in that bucket (or, at a rank boundary, the next one)
    let q = query(
        prom_port,
        "histogram_quantile(0.99, last_over_time(sattva_learn_duration_seconds_bucket[10m]))",
    ) * 1e9;
    let p99_us = after(summary.split("learn time:").nth(1).unwrap(), ", p99");
    let hdr_ns = p99_us * 1e3;
    let edges = sattva::observe::bucket_edges_ns();
    let k = edges.partition_point(|&e| (e as f64) <= hdr_ns);
    let lo = edges[k.saturating_sub(2)] as f64;
    let hi = edges[(k + 1).min(edges.len() - 1)] as f64;
    println!("learn p99: summary {hdr_ns:.0} ns, Prometheus histogram_quantile {q:.0} ns, bucket range [{lo}, {hi}]");
    assert!(
        q >= lo && q <= hi,
        "histogram_quantile {q} ns outside [{lo}, {hi}] around the summary's p99 {hdr_ns} ns"
    );
}
