//! librealsense is opened at run time (src/backend/realsense/sys.rs): a missing or wrong library
//! is a clear error naming what was tried, from the backend, the recorder and the CLI, never a crash.
#![cfg(feature = "realsense")]

use std::path::Path;
use std::process::Command;

use sattva::backend::realsense::software::{BagWriter, SynthStreams};
use sattva::backend::realsense::RealsenseBackend;
use sattva::backend::{Backend, BackendError, Lifecycle};
use sattva::config::Config;

#[test]
fn missing_or_wrong_library_is_a_clear_error() {
    // --- the CLI with a library that exists but is not librealsense (run in a child process:
    //     the library is opened once per process)
    let libz = ["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/libz.so.1"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    if let Some(libz) = libz {
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
