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

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: librealsense returns NUL-terminated strings that live at least as long as the error.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Runs `f(&mut err)` and converts a set error into [`RsError`] (freeing it).
/// `(stream, format, index, unique id, fps)` of a stream profile.
fn profile_data(
    p: *const sys::rs2_stream_profile,
) -> Result<(sys::rs2_stream, sys::rs2_format, c_int, c_int, c_int), RsError> {
    let (mut stream, mut format, mut index, mut uid, mut fps) = (0, 0, 0, 0, 0);
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

pub(crate) fn call<T>(f: impl FnOnce(*mut *mut sys::rs2_error) -> T) -> Result<T, RsError> {
    let mut err: *mut sys::rs2_error = null_mut();
    let r = f(&mut err);
    if err.is_null() {
        return Ok(r);
    }
    // SAFETY: err is a valid error object returned by librealsense; freed exactly once here.
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
        // SAFETY: librealsense objects are internally synchronised and may move between threads.
        unsafe impl Send for $name {}
        impl Drop for $name {
            fn drop(&mut self) {
                // SAFETY: we own the object; deleted exactly once.
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
        let p = call(|e| unsafe { sys::rs2_create_context(sys::RS2_API_VERSION as c_int, e) })?;
        Ok(Context(nonnull(p, "rs2_create_context")?))
    }

    /// `(name, serial)` of every connected device.
    pub(crate) fn devices(&self) -> Result<Vec<(String, String)>, RsError> {
        let list = call(|e| unsafe { sys::rs2_query_devices(self.ptr(), e) })?;
        let list = DeviceList(nonnull(list, "rs2_query_devices")?);
        let n = call(|e| unsafe { sys::rs2_get_device_count(list.ptr(), e) })?;
        let mut out = Vec::new();
        for i in 0..n {
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
        match call(|e| unsafe { sys::rs2_supports_device_info(self.ptr(), what, e) }) {
            Ok(1) => call(|e| unsafe { sys::rs2_get_device_info(self.ptr(), what, e) })
                .map(cstr)
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The device's sensors.
    pub(crate) fn sensors(&self) -> Result<Vec<Sensor>, RsError> {
        let list = call(|e| unsafe { sys::rs2_query_sensors(self.ptr(), e) })?;
        let list = SensorList(nonnull(list, "rs2_query_sensors")?);
        let n = call(|e| unsafe { sys::rs2_get_sensors_count(list.ptr(), e) })?;
        (0..n)
            .map(|i| {
                let s = call(|e| unsafe { sys::rs2_create_sensor(list.ptr(), i, e) })?;
                Ok(Sensor(nonnull(s, "rs2_create_sensor")?))
            })
            .collect()
    }
}

impl Device {
    /// Playback devices: real-time (1) or as fast as consumed (0).
    pub(crate) fn set_real_time(&self, on: bool) -> Result<(), RsError> {
        call(|e| unsafe { sys::rs2_playback_device_set_real_time(self.ptr(), on as c_int, e) })
    }

    /// Playback devices: pause (`true`) or resume reading the file.
    pub(crate) fn set_paused(&self, paused: bool) -> Result<(), RsError> {
        if paused {
            call(|e| unsafe { sys::rs2_playback_device_pause(self.ptr(), e) })
        } else {
            call(|e| unsafe { sys::rs2_playback_device_resume(self.ptr(), e) })
        }
    }

    /// Playback devices: true once the recording has been played to its end.
    pub(crate) fn playback_stopped(&self) -> Result<bool, RsError> {
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
        match call(|e| unsafe { sys::rs2_is_frame_extendable_to(self.ptr(), ext, e) }) {
            Ok(1) => call(|e| unsafe { sys::rs2_embedded_frames_count(self.ptr(), e) })
                .map(|n| n.max(0) as usize)
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// A second handle to the same frame (one more reference).
    pub(crate) fn add_ref(&self) -> Result<Frame, RsError> {
        call(|e| unsafe { sys::rs2_frame_add_ref(self.ptr(), e) })?;
        Ok(Frame(self.0))
    }

    /// The `i`-th frame of a frameset (owned: a new reference).
    pub(crate) fn extract(&self, i: usize) -> Result<Frame, RsError> {
        let f = call(|e| unsafe { sys::rs2_extract_frame(self.ptr(), i as c_int, e) })?;
        Ok(Frame(nonnull(f, "rs2_extract_frame")?))
    }

    fn profile(&self) -> Result<*const sys::rs2_stream_profile, RsError> {
        call(|e| unsafe { sys::rs2_get_frame_stream_profile(self.ptr(), e) })
    }

    pub(crate) fn kind(&self) -> Result<FrameKind, RsError> {
        let p = self.profile()?;
        let (stream, format, _, _, _) = profile_data(p)?;
        Ok(FrameKind { stream, format })
    }

    /// Timestamp, ms, and whether its domain is the device's hardware clock.
    pub(crate) fn timestamp_ms(&self) -> Result<f64, RsError> {
        call(|e| unsafe { sys::rs2_get_frame_timestamp(self.ptr(), e) })
    }

    /// The frame's bytes.
    pub(crate) fn data(&self) -> Result<&[u8], RsError> {
        let p = call(|e| unsafe { sys::rs2_get_frame_data(self.ptr(), e) })?;
        let n = call(|e| unsafe { sys::rs2_get_frame_data_size(self.ptr(), e) })?;
        if p.is_null() || n <= 0 {
            return Err(RsError::local("rs2_get_frame_data", "empty frame"));
        }
        // SAFETY: librealsense keeps the buffer alive while we hold the frame reference.
        Ok(unsafe { std::slice::from_raw_parts(p as *const u8, n as usize) })
    }

    /// `(width, height, stride in bytes)` of a video frame.
    pub(crate) fn video_size(&self) -> Result<(usize, usize, usize), RsError> {
        let w = call(|e| unsafe { sys::rs2_get_frame_width(self.ptr(), e) })?;
        let h = call(|e| unsafe { sys::rs2_get_frame_height(self.ptr(), e) })?;
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
        call(|e| unsafe { sys::rs2_depth_frame_get_units(self.ptr(), e) })
    }

    /// Pinhole intrinsics of a video frame's stream: `(fx, fy, ppx, ppy)`.
    pub(crate) fn intrinsics(&self) -> Result<(f32, f32, f32, f32), RsError> {
        let p = self.profile()?;
        // SAFETY: rs2_intrinsics is plain data; zeroed is a valid value to be overwritten.
        let mut k: sys::rs2_intrinsics = unsafe { std::mem::zeroed() };
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
        let d = call(|e| unsafe { sys::rs2_context_add_device(self.ptr(), f.as_ptr(), e) })?;
        Ok(Device(nonnull(d, "rs2_context_add_device")?))
    }

    /// The connected device with `serial`, or the first one.
    pub(crate) fn device(&self, serial: Option<&str>) -> Result<Device, RsError> {
        let list = call(|e| unsafe { sys::rs2_query_devices(self.ptr(), e) })?;
        let list = DeviceList(nonnull(list, "rs2_query_devices")?);
        let n = call(|e| unsafe { sys::rs2_get_device_count(list.ptr(), e) })?;
        for i in 0..n {
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
        let list = call(|e| unsafe { sys::rs2_get_stream_profiles(self.ptr(), e) })?;
        let list = ProfileList(nonnull(list, "rs2_get_stream_profiles")?);
        let n = call(|e| unsafe { sys::rs2_get_stream_profiles_count(list.ptr(), e) })?;
        let mut out = Vec::new();
        for i in 0..n {
            let p = call(|e| unsafe { sys::rs2_get_stream_profile(list.ptr(), i, e) })?;
            let (stream, format, _, _, fps) = profile_data(p)?;
            let (mut width, mut height) = (0, 0);
            if stream == sys::rs2_stream_RS2_STREAM_DEPTH
                || stream == sys::rs2_stream_RS2_STREAM_COLOR
            {
                // not a video profile -> error: leave 0x0
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
    pub(crate) fn open(&self, profiles: &[*const sys::rs2_stream_profile]) -> Result<(), RsError> {
        let mut v = profiles.to_vec();
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
        call(|e| unsafe { sys::rs2_start(self.ptr(), Some(cb), user, e) })
    }

    /// Stops streaming (waits for running callbacks) and closes the sensor.
    pub(crate) fn stop_close(&self) -> Result<(), RsError> {
        let r = call(|e| unsafe { sys::rs2_stop(self.ptr(), e) });
        let c = call(|e| unsafe { sys::rs2_close(self.ptr(), e) });
        r.and(c)
    }

    /// Sets a writable option if the sensor has it; `Ok(false)` when it has not.
    pub(crate) fn set_option(&self, opt: sys::rs2_option, v: f32) -> Result<bool, RsError> {
        let o = self.ptr() as *const sys::rs2_options;
        if call(|e| unsafe { sys::rs2_supports_option(o, opt, e) })? == 0
            || call(|e| unsafe { sys::rs2_is_option_read_only(o, opt, e) })? != 0
        {
            return Ok(false);
        }
        call(|e| unsafe { sys::rs2_set_option(o, opt, v, e) })?;
        Ok(true)
    }
}
