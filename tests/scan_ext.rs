//! ext4 images written by the Linux kernel (loop mount), files deleted by it.
//! Needs root, mkfs.ext4 and loop devices; skipped without them unless
//! DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Builds an ext4 image through the kernel: `keep` files stay, `gone` are deleted.
/// Returns the image and (path -> sha256) for both sets.
fn kernel_ext4(dir: &Path) -> Option<(PathBuf, Hashes, Hashes)> {
    let img = dir.join("ext4.img");
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(48 << 20).unwrap();
    drop(f);
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -L evidence {}",
        img.display()
    )));
    if !sh(&format!(
        "mount -o loop {} {}",
        img.display(),
        mnt.display()
    )) {
        skip("cannot loop-mount (root needed)");
        return None;
    }
    let mut keep = BTreeMap::new();
    let mut gone = BTreeMap::new();
    std::fs::create_dir_all(mnt.join("case/photos")).unwrap();
    for i in 0..12u64 {
        let rel = if i % 2 == 0 {
            format!("case/photos/img_{i:03}.jpg")
        } else {
            format!("case/notes {i}.txt")
        };
        let data = noise(5000 + (i as usize * 7919) % 200_000, 100 + i);
        std::fs::write(mnt.join(&rel), &data).unwrap();
        let h = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
        if i % 4 == 1 {
            gone.insert(format!("/{rel}"), h);
        } else {
            keep.insert(format!("/{rel}"), h);
        }
    }
    assert!(sh("sync"));
    for p in gone.keys() {
        std::fs::remove_file(mnt.join(p.trim_start_matches('/'))).unwrap();
    }
    assert!(sh("sync"));
    assert!(sh(&format!("umount {}", mnt.display())));
    Some((img, keep, gone))
}

fn recover(img: &Path, map: Option<&Path>, out: &Path) -> std::process::Output {
    one_shot("recover", img, map, out, &[])
}

#[test]
fn ext4_files_deleted_by_the_kernel_come_back_with_their_names_from_the_journal() {
    if !tools(&["mkfs.ext4", "mount", "umount", "tsk_recover"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, gone)) = kernel_ext4(d.path()) else {
        return;
    };
    let witness = ReadOnlyWitness::new(&[&img]);
    let out = d.path().join("case");
    let o = recover(&img, None, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&out);
    let h = hashes(&arts);
    for (p, s) in &keep {
        assert_eq!(h.get(p), Some(s), "allocated {p}");
    }
    for (p, s) in &gone {
        let a = arts
            .iter()
            .find(|a| a["path"] == p.as_str())
            .unwrap_or_else(|| panic!("deleted {p} not listed: {h:?}"));
        assert_eq!(a["deleted"], true);
        assert_eq!(a["sha256"], s.as_str(), "deleted {p} not bit-exact: {a}");
        assert!(
            a["recovery_detail"].as_str().unwrap().contains("journal"),
            "{a}"
        );
    }
    // Everything The Sleuth Kit recovers, dredge recovers too.
    let tsk = tsk_recovered(&img, &d.path().join("tsk"));
    let ours: BTreeSet<String> = h.into_values().collect();
    assert!(
        tsk.is_subset(&ours),
        "tsk_recover found content dredge did not"
    );
    // And more: TSK gets none of the deleted files' content.
    assert!(gone.values().all(|s| !tsk.contains(s)));
    witness.assert_unchanged();
}

#[test]
fn ext4_with_its_primary_superblock_zeroed_is_read_through_a_backup() {
    if !tools(&["mkfs.ext4", "mount", "umount", "tsk_recover"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, _)) = kernel_ext4(d.path()) else {
        return;
    };
    let mut b = std::fs::read(&img).unwrap();
    b[1024..2048].fill(0);
    let broken = d.path().join("broken.img");
    std::fs::write(&broken, &b).unwrap();
    let out = d.path().join("case");
    let o = recover(&broken, None, &out);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let h = hashes(&ls_json(&out));
    for (p, s) in &keep {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM findings WHERE what LIKE '%backup superblock of group%used%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        tsk_recovered(&broken, &d.path().join("tsk")).is_empty(),
        "tsk_recover unexpectedly read the damaged volume"
    );
}

#[test]
fn bad_sectors_inside_an_ext4_file_are_reported_in_that_file_only() {
    if !tools(&["mkfs.ext4", "mount", "umount"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some((img, keep, _)) = kernel_ext4(d.path()) else {
        return;
    };
    let clean = d.path().join("clean");
    assert_eq!(recover(&img, None, &clean).status.code(), Some(0));
    let arts = ls_json(&clean);
    // Put 2 KiB of bad sectors 4 KiB into the largest kept file.
    let target = arts
        .iter()
        .filter(|a| a["kind"] == "file" && a["deleted"] == false)
        .max_by_key(|a| a["size"].as_u64().unwrap())
        .unwrap();
    let run0 = &target["runs"][0];
    let bad_at = run0["image_offset"].as_u64().unwrap() + 4096;
    let size = std::fs::metadata(&img).unwrap().len();
    let map = d.path().join("bad.map");
    write_bad_map(&map, size, &[(bad_at, 2048)]);
    let damaged = d.path().join("damaged");
    let o = recover(&img, Some(&map), &damaged);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let arts2 = ls_json(&damaged);
    for a in arts2
        .iter()
        .filter(|a| a["kind"] == "file" && a["deleted"] == false)
    {
        let p = a["path"].as_str().unwrap();
        if p == target["path"].as_str().unwrap() {
            assert_eq!(a["status"], "partial");
            assert_eq!(
                a["gaps"],
                serde_json::json!([{"file_offset": 4096, "len": 2048, "why": "map-bad-sector"}])
            );
        } else {
            assert_eq!(a["status"], "complete", "{p}");
            if let Some(s) = keep.get(p) {
                assert_eq!(a["sha256"], s.as_str(), "{p}");
            }
        }
    }
}
