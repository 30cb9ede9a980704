//! gzip validator.

use crate::inflate::{inflate_blocks, BlockStart, End};
use crate::SECTOR;
use crate::{Carver, Reader, Verdict};

/// GZIP: header (with optional extra, name, comment, header CRC), a deflate stream
/// inflated to its exact end, and a trailer whose CRC-32 and length must match what
/// the stream produced.
pub struct Gzip;

/// How near the failure a block's start may be and still be taken for the
/// stream's own: a header of codes is up to a few hundred bytes, so one the
/// failure falls inside was made of the bytes that are not the stream's.
const HEADER_SLACK: u64 = 512;

impl Carver for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "gz"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x1f\x8b\x08"]
    }
    fn min_size(&self) -> u64 {
        20
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(flags) = r.u8(3) else {
            return Verdict::Reject;
        };
        if flags & 0xE0 != 0 || !matches!(r.u8(9), Some(0..=13 | 255)) {
            return Verdict::Reject;
        }
        let mut off = 10u64;
        if flags & 0x04 != 0 {
            let Some(x) = r.le16(off) else {
                return Verdict::Reject;
            };
            off += 2 + u64::from(x);
        }
        for bit in [0x08u8, 0x10] {
            if flags & bit != 0 {
                let Some(z) = r.find(off, b"\0") else {
                    return Verdict::Reject;
                };
                if z - off > 4096 {
                    return Verdict::Reject;
                }
                off = z + 1;
            }
        }
        if flags & 0x02 != 0 {
            off += 2;
        }
        let mut crc = !0u32;
        let limit = r.limit();
        let mut blocks: Vec<BlockStart> = Vec::new();
        let run = inflate_blocks(
            r,
            |r, at, n| r.get(at, n).map(<[u8]>::to_vec),
            off,
            limit,
            &mut blocks,
            |b| {
                crc = dredge_core::checksum::crc32_update(crc, b);
                true
            },
        );
        let (total, why) = (
            run.total,
            match run.end {
                End::Done => "",
                // Out of budget mid-stream: what inflated so far still holds.
                End::Unreadable => "deflate stream not followed to its end",
                End::Budget => "inflation stopped at the work budget",
                End::Cut => "deflate stream cut off",
                End::Stalled => "deflate stream stalled",
                End::Damaged | End::Stopped => "deflate stream damaged",
            },
        );
        off = run.at;
        if run.end != End::Done {
            if total == 0 && matches!(run.end, End::Unreadable | End::Damaged) {
                return Verdict::Reject;
            }
            if matches!(run.end, End::Damaged | End::Stalled) {
                if let Some(v) = broke_in_block(&blocks, run.at, why) {
                    return v;
                }
                return not_compressed_from(r, &blocks, off, why);
            }
            return Verdict::Partial {
                len: off,
                why: why.into(),
                subtype: None,
            };
        }
        let (Some(stored_crc), Some(isize)) = (r.le32(off), r.le32(off + 4)) else {
            return Verdict::Partial {
                len: off,
                why: "trailer cut off".into(),
                subtype: None,
            };
        };
        if stored_crc != !crc || u64::from(isize) != total & 0xFFFF_FFFF {
            let why = "trailer CRC or length does not match the data";
            if let Some(v) = broke_in_block(&blocks, off, why) {
                return v;
            }
            return not_compressed_from(r, &blocks, off, why);
        }
        Verdict::Complete {
            len: off + 8,
            subtype: None,
        }
    }
}

/// A stream that broke where no block boundary says where: it goes no
/// further than the first sector after its first block's start that cannot
/// be compressed data: one of fewer than 64 byte values (zeros, text, a
/// table), where Huffman-coded bits take about 300 of 256 in random-looking
/// bytes. A cut followed by such bytes then costs them nothing: before, the
/// codes of the block the cut fell in decoded zeros and text as symbols for
/// as long as they ran, and the partial swallowed the files laid there. Noise
/// right after the cut stays in (nothing tells it from the stream's bits).
fn not_compressed_from(r: &mut Reader<'_>, blocks: &[BlockStart], end: u64, why: &str) -> Verdict {
    let from = blocks.first().map_or(0, |b| b.at);
    let first = (r.start() + from + 1).next_multiple_of(SECTOR) - r.start();
    let mut s = first;
    while s + SECTOR <= end {
        let Some(b) = r.get(s, SECTOR as usize) else {
            break;
        };
        if !crate::jpeg::dense(b) {
            return Verdict::Partial {
                len: s,
                why: format!("{why}; the bytes from here cannot be compressed data"),
                subtype: None,
            };
        }
        s += SECTOR;
    }
    Verdict::Partial {
        len: end,
        why: why.into(),
        subtype: None,
    }
}

/// Bytes that are not the stream's (noise after a cut, another file) go on
/// inflating for a while through the codes of the block they fell into, and
/// through blocks of fixed codes their bits spell, sometimes to a final block
/// and a trailer that does not match: the stream broke inside the last block
/// with codes of its own (or stored) that started before the failure (at
/// `failed`), so it is whole to that block's start. With no such block after
/// the first, there is nothing to say but where it failed (`None`).
fn broke_in_block(blocks: &[BlockStart], failed: u64, why: &str) -> Option<Verdict> {
    // (A header the failure falls right after is the noise's own, read as a
    // block's and found wanting.)
    let b = blocks
        .iter()
        .rev()
        .find(|b| b.kind != 1 && b.at + HEADER_SLACK < failed)?;
    (b.at > blocks.first()?.at).then(|| Verdict::Partial {
        len: b.at,
        why: format!("{why}: it breaks in the block that starts here"),
        subtype: None,
    })
}
