use dredge_core::{
    Entry, EntryKind, Extent, FileSystem, ImageSource, Recovery, RunData, VolumeReader,
};
use dredge_fs_fat::{probe, FatFs};
use dredge_image::{MemDevice, Sectored};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .join(rel)
}

fn gunzip(p: &Path) -> Vec<u8> {
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn vol(data: Vec<u8>) -> VolumeReader {
    let len = data.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(data)));
    VolumeReader::new(src, Extent::new(0, len))
}

fn entries(fs: &FatFs) -> Vec<Entry> {
    let mut v = Vec::new();
    let mut f = Vec::new();
    fs.walk(&mut |e| v.push(e), &mut f);
    v
}

fn content(v: &VolumeReader, e: &Entry) -> Vec<u8> {
    let mut out = vec![0u8; e.size as usize];
    for r in &e.runs {
        let dst = &mut out[r.file_offset as usize..(r.file_offset + r.len) as usize];
        match &r.data {
            RunData::Image(at) => {
                v.source().read_at(*at, dst).unwrap();
            }
            RunData::Inline(b) => dst.copy_from_slice(&b[..dst.len()]),
            RunData::Decoded(d) => {
                d.0.read_at(0, dst);
            }
            RunData::Sparse => {}
        }
    }
    out
}

use dredge_testkit::sha256;

#[test]
fn the_sample_stick_lists_allocated_and_deleted_files_bit_exact() {
    let data = std::fs::read(repo("testimages/sample/usb-stick.img")).unwrap();
    let manifest = std::fs::read_to_string(repo("testimages/sample/MANIFEST.txt")).unwrap();
    let v = vol(data);
    assert!(probe(&v));
    let fs = FatFs::open(v.clone()).unwrap();
    assert_eq!(fs.type_name(), "fat16");
    assert_eq!(fs.label().as_deref(), Some("EVIDENCE"));
    let es = entries(&fs);
    let paths: Vec<(&str, bool)> = es.iter().map(|e| (e.path.as_str(), e.deleted)).collect();
    for want in [
        ("/NOTES.TXT", false),
        ("/PHOTO.RAW", false),
        ("/ledger", false),
        ("/ledger/ACCOUNTS.CSV", false),
        ("/_ELETED.TXT", true),
        ("/secret plans.txt", true),
    ] {
        assert!(paths.contains(&want), "{want:?} not in {paths:?}");
    }
    for e in es.iter().filter(|e| e.kind == EntryKind::File) {
        let rel = e.path.trim_start_matches('/');
        let h = sha256(&content(&v, e));
        if e.deleted {
            assert!(
                manifest.contains(&format!("sha256 {h}")),
                "deleted {rel}: {h}"
            );
            assert!(
                matches!(e.recovery, Recovery::Intact | Recovery::Assumed(_)),
                "{:?}",
                e.recovery
            );
        } else {
            assert!(manifest.contains(&format!("{h}  {rel}")), "{rel}: {h}");
            assert_eq!(e.recovery, Recovery::Allocated);
        }
        assert!(e.times.iter().any(|t| t.source == "fat.written"));
    }
    // The deleted long name's checksum gave back its short name's lost first byte.
    let secret = es.iter().find(|e| e.path == "/secret plans.txt").unwrap();
    assert_eq!(secret.other_names, vec!["SECRET~1.TXT".to_string()]);
    let notes = es.iter().find(|e| e.path == "/NOTES.TXT").unwrap();
    assert_eq!(notes.times[0].utc(), "2026-10-30T12:00:00.000000Z");
    // Free space is reported for carving and does not overlap any allocated file.
    let mut f = Vec::new();
    let free = fs.unallocated(&mut f);
    assert!(!free.is_empty());
    for e in es.iter().filter(|e| !e.deleted) {
        for r in &e.runs {
            if let RunData::Image(at) = r.data {
                let x = Extent::new(at, r.len);
                assert!(
                    free.iter().all(|u| !u.overlaps(&x)),
                    "{} overlaps free space",
                    e.path
                );
            }
        }
    }
}

#[test]
fn rust_fatfs_public_images() {
    for (img, ty) in [("fat12.img.gz", "fat12"), ("fat16.img.gz", "fat16")] {
        let data = gunzip(&repo("../shared/testdata/rust-fatfs").join(img));
        let v = vol(data);
        let fs = FatFs::open(v.clone()).unwrap();
        assert_eq!(fs.type_name(), ty);
        assert_eq!(fs.label().as_deref(), Some("Test!"), "{img}");
        assert_eq!(fs.bpb().volume_id, 0x1234_5678);
        let es = entries(&fs);
        let get = |p: &str| {
            es.iter().find(|e| e.path == p).unwrap_or_else(|| {
                panic!(
                    "{img}: {p} missing in {:?}",
                    es.iter().map(|e| &e.path).collect::<Vec<_>>()
                )
            })
        };
        let line = b"Rust is cool!\n";
        assert_eq!(content(&v, get("/long.txt")), line.repeat(1000));
        assert_eq!(content(&v, get("/short.txt")), line.to_vec());
        assert_eq!(content(&v, get("/very/long/path/test.txt")), line.to_vec());
        assert_eq!(
            content(&v, get("/very-long-dir-name/very-long-file-name.txt")),
            line.to_vec()
        );
        assert_eq!(get("/very-long-dir-name").kind, EntryKind::Directory);
        assert!(get("/very-long-dir-name/very-long-file-name.txt").other_names[0].contains('~'));
    }
}
