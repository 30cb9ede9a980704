//! GNU ddrescue mapfiles on arbitrary bytes: what parses writes back and parses
//! to the same map.
#![no_main]

use dredge_image::Mapfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Mapfile::parse_bytes(data) {
        let again = Mapfile::parse(&m.to_string()).expect("our own output parses");
        assert_eq!(again.to_string(), m.to_string());
    }
});
