//! Bad STL specs in the `monitors:` section are config errors naming the file, the monitor's
//! key, the column in the spec and what was expected; good ones load.

use std::path::Path;

use sattva::config::Config;

fn load(monitors: &str) -> Result<Config, String> {
    let dir = std::env::temp_dir().join(format!(
        "sattva-monitor-specs-{}-{}",
        std::process::id(),
        monitors.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("m.yaml");
    std::fs::write(
        &f,
        format!("sattva:\n  ros__parameters:\n    monitors:\n{monitors}"),
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load_layers(&[root.join("config/sim.yaml"), f], &[]).map_err(|e| e.to_string())
}

fn bad(name: &str, spec: &str) -> String {
    load(&format!(
        "      {name}: {{spec: \"{spec}\", action: hold}}\n"
    ))
    .err()
    .unwrap_or_else(|| panic!("`{spec}` must be rejected"))
}

#[test]
fn syntax_errors_name_monitor_column_and_expectation() {
    let e = bad("speed", "speed_max < ");
    assert!(e.contains("m.yaml"), "{e}");
    assert!(
        e.contains("sattva.ros__parameters.monitors.speed.spec"),
        "{e}"
    );
    assert!(e.contains("monitor `speed`: spec column 13"), "{e}");
    assert!(e.contains("expected a signal, a number"), "{e}");

    let e = bad("paren", "always[0:0.1](speed_max < 1");
    assert!(
        e.contains("column 28") && e.contains("unexpected end of the spec, expected `)`"),
        "{e}"
    );

    let e = bad("chars", "speed_max < 1 $ tilt > 0");
    assert!(
        e.contains("column 15") && e.contains("unexpected character `$`"),
        "{e}"
    );

    let e = bad("kind", "always[0:0.1](speed_max + 1)");
    assert!(
        e.contains("column 25") && e.contains("expected a formula"),
        "{e}"
    );
}

#[test]
fn unknown_signals_are_named() {
    let e = bad("sig", "tilt > 0 and speed < 1");
    assert!(e.contains("column 14"), "{e}");
    assert!(e.contains("unknown signal `speed`"), "{e}");
    assert!(e.contains("speed_max"), "lists the known signals: {e}");
}

#[test]
fn unbounded_future_operators_are_refused() {
    let e = bad("unbounded", "tilt < 1 and eventually (rate < 2)");
    assert!(e.contains("column 14"), "{e}");
    assert!(e.contains("unbounded future operator"), "{e}");
    // past operators may be unbounded
    load("      past: {spec: \"once (rate > 2) and historically (tilt < 1)\"}\n").expect("past");
}

#[test]
fn intervals_shorter_than_the_control_period_are_refused() {
    // config/sim.yaml: control.period_ns 2 ms
    let e = bad("short", "once[0:0.001](rate > 2)");
    assert!(e.contains("column 5"), "{e}");
    assert!(e.contains("shorter than the control period 0.002 s"), "{e}");
    let e = bad("odd", "once[0:5ms](rate > 2)");
    assert!(e.contains("not a multiple of the control period"), "{e}");
    let e = bad("empty", "once[0.2:0.1](rate > 2)");
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn actions_and_severities_are_checked_like_other_keys() {
    let e = load("      x: {spec: \"rate < 1\", action: explode}\n").expect_err("bad action");
    assert!(e.contains("monitors.x"), "{e}");
    assert!(e.contains("log") && e.contains("safe_stop"), "{e}");
    let c = load(
        "      fresh_imu: {spec: \"historically[0:0.2](imu_age < 0.01)\", severity: error, action: safe_stop}\n      tilt: {spec: \"rise(tilt_deg > 30) implies eventually[0:0.2](cmd_hold == 1)\"}\n",
    )
    .expect("good specs load");
    assert_eq!(c.monitors.len(), 2);
}
