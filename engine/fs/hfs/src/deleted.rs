//! Deleted files and folders (issue 15): catalog records the live tree no
//! longer holds, from the two places their bytes outlive a deletion.
//!
//! - **The journal.** Every change to a journaled volume is written to the
//!   journal first, as a transaction holding the new contents of the blocks
//!   it changes. The transaction that created a file, or last changed its
//!   folder, holds a copy of the catalog leaf node with the file's record, and
//!   the copy stays in the journal's circular buffer after the file is
//!   deleted, until the buffer wraps over it. The whole buffer is read, not
//!   only the part between its start and end (after a clean unmount that part
//!   is empty), and node copies are found by their shape rather than through
//!   the block lists, so a transaction whose header was overwritten still
//!   gives its nodes.
//! - **Catalog nodes the tree let go.** macOS clears a deleted record's bytes
//!   inside a live node (xnu's `DeleteRecord`), but a node the tree frees
//!   keeps what it held.
//!
//! A record counts as deleted when its CNID is in no live record. One CNID
//! found in several copies is taken from the copy with the latest content
//! modification time (then the earliest place), so the result does not depend
//! on the order the copies are read in.

use crate::attrs::{self, Assembler, Attrs};
use crate::btree::Tree;
use crate::catalog::{item, key, Item, Key};
use crate::fork::Fork;
use crate::journal::scan_journal;
use crate::{overflow, HfsFs};
use dredge_core::{Entry, EntryKind, Finding, Recovery};
use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};

/// Deleted CNIDs kept at most, and attribute records of deleted files (a
/// forged journal cannot make either unbounded).
const MAX_STALE: usize = 1 << 20;

/// A catalog record found outside the live tree.
pub(crate) struct Stale {
    pub key: Key,
    pub item: Item,
    /// Volume offset of the record.
    pub at: u64,
    pub in_journal: bool,
}

fn modified(it: &Item) -> i64 {
    it.times
        .iter()
        .find(|t| t.source == "hfs.modify")
        .map_or(i64::MIN, |t| t.secs)
}

impl HfsFs {
    /// Catalog records whose CNIDs `live` does not hold, by CNID, from the
    /// catalog nodes not in `live_nodes` and from the journal; those files'
    /// extended attributes from the attributes tree's nodes it let go and its
    /// node copies in the journal; and their forks' overflow extents the same
    /// ways from the extents overflow tree (set as `gone_overflow`, their
    /// count returned).
    pub(crate) fn stale_records(
        &self,
        live: &HashSet<u32>,
        live_nodes: &[bool],
        findings: &mut Vec<Finding>,
    ) -> (BTreeMap<u32, Stale>, Attrs, usize) {
        let mut out: BTreeMap<u32, Stale> = BTreeMap::new();
        let mut full = false;
        // Attribute records of files the live catalog does not hold, by key;
        // of several copies of one record, the earliest on the volume (a node
        // the tree let go, or a journal copy).
        let mut gone: BTreeMap<(u32, String, u32), (u64, attrs::Record)> = BTreeMap::new();
        let mut keep_attr = |k: &[u8], d: &[u8], at: u64| {
            let Some(r) = attrs::record(k, d) else {
                return;
            };
            if live.contains(&r.file) || r.file < 16 {
                return;
            }
            let room = gone.len() < MAX_STALE;
            match gone.entry((r.file, r.name.clone(), r.start)) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    if at < o.get().0 {
                        o.insert((at, r));
                    }
                }
                std::collections::btree_map::Entry::Vacant(v) if room => {
                    v.insert((at, r));
                }
                std::collections::btree_map::Entry::Vacant(_) => {}
            }
        };
        let mut ext = overflow::Gone::default();
        let total = self.head.total_blocks;
        let mut keep_ext = |k: &[u8], d: &[u8], at: u64| {
            if let Some(r) = overflow::stale_record(k, d, total) {
                if !live.contains(&r.fork.0) && r.fork.0 >= 16 {
                    ext.push(r, at);
                }
            }
        };
        let mut keep = |k: &[u8], d: &[u8], at: u64, in_journal: bool| {
            let (Some(key), Some(item)) = (key(k), item(d)) else {
                return;
            };
            if live.contains(&item.cnid) || item.cnid < 16 {
                return;
            }
            let new = Stale {
                key,
                item,
                at,
                in_journal,
            };
            let room = out.len() < MAX_STALE;
            match out.get_mut(&new.item.cnid) {
                Some(old) => {
                    let (a, b) = (modified(&new.item), modified(&old.item));
                    if a > b || (a == b && new.at < old.at) {
                        *old = new;
                    }
                }
                None if room => {
                    out.insert(new.item.cnid, new);
                }
                None => full = true,
            }
        };
        let Ok(tree) = Tree::open(
            &self.vol,
            self.head.catalog.clone(),
            self.head.block,
            "catalog",
        ) else {
            return (BTreeMap::new(), Attrs::new(), 0);
        };
        tree.stale_leaves(live_nodes, &mut |r| keep(&r.key, &r.data, r.at, false));
        // The attributes tree's nodes it let go: a deleted file's attributes
        // left there (its live nodes have the records' bytes cleared).
        if self.attr_tree.shape.is_some() {
            let fork = self.complete(self.head.attributes.clone(), 8, 0);
            if let Ok(at) = Tree::open(&self.vol, fork, self.head.block, "attributes file") {
                at.stale_leaves(&self.attr_tree.live, &mut |r| {
                    keep_attr(&r.key, &r.data, r.at)
                });
            }
        }
        // The extents overflow tree's nodes it let go.
        if self.ext_tree.shape.is_some() {
            if let Ok(et) = Tree::open(
                &self.vol,
                self.head.extents.clone(),
                self.head.block,
                "extents file",
            ) {
                et.stale_leaves(&self.ext_tree.live, &mut |r| {
                    keep_ext(&r.key, &r.data, r.at)
                });
            }
        }
        if let Some((start, len)) = self.journal(findings) {
            let mut shapes = vec![(tree.node_size, tree.total_nodes)];
            shapes.extend(self.attr_tree.shape);
            shapes.extend(self.ext_tree.shape);
            scan_journal(&self.vol, start, len, &shapes, &mut |k, d, at| {
                keep(k, d, at, true);
                keep_attr(k, d, at);
                keep_ext(k, d, at);
            });
        }
        if full {
            findings.push(Finding::new(
                self.vol.base(),
                format!(
                    "HFS+: more than {MAX_STALE} deleted catalog records; the rest are not listed"
                ),
            ));
        }
        let mut a = Assembler::default();
        for (_, (_, r)) in gone {
            if out.get(&r.file).is_some_and(|s| !s.item.folder) {
                a.push(r);
            }
        }
        let n = ext.len();
        // Set before any deleted fork is laid out; a second walk finds the
        // same records.
        let _ = self.gone_overflow.set(ext.into_overflow());
        (out, a.out, n)
    }
}

/// What [`HfsFs::walk_deleted`] needs from the live walk.
pub(crate) struct Live<'a> {
    /// Folder CNID → (parent, name).
    pub folders: &'a HashMap<u32, (u32, String)>,
    /// Every CNID a live record holds.
    pub cnids: &'a HashSet<u32>,
    /// The catalog nodes read as live leaves.
    pub nodes: &'a [bool],
    /// Live hard-link inodes: `iNode<N>`'s N → (CNID, data fork, resource
    /// fork, compressed).
    pub inodes: &'a HashMap<u32, (u32, Fork, Fork, bool)>,
    /// The private folder of those inodes.
    pub private: Option<u32>,
}

/// Where a deleted file's content lies.
struct Content<'a> {
    /// The CNID whose forks they are (an inode's, for a hard link).
    file: u32,
    data: &'a Fork,
    rsrc: &'a Fork,
    compressed: bool,
    /// A hard link whose inode is live: its layout is the inode's, in use.
    live: bool,
    other_names: Vec<String>,
}

impl HfsFs {
    /// The deleted folders and files, with their data and resource forks, as
    /// entries after the live ones (in CNID order), and one finding that
    /// counts them.
    pub(crate) fn walk_deleted(
        &self,
        live: Live<'_>,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let (stale, gone, overflow) = self.stale_records(live.cnids, live.nodes, findings);
        if stale.is_empty() {
            return;
        }
        // Paths through live folders first, then through deleted ones.
        let mut folders = live.folders.clone();
        for s in stale.values().filter(|s| s.item.folder) {
            folders
                .entry(s.item.cnid)
                .or_insert_with(|| (s.key.parent, s.key.name.clone()));
        }
        // Deleted hard-link inodes, by N: `iNode<N>` files of the private
        // folder (of any folder, when the private one is not known).
        let dead_inodes: HashMap<u32, &Stale> = stale
            .values()
            .filter(|s| !s.item.folder && live.private.is_none_or(|p| p == s.key.parent))
            .filter_map(|s| Some((s.key.name.strip_prefix("iNode")?.parse().ok()?, s)))
            .collect();
        let (mut files, mut dirs, mut journal) = (0u64, 0u64, 0u64);
        for s in stale.values() {
            let dir = Self::path_of(&folders, s.key.parent)
                .unwrap_or_else(|| format!("/$OrphanFiles/parent-{}", s.key.parent));
            let path = format!("{dir}/{}", s.key.name);
            journal += u64::from(s.in_journal);
            let it = &s.item;
            if it.folder {
                dirs += 1;
                visit(Entry {
                    id: u64::from(it.cnid),
                    path,
                    other_names: Vec::new(),
                    kind: EntryKind::Directory,
                    deleted: true,
                    size: 0,
                    times: it.times.clone(),
                    runs: Vec::new(),
                    recovery: Recovery::Intact,
                    meta_offset: s.at,
                });
                continue;
            }
            files += 1;
            // A hard link's content is its inode's: the live one, else a
            // deleted `iNode<N>` (gone with its last link).
            let c = match it
                .link_to
                .map(|n| (n, live.inodes.get(&n), dead_inodes.get(&n)))
            {
                Some((n, Some((cnid, data, rsrc, packed)), _)) => Content {
                    file: *cnid,
                    data,
                    rsrc,
                    compressed: *packed,
                    live: true,
                    other_names: vec![format!("iNode{n}")],
                },
                Some((n, None, Some(i))) => Content {
                    file: i.item.cnid,
                    data: &i.item.data,
                    rsrc: &i.item.rsrc,
                    compressed: i.item.compressed,
                    live: false,
                    other_names: vec![format!("iNode{n}")],
                },
                _ => Content {
                    file: it.cnid,
                    data: &it.data,
                    rsrc: &it.rsrc,
                    compressed: it.compressed,
                    live: false,
                    other_names: Vec::new(),
                },
            };
            let trust = |f: &Fork, kind: u8| {
                if c.live {
                    Recovery::Intact
                } else {
                    self.recovery(f, c.file, kind)
                }
            };
            let (size, runs, recovery) = if c.compressed {
                match self.decompressed(c.file, c.rsrc, self.attrs_of(c.file, &gone)) {
                    Ok((size, runs)) => (size, runs, trust(c.rsrc, 0xFF)),
                    Err(why) => (
                        0,
                        Vec::new(),
                        Recovery::NotRecoverable(format!("compressed (decmpfs), and {why}")),
                    ),
                }
            } else {
                let (size, runs) = self.runs(c.data, c.file, 0);
                (size, runs, trust(c.data, 0))
            };
            visit(Entry {
                id: u64::from(it.cnid),
                path: path.clone(),
                other_names: c.other_names,
                kind: it.kind,
                deleted: true,
                size,
                times: it.times.clone(),
                runs,
                recovery,
                meta_offset: s.at,
            });
            // A live inode's streams are listed with it.
            if !c.live {
                let owner = crate::streams::Owner {
                    file: c.file,
                    cnid: it.cnid,
                    path: &path,
                    times: &it.times,
                    at: s.at,
                    deleted: true,
                    attrs: self.attrs_of(c.file, &gone),
                };
                self.side_streams(&owner, c.rsrc, visit);
            }
        }
        let freed = stale.len() as u64 - journal;
        // With no live leaf read, "not in the live tree" is no evidence of
        // deletion: say so beside the count.
        let caution = if live.nodes.iter().any(|&n| n) {
            ""
        } else {
            "; no leaf of the live catalog could be read, so some of these may be files that are not deleted"
        };
        findings.push(Finding::new(
            self.vol.base(),
            format!("HFS+: {files} deleted file(s) and {dirs} deleted folder(s) from catalog records the live tree no longer holds ({journal} from node copies in the journal, {freed} from catalog nodes the tree let go; {overflow} extents overflow record(s) of deleted forks){caution}"),
        ));
    }

    /// How much of a deleted fork can be trusted: every block of its extents
    /// free again (intact), some in use by other files now (overwritten), or
    /// extents that do not reach its size (the rest was in the extents-overflow
    /// file, whose records went with the file).
    pub(crate) fn recovery(&self, fork: &Fork, file: u32, kind: u8) -> Recovery {
        let f = self.complete(fork.clone(), file, kind);
        let bs = self.head.block;
        let mut used = 0u64;
        let mut blocks = 0u64;
        for &(s, n) in &f.extents {
            let (s, n) = (u64::from(s), u64::from(n));
            if s + n > u64::from(self.head.total_blocks) {
                return Recovery::NotRecoverable(format!(
                    "an extent of blocks {s}..{} past the volume's {} blocks",
                    s + n,
                    self.head.total_blocks
                ));
            }
            match self.in_use(s, n) {
                Some(u) => used += u,
                None => {
                    return Recovery::Assumed(
                        "the allocation file does not read: the blocks are taken as the record gives them"
                            .into(),
                    )
                }
            }
            blocks += n;
        }
        if used > 0 {
            Recovery::Overwritten(format!(
                "{used} of the {blocks} allocation blocks of its extents are in use again"
            ))
        } else if blocks * bs < f.logical_size {
            // What its own extents hold is still the file's: it is copied,
            // and the rest is a gap (not in the layout), not nothing.
            Recovery::Assumed(format!(
                "its extents hold {} of its {} bytes, copied as they are; the rest was laid out in the extents-overflow file, whose records went with it, and no copy of them was found in the journal or in the tree's freed nodes: a gap",
                blocks * bs,
                f.logical_size
            ))
        } else {
            Recovery::Intact
        }
    }

    /// How many of the `n` blocks from block `s` the allocation file marks in
    /// use; `None` when it does not read.
    fn in_use(&self, s: u64, n: u64) -> Option<u64> {
        let bitmap = self.complete(self.head.allocation.clone(), 6, 0);
        let mut used = 0u64;
        let mut b = s;
        let mut chunk = vec![0u8; 1 << 16];
        while b < s + n {
            let first = b / 8;
            let last = (s + n - 1) / 8;
            let len = ((last - first + 1) as usize).min(chunk.len());
            bitmap.read(&self.vol, self.head.block, first, &mut chunk[..len])?;
            for (i, &byte) in chunk[..len].iter().enumerate() {
                for bit in 0..8u64 {
                    let x = (first + i as u64) * 8 + bit;
                    if x >= b && x < s + n && byte & (0x80 >> bit) != 0 {
                        used += 1;
                    }
                }
            }
            b = (first + len as u64) * 8;
        }
        Some(used)
    }
}
