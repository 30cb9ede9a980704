//! bzip2 validator (the format of bzip2 1.0, as its `bzip2recover` reads it).

use crate::bzip2_block::{check_block, Block};
use crate::{partial, Carver, Reader, Verdict};

/// bzip2: `BZh` and a block-size digit, then blocks that each begin with a
/// 48-bit magic (π's digits) and their CRC, and an end-of-stream mark (√π's)
/// with the stream's CRC, folded from the blocks' CRCs. Blocks are bit-aligned
/// and hold no length, so each next mark is found bit by bit within a block's
/// reach, as `bzip2recover` finds them; the stream's CRC must equal the fold of
/// the blocks found, so a missing or extra block fails. Then each block is
/// decoded on its own (`bzip2_block.rs`) and must give bytes with its CRC, so
/// foreign data inside a block (a file carved across a gap, or overwritten in
/// place) is caught: the stream is then partial, up to that block. A stream
/// whose every block checks is complete. Concatenated streams (pbzip2) end at
/// the first.
pub struct Bzip2;

const BLOCK: u64 = 0x3141_5926_5359;
const END: u64 = 0x1772_4538_5090;
const MASK: u64 = (1 << 48) - 1;
/// Bits a block holds at least after its magic: CRC, randomised flag, origin
/// pointer, the map of used bytes.
const BLOCK_MIN_BITS: u64 = 48 + 32 + 1 + 24 + 16;
/// Bytes read at a time while looking for the next mark.
const CHUNK: u64 = 64 << 10;

impl Carver for Bzip2 {
    fn name(&self) -> &'static str {
        "bzip2"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "bz2"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // The first block is byte-aligned: the magic follows the header.
        &[
            b"BZh11AY&SY",
            b"BZh21AY&SY",
            b"BZh31AY&SY",
            b"BZh41AY&SY",
            b"BZh51AY&SY",
            b"BZh61AY&SY",
            b"BZh71AY&SY",
            b"BZh81AY&SY",
            b"BZh91AY&SY",
        ]
    }
    fn min_size(&self) -> u64 {
        37
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(level) = r.u8(3).map(|d| u64::from(d.wrapping_sub(b'0'))) else {
            return Verdict::Reject;
        };
        if !(1..=9).contains(&level) {
            return Verdict::Reject;
        }
        // A block holds at most level × 100 000 bytes before compression; what
        // the compressed block may take beyond that (tables, incompressible
        // data) is well inside a quarter more.
        let reach = (level * 100_000 * 5 / 4 + 4096) * 8;
        let mut combined = 0u32;
        let mut at = 32u64;
        // Each block's first bit, and where the last one found ends.
        let mut starts = Vec::new();
        loop {
            let Some(crc) = bits32(r, at + 48) else {
                return Verdict::Reject;
            };
            starts.push(at);
            combined = combined.rotate_left(1) ^ crc;
            match next_mark(r, at + BLOCK_MIN_BITS, at + reach) {
                Some((next, BLOCK)) => at = next,
                Some((end, _)) => {
                    let stored = bits32(r, end + 48);
                    // Every block, to the end-of-stream mark, decoded.
                    if let Some(v) = first_bad(r, level as u8, &starts, end) {
                        return v;
                    }
                    return match stored {
                        Some(stored) if stored == combined => Verdict::Complete {
                            len: (end + 80).div_ceil(8),
                            subtype: None,
                        },
                        // Every block checks, so one is missing or extra: the
                        // stream is kept whole, as bzip2recover would want it.
                        Some(_) => partial(
                            (end + 80).div_ceil(8),
                            "the stream's CRC is not the fold of its blocks' CRCs (a block missing or extra)",
                        ),
                        None => partial(
                            (at + 80).div_ceil(8),
                            "the end-of-stream CRC is cut off",
                        ),
                    };
                }
                None => {
                    // The blocks before this one are whole by their marks, and
                    // are decoded; this one's header (magic and CRC) is all
                    // that is known of it.
                    starts.pop();
                    // With the first block cut, all that holds is its header:
                    // no partial, as for a first block that fails its CRC.
                    if starts.is_empty() {
                        return Verdict::Reject;
                    }
                    if let Some(v) = first_bad(r, level as u8, &starts, at) {
                        return v;
                    }
                    return partial(
                        (at + 80).div_ceil(8),
                        "no next block or end-of-stream mark within a block's reach",
                    );
                }
            }
        }
    }
}

/// The first of the blocks starting at `starts` (the last ending at bit
/// `end`) whose contents do not give its CRC: the stream is partial up to
/// it. `None` when every block checks (or one could not be read, which leaves
/// the verdict to the marks).
fn first_bad(r: &mut Reader<'_>, level: u8, starts: &[u64], end: u64) -> Option<Verdict> {
    for (j, &from) in starts.iter().enumerate() {
        let to = starts.get(j + 1).copied().unwrap_or(end);
        if check_block(r, level, from, to)? == Block::Bad {
            let why = format!(
                "block {} of the stream does not decode to bytes with its CRC (data from elsewhere inside it)",
                j + 1
            );
            // Up to the bad block's magic. With the first block bad nothing
            // of the stream's data holds: a partial would be its 14-byte
            // header alone, so there is none (as for a header in noise).
            if j == 0 {
                return Some(Verdict::Reject);
            }
            return Some(partial(from.div_ceil(8), &why));
        }
    }
    None
}

/// The 32 bits starting at bit `bit` (most significant bit first).
fn bits32(r: &mut Reader<'_>, bit: u64) -> Option<u32> {
    let b = r.get(bit / 8, 5)?;
    let v = b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x));
    Some((v >> (8 - bit % 8)) as u32)
}

/// The first block or end-of-stream mark starting at a bit in `from..=to`:
/// (its bit offset, which mark).
fn next_mark(r: &mut Reader<'_>, from: u64, to: u64) -> Option<(u64, u64)> {
    let mut byte = from / 8;
    let mut w = 0u64;
    while byte * 8 <= to + 48 {
        let n = CHUNK.min(r.limit().checked_sub(byte)?);
        if n == 0 {
            return None;
        }
        for (i, &b) in r.get(byte, n as usize)?.iter().enumerate() {
            w = w << 8 | u64::from(b);
            let last = (byte + i as u64) * 8 + 7;
            // Shifts from the earliest start to the latest.
            for k in (0..8).rev() {
                let Some(start) = (last - k).checked_sub(47) else {
                    continue;
                };
                if start < from || start > to {
                    continue;
                }
                let m = (w >> k) & MASK;
                if m == BLOCK || m == END {
                    return Some((start, m));
                }
            }
        }
        byte += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    /// Bits written most significant first.
    fn push(bits: &mut Vec<bool>, v: u64, n: u32) {
        for i in (0..n).rev() {
            bits.push(v >> i & 1 == 1);
        }
    }

    fn bytes(bits: &[bool]) -> Vec<u8> {
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, &x)| b | u8::from(x) << (7 - i))
            })
            .collect()
    }

    /// A stream of blocks (CRC, body bits) whose marks fall off byte boundaries.
    fn stream(blocks: &[(u32, u32)], stored: u32) -> Vec<u8> {
        let mut bits = Vec::new();
        for &c in b"BZh9" {
            push(&mut bits, u64::from(c), 8);
        }
        for &(crc, body) in blocks {
            push(&mut bits, BLOCK, 48);
            push(&mut bits, u64::from(crc), 32);
            for i in 0..body {
                bits.push(i % 3 == 0);
            }
        }
        push(&mut bits, END, 48);
        push(&mut bits, u64::from(stored), 32);
        bytes(&bits)
    }

    fn verdict(b: Vec<u8>) -> Verdict {
        let src = Sectored::new(MemDevice::new(b));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, Bzip2.max_size());
        Bzip2.validate(&mut r)
    }

    /// Marks off byte boundaries are found (the blocks' bodies here are no
    /// bzip2, so the first block fails its decoding and nothing is carved,
    /// where the marks alone made it a whole stream). Real streams:
    /// `tests/carve_archives.rs`.
    #[test]
    fn marks_off_byte_boundaries_are_found_and_each_block_must_decode() {
        let blocks = [(0xDEAD_BEEF, 1203), (0x0123_4567, 77 * 8 + 5), (7, 300)];
        let fold = blocks
            .iter()
            .fold(0u32, |c, &(crc, _)| c.rotate_left(1) ^ crc);
        let good = stream(&blocks, fold);
        let mut padded = good.clone();
        padded.extend([0xAA; 64]);
        assert_eq!(verdict(padded), Verdict::Reject);
        // A header with no block-size digit is no bzip2.
        let mut bad = good.clone();
        bad[3] = b'0';
        assert_eq!(verdict(bad), Verdict::Reject);
    }
}
