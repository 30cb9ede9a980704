//! Lost Apple volumes (issue 15): an APFS container and an HFS+ volume in an
//! image with no partition table left (a wiped GPT, a raw dump of a Mac
//! disk), between stretches of noise. The lost-partition scan knows them by
//! the container superblock (`NXSB`, block 0) and the volume header (1024
//! bytes in, or its alternate copy 1024 bytes before the end when the
//! primary is gone) and, with its block 0 wiped, by the superblock copies of
//! the container's checkpoint ring; the probes confirm, and every file comes back as it does
//! from the bare volumes. Images: dfvfs's `apfs.raw` and `hfsplus.raw` (made
//! by macOS, Apache-2.0, testimages/external/dfvfs).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::Path;

/// (path, SHA-256) of every file with content.
fn files(arts: &[serde_json::Value]) -> BTreeSet<(String, String)> {
    hashes(arts).into_iter().collect()
}

fn bare(dir: &Path, name: &str) -> (Vec<u8>, BTreeSet<(String, String)>) {
    let img = dfvfs(dir, name);
    let arts = one_shot_ls(
        "recover",
        &img,
        None,
        &dir.join(format!("bare-{name}")),
        0,
        &[],
    );
    (std::fs::read(&img).unwrap(), files(&arts))
}

#[test]
fn lost_apfs_and_hfs_volumes_are_found_by_scanning_and_read_whole() {
    if !tools(&["gzip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (apfs, want_apfs) = bare(dir.path(), "apfs.raw");
    let (hfs, want_hfs) = bare(dir.path(), "hfsplus.raw");
    assert!(want_apfs.len() >= 5 && want_hfs.len() >= 5);
    // Intact; the primaries wiped with zeros; overwritten with other bytes.
    for (round, (primary_gone, zeros)) in [(false, true), (true, true), (true, false)]
        .into_iter()
        .enumerate()
    {
        let (mut apfs, mut hfs) = (apfs.clone(), hfs.clone());
        if primary_gone && !zeros {
            hfs[1024..1536].copy_from_slice(&noise(512, 11));
            apfs[..4096].copy_from_slice(&noise(4096, 12));
        } else if primary_gone {
            // The primary volume header destroyed: the alternate one, 1024
            // bytes before the volume's end, proposes where it starts.
            hfs[1024..1536].fill(0);
            // The container's block 0 wiped: the superblock copies of its
            // checkpoint ring, each right after its checkpoint map, say
            // which block they are, so where the container starts.
            apfs[..4096].fill(0);
        }
        let mut img = noise(2 << 20, 1);
        img.extend(&apfs);
        img.extend(noise(1 << 20, 2));
        img.extend(&hfs);
        img.extend(noise(1 << 20, 3));
        let path = dir.path().join(format!("lost{round}.img"));
        std::fs::write(&path, &img).unwrap();
        let case = dir.path().join(format!("case{round}"));
        let arts = one_shot_ls("recover", &path, None, &case, 0, &[]);
        let got = files(&arts);
        let missing: Vec<_> = want_apfs
            .union(&want_hfs)
            .filter(|f| !got.contains(f))
            .collect();
        assert!(missing.is_empty(), "round {round}: missing {missing:?}");
        let f = findings(&case).join("\n");
        let apfs_at = 2 << 20;
        let apfs_how = if primary_gone {
            "(checkpoint superblock copy at "
        } else {
            "(container superblock)"
        };
        assert!(
            f.contains(&format!("lost apfs volume found by scanning {apfs_how}")),
            "{f}"
        );
        // Exactly one container, where it was put, its size whole.
        let placed: Vec<&str> = f.lines().filter(|l| l.contains("lost apfs")).collect();
        assert_eq!(placed.len(), 1, "{f}");
        assert!(
            placed[0].ends_with(&format!(", {} bytes", apfs.len())),
            "{f}"
        );
        let starts = rusqlite::Connection::open(case.join("case.sqlite"))
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM findings WHERE what LIKE 'lost apfs%' AND offset = ?1",
                [apfs_at],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        assert_eq!(starts, 1, "the container found at {apfs_at}: {f}");
        let how = if primary_gone {
            "alternate volume header"
        } else {
            "volume header"
        };
        assert!(
            f.contains(&format!("lost hfs volume found by scanning ({how}")),
            "{f}"
        );
    }
}
