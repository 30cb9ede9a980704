//! The block bitmap, judged before it is believed.
//!
//! The bitmaps are the only record of which blocks are free, and two things
//! trust them: the carving of free space, and the judging of deleted files'
//! blocks as reused or not. A bitmap overwritten with ones hides every free
//! block of its group from the carvers (a deleted photo there is lost); one of
//! zeros offers live files' blocks as free. So each group's bitmap is checked
//! first: its crc32c with metadata_csum; without it, whether it marks the
//! group's own metadata used and agrees with the descriptor's free count.
//! Where it fails, is unreadable, or the group's descriptor is lost, the
//! group's allocation is taken from what the metadata says is in use (the
//! groups' bitmaps, inode tables and superblock copies, and every live inode's
//! blocks, extent nodes and indirect blocks), and each such group is a finding.

use crate::gdt::{Group, BG_BLOCK_UNINIT, BG_INODE_UNINIT};
use crate::inode::{blockmap_runs, extent_runs, Inode, EXT4_EXTENTS_FL, EXT4_INLINE_DATA_FL};
use crate::sb::{INCOMPAT_META_BG, RO_COMPAT_METADATA_CSUM};
use crate::{ExtFs, RUNS_FLOOR};
use dredge_core::checksum::crc32c_update;
use dredge_core::{EntryKind, Finding};

/// Damaged groups listed one by one before the rest are counted in one line.
const FINDINGS_LISTED: usize = 32;

/// Which blocks are in use, one bit a block, and why any group's own bitmap
/// was not believed.
pub(crate) struct Allocation {
    bits: Vec<u8>,
    pub(crate) findings: Vec<Finding>,
}

/// Why a group's bitmap is not believed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Doubt {
    Unreadable,
    Checksum {
        stored: u32,
        computed: u32,
    },
    /// A block of filesystem metadata inside the group is marked free.
    MetadataFree(u64),
    FreeCount {
        stored: u32,
        counted: u64,
    },
}

/// What a group's bitmap is checked against.
pub(crate) struct Check<'a> {
    /// Clusters the group has (fewer in the last group).
    pub clusters: u64,
    /// With metadata_csum: the seed, the bytes the checksum covers (clusters
    /// per group / 8), and whether all 32 bits are stored (64-byte descriptors).
    pub csum: Option<(u32, usize, bool)>,
    /// Clusters of the group holding metadata, relative to its start.
    pub metadata: &'a [u64],
}

/// Judges one group's bitmap: `None` when it is believed.
pub(crate) fn judge(bitmap: &[u8], g: &Group, c: &Check) -> Option<Doubt> {
    let bit = |i: u64| {
        bitmap
            .get((i / 8) as usize)
            .is_some_and(|x| x >> (i % 8) & 1 == 1)
    };
    if let Some((seed, len, wide)) = c.csum {
        // A checksum is decisive either way: the other checks could only
        // second-guess a bitmap the filesystem itself vouches for.
        let computed = crc32c_update(seed, &bitmap[..len.min(bitmap.len())]);
        let computed = if wide { computed } else { computed & 0xFFFF };
        return (computed != g.bitmap_csum).then_some(Doubt::Checksum {
            stored: g.bitmap_csum,
            computed,
        });
    }
    if let Some(&m) = c.metadata.iter().find(|&&m| m < c.clusters && !bit(m)) {
        return Some(Doubt::MetadataFree(m));
    }
    let counted = (0..c.clusters).filter(|&i| !bit(i)).count() as u64;
    (counted != u64::from(g.free_blocks)).then_some(Doubt::FreeCount {
        stored: g.free_blocks,
        counted,
    })
}

impl ExtFs {
    pub(crate) fn allocation(&self) -> &Allocation {
        self.bitmap.get_or_init(|| self.build_allocation())
    }

    pub(super) fn block_allocated(&self, b: u64) -> bool {
        get(&self.allocation().bits, b)
    }

    fn build_allocation(&self) -> Allocation {
        let per = u64::from(self.sb.blocks_per_group);
        let first_data = u64::from(self.sb.first_data_block);
        // Blocks past the volume's end hold nothing to reuse: the bitmap covers
        // the blocks the volume has, not what a damaged count claims.
        let total = self.sb.blocks_count.min(self.vol.len().div_ceil(self.bs()));
        let mut bits = vec![0u8; total.div_ceil(8).min(512 << 20) as usize];
        // With bigalloc a bit stands for a cluster of `ratio` blocks.
        let ratio = self.sb.cluster_ratio;
        let cpg = per / ratio;
        let csum = (self.sb.ro_compat & RO_COMPAT_METADATA_CSUM != 0).then_some((
            self.sb.csum_seed,
            (cpg / 8) as usize,
            self.sb.desc_size >= 64,
        ));
        let metadata = self.metadata_by_group();
        let mut doubted: Vec<(usize, Option<Doubt>)> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let first = first_data + gi as u64 * per;
            if !g.known() {
                doubted.push((gi, None));
                continue;
            }
            if g.flags & BG_BLOCK_UNINIT != 0 {
                continue;
            }
            let n = per.min(total.saturating_sub(first)).div_ceil(ratio);
            let mut b = vec![0u8; (cpg / 8).max(n.div_ceil(8)).min(self.bs()) as usize];
            let clean = self
                .vol
                .read_at(g.block_bitmap * self.bs(), &mut b)
                .is_ok_and(|r| r.is_clean());
            let doubt = if clean {
                let mine = metadata.get(gi).map_or(&[][..], Vec::as_slice);
                judge(
                    &b,
                    g,
                    &Check {
                        clusters: n,
                        csum,
                        metadata: mine,
                    },
                )
            } else {
                Some(Doubt::Unreadable)
            };
            if doubt.is_some() {
                doubted.push((gi, doubt));
                continue;
            }
            for i in (0..n).filter(|&i| get(&b, i)) {
                for blk in first + i * ratio..(first + (i + 1) * ratio).min(total) {
                    set(&mut bits, blk);
                }
            }
        }
        let mut findings = Vec::new();
        if !doubted.is_empty() {
            findings = self.doubt_findings(&doubted);
            match self.used_by_metadata(total) {
                Some(used) => {
                    for (gi, _) in &doubted {
                        let first = first_data + *gi as u64 * per;
                        for blk in first..(first + per).min(total) {
                            if get(&used, blk) {
                                set(&mut bits, blk);
                            }
                        }
                    }
                }
                // The groups stay all free: carved whole, the safe side for
                // recovery, as before bitmaps were judged.
                None => findings.push(Finding::new(
                    self.vol.base(),
                    "ext: the inodes map more blocks than the volume could hold twice over; the groups whose bitmaps are not believed are treated as free",
                )),
            }
        }
        Allocation { bits, findings }
    }

    fn doubt_findings(&self, doubted: &[(usize, Option<Doubt>)]) -> Vec<Finding> {
        let mut out: Vec<Finding> = doubted
            .iter()
            .take(FINDINGS_LISTED)
            .map(|(gi, d)| {
                let g = &self.groups[*gi];
                let at = if g.known() {
                    self.abs_block(g.block_bitmap)
                } else {
                    self.vol.base()
                };
                let then = "its allocation is taken from the inodes and metadata that use it";
                let f = |what: &str| Finding::new(at, format!("ext group {gi}: {what}; {then}"));
                match d {
                    None => f("descriptor lost, so its block bitmap is unknown"),
                    Some(Doubt::Unreadable) => f("block bitmap unreadable"),
                    Some(Doubt::Checksum { stored, computed }) => {
                        f("block bitmap fails its checksum")
                            .expected(format!("{stored:#010x}"), format!("{computed:#010x}"))
                    }
                    Some(Doubt::MetadataFree(c)) => f(&format!(
                        "block bitmap marks the group's own metadata (cluster {c}) free"
                    )),
                    Some(Doubt::FreeCount { stored, counted }) => {
                        f("block bitmap disagrees with the descriptor's free count")
                            .expected(format!("{stored} free"), format!("{counted} free"))
                    }
                }
            })
            .collect();
        if doubted.len() > FINDINGS_LISTED {
            out.push(Finding::new(
                self.vol.base(),
                format!(
                    "ext: {} more groups' block bitmaps not believed; their allocation is taken from the inodes",
                    doubted.len() - FINDINGS_LISTED
                ),
            ));
        }
        out
    }

    /// For each group, the clusters (relative to its start) where some group's
    /// bitmaps and inode table begin and end: with flex_bg they sit in another
    /// group than their own, and a bitmap that marks them free is wrong.
    fn metadata_by_group(&self) -> Vec<Vec<u64>> {
        let per = u64::from(self.sb.blocks_per_group);
        let first_data = u64::from(self.sb.first_data_block);
        let itb = self.itable_blocks();
        let mut out = vec![Vec::new(); self.groups.len()];
        for g in self.groups.iter().filter(|g| g.known()) {
            let last = g.inode_table + itb.saturating_sub(1);
            for b in [g.block_bitmap, g.inode_bitmap, g.inode_table, last] {
                let Some(rel) = b.checked_sub(first_data) else {
                    continue;
                };
                if let Some(v) = out.get_mut((rel / per) as usize) {
                    v.push(rel % per / self.sb.cluster_ratio);
                }
            }
        }
        out
    }

    fn itable_blocks(&self) -> u64 {
        (u64::from(self.sb.inodes_per_group) * u64::from(self.sb.inode_size)).div_ceil(self.bs())
    }

    /// Blocks the metadata says are in use, whatever the bitmaps say; `None`
    /// when the marking budget ran out first.
    fn used_by_metadata(&self, total: u64) -> Option<Vec<u8>> {
        let mut m = Marker::new(total);
        let itb = self.itable_blocks();
        let desc_blocks = (self.groups.len() as u64)
            .saturating_mul(u64::from(self.sb.desc_size))
            .div_ceil(self.bs());
        for (gi, g) in self.groups.iter().enumerate() {
            let gi = gi as u64;
            if self.sb.has_super(gi) {
                // The boot block and superblock copy, then (outside meta_bg,
                // whose descriptor blocks are spread over its meta-groups) the
                // descriptor table and its reserve.
                let start = if gi == 0 { 0 } else { self.sb.group_start(gi) };
                let after = self.sb.group_start(gi) + 1;
                let table = if self.sb.has(INCOMPAT_META_BG) {
                    0
                } else {
                    desc_blocks + u64::from(self.sb.reserved_gdt_blocks)
                };
                m.mark(start, after - start + table);
            }
            if g.known() {
                m.mark(g.block_bitmap, 1);
                m.mark(g.inode_bitmap, 1);
                m.mark(g.inode_table, itb);
            }
        }
        self.for_each_live_inode(&mut |ino| {
            self.mark_inode(ino, &mut m);
            !m.cut
        });
        (!m.cut).then_some(m.used)
    }

    /// Marks what one live inode holds: its xattr block, data, extent nodes,
    /// indirect blocks and uninitialized extents.
    fn mark_inode(&self, ino: &Inode, m: &mut Marker) {
        let bs = self.bs();
        if ino.file_acl != 0 {
            m.mark(ino.file_acl, 1);
        }
        let xattr_sectors = if ino.file_acl != 0 { bs / 512 } else { 0 };
        let fast_link = ino.kind() == EntryKind::Symlink
            && ino.size < 60
            && ino.blocks.saturating_sub(xattr_sectors) == 0;
        if ino.flags & EXT4_INLINE_DATA_FL != 0 || fast_link {
            return;
        }
        let mut budget = self.budget();
        // No more runs than the file has blocks, as its layout allows, nor
        // than the derivation has left (at least a few, as layouts do).
        let most = ino
            .size
            .div_ceil(bs)
            .saturating_add(16)
            .min(m.runs_left.max(RUNS_FLOOR));
        budget.max_runs = budget
            .max_runs
            .min(usize::try_from(most).unwrap_or(usize::MAX));
        let mut problems = Vec::new();
        let count = self.sb.blocks_count;
        let runs = if ino.flags & EXT4_EXTENTS_FL != 0 {
            extent_runs(&self.vol, bs, count, &ino.block, &mut budget, &mut problems)
        } else {
            let blocks = ino.size.div_ceil(bs);
            blockmap_runs(
                &self.vol,
                bs,
                count,
                &ino.block,
                blocks,
                &mut budget,
                &mut problems,
            )
        };
        m.runs_left = m.runs_left.saturating_sub(runs.len() as u64);
        for r in &runs {
            if let Some(p) = r.physical {
                m.mark(p, r.len);
            }
        }
        for &(s, l) in &budget.held {
            m.mark(s, l);
        }
    }

    /// Every inode in use (a mode, links, no deletion time), group by group.
    /// `f` says whether to go on.
    fn for_each_live_inode(&self, f: &mut dyn FnMut(&Inode) -> bool) {
        let ipg = u64::from(self.sb.inodes_per_group);
        let isz = u64::from(self.sb.inode_size);
        for (gi, g) in self.groups.iter().enumerate() {
            if g.flags & BG_INODE_UNINIT != 0 || !g.known() {
                continue;
            }
            let Some(table) = self.table(gi).or_else(|| {
                let (v, _) = self
                    .vol
                    .read_vec(g.inode_table * self.bs(), ipg * isz, 512 << 20)
                    .ok()?;
                Some(std::sync::Arc::new((v, true)))
            }) else {
                continue;
            };
            for raw in table.0.chunks_exact(isz as usize) {
                let ino = Inode::parse(raw);
                if ino.mode != 0 && !ino.is_empty() && !ino.is_deleted() && !f(&ino) {
                    return;
                }
            }
        }
    }
}

/// The blocks marked in use, within budgets. Crafted inodes can all map one
/// huge extent (the hostile `ext-extent-bomb`), so the blocks marked, counted
/// with repeats, are bounded by twice the volume's blocks plus 16 Mi, and the
/// runs read by twice its blocks plus 1 Mi, as the reader's layouts are.
struct Marker {
    used: Vec<u8>,
    total: u64,
    work: u64,
    runs_left: u64,
    cut: bool,
}

impl Marker {
    fn new(total: u64) -> Marker {
        Marker {
            used: vec![0u8; total.div_ceil(8).min(512 << 20) as usize],
            total,
            work: total.saturating_mul(2).saturating_add(1 << 24),
            runs_left: total.saturating_mul(2).saturating_add(1 << 20),
            cut: false,
        }
    }

    fn mark(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len).min(self.total);
        let n = end.saturating_sub(start);
        if self.cut || n > self.work {
            self.cut = true;
            return;
        }
        self.work -= n;
        for b in start..end {
            set(&mut self.used, b);
        }
    }
}

fn get(bits: &[u8], b: u64) -> bool {
    bits.get((b / 8) as usize)
        .is_some_and(|x| x >> (b % 8) & 1 == 1)
}

fn set(bits: &mut [u8], b: u64) {
    if let Some(x) = bits.get_mut((b / 8) as usize) {
        *x |= 1 << (b % 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(free: u32, csum: u32) -> Group {
        Group {
            block_bitmap: 5,
            inode_bitmap: 6,
            inode_table: 7,
            free_blocks: free,
            bitmap_csum: csum,
            ..Group::default()
        }
    }

    #[test]
    fn a_checksum_decides_and_a_wrong_one_is_reported_with_both_values() {
        let mut b = vec![0u8; 128];
        b[0] = 0xFF;
        let good = crc32c_update(7, &b);
        let check = |wide| Check {
            clusters: 1024,
            csum: Some((7, 128, wide)),
            metadata: &[],
        };
        assert_eq!(judge(&b, &group(0, good), &check(true)), None);
        assert_eq!(judge(&b, &group(0, good & 0xFFFF), &check(false)), None);
        b[3] = 1;
        let now = crc32c_update(7, &b);
        assert_eq!(
            judge(&b, &group(0, good), &check(true)),
            Some(Doubt::Checksum {
                stored: good,
                computed: now
            })
        );
    }

    #[test]
    fn without_a_checksum_own_metadata_and_the_free_count_are_checked() {
        // 64 clusters, the first 8 in use (metadata at 2 and 6), 56 free.
        let mut b = vec![0u8; 8];
        b[0] = 0xFF;
        let check = Check {
            clusters: 64,
            csum: None,
            metadata: &[2, 6],
        };
        assert_eq!(judge(&b, &group(56, 0), &check), None);
        assert_eq!(
            judge(&b, &group(50, 0), &check),
            Some(Doubt::FreeCount {
                stored: 50,
                counted: 56
            })
        );
        let zeros = vec![0u8; 8];
        assert_eq!(
            judge(&zeros, &group(64, 0), &check),
            Some(Doubt::MetadataFree(2))
        );
        let ones = vec![0xFFu8; 8];
        assert_eq!(
            judge(&ones, &group(56, 0), &check),
            Some(Doubt::FreeCount {
                stored: 56,
                counted: 0
            })
        );
    }
}
