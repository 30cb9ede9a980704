//! Damaged block bitmaps (issue 14): a bitmap overwritten with zeros, ones or
//! noise is not believed, and the free space taken from the inodes instead is
//! the free space the intact bitmap gave. Images are made by mke2fs from a
//! folder of files, some deleted by debugfs, in three layouts: ext4 with
//! metadata checksums (4 KiB blocks, flex_bg), ext4 without them, and ext2
//! (1 KiB blocks, indirect blocks). Needs mke2fs, debugfs and dumpe2fs;
//! skipped without them unless DREDGE_REQUIRE_TOOLS=1.

use dredge_core::{Extent, FileSystem, Finding};
use dredge_fs_ext::ExtFs;
use dredge_testkit::{have_tool, whole_volume, Rng};
use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// An image of `mb` MiB made by mke2fs with `opts`, holding files of many sizes
/// in a few folders, a third of them then deleted by debugfs.
fn image(dir: &Path, opts: &[&str], mb: u64) -> Vec<u8> {
    let src = dir.join("src");
    let _ = std::fs::remove_dir_all(&src);
    let mut rng = Rng::new(14);
    let mut gone = Vec::new();
    for i in 0..90u64 {
        let sub = format!("d{}", i % 4);
        std::fs::create_dir_all(src.join(&sub)).unwrap();
        // Sizes from a few bytes to 600 KiB: inline, direct, indirect, extents.
        let len = [40, 3000, 20_000, 90_000, 600_000][(i % 5) as usize] + rng.below(900) as usize;
        let rel = format!("{sub}/f{i}.bin");
        std::fs::write(src.join(&rel), rng.bytes(len)).unwrap();
        if i % 3 == 1 {
            gone.push(rel);
        }
    }
    let img = dir.join("e.img");
    let _ = std::fs::remove_file(&img);
    run(Command::new("mke2fs")
        .args(["-q", "-F"])
        .args(opts)
        .arg("-d")
        .arg(&src)
        .arg(&img)
        .arg(format!("{mb}M")));
    for rel in gone {
        run(Command::new("debugfs")
            .args(["-w", "-R", &format!("rm /{rel}")])
            .arg(&img));
    }
    std::fs::read(&img).unwrap()
}

/// Every group's block bitmap block, from dumpe2fs.
fn bitmaps(img: &[u8], dir: &Path) -> Vec<u64> {
    let p = dir.join("dump.img");
    std::fs::write(&p, img).unwrap();
    let o = Command::new("dumpe2fs").arg(&p).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Block bitmap at "))
        .map(|r| r.split(|c: char| !c.is_ascii_digit()).next().unwrap())
        .map(|n| n.parse().unwrap())
        .collect()
}

fn free_space(img: Vec<u8>) -> (Vec<Extent>, Vec<Finding>) {
    let fs = ExtFs::open(whole_volume(img)).unwrap();
    let mut findings = Vec::new();
    fs.walk(&mut |_| {}, &mut findings);
    (fs.unallocated(&mut Vec::new()), findings)
}

fn check_layout(name: &str, opts: &[&str], mb: u64, bs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let img = image(dir.path(), opts, mb);
    let maps = bitmaps(&img, dir.path());
    assert!(maps.len() >= 2, "{name}: {maps:?}");
    let (free, clean) = free_space(img.clone());
    assert!(
        clean.iter().all(|f| !f.what.contains("bitmap")),
        "{name}: an intact bitmap doubted: {clean:?}"
    );
    let total: u64 = free.iter().map(|e| e.len).sum();
    assert!(total > 0, "{name}");
    let mut rng = Rng::new(7);
    for (what, fill) in [
        ("zeros", vec![0u8; bs as usize]),
        ("ones", vec![0xFF; bs as usize]),
        ("noise", rng.bytes(bs as usize)),
    ] {
        for &blk in &maps {
            let mut bad = img.clone();
            let at = (blk * bs) as usize;
            bad[at..at + bs as usize].copy_from_slice(&fill);
            let (got, findings) = free_space(bad);
            let said = findings
                .iter()
                .filter(|f| f.what.contains("block bitmap") && f.offset == blk * bs)
                .count();
            assert_eq!(said, 1, "{name}, bitmap {blk} {what}: {findings:?}");
            assert_eq!(got, free, "{name}, bitmap {blk} overwritten with {what}");
        }
    }
}

#[test]
fn ext4_with_checksums() {
    if !have_tool("mke2fs", "-V") || !have_tool("debugfs", "-V") || !have_tool("dumpe2fs", "-V") {
        return;
    }
    check_layout("ext4", &["-t", "ext4", "-b", "4096"], 160, 4096);
}

#[test]
fn ext4_without_checksums() {
    if !have_tool("mke2fs", "-V") || !have_tool("debugfs", "-V") || !have_tool("dumpe2fs", "-V") {
        return;
    }
    check_layout(
        "ext4 -O ^metadata_csum",
        &["-t", "ext4", "-b", "1024", "-O", "^metadata_csum"],
        24,
        1024,
    );
}

#[test]
fn ext2_block_maps() {
    if !have_tool("mke2fs", "-V") || !have_tool("debugfs", "-V") || !have_tool("dumpe2fs", "-V") {
        return;
    }
    check_layout("ext2", &["-t", "ext2", "-b", "1024"], 24, 1024);
}
