//! Outlook personal folders (PST) and offline folders (OST), Unicode format
//! (Outlook 2003 and later), as [MS-PST] lays them out: a header with two
//! CRCs, then 512-byte pages (allocation maps every 253 952 bytes, the pages
//! of the node and block B-trees) and data blocks, each page and block ending
//! in a trailer with its CRC, its block id and a signature computed from its
//! offset. The block B-tree names every block with its offset and size, so a
//! file in pieces carved as one fails at the first block past the cut.

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

/// A page that checks: its type twice, its CRC, and for B-tree pages the id
/// its parent names and the signature of its offset and id.
fn page(r: &mut Reader<'_>, ib: u64, ptype: u8, bid: Option<u64>) -> Option<Vec<u8>> {
    let p = r.get(ib, PAGE as usize)?.to_vec();
    let (t, repeat, wsig, c, pbid) = (
        p[496],
        p[497],
        le16::<u16>(&p, 498),
        le32::<u32>(&p, 500),
        le64(&p, 504),
    );
    let ok = t == ptype
        && repeat == ptype
        && c == crc(&p[..496])
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
fn tree(r: &mut Reader<'_>, w: &mut Walk, ptype: u8, root: (u64, u64), eof: u64) {
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
        let Some(p) = page(r, ib, ptype, Some(bid)) else {
            w.fail(ib);
            continue;
        };
        w.ends.push(ib + PAGE);
        let (n, size, level) = (usize::from(p[488]), usize::from(p[490]), p[491]);
        let want = match (level, ptype) {
            (0, PTYPE_BBT) => 24,
            (0, _) => 32,
            _ => 24,
        };
        if size != want || n * size > 488 {
            w.fail(ib);
            continue;
        }
        for e in p[..n * size].chunks_exact(size) {
            if level > 0 {
                todo.push((le64(e, 8), le64(e, 16), depth + 1));
            } else if ptype == PTYPE_BBT {
                w.blocks.push((le64(e, 8), le16::<u16>(e, 16), le64(e, 0)));
            }
        }
    }
}

/// Whether the data block at `ib` of `cb` bytes (id `bid`) checks out: its
/// trailer, at the end of its 64-byte-aligned extent, gives its size, id,
/// signature and the CRC of its data.
fn block(r: &mut Reader<'_>, ib: u64, cb: u16, bid: u64) -> bool {
    let total = (u64::from(cb) + 16).div_ceil(64) * 64;
    let Some(data) = r.get(ib, total as usize).map(<[u8]>::to_vec) else {
        return false;
    };
    let t = &data[total as usize - 16..];
    le16::<u16>(t, 0) == cb
        && le16::<u16>(t, 2) == sig(ib, bid)
        && le64(t, 8) == bid
        && le32::<u32>(t, 4) == crc(&data[..usize::from(cb)])
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
        // Unicode (23); ANSI (14, 15) and 4 KiB pages (36) are other layouts.
        if le16::<u16>(&h, 10) != 23
            || le32::<u32>(&h, 4) != crc(&h[8..8 + 471])
            || le32::<u32>(&h, 524) != crc(&h[8..8 + 516])
            || h[512] != 0x80
        {
            return Verdict::Reject;
        }
        let (eof, amap_last) = (le64(&h, 184), le64(&h, 192));
        let (nbt, bbt) = (
            (le64(&h, 216), le64(&h, 224)),
            (le64(&h, 232), le64(&h, 240)),
        );
        if eof < self.min_size() || eof > self.max_size() || amap_last >= eof {
            return Verdict::Reject;
        }
        let mut w = Walk::default();
        tree(r, &mut w, PTYPE_BBT, bbt, eof);
        tree(r, &mut w, PTYPE_NBT, nbt, eof);
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
                None => page(r, ib, PTYPE_AMAP, None).is_some(),
                Some((cb, bid)) => {
                    ib % 64 == 0
                        && ib.saturating_add(u64::from(cb)).saturating_add(16) <= eof
                        && block(r, ib, cb, bid)
                }
            };
            if ok {
                let len = what.map_or(PAGE, |(cb, _)| (u64::from(cb) + 16).div_ceil(64) * 64);
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
            // the first that does not (the header's 564 bytes at least).
            Some(at) => partial_as(
                w.ends
                    .iter()
                    .copied()
                    .filter(|&e| e <= at)
                    .max()
                    .unwrap_or(564),
                "a page or block is not where the file's B-trees put it, or fails its CRC",
                Some(subtype),
            ),
        }
    }
}
