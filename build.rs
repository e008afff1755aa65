//! Build script: bake run-time library paths (rpath) into sattva's binaries so they start with no
//! exported variables. A dependency's rpath does not reach the final binary; it must be set here.
fn main() {
    println!("cargo:rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    println!("cargo:rerun-if-env-changed=SATTVA_REALSENSE_LIB_DIR");
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_some() {
        if let Ok(dir) = std::env::var("MUJOCO_DYNAMIC_LINK_DIR") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    // librealsense2 (system, or extracted from the pyrealsense2 wheel by scripts/setup_librealsense.sh);
    // realsense-sys links it through pkg-config, the directory for the loader comes from setup.
    if std::env::var_os("CARGO_FEATURE_REALSENSE").is_some() {
        if let Ok(dir) = std::env::var("SATTVA_REALSENSE_LIB_DIR") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
