//! Intel RealSense camera backend (D435i, D455, ...): depth, color and IMU from a live device or
//! from a librealsense recording (`.bag`), behind the [`crate::backend::Backend`] trait.
//!
//! ```text
//!  librealsense callback threads (non-RT)                 control task (RT)       camera-rate task
//!  motion sensor: gyro, accel --> ImuCombiner --> [IMU ring] --> read(): one Imu per call
//!  depth + color sensors -------> pair by stamp --> [RGB-D ring] ---------------> RealsenseCamera
//!  device thread: watchdog, end of recording, reconnect with backoff
//! ```
//! - Sensor-level streaming, as realsense-ros does: every sensor of the device (or of the
//!   playback device) is opened with the hardware profile's streams and delivers each frame to a
//!   callback. `rs2_pipeline` is not used: its syncer folds motion frames into video framesets and
//!   loses most of them, and it stalls in non-real-time playback.
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
//!   degrees per minute on a BMI055 even after bias estimation at rest). A visual heading aid
//!   from the camera comes with the vision stage.
//! - Playback (`realsense.playback`) is non-real-time by default: librealsense delivers frames as
//!   fast as the consumers take them and nothing is dropped (the callbacks wait for ring space),
//!   so a recording always gives the same samples. Its end is detected when every frame counted
//!   in the bag's index ([`bag`]) has been delivered.
//! - librealsense is not linked but opened when the backend is configured, isolated with
//!   `RTLD_LOCAL | RTLD_DEEPBIND` (`sys.rs`: why, and where the library is looked for), so the
//!   Fast DDS embedded in some librealsense builds cannot clash with ROS 2's in the same process.
//! - Failures: a device that disappears or frames that stop for `watchdog_timeout_ms` make `read`
//!   return [`crate::backend::BackendError::Disconnected`] (once per loss with its cause, then
//!   while the link stays down); the control loop holds (the safe state) while the device thread
//!   reopens the device with exponential backoff. The end of a recording is reported the same
//!   way, for good.

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
mod sys;

#[cfg(feature = "realsense")]
pub use device::{LinkState, RealsenseBackend, RealsenseCamera, StreamStats};
#[cfg(feature = "realsense")]
pub use ffi::RsError;

/// RealSense frames (feature `realsense`): the backend's camera end, newest frame first (older
/// ready frames are skipped: the vision task works at its own rate and never queues up).
#[cfg(feature = "realsense")]
impl crate::vision::task::FrameSource for RealsenseCamera {
    fn grab(
        &mut self,
        _t: crate::types::Time,
        out: &mut crate::types::RgbdFrame,
    ) -> Result<bool, String> {
        let mut got = false;
        while self.try_recv(out) {
            got = true;
        }
        Ok(got)
    }
}
