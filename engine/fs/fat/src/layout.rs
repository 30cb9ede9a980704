//! Where a file's clusters are when the FAT does not say: deleted files and
//! folders (whose chains were cleared), and live files whose start cluster
//! was damaged.

use crate::dir::RawEntry;
use crate::joint::Plan;
use crate::table::{self, Link};
use crate::{FatFs, FatType};
use dredge_core::Recovery;

impl FatFs {
    /// Clusters of a deleted file: the FAT chain was cleared on deletion, so assume
    /// the file was contiguous, skipping clusters now allocated to others.
    pub(crate) fn deleted_layout(&self, e: &RawEntry, plan: Option<&Plan>) -> (Vec<u32>, Recovery) {
        let cs = self.bpb.cluster_size();
        let need = u64::from(e.size).div_ceil(cs);
        if e.size == 0 {
            return (Vec::new(), Recovery::Intact);
        }
        let start = e.start_cluster;
        if start == 0 {
            return (
                Vec::new(),
                Recovery::NotRecoverable("the entry's start cluster is 0".into()),
            );
        }
        if !self.fat.is_valid_cluster(start) {
            return (
                Vec::new(),
                Recovery::NotRecoverable(format!("start cluster {start} is outside the volume")),
            );
        }
        if !self.fat.is_free(start) {
            // Either the chain was left in place (some drivers do) or reused.
            let (chain, stop) = self.fat.chain(start, need);
            if stop.is_none()
                && chain.len() as u64 == need
                && self.fat.link(*chain.last().unwrap_or(&start)) == Link::End
            {
                return (chain, Recovery::Assumed("the FAT chain from the start cluster is still in place (it may belong to a newer file)".into()));
            }
            return (
                self.contiguous(start, need, false),
                Recovery::Overwritten(format!("start cluster {start} is allocated again")),
            );
        }
        if let Some((clusters, how)) = plan.and_then(|p| p.layout(start, need)) {
            if clusters.len() as u64 == need {
                return (clusters, Recovery::Assumed(how.to_string()));
            }
        }
        let clusters = self.contiguous(start, need, true);
        if (clusters.len() as u64) < need {
            return (
                clusters,
                Recovery::Overwritten("not enough free clusters after the start cluster".into()),
            );
        }
        if need == 1 {
            return (clusters, Recovery::Intact);
        }
        let skipped = clusters
            .last()
            .map_or(0, |&l| u64::from(l - start) + 1 - need);
        let how = if skipped == 0 {
            "contiguous clusters from the start cluster (the FAT chain was cleared)".to_string()
        } else {
            format!("free clusters from the start cluster, skipping {skipped} allocated ones (the FAT chain was cleared)")
        };
        (clusters, Recovery::Assumed(how))
    }

    /// The one orphan chain head (an allocated cluster nothing in `linked`
    /// names, see [`Table::linked`]) whose number differs from `start` in a
    /// single byte and whose chain fits a file of `need` clusters, with that
    /// chain; `None` unless exactly one does.
    pub(crate) fn head_for(
        &self,
        linked: &[u64],
        start: u32,
        need: u64,
    ) -> Option<(u32, table::Picked)> {
        let bytes = if self.bpb.fat_type == FatType::Fat32 {
            4
        } else {
            2
        };
        let mut found = None;
        for b in 0..bytes {
            for v in 0..=255u32 {
                let h = (start & !(0xFF << (8 * b))) | (v << (8 * b));
                let named = linked
                    .get(h as usize / 64)
                    .is_none_or(|w| w >> (h % 64) & 1 == 1);
                if h == start || h < 2 || named || self.fat.is_free(h) {
                    continue;
                }
                let q = self.fat.pick(h, Some(need), need);
                if q.fits {
                    if found.is_some() {
                        return None;
                    }
                    found = Some((h, q));
                }
            }
        }
        found
    }

    fn contiguous(&self, start: u32, need: u64, skip_allocated: bool) -> Vec<u32> {
        let mut out = Vec::new();
        let mut c = start;
        while (out.len() as u64) < need && c <= self.fat.max_cluster() {
            if !skip_allocated || self.fat.is_free(c) || c == start {
                out.push(c);
            }
            c += 1;
        }
        out
    }

    /// A deleted directory's clusters: its first cluster, if it still holds a
    /// directory (its "." entry points to itself).
    pub(crate) fn deleted_dir(&self, e: &RawEntry) -> (Vec<u32>, Recovery) {
        let c = e.start_cluster;
        if !self.fat.is_valid_cluster(c) {
            return (
                Vec::new(),
                Recovery::NotRecoverable(format!("start cluster {c} is outside the volume")),
            );
        }
        let mut first = [0u8; 32];
        if self
            .vol
            .read_at(self.bpb.cluster_offset(c), &mut first)
            .is_err()
        {
            return (
                Vec::new(),
                Recovery::NotRecoverable("first cluster unreadable".into()),
            );
        }
        if crate::dir::self_dot(&first, c, self.bpb.fat_type == FatType::Fat32) {
            let how = if self.fat.is_free(c) {
                Recovery::Assumed("first cluster only (the FAT chain was cleared)".into())
            } else {
                Recovery::Intact
            };
            (vec![c], how)
        } else {
            (
                Vec::new(),
                Recovery::Overwritten(format!("cluster {c} no longer holds this directory")),
            )
        }
    }

    /// A live file whose size field does not fit its chain: the chain from
    /// `start` when it is whole (ends in end-of-chain, in the copy `pick`
    /// chooses) and exactly one value differing from `size` in a single byte
    /// needs its cluster count, with that value and the byte's index. None
    /// when several do (a damaged low byte: the size within the last cluster
    /// is lost) or the chain is not whole. The links followed are taken from
    /// `budget`, so a volume of damaged entries costs at most that.
    pub(crate) fn size_for(
        &self,
        start: u32,
        size: u64,
        budget: &std::cell::Cell<u64>,
    ) -> Option<(u64, u64, table::Picked)> {
        let cs = self.bpb.cluster_size();
        // The largest size one byte away needs at most this many clusters.
        let most = (0..4)
            .map(|b| size | 0xFF << (8 * b))
            .max()
            .unwrap_or(size)
            .min(u64::from(u32::MAX))
            .div_ceil(cs)
            + 1;
        let limit = most.min(budget.get());
        if limit == 0 {
            return None;
        }
        let p = self.fat.pick(start, None, limit);
        budget.set(budget.get().saturating_sub(p.clusters.len() as u64));
        if !p.fits || p.stop.is_some() || p.clusters.is_empty() {
            return None;
        }
        let m = p.clusters.len() as u64;
        let fits = (m - 1) * cs + 1..=m * cs;
        let mut found = None;
        for b in 0..4u64 {
            for v in 0..=0xFFu64 {
                let s = size & !(0xFF << (8 * b)) | v << (8 * b);
                if s != size && fits.contains(&s) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some((s, b));
                }
            }
        }
        found.map(|(s, b)| (s, b, p))
    }
}
