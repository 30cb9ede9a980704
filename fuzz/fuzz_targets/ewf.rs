//! The E01 reader on arbitrary bytes (one segment, written to a temporary file,
//! since EWF sets are opened by path), every byte of the media read back.
#![no_main]

use dredge_core::ImageSource;
use dredge_image::EwfSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("dredge-fuzz-ewf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join("f.E01");
    if std::fs::write(&p, data).is_err() {
        return;
    }
    if let Ok(src) = EwfSource::open(&p) {
        let size = src.size().min(64 << 20);
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < size {
            let _ = src.read_at(off, &mut buf);
            off += 1 << 20;
        }
    }
});
