//! The group descriptors, one descriptor block at a time: each from where the
//! layout puts it (after the superblock, or with meta_bg in its meta-group's
//! first group), else from a backup copy, else its groups are unknown. A damaged
//! descriptor block costs its own groups, not the filesystem.

use crate::sb::{backup_groups, le16, le32, Superblock, INCOMPAT_META_BG};
use dredge_core::{Finding, ReadReport, VolumeReader};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Group {
    pub block_bitmap: u64,
    pub inode_bitmap: u64,
    /// 0 when no copy of the group's descriptor could be used.
    pub inode_table: u64,
    pub flags: u32,
    pub itable_unused: u32,
    /// Free clusters the descriptor counts in its group.
    pub free_blocks: u32,
    /// crc32c of the block bitmap with metadata_csum (low 16 bits, and the
    /// high 16 with 64-byte descriptors).
    pub bitmap_csum: u32,
}

impl Group {
    /// Whether the descriptor was read (a group whose descriptor is lost has no
    /// known inode table or bitmaps).
    pub fn known(&self) -> bool {
        self.inode_table != 0
    }
}

pub const BG_INODE_UNINIT: u32 = 0x1;
pub const BG_BLOCK_UNINIT: u32 = 0x2;

/// The block after group `g`'s superblock copy. Group 0's superblock is at byte
/// 1024 whatever the first data block says (0 with bigalloc, even for 1 KiB
/// blocks, where the superblock is block 1).
fn after_super(sb: &Superblock, g: u64) -> u64 {
    if g == 0 {
        1024 / sb.block_size + 1
    } else {
        sb.group_start(g) + 1
    }
}

/// Where descriptor block `i` lies, best copy first (block numbers).
fn copies(sb: &Superblock, i: u64, groups: u64) -> Vec<u64> {
    let per = sb.block_size / u64::from(sb.desc_size);
    if sb.has(INCOMPAT_META_BG) && i >= u64::from(sb.first_meta_bg) {
        // meta_bg: the block of meta-group m is in the first, second and last
        // group of m, after the superblock copy when that group has one.
        let first = i * per;
        [first, first + 1, first + per - 1]
            .into_iter()
            .filter(|&g| g < groups)
            .map(|g| {
                if sb.has_super(g) {
                    after_super(sb, g)
                } else {
                    sb.group_start(g)
                }
            })
            .collect()
    } else {
        let mut at: Vec<u64> = std::iter::once(0)
            .chain(backup_groups(groups))
            .chain(sb.backup_bgs.iter().map(|&g| u64::from(g)))
            .filter(|&g| g < groups && sb.has_super(g))
            .collect();
        // Group 0 first, then the backups in order, each once.
        at.sort_unstable();
        at.dedup();
        at.into_iter().map(|g| after_super(sb, g) + i).collect()
    }
}

fn parse(d: &[u8], ds: usize) -> Group {
    let hi = |o: usize| {
        if ds >= 64 {
            u64::from(le32::<u32>(d, o)) << 32
        } else {
            0
        }
    };
    // The high halves of 16-bit fields, in 64-byte descriptors only.
    let hi16 = |o: usize| {
        if ds >= 64 {
            le16::<u32>(d, o) << 16
        } else {
            0
        }
    };
    Group {
        block_bitmap: u64::from(le32::<u32>(d, 0)) | hi(32),
        inode_bitmap: u64::from(le32::<u32>(d, 4)) | hi(36),
        inode_table: u64::from(le32::<u32>(d, 8)) | hi(40),
        flags: le16(d, 18),
        itable_unused: le16(d, 28),
        free_blocks: le16::<u32>(d, 12) | hi16(44),
        bitmap_csum: le16::<u32>(d, 24) | hi16(56),
    }
}

/// The descriptors of one block's groups when every one points inside the
/// filesystem and the block was read whole.
fn usable(sb: &Superblock, block: &[u8], clean: bool, count: usize) -> Option<Vec<Group>> {
    let ds = sb.desc_size as usize;
    let parsed: Vec<Group> = (0..count)
        .map(|k| parse(&block[k * ds..(k + 1) * ds], ds))
        .collect();
    let sane = clean
        && parsed.iter().all(|g| {
            g.inode_table > 0
                && g.inode_table < sb.blocks_count
                && g.block_bitmap < sb.blocks_count
                && g.inode_bitmap < sb.blocks_count
        });
    sane.then_some(parsed)
}

fn clean_within(rep: &ReadReport, start: u64, len: u64) -> bool {
    rep.synthesized
        .iter()
        .all(|r| r.extent.end() <= start || r.extent.start >= start + len)
}

/// Every group's descriptor, or an error when not one descriptor block is usable.
pub fn groups(
    vol: &VolumeReader,
    sb: &Superblock,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Group>, Finding> {
    let n = sb.group_count();
    let ds = u64::from(sb.desc_size);
    let bs = sb.block_size;
    if n.saturating_mul(ds) > 256 << 20 {
        return Err(Finding::new(
            vol.base() + 1024,
            "ext group descriptor table implausibly large",
        )
        .expected("<= 256 MiB", n * ds));
    }
    let per = bs / ds;
    let blocks = n.div_ceil(per);
    // The blocks laid out together after the primary superblock are read at once.
    let together = if sb.has(INCOMPAT_META_BG) {
        blocks.min(u64::from(sb.first_meta_bg))
    } else {
        blocks
    };
    let primary = (together > 0)
        .then(|| {
            let at = after_super(sb, 0) * bs;
            vol.read_vec(at, together * bs, 256 << 20)
                .ok()
                .map(|(v, r)| (at, v, r))
        })
        .flatten();
    let mut out = Vec::with_capacity(n as usize);
    // Backup group (or meta-group copy) → descriptor blocks taken from it.
    let mut from_backup: BTreeMap<u64, u64> = BTreeMap::new();
    let mut lost: Vec<(u64, u64)> = Vec::new();
    for i in 0..blocks {
        let count = per.min(n - i * per) as usize;
        let mut got = None;
        for (k, blk) in copies(sb, i, n).into_iter().enumerate() {
            let at = blk.saturating_mul(bs);
            let found = match &primary {
                Some((p, v, r)) if k == 0 && i < together => {
                    let off = (i * bs) as usize;
                    let abs = vol.base() + p + i * bs;
                    usable(
                        sb,
                        &v[off..off + bs as usize],
                        clean_within(r, abs, bs),
                        count,
                    )
                }
                _ => {
                    let mut b = vec![0u8; bs as usize];
                    vol.read_at(at, &mut b)
                        .ok()
                        .and_then(|r| usable(sb, &b, r.is_clean(), count))
                }
            };
            if let Some(g) = found {
                if k > 0 {
                    *from_backup.entry(at).or_default() += 1;
                }
                got = Some(g);
                break;
            }
        }
        match got {
            Some(g) => out.extend(g),
            None => {
                lost.push((i * per, i * per + count as u64 - 1));
                out.extend(std::iter::repeat_n(Group::default(), count));
            }
        }
    }
    if lost.len() as u64 == blocks {
        return Err(Finding::new(
            vol.base() + after_super(sb, 0) * bs,
            "ext group descriptors unreadable or point outside the filesystem, in every copy",
        ));
    }
    for (at, k) in from_backup {
        findings.push(Finding::new(
            vol.base() + at,
            format!("primary group descriptors unusable; {k} descriptor block(s) taken from the copy here"),
        ));
    }
    if let Some(&(a, _)) = lost.first() {
        let groups: u64 = lost.iter().map(|(a, b)| b - a + 1).sum();
        findings.push(Finding::new(
            vol.base() + copies(sb, a / per, n).first().copied().unwrap_or(0) * bs,
            format!(
                "ext group descriptors of {groups} group(s) unusable in every copy (first: groups {a}..={}); their inodes are not read and their blocks are carved as free",
                lost[0].1
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(compat: u32, ro_compat: u32, incompat: u32) -> Superblock {
        let mut s = vec![0u8; 1024];
        s[56..58].copy_from_slice(&0xEF53u16.to_le_bytes());
        s[4..8].copy_from_slice(&(64u32 * 8192).to_le_bytes()); // blocks
        s[20..24].copy_from_slice(&1u32.to_le_bytes()); // first data block
        s[32..36].copy_from_slice(&8192u32.to_le_bytes());
        s[40..44].copy_from_slice(&16u32.to_le_bytes());
        s[76..80].copy_from_slice(&1u32.to_le_bytes()); // revision 1
        s[88..90].copy_from_slice(&256u16.to_le_bytes());
        s[92..96].copy_from_slice(&compat.to_le_bytes());
        s[96..100].copy_from_slice(&incompat.to_le_bytes());
        s[100..104].copy_from_slice(&ro_compat.to_le_bytes());
        s[260..264].copy_from_slice(&1u32.to_le_bytes()); // first meta_bg
        s[588..592].copy_from_slice(&5u32.to_le_bytes());
        s[592..596].copy_from_slice(&63u32.to_le_bytes());
        Superblock::parse(&s, 1024).unwrap()
    }

    #[test]
    fn superblock_copies_as_the_kernel_places_them() {
        let sparse = sb(0, 1, 0);
        let with: Vec<u64> = (0..64).filter(|&g| sparse.has_super(g)).collect();
        assert_eq!(with, [0, 1, 3, 5, 7, 9, 25, 27, 49]);
        let all = sb(0, 0, 0);
        assert!((0..64).all(|g| all.has_super(g)));
        let two = sb(0x200, 1, 0);
        let with: Vec<u64> = (0..64).filter(|&g| two.has_super(g)).collect();
        assert_eq!(with, [0, 5, 63]);
    }

    #[test]
    fn descriptor_blocks_where_meta_bg_puts_them() {
        // 1 KiB blocks, 32-byte descriptors: 32 groups a descriptor block.
        let s = sb(0, 1, INCOMPAT_META_BG);
        // Block 0 comes before the first meta_bg block: after the superblock
        // (block 2), then in each backup group's second block.
        assert_eq!(copies(&s, 0, 64)[..3], [2, 8194, 3 * 8192 + 2]);
        // Block 1: groups 32 (no superblock copy), 33 and 63.
        assert_eq!(
            copies(&s, 1, 64),
            [1 + 32 * 8192, 1 + 33 * 8192, 1 + 63 * 8192]
        );
        let plain = sb(0, 1, 0);
        assert_eq!(copies(&plain, 1, 64)[..2], [3, 8195]);
    }
}
