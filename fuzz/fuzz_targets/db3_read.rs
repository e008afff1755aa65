//! sqlite3 (.db3) reading path: any bytes written to a file and opened as a bag.
//! Seed the corpus with the bags' .db3 files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sattva::replay::Bag;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fuzz.db3");
    std::fs::write(&p, data).unwrap();
    if let Ok(bag) = Bag::open(&p) {
        for m in &bag.messages {
            let _ = bag.decode(m);
        }
    }
});
