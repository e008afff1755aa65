//! CDR decoder: any bytes as any known type; accepted inputs must round-trip byte-exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sattva::record::msgs::AnyMessage;

const TYPES: &[&str] = AnyMessage::KNOWN_TYPES;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    let ty = TYPES[sel as usize % TYPES.len()];
    if let Ok(Some(m)) = AnyMessage::decode(ty, payload) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.encode_into(&mut a);
        let again = AnyMessage::decode(ty, &a).unwrap().unwrap();
        again.encode_into(&mut b);
        assert_eq!(a, b);
    }
});
