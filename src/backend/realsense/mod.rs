//! Intel RealSense camera backend (D435i, D455, ...): depth, color and IMU from a live device or
//! from a librealsense recording (`.bag`), behind the [`crate::backend::Backend`] trait.
//!
//! ```text
//!  device thread (non-RT, owns librealsense)          control task (RT)          camera-rate task
//!  pipeline.try_wait ─┬─ gyro/accel ─> ImuCombiner ─> [IMU ring] ─> read(): one Imu per call
//!                     └─ depth+color ─> RgbdFrame pool ──────────> [RGB-D ring] ─> RealsenseCamera
//! ```
//! - The RT side never touches librealsense: `read` pops one combined IMU sample from a wait-free
//!   SPSC ring (no allocation, no lock, no syscall besides `clock_gettime`).
//! - Gyro and accel arrive as separate motion streams at different rates; [`imu_sync`] emits one
//!   sample per gyro sample with the accel linearly interpolated to its timestamp.
//! - Timestamps: see [`clock`] (live: device time mapped onto `CLOCK_MONOTONIC`; playback: the
//!   recorded times, unchanged).
//! - Axes: librealsense reports motion in the camera's optical axes (x right, y down, z forward);
//!   frames carry REP-103 body axes (x forward, y left, z up): `(z, -x, -y)`.
//! - No magnetometer on any D4xx: [`crate::backend::BackendInfo::has_magnetometer`] is false and
//!   `Imu::mag` is `None`. Roll and pitch are observable from gravity, **yaw is not**: an
//!   orientation filter integrates the gyro for yaw, so yaw drifts with the gyro bias (typically
//!   a few degrees per minute on a BMI055 after bias estimation at rest). A visual heading aid
//!   from the camera comes with the vision stage.
//! - Failure handling: a device that disappears or frames that stop for `watchdog_timeout_ms`
//!   make `read` return [`crate::backend::BackendError::Disconnected`] (the loop holds: the safe
//!   state), while the device thread retries with exponential backoff. The end of a recording is
//!   reported the same way, without retries.

pub mod bag;
pub mod clock;
pub mod config;
pub mod imu_sync;

#[cfg(feature = "realsense")]
mod device;
#[cfg(feature = "realsense")]
mod ffi;
#[cfg(feature = "realsense")]
pub mod software;

#[cfg(feature = "realsense")]
pub use device::{LinkState, RealsenseBackend, RealsenseCamera, StreamStats};
#[cfg(feature = "realsense")]
pub use ffi::RsError;
