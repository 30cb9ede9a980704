//! macOS `.DS_Store` files: what the Finder keeps in every folder it shows
//! (names of the files that were there, icon positions, view settings) —
//! evidence of a folder's contents after the files are gone.

use crate::{Carver, Reader, Verdict};

/// A buddy-allocator file: `00 00 00 01 Bud1`, the root block's offset and
/// size (and the offset again), the root block holding the block addresses,
/// a table of contents (`DSDB` naming the B-tree's header block) and 32
/// free lists. The header, allocated and free blocks must tile the 2 GiB
/// address space exactly; the file ends where the last allocated block
/// ends. Then the `DSDB` B-tree is walked from its root: every node's
/// records (a UTF-16 file name, a four-letter code, a typed value) parsed
/// to their count, every leaf at the header's depth. Every structure is
/// checked: `Complete`; a B-tree that does not parse: `Partial`.
pub struct DsStore;

/// Blocks a file may have.
const MAX_BLOCKS: u64 = 1 << 16;
/// B-tree depth followed.
const MAX_LEVELS: u32 = 8;

/// (offset, size) of block address `a`: the low five bits are log2 size.
fn block(a: u32) -> (u64, u64) {
    (u64::from(a & !0x1F), 1u64 << (a & 0x1F))
}

struct File {
    blocks: Vec<(u64, u64)>,
    records: u64,
}

impl File {
    /// Where block `id`'s bytes are in the carve (after the 4-byte prefix).
    fn at(&self, id: u32) -> Option<(u64, u64)> {
        self.blocks.get(id as usize).map(|&(o, s)| (4 + o, s))
    }
}

/// One record at `at` (inside a node ending at `end`): where it ends.
fn record(r: &mut Reader<'_>, at: u64, end: u64) -> Option<u64> {
    let n = u64::from(r.be32(at)?);
    if n == 0 || n > 1024 {
        return None;
    }
    let mut p = at + 4 + 2 * n;
    let code = r.get(p, 4)?;
    if !code.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return None;
    }
    let kind: [u8; 4] = r.get(p + 4, 4)?.try_into().ok()?;
    p += 8;
    p += match &kind {
        b"long" | b"shor" | b"type" => 4,
        b"bool" => 1,
        b"comp" | b"dutc" => 8,
        b"blob" => 4 + u64::from(r.be32(p)?),
        b"ustr" => 4 + 2 * u64::from(r.be32(p)?),
        _ => return None,
    };
    (p <= end).then_some(p)
}

/// Walks node `id` at `depth` (0: the root; leaves at `levels`); counts
/// records.
fn node(r: &mut Reader<'_>, f: &mut File, id: u32, depth: u32, levels: u32) -> Option<()> {
    if depth > levels || depth > MAX_LEVELS || !r.spend(64) {
        return None;
    }
    let (at, size) = f.at(id)?;
    let end = at + size;
    let child = r.be32(at)?;
    let count = u64::from(r.be32(at + 4)?);
    if count > size / 4 {
        return None;
    }
    f.records += count;
    let mut p = at + 8;
    for _ in 0..count {
        if child != 0 {
            // An internal node: a child before each record, the last after.
            let c = r.be32(p)?;
            node(r, f, c, depth + 1, levels)?;
            p += 4;
        }
        p = record(r, p, end)?;
    }
    if child != 0 {
        node(r, f, child, depth + 1, levels)?;
    } else if depth != levels {
        // Every leaf is at the same depth.
        return None;
    }
    Some(())
}

impl Carver for DsStore {
    fn name(&self) -> &'static str {
        "ds-store"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "DS_Store"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\0\0\0\x01Bud1"]
    }
    fn min_size(&self) -> u64 {
        36
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(off), Some(size), Some(copy)) = (r.be32(8), r.be32(12), r.be32(16)) else {
            return Verdict::Reject;
        };
        let (off, size) = (u64::from(off), u64::from(size));
        if off != u64::from(copy) || size < 16 || !size.is_power_of_two() || off % size != 0 {
            return Verdict::Reject;
        }
        let root = 4 + off;
        let Some(n) = r.be32(root).map(u64::from) else {
            return Verdict::Reject;
        };
        if n == 0 || n > MAX_BLOCKS || 8 + 4 * n > size || !r.spend(n * 8) {
            return Verdict::Reject;
        }
        let mut blocks = Vec::with_capacity(n as usize);
        for i in 0..n {
            let Some(a) = r.be32(root + 8 + 4 * i) else {
                return Verdict::Reject;
            };
            blocks.push(block(a));
        }
        let mut p = root + 8 + 4 * n.div_ceil(256) * 256;
        // Table of contents: names and block ids; DSDB is the one read.
        let Some(toc) = r.be32(p) else {
            return Verdict::Reject;
        };
        p += 4;
        let mut dsdb = None;
        for _ in 0..toc.min(64) {
            let Some(len) = r.u8(p) else {
                return Verdict::Reject;
            };
            let Some(name) = r.get(p + 1, usize::from(len)).map(<[u8]>::to_vec) else {
                return Verdict::Reject;
            };
            let Some(v) = r.be32(p + 1 + u64::from(len)) else {
                return Verdict::Reject;
            };
            if name == b"DSDB" {
                dsdb = Some(v);
            }
            p += 1 + u64::from(len) + 4;
        }
        // Free lists: list i holds blocks of 2^i bytes at multiples of it.
        let mut free = Vec::new();
        for i in 0..32u64 {
            let Some(c) = r.be32(p).map(u64::from) else {
                return Verdict::Reject;
            };
            p += 4;
            if c > MAX_BLOCKS || !r.spend(c * 8) {
                return Verdict::Reject;
            }
            for _ in 0..c {
                let Some(o) = r.be32(p).map(u64::from) else {
                    return Verdict::Reject;
                };
                if o % (1 << i) != 0 {
                    return Verdict::Reject;
                }
                free.push((o, 1u64 << i));
                p += 4;
            }
        }
        if p > root + size {
            return Verdict::Reject;
        }
        // Header (the first 32 bytes), allocated and free blocks tile
        // [0, 2 GiB) exactly.
        let mut all: Vec<(u64, u64)> = blocks.iter().chain(free.iter()).copied().collect();
        all.push((0, 32));
        all.sort_unstable();
        let mut pos = 0;
        for &(o, s) in &all {
            if o != pos {
                return Verdict::Reject;
            }
            pos = o + s;
        }
        if pos != 1 << 31 {
            return Verdict::Reject;
        }
        let len = 4 + blocks.iter().map(|&(o, s)| o + s).max().unwrap_or(0);
        if len > r.limit() {
            return crate::partial(r.limit(), "the file breaks off before its last block");
        }
        let mut f = File { blocks, records: 0 };
        let Some((h, _)) = dsdb.and_then(|id| f.at(id)) else {
            return crate::partial(len, "no DSDB B-tree in the table of contents");
        };
        // Root node and depth; the header's record and node totals are not
        // held to (writers other than the Finder miscount them).
        let (Some(root_node), Some(levels)) = (r.be32(h), r.be32(h + 4)) else {
            return crate::partial(len, "the DSDB header is cut off");
        };
        if node(r, &mut f, root_node, 0, levels).is_none() || f.records == 0 {
            return crate::partial(len, "the DSDB B-tree's nodes do not parse");
        }
        Verdict::Complete { len, subtype: None }
    }
}
