//! Damaged HFS+ metadata must never crash the reader, hang it or make it
//! allocate without bound: the volume header, the catalog and extents
//! B-trees, the allocation file and the attributes B-tree of dfvfs's `hfsplus.raw` (made by macOS;
//! testimages/external/dfvfs) are mutated thousands of ways, then opened,
//! walked and asked for free space. Undamaged, it lists what the generating
//! script wrote.

use dredge_core::{Extent, FileSystem, ImageSource, RunData, VolumeReader};
use dredge_fs_hfs::{probe, HfsFs};
use dredge_testkit::MemSource;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn image() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../testimages/external/dfvfs/hfsplus.raw.gz");
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn be32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_be_bytes(b[at..at + 4].try_into().unwrap()))
}

/// (start, length) in bytes of the first extent of the fork at `at` of the
/// volume header.
fn first_extent(img: &[u8], at: usize) -> (u64, u64) {
    let h = &img[1024..1536];
    let bs = be32(h, 40);
    (be32(h, at + 16) * bs, be32(h, at + 20) * bs)
}

fn run_case(img: Vec<u8>) -> Vec<String> {
    let len = img.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(MemSource(img));
    let vol = VolumeReader::new(src, Extent::new(0, len));
    // A header the probe refuses may still open from its alternate copy.
    let _ = probe(&vol);
    let Ok(fs) = HfsFs::open(vol) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    let mut paths = Vec::new();
    fs.walk(
        &mut |e| {
            let covered: u64 = e.runs.iter().map(|r| r.len).sum();
            assert!(
                covered <= e.size,
                "{}: runs {covered} > size {}",
                e.path,
                e.size
            );
            for r in &e.runs {
                if let RunData::Image(at) = r.data {
                    assert!(at.checked_add(r.len).is_some());
                }
            }
            paths.push(e.path);
        },
        &mut findings,
    );
    let free = fs.unallocated(&mut findings);
    assert!(free.iter().all(|x| x.end() <= len));
    paths
}

#[test]
fn the_undamaged_image_lists_what_macos_wrote() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let paths = run_case(image());
    for p in [
        "/a_directory/a_file",
        "/a_directory/another_file",
        "/a_directory/a_resourcefork",
        "/a_directory/a_resourcefork:rsrc",
        "/a_directory/a_file:myxattr",
        "/a_link",
        "/passwords.txt",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} not in {paths:?}");
    }
}

#[test]
fn mutated_hfs_metadata_never_panics() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let base = image();
    let regions = [
        (1024u64, 512u64),
        first_extent(&base, 192), // extents overflow file
        first_extent(&base, 272), // catalog file
        first_extent(&base, 112), // allocation file
        first_extent(&base, 352), // attributes file
    ];
    let full = run_case(base.clone()).len();
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4846_5350_4C55_5321);
    let mut listed_less = 0;
    for _ in 0..cases {
        let mut img = base.clone();
        let (at, len) = regions[r.below(regions.len() as u64) as usize];
        for _ in 0..1 + r.below(6) {
            let i = (at + r.below(len)) as usize;
            match r.below(3) {
                0 => img[i] = r.next() as u8,
                // A 16- or 32-bit field (node links, counts, offsets) wild.
                1 => {
                    let i = i & !1;
                    img[i..i + 2].copy_from_slice(&(r.next() as u16).to_be_bytes());
                }
                _ => {
                    let i = i & !3;
                    img[i..i + 4].copy_from_slice(&(r.next() as u32).to_be_bytes());
                }
            }
        }
        if run_case(img).len() < full {
            listed_less += 1;
        }
    }
    // Damage costs entries in some cases, not all.
    assert!(
        listed_less > 0 && listed_less < cases,
        "{listed_less} of {cases}"
    );
}

/// `hfsplus.raw` with `/a_directory` deleted by `testimages/hfs-delete.py`,
/// which adds a journal holding the catalog leaf as it was (`opts`: the
/// script's options); `None` without python3.
fn deleted_image(opts: &[&str]) -> Option<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = tempfile::tempdir().ok()?;
    let (src, out) = (dir.path().join("in.raw"), dir.path().join("out.raw"));
    std::fs::write(&src, image()).ok()?;
    let ok = Command::new("python3")
        .arg(root.join("testimages/hfs-delete.py"))
        .args(opts)
        .arg(&src)
        .arg(&out)
        .arg("/a_directory")
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| std::fs::read(&out).ok()).flatten()
}

/// `base` (whose `/a_directory` is deleted) read whole, then mutated in
/// `regions` (offset, length): a byte or a big-endian word at a time, one to
/// six per case.
fn mutate_deleted(base: &[u8], regions: &[(u64, u64)], seed: u64) {
    mutate_deleted_at(base, "/a_directory/a_file", regions, seed)
}

/// As [`mutate_deleted`], for a `base` whose undamaged listing has `gone`.
fn mutate_deleted_at(base: &[u8], gone: &str, regions: &[(u64, u64)], seed: u64) {
    let undamaged = run_case(base.to_vec());
    assert!(undamaged.iter().any(|p| p == gone));
    let (mut r, cases) = dredge_testkit::mutation_setup(seed);
    for _ in 0..cases {
        let mut img = base.to_vec();
        let (at, len) = regions[r.below(regions.len() as u64) as usize];
        for _ in 0..1 + r.below(6) {
            let i = (at + r.below(len)) as usize & !3;
            match r.below(2) {
                0 => img[i] = r.next() as u8,
                _ => img[i..i + 4].copy_from_slice(&(r.next() as u32).to_be_bytes()),
            }
        }
        run_case(img);
    }
}

#[test]
fn mutated_journals_and_freed_nodes_never_panic() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let Some(base) = deleted_image(&[]) else {
        return;
    };
    let h = &base[1024..1536];
    let bs = be32(h, 40);
    let jib = be32(h, 12) * bs;
    let journal = u64::from_be_bytes(
        base[jib as usize + 36..jib as usize + 44]
            .try_into()
            .unwrap(),
    );
    let (cat, cat_len) = first_extent(&base, 272);
    let regions = [
        (1024u64, 16u64),    // the attributes and the journal info block's number
        (jib, 64),           // the journal info block
        (journal, 3 * 4096), // the journal header and the first transaction
        (cat, cat_len),      // the catalog, its free nodes among it
    ];
    mutate_deleted(&base, &regions, 0x4846_534A_524E_4C21);
}

/// A journal whose node copy wraps around its end: its header (where the
/// buffer goes on), the buffer's last node and the node after the header.
#[test]
fn mutated_wrapped_journals_never_panic() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let Some(base) = deleted_image(&["--wrap"]) else {
        return;
    };
    let h = &base[1024..1536];
    let jib = (be32(h, 12) * be32(h, 40)) as usize;
    let word = |at: usize| u64::from_be_bytes(base[at..at + 8].try_into().unwrap());
    let (journal, len) = (word(jib + 36), word(jib + 44));
    let regions = [
        (journal, 64u64),
        (journal + len - 4096, 4096),
        (journal + 512, 4096),
    ];
    mutate_deleted(&base, &regions, 0x4846_5357_5241_5021);
}

/// `/passwords.txt` given 22 extents by `testimages/hfs-fragment.py` (14 in
/// the extents overflow tree), then deleted: the journal's first transaction
/// (the overflow leaf as it was among its copies) and the overflow tree,
/// its emptied leaf and free nodes among it.
#[test]
fn mutated_overflow_copies_never_panic() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = tempfile::tempdir().unwrap();
    let (src, content) = (dir.path().join("in.raw"), dir.path().join("content"));
    let (frag, out) = (dir.path().join("frag.raw"), dir.path().join("out.raw"));
    std::fs::write(&src, image()).unwrap();
    std::fs::write(&content, vec![0x5Au8; 90_000]).unwrap();
    let run = |script: &str, args: &[&Path]| {
        Command::new("python3")
            .arg(root.join("testimages").join(script))
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let name = Path::new("passwords.txt");
    if !run("hfs-fragment.py", &[&src, name, &content, &frag])
        || !run("hfs-delete.py", &[&frag, &out, Path::new("/passwords.txt")])
    {
        return;
    }
    let base = std::fs::read(&out).unwrap();
    let h = &base[1024..1536];
    let jib = (be32(h, 12) * be32(h, 40)) as usize;
    let journal = u64::from_be_bytes(base[jib + 36..jib + 44].try_into().unwrap());
    let (ext, ext_len) = first_extent(&base, 192);
    let regions = [(journal, 40 * 1024), (ext, ext_len)];
    mutate_deleted_at(&base, "/passwords.txt", &regions, 0x4846_534F_5646_4C21);
}

#[test]
fn mutated_hfs_wrappers_never_panic() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = tempfile::tempdir().unwrap();
    let (src, out) = (dir.path().join("in.raw"), dir.path().join("out.raw"));
    std::fs::write(&src, image()).unwrap();
    let made = Command::new("python3")
        .arg(root.join("testimages/hfs-wrap.py"))
        .arg(&src)
        .arg(&out)
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        return;
    }
    let base = std::fs::read(&out).unwrap();
    assert!(run_case(base.clone()).iter().any(|p| p == "/a_link"));
    // The master directory block's fields, the embedded extent among them.
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4846_5357_5241_5021);
    for _ in 0..cases {
        let mut img = base.clone();
        for _ in 0..1 + r.below(4) {
            let i = (1024 + r.below(160)) as usize & !1;
            match r.below(2) {
                0 => img[i] = r.next() as u8,
                _ => img[i..i + 2].copy_from_slice(&(r.next() as u16).to_be_bytes()),
            }
        }
        run_case(img);
    }
}
