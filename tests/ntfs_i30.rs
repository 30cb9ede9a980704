//! NTFS names from $I30 index slack (issue 14): a folder of 300 files written
//! through ntfs-3g, half of them deleted, new files taking some of their MFT
//! records, one renamed. The names only the index slack still holds come back
//! as name-only entries, each a name this test deleted or renamed away, none a
//! name the MFT still lists, with times from the index copy. Needs mkntfs,
//! ntfs-3g and FUSE; skipped without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

struct Made {
    img: PathBuf,
    deleted: BTreeSet<String>,
    renamed_from: String,
    live: BTreeSet<String>,
}

fn name(i: u32) -> String {
    format!("report_number_{i:04}_quarterly_summary.txt")
}

fn make(dir: &Path) -> Option<Made> {
    let img = dir.join("ntfs.img");
    let mnt = dir.join("mnt");
    if !ntfs_mounted(&img, &mnt, 48 << 20) {
        return None;
    }
    let mount = || sh(&format!("ntfs-3g {} {}", img.display(), mnt.display()));
    let docs = mnt.join("docs");
    std::fs::create_dir(&docs).unwrap();
    for i in 1..=300 {
        std::fs::write(docs.join(name(i)), format!("file {i}\n").repeat(i as usize)).unwrap();
    }
    // A large folder (several index levels) with every other file deleted.
    let many = mnt.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 1..=3000 {
        std::fs::File::create(many.join(i.to_string())).unwrap();
    }
    assert!(sh(&format!("umount {}", mnt.display())));
    assert!(mount());
    for i in (1..=3000).step_by(2) {
        std::fs::remove_file(many.join(i.to_string())).unwrap();
    }
    let mut deleted = BTreeSet::new();
    for i in (2..=300).step_by(2) {
        std::fs::remove_file(docs.join(name(i))).unwrap();
        deleted.insert(name(i));
    }
    // New files take freed MFT records: those deleted names survive only in
    // the index.
    let mut live: BTreeSet<String> = (1..=300).step_by(2).map(name).collect();
    for i in 0..40 {
        let n = format!("new_{i}.dat");
        std::fs::write(docs.join(&n), b"new\n").unwrap();
        live.insert(n);
    }
    let renamed_from = name(299);
    std::fs::rename(docs.join(&renamed_from), docs.join("zz_renamed.txt")).unwrap();
    live.remove(&renamed_from);
    live.insert("zz_renamed.txt".into());
    assert!(sh(&format!("umount {}", mnt.display())));
    Some(Made {
        img,
        deleted,
        renamed_from,
        live,
    })
}

#[test]
fn names_only_the_index_slack_holds_come_back_with_their_source() {
    if !tools(&["mkntfs", "ntfs-3g"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Some(m) = make(d.path()) else { return };
    let t1 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = d.path().join("case");
    let o = one_shot("recover", &m.img, None, &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let arts = ls_json(&out);
    let in_docs = |a: &&serde_json::Value| {
        a["path"]
            .as_str()
            .and_then(|p| p.strip_prefix("/docs/"))
            .is_some()
    };
    let base = |a: &serde_json::Value| a["path"].as_str().unwrap()["/docs/".len()..].to_string();
    let from_index: Vec<&serde_json::Value> = arts
        .iter()
        .filter(in_docs)
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("$I30 index slack"))
        })
        .collect();
    let from_mft: BTreeSet<String> = arts
        .iter()
        .filter(in_docs)
        .filter(|a| !from_index.iter().any(|b| std::ptr::eq(*b, *a)))
        .map(base)
        .collect();
    // The MFT lists every live name.
    for n in &m.live {
        assert!(from_mft.contains(n), "live {n} missing");
    }
    let index_names: BTreeSet<String> = from_index.iter().map(|a| base(a)).collect();
    assert_eq!(index_names.len(), from_index.len(), "a name listed twice");
    for a in &from_index {
        let n = base(a);
        // Only names this test removed, and none the MFT still lists.
        assert!(
            m.deleted.contains(&n) || n == m.renamed_from,
            "{n}: not a removed name"
        );
        assert!(!from_mft.contains(&n), "{n}: the MFT lists it already: {a}");
        assert_eq!(a["deleted"], true);
        assert_eq!(a["recovery"], "deleted-not-recoverable");
        let times = a["times"].as_array().unwrap();
        let created = times
            .iter()
            .find(|t| t["source"] == "ntfs.i30.created")
            .unwrap_or_else(|| panic!("{n}: no time from the index copy: {times:?}"));
        let utc = &created["utc"].as_str().unwrap()[..19];
        let (lo, hi) = (utc_seconds(t0 - 2), utc_seconds(t1 + 2));
        assert!(
            lo.as_str() <= utc && utc <= hi.as_str(),
            "{n}: created {utc}, not in {lo}..{hi}"
        );
        // The index copy's size is the file's, or 0 where the copy predates
        // the write.
        let i: usize = n[14..18].parse().unwrap();
        let size = a["size"].as_u64().unwrap();
        assert!(
            size == 0 || size == format!("file {i}\n").len() as u64 * i as u64,
            "{n}: size {size}"
        );
    }
    // In the large folder, only deleted (odd) names come from the slack:
    // stale copies of the names still there, whatever bytes precede them,
    // are not listed again.
    for a in arts.iter().filter(|a| {
        a["path"].as_str().unwrap().starts_with("/many/")
            && a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("$I30 index slack"))
    }) {
        let n: u32 = a["path"].as_str().unwrap()[6..].parse().unwrap();
        assert!(n % 2 == 1, "{a}");
    }
    // Deleted names whose MFT records now hold the new files: the MFT has
    // lost them; the index slack gives some of them back.
    let lost: BTreeSet<&String> = m
        .deleted
        .iter()
        .filter(|n| !from_mft.contains(*n))
        .collect();
    let back = lost.iter().filter(|n| index_names.contains(**n)).count();
    let ceiling = in_index_blocks(&m.img, &lost);
    eprintln!(
        "{} deleted names not in the MFT listing, {ceiling} of them whole somewhere in an index block; {back} from $I30 slack; renamed-away name from slack: {}",
        lost.len(),
        index_names.contains(&m.renamed_from)
    );
    assert!(
        !lost.is_empty(),
        "the new files took no deleted file's record"
    );
    assert!(back > 0, "no lost name came back from the index slack");
    // A copy can keep its name but lose the key before it (the in-use part
    // grew over it): nine in ten of those still whole, at least.
    assert!(back * 10 >= ceiling * 9, "{back} of {ceiling}");
    for a in from_index.iter().filter(|a| !m.deleted.contains(&base(a))) {
        assert!(
            a["recovery_detail"]
                .as_str()
                .unwrap()
                .contains("an earlier name of MFT record"),
            "{a}"
        );
    }
}

/// How many of `names` are whole, as UTF-16, in some 4 KiB `INDX` block of the
/// image after its fixups: what any reader of index slack could find.
fn in_index_blocks(img: &Path, names: &BTreeSet<&String>) -> usize {
    let raw = std::fs::read(img).unwrap();
    let mut blocks = Vec::new();
    for b in raw.chunks_exact(4096).filter(|b| b.starts_with(b"INDX")) {
        let mut b = b.to_vec();
        let usa = u16::from_le_bytes([b[4], b[5]]) as usize;
        let count = u16::from_le_bytes([b[6], b[7]]) as usize;
        for i in 1..count.min(9) {
            let (s, e) = (usa + 2 * i, i * 512);
            let orig = [b[s], b[s + 1]];
            b[e - 2..e].copy_from_slice(&orig);
        }
        blocks.push(b);
    }
    names
        .iter()
        .filter(|n| {
            let u: Vec<u8> = n.encode_utf16().flat_map(u16::to_le_bytes).collect();
            blocks
                .iter()
                .any(|b| b.windows(u.len()).any(|w| w == u.as_slice()))
        })
        .count()
}
