//! The file allocation table, assembled from all copies: a sector of the first FAT
//! that is unreadable, or wiped while another copy is not, is taken from another
//! copy, and every such choice is a finding. Where the copies differ otherwise,
//! both are kept and each chain is chosen by consistency when it is followed
//! ([`Table::pick`]): the chain that ends in end-of-chain after exactly the
//! clusters the file's size needs, from the first copy, the second, or the two
//! merged link by link.

use crate::bpb::{Bpb, FatType};
use dredge_core::{Finding, VolumeReader};

/// Largest FAT we load (a FAT32 volume of 2 TiB with 4 KiB clusters needs 2 GiB;
/// anything above this is treated as damage).
pub const FAT_BUDGET: u64 = 1 << 30;

/// Walks tried when merging two FAT copies link by link (each a choice at
/// the clusters where both copies' links could continue a chain).
const MERGES: u32 = 64;

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
    /// The other FAT copy (its number from 0, its bytes) when it differs
    /// from the one used first.
    other: Option<(u32, Vec<u8>)>,
    ty: FatType,
    clusters: u64,
    /// Links the other copy's and merged walks may still take, for the whole
    /// volume: damage crafted so every entry forks its chain at many places
    /// must not cost MERGES walks of every file.
    merge_budget: std::sync::atomic::AtomicU64,
}

/// Links walked in the other copy and in merges, per volume.
const MERGE_BUDGET: u64 = 1 << 26;

/// Where a chain came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFrom {
    /// The first (active) FAT copy.
    First,
    /// The other copy (number from 0), whose chain fits where the first's
    /// does not.
    Other(u32),
    /// The two copies link by link: where one holds an impossible link, the
    /// other's.
    Merged(u32),
}

/// A chain followed for a file or directory.
pub struct Picked {
    pub clusters: Vec<u32>,
    /// What stopped the walk of the first copy early (`None`: a clean end).
    pub stop: Option<String>,
    pub from: ChainFrom,
    /// Whether it ends in end-of-chain (for a file, after exactly the
    /// clusters its size needs).
    pub fits: bool,
}

/// One walk: the clusters, what stopped it early, and whether it reached an
/// end-of-chain mark (rather than the limit).
struct Walk {
    clusters: Vec<u32>,
    stop: Option<String>,
    ended: bool,
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
                // A zeroed sector is taken from the other copy only when that
                // copy's holds at least two entries: one stray nonzero entry in
                // free space is more likely damage to the other copy than a
                // wiped sector of this one (chains still choose per chain).
                let word = if b.fat_type == FatType::Fat32 { 4 } else { 2 };
                let other_wiped = other[range.clone()]
                    .chunks(word)
                    .filter(|w| w.iter().any(|&x| x != 0))
                    .count()
                    < 2;
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
        let mut other = None;
        if differing > 0 {
            let n = copies.first().map_or(1, |c| c.0);
            findings.push(Finding::new(
                base,
                format!("{differing} sectors differ between the FAT copies; each chain is taken from FAT {} unless only FAT {}'s fits its file", first + 1, n + 1),
            ));
            other = copies.into_iter().next().map(|(n, _, v, _)| (n, v));
        }
        // Entry 0 carries the media byte; its absence in the result is worth saying.
        let t = Table {
            bytes,
            other,
            ty: b.fat_type,
            clusters: b.cluster_count(),
            merge_budget: std::sync::atomic::AtomicU64::new(MERGE_BUDGET),
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
        self.raw_in(&self.bytes, c)
    }

    fn raw_in(&self, b: &[u8], c: u32) -> u32 {
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
        self.decode(self.raw(c))
    }

    fn decode(&self, v: u32) -> Link {
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

    /// A bit per cluster: set where a FAT link (in either copy) or an entry
    /// in `starts` names it. An allocated cluster whose bit is clear heads a
    /// chain whose entry is lost or names another cluster by damage.
    pub fn linked(&self, starts: &[u32]) -> Vec<u64> {
        let max = self.max_cluster();
        let mut bits = vec![0u64; max as usize / 64 + 1];
        let mut set = |n: u32| {
            if let Some(w) = bits.get_mut(n as usize / 64) {
                *w |= 1 << (n % 64);
            }
        };
        for c in 2..=max {
            if let Link::Next(n) = self.link(c) {
                set(n);
            }
            if let Some((_, other)) = &self.other {
                if let Link::Next(n) = self.decode(self.raw_in(other, c)) {
                    set(n);
                }
            }
        }
        for &s in starts {
            set(s);
        }
        bits
    }

    /// Follows a chain from `start` in the first copy, at most `limit`
    /// clusters. Returns the clusters and what stopped the walk (`None` = a
    /// clean end of chain or the limit).
    pub fn chain(&self, start: u32, limit: u64) -> (Vec<u32>, Option<String>) {
        let w = self.walk(start, limit, |_, c| self.link(c));
        (w.clusters, w.stop)
    }

    fn walk(&self, start: u32, limit: u64, link: impl Fn(usize, u32) -> Link) -> Walk {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut c = start;
        let stop = |out: Vec<u32>, why: String| Walk {
            clusters: out,
            stop: Some(why),
            ended: false,
        };
        loop {
            if !self.is_valid_cluster(c) {
                return stop(out, format!("cluster {c} is outside the volume"));
            }
            if !seen.insert(c) {
                return stop(out, format!("chain loops back to cluster {c}"));
            }
            out.push(c);
            if out.len() as u64 >= limit {
                return Walk {
                    clusters: out,
                    stop: None,
                    ended: false,
                };
            }
            match link(out.len(), c) {
                Link::Next(n) => c = n,
                Link::End => {
                    return Walk {
                        clusters: out,
                        stop: None,
                        ended: true,
                    }
                }
                Link::Free => return stop(out, format!("chain runs into free cluster after {c}")),
                Link::Bad => {
                    return stop(
                        out,
                        format!("chain runs into a cluster marked bad after {c}"),
                    )
                }
                Link::Invalid(v) => {
                    return stop(out, format!("cluster {c} links to invalid value {v:#x}"))
                }
            }
        }
    }

    /// The chain of a file that needs `need` clusters (`None` for a
    /// directory, whose size the FAT alone gives), at most `limit` long.
    /// A chain fits when it reaches end-of-chain, for a file after exactly
    /// `need` clusters. The first copy's chain is taken when it fits or when
    /// the copies agree; else the other copy's, else the two merged link by
    /// link (at each cluster where they differ, the link that can continue
    /// the chain: a cluster not yet in it while clusters are missing, the end
    /// once none are); else the first copy's, cut to `need`, as it is.
    pub fn pick(&self, start: u32, need: Option<u64>, limit: u64) -> Picked {
        // A file's walk goes one past its need, to see a chain that is too long.
        let cap = need.map_or(limit, |n| n.saturating_add(1));
        let fits = |w: &Walk| w.ended && need.is_none_or(|n| w.clusters.len() as u64 == n);
        let first = self.walk(start, cap, |_, c| self.link(c));
        let done = |mut w: Walk, from: ChainFrom| {
            let fits = fits(&w);
            if let Some(n) = need {
                w.clusters.truncate(n.min(usize::MAX as u64) as usize);
            }
            Picked {
                clusters: w.clusters,
                stop: w.stop,
                from,
                fits,
            }
        };
        let Some((n, other)) = self.other.as_ref().filter(|_| !fits(&first)) else {
            return done(first, ChainFrom::First);
        };
        // Takes a walk's length from the budget; false once it is spent.
        let spend = |w: &Walk| {
            use std::sync::atomic::Ordering::Relaxed;
            let n = w.clusters.len() as u64;
            self.merge_budget
                .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(n)))
                .is_ok_and(|b| b > n)
        };
        if self.merge_budget.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return done(first, ChainFrom::First);
        }
        let second = self.walk(start, cap, |_, c| self.decode(self.raw_in(other, c)));
        let more = spend(&second);
        if fits(&second) {
            return done(second, ChainFrom::Other(*n));
        }
        // Merged: at each cluster where the copies disagree and both links
        // could continue the chain, a choice; the walks try the choices in
        // order of preference (the link to the next cluster, then the first
        // copy's), at most MERGES of them, and the first that fits wins.
        let score = |l: Link, c: u32, len: usize| -> u8 {
            let want_end = need.is_some_and(|n| len as u64 >= n);
            match l {
                Link::End if want_end || need.is_none() => 2,
                Link::Next(n) if !want_end && n == c.wrapping_add(1) => 3,
                Link::Next(_) if !want_end => 2,
                _ => 0,
            }
        };
        let mut merged = None;
        let mut choices = 1u32;
        let mut mask = 0u32;
        while more && mask < choices.min(MERGES) {
            let seen = std::cell::Cell::new(0u32);
            let w = self.walk(start, cap, |len, c| {
                let (a, b) = (self.link(c), self.decode(self.raw_in(other, c)));
                if a == b {
                    return a;
                }
                let (sa, sb) = (score(a, c, len), score(b, c, len));
                let (best, alt) = if sb > sa { (b, a) } else { (a, b) };
                if sa == 0 || sb == 0 {
                    return best;
                }
                let i = seen.get();
                seen.set(i + 1);
                if i < 32 && mask >> i & 1 == 1 {
                    alt
                } else {
                    best
                }
            });
            choices = choices.max(1u32.checked_shl(seen.get()).unwrap_or(u32::MAX));
            let more = spend(&w);
            if fits(&w) {
                merged = Some(w);
                break;
            }
            if !more {
                break;
            }
            mask += 1;
        }
        if let Some(merged) = merged {
            return done(merged, ChainFrom::Merged(*n));
        }
        done(first, ChainFrom::First)
    }
}
