//! Partition tables (MBR with EBR chains, GPT with its backup) and the
//! lost-partition signature scan on arbitrary bytes.
#![no_main]

use dredge_core::{Extent, ImageSource};
use dredge_image::{MemDevice, Sectored};
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicBool;

fuzz_target!(|data: &[u8]| {
    let src = Sectored::new(MemDevice::new(data.to_vec()));
    let _ = dredge_volume::detect(&src);
    let stop = AtomicBool::new(false);
    let _ = dredge_volume::scan::scan(&src, Extent::new(0, src.size()), &stop);
});
