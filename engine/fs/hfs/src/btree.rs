//! HFS+ B-trees (catalog, extents overflow): a special file laid out by its
//! fork, read node by node. Node 0 holds the header record (node size, root,
//! first leaf, node count); leaf nodes are chained by their forward links.
//! Everything is checked before use: a node's record offsets must rise inside
//! it, a link must name a node of the tree not yet visited, so a damaged or
//! cyclic chain ends the chain, never the walk (the remaining nodes are then
//! scanned for leaf nodes, with a finding).

use crate::be32;
use crate::fork::Fork;
use dredge_core::bytes::be16;
use dredge_core::{Finding, VolumeReader};

/// Node sizes HFS+ allows.
const NODE_SIZES: std::ops::RangeInclusive<usize> = 512..=32_768;
/// Nodes read at most from one tree (a 4 GiB catalog of 8 KiB nodes).
const MAX_NODES: u32 = 1 << 19;

pub(crate) struct Tree<'a> {
    vol: &'a VolumeReader,
    fork: Fork,
    block: u64,
    pub node_size: usize,
    pub first_leaf: u32,
    pub total_nodes: u32,
    /// Why the header node was not used (unreadable or damaged), its node
    /// size then taken from the other nodes: the leaves are read in node
    /// order.
    header: Option<String>,
}

/// What reading a tree's live leaves learns of it besides its records.
#[derive(Default)]
pub(crate) struct TreeShape {
    /// Node size and node count (the shape of its node copies in the
    /// journal), when it opened.
    pub shape: Option<(usize, u32)>,
    /// The nodes read as live leaves (the others may hold records the tree
    /// let go).
    pub live: Vec<bool>,
}

/// A leaf record: its key and its data, copied out of the node.
pub(crate) struct Record {
    pub key: Vec<u8>,
    pub data: Vec<u8>,
    /// Volume offset of the record, for findings and `meta_offset`.
    pub at: u64,
}

impl<'a> Tree<'a> {
    /// Opens the tree whose file is `fork`; `what` names it in findings.
    pub fn open(
        vol: &'a VolumeReader,
        fork: Fork,
        block: u64,
        what: &str,
    ) -> Result<Self, Finding> {
        Self::from_header(vol, fork.clone(), block, what)
            .or_else(|f| Self::inferred(vol, fork, block, f.what.clone()).ok_or(f))
    }

    /// The tree as its header node (node 0) describes it.
    fn from_header(
        vol: &'a VolumeReader,
        fork: Fork,
        block: u64,
        what: &str,
    ) -> Result<Self, Finding> {
        let mut head = [0u8; 512];
        let at = fork.volume_offset(0, block).unwrap_or(0);
        if fork.read(vol, block, 0, &mut head).is_none() {
            return Err(Finding::new(
                vol.base() + at,
                format!("HFS+ {what} header node unreadable"),
            ));
        }
        if head[8] != 1 {
            return Err(
                Finding::new(vol.base() + at + 8, format!("HFS+ {what} header node"))
                    .expected("kind 1 (header)", head[8] as i8),
            );
        }
        let r = &head[14..];
        let node_size = usize::from(be16::<u16>(r, 18));
        if !NODE_SIZES.contains(&node_size) || !node_size.is_power_of_two() {
            return Err(
                Finding::new(vol.base() + at + 32, format!("HFS+ {what} node size"))
                    .expected("512 to 32768, a power of two", node_size),
            );
        }
        let total_nodes = be32(r, 22);
        if u64::from(total_nodes) * node_size as u64 > fork.logical_size.max(node_size as u64) {
            return Err(
                Finding::new(vol.base() + at + 36, format!("HFS+ {what} node count")).expected(
                    format!(
                        "at most {} nodes in its file",
                        fork.logical_size / node_size as u64
                    ),
                    total_nodes,
                ),
            );
        }
        Ok(Tree {
            vol,
            fork,
            block,
            node_size,
            first_leaf: be32(r, 10),
            total_nodes: total_nodes.min(MAX_NODES),
            header: None,
        })
    }

    /// The tree without its header node (`why`: what was wrong with it):
    /// the node size is the one for which most of nodes 1 to 8 read as
    /// nodes (a leaf, index or map node at its height, with records whose
    /// offsets rise inside it, the first at 14, just past the descriptor),
    /// the larger on a tie. A bad sector on node 0 then costs node 0, not
    /// every file of the volume.
    fn inferred(vol: &'a VolumeReader, fork: Fork, block: u64, why: String) -> Option<Self> {
        let mut best = (0usize, 0usize);
        let mut size = *NODE_SIZES.start();
        while size <= *NODE_SIZES.end() {
            let nodes = fork.logical_size / size as u64;
            let mut good = 0;
            for n in 1..nodes.min(9) {
                let mut b = vec![0u8; size];
                if fork.read(vol, block, n * size as u64, &mut b).is_none() {
                    continue;
                }
                // A leaf at height 1, an index node above it, a map node at
                // height 0; each with records (half of a header node, its
                // map record's zeros, would pass for an empty index node).
                let (kind, height) = (b[8] as i8, b[9]);
                let shaped = matches!((kind, height), (-1, 1) | (0, 2..=16) | (2, 0));
                if shaped
                    && be16::<u16>(&b, 10) > 0
                    && be16::<u16>(&b, size - 2) == 14
                    && ranges(&b, size).is_some()
                {
                    good += 1;
                }
            }
            // On a tie the larger size: half of a real node can pass by
            // chance (its first half read as a node), a node of twice the
            // size only where the real nodes after it are in use.
            if good > 0 && good >= best.1 {
                best = (size, good);
            }
            size *= 2;
        }
        let (node_size, _) = best;
        (node_size > 0).then(|| Tree {
            vol,
            total_nodes: (fork.logical_size / node_size as u64).min(u64::from(MAX_NODES)) as u32,
            fork,
            block,
            node_size,
            first_leaf: 0,
            header: Some(why),
        })
    }

    /// Node `n`'s bytes and its volume offset, if it lies in the file and reads.
    fn node(&self, n: u32) -> Option<(Vec<u8>, u64)> {
        if n >= self.total_nodes {
            return None;
        }
        let off = u64::from(n) * self.node_size as u64;
        let mut b = vec![0u8; self.node_size];
        self.fork.read(self.vol, self.block, off, &mut b)?;
        let at = self.vol.base() + self.fork.volume_offset(off, self.block)?;
        Some((b, at))
    }

    fn node_ranges(&self, b: &[u8]) -> Option<Vec<(usize, usize)>> {
        ranges(b, self.node_size)
    }

    /// Every leaf record, in key order, while `visit` returns true: the leaf
    /// chain from the first leaf; if the chain breaks, the nodes not yet read
    /// that are leaves. Returns which nodes were read as live leaves.
    pub fn leaves(
        &self,
        what: &str,
        visit: &mut dyn FnMut(Record) -> bool,
        findings: &mut Vec<Finding>,
    ) -> Vec<bool> {
        let mut seen = vec![false; self.total_nodes as usize];
        let mut n = self.first_leaf;
        let mut broken = None;
        if let Some(why) = &self.header {
            findings.push(Finding::new(
                self.vol.base(),
                format!(
                    "{why}: its node size ({}) is taken from the other nodes, and its leaf nodes are read in node order",
                    self.node_size
                ),
            ));
            n = 0;
        }
        while n != 0 {
            let Some(slot) = seen.get_mut(n as usize) else {
                broken = Some(format!(
                    "a leaf link to node {n}, past the tree's {} nodes",
                    self.total_nodes
                ));
                break;
            };
            if *slot {
                broken = Some(format!("a leaf link back to node {n}"));
                break;
            }
            *slot = true;
            match self.leaf(n, visit) {
                Ok(None) => return seen,
                Ok(Some(next)) => n = next,
                Err(why) => {
                    // Not read: neither live nor a loop.
                    seen[n as usize] = false;
                    broken = Some(why);
                    break;
                }
            }
        }
        if let Some(why) = &broken {
            findings.push(Finding::new(
                self.vol.base(),
                format!("HFS+ {what}: leaf chain broken ({why}); the other leaf nodes are read in node order"),
            ));
        }
        if broken.is_some() || self.header.is_some() {
            for m in 1..self.total_nodes {
                if seen[m as usize] {
                    continue;
                }
                match self.leaf(m, visit) {
                    Ok(None) => {
                        seen[m as usize] = true;
                        return seen;
                    }
                    Ok(Some(_)) => seen[m as usize] = true,
                    Err(_) => {}
                }
            }
        }
        seen
    }

    /// The records of the leaf-shaped nodes `live` does not mark: nodes the
    /// tree freed or left, whose bytes macOS does not clear (a deleted
    /// record's bytes are cleared inside a live node, not when a whole node
    /// is let go).
    pub fn stale_leaves(&self, live: &[bool], visit: &mut dyn FnMut(Record)) {
        for m in 1..self.total_nodes {
            if live.get(m as usize).copied().unwrap_or(false) {
                continue;
            }
            let _ = self.leaf(m, &mut |r| {
                visit(r);
                true
            });
        }
    }

    /// Visits leaf node `n`'s records; its forward link (`None`: `visit`
    /// asked to stop).
    fn leaf(&self, n: u32, visit: &mut dyn FnMut(Record) -> bool) -> Result<Option<u32>, String> {
        let (b, at) = self.node(n).ok_or_else(|| format!("node {n} unreadable"))?;
        if b[8] as i8 != -1 || b[9] != 1 {
            return Err(format!(
                "node {n} is not a leaf (kind {}, height {})",
                b[8] as i8, b[9]
            ));
        }
        let ranges = self
            .node_ranges(&b)
            .ok_or_else(|| format!("node {n}'s record offsets"))?;
        for (s, e) in ranges {
            let Some((key, data)) = split_record(&b[s..e]) else {
                continue;
            };
            let go = visit(Record {
                key: key.to_vec(),
                data: data.to_vec(),
                at: at + s as u64,
            });
            if !go {
                return Ok(None);
            }
        }
        Ok(Some(be32(&b, 0)))
    }
}

/// The records of a node of `node_size` bytes, as byte ranges; `None` when
/// its offsets do not rise inside it.
pub(crate) fn ranges(b: &[u8], node_size: usize) -> Option<Vec<(usize, usize)>> {
    if b.len() < node_size || node_size < 14 {
        return None;
    }
    let n = usize::from(be16::<u16>(b, 10));
    let table = node_size.checked_sub(2 * (n + 1))?;
    if table < 14 {
        return None;
    }
    let off = |i: usize| usize::from(be16::<u16>(b, node_size - 2 * (i + 1)));
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (s, e) = (off(i), off(i + 1));
        if s < 14 || e < s || e > table {
            return None;
        }
        out.push((s, e));
    }
    Some(out)
}

/// A record's key and data (`None` when the key length runs past it).
pub(crate) fn split_record(r: &[u8]) -> Option<(&[u8], &[u8])> {
    if r.len() < 2 {
        return None;
    }
    let klen = usize::from(be16::<u16>(r, 0));
    let dstart = 2 + klen + (klen & 1);
    (dstart <= r.len()).then(|| (&r[2..2 + klen], &r[dstart..]))
}
