//! `dredge recover` / `scan` / `ls` end to end on FAT images made by real tools.

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn recover(img: &Path, map: Option<&Path>, out: &Path, threads: &str) -> std::process::Output {
    one_shot("recover", img, map, out, &["--threads", threads])
}

#[test]
fn recover_of_the_sample_matches_its_manifest_and_locates_the_bad_sectors() {
    let d = tempfile::tempdir().unwrap();
    let img = repo("testimages/sample/usb-stick.img");
    let map = repo("testimages/sample/usb-stick.map");
    let manifest = std::fs::read_to_string(repo("testimages/sample/MANIFEST.txt")).unwrap();
    let witness = ReadOnlyWitness::new(&[&img, &map]);

    // Without the mapfile: every file, allocated and deleted, is bit-exact.
    let clean = d.path().join("clean");
    let o = recover(&img, None, &clean, "2");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&clean);
    let h = hashes(&arts);
    for (path, sha) in &h {
        assert!(
            manifest.contains(sha.as_str()),
            "{path} {sha} not in the manifest"
        );
    }
    for want in [
        "/NOTES.TXT",
        "/PHOTO.RAW",
        "/ledger/ACCOUNTS.CSV",
        "/_ELETED.TXT",
        "/secret plans.txt",
    ] {
        assert!(h.contains_key(want), "{want} missing: {h:?}");
    }
    let deleted: BTreeSet<&str> = arts
        .iter()
        .filter(|a| a["deleted"] == true)
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        BTreeSet::from(["/_ELETED.TXT", "/secret plans.txt"])
    );
    // The extracted copies are what the store says.
    for a in arts.iter().filter(|a| a["extracted"].is_string()) {
        assert_eq!(
            &sha256_file(&clean.join(a["extracted"].as_str().unwrap())),
            a["sha256"].as_str().unwrap()
        );
    }

    // With the mapfile: PHOTO.RAW is partial, with exactly the mapfile's bad range.
    let damaged = d.path().join("damaged");
    let o = recover(&img, Some(&map), &damaged, "2");
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let arts2 = ls_json(&damaged);
    let photo = arts2.iter().find(|a| a["path"] == "/PHOTO.RAW").unwrap();
    assert_eq!(photo["status"], "partial");
    assert_eq!(photo["unreadable_bytes"], 4096);
    let gap = &photo["gaps"][0];
    assert_eq!(gap["why"], "map-bad-sector");
    let run0 = &photo["runs"][0];
    let gap_image = run0["image_offset"].as_u64().unwrap() + gap["file_offset"].as_u64().unwrap()
        - run0["file_offset"].as_u64().unwrap();
    assert!(
        manifest.contains(&format!(
            "unreadable 4096 bytes at {gap_image} (inside PHOTO.RAW)"
        )),
        "gap at {gap_image}"
    );
    // Outside the gap the partial copy equals the complete one; inside it is zeros.
    let full = std::fs::read(clean.join("files/ev1/v0/PHOTO.RAW")).unwrap();
    let part = std::fs::read(damaged.join("files/ev1/v0/PHOTO.RAW")).unwrap();
    let (g0, g1) = (
        gap["file_offset"].as_u64().unwrap() as usize,
        (gap["file_offset"].as_u64().unwrap() + 4096) as usize,
    );
    assert_eq!(&part[..g0], &full[..g0]);
    assert_eq!(&part[g1..], &full[g1..]);
    assert!(part[g0..g1].iter().all(|&b| b == 0));
    // Every other file is unaffected.
    for (p, s) in hashes(&arts2) {
        if p != "/PHOTO.RAW" {
            assert_eq!(h[&p], s, "{p}");
        }
    }
    let o = run(&["verify", damaged.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    witness.assert_unchanged();
}

#[test]
fn the_same_artifacts_whatever_the_thread_count() {
    let d = tempfile::tempdir().unwrap();
    let img = repo("testimages/sample/usb-stick.img");
    let map = repo("testimages/sample/usb-stick.map");
    let mut seen: Option<Vec<Value>> = None;
    for t in ["1", "2", "4"] {
        let out = d.path().join(format!("t{t}"));
        let o = recover(&img, Some(&map), &out, t);
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        let arts = ls_json(&out);
        if let Some(prev) = &seen {
            assert_eq!(prev, &arts, "threads {t} differ");
        }
        seen = Some(arts);
    }
}

#[test]
fn dredge_recovers_at_least_what_tsk_recover_does() {
    if !tools(&["tsk_recover"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = repo("testimages/sample/usb-stick.img");
    let tsk_out = d.path().join("tsk");
    let o = Command::new("tsk_recover")
        .arg("-e")
        .arg(&img)
        .arg(&tsk_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut tsk = BTreeSet::new();
    let mut stack = vec![tsk_out.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                tsk.insert(sha256_file(&e.path()));
            }
        }
    }
    assert!(tsk.len() >= 4, "tsk_recover found {} files", tsk.len());
    let out = d.path().join("dredge");
    assert_eq!(recover(&img, None, &out, "2").status.code(), Some(0));
    let ours: BTreeSet<String> = hashes(&ls_json(&out)).into_values().collect();
    let missing: Vec<&String> = tsk.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "tsk_recover recovered content dredge did not: {missing:?}"
    );
}

fn mtools_ok() -> bool {
    tools(&["mkfs.fat", "mcopy", "mdel"])
}

/// A FAT image with many files (and some deleted) for resume tests.
fn big_fat(dir: &Path, fat32: bool) -> (PathBuf, BTreeMap<String, String>) {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("docs/deep")).unwrap();
    let mut want = BTreeMap::new();
    for i in 0..600 {
        let sub = if i % 3 == 0 { "docs/deep" } else { "docs" };
        let name = format!("{sub}/file number {i}.bin");
        let data = noise(700 + (i * 397) % 9000, i as u64);
        std::fs::write(src.join(&name), &data).unwrap();
        want.insert(
            format!("/{name}"),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data)),
        );
    }
    let img = dir.join("big.img");
    let mut mk = Command::new("mkfs.fat");
    mk.args(["-C", "-i", "12345678", "--invariant"]);
    if fat32 {
        mk.args(["-F", "32", "-s", "1"]);
    }
    let o = mk
        .arg(&img)
        .arg(if fat32 { "40000" } else { "16384" })
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-s", "-i"])
        .arg(&img)
        .arg(src.join("docs"))
        .arg("::/")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (img, want)
}

#[test]
fn a_scan_killed_at_any_point_resumes_to_the_same_result() {
    if !mtools_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (img, want) = big_fat(d.path(), false);
    let witness = ReadOnlyWitness::new(&[&img]);
    let reference = d.path().join("ref");
    let o = recover(&img, None, &reference, "2");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ref_arts = ls_json(&reference);
    let h = hashes(&ref_arts);
    for (p, s) in &want {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
    let mut caught = 0;
    for (i, delay) in [30u64, 120, 300].iter().enumerate() {
        let case = d.path().join(format!("c{i}"));
        let o = run(&["case", "new", case.to_str().unwrap(), "--examiner", "T"]);
        assert!(o.status.success());
        let o = run(&["add", case.to_str().unwrap(), img.to_str().unwrap()]);
        assert!(o.status.success());
        let mut child = dredge()
            .args([
                "--progress",
                "none",
                "scan",
                "--threads",
                "1",
                case.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        if i == 1 {
            // Ctrl-C: the session is closed as interrupted.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let st = child.wait().unwrap();
            assert!(matches!(st.code(), Some(130) | Some(0)), "{st:?}");
        } else {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Did the signal land mid-scan? Then that session is not complete.
        let show = run(&["--progress", "json", "case", "show", case.to_str().unwrap()]);
        let v: Value = serde_json::from_str(stdout(&show).trim()).unwrap();
        let last = v["sessions"].as_array().unwrap().last().unwrap().clone();
        if last["status"] != "complete" {
            caught += 1;
            assert!(
                last["status"] == "running" || last["status"] == "interrupted",
                "{last}"
            );
        }
        let o = run(&["--progress", "json", "scan", case.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        let arts = ls_json(&case);
        assert_eq!(arts, ref_arts, "after interruption at {delay} ms");
        let o = run(&["verify", case.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    }
    assert!(
        caught >= 1,
        "no interruption landed in the middle of a scan"
    );
    witness.assert_unchanged();
}

#[test]
fn fat32_with_its_primary_boot_sector_zeroed_is_read_through_the_backup() {
    if !mtools_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (img, want) = big_fat(d.path(), true);
    // Delete a few files, then destroy the primary boot sector.
    let o = Command::new("mdel")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(&img)
        .args(["::/docs/file number 1.bin", "::/docs/file number 2.bin"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[..512].fill(0);
    let broken = d.path().join("broken.img");
    std::fs::write(&broken, &bytes).unwrap();
    let out = d.path().join("case");
    let o = recover(&broken, None, &out, "2");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&out);
    let h = hashes(&arts);
    for (p, s) in &want {
        assert_eq!(h.get(p), Some(s), "{p} not recovered bit-exact");
    }
    let del: Vec<&Value> = arts.iter().filter(|a| a["deleted"] == true).collect();
    assert_eq!(del.len(), 2);
    // The store says how: the backup boot sector was used.
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM findings WHERE what LIKE '%backup boot sector (sector 6) used%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_zeroed_first_fat_is_replaced_by_the_second() {
    if !mtools_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (img, want) = big_fat(d.path(), false);
    let mut bytes = std::fs::read(&img).unwrap();
    let reserved = u16::from_le_bytes([bytes[14], bytes[15]]) as usize;
    let fat_sectors = u16::from_le_bytes([bytes[22], bytes[23]]) as usize;
    bytes[reserved * 512..(reserved + fat_sectors) * 512].fill(0);
    let broken = d.path().join("nofat1.img");
    std::fs::write(&broken, &bytes).unwrap();
    let out = d.path().join("case");
    let o = recover(&broken, None, &out, "2");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let h = hashes(&ls_json(&out));
    for (p, s) in &want {
        assert_eq!(h.get(p), Some(s), "{p}");
    }
}

#[test]
fn two_readers_accepting_one_volume_is_a_finding_and_both_are_tried() {
    let d = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(repo("testimages/sample/usb-stick.img")).unwrap();
    // NTFS's OEM id and plausible NTFS geometry in bytes FAT16 does not need
    // (OEM name, volume id, label): both probes now accept the volume.
    b[3..11].copy_from_slice(b"NTFS    ");
    b[0x28..0x30].copy_from_slice(&8191u64.to_le_bytes());
    b[0x30..0x38].copy_from_slice(&16u64.to_le_bytes());
    b[0x38..0x40].copy_from_slice(&32u64.to_le_bytes());
    b[0x40] = 0xF6;
    let img = d.path().join("both.img");
    std::fs::write(&img, &b).unwrap();
    let out = d.path().join("case");
    let o = recover(&img, None, &out, "2");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let conn = rusqlite::Connection::open(out.join("case.sqlite")).unwrap();
    let what: Vec<String> = conn
        .prepare("SELECT what FROM findings ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        what.iter()
            .any(|w| w.contains("more than one filesystem reader accepts this volume: fat, ntfs")),
        "{what:?}"
    );
    assert!(
        what.iter().any(|w| w.contains("MFT")),
        "the NTFS reader was tried and said why it failed: {what:?}"
    );
    // The FAT reader still recovered everything.
    let h = hashes(&ls_json(&out));
    assert!(
        h.contains_key("/ledger/ACCOUNTS.CSV") && h.contains_key("/secret plans.txt"),
        "{h:?}"
    );
}
