//! Build script: bake run-time library paths (rpath) into sattva's binaries so they start with no
//! exported variables. A dependency's rpath does not reach the final binary; it must be set here.
fn main() {
    println!("cargo:rerun-if-env-changed=MUJOCO_DYNAMIC_LINK_DIR");
    if std::env::var_os("CARGO_FEATURE_MUJOCO").is_some() {
        if let Ok(dir) = std::env::var("MUJOCO_DYNAMIC_LINK_DIR") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
