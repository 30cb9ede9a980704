//! A FAT whose root directory is destroyed (issue 14): FAT12/16 keep one root
//! directory in a fixed place, FAT32 one root cluster, and either zeroed
//! leaves every folder allocated and named by nothing. dredge finds those
//! folders by their "." entries and reads their trees under
//! `/$OrphanFiles/cluster-N`; the root's own files, whose entries are gone,
//! come back as lost chains of whole clusters. `tsk_recover -e` side by side.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A stick made by mkfs.fat and mtools: three files in the root, folders
/// `Docs` (four files and `Deep` with two) and `Photos` (five long names).
/// Returns the image and (path, content) of every file.
fn stick(dir: &Path, fat: u32, mib: u64) -> (PathBuf, Vec<(String, Vec<u8>)>) {
    let img = dir.join(format!("fat{fat}.img"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    let i = img.display();
    assert!(sh(&format!("mkfs.fat -F {fat} {i} >/dev/null")));
    assert!(sh(&format!("mmd -i {i} ::Docs ::Photos ::Docs/Deep")));
    let mut files = Vec::new();
    for n in 0..14u64 {
        // 1 000 bytes to 86 KiB: one to many clusters, never a whole number.
        let content = noise(1000 + n as usize * 6_301, 300 + n);
        let path = match n {
            0..=2 => format!("/f{n:02}.bin"),
            3..=6 => format!("/Docs/f{n:02}.bin"),
            7..=11 => format!("/Photos/long name {n:02}.bin"),
            _ => format!("/Docs/Deep/f{n:02}.bin"),
        };
        let src = dir.join(format!("src{n}"));
        std::fs::write(&src, &content).unwrap();
        assert!(sh(&format!("mcopy -i {i} {} '::{path}'", src.display())));
        files.push((path, content));
    }
    (img, files)
}

fn le(b: &[u8], at: usize, n: usize) -> usize {
    b[at..at + n]
        .iter()
        .rev()
        .fold(0, |v, &x| v << 8 | usize::from(x))
}

/// The stick with its root directory zeroed: FAT16's fixed root area, or
/// FAT32's root cluster.
fn zero_root(img: &Path) -> PathBuf {
    let mut b = std::fs::read(img).unwrap();
    let bps = le(&b, 11, 2);
    let fat_size = match le(&b, 22, 2) {
        0 => le(&b, 36, 4),
        n => n,
    };
    let first = (le(&b, 14, 2) + usize::from(b[16]) * fat_size) * bps;
    let (at, len) = match le(&b, 17, 2) {
        // FAT32: the root is a cluster chain (one cluster on this stick).
        0 => {
            let cs = bps * usize::from(b[13]);
            (first + (le(&b, 44, 4) - 2) * cs, cs)
        }
        entries => (first, entries * 32),
    };
    b[at..at + len].fill(0);
    let out = img.with_extension("noroot.img");
    std::fs::write(&out, b).unwrap();
    out
}

/// dredge recovers every folder's file bit-exact under the folder found by
/// its "." entry, with its path below that folder, and each root file's
/// clusters as a lost chain; tsk_recover, given the same image, fewer.
fn check(fat: u32, mib: u64) {
    if !tools(&["mkfs.fat", "mcopy", "mmd", "tsk_recover"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (img, files) = stick(dir.path(), fat, mib);
    let clean = hashes(&one_shot_ls(
        "recover",
        &img,
        None,
        &dir.path().join("c0"),
        0,
        &[],
    ));
    assert!(
        !clean.keys().any(|p| p.contains("$OrphanFiles")),
        "a healthy stick has no lost chains: {clean:?}"
    );
    let boot = std::fs::read(&img).unwrap();
    let cs = le(&boot, 11, 2) * usize::from(boot[13]);
    let broken = zero_root(&img);
    let case = dir.path().join("case");
    let arts = one_shot_ls("recover", &broken, None, &case, 0, &[]);
    let got = hashes(&arts);
    let mut folders = std::collections::BTreeSet::new();
    for (path, content) in &files {
        let h = sha256(content);
        if path.matches('/').count() > 1 {
            // "/Docs/Deep/f12.bin" is ".../$OrphanFiles/cluster-N/Deep/f12.bin".
            let below = path.split_once('/').unwrap().1.split_once('/').unwrap().1;
            let hit = got
                .iter()
                .find(|(p, s)| **s == h && p.ends_with(&format!("/{below}")));
            let (p, _) = hit.unwrap_or_else(|| panic!("{path} not recovered: {got:?}"));
            let top = p.split("/$OrphanFiles/").nth(1).unwrap();
            assert!(top.starts_with("cluster-"), "{p}");
            folders.insert(top.split('/').next().unwrap().to_string());
        } else {
            // A root file: its entry is gone, its chain is whole clusters
            // beginning with its bytes.
            let lost = arts.iter().any(|a| {
                a["path"]
                    .as_str()
                    .unwrap()
                    .starts_with("/$OrphanFiles/chain-")
                    && {
                        let f = std::fs::read(case.join(a["extracted"].as_str().unwrap()));
                        f.is_ok_and(|f| {
                            f.len() == content.len().div_ceil(cs) * cs && f.starts_with(content)
                        })
                    }
            });
            assert!(lost, "{path}: no lost chain holds it: {got:?}");
        }
    }
    assert_eq!(folders.len(), 2, "Docs and Photos, each once: {folders:?}");
    // A lost folder keeps the times of its own "." entry.
    for f in &folders {
        let path = format!("/$OrphanFiles/{f}");
        let a = arts.iter().find(|a| a["path"] == path.as_str()).unwrap();
        assert!(a["times"].as_array().is_some_and(|t| !t.is_empty()), "{a}");
    }
    let finds = findings(&case);
    assert!(
        finds
            .iter()
            .any(|f| f.contains("2 folders and 3 other cluster chains")),
        "{finds:?}"
    );
    // The Sleuth Kit finds nothing under a destroyed root.
    let tsk = tsk_recovered(&broken, &dir.path().join("tsk"));
    let tsk_exact = files
        .iter()
        .filter(|(_, c)| tsk.contains(&sha256(c)))
        .count();
    let ours = files
        .iter()
        .filter(|(_, c)| got.values().any(|h| *h == sha256(c)))
        .count();
    assert_eq!(ours, 11, "every file in a folder, bit-exact");
    assert!(tsk_exact < ours, "tsk_recover {tsk_exact}, dredge {ours}");
}

#[test]
fn fat16_folders_under_a_zeroed_root_directory_are_found() {
    check(16, 16);
}

#[test]
fn fat32_folders_under_a_zeroed_root_cluster_are_found() {
    check(32, 40);
}
