//! Outlook PST files (issue 14): two Unicode PSTs Outlook wrote (java-libpst's
//! test data, testimages/carving/SOURCES.md) carved from among noise come back
//! complete and bit-exact, and libpff's `pffinfo` reads them; the same files
//! cut short, in two with foreign data between, or with one block changed in
//! place are not called complete.

mod common;

use common::*;
use std::path::Path;

fn pst(name: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/carving/pst");
    std::fs::read(root.join(name)).unwrap()
}

#[test]
fn outlook_psts_come_back_whole_and_pffinfo_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (pst("dist-list.pst"), pst("passworded.pst"));
    let arts = carve_laid(dir.path(), 4 << 20, 7, &[(0x10000, &a), (0x200000, &b)], 0);
    for (at, file) in [(0x10000u64, &a), (0x200000, &b)] {
        let c = carved_at(&arts, at, "pst").unwrap_or_else(|| panic!("{at}: {arts:#?}"));
        assert_eq!(c["status"], "complete", "{c}");
        assert_eq!(c["sha256"], sha256(file), "{c}");
        let out = dir
            .path()
            .join("case")
            .join(c["extracted"].as_str().unwrap());
        assert!(out.to_str().unwrap().ends_with(".pst"), "{}", out.display());
        if tools(&["pffinfo"]) {
            let o = std::process::Command::new("pffinfo")
                .arg(&out)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(String::from_utf8_lossy(&o.stdout).contains("Inbox"));
        }
    }
}

#[test]
fn a_pst_cut_short_in_two_or_changed_in_place_is_not_complete() {
    let dir = tempfile::tempdir().unwrap();
    let a = pst("dist-list.pst");
    // Its pages and blocks end by 154 KiB (free space after). Cut short at
    // 120 KiB; cut in two at 64 KiB with 48 KiB of noise between; one byte
    // of a page of its block B-tree (at 0x9400) changed where it lies.
    let short = a[..120 << 10].to_vec();
    let mut two = a[..64 << 10].to_vec();
    two.extend(noise(48 << 10, 5));
    two.extend_from_slice(&a[64 << 10..]);
    let mut changed = a.clone();
    let at = 0x9400;
    changed[at + 100] ^= 0x55;
    for (case, file, within) in [
        ("short", &short, 120 << 10),
        ("two", &two, 64 << 10),
        ("changed", &changed, at + 100),
    ] {
        let d = dir.path().join(case);
        std::fs::create_dir(&d).unwrap();
        let arts = carve_laid(&d, 2 << 20, 9, &[(0x10000, file)], 3);
        let c = carved_at(&arts, 0x10000, "pst").unwrap_or_else(|| panic!("{case}: {arts:#?}"));
        assert_eq!(c["status"], "partial", "{case}: {c}");
        let size = c["size"].as_u64().unwrap();
        assert!(size > 0 && size <= within as u64, "{case}: {size} bytes");
        // What it vouches for is the file's own first bytes.
        let got = std::fs::read(d.join("case").join(c["extracted"].as_str().unwrap())).unwrap();
        assert!(
            got[..] == a[..got.len()],
            "{case}: {} bytes, {c}",
            got.len()
        );
    }
}
