//! The IMU stage: guards the orientation filter ([`Vqf`]) against bad input and turns its state
//! into the quantities the rest of the pipeline uses.
//!
//! Per sample, in order:
//! 1. timestamp: equal to the last accepted one -> dropped (`duplicates`); earlier -> dropped
//!    (`out_of_order`); gap above `max_gap_s` -> accepted but flagged (`dropouts`), integrated
//!    over at most `max_gap_s`, and above `realign_gap_s` the filter re-aligns from fresh samples;
//! 2. values: a non-finite gyro drops the sample (`nonfinite`); a non-finite accelerometer or
//!    magnetometer skips only that correction (`nonfinite_accel`, `nonfinite_mag`);
//! 3. strong linear acceleration (`| |a| - g | > accel_reject_m_s2`): the gyro-bias update
//!    from that sample is skipped (`accel_rejected`); the inclination correction works on the
//!    low-passed accelerometer in the almost-inertial frame, where linear acceleration averages
//!    out, and keeps running (see [`Vqf::update_acc`]);
//! 4. initialisation: the first accelerometer sample within `init_accel_tolerance_m_s2` of
//!    gravity sets the inclination (samples before it are counted in `accel_rejected`); the
//!    filter's low-pass then averages the first `tau_acc` seconds.
//!
//! Nothing non-finite ever reaches the filter state, so it never reaches the outputs either.

use nalgebra::{UnitQuaternion, Vector3};

use super::vqf::Vqf;
use super::ImuFilterConfig;
use crate::types::{Imu, Time};

/// Counters of what the IMU stage did with its input (monotonic since construction).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImuCounters {
    /// Samples that updated the filter.
    pub accepted: u64,
    /// Samples dropped because their timestamp equalled the previous one.
    pub duplicates: u64,
    /// Samples dropped because their timestamp was earlier than the previous one.
    pub out_of_order: u64,
    /// Samples dropped because the gyro was NaN/Inf (or absurdly large, |x| >= 1e6).
    pub nonfinite: u64,
    /// Accelerometer corrections skipped because the accelerometer was NaN/Inf.
    pub nonfinite_accel: u64,
    /// Magnetometer corrections skipped because the magnetometer was NaN/Inf.
    pub nonfinite_mag: u64,
    /// Accelerometer corrections skipped during strong linear acceleration.
    pub accel_rejected: u64,
    /// Gaps longer than `max_gap_s` between accepted samples.
    pub dropouts: u64,
    /// Yaw corrections applied (see [`ImuFilter::correct_yaw`]).
    pub yaw_aids: u64,
    /// Yaw corrections refused (outside the orientation history, bad values, magnetometer in use).
    pub yaw_aids_rejected: u64,
}

/// Orientations kept for yaw aiding: at 500 Hz about one second, at 200 Hz 2.5 s.
pub const YAW_HISTORY: usize = 512;

/// Why a yaw correction was refused (counted in [`ImuCounters::yaw_aids_rejected`]).
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum YawAidError {
    /// The heading is referenced to a magnetometer: a relative aid is not needed.
    #[error("heading comes from the magnetometer; yaw aid ignored")]
    MagnetometerInUse,
    /// The filter has no orientation yet.
    #[error("orientation not initialised")]
    NotInitialised,
    /// A stamp of the measurement is outside the kept orientation history (too old or newer
    /// than the newest IMU sample).
    #[error("stamp {t_ns} ns is outside the orientation history [{oldest_ns}, {newest_ns}] ns")]
    OutOfHistory {
        /// The stamp.
        t_ns: i64,
        /// Oldest kept sample.
        oldest_ns: i64,
        /// Newest kept sample.
        newest_ns: i64,
    },
    /// Non-finite rotation, `t1 <= t0`, or confidence outside `[0, 1]`.
    #[error("invalid yaw aid: {0}")]
    Invalid(&'static str),
}

/// What one IMU update produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImuEstimate {
    /// Time of the last accepted sample.
    pub t: Time,
    /// Orientation of the IMU frame in the world (z up), quaternion `[w, x, y, z]`.
    pub orientation: [f64; 4],
    /// Bias-corrected angular velocity in the IMU frame, rad/s.
    pub angular_velocity: [f64; 3],
    /// Linear acceleration without gravity, in the world frame, m/s^2.
    pub linear_accel: [f64; 3],
    /// Estimated gyro bias, rad/s.
    pub gyro_bias: [f64; 3],
    /// At least one sample with a valid accelerometer was accepted (inclination is known).
    pub initialised: bool,
    /// Heading is referenced to the magnetometer (else it is relative to the start and drifts).
    pub heading_from_mag: bool,
    /// The last accepted sample followed a dropout (gap above `max_gap_s`).
    pub dropout: bool,
    /// The last offered sample was dropped (stamp or non-finite gyro): outputs are the previous.
    pub stale: bool,
    /// The sensor is at rest (rest detector of the filter).
    pub at_rest: bool,
    /// The magnetic field is considered disturbed (heading correction paused or slowed).
    pub mag_disturbed: bool,
    /// Heading drift is being corrected by an external relative yaw aid (e.g. vision).
    pub yaw_aided: bool,
}

impl Default for ImuEstimate {
    fn default() -> Self {
        ImuEstimate {
            t: Time::ZERO,
            orientation: [1.0, 0.0, 0.0, 0.0],
            angular_velocity: [0.0; 3],
            linear_accel: [0.0; 3],
            gyro_bias: [0.0; 3],
            initialised: false,
            heading_from_mag: false,
            dropout: false,
            stale: false,
            at_rest: false,
            mag_disturbed: false,
            yaw_aided: false,
        }
    }
}

/// The IMU orientation filter with its input guards. Allocation-free.
#[derive(Clone, Debug)]
pub struct ImuFilter {
    cfg: ImuFilterConfig,
    vqf: Vqf,
    last_t: Option<Time>,
    last_dt: f64,
    est: ImuEstimate,
    mag_seen: bool,
    /// Heading correction from yaw aids, rad (applied about world z to the 6-D orientation).
    yaw_offset: f64,
    /// Ring of (stamp ns, 6-D orientation `[w, x, y, z]`) of accepted samples.
    hist: Box<[(i64, [f64; 4]); YAW_HISTORY]>,
    hist_head: usize,
    hist_len: usize,
    /// What happened to the input so far.
    pub counters: ImuCounters,
}

/// Finite and below `1e6` per axis: larger readings are no physical IMU's (1e6 rad/s, m/s^2) and
/// would overflow the filter's squares into Inf/NaN.
fn finite3(v: &[f64; 3]) -> bool {
    v.iter().all(|x| x.is_finite() && x.abs() < 1e6)
}

impl ImuFilter {
    /// A filter configured by `cfg` (validated beforehand by the config loader).
    pub fn new(cfg: &ImuFilterConfig) -> ImuFilter {
        ImuFilter {
            cfg: cfg.clone(),
            vqf: Vqf::new(cfg, cfg.nominal_dt_s),
            last_t: None,
            last_dt: cfg.nominal_dt_s,
            est: ImuEstimate::default(),
            mag_seen: false,
            yaw_offset: 0.0,
            hist: Box::new([(0, [1.0, 0.0, 0.0, 0.0]); YAW_HISTORY]),
            hist_head: 0,
            hist_len: 0,
            counters: ImuCounters::default(),
        }
    }

    /// Forgets everything but the configuration and the counters.
    pub fn reset(&mut self) {
        self.vqf.reset();
        self.last_t = None;
        self.last_dt = self.cfg.nominal_dt_s;
        self.est = ImuEstimate::default();
        self.mag_seen = false;
        self.yaw_offset = 0.0;
        self.hist_len = 0;
    }

    /// The latest estimate.
    pub fn estimate(&self) -> &ImuEstimate {
        &self.est
    }

    /// The filter core (for diagnostics).
    pub fn core(&self) -> &Vqf {
        &self.vqf
    }

    /// Feeds one sample taken at `t`. Returns the (possibly unchanged, see `stale`) estimate.
    pub fn update(&mut self, t: Time, imu: &Imu) -> &ImuEstimate {
        // 1. timestamp
        let dt = match self.last_t {
            Some(last) if t == last => {
                self.counters.duplicates += 1;
                self.est.stale = true;
                return &self.est;
            }
            Some(last) if t < last => {
                self.counters.out_of_order += 1;
                self.est.stale = true;
                return &self.est;
            }
            Some(last) => Some((t.0 - last.0) as f64 * 1e-9),
            None => None,
        };
        // 2. values
        if !finite3(&imu.gyro) {
            self.counters.nonfinite += 1;
            self.est.stale = true;
            return &self.est;
        }
        self.counters.accepted += 1;
        self.last_t = Some(t);
        self.est.t = t;
        self.est.stale = false;
        self.est.dropout = false;
        let gyr = Vector3::from(imu.gyro);
        let dt = match dt {
            Some(dt) if dt > self.cfg.max_gap_s => {
                self.counters.dropouts += 1;
                self.est.dropout = true;
                // integrate the current rate over the gap (best guess), bounded
                self.vqf.update_gyr(self.cfg.max_gap_s, &gyr);
                if dt > self.cfg.realign_gap_s {
                    self.vqf.realign();
                }
                self.cfg.max_gap_s
            }
            Some(dt) => {
                self.vqf.update_gyr(dt, &gyr);
                self.last_dt = dt;
                dt
            }
            // first sample: no interval to integrate over; still corrects from accel/mag
            None => self.last_dt,
        };

        let acc = Vector3::from(imu.accel);
        let acc_ok = finite3(&imu.accel);
        if !acc_ok {
            self.counters.nonfinite_accel += 1;
        } else {
            let dev = (acc.norm() - self.cfg.gravity).abs();
            if !self.est.initialised {
                // initialise only from a sample that looks like gravity alone
                if dev <= self.cfg.init_accel_tolerance_m_s2 {
                    self.vqf.update_acc(dt, &acc, true);
                    self.est.initialised = true;
                } else {
                    self.counters.accel_rejected += 1;
                }
            } else {
                let correct = dev <= self.cfg.accel_reject_m_s2;
                if !correct {
                    self.counters.accel_rejected += 1;
                }
                self.vqf.update_acc(dt, &acc, correct);
            }
        }
        if self.cfg.use_magnetometer {
            if let Some(m) = &imu.mag {
                if finite3(m) {
                    if self.est.initialised {
                        self.vqf.update_mag(dt, &Vector3::from(*m));
                        self.mag_seen = true;
                    }
                } else {
                    self.counters.nonfinite_mag += 1;
                }
            }
        }
        if self.est.initialised {
            let q = self.vqf.quat_6d();
            self.hist[self.hist_head] = (t.0, [q.w, q.i, q.j, q.k]);
            self.hist_head = (self.hist_head + 1) % YAW_HISTORY;
            self.hist_len = (self.hist_len + 1).min(YAW_HISTORY);
        }
        self.publish(&gyr, acc_ok.then_some(&acc));
        &self.est
    }

    /// The 6-D orientation (no magnetometer, no yaw aid) at `t`, interpolated between the two
    /// kept samples around it. Allocation-free.
    fn orientation_at(&self, t: Time) -> Result<UnitQuaternion<f64>, YawAidError> {
        if self.hist_len == 0 {
            return Err(YawAidError::NotInitialised);
        }
        let at =
            |k: usize| self.hist[(self.hist_head + YAW_HISTORY - self.hist_len + k) % YAW_HISTORY];
        let (oldest, newest) = (at(0).0, at(self.hist_len - 1).0);
        if t.0 < oldest || t.0 > newest {
            return Err(YawAidError::OutOfHistory {
                t_ns: t.0,
                oldest_ns: oldest,
                newest_ns: newest,
            });
        }
        // binary search for the first sample at or after t
        let (mut lo, mut hi) = (0, self.hist_len - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if at(mid).0 < t.0 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let quat = |q: [f64; 4]| {
            UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(q[0], q[1], q[2], q[3]))
        };
        let (t1, q1) = at(lo);
        if lo == 0 || t1 == t.0 {
            return Ok(quat(q1));
        }
        let (t0, q0) = at(lo - 1);
        let s = (t.0 - t0) as f64 / (t1 - t0) as f64;
        let (q0, q1) = (quat(q0), quat(q1));
        Ok(q0.try_slerp(&q1, s, 1e-9).unwrap_or(q1))
    }

    /// Corrects the heading drift from a relative rotation measured by another sensor (the
    /// visual heading aid): `rotation` is the IMU frame at `t1` expressed in the IMU frame at
    /// `t0` (quaternion `[w, x, y, z]`). The yaw the filter integrated over `[t0, t1]` is
    /// compared with the yaw of the measured rotation, and `confidence` (0..=1) times the
    /// difference is added to the heading correction. Both stamps must lie within the last
    /// [`YAW_HISTORY`] accepted samples, so measurements that arrive late (older than the newest
    /// IMU sample) are fine. Only used without a magnetometer. Allocation-free; returns the
    /// correction applied, rad.
    pub fn correct_yaw(
        &mut self,
        t0: Time,
        t1: Time,
        rotation: [f64; 4],
        confidence: f64,
    ) -> Result<f64, YawAidError> {
        let r = self.yaw_error(t0, t1, rotation, confidence);
        match r {
            Ok(e) => {
                self.counters.yaw_aids += 1;
                self.yaw_offset = wrap_pi(self.yaw_offset + confidence * e);
                self.est.yaw_aided = true;
                let q = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.yaw_offset)
                    * self.vqf.quat_6d();
                self.est.orientation = [q.w, q.i, q.j, q.k];
                Ok(confidence * e)
            }
            Err(e) => {
                self.counters.yaw_aids_rejected += 1;
                Err(e)
            }
        }
    }

    fn yaw_error(
        &self,
        t0: Time,
        t1: Time,
        rotation: [f64; 4],
        confidence: f64,
    ) -> Result<f64, YawAidError> {
        if self.mag_seen {
            return Err(YawAidError::MagnetometerInUse);
        }
        if !(confidence.is_finite() && (0.0..=1.0).contains(&confidence)) {
            return Err(YawAidError::Invalid("confidence outside [0, 1]"));
        }
        if t1 <= t0 {
            return Err(YawAidError::Invalid("t1 <= t0"));
        }
        let n = rotation.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !n.is_finite() || n < 1e-6 {
            return Err(YawAidError::Invalid(
                "rotation is not a finite non-zero quaternion",
            ));
        }
        let rel = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(
            rotation[0],
            rotation[1],
            rotation[2],
            rotation[3],
        ));
        let q0 = self.orientation_at(t0)?;
        let q1 = self.orientation_at(t1)?;
        Ok(wrap_pi(yaw_of(&(q0 * rel)) - yaw_of(&q1)))
    }

    /// The heading correction accumulated from yaw aids, rad.
    pub fn yaw_offset(&self) -> f64 {
        self.yaw_offset
    }

    fn publish(&mut self, gyr: &Vector3<f64>, acc: Option<&Vector3<f64>>) {
        let q: UnitQuaternion<f64> = if self.mag_seen {
            self.vqf.quat_9d()
        } else if self.yaw_offset != 0.0 {
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.yaw_offset)
                * self.vqf.quat_6d()
        } else {
            self.vqf.quat_6d()
        };
        let b = self.vqf.bias();
        let w = gyr - b;
        let e = &mut self.est;
        e.orientation = [q.w, q.i, q.j, q.k];
        e.angular_velocity = [w.x, w.y, w.z];
        e.gyro_bias = [b.x, b.y, b.z];
        if let Some(a) = acc {
            let lin = q * a - Vector3::new(0.0, 0.0, self.cfg.gravity);
            e.linear_accel = [lin.x, lin.y, lin.z];
        }
        e.heading_from_mag = self.mag_seen && !self.vqf.mag_disturbed();
        e.at_rest = self.vqf.rest_detected();
        e.mag_disturbed = self.vqf.mag_disturbed();
        e.yaw_aided = !self.mag_seen && self.counters.yaw_aids > 0;
    }
}

/// Heading (yaw about world z, ZYX convention) of an orientation, rad.
pub fn yaw_of(q: &UnitQuaternion<f64>) -> f64 {
    let (w, x, y, z) = (q.w, q.i, q.j, q.k);
    (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z))
}

fn wrap_pi(a: f64) -> f64 {
    use std::f64::consts::PI;
    let r = (a + PI).rem_euclid(2.0 * PI) - PI;
    if r.is_finite() {
        r
    } else {
        0.0
    }
}
