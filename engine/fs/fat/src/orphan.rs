//! What is left of the tree when the entries naming it are lost: allocated
//! cluster chains that no FAT link and no directory entry names. A destroyed
//! root directory (FAT12/16 keep one copy, in a fixed place) or a damaged
//! entry leaves its folders' chains allocated and unnamed; such a chain whose
//! first cluster begins with a "." entry naming itself is a folder, and is
//! walked under `/$OrphanFiles/cluster-N`, its files and subfolders with it.
//! Any other unnamed chain is a file whose entry is lost (what chkdsk and
//! fsck call lost chains); its length is only known in whole clusters.
//! Only the first bytes of each unnamed chain's first cluster are read, so a
//! healthy volume (where every chain is named) costs no reads.

use crate::dir;
use crate::table::Link;
use crate::{FatFs, FatType};
use dredge_core::{Entry, EntryKind, Finding, Recovery};

/// Unnamed chains whose first cluster is read to tell folders from files.
const MAX_HEADS: usize = 1 << 16;

/// Unnamed chains found: folders and the first clusters of the others.
#[derive(Default)]
pub(crate) struct Orphans {
    pub dirs: Vec<LostDir>,
    pub chains: Vec<u32>,
}

/// A folder no entry names.
pub(crate) struct LostDir {
    pub cluster: u32,
    /// The cluster its ".." entry names; 0 for the root.
    pub parent: u32,
    /// Its "." entry's times: the folder's own, set when it was made.
    pub times: Vec<dredge_core::Timestamp>,
}

impl FatFs {
    /// The unnamed chains of the volume, given which clusters are named
    /// (`Table::linked` over every entry's start). Folders whose parent is
    /// not itself an unnamed folder come first, so a lost tree is walked from
    /// its top and its lower folders are reached through their entries.
    pub(crate) fn orphans(&self, linked: &[u64], findings: &mut Vec<Finding>) -> Orphans {
        let fat32 = self.bpb.fat_type == FatType::Fat32;
        let named = |c: u32| {
            linked
                .get(c as usize / 64)
                .is_none_or(|w| w >> (c % 64) & 1 == 1)
        };
        let mut heads = Vec::new();
        for c in 2..=self.fat.max_cluster() {
            if self.bpb.cluster_offset(c) + 64 > self.vol.len() {
                break;
            }
            if (fat32 && c == self.bpb.root_cluster)
                || named(c)
                || matches!(self.fat.link(c), Link::Free | Link::Bad)
            {
                continue;
            }
            if heads.len() == MAX_HEADS {
                findings.push(Finding::new(
                    self.abs(self.bpb.cluster_offset(c)),
                    format!("more than {MAX_HEADS} cluster chains are named by no directory entry; those from cluster {c} on were not examined"),
                ));
                break;
            }
            heads.push(c);
        }
        let mut out = Orphans::default();
        for c in heads {
            let mut first = [0u8; 64];
            let off = self.bpb.cluster_offset(c);
            let read = self.vol.read_at(off, &mut first);
            if read.is_ok_and(|r| r.len == 64) && dir::self_dot(&first, c, fat32) {
                out.dirs.push(LostDir {
                    cluster: c,
                    parent: dir::entry_cluster(&first[32..], fat32),
                    times: dir::entry_times(&first[..32]),
                });
            } else {
                out.chains.push(c);
            }
        }
        let dirs: std::collections::HashSet<u32> = out.dirs.iter().map(|d| d.cluster).collect();
        out.dirs
            .sort_by_key(|d| (dirs.contains(&d.parent), d.cluster));
        out
    }

    /// The clusters of the unnamed chain from `head` when it ends in an
    /// end-of-chain mark as a file's chain does; `None` when it runs into a
    /// free, bad or invalid link, or into a cluster an earlier unnamed chain
    /// took (`taken`, a bit per cluster), so a FAT of random bytes (whose
    /// links rarely end so) gives no lost files and crafted chains that merge
    /// cost each cluster once.
    pub(crate) fn orphan_chain(&self, head: u32, taken: &mut [u64]) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        let mut c = head;
        loop {
            let w = taken.get_mut(c as usize / 64)?;
            if *w >> (c % 64) & 1 == 1
                || !self.fat.is_valid_cluster(c)
                || self.bpb.cluster_offset(c) >= self.vol.len()
            {
                return None;
            }
            *w |= 1 << (c % 64);
            out.push(c);
            match self.fat.link(c) {
                Link::Next(n) => c = n,
                Link::End => return Some(out),
                _ => return None,
            }
        }
    }

    /// The entry for the unnamed folder at cluster `c` (its ".." names
    /// `parent`), and the clusters to read it from.
    pub(crate) fn orphan_dir(&self, d: &LostDir, findings: &mut Vec<Finding>) -> (Entry, Vec<u32>) {
        let (c, parent) = (d.cluster, d.parent);
        let cs = self.bpb.cluster_size();
        let path = format!("/$OrphanFiles/cluster-{c}");
        let meta = self.abs(self.bpb.cluster_offset(c));
        let p = self.fat.pick(c, None, crate::MAX_DIR_BYTES / cs + 1);
        self.chain_findings(&p, &path, "directory", meta, 0, findings);
        let was = if parent == 0 || parent == self.bpb.root_cluster {
            "the root directory".to_string()
        } else {
            format!("the folder at cluster {parent}")
        };
        findings.push(Finding::new(
            meta,
            format!("folder at cluster {c} is named by no directory entry (its \"..\" entry names {was} as its parent); its name is lost, read as {path}"),
        ));
        let size = p.clusters.len() as u64 * cs;
        let e = Entry {
            // The "." entry's slot: never another entry's, as "." is not one.
            id: (meta - self.vol.base()) / 32,
            path,
            other_names: Vec::new(),
            kind: EntryKind::Directory,
            deleted: false,
            size,
            times: d.times.clone(),
            runs: self.cluster_runs(&p.clusters, size),
            recovery: Recovery::Allocated,
            meta_offset: meta,
        };
        (e, p.clusters)
    }

    /// Unnamed chains that are not folders and end as a file's chain does, as
    /// files of whole clusters, and one finding for what was lost (`dirs`
    /// folders read as orphans).
    pub(crate) fn orphan_files(
        &self,
        dirs: usize,
        heads: &[u32],
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let cs = self.bpb.cluster_size();
        let mut taken = vec![0u64; self.fat.max_cluster() as usize / 64 + 1];
        let mut files = 0usize;
        for &h in heads {
            let Some(clusters) = self.orphan_chain(h, &mut taken) else {
                continue;
            };
            let meta = self.abs(self.bpb.cluster_offset(h));
            let size = clusters.len() as u64 * cs;
            files += 1;
            visit(Entry {
                // The first slot of a cluster no folder is read from.
                id: (meta - self.vol.base()) / 32,
                path: format!("/$OrphanFiles/chain-{h}"),
                other_names: Vec::new(),
                kind: EntryKind::File,
                deleted: false,
                size,
                times: Vec::new(),
                runs: self.cluster_runs(&clusters, size),
                recovery: Recovery::Allocated,
                meta_offset: meta,
            });
        }
        if dirs > 0 || files > 0 {
            findings.push(Finding::new(
                self.vol.base(),
                format!(
                    "{dirs} folders and {} other cluster chains ending as a file's does are allocated but named by no directory entry (their entries are lost or damaged); read under /$OrphanFiles, folders as cluster-N with what they hold, other chains as chain-N files of whole clusters (their true sizes are lost)",
                    files
                ),
            ));
        }
    }
}
