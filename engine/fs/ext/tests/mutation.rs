//! Damaged ext metadata must never crash the reader or make it allocate without
//! bound: superblock, group descriptors, inode tables and directory/extent blocks of
//! two public images are mutated thousands of ways, then opened and walked.

use dredge_core::{Extent, FileSystem, ImageSource, RunData, VolumeReader};
use dredge_fs_ext::{probe, ExtFs};
use dredge_image::{MemDevice, Sectored};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn gunzip(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/testdata")
        .join(rel);
    Command::new("gzip")
        .arg("-dc")
        .arg(p)
        .output()
        .unwrap()
        .stdout
}

fn run_case(img: Vec<u8>) -> usize {
    let len = img.len() as u64;
    let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img)));
    let vol = VolumeReader::new(src, Extent::new(0, len));
    if !probe(&vol) {
        return 0;
    }
    let Ok(fs) = ExtFs::open(vol) else { return 0 };
    let mut findings = Vec::new();
    let mut n = 0;
    fs.walk(
        &mut |e| {
            n += 1;
            let covered: u64 = e.runs.iter().map(|r| r.len).sum();
            assert!(
                covered <= e.size,
                "{}: runs cover {covered} > size {}",
                e.path,
                e.size
            );
            for r in &e.runs {
                if let RunData::Image(at) = r.data {
                    assert!(at.checked_add(r.len).is_some());
                }
            }
        },
        &mut findings,
    );
    let free = fs.unallocated(&mut findings);
    assert!(free.iter().all(|x| x.end() <= len));
    n
}

#[test]
fn mutated_ext_metadata_never_panics() {
    // The all-types image's partition starts at sector 1.
    let all = gunzip("ext4-rs/all-types-tiny.img.gz")[512..].to_vec();
    let ext2 = gunzip("dfvfs/ext2.raw.gz");
    // DREDGE_MUTATION_SEED / DREDGE_MUTATION_CASES widen the search locally.
    let (mut r, cases) = dredge_testkit::mutation_setup(0xD1B5_4A32_D192_ED03);
    let mut walked = 0;
    for case in 0..cases {
        let base = if case % 2 == 0 { &all } else { &ext2 };
        let mut img = base.clone();
        // Metadata lives in the first blocks of these small images: superblock,
        // descriptors, bitmaps, inode tables, root and other directory blocks.
        let meta_end = (img.len() as u64).min(160 * 1024);
        for _ in 0..1 + r.below(6) {
            match r.below(6) {
                0 => {
                    let i = 1024 + r.below(1024) as usize;
                    img[i] = r.next() as u8;
                }
                1 => {
                    // A 32-bit field anywhere in metadata set to something wild.
                    let i = (r.below(meta_end / 4) * 4) as usize;
                    let v =
                        [0u32, 1, 0xFFFF_FFFF, 0x8000_0000, r.next() as u32][r.below(5) as usize];
                    img[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                2 | 3 => {
                    let i = r.below(meta_end) as usize;
                    img[i] = r.next() as u8;
                }
                4 => {
                    // A 16-bit field (rec_len, extent counts, link counts).
                    let i = (r.below(meta_end / 2) * 2) as usize;
                    let v = [0u16, 4, 8, 0xF30A, 0xFFFF, r.next() as u16][r.below(6) as usize];
                    img[i..i + 2].copy_from_slice(&v.to_le_bytes());
                }
                _ => {
                    let s = (r.below(meta_end / 1024) * 1024) as usize;
                    img[s..s + 1024].fill(0);
                }
            }
        }
        if run_case(img) > 0 {
            walked += 1;
        }
    }
    assert!(
        walked > cases / 3,
        "only {walked} of {cases} damaged images were walked"
    );
}

/// An image `mkfs.ext4 -d` makes of a few files with extra options; `None`
/// when mkfs.ext4 is not installed (fatal with DREDGE_REQUIRE_TOOLS=1).
fn made(opts: &str, size: &str) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    for d in 0..40u64 {
        std::fs::create_dir_all(src.join(format!("d{d}"))).unwrap();
        let mut r = dredge_testkit::Rng::new(d);
        std::fs::write(
            src.join(format!("d{d}/f")),
            r.bytes(100 + (d as usize * 997) % 9000),
        )
        .unwrap();
    }
    let img = dir.path().join("img");
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mkfs.ext4 -q -F {opts} -d {} {} {size} >/dev/null 2>&1",
            src.display(),
            img.display()
        ))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("DREDGE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "mkfs.ext4 -d is required"
        );
        return None;
    }
    Some(std::fs::read(img).unwrap())
}

/// bigalloc (a bitmap bit per 16-block cluster, group 0 at block 0 with the
/// superblock in block 1) and meta_bg (descriptor blocks in their meta-group:
/// 256-block groups, so the second block of descriptors is 8 MiB in).
#[test]
fn mutated_bigalloc_and_meta_bg_never_panic() {
    let Some(big) = made("-b 1024 -O bigalloc -C 16384", "8M") else {
        return;
    };
    let Some(meta) = made(
        "-b 1024 -g 256 -N 512 -O meta_bg,^resize_inode,^64bit",
        "16M",
    ) else {
        return;
    };
    assert!(run_case(big.clone()) > 40 && run_case(meta.clone()) > 40);
    let (mut r, cases) = dredge_testkit::mutation_setup(0x6D65_7461_6267_0001);
    let mut walked = 0;
    for case in 0..cases {
        let (mut img, regions): (Vec<u8>, &[(usize, usize)]) = if case % 2 == 0 {
            (big.clone(), &[(0, 96 << 10)])
        } else {
            // Group 32 starts at block 1 + 32 × 256: its descriptor block.
            (meta.clone(), &[(0, 96 << 10), (8193 << 10, 8197 << 10)])
        };
        for _ in 0..1 + r.below(6) {
            let (a, b) = regions[r.index(regions.len())];
            let i = a + r.index(b - a - 4);
            match r.below(4) {
                0 => img[i..i + 4].copy_from_slice(
                    &[0u32, 1, 0xFFFF_FFFF, 0x8000_0000, r.next() as u32][r.index(5)].to_le_bytes(),
                ),
                1 => {
                    let s = i & !1023;
                    img[s..s + 1024].fill(0);
                }
                _ => img[i] = r.next() as u8,
            }
        }
        if run_case(img) > 0 {
            walked += 1;
        }
    }
    assert!(
        walked > cases / 3,
        "only {walked} of {cases} damaged images were walked"
    );
}
