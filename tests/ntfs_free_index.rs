//! NTFS names from folder index blocks in free space (issue 14): a folder of
//! 200 files written through ntfs-3g, deleted whole, then a new folder and 400
//! new files that take every MFT record the deleted ones had. No record leads
//! to the deleted names any more (TSK's `fls -d` lists none of them); the
//! folder's freed `INDX` blocks still hold them. The pass finds the blocks in
//! free clusters, and the names come back as name-only entries under
//! `/$OrphanFiles/folder-N`, each a name this test deleted, with its size and
//! times from the index copy, and the image is still read once. Needs mkntfs,
//! ntfs-3g and FUSE; skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn name(i: u32) -> String {
    format!("witness_statement_{i:04}_final.docx")
}

fn content(i: u32) -> String {
    format!("secret {i}\n")
}

/// `files` files in a folder written through ntfs-3g, the folder deleted,
/// then a new folder of as many files taking their MFT records. `cluster`:
/// mkntfs's cluster size (its default when None).
fn make(dir: &Path, cluster: Option<u32>, files: u32) -> Option<PathBuf> {
    let img = dir.join("ntfs.img");
    let mnt = dir.join("mnt");
    let size = if files > 200 { 96 << 20 } else { 48 << 20 };
    let options = cluster.map(|c| format!("-c {c}")).unwrap_or_default();
    if !ntfs_mounted_with(&img, &mnt, size, &options) {
        return None;
    }
    let mount = || sh(&format!("ntfs-3g {} {}", img.display(), mnt.display()));
    let umount = || assert!(sh(&format!("umount {}", mnt.display())));
    let gone = mnt.join("gone");
    std::fs::create_dir(&gone).unwrap();
    for i in 1..=files {
        std::fs::write(gone.join(name(i)), content(i)).unwrap();
    }
    umount();
    assert!(mount());
    std::fs::remove_dir_all(&gone).unwrap();
    umount();
    assert!(mount());
    let new = mnt.join("new");
    std::fs::create_dir(&new).unwrap();
    for i in 1..=files.max(400) {
        std::fs::write(new.join(format!("n{i}")), format!("x{i}\n")).unwrap();
    }
    umount();
    Some(img)
}

/// The names `recover` lists from index blocks in free space, each checked
/// to be a name the test deleted, listed once, with its size and times.
fn names_from_free_blocks(img: &Path, out: &Path, files: u32) -> BTreeSet<String> {
    let arts = one_shot_ls("recover", img, None, out, 0, &[]);
    let deleted: BTreeSet<String> = (1..=files).map(name).collect();
    let from_free: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("index block in free space"))
        })
        .collect();
    let mut names = BTreeSet::new();
    let mut folders = BTreeSet::new();
    for a in &from_free {
        let path = a["path"].as_str().unwrap();
        let (folder, n) = path.rsplit_once('/').unwrap();
        assert!(deleted.contains(n), "{n}: not a deleted name");
        assert!(names.insert(n.to_string()), "{n} listed twice");
        folders.insert(folder.to_string());
        // The folder's record holds another file now: no path leads there.
        assert!(folder.starts_with("/$OrphanFiles/folder-"), "{path}");
        assert_eq!(a["deleted"], true);
        assert_eq!(a["kind"], "file");
        assert_eq!(a["recovery"], "deleted-not-recoverable", "{a}");
        let i: u32 = n["witness_statement_".len()..][..4].parse().unwrap();
        assert_eq!(a["size"], content(i).len() as u64, "{a}");
        let times = a["times"].as_array().unwrap();
        assert!(
            times.iter().any(|t| t["source"] == "ntfs.i30.modified"),
            "{a}"
        );
    }
    assert!(folders.len() <= 1, "{folders:?}");
    // No other entry names a deleted file: the MFT records are all reused.
    let listed_elsewhere = arts
        .iter()
        .filter(|a| !from_free.iter().any(|b| std::ptr::eq(*b, *a)))
        .filter_map(|a| a["path"].as_str())
        .filter(|p| p.contains("witness_statement_"))
        .count();
    assert_eq!(listed_elsewhere, 0);
    let (read, size) = pass_bytes(out);
    assert_eq!(read, size, "one pass");
    names
}

#[test]
fn names_of_a_deleted_folder_come_back_from_its_index_blocks_in_free_space() {
    if !tools(&["mkntfs", "ntfs-3g"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some(img) = make(d.path(), None, 200) else {
        return;
    };
    let out = d.path().join("case");
    let names = names_from_free_blocks(&img, &out, 200);
    // ntfs-3g's new index blocks take some freed clusters: most names are
    // still there, never all of them guaranteed.
    assert!(names.len() >= 100, "{} of 200 names", names.len());
    let f = findings(&out);
    assert!(
        f.iter()
            .any(|x| x.contains("folder index block(s) in free space")),
        "{f:?}"
    );
    let (read, size) = pass_bytes(&out);
    assert_eq!(read, size, "one pass");
    // `list` has no pass: it lists these names only with --deep, which
    // reads the free space as the pass does.
    let list = |extra: &[&str]| {
        let mut a = vec!["--progress", "none", "list", img.to_str().unwrap()];
        a.extend_from_slice(extra);
        let o = run(&a);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .filter(|l| l.contains("witness_statement_"))
            .count()
    };
    assert_eq!(list(&[]), 0);
    assert_eq!(list(&["--deep"]), names.len());
    if tools(&["fls"]) {
        let o = std::process::Command::new("fls")
            .args(["-r", "-d"])
            .arg(&img)
            .output()
            .unwrap();
        let fls = String::from_utf8_lossy(&o.stdout);
        assert!(!fls.contains("witness_statement_"), "{fls}");
        eprintln!(
            "TSK fls -r -d: none of the 200 names; dredge: {} from index blocks in free space",
            names.len()
        );
    }
    assert!(run(&["verify", out.to_str().unwrap()]).status.success());
}

/// With 64 KiB clusters a cluster holds 16 index blocks: each is looked for,
/// not only the first of its cluster (which gave 28 of these names).
#[test]
fn index_blocks_inside_large_clusters_are_found_too() {
    if !tools(&["mkntfs", "ntfs-3g"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some(img) = make(d.path(), Some(65536), 600) else {
        return;
    };
    let names = names_from_free_blocks(&img, &d.path().join("case"), 600);
    // The new folder's index takes the first freed cluster (16 blocks);
    // the blocks of the others are free and whole.
    assert!(names.len() >= 300, "{} of 600 names", names.len());
}
