//! Orphaned filesystem-tree nodes. APFS writes every change to a new block
//! (copy-on-write) and frees the old one once no checkpoint in the ring needs
//! it. Until the block is reused, the old node is still there, whole and with
//! its checksum, holding the records of files deleted since and of older
//! versions of changed ones. The checkpoint ring forgets them after a few
//! transactions; free space does not.
//!
//! Finding them needs every free block looked at, so it rides the one read of
//! the image (issue 18): [`crate::ApfsFs`]'s `hunt` hands the pass the free
//! extents and [`is_fs_leaf`], and the blocks the pass finds come back through
//! `hunted` before the walk. Each node is then read again on its own (a
//! metadata read) and given to the volume whose object map alone maps its
//! object id (copy-on-write keeps a node's virtual id), else to the first
//! whose live tree shares records with it, or to the only volume there is; its
//! files that the live tree and the older checkpoints do not hold are
//! listed as deleted, with the transaction and the byte the node came from:
//! every distinct version the nodes hold of a file, each as its own tree in
//! the entry ids (a file changed, then deleted, comes back as it was each
//! time a node of it was written).

use crate::btree::Node;
use crate::entries;
use crate::fs::{FileExtent, Inode, Records};
use crate::history::{first_byte, in_use, recovery, same_as_live, Versions};
use crate::obj::{fletcher64, Blocks, BTREE, BTREE_NODE, MAX_BLOCK};
use crate::{ApfsFs, Vol};
use dredge_core::bytes::{le16, le32, le64};
use dredge_core::{Entry, Finding, Recovery, Run};
use std::collections::{BTreeSet, HashMap, HashSet};

/// `OBJECT_TYPE_FSTREE`, the subtype of a filesystem tree's nodes.
const FSTREE: u32 = 0x0e;
/// Orphaned nodes one container is read for: each is a metadata read of a
/// block, and their records are held until the volume is listed.
pub(crate) const MAX_NODES: usize = 4096;
/// First tree number of orphaned nodes' versions in entry ids (after
/// snapshots, 1..2047, and older checkpoints, 2048..2111).
const ORPHAN_TREE: u64 = 4000;
/// The volume number in entry ids of files from nodes no volume took
/// (volumes are numbered below 100).
const UNPLACED_VOLUME: usize = 255;
/// Where those files are listed: which volume they were on is unknown.
pub(crate) const UNPLACED_PREFIX: &str = "/$OrphanFiles/apfs-volume-unknown";
/// Versions of one inode listed from orphaned nodes (each round a tree
/// number of its own: 4000..4095).
const MAX_VERSIONS: usize = 96;

/// A version of an inode: its record, and its extents where the node holding
/// the record holds them too.
type Version = (Inode, Option<Vec<FileExtent>>);

/// Whether entry id `id` was listed from orphaned nodes.
pub(crate) fn is_orphan_id(id: u64) -> bool {
    let tree = (id >> 44) & 0xFFF;
    (ORPHAN_TREE..ORPHAN_TREE + MAX_VERSIONS as u64).contains(&tree)
}

/// Storage-type bits of `o_type`: an fs-tree node is a virtual object.
const STORAGE: u32 = 0xC000_0000;

/// The pass's test for a block: a leaf node of a filesystem tree, virtual,
/// with an object id and a transaction, whose Fletcher-64 checksum holds.
/// The header fields are compared first; the checksum only for what passes.
pub(crate) fn is_fs_leaf(b: &[u8]) -> bool {
    if b.len() < 4096 || b.len() as u64 > MAX_BLOCK {
        return false;
    }
    let t = le32::<u32>(b, 24);
    let kind = t & 0xFFFF;
    if (kind != BTREE && kind != BTREE_NODE) || t & STORAGE != 0 {
        return false;
    }
    let (flags, level) = (le16::<u16>(b, 32), le16::<u16>(b, 34));
    if le32::<u32>(b, 28) != FSTREE || flags & 2 == 0 || level != 0 || le32::<u32>(b, 36) == 0 {
        return false;
    }
    let sum = le64(b, 0);
    le64(b, 8) != 0 && le64(b, 16) != 0 && sum != 0 && sum == fletcher64(b)
}

/// The container block at image offset `at`, when one starts there.
fn block_of(blocks: &Blocks, at: u64) -> Option<u64> {
    at.checked_sub(blocks.vol.base())
        .filter(|o| o % blocks.size == 0)
        .map(|o| o / blocks.size)
}

/// Node `n`'s transaction and records, when it is still an fs-tree leaf.
fn read_node(blocks: &Blocks, n: u64) -> Option<(u64, Records)> {
    let b = blocks.read(n).ok()?;
    if !is_fs_leaf(&b) {
        return None;
    }
    let xid = le64(&b, 16);
    let node = Node::parse(b, None).ok()?;
    let at = blocks.offset(n);
    let mut recs = Records::default();
    for i in 0..node.len() {
        if let Some((k, v)) = node.entry(i) {
            recs.add(at, k, v);
        }
    }
    Some((xid, recs))
}

/// How many of a node's records the live tree holds too: an inode with the
/// same number and creation time (nanoseconds), a name of a live inode in
/// the directory that inode says it is in. Inode numbers repeat across the
/// volumes of a container; creation times to the nanosecond do not.
fn shared_records(live: &Records, recs: &Records) -> usize {
    let inodes = recs
        .inodes
        .iter()
        .filter(|(id, ino)| {
            live.inodes
                .get(id)
                .is_some_and(|l| l.times[0] == ino.times[0] && ino.times[0] != 0)
        })
        .count();
    let names = recs
        .drecs
        .iter()
        .filter(|d| {
            live.inodes
                .get(&d.file)
                .is_some_and(|l| l.parent == d.parent && l.times[0] != 0)
        })
        .count();
    inodes + names
}

/// Records of `from` (a newer node) into `to`: an inode, an extent at the
/// same offset of the same owner, an attribute of the same name replace the
/// older ones; names are added once.
fn merge(to: &mut Records, from: Records) {
    to.inodes.extend(from.inodes);
    let have: HashSet<(u64, String, u64)> = to
        .drecs
        .iter()
        .map(|d| (d.parent, d.name.clone(), d.file))
        .collect();
    for d in from.drecs {
        if !have.contains(&(d.parent, d.name.clone(), d.file)) {
            to.drecs.push(d);
        }
    }
    for (owner, list) in from.extents {
        let mine = to.extents.entry(owner).or_default();
        for e in list {
            mine.retain(|x| x.0 != e.0);
            mine.push(e);
        }
    }
    for (owner, list) in from.xattrs {
        let mine = to.xattrs.entry(owner).or_default();
        for x in list {
            mine.retain(|y| y.name != x.name);
            mine.push(x);
        }
    }
    to.dropped += from.dropped;
}

/// What the walk of one container does with the nodes the pass found.
pub(crate) struct Orphans<'a> {
    found: &'a [u64],
    /// Nodes given to a volume, or no longer nodes, or part of a tree walked.
    done: Vec<bool>,
    /// The volume (index in the container) whose object map, alone, maps the
    /// node's object id: copy-on-write keeps a node's virtual id, so the live
    /// map still maps it unless the node was merged away. Virtual ids come
    /// from the container's one counter (`nx_next_oid`).
    owner: Vec<Option<usize>>,
    /// Every node goes to the one volume there is, shared records or not.
    one_volume: bool,
}

impl<'a> Orphans<'a> {
    pub(crate) fn new(fs: &'a ApfsFs) -> Option<Orphans<'a>> {
        let found = fs.orphans.get().filter(|f| !f.is_empty())?;
        let blocks = &fs.c.blocks;
        let owner = found
            .iter()
            .map(|&at| {
                let n = block_of(blocks, at)?;
                let b = blocks.read(n).ok()?;
                let oid = le64(&b, 8);
                let mut knows = fs
                    .vols
                    .iter()
                    .filter(|v| v.omap.as_ref().is_some_and(|m| m.knows(oid)));
                match (knows.next(), knows.next()) {
                    (Some(v), None) => Some(v.index),
                    _ => None,
                }
            })
            .collect();
        Some(Orphans {
            found,
            done: vec![false; found.len()],
            owner,
            one_volume: fs.vols.iter().filter(|v| v.omap.is_some()).count() == 1,
        })
    }

    /// Lists what the nodes that belong to volume `v` hold of files its live
    /// tree (`live`, whose blocks are `shared`) and older checkpoints do not.
    /// With `unplaced`, the nodes no volume took instead, under `prefix`
    /// with entry ids of their own (`v` lends its reader only).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        &mut self,
        fs: &ApfsFs,
        v: &Vol,
        prefix: &str,
        live: &Records,
        shared: &HashSet<u64>,
        versions: &mut Versions,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
        unplaced: bool,
    ) {
        let blocks = &fs.c.blocks;
        let mut nodes = Vec::new();
        for (i, &at) in self.found.iter().enumerate() {
            if self.done[i] {
                continue;
            }
            // Another volume's object map maps it: that volume's.
            if !unplaced && self.owner[i].is_some_and(|o| o != v.index) {
                continue;
            }
            let Some(n) = block_of(blocks, at) else {
                self.done[i] = true;
                continue;
            };
            if shared.contains(&n) {
                self.done[i] = true;
                continue;
            }
            let Some((xid, recs)) = read_node(blocks, n) else {
                self.done[i] = true;
                continue;
            };
            // A node of a transaction the container never committed.
            if xid > fs.c.nx.xid {
                self.done[i] = true;
                continue;
            }
            let mine = unplaced
                || self.one_volume
                || self.owner[i] == Some(v.index)
                || shared_records(live, &recs) > 0;
            if !mine {
                continue;
            }
            self.done[i] = true;
            nodes.push((xid, at, recs));
        }
        if nodes.is_empty() {
            return;
        }
        // Oldest first, so a newer node's records replace an older one's.
        nodes.sort_unstable_by_key(|n| (n.0, n.1));
        let mut xid_at: HashMap<u64, u64> = HashMap::new();
        // Each inode's versions, newest first: (record, its extents where the
        // same node holds them).
        let mut kept: HashMap<u64, Vec<Version>> = HashMap::new();
        let mut merged = Records::default();
        for (xid, at, mut r) in nodes {
            xid_at.insert(at, xid);
            for (&id, ino) in &r.inodes {
                let own = r.extents.get(&ino.private_id).cloned();
                kept.entry(id).or_default().push((ino.clone(), own));
            }
            // Versions are listed from `kept`; the merge keeps names,
            // attributes and extents.
            r.inodes.clear();
            merge(&mut merged, r);
        }
        for list in kept.values_mut() {
            list.reverse();
            // One version per distinct content: the same record copied into
            // node after node (copy-on-write of its neighbours) is one.
            let mut seen = HashSet::new();
            list.retain(|(ino, ext)| seen.insert((ino.private_id, ino.size, ext.clone())));
            list.truncate(MAX_VERSIONS);
        }
        let free = fs.free_space().unwrap_or_default();
        let (mut listed, mut xids) = (0u64, BTreeSet::new());
        let mut quiet = Vec::new();
        // Round r lists each inode's r-th newest version, as a tree of its own
        // in the entry ids.
        for r in 0..MAX_VERSIONS {
            let mut recs = Records {
                drecs: merged.drecs.clone(),
                extents: merged.extents.clone(),
                xattrs: merged.xattrs.clone(),
                ..Records::default()
            };
            for (&id, list) in &kept {
                if let Some((ino, own)) = list.get(r) {
                    if let Some(e) = own {
                        recs.extents.insert(ino.private_id, e.clone());
                    }
                    recs.inodes.insert(id, ino.clone());
                }
            }
            if recs.inodes.is_empty() {
                break;
            }
            let this = &recs;
            let mut keep = |file: u64, ino: &Inode, runs: &[Run]| -> Option<(bool, Recovery)> {
                let size = ino.size.unwrap_or(0);
                if ino.mode & 0o170000 != 0o100000 || size == 0 {
                    return None;
                }
                if same_as_live(live, this, file, ino)
                    || !versions.insert((file, size, first_byte(runs)))
                {
                    return None;
                }
                let xid = xid_at.get(&ino.at).copied().unwrap_or(0);
                xids.insert(xid);
                listed += 1;
                let from = format!(
                    "from an orphaned filesystem-tree node of transaction {xid} in free space at byte {}",
                    ino.at
                );
                Some((true, recovery(&from, in_use(runs, free))))
            };
            let mut cx = fs.ctx(v, ORPHAN_TREE + r as u64, prefix, Some(live));
            if unplaced {
                cx.vol_index = UNPLACED_VOLUME;
            }
            entries::emit(&cx, this, &mut keep, visit, &mut quiet);
        }
        if listed > 0 {
            findings.push(Finding::new(
                blocks.offset(v.sb.at),
                format!(
                    "APFS {prefix}: {listed} file version(s) that neither the current tree nor the older checkpoints hold, from orphaned filesystem-tree nodes in free space (transactions {}), listed as deleted",
                    xids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }

    /// Nodes no volume's live tree shares a record with (a node whose every
    /// file was deleted, in a container of several volumes), not yet listed.
    pub(crate) fn unplaced(&self) -> usize {
        self.done.iter().filter(|d| !**d).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[8..16].copy_from_slice(&0x404u64.to_le_bytes());
        b[16..24].copy_from_slice(&7u64.to_le_bytes());
        b[24..28].copy_from_slice(&BTREE_NODE.to_le_bytes());
        b[28..32].copy_from_slice(&FSTREE.to_le_bytes());
        b[32..34].copy_from_slice(&2u16.to_le_bytes());
        b[36..40].copy_from_slice(&1u32.to_le_bytes());
        let c = fletcher64(&b);
        b[..8].copy_from_slice(&c.to_le_bytes());
        b
    }

    #[test]
    fn only_virtual_fs_tree_leaves_whose_checksum_holds_are_taken() {
        let b = leaf();
        assert!(is_fs_leaf(&b));
        // Each field that makes it one, changed (checksum redone), refuses it.
        for (at, v) in [
            (28, 0x0bu8),
            (24, 0x0b),
            (32, 0),
            (34, 1),
            (36, 0),
            (16, 0),
            (8, 0),
        ] {
            let mut x = b.clone();
            x[at..at + 4].fill(0);
            x[at] = v;
            let c = fletcher64(&x);
            x[..8].copy_from_slice(&c.to_le_bytes());
            assert!(!is_fs_leaf(&x), "field at {at} set to {v}");
        }
        let mut phys = b.clone();
        phys[27] = 0x40;
        let c = fletcher64(&phys);
        phys[..8].copy_from_slice(&c.to_le_bytes());
        assert!(!is_fs_leaf(&phys), "a physical node");
        let mut bad = b.clone();
        bad[2000] ^= 1;
        assert!(!is_fs_leaf(&bad), "a wrong checksum");
        assert!(!is_fs_leaf(&b[..2048]));
        assert!(!is_fs_leaf(&vec![0u8; 4096]));
    }
}
