//! librealsense loaded at run time, isolated from the rest of the process.
//!
//! `realsense-sys` provides the types and constants only (built with its `docs-only` feature: no
//! link to librealsense2). Every `rs2_*` function the backend calls is defined here with the
//! bindings' exact signature and calls through a table of function pointers resolved once from
//! a library opened with `dlopen(RTLD_LOCAL | RTLD_DEEPBIND | RTLD_NOW)`. Explicit items shadow
//! the glob import, so callers keep writing `sys::rs2_foo(..)`.
//!
//! Why: the librealsense that setup extracts from the `pyrealsense2` wheel embeds its own Fast
//! DDS and exports its ~29k symbols. Linked normally (or opened `RTLD_GLOBAL`) next to ROS 2's
//! libfastrtps, the two copies interpose and the process crashes. `RTLD_LOCAL` keeps
//! librealsense's symbols out of the global scope and `RTLD_DEEPBIND` makes librealsense bind to
//! its own copies first, so both stacks work in one process.
//!
//! Where the library comes from, first match wins:
//! 1. `SATTVA_REALSENSE_LIB` (run time): the full path of the library; only this one is tried;
//! 2. `SATTVA_REALSENSE_LIB_DIR` (build time, from `.cargo/config.toml` written by
//!    `scripts/setup.sh`) + `/librealsense2.so`;
//! 3. `librealsense2.so.2.56`, then `librealsense2.so`, through the loader's search path.
//!
//! [`load`] opens it (once; the outcome is kept) and must succeed before any function here is
//! called; [`super::ffi`] does so wherever a librealsense object is first made (a context, a
//! software device), and the backend checks it in `configure`. Every other function takes or
//! yields an object that only exists once the library is loaded.

// Unsafe code: `dlopen`/`dlsym` of librealsense and the calls through the resolved C function
// pointers.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libloading::os::unix::Library;

pub use realsense_sys::*;

/// Environment variable with the full path of the librealsense2 shared library to use.
const LIB_ENV: &str = "SATTVA_REALSENSE_LIB";

/// The library could not be opened, or lacks a function the backend uses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot load librealsense2: {0}")]
pub struct LoadError(pub String);

/// `rs2_video_stream` (rs_internal.h; `realsense-sys` has no bindings for it).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Rs2VideoStream {
    /// Stream type.
    pub kind: rs2_stream,
    /// Stream index.
    pub index: c_int,
    /// Unique id.
    pub uid: c_int,
    /// Width, px.
    pub width: c_int,
    /// Height, px.
    pub height: c_int,
    /// Frame rate, Hz.
    pub fps: c_int,
    /// Bytes per pixel.
    pub bpp: c_int,
    /// Pixel format.
    pub fmt: rs2_format,
    /// Pinhole intrinsics.
    pub intrinsics: rs2_intrinsics,
}

/// `rs2_motion_stream` (rs_internal.h).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Rs2MotionStream {
    /// Stream type.
    pub kind: rs2_stream,
    /// Stream index.
    pub index: c_int,
    /// Unique id.
    pub uid: c_int,
    /// Frame rate, Hz.
    pub fps: c_int,
    /// Format.
    pub fmt: rs2_format,
    /// Motion intrinsics.
    pub intrinsics: rs2_motion_device_intrinsic,
}

/// Buffer deleter of a software frame.
pub type Deleter = Option<unsafe extern "C" fn(*mut c_void)>;

/// `rs2_software_video_frame` (rs_internal.h). Passed by value (in memory on x86-64/aarch64);
/// the trailing `depth_units` of newer headers is included: an older library ignores it.
#[repr(C)]
pub struct Rs2SoftwareVideoFrame {
    /// Pixel buffer (owned by librealsense until `deleter` runs).
    pub pixels: *mut c_void,
    /// Frees `pixels`.
    pub deleter: Deleter,
    /// Row stride, bytes.
    pub stride: c_int,
    /// Bytes per pixel.
    pub bpp: c_int,
    /// Timestamp, ms.
    pub timestamp: f64,
    /// Timestamp domain.
    pub domain: rs2_timestamp_domain,
    /// Frame number.
    pub frame_number: c_int,
    /// The stream profile.
    pub profile: *const rs2_stream_profile,
    /// Metres per depth unit.
    pub depth_units: f32,
}

/// `rs2_software_motion_frame` (rs_internal.h).
#[repr(C)]
pub struct Rs2SoftwareMotionFrame {
    /// Sample buffer (3 floats).
    pub data: *mut c_void,
    /// Frees `data`.
    pub deleter: Deleter,
    /// Timestamp, ms.
    pub timestamp: f64,
    /// Timestamp domain.
    pub domain: rs2_timestamp_domain,
    /// Frame number.
    pub frame_number: c_int,
    /// The stream profile.
    pub profile: *const rs2_stream_profile,
}

/// Generates the function table (`Api`), its resolution from an open library, and one wrapper
/// per function with the C signature.
macro_rules! api {
    ($(fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
        struct Api {
            $($name: unsafe extern "C" fn($($ty),*) $(-> $ret)?,)*
            /// Kept open for the life of the process.
            _lib: Library,
        }

        impl Api {
            /// Resolves every function in `lib` (`what` names it in errors).
            fn resolve(lib: Library, what: &str) -> Result<Api, String> {
                Ok(Api {
                    $($name: {
                        // SAFETY: the symbol is librealsense's C function of that name, and the
                        // type it is read as is that function's signature in the realsense-sys
                        // bindings of the same version (2.56). The pointer copied out stays valid:
                        // the library stays mapped (`_lib`) in a process-wide `OnceLock` that is
                        // never dropped.
                        let s = unsafe {
                            lib.get::<unsafe extern "C" fn($($ty),*) $(-> $ret)?>(
                                concat!(stringify!($name), "\0").as_bytes(),
                            )
                        }
                        .map_err(|e| {
                            format!("{what}: no function `{}` ({e})", stringify!($name))
                        })?;
                        *s
                    },)*
                    _lib: lib,
                })
            }
        }

        $(
            #[doc = concat!("`", stringify!($name), "` of the run-time loaded librealsense.")]
            ///
            /// # Safety
            /// As the C function; [`load`] must have succeeded.
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $name($($arg: $ty),*) $(-> $ret)? {
                // SAFETY: the caller upholds the C function's contract (this function's); the
                // pointer comes from `api()`, which panics unless `load` succeeded.
                unsafe { (api().$name)($($arg),*) }
            }
        )*
    };
}

api! {
    fn rs2_close(sensor: *const rs2_sensor, error: *mut *mut rs2_error);
    fn rs2_context_add_device(ctx: *mut rs2_context, file: *const c_char, error: *mut *mut rs2_error) -> *mut rs2_device;
    fn rs2_create_context(api_version: c_int, error: *mut *mut rs2_error) -> *mut rs2_context;
    fn rs2_create_device(info_list: *const rs2_device_list, index: c_int, error: *mut *mut rs2_error) -> *mut rs2_device;
    fn rs2_create_record_device_ex(device: *const rs2_device, file: *const c_char, compression_enabled: c_int, error: *mut *mut rs2_error) -> *mut rs2_device;
    fn rs2_create_sensor(list: *const rs2_sensor_list, index: c_int, error: *mut *mut rs2_error) -> *mut rs2_sensor;
    fn rs2_delete_context(context: *mut rs2_context);
    fn rs2_delete_device(device: *mut rs2_device);
    fn rs2_delete_device_list(info_list: *mut rs2_device_list);
    fn rs2_delete_sensor(sensor: *mut rs2_sensor);
    fn rs2_delete_sensor_list(info_list: *mut rs2_sensor_list);
    fn rs2_delete_stream_profiles_list(list: *mut rs2_stream_profile_list);
    fn rs2_depth_frame_get_units(frame: *const rs2_frame, error: *mut *mut rs2_error) -> f32;
    fn rs2_embedded_frames_count(composite: *mut rs2_frame, error: *mut *mut rs2_error) -> c_int;
    fn rs2_extract_frame(composite: *mut rs2_frame, index: c_int, error: *mut *mut rs2_error) -> *mut rs2_frame;
    fn rs2_frame_add_ref(frame: *mut rs2_frame, error: *mut *mut rs2_error);
    fn rs2_free_error(error: *mut rs2_error);
    fn rs2_get_device_count(info_list: *const rs2_device_list, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_device_info(device: *const rs2_device, info: rs2_camera_info, error: *mut *mut rs2_error) -> *const c_char;
    fn rs2_get_error_message(error: *const rs2_error) -> *const c_char;
    fn rs2_get_failed_function(error: *const rs2_error) -> *const c_char;
    fn rs2_get_frame_data(frame: *const rs2_frame, error: *mut *mut rs2_error) -> *const c_void;
    fn rs2_get_frame_data_size(frame: *const rs2_frame, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_frame_height(frame: *const rs2_frame, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_frame_stream_profile(frame: *const rs2_frame, error: *mut *mut rs2_error) -> *const rs2_stream_profile;
    fn rs2_get_frame_stride_in_bytes(frame: *const rs2_frame, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_frame_timestamp(frame: *const rs2_frame, error: *mut *mut rs2_error) -> rs2_time_t;
    fn rs2_get_frame_width(frame: *const rs2_frame, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_librealsense_exception_type(error: *const rs2_error) -> rs2_exception_type;
    fn rs2_get_sensors_count(info_list: *const rs2_sensor_list, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_stream_profile(list: *const rs2_stream_profile_list, index: c_int, error: *mut *mut rs2_error) -> *const rs2_stream_profile;
    fn rs2_get_stream_profile_data(mode: *const rs2_stream_profile, stream: *mut rs2_stream, format: *mut rs2_format, index: *mut c_int, unique_id: *mut c_int, framerate: *mut c_int, error: *mut *mut rs2_error);
    fn rs2_get_stream_profiles(sensor: *mut rs2_sensor, error: *mut *mut rs2_error) -> *mut rs2_stream_profile_list;
    fn rs2_get_stream_profiles_count(list: *const rs2_stream_profile_list, error: *mut *mut rs2_error) -> c_int;
    fn rs2_get_video_stream_intrinsics(mode: *const rs2_stream_profile, intrinsics: *mut rs2_intrinsics, error: *mut *mut rs2_error);
    fn rs2_get_video_stream_resolution(mode: *const rs2_stream_profile, width: *mut c_int, height: *mut c_int, error: *mut *mut rs2_error);
    fn rs2_is_frame_extendable_to(frame: *const rs2_frame, extension_type: rs2_extension, error: *mut *mut rs2_error) -> c_int;
    fn rs2_is_option_read_only(options: *const rs2_options, option: rs2_option, error: *mut *mut rs2_error) -> c_int;
    fn rs2_open_multiple(device: *mut rs2_sensor, profiles: *mut *const rs2_stream_profile, count: c_int, error: *mut *mut rs2_error);
    fn rs2_playback_device_get_current_status(device: *const rs2_device, error: *mut *mut rs2_error) -> rs2_playback_status;
    fn rs2_playback_device_pause(device: *const rs2_device, error: *mut *mut rs2_error);
    fn rs2_playback_device_resume(device: *const rs2_device, error: *mut *mut rs2_error);
    fn rs2_playback_device_set_real_time(device: *const rs2_device, real_time: c_int, error: *mut *mut rs2_error);
    fn rs2_query_devices(context: *const rs2_context, error: *mut *mut rs2_error) -> *mut rs2_device_list;
    fn rs2_query_sensors(device: *const rs2_device, error: *mut *mut rs2_error) -> *mut rs2_sensor_list;
    fn rs2_release_frame(frame: *mut rs2_frame);
    fn rs2_set_option(options: *const rs2_options, option: rs2_option, value: f32, error: *mut *mut rs2_error);
    fn rs2_start(sensor: *const rs2_sensor, on_frame: rs2_frame_callback_ptr, user: *mut c_void, error: *mut *mut rs2_error);
    fn rs2_stop(sensor: *const rs2_sensor, error: *mut *mut rs2_error);
    fn rs2_supports_device_info(device: *const rs2_device, info: rs2_camera_info, error: *mut *mut rs2_error) -> c_int;
    fn rs2_supports_option(options: *const rs2_options, option: rs2_option, error: *mut *mut rs2_error) -> c_int;
    // Software device (rs_internal.h).
    fn rs2_create_software_device(error: *mut *mut rs2_error) -> *mut rs2_device;
    fn rs2_software_device_add_sensor(dev: *mut rs2_device, name: *const c_char, error: *mut *mut rs2_error) -> *mut rs2_sensor;
    fn rs2_software_device_register_info(dev: *mut rs2_device, info: rs2_camera_info, val: *const c_char, error: *mut *mut rs2_error);
    fn rs2_software_sensor_add_video_stream(sensor: *mut rs2_sensor, stream: Rs2VideoStream, error: *mut *mut rs2_error) -> *mut rs2_stream_profile;
    fn rs2_software_sensor_add_motion_stream(sensor: *mut rs2_sensor, stream: Rs2MotionStream, error: *mut *mut rs2_error) -> *mut rs2_stream_profile;
    fn rs2_software_sensor_add_read_only_option(sensor: *mut rs2_sensor, option: rs2_option, val: f32, error: *mut *mut rs2_error);
    fn rs2_software_sensor_on_video_frame(sensor: *mut rs2_sensor, frame: Rs2SoftwareVideoFrame, error: *mut *mut rs2_error);
    fn rs2_software_sensor_on_motion_frame(sensor: *mut rs2_sensor, frame: Rs2SoftwareMotionFrame, error: *mut *mut rs2_error);
}

static API: OnceLock<Result<Api, LoadError>> = OnceLock::new();

/// The loaded table. Only reached through objects librealsense made, i.e. after [`load`]
/// succeeded; reaching it otherwise is a bug in this backend, not an input error.
fn api() -> &'static Api {
    match API.get() {
        Some(Ok(api)) => api,
        _ => panic!("librealsense function called before sys::load() succeeded"),
    }
}

#[cfg(target_env = "gnu")]
const DEEPBIND: c_int = libc::RTLD_DEEPBIND;
#[cfg(not(target_env = "gnu"))]
const DEEPBIND: c_int = 0;

/// Opens librealsense2 and resolves every function, once per process; later calls return the
/// first outcome. The error names every library tried and why each failed.
pub fn load() -> Result<(), LoadError> {
    match API.get_or_init(open) {
        Ok(_) => Ok(()),
        Err(e) => Err(e.clone()),
    }
}

/// The libraries to try, each with a description for errors.
fn candidates() -> Vec<(String, String)> {
    if let Some(p) = std::env::var_os(LIB_ENV).filter(|p| !p.is_empty()) {
        let p = p.to_string_lossy().into_owned();
        return vec![(p.clone(), format!("{LIB_ENV}={p}"))];
    }
    let mut v = Vec::new();
    if let Some(dir) = option_env!("SATTVA_REALSENSE_LIB_DIR").filter(|d| !d.is_empty()) {
        let p = format!("{}/librealsense2.so", dir.trim_end_matches('/'));
        v.push((
            p.clone(),
            format!("{p} (SATTVA_REALSENSE_LIB_DIR at build time)"),
        ));
    }
    for name in ["librealsense2.so.2.56", "librealsense2.so"] {
        v.push((name.to_string(), format!("{name} (loader search path)")));
    }
    v
}

fn open() -> Result<Api, LoadError> {
    let flags = libc::RTLD_LOCAL | libc::RTLD_NOW | DEEPBIND;
    let mut tried = Vec::new();
    for (path, what) in candidates() {
        // SAFETY: `dlopen` runs the library's initialisers: librealsense's only set up its own
        // state, and RTLD_LOCAL | RTLD_DEEPBIND keep its symbols (its embedded Fast DDS among
        // them) from interposing on the rest of the process (see the module docs).
        match unsafe { Library::open(Some(&path), flags) } {
            Ok(lib) => {
                return match Api::resolve(lib, &what) {
                    Ok(api) => {
                        tracing::info!("librealsense2 loaded from {what}");
                        Ok(api)
                    }
                    Err(e) => Err(LoadError(e)),
                };
            }
            Err(e) => tried.push(format!("{what}: {e}")),
        }
    }
    let hint = if std::env::var_os(LIB_ENV).is_some_and(|p| !p.is_empty()) {
        String::new()
    } else {
        format!("; set {LIB_ENV} to the library's full path")
    };
    Err(LoadError(format!("tried {}{hint}", tried.join("; "))))
}
