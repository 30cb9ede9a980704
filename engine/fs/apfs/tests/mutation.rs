//! Damaged APFS metadata must never crash the reader, hang it or make it
//! allocate without bound: every metadata block of dfvfs's `apfs.raw` (made
//! by macOS; testimages/external/dfvfs) — superblocks, checkpoint maps,
//! object maps, B-tree nodes, the space manager — is mutated thousands of
//! ways, then opened, walked and asked for free space. Undamaged, it lists
//! what the generating script wrote, and its free space is what The Sleuth
//! Kit's `pstat` counts.

use dredge_core::{Extent, FileSystem, ImageSource, RunData, VolumeReader};
use dredge_fs_apfs::{probe, ApfsFs};
use dredge_testkit::MemSource;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn image() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../testimages/external/dfvfs/apfs.raw.gz");
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn open(img: Vec<u8>) -> Option<(ApfsFs, u64)> {
    let len = img.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(MemSource(img));
    let vol = VolumeReader::new(src, Extent::new(0, len));
    let _ = probe(&vol);
    ApfsFs::open(vol).ok().map(|fs| (fs, len))
}

/// Paths listed, and the image runs of every file.
fn run_case(img: Vec<u8>) -> (Vec<String>, Vec<Extent>, Vec<Extent>) {
    let Some((fs, len)) = open(img) else {
        return Default::default();
    };
    let mut findings = Vec::new();
    let (mut paths, mut used) = (Vec::new(), Vec::new());
    fs.walk(
        &mut |e| {
            let covered: u64 = e.runs.iter().map(|r| r.len).sum();
            assert!(
                covered <= e.size,
                "{}: runs {covered} > size {}",
                e.path,
                e.size
            );
            for r in &e.runs {
                if let RunData::Image(at) = r.data {
                    assert!(at + r.len <= len, "{}: run past the image", e.path);
                    if !e.deleted {
                        used.push(Extent::new(at, r.len));
                    }
                }
            }
            paths.push(e.path);
        },
        &mut findings,
    );
    let free = fs.unallocated(&mut findings);
    assert!(free.iter().all(|x| x.end() <= len));
    (paths, free, used)
}

#[test]
fn the_undamaged_image_lists_what_macos_wrote_and_the_free_space_tsk_counts() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let img = image();
    let (paths, free, used) = run_case(img.clone());
    for p in [
        "/apfs_test/a_directory/a_file",
        "/apfs_test/a_directory/a_file:myxattr",
        "/apfs_test/a_directory/another_file",
        "/apfs_test/a_directory/a_resourcefork",
        "/apfs_test/a_directory/a_resourcefork:rsrc",
        "/apfs_test/a_link",
        "/apfs_test/passwords.txt",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} not in {paths:?}");
    }
    // No file's content is in free space.
    for u in &used {
        assert!(
            free.iter().all(|f| f.intersect(u).is_none()),
            "{u:?} is free"
        );
    }
    // TSK's count of free blocks, from the same space manager.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("apfs.raw");
    std::fs::write(&p, &img).unwrap();
    let Ok(o) = Command::new("pstat").arg(&p).output() else {
        return;
    };
    let tsk: u64 = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Number of Free Blocks: ")
                .map(|n| n.trim().parse().unwrap())
        })
        .expect("pstat counts free blocks");
    let ours: u64 = free.iter().map(|x| x.len).sum::<u64>() / 4096;
    assert_eq!(ours, tsk);
}

#[test]
fn mutated_apfs_metadata_never_panics() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let base = image();
    // Every block that holds an object of a metadata type.
    let meta: Vec<u64> = (0..base.len() as u64 / 4096)
        .filter(|&n| {
            let b = &base[n as usize * 4096..];
            let t = u32::from_le_bytes(b[24..28].try_into().unwrap()) & 0xFFFF;
            matches!(t, 0x01..=0x0d | 0x10) && b[..8] != [0; 8]
        })
        .collect();
    assert!(meta.len() >= 10, "{meta:?}");
    let full = run_case(base.clone()).0.len();
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4150_4653_4d55_5431);
    let mut listed_less = 0;
    for _ in 0..cases {
        let mut img = base.clone();
        let block = meta[r.below(meta.len() as u64) as usize] as usize * 4096;
        for _ in 0..1 + r.below(6) {
            // The header and B-tree node header are where damage hurts most.
            let i = block
                + if r.below(2) == 0 {
                    r.below(64)
                } else {
                    r.below(4096)
                } as usize;
            match r.below(3) {
                0 => img[i] = r.next() as u8,
                1 => {
                    let i = i & !1;
                    img[i..i + 2].copy_from_slice(&(r.next() as u16).to_le_bytes());
                }
                _ => {
                    let i = i & !7;
                    img[i..i + 8].copy_from_slice(&r.next().to_le_bytes());
                }
            }
        }
        if run_case(img).0.len() < full {
            listed_less += 1;
        }
    }
    assert!(
        listed_less > 0 && listed_less < cases,
        "{listed_less} of {cases}"
    );
}

/// Fletcher-64 as APFS stores it (Apple File System Reference), for the test's
/// own orphaned nodes: a node whose checksum fails is never taken.
fn fletcher64(b: &[u8]) -> u64 {
    const M: u64 = 0xFFFF_FFFF;
    let (mut s1, mut s2) = (0u64, 0u64);
    for w in b[8..].chunks_exact(4) {
        s1 = (s1 + u64::from(u32::from_le_bytes(w.try_into().unwrap()))) % M;
        s2 = (s2 + s1) % M;
    }
    let c1 = M - ((s1 + s2) % M);
    let c2 = M - ((s1 + c1) % M);
    (c2 << 32) | c1
}

/// What the pass would find for the filesystem's hunt.
fn hunt(fs: &ApfsFs, img: &[u8]) -> Vec<u64> {
    fs.hunt()
        .map(|h| dredge_testkit::hunted_blocks(&h, img))
        .unwrap_or_default()
}

/// Orphaned filesystem-tree nodes come from free space, where anything may lie:
/// copies of the volume's leaf nodes, mutated and given a checksum that holds
/// (so the pass takes them), are placed in free blocks, and the reader is told
/// of them, walked, and walked for what they add alone. It never panics, and every run it
/// lists lies in the image.
#[test]
fn mutated_orphaned_nodes_never_panic() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let base = image();
    let leaves: Vec<usize> = (0..base.len() / 4096)
        .filter(|&n| {
            let b = &base[n * 4096..(n + 1) * 4096];
            u32::from_le_bytes(b[28..32].try_into().unwrap()) == 0x0e
                && u16::from_le_bytes(b[34..36].try_into().unwrap()) == 0
        })
        .collect();
    assert!(!leaves.is_empty());
    let (fs, _) = open(base.clone()).unwrap();
    let free: Vec<Extent> = fs.unallocated(&mut Vec::new());
    let slots: Vec<usize> = free
        .iter()
        .flat_map(|x| (x.start / 4096..x.end() / 4096).map(|n| n as usize))
        .take(64)
        .collect();
    assert!(slots.len() >= 8);
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4f52_5048_414e_5331);
    let (mut taken, mut gained) = (0usize, 0u64);
    for _ in 0..cases / 4 {
        let mut img = base.clone();
        for _ in 0..1 + r.below(3) {
            let from = leaves[r.below(leaves.len() as u64) as usize] * 4096;
            let to = slots[r.below(slots.len() as u64) as usize] * 4096;
            let mut node = base[from..from + 4096].to_vec();
            for _ in 0..r.below(8) {
                let i = if r.below(2) == 0 {
                    32 + r.below(64)
                } else {
                    r.below(4096)
                } as usize;
                node[i] = r.next() as u8;
            }
            let c = fletcher64(&node);
            node[..8].copy_from_slice(&c.to_le_bytes());
            img[to..to + 4096].copy_from_slice(&node);
        }
        let len = img.len() as u64;
        let found = hunt(&fs, &img);
        taken += found.len();
        let Some((fs, _)) = open(img) else { continue };
        fs.hunted(found);
        fs.walk_hunted(&mut |_| gained += 1, &mut Vec::new());
        fs.walk(
            &mut |e| {
                for r in &e.runs {
                    if let RunData::Image(at) = r.data {
                        assert!(at + r.len <= len, "{}: run past the image", e.path);
                    }
                }
            },
            &mut Vec::new(),
        );
    }
    eprintln!("{taken} orphaned nodes found, {gained} entries they added");
    assert!(taken > 0);
}
