//! librealsense is opened at run time (src/backend/realsense/sys.rs): a missing or wrong library
//! is a clear error naming what was tried, from the backend, the recorder and the CLI, never a crash.
#![cfg(feature = "realsense")]

use std::path::Path;
use std::process::Command;

use sattva::backend::realsense::software::{BagWriter, SynthStreams};
use sattva::backend::realsense::RealsenseBackend;
use sattva::backend::{Backend, BackendError, Lifecycle};
use sattva::config::Config;

/// The path of the C library this test process has mapped (from `/proc/self/maps`).
fn loaded_libc() -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            let name = Path::new(p)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            name.starts_with("libc.so") || name.starts_with("libc-")
        })
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no libc mapped in this process:\n{maps}"))
}

#[test]
fn missing_or_wrong_library_is_a_clear_error() {
    // --- the CLI with a library that exists but is not librealsense (run in a child process:
    //     the library is opened once per process)
    //     (this process's own libc: a real shared library on every Linux, with no rs2_ symbols)
    let libz = loaded_libc();
    {
        let libz = libz.as_str();
        let out = Command::new(env!("CARGO_BIN_EXE_sattva"))
            .args(["bench", "realsense", "--seconds", "0.1", "--reps", "1"])
            .env("SATTVA_REALSENSE_LIB", libz)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("cannot load librealsense2"), "{err}");
        assert!(
            err.contains(&format!("SATTVA_REALSENSE_LIB={libz}")),
            "{err}"
        );
        assert!(err.contains("no function `rs2_"), "{err}");
    }

    // --- in this process: a path that does not exist
    let missing = "/nonexistent/dir/librealsense2.so";
    // SAFETY: set before this process opens librealsense or starts threads; one test per file.
    unsafe { std::env::set_var("SATTVA_REALSENSE_LIB", missing) };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("synth.yaml"),
        "model: SYNTH\nimu: {gyro_hz: 400, accel_hz: 200}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("x.bag"), b"unused").unwrap();
    let cfg = dir.path().join("cam.yaml");
    std::fs::write(
        &cfg,
        "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: synth.yaml\n      playback: x.bag\n",
    )
    .unwrap();
    let c = Config::load(&cfg, &[]).unwrap();
    let mut b = sattva::backend::Managed::new(RealsenseBackend::new(&c).unwrap());
    match b.configure() {
        Err(BackendError::Library { backend, message }) => {
            assert_eq!(backend, "realsense");
            assert!(
                message.contains(&format!("SATTVA_REALSENSE_LIB={missing}")),
                "{message}"
            );
            // only the library named by the variable is tried
            assert!(!message.contains("loader search path"), "{message}");
        }
        Err(e) => panic!("expected BackendError::Library, got {e}"),
        Ok(()) => panic!("configure succeeded without librealsense"),
    }
    assert_eq!(b.state(), Lifecycle::Unconfigured);
    // the software device (recordings) says the same
    let e = BagWriter::create(
        &dir.path().join("y.bag"),
        SynthStreams {
            depth: None,
            color: None,
            imu: Some((400, 200)),
        },
    )
    .err()
    .expect("BagWriter without librealsense");
    assert!(e.to_string().contains(missing), "{e}");
}
