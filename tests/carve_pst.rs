//! Outlook PST files (issue 14): two Unicode PSTs Outlook wrote (java-libpst's
//! test data) and an ANSI one (Outlook 97 to 2002, go-pst's datasets;
//! testimages/carving/SOURCES.md) carved from among noise come back complete
//! and bit-exact, and libpff's `pffinfo` reads them; the same files cut short,
//! in two with foreign data between, or with one block changed in place are
//! not called complete.

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
fn an_ansi_pst_comes_back_whole_and_pffinfo_reads_it_as_32_bit() {
    let dir = tempfile::tempdir().unwrap();
    let a = pst("32-bit.pst");
    // Off a 4 KiB boundary (a PST is 512-byte aligned inside itself only).
    let at = 0x30200;
    let arts = carve_laid(dir.path(), 2 << 20, 11, &[(at, &a)], 0);
    let c = carved_at(&arts, at as u64, "pst").unwrap_or_else(|| panic!("{arts:#?}"));
    assert_eq!(c["status"], "complete", "{c}");
    assert_eq!(c["size"], a.len() as u64, "{c}");
    assert_eq!(c["sha256"], sha256(&a), "{c}");
    if tools(&["pffinfo"]) {
        let out = dir
            .path()
            .join("case")
            .join(c["extracted"].as_str().unwrap());
        let o = std::process::Command::new("pffinfo")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).contains("32-bit"));
    }
}

#[test]
fn a_pst_cut_short_in_two_or_changed_in_place_is_not_complete() {
    // dist-list.pst's pages and blocks end by 154 KiB (free space after): cut
    // short at 120 KiB, in two at 64 KiB with 48 KiB of noise between, one
    // byte of a page of its block B-tree (at 0x9400) changed where it lies.
    // 32-bit.pst (ANSI) has blocks up to 52.5 KiB and its block B-tree page
    // at 0x4800: cut short at 44 KiB, in two at 40 KiB with 16 KiB between.
    cut_pst("dist-list.pst", 120 << 10, 64 << 10, 48 << 10, 0x9400);
    cut_pst("32-bit.pst", 44 << 10, 40 << 10, 16 << 10, 0x4800);
}

fn cut_pst(name: &str, short_at: usize, two_at: usize, gap: usize, page_at: usize) {
    let dir = tempfile::tempdir().unwrap();
    let a = pst(name);
    let short = a[..short_at].to_vec();
    let mut two = a[..two_at].to_vec();
    two.extend(noise(gap, 5));
    two.extend_from_slice(&a[two_at..]);
    let mut changed = a.clone();
    let at = page_at;
    changed[at + 100] ^= 0x55;
    for (case, file, within) in [
        ("short", &short, short_at),
        ("two", &two, two_at),
        ("changed", &changed, at + 100),
    ] {
        let d = dir.path().join(case);
        std::fs::create_dir(&d).unwrap();
        let arts = carve_laid(&d, 2 << 20, 9, &[(0x10000, file)], 3);
        let c =
            carved_at(&arts, 0x10000, "pst").unwrap_or_else(|| panic!("{name} {case}: {arts:#?}"));
        assert_eq!(c["status"], "partial", "{name} {case}: {c}");
        let size = c["size"].as_u64().unwrap();
        assert!(
            size > 0 && size <= within as u64,
            "{name} {case}: {size} bytes"
        );
        // What it vouches for is the file's own first bytes.
        let got = std::fs::read(d.join("case").join(c["extracted"].as_str().unwrap())).unwrap();
        assert!(
            got[..] == a[..got.len()],
            "{name} {case}: {} bytes, {c}",
            got.len()
        );
    }
}
