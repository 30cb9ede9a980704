//! Folders no entry names (issue 14). exFAT folders have no "." or ".."
//! entries, so a folder whose own entry set is lost — a zeroed or damaged
//! root directory, a parent's cluster overwritten — is found by its content:
//! a cluster no walked entry reaches whose first slot begins an entry set (a
//! file entry, a stream extension, names) whose checksum holds. Such
//! clusters that no other one names as a subfolder are read as
//! `/$OrphanFiles/cluster-N` with everything below them.
//!
//! Which clusters are looked at: those the allocation bitmap marks in use
//! and no walk reached — none on a healthy volume, so it costs no reads.
//! When the bitmap itself is lost (it is named by the root directory), every
//! cluster no walk reached is looked at: one 32-byte read each, only on such
//! a volume, and said in a finding.

use crate::entries::{parse_dir, set_checksum};
use crate::{read, ExFatFs, MAX_DIR_BYTES};
use dredge_core::bytes::le16;
use dredge_core::dirqueue::DirQueue;
use dredge_core::{Entry, EntryKind, Finding, Recovery};
use std::collections::HashSet;

/// Lost folders examined at most.
const MAX_HEADS: usize = 1 << 16;
/// Ids of lost folders' own entries: this bit with the cluster (entry sets
/// use their slot's offset / 32, which a folder's first cluster shares with
/// its first entry).
const LOST_ID: u64 = 1 << 62;

/// One bit per cluster: reached by the walk. Sized to the FAT as read (at
/// most 1 GiB of it), whatever the boot sector claims.
pub(crate) struct Reached(Vec<u64>);

impl Reached {
    pub(crate) fn new(clusters: u64, fat_entries: u64) -> Reached {
        Reached(vec![0; (clusters.min(fat_entries) / 64 + 1) as usize])
    }
    pub(crate) fn mark(&mut self, c: u64) {
        if let Some(w) = self.0.get_mut((c / 64) as usize) {
            *w |= 1 << (c % 64);
        }
    }
    pub(crate) fn has(&self, c: u64) -> bool {
        self.0
            .get((c / 64) as usize)
            .is_none_or(|w| w >> (c % 64) & 1 == 1)
    }
}

impl ExFatFs {
    /// Whether cluster `c` begins with an entry set whose checksum holds
    /// (in use, or deleted with its in-use bits restored).
    fn starts_entry_set(&self, c: u64) -> bool {
        let at = self.cluster_offset(c);
        let Some(e) = read(&self.vol, at, 32) else {
            return false;
        };
        let sec = e[1] as usize;
        if e[0] & 0x7F != 0x05 || !(2..=18).contains(&sec) {
            return false;
        }
        let Some(mut set) = read(&self.vol, at, 32 * (1 + sec as u64)) else {
            return false;
        };
        if set[32] & 0x7F != 0x40 {
            return false;
        }
        for k in 0..=sec {
            set[k * 32] |= 0x80;
        }
        set_checksum(&set) == le16::<u64>(&set, 2) as u16
    }

    /// A lost folder's clusters: its FAT chain when the FAT links its first
    /// cluster, else (NoFatChain) contiguous clusters up to the one holding
    /// the end-of-directory mark, none reached, none free in the bitmap.
    fn lost_clusters(&self, head: u64, reached: &Reached) -> Vec<u64> {
        let cs = self.boot.cluster;
        if self.fat.get(head as usize).is_some_and(|&l| l != 0) {
            return self.chain(head, MAX_DIR_BYTES / cs + 1).0;
        }
        let have_bitmap = !self.bitmap().is_empty();
        let mut out = Vec::new();
        let mut c = head;
        while self.valid_cluster(c) && (out.len() as u64) < MAX_DIR_BYTES / cs {
            if c != head && (reached.has(c) || (have_bitmap && !self.allocated(c))) {
                break;
            }
            out.push(c);
            let Some(b) = read(&self.vol, self.cluster_offset(c), cs) else {
                break;
            };
            if b.chunks_exact(32).any(|e| e[0] == 0) {
                break;
            }
            c += 1;
        }
        out
    }

    /// Finds folders no entry names and reads them (and what they hold) under
    /// `/$OrphanFiles/cluster-N`.
    pub(crate) fn lost_folders(
        &self,
        queue: &mut DirQueue<u64, (String, usize, u64)>,
        reached: &mut Reached,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let have_bitmap = !self.bitmap().is_empty();
        let last = (self.boot.cluster_count + 2).min(self.fat.len() as u64);
        let in_image = |c: u64| self.cluster_offset(c) + 32 <= self.vol.len();
        let mut heads = Vec::new();
        for c in 2..last {
            if !in_image(c) {
                break;
            }
            if reached.has(c) || (have_bitmap && !self.allocated(c)) {
                continue;
            }
            if !self.starts_entry_set(c) {
                continue;
            }
            if heads.len() == MAX_HEADS {
                findings.push(Finding::new(
                    self.vol.base() + self.cluster_offset(c),
                    format!("more than {MAX_HEADS} clusters begin folders no entry names; those from cluster {c} on were not examined"),
                ));
                break;
            }
            heads.push(c);
        }
        if heads.is_empty() {
            return;
        }
        // A lost folder another lost folder names is reached through it.
        let mut lost: Vec<(u64, Vec<u64>)> = Vec::new();
        let mut named: HashSet<u64> = HashSet::new();
        for &h in &heads {
            let cl = self.lost_clusters(h, reached);
            let (sets, _) = parse_dir(&self.read_clusters(&cl, u64::MAX));
            for s in sets.iter().filter(|s| s.attrs & 0x10 != 0) {
                if let Some(st) = &s.stream {
                    named.insert(st.first_cluster);
                }
            }
            lost.push((h, cl));
        }
        // Tops first; then any left unread (folders naming each other in a loop).
        let (tops, rest): (Vec<_>, Vec<_>) =
            lost.into_iter().partition(|(h, _)| !named.contains(h));
        let mut read = 0usize;
        for round in [tops, rest] {
            for (h, cl) in round {
                if reached.has(h) {
                    continue;
                }
                read += 1;
                let path = format!("/$OrphanFiles/cluster-{h}");
                let meta = self.vol.base() + self.cluster_offset(h);
                visit(Entry {
                    id: LOST_ID | h,
                    path: path.clone(),
                    other_names: Vec::new(),
                    kind: EntryKind::Directory,
                    deleted: false,
                    size: 0,
                    times: Vec::new(),
                    runs: Vec::new(),
                    recovery: Recovery::Allocated,
                    meta_offset: meta,
                });
                queue.push(false, cl, (path, 1, meta));
                self.drain(queue, reached, visit, findings);
            }
        }
        let looked = if have_bitmap {
            "clusters the allocation bitmap marks in use that no entry reaches"
        } else {
            "clusters no entry reaches (the allocation bitmap is lost with the root directory, so all of them were looked at)"
        };
        findings.push(Finding::new(
            self.vol.base(),
            format!("{read} folders whose own entries are lost found by the entry set their first cluster begins with, among {looked}; their names are lost, read under /$OrphanFiles/cluster-N"),
        ));
    }
}
