//! The HFS+ journal as a source of deleted records: where it lies (the
//! journal info block) and every B-tree leaf node copy in its circular
//! buffer, found by shape (xnu's vfs_journal.h; TN1150).

use crate::btree::{ranges, split_record};
use crate::{be32, HfsFs};
use dredge_core::bytes::be64;
use dredge_core::Finding;

/// The journal read at most (macOS makes them 8 to 512 MiB).
const MAX_JOURNAL: u64 = 1 << 30;
/// Journal bytes read at a time.
const CHUNK: usize = 1 << 20;
/// Node copies are looked for at every multiple of this (the journal's
/// smallest block, a sector).
const STEP: usize = 512;
/// `kHFSVolumeJournaledBit` of the volume header's attributes.
pub(crate) const JOURNALED: u32 = 1 << 13;

impl HfsFs {
    /// The journal's place in the volume (offset, length), when the volume
    /// header says it is journaled and the journal info block puts the journal
    /// in this filesystem.
    pub(crate) fn journal(&self, findings: &mut Vec<Finding>) -> Option<(u64, u64)> {
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

/// Whether `b` (one node's bytes) is a leaf node of a tree of `total`
/// nodes: kind -1 (leaf), height 1, links inside the tree, offsets rising.
fn leaf_records(b: &[u8], total: u32) -> Option<Vec<(usize, usize)>> {
    if b.len() < 14 || b[8] != 0xFF || b[9] != 1 || be32(b, 0) >= total || be32(b, 4) >= total {
        return None;
    }
    let r = ranges(b, b.len())?;
    (!r.is_empty()).then_some(r)
}

/// The leaf node at the start of `b` of the first tree shape (node size,
/// node count) it fits, that `fits` accepts: its size and record ranges.
fn leaf_at(
    b: &[u8],
    shapes: &[(usize, u32)],
    fits: impl Fn(usize) -> bool,
) -> Option<(usize, Vec<(usize, usize)>)> {
    shapes.iter().find_map(|&(node, total)| {
        let w = b.get(..node).filter(|_| fits(node))?;
        leaf_records(w, total).map(|r| (node, r))
    })
}

/// Called with a record's key, data and volume offset.
type RecordVisit<'a> = dyn FnMut(&[u8], &[u8], u64) + 'a;

/// Every leaf node copy of the trees of `shapes` (node size, node count: the
/// catalog's, the attributes tree's) in the journal's `len` bytes at volume
/// offset `start`: each record as (key, data, volume offset). Copies the
/// circular buffer wrapped (begun near its end and gone on after the journal
/// header) are read across the seam.
pub(crate) fn scan_journal(
    vol: &dredge_core::VolumeReader,
    start: u64,
    len: u64,
    shapes: &[(usize, u32)],
    visit: &mut RecordVisit<'_>,
) {
    let shapes: Vec<(usize, u32)> = shapes.iter().copied().filter(|s| s.0 >= STEP).collect();
    let Some(node) = shapes.iter().map(|s| s.0).max() else {
        return;
    };
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
        while p < got && p < CHUNK {
            let b = &buf[p..got];
            if let Some((n, recs)) = leaf_at(b, &shapes, |_| true) {
                for (s, e) in recs {
                    if let Some((k, d)) = split_record(&b[s..e]) {
                        visit(k, d, vol.base() + start + pos + (p + s) as u64);
                    }
                }
                p += n;
            } else {
                p += STEP;
            }
        }
        pos += CHUNK as u64;
    }
    if let Some(jhdr) = jhdr {
        scan_seam(vol, (start, len, jhdr), node, &shapes, visit);
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
/// `journal`: its volume offset, length and header size; `node`: the
/// largest node size of `shapes`.
fn scan_seam(
    vol: &dredge_core::VolumeReader,
    journal: (u64, u64, u64),
    node: usize,
    shapes: &[(usize, u32)],
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
    while q < tail_len as usize {
        let b = &seam[q..];
        // Only a node that crosses the end: one inside the tail was read with
        // the rest of the buffer.
        if let Some((_, recs)) = leaf_at(b, shapes, |n| q + n > tail_len as usize) {
            for (s, e) in recs {
                if let Some((k, d)) = split_record(&b[s..e]) {
                    visit(k, d, place(q + s));
                }
            }
        }
        q += STEP;
    }
}
