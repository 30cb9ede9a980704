//! Every carver's validator on arbitrary bytes, as a candidate at offset 0.
#![no_main]

use dredge_carvers::{registry, Reader, Verdict};
use dredge_core::ImageSource;
use dredge_image::{MemDevice, Sectored};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let src = Sectored::new(MemDevice::new(data.to_vec()));
    for c in registry() {
        let mut r = Reader::new(&src as &dyn ImageSource, 0, c.max_size());
        match c.validate(&mut r) {
            Verdict::Complete { len: l, .. }
            | Verdict::Unverified { len: l, .. }
            | Verdict::Partial { len: l, .. } => {
                assert!(l <= len, "{} claims {l} of {len} bytes", c.name());
            }
            Verdict::Fragmented { fragments, .. } | Verdict::Joined { fragments, .. } => {
                assert!(fragments.iter().all(|(o, l)| o + l <= len));
            }
            Verdict::Reject => {}
        }
    }
});
