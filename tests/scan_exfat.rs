//! exFAT end to end on the committed image made by testimages/make-exfat.sh.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

#[test]
fn exfat_recover_matches_the_manifest_and_covers_tsk_recover() {
    let d = tempfile::tempdir().unwrap();
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/exfat/small.img");
    let manifest = std::fs::read_to_string(img.with_file_name("MANIFEST.txt")).unwrap();
    let witness = ReadOnlyWitness::new(&[&img]);
    let out = d.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    let mut ours = BTreeSet::new();
    for a in arts.iter().filter(|a| a["kind"] == "file") {
        let rel = a["path"].as_str().unwrap().trim_start_matches('/');
        let h = a["sha256"].as_str().unwrap();
        assert!(manifest.contains(&format!("{h}  {rel}")), "{rel}");
        ours.insert(h.to_string());
    }
    assert_eq!(ours.len(), 5, "three allocated and two deleted files");
    assert_eq!(arts.iter().filter(|a| a["deleted"] == true).count(), 2);
    if tools(&["tsk_recover"]) {
        let t = d.path().join("tsk");
        let _ = Command::new("tsk_recover")
            .arg("-e")
            .arg(&img)
            .arg(&t)
            .output();
        let mut tsk = BTreeSet::new();
        let mut stack = vec![t];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if !e.file_name().to_string_lossy().starts_with('$') {
                    tsk.insert(sha256_file(&e.path()));
                }
            }
        }
        let missing: Vec<&String> = tsk.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "tsk_recover recovered {missing:?} that dredge did not"
        );
    }
    witness.assert_unchanged();
}

/// The committed image with its root directory damaged: `whole` zeroes the
/// root's cluster (the allocation bitmap's and up-case table's entries go
/// with it), else only the entry set naming `docs` is overwritten.
fn damaged_root(dir: &Path, whole: bool) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/exfat/small.img");
    let mut b = std::fs::read(src).unwrap();
    let le32 = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let bps = 1usize << b[108];
    let cs = bps << b[109];
    let root = le32(88) * bps + (le32(96) - 2) * cs;
    if whole {
        b[root..root + cs].fill(0);
    } else {
        let docs = (0..cs / 32)
            .map(|i| root + i * 32)
            .find(|&o| b[o] == 0xC1 && b[o + 2..o + 10] == *b"d\0o\0c\0s\0")
            .expect("the docs entry set")
            - 64;
        b[docs..docs + 96].fill(0xAA);
    }
    let img = dir.join(if whole {
        "zeroed-root.img"
    } else {
        "lost-entry.img"
    });
    std::fs::write(&img, b).unwrap();
    img
}

#[test]
fn folders_whose_entries_are_lost_are_found_by_their_entry_sets() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/exfat/MANIFEST.txt"),
    )
    .unwrap();
    let want = |name: &str| {
        manifest
            .lines()
            .find(|l| l.ends_with(&format!("docs/{name}")))
            .map(|l| l[..64].to_string())
            .unwrap()
    };
    for whole in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let img = damaged_root(d.path(), whole);
        let out = d.path().join("case");
        let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
        let lost: Vec<&serde_json::Value> = arts
            .iter()
            .filter(|a| {
                a["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/$OrphanFiles/cluster-"))
            })
            .collect();
        // The folder, and its four files (two deleted) bit-exact.
        let dirs: Vec<_> = lost.iter().filter(|a| a["kind"] == "dir").collect();
        assert_eq!(dirs.len(), 1, "whole={whole}: {lost:?}");
        let folder = dirs[0]["path"].as_str().unwrap();
        for i in 0..4 {
            let n = format!("part {i}.bin");
            let a = lost
                .iter()
                .find(|a| a["path"] == format!("{folder}/{n}"))
                .unwrap_or_else(|| panic!("whole={whole}: {n} not found: {lost:?}"));
            assert_eq!(
                a["sha256"].as_str().unwrap(),
                want(&n),
                "whole={whole}: {n}"
            );
            assert_eq!(a["deleted"], i % 2 == 1, "whole={whole}: {n}");
        }
        assert_eq!(lost.len(), 5, "whole={whole}: {lost:?}");
        // The root's other file is still listed when only docs' entry is lost.
        assert_eq!(
            arts.iter().any(|a| a["path"] == "/notes.txt"),
            !whole,
            "whole={whole}"
        );
        // With the bitmap lost too, the clusters no entry reaches are carved:
        // notes.txt, whose entry was in the root, comes back as text.
        if whole {
            let notes = manifest
                .lines()
                .find(|l| l.ends_with("  notes.txt"))
                .map(|l| &l[..64])
                .unwrap();
            let carved: Vec<_> = arts
                .iter()
                .filter(|a| a["forensic_path"].as_str().unwrap().contains("/unalloc@"))
                .collect();
            assert!(
                carved.iter().any(|a| a["sha256"] == notes),
                "notes.txt not carved: {carved:?}"
            );
            // Nothing a walked entry holds is carved again.
            for a in &carved {
                assert!(
                    !(0..4).any(|i| a["sha256"] == want(&format!("part {i}.bin"))),
                    "{a}"
                );
            }
        }
        let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
        let said: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM findings WHERE what LIKE '1 folders whose own entries are lost%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(said, 1, "whole={whole}: one finding says what was done");
    }
}
