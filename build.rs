//! Build script: bake run-time library paths (rpath) into sattva's binaries so they start with no
//! exported variables. A dependency's rpath does not reach the final binary; it must be set here.
//! The directories come from `.cargo/config.toml`, which `scripts/setup.sh` generates.
fn main() {
    for v in [
        "MUJOCO_DYNAMIC_LINK_DIR",
        "SATTVA_ROS_LD_DIRS",
        "SATTVA_PYLIBDIR",
        "SATTVA_PYLDVERSION",
        "SATTVA_REALSENSE_LIB_DIR",
        "SATTVA_REALSENSE_FROM_WHEEL",
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
    // librealsense2 (system, or extracted from the pyrealsense2 wheel by scripts/setup_librealsense.sh);
    // realsense-sys links it through pkg-config, the directory for the loader comes from setup.
    // The librealsense that setup extracts from the pyrealsense2 wheel embeds its own Fast DDS and
    // exports its symbols: in one process with ROS 2, Fast DDS calls bind to the wrong copy and
    // abort. A system librealsense (robot; built without DDS, as realsense-ros uses it) is fine.
    if std::env::var_os("CARGO_FEATURE_REALSENSE").is_some()
        && std::env::var_os("CARGO_FEATURE_ROS2").is_some()
        && std::env::var("SATTVA_REALSENSE_FROM_WHEEL").as_deref() == Ok("1")
    {
        eprintln!(
            "error: features `ros2` and `realsense` cannot be combined with the librealsense \
             extracted from the pyrealsense2 wheel (it embeds Fast DDS, which clashes with ROS 2's). \
             Build them separately, or install a system librealsense2 (robot) and re-run scripts/setup.sh."
        );
        std::process::exit(1);
    }
    if std::env::var_os("CARGO_FEATURE_REALSENSE").is_some() {
        if let Ok(dir) = std::env::var("SATTVA_REALSENSE_LIB_DIR") {
            println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags,-rpath,{dir}");
        }
    }
}
