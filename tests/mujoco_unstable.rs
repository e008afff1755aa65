//! A MuJoCo simulation that becomes unstable is a backend fault, not a silent reset: the model
//! `sim/test/unstable_arm.xml` (position servos with kp = 1e9 under a 2 ms Euler step) diverges
//! within a few steps; the backend counts MuJoCo's warnings, halts physics (its safe state),
//! keeps failing `read`/`write` with a message naming the cause until `reset`, and MuJoCo's
//! text goes to the log, not to `MUJOCO_LOG.TXT` in the working directory.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use sattva::backend::mujoco::{MujocoBackend, PhysicsWarnings};
use sattva::backend::{Backend, BackendError, BackendFaults, Lifecycle, Managed};
use sattva::config::Config;
use sattva::types::{Command, CommandMode, JointVec, SensorFrame, Time};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unstable_config() -> PathBuf {
    root().join("sim/test/unstable_arm.yaml")
}

type Mujoco = Managed<MujocoBackend>;

fn open(config: &Path, overrides: &[&str]) -> Mujoco {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let c = Config::load(config, &o).expect("config loads");
    MujocoBackend::open(&c).expect("backend opens")
}

/// Runs hold cycles until `read` fails; returns the cycle and the error.
fn run_until_fault(b: &mut Mujoco, max_cycles: usize) -> (usize, BackendError) {
    let mut frame = SensorFrame::default();
    for cycle in 0..max_cycles {
        let t = b.now();
        if let Err(e) = b.read(t, &mut frame) {
            return (cycle, e);
        }
        assert!(
            frame.joints.position.iter().all(|p| p.is_finite()),
            "a frame with non-finite positions passed as valid in cycle {cycle}"
        );
        let _ = b.write(t, &Command::hold(t));
    }
    panic!("no fault in {max_cycles} cycles: the test model did not diverge");
}

fn qpos_bits(b: &Mujoco) -> Vec<u64> {
    b.data()
        .expect("data")
        .qpos()
        .iter()
        .map(|q| q.to_bits())
        .collect()
}

#[test]
fn unstable_simulation_is_a_fault_naming_its_cause_and_the_backend_halts() {
    let log_file = root().join("MUJOCO_LOG.TXT");
    let log_existed = log_file.exists();
    let mut b = open(&unstable_config(), &[]);
    assert_eq!(b.physics_warnings(), PhysicsWarnings::default());
    assert_eq!(b.faults(), BackendFaults::default());

    let (cycle, err) = run_until_fault(&mut b, 500);
    assert!(cycle < 50, "fault only in cycle {cycle}");

    // the error names the fault, where, and the likely cause
    let BackendError::Disconnected { backend, message } = &err else {
        panic!("expected a fault (Disconnected), got {err:?}");
    };
    assert_eq!(*backend, "mujoco");
    for needle in [
        "simulation unstable at t=",
        "NaN, Inf or huge",
        "(joint `",
        "too stiff for the 2 ms timestep",
        "unstable_arm.xml",
        "halted",
    ] {
        assert!(message.contains(needle), "`{needle}` missing in: {message}");
    }
    assert!(
        message.contains("`shoulder`") || message.contains("`elbow`"),
        "no joint named in: {message}"
    );
    assert_eq!(b.fault(), Some(message.as_str()));

    // counted, generically too
    let w = b.physics_warnings();
    assert_eq!(w.faults, 1, "{w:?}");
    assert!(w.bad_qacc + w.bad_qvel + w.bad_qpos > 0, "{w:?}");
    assert!(w.to_string().starts_with("faults 1, "), "{w}");
    let f = b.faults();
    assert_eq!(f.fatal, 1, "{f:?}");
    assert!(f.unstable > 0, "{f:?}");

    // safe state: physics halted (no MuJoCo step: state and MuJoCo time frozen, no silent
    // reset), the clock runs on, every read and write fails with the fault, a position command
    // is not applied
    assert_eq!(b.state(), Lifecycle::Active);
    let frozen = qpos_bits(&b);
    let mj_time = b.data().expect("data").time();
    let t0 = b.now();
    let mut frame = SensorFrame::default();
    let mut target = JointVec::new();
    target.push(0.1);
    target.push(0.1);
    let step = Command {
        t: t0,
        mode: CommandMode::Position,
        values: target,
    };
    for i in 0..50 {
        let t = b.now();
        match b.read(t, &mut frame) {
            Err(BackendError::Disconnected { message: m, .. }) => assert_eq!(&m, message),
            other => panic!("read {i} after the fault: {other:?}"),
        }
        assert!(
            frame.joints.position.is_empty(),
            "a faulted read filled a frame"
        );
        let cmd = if i % 2 == 0 { &step } else { &Command::hold(t) };
        assert!(
            matches!(b.write(t, cmd), Err(BackendError::Disconnected { .. })),
            "write {i} after the fault succeeded"
        );
    }
    assert_eq!(qpos_bits(&b), frozen, "physics moved while halted");
    assert_eq!(
        b.data().expect("data").time(),
        mj_time,
        "MuJoCo stepped while halted"
    );
    assert_eq!(b.now(), Time(t0.0 + 50 * 2_000_000), "the clock stopped");
    assert_eq!(b.physics_warnings().faults, 1, "one fault, counted once");

    // reset ends the fault: the world is back at its keyframe, finite, and reads succeed again
    // (the clock runs on); the counters are cumulative
    b.reset(2).expect("reset");
    assert_eq!(b.fault(), None);
    let t = b.now();
    assert_eq!(t, Time(t0.0 + 50 * 2_000_000), "a reset moved the clock");
    b.read(t, &mut frame).expect("read after reset");
    assert!((frame.joints.position[0] - 0.4).abs() < 1e-9, "{frame:?}");
    assert_eq!(b.physics_warnings().faults, 1);
    // the same model diverges again: a second fault
    run_until_fault(&mut b, 500);
    assert_eq!(b.physics_warnings().faults, 2);
    assert_eq!(b.faults().fatal, 2);

    // MuJoCo's warnings went to tracing, not to a file in the working directory (the tests'
    // working directory is the package root)
    if !log_existed {
        assert!(
            !log_file.exists(),
            "MuJoCo wrote {} (its log handler is not ours)",
            log_file.display()
        );
    }
}

#[test]
fn reference_scene_has_no_physics_warnings() {
    // the reference arm under a sweeping position command: nothing to count, nothing halted
    let mut b = open(&root().join("config/sim.yaml"), &[]);
    let mut frame = SensorFrame::default();
    for i in 0..2000 {
        let t = b.now();
        b.read(t, &mut frame).expect("read");
        let phase = i as f64 * 0.004;
        let mut values = JointVec::new();
        for j in 0..4 {
            values.push(0.6 * (phase + j as f64).sin());
        }
        let cmd = Command {
            t,
            mode: CommandMode::Position,
            values,
        };
        b.write(t, &cmd).expect("write");
    }
    assert_eq!(b.physics_warnings(), PhysicsWarnings::default());
    assert_eq!(b.physics_warnings().to_string(), "none");
    assert_eq!(b.faults(), BackendFaults::default());
    assert_eq!(b.fault(), None);
}

#[test]
fn sattva_sim_reports_the_fault_and_writes_no_mujoco_log_file() {
    // the binary, in a fresh working directory: MuJoCo's text must reach the log (stderr), not
    // MUJOCO_LOG.TXT there, and not MuJoCo's own "WARNING:" lines on stdout
    let cwd = tempfile::tempdir().expect("tempdir");
    let out = Process::new(env!("CARGO_BIN_EXE_sattva"))
        .current_dir(cwd.path())
        .args(["sim", "-c"])
        .arg(unstable_config())
        .args(["--duration", "0.2", "--snapshot"])
        .arg(cwd.path().join("substrate.snap"))
        .env("RUST_LOG", "info")
        .output()
        .expect("sattva runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let files: Vec<_> = std::fs::read_dir(cwd.path())
        .expect("read tempdir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    assert!(
        !cwd.path().join("MUJOCO_LOG.TXT").exists(),
        "MUJOCO_LOG.TXT written; files: {files:?}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("simulation unstable at t=") && stderr.contains("too stiff"),
        "the fault is not in the log:\n{stderr}"
    );
    assert!(
        stderr.contains("Nan, Inf or huge value in QACC"),
        "MuJoCo's own warning did not reach the log:\n{stderr}"
    );
    assert!(
        !stdout.contains("WARNING:"),
        "MuJoCo printed to stdout itself:\n{stdout}"
    );
}
