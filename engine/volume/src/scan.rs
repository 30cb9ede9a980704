//! Lost-partition scan: when a table is missing or damaged, filesystem boot sectors
//! and superblocks found on sector boundaries propose where volumes start. Backup
//! structures are recognised too and point back to their volume's start (NTFS's
//! backup boot sector is its last sector; FAT32's is sector 6; ext's backup
//! superblocks sit at the start of block groups). The filesystem probes confirm.

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

fn le16(b: &[u8], o: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[o], b[o + 1]]))
}
fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]))
}
fn le64(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
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
            let total = if le16(s, 19) != 0 {
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
    None
}

/// An ext2/3/4 superblock is 1024 bytes at 1024 into the volume (or at the start of
/// a block group for backups); its magic sits at offset 56.
fn classify_ext(sb: &[u8], at: u64) -> Option<Candidate> {
    if sb.len() < 1024 || le16(sb, 56) != 0xEF53 {
        return None;
    }
    let log = le32(sb, 24);
    let blocks = le32(sb, 4);
    let per_group = le32(sb, 32);
    let inodes = le32(sb, 0);
    let first_data = le32(sb, 20);
    if log > 6 || blocks == 0 || per_group == 0 || inodes == 0 || first_data > 1 {
        return None;
    }
    let bs = 1024u64 << log;
    let group = le16(sb, 90);
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
            let s = &buf[off..off + 512];
            let mut cands = Vec::new();
            if let Some(c) = classify(s, at) {
                cands.push(c.clone());
                // Backups point back: NTFS's last sector, FAT32's sector 6.
                if c.fs == "ntfs" && c.len > 512 {
                    let bps = le16(s, 11);
                    if let Some(st) = at.checked_sub(c.len - bps) {
                        cands.push(Candidate {
                            start: st,
                            evidence: format!("backup boot sector at {at}"),
                            ..c.clone()
                        });
                    }
                }
                if c.fs == "fat32" {
                    if let Some(st) = at.checked_sub(6 * le16(s, 11)) {
                        cands.push(Candidate {
                            start: st,
                            evidence: format!("backup boot sector at {at}"),
                            ..c.clone()
                        });
                    }
                }
            }
            if off + 1024 <= want {
                if let Some(c) = classify_ext(&buf[off..off + 1024], at) {
                    cands.push(c);
                }
            }
            for c in cands {
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
