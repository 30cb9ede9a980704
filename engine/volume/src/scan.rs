//! Lost-partition scan: when a table is missing or damaged, filesystem boot sectors
//! and superblocks found on sector boundaries propose where volumes start. Backup
//! structures are recognised too and point back to their volume's start (NTFS's
//! backup boot sector is its last sector; FAT32's is sector 6; ext's backup
//! superblocks sit at the start of block groups; HFS+'s alternate volume header
//! is 1024 bytes before its end). APFS containers are found by their block-0
//! superblock, or by the superblock copies of their checkpoint ring, each of
//! which gives its own block. The filesystem probes confirm.

use dredge_core::bytes::{be32, le16, le32, le64};
use dredge_core::{Extent, ImageSource, SourceError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Proposed start of the volume (image offset).
    pub start: u64,
    /// Proposed length, from the structure's own size field.
    pub len: u64,
    pub fs: &'static str,
    /// Which structure proposed it, e.g. "boot sector", "backup boot sector".
    pub evidence: String,
}

/// Looks at one 512-byte sector at image offset `at`.
fn classify(s: &[u8], at: u64) -> Option<Candidate> {
    let sig = s[510] == 0x55 && s[511] == 0xAA;
    if sig && &s[3..11] == b"NTFS    " {
        let bps = le16(s, 11);
        let total = le64(s, 0x28);
        if !matches!(bps, 512 | 1024 | 2048 | 4096) || total == 0 {
            return None;
        }
        let len = total.saturating_add(1).saturating_mul(bps);
        // A boot sector at the start, or the backup copy in the volume's last sector.
        return Some(Candidate {
            start: at,
            len,
            fs: "ntfs",
            evidence: "boot sector".into(),
        });
    }
    if sig && &s[3..11] == b"EXFAT   " {
        let shift = s[108];
        if !(9..=12).contains(&shift) {
            return None;
        }
        return Some(Candidate {
            start: at,
            len: le64(s, 72).saturating_mul(1 << shift),
            fs: "exfat",
            evidence: "boot sector".into(),
        });
    }
    if sig && (s[0] == 0xEB || s[0] == 0xE9) {
        let fat32 = &s[82..87] == b"FAT32";
        let fat1x = &s[54..59] == b"FAT12" || &s[54..59] == b"FAT16";
        let bps = le16(s, 11);
        if (fat32 || fat1x) && matches!(bps, 512 | 1024 | 2048 | 4096) && s[13].is_power_of_two() {
            let total: u64 = if le16::<u64>(s, 19) != 0 {
                le16(s, 19)
            } else {
                le32(s, 32)
            };
            return Some(Candidate {
                start: at,
                len: total.saturating_mul(bps),
                fs: if fat32 { "fat32" } else { "fat" },
                evidence: "boot sector".into(),
            });
        }
    }
    classify_apple(s, at)
}

/// Apple's: an APFS container superblock (`NXSB`, the container's block 0,
/// whose size it gives as block size × block count), and an HFS+/HFSX volume
/// header, 1024 bytes into its volume (block size and total blocks, big-endian).
/// The header's alternate copy sits 1024 bytes before the volume's end and
/// proposes the start that size puts it at.
fn classify_apple(s: &[u8], at: u64) -> Option<Candidate> {
    if &s[32..36] == b"NXSB" && le32::<u32>(s, 24) & 0xFFFF == 1 {
        let bs = u64::from(le32::<u32>(s, 36));
        let count = le64(s, 40);
        if !(4096..=65536).contains(&bs) || !bs.is_power_of_two() || count == 0 {
            return None;
        }
        return Some(Candidate {
            start: at,
            len: count.saturating_mul(bs),
            fs: "apfs",
            evidence: "container superblock".into(),
        });
    }
    if matches!(&s[..4], b"H+\0\x04" | b"HX\0\x05") {
        let bs = u64::from(be32::<u32>(s, 40));
        let blocks = u64::from(be32::<u32>(s, 44));
        if !(512..=(1 << 20)).contains(&bs) || !bs.is_power_of_two() || blocks == 0 {
            return None;
        }
        return Some(Candidate {
            start: at.checked_sub(1024)?,
            len: blocks.saturating_mul(bs),
            fs: "hfs",
            evidence: "volume header".into(),
        });
    }
    None
}

/// The block of the checkpoint descriptor ring an APFS superblock is the
/// last of: its checkpoint starts at `nx_xp_desc_index` and is
/// `nx_xp_desc_len` blocks long, in a ring of `nx_xp_desc_blocks` from
/// `nx_xp_desc_base`. None for a ring kept in a B-tree (the high bit of the
/// block count) or fields no container has.
fn ring_block(s: &[u8]) -> Option<u64> {
    let blocks = le32::<u32>(s, 104);
    let base = le64(s, 112);
    let (index, len) = (le32::<u32>(s, 136), le32::<u32>(s, 140));
    if blocks == 0 || blocks & 0x8000_0000 != 0 || base == 0 || base >> 48 != 0 {
        return None;
    }
    if index >= blocks || len == 0 || len > blocks {
        return None;
    }
    let last = (u64::from(index) + u64::from(len) - 1) % u64::from(blocks);
    Some(base + last)
}

/// The block after `block` in the superblock's descriptor ring.
fn ring_next(s: &[u8], block: u64) -> Option<u64> {
    let blocks = u64::from(le32::<u32>(s, 104));
    let base = le64(s, 112);
    let i = block.checked_sub(base).filter(|&i| i < blocks)?;
    Some(base + (i + 1) % blocks)
}

/// An APFS checkpoint map block's id, its own block number (a physical
/// object): type 0x4000000c, no subtype, a transaction, at most the
/// mappings a 4 KiB block holds, only the "last" flag.
fn checkpoint_map(s: &[u8]) -> Option<u64> {
    let oid = le64(s, 8);
    (le32::<u32>(s, 24) == 0x4000_000C
        && le32::<u32>(s, 28) == 0
        && le64(s, 16) != 0
        && le32::<u32>(s, 32) <= 1
        && le32::<u32>(s, 36) <= 101
        && (1..1 << 40).contains(&oid))
    .then_some(oid)
}

/// An ext2/3/4 superblock is 1024 bytes at 1024 into the volume (or at the start of
/// a block group for backups); its magic sits at offset 56.
fn classify_ext(sb: &[u8], at: u64) -> Option<Candidate> {
    if sb.len() < 1024 || le16::<u64>(sb, 56) != 0xEF53 {
        return None;
    }
    let log = le32::<u64>(sb, 24);
    let blocks = le32::<u64>(sb, 4);
    let per_group = le32::<u64>(sb, 32);
    let inodes = le32::<u64>(sb, 0);
    let first_data = le32::<u64>(sb, 20);
    if log > 6 || blocks == 0 || per_group == 0 || inodes == 0 || first_data > 1 {
        return None;
    }
    let bs = 1024u64 << log;
    let group = le16::<u64>(sb, 90);
    // The primary lies 1024 bytes in; a backup lies at its group's first block.
    let start = if group == 0 {
        at.checked_sub(1024)?
    } else {
        let group_start = (group * per_group + first_data) * bs;
        at.checked_sub(group_start)?
    };
    Some(Candidate {
        start,
        len: blocks.saturating_mul(bs),
        fs: "ext",
        evidence: if group == 0 {
            "superblock".into()
        } else {
            format!("backup superblock of group {group}")
        },
    })
}

/// Candidates proposed by the sector at `at`: its own structure and, for NTFS
/// and FAT32, the volume start a backup copy points back to; and by the
/// superblock window starting there (`window` holds 1024 bytes when the image
/// has them).
fn sector_candidates(
    s: &[u8],
    window: Option<&[u8]>,
    at: u64,
    last_map: &mut LastMap,
) -> Vec<Candidate> {
    let mut cands = Vec::new();
    if let Some(oid) = checkpoint_map(s) {
        *last_map = Some((at, oid));
    }
    if let Some(c) = classify(s, at) {
        cands.push(c.clone());
        // Backups point back: NTFS's last sector, FAT32's sector 6.
        if c.fs == "ntfs" && c.len > 512 {
            let bps = le16::<u64>(s, 11);
            if let Some(st) = at.checked_sub(c.len - bps) {
                cands.push(Candidate {
                    start: st,
                    evidence: format!("backup boot sector at {at}"),
                    ..c.clone()
                });
            }
        }
        // HFS+'s alternate volume header: 1024 bytes before the volume's end.
        if c.fs == "hfs" {
            if let Some(st) = (at + 1024).checked_sub(c.len) {
                if st != c.start {
                    cands.push(Candidate {
                        start: st,
                        evidence: format!("alternate volume header at {at}"),
                        ..c.clone()
                    });
                }
            }
        }
        // An APFS superblock is also a checkpoint's last block in the
        // descriptor ring, and says which ring block that is; block 0 is a
        // byte-for-byte copy of the newest, so the claim is believed only
        // from a copy right after its checkpoint's map, a physical object
        // whose id is its own block number: then a container whose block 0
        // is destroyed is still placed.
        if c.fs == "apfs" {
            let bs = u64::from(le32::<u32>(s, 36));
            let follows_map = |block: u64| {
                let map_at = at.checked_sub(bs)?;
                let (m, oid) = (*last_map)?;
                (m == map_at && ring_next(s, oid) == Some(block)).then_some(())
            };
            if let Some(block) = ring_block(s).filter(|&b| follows_map(b).is_some()) {
                if let Some(st) = block.checked_mul(bs).and_then(|o| at.checked_sub(o)) {
                    cands.push(Candidate {
                        start: st,
                        evidence: format!("checkpoint superblock copy at {at}, its block {block}"),
                        ..c.clone()
                    });
                }
            }
        }
        if c.fs == "fat32" {
            if let Some(st) = at.checked_sub(6 * le16::<u64>(s, 11)) {
                cands.push(Candidate {
                    start: st,
                    evidence: format!("backup boot sector at {at}"),
                    ..c.clone()
                });
            }
        }
    }
    if let Some(c) = window.and_then(|w| classify_ext(w, at)) {
        cands.push(c);
    }
    cands
}

/// Scans `within` on 512-byte boundaries. Candidates are keyed by proposed start;
/// the first structure found for a start is kept, and structures whose proposal
/// falls outside `within` are dropped.
pub fn scan(
    src: &dyn ImageSource,
    within: Extent,
    interrupt: &AtomicBool,
) -> Result<Vec<Candidate>, SourceError> {
    const CHUNK: u64 = 1 << 20;
    let mut found: BTreeMap<u64, Candidate> = BTreeMap::new();
    let mut buf = vec![0u8; (CHUNK + 1024) as usize];
    let mut pos = within.start;
    let mut last_map = None;
    // Only bytes the image holds are scanned: a partition table may claim
    // terabytes past the end (hostile or damaged), whose "content" would be
    // synthesized zeros read for hours.
    let end = within.end().min(src.size());
    while pos < end {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        let n = (end - pos).min(CHUNK) as usize;
        // Read a little beyond the chunk so a 1024-byte superblock is whole.
        let want = (n + 1024)
            .min((src.size().saturating_sub(pos)) as usize)
            .max(n);
        src.read_at(pos, &mut buf[..want])?;
        let mut off = 0usize;
        while off + 512 <= n {
            let at = pos + off as u64;
            let window = (off + 1024 <= want).then(|| &buf[off..off + 1024]);
            for c in sector_candidates(&buf[off..off + 512], window, at, &mut last_map) {
                if within.contains(c.start) {
                    found.entry(c.start).or_insert(c);
                }
            }
            off += 512;
        }
        pos += n as u64;
    }
    Ok(found.into_values().collect())
}

/// The last APFS checkpoint map a scan met: (image offset, its block).
type LastMap = Option<(u64, u64)>;

/// The same scan over bytes read by someone else, in order (the one sequential
/// pass): each target extent gets exactly the candidates [`scan`] would find in
/// it, without a read of its own.
pub struct LostScan {
    /// Per target: its candidates, and the last APFS checkpoint map met.
    targets: Vec<(Extent, BTreeMap<u64, Candidate>, LastMap)>,
    size: u64,
}

impl LostScan {
    /// `targets` are scanned within an image of `size` bytes (never past it).
    pub fn new(targets: &[Extent], size: u64) -> Self {
        LostScan {
            targets: targets
                .iter()
                .map(|e| (*e, BTreeMap::new(), None))
                .collect(),
            size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The image's bytes at `at`, and those right after them (`next`: the next
    /// block, empty at the end of the image). Fed in order, without gaps.
    pub fn feed(&mut self, at: u64, bytes: &[u8], next: &[u8]) {
        let here = Extent::new(at, bytes.len() as u64);
        let have = at + (bytes.len() + next.len()) as u64;
        let mut tmp = [0u8; 1024];
        for (t, found, last_map) in &mut self.targets {
            let end = t.end().min(self.size);
            if !here.overlaps(t) {
                continue;
            }
            // The first sector of the target's grid that starts in this block.
            let from = here.start.max(t.start);
            let mut p = t.start + (from - t.start).div_ceil(512) * 512;
            while p < here.end() && p + 512 <= end {
                let want = (have.min(self.size).saturating_sub(p)).min(1024) as usize;
                let off = (p - at) as usize;
                // A sector or superblock crossing into the next block is copied.
                let window: &[u8] = if off + want <= bytes.len() {
                    &bytes[off..off + want]
                } else {
                    let own = bytes.len() - off;
                    tmp[..own].copy_from_slice(&bytes[off..]);
                    tmp[own..want].copy_from_slice(&next[..want - own]);
                    &tmp[..want]
                };
                if window.len() >= 512 {
                    let sb = (window.len() >= 1024).then_some(window);
                    for c in sector_candidates(&window[..512], sb, p, last_map) {
                        if t.contains(c.start) {
                            found.entry(c.start).or_insert(c);
                        }
                    }
                }
                p += 512;
            }
        }
    }

    /// Per target, in the order given: what [`scan`] of it would have returned.
    pub fn finish(self) -> Vec<Vec<Candidate>> {
        self.targets
            .into_iter()
            .map(|(_, f, _)| f.into_values().collect())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_testkit::MemSource;

    fn put_ntfs(img: &mut [u8], at: usize, sectors: u64) {
        let s = &mut img[at..at + 512];
        s[3..11].copy_from_slice(b"NTFS    ");
        s[11..13].copy_from_slice(&512u16.to_le_bytes());
        s[0x28..0x30].copy_from_slice(&sectors.to_le_bytes());
        s[510] = 0x55;
        s[511] = 0xAA;
    }

    fn put_ext(img: &mut [u8], volume: usize, blocks: u32) {
        let sb = &mut img[volume + 1024..volume + 2048];
        sb[0..4].copy_from_slice(&128u32.to_le_bytes());
        sb[4..8].copy_from_slice(&blocks.to_le_bytes());
        sb[20..24].copy_from_slice(&1u32.to_le_bytes());
        sb[32..36].copy_from_slice(&8192u32.to_le_bytes());
        sb[56..58].copy_from_slice(&0xEF53u16.to_le_bytes());
    }

    /// An APFS container's checkpoint ring with its block 0 wiped: a map at
    /// ring block 1 (its id, 1) and the superblock copy after it.
    fn put_apfs_ring(img: &mut [u8], container: usize) {
        let m = &mut img[container + 4096..container + 4096 + 512];
        m[8..16].copy_from_slice(&1u64.to_le_bytes());
        m[16..24].copy_from_slice(&5u64.to_le_bytes());
        m[24..28].copy_from_slice(&0x4000_000Cu32.to_le_bytes());
        m[32..36].copy_from_slice(&1u32.to_le_bytes());
        m[36..40].copy_from_slice(&3u32.to_le_bytes());
        let s = &mut img[container + 8192..container + 8192 + 512];
        s[24] = 1;
        s[32..36].copy_from_slice(b"NXSB");
        s[36..40].copy_from_slice(&4096u32.to_le_bytes());
        s[40..48].copy_from_slice(&64u64.to_le_bytes());
        s[104..108].copy_from_slice(&8u32.to_le_bytes()); // ring of 8
        s[112..120].copy_from_slice(&1u64.to_le_bytes()); // from block 1
        s[136..140].copy_from_slice(&0u32.to_le_bytes()); // checkpoint at index 0
        s[140..144].copy_from_slice(&2u32.to_le_bytes()); // map + superblock
    }

    #[test]
    fn a_ring_copy_places_its_container_only_right_after_its_map() {
        let mut img = vec![0u8; 1 << 20];
        put_apfs_ring(&mut img, 0x4_0000);
        let stop = AtomicBool::new(false);
        let c = scan(&MemSource(img.clone()), Extent::new(0, 1 << 20), &stop).unwrap();
        let placed = c.iter().find(|c| c.start == 0x4_0000).expect("placed");
        assert_eq!(placed.len, 64 * 4096);
        assert!(
            placed
                .evidence
                .contains("checkpoint superblock copy at 270336"),
            "{placed:?}"
        );
        // Without the map before it (as block 0, a copy of the newest), the
        // copy proposes only itself.
        img[0x4_1000..0x4_1200].fill(0);
        let c = scan(&MemSource(img), Extent::new(0, 1 << 20), &stop).unwrap();
        assert_eq!(
            c.iter().map(|c| c.start).collect::<Vec<_>>(),
            vec![0x4_2000]
        );
    }

    /// Fed in blocks of any size, from 0, the pass's scan finds what a scan of
    /// its own finds, for every target, including structures that cross a block.
    #[test]
    fn apple_structures_propose_their_volumes() {
        let mut s = vec![0u8; 512];
        s[24] = 1;
        s[32..36].copy_from_slice(b"NXSB");
        s[36..40].copy_from_slice(&4096u32.to_le_bytes());
        s[40..48].copy_from_slice(&1014u64.to_le_bytes());
        let c = classify(&s, 8192).unwrap();
        assert_eq!((c.start, c.len, c.fs), (8192, 1014 * 4096, "apfs"));
        s[36..40].copy_from_slice(&1000u32.to_le_bytes()); // not a power of two
        assert!(classify(&s, 8192).is_none());
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"H+\0\x04");
        h[40..44].copy_from_slice(&4096u32.to_be_bytes());
        h[44..48].copy_from_slice(&100u32.to_be_bytes());
        let c = sector_candidates(&h, None, 1 << 20, &mut None);
        // As the primary header (1024 in) and as the alternate (1024 before the end).
        let starts: Vec<u64> = c.iter().map(|c| c.start).collect();
        assert_eq!(starts, vec![(1 << 20) - 1024, (1 << 20) + 1024 - 409_600]);
        assert!(c.iter().all(|c| c.fs == "hfs" && c.len == 409_600));
        assert!(
            classify(&h, 512).is_none(),
            "no volume starts before the image"
        );
    }

    #[test]
    fn fed_in_blocks_it_finds_what_the_scan_finds() {
        let mut img = vec![0u8; 3 << 20];
        put_ntfs(&mut img, 0x10_0000, 2048); // a volume at 1 MiB
        put_ntfs(&mut img, 0x10_0000 + 2048 * 512, 2048); // its backup, last sector
        put_ext(&mut img, 0x1F_FE00, 1000); // superblock crossing 2 MiB
        put_ntfs(&mut img, (3 << 20) - 512, 7); // at the very end
        put_apfs_ring(&mut img, 0x28_0000); // its block 0 wiped
        let src = MemSource(img.clone());
        let stop = AtomicBool::new(false);
        let targets = [
            Extent::new(512, (3 << 20) - 512),
            Extent::new(0x1F_0000, 0x2_0000),
            Extent::new((3 << 20) - 4096, 1 << 30), // claims past the end
            Extent::new(100, 3 << 20),              // off the sector grid of 0
        ];
        let want: Vec<Vec<Candidate>> = targets
            .iter()
            .map(|t| scan(&src, *t, &stop).unwrap())
            .collect();
        assert!(want[0].len() >= 3, "{want:?}");
        assert!(want[1].iter().any(|c| c.fs == "ext"), "{want:?}");
        assert!(
            want[0]
                .iter()
                .any(|c| c.start == 0x28_0000 && c.fs == "apfs"),
            "{want:?}"
        );
        for block in [512usize, 1000 * 512, 1 << 20, 3 << 20, (1 << 20) + 512] {
            let mut l = LostScan::new(&targets, img.len() as u64);
            let mut at = 0;
            while at < img.len() {
                let end = (at + block).min(img.len());
                let next_end = (end + block).min(img.len());
                l.feed(at as u64, &img[at..end], &img[end..next_end]);
                at = end;
            }
            assert_eq!(l.finish(), want, "blocks of {block}");
        }
    }
}
