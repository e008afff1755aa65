//! The IMU filter's input decisions at their exact boundaries, with expectations worked out by
//! hand from the documented rules (`ImuFilterConfig`): a gap *above* `max_gap_s` is a dropout,
//! one equal to it is not; the filter re-aligns after a gap *above* `realign_gap_s`; readings of
//! magnitude 1e6 or more are rejected like NaN; every accepted sample is counted. (Written
//! against the survivors of `cargo mutants` on `ImuFilter::update`: README, "Mutation testing".)

use sattva::fusion::{ImuFilter, ImuFilterConfig};
use sattva::types::{Imu, Time};

const G: f64 = 9.81;

/// At rest, tilted by `angle` about x: gravity in the sensor frame, no rotation.
fn rest(angle: f64) -> Imu {
    Imu {
        accel: [0.0, G * angle.sin(), G * angle.cos()],
        gyro: [0.0; 3],
        mag: None,
    }
}

/// Inclination of the estimate `q` ([w, x, y, z]) against a tilt of `angle` about x, deg: the
/// angle between the estimated and the true "up" in the sensor frame.
fn incl_err(q: &[f64; 4], angle: f64) -> f64 {
    let [w, x, y, z] = *q;
    // third row of the rotation matrix (sensor -> world): world z in sensor coordinates
    let up = [
        2.0 * (x * z - w * y),
        2.0 * (y * z + w * x),
        1.0 - 2.0 * (x * x + y * y),
    ];
    let truth = [0.0, angle.sin(), angle.cos()];
    let dot: f64 = up.iter().zip(truth).map(|(a, b)| a * b).sum();
    dot.clamp(-1.0, 1.0).acos().to_degrees()
}

fn cfg() -> ImuFilterConfig {
    ImuFilterConfig {
        nominal_dt_s: 0.005,
        use_magnetometer: false,
        ..ImuFilterConfig::default()
    }
}

/// 400 samples at 5 ms at rest, level; returns the filter and the last stamp (ns).
fn settled() -> (ImuFilter, i64) {
    let mut f = ImuFilter::new(&cfg());
    let mut t = 0;
    for _ in 0..400 {
        t += 5_000_000;
        f.update(Time(t), &rest(0.0));
    }
    (f, t)
}

#[test]
fn a_gap_equal_to_max_gap_is_not_a_dropout_one_nanosecond_more_is() {
    let c = cfg();
    // 0.1 s: 100,000,000 ns * 1e-9 is exactly 0.1 in f64 (the filter's own conversion)
    assert_eq!(c.max_gap_s, 0.1);
    let (mut f, mut t) = settled();
    t += 100_000_000;
    let e = *f.update(Time(t), &rest(0.0));
    assert!(!e.dropout, "a gap of exactly max_gap_s is no dropout");
    assert_eq!(f.counters.dropouts, 0);
    t += 100_000_001;
    let e = *f.update(Time(t), &rest(0.0));
    assert!(e.dropout, "a gap 1 ns above max_gap_s is a dropout");
    assert_eq!(f.counters.dropouts, 1);
    t += 5_000_000;
    assert!(!f.update(Time(t), &rest(0.0)).dropout);
    assert_eq!(f.counters.dropouts, 1);
}

/// The sensor is tilted by 0.6 rad (34 deg) during a gap without data. After a gap above
/// `realign_gap_s` (0.5 s) the filter re-aligns from the next accelerometer samples (within
/// 1 deg in 0.25 s); after a gap of exactly 0.5 s it does not, and converges at the
/// accelerometer time constant (`tau_acc` 3 s: after 0.25 s most of the 34 deg remain).
#[test]
fn the_filter_realigns_only_after_a_gap_above_realign_gap() {
    let tilt = 0.6;
    let run = |gap_ns: i64| {
        let (mut f, mut t) = settled();
        t += gap_ns;
        f.update(Time(t), &rest(tilt));
        for _ in 0..50 {
            t += 5_000_000;
            f.update(Time(t), &rest(tilt));
        }
        incl_err(&f.estimate().orientation, tilt)
    };
    assert_eq!(cfg().realign_gap_s, 0.5);
    let at = run(500_000_000);
    let above = run(500_000_001);
    eprintln!("inclination error 0.25 s after the gap: gap = realign_gap_s {at:.2} deg, 1 ns longer {above:.2} deg");
    assert!(
        above < 1.0,
        "re-aligned after a gap above realign_gap_s: {above} deg"
    );
    assert!(
        at > 10.0,
        "no re-alignment after a gap of exactly realign_gap_s: {at} deg"
    );
}

#[test]
fn readings_of_magnitude_1e6_are_rejected_like_nan_just_below_accepted() {
    let (mut f, mut t) = settled();
    let before = f.counters;
    assert_eq!(before.accepted, 400, "every good sample counted");
    assert_eq!(before.nonfinite, 0);
    // gyro: |x| >= 1e6 is no physical IMU's reading (the doc of `finite3`)
    for g in [[1e6, 0.0, 0.0], [0.0, -1e6, 0.0], [0.0, 0.0, f64::NAN]] {
        t += 5_000_000;
        let e = *f.update(
            Time(t),
            &Imu {
                gyro: g,
                ..rest(0.0)
            },
        );
        assert!(e.stale, "gyro {g:?} must be rejected");
    }
    assert_eq!(f.counters.nonfinite, 3);
    assert_eq!(f.counters.accepted, 400);
    // just below the bound: accepted (and counted)
    t += 5_000_000;
    let e = *f.update(
        Time(t),
        &Imu {
            gyro: [999_999.0, 0.0, 0.0],
            ..rest(0.0)
        },
    );
    assert!(!e.stale);
    assert_eq!(f.counters.accepted, 401);
    // the accelerometer: the sample is accepted (gyro fine), its correction skipped and counted
    let (mut f, mut t) = settled();
    for a in [[1e6, 0.0, 0.0], [0.0, 0.0, -1e6]] {
        t += 5_000_000;
        let e = *f.update(
            Time(t),
            &Imu {
                accel: a,
                ..rest(0.0)
            },
        );
        assert!(!e.stale);
    }
    assert_eq!(f.counters.nonfinite_accel, 2);
    assert_eq!(f.counters.accepted, 402);
    t += 5_000_000;
    f.update(
        Time(t),
        &Imu {
            accel: [0.0, 0.0, 999_999.0],
            ..rest(0.0)
        },
    );
    assert_eq!(
        f.counters.nonfinite_accel, 2,
        "999,999 m/s^2 is finite and in range"
    );
}
