//! What the LUKS2 tests that kill cryptsetup mid-way share: the header as it
//! is on disk, its live segments, and the ext4 disk they start from.

use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The primary LUKS2 JSON metadata of a device or header file as it is on
/// disk now (`None` while cryptsetup is half-way through writing it).
pub fn header_json(path: &Path) -> Option<Value> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(4096)).ok()?;
    let mut b = vec![0u8; 12288];
    f.read_exact(&mut b).ok()?;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    serde_json::from_slice(&b[..end]).ok()
}

/// The live segments (no `backup-` flag), by id.
pub fn live(j: &Value) -> Vec<(u64, Value)> {
    let mut v: Vec<(u64, Value)> = j["segments"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, s)| {
                    !s["flags"].as_array().is_some_and(|f| {
                        f.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.starts_with("backup-")))
                    })
                })
                .map(|(k, s)| (k.parse().unwrap(), s.clone()))
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|(k, _)| *k);
    v
}

/// Whether a segment is the window being rewritten.
pub fn in_flight(s: &Value) -> bool {
    s["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "in-reencryption"))
}

/// A 44 MiB disk in `dir` holding a 40 MiB ext4 that `mkfs.ext4 -d` filled
/// with `files` (4 KiB blocks, the last 4 MiB free for a data shift): the
/// disk's path and the filesystem's bytes.
pub fn ext4_disk(dir: &Path, files: &[(&str, Vec<u8>)]) -> (PathBuf, Vec<u8>) {
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    for (n, b) in files {
        std::fs::write(content.join(n), b).unwrap();
    }
    let img = dir.join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(44 << 20)
        .unwrap();
    assert!(super::sh(&format!(
        "mkfs.ext4 -q -F -b 4096 -d {} {} 40M",
        content.display(),
        img.display()
    )));
    let fs = std::fs::read(&img).unwrap()[..40 << 20].to_vec();
    (img, fs)
}

/// The plaintext a case exported is the filesystem, 4 KiB block for block.
pub fn assert_plain_is(plain: &[u8], fs: &[u8], what: &str) {
    assert!(plain.len() >= fs.len(), "{what}: {} bytes", plain.len());
    let differ = super::differing_blocks(plain, fs, 4096);
    assert!(
        differ.is_empty(),
        "{what}: blocks {:?}… differ from the filesystem",
        &differ[..differ.len().min(8)]
    );
}
