//! Damaged FAT metadata must never crash the reader: the sample stick and a FAT12
//! image have their boot sector, FATs and directories mutated thousands of ways, then
//! are opened, walked and asked for free space. Content reads go through the same
//! runs the session extracts, so layouts are checked to stay inside the volume.

use dredge_core::{Extent, FileSystem, ImageSource, RunData, VolumeReader};
use dredge_fs_fat::{probe, FatFs};
use dredge_image::{MemDevice, Sectored};
use std::path::Path;
use std::sync::Arc;

fn metadata_end(img: &[u8]) -> usize {
    // Boot sector, FATs, root directory and the first data clusters (directories).
    let bps = u16::from_le_bytes([img[11], img[12]]) as usize;
    let reserved = u16::from_le_bytes([img[14], img[15]]) as usize;
    let fat16 = u16::from_le_bytes([img[22], img[23]]) as usize;
    let root = u16::from_le_bytes([img[17], img[18]]) as usize * 32;
    ((reserved + 2 * fat16) * bps + root + 64 * 1024).min(img.len())
}

fn run_case(img: Vec<u8>) -> usize {
    let len = img.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img)));
    let vol = VolumeReader::new(src, Extent::new(0, len));
    let _ = probe(&vol);
    let Ok(fs) = FatFs::open(vol) else {
        return 0;
    };
    let mut findings = Vec::new();
    let mut n = 0;
    fs.walk(
        &mut |e| {
            n += 1;
            let mut covered = 0u64;
            for r in &e.runs {
                // Runs may point past a truncated image (they read as past-end
                // gaps) but never wrap around.
                if let RunData::Image(at) = r.data {
                    assert!(
                        at.checked_add(r.len).is_some(),
                        "run of {} overflows",
                        e.path
                    );
                }
                covered += r.len;
            }
            // A file's layout never describes more than its size.
            assert!(
                e.kind != dredge_core::EntryKind::File || covered <= e.size,
                "{}: {covered} > {}",
                e.path,
                e.size
            );
        },
        &mut findings,
    );
    let free = fs.unallocated(&mut findings);
    assert!(
        free.iter().all(|x| x.end() <= len),
        "free space reported past the volume"
    );
    n
}

#[test]
fn mutated_fat_metadata_never_panics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let sample = std::fs::read(root.join("testimages/sample/usb-stick.img")).unwrap();
    let fat12 = {
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(root.join("../shared/testdata/rust-fatfs/fat12.img.gz"))
            .output()
            .unwrap();
        out.stdout
    };
    // DREDGE_MUTATION_SEED / DREDGE_MUTATION_CASES widen the search locally.
    let (mut r, cases) = dredge_testkit::mutation_setup(0x9E37_79B9_7F4A_7C15);
    let mut opened = 0;
    for case in 0..cases {
        let base = if case % 3 == 0 { &fat12 } else { &sample };
        let mut img = base.clone();
        let end = metadata_end(&img) as u64;
        let edits = 1 + r.below(8);
        for _ in 0..edits {
            match r.below(6) {
                // Boot sector fields (geometry), the most dangerous bytes.
                0 => {
                    let i = 11 + r.below(40) as usize;
                    img[i] = r.next() as u8;
                }
                // Random metadata byte.
                1 | 2 => {
                    let i = r.below(end) as usize;
                    img[i] = r.next() as u8;
                }
                // A FAT entry pointing somewhere wild (loops, out of range).
                3 => {
                    let i = 512 + r.below(4096) as usize;
                    img[i] = [0xFF, 0x00, 0x02, 0xF7][r.below(4) as usize];
                }
                // A directory slot rewritten: deleted, LFN, huge size, wild cluster.
                4 => {
                    let slot = (r.below(end / 32) * 32) as usize;
                    if slot + 32 <= img.len() {
                        let v = r.next().to_le_bytes();
                        img[slot + 26..slot + 28].copy_from_slice(&v[..2]);
                        img[slot + 28..slot + 32].copy_from_slice(&v[2..6]);
                        img[slot + 11] = [0x0F, 0x10, 0x20, 0xFF][r.below(4) as usize];
                        img[slot] = [0xE5, 0x41, 0x2E, 0x00][r.below(4) as usize];
                    }
                }
                // A zeroed sector of metadata.
                _ => {
                    let s = (r.below(end / 512) * 512) as usize;
                    let e = (s + 512).min(img.len());
                    img[s..e].fill(0);
                }
            }
        }
        if run_case(img) > 0 {
            opened += 1;
        }
    }
    // Most mutations leave something readable; the test must exercise the walker.
    assert!(
        opened > cases / 3,
        "only {opened} of {cases} damaged images yielded entries"
    );
}
