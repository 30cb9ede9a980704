//! Every filesystem reader on arbitrary bytes: probe, open, walk, free space.
//! The first byte picks the reader, so one corpus serves all four.
#![no_main]

use dredge_core::{Extent, FileSystem, ImageSource, VolumeReader};
use dredge_image::{MemDevice, Sectored};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fn exercise(fs: &dyn FileSystem) {
    let mut findings = Vec::new();
    fs.walk(&mut |_| {}, &mut findings);
    let _ = fs.unallocated(&mut findings);
    let _ = fs.open_findings();
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, img)) = data.split_first() else {
        return;
    };
    let len = img.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img.to_vec())));
    let vol = VolumeReader::new(src, Extent::new(0, len));
    match pick % 4 {
        0 => {
            let _ = dredge_fs_fat::probe(&vol);
            if let Ok(fs) = dredge_fs_fat::FatFs::open(vol) {
                exercise(&fs);
            }
        }
        1 => {
            let _ = dredge_fs_exfat::probe(&vol);
            if let Ok(fs) = dredge_fs_exfat::ExFatFs::open(vol) {
                exercise(&fs);
            }
        }
        2 => {
            let _ = dredge_fs_ntfs::probe(&vol);
            if let Ok(fs) = dredge_fs_ntfs::NtfsFs::open(vol) {
                exercise(&fs);
            }
        }
        _ => {
            let _ = dredge_fs_ext::probe(&vol);
            if let Ok(fs) = dredge_fs_ext::ExtFs::open(vol) {
                exercise(&fs);
            }
        }
    }
});
