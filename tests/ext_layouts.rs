//! ext4 layouts `mkfs.ext4` makes on request that the default leaves out:
//! meta_bg (each block of group descriptors in its own meta-group's first
//! groups, as resize2fs leaves a filesystem grown past its reserved descriptor
//! blocks) and bigalloc (blocks allocated in clusters). Before, dredge saw
//! neither filesystem at all. Needs mkfs.ext4, debugfs and dumpe2fs; skipped
//! without them unless DREDGE_REQUIRE_TOOLS=1.

mod common;

use common::*;
use std::path::Path;

fn dumpe2fs(img: &Path) -> String {
    let o = std::process::Command::new("dumpe2fs")
        .arg(img)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The block dumpe2fs gives for group `g`'s descriptor copy, if it has one.
fn descriptor_at(dump: &str, g: u64) -> Option<u64> {
    let head = format!("Group {g}: ");
    let mut lines = dump.lines().skip_while(|l| !l.starts_with(&head));
    lines.next()?;
    let body = lines.next()?;
    let (_, after) = body.split_once("Group descriptor at ")?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn header_number(dump: &str, field: &str) -> u64 {
    dump.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("dumpe2fs has no {field}"))
}

fn zero_block(img: &Path, block: u64, bs: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.seek(SeekFrom::Start(block * bs)).unwrap();
    f.write_all(&vec![0u8; bs as usize]).unwrap();
}

/// Inode number of an artifact (`ev1/v0/ext4/N`).
fn inode(a: &serde_json::Value) -> u64 {
    a["id"]
        .as_str()
        .and_then(|i| i.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn meta_bg_descriptors_in_every_meta_group() {
    if !tools(&["mkfs.ext4", "dumpe2fs"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 280 folders of one file each with 16 inodes a group: the last files'
    // inodes are in groups 32 and on, whose descriptors (32 to a 1 KiB block)
    // are in the second meta-group, 256 MiB into the volume.
    let src = dir.path().join("src");
    let mut want = Hashes::new();
    for d in 0..280u64 {
        let data = noise(3000 + d as usize * 13, 500 + d);
        std::fs::create_dir_all(src.join(format!("d{d:03}"))).unwrap();
        std::fs::write(src.join(format!("d{d:03}/f.bin")), &data).unwrap();
        want.insert(format!("/d{d:03}/f.bin"), sha256(&data));
    }
    let img = dir.path().join("meta.img");
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 1024 -N 600 -O meta_bg,^resize_inode,^64bit -d {} {} 300M",
        src.display(),
        img.display()
    )));
    let dump = dumpe2fs(&img);
    let ipg = header_number(&dump, "Inodes per group:");
    let second = descriptor_at(&dump, 32).expect("meta-group 1's descriptor block");
    let backup = descriptor_at(&dump, 33).expect("its backup in group 33");
    assert!(second > 256 * 1024, "descriptors not spread: {second}");

    let arts = one_shot_ls("recover", &img, None, &dir.path().join("whole"), 0, &[]);
    let got = hashes(&arts);
    for (p, h) in &want {
        assert_eq!(got.get(p), Some(h), "{p}");
    }
    let late: Vec<&serde_json::Value> = arts
        .iter()
        .filter(|a| a["kind"] == "file" && inode(a) > 32 * ipg)
        .collect();
    assert!(
        late.len() > 20,
        "too few files past group 32: {}",
        late.len()
    );
    if tools(&["tsk_recover"]) {
        let theirs = tsk_recovered(&img, &dir.path().join("tsk"));
        let ours: std::collections::BTreeSet<_> = got.values().cloned().collect();
        assert!(
            theirs.is_subset(&ours),
            "tsk_recover found files dredge did not"
        );
    }

    // The meta-group's own copy destroyed: its first backup serves.
    let one = dir.path().join("one.img");
    std::fs::copy(&img, &one).unwrap();
    zero_block(&one, second, 1024);
    let out = dir.path().join("one");
    let arts = one_shot_ls("recover", &one, None, &out, 0, &[]);
    assert_eq!(hashes(&arts), got);
    let f = findings(&out);
    assert!(f.iter().any(|l| l.contains("taken from the copy")), "{f:?}");

    // Every copy of it destroyed: groups 32 and on are lost, nothing else.
    let both = dir.path().join("both.img");
    std::fs::copy(&one, &both).unwrap();
    zero_block(&both, backup, 1024);
    let out = dir.path().join("both");
    let arts = one_shot_ls("recover", &both, None, &out, 0, &[]);
    let left = hashes(&arts);
    for a in arts.iter().filter(|a| a["kind"] == "file") {
        assert!(inode(a) <= 32 * ipg, "{} from a lost group", a["path"]);
    }
    let early: Vec<_> = got
        .iter()
        .filter(|(p, _)| !late.iter().any(|a| a["path"] == p.as_str()))
        .filter(|(p, _)| p.ends_with("f.bin"))
        .collect();
    for (p, h) in early {
        assert_eq!(left.get(p), Some(h), "{p}");
    }
    let f = findings(&out);
    assert!(
        f.iter().any(|l| l.contains("unusable in every copy")),
        "{f:?}"
    );
}

#[test]
fn bigalloc_clusters() {
    if !tools(&["mkfs.ext4", "dumpe2fs", "debugfs"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("notes")).unwrap();
    let mut want = Hashes::new();
    for i in 0..6u64 {
        let data = noise([100, 5000, 70_000, 300_000][i as usize % 4], 900 + i);
        std::fs::write(src.join(format!("f{i}.bin")), &data).unwrap();
        want.insert(format!("/f{i}.bin"), sha256(&data));
        let text = format!("note {i}: the copy of the ledger is in the blue folder\n")
            .repeat(40 + 150 * i as usize);
        std::fs::write(src.join(format!("notes/t{i}.txt")), &text).unwrap();
        want.insert(format!("/notes/t{i}.txt"), sha256(text.as_bytes()));
    }
    let img = dir.path().join("big.img");
    // 1 KiB blocks in 16 KiB clusters: the superblock is block 1 while the
    // first data block is 0, and a group is 131 072 blocks.
    assert!(sh(&format!(
        "mkfs.ext4 -q -F -b 1024 -O bigalloc -C 16384 -d {} {} 64M",
        src.display(),
        img.display()
    )));
    for gone in ["/f2.bin", "/notes/t1.txt"] {
        assert!(sh(&format!(
            "debugfs -w -R 'rm {gone}' {} 2>/dev/null",
            img.display()
        )));
    }
    // Text written into a free cluster near the end is carved; the live text
    // files are not (a bitmap read a bit per block would free their clusters).
    let dump = dumpe2fs(&img);
    assert!(dump.contains("Cluster size:             16384"));
    let planted = "planted: the meeting moved to the harbour office at nine\n".repeat(160);
    let at = 60_000u64 * 1024;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(planted.as_bytes()).unwrap();
    }

    let out = dir.path().join("case");
    let arts = one_shot_ls("recover", &img, None, &out, 0, &[]);
    let got = hashes(&arts);
    for (p, h) in &want {
        assert_eq!(got.get(p), Some(h), "{p}");
    }
    for a in arts.iter().filter(|a| a["kind"] == "file") {
        let gone = ["/f2.bin", "/notes/t1.txt"].contains(&a["path"].as_str().unwrap());
        if !a["path"].as_str().unwrap().starts_with("/$Carved") {
            assert_eq!(a["deleted"].as_bool().unwrap(), gone, "{}", a["path"]);
        }
    }
    let carved: Vec<_> = arts
        .iter()
        .filter(|a| a["path"].as_str().unwrap().starts_with("/$Carved"))
        .collect();
    assert!(
        carved
            .iter()
            .any(|a| image_runs(a).first().map(|r| r.0) == Some(at)
                && a["sha256"] == sha256(planted.as_bytes())),
        "planted text not carved: {carved:?}"
    );
    let live: Vec<(u64, u64)> = arts
        .iter()
        .filter(|a| a["kind"] == "file" && a["deleted"] == false)
        .filter(|a| !a["path"].as_str().unwrap().starts_with("/$Carved"))
        .flat_map(image_runs)
        .collect();
    for c in &carved {
        for (s, l) in image_runs(c) {
            assert!(
                !live.iter().any(|&(ls, ll)| s < ls + ll && ls < s + l),
                "carved from a live file: {}",
                c["path"]
            );
        }
    }
}
