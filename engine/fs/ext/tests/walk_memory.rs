//! What the walk holds does not grow with the number of files (issue 18): each
//! inode is listed when its name is met, so the walk keeps only the folders still
//! to be read and the set of inodes listed. Counted with the counting allocator
//! the `dredge` binary installs (`dredge_core::memory`).

use dredge_core::memory::Counting;
use dredge_fs_ext::ExtFs;
use dredge_testkit::{have_tool, walk_growth_per_file, whole_volume};
use std::alloc::System;
use std::path::Path;
use std::process::Command;

#[global_allocator]
static GLOBAL: Counting<System> = Counting(System);

/// An ext4 image of `files` small files in folders of 500 (`mkfs.ext4 -d`), read
/// into memory; None (skipped) without mkfs.ext4.
fn image(dir: &Path, files: usize) -> Option<Vec<u8>> {
    if !have_tool("mkfs.ext4", "-V") {
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
    let img = dir.join(format!("ext4-{files}.img"));
    let mib = files / 100 + 16;
    let o = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-N", &(files + 2000).to_string(), "-d"])
        .arg(&tree)
        .arg(&img)
        .arg(format!("{mib}M"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(std::fs::read(&img).unwrap())
}

#[test]
fn the_walk_holds_about_the_same_for_ten_times_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some(small) = image(dir.path(), 2_000) else {
        return;
    };
    let Some(large) = image(dir.path(), 20_000) else {
        return;
    };
    let small = ExtFs::open(whole_volume(small)).unwrap();
    let large = ExtFs::open(whole_volume(large)).unwrap();
    let per_file = walk_growth_per_file((&small, 2_000), (&large, 20_000));
    // 18 000 more files may cost the set of listed inodes (a few bytes each), not
    // their names: a walk holding the namespace (about 220 bytes a file, as it did
    // before: 4.5 MB for 20 000) would hold 4 MB more.
    assert!(per_file < 32, "{per_file} bytes a file");
}
