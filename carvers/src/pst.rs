//! Outlook personal folders (PST) and offline folders (OST), as [MS-PST] lays
//! them out, in both formats: Unicode (Outlook 2003 and later, 64-bit ids and
//! offsets) and ANSI (Outlook 97 to 2002, 32-bit ones, files up to 2 GB, still
//! met on old disks). A header with its CRC, then 512-byte pages (allocation
//! maps every 253 952 bytes, the pages of the node and block B-trees) and data
//! blocks, each page and block ending in a trailer with its CRC, its block id
//! and a signature computed from its offset. The block B-tree names every
//! block with its offset and size, so a file in pieces carved as one fails at
//! the first block past the cut.

use crate::{partial_as, Carver, Reader, Verdict};
use dredge_core::bytes::{le16, le32, le64};
use dredge_core::checksum::crc32_update;

/// [MS-PST] 5.3: CRC-32 (the zlib polynomial), started at 0, not inverted.
fn crc(b: &[u8]) -> u32 {
    crc32_update(0, b)
}

/// [MS-PST] 5.5: a page's or block's signature from its offset and id.
fn sig(ib: u64, bid: u64) -> u16 {
    let x = ib ^ bid;
    ((x >> 16) as u32 ^ x as u32) as u16
}

const PAGE: u64 = 512;
/// The first allocation map page, and the distance between two.
const AMAP: u64 = 0x4400;
const AMAP_STEP: u64 = 0x3E000;
const PTYPE_AMAP: u8 = 0x84;
const PTYPE_BBT: u8 = 0x80;
const PTYPE_NBT: u8 = 0x81;
/// B-tree levels at most (a tree of millions of blocks has four).
const MAX_DEPTH: u32 = 8;
/// Pages and blocks checked at most.
const MAX_ITEMS: usize = 1 << 22;

/// Where the two formats differ: the width of ids and offsets (8 bytes in
/// Unicode, 4 in ANSI), and with it the sizes of trailers and entries and
/// where the header keeps its root.
#[derive(Clone, Copy)]
struct Fmt {
    unicode: bool,
}

impl Fmt {
    /// An id or offset at `at` of `b`.
    fn id(self, b: &[u8], at: usize) -> u64 {
        if self.unicode {
            le64(b, at)
        } else {
            u64::from(le32::<u32>(b, at))
        }
    }
    fn width(self) -> usize {
        if self.unicode {
            8
        } else {
            4
        }
    }
    /// A page's bytes before its trailer (what its CRC covers).
    fn page_data(self) -> usize {
        if self.unicode {
            496
        } else {
            500
        }
    }
    /// A data block's trailer: cb, signature, then the CRC and the id
    /// (Unicode) or the id and the CRC (ANSI).
    fn block_trailer(self) -> u64 {
        if self.unicode {
            16
        } else {
            12
        }
    }
    /// A data block's extent: its data and trailer, 64-byte aligned.
    fn block_len(self, cb: u16) -> u64 {
        (u64::from(cb) + self.block_trailer()).div_ceil(64) * 64
    }
}

/// A page that checks: its type twice, its CRC, and for B-tree pages the id
/// its parent names and the signature of its offset and id.
fn page(r: &mut Reader<'_>, f: Fmt, ib: u64, ptype: u8, bid: Option<u64>) -> Option<Vec<u8>> {
    let p = r.get(ib, PAGE as usize)?.to_vec();
    let d = f.page_data();
    let (t, repeat, wsig) = (p[d], p[d + 1], le16::<u16>(&p, d + 2));
    let (c, pbid) = if f.unicode {
        (le32::<u32>(&p, 500), le64(&p, 504))
    } else {
        (le32::<u32>(&p, 508), u64::from(le32::<u32>(&p, 504)))
    };
    let ok = t == ptype
        && repeat == ptype
        && c == crc(&p[..d])
        && match bid {
            Some(b) => pbid == b && wsig == sig(ib, b),
            None => pbid == ib,
        };
    ok.then_some(p)
}

/// What the walk of the block B-tree found.
#[derive(Default)]
struct Walk {
    /// Data blocks: (offset, size, id).
    blocks: Vec<(u64, u16, u64)>,
    /// The lowest offset of a page that does not check out.
    bad: Option<u64>,
    pages: usize,
    /// The ends of the pages and blocks that check out.
    ends: Vec<u64>,
}

impl Walk {
    fn fail(&mut self, at: u64) {
        self.bad = Some(self.bad.map_or(at, |b| b.min(at)));
    }
}

/// Walks the B-tree whose root is page `ib` (id `bid`) of type `ptype`,
/// keeping the block B-tree's leaf entries; pages past `eof` or met twice are
/// failures.
fn tree(r: &mut Reader<'_>, f: Fmt, w: &mut Walk, ptype: u8, root: (u64, u64), eof: u64) {
    let mut todo = vec![(root.0, root.1, 0u32)];
    let mut seen = std::collections::HashSet::new();
    while let Some((bid, ib, depth)) = todo.pop() {
        if w.pages + w.blocks.len() >= MAX_ITEMS {
            w.fail(ib);
            return;
        }
        w.pages += 1;
        if ib % PAGE != 0 || ib.saturating_add(PAGE) > eof || depth > MAX_DEPTH || !seen.insert(ib)
        {
            w.fail(ib.min(eof));
            continue;
        }
        let Some(p) = page(r, f, ib, ptype, Some(bid)) else {
            w.fail(ib);
            continue;
        };
        w.ends.push(ib + PAGE);
        // The entries, then their count, its maximum, an entry's size and
        // the page's level.
        let room = f.page_data() - if f.unicode { 8 } else { 4 };
        let (n, size, level) = (usize::from(p[room]), usize::from(p[room + 2]), p[room + 3]);
        // Key and BREF (intermediate), BREF, cb and cRef (block leaves; 4
        // bytes of padding in Unicode), or nid, two block ids and the
        // parent's nid (node leaves).
        let x = f.width();
        let want = match (level, ptype) {
            (0, PTYPE_BBT) if f.unicode => 24,
            (0, PTYPE_BBT) => 12,
            (0, _) => 4 * x,
            _ => 3 * x,
        };
        if size != want || n * size > room {
            w.fail(ib);
            continue;
        }
        for e in p[..n * size].chunks_exact(size) {
            if level > 0 {
                todo.push((f.id(e, x), f.id(e, 2 * x), depth + 1));
            } else if ptype == PTYPE_BBT {
                w.blocks
                    .push((f.id(e, x), le16::<u16>(e, 2 * x), f.id(e, 0)));
            }
        }
    }
}

/// Whether the data block at `ib` of `cb` bytes (id `bid`) checks out: its
/// trailer, at the end of its 64-byte-aligned extent, gives its size, id,
/// signature and the CRC of its data.
fn block(r: &mut Reader<'_>, f: Fmt, ib: u64, cb: u16, bid: u64) -> bool {
    let total = f.block_len(cb) as usize;
    let Some(data) = r.get(ib, total).map(<[u8]>::to_vec) else {
        return false;
    };
    let t = &data[total - f.block_trailer() as usize..];
    let (tcrc, tbid) = if f.unicode {
        (le32::<u32>(t, 4), le64(t, 8))
    } else {
        (le32::<u32>(t, 8), u64::from(le32::<u32>(t, 4)))
    };
    le16::<u16>(t, 0) == cb
        && le16::<u16>(t, 2) == sig(ib, bid)
        && tbid == bid
        && tcrc == crc(&data[..usize::from(cb)])
}

/// PST and OST: see the module's comment.
pub struct Pst;

impl Carver for Pst {
    fn name(&self) -> &'static str {
        "pst"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("pst")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"!BDN"]
    }
    fn min_size(&self) -> u64 {
        AMAP + PAGE
    }
    fn max_size(&self) -> u64 {
        1 << 36
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 564).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let subtype = match &h[8..10] {
            b"SM" => "pst",
            b"SO" => "ost",
            _ => return Verdict::Reject,
        };
        // Unicode (23), ANSI (14, 15); 4 KiB pages (36) are another layout.
        let f = match le16::<u16>(&h, 10) {
            23 => Fmt { unicode: true },
            14 | 15 => Fmt { unicode: false },
            _ => return Verdict::Reject,
        };
        // The CRC of the header's start; Unicode adds one of more of it.
        // The root: the file's size, the last allocation map, then the node
        // and block B-trees' roots as (id, offset).
        let (root, sentinel) = if f.unicode { (180, 512) } else { (164, 460) };
        let x = f.width();
        if le32::<u32>(&h, 4) != crc(&h[8..8 + 471])
            || (f.unicode && le32::<u32>(&h, 524) != crc(&h[8..8 + 516]))
            || h[sentinel] != 0x80
        {
            return Verdict::Reject;
        }
        let (eof, amap_last) = (f.id(&h, root + 4), f.id(&h, root + 4 + x));
        let brefs = root + 4 + 4 * x;
        let (nbt, bbt) = (
            (f.id(&h, brefs), f.id(&h, brefs + x)),
            (f.id(&h, brefs + 2 * x), f.id(&h, brefs + 3 * x)),
        );
        if eof < self.min_size() || eof > self.max_size() || amap_last >= eof {
            return Verdict::Reject;
        }
        let mut w = Walk::default();
        tree(r, f, &mut w, PTYPE_BBT, bbt, eof);
        tree(r, f, &mut w, PTYPE_NBT, nbt, eof);
        // The allocation maps and the blocks, checked in offset order (one
        // sequential read of the file).
        let mut items: Vec<(u64, Option<(u16, u64)>)> = (0..)
            .map(|i| AMAP + i * AMAP_STEP)
            .take_while(|&ib| ib <= amap_last)
            .take(MAX_ITEMS)
            .map(|ib| (ib, None))
            .collect();
        items.extend(w.blocks.iter().map(|&(ib, cb, bid)| (ib, Some((cb, bid)))));
        items.sort_unstable();
        for &(ib, what) in &items {
            if w.bad.is_some_and(|b| ib >= b) {
                break;
            }
            let ok = match what {
                None => page(r, f, ib, PTYPE_AMAP, None).is_some(),
                Some((cb, bid)) => {
                    ib % 64 == 0
                        && ib.saturating_add(f.block_len(cb)) <= eof
                        && block(r, f, ib, cb, bid)
                }
            };
            if ok {
                let len = what.map_or(PAGE, |(cb, _)| f.block_len(cb));
                w.ends.push(ib + len);
            } else {
                w.fail(ib);
            }
        }
        match w.bad {
            None => Verdict::Complete {
                len: eof,
                subtype: Some(subtype),
            },
            // Up to the end of the last page or block that checks out before
            // the first that does not (the header at least).
            Some(at) => partial_as(
                w.ends
                    .iter()
                    .copied()
                    .filter(|&e| e <= at)
                    .max()
                    .unwrap_or(if f.unicode { 564 } else { 512 }),
                "a page or block is not where the file's B-trees put it, or fails its CRC",
                Some(subtype),
            ),
        }
    }
}
