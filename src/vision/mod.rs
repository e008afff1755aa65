//! The vision stage: RGB-D frames -> clean metric depth, a fixed-size visual descriptor for the
//! experience encoder, and a visual heading aid for the orientation filter. It runs as its own
//! lower-priority scheduler task at camera rate ([`task::VisionTask`]), never inside the RT
//! control task; results reach the control task through a lock-free ring.
//!
//! ```text
//! Frame (t, intrinsics, rgb, depth) ─> validate ─> cleanup: mask invalid, 3x3 median, fill holes -> metres
//!                                                ─> descriptor: depth grid, colour grid, gradient histograms
//!                                                ─> heading (feature `opencv`): ORB -> match -> homography
//!                                                     (RANSAC) -> camera rotation -> IMU-frame rotation
//! VisionOutput ─(ring)─> control task: Fusion::correct_yaw(t0, t1, rotation, confidence), descriptor -> encoder
//! ```
//! * Two implementations of cleanup and descriptor: hand-written Rust ([`cleanup`],
//!   [`descriptor`]) and OpenCV (`cv`, feature `opencv`); `sattva bench vision` measures both in
//!   the same run, the config picks one (`vision.cleanup`, `vision.descriptor`). The ORB heading
//!   aid exists only on OpenCV (no maintained pure-Rust ORB + RANSAC pipeline was worth writing).
//! * Bad input (empty, wrong-sized, non-finite intrinsics, missing intrinsics for the heading
//!   aid) is an error naming what is wrong; black or featureless frames give a valid descriptor and
//!   a *rejected* rotation, counted in [`VisionCounters`]. Nothing here panics on input.
//! * Buffers are sized on the first frame (and on a size change); after that a frame allocates
//!   nothing on the Rust path (OpenCV allocates internally).

pub mod cleanup;
#[cfg(feature = "opencv")]
pub mod cv;
pub mod descriptor;
pub mod heading;
pub mod task;

use serde::{Deserialize, Serialize};

use crate::fusion::DepthPixels;
use crate::types::{CameraIntrinsics, RgbdFrame, Time};
use crate::validate::{Checker, Validate};

pub use descriptor::{Descriptor, DESCRIPTOR_LEN, GRID_COLS, GRID_ROWS};
pub use heading::{RotationEstimate, RotationReject};

/// Which implementation runs a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Implementation {
    /// Hand-written Rust (always built).
    Rust,
    /// OpenCV (feature `opencv`; an error without it).
    Opencv,
}

impl Implementation {
    /// The faster one in this build: OpenCV when built with it (`sattva bench vision`, per
    /// 640x480 frame: cleanup 1.1 vs 3.1-7.2 ms, descriptor 1.7 vs 1.9 ms), else Rust.
    fn fastest() -> Implementation {
        if cfg!(feature = "opencv") {
            Implementation::Opencv
        } else {
            Implementation::Rust
        }
    }
}

/// Depth cleanup parameters (`vision.depth`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthCleanupConfig {
    /// Nearest valid depth, m (nearer pixels are invalid).
    pub min_m: f32,
    /// Farthest valid depth, m.
    pub max_m: f32,
    /// Apply a 3x3 median filter (removes speckle and single-pixel holes).
    pub median: bool,
    /// Passes of hole filling: an invalid pixel takes the farthest valid 3x3 neighbour (the
    /// background, as the RealSense hole-filling filter does). 0 = off.
    pub hole_fill_passes: u32,
}

impl Default for DepthCleanupConfig {
    fn default() -> Self {
        DepthCleanupConfig {
            min_m: 0.05,
            max_m: 10.0,
            median: true,
            hole_fill_passes: 2,
        }
    }
}

impl Validate for DepthCleanupConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("min_m", self.min_m as f64, 0.0, 100.0);
        c.range_f64("max_m", self.max_m as f64, self.min_m as f64, 1000.0);
        c.range_u64("hole_fill_passes", self.hole_fill_passes as u64, 0, 16);
    }
}

/// Visual heading aid parameters (`vision.heading`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadingConfig {
    /// Estimate frame-to-frame rotations and feed them to the orientation filter (needs the
    /// `opencv` feature; without it the aid is reported as unavailable). Only for a camera
    /// rigidly mounted with the IMU (the D435i): off by default.
    pub enabled: bool,
    /// ORB features per frame.
    pub orb_features: u32,
    /// ORB pyramid levels.
    pub orb_levels: u32,
    /// Fewer cross-checked matches than this: rejected.
    pub min_matches: u32,
    /// Fewer RANSAC inliers than this: rejected.
    pub min_inliers: u32,
    /// Inlier ratio below this: rejected.
    pub min_inlier_ratio: f64,
    /// RANSAC reprojection threshold, px.
    pub ransac_px: f64,
    /// Rotations larger than this between two frames are rejected, deg.
    pub max_rotation_deg: f64,
    /// Frames further apart than this are not paired (a dropped-frame gap), s.
    pub max_gap_s: f64,
    /// Rotation from the camera's optical frame (x right, y down, z forward) to the IMU frame,
    /// quaternion `[w, x, y, z]` (the camera-IMU extrinsics; D435i: from its calibration).
    pub camera_to_imu: [f64; 4],
}

impl Default for HeadingConfig {
    fn default() -> Self {
        HeadingConfig {
            enabled: false,
            orb_features: 500,
            orb_levels: 4,
            min_matches: 25,
            min_inliers: 15,
            min_inlier_ratio: 0.3,
            ransac_px: 2.0,
            max_rotation_deg: 30.0,
            max_gap_s: 0.5,
            camera_to_imu: [1.0, 0.0, 0.0, 0.0],
        }
    }
}

impl Validate for HeadingConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("orb_features", self.orb_features as u64, 10, 100_000);
        c.range_u64("orb_levels", self.orb_levels as u64, 1, 16);
        c.range_u64("min_matches", self.min_matches as u64, 4, 100_000);
        c.range_u64("min_inliers", self.min_inliers as u64, 4, 100_000);
        c.range_f64("min_inlier_ratio", self.min_inlier_ratio, 0.0, 1.0);
        c.range_f64("ransac_px", self.ransac_px, 0.01, 100.0);
        c.range_f64("max_rotation_deg", self.max_rotation_deg, 0.1, 180.0);
        c.range_f64("max_gap_s", self.max_gap_s, 1e-3, 100.0);
        let n = self.camera_to_imu.iter().map(|v| v * v).sum::<f64>().sqrt();
        c.require(
            n.is_finite() && (n - 1.0).abs() < 1e-3,
            "camera_to_imu",
            format!(
                "{:?} is not a unit quaternion [w, x, y, z]",
                self.camera_to_imu
            ),
        );
    }
}

/// The `vision:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    /// Run the vision task (renders the camera in `sattva sim`; needs the `render` feature).
    pub enabled: bool,
    /// Rate of the vision task, Hz (in `sattva sim` the scene camera is rendered at this rate).
    pub rate_hz: f64,
    /// Scheduler priority of the vision task (below the control task's).
    pub priority: u8,
    /// Depth cleanup implementation (default: the faster in this build, see
    /// [`Implementation::fastest`]; both give identical results).
    pub cleanup: Implementation,
    /// Descriptor implementation (default as for `cleanup`).
    pub descriptor: Implementation,
    /// Weight of each of the two visual blocks in the experience encoder (the descriptor at the
    /// end of the experience, and its change); 0 = not encoded.
    pub encoder_weight: f64,
    /// Frames older than this relative to the newest one are dropped, s.
    pub max_frame_age_s: f64,
    /// Depth cleanup.
    pub depth: DepthCleanupConfig,
    /// Visual heading aid.
    pub heading: HeadingConfig,
}

impl Default for VisionConfig {
    fn default() -> Self {
        VisionConfig {
            enabled: false,
            rate_hz: 30.0,
            priority: 40,
            cleanup: Implementation::fastest(),
            descriptor: Implementation::fastest(),
            encoder_weight: 3.0,
            max_frame_age_s: 0.5,
            depth: DepthCleanupConfig::default(),
            heading: HeadingConfig::default(),
        }
    }
}

impl Validate for VisionConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("rate_hz", self.rate_hz, 0.1, 1000.0);
        c.range_u64("priority", self.priority as u64, 1, 99);
        c.range_f64("encoder_weight", self.encoder_weight, 0.0, 1000.0);
        c.range_f64("max_frame_age_s", self.max_frame_age_s, 1e-3, 100.0);
        for (k, i) in [("cleanup", self.cleanup), ("descriptor", self.descriptor)] {
            c.require(
                i == Implementation::Rust || cfg!(feature = "opencv"),
                k,
                "`opencv`: this build has no OpenCV (rebuild with `--features opencv`)",
            );
        }
        c.section("depth", |c| self.depth.validate(c));
        c.section("heading", |c| self.heading.validate(c));
    }
}

/// A borrowed RGB-D frame with its stamp and camera intrinsics (what travels from the backend).
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time (backend clock).
    pub t: Time,
    /// Width, px.
    pub width: usize,
    /// Height, px.
    pub height: usize,
    /// RGB, 8 bit, row-major, top row first (`width * height * 3`).
    pub rgb: &'a [u8],
    /// Depth (`width * height`), metres or raw units with their scale.
    pub depth: DepthPixels<'a>,
    /// Pinhole intrinsics (`None`: unknown; the heading aid then refuses the frame).
    pub intrinsics: Option<CameraIntrinsics>,
}

impl<'a> Frame<'a> {
    /// A view of a backend frame (intrinsics with a non-positive focal length count as missing).
    pub fn from_rgbd(f: &'a RgbdFrame) -> Frame<'a> {
        let k = f.intrinsics;
        Frame {
            t: f.t,
            width: f.width as usize,
            height: f.height as usize,
            rgb: &f.rgb,
            depth: DepthPixels::F32(&f.depth),
            intrinsics: (k.fx > 0.0 && k.fy > 0.0).then_some(k),
        }
    }

    /// Checks sizes, intrinsics and depth units. Errors name the problem.
    pub fn validate(&self) -> Result<(), VisionError> {
        if self.width == 0 || self.height == 0 {
            return Err(VisionError::Empty {
                width: self.width,
                height: self.height,
            });
        }
        if self.width < 2 * GRID_COLS || self.height < 2 * GRID_ROWS {
            return Err(VisionError::TooSmall {
                width: self.width,
                height: self.height,
            });
        }
        let n = self.width * self.height;
        if self.rgb.len() != 3 * n {
            return Err(VisionError::Size {
                what: "rgb",
                width: self.width,
                height: self.height,
                expected: 3 * n,
                got: self.rgb.len(),
            });
        }
        let (dn, units) = match self.depth {
            DepthPixels::F32(d) => (d.len(), 1.0),
            DepthPixels::U16 { data, depth_units } => (data.len(), depth_units),
        };
        if dn != n {
            return Err(VisionError::Size {
                what: "depth",
                width: self.width,
                height: self.height,
                expected: n,
                got: dn,
            });
        }
        if !(units.is_finite() && units > 0.0) {
            return Err(VisionError::DepthUnits(units));
        }
        if let Some(k) = &self.intrinsics {
            let ok =
                [k.fx, k.fy, k.cx, k.cy].iter().all(|v| v.is_finite()) && k.fx > 0.0 && k.fy > 0.0;
            if !ok {
                return Err(VisionError::Intrinsics(*k));
            }
        }
        Ok(())
    }
}

/// Errors of the vision stage (the frame is skipped; nothing else is affected).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VisionError {
    /// Zero width or height.
    #[error("empty frame ({width}x{height})")]
    Empty {
        /// Width, px.
        width: usize,
        /// Height, px.
        height: usize,
    },
    /// Smaller than two pixels per descriptor cell.
    #[error("frame {width}x{height} is too small (at least {}x{} px)", 2 * GRID_COLS, 2 * GRID_ROWS)]
    TooSmall {
        /// Width, px.
        width: usize,
        /// Height, px.
        height: usize,
    },
    /// A buffer does not match the frame size.
    #[error("{what} buffer of a {width}x{height} frame: expected {expected} values, got {got}")]
    Size {
        /// `rgb` or `depth`.
        what: &'static str,
        /// Width, px.
        width: usize,
        /// Height, px.
        height: usize,
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// Depth units not positive and finite.
    #[error("depth units {0} must be positive and finite")]
    DepthUnits(f32),
    /// Non-finite or non-positive focal lengths.
    #[error("invalid camera intrinsics {0:?}")]
    Intrinsics(CameraIntrinsics),
    /// The frame is not newer than the previous one, or older than `max_frame_age_s`.
    #[error("stale frame: t = {t_ns} ns, newest seen {newest_ns} ns")]
    Stale {
        /// Its stamp.
        t_ns: i64,
        /// The newest stamp seen.
        newest_ns: i64,
    },
    /// OpenCV failed (message from OpenCV), or was asked for in a build without it.
    #[error("opencv: {0}")]
    OpenCv(String),
}

/// What the stage did with its input (monotonic).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VisionCounters {
    /// Frames processed.
    pub frames: u64,
    /// Frames refused as invalid (size, intrinsics, units).
    pub invalid: u64,
    /// Frames dropped as stale (out of order or too old).
    pub stale: u64,
    /// Frame gaps longer than `heading.max_gap_s` (dropped frames upstream): no rotation for the pair.
    pub gaps: u64,
    /// Rotations accepted.
    pub rotations: u64,
    /// Rotations rejected (too few features, matches or inliers; too large; no intrinsics).
    pub rotations_rejected: u64,
}

/// The result of one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct VisionOutput {
    /// Frame time.
    pub t: Time,
    /// The visual descriptor.
    pub descriptor: Descriptor,
    /// Fraction of valid depth pixels after cleanup.
    pub depth_valid: f32,
    /// The camera rotation since the previous frame, when accepted.
    pub rotation: Option<RotationEstimate>,
    /// Why no rotation was produced (first frame, gap, rejection), if none.
    pub rotation_reject: Option<RotationReject>,
}

/// The vision stage: owns the buffers, the implementations and the heading state.
pub struct VisionStage {
    cfg: VisionConfig,
    depth_m: Vec<f32>,
    scratch: Vec<f32>,
    gray: Vec<u8>,
    out: VisionOutput,
    newest: Option<Time>,
    heading: heading::HeadingAid,
    #[cfg(feature = "opencv")]
    cv: cv::CvState,
    /// What happened so far.
    pub counters: VisionCounters,
}

impl std::fmt::Debug for VisionStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisionStage")
            .field("cfg", &self.cfg)
            .field("counters", &self.counters)
            .finish()
    }
}

impl VisionStage {
    /// A stage configured by `cfg` (validated beforehand). Fails when `cfg` asks for OpenCV in a
    /// build without it, or OpenCV cannot create its ORB detector.
    pub fn new(cfg: &VisionConfig) -> Result<VisionStage, VisionError> {
        #[cfg(not(feature = "opencv"))]
        if cfg.cleanup == Implementation::Opencv || cfg.descriptor == Implementation::Opencv {
            return Err(VisionError::OpenCv(
                "this build has no OpenCV (rebuild with `--features opencv`)".into(),
            ));
        }
        Ok(VisionStage {
            cfg: cfg.clone(),
            depth_m: Vec::new(),
            scratch: Vec::new(),
            gray: Vec::new(),
            out: VisionOutput {
                t: Time::ZERO,
                descriptor: Descriptor::default(),
                depth_valid: 0.0,
                rotation: None,
                rotation_reject: None,
            },
            newest: None,
            heading: heading::HeadingAid::new(&cfg.heading),
            #[cfg(feature = "opencv")]
            cv: cv::CvState::new(&cfg.heading)?,
            counters: VisionCounters::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &VisionConfig {
        &self.cfg
    }

    /// The cleaned depth of the last frame, metres row-major (0 = invalid).
    pub fn depth_m(&self) -> &[f32] {
        &self.depth_m
    }

    /// The last output.
    pub fn output(&self) -> &VisionOutput {
        &self.out
    }

    /// Processes one frame: cleanup, descriptor, rotation since the previous frame.
    pub fn process(&mut self, f: &Frame<'_>) -> Result<&VisionOutput, VisionError> {
        if let Err(e) = f.validate() {
            self.counters.invalid += 1;
            return Err(e);
        }
        if let Some(n) = self.newest {
            let too_old = (n.0 - f.t.0) as f64 * 1e-9 > self.cfg.max_frame_age_s;
            if f.t <= n || too_old {
                self.counters.stale += 1;
                return Err(VisionError::Stale {
                    t_ns: f.t.0,
                    newest_ns: n.0,
                });
            }
        }
        self.newest = Some(f.t);
        let n = f.width * f.height;
        if self.depth_m.len() != n {
            self.depth_m = vec![0.0; n];
            self.scratch = vec![0.0; n];
            self.gray = vec![0; n];
            self.heading.reset();
            #[cfg(feature = "opencv")]
            self.cv.reset();
        }
        // 1. depth cleanup
        match self.cfg.cleanup {
            Implementation::Rust => cleanup::clean_depth(
                &self.cfg.depth,
                f.width,
                f.height,
                f.depth,
                &mut self.depth_m,
                &mut self.scratch,
            ),
            #[cfg(feature = "opencv")]
            Implementation::Opencv => cv::clean_depth(
                &self.cfg.depth,
                f.width,
                f.height,
                f.depth,
                &mut self.depth_m,
            )?,
            #[cfg(not(feature = "opencv"))]
            Implementation::Opencv => unreachable_opencv()?,
        }
        let valid = self.depth_m.iter().filter(|&&d| d > 0.0).count();
        self.out.depth_valid = valid as f32 / n as f32;
        // 2. descriptor
        match self.cfg.descriptor {
            Implementation::Rust => descriptor::describe(
                f.width,
                f.height,
                f.rgb,
                &self.depth_m,
                self.cfg.depth.max_m,
                &mut self.gray,
                &mut self.out.descriptor,
            ),
            #[cfg(feature = "opencv")]
            Implementation::Opencv => cv::describe(
                f.width,
                f.height,
                f.rgb,
                &self.depth_m,
                self.cfg.depth.max_m,
                &mut self.out.descriptor,
            )?,
            #[cfg(not(feature = "opencv"))]
            Implementation::Opencv => unreachable_opencv()?,
        }
        self.out.t = f.t;
        // 3. heading
        self.out.rotation = None;
        self.out.rotation_reject = None;
        if self.cfg.heading.enabled {
            let r = self.rotation(f);
            match r {
                Ok(est) => {
                    self.counters.rotations += 1;
                    self.out.rotation = Some(est);
                }
                Err(why) => {
                    match why {
                        RotationReject::FirstFrame => {}
                        RotationReject::Gap => self.counters.gaps += 1,
                        _ => self.counters.rotations_rejected += 1,
                    }
                    self.out.rotation_reject = Some(why);
                }
            }
        }
        self.counters.frames += 1;
        Ok(&self.out)
    }

    #[cfg(feature = "opencv")]
    fn rotation(&mut self, f: &Frame<'_>) -> Result<RotationEstimate, RotationReject> {
        let prev = self.heading.begin(f.t);
        let k = f.intrinsics.ok_or(RotationReject::NoIntrinsics);
        let m = self.cv.track(f.width, f.height, f.rgb, &self.cfg.heading);
        let (prev_t, m, k) = (prev?, m?, k?);
        self.heading.finish(prev_t, f.t, &m, &k, &self.cv.inliers)
    }

    #[cfg(not(feature = "opencv"))]
    fn rotation(&mut self, _f: &Frame<'_>) -> Result<RotationEstimate, RotationReject> {
        Err(RotationReject::Unavailable)
    }
}

#[cfg(not(feature = "opencv"))]
fn unreachable_opencv() -> Result<(), VisionError> {
    Err(VisionError::OpenCv(
        "this build has no OpenCV (rebuild with `--features opencv`)".into(),
    ))
}
