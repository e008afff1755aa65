//! `sattva replay <bag> --report <dir>`: HTML + SVG plots with the data of the replay.

use std::path::Path;

use sattva::bench::replay::write_synthetic_bag;
use sattva::config::Config;
use sattva::replay::report::write_report;
use sattva::replay::run::{run_replay, run_replay_with_report};

fn cfg() -> Config {
    Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 3\n    control:\n      period_ns: 2000000\n    learn:\n      window_ms: 200\n      calibration_windows: 3\n",
        Path::new("replay.yaml"),
        &[],
    )
    .unwrap()
}

#[test]
fn report_has_plots_of_the_replayed_data_and_the_same_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("bag");
    write_synthetic_bag(&bag, 3.0).unwrap();
    let c = cfg();
    let (s, data) = run_replay_with_report(&c, Some(&bag), false).unwrap();
    // collecting the report changes nothing the pipeline computes
    assert_eq!(
        s.fingerprint,
        run_replay(&c, Some(&bag), false).unwrap().fingerprint
    );
    assert_eq!(data.cycle_us.len() as u64, s.cycles);
    assert!(data.t.len() > 100, "orientation samples: {}", data.t.len());
    assert!(data.rpy.iter().all(|r| r.iter().all(|v| v.is_finite())));
    assert!(
        data.topics
            .iter()
            .any(|(n, _, c)| n.contains("imu") && *c > 0),
        "{:?}",
        data.topics
    );
    // the replay learned: one experience per 200 ms window of the 3 s bag (3 calibrate), attractors formed
    assert!(
        data.learning.len() >= 10,
        "experiences: {}",
        data.learning.len()
    );
    let last = data.learning.last().unwrap();
    assert!(last.1 >= 1 && last.1 <= data.learning.len(), "{:?}", last);
    let created = data.learning.iter().filter(|l| l.2).count();
    assert_eq!(
        created,
        data.learning.iter().fold(0, |n, l| n + l.2 as usize)
    );
    let dir = tmp.path().join("report");
    let html = write_report(&dir, &bag, &s, &data).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(&s.fingerprint.combined()),
        "hash in the summary table"
    );
    assert!(page.contains("orientation.svg") && page.contains("cycle_time.svg"));
    assert!(page.contains("learning.svg") && page.contains("experiences learned"));
    for svg in ["orientation.svg", "cycle_time.svg", "learning.svg"] {
        let text = std::fs::read_to_string(dir.join(svg)).unwrap();
        assert!(
            text.starts_with("<svg") || text.contains("<svg"),
            "{svg} is not SVG"
        );
        // a line with many points / many bars was drawn, not an empty frame
        assert!(
            text.matches("<polyline").count() >= 3 || text.matches("<rect").count() > 20,
            "{svg} has no data"
        );
    }
}
