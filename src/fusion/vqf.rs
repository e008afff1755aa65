//! The orientation filter core: VQF (Laidig & Seel, "VQF: Highly accurate IMU orientation
//! estimation with bias estimation and magnetic disturbance rejection", Information Fusion 91,
//! 2023), written here in Rust from the published algorithm, extended to irregular sample
//! intervals.
//!
//! Why by hand and not a crate: it is the hot path of the RT control task (one call per cycle,
//! no allocation, sub-microsecond), it must take a per-sample `dt` (the reference assumes a fixed
//! rate), and no maintained Rust crate implements it.
//!
//! Structure of the estimate (all quaternions map sensor-frame vectors to a world frame, z up):
//! ```text
//! q = q_z(delta) * q_acc * q_gyr
//!       |           |        \- strapdown integration of the bias-corrected gyro
//!       |           \---------- inclination correction, from the accelerometer low-passed in the
//!       |                       almost-inertial frame of q_gyr (linear acceleration averages out)
//!       \---------------------- heading correction from the magnetometer (1-D, about world z),
//!                               with disturbance detection by field norm and dip angle
//! ```
//! The gyro bias is a 3-D Kalman estimate fed by the inclination disagreement during motion and by
//! the low-passed gyro itself at rest (rest = small gyro and accel deviation for `rest_min_t`).

use nalgebra::{Matrix3, Quaternion, UnitQuaternion, Vector2, Vector3};

use super::ImuFilterConfig;

const DEG: f64 = std::f64::consts::PI / 180.0;

/// Second-order Butterworth low-pass coefficients (`a0 = 1`).
#[derive(Clone, Copy, Debug, Default)]
struct Butter {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

impl Butter {
    /// Low-pass whose non-oscillating step response has time constant `tau`, at sample time `dt`.
    fn new(tau: f64, dt: f64) -> Butter {
        let fc = (std::f64::consts::SQRT_2 / (2.0 * std::f64::consts::PI)) / tau;
        let c = (std::f64::consts::PI * fc * dt).tan();
        let d = c * c + std::f64::consts::SQRT_2 * c + 1.0;
        let b0 = c * c / d;
        Butter {
            b0,
            b1: 2.0 * b0,
            b2: b0,
            a1: 2.0 * (c * c - 1.0) / d,
            a2: (1.0 - std::f64::consts::SQRT_2 * c + c * c) / d,
        }
    }
}

/// An N-channel second-order low-pass (direct form II transposed) that starts from the mean of
/// its first `tau` seconds of input instead of from zero or a single sample.
#[derive(Clone, Copy, Debug)]
struct LowPass<const N: usize> {
    s0: [f64; N],
    s1: [f64; N],
    /// Still averaging the first samples.
    warming: bool,
    warm_t: f64,
    warm_n: f64,
    sum: [f64; N],
}

impl<const N: usize> LowPass<N> {
    fn new() -> Self {
        LowPass {
            s0: [0.0; N],
            s1: [0.0; N],
            warming: true,
            warm_t: 0.0,
            warm_n: 0.0,
            sum: [0.0; N],
        }
    }

    fn reset(&mut self) {
        *self = Self::new();
    }

    /// Filters `x` in place (index loops: the channels of x, s0, s1 and sum run together).
    #[allow(clippy::needless_range_loop)]
    fn step(&mut self, x: &mut [f64; N], f: &Butter, tau: f64, dt: f64) {
        if self.warming {
            self.warm_n += 1.0;
            self.warm_t += dt;
            for i in 0..N {
                self.sum[i] += x[i];
                x[i] = self.sum[i] / self.warm_n;
            }
            if self.warm_t >= tau {
                // steady state for a constant input equal to the mean
                for i in 0..N {
                    self.s0[i] = x[i] * (1.0 - f.b0);
                    self.s1[i] = x[i] * (f.b2 - f.a2);
                }
                self.warming = false;
            }
            return;
        }
        for i in 0..N {
            let y = f.b0 * x[i] + self.s0[i];
            self.s0[i] = f.b1 * x[i] - f.a1 * y + self.s1[i];
            self.s1[i] = f.b2 * x[i] - f.a2 * y;
            x[i] = y;
        }
    }
}

/// Gain of a first-order low-pass with time constant `tau` at sample time `dt`
/// (`tau < 0`: disabled, `tau == 0`: pass-through).
fn gain_from_tau(tau: f64, dt: f64) -> f64 {
    if tau < 0.0 {
        0.0
    } else if tau == 0.0 {
        1.0
    } else {
        1.0 - (-dt / tau).exp()
    }
}

/// Everything that depends on the sample interval; recomputed only when `dt` changes noticeably.
#[derive(Clone, Copy, Debug, Default)]
struct Coeffs {
    dt: f64,
    acc_lp: Butter,
    rest_lp: Butter,
    mag_lp: Butter,
    k_mag: f64,
    k_mag_ref: f64,
    bias_v: f64,
    bias_motion_w: f64,
    bias_vertical_w: f64,
    bias_rest_w: f64,
}

impl Coeffs {
    fn new(p: &ImuFilterConfig, dt: f64) -> Coeffs {
        // Bias covariance is kept in (0.01 deg/s)^2: the process noise raises the variance from 0
        // to (0.1 deg/s)^2 in `bias_forgetting_time`.
        let bias_v = (0.1f64 * 100.0).powi(2) * dt / p.bias_forgetting_time;
        let p_motion = (p.bias_sigma_motion * 100.0).powi(2);
        let bias_motion_w = p_motion * p_motion / bias_v + p_motion;
        let p_rest = (p.bias_sigma_rest * 100.0).powi(2);
        Coeffs {
            dt,
            acc_lp: Butter::new(p.tau_acc, dt),
            rest_lp: Butter::new(p.rest_filter_tau, dt),
            mag_lp: Butter::new(p.mag_current_tau.max(1e-9), dt),
            k_mag: gain_from_tau(p.tau_mag, dt),
            k_mag_ref: gain_from_tau(p.mag_ref_tau, dt),
            bias_v,
            bias_motion_w,
            bias_vertical_w: bias_motion_w / p.bias_vertical_forgetting_factor.max(1e-10),
            bias_rest_w: p_rest * p_rest / bias_v + p_rest,
        }
    }
}

/// The VQF state. Plain values only: `update` allocates nothing.
#[derive(Clone, Debug)]
pub struct Vqf {
    p: ImuFilterConfig,
    c: Coeffs,
    bias_p0: f64,
    gyr_quat: UnitQuaternion<f64>,
    acc_quat: UnitQuaternion<f64>,
    delta: f64,
    acc_lp: LowPass<3>,
    last_acc_lp: Vector3<f64>,
    bias: Vector3<f64>,
    bias_p: Matrix3<f64>,
    motion_r_lp: LowPass<9>,
    motion_bias_lp: LowPass<2>,
    rest_detected: bool,
    rest_t: f64,
    rest_gyr_lp: LowPass<3>,
    rest_last_gyr_lp: Vector3<f64>,
    rest_acc_lp: LowPass<3>,
    k_mag_init: f64,
    mag_dist_detected: bool,
    mag_ref_norm: f64,
    mag_ref_dip: f64,
    mag_undisturbed_t: f64,
    mag_reject_t: f64,
    mag_candidate_norm: f64,
    mag_candidate_dip: f64,
    mag_candidate_t: f64,
    mag_norm_dip_lp: LowPass<2>,
}

impl Vqf {
    /// A filter with the given parameters; `dt_hint` is the expected sample interval, s.
    pub fn new(p: &ImuFilterConfig, dt_hint: f64) -> Vqf {
        let c = Coeffs::new(p, dt_hint);
        let bias_p0 = (p.bias_sigma_init * 100.0).powi(2);
        Vqf {
            p: p.clone(),
            c,
            bias_p0,
            gyr_quat: UnitQuaternion::identity(),
            acc_quat: UnitQuaternion::identity(),
            delta: 0.0,
            acc_lp: LowPass::new(),
            last_acc_lp: Vector3::zeros(),
            bias: Vector3::zeros(),
            bias_p: Matrix3::from_diagonal_element(bias_p0),
            motion_r_lp: LowPass::new(),
            motion_bias_lp: LowPass::new(),
            rest_detected: false,
            rest_t: 0.0,
            rest_gyr_lp: LowPass::new(),
            rest_last_gyr_lp: Vector3::zeros(),
            rest_acc_lp: LowPass::new(),
            k_mag_init: 1.0,
            mag_dist_detected: true,
            mag_ref_norm: 0.0,
            mag_ref_dip: 0.0,
            mag_undisturbed_t: 0.0,
            mag_reject_t: p.mag_max_rejection_time,
            mag_candidate_norm: -1.0,
            mag_candidate_dip: 0.0,
            mag_candidate_t: 0.0,
            mag_norm_dip_lp: LowPass::new(),
        }
    }

    /// Back to the initial state (keeps parameters).
    pub fn reset(&mut self) {
        *self = Vqf::new(&self.p.clone(), self.c.dt);
    }

    /// Makes the next accelerometer and magnetometer samples re-align the estimate quickly (after
    /// a long dropout): the inclination low-pass restarts from fresh samples and the heading gain
    /// starts at 1 again. The gyro bias estimate is kept.
    pub fn realign(&mut self) {
        self.acc_lp.reset();
        self.motion_r_lp.reset();
        self.motion_bias_lp.reset();
        self.k_mag_init = 1.0;
    }

    fn set_dt(&mut self, dt: f64) {
        // 0.1 % change in dt changes the filter corners by 0.1 %: not worth three tan/exp calls.
        if (dt - self.c.dt).abs() > 1e-3 * self.c.dt {
            self.c = Coeffs::new(&self.p, dt);
        }
    }

    /// One gyro step over `dt` seconds with the gyro in rad/s (inputs must be finite).
    pub fn update_gyr(&mut self, dt: f64, gyr: &Vector3<f64>) {
        self.set_dt(dt);
        if self.p.rest_bias_est || self.p.mag_dist_rejection {
            let mut lp = [gyr.x, gyr.y, gyr.z];
            self.rest_gyr_lp
                .step(&mut lp, &self.c.rest_lp, self.p.rest_filter_tau, dt);
            self.rest_last_gyr_lp = Vector3::from(lp);
            let dev = (gyr - self.rest_last_gyr_lp).norm_squared();
            let clip = self.p.bias_clip * DEG;
            if dev >= (self.p.rest_th_gyr * DEG).powi(2)
                || self.rest_last_gyr_lp.iter().any(|v| v.abs() > clip)
            {
                self.rest_t = 0.0;
                self.rest_detected = false;
            }
        }
        let w = gyr - self.bias;
        let n = w.norm();
        if n > f64::EPSILON {
            let half = 0.5 * n * dt;
            let s = half.sin() / n;
            let step = Quaternion::new(half.cos(), s * w.x, s * w.y, s * w.z);
            self.gyr_quat = UnitQuaternion::new_normalize(self.gyr_quat.into_inner() * step);
        }
    }

    /// One accelerometer update (m/s^2; a zero vector is ignored). With `correct == false`
    /// (strong linear acceleration) the gyro-bias update from this sample is skipped. The
    /// inclination correction still runs: it aligns the *low-passed* accelerometer of the
    /// almost-inertial frame, in which linear acceleration averages out, so it is not what a
    /// single strong sample corrupts (skipping it, or leaving the sample out of the low-pass,
    /// measured worse on BROAD trial 30: the low-pass average becomes biased).
    pub fn update_acc(&mut self, dt: f64, acc: &Vector3<f64>, correct: bool) {
        if acc.x == 0.0 && acc.y == 0.0 && acc.z == 0.0 {
            return;
        }
        self.set_dt(dt);
        if self.p.rest_bias_est {
            let mut lp = [acc.x, acc.y, acc.z];
            self.rest_acc_lp
                .step(&mut lp, &self.c.rest_lp, self.p.rest_filter_tau, dt);
            let dev = (acc - Vector3::from(lp)).norm_squared();
            if dev >= self.p.rest_th_acc * self.p.rest_th_acc {
                self.rest_t = 0.0;
                self.rest_detected = false;
            } else {
                self.rest_t += dt;
                if self.rest_t >= self.p.rest_min_t {
                    self.rest_detected = true;
                }
            }
        }

        // low-pass the accelerometer in the almost-inertial frame of the gyro strapdown
        let a_i = self.gyr_quat * acc;
        let mut lp = [a_i.x, a_i.y, a_i.z];
        self.acc_lp
            .step(&mut lp, &self.c.acc_lp, self.p.tau_acc, dt);
        self.last_acc_lp = Vector3::from(lp);

        // into the 6-D world frame; rotate it onto +z (rotation about a horizontal axis)
        let mut a_e = self.acc_quat * self.last_acc_lp;
        let an = a_e.norm();
        if an > f64::EPSILON {
            a_e /= an;
        }
        let qw = ((a_e.z + 1.0) / 2.0).sqrt();
        let corr = if qw > 1e-6 {
            Quaternion::new(qw, 0.5 * a_e.y / qw, -0.5 * a_e.x / qw, 0.0)
        } else {
            Quaternion::new(0.0, 1.0, 0.0, 0.0)
        };
        self.acc_quat = UnitQuaternion::new_normalize(corr * self.acc_quat.into_inner());

        if correct && (self.p.motion_bias_est || self.p.rest_bias_est) {
            self.update_bias(dt, &a_e);
        }
    }

    fn update_bias(&mut self, dt: f64, a_e: &Vector3<f64>) {
        let clip = self.p.bias_clip * DEG;
        let q6 = self.quat_6d();
        let r_now = q6.to_rotation_matrix().into_inner();
        let rb = r_now * self.bias;
        // low-pass R and R*b with the same filter as the accelerometer so they match its delay
        let mut rr = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                rr[3 * i + j] = r_now[(i, j)];
            }
        }
        self.motion_r_lp
            .step(&mut rr, &self.c.acc_lp, self.p.tau_acc, dt);
        let mut blp = [rb.x, rb.y];
        self.motion_bias_lp
            .step(&mut blp, &self.c.acc_lp, self.p.tau_acc, dt);
        let mut r = Matrix3::new(
            rr[0], rr[1], rr[2], rr[3], rr[4], rr[5], rr[6], rr[7], rr[8],
        );

        let (e, w) = if self.rest_detected && self.p.rest_bias_est {
            r = Matrix3::identity();
            (
                self.rest_last_gyr_lp - self.bias,
                Vector3::repeat(self.c.bias_rest_w),
            )
        } else if self.p.motion_bias_est {
            let rb = r * self.bias;
            (
                Vector3::new(
                    -a_e.y / dt + blp[0] - rb.x,
                    a_e.x / dt + blp[1] - rb.y,
                    -rb.z,
                ),
                Vector3::new(
                    self.c.bias_motion_w,
                    self.c.bias_motion_w,
                    self.c.bias_vertical_w,
                ),
            )
        } else {
            (Vector3::zeros(), Vector3::repeat(-1.0))
        };

        // P += V (also without a measurement)
        for k in 0..3 {
            if self.bias_p[(k, k)] < self.bias_p0 {
                self.bias_p[(k, k)] += self.c.bias_v;
            }
        }
        if w.x < 0.0 {
            return;
        }
        let e = e.map(|v| v.clamp(-clip, clip));
        let s = Matrix3::from_diagonal(&w) + r * self.bias_p * r.transpose();
        let Some(s_inv) = s.try_inverse() else {
            return;
        };
        let k = self.bias_p * r.transpose() * s_inv;
        self.bias += k * e;
        self.bias_p -= k * r * self.bias_p;
        self.bias = self.bias.map(|v| v.clamp(-clip, clip));
    }

    /// One magnetometer correction (any unit; a zero vector is ignored).
    pub fn update_mag(&mut self, dt: f64, mag: &Vector3<f64>) {
        if mag.x == 0.0 && mag.y == 0.0 && mag.z == 0.0 {
            return;
        }
        self.set_dt(dt);
        let m_e = self.quat_6d() * mag;
        if self.p.mag_dist_rejection {
            self.mag_disturbance(dt, &m_e);
        }
        let mut dis = m_e.x.atan2(m_e.y) - self.delta;
        dis = wrap_pi(dis);
        let mut k = self.c.k_mag;
        if self.p.mag_dist_rejection {
            if self.mag_dist_detected {
                if self.mag_reject_t <= self.p.mag_max_rejection_time {
                    self.mag_reject_t += dt;
                    k = 0.0;
                } else {
                    k /= self.p.mag_rejection_factor;
                }
            } else {
                self.mag_reject_t = (self.mag_reject_t - self.p.mag_rejection_factor * dt).max(0.0);
            }
        }
        // fast initial convergence: the gain is at least 1/N for the N-th sample, for tau_mag
        if self.k_mag_init != 0.0 {
            k = k.max(self.k_mag_init);
            self.k_mag_init /= self.k_mag_init + 1.0;
            if self.k_mag_init * self.p.tau_mag < dt {
                self.k_mag_init = 0.0;
            }
        }
        self.delta = wrap_pi(self.delta + k * dis);
    }

    fn mag_disturbance(&mut self, dt: f64, m_e: &Vector3<f64>) {
        let norm = m_e.norm();
        let mut nd = [norm, -(m_e.z / norm).clamp(-1.0, 1.0).asin()];
        if self.p.mag_current_tau > 0.0 {
            self.mag_norm_dip_lp
                .step(&mut nd, &self.c.mag_lp, self.p.mag_current_tau, dt);
        }
        let dip_th = self.p.mag_dip_th * DEG;
        let k_ref = self.c.k_mag_ref;
        if (nd[0] - self.mag_ref_norm).abs() < self.p.mag_norm_th * self.mag_ref_norm
            && (nd[1] - self.mag_ref_dip).abs() < dip_th
        {
            self.mag_undisturbed_t += dt;
            if self.mag_undisturbed_t >= self.p.mag_min_undisturbed_time {
                self.mag_dist_detected = false;
                self.mag_ref_norm += k_ref * (nd[0] - self.mag_ref_norm);
                self.mag_ref_dip += k_ref * (nd[1] - self.mag_ref_dip);
            }
        } else {
            self.mag_undisturbed_t = 0.0;
            self.mag_dist_detected = true;
        }
        // accept a new homogeneous field after it has been stable while moving
        if (nd[0] - self.mag_candidate_norm).abs() < self.p.mag_norm_th * self.mag_candidate_norm
            && (nd[1] - self.mag_candidate_dip).abs() < dip_th
        {
            if self.rest_last_gyr_lp.norm() >= self.p.mag_new_min_gyr * DEG {
                self.mag_candidate_t += dt;
            }
            self.mag_candidate_norm += k_ref * (nd[0] - self.mag_candidate_norm);
            self.mag_candidate_dip += k_ref * (nd[1] - self.mag_candidate_dip);
            if self.mag_dist_detected
                && (self.mag_candidate_t >= self.p.mag_new_time
                    || (self.mag_ref_norm == 0.0
                        && self.mag_candidate_t >= self.p.mag_new_first_time))
            {
                self.mag_ref_norm = self.mag_candidate_norm;
                self.mag_ref_dip = self.mag_candidate_dip;
                self.mag_dist_detected = false;
                self.mag_undisturbed_t = self.p.mag_min_undisturbed_time;
            }
        } else {
            self.mag_candidate_t = 0.0;
            self.mag_candidate_norm = nd[0];
            self.mag_candidate_dip = nd[1];
        }
    }

    /// Orientation from gyro and accelerometer only (heading drifts).
    pub fn quat_6d(&self) -> UnitQuaternion<f64> {
        self.acc_quat * self.gyr_quat
    }

    /// Orientation including the magnetometer heading correction.
    pub fn quat_9d(&self) -> UnitQuaternion<f64> {
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.delta) * self.quat_6d()
    }

    /// Gyro bias estimate, rad/s.
    pub fn bias(&self) -> Vector3<f64> {
        self.bias
    }

    /// Gyro bias estimate's standard deviation bound, rad/s.
    pub fn bias_sigma(&self) -> f64 {
        let p = &self.bias_p;
        let row = |i: usize| p[(i, 0)].abs() + p[(i, 1)].abs() + p[(i, 2)].abs();
        let m = row(0).max(row(1)).max(row(2)).min(self.bias_p0);
        m.sqrt() * DEG / 100.0
    }

    /// True while the sensor is at rest.
    pub fn rest_detected(&self) -> bool {
        self.rest_detected
    }

    /// True while the magnetic field is considered disturbed.
    pub fn mag_disturbed(&self) -> bool {
        self.mag_dist_detected
    }

    /// Low-passed norm and dip of the field used by the disturbance detector.
    pub fn mag_reference(&self) -> Vector2<f64> {
        Vector2::new(self.mag_ref_norm, self.mag_ref_dip)
    }
}

fn wrap_pi(a: f64) -> f64 {
    use std::f64::consts::PI;
    if a > PI {
        a - 2.0 * PI
    } else if a < -PI {
        a + 2.0 * PI
    } else {
        a
    }
}
