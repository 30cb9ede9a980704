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

use crate::btree::{ranges, split_record, Tree};
use crate::catalog::{item, key, Item, Key};
use crate::fork::Fork;
use crate::{be32, HfsFs};
use dredge_core::bytes::be64;
use dredge_core::{Entry, EntryKind, Finding, Recovery};
use std::collections::HashMap;
use std::collections::{BTreeMap, HashSet};

/// The journal read at most (macOS makes them 8 to 512 MiB).
const MAX_JOURNAL: u64 = 1 << 30;
/// Journal bytes read at a time.
const CHUNK: usize = 1 << 20;
/// Node copies are looked for at every multiple of this (the journal's
/// smallest block, a sector).
const STEP: usize = 512;
/// Deleted CNIDs kept at most (a forged journal cannot make this unbounded).
const MAX_STALE: usize = 1 << 20;
/// `kHFSVolumeJournaledBit` of the volume header's attributes.
pub(crate) const JOURNALED: u32 = 1 << 13;

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
    /// catalog nodes not in `live_nodes` and from the journal.
    pub(crate) fn stale_records(
        &self,
        live: &HashSet<u32>,
        live_nodes: &[bool],
        findings: &mut Vec<Finding>,
    ) -> BTreeMap<u32, Stale> {
        let mut out: BTreeMap<u32, Stale> = BTreeMap::new();
        let mut full = false;
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
            return BTreeMap::new();
        };
        tree.stale_leaves(live_nodes, &mut |r| keep(&r.key, &r.data, r.at, false));
        if let Some((start, len)) = self.journal(findings) {
            scan_journal(
                &self.vol,
                start,
                len,
                tree.node_size,
                tree.total_nodes,
                &mut |k, d, at| keep(k, d, at, true),
            );
        }
        if full {
            findings.push(Finding::new(
                self.vol.base(),
                format!(
                    "HFS+: more than {MAX_STALE} deleted catalog records; the rest are not listed"
                ),
            ));
        }
        out
    }

    /// The journal's place in the volume (offset, length), when the volume
    /// header says it is journaled and the journal info block puts the journal
    /// in this filesystem.
    fn journal(&self, findings: &mut Vec<Finding>) -> Option<(u64, u64)> {
        if self.head.flags & JOURNALED == 0 || self.head.journal_info == 0 {
            return None;
        }
        let at = u64::from(self.head.journal_info) * self.head.block;
        let mut b = [0u8; 52];
        let base = self.vol.base();
        if !self.vol.read_at(at, &mut b).is_ok_and(|r| r.is_clean()) {
            findings.push(Finding::new(
                base + at,
                "HFS+ journal info block unreadable: deleted records in the journal are not looked for",
            ));
            return None;
        }
        let flags = be32(&b, 0);
        if flags & 1 == 0 || flags & 2 != 0 {
            findings.push(
                Finding::new(base + at, "HFS+ journal info block: the journal is on another device; its deleted records are not looked for")
                    .expected("flags 0x1 (journal in this filesystem)", format!("{flags:#x}")),
            );
            return None;
        }
        let (off, len) = (be64(&b, 36), be64(&b, 44));
        let end = off.checked_add(len);
        if len == 0 || end.is_none_or(|e| e > self.vol.len()) {
            findings.push(Finding::new(base + at + 36, "HFS+ journal place").expected(
                format!("inside the volume's {} bytes", self.vol.len()),
                format!("{len} bytes at {off}"),
            ));
            return None;
        }
        if len > MAX_JOURNAL {
            findings.push(Finding::new(
                base + off,
                format!("HFS+ journal of {len} bytes: only its first {MAX_JOURNAL} are looked through for deleted records"),
            ));
        }
        Some((off, len.min(MAX_JOURNAL)))
    }
}

/// Whether `b` (one node's bytes) is a catalog leaf node of a tree of `total`
/// nodes: kind -1 (leaf), height 1, links inside the tree, offsets rising.
fn leaf_records(b: &[u8], total: u32) -> Option<Vec<(usize, usize)>> {
    if b[8] != 0xFF || b[9] != 1 || be32(b, 0) >= total || be32(b, 4) >= total {
        return None;
    }
    let r = ranges(b, b.len())?;
    (!r.is_empty()).then_some(r)
}

/// Called with a record's key, data and volume offset.
type RecordVisit<'a> = dyn FnMut(&[u8], &[u8], u64) + 'a;

/// Every catalog leaf node copy in the journal's `len` bytes at volume offset
/// `start`: each record as (key, data, volume offset). Copies the circular
/// buffer wrapped (begun near its end and gone on after the journal header)
/// are read across the seam.
fn scan_journal(
    vol: &dredge_core::VolumeReader,
    start: u64,
    len: u64,
    node: usize,
    total: u32,
    visit: &mut RecordVisit<'_>,
) {
    let mut buf = vec![0u8; CHUNK + node];
    let mut pos = 0u64;
    let mut jhdr = None;
    while pos < len {
        let want = ((len - pos) as usize).min(buf.len());
        // A chunk that does not read clean is passed over whole (the journal
        // is a second source; the live catalog is read apart from it).
        let got = match vol.read_at(start + pos, &mut buf[..want]) {
            Ok(r) if r.is_clean() => r.len.min(want),
            _ => 0,
        };
        if pos == 0 {
            jhdr = header_size(&buf[..got], len);
        }
        let mut p = 0usize;
        while p + node <= got && p < CHUNK {
            let b = &buf[p..p + node];
            if let Some(recs) = leaf_records(b, total) {
                for (s, e) in recs {
                    if let Some((k, d)) = split_record(&b[s..e]) {
                        visit(k, d, vol.base() + start + pos + (p + s) as u64);
                    }
                }
                p += node;
            } else {
                p += STEP;
            }
        }
        pos += CHUNK as u64;
    }
    if let Some(jhdr) = jhdr {
        scan_seam(vol, (start, len, jhdr), node, total, visit);
    }
}

/// The journal header's own size (`jhdr_size`): where the circular buffer
/// goes on when a write reaches its end (xnu's vfs_journal.c), from the
/// journal's first bytes `h`. `None` when they are not a journal header (a
/// journal whose header is gone has no seam that can be placed).
fn header_size(h: &[u8], len: u64) -> Option<u64> {
    if h.len() < 44 {
        return None;
    }
    let word = |at: usize, little: bool| {
        let b: [u8; 4] = h[at..at + 4].try_into().unwrap_or_default();
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let little = match (word(0, true), word(0, false)) {
        (0x4A4E_4C78, _) => true,
        (_, 0x4A4E_4C78) => false,
        _ => return None,
    };
    let size = u64::from(word(40, little));
    (size >= STEP as u64 && size % STEP as u64 == 0 && size < len).then_some(size)
}

/// Node copies that cross the end of the circular buffer: their first part
/// in the buffer's last bytes, the rest after the journal header.
/// `journal`: its volume offset, length and header size.
fn scan_seam(
    vol: &dredge_core::VolumeReader,
    journal: (u64, u64, u64),
    node: usize,
    total: u32,
    visit: &mut RecordVisit<'_>,
) {
    let (start, len, jhdr) = journal;
    let step = STEP as u64;
    // Copies begin at a multiple of STEP from the journal's start: one that
    // crosses the end begins in its last node less one STEP and goes on for
    // at most as much after the header.
    let tail_len = (node as u64).saturating_sub(step);
    let head_len = tail_len;
    if len % step != 0 || tail_len == 0 || jhdr + head_len > len.saturating_sub(tail_len) {
        return;
    }
    let tail_at = len - tail_len;
    let mut seam = vec![0u8; (tail_len + head_len) as usize];
    let (t, h) = seam.split_at_mut(tail_len as usize);
    let clean = |at: u64, b: &mut [u8]| {
        vol.read_at(start + at, b)
            .is_ok_and(|r| r.is_clean() && r.len == b.len())
    };
    if !clean(tail_at, t) || !clean(jhdr, h) {
        return;
    }
    let place = |i: usize| {
        let i = i as u64;
        vol.base()
            + start
            + if i < tail_len {
                tail_at + i
            } else {
                jhdr + i - tail_len
            }
    };
    let mut q = 0usize;
    while q < tail_len as usize && q + node <= seam.len() {
        let b = &seam[q..q + node];
        if let Some(recs) = leaf_records(b, total) {
            for (s, e) in recs {
                if let Some((k, d)) = split_record(&b[s..e]) {
                    visit(k, d, place(q + s));
                }
            }
        }
        q += STEP;
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
        let stale = self.stale_records(live.cnids, live.nodes, findings);
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
            let (size, runs, recovery) = if it.compressed {
                match self.decompressed(it.cnid, &it.rsrc) {
                    Ok((size, runs)) => (size, runs, self.recovery(&it.rsrc, it.cnid, 0xFF)),
                    Err(why) => (
                        0,
                        Vec::new(),
                        Recovery::NotRecoverable(format!("compressed (decmpfs), and {why}")),
                    ),
                }
            } else {
                let (size, runs) = self.runs(&it.data, it.cnid, 0);
                (size, runs, self.recovery(&it.data, it.cnid, 0))
            };
            visit(Entry {
                id: u64::from(it.cnid),
                path: path.clone(),
                other_names: Vec::new(),
                kind: it.kind,
                deleted: true,
                size,
                times: it.times.clone(),
                runs,
                recovery,
                meta_offset: s.at,
            });
            let owner = crate::streams::Owner {
                file: it.cnid,
                cnid: it.cnid,
                path: &path,
                times: &it.times,
                at: s.at,
                deleted: true,
            };
            self.side_streams(&owner, &it.rsrc, visit);
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
            format!("HFS+: {files} deleted file(s) and {dirs} deleted folder(s) from catalog records the live tree no longer holds ({journal} from node copies in the journal, {freed} from catalog nodes the tree let go){caution}"),
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
            Recovery::NotRecoverable(format!(
                "its extents hold {} of its {} bytes: the rest was laid out in the extents-overflow file, whose records went with it",
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
