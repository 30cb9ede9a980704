//! NTFS names from the metadata journal, `$LogFile` (issue 14): the first
//! pages of two journals Windows wrote (dfir_ntfs's `LogFile_7.bin`, Windows
//! 7, log version 1.1, and `LogFile_10.bin`, Windows 10, version 2.0; see
//! testimages/external/dfir_ntfs/SOURCES.md), on each of which a file
//! `find_me.txt` was created in the root and renamed `got_renamed.txt`, put
//! into the `$LogFile` of a volume made by mkntfs (which leaves its own log
//! empty). The places come from TSK's `istat`, not from dredge. Needs mkntfs,
//! ntfs-3g, FUSE and The Sleuth Kit.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(&b[at..at + n]);
    u64::from_le_bytes(v)
}

fn sample(name: &str) -> Vec<u8> {
    gunzip(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testimages/external/dfir_ntfs")
            .join(name),
    )
}

/// Writes `log` over the start of the `$LogFile` of the NTFS at `img`,
/// cluster by cluster where TSK's `istat` places it.
fn put_log(img: &Path, log: &[u8]) {
    let fsstat = Command::new("fsstat").arg(img).output().unwrap();
    let cs: usize = String::from_utf8_lossy(&fsstat.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Cluster Size: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let istat = Command::new("istat").arg(img).arg("2").output().unwrap();
    let text = String::from_utf8_lossy(&istat.stdout).into_owned();
    let clusters: Vec<usize> = text
        .split("Type: $DATA")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .flat_map(|l| l.split_whitespace().map(|c| c.parse::<usize>().unwrap()))
        .collect();
    assert!(clusters.len() * cs >= log.len(), "$LogFile too small");
    let mut b = std::fs::read(img).unwrap();
    for (i, piece) in log.chunks(cs).enumerate() {
        let at = clusters[i] * cs;
        b[at..at + piece.len()].copy_from_slice(piece);
    }
    std::fs::write(img, b).unwrap();
}

/// Rewrites the MFT reference `from` of every index entry the log's record
/// pages hold for one of `names` to `to`, each page's update sequence kept
/// (undone around the change); how many were rewritten.
fn rereference(log: &mut [u8], names: &[&str], from: u64, to: u64) -> usize {
    let mut n = 0;
    for page in log.chunks_mut(4096).skip(2) {
        if &page[0..4] != b"RCRD" {
            continue;
        }
        let (usa, count) = (le(page, 4, 2) as usize, le(page, 6, 2) as usize);
        let usn = [page[usa], page[usa + 1]];
        for i in 1..count {
            let (e, o) = (i * 512, usa + 2 * i);
            assert_eq!(page[e - 2..e], usn);
            page.copy_within(o..o + 2, e - 2);
        }
        for name in names {
            let u: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            let mut p = 82;
            while p + u.len() <= page.len() {
                let key = p - 66;
                if page[p..p + u.len()] == u[..]
                    && page[key + 64] as usize * 2 == u.len()
                    && le(page, key - 16, 8) == from
                {
                    page[key - 16..key - 8].copy_from_slice(&to.to_le_bytes());
                    n += 1;
                }
                p += 2;
            }
        }
        for i in 1..count {
            let (e, o) = (i * 512, usa + 2 * i);
            page.copy_within(e - 2..e, o);
            page[e - 2..e].copy_from_slice(&usn);
        }
    }
    n
}

fn volume(dir: &Path, files: &[&str]) -> Option<std::path::PathBuf> {
    let img = dir.join("ntfs.img");
    let mnt = dir.join("mnt");
    if !ntfs_mounted(&img, &mnt, 32 << 20) {
        return None;
    }
    for f in files {
        std::fs::write(mnt.join(f), b"hello\n").unwrap();
    }
    assert!(sh(&format!("umount {}", mnt.display())));
    Some(img)
}

fn from_log(arts: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    arts.iter()
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("$LogFile (LSN"))
        })
        .collect()
}

fn detail<'a>(log: &'a [&serde_json::Value], path: &str) -> &'a str {
    log.iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("{path} not listed from $LogFile: {log:#?}"))["recovery_detail"]
        .as_str()
        .unwrap()
}

#[test]
fn a_renamed_files_old_name_comes_back_from_the_log() {
    if !tools(&["mkntfs", "ntfs-3g", "istat", "fsstat", "fls", "ifind"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // The renamed file is on the volume: ntfs-3g gives it record 64,
    // sequence 1; the log's entries for it are moved from Windows's record
    // 43 to 64.
    let Some(img) = volume(d.path(), &["got_renamed.txt"]) else {
        return;
    };
    let o = Command::new("ifind")
        .args(["-n", "/got_renamed.txt", img.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "64");
    let mut log = sample("LogFile_10.bin.gz");
    let moved = rereference(
        &mut log,
        &["find_me.txt", "got_renamed.txt"],
        43 | 1 << 48,
        64 | 1 << 48,
    );
    // find_me.txt added and removed, got_renamed.txt added (a record may
    // be in the log twice: Windows rewrites the page it was writing).
    assert!(moved >= 3, "{moved}");
    put_log(&img, &log);
    let arts = one_shot_ls("recover", &img, None, &d.path().join("case"), 0, &[]);
    let log = from_log(&arts);
    let old: Vec<&str> = log
        .iter()
        .filter(|a| a["path"] == "/find_me.txt")
        .map(|a| a["recovery_detail"].as_str().unwrap())
        .collect();
    // From the index entries, moved to record 64: the renamed file's
    // earlier name.
    let renamed = old
        .iter()
        .find(|s| s.contains("MFT record 64 (sequence 1), parent record 5"))
        .unwrap_or_else(|| panic!("{old:#?}"));
    assert!(
        renamed.contains("added to and removed from its folder's index"),
        "{renamed}"
    );
    assert!(
        renamed.contains("an earlier name of that record"),
        "{renamed}"
    );
    // The MFT record image Windows logged when it made the file still
    // names Windows's record 43 (the test moved only index entries).
    let made = old
        .iter()
        .find(|s| s.contains("MFT record 43 (sequence 1)"))
        .unwrap_or_else(|| panic!("{old:#?}"));
    assert!(made.contains("its MFT record made with it"), "{made}");
    assert!(!made.contains("folder's index"), "{made}");
    assert_eq!(old.len(), 2, "{old:#?}");
    // The present name is the MFT's, listed once, with its content.
    let now: Vec<_> = arts
        .iter()
        .filter(|a| a["path"] == "/got_renamed.txt")
        .collect();
    assert_eq!(now.len(), 1, "{now:#?}");
    assert_eq!(now[0]["deleted"], false);
    let a = log.iter().find(|a| a["path"] == "/find_me.txt").unwrap();
    assert_eq!(a["deleted"], true);
    assert!(
        a["times"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["source"] == "ntfs.logfile.created"),
        "{a}"
    );
    // TSK's fls lists nothing by the old name.
    let fls = Command::new("fls")
        .args(["-r", "-p", img.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&fls.stdout).contains("find_me"));
}

#[test]
fn names_of_a_windows_7_log_under_the_folders_the_log_names() {
    if !tools(&["mkntfs", "ntfs-3g", "istat", "fsstat"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let Some(img) = volume(d.path(), &[]) else {
        return;
    };
    put_log(&img, &sample("LogFile_7.bin.gz"));
    let arts = one_shot_ls("recover", &img, None, &d.path().join("case"), 0, &[]);
    let log = from_log(&arts);
    // The file's record (40) is not on this volume: both names of it are
    // listed, each from the records that name it.
    for p in ["/find_me.txt", "/got_renamed.txt"] {
        let s = detail(&log, p);
        assert!(
            s.contains("MFT record 40 (sequence 1), parent record 5"),
            "{s}"
        );
    }
    // A folder the MFT does not hold (System Volume Information, record 35)
    // is placed by the log's own name for it, and a DOS name goes with its
    // long name as its other name.
    let tmp = log
        .iter()
        .find(|a| a["path"] == "/System Volume Information/tracking.log.tmp")
        .unwrap_or_else(|| panic!("{log:#?}"));
    assert_eq!(
        tmp["other_names"],
        serde_json::json!(["/System Volume Information/TRACKI~1.TMP"])
    );
    assert!(!log
        .iter()
        .any(|a| a["path"].as_str().unwrap().contains("~1")));
    // Names the MFT holds are not listed again: $Secure (record 9) is the
    // MFT's; the name record 9 had before, $Quota, is the log's.
    assert_eq!(arts.iter().filter(|a| a["path"] == "/$Secure").count(), 1);
    assert!(detail(&log, "/$Quota").contains("an earlier name of that record"));
    // Ids and paths are unique.
    let ids: std::collections::BTreeSet<_> = log.iter().map(|a| a["id"].to_string()).collect();
    assert_eq!(ids.len(), log.len());
}
