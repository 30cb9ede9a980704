//! The order a filesystem walk reads folders in, and the rule that bounds it.
//! Plainest claim first: live before deleted, then fewest clusters, then first
//! cluster, then the order met. A cluster is read as directory data once: a
//! folder whose chain runs into clusters a folder was already read from (a loop,
//! a deleted folder over a live one's clusters, crafted folders each claiming
//! the rest of the volume or chained through each other) is read up to there.
//! A walk so ordered reads at most the volume, holds one folder's data at a
//! time, and an honest folder is never crowded out by folders that claim more
//! (the hostile classes `fat-dir-bomb` and `exfat-dir-bomb`).

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;

/// The order of the queue: deleted, clusters claimed, first cluster, order met.
type Key<C> = (bool, usize, C, usize);

/// Folders found and not yet read; `T` is what the walk keeps of each (path,
/// depth, where its entry is).
pub struct DirQueue<C, T> {
    pending: BTreeMap<Key<C>, (Vec<C>, T)>,
    read: HashSet<C>,
    met: usize,
}

/// A folder whose turn has come.
pub struct Turn<C, T> {
    pub item: T,
    pub deleted: bool,
    /// The clusters to read: the chain up to the first one already read as a
    /// directory. Empty: the folder starts in another folder's clusters.
    pub clusters: Vec<C>,
    /// Where the chain was cut, if it was.
    pub cut_at: Option<C>,
}

impl<C: Copy + Ord + Hash, T> Default for DirQueue<C, T> {
    fn default() -> Self {
        DirQueue {
            pending: BTreeMap::new(),
            read: HashSet::new(),
            met: 0,
        }
    }
}

impl<C: Copy + Ord + Hash, T> DirQueue<C, T> {
    /// Clusters read as directory data outside the queue (a root read first).
    pub fn mark_read(&mut self, clusters: impl IntoIterator<Item = C>) {
        self.read.extend(clusters);
    }

    /// Whether cluster `c` was read as directory data (or is queued to be).
    pub fn was_read(&self, c: &C) -> bool {
        self.read.contains(c)
    }

    /// A folder found; one with no clusters is never read.
    pub fn push(&mut self, deleted: bool, clusters: Vec<C>, item: T) {
        let Some(&first) = clusters.first() else {
            return;
        };
        self.met += 1;
        self.pending
            .insert((deleted, clusters.len(), first, self.met), (clusters, item));
    }

    /// The next folder to read, its clusters cut where they were read before,
    /// and those clusters counted as read.
    pub fn take(&mut self) -> Option<Turn<C, T>> {
        let ((deleted, ..), (mut clusters, item)) = self.pending.pop_first()?;
        let fresh = clusters
            .iter()
            .take_while(|c| !self.read.contains(c))
            .count();
        let cut_at = clusters.get(fresh).copied();
        clusters.truncate(fresh);
        self.read.extend(clusters.iter().copied());
        Some(Turn {
            item,
            deleted,
            clusters,
            cut_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_claims_first_and_each_cluster_once() {
        let mut q: DirQueue<u32, &str> = DirQueue::default();
        q.mark_read([2]);
        // Three folders chained through each other, a deleted one over a live
        // one's cluster, a loop back to the root, an honest one.
        q.push(false, vec![10, 11, 12], "a");
        q.push(false, vec![11, 12], "b");
        q.push(false, vec![12], "c");
        q.push(true, vec![20], "gone");
        q.push(false, vec![20, 21], "live");
        q.push(false, vec![2, 30], "loop");
        q.push(false, vec![40], "honest");
        q.push(false, vec![], "empty");
        let mut order = Vec::new();
        while let Some(t) = q.take() {
            order.push((t.item, t.clusters, t.cut_at));
        }
        assert_eq!(
            order,
            vec![
                ("c", vec![12], None),
                ("honest", vec![40], None),
                ("loop", vec![], Some(2)),
                ("b", vec![11], Some(12)),
                ("live", vec![20, 21], None),
                ("a", vec![10], Some(11)),
                ("gone", vec![], Some(20)),
            ]
        );
    }
}
