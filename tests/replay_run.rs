//! `sattva replay`: the control loop over a bag, twice, gives the same output hash.

use std::path::Path;

use sattva::bench::replay::write_synthetic_bag;
use sattva::config::Config;
use sattva::replay::run::run_replay;

fn cfg() -> Config {
    Config::from_yaml_str(
        "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 3\n    control:\n      period_ns: 2000000\n",
        Path::new("replay.yaml"),
        &[],
    )
    .unwrap()
}

#[test]
fn replaying_twice_gives_the_same_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let bag = tmp.path().join("a");
    write_synthetic_bag(&bag, 3.0).unwrap();
    let c = cfg();
    let r1 = run_replay(&c, Some(&bag), false).unwrap();
    let r2 = run_replay(&c, Some(&bag), false).unwrap();
    println!("{r1}");
    assert_eq!(r1.fingerprint, r2.fingerprint);
    assert_eq!(r1.fingerprint.combined().len(), 64);
    assert_eq!(r1.cycles, 1501); // 3 s at 500 Hz, both ends
    assert_eq!(r1.imu_frames, 1501);
    assert_eq!(r1.stats.imu_samples, 1201);
    // A different bag (shorter) gives a different hash: the hash sees the data.
    let bag2 = tmp.path().join("b");
    write_synthetic_bag(&bag2, 2.0).unwrap();
    let r3 = run_replay(&c, Some(&bag2), false).unwrap();
    assert_ne!(r3.fingerprint, r1.fingerprint);
    // Paced at 20x real time: same hash, and it takes at least 3 s / 20.
    let mut paced = c.clone();
    paced.replay.rate = 20.0;
    let t = std::time::Instant::now();
    let r4 = run_replay(&paced, Some(&bag), false).unwrap();
    assert!(t.elapsed().as_secs_f64() >= 0.14, "{:?}", t.elapsed());
    assert_eq!(r4.fingerprint, r1.fingerprint);
    // No bag anywhere: a clear error naming the key.
    let e = run_replay(&c, None, false).unwrap_err().to_string();
    assert!(e.contains("replay.bag"), "{e}");
}
