//! FAT under metadata damage (issue 14): a 16 MiB FAT16 stick made by
//! mkfs.fat and mcopy, damaged the ways random bytes damage it, recovered by
//! `dredge recover` and by `tsk_recover -e` side by side. Where the FAT copies
//! differ each chain is taken from the copy (or the merge of both) whose chain
//! fits its file; a zeroed first byte or a volume-label attribute does not hide
//! a live entry; a total sector count the FAT cannot hold does not lose the
//! volume. scripts/bench-fat-damage.py measures the same over many cases.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MIB: usize = 1 << 20;

/// The stick: its image, the files (name, content) in its root, and where
/// its structures lie.
struct Stick {
    img: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    fat1: usize,
    fat2: usize,
    root: usize,
    data: usize,
    cluster: usize,
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn stick(dir: &Path) -> Stick {
    let img = dir.join("stick.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 * MIB as u64)
        .unwrap();
    assert!(sh(&format!("mkfs.fat -F 16 {} >/dev/null", img.display())));
    let mut files = Vec::new();
    for i in 0..12u64 {
        // 3 KiB to 200 KiB: one to a hundred clusters each.
        let len = 3000 + (i as usize * 17_000);
        let name = format!("file{i:02}.bin");
        let src = dir.join(&name);
        std::fs::write(&src, noise(len, 100 + i)).unwrap();
        assert!(sh(&format!(
            "mcopy -i {} {} ::{name}",
            img.display(),
            src.display()
        )));
        files.push((name, noise(len, 100 + i)));
    }
    // One with a long name (long-name slots before its short entry).
    let name = "Holiday photo.bin".to_string();
    std::fs::write(dir.join("long.bin"), noise(5000, 99)).unwrap();
    assert!(sh(&format!(
        "mcopy -i {} {} '::{name}'",
        img.display(),
        dir.join("long.bin").display()
    )));
    files.push((name, noise(5000, 99)));
    let b = std::fs::read(&img).unwrap();
    let bps = le16(&b, 11);
    let fat1 = le16(&b, 14) * bps;
    let fat_size = le16(&b, 22) * bps;
    let root = fat1 + 2 * fat_size;
    Stick {
        data: root + le16(&b, 17) * 32,
        cluster: bps * usize::from(b[13]),
        img,
        files,
        fat1,
        fat2: fat1 + fat_size,
        root,
    }
}

impl Stick {
    /// The root directory slot of a file's short entry.
    fn entry(&self, img: &[u8], name: &str) -> usize {
        let (stem, ext) = name.split_once('.').unwrap();
        let short = if stem.contains(' ') {
            // mcopy's short name for a long one.
            "HOLIDA~1BIN".to_string()
        } else {
            format!("{:<8}{:<3}", stem.to_uppercase(), ext.to_uppercase())
        };
        (self.root..self.data)
            .step_by(32)
            .find(|&o| img[o..o + 11] == *short.as_bytes())
            .unwrap_or_else(|| panic!("no entry {short:?}"))
    }

    fn start_cluster(&self, img: &[u8], name: &str) -> usize {
        le16(img, self.entry(img, name) + 26)
    }

    fn set_link(img: &mut [u8], fat: usize, cluster: usize, v: u16) {
        img[fat + 2 * cluster..fat + 2 * cluster + 2].copy_from_slice(&v.to_le_bytes());
    }
}

/// SHA-256s of what `dredge recover` extracted (not carved) from `img`, and
/// the case's findings.
fn dredge_got(img: &Path, case: &Path) -> (BTreeSet<String>, Vec<String>) {
    let arts = one_shot_ls("recover", img, None, case, 0, &[]);
    let got = arts
        .iter()
        .filter(|a| a["kind"] == "file" && a["origin"] != "carved")
        .filter_map(|a| a["sha256"].as_str().map(str::to_string))
        .collect();
    (got, findings(case))
}

fn write(dir: &Path, name: &str, b: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

#[test]
fn each_chain_comes_from_the_fat_copy_that_fits_it() {
    if !tools(&["mkfs.fat", "mcopy", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    let mut b = std::fs::read(&s.img).unwrap();
    // file05: FAT 1 links its 3rd cluster to an invalid value and its 6th to
    // another file's cluster; FAT 2 is intact there.
    let a = s.start_cluster(&b, "file05.bin");
    Stick::set_link(&mut b, s.fat1, a + 2, 0xC714);
    let other = s.start_cluster(&b, "file09.bin") + 3;
    Stick::set_link(&mut b, s.fat1, a + 5, other as u16);
    // file07: FAT 1 ends it early; FAT 2 sends its 4th link astray. Neither
    // copy alone fits; merged link by link they do.
    let c = s.start_cluster(&b, "file07.bin");
    Stick::set_link(&mut b, s.fat1, c + 1, 0xFFFF);
    Stick::set_link(&mut b, s.fat2, c + 3, (c + 40) as u16);
    // file08: FAT 2 damaged alone; FAT 1 is right and is kept.
    let d = s.start_cluster(&b, "file08.bin");
    Stick::set_link(&mut b, s.fat2, d + 1, 0x0000);
    let img = write(dir.path(), "bad.img", &b);
    let (got, finds) = dredge_got(&img, &dir.path().join("case"));
    for (name, content) in &s.files {
        assert!(got.contains(&sha256(content)), "{name} not bit-exact");
    }
    let said = |what: &str| finds.iter().any(|f| f.contains(what));
    assert!(
        said("file05.bin: FAT 1 breaks its chain") && said("FAT 2's chain fits"),
        "{finds:?}"
    );
    assert!(said("file07.bin: neither FAT copy alone"), "{finds:?}");
    assert!(!said("file08.bin"), "FAT 1 fits file08: {finds:?}");
    // The Sleuth Kit follows FAT 1: file05 and file07 come back wrong.
    let tsk = tsk_recovered(&img, &dir.path().join("tsk"));
    for name in ["file05.bin", "file07.bin"] {
        let (_, content) = s.files.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            !tsk.contains(&sha256(content)),
            "tsk_recover got {name} right"
        );
    }
}

#[test]
fn damaged_entries_and_counts_do_not_hide_live_files() {
    if !tools(&["mkfs.fat", "mcopy"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    let clean = std::fs::read(&s.img).unwrap();
    // A zeroed first byte in the middle of the root directory (an
    // end-of-directory mark over a live entry) ...
    let mut b = clean.clone();
    let e3 = s.entry(&b, "file03.bin");
    b[e3] = 0;
    let long = s.entry(&b, "Holiday photo.bin");
    b[long] = 0;
    // ... and an attribute byte turned into a volume label's.
    let e6 = s.entry(&b, "file06.bin");
    b[e6 + 11] = 0x4B;
    // ... and a total sector count the FAT cannot hold (it claims 102
    // sectors more than the stick has).
    b[19..21].copy_from_slice(&(32_870u16).to_le_bytes());
    let img = write(dir.path(), "bad.img", &b);
    let (got, finds) = dredge_got(&img, &dir.path().join("case"));
    for (name, content) in &s.files {
        assert!(got.contains(&sha256(content)), "{name} not bit-exact");
    }
    let said = |what: &str| finds.iter().any(|f| f.contains(what));
    assert!(said("first byte is 0x00"), "{finds:?}");
    assert!(said("marks a volume label"), "{finds:?}");
    assert!(said("total sector count"), "{finds:?}");
    // A zeroed entry with a long name keeps it (the long name's checksum of
    // the short name tells the lost first letter); a short name alone shows
    // the lost letter as '_', as for deleted entries.
    let arts = ls_json(&dir.path().join("case"));
    let paths: Vec<&str> = arts.iter().filter_map(|a| a["path"].as_str()).collect();
    assert!(paths.contains(&"/Holiday photo.bin"), "{paths:?}");
    assert!(paths.contains(&"/_ile03.bin"), "{paths:?}");
    // An undamaged stick has no such findings (nothing is repaired that was whole).
    let clean_img = write(dir.path(), "clean.img", &clean);
    let (_, finds) = dredge_got(&clean_img, &dir.path().join("case-clean"));
    assert!(
        !finds
            .iter()
            .any(|f| f.contains("FAT") || f.contains("0x00") || f.contains("label")),
        "{finds:?}"
    );
}

/// Random damage, as scripts/bench-fat-damage.py makes it: 1 to 64 random
/// bytes in the boot sector, FATs and root directory. Summed over the cases,
/// dredge returns at least what tsk_recover does, and all but a few of the
/// files whose own bytes were untouched.
#[test]
fn random_metadata_damage_costs_no_more_than_the_damaged_files() {
    if !tools(&["mkfs.fat", "mcopy", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    let clean = std::fs::read(&s.img).unwrap();
    let place: Vec<(usize, usize)> = s
        .files
        .iter()
        .map(|(_, c)| (find(&clean, c), c.len()))
        .collect();
    let (mut ours, mut theirs, mut ceiling) = (0, 0, 0);
    let mut r = dredge_testkit::Rng::new(14);
    let cases = 16;
    for case in 0..cases {
        let mut b = clean.clone();
        let mut hit = Vec::new();
        for _ in 0..1 + r.below(64) {
            let at = r.below(s.data as u64 + s.cluster as u64) as usize;
            let v = (r.next() >> 24) as u8;
            if b[at] != v {
                hit.push(at);
            }
            b[at] = v;
        }
        let img = write(dir.path(), "bad.img", &b);
        let case_dir = dir.path().join(format!("case{case}"));
        let o = one_shot("recover", &img, None, &case_dir, &[]);
        assert!(
            matches!(o.status.code(), Some(0) | Some(2) | Some(3)),
            "{}",
            stderr(&o)
        );
        let got: BTreeSet<String> = if case_dir.join("case.sqlite").exists() {
            ls_json(&case_dir)
                .iter()
                .filter(|a| a["kind"] == "file" && a["origin"] != "carved")
                .filter_map(|a| a["sha256"].as_str().map(str::to_string))
                .collect()
        } else {
            BTreeSet::new()
        };
        let tsk = tsk_recovered(&img, &dir.path().join(format!("tsk{case}")));
        for ((_, c), &(at, len)) in s.files.iter().zip(&place) {
            let h = sha256(c);
            ours += usize::from(got.contains(&h));
            theirs += usize::from(tsk.contains(&h));
            ceiling += usize::from(!hit.iter().any(|&x| x >= at && x < at + len));
        }
    }
    eprintln!(
        "bit-exact over {cases} cases: dredge {ours}, tsk_recover {theirs}, untouched {ceiling}"
    );
    assert!(ours >= theirs, "dredge {ours} < tsk_recover {theirs}");
    assert!(ours + 3 >= ceiling, "dredge {ours}, untouched {ceiling}");
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len().min(4096))
        .position(|w| w == &needle[..needle.len().min(4096)])
        .expect("file bytes on the stick")
}

/// One damaged byte in the boot sector (FAT16 keeps no backup): the jump,
/// bytes per sector, reserved sectors, FAT count, sectors per FAT, root
/// directory entries (low and high byte). Each geometry field is found again
/// from where the FATs and a subdirectory really are, and every file comes
/// back; tsk_recover, which trusts the field, loses the volume for most.
#[test]
fn a_damaged_boot_sector_field_is_found_again_from_the_fats() {
    if !tools(&["mkfs.fat", "mcopy", "mmd", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    // A subdirectory, so the root directory's size can be checked.
    assert!(sh(&format!("mmd -i {} ::/DCIM", s.img.display())));
    let clean = std::fs::read(&s.img).unwrap();
    let (mut theirs, mut cases) = (0, 0);
    for (at, v, field) in [
        (0usize, 0xB3u8, "jump instruction"),
        (11, 0x1B, "bytes per sector"),
        (14, 0xCB, "reserved sector count"),
        (15, 0xA3, "reserved sector count"),
        (16, 0xC2, "FAT count"),
        (23, 0xBF, "sectors per FAT"),
        (17, 0x25, "root directory entries"),
        (18, 0x18, "root directory entries"),
    ] {
        let mut b = clean.clone();
        b[at] = v;
        let img = write(dir.path(), &format!("boot{at}.img"), &b);
        let case = dir.path().join(format!("case{at}"));
        let (got, finds) = dredge_got(&img, &case);
        for (name, content) in &s.files {
            assert!(
                got.contains(&sha256(content)),
                "byte {at}: {name} not bit-exact"
            );
        }
        assert!(
            finds
                .iter()
                .any(|f| f.contains(field) && f.contains("damaged")),
            "byte {at}: {finds:?}"
        );
        let tsk = tsk_recovered(&img, &dir.path().join(format!("tsk{at}")));
        theirs += s
            .files
            .iter()
            .filter(|(_, c)| tsk.contains(&sha256(c)))
            .count();
        cases += 1;
    }
    eprintln!(
        "boot sector damage: dredge {} of {} files, tsk_recover {theirs}",
        cases * s.files.len(),
        cases * s.files.len()
    );
    assert!(theirs < cases * s.files.len() / 2, "tsk_recover {theirs}");
}

/// A live file's start cluster with one damaged byte: the chain no entry
/// names, of exactly the file's size, one byte away from the recorded
/// number, is its chain. tsk_recover reads from the damaged number.
#[test]
fn a_damaged_start_cluster_finds_the_chain_no_entry_names() {
    if !tools(&["mkfs.fat", "mcopy", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    let mut b = std::fs::read(&s.img).unwrap();
    let mut damaged = Vec::new();
    for name in ["file04.bin", "file10.bin"] {
        let e = s.entry(&b, name);
        // The low byte of the start cluster, moved into another file's chain.
        b[e + 26] = b[e + 26].wrapping_add(7);
        damaged.push(name);
    }
    let img = write(dir.path(), "bad.img", &b);
    let (got, finds) = dredge_got(&img, &dir.path().join("case"));
    for (name, content) in &s.files {
        assert!(got.contains(&sha256(content)), "{name} not bit-exact");
    }
    for name in &damaged {
        assert!(
            finds
                .iter()
                .any(|f| f.contains(name) && f.contains("heads no chain of its size")),
            "{name}: {finds:?}"
        );
    }
    let tsk = tsk_recovered(&img, &dir.path().join("tsk"));
    for name in &damaged {
        let (_, content) = s.files.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            !tsk.contains(&sha256(content)),
            "tsk_recover got {name} right"
        );
    }
}

/// A live file's size field with one damaged byte: where the chain is whole
/// and exactly one size a byte away fits it (a damaged third or fourth
/// byte), that size is the file's. A damaged low byte leaves a size
/// anywhere in the last cluster: no guess is made. tsk_recover reads the
/// damaged size.
#[test]
fn a_damaged_size_byte_is_mended_only_where_one_size_fits_the_chain() {
    if !tools(&["mkfs.fat", "mcopy", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = stick(dir.path());
    let mut b = std::fs::read(&s.img).unwrap();
    // file09 (156 000 bytes) and file11 (190 000): their third byte; file05
    // (88 000): its low byte.
    for (name, byte, v) in [
        ("file09.bin", 2, 0x41),
        ("file11.bin", 3, 0x07),
        ("file05.bin", 0, 0x11),
    ] {
        let e = s.entry(&b, name);
        b[e + 28 + byte] = v;
    }
    let img = write(dir.path(), "bad.img", &b);
    let (got, finds) = dredge_got(&img, &dir.path().join("case"));
    for (name, content) in &s.files {
        let mended = got.contains(&sha256(content));
        assert_eq!(mended, name != "file05.bin", "{name}: {finds:?}");
    }
    let said = |name: &str| {
        finds
            .iter()
            .any(|f| f.contains(name) && f.contains("size field does not fit"))
    };
    assert!(said("file09.bin") && said("file11.bin"), "{finds:?}");
    assert!(!said("file05.bin"), "{finds:?}");
    let tsk = tsk_recovered(&img, &dir.path().join("tsk"));
    for name in ["file09.bin", "file11.bin"] {
        let (_, content) = s.files.iter().find(|(n, _)| n == name).unwrap();
        assert!(
            !tsk.contains(&sha256(content)),
            "tsk_recover got {name} right"
        );
    }
}
