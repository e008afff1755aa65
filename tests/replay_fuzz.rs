//! Bounded in-test fuzzing (runs in the normal `cargo test`, a few seconds in debug): mutated real
//! bags and CDR payloads through the decoder and the MCAP / sqlite3 reading paths. Nothing may
//! panic (the reader catches no panics itself; a panic here is a failure naming the input); decoded values must survive an encode/decode round trip. The same entry points are
//! cargo-fuzz targets in fuzz/ for longer runs on nightly.
//!
//! Deterministic (seeded ChaCha): a failure reproduces with the printed iteration number.

use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sattva::record::msgs::{self, AnyMessage};
use sattva::replay::Bag;

mod common;

fn data(rel: &str) -> PathBuf {
    common::shared_data_path(rel)
}

const TYPES: &[&str] = AnyMessage::KNOWN_TYPES;

/// `SATTVA_FUZZ_SCALE=k` runs k times the default iterations (longer searches by hand; the
/// default keeps the suite at a few seconds).
fn fuzz_scale() -> usize {
    std::env::var("SATTVA_FUZZ_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&k| k >= 1)
        .unwrap_or(1)
}

fn mutate(rng: &mut ChaCha8Rng, src: &[u8]) -> Vec<u8> {
    let mut v = src.to_vec();
    let edits = rng.gen_range(1..=4);
    for _ in 0..edits {
        if v.is_empty() {
            v.push(rng.gen());
            continue;
        }
        // A third of the edits land in the last 512 bytes: an MCAP file's summary, summary
        // offsets and footer (offsets and lengths the summary reader trusts), rarely hit otherwise.
        let i = if rng.gen_bool(0.33) {
            rng.gen_range(v.len().saturating_sub(512)..v.len())
        } else {
            rng.gen_range(0..v.len())
        };
        match rng.gen_range(0..7) {
            0 => v[i] ^= 1 << rng.gen_range(0..8),
            1 => v[i] = rng.gen(),
            2 => v.truncate(i),
            3 => {
                // plausible-looking length fields: small, huge, or -1
                let val: u32 = *[0u32, 1, 7, 0x7fff_ffff, 0xffff_ffff, 4096]
                    .get(rng.gen_range(0..6))
                    .unwrap_or(&0);
                let end = (i + 4).min(v.len());
                v[i..end].copy_from_slice(&val.to_le_bytes()[..end - i]);
            }
            4 => {
                let n = rng.gen_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                let at = i.min(v.len());
                v.splice(at..at, bytes);
            }
            5 => {
                let j = rng.gen_range(i..v.len());
                v.drain(i..j.min(i + 64));
            }
            _ => {
                let len = rng.gen_range(0..32).min(v.len() - i);
                let chunk = v[i..i + len].to_vec();
                let at = rng.gen_range(0..v.len());
                v.splice(at..at, chunk);
            }
        }
    }
    v
}

fn seed_payloads() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for b in ["bags/mcap_talker", "bags/mcap_cdr_test"] {
        let bag = Bag::open(&data(b)).unwrap();
        out.extend(bag.messages.iter().map(|m| m.data.clone()));
    }
    let js = msgs::JointState {
        name: vec!["a".into(), "bb".into()],
        position: vec![1.0, 2.0],
        velocity: vec![3.0],
        effort: vec![],
        ..Default::default()
    };
    out.push(msgs::encode(&js));
    out.push(msgs::encode(&msgs::Imu::default()));
    let pc = msgs::PointCloud2 {
        fields: vec![msgs::PointField {
            name: "x".into(),
            offset: 0,
            datatype: 7,
            count: 1,
        }],
        data: vec![1, 2, 3, 4],
        ..Default::default()
    };
    out.push(msgs::encode(&pc));
    let tf = msgs::TfMessage {
        transforms: vec![msgs::TransformStamped::default(); 2],
    };
    out.push(msgs::encode(&tf));
    out.push(msgs::encode(&msgs::CameraInfo::default()));
    out
}

#[test]
fn cdr_decoder_survives_mutations_and_round_trips() {
    let seeds = seed_payloads();
    let mut rng = ChaCha8Rng::seed_from_u64(0x005a_770a);
    let start = Instant::now();
    let iters = 30_000;
    let (mut ok, mut buf1, mut buf2) = (0, Vec::new(), Vec::new());
    for it in 0..iters {
        let src = &seeds[rng.gen_range(0..seeds.len())];
        let input = if rng.gen_bool(0.05) {
            (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
        } else {
            mutate(&mut rng, src)
        };
        let ty = TYPES[rng.gen_range(0..TYPES.len())];
        if let Ok(Some(m)) = AnyMessage::decode(ty, &input) {
            ok += 1;
            // Accepted input: encode -> decode -> encode is stable (bytes, so NaN compares).
            m.encode_into(&mut buf1);
            let again = AnyMessage::decode(ty, &buf1)
                .unwrap_or_else(|e| panic!("iteration {it}: re-decode of own encoding failed: {e}"))
                .unwrap();
            again.encode_into(&mut buf2);
            assert_eq!(buf1, buf2, "iteration {it}: round trip changed bytes");
        }
    }
    eprintln!(
        "cdr fuzz: {iters} inputs ({ok} decoded) in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert!(
        ok > 100,
        "mutations too destructive to exercise decoding: {ok}"
    );
}

#[test]
fn mcap_reader_survives_mutated_bags() {
    let files = [
        ("bags/mcap_talker/talker.mcap", 1500),
        ("bags/mcap_cdr_test/cdr_test_0.mcap", 1500),
        ("mcap/compressed.mcap", 40),
        ("mcap/zstd_chunk_with_padding.mcap", 20),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = Instant::now();
    let scale = fuzz_scale();
    let (mut total, mut msgs_read) = (0, 0usize);
    // The reader has no panic guard of its own: a panic while parsing is a bug. The test catches
    // it only to name every mutated file that panicked (iteration and a copy of the bytes).
    let mut panics: Vec<String> = Vec::new();
    let keep = std::env::temp_dir().join("sattva-replay-fuzz-panics");
    for (f, iters) in files {
        let src = std::fs::read(data(f)).unwrap();
        let name = PathBuf::from(format!("fuzz-{f}"));
        for it in 0..iters * scale {
            let input = mutate(&mut rng, &src);
            let read = std::panic::catch_unwind(|| {
                let bag = Bag::from_mcap_bytes(&name, &input);
                for m in &bag.messages {
                    let _ = bag.decode(m);
                }
                bag
            });
            let bag = match read {
                Ok(bag) => bag,
                Err(p) => {
                    let what = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let _ = std::fs::create_dir_all(&keep);
                    let copy = keep.join(format!("{}-{it}.mcap", f.replace('/', "_")));
                    let _ = std::fs::write(&copy, &input);
                    panics.push(format!("{f} #{it} ({}): {what}", copy.display()));
                    continue;
                }
            };
            // Every warning names the file.
            assert!(
                bag.warnings.iter().all(|w| w.contains("fuzz-")),
                "{f} #{it}: {:?}",
                bag.warnings
            );
            msgs_read += bag.messages.len();
            total += 1;
        }
    }
    eprintln!(
        "mcap fuzz: {total} mutated files read, {msgs_read} messages, {} panics, {:.2} s",
        panics.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        panics.is_empty(),
        "the MCAP reader panicked on {} mutated files:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(msgs_read > 0);
}

#[test]
fn sqlite3_reader_survives_mutated_bags() {
    let src = std::fs::read(data("bags/sqlite3_talker/talker.db3")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let start = Instant::now();
    let iters = 1000;
    let (mut opened, mut msgs_read) = (0, 0);
    for it in 0..iters {
        let mut input = src.clone();
        // Damage a few pages' worth of bytes anywhere (sqlite pages are 4 KiB).
        for _ in 0..rng.gen_range(1..6) {
            let i = rng.gen_range(0..input.len());
            input[i] = rng.gen();
        }
        if rng.gen_bool(0.2) {
            input.truncate(rng.gen_range(0..input.len()));
        }
        let p = tmp.path().join(format!("f{it}.db3"));
        std::fs::write(&p, &input).unwrap();
        match Bag::open(&p) {
            Ok(bag) => {
                opened += 1;
                msgs_read += bag.messages.len();
                for m in &bag.messages {
                    let _ = bag.decode(m);
                }
            }
            Err(e) => assert!(e.to_string().contains(&format!("f{it}.db3")), "{e}"),
        }
        let _ = std::fs::remove_file(&p);
    }
    eprintln!(
        "db3 fuzz: {iters} mutated files ({opened} opened, {msgs_read} messages) in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert!(opened > 0);
}
