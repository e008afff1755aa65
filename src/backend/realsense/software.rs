//! Synthetic librealsense recordings, made without a camera.
//!
//! librealsense's *software device* (`rs_internal.h`) accepts frames injected by the program; a
//! *record device* wrapped around it writes everything that streams into a real `.bag` file, the
//! same format a D435i recording has. [`BagWriter`] records depth, color and motion frames with
//! exactly the values and timestamps you give it, so tests (and demos) can play a recording
//! through [`super::RealsenseBackend`] and check every value that comes out.
//!
//! `realsense-sys` has no bindings for `rs_internal.h`; the few functions and structs used here are
//! declared in [`super::sys`] from the librealsense 2.56 header.
//!
//! The `SAFETY` comments name the invariants of [`super::ffi`] (**handle**, **err**, **out**).
//! The writer also keeps raw pointers to its software sensors (`Stream::sensor`) and their
//! stream profiles: the sensors are owned by `BagWriter::sw_sensors` and the profiles by those
//! sensors, and both live as long as the writer (its `Drop` deletes them last).

// Unsafe code: librealsense's software-device API (frames handed over with C deleters and a
// C frame callback).
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::sys;

use super::ffi::{c_path, call, load_library, Device, RsError, Sensor};

/// A synthetic video stream: geometry, rate and pinhole intrinsics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthVideo {
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// Frame rate, Hz.
    pub fps: u32,
    /// `(fx, fy, ppx, ppy)`, px.
    pub intrinsics: (f32, f32, f32, f32),
}

/// Which streams a synthetic recording has.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthStreams {
    /// Depth (Z16) and its metres per unit.
    pub depth: Option<(SynthVideo, f32)>,
    /// Color (RGB8).
    pub color: Option<SynthVideo>,
    /// Motion: `(gyro_hz, accel_hz)`.
    pub imu: Option<(u32, u32)>,
}

struct Stream {
    sensor: NonNull<sys::rs2_sensor>,
    profile: *const sys::rs2_stream_profile,
    frame_number: c_int,
}

/// Records injected frames into a librealsense `.bag` (see the module docs).
pub struct BagWriter {
    // drop order: record sensors, record device, software sensors, software device
    rec_sensors: Vec<Sensor>,
    rec: Option<Device>,
    depth: Option<Stream>,
    color: Option<Stream>,
    gyro: Option<Stream>,
    accel: Option<Stream>,
    sw_sensors: Vec<Sensor>,
    _dev: Device,
    path: String,
    /// Frames that went through the recorder (counted by its callback).
    delivered: Box<AtomicU64>,
    pushed: u64,
}

unsafe extern "C" fn free_buffer(p: *mut c_void) {
    // SAFETY: librealsense calls a frame's deleter once, with the buffer it was given, and every
    // buffer given with this deleter (`pixels`/`data` below) comes from `malloc_copy`, i.e.
    // `libc::malloc`, and is not used by us after the hand-over.
    unsafe { libc::free(p) }
}

unsafe extern "C" fn release_frame(f: *mut sys::rs2_frame, user: *mut c_void) {
    // SAFETY: librealsense hands the callback one reference to `f`, released here exactly once;
    // `user` is the writer's boxed counter `delivered` (a stable address), which outlives the
    // record sensors: `finish` and `Drop` stop them (waiting for running callbacks) before the
    // box is dropped.
    unsafe {
        sys::rs2_release_frame(f);
        (*(user as *const AtomicU64)).fetch_add(1, Ordering::AcqRel);
    }
}

fn malloc_copy(bytes: &[u8]) -> Result<*mut c_void, RsError> {
    // SAFETY: `malloc` returns null (checked) or a fresh buffer of `bytes.len().max(1)` bytes,
    // which cannot overlap `bytes`; exactly `bytes.len()` bytes are copied into it.
    unsafe {
        let p = libc::malloc(bytes.len().max(1));
        if p.is_null() {
            return Err(RsError::local("malloc", "out of memory"));
        }
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p as *mut u8, bytes.len());
        Ok(p)
    }
}

fn zero_motion_intrinsics() -> sys::rs2_motion_device_intrinsic {
    // identity scale, no bias
    sys::rs2_motion_device_intrinsic {
        data: [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ],
        noise_variances: [0.0; 3],
        bias_variances: [0.0; 3],
    }
}

/// Timestamps of periodic streams merged in the order a device delivers them: `(t_ms, stream,
/// n)` for stream `s` at `t0_ms + n * periods_ms[s]`, up to `end_ms` inclusive; equal stamps go
/// lower stream index first. For recording synthetic bags (tests, benches).
pub fn merged_schedule(t0_ms: f64, end_ms: f64, periods_ms: &[f64]) -> Vec<(f64, usize, usize)> {
    let mut events = Vec::new();
    for (s, &dt) in periods_ms.iter().enumerate() {
        if dt <= 0.0 || !dt.is_finite() {
            continue;
        }
        let mut n = 0;
        while t0_ms + dt * n as f64 <= end_ms {
            events.push((t0_ms + dt * n as f64, s, n));
            n += 1;
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    events
}

impl BagWriter {
    /// Creates the software device with `streams`, wraps it in a recorder writing `path`, and
    /// starts streaming. Frames given to the `push_*` methods are recorded as they are.
    pub fn create(path: &Path, streams: SynthStreams) -> Result<BagWriter, RsError> {
        let path_s = path.display().to_string();
        load_library()?;
        // SAFETY: err; the library is loaded (`load_library` above); no other argument. The
        // device is owned by `Device` below.
        let dev = call(|e| unsafe { sys::rs2_create_software_device(e) })?;
        let dev = Device(
            NonNull::new(dev)
                .ok_or_else(|| RsError::local("rs2_create_software_device", "null"))?,
        );
        let dev_ptr = dev.ptr();
        for (info, val) in [
            (
                sys::rs2_camera_info_RS2_CAMERA_INFO_NAME,
                "sattva synthetic D4xx",
            ),
            (
                sys::rs2_camera_info_RS2_CAMERA_INFO_SERIAL_NUMBER,
                "000000000000",
            ),
        ] {
            let v = c_path(val)?;
            // SAFETY: handle (`dev_ptr` is the software device owned by `dev`, alive here);
            // out: `v` is a CString alive for the call; err.
            call(|e| unsafe {
                sys::rs2_software_device_register_info(dev_ptr, info, v.as_ptr(), e)
            })?;
        }
        let mut sw_sensors = Vec::new();
        let mut add_sensor = |name: &str| -> Result<NonNull<sys::rs2_sensor>, RsError> {
            let n = c_path(name)?;
            // SAFETY: handle (`dev_ptr`: the live software device); out: `n` is a CString alive
            // for the call; err. The sensor is owned by the `Sensor` pushed below.
            let s =
                call(|e| unsafe { sys::rs2_software_device_add_sensor(dev_ptr, n.as_ptr(), e) })?;
            let s = NonNull::new(s)
                .ok_or_else(|| RsError::local("rs2_software_device_add_sensor", "null"))?;
            sw_sensors.push(Sensor(s));
            Ok(s)
        };
        let video = |sensor: NonNull<sys::rs2_sensor>,
                     kind,
                     uid,
                     v: SynthVideo,
                     bpp,
                     fmt|
         -> Result<Stream, RsError> {
            let st = sys::Rs2VideoStream {
                kind,
                index: 0,
                uid,
                width: v.width as c_int,
                height: v.height as c_int,
                fps: v.fps as c_int,
                bpp,
                fmt,
                intrinsics: sys::rs2_intrinsics {
                    width: v.width as c_int,
                    height: v.height as c_int,
                    ppx: v.intrinsics.2,
                    ppy: v.intrinsics.3,
                    fx: v.intrinsics.0,
                    fy: v.intrinsics.1,
                    model: sys::rs2_distortion_RS2_DISTORTION_NONE,
                    coeffs: [0.0; 5],
                },
            };
            // SAFETY: `sensor` was just added to the live software device and is owned by
            // `sw_sensors`; `st` is passed by value; err. The profile belongs to the sensor.
            let profile = call(|e| unsafe {
                sys::rs2_software_sensor_add_video_stream(sensor.as_ptr(), st, e)
            })?;
            Ok(Stream {
                sensor,
                profile,
                frame_number: 0,
            })
        };
        let mut w = BagWriter {
            rec_sensors: Vec::new(),
            rec: None,
            depth: None,
            color: None,
            gyro: None,
            accel: None,
            sw_sensors: Vec::new(),
            _dev: dev,
            path: path_s.clone(),
            delivered: Box::new(AtomicU64::new(0)),
            pushed: 0,
        };
        if let Some((v, units)) = streams.depth {
            let s = add_sensor("Stereo Module")?;
            // SAFETY: `s` is the software sensor just added (owned by `sw_sensors`); the option
            // id and value are plain values; err.
            call(|e| unsafe {
                sys::rs2_software_sensor_add_read_only_option(
                    s.as_ptr(),
                    sys::rs2_option_RS2_OPTION_DEPTH_UNITS,
                    units,
                    e,
                )
            })?;
            w.depth = Some(video(
                s,
                sys::rs2_stream_RS2_STREAM_DEPTH,
                1,
                v,
                2,
                sys::rs2_format_RS2_FORMAT_Z16,
            )?);
        }
        if let Some(v) = streams.color {
            let s = add_sensor("RGB Camera")?;
            w.color = Some(video(
                s,
                sys::rs2_stream_RS2_STREAM_COLOR,
                2,
                v,
                3,
                sys::rs2_format_RS2_FORMAT_RGB8,
            )?);
        }
        if let Some((gyro_hz, accel_hz)) = streams.imu {
            let s = add_sensor("Motion Module")?;
            let motion = |kind, uid, fps: u32| -> Result<Stream, RsError> {
                let st = sys::Rs2MotionStream {
                    kind,
                    index: 0,
                    uid,
                    fps: fps as c_int,
                    fmt: sys::rs2_format_RS2_FORMAT_MOTION_XYZ32F,
                    intrinsics: zero_motion_intrinsics(),
                };
                // SAFETY: `s` is the software sensor just added (owned by `sw_sensors`); `st` is
                // passed by value; err. The profile belongs to the sensor.
                let profile = call(|e| unsafe {
                    sys::rs2_software_sensor_add_motion_stream(s.as_ptr(), st, e)
                })?;
                Ok(Stream {
                    sensor: s,
                    profile,
                    frame_number: 0,
                })
            };
            w.gyro = Some(motion(sys::rs2_stream_RS2_STREAM_GYRO, 3, gyro_hz)?);
            w.accel = Some(motion(sys::rs2_stream_RS2_STREAM_ACCEL, 4, accel_hz)?);
        }
        w.sw_sensors = sw_sensors;
        // The recorder, then open + start all of its sensors with every profile.
        let p = c_path(&path_s)?;
        // SAFETY: handle (`w._dev`: the live software device); out: `p` is a CString alive for
        // the call; err. The record device is owned by `Device` below.
        let rec =
            call(|e| unsafe { sys::rs2_create_record_device_ex(w._dev.ptr(), p.as_ptr(), 0, e) })?;
        let rec = Device(
            NonNull::new(rec)
                .ok_or_else(|| RsError::local("rs2_create_record_device_ex", "null"))?,
        );
        for s in rec.sensors()? {
            // SAFETY: handle (`s`: a live sensor of the record device); err. The list is
            // deleted below, once.
            let list = call(|e| unsafe { sys::rs2_get_stream_profiles(s.ptr(), e) })?;
            // SAFETY: `list` is the live list just returned; err.
            let n = call(|e| unsafe { sys::rs2_get_stream_profiles_count(list, e) })?;
            let mut profiles: Vec<*const sys::rs2_stream_profile> = Vec::new();
            for i in 0..n {
                // SAFETY: `list` is alive and `i` below its count; err. The profile belongs to
                // `list`.
                profiles.push(call(|e| unsafe {
                    sys::rs2_get_stream_profile(list, i, e)
                })?);
            }
            // SAFETY: handle (`s`); `profiles` holds `n` profiles of `s` from `list`, still
            // alive (deleted after this call); err.
            let opened =
                call(|e| unsafe { sys::rs2_open_multiple(s.ptr(), profiles.as_mut_ptr(), n, e) });
            // SAFETY: `list` came from `rs2_get_stream_profiles` above and is deleted exactly
            // once, here; neither it nor `profiles` is used afterwards (an opened sensor holds
            // its own references to its profiles).
            unsafe { sys::rs2_delete_stream_profiles_list(list) };
            opened?;
            let user = &*w.delivered as *const AtomicU64 as *mut c_void;
            // SAFETY: handle (`s`: an opened record sensor); `release_frame` has the callback
            // type and releases every frame it gets; `user` points into the box `delivered`,
            // which outlives the record sensors (`finish`/`Drop` stop them first); err.
            call(|e| unsafe { sys::rs2_start(s.ptr(), Some(release_frame), user, e) })?;
            w.rec_sensors.push(s);
        }
        w.rec = Some(rec);
        Ok(w)
    }

    fn video_frame(
        stream: &mut Option<Stream>,
        what: &str,
        t_ms: f64,
        bytes: &[u8],
        stride: usize,
        bpp: usize,
    ) -> Result<(), RsError> {
        let s = stream
            .as_mut()
            .ok_or_else(|| RsError::local(what, "stream not enabled in this recording"))?;
        let pixels = malloc_copy(bytes)?;
        s.frame_number += 1;
        let f = sys::Rs2SoftwareVideoFrame {
            pixels,
            deleter: Some(free_buffer),
            stride: stride as c_int,
            bpp: bpp as c_int,
            timestamp: t_ms,
            domain: sys::rs2_timestamp_domain_RS2_TIMESTAMP_DOMAIN_HARDWARE_CLOCK,
            frame_number: s.frame_number,
            profile: s.profile,
            depth_units: 0.0,
        };
        // SAFETY: `s.sensor` is a software sensor of this writer and `f.profile` its stream's
        // profile, both alive while the writer is (module docs); `f.pixels` is a `malloc`ed
        // buffer that librealsense now owns and frees with `free_buffer`; err.
        call(|e| unsafe { sys::rs2_software_sensor_on_video_frame(s.sensor.as_ptr(), f, e) })
    }

    /// Waits until the recorder has passed on every injected frame: the software sensor's frame
    /// pool is small and frames injected faster than the recorder takes them are dropped.
    fn settle(&mut self) -> Result<(), RsError> {
        self.pushed += 1;
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.delivered.load(Ordering::Acquire) < self.pushed {
            if Instant::now() > deadline {
                return Err(RsError::local(
                    "record",
                    format!(
                        "the recorder took {} of {} frames within 5 s",
                        self.delivered.load(Ordering::Acquire),
                        self.pushed
                    ),
                ));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        Ok(())
    }

    /// Records a depth frame (row-major Z16, `width * height` values) stamped `t_ms`.
    pub fn push_depth(&mut self, t_ms: f64, z16: &[u16], width: u32) -> Result<(), RsError> {
        let bytes: Vec<u8> = z16.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::video_frame(
            &mut self.depth,
            "depth",
            t_ms,
            &bytes,
            width as usize * 2,
            2,
        )
    }

    /// Records a color frame (row-major RGB8) stamped `t_ms`.
    pub fn push_color(&mut self, t_ms: f64, rgb: &[u8], width: u32) -> Result<(), RsError> {
        Self::video_frame(&mut self.color, "color", t_ms, rgb, width as usize * 3, 3)?;
        self.settle()
    }

    fn motion(
        stream: &mut Option<Stream>,
        what: &str,
        t_ms: f64,
        v: [f32; 3],
    ) -> Result<(), RsError> {
        let s = stream
            .as_mut()
            .ok_or_else(|| RsError::local(what, "stream not enabled in this recording"))?;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let data = malloc_copy(&bytes)?;
        s.frame_number += 1;
        let f = sys::Rs2SoftwareMotionFrame {
            data,
            deleter: Some(free_buffer),
            timestamp: t_ms,
            domain: sys::rs2_timestamp_domain_RS2_TIMESTAMP_DOMAIN_HARDWARE_CLOCK,
            frame_number: s.frame_number,
            profile: s.profile,
        };
        // SAFETY: as for video frames: sensor and profile live with the writer; `f.data` is a
        // `malloc`ed buffer of 3 floats that librealsense now owns (freed by `free_buffer`);
        // err.
        call(|e| unsafe { sys::rs2_software_sensor_on_motion_frame(s.sensor.as_ptr(), f, e) })
    }

    /// Records a gyro sample (rad/s, librealsense axes) stamped `t_ms`.
    pub fn push_gyro(&mut self, t_ms: f64, w: [f32; 3]) -> Result<(), RsError> {
        Self::motion(&mut self.gyro, "gyro", t_ms, w)?;
        self.settle()
    }

    /// Records an accelerometer sample (m/s^2, librealsense axes) stamped `t_ms`.
    pub fn push_accel(&mut self, t_ms: f64, a: [f32; 3]) -> Result<(), RsError> {
        Self::motion(&mut self.accel, "accel", t_ms, a)?;
        self.settle()
    }

    /// Stops streaming and closes the file.
    pub fn finish(mut self) -> Result<String, RsError> {
        for s in &self.rec_sensors {
            // SAFETY: handle (`s`: a live record sensor); err. `rs2_stop` waits for running
            // callbacks.
            call(|e| unsafe { sys::rs2_stop(s.ptr(), e) })?;
            // SAFETY: handle (`s`), stopped; err.
            call(|e| unsafe { sys::rs2_close(s.ptr(), e) })?;
        }
        self.rec_sensors.clear();
        self.rec = None; // the recorder writes the file when deleted
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for BagWriter {
    fn drop(&mut self) {
        // not finished (an error, or a writer dropped early): stop the record sensors first,
        // so no callback can run once `delivered` is gone (after `finish` there are none)
        for s in &self.rec_sensors {
            let _ = s.stop_close();
        }
        self.rec_sensors.clear();
        self.rec = None;
        self.depth = None;
        self.color = None;
        self.gyro = None;
        self.accel = None;
        // software sensors are owned by `sw_sensors`, then the device
        self.sw_sensors.clear();
    }
}
