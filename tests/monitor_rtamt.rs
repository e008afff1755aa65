//! The STL monitors' robustness equals RTAMT's (PyPI `rtamt` 0.4.10, discrete-time online
//! monitor, pastified) to 1e-9 at every sample, over a trace of a MuJoCo run, for a spec set
//! covering every operator.
//!
//! Semantics that correspond: one sample per control period; RTAMT's bounds in seconds over
//! `set_sampling_period(period_ns, 'ns')`; bounded-future operators pastified by RTAMT (the
//! bound becomes a delay) and reported late by sattva by the same horizon `H`. From sample `H`
//! on every sample is compared (sattva reports nothing before: the time `n - H` does not exist
//! yet, where RTAMT pads). Not in the set: two shapes RTAMT 0.4.10's pastifier gets wrong
//! (checked by hand, see `src/monitor/eval.rs` tests): a `historically` beside a future
//! operator (its `visitTimedHistorically` drops the operator and keeps only the delay), and a
//! comparison beside a future operator (`visitPredicate` delays the signals and then the
//! predicate again: `(a > 0) and always[0:2](b > 0)` reads `a` 2H samples late). A past `once`
//! beside a future operator (RTAMT shifts its interval) is in the set.
#![cfg(feature = "mujoco")]

use std::path::{Path, PathBuf};

use sattva::bench::monitors::{compare, record, rtamt};
use sattva::config::Config;

/// Every operator: always, eventually (with a lower bound), historically and once (timed and
/// untimed), since (timed, untimed), not, and, or, implies, rise, fall, + - * /, abs,
/// < <= > >= == !==, nested future operators and a past operator delayed beside a future one.
const SPECS: [(&str, &str); 14] = [
    ("always_speed", "always[0:0.02](speed_max < 1.2)"),
    ("eventually_lo", "eventually[0.01:0.05](vel_elbow > 0.2)"),
    (
        "historically_track",
        "historically[0:0.1](abs(pos_wrist - cmd_wrist) < 0.05)",
    ),
    ("once_rate", "once[0.02:0.08](rate > 0.3)"),
    (
        "since_timed",
        "(tilt_deg < 60.5) since[0:0.1] (vel_shoulder_yaw >= 0.1)",
    ),
    ("since_untimed", "(speed_max <= 2) since (rate < 0.25)"),
    (
        "rise_implies",
        "rise(vel_elbow > 0.1) implies once[0:0.04](cmd_elbow > pos_elbow)",
    ),
    (
        "fall_arith",
        "fall(rate > 0.2) or not (pos_shoulder_pitch * 2 + vel_shoulder_pitch / 4 !== 0.3)",
    ),
    (
        "and_in_always",
        "always[0:0.01]((vel_wrist > -1) and (rate < 3.1))",
    ),
    (
        "untimed_eq",
        "once(vel_elbow > 0.3) and historically(pos_shoulder_yaw > -3) and (tilt == 0)",
    ),
    (
        "nested_future",
        "always[0:0.02](eventually[0:0.01](vel_wrist > 0.1))",
    ),
    (
        "once_under_delay",
        "(once[0:0.02](vel_elbow > 0)) and eventually[0:0.02](pos_elbow - 0.5 * 0.2 >= -1)",
    ),
    ("le_ge", "(vel_elbow <= 0.4) or (vel_shoulder_pitch >= 0.4)"),
    ("sub_neg", "pos_elbow - pos_wrist > -0.5"),
];

fn python() -> PathBuf {
    std::env::var_os("SATTVA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("third_party/venv/bin/python")
        })
}

#[test]
fn robustness_equals_rtamt_on_a_mujoco_trace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("sattva-monitor-rtamt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // the monitors come in a second params file, merged over the simulation config
    let mut yaml = String::from("sattva:\n  ros__parameters:\n    action:\n      explore: {amplitude: 0.6}\n    monitors:\n");
    for (name, spec) in SPECS {
        yaml.push_str(&format!(
            "      {name}: {{spec: \"{spec}\", severity: info, action: log}}\n"
        ));
    }
    let extra = dir.join("monitors.yaml");
    std::fs::write(&extra, yaml).unwrap();
    let c = Config::load_layers(&[root.join("config/sim.yaml"), extra], &[]).expect("config");
    let tr = record(&c, 3000).expect("MuJoCo run");
    let csv = dir.join("trace.csv");
    tr.write_csv(&csv).unwrap();
    let specs: Vec<(String, String)> = tr
        .monitors
        .iter()
        .map(|m| {
            let s = SPECS.iter().find(|(n, _)| n == m).unwrap().1;
            (m.clone(), s.to_string())
        })
        .collect();
    let r = rtamt(&python(), &csv, &specs, c.control.period_ns, None).expect("RTAMT");
    assert_eq!(r.robustness.len(), tr.robustness.len());
    let (worst, n, first) = compare(&tr, &r);
    assert!(
        worst <= 1e-9,
        "largest difference {worst:e}; first mismatch (row, monitor, sattva, rtamt) {first:?} = {:?}",
        first.map(|f| &specs[f.1])
    );
    let expected: u64 = tr.horizons.iter().map(|h| 3000 - h).sum();
    assert_eq!(n as u64, expected, "every sample from the horizon on");
    // the trace exercised both signs: most monitors were satisfied and violated at some point
    let mixed = (0..specs.len())
        .filter(|&j| {
            let col = tr
                .robustness
                .iter()
                .map(|row| row[j])
                .filter(|x| !x.is_nan());
            let (mut pos, mut neg) = (false, false);
            for x in col {
                pos |= x > 0.0;
                neg |= x < 0.0;
            }
            pos && neg
        })
        .count();
    assert!(
        mixed >= 8,
        "only {mixed} monitors changed sign over the trace"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
