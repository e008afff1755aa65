//! Sensor fusion: `SensorFrame` -> [`FusedState`], once per control cycle, on the RT task.
//!
//! ```text
//! frame.imu      -> ImuFilter (VQF + input guards) -> orientation, bias-free gyro, linear accel
//! frame.joints   -> JointFilter                    -> positions, velocities (measured or d/dt), efforts
//! frame.contacts -> ContactFilter                  -> debounced touch states
//! depth image    -> reduce_depth (camera task)     -> nearest distance per grid cell
//! ```
//! [`Fusion::update`] allocates nothing, reads no clock (the frame's timestamp is "now"), and
//! never panics on bad input: NaN/Inf, duplicate or out-of-order stamps and gaps are dropped,
//! counted and flagged in [`Validity`].
//!
//! ```
//! use sattva::fusion::{Fusion, FusionConfig};
//! use sattva::types::{Imu, SensorFrame, Time};
//! let mut f = Fusion::new(&FusionConfig::default());
//! let mut frame = SensorFrame::default();
//! for i in 0..500 {
//!     frame.t = Time(i * 2_000_000);
//!     frame.imu = Some(Imu { accel: [0.0, 0.0, 9.81], gyro: [0.0; 3], mag: None });
//!     f.update(&frame);
//! }
//! let s = f.state();
//! assert!(s.validity.orientation && (s.orientation[0] - 1.0).abs() < 1e-6);
//! ```

pub mod contacts;
pub mod depth;
pub mod imu;
pub mod joints;
pub mod vqf;

use arrayvec::ArrayVec;
use serde::{Deserialize, Serialize};

use crate::types::{ContactVec, JointVec, SensorFrame, Time, MAX_CONTACTS};
use crate::validate::{Checker, Validate};

pub use contacts::{ContactEstimate, ContactFilter};
pub use depth::{reduce_depth, DepthError, DepthGrid, DepthImage, DepthPixels, MAX_DEPTH_CELLS};
pub use imu::{yaw_of, ImuCounters, ImuEstimate, ImuFilter, YawAidError, YAW_HISTORY};
pub use joints::{JointEstimate, JointFilter};

/// Orientation filter parameters (`fusion.imu`). The filter parameters are VQF's, with its
/// published defaults; angles in degrees, times in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImuFilterConfig {
    /// Time constant of the accelerometer (inclination) correction, s.
    pub tau_acc: f64,
    /// Time constant of the magnetometer (heading) correction, s.
    pub tau_mag: f64,
    /// Use the magnetometer when the frame has one.
    pub use_magnetometer: bool,
    /// Estimate gyro bias during motion (from the inclination disagreement).
    pub motion_bias_est: bool,
    /// Estimate gyro bias at rest.
    pub rest_bias_est: bool,
    /// Detect and reject magnetic disturbances.
    pub mag_dist_rejection: bool,
    /// Initial bias uncertainty, deg/s.
    pub bias_sigma_init: f64,
    /// Time in which the bias uncertainty grows back by 0.1 deg/s, s.
    pub bias_forgetting_time: f64,
    /// Largest bias the estimator believes, deg/s.
    pub bias_clip: f64,
    /// Bias measurement noise during motion, deg/s.
    pub bias_sigma_motion: f64,
    /// Relative weight of the vertical bias axis during motion (unobservable from inclination).
    pub bias_vertical_forgetting_factor: f64,
    /// Bias measurement noise at rest, deg/s.
    pub bias_sigma_rest: f64,
    /// Time the rest criteria must hold before rest is detected, s.
    pub rest_min_t: f64,
    /// Low-pass time constant of the rest detector, s.
    pub rest_filter_tau: f64,
    /// Gyro deviation threshold of the rest detector, deg/s.
    pub rest_th_gyr: f64,
    /// Accelerometer deviation threshold of the rest detector, m/s^2.
    pub rest_th_acc: f64,
    /// Low-pass time constant of the field norm/dip for disturbance detection, s.
    pub mag_current_tau: f64,
    /// Time constant of the reference field norm/dip, s.
    pub mag_ref_tau: f64,
    /// Relative field norm threshold of the disturbance detector.
    pub mag_norm_th: f64,
    /// Dip angle threshold of the disturbance detector, deg.
    pub mag_dip_th: f64,
    /// Time a new field must be stable (while moving) to be accepted, s.
    pub mag_new_time: f64,
    /// The same for the very first field, s.
    pub mag_new_first_time: f64,
    /// Angular rate above which "moving" counts for accepting a new field, deg/s.
    pub mag_new_min_gyr: f64,
    /// Undisturbed time before the field counts as undisturbed again, s.
    pub mag_min_undisturbed_time: f64,
    /// Longest time a disturbed field is fully ignored, s.
    pub mag_max_rejection_time: f64,
    /// Gain reduction after that time (and recovery speed of the rejection time).
    pub mag_rejection_factor: f64,
    /// Expected sample interval, s (used before the first interval is known).
    pub nominal_dt_s: f64,
    /// A gap between samples above this is a dropout (flagged; integrated over at most this), s.
    pub max_gap_s: f64,
    /// After a gap above this the filter re-aligns from fresh accel/mag samples, s.
    pub realign_gap_s: f64,
    /// Skip the accelerometer-driven gyro-bias update when `| |a| - gravity |` exceeds this, m/s^2.
    pub accel_reject_m_s2: f64,
    /// Initialise only from an accelerometer sample within this of gravity, m/s^2. The default
    /// (9) only refuses readings that cannot be gravity, e.g. a sensor not yet producing data;
    /// tighter values delay the start while the robot moves and measured worse on the arm scene.
    pub init_accel_tolerance_m_s2: f64,
    /// Gravity, m/s^2 (removed from the linear acceleration output).
    pub gravity: f64,
}

impl Default for ImuFilterConfig {
    fn default() -> Self {
        ImuFilterConfig {
            tau_acc: 3.0,
            tau_mag: 9.0,
            use_magnetometer: true,
            motion_bias_est: true,
            rest_bias_est: true,
            mag_dist_rejection: true,
            bias_sigma_init: 0.5,
            bias_forgetting_time: 100.0,
            bias_clip: 2.0,
            bias_sigma_motion: 0.1,
            bias_vertical_forgetting_factor: 0.0001,
            bias_sigma_rest: 0.03,
            rest_min_t: 1.5,
            rest_filter_tau: 0.5,
            rest_th_gyr: 2.0,
            rest_th_acc: 0.5,
            mag_current_tau: 0.05,
            mag_ref_tau: 20.0,
            mag_norm_th: 0.1,
            mag_dip_th: 10.0,
            mag_new_time: 20.0,
            mag_new_first_time: 5.0,
            mag_new_min_gyr: 20.0,
            mag_min_undisturbed_time: 0.5,
            mag_max_rejection_time: 60.0,
            mag_rejection_factor: 2.0,
            nominal_dt_s: 0.002,
            max_gap_s: 0.1,
            realign_gap_s: 0.5,
            accel_reject_m_s2: 20.0,
            init_accel_tolerance_m_s2: 9.0,
            gravity: 9.80665,
        }
    }
}

impl Validate for ImuFilterConfig {
    fn validate(&self, c: &mut Checker) {
        for (k, v, lo, hi) in [
            ("tau_acc", self.tau_acc, 0.01, 1000.0),
            ("tau_mag", self.tau_mag, 0.01, 1000.0),
            ("bias_sigma_init", self.bias_sigma_init, 0.0, 100.0),
            ("bias_forgetting_time", self.bias_forgetting_time, 0.1, 1e6),
            ("bias_clip", self.bias_clip, 0.0, 100.0),
            ("bias_sigma_motion", self.bias_sigma_motion, 1e-6, 100.0),
            (
                "bias_vertical_forgetting_factor",
                self.bias_vertical_forgetting_factor,
                0.0,
                1.0,
            ),
            ("bias_sigma_rest", self.bias_sigma_rest, 1e-6, 100.0),
            ("rest_min_t", self.rest_min_t, 0.0, 1000.0),
            ("rest_filter_tau", self.rest_filter_tau, 0.01, 100.0),
            ("rest_th_gyr", self.rest_th_gyr, 0.0, 1000.0),
            ("rest_th_acc", self.rest_th_acc, 0.0, 100.0),
            ("mag_current_tau", self.mag_current_tau, 0.0, 100.0),
            ("mag_ref_tau", self.mag_ref_tau, 0.0, 1e4),
            ("mag_norm_th", self.mag_norm_th, 0.0, 10.0),
            ("mag_dip_th", self.mag_dip_th, 0.0, 90.0),
            ("mag_new_time", self.mag_new_time, 0.0, 1e4),
            ("mag_new_first_time", self.mag_new_first_time, 0.0, 1e4),
            ("mag_new_min_gyr", self.mag_new_min_gyr, 0.0, 1e4),
            (
                "mag_min_undisturbed_time",
                self.mag_min_undisturbed_time,
                0.0,
                1e4,
            ),
            (
                "mag_max_rejection_time",
                self.mag_max_rejection_time,
                0.0,
                1e4,
            ),
            ("mag_rejection_factor", self.mag_rejection_factor, 1.0, 1e3),
            ("nominal_dt_s", self.nominal_dt_s, 1e-5, 0.1),
            ("accel_reject_m_s2", self.accel_reject_m_s2, 0.1, 1e4),
            (
                "init_accel_tolerance_m_s2",
                self.init_accel_tolerance_m_s2,
                0.01,
                1e4,
            ),
            ("gravity", self.gravity, 0.1, 100.0),
        ] {
            c.range_f64(k, v, lo, hi);
        }
        // the low-pass discretisation needs pi * fc * dt < pi/2 at the largest dt
        c.range_f64("max_gap_s", self.max_gap_s, self.nominal_dt_s, 0.5);
        c.range_f64("realign_gap_s", self.realign_gap_s, self.max_gap_s, 1e6);
    }
}

/// Joint-state parameters (`fusion.joints`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointsFilterConfig {
    /// Cut-off of the first-order low-pass on differentiated positions, Hz.
    pub velocity_cutoff_hz: f64,
    /// A gap above this restarts the differentiation, s.
    pub max_gap_s: f64,
}

impl Default for JointsFilterConfig {
    fn default() -> Self {
        JointsFilterConfig {
            velocity_cutoff_hz: 20.0,
            max_gap_s: 0.1,
        }
    }
}

impl Validate for JointsFilterConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("velocity_cutoff_hz", self.velocity_cutoff_hz, 0.01, 1e4);
        c.range_f64("max_gap_s", self.max_gap_s, 1e-5, 10.0);
    }
}

/// Contact debouncing (`fusion.contacts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactsFilterConfig {
    /// Force above which a channel may turn on, N.
    pub on_force_n: f64,
    /// Force below which a channel may turn off, N (<= `on_force_n`: hysteresis).
    pub off_force_n: f64,
    /// Consecutive samples above `on_force_n` to turn on.
    pub on_samples: u32,
    /// Consecutive samples below `off_force_n` to turn off.
    pub off_samples: u32,
}

impl Default for ContactsFilterConfig {
    fn default() -> Self {
        ContactsFilterConfig {
            on_force_n: 0.1,
            off_force_n: 0.05,
            on_samples: 3,
            off_samples: 5,
        }
    }
}

impl Validate for ContactsFilterConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("on_force_n", self.on_force_n, 0.0, 1e6);
        c.range_f64("off_force_n", self.off_force_n, 0.0, self.on_force_n);
        c.range_u64("on_samples", self.on_samples as u64, 1, 10_000);
        c.range_u64("off_samples", self.off_samples as u64, 1, 10_000);
    }
}

/// Depth grid (`fusion.depth`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthFilterConfig {
    /// Grid rows.
    pub rows: u32,
    /// Grid columns (`rows * cols <= 256`).
    pub cols: u32,
    /// Nearest valid depth, m.
    pub min_m: f32,
    /// Farthest valid depth, m (also the value of empty cells).
    pub max_m: f32,
    /// Use every `stride`-th pixel in x and y (1 = all).
    pub stride: u32,
}

impl Default for DepthFilterConfig {
    fn default() -> Self {
        DepthFilterConfig {
            rows: 4,
            cols: 6,
            min_m: 0.1,
            max_m: 5.0,
            stride: 1,
        }
    }
}

impl Validate for DepthFilterConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("rows", self.rows as u64, 1, 64);
        c.range_u64("cols", self.cols as u64, 1, 64);
        c.require(
            (self.rows * self.cols) as usize <= MAX_DEPTH_CELLS,
            "cols",
            format!(
                "rows * cols = {}: at most {MAX_DEPTH_CELLS} cells",
                self.rows * self.cols
            ),
        );
        c.range_f64("min_m", self.min_m as f64, 0.0, 100.0);
        c.range_f64("max_m", self.max_m as f64, self.min_m as f64, 1000.0);
        c.range_u64("stride", self.stride as u64, 1, 64);
    }
}

/// The `fusion:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FusionConfig {
    /// Orientation filter.
    pub imu: ImuFilterConfig,
    /// Joint state.
    pub joints: JointsFilterConfig,
    /// Contacts.
    pub contacts: ContactsFilterConfig,
    /// Depth grid.
    pub depth: DepthFilterConfig,
}

impl Validate for FusionConfig {
    fn validate(&self, c: &mut Checker) {
        c.section("imu", |c| self.imu.validate(c));
        c.section("joints", |c| self.joints.validate(c));
        c.section("contacts", |c| self.contacts.validate(c));
        c.section("depth", |c| self.depth.validate(c));
    }
}

/// Which parts of a [`FusedState`] can be trusted this cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validity {
    /// The frame had an IMU sample and the filter accepted it this cycle.
    pub imu: bool,
    /// The orientation is initialised (inclination known).
    pub orientation: bool,
    /// Heading is referenced to an undisturbed magnetometer (else relative and drifting).
    pub heading: bool,
    /// Heading drift is corrected by a relative yaw aid (vision; see [`Fusion::correct_yaw`]).
    pub heading_aided: bool,
    /// The IMU sample followed a dropout.
    pub imu_dropout: bool,
    /// Joint values are present and were all finite this cycle.
    pub joints: bool,
    /// Joint velocities are estimated by differentiation (the sensor gives none).
    pub joint_velocity_estimated: bool,
    /// Contacts are present.
    pub contacts: bool,
    /// A depth grid has been set (see [`Fusion::update_depth`]).
    pub depth: bool,
}

/// Everything the pipeline knows about the robot after one fusion step.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedState {
    /// Timestamp of the frame this state was fused from.
    pub t: Time,
    /// What can be trusted.
    pub validity: Validity,
    /// IMU orientation in the world, `[w, x, y, z]`.
    pub orientation: [f64; 4],
    /// Bias-corrected angular velocity (IMU frame), rad/s.
    pub angular_velocity: [f64; 3],
    /// Gravity-free linear acceleration (world frame), m/s^2.
    pub linear_accel: [f64; 3],
    /// Estimated gyro bias, rad/s.
    pub gyro_bias: [f64; 3],
    /// Joint positions.
    pub joint_position: JointVec,
    /// Joint velocities (measured or estimated, see validity).
    pub joint_velocity: JointVec,
    /// Joint efforts (empty when not measured).
    pub joint_effort: JointVec,
    /// Debounced touch state per contact channel.
    pub touching: ArrayVec<bool, MAX_CONTACTS>,
    /// Contact forces, N.
    pub contact_force: ContactVec,
    /// Nearest distances of the latest depth image.
    pub depth: DepthGrid,
}

impl Default for FusedState {
    fn default() -> Self {
        FusedState {
            t: Time::ZERO,
            validity: Validity::default(),
            orientation: [1.0, 0.0, 0.0, 0.0],
            angular_velocity: [0.0; 3],
            linear_accel: [0.0; 3],
            gyro_bias: [0.0; 3],
            joint_position: JointVec::new(),
            joint_velocity: JointVec::new(),
            joint_effort: JointVec::new(),
            touching: ArrayVec::new(),
            contact_force: ContactVec::new(),
            depth: DepthGrid::new(0, 0, 0.0),
        }
    }
}

/// The fusion stage: owns the per-sensor filters and the assembled state.
#[derive(Clone, Debug)]
pub struct Fusion {
    cfg: FusionConfig,
    /// Orientation filter.
    pub imu: ImuFilter,
    /// Joint filter.
    pub joints: JointFilter,
    /// Contact debouncer.
    pub contacts: ContactFilter,
    state: FusedState,
}

impl Fusion {
    /// A fusion stage configured by `cfg`.
    pub fn new(cfg: &FusionConfig) -> Fusion {
        let state = FusedState {
            depth: DepthGrid::new(
                cfg.depth.rows as usize,
                cfg.depth.cols as usize,
                cfg.depth.max_m,
            ),
            ..FusedState::default()
        };
        Fusion {
            cfg: cfg.clone(),
            imu: ImuFilter::new(&cfg.imu),
            joints: JointFilter::new(&cfg.joints),
            contacts: ContactFilter::new(&cfg.contacts),
            state,
        }
    }

    /// Restarts every filter: the world was reset under them (a teleport is not motion, and
    /// the orientation must converge again). Keeps the depth buffer.
    pub fn reset(&mut self) {
        self.imu = ImuFilter::new(&self.cfg.imu);
        self.joints = JointFilter::new(&self.cfg.joints);
        self.contacts = ContactFilter::new(&self.cfg.contacts);
        let depth = std::mem::replace(&mut self.state.depth, DepthGrid::new(0, 0, 0.0));
        self.state = FusedState {
            depth,
            ..FusedState::default()
        };
    }

    /// The last fused state.
    pub fn state(&self) -> &FusedState {
        &self.state
    }

    /// Fuses one frame. RT-safe: no allocation, no clock, no panic on bad input.
    pub fn update(&mut self, frame: &SensorFrame) -> &FusedState {
        let s = &mut self.state;
        s.t = frame.t;
        match &frame.imu {
            Some(imu) => {
                let e = self.imu.update(frame.t, imu);
                s.validity.imu = !e.stale;
                s.validity.imu_dropout = e.dropout;
                s.validity.orientation = e.initialised;
                s.validity.heading = e.heading_from_mag;
                s.validity.heading_aided = e.yaw_aided;
                s.orientation = e.orientation;
                s.angular_velocity = e.angular_velocity;
                s.linear_accel = e.linear_accel;
                s.gyro_bias = e.gyro_bias;
            }
            None => {
                s.validity.imu = false;
                s.validity.imu_dropout = false;
            }
        }
        let j = self.joints.update(frame.t, &frame.joints);
        s.validity.joints = !j.position.is_empty() && !j.had_nonfinite;
        s.validity.joint_velocity_estimated = j.velocity_estimated;
        s.joint_position.clone_from(&j.position);
        s.joint_velocity.clone_from(&j.velocity);
        s.joint_effort.clone_from(&j.effort);
        let c = self.contacts.update(&frame.contacts);
        s.validity.contacts = !c.force.is_empty();
        s.touching.clone_from(&c.touching);
        s.contact_force.clone_from(&c.force);
        &self.state
    }

    /// Sets the depth features from a new image (call from the camera task's hand-off, or when a
    /// frame arrives). On error the previous grid stays and `validity.depth` turns false.
    pub fn update_depth(&mut self, img: &DepthImage<'_>) -> Result<(), DepthError> {
        match reduce_depth(&self.cfg.depth, img, &mut self.state.depth) {
            Ok(()) => {
                self.state.validity.depth = true;
                Ok(())
            }
            Err(e) => {
                self.state.validity.depth = false;
                Err(e)
            }
        }
    }

    /// Yaw aid for an IMU without magnetometer (the RealSense D435i case): `rotation` is the IMU
    /// frame at `t1` relative to the IMU frame at `t0` (`[w, x, y, z]`), e.g. from the visual
    /// heading aid; see [`ImuFilter::correct_yaw`]. Allocation-free, never blocks; stamps older
    /// than the newest IMU sample are fine as long as they are within the kept history.
    pub fn correct_yaw(
        &mut self,
        t0: Time,
        t1: Time,
        rotation: [f64; 4],
        confidence: f64,
    ) -> Result<f64, YawAidError> {
        let r = self.imu.correct_yaw(t0, t1, rotation, confidence);
        if r.is_ok() {
            let e = self.imu.estimate();
            self.state.orientation = e.orientation;
            self.state.validity.heading_aided = e.yaw_aided;
        }
        r
    }

    /// Sets an already reduced depth grid (e.g. produced on the camera thread).
    pub fn set_depth(&mut self, grid: &DepthGrid) {
        self.state.depth = *grid;
        self.state.validity.depth = true;
    }
}
