//! Build script: bake run-time library paths (rpath) into sattva's binaries so they start with no
//! exported variables. A dependency's rpath does not reach the final binary; it must be set here.
//! The directories come from `.cargo/config.toml`, which `scripts/setup.sh` generates.
fn main() {
    for v in [
        "MUJOCO_DYNAMIC_LINK_DIR",
        "SATTVA_ROS_LD_DIRS",
        "SATTVA_PYLIBDIR",
        "SATTVA_PYLDVERSION",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_some() {
        if let Ok(dir) = std::env::var("MUJOCO_DYNAMIC_LINK_DIR") {
            println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags,-rpath,{dir}");
        }
    }
    if std::env::var_os("CARGO_FEATURE_ROS2").is_some() {
        // ROS 2 libraries (the wheel venv's lib/ and its auditwheel-vendored *.libs dirs).
        if let Ok(dirs) = std::env::var("SATTVA_ROS_LD_DIRS") {
            for d in dirs.split(':').filter(|d| !d.is_empty()) {
                println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags,-rpath,{d}");
            }
        }
        // Workaround 2 (PLATFORM.md): the PyPI wheels' librcl.so needs *__rosidl_generator_py.so,
        // which reference libpython symbols; a non-Python executable must load libpython too.
        if let (Ok(libdir), Ok(ver)) = (
            std::env::var("SATTVA_PYLIBDIR"),
            std::env::var("SATTVA_PYLDVERSION"),
        ) {
            println!("cargo:rustc-link-search=native={libdir}");
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
            println!("cargo:rustc-link-arg=-lpython{ver}");
            println!("cargo:rustc-link-arg=-Wl,--as-needed");
            println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags,-rpath,{libdir}");
        }
    }
    // librealsense2 is not linked: src/backend/realsense/sys.rs opens it at run time (isolated
    // with RTLD_LOCAL | RTLD_DEEPBIND, so the Fast DDS inside the pyrealsense2 wheel's copy cannot
    // clash with ROS 2's): SATTVA_REALSENSE_LIB at run time, else SATTVA_REALSENSE_LIB_DIR (read at
    // compile time with option_env!), else the loader's search path.
}
