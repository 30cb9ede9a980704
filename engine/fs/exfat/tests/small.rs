//! The committed exFAT image (testimages/make-exfat.sh): contents against its
//! manifest, the backup boot region, and a metadata mutation test.

use dredge_core::{Entry, Extent, FileSystem, ImageSource, RunData, VolumeReader};
use dredge_fs_exfat::{probe, ExFatFs};
use dredge_image::{MemDevice, Sectored};
use std::path::Path;
use std::sync::Arc;

fn image() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../testimages/exfat/small.img"))
        .unwrap()
}

fn manifest() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../testimages/exfat/MANIFEST.txt"),
    )
    .unwrap()
}

fn vol(data: Vec<u8>) -> VolumeReader {
    let len = data.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(data)));
    VolumeReader::new(src, Extent::new(0, len))
}

fn walk(fs: &ExFatFs) -> Vec<Entry> {
    let mut v = Vec::new();
    let mut f = Vec::new();
    fs.walk(&mut |e| v.push(e), &mut f);
    v
}

fn content(v: &VolumeReader, e: &Entry) -> Vec<u8> {
    let mut out = vec![0u8; e.size as usize];
    for r in &e.runs {
        if let RunData::Image(at) = r.data {
            v.source()
                .read_at(
                    at,
                    &mut out[r.file_offset as usize..(r.file_offset + r.len) as usize],
                )
                .unwrap();
        }
    }
    out
}

use dredge_testkit::sha256;

fn check_all(data: Vec<u8>) {
    let v = vol(data);
    assert!(probe(&v));
    let fs = ExFatFs::open(v.clone()).unwrap();
    assert_eq!(fs.label().as_deref(), Some("SMALLEX"));
    let es = walk(&fs);
    let m = manifest();
    let mut files = 0;
    for e in es.iter().filter(|e| e.kind == dredge_core::EntryKind::File) {
        let rel = e.path.trim_start_matches('/');
        assert!(
            m.contains(&format!("{}  {rel}", sha256(&content(&v, e)))),
            "{rel} differs"
        );
        let deleted_line = m.lines().find(|l| l.starts_with("deleted: ")).unwrap_or("");
        assert_eq!(e.deleted, deleted_line.contains(rel), "{rel}");
        files += 1;
    }
    assert_eq!(files, 5);
    // Every stored name hash (over the up-cased name) matched: no findings.
    let mut f = Vec::new();
    fs.walk(&mut |_| {}, &mut f);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn allocated_and_deleted_files_match_the_manifest() {
    check_all(image());
}

#[test]
fn the_backup_boot_region_stands_in_for_a_zeroed_main_one() {
    let mut d = image();
    d[..512].fill(0);
    check_all(d.clone());
    let fs = ExFatFs::open(vol(d)).unwrap();
    assert!(fs
        .open_findings()
        .iter()
        .any(|f| f.what.contains("backup boot region")));
}

#[test]
fn mutated_exfat_metadata_never_panics() {
    let base = image();
    let (mut r, cases) = dredge_testkit::mutation_setup(0x5851_F42D_4C95_7F2D);
    // Boot region, FAT and the first clusters of the heap (bitmap, up-case, root, docs).
    let meta_end = (base.len() as u64).min(256 * 1024);
    let mut walked = 0;
    for _ in 0..cases {
        let mut img = base.clone();
        for _ in 0..1 + r.below(6) {
            match r.below(5) {
                0 => {
                    let i = 64 + r.below(48) as usize;
                    img[i] = r.next() as u8;
                }
                1 | 2 => {
                    let i = r.below(meta_end) as usize;
                    img[i] = r.next() as u8;
                }
                3 => {
                    let i = (r.below(meta_end / 4) * 4) as usize;
                    let v = [0u32, 1, 2, 0xFFFF_FFFF, 0xFFFF_FFF7, r.next() as u32]
                        [r.below(6) as usize];
                    img[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => {
                    let s = (r.below(meta_end / 512) * 512) as usize;
                    img[s..s + 512].fill(0);
                }
            }
        }
        let len = img.len() as u64;
        let v = vol(img);
        if !probe(&v) {
            continue;
        }
        let Ok(fs) = ExFatFs::open(v) else { continue };
        let es = walk(&fs);
        for e in &es {
            let covered: u64 = e.runs.iter().map(|r| r.len).sum();
            assert!(covered <= e.size, "{}: {covered} > {}", e.path, e.size);
        }
        let mut f = Vec::new();
        assert!(fs.unallocated(&mut f).iter().all(|x| x.end() <= len));
        if !es.is_empty() {
            walked += 1;
        }
    }
    assert!(walked > cases / 3, "only {walked} of {cases} walked");
}

#[test]
fn a_damaged_name_is_caught_by_its_up_cased_hash() {
    let mut d = image();
    let needle: Vec<u8> = "notes.txt"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = d
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("name entry");
    d[at] = b'N'; // "Notes.txt": same up-cased hash; must NOT be flagged
    let fs = ExFatFs::open(vol(d.clone())).unwrap();
    let mut f = Vec::new();
    fs.walk(&mut |_| {}, &mut f);
    assert!(!f.iter().any(|x| x.what.contains("name hash")), "{f:?}");
    d[at] = b'm'; // "motes.txt": a different name
    let fs = ExFatFs::open(vol(d)).unwrap();
    let mut f = Vec::new();
    fs.walk(&mut |_| {}, &mut f);
    assert!(
        f.iter().any(|x| x
            .what
            .contains("/motes.txt: name does not match its stored name hash")),
        "{f:?}"
    );
}
