//! Degraded mode: in a child process that really lacks CAP_SYS_NICE and CAP_IPC_LOCK (dropped
//! from the bounding set with `setpriv` when root; RLIMIT_RTPRIO = 0 and a small RLIMIT_MEMLOCK
//! in every case), `rt: best_effort` runs and reports `degraded` with the exact refusals, and
//! `rt: required` refuses to start.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use sattva::sched::{
    task_fn, Executor, Job, RtMode, RtState, SchedConfig, SchedError, TaskConfig, TaskSet,
};

mod common;

const CHILD_ENV: &str = "SATTVA_SCHED_DEGRADED_CHILD";
const CAP_SYS_NICE: u32 = 23;

fn cap_eff() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

fn cfg(rt: RtMode) -> SchedConfig {
    let mut c = SchedConfig {
        rt,
        ..Default::default()
    };
    c.tasks.insert(
        "control".into(),
        TaskConfig {
            period_ns: 1_000_000,
            priority: 80,
            core: 0,
            ..Default::default()
        },
    );
    c
}

/// The part that runs in the unprivileged child (does nothing when run directly).
#[test]
fn degraded_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    assert_eq!(
        cap_eff() & (1 << CAP_SYS_NICE),
        0,
        "CAP_SYS_NICE still effective"
    );
    // the worker's timer slack, as the worker itself sees it
    let slack = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let sl = slack.clone();
    let ex = Executor::start(
        &cfg(RtMode::BestEffort),
        TaskSet::new().add(
            "control",
            task_fn(move |_: &Job| {
                // SAFETY: PR_GET_TIMERSLACK takes no pointer arguments.
                let v = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
                sl.store(v as i64, std::sync::atomic::Ordering::Relaxed);
            }),
        ),
    )
    .expect("best_effort must run without privileges");
    let status = ex.status().clone();
    std::thread::sleep(Duration::from_millis(50));
    let st = ex.stop();
    assert_eq!(status.state, RtState::Degraded, "{status:?}");
    // without SCHED_FIFO the default slack (50 us) would delay every wake-up; the worker asks
    // for 1 ns
    assert_eq!(
        slack.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "timer slack of the degraded worker"
    );
    assert!(
        status
            .issues
            .iter()
            .any(|i| i.contains("SCHED_FIFO priority 80 on core 0 refused")
                && i.contains("CAP_SYS_NICE")),
        "{status:?}"
    );
    assert!(st.task("control").unwrap().jobs >= 10, "{st}");
    println!("{st}");
    match Executor::start(
        &cfg(RtMode::Required),
        TaskSet::new().add("control", task_fn(|_: &Job| {})),
    ) {
        Err(SchedError::RtRequired { issues }) => {
            assert!(
                issues.iter().any(|i| i.contains("SCHED_FIFO")),
                "{issues:?}"
            );
            println!("required refused: {}", issues.join(" | "));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("rt: required started without SCHED_FIFO"),
    }
    println!("CHILD-OK");
}

#[test]
fn without_sys_nice_best_effort_degrades_and_required_fails() {
    // wall-clock paced: one timing-sensitive test at a time (tests/common/timing.rs)
    let _serial = common::timing::serial();
    let exe = std::env::current_exe().unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--bounding-set=-sys_nice,-ipc_lock",
            "--inh-caps=-sys_nice,-ipc_lock",
            "--",
        ])
        .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args([
        "--exact",
        "degraded_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, "1");
    // SAFETY: setrlimit is async-signal-safe; runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(|| {
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            let small = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            libc::setrlimit(libc::RLIMIT_RTPRIO, &zero);
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &small);
            Ok(())
        });
    }
    let out = cmd
        .output()
        .expect("run child (is setpriv from util-linux installed?)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("CHILD-OK"),
        "child did not run the check:\n{text}"
    );
    assert!(text.contains("rt: degraded"), "{text}");
    assert!(
        text.contains("mlockall"),
        "memory locking refusal reported:\n{text}"
    );
}
