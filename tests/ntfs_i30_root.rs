//! NTFS names from the slack of a small folder's own MFT record (issue 14):
//! folders of two to five files written through ntfs-3g (their index whole
//! in `$INDEX_ROOT`), the last one or two names of each (in index order)
//! deleted, then new files taking the freed MFT records. Those names are
//! left only in the folder record's slack; they come back as name-only
//! entries with their source, every one a name this test deleted, none a
//! live name, and The Sleuth Kit's `fls` (run in the same test) lists none
//! of them. A folder grown past its record (its names moved to index
//! blocks, stale copies of live names left in the record's slack) lists no
//! live name twice. Needs mkntfs, ntfs-3g and FUSE; skipped without them
//! unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use dredge_testkit::Rng;
use std::collections::BTreeSet;

const WORDS: &[&str] = &[
    "invoice", "ledger", "passport", "contract", "photo", "minutes", "budget", "letter", "scan",
    "transfer", "account", "receipt",
];

#[test]
fn names_only_a_small_folders_record_holds_come_back_and_fls_has_none() {
    if !tools(&["mkntfs", "ntfs-3g", "fls"]) {
        return;
    }
    let seed: u64 = std::env::var("DREDGE_NTFS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut rng = Rng::new(seed);
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("ntfs.img");
    let mnt = d.path().join("mnt");
    if !ntfs_mounted(&img, &mnt, 24 << 20) {
        return;
    }
    let mut deleted = BTreeSet::new();
    let mut live = BTreeSet::new();
    let mut folders = Vec::new();
    for f in 0..8 {
        let dir = format!("case{f}");
        std::fs::create_dir(mnt.join(&dir)).unwrap();
        let mut names = BTreeSet::new();
        while names.len() < 2 + rng.below(4) as usize {
            let w = WORDS[rng.index(WORDS.len())];
            names.insert(format!("{w}_{:05}.txt", rng.below(100_000)));
        }
        for n in &names {
            std::fs::write(mnt.join(&dir).join(n), format!("{n}\n")).unwrap();
        }
        folders.push((dir, names));
    }
    // A folder grown past its record: its first names were in the root.
    std::fs::create_dir(mnt.join("grown")).unwrap();
    for i in 0..200 {
        let n = format!("grown_file_{i:03}.txt");
        std::fs::write(mnt.join("grown").join(&n), b"g\n").unwrap();
        live.insert(format!("/grown/{n}"));
    }
    assert!(sh(&format!("umount {}", mnt.display())));
    assert!(sh(&format!("ntfs-3g {} {}", img.display(), mnt.display())));
    for (dir, names) in &folders {
        // The last names in index order (NTFS collates upper-cased UTF-16;
        // these names are lower-case ASCII, so byte order is index order).
        let gone = 1 + rng.below(2.min(names.len() as u64 - 1)) as usize;
        for (i, n) in names.iter().enumerate() {
            let p = format!("/{dir}/{n}");
            if i >= names.len() - gone {
                std::fs::remove_file(mnt.join(dir).join(n)).unwrap();
                deleted.insert(p);
            } else {
                live.insert(p);
            }
        }
    }
    // New files take the freed records.
    std::fs::create_dir(mnt.join("new")).unwrap();
    for i in 0..deleted.len() + 4 {
        let n = format!("new_{i}.dat");
        std::fs::write(mnt.join("new").join(&n), b"new\n").unwrap();
        live.insert(format!("/new/{n}"));
    }
    assert!(sh(&format!("umount {}", mnt.display())));

    let out = d.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    let path = |a: &serde_json::Value| a["path"].as_str().unwrap().to_string();
    let from_root: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| {
            a["recovery_detail"]
                .as_str()
                .is_some_and(|s| s.contains("older entries of its $INDEX_ROOT"))
        })
        .collect();
    let root_names: BTreeSet<String> = from_root.iter().map(|a| path(a)).collect();
    assert_eq!(root_names.len(), from_root.len(), "a name listed twice");
    for a in &from_root {
        let p = path(a);
        assert!(deleted.contains(&p), "{p}: not a deleted name: {a}");
        assert_eq!(a["deleted"], true);
        assert_eq!(a["recovery"], "deleted-not-recoverable");
        // The copy's size is the file's (its name and a line break).
        let name = p.rsplit('/').next().unwrap();
        assert_eq!(a["size"].as_u64(), Some(name.len() as u64 + 1), "{a}");
    }
    // Every live name is listed once, from the MFT.
    let listed: Vec<String> = arts.iter().map(path).collect();
    for p in &live {
        assert_eq!(listed.iter().filter(|x| *x == p).count(), 1, "{p}");
    }
    // Every deleted name still whole somewhere in the image is listed: by the
    // MFT where its record is not reused, else only by the folder record's
    // slack. (ntfs-3g removing two entries from one root can leave neither
    // copy of a name whole.)
    let raw = std::fs::read(&img).unwrap();
    let whole = |p: &String| {
        let u: Vec<u8> = p
            .rsplit('/')
            .next()
            .unwrap()
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        raw.windows(u.len()).any(|w| w == u.as_slice())
    };
    let findable: Vec<&String> = deleted.iter().filter(|p| whole(p)).collect();
    for p in &findable {
        assert!(listed.contains(*p), "{p} lost");
    }
    assert!(
        !root_names.is_empty(),
        "no name came back from a folder record's slack"
    );
    // The Sleuth Kit, on the same image: none of those names.
    let fls = std::process::Command::new("fls")
        .args(["-r", "-p"])
        .arg(&img)
        .output()
        .unwrap();
    let fls = stdout(&fls);
    let tsk: Vec<&String> = root_names
        .iter()
        .filter(|p| fls.contains(&p[1..]))
        .collect();
    eprintln!(
        "{} names deleted, {} of them still whole in the image, {} only in folder records' slack (dredge), {} of those listed by fls",
        deleted.len(),
        findable.len(),
        root_names.len(),
        tsk.len()
    );
    assert!(tsk.is_empty(), "fls lists {tsk:?}");
}
