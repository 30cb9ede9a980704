//! The file allocation table, assembled from all copies: a sector of the first FAT
//! that is unreadable, or wiped while another copy is not, is taken from another
//! copy, and every such choice is a finding.

use crate::bpb::{Bpb, FatType};
use dredge_core::{Finding, VolumeReader};

/// Largest FAT we load (a FAT32 volume of 2 TiB with 4 KiB clusters needs 2 GiB;
/// anything above this is treated as damage).
pub const FAT_BUDGET: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Free,
    Next(u32),
    End,
    Bad,
    /// A value that is neither free, a valid cluster, bad nor end of chain.
    Invalid(u32),
}

pub struct Table {
    bytes: Vec<u8>,
    ty: FatType,
    clusters: u64,
}

impl Table {
    pub fn load(
        vol: &VolumeReader,
        b: &Bpb,
        findings: &mut Vec<Finding>,
    ) -> Result<Table, Finding> {
        // Read only what the cluster count needs (a FAT may be declared larger), and
        // never more than the volume holds: a damaged BPB must not make us allocate
        // gigabytes. Entries past what was read count as free.
        let bps = u64::from(b.bytes_per_sector);
        let bits: u64 = match b.fat_type {
            FatType::Fat12 => 12,
            FatType::Fat16 => 16,
            FatType::Fat32 => 32,
        };
        let needed = ((b.cluster_count() + 2) * bits).div_ceil(8).div_ceil(bps) * bps;
        let declared = b.fat_sectors * bps;
        let len = declared
            .min(needed)
            .min(vol.readable_len().saturating_sub(b.fat_offset(0)));
        let first = b.active_fat.unwrap_or(0).min(b.num_fats - 1);
        let mut copies = Vec::new();
        // The active copy and one other are enough to repair sector by sector.
        let others = (0..b.num_fats).filter(|&n| n != first).take(1);
        for n in std::iter::once(first).chain(others) {
            let at = b.fat_offset(n);
            match vol.read_vec(at, len, FAT_BUDGET) {
                Ok((v, rep)) => copies.push((n, at, v, rep)),
                Err(e) => {
                    return Err(Finding::new(
                        vol.base() + at,
                        format!("cannot read FAT {}: {e}", n + 1),
                    ))
                }
            }
        }
        let (_, p_at, mut bytes, p_rep) = copies.remove(0);
        let ss = b.bytes_per_sector as usize;
        let sectors = bytes.len() / ss;
        let (mut from_unreadable, mut from_wiped, mut differing) = (0u64, 0u64, 0u64);
        for i in 0..sectors {
            let abs = vol.base() + p_at + (i * ss) as u64;
            let range = i * ss..(i + 1) * ss;
            let unreadable = p_rep
                .synthesized
                .iter()
                .any(|r| r.extent.overlaps(&dredge_core::Extent::new(abs, ss as u64)));
            let wiped = bytes[range.clone()].iter().all(|&x| x == 0);
            for (_, o_at, other, o_rep) in &copies {
                let o_abs = vol.base() + o_at + (i * ss) as u64;
                let o_unreadable = o_rep.synthesized.iter().any(|r| {
                    r.extent
                        .overlaps(&dredge_core::Extent::new(o_abs, ss as u64))
                });
                if o_unreadable || other[range.clone()] == bytes[range.clone()] {
                    continue;
                }
                let other_wiped = other[range.clone()].iter().all(|&x| x == 0);
                if unreadable {
                    bytes[range.clone()].copy_from_slice(&other[range.clone()]);
                    from_unreadable += 1;
                    break;
                } else if wiped && !other_wiped {
                    bytes[range.clone()].copy_from_slice(&other[range.clone()]);
                    from_wiped += 1;
                    break;
                } else {
                    differing += 1;
                    break;
                }
            }
        }
        let base = vol.base() + p_at;
        if from_unreadable > 0 {
            findings.push(Finding::new(base, format!("{from_unreadable} unreadable sectors of the FAT were taken from another FAT copy")));
        }
        if from_wiped > 0 {
            findings.push(Finding::new(
                base,
                format!("{from_wiped} zeroed sectors of the FAT were taken from another FAT copy"),
            ));
        }
        if differing > 0 {
            findings.push(Finding::new(
                base,
                format!("{differing} sectors differ between the FAT copies; the first was used"),
            ));
        }
        // Entry 0 carries the media byte; its absence in the result is worth saying.
        let t = Table {
            bytes,
            ty: b.fat_type,
            clusters: b.cluster_count(),
        };
        if t.raw(0) == 0 {
            findings.push(Finding::new(
                base,
                "FAT entry 0 (media descriptor) is zero in every copy",
            ));
        }
        Ok(t)
    }

    fn raw(&self, c: u32) -> u32 {
        let b = &self.bytes;
        match self.ty {
            FatType::Fat12 => {
                let off = c as usize + c as usize / 2;
                if off + 1 >= b.len() {
                    return 0;
                }
                let v = u32::from(u16::from_le_bytes([b[off], b[off + 1]]));
                if c & 1 == 1 {
                    v >> 4
                } else {
                    v & 0xFFF
                }
            }
            FatType::Fat16 => {
                let off = c as usize * 2;
                if off + 1 >= b.len() {
                    return 0;
                }
                u32::from(u16::from_le_bytes([b[off], b[off + 1]]))
            }
            FatType::Fat32 => {
                let off = c as usize * 4;
                if off + 3 >= b.len() {
                    return 0;
                }
                u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) & 0x0FFF_FFFF
            }
        }
    }

    pub fn is_valid_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) < self.clusters + 2
    }

    pub fn max_cluster(&self) -> u32 {
        (self.clusters + 1).min(u64::from(u32::MAX)) as u32
    }

    pub fn link(&self, c: u32) -> Link {
        let v = self.raw(c);
        let (bad, eoc) = match self.ty {
            FatType::Fat12 => (0xFF7, 0xFF8),
            FatType::Fat16 => (0xFFF7, 0xFFF8),
            FatType::Fat32 => (0x0FFF_FFF7, 0x0FFF_FFF8),
        };
        if v == 0 {
            Link::Free
        } else if v >= eoc {
            Link::End
        } else if v == bad {
            Link::Bad
        } else if self.is_valid_cluster(v) {
            Link::Next(v)
        } else {
            Link::Invalid(v)
        }
    }

    pub fn is_free(&self, c: u32) -> bool {
        self.link(c) == Link::Free
    }

    /// Follows a chain from `start`, at most `limit` clusters. Returns the clusters and
    /// what stopped the walk (`None` = a clean end of chain or the limit).
    pub fn chain(&self, start: u32, limit: u64) -> (Vec<u32>, Option<String>) {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut c = start;
        loop {
            if !self.is_valid_cluster(c) {
                return (out, Some(format!("cluster {c} is outside the volume")));
            }
            if !seen.insert(c) {
                return (out, Some(format!("chain loops back to cluster {c}")));
            }
            out.push(c);
            if out.len() as u64 >= limit {
                return (out, None);
            }
            match self.link(c) {
                Link::Next(n) => c = n,
                Link::End => return (out, None),
                Link::Free => {
                    return (out, Some(format!("chain runs into free cluster after {c}")))
                }
                Link::Bad => {
                    return (
                        out,
                        Some(format!("chain runs into a cluster marked bad after {c}")),
                    )
                }
                Link::Invalid(v) => {
                    return (
                        out,
                        Some(format!("cluster {c} links to invalid value {v:#x}")),
                    )
                }
            }
        }
    }
}
