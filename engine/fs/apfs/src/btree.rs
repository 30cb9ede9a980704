//! APFS B-trees: nodes with a table of contents, keys growing up from it and
//! values growing down from the end (less the tree info in a root), fixed or
//! variable sized entries. Trees are walked leaf by leaf in key order; child
//! links are block numbers (physical trees) or object ids looked up in an
//! object map (virtual trees). A node that does not parse costs its subtree.

use crate::obj::{Bad, Blocks, BTREE, BTREE_NODE};
use dredge_core::bytes::{le16, le32, le64};
use dredge_core::Finding;
use std::collections::HashSet;

const ROOT: u16 = 1;
const LEAF: u16 = 2;
const FIXED: u16 = 4;
/// Size of `btree_info_t` at the end of a root node.
const INFO: usize = 40;
/// Deeper than any APFS tree a volume of 2^64 blocks can hold.
const MAX_LEVEL: u16 = 16;

/// Takes a leaf entry (the leaf's image offset, key, value); false stops.
pub(crate) type Visit<'v> = dyn FnMut(u64, &[u8], &[u8]) -> bool + 'v;

/// A parsed node.
pub(crate) struct Node {
    pub b: Vec<u8>,
    pub level: u16,
    pub leaf: bool,
    nkeys: usize,
    toc: usize,
    keys: usize,
    vend: usize,
    /// (key size, value size) of a fixed-size tree.
    fixed: Option<(usize, usize)>,
}

impl Node {
    pub fn parse(b: Vec<u8>, fixed: Option<(usize, usize)>) -> Result<Node, String> {
        let flags: u16 = le16(&b, 32);
        let level: u16 = le16(&b, 34);
        let nkeys = le32::<u32>(&b, 36) as usize;
        let (toff, tlen) = (le16::<u16>(&b, 40) as usize, le16::<u16>(&b, 42) as usize);
        let toc = 56 + toff;
        let keys = toc + tlen;
        let vend = b.len() - if flags & ROOT != 0 { INFO } else { 0 };
        if keys > vend || level > MAX_LEVEL || (flags & LEAF != 0) != (level == 0) {
            return Err(format!(
                "node layout (flags {flags:#x}, level {level}, table {toff}+{tlen})"
            ));
        }
        let fixed = if flags & FIXED != 0 {
            Some(fixed.ok_or("a fixed-size node in a variable-size tree")?)
        } else {
            None
        };
        let each = if fixed.is_some() { 4 } else { 8 };
        if nkeys * each > tlen {
            return Err(format!("{nkeys} entries in a table of {tlen} bytes"));
        }
        Ok(Node {
            level,
            leaf: level == 0,
            nkeys,
            toc,
            keys,
            vend,
            fixed,
            b,
        })
    }

    pub fn len(&self) -> usize {
        self.nkeys
    }

    /// Entry `i`: its key and value, `None` where they fall outside the node.
    pub fn entry(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let b = &self.b;
        let (ko, kl, vo, vl) = match self.fixed {
            Some((ks, vs)) => {
                let t = self.toc + 4 * i;
                let vs = if self.leaf { vs } else { 8 };
                (
                    le16::<u16>(b, t) as usize,
                    ks,
                    le16::<u16>(b, t + 2) as usize,
                    vs,
                )
            }
            None => {
                let t = self.toc + 8 * i;
                (
                    le16::<u16>(b, t) as usize,
                    le16::<u16>(b, t + 2) as usize,
                    le16::<u16>(b, t + 4) as usize,
                    le16::<u16>(b, t + 6) as usize,
                )
            }
        };
        let k = self.keys.checked_add(ko)?;
        let key = b.get(k..k.checked_add(kl)?.min(self.vend))?;
        if key.len() != kl {
            return None;
        }
        // 0xFFFF: an entry with no value.
        if vo == 0xFFFF {
            return Some((key, &[]));
        }
        let v = self.vend.checked_sub(vo)?;
        if v < self.keys {
            return None;
        }
        let val = b.get(v..v.checked_add(vl)?)?;
        (v + vl <= self.vend).then_some((key, val))
    }
}

/// The (key size, value size) a fixed-size tree's root records.
pub(crate) fn fixed_sizes(root: &[u8]) -> (usize, usize) {
    let i = root.len() - INFO;
    (
        le32::<u32>(root, i + 8) as usize,
        le32::<u32>(root, i + 12) as usize,
    )
}

/// Walks the leaf entries of the tree whose root is at block `root`, in key
/// order, while `visit` (given the image offset of the leaf) returns true. `child` turns a child link into a block
/// number (`None`: not found). Damage is reported once per node and costs the
/// node's subtree.
#[allow(clippy::too_many_arguments)]
pub(crate) fn walk(
    blocks: &Blocks,
    root: u64,
    what: &str,
    child: &dyn Fn(u64) -> Option<u64>,
    visit: &mut Visit,
    bad: &mut Bad,
    findings: &mut Vec<Finding>,
) {
    walk_with(
        blocks,
        root,
        what,
        child,
        visit,
        Prune::default(),
        bad,
        findings,
    )
}

/// How [`walk_with`] treats nodes an older tree may share with a newer one.
#[derive(Default)]
pub(crate) struct Prune<'a> {
    /// Blocks already walked: skipped, with their subtrees (copy-on-write
    /// makes a block the same subtree wherever it is linked); every block
    /// walked is added.
    pub shared: Option<&'a mut HashSet<u64>>,
    /// Skip nodes whose checksum fails (an older checkpoint's blocks may
    /// have been reused) instead of using them.
    pub strict: bool,
}

/// [`walk`], pruning shared subtrees and, when strict, distrusting nodes
/// whose checksum fails.
#[allow(clippy::too_many_arguments)]
pub(crate) fn walk_with(
    blocks: &Blocks,
    root: u64,
    what: &str,
    child: &dyn Fn(u64) -> Option<u64>,
    visit: &mut Visit,
    mut prune: Prune,
    bad: &mut Bad,
    findings: &mut Vec<Finding>,
) {
    let mut seen = HashSet::new();
    // (block, the level it must have; None for the root).
    let mut stack: Vec<(u64, Option<u16>)> = vec![(root, None)];
    let mut fixed = None;
    let mut reported = 0;
    let mut report = |findings: &mut Vec<Finding>, at: u64, why: String| {
        reported += 1;
        if reported <= 8 {
            findings.push(Finding::new(
                at,
                format!("APFS {what}: {why}; the entries below it are lost"),
            ));
        }
    };
    while let Some((n, want)) = stack.pop() {
        // A loop of links, or more nodes than the container has blocks.
        if let Some(shared) = prune.shared.as_deref_mut() {
            if !shared.insert(n) {
                continue;
            }
        }
        if !seen.insert(n) || seen.len() as u64 > blocks.count {
            report(
                findings,
                blocks.offset(n.min(blocks.count)),
                format!("node link to block {n} loops"),
            );
            continue;
        }
        let b = match blocks.read(n) {
            Ok(b) => b,
            Err(why) => {
                report(findings, blocks.offset(n.min(blocks.count)), why);
                continue;
            }
        };
        let h = crate::obj::head(&b);
        if h.otype != BTREE && h.otype != BTREE_NODE {
            report(
                findings,
                blocks.offset(n),
                format!("block {n} is not a B-tree node (type {:#x})", h.otype),
            );
            continue;
        }
        if !h.sum_ok {
            if prune.strict {
                continue;
            }
            bad.note(blocks.offset(n));
        }
        if want.is_none() {
            fixed = Some(fixed_sizes(&b));
        }
        let node = match Node::parse(b, fixed) {
            Ok(node) => node,
            Err(why) => {
                report(findings, blocks.offset(n), format!("block {n}: {why}"));
                continue;
            }
        };
        if want.is_some_and(|l| l != node.level) {
            report(
                findings,
                blocks.offset(n),
                format!(
                    "block {n} is at level {}, its parent says {}",
                    node.level,
                    want.unwrap_or(0)
                ),
            );
            continue;
        }
        if node.leaf {
            for i in 0..node.len() {
                if let Some((k, v)) = node.entry(i) {
                    if !visit(blocks.offset(n), k, v) {
                        return;
                    }
                }
            }
            continue;
        }
        // Children pushed last first, so they pop in key order.
        for i in (0..node.len()).rev() {
            let Some((_, v)) = node.entry(i) else {
                continue;
            };
            if v.len() < 8 {
                continue;
            }
            let link = le64(v, 0);
            match child(link) {
                Some(c) => stack.push((c, Some(node.level - 1))),
                None => report(
                    findings,
                    blocks.offset(n),
                    format!("child {link:#x} of block {n} is not in the object map"),
                ),
            }
        }
    }
    if reported > 8 {
        findings.push(Finding::new(
            blocks.offset(root.min(blocks.count)),
            format!("APFS {what}: {} more damaged nodes", reported - 8),
        ));
    }
}
