//! Space in a volume past its filesystem's end is carved (issue 14). A stick
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
