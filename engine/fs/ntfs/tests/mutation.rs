//! Damaged NTFS metadata must never crash the reader or make it allocate without
//! bound: the boot sector and MFT records of the public test image are mutated
//! thousands of ways (record headers, attribute headers, run lists, fixups, index
//! blocks), then the
//! volume is opened and walked, and compressed streams read (the base image has
//! none; `compressed.rs` feeds the decoder random layouts and bytes).

use dredge_core::{Extent, FileSystem, ImageSource, VolumeReader};
use dredge_fs_ntfs::{probe, NtfsFs};
use dredge_image::{MemDevice, Sectored};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The ntfs crate's public test image (shared/testdata/ntfs-crate).
fn testfs1() -> Vec<u8> {
    let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../shared/testdata/ntfs-crate/testfs1.gz");
    Command::new("gzip")
        .arg("-dc")
        .arg(gz)
        .output()
        .unwrap()
        .stdout
}

#[test]
fn mutated_ntfs_metadata_never_panics() {
    let base = testfs1();
    let cs = 512usize;
    let mft = u64::from_le_bytes(base[0x30..0x38].try_into().unwrap()) as usize * cs;
    // The first 80 records hold the system files and the test files.
    let mft_end = mft + 80 * 1024;
    // Index blocks ($I30 of the root and many_subdirs): their headers,
    // entries and slack are read for names the MFT no longer holds.
    let indx: Vec<usize> = (0..base.len() / 512)
        .map(|i| i * 512)
        .filter(|&o| base[o..].starts_with(b"INDX"))
        .collect();
    assert!(!indx.is_empty(), "the base image has index blocks");
    // DREDGE_MUTATION_SEED / DREDGE_MUTATION_CASES widen the search locally.
    let (mut r, cases) = dredge_testkit::mutation_setup(0x243F_6A88_85A3_08D3);
    let mut walked = 0;
    for _ in 0..cases {
        let mut img = base.clone();
        for _ in 0..1 + r.below(6) {
            match r.below(9) {
                7 | 8 => {
                    // An index block: header fields, entry headers, keys.
                    let b = indx[r.below(indx.len() as u64) as usize];
                    let i = b + r.below(4096.min((base.len() - b) as u64)) as usize;
                    if r.below(2) == 0 {
                        img[i] = r.next() as u8;
                    } else {
                        let i = i & !7;
                        let v = [0u64, u64::MAX, 0xFFFF, r.next()][r.below(4) as usize];
                        let end = (i + 8).min(img.len());
                        img[i..end].copy_from_slice(&v.to_le_bytes()[..end - i]);
                    }
                }
                0 => {
                    let i = 11 + r.below(70) as usize;
                    img[i] = r.next() as u8;
                }
                1 | 2 => {
                    let i = mft + r.below((mft_end - mft) as u64) as usize;
                    img[i] = r.next() as u8;
                }
                3 => {
                    // Record header fields: fixup offset/count, attribute offset, used size.
                    let rec = mft + r.below(80) as usize * 1024;
                    let f = [4usize, 6, 20, 24, 32][r.below(5) as usize];
                    let v = [0u16, 1, 0xFFFF, 0x3FF, r.next() as u16][r.below(5) as usize];
                    img[rec + f..rec + f + 2].copy_from_slice(&v.to_le_bytes());
                }
                4 => {
                    // A 64-bit field (sizes, VCNs, parent references).
                    let i = mft + (r.below(((mft_end - mft) / 8) as u64) * 8) as usize;
                    let v = [0u64, u64::MAX, 1 << 40, r.next()][r.below(4) as usize];
                    img[i..i + 8].copy_from_slice(&v.to_le_bytes());
                }
                5 => {
                    // Run-list-like bytes: big length/offset nibbles.
                    let i = mft + r.below((mft_end - mft) as u64) as usize;
                    img[i] = [0x88, 0x48, 0x11, 0x01, 0x00][r.below(5) as usize];
                }
                _ => {
                    let rec = mft + r.below(80) as usize * 1024;
                    let s = rec + r.below(2) as usize * 512;
                    img[s..s + 512].fill(0);
                }
            }
        }
        let len = img.len() as u64;
        let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img)));
        let vol = VolumeReader::new(src, Extent::new(0, len));
        if !probe(&vol) {
            continue;
        }
        let Ok(fs) = NtfsFs::open(vol) else { continue };
        let mut findings = Vec::new();
        let mut n = 0;
        fs.walk(
            &mut |e| {
                n += 1;
                let covered: u64 = e.runs.iter().map(|r| r.len).sum();
                assert!(
                    covered <= e.size,
                    "{}: runs cover {covered} > size {}: {:?}",
                    e.path,
                    e.size,
                    e.runs
                );
                // Compressed streams are decoded when read: read them (the first
                // MiBs; a damaged size can claim far more).
                for r in &e.runs {
                    if let dredge_core::RunData::Decoded(d) = &r.data {
                        let mut buf = vec![0u8; 64 << 10];
                        let mut off = 0;
                        while off < r.len.min(4 << 20) {
                            let gaps = d.0.read_at(off, &mut buf);
                            assert!(gaps
                                .iter()
                                .all(|g| g.0 >= off && g.0 + g.1 <= off + (64 << 10)));
                            off += 64 << 10;
                        }
                    }
                }
            },
            &mut findings,
        );
        let free = fs.unallocated(&mut findings);
        assert!(free.iter().all(|x| x.end() <= len));
        if n > 0 {
            walked += 1;
        }
    }
    assert!(
        walked > cases / 3,
        "only {walked} of {cases} damaged images were walked"
    );
}

/// What the pass would find for the filesystem's hunt.
fn hunt(fs: &NtfsFs, img: &[u8]) -> Vec<u64> {
    fs.hunt()
        .map(|h| dredge_testkit::hunted_blocks(&h, img))
        .unwrap_or_default()
}

/// Index blocks in free space come from anywhere: copies of the image's own
/// index blocks, mutated (header fields, entry headers, keys, parent
/// references) with their update sequence made whole again so the pass takes
/// them, are placed in free clusters; the reader is told of them and walked,
/// and walked for what they add alone. No panic, and the names they add are
/// name-only entries.
#[test]
fn mutated_index_blocks_in_free_space_never_panic() {
    let base = testfs1();
    let indx: Vec<usize> = (0..base.len() / 512)
        .map(|i| i * 512)
        .filter(|&o| base[o..].starts_with(b"INDX") && o + 4096 <= base.len())
        .collect();
    let open = |img: Vec<u8>| {
        let len = img.len() as u64;
        let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img)));
        NtfsFs::open(VolumeReader::new(src, Extent::new(0, len))).ok()
    };
    let fs = open(base.clone()).unwrap();
    // Free runs of at least a block, 512-aligned.
    let slots: Vec<usize> = fs
        .unallocated(&mut Vec::new())
        .iter()
        .filter(|x| x.len >= 4096)
        .flat_map(|x| (x.start..x.end() - 4095).step_by(4096).map(|s| s as usize))
        .take(64)
        .collect();
    assert!(!indx.is_empty() && slots.len() >= 4, "{slots:?}");
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4944_5846_5245_4531);
    let (mut taken, mut added) = (0usize, 0u64);
    for _ in 0..cases / 4 {
        let mut img = base.clone();
        for _ in 0..1 + r.below(3) {
            let from = indx[r.below(indx.len() as u64) as usize];
            let to = slots[r.below(slots.len() as u64) as usize];
            let mut b = base[from..from + 4096].to_vec();
            for _ in 0..r.below(10) {
                let i = if r.below(2) == 0 {
                    0x18 + r.below(0x30)
                } else {
                    r.below(4096)
                } as usize;
                if r.below(3) == 0 {
                    let i = (i & !7).min(4088);
                    let v = [0u64, u64::MAX, 0xFFFF, r.next()][r.below(4) as usize];
                    b[i..i + 8].copy_from_slice(&v.to_le_bytes());
                } else {
                    b[i] = r.next() as u8;
                }
            }
            // The update sequence made whole, whatever it says now.
            let off = u16::from_le_bytes([b[4], b[5]]) as usize;
            if off + 2 <= 512 {
                let usn = [b[off], b[off + 1]];
                for s in 1..=8 {
                    b[s * 512 - 2..s * 512].copy_from_slice(&usn);
                }
            }
            img[to..to + 4096].copy_from_slice(&b);
        }
        let found = hunt(&fs, &img);
        taken += found.len();
        let Some(fs) = open(img) else { continue };
        fs.hunted(found);
        fs.walk(&mut |_| {}, &mut Vec::new());
        fs.walk_hunted(
            &mut |e| {
                added += 1;
                assert!(e.runs.is_empty() && e.deleted, "{}", e.path);
            },
            &mut Vec::new(),
        );
    }
    eprintln!("{taken} index blocks found in free space, {added} names they added");
    assert!(taken > 0);
}

/// `$LogFile` pages from anywhere: a journal Windows 10 wrote (dfir_ntfs's
/// `LogFile_10.bin`, testimages/external/dfir_ntfs) put into the image's own
/// `$LogFile`, then its page headers, record headers (LSNs, lengths,
/// operations and their data's offsets), index entries and keys damaged,
/// some pages' update sequences made whole again so they are read. No
/// panic, and what the log adds are name-only entries.
#[test]
fn mutated_logfile_never_panics() {
    let mut base = testfs1();
    let gz = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../testimages/external/dfir_ntfs/LogFile_10.bin.gz");
    let log = Command::new("gzip")
        .arg("-dc")
        .arg(gz)
        .output()
        .unwrap()
        .stdout;
    let open = |img: Vec<u8>| {
        let len = img.len() as u64;
        let src: Arc<dyn ImageSource> = Arc::new(Sectored::new(MemDevice::new(img)));
        NtfsFs::open(VolumeReader::new(src, Extent::new(0, len))).ok()
    };
    // Where the image keeps its $LogFile, a run at a time.
    let mut runs = Vec::new();
    open(base.clone()).unwrap().walk(
        &mut |e| {
            if e.path == "/$LogFile" {
                runs = e.runs;
            }
        },
        &mut Vec::new(),
    );
    let mut place = Vec::new();
    for r in &runs {
        if let dredge_core::RunData::Image(x) = r.data {
            place.extend((0..r.len).map(|i| (x + i) as usize));
        }
    }
    assert!(
        place.len() >= log.len(),
        "the image's $LogFile holds the sample"
    );
    for (i, b) in log.iter().enumerate() {
        base[place[i]] = *b;
    }
    let from_log = |e: &dredge_core::Entry| e.id & (1 << 59) != 0 && e.id >> 60 == 0;
    let mut clean = 0;
    open(base.clone())
        .unwrap()
        .walk(&mut |e| clean += usize::from(from_log(&e)), &mut Vec::new());
    assert!(clean > 10, "the sample's names are read: {clean}");
    let pages: Vec<usize> = (2..log.len() / 4096).map(|p| p * 4096).collect();
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4C4F_4746_494C_4531);
    let mut read = 0;
    for _ in 0..cases / 4 {
        let mut img = base.clone();
        let mut touched = Vec::new();
        for _ in 0..1 + r.below(8) {
            let page = pages[r.below(pages.len() as u64) as usize];
            touched.push(page);
            let i = match r.below(3) {
                0 => r.below(0x40),
                _ => 0x40 + r.below(4096 - 0x48),
            } as usize;
            if r.below(2) == 0 {
                let i = i & !1;
                let v = [0u16, 1, 0xFFFF, 0x25, 0x0E, r.next() as u16][r.below(6) as usize];
                img[place[page + i]] = v as u8;
                img[place[page + i + 1]] = (v >> 8) as u8;
            } else if r.below(2) == 0 {
                let i = i & !7;
                let v = [0u64, u64::MAX, 1 << 40, r.next()][r.below(4) as usize];
                for (k, b) in v.to_le_bytes().iter().enumerate() {
                    img[place[page + i + k]] = *b;
                }
            } else {
                img[place[page + i]] = r.next() as u8;
            }
        }
        // Most damaged pages get their update sequence whole again, as a
        // page written that way would have it.
        for page in touched {
            if r.below(4) == 0 {
                continue;
            }
            let at = |k: usize| place[page + k];
            let usa = img[at(4)] as usize | (img[at(5)] as usize) << 8;
            let count = img[at(6)] as usize | (img[at(7)] as usize) << 8;
            if usa + 2 * count > 512 || count > 9 || usa < 8 {
                continue;
            }
            for s in 1..count {
                img[at(usa + 2 * s)] = img[at(s * 512 - 2)];
                img[at(usa + 2 * s + 1)] = img[at(s * 512 - 1)];
                img[at(s * 512 - 2)] = img[at(usa)];
                img[at(s * 512 - 1)] = img[at(usa + 1)];
            }
        }
        let Some(fs) = open(img) else { continue };
        let mut names = 0;
        fs.walk(
            &mut |e| {
                if from_log(&e) {
                    names += 1;
                    assert!(e.deleted && e.runs.is_empty(), "{e:?}");
                }
            },
            &mut Vec::new(),
        );
        read += usize::from(names > 0);
    }
    assert!(read > cases / 8, "only {read} of {} logs read", cases / 4);
}
