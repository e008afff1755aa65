//! Configuration of the RealSense backend: the `realsense:` config section (ROS 2 params) and the
//! camera's hardware profile (`hardware/d435i.yaml`, plain YAML: resolutions, rates, depth units,
//! IMU rates).
//!
//! Always compiled (without the `realsense` feature too) so config files and profiles validate
//! everywhere.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// The `realsense:` section of the config (ROS 2 parameters; absent keys take the defaults).
///
/// ```yaml
/// realsense:
///   profile: ../hardware/d435i.yaml   # relative to the config file
///   serial: "f1234567"                # absent = the first RealSense found
///   playback: ../data/run1.bag         # absent = live device; present = play this recording
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealsenseConfig {
    /// Hardware profile file (streams and rates), relative to the config file.
    pub profile: String,
    /// Serial number of the device to open; absent = the first device found.
    pub serial: Option<String>,
    /// A librealsense recording (`.bag`) to play instead of a live device. Played in
    /// non-real-time mode: every frame is delivered, as fast as the consumers take them.
    pub playback: Option<String>,
    /// Play the recording at its recorded pace instead of as fast as consumed (the default,
    /// lossless and deterministic). Paced playback behaves like a device: frames may be dropped,
    /// the watchdog applies, and a recording whose frames did not all arrive is reopened.
    pub playback_real_time: bool,
    /// Frames that stop arriving for this long make the device count as lost, ms.
    pub watchdog_timeout_ms: u64,
    /// First delay before trying to reopen a lost device, ms (doubles up to the maximum).
    pub reconnect_initial_ms: u64,
    /// Longest delay between reconnection attempts, ms.
    pub reconnect_max_ms: u64,
    /// How long `activate` waits for the streams to start, ms.
    pub start_timeout_ms: u64,
    /// IMU samples buffered between the device thread and the control task.
    pub imu_queue: u32,
    /// Most IMU samples the control task may lag behind: older ones are skipped (and counted).
    pub imu_max_backlog: u32,
    /// RGB-D frames buffered between the device thread and the camera-rate task.
    pub rgbd_queue: u32,
}

impl Default for RealsenseConfig {
    fn default() -> Self {
        Self {
            profile: "../hardware/d435i.yaml".into(),
            serial: None,
            playback: None,
            playback_real_time: false,
            watchdog_timeout_ms: 500,
            reconnect_initial_ms: 100,
            reconnect_max_ms: 5_000,
            start_timeout_ms: 10_000,
            imu_queue: 1024,
            imu_max_backlog: 8,
            rgbd_queue: 4,
        }
    }
}

impl Validate for RealsenseConfig {
    fn validate(&self, c: &mut Checker) {
        c.require(
            !self.profile.is_empty(),
            "profile",
            "empty: expected the path of a hardware profile (e.g. ../hardware/d435i.yaml)",
        );
        if let Some(s) = &self.serial {
            c.require(
                !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric()),
                "serial",
                format!("`{s}`: expected the device's serial number (letters and digits; quote it in YAML)"),
            );
        }
        if let Some(p) = &self.playback {
            c.require(
                !p.is_empty(),
                "playback",
                "empty: expected the path of a .bag recording, or omit the key for a live device",
            );
        }
        c.range_u64("watchdog_timeout_ms", self.watchdog_timeout_ms, 10, 60_000);
        c.range_u64("reconnect_initial_ms", self.reconnect_initial_ms, 1, 60_000);
        c.range_u64("reconnect_max_ms", self.reconnect_max_ms, 1, 600_000);
        c.require(
            self.reconnect_max_ms >= self.reconnect_initial_ms,
            "reconnect_max_ms",
            format!(
                "{} < reconnect_initial_ms ({}): the maximum backoff must not be below the first",
                self.reconnect_max_ms, self.reconnect_initial_ms
            ),
        );
        c.range_u64("start_timeout_ms", self.start_timeout_ms, 100, 600_000);
        c.range_u64("imu_queue", self.imu_queue as u64, 2, 1 << 16);
        c.range_u64("imu_max_backlog", self.imu_max_backlog as u64, 1, 1 << 16);
        c.require(
            self.imu_max_backlog < self.imu_queue,
            "imu_max_backlog",
            format!(
                "{} >= imu_queue ({}): the backlog must fit in the queue",
                self.imu_max_backlog, self.imu_queue
            ),
        );
        c.range_u64("rgbd_queue", self.rgbd_queue as u64, 1, 64);
    }
}

/// Errors while loading a hardware profile. Each names the file and, when known, the key.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{file}: cannot read hardware profile")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid YAML, an unknown key, a wrong type or a value out of range.
    #[error("{file}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Dotted key path (`<top>` for the document).
        key: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// Pixel formats sattva accepts from a RealSense video stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelFormat {
    /// 16-bit depth in device units (see `depth_units_m`).
    Z16,
    /// 8-bit RGB.
    Rgb8,
    /// 8-bit BGR (swapped to RGB on arrival).
    Bgr8,
    /// 8-bit RGBA (alpha dropped on arrival).
    Rgba8,
}

/// One video stream: resolution, rate, format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoStream {
    /// Width, px.
    pub width: u32,
    /// Height, px.
    pub height: u32,
    /// Frame rate, Hz.
    pub fps: u32,
    /// Pixel format.
    pub format: PixelFormat,
}

/// The IMU: gyro and accelerometer are separate motion streams at their own rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImuStreams {
    /// Gyroscope rate, Hz (D435i: 200 or 400).
    pub gyro_hz: u32,
    /// Accelerometer rate, Hz (D435i: 63 or 250; D455: 100 or 200).
    pub accel_hz: u32,
    /// Whether the device has a magnetometer (no D4xx has one).
    #[serde(default)]
    pub magnetometer: bool,
}

/// A camera's hardware profile: which streams to enable, at which resolution and rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareProfile {
    /// Camera model, for logs and checks against the device name (e.g. `D435I`).
    pub model: String,
    /// Depth stream; absent = disabled.
    #[serde(default)]
    pub depth: Option<VideoStream>,
    /// Color stream; absent = disabled. Must have the depth stream's resolution (one RgbdFrame).
    #[serde(default)]
    pub color: Option<VideoStream>,
    /// Metres per depth unit requested from the device (D4xx default 0.001).
    #[serde(default = "default_depth_units")]
    pub depth_units_m: f64,
    /// Motion streams; absent = no IMU.
    #[serde(default)]
    pub imu: Option<ImuStreams>,
}

fn default_depth_units() -> f64 {
    0.001
}

impl HardwareProfile {
    /// Loads and checks a profile file.
    pub fn load(path: &Path) -> Result<HardwareProfile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text, path)
    }

    /// Parses and checks a profile; `path` is used in error messages.
    pub fn from_yaml_str(text: &str, path: &Path) -> Result<HardwareProfile, ProfileError> {
        let invalid = |key: String, message: String| ProfileError::Invalid {
            file: path.to_path_buf(),
            key,
            message,
        };
        let de = serde_norway::Deserializer::from_str(text);
        let p: HardwareProfile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key.is_empty() || key == "." {
                "<top>".to_string()
            } else {
                key
            };
            invalid(key, e.into_inner().to_string())
        })?;
        let mut errors = Vec::new();
        let mut check = |ok: bool, key: &str, msg: String| {
            if !ok {
                errors.push(invalid(key.to_string(), msg));
            }
        };
        check(
            p.depth.is_some() || p.color.is_some() || p.imu.is_some(),
            "<top>",
            "no stream enabled: expected at least one of `depth`, `color`, `imu`".into(),
        );
        for (key, s) in [("depth", &p.depth), ("color", &p.color)] {
            if let Some(s) = s {
                check(
                    (1..=4096).contains(&s.width) && (1..=4096).contains(&s.height),
                    &format!("{key}.width"),
                    format!(
                        "{}x{} out of range: expected 1..4096 each",
                        s.width, s.height
                    ),
                );
                check(
                    (1..=1000).contains(&s.fps),
                    &format!("{key}.fps"),
                    format!("{} out of range: expected 1..1000 Hz", s.fps),
                );
            }
        }
        if let Some(d) = &p.depth {
            check(
                d.format == PixelFormat::Z16,
                "depth.format",
                format!("{:?}: the depth stream must be z16", d.format),
            );
        }
        if let Some(c) = &p.color {
            check(
                c.format != PixelFormat::Z16,
                "color.format",
                "z16: expected rgb8, bgr8 or rgba8".into(),
            );
            if let Some(d) = &p.depth {
                check(
                    (c.width, c.height) == (d.width, d.height),
                    "color.width",
                    format!(
                        "{}x{} differs from depth {}x{}: one RgbdFrame holds both images at one size",
                        c.width, c.height, d.width, d.height
                    ),
                );
            }
        }
        check(
            p.depth_units_m.is_finite() && p.depth_units_m > 0.0 && p.depth_units_m <= 0.01,
            "depth_units_m",
            format!("{} out of range: expected (0, 0.01] m", p.depth_units_m),
        );
        if let Some(i) = &p.imu {
            check(
                (1..=2000).contains(&i.gyro_hz),
                "imu.gyro_hz",
                format!("{} out of range: expected 1..2000 Hz", i.gyro_hz),
            );
            check(
                (1..=2000).contains(&i.accel_hz),
                "imu.accel_hz",
                format!("{} out of range: expected 1..2000 Hz", i.accel_hz),
            );
        }
        match errors.len() {
            0 => Ok(p),
            _ => Err(errors.remove(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D435I: &str = include_str!("../../../hardware/d435i.yaml");
    const D455: &str = include_str!("../../../hardware/d455.yaml");

    fn parse(t: &str) -> Result<HardwareProfile, ProfileError> {
        HardwareProfile::from_yaml_str(t, Path::new("/hw/x.yaml"))
    }

    #[test]
    fn shipped_profiles_load() {
        let p = parse(D435I).unwrap();
        assert_eq!(p.model, "D435I");
        let imu = p.imu.unwrap();
        assert!(!imu.magnetometer);
        assert_eq!((imu.gyro_hz, imu.accel_hz), (400, 250));
        assert_eq!(p.depth.unwrap().format, PixelFormat::Z16);
        let p = parse(D455).unwrap();
        assert_eq!(p.model, "D455");
        assert_eq!(p.imu.unwrap().accel_hz, 200);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse("model: X\ndepth: {width: 8, height: 8, fps: 30, format: z16, fsp: 3}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/hw/x.yaml"), "{e}");
        assert!(e.contains("depth"), "{e}");
        assert!(e.contains("fsp"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("model: X\ndepth: {width: 8, height: 8, fps: 30, format: rgb8}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("depth.format"), "{e}");
        let e = parse("model: X\nimu: {gyro_hz: 0, accel_hz: 250}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("imu.gyro_hz"), "{e}");
        let e = parse("model: X\n").unwrap_err().to_string();
        assert!(e.contains("no stream enabled"), "{e}");
        let e = parse(
            "model: X\ndepth: {width: 8, height: 8, fps: 30, format: z16}\ncolor: {width: 9, height: 8, fps: 30, format: rgb8}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("color.width"), "{e}");
        let e = parse("model: X\nimu: {gyro_hz: 200, accel_hz: 63}\ndepth_units_m: .nan\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("depth_units_m"), "{e}");
        let e = parse("model: [").unwrap_err().to_string();
        assert!(e.contains("/hw/x.yaml"), "{e}");
    }

    #[test]
    fn missing_profile_names_file() {
        let e = HardwareProfile::load(Path::new("/nonexistent/d4.yaml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/d4.yaml"), "{e}");
    }

    #[test]
    fn shipped_config_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let c = crate::config::Config::load(&root.join("config/realsense.yaml"), &[]).unwrap();
        assert_eq!(c.backend, crate::config::BackendKind::Realsense);
        assert_eq!(c.realsense.playback, None);
        let p = HardwareProfile::load(&c.resolve_path(&c.realsense.profile)).unwrap();
        assert_eq!(p.model, "D435I");
        // a typo in the section is named
        let e = crate::config::Config::load(
            &root.join("config/realsense.yaml"),
            &["realsense.watchdog_ms=3".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("sattva.ros__parameters.realsense"), "{e}");
        assert!(e.contains("watchdog_ms"), "{e}");
    }

    #[test]
    fn section_validation() {
        let mut c = Checker::new(Path::new("c.yaml"), "sattva.ros__parameters");
        let cfg = RealsenseConfig {
            serial: Some("12 34".into()),
            reconnect_initial_ms: 1000,
            reconnect_max_ms: 10,
            ..Default::default()
        };
        c.section("realsense", |c| cfg.validate(c));
        let e = c.finish().unwrap_err().to_string();
        assert!(e.contains("sattva.ros__parameters.realsense.serial"), "{e}");
        assert!(e.contains("realsense.reconnect_max_ms"), "{e}");
        let mut c = Checker::new(Path::new("c.yaml"), "p");
        RealsenseConfig::default().validate(&mut c);
        assert!(c.finish().is_ok());
    }
}
