//! Deleted HFS+ files (issue 15). `testimages/hfs-delete.py` deletes
//! `/a_directory` (a folder, two files and a file with a resource fork) from
//! dfvfs's `hfsplus.raw` (made by macOS) as macOS does: the records removed
//! from the catalog leaf with their bytes cleared, the blocks freed, and the
//! catalog nodes' before and after copies in the journal it adds. What was
//! deleted comes back from the journal, with the content the undeleted image
//! gives; The Sleuth Kit lists none of it. Then each source alone: the journal
//! wiped (nothing comes back), the old leaf left in a free catalog node (it
//! comes back from there), the live leaf destroyed (every file comes back
//! from the journal, with a finding that says they may not be deleted), and
//! a freed block taken again (overwritten).

mod common;

use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};

fn delete(dir: &Path, img: &Path, paths: &[&str]) -> PathBuf {
    delete_with(dir, img, paths, &[])
}

fn delete_with(dir: &Path, img: &Path, paths: &[&str], opts: &[&str]) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/hfs-delete.py");
    let out = dir.join("deleted.raw");
    let o = std::process::Command::new("python3")
        .arg(script)
        .args(opts)
        .arg(img)
        .arg(&out)
        .args(paths)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// The volume's block size and its journal's offset and length, from the
/// journal info block the volume header names.
fn journal_place(b: &[u8]) -> (usize, usize, usize) {
    let bs = be32(b, 1024 + 40) as usize;
    let jib = be32(b, 1024 + 12) as usize * bs;
    let word = |at: usize| u64::from_be_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    (bs, word(jib + 36), word(jib + 44))
}

fn recover(dir: &Path, img: &Path, name: &str) -> Vec<serde_json::Value> {
    one_shot_ls("recover", img, None, &dir.join(name), 0, &[])
}

fn by<'a>(arts: &'a [serde_json::Value], p: &str) -> Option<&'a serde_json::Value> {
    arts.iter().find(|a| a["path"] == p)
}

const GONE: [&str; 5] = [
    "/a_directory/a_file",
    // Its extended attribute: its record left the attributes tree with it,
    // and comes back from the tree's node copy in the journal.
    "/a_directory/a_file:myxattr",
    "/a_directory/another_file",
    "/a_directory/a_resourcefork",
    "/a_directory/a_resourcefork:rsrc",
];

#[test]
fn files_deleted_on_a_journaled_volume_come_back_from_the_journal() {
    if !tools(&["gzip", "python3", "fls"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let orig = dfvfs(dir.path(), "hfsplus.raw");
    let before = recover(dir.path(), &orig, "before");
    let img = delete(dir.path(), &orig, &["/a_directory"]);
    let after = recover(dir.path(), &img, "after");

    for p in GONE {
        let (b, a) = (by(&before, p).unwrap(), by(&after, p).unwrap());
        assert_eq!(a["deleted"], true, "{p}");
        assert_eq!(a["recovery"], "deleted-intact", "{p}");
        assert_eq!(a["status"], "complete", "{p}");
        for k in ["sha256", "size", "times", "kind"] {
            assert_eq!(a[k], b[k], "{p} {k}");
        }
    }
    let folder = by(&after, "/a_directory").unwrap();
    assert_eq!(
        (&folder["deleted"], &folder["kind"]),
        (&true.into(), &"dir".into())
    );
    // Everything live is as it was, and nothing else is called deleted.
    let deleted: Vec<&str> = after
        .iter()
        .filter(|a| a["deleted"] == true)
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    assert_eq!(deleted.len(), 6, "{deleted:?}");
    for a in &before {
        let p = a["path"].as_str().unwrap();
        if !p.starts_with("/a_directory") && !p.starts_with("/$") {
            let x = by(&after, p).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(
                (&x["deleted"], &x["sha256"]),
                (&false.into(), &a["sha256"]),
                "{p}"
            );
        }
    }
    // The Sleuth Kit, on the same image, lists none of them.
    let fls = std::process::Command::new("fls")
        .args(["-r", "-p", "-d"])
        .arg(&img)
        .output()
        .unwrap();
    let fls = String::from_utf8_lossy(&fls.stdout);
    assert!(!fls.contains("a_file"), "{fls}");
    eprintln!(
        "deleted files listed: dredge {}, fls -d {}",
        deleted.len(),
        fls.lines().count()
    );

    // The journal wiped: nothing is left to find.
    let mut b = std::fs::read(&img).unwrap();
    let (bs, off, len) = journal_place(&b);
    let journal = b[off..off + len].to_vec();
    b[off..off + len].fill(0);
    let wiped = dir.path().join("wiped.raw");
    std::fs::write(&wiped, &b).unwrap();
    let none = recover(dir.path(), &wiped, "wiped");
    assert!(none.iter().all(|a| a["deleted"] == false));

    // The old leaf (the journal's first node copy, 4 KiB after its 4 KiB
    // block list header) left in a free node of the catalog: found there.
    let cat = be32(&b, 1024 + 272 + 16) as usize * bs;
    let node = usize::from(u16::from_be_bytes([b[cat + 32], b[cat + 33]]));
    let leaf = find_leaf(&journal, node);
    b[cat + 2 * node..cat + 3 * node].copy_from_slice(&leaf);
    let freed = dir.path().join("freed.raw");
    std::fs::write(&freed, &b).unwrap();
    let back = recover(dir.path(), &freed, "freed");
    // The attribute's record was only in the journal, wiped here.
    assert!(by(&back, GONE[1]).is_none());
    for p in GONE.iter().filter(|p| **p != GONE[1]) {
        let a = by(&back, p).unwrap_or_else(|| panic!("{p}"));
        assert_eq!(a["sha256"], by(&before, p).unwrap()["sha256"], "{p}");
    }
    // The attributes tree's leaf as it was, left in a node that tree let go
    // (its last): the attribute comes back from there too.
    let o = std::fs::read(&orig).unwrap();
    let attrs = be32(&o, 1024 + 352 + 16) as usize * bs;
    let anode = usize::from(u16::from_be_bytes([o[attrs + 32], o[attrs + 33]]));
    let first_leaf = be32(&o, attrs + 24) as usize;
    let last = be32(&o, attrs + 36) as usize - 1;
    assert!(last > first_leaf, "no free node in the attributes file");
    let leaf = o[attrs + first_leaf * anode..attrs + (first_leaf + 1) * anode].to_vec();
    b[attrs + last * anode..attrs + (last + 1) * anode].copy_from_slice(&leaf);
    let freed2 = dir.path().join("freed-attrs.raw");
    std::fs::write(&freed2, &b).unwrap();
    let back = recover(dir.path(), &freed2, "freed-attrs");
    for p in GONE {
        let a = by(&back, p).unwrap_or_else(|| panic!("{p}"));
        assert_eq!(a["sha256"], by(&before, p).unwrap()["sha256"], "{p}");
    }

    // The live catalog leaf destroyed: every file comes back from the
    // journal's copies, with a finding that they may not be deleted.
    let mut b = std::fs::read(&img).unwrap();
    b[cat + node..cat + 2 * node].fill(0);
    let noleaf = dir.path().join("noleaf.raw");
    std::fs::write(&noleaf, &b).unwrap();
    let case = dir.path().join("noleaf");
    let arts = one_shot_ls("recover", &noleaf, None, &case, 0, &[]);
    for a in &before {
        let p = a["path"].as_str().unwrap();
        if !p.starts_with("/$") && a["kind"] == "file" {
            let x = by(&arts, p).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(x["sha256"], a["sha256"], "{p}");
        }
    }
    assert!(
        findings(&case)
            .iter()
            .any(|f| f.contains("may be files that are not deleted")),
        "{:?}",
        findings(&case)
    );

    // One freed block taken again: that file is overwritten, not intact.
    let run = &by(&after, "/a_directory/a_file").unwrap()["runs"][0];
    let block = run["image_offset"].as_u64().unwrap() as usize / bs;
    let mut b = std::fs::read(&img).unwrap();
    let bitmap = be32(&b, 1024 + 112 + 16) as usize * bs;
    b[bitmap + block / 8] |= 0x80 >> (block % 8);
    let reused = dir.path().join("reused.raw");
    std::fs::write(&reused, &b).unwrap();
    let arts = recover(dir.path(), &reused, "reused");
    let a = by(&arts, "/a_directory/a_file").unwrap();
    assert_eq!(a["recovery"], "deleted-overwritten");
    assert_eq!(
        by(&arts, "/a_directory/another_file").unwrap()["recovery"],
        "deleted-intact"
    );
}

/// The first catalog leaf node copy in the journal (kind -1, height 1).
fn find_leaf(journal: &[u8], node: usize) -> Vec<u8> {
    (0..journal.len() - node)
        .step_by(512)
        .map(|p| &journal[p..p + node])
        .find(|n| n[8] == 0xFF && n[9] == 1 && n[10..12] != [0, 0])
        .expect("a leaf node copy in the journal")
        .to_vec()
}

/// The journal's circular buffer wrapped inside the node copy that holds the
/// deleted records (`hfs-delete.py --wrap`: its first half is the buffer's
/// last bytes, the rest follows the journal header). The records come back
/// from the two halves read as one, with the content of the undeleted image.
#[test]
fn a_node_copy_that_wraps_around_the_journal_end_is_read_across_the_seam() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let orig = dfvfs(dir.path(), "hfsplus.raw");
    let before = recover(dir.path(), &orig, "before");
    let img = delete_with(dir.path(), &orig, &["/a_directory"], &["--wrap"]);
    // The copy is cut: the deleted file's name (its record's key, its thread
    // record) is in the buffer's last node and after the header, nowhere else.
    let b = std::fs::read(&img).unwrap();
    let (_, off, len) = journal_place(&b);
    let name: Vec<u8> = "another_file"
        .encode_utf16()
        .flat_map(|u| u.to_be_bytes())
        .collect();
    let at: Vec<usize> = b[off..off + len]
        .windows(name.len())
        .enumerate()
        .filter(|(_, w)| *w == name.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert!(
        at.iter().any(|&i| i >= len - 4096)
            && at.iter().any(|&i| i < 512 + 4096)
            && at.iter().all(|&i| i >= len - 4096 || i < 512 + 4096),
        "the script did not cut the copy across the end: {at:?}"
    );
    let after = recover(dir.path(), &img, "after");
    for p in GONE {
        let a = by(&after, p).unwrap_or_else(|| panic!("{p} not found"));
        assert_eq!(a["deleted"], true, "{p}");
        assert_eq!(a["sha256"], by(&before, p).unwrap()["sha256"], "{p}");
    }
}

/// A decmpfs-compressed file deleted: its `com.apple.decmpfs` attribute left
/// the attributes tree with it, and comes back from the tree's node copy in
/// the journal, so the file is decoded (inline, and in 64 KiB chunks in the
/// resource fork, zlib and LZFSE) to the content stored, not left as its
/// empty data fork.
#[test]
fn a_deleted_compressed_file_is_decoded_with_its_attribute_from_the_journal() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let orig = dfvfs(dir.path(), "hfsplus.raw");
    let big = compressible();
    for how in [("inline", "zlib"), ("fork", "zlib"), ("fork", "lzfse")] {
        if how.1 == "lzfse" && !python_module("lzfse") {
            continue;
        }
        // An inline value must fit in the attributes tree's one leaf.
        let content = if how.0 == "inline" {
            &big[..3000]
        } else {
            &big[..]
        };
        let (img, _) = apple_compress("hfs", dir.path(), &orig, content, how);
        let gone = delete(dir.path(), &img, &["/passwords.txt"]);
        let name = format!("{}-{}", how.0, how.1);
        let arts = recover(dir.path(), &gone, &name);
        let a = by(&arts, "/passwords.txt").expect("the deleted file");
        assert_eq!(a["deleted"], true);
        assert_eq!(a["status"], "complete", "{how:?} {a}");
        let got = std::fs::read(
            dir.path()
                .join(&name)
                .join(a["extracted"].as_str().unwrap()),
        )
        .unwrap();
        assert!(
            got == content,
            "{how:?}: the copy is not the content stored"
        );
        let d = by(&arts, "/passwords.txt:com.apple.decmpfs").expect("its attribute");
        assert_eq!(d["deleted"], true);
    }
}

fn hardlink(dir: &Path, img: &Path, names: &[&str]) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/hfs-hardlink.py");
    let out = dir.join(format!("linked-{}.raw", names.len()));
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(img)
        .arg(&out)
        .args(names)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Hard links (`testimages/hfs-hardlink.py`, as macOS makes them: the file
/// moved to `iNode<N>` in the private folder, a link record in its place).
/// A deleted link's content is its inode's: the live inode when another link
/// is left, the deleted `iNode<N>` (from the journal) when the last link went
/// and took the inode with it. The Sleuth Kit reads the live inode (`icat`),
/// and the content is the original file's either way.
#[test]
fn a_deleted_hard_link_has_its_inode_s_content() {
    if !tools(&["gzip", "python3", "icat"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let orig = dfvfs(dir.path(), "hfsplus.raw");
    let before = recover(dir.path(), &orig, "before");
    let want = by(&before, "/passwords.txt").unwrap()["sha256"].clone();
    let inode_of = |img: &Path| {
        let icat = std::process::Command::new("icat")
            .arg(img)
            .arg("20")
            .output()
            .unwrap()
            .stdout;
        let f = dir.path().join("icat.out");
        std::fs::write(&f, icat).unwrap();
        sha256_file(&f)
    };

    // One link: deleting it deletes the inode too.
    let one = hardlink(dir.path(), &orig, &["passwords.txt"]);
    assert_eq!(json!(inode_of(&one)), want, "TSK reads another inode");
    let live = recover(dir.path(), &one, "one-live");
    let l = by(&live, "/passwords.txt").unwrap();
    assert_eq!((&l["sha256"], &l["deleted"]), (&want, &false.into()));
    let gone = delete(dir.path(), &one, &["/passwords.txt"]);
    let arts = recover(dir.path(), &gone, "one-gone");
    let a = by(&arts, "/passwords.txt").expect("the deleted link");
    assert_eq!(a["deleted"], true);
    assert_eq!(a["sha256"], want, "{a}");
    assert_eq!(a["recovery"], "deleted-intact");
    assert_eq!(a["other_names"], json!(["iNode20"]));
    let inode = arts
        .iter()
        .find(|a| {
            a["path"]
                .as_str()
                .unwrap()
                .ends_with("Private Data/iNode20")
        })
        .expect("the deleted inode");
    assert_eq!((&inode["deleted"], &inode["sha256"]), (&true.into(), &want));

    // Two links: the inode outlives the one deleted, and gives its content.
    let two = hardlink(dir.path(), &orig, &["passwords.txt", "a_link"]);
    let gone = delete(dir.path(), &two, &["/passwords.txt"]);
    assert_eq!(json!(inode_of(&gone)), want, "TSK reads another inode");
    let arts = recover(dir.path(), &gone, "two-gone");
    let a = by(&arts, "/passwords.txt").expect("the deleted link");
    assert_eq!((&a["deleted"], &a["sha256"]), (&true.into(), &want));
    assert_eq!(a["recovery"], "deleted-intact", "{a}");
    let other = by(&arts, "/a_link").unwrap();
    assert_eq!(
        (&other["deleted"], &other["sha256"]),
        (&false.into(), &want)
    );
}

/// A fragmented file deleted (`testimages/hfs-fragment.py`: 22 extents, the
/// 14 past the eighth in the extents overflow tree, which `hfs-delete.py`
/// empties as xnu's `DeallocateFork` does). Its further extents come back
/// from the overflow tree's leaf copy in the journal, so the whole content
/// does. With the journal wiped and only the old catalog leaf left (in a free
/// catalog node) the record is found but not its further extents: its first
/// eight are copied, the rest a gap; the old overflow leaf left in a node
/// that tree let go brings them back.
#[test]
fn a_deleted_fragmented_file_has_its_overflow_extents_from_the_journal() {
    if !tools(&["gzip", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let orig = dfvfs(dir.path(), "hfsplus.raw");
    let content: Vec<u8> = (0..90_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let src = dir.path().join("content.bin");
    std::fs::write(&src, &content).unwrap();
    let want = json!(sha256_file(&src));
    let frag = dir.path().join("frag.raw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/hfs-fragment.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .args([&orig, Path::new("passwords.txt"), &src, &frag])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let live = recover(dir.path(), &frag, "live");
    let l = by(&live, "/passwords.txt").unwrap();
    assert_eq!(
        (&l["sha256"], l["runs"].as_array().unwrap().len()),
        (&want, 22)
    );

    let img = delete(dir.path(), &frag, &["/passwords.txt"]);
    let after = recover(dir.path(), &img, "after");
    let a = by(&after, "/passwords.txt").expect("the deleted file");
    assert_eq!(a["deleted"], true);
    assert_eq!(a["recovery"], "deleted-intact", "{a}");
    assert_eq!(
        (&a["sha256"], a["runs"].as_array().unwrap().len()),
        (&want, 22)
    );

    // The journal wiped, the old catalog leaf in a free catalog node: the
    // record, without its further extents.
    let mut b = std::fs::read(&img).unwrap();
    let (bs, off, len) = journal_place(&b);
    let journal = b[off..off + len].to_vec();
    b[off..off + len].fill(0);
    let cat = be32(&b, 1024 + 272 + 16) as usize * bs;
    let node = usize::from(u16::from_be_bytes([b[cat + 32], b[cat + 33]]));
    let leaf = find_leaf(&journal, node);
    b[cat + 2 * node..cat + 3 * node].copy_from_slice(&leaf);
    let short = dir.path().join("short.raw");
    std::fs::write(&short, &b).unwrap();
    let o = one_shot("recover", &short, None, &dir.path().join("short"), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let arts = ls_json(&dir.path().join("short"));
    let a = by(&arts, "/passwords.txt").expect("the deleted file");
    // Its own eight extents are copied; the rest is a gap, not zeros.
    assert_eq!(
        (&a["recovery"], &a["status"]),
        (&"deleted-assumed".into(), &"partial".into()),
        "{a}"
    );
    let got = std::fs::read(
        dir.path()
            .join("short")
            .join(a["extracted"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(got[..8 * 4096], content[..8 * 4096]);
    assert_eq!(a["unreadable_bytes"], content.len() - 8 * 4096, "{a}");

    // The overflow leaf copy (key length 10 in its first record) left in a
    // node of the extents tree it let go.
    let ext = be32(&b, 1024 + 192 + 16) as usize * bs;
    let enode = usize::from(u16::from_be_bytes([b[ext + 32], b[ext + 33]]));
    let copy = (0..journal.len() - enode)
        .step_by(512)
        .map(|p| &journal[p..p + enode])
        .find(|n| n[8] == 0xFF && n[9] == 1 && n[10..12] != [0, 0] && n[14..16] == [0, 10])
        .expect("an extents leaf copy in the journal")
        .to_vec();
    b[ext + 2 * enode..ext + 3 * enode].copy_from_slice(&copy);
    let freed = dir.path().join("freed.raw");
    std::fs::write(&freed, &b).unwrap();
    let arts = recover(dir.path(), &freed, "freed");
    let a = by(&arts, "/passwords.txt").expect("the deleted file");
    assert_eq!(
        (&a["recovery"], &a["sha256"]),
        (&"deleted-intact".into(), &want),
        "{a}"
    );
}
