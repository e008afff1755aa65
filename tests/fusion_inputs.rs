//! The fusion stage under bad and irregular input: NaN/Inf, duplicate and out-of-order stamps,
//! dropouts, irregular intervals; joints, contacts and the depth grid; zero allocations.

use sattva::alloc_count::{allocations_on_this_thread, CountingAlloc};
use sattva::fusion::{
    reduce_depth, DepthFilterConfig, DepthGrid, DepthImage, DepthPixels, Fusion, FusionConfig,
    ImuFilter, ImuFilterConfig,
};
use sattva::types::{Imu, SensorFrame, Time};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const G: f64 = 9.81;

fn qmul(a: &[f64; 4], b: &[f64; 4]) -> [f64; 4] {
    [
        a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
        a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
        a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
        a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
    ]
}

/// World up in the body frame of `q`, times g: what an accelerometer at rest reads.
fn accel_at_rest(q: &[f64; 4]) -> [f64; 3] {
    let [w, x, y, z] = *q;
    [
        G * 2.0 * (x * z - w * y),
        G * 2.0 * (y * z + w * x),
        G * (1.0 - 2.0 * (x * x + y * y)),
    ]
}

/// Inclination error, degrees.
fn incl_err(est: &[f64; 4], truth: &[f64; 4]) -> f64 {
    let e = qmul(est, &[truth[0], -truth[1], -truth[2], -truth[3]]);
    (2.0 * (e[0] * e[0] + e[3] * e[3]).sqrt().min(1.0).acos()).to_degrees()
}

fn axis_angle(axis: [f64; 3], angle: f64) -> [f64; 4] {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let s = (angle / 2.0).sin() / n;
    [(angle / 2.0).cos(), axis[0] * s, axis[1] * s, axis[2] * s]
}

/// A slow wobble: rotation at a constant body rate; returns (truth, gyro, accel) at time t.
struct Wobble {
    q: [f64; 4],
    w: [f64; 3],
}

impl Wobble {
    fn new() -> Wobble {
        Wobble {
            q: axis_angle([1.0, 0.3, 0.0], 0.4),
            w: [0.2, -0.15, 0.3],
        }
    }
    fn step(&mut self, dt: f64) {
        let n = (self.w.iter().map(|v| v * v).sum::<f64>()).sqrt();
        let s = (0.5 * n * dt).sin() / n;
        self.q = qmul(
            &self.q,
            &[
                (0.5 * n * dt).cos(),
                s * self.w[0],
                s * self.w[1],
                s * self.w[2],
            ],
        );
    }
    fn imu(&self) -> Imu {
        Imu {
            accel: accel_at_rest(&self.q),
            gyro: self.w,
            mag: None,
        }
    }
}

fn cfg() -> ImuFilterConfig {
    ImuFilterConfig {
        nominal_dt_s: 0.005,
        ..ImuFilterConfig::default()
    }
}

#[test]
fn irregular_intervals_track_the_truth() {
    // dt jumps between 1 and 19 ms (deterministic pseudo-random), 60 s
    let mut f = ImuFilter::new(&cfg());
    let mut m = Wobble::new();
    let (mut t, mut seed) = (0i64, 12345u64);
    let mut worst = 0.0f64;
    for i in 0..6000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let dt_ns = 1_000_000 + (seed >> 33) as i64 % 18_000_000;
        t += dt_ns;
        m.step(dt_ns as f64 * 1e-9);
        let e = f.update(Time(t), &m.imu());
        if i > 1000 {
            worst = worst.max(incl_err(&e.orientation, &m.q));
        }
    }
    eprintln!("irregular dt: worst inclination error {worst:.3} deg");
    assert!(worst < 1.0, "worst inclination error {worst} deg");
}

#[test]
fn nan_and_inf_are_rejected_counted_and_never_propagated() {
    let mut f = ImuFilter::new(&cfg());
    let mut m = Wobble::new();
    for i in 1..=4000i64 {
        m.step(0.005);
        let mut imu = m.imu();
        match i % 50 {
            7 => imu.gyro[1] = f64::NAN,
            13 => imu.accel[2] = f64::INFINITY,
            29 => imu.mag = Some([f64::NAN, 1.0, 0.0]),
            31 => imu.accel = [f64::NEG_INFINITY; 3],
            41 => imu.gyro[0] = 1e300, // finite, but its square overflows
            _ => {}
        }
        let e = f.update(Time(i * 5_000_000), &imu);
        let all = e
            .orientation
            .iter()
            .chain(&e.angular_velocity)
            .chain(&e.linear_accel)
            .chain(&e.gyro_bias);
        assert!(
            all.clone().all(|v| v.is_finite()),
            "non-finite output at {i}"
        );
    }
    let c = f.counters;
    assert_eq!(c.nonfinite, 160, "{c:?}");
    assert_eq!(c.nonfinite_accel, 160, "{c:?}");
    assert_eq!(c.nonfinite_mag, 80, "{c:?}");
    assert!(incl_err(&f.estimate().orientation, &m.q) < 1.0);
}

#[test]
fn duplicate_and_out_of_order_stamps_are_dropped_without_effect() {
    let mut clean = ImuFilter::new(&cfg());
    let mut dirty = ImuFilter::new(&cfg());
    let mut m = Wobble::new();
    let garbage = Imu {
        accel: [50.0, -3.0, 1.0],
        gyro: [5.0, 5.0, -5.0],
        mag: None,
    };
    for i in 1..=2000i64 {
        m.step(0.005);
        let t = Time(i * 5_000_000);
        clean.update(t, &m.imu());
        dirty.update(t, &m.imu());
        if i % 10 == 0 {
            let e = *dirty.update(t, &garbage); // duplicate
            assert!(e.stale);
        }
        if i % 15 == 0 {
            let e = *dirty.update(Time(t.0 - 7_000_000), &garbage); // from the past
            assert!(e.stale);
        }
    }
    assert_eq!(dirty.counters.duplicates, 200);
    assert_eq!(dirty.counters.out_of_order, 133);
    assert_eq!(dirty.counters.accepted, clean.counters.accepted);
    // bit-identical: the dropped samples left no trace
    assert_eq!(clean.estimate().orientation, dirty.estimate().orientation);
    assert_eq!(clean.estimate().gyro_bias, dirty.estimate().gyro_bias);
}

#[test]
fn dropouts_are_flagged_and_the_filter_realigns() {
    let mut f = ImuFilter::new(&cfg());
    let mut q = axis_angle([0.0, 1.0, 0.0], 0.2);
    let rest = |q: &[f64; 4]| Imu {
        accel: accel_at_rest(q),
        gyro: [0.0; 3],
        mag: None,
    };
    let mut t = 0i64;
    for _ in 0..2000 {
        t += 5_000_000;
        f.update(Time(t), &rest(&q));
    }
    assert!(incl_err(&f.estimate().orientation, &q) < 0.1);
    // a 0.3 s gap: flagged
    t += 300_000_000;
    assert!(f.update(Time(t), &rest(&q)).dropout);
    assert_eq!(f.counters.dropouts, 1);
    assert!(!f.update(Time(t + 5_000_000), &rest(&q)).dropout);
    t += 5_000_000;
    // a 3 s gap during which the sensor was tilted by 40 deg (no gyro data of it)
    q = axis_angle([1.0, 0.0, 0.0], 0.7);
    t += 3_000_000_000;
    assert!(f.update(Time(t), &rest(&q)).dropout);
    assert_eq!(f.counters.dropouts, 2);
    let mut settled_after = None;
    for i in 1..=2000 {
        t += 5_000_000;
        let e = f.update(Time(t), &rest(&q));
        if settled_after.is_none() && incl_err(&e.orientation, &q) < 1.0 {
            settled_after = Some(i as f64 * 0.005);
        }
    }
    let s = settled_after.expect("never re-aligned");
    eprintln!("re-aligned to < 1 deg {s:.3} s after a 3 s dropout");
    assert!(s < 0.5, "took {s} s");
}

/// (max inclination error deg, max horizontal bias error rad/s, rejected samples) around a
/// 0.25 s, +/-40 m/s^2 impact while the sensor wobbles with a constant gyro bias.
fn impact_run(accel_reject: f64) -> (f64, f64, u64) {
    let mut f = ImuFilter::new(&ImuFilterConfig {
        accel_reject_m_s2: accel_reject,
        ..cfg()
    });
    let bias = [0.01, -0.008, 0.004];
    let mut m = Wobble::new();
    let (mut worst_incl, mut worst_bias) = (0.0f64, 0.0f64);
    for i in 1..=8000i64 {
        m.step(0.005);
        let mut imu = m.imu();
        for (g, b) in imu.gyro.iter_mut().zip(bias) {
            *g += b;
        }
        // a push and a stop (net velocity change zero, as in a real impact)
        if (4000..4025).contains(&i) {
            imu.accel[0] += 40.0;
        } else if (4025..4050).contains(&i) {
            imu.accel[0] -= 40.0;
        }
        let e = f.update(Time(i * 5_000_000), &imu);
        if i >= 4000 {
            worst_incl = worst_incl.max(incl_err(&e.orientation, &m.q));
            let b = e.gyro_bias;
            let d = ((b[0] - bias[0]).powi(2) + (b[1] - bias[1]).powi(2)).sqrt();
            worst_bias = worst_bias.max(d);
        }
    }
    (worst_incl, worst_bias, f.counters.accel_rejected)
}

#[test]
fn strong_linear_acceleration_is_kept_out_of_the_bias_estimate() {
    let (incl, bias, rejected) = impact_run(20.0);
    let (incl_off, bias_off, rejected_off) = impact_run(1e4);
    eprintln!(
        "impact: gated: incl {incl:.3} deg, bias err {bias:.5} rad/s; ungated: incl {incl_off:.3} deg, bias err {bias_off:.5} rad/s"
    );
    assert_eq!(rejected, 50);
    assert_eq!(rejected_off, 0);
    assert!(incl < 2.0, "inclination error {incl} deg during the impact");
    assert!(
        bias < bias_off,
        "the gate did not protect the bias estimate"
    );
}

#[test]
fn fusion_assembles_joints_contacts_and_flags() {
    let mut fu = Fusion::new(&FusionConfig::default());
    let mut fr = SensorFrame::default();
    // joint 0 moves at 0.5 rad/s, no velocity sensor: estimated by differentiation
    for i in 0..500i64 {
        fr.t = Time(i * 2_000_000);
        fr.joints.clear();
        fr.joints.position.push(0.5 * i as f64 * 0.002);
        fr.joints.position.push(1.0);
        fr.contacts.clear();
        fr.contacts
            .push(if (100..103).contains(&i) || (200..260).contains(&i) {
                1.0
            } else {
                0.0
            });
        fr.imu = Some(Imu {
            accel: [0.0, 0.0, G],
            gyro: [0.0; 3],
            mag: None,
        });
        let s = fu.update(&fr);
        if i == 102 {
            assert!(
                s.touching[0],
                "3 samples above on_force turn the contact on"
            );
        }
        if i == 101 {
            assert!(!s.touching[0], "2 samples are bounce");
        }
        if i == 150 {
            assert!(!s.touching[0], "turned off after 5 samples below off_force");
        }
        if i == 230 {
            assert!(s.touching[0]);
        }
    }
    let s = fu.state();
    assert!(s.validity.joints && s.validity.joint_velocity_estimated && s.validity.imu);
    assert!(s.validity.orientation && !s.validity.heading && !s.validity.depth);
    assert!(
        (s.joint_velocity[0] - 0.5).abs() < 1e-6,
        "{:?}",
        s.joint_velocity
    );
    assert!(s.joint_velocity[1].abs() < 1e-9);
    // NaN position: last good value kept, flagged
    fr.t = Time(500 * 2_000_000);
    fr.joints.position[0] = f64::NAN;
    let s = fu.update(&fr);
    assert!(!s.validity.joints);
    assert!(s.joint_position[0].is_finite() && s.joint_velocity[0].is_finite());
    // no IMU this frame
    fr.imu = None;
    fr.t = Time(501 * 2_000_000);
    assert!(!fu.update(&fr).validity.imu);
}

fn assert_close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    assert!(
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5),
        "{a:?} != {b:?}"
    );
}

#[test]
fn depth_grid_holds_nearest_valid_distance_per_cell() {
    let cfg = DepthFilterConfig {
        rows: 2,
        cols: 3,
        min_m: 0.2,
        max_m: 4.0,
        stride: 1,
    };
    let (w, h) = (12, 8);
    let mut px = vec![0u16; w * h]; // 0 = no data
    px[0] = 1500; // cell (0,0): 1.5 m
    px[1] = 100; // 0.1 m: below min, ignored
    px[5 * w + 11] = 800; // cell (1,2): 0.8 m
    px[5 * w + 10] = 900;
    px[7 * w + 5] = 9000; // 9 m: beyond max, ignored -> cell (1,1) empty
    let img = DepthImage {
        width: w,
        height: h,
        pixels: DepthPixels::U16 {
            data: &px,
            depth_units: 0.001,
        },
    };
    let mut g = DepthGrid::new(2, 3, 0.0);
    reduce_depth(&cfg, &img, &mut g).expect("reduce");
    assert_close(g.as_slice(), &[1.5, 4.0, 4.0, 4.0, 4.0, 0.8]);
    assert_eq!(g.valid_cells, 2);
    // f32 metres with NaN/Inf
    let mut f = vec![f32::NAN; w * h];
    f[3 * w + 6] = 2.0;
    f[3 * w + 7] = f32::INFINITY;
    let img = DepthImage {
        width: w,
        height: h,
        pixels: DepthPixels::F32(&f),
    };
    reduce_depth(&cfg, &img, &mut g).expect("reduce");
    assert_close(g.as_slice(), &[4.0, 2.0, 4.0, 4.0, 4.0, 4.0]);
    // wrong sizes are errors, not panics
    let img = DepthImage {
        width: w,
        height: h,
        pixels: DepthPixels::F32(&f[..10]),
    };
    assert!(reduce_depth(&cfg, &img, &mut g).is_err());
    let img = DepthImage {
        width: 2,
        height: 1,
        pixels: DepthPixels::F32(&f[..2]),
    };
    assert!(reduce_depth(&cfg, &img, &mut g).is_err());
    let img = DepthImage {
        width: w,
        height: h,
        pixels: DepthPixels::U16 {
            data: &px,
            depth_units: f32::NAN,
        },
    };
    assert!(reduce_depth(&cfg, &img, &mut g).is_err());
}

#[test]
fn fusion_update_and_depth_reduction_do_not_allocate() {
    let mut fu = Fusion::new(&FusionConfig::default());
    let mut fr = SensorFrame::default();
    let depth = vec![1000u16; 320 * 240];
    let mut m = Wobble::new();
    let mut run = |fu: &mut Fusion, fr: &mut SensorFrame, i: i64| {
        m.step(0.002);
        fr.t = Time(i * 2_000_000);
        fr.joints.clear();
        for j in 0..4 {
            fr.joints.position.push(0.01 * (i + j) as f64);
        }
        fr.contacts.clear();
        fr.contacts.push((i % 7) as f64 * 0.05);
        let mut imu = m.imu();
        imu.mag = Some([20.0, 0.0, -40.0]);
        if i % 97 == 0 {
            imu.gyro[0] = f64::NAN;
        }
        fr.imu = Some(imu);
        std::hint::black_box(fu.update(fr));
        let img = DepthImage {
            width: 320,
            height: 240,
            pixels: DepthPixels::U16 {
                data: &depth,
                depth_units: 0.001,
            },
        };
        fu.update_depth(&img).expect("depth");
    };
    for i in 0..100 {
        run(&mut fu, &mut fr, i);
    }
    let before = allocations_on_this_thread();
    for i in 100..1100 {
        run(&mut fu, &mut fr, i);
    }
    let n = allocations_on_this_thread() - before;
    assert_eq!(n, 0, "fusion allocated {n} times in 1000 cycles");
}
