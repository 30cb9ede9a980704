//! What the walk holds grows with the folders, not the files (issue 18): files
//! are read again in the second sweep instead of being kept from the first.
//! Counted with the counting allocator the `dredge` binary installs
//! (`dredge_core::memory`).

use dredge_core::memory::Counting;
use dredge_fs_ntfs::NtfsFs;
use dredge_testkit::{walk_growth_per_file, whole_volume};
use std::alloc::System;
use std::path::Path;
use std::process::Command;

#[global_allocator]
static GLOBAL: Counting<System> = Counting(System);

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An NTFS image (mkntfs, files written through ntfs-3g) of `files` small files
/// in 40 folders, read into memory; None (skipped) without the tools.
fn image(dir: &Path, files: usize) -> Option<Vec<u8>> {
    if !["mkntfs", "ntfs-3g"].iter().all(|t| have(t)) || !Path::new("/dev/fuse").exists() {
        assert_ne!(
            std::env::var("DREDGE_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "mkntfs, ntfs-3g or /dev/fuse missing; DREDGE_REQUIRE_TOOLS=1 so this is a failure"
        );
        eprintln!("SKIPPED: mkntfs, ntfs-3g or /dev/fuse missing");
        return None;
    }
    let img = dir.join(format!("ntfs-{files}.img"));
    let mnt = dir.join(format!("mnt-{files}"));
    std::fs::create_dir_all(&mnt).unwrap();
    let sh = |cmd: String| {
        let o = Command::new("sh").args(["-c", &cmd]).output().unwrap();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    sh(format!(
        "truncate -s {}M {i} && mkntfs -q -F -f {i} >/dev/null && ntfs-3g {i} {m}",
        files / 200 + 64,
        i = img.display(),
        m = mnt.display()
    ));
    for i in 0..files {
        let d = mnt.join(format!("folder-{:02}", i % 40));
        if i < 40 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("a file named {i:07}.txt")), format!("{i}\n")).unwrap();
    }
    sh(format!("umount {}", mnt.display()));
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
    let small = NtfsFs::open(whole_volume(small)).unwrap();
    let large = NtfsFs::open(whole_volume(large)).unwrap();
    let per_file = walk_growth_per_file((&small, 2_000), (&large, 20_000));
    // The same 40 folders: 18 000 more files may cost what a record read costs,
    // not their names and paths (477 bytes a file when files were kept between
    // the sweeps: 9.6 MB for 20 000).
    assert!(per_file < 32, "{per_file} bytes a file");
}
