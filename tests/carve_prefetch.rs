//! Windows Prefetch carved (issue 14, what examiners meet on PCs): the eight
//! prefetch files of plaso's test data, as Windows XP, 7, 8.1 and 10/11 wrote
//! them (versions 17, 23, 26 uncompressed; 30 and 31 XPRESS-Huffman-compressed in
//! `MAM\x04`), laid into random bytes, each come back whole and bit-exact, and
//! libscca's `sccainfo` reads every carved file as a prefetch file naming the
//! same executable (but the one of version 31, which Debian's libscca predates). A compressed one whose second half was overwritten is
//! partial at the start of the block where decoding fails.

mod common;

use common::*;
use std::path::Path;

fn plaso() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/external/plaso");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pf"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn prefetch_of_every_windows_version_comes_back_whole_and_reads_in_sccainfo() {
    if !tools(&["sccainfo"]) {
        return;
    }
    let files = plaso();
    assert_eq!(files.len(), 8);
    assert!(
        files
            .iter()
            .filter(|(_, b)| b.starts_with(b"MAM\x04"))
            .count()
            >= 3
    );
    let d = tempfile::tempdir().unwrap();
    let mut at = 0x10000usize;
    let mut laid = Vec::new();
    for (_, b) in &files {
        laid.push((at, b.as_slice()));
        at += (b.len() / 4096 + 2) * 4096;
    }
    // A compressed file whose blocks after the first are overwritten.
    let big = &files
        .iter()
        .find(|(n, _)| n.starts_with("BYTECODEGENERATOR"))
        .unwrap()
        .1;
    let mut damaged = big.clone();
    let half = damaged.len() / 2;
    let tail = noise(damaged.len() - half, 77);
    damaged[half..].copy_from_slice(&tail);
    laid.push((at, damaged.as_slice()));
    let arts = carve_laid(d.path(), 4 << 20, 13, &laid, 3);
    let mut newer = 0;
    for ((name, b), (off, _)) in files.iter().zip(&laid) {
        let a = expect_carved(&arts, *off as u64, "prefetch", "pf", Want::Unverified(b));
        let carved = d.path().join("case").join(a["extracted"].as_str().unwrap());
        let o = std::process::Command::new("sccainfo")
            .arg(&carved)
            .output()
            .unwrap();
        // Debian's libscca (2020) predates format version 31 (Windows 11):
        // it refuses that one file by its version, which is all it may refuse.
        if !o.status.success()
            && b.starts_with(b"MAM")
            && String::from_utf8_lossy(&o.stderr).contains("unsupported format version")
        {
            newer += 1;
            continue;
        }
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let exe = name.rsplit_once('-').unwrap().0;
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(&format!("Executable filename\t\t: {exe}")),
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    assert!(newer <= 1, "sccainfo refused {newer} carved files");
    let a = expect_carved(&arts, at as u64, "prefetch", "pf", Want::Partial(None));
    let size = a["size"].as_u64().unwrap();
    assert!(size > 8 && size < half as u64, "{a}");
    assert_eq!(a["sha256"], sha256(&big[..size as usize]), "{a}");
    assert_eq!(arts.len(), files.len() + 1, "{arts:#?}");
}
