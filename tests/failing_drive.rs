//! A failing drive, for real: an image served by nbdkit's ddrescue filter and mounted
//! with nbdfuse, so chosen ranges fail with EIO through the kernel. Needs nbdkit,
//! nbdfuse, GNU ddrescue and FUSE (root); skipped without them unless
//! DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use dredge_image::{read_mapfile, MapStatus};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SIZE: u64 = 24 << 20;
const PAGE: u64 = 4096;

/// Bad ranges of the simulated drive: page-aligned ones and sub-page ones, which
/// the kernel widens to the page (4 KiB) it reads through FUSE.
const BAD: [(u64, u64); 5] = [
    (1 << 20, 8192),
    ((2 << 20) + 512, 512),
    ((5 << 20) + 65536 - 4096, 12288), // across a 64 KiB read boundary
    (10 << 20, 300 << 10),
    (SIZE - 4096, 4096),
];

fn widened() -> Vec<(u64, u64)> {
    BAD.iter()
        .map(|&(s, l)| {
            let a = s / PAGE * PAGE;
            let b = (s + l).div_ceil(PAGE) * PAGE;
            (a, b - a)
        })
        .collect()
}

fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let data = noise(SIZE as usize, 7);
    let img = dir.join("original.img");
    std::fs::write(&img, &data).unwrap();
    let map = dir.join("faults.map");
    write_bad_map(&map, SIZE, &BAD);
    (img, map, data)
}

fn minus_blocks(map: &Path) -> Vec<(u64, u64)> {
    read_mapfile(map)
        .unwrap()
        .blocks
        .iter()
        .filter(|b| b.status != MapStatus::Finished)
        .map(|b| (b.pos, b.size))
        .collect()
}

#[test]
fn acquire_of_a_failing_drive_matches_gnu_ddrescue() {
    if !tools(&[
        "nbdkit",
        "nbdfuse",
        "ddrescue",
        "ddrescuelog",
        "fusermount3",
    ]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (img, faults, data) = setup(d.path());
    let witness = ReadOnlyWitness::new(&[&img, &faults]);

    let disk = FailingDisk::mount(d.path(), &img, &faults, &[]);
    let out = d.path().join("dredge.img");
    let o = run(&[
        "--progress",
        "json",
        "acquire",
        disk.file.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "exit 3 = complete with gaps; {}",
        stderr(&o)
    );
    drop(disk);

    // Image equals the original outside the bad ranges and is zero inside them.
    let got = std::fs::read(&out).unwrap();
    let bad = widened();
    let mut expect = data.clone();
    for &(s, l) in &bad {
        expect[s as usize..(s + l) as usize].fill(0);
    }
    assert!(
        got == expect,
        "image differs from the original outside the bad ranges"
    );

    // Mapfile: exactly the widened ranges are bad sectors.
    let map_path = d.path().join("dredge.img.map");
    assert_eq!(minus_blocks(&map_path), bad);
    let m = read_mapfile(&map_path).unwrap();
    assert!(m
        .blocks
        .iter()
        .all(|b| matches!(b.status, MapStatus::Finished | MapStatus::BadSector)));

    // ddrescuelog accepts it and counts the same.
    let t = Command::new("ddrescuelog")
        .arg("-t")
        .arg(&map_path)
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "ddrescuelog rejected the mapfile: {}",
        stderr(&t)
    );
    let bad_total: u64 = bad.iter().map(|b| b.1).sum();
    let list = Command::new("ddrescuelog")
        .args(["-b", "512", "-l-"])
        .arg(&map_path)
        .output()
        .unwrap();
    assert!(list.status.success());
    assert_eq!(stdout(&list).lines().count() as u64, bad_total / 512);

    // GNU ddrescue on the same device rescues the same bytes.
    let disk = FailingDisk::mount(d.path(), &img, &faults, &[]);
    let gout = d.path().join("gnu.img");
    let gmap = d.path().join("gnu.map");
    let g = Command::new("ddrescue")
        .arg("-f")
        .arg(&disk.file)
        .arg(&gout)
        .arg(&gmap)
        .output()
        .unwrap();
    assert!(g.status.success(), "ddrescue failed: {}", stderr(&g));
    drop(disk);
    assert_eq!(minus_blocks(&gmap), minus_blocks(&map_path));
    assert_eq!(
        read_mapfile(&gmap).unwrap().unrescued_bytes(SIZE),
        m.unrescued_bytes(SIZE)
    );
    // ddrescue does not extend its output over a bad tail; dredge's image always has
    // the source's size (the bad tail reads as zeros, as the mapfile says).
    let mut gnu = std::fs::read(&gout).unwrap();
    assert!(gnu.len() as u64 <= SIZE);
    gnu.resize(SIZE as usize, 0);
    assert!(gnu == got, "ddrescue's image differs from dredge's");

    // The hashes dredge printed are those of the image it wrote.
    let result = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "result")
        .expect("a JSON result line");
    assert_eq!(result["sha256"], sha256_file(&out));
    assert_eq!(result["bad_bytes"], bad_total);
    witness.assert_unchanged();
}

fn result_line(out: &str) -> serde_json::Value {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "result")
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn kill_9_mid_acquisition_then_resume_equals_an_uninterrupted_run() {
    if !tools(&["nbdkit", "nbdfuse", "fusermount3"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (img, faults, _) = setup(d.path());
    let witness = ReadOnlyWitness::new(&[&img, &faults]);

    // Reference: one uninterrupted run.
    let disk = FailingDisk::mount(d.path(), &img, &faults, &[]);
    let full = d.path().join("full.img");
    let o = run(&[
        "--progress",
        "json",
        "acquire",
        disk.file.to_str().unwrap(),
        full.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let reference = result_line(&stdout(&o));
    drop(disk);

    // A slow drive, killed with SIGKILL once part of it is on disk, several times.
    let part = d.path().join("part.img");
    let part_map = d.path().join("part.img.map");
    let mut kills = 0;
    for _ in 0..3 {
        let disk = FailingDisk::mount(d.path(), &img, &faults, &["rdelay=20ms"]);
        let mut child = dredge()
            .args(["--progress", "none", "acquire", "--map-interval", "0.05"])
            .arg(&disk.file)
            .arg(&part)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        let before = std::fs::read_to_string(&part_map).unwrap_or_default();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = std::fs::read_to_string(&part_map).unwrap_or_default();
            if now.contains("  +") && now != before && !now.contains("# Finished") {
                break;
            }
            if t.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
                break;
            }
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        drop(disk);
    }
    assert!(kills >= 1, "the acquisition was never caught in the middle");
    let m = read_mapfile(&part_map).unwrap();
    assert!(
        m.unrescued_bytes(SIZE) > widened().iter().map(|b| b.1).sum::<u64>(),
        "after the kills some of the drive should still be untried"
    );

    let disk = FailingDisk::mount(d.path(), &img, &faults, &[]);
    let o = run(&[
        "--progress",
        "json",
        "acquire",
        disk.file.to_str().unwrap(),
        part.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    drop(disk);
    let resumed = result_line(&stdout(&o));
    assert_eq!(resumed["resumed"], true);
    for k in ["md5", "sha1", "sha256", "rescued", "bad_bytes"] {
        assert_eq!(resumed[k], reference[k], "{k} differs after resume");
    }
    assert!(std::fs::read(&part).unwrap() == std::fs::read(&full).unwrap());
    let a = read_mapfile(&part_map).unwrap();
    let b = read_mapfile(&d.path().join("full.img.map")).unwrap();
    assert_eq!(a.blocks, b.blocks);
    witness.assert_unchanged();
}
