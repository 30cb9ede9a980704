//! Space a filesystem's free-space map leaves out is carved (issue 14): the
//! part of a volume past its filesystem's end, and a volume whose allocation
//! map is lost (NTFS `$Bitmap`, the HFS+ allocation file). A stick
//! reformatted with a smaller filesystem, or a device imaged whole whose
//! filesystem does not fill it, keeps the earlier data there; before, a volume
//! a filesystem reader accepted was carved only where that filesystem said it
//! was free, and everything after its last cluster was never looked at.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The first intact PNG of the carving ground truth, and its SHA-256.
fn ground_truth_png() -> (Vec<u8>, String) {
    let gt = std::fs::read(root().join("testimages/carving/ground-truth.img")).unwrap();
    let truth: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("testimages/carving/MANIFEST.json")).unwrap(),
    )
    .unwrap();
    let png = truth
        .iter()
        .find(|t| t["kind"] == "intact" && t["format"] == "png")
        .unwrap();
    let (o, l) = (
        png["offset"].as_u64().unwrap() as usize,
        png["length"].as_u64().unwrap() as usize,
    );
    (
        gt[o..o + l].to_vec(),
        png["sha256"].as_str().unwrap().to_string(),
    )
}

/// Every intact file of the carving ground truth, appended after a filesystem
/// image of `fs_len` bytes, is carved from its place there with its digest.
fn all_carved_past(fs_img: &[u8], what: &str) {
    let d = tempfile::tempdir().unwrap();
    let gt = std::fs::read(root().join("testimages/carving/ground-truth.img")).unwrap();
    let truth: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("testimages/carving/MANIFEST.json")).unwrap(),
    )
    .unwrap();
    let img = d.path().join("disk.img");
    let mut b = fs_img.to_vec();
    b.extend_from_slice(&gt);
    std::fs::write(&img, &b).unwrap();
    // Exit 3: the ground truth holds damaged files, carved as partial.
    let arts = one_shot_ls("recover", &img, None, &d.path().join("case"), 3, &[]);
    // The filesystem was read (its files are there)…
    assert!(
        arts.iter()
            .any(|a| !a["path"].as_str().unwrap().starts_with("/$Carved/")),
        "{what}: no filesystem files: {arts:?}"
    );
    // …and every intact file after it carved at its offset.
    let intact: Vec<&Value> = truth.iter().filter(|t| t["kind"] == "intact").collect();
    assert!(intact.len() > 10);
    for t in intact {
        let at = fs_img.len() as u64 + t["offset"].as_u64().unwrap();
        let hit = arts.iter().find(|a| {
            a["sha256"] == t["sha256"]
                && a["forensic_path"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("/unalloc@{at:#x}/"))
        });
        assert!(
            hit.is_some(),
            "{what}: the {} at {at:#x} past the filesystem is not carved",
            t["format"]
        );
    }
}

#[test]
fn past_a_fat_filesystem() {
    let stick = std::fs::read(root().join("testimages/sample/usb-stick.img")).unwrap();
    all_carved_past(&stick, "FAT16 stick");
}

#[test]
fn past_an_exfat_filesystem() {
    let card = std::fs::read(root().join("testimages/exfat/small.img")).unwrap();
    all_carved_past(&card, "exFAT card");
}

#[test]
fn past_an_ext4_filesystem() {
    if !tools(&["mkfs.ext4"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("notes.txt"), b"kept on the filesystem\n").unwrap();
    let img = d.path().join("fs.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -d {} {} 4M",
        tree.display(),
        img.display()
    )));
    all_carved_past(&std::fs::read(&img).unwrap(), "ext4");
}

#[test]
fn past_an_ntfs_filesystem() {
    if !tools(&["mkntfs"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("fs.img");
    assert!(sh(&format!(
        "truncate -s 8M {0} && mkntfs -q -F -f {0} >/dev/null 2>&1",
        img.display()
    )));
    all_carved_past(&std::fs::read(&img).unwrap(), "NTFS");
}

#[test]
fn past_an_hfs_plus_filesystem() {
    let img = gunzip(&root().join("testimages/external/dfvfs/hfsplus.raw.gz"));
    all_carved_past(&img, "HFS+");
}

/// NTFS with `$Bitmap` lost (MFT record 6 zeroed): free space is what no
/// in-use record's runs reach, so a file in free clusters is still carved
/// (before, nothing of the volume was) and the volume's files still come back.
#[test]
fn ntfs_free_space_without_its_bitmap() {
    if !tools(&["mkntfs", "ntfscp", "blkstat"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("fs.img");
    let note = d.path().join("notes.txt");
    std::fs::write(&note, "kept on the volume\n".repeat(400)).unwrap();
    assert!(sh(&format!(
        "truncate -s 16M {0} && mkntfs -q -F -f {0} >/dev/null 2>&1 && ntfscp -f {0} {1} notes.txt >/dev/null 2>&1",
        img.display(),
        note.display()
    )));
    let mut b = std::fs::read(&img).unwrap();
    let cs = u64::from(u16::from_le_bytes([b[11], b[12]])) * u64::from(b[13]);
    // A PNG of the ground truth in a cluster TSK says is free.
    let at = 12u64 << 20;
    let stat = std::process::Command::new("blkstat")
        .arg(&img)
        .arg((at / cs).to_string())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&stat.stdout).contains("Not Allocated"),
        "{}",
        String::from_utf8_lossy(&stat.stdout)
    );
    let (png, png_sha) = ground_truth_png();
    let l = png.len();
    b[at as usize..at as usize + l].copy_from_slice(&png);
    // MFT record 6 ($Bitmap) zeroed.
    let mft = u64::from_le_bytes(b[0x30..0x38].try_into().unwrap()) * cs;
    let rs = match b[0x40] as i8 {
        n if n < 0 => 1u64 << (-n),
        n => n as u64 * cs,
    };
    let r6 = (mft + 6 * rs) as usize;
    b[r6..r6 + rs as usize].fill(0);
    std::fs::write(&img, &b).unwrap();
    let out = d.path().join("case");
    let arts = recovered_with_png(&img, &out, at, &png_sha);
    assert!(
        arts.iter().any(|a| a["path"] == "/notes.txt"),
        "the volume's file is not listed"
    );
    let n = findings(&out)
        .iter()
        .filter(|f| f.starts_with("$Bitmap (MFT record 6) unreadable"))
        .count();
    assert_eq!(n, 1, "one finding says the bitmap was rebuilt");
}

/// HFS+ whose allocation file cannot be read (its extent points past the
/// volume, in both volume headers): the blocks it cannot tell are carved as
/// if free (before: treated as in use, so nothing was carved).
#[test]
fn hfs_plus_free_space_without_its_allocation_file() {
    let mut b = gunzip(&root().join("testimages/external/dfvfs/hfsplus.raw.gz"));
    let (png, png_sha) = ground_truth_png();
    let l = png.len();
    // Block 900 of 1014 (4 KiB blocks) is free in dfvfs's volume.
    let at = 900 * 4096;
    b[at..at + l].copy_from_slice(&png);
    let last = b.len() - 1024;
    for h in [1024, last] {
        if &b[h..h + 2] == b"H+" {
            // allocationFile.extents[0].startBlock
            b[h + 128..h + 132].copy_from_slice(&50_000u32.to_be_bytes());
        }
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("hfs.img");
    std::fs::write(&img, &b).unwrap();
    let arts = recovered_with_png(&img, &d.path().join("case"), at as u64, &png_sha);
    assert!(
        arts.iter()
            .any(|a| !a["path"].as_str().unwrap().starts_with("/$Carved/")),
        "the volume's files are not listed"
    );
}

/// `recover` of `img` into `out` (exit 0 or 3) and its artifacts, among them
/// the PNG of SHA-256 `sha` carved from image offset `at`.
fn recovered_with_png(img: &Path, out: &Path, at: u64, sha: &str) -> Vec<Value> {
    let o = one_shot("recover", img, None, out, &[]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let arts = ls_json(out);
    assert!(
        arts.iter().any(|a| a["sha256"] == sha
            && a["forensic_path"]
                .as_str()
                .unwrap()
                .contains(&format!("/unalloc@{at:#x}/png"))),
        "the PNG in free space is not carved ({} artifacts)",
        arts.len()
    );
    arts
}

/// A filesystem lying past another's end in the same volume (a stick
/// reformatted smaller, without a partition table, over an earlier layout) is
/// found by the pass's lost-filesystem scan and its files listed with their
/// paths; TSK's `fls` on the image sees only the first.
#[test]
fn a_filesystem_past_another_s_end_is_found() {
    if !tools(&["mkfs.ext4"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree/docs");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("ledger.txt"), b"ledger from the old partition\n").unwrap();
    let ext = d.path().join("ext.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -d {} {} 4M",
        d.path().join("tree").display(),
        ext.display()
    )));
    let mut img = std::fs::read(root().join("testimages/sample/usb-stick.img")).unwrap();
    let fat_len = img.len();
    img.extend_from_slice(&std::fs::read(&ext).unwrap());
    let disk = d.path().join("disk.img");
    std::fs::write(&disk, &img).unwrap();
    let arts = one_shot_ls("recover", &disk, None, &d.path().join("case"), 0, &[]);
    let ledger = arts
        .iter()
        .find(|a| a["path"] == "/docs/ledger.txt")
        .expect("the ext4 past the FAT is read");
    assert!(
        ledger["forensic_path"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ev1/vol1@{fat_len}/ext4/")),
        "{ledger}"
    );
    assert!(
        arts.iter().any(|a| a["path"] == "/NOTES.TXT"),
        "the FAT's files"
    );
    // `list`, which reads no pass, finds it too, as the same volume (before,
    // it listed only the FAT).
    let o = run(&["list", disk.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = stdout(&o);
    assert!(
        listed
            .lines()
            .any(|l| l.contains("v1/ext4/") && l.ends_with("/docs/ledger.txt")),
        "{listed}"
    );
}
