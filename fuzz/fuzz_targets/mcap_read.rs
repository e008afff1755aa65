//! MCAP reading path: any bytes; never panics, never aborts on allocation.
//! Seed the corpus with /work/shared/data/mcap/*.mcap and the bags' .mcap files.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sattva::replay::Bag;

fuzz_target!(|data: &[u8]| {
    let bag = Bag::from_mcap_bytes(Path::new("fuzz.mcap"), data);
    for m in &bag.messages {
        let _ = bag.decode(m);
    }
});
