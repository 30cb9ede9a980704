//! What the FAT walks hold as the number of files grows (issue 18): counted with
//! the counting allocator the `dredge` binary installs (`dredge_core::memory`).
//! The first of the reader's two walks gathers every deleted file and every
//! entry's start cluster, so that the deleted layouts can be planned together
//! (decision 0005); this measures what that costs a file.

use dredge_core::memory::Counting;
use dredge_fs_fat::FatFs;
use dredge_testkit::{have_tool, walk_growth_per_file, whole_volume};
use std::alloc::System;
use std::path::Path;
use std::process::Command;

#[global_allocator]
static GLOBAL: Counting<System> = Counting(System);

/// A FAT32 image of `files` small files with long names, in folders of 500
/// (mkfs.fat + mcopy), read into memory; None (skipped) without the tools.
fn image(dir: &Path, files: usize) -> Option<Vec<u8>> {
    if !have_tool("mkfs.fat", "--version") || !have_tool("mcopy", "--version") {
        return None;
    }
    let tree = dir.join(format!("tree-{files}"));
    for i in 0..files {
        let d = tree.join(format!("folder-{:04}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("a file named {i:07}.txt")), format!("{i}\n")).unwrap();
    }
    let img = dir.join(format!("fat-{files}.img"));
    // 512-byte clusters: small files, one cluster each.
    let kib = (files as u64 * 3 / 2 + 40 * 1024).to_string();
    let o = Command::new("mkfs.fat")
        .args(["-C", "-F", "32", "-s", "1"])
        .arg(&img)
        .arg(&kib)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut copy = Command::new("mcopy");
    copy.env("MTOOLS_SKIP_CHECK", "1")
        .arg("-s")
        .arg("-i")
        .arg(&img);
    for e in std::fs::read_dir(&tree).unwrap() {
        copy.arg(e.unwrap().path());
    }
    let o = copy.arg("::/").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(std::fs::read(&img).unwrap())
}

#[test]
fn the_walk_holds_a_few_bytes_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some(small) = image(dir.path(), 1_000) else {
        return;
    };
    let Some(large) = image(dir.path(), 6_000) else {
        return;
    };
    let small = FatFs::open(whole_volume(small)).unwrap();
    let large = FatFs::open(whole_volume(large)).unwrap();
    let per_file = walk_growth_per_file((&small, 1_000), (&large, 6_000));
    // Measured 9 bytes a file (2 000 against 20 000 files): the gathering walk's
    // start clusters and deleted files, not the names. mcopy takes about 3 ms a
    // file, so the test uses 1 000 and 6 000. A walk holding every entry (about
    // 200 bytes a file with its path) would be far past the bound.
    assert!(per_file < 64, "{per_file} bytes a file");
}
