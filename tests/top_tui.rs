//! `sattva top` in a real pseudo-terminal (tmux, 80x24) attached to a running `sattva run`
//! through its stats socket: the task table and the counters appear and update; `q` quits.
//! Bad input: no agent at the socket, or a file that is not one -> a clear message, non-zero.
#![cfg(feature = "mujoco")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmux(sock: &Path, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .arg("-S")
        .arg(sock)
        .args(args)
        .output()
        .expect("tmux (Debian package `tmux`)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number after `key` on the screen.
fn counter(screen: &str, key: &str) -> Option<u64> {
    let i = screen.find(key)?;
    screen[i + key.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn top_shows_the_running_agent_and_updates() {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.sock");
    let tmux_sock = dir.path().join("tmux.sock");
    let exe = env!("CARGO_BIN_EXE_sattva");
    let mut agent = Command::new(exe)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-ros", "--duration", "30", "--no-summary"])
        .args(["-p", &format!("metrics.socket={}", stats.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !stats.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "no stats socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cmd = format!("{exe} top --socket {}", stats.display());
    tmux(
        &tmux_sock,
        &[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "80",
            "-y",
            "24",
            &cmd,
        ],
    );
    let capture = || tmux(&tmux_sock, &["capture-pane", "-p", "-t", "top"]);
    let wait_for = |pred: &dyn Fn(&str) -> bool| {
        let t0 = Instant::now();
        loop {
            let s = capture();
            if pred(&s) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "screen:\n{s}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let first = wait_for(&|s| s.contains("control") && counter(s, "cycles").unwrap_or(0) > 0);
    println!("{first}");
    for want in [
        "sattva top",
        "task",
        "p99.9",
        "misses",
        "control",
        "learn",
        "ros bridge",
        "attractors",
        "q quit",
    ] {
        assert!(first.contains(want), "`{want}` missing:\n{first}");
    }
    assert!(first.lines().count() <= 24 && first.lines().all(|l| l.chars().count() <= 80));
    let c1 = counter(&first, "cycles").unwrap();
    let later = wait_for(&|s| counter(s, "cycles").is_some_and(|c| c > c1 + 100));
    println!("{later}");
    // pause freezes the counters
    tmux(&tmux_sock, &["send-keys", "-t", "top", "p"]);
    let paused = wait_for(&|s| s.contains("PAUSED"));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(counter(&capture(), "cycles"), counter(&paused, "cycles"));
    tmux(&tmux_sock, &["send-keys", "-t", "top", "q"]);
    let t0 = Instant::now();
    while !tmux(&tmux_sock, &["list-sessions"]).is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(5), "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = agent.kill();
    let _ = agent.wait();
}

#[test]
fn top_without_an_agent_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_sattva");
    // nothing at the socket
    let missing = dir.path().join("none.sock");
    let out = Command::new(exe)
        .args(["top", "--socket"])
        .arg(&missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("cannot attach to")
            && err.contains("none.sock")
            && err.contains("agent running"),
        "{err}"
    );
    // a socket that speaks something else
    let other = dir.path().join("other.sock");
    let l = std::os::unix::net::UnixListener::bind(&other).unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = l.accept() {
            use std::io::Write;
            let _ = s.write_all(b"hello\n");
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    let out = Command::new(exe)
        .args(["top", "--socket"])
        .arg(&other)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not a sattva stats stream"), "{err}");
}
