//! The observability side costs the control task nothing: with the Prometheus endpoint scraped
//! at 10 Hz and a `sattva top` client on the stats socket, the control task of a real-time
//! `sattva run` (MuJoCo, the RT executor) allocates nothing after start-up, and its wake-up
//! latency stays what it is without any of it (same run length, within this VM's noise).
#![cfg(feature = "mujoco")]

mod common;

use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sattva::agent::{run, AgentOptions};
use sattva::alloc_count::CountingAlloc;
use sattva::config::Config;
use sattva::observe::Snapshot;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("config/sim.yaml"), &[]).expect("config/sim.yaml")
}

const SECONDS: f64 = 5.0;

#[test]
fn scraping_at_10_hz_leaves_the_control_task_alone() {
    // wall-clock paced: one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    // baseline: no endpoint, no socket
    let quiet = run(
        &config(),
        AgentOptions {
            duration_s: Some(SECONDS),
            ..Default::default()
        },
    )
    .expect("run without metrics");
    let base = quiet.sched.task("control").unwrap().release_latency;

    // the same run, scraped at 10 Hz and watched through the socket
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("stats.sock");
    let port = common::http::free_port();
    let mut c = config();
    c.metrics.listen = format!("127.0.0.1:{port}");
    c.metrics.socket = sock.display().to_string();
    c.metrics.period_ms = 100;
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut ok, mut histos) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if let Ok((200, body)) = common::http::get(port, "/metrics") {
                    ok += 1;
                    histos += body
                        .contains("sattva_task_wakeup_latency_seconds_bucket{task=\"control\"")
                        as u32;
                }
            }
            (ok, histos)
        })
    };
    let watcher = {
        let sock = sock.clone();
        std::thread::spawn(move || {
            let s = loop {
                match std::os::unix::net::UnixStream::connect(&sock) {
                    Ok(s) => break s,
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            std::io::BufReader::new(s)
                .lines()
                .map_while(Result::ok)
                .map(|l| serde_json::from_str::<Snapshot>(&l).expect("a snapshot per line"))
                .collect::<Vec<_>>()
        })
    };
    let watched = run(
        &c,
        AgentOptions {
            duration_s: Some(SECONDS),
            ..Default::default()
        },
    )
    .expect("run with metrics");
    stop.store(true, Ordering::Relaxed);
    let (scrapes, with_histograms) = scraper.join().unwrap();
    let snaps = watcher.join().unwrap();
    let lat = watched.sched.task("control").unwrap().release_latency;
    println!(
        "control wake-up latency without metrics: {base}\n                        scraped at 10 Hz:  {lat}\n{scrapes} scrapes, {} snapshots on the socket",
        snaps.len()
    );
    assert!(
        scrapes as f64 >= SECONDS * 10.0 * 0.6,
        "scraped {scrapes} times"
    );
    // (a scrape before the executor's first statistics has no task yet)
    assert!(
        with_histograms + 2 >= scrapes,
        "{with_histograms} of {scrapes} scrapes had the histogram"
    );

    // allocations on the control task's thread: from the first snapshot after a second of
    // running (start-up done) to the last live one
    let live: Vec<&Snapshot> = snaps
        .iter()
        .filter(|s| !s.finished && s.control.cycles > 0)
        .collect();
    assert!(live.len() >= 20, "{} live snapshots", live.len());
    let warm = live
        .iter()
        .find(|s| s.backend_s >= 1.0)
        .expect("a snapshot after 1 s");
    let end = live.last().unwrap();
    println!(
        "control task allocations: {} at {:.1} s, {} at {:.1} s ({} cycles later)",
        warm.control.allocations,
        warm.backend_s,
        end.control.allocations,
        end.backend_s,
        end.control.cycles - warm.control.cycles
    );
    assert!(end.control.cycles - warm.control.cycles > 1000);
    assert_eq!(
        end.control.allocations, warm.control.allocations,
        "the control task allocated while being observed"
    );
    assert!(
        snaps.last().unwrap().finished,
        "the final snapshot reached the socket"
    );

    // latency: the median is what the VM's noise leaves comparable between two runs
    assert!(
        lat.p50 <= 2 * base.p50 + 20_000,
        "median wake-up latency {} ns observed vs {} ns without",
        lat.p50,
        base.p50
    );
}
