//! Thin RAII layer over the librealsense C API (`realsense-sys =2.56.5` bindings, called through
//! the run-time loaded library of [`super::sys`]).
//!
//! Why not `realsense-rust` (=1.3.0, the safe wrapper over the same bindings): it reaches frames
//! only through `rs2_pipeline`, whose syncer folds motion frames into video framesets and loses
//! most of them; it keeps raw device and sensor pointers private, so playback cannot be paused
//! or switched to non-real-time (`rs2_playback_device_set_real_time`) before streaming starts; and
//! its frame access allocates a `Vec` per frameset and unwraps. The backend needs sensor-level
//! streaming with callbacks, which this file provides in ~400 lines. Every call goes through
//! [`call`], which turns an `rs2_error` into [`RsError`] (function, message, exception type).
//!
//! # Safety
//!
//! Every unsafe block here calls a librealsense C function through [`sys`], whose wrappers
//! panic rather than call into a library that is not loaded. Beyond that, the blocks rest on
//! three invariants, which their `SAFETY` comments name:
//!
//! - **handle**: a handle made by `owned!` (`Context`, `Device`, `DeviceList`, `Sensor`,
//!   `SensorList`, `Frame`, `ProfileList`) holds a non-null object that librealsense returned
//!   and that the handle owns (for a frame: one reference); only its `Drop` deletes (releases)
//!   it. So while `&self` borrows a handle, `self.ptr()` is a live object of that type.
//! - **err**: the `e` that [`call`] passes to its closure points to `call`'s own
//!   null-initialised `*mut rs2_error` local, valid for the whole call; librealsense stores at
//!   most one error object there, which `call` frees exactly once.
//! - **out**: every other pointer argument is a `&mut` to a local of the exact type the C
//!   function writes, or the buffer of a `CString` that outlives the call (NUL-terminated).

// Unsafe code: this file is the C boundary to librealsense.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, CStr, CString};
use std::ptr::{null_mut, NonNull};

use super::sys;

/// An error reported by librealsense.
#[derive(Debug, Clone, thiserror::Error)]
#[error("librealsense {function}: {message}")]
pub struct RsError {
    /// The failing C function.
    pub function: String,
    /// librealsense's message.
    pub message: String,
    /// `rs2_exception_type`.
    pub kind: sys::rs2_exception_type,
}

impl RsError {
    /// True when librealsense reports the camera as disconnected.
    pub fn is_disconnect(&self) -> bool {
        self.kind == sys::rs2_exception_type_RS2_EXCEPTION_TYPE_CAMERA_DISCONNECTED
    }

    pub(crate) fn local(function: &str, message: impl Into<String>) -> RsError {
        RsError {
            function: function.into(),
            message: message.into(),
            kind: sys::rs2_exception_type_RS2_EXCEPTION_TYPE_UNKNOWN,
        }
    }
}

/// Copies a string librealsense returned (empty for null).
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays alive for this call.
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: `p` is non-null, NUL-terminated and alive for the call (this function's
        // contract); the bytes are copied before returning.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// `(stream, format, index, unique id, fps)` of a stream profile.
///
/// # Safety
/// `p` points to a stream profile that stays alive for this call (one of a live
/// [`ProfileList`], or the profile of a live [`Frame`]).
unsafe fn profile_data(
    p: *const sys::rs2_stream_profile,
) -> Result<(sys::rs2_stream, sys::rs2_format, c_int, c_int, c_int), RsError> {
    let (mut stream, mut format, mut index, mut uid, mut fps) = (0, 0, 0, 0, 0);
    // SAFETY: `p` is alive (this function's contract); out: the five locals have the types the
    // C function writes; err.
    call(|e| unsafe {
        sys::rs2_get_stream_profile_data(
            p,
            &mut stream,
            &mut format,
            &mut index,
            &mut uid,
            &mut fps,
            e,
        )
    })?;
    Ok((stream, format, index, uid, fps))
}

/// Runs `f(&mut err)` and converts a set error into [`RsError`] (freeing it).
pub(crate) fn call<T>(f: impl FnOnce(*mut *mut sys::rs2_error) -> T) -> Result<T, RsError> {
    let mut err: *mut sys::rs2_error = null_mut();
    let r = f(&mut err);
    if err.is_null() {
        return Ok(r);
    }
    // SAFETY: a non-null `err` is the error object librealsense created in `f`; the function
    // name and message strings it returns belong to that object, which is freed only after both
    // are copied, and exactly once (`err` is a local that nothing else sees).
    unsafe {
        let e = RsError {
            function: cstr(sys::rs2_get_failed_function(err)),
            message: cstr(sys::rs2_get_error_message(err)),
            kind: sys::rs2_get_librealsense_exception_type(err),
        };
        sys::rs2_free_error(err);
        Err(e)
    }
}

fn nonnull<T>(p: *mut T, function: &str) -> Result<NonNull<T>, RsError> {
    NonNull::new(p).ok_or_else(|| RsError::local(function, "returned null"))
}

/// Loads librealsense (once per process, see [`sys::load`]); every librealsense object is made
/// after this has succeeded.
pub(crate) fn load_library() -> Result<(), RsError> {
    sys::load().map_err(|e| RsError::local("dlopen", e.to_string()))
}

pub(crate) fn c_path(s: &str) -> Result<CString, RsError> {
    CString::new(s).map_err(|_| RsError::local("path", format!("`{s}` contains a NUL byte")))
}

macro_rules! owned {
    ($name:ident, $raw:ty, $del:path) => {
        /// Owning handle; deleted on drop.
        pub(crate) struct $name(pub(crate) NonNull<$raw>);
        // SAFETY: a librealsense object has no thread affinity: its C API may be called from
        // any thread (librealsense itself calls frame callbacks on its own threads), so the
        // handle, its sole owner, may move to another thread. (It is not `Sync`.)
        unsafe impl Send for $name {}
        impl Drop for $name {
            fn drop(&mut self) {
                // SAFETY: handle: `self.0` is the object this handle owns, and `drop` runs once,
                // so it is deleted (a frame: its one reference released) exactly once.
                unsafe { $del(self.0.as_ptr()) }
            }
        }
        impl $name {
            pub(crate) fn ptr(&self) -> *mut $raw {
                self.0.as_ptr()
            }
        }
    };
}

owned!(Context, sys::rs2_context, sys::rs2_delete_context);
owned!(Device, sys::rs2_device, sys::rs2_delete_device);
owned!(
    DeviceList,
    sys::rs2_device_list,
    sys::rs2_delete_device_list
);
owned!(Sensor, sys::rs2_sensor, sys::rs2_delete_sensor);
owned!(
    SensorList,
    sys::rs2_sensor_list,
    sys::rs2_delete_sensor_list
);
owned!(Frame, sys::rs2_frame, sys::rs2_release_frame);

impl Context {
    /// A librealsense context (checks the library's API version against the bindings).
    pub(crate) fn new() -> Result<Context, RsError> {
        load_library()?;
        // SAFETY: err; the library is loaded (`load_library` above); the version is a plain int.
        let p = call(|e| unsafe { sys::rs2_create_context(sys::RS2_API_VERSION as c_int, e) })?;
        Ok(Context(nonnull(p, "rs2_create_context")?))
    }

    /// `(name, serial)` of every connected device.
    pub(crate) fn devices(&self) -> Result<Vec<(String, String)>, RsError> {
        // SAFETY: handle (`self`: a live context); err. The list is owned by `DeviceList` below.
        let list = call(|e| unsafe { sys::rs2_query_devices(self.ptr(), e) })?;
        let list = DeviceList(nonnull(list, "rs2_query_devices")?);
        // SAFETY: handle (`list`: the live device list just made); err.
        let n = call(|e| unsafe { sys::rs2_get_device_count(list.ptr(), e) })?;
        let mut out = Vec::new();
        for i in 0..n {
            // SAFETY: handle (`list`), `i` is below its count; err. The device is owned by `Device`
            // below.
            let dev = call(|e| unsafe { sys::rs2_create_device(list.ptr(), i, e) })?;
            let dev = Device(nonnull(dev, "rs2_create_device")?);
            out.push((
                dev.info(sys::rs2_camera_info_RS2_CAMERA_INFO_NAME),
                dev.info(sys::rs2_camera_info_RS2_CAMERA_INFO_SERIAL_NUMBER),
            ));
        }
        Ok(out)
    }
}

impl Device {
    /// A camera-info string, empty when unsupported.
    pub(crate) fn info(&self, what: sys::rs2_camera_info) -> String {
        // SAFETY: handle (`self`: a live device); `what` is a plain enum value; err.
        match call(|e| unsafe { sys::rs2_supports_device_info(self.ptr(), what, e) }) {
            // SAFETY: handle (`self`), err; the returned string belongs to the device, which
            // outlives the `cstr` copy right after.
            Ok(1) => call(|e| unsafe { sys::rs2_get_device_info(self.ptr(), what, e) })
                // SAFETY: the string belongs to the live device `self` (see above).
                .map(|p| unsafe { cstr(p) })
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The device's sensors.
    pub(crate) fn sensors(&self) -> Result<Vec<Sensor>, RsError> {
        // SAFETY: handle (`self`: a live device); err. The list is owned by `SensorList` below.
        let list = call(|e| unsafe { sys::rs2_query_sensors(self.ptr(), e) })?;
        let list = SensorList(nonnull(list, "rs2_query_sensors")?);
        // SAFETY: handle (`list`: the live sensor list just made); err.
        let n = call(|e| unsafe { sys::rs2_get_sensors_count(list.ptr(), e) })?;
        (0..n)
            .map(|i| {
                // SAFETY: handle (`list`), `i` is below its count; err. The sensor is owned by
                // `Sensor` below.
                let s = call(|e| unsafe { sys::rs2_create_sensor(list.ptr(), i, e) })?;
                Ok(Sensor(nonnull(s, "rs2_create_sensor")?))
            })
            .collect()
    }
}

impl Device {
    /// Playback devices: real-time (1) or as fast as consumed (0).
    pub(crate) fn set_real_time(&self, on: bool) -> Result<(), RsError> {
        // SAFETY: handle (`self`: a live device; not a playback device is an error librealsense
        // reports through `e`); err.
        call(|e| unsafe { sys::rs2_playback_device_set_real_time(self.ptr(), on as c_int, e) })
    }

    /// Playback devices: pause (`true`) or resume reading the file.
    pub(crate) fn set_paused(&self, paused: bool) -> Result<(), RsError> {
        if paused {
            // SAFETY: handle (`self`: a live device); err.
            call(|e| unsafe { sys::rs2_playback_device_pause(self.ptr(), e) })
        } else {
            // SAFETY: handle (`self`: a live device); err.
            call(|e| unsafe { sys::rs2_playback_device_resume(self.ptr(), e) })
        }
    }

    /// Playback devices: true once the recording has been played to its end.
    pub(crate) fn playback_stopped(&self) -> Result<bool, RsError> {
        // SAFETY: handle (`self`: a live device); err.
        let s = call(|e| unsafe { sys::rs2_playback_device_get_current_status(self.ptr(), e) })?;
        Ok(s == sys::rs2_playback_status_RS2_PLAYBACK_STATUS_STOPPED)
    }
}

/// What a frame is, from its stream profile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameKind {
    pub stream: sys::rs2_stream,
    pub format: sys::rs2_format,
}

impl Frame {
    /// Number of frames inside a frameset (0 when this is a single frame).
    pub(crate) fn embedded_count(&self) -> usize {
        let ext = sys::rs2_extension_RS2_EXTENSION_COMPOSITE_FRAME;
        // SAFETY: handle (`self`: a live frame); `ext` is a plain enum value; err.
        match call(|e| unsafe { sys::rs2_is_frame_extendable_to(self.ptr(), ext, e) }) {
            // SAFETY: handle (`self`: a live frame, a composite one); err.
            Ok(1) => call(|e| unsafe { sys::rs2_embedded_frames_count(self.ptr(), e) })
                .map(|n| n.max(0) as usize)
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// A second handle to the same frame (one more reference).
    pub(crate) fn add_ref(&self) -> Result<Frame, RsError> {
        // SAFETY: handle (`self`: a live frame); err. The added reference is owned by the `Frame`
        // returned below, so each of the two handles releases one.
        call(|e| unsafe { sys::rs2_frame_add_ref(self.ptr(), e) })?;
        Ok(Frame(self.0))
    }

    /// The `i`-th frame of a frameset (owned: a new reference).
    pub(crate) fn extract(&self, i: usize) -> Result<Frame, RsError> {
        // SAFETY: handle (`self`: a live frame); an index out of range is an error reported through
        // `e`; err. The returned frame is a new reference, owned by `Frame` below.
        let f = call(|e| unsafe { sys::rs2_extract_frame(self.ptr(), i as c_int, e) })?;
        Ok(Frame(nonnull(f, "rs2_extract_frame")?))
    }

    fn profile(&self) -> Result<*const sys::rs2_stream_profile, RsError> {
        // SAFETY: handle (`self`: a live frame); err. The profile belongs to the frame: callers use
        // it only while `self` lives.
        call(|e| unsafe { sys::rs2_get_frame_stream_profile(self.ptr(), e) })
    }

    pub(crate) fn kind(&self) -> Result<FrameKind, RsError> {
        let p = self.profile()?;
        // SAFETY: `p` is the profile of `self`, alive while the frame is.
        let (stream, format, _, _, _) = unsafe { profile_data(p) }?;
        Ok(FrameKind { stream, format })
    }

    /// Timestamp, ms, and whether its domain is the device's hardware clock.
    pub(crate) fn timestamp_ms(&self) -> Result<f64, RsError> {
        // SAFETY: handle (`self`: a live frame); err.
        call(|e| unsafe { sys::rs2_get_frame_timestamp(self.ptr(), e) })
    }

    /// The frame's bytes.
    pub(crate) fn data(&self) -> Result<&[u8], RsError> {
        // SAFETY: handle (`self`: a live frame); err. The buffer belongs to the frame.
        let p = call(|e| unsafe { sys::rs2_get_frame_data(self.ptr(), e) })?;
        // SAFETY: handle (`self`: a live frame); err.
        let n = call(|e| unsafe { sys::rs2_get_frame_data_size(self.ptr(), e) })?;
        if p.is_null() || n <= 0 {
            return Err(RsError::local("rs2_get_frame_data", "empty frame"));
        }
        // SAFETY: `p` is non-null and `n > 0` (checked above): the frame's buffer of `n` bytes,
        // which librealsense keeps, unchanged, while the frame is referenced; the slice borrows
        // `self`, so it cannot outlive that reference.
        Ok(unsafe { std::slice::from_raw_parts(p as *const u8, n as usize) })
    }

    /// `(width, height, stride in bytes)` of a video frame.
    pub(crate) fn video_size(&self) -> Result<(usize, usize, usize), RsError> {
        // SAFETY: handle (`self`: a live frame; not a video frame is an error reported through
        // `e`); err.
        let w = call(|e| unsafe { sys::rs2_get_frame_width(self.ptr(), e) })?;
        // SAFETY: handle (`self`: a live frame); err.
        let h = call(|e| unsafe { sys::rs2_get_frame_height(self.ptr(), e) })?;
        // SAFETY: handle (`self`: a live frame); err.
        let s = call(|e| unsafe { sys::rs2_get_frame_stride_in_bytes(self.ptr(), e) })?;
        if w <= 0 || h <= 0 || s < w {
            return Err(RsError::local(
                "rs2_get_frame_width",
                format!("bad frame geometry {w}x{h} stride {s}"),
            ));
        }
        Ok((w as usize, h as usize, s as usize))
    }

    /// Metres per unit of a depth frame.
    pub(crate) fn depth_units(&self) -> Result<f32, RsError> {
        // SAFETY: handle (`self`: a live frame; not a depth frame is an error reported through
        // `e`); err.
        call(|e| unsafe { sys::rs2_depth_frame_get_units(self.ptr(), e) })
    }

    /// Pinhole intrinsics of a video frame's stream: `(fx, fy, ppx, ppy)`.
    pub(crate) fn intrinsics(&self) -> Result<(f32, f32, f32, f32), RsError> {
        let p = self.profile()?;
        // SAFETY: `rs2_intrinsics` is a C struct of ints, floats and a C enum (an int): all
        // zero bits is a valid value of it (overwritten below).
        let mut k: sys::rs2_intrinsics = unsafe { std::mem::zeroed() };
        // SAFETY: `p` is the profile of `self`, alive while the frame is; out: `k` is a local
        // `rs2_intrinsics`; err.
        call(|e| unsafe { sys::rs2_get_video_stream_intrinsics(p, &mut k, e) })?;
        Ok((k.fx, k.fy, k.ppx, k.ppy))
    }
}

owned!(
    ProfileList,
    sys::rs2_stream_profile_list,
    sys::rs2_delete_stream_profiles_list
);

/// One stream profile a sensor offers (valid while its [`ProfileList`] lives).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProfileDesc {
    pub ptr: *const sys::rs2_stream_profile,
    pub stream: sys::rs2_stream,
    pub format: sys::rs2_format,
    pub fps: i32,
    pub width: i32,
    pub height: i32,
}

impl Context {
    /// Opens a recording as a playback device.
    pub(crate) fn add_playback(&self, file: &str) -> Result<Device, RsError> {
        let f = c_path(file)?;
        // SAFETY: handle (`self`: a live context); out: `f` is a CString alive for the call; err.
        // The device is owned by `Device` below.
        let d = call(|e| unsafe { sys::rs2_context_add_device(self.ptr(), f.as_ptr(), e) })?;
        Ok(Device(nonnull(d, "rs2_context_add_device")?))
    }

    /// The connected device with `serial`, or the first one.
    pub(crate) fn device(&self, serial: Option<&str>) -> Result<Device, RsError> {
        // SAFETY: handle (`self`: a live context); err. The list is owned by `DeviceList` below.
        let list = call(|e| unsafe { sys::rs2_query_devices(self.ptr(), e) })?;
        let list = DeviceList(nonnull(list, "rs2_query_devices")?);
        // SAFETY: handle (`list`: the live device list just made); err.
        let n = call(|e| unsafe { sys::rs2_get_device_count(list.ptr(), e) })?;
        for i in 0..n {
            // SAFETY: handle (`list`), `i` is below its count; err. The device is owned by `Device`
            // below.
            let dev = call(|e| unsafe { sys::rs2_create_device(list.ptr(), i, e) })?;
            let dev = Device(nonnull(dev, "rs2_create_device")?);
            let s = dev.info(sys::rs2_camera_info_RS2_CAMERA_INFO_SERIAL_NUMBER);
            if serial.is_none_or(|want| want == s) {
                return Ok(dev);
            }
        }
        Err(RsError::local(
            "rs2_query_devices",
            match serial {
                Some(s) => format!("no connected RealSense device has serial `{s}`"),
                None => "no RealSense device connected".into(),
            },
        ))
    }
}

impl Sensor {
    /// The stream profiles this sensor offers.
    pub(crate) fn profiles(&self) -> Result<(ProfileList, Vec<ProfileDesc>), RsError> {
        // SAFETY: handle (`self`: a live sensor); err. The list is owned by `ProfileList` below.
        let list = call(|e| unsafe { sys::rs2_get_stream_profiles(self.ptr(), e) })?;
        let list = ProfileList(nonnull(list, "rs2_get_stream_profiles")?);
        // SAFETY: handle (`list`: the live profile list just made); err.
        let n = call(|e| unsafe { sys::rs2_get_stream_profiles_count(list.ptr(), e) })?;
        let mut out = Vec::new();
        for i in 0..n {
            // SAFETY: handle (`list`), `i` is below its count; err. The profile belongs to `list`,
            // which is returned with it.
            let p = call(|e| unsafe { sys::rs2_get_stream_profile(list.ptr(), i, e) })?;
            // SAFETY: `p` belongs to `list`, alive here.
            let (stream, format, _, _, fps) = unsafe { profile_data(p) }?;
            let (mut width, mut height) = (0, 0);
            if stream == sys::rs2_stream_RS2_STREAM_DEPTH
                || stream == sys::rs2_stream_RS2_STREAM_COLOR
            {
                // not a video profile -> error: leave 0x0
                // SAFETY: `p` belongs to `list`, alive here; out: `width` and `height` are
                // local ints; err.
                let _ = call(|e| unsafe {
                    sys::rs2_get_video_stream_resolution(p, &mut width, &mut height, e)
                });
            }
            out.push(ProfileDesc {
                ptr: p,
                stream,
                format,
                fps,
                width,
                height,
            });
        }
        Ok((list, out))
    }

    /// Opens the sensor with `profiles`.
    ///
    /// # Safety
    /// Every pointer in `profiles` is a stream profile of this sensor, from a [`ProfileList`]
    /// that is alive for this call.
    pub(crate) unsafe fn open(
        &self,
        profiles: &[*const sys::rs2_stream_profile],
    ) -> Result<(), RsError> {
        let mut v = profiles.to_vec();
        // SAFETY: handle (`self`: a live sensor); `v` holds `v.len()` profiles, each alive (this
        // function's contract); err.
        call(|e| unsafe { sys::rs2_open_multiple(self.ptr(), v.as_mut_ptr(), v.len() as c_int, e) })
    }

    /// Starts streaming into `cb` (called on librealsense's threads, owning each frame).
    ///
    /// # Safety
    /// `user` must stay valid until [`Sensor::stop`] has returned.
    pub(crate) unsafe fn start(
        &self,
        cb: unsafe extern "C" fn(*mut sys::rs2_frame, *mut std::ffi::c_void),
        user: *mut std::ffi::c_void,
    ) -> Result<(), RsError> {
        // SAFETY: handle (`self`: a live sensor); `cb` is a function of the callback type, valid
        // for the whole program; `user` stays valid until `stop` returns (this function's
        // contract); err.
        call(|e| unsafe { sys::rs2_start(self.ptr(), Some(cb), user, e) })
    }

    /// Stops streaming (waits for running callbacks) and closes the sensor.
    pub(crate) fn stop_close(&self) -> Result<(), RsError> {
        // SAFETY: handle (`self`: a live sensor); err. `rs2_stop` waits for running callbacks.
        let r = call(|e| unsafe { sys::rs2_stop(self.ptr(), e) });
        // SAFETY: handle (`self`: a live sensor); err.
        let c = call(|e| unsafe { sys::rs2_close(self.ptr(), e) });
        r.and(c)
    }

    /// Sets a writable option if the sensor has it; `Ok(false)` when it has not.
    pub(crate) fn set_option(&self, opt: sys::rs2_option, v: f32) -> Result<bool, RsError> {
        let o = self.ptr() as *const sys::rs2_options;
        // SAFETY: handle: `o` is `self`, a live sensor; librealsense's C API takes a sensor as its
        // options object (`rs2_sensor` extends `rs2_options`); `opt` is a plain enum value; err.
        if call(|e| unsafe { sys::rs2_supports_option(o, opt, e) })? == 0
            // SAFETY: as for `rs2_supports_option` just above.
            || call(|e| unsafe { sys::rs2_is_option_read_only(o, opt, e) })? != 0
        {
            return Ok(false);
        }
        // SAFETY: handle (`o`: `self`, a live sensor, as its options object); err.
        call(|e| unsafe { sys::rs2_set_option(o, opt, v, e) })?;
        Ok(true)
    }
}
