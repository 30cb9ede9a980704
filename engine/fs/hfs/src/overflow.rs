//! The extents overflow file (TN1150): a fork's extents past the eight its
//! own record holds. A live file's come from the live tree. A deleted file's
//! records left the tree with it (xnu's `DeallocateFork`), so they come from
//! where the catalog's deleted records come from: the tree's leaf copies in
//! the journal, and its nodes the tree let go.

use crate::btree::{Tree, TreeShape};
use crate::fork::{Fork, MAX_EXTENTS};
use crate::{be32, HfsFs};
use std::collections::{BTreeMap, HashMap};

/// Extent descriptors: (first block, block count).
pub(crate) type Extents = Vec<(u32, u32)>;

/// Overflow extent records: (file, fork type) → (first block of the record,
/// its extents), in first-block order.
pub(crate) type Overflow = HashMap<(u32, u8), Vec<(u32, Extents)>>;

/// One extents overflow record.
pub(crate) struct ExtRecord {
    /// (file, fork type 0 data / 0xFF resource).
    pub fork: (u32, u8),
    /// The fork's blocks before the record's first extent.
    pub start: u32,
    pub extents: Extents,
}

/// Records of deleted forks kept at most (a forged journal cannot make them
/// unbounded).
const MAX_GONE: usize = 1 << 20;

/// The extents of a record's data: its descriptors up to the first empty one.
fn descriptors(d: &[u8]) -> Extents {
    (0..8)
        .map(|i| (be32(d, 8 * i), be32(d, 8 * i + 4)))
        .take_while(|e| e.1 != 0)
        .collect()
}

/// A record found outside the live tree, when it has the exact shape of an
/// extents overflow record (key: length 10, fork type 0 or 0xFF, pad 0, file,
/// first block; data: eight descriptors) and its extents lie in the volume's
/// `total` blocks. No catalog or attributes record has a 10-byte key and 64
/// bytes of data.
pub(crate) fn stale_record(k: &[u8], d: &[u8], total: u32) -> Option<ExtRecord> {
    if k.len() != 10 || d.len() != 64 || !matches!(k[0], 0 | 0xFF) || k[1] != 0 {
        return None;
    }
    let ext = descriptors(d);
    let inside = ext
        .iter()
        .all(|&(s, n)| u64::from(s) + u64::from(n) <= u64::from(total));
    (!ext.is_empty() && inside).then(|| ExtRecord {
        fork: (be32(k, 2), k[0]),
        start: be32(k, 6),
        extents: ext,
    })
}

/// Deleted forks' overflow records gathered from every copy found. Of several
/// copies of one record (file, fork, first block), the one that covers the
/// most blocks (a fork grows more often than it shrinks, so that is its last
/// state), then the earliest on the volume: the result does not depend on the
/// order the copies are read in.
#[derive(Default)]
pub(crate) struct Gone {
    /// (file, fork type, first block) → the copy kept.
    found: BTreeMap<(u32, u8, u32), Kept>,
}

struct Kept {
    blocks: u64,
    /// Volume offset of the copy.
    at: u64,
    extents: Extents,
}

impl Gone {
    pub fn push(&mut self, r: ExtRecord, at: u64) {
        let blocks: u64 = r.extents.iter().map(|e| u64::from(e.1)).sum();
        let new = Kept {
            blocks,
            at,
            extents: r.extents,
        };
        let room = self.found.len() < MAX_GONE;
        match self.found.entry((r.fork.0, r.fork.1, r.start)) {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let old = o.get();
                if blocks > old.blocks || (blocks == old.blocks && at < old.at) {
                    o.insert(new);
                }
            }
            std::collections::btree_map::Entry::Vacant(v) if room => {
                v.insert(new);
            }
            std::collections::btree_map::Entry::Vacant(_) => {}
        }
    }

    pub fn len(&self) -> usize {
        self.found.len()
    }

    pub fn into_overflow(self) -> Overflow {
        let mut map = Overflow::new();
        for ((file, kind, start), k) in self.found {
            map.entry((file, kind))
                .or_default()
                .push((start, k.extents));
        }
        map
    }
}

impl HfsFs {
    /// Reads the live extents overflow tree's records, and notes its shape
    /// and live leaves (its other nodes and its journal copies may hold
    /// deleted forks' records).
    pub(crate) fn read_overflow(&mut self) {
        if self.head.extents.logical_size == 0 {
            return;
        }
        let tree = match Tree::open(
            &self.vol,
            self.head.extents.clone(),
            self.head.block,
            "extents file",
        ) {
            Ok(t) => t,
            Err(f) => {
                self.findings.push(f);
                return;
            }
        };
        let mut map = Overflow::new();
        let mut n = 0usize;
        let live = tree.leaves(
            "extents file",
            &mut |r| {
                // Key: length 10: fork type, pad, file, first block.
                if r.key.len() < 10 || r.data.len() < 64 || n >= MAX_EXTENTS {
                    return n < MAX_EXTENTS;
                }
                n += 1;
                map.entry((be32(&r.key, 2), r.key[0]))
                    .or_default()
                    .push((be32(&r.key, 6), descriptors(&r.data)));
                true
            },
            &mut self.findings,
        );
        self.overflow = map;
        self.ext_tree = TreeShape {
            shape: Some((tree.node_size, tree.total_nodes)),
            live,
        };
    }

    /// `fork` of `file` with the overflow extents that continue it: the live
    /// tree's records, else (a deleted file's) those found outside it.
    pub(crate) fn complete(&self, mut fork: Fork, file: u32, kind: u8) -> Fork {
        if fork.blocks() >= u64::from(fork.total_blocks) {
            return fork;
        }
        let recs = self
            .overflow
            .get(&(file, kind))
            .or_else(|| self.gone_overflow.get()?.get(&(file, kind)));
        if let Some(recs) = recs {
            while fork.blocks() < u64::from(fork.total_blocks) && fork.extents.len() < MAX_EXTENTS {
                let have = fork.blocks();
                let Some((_, ext)) = recs.iter().find(|(start, _)| u64::from(*start) == have)
                else {
                    break;
                };
                if ext.is_empty() {
                    break;
                }
                fork.extents.extend_from_slice(ext);
            }
        }
        fork
    }
}
