//! Zstandard frame validator (RFC 8878).

use crate::{partial, Carver, Reader, Verdict};

/// Zstandard: the frame header (no reserved bit, a window of at most 2 GiB),
/// then block headers walked to the last block (no reserved type, no block
/// over 128 KiB or the window), then the content checksum when the header
/// says there is one. Compressed blocks are not decoded and the checksum is
/// of the decoded content, so nothing would fail if foreign data sat inside a
/// block: a whole frame is `Unverified`.
pub struct Zstd;

const MAX_BLOCK: u64 = 128 << 10;

impl Carver for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "zst"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x28\xB5\x2F\xFD"]
    }
    fn min_size(&self) -> u64 {
        9
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(fhd) = r.u8(4) else {
            return Verdict::Reject;
        };
        if fhd & 0x08 != 0 {
            return Verdict::Reject;
        }
        let single = fhd & 0x20 != 0;
        let mut at = 5u64;
        let mut window = u64::MAX;
        if !single {
            let Some(w) = r.u8(at) else {
                return Verdict::Reject;
            };
            let exp = u64::from(w >> 3);
            if exp > 21 {
                // Windows over 2 GiB are not made by the reference tools.
                return Verdict::Reject;
            }
            let base = 1u64 << (10 + exp);
            window = base + base / 8 * u64::from(w & 7);
            at += 1;
        }
        at += [0, 1, 2, 4][usize::from(fhd & 3)];
        at += match fhd >> 6 {
            0 => u64::from(single),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let limit = MAX_BLOCK.min(window);
        let mut blocks = 0u64;
        // Where the last block walked starts (its header).
        let mut last_start = at;
        loop {
            let Some(h) = r.get(at, 3) else {
                return cut(at, blocks, "frame cut off before its last block");
            };
            let h = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
            let (last, kind, size) = (h & 1 == 1, (h >> 1) & 3, u64::from(h >> 3));
            if kind == 3 || size > limit {
                // The header before it said where this one is, so the bytes
                // stopped being the frame's inside the block before: the
                // frame is whole to that block's start (a stream cut or in
                // pieces; before, the partial took in the block and ran past
                // the cut).
                return cut(
                    last_start,
                    blocks.saturating_sub(1),
                    "a block header that no encoder writes: the frame breaks inside the block before it",
                );
            }
            last_start = at;
            // An RLE block stores one byte, whatever size it decodes to.
            at += 3 + if kind == 1 { 1 } else { size };
            blocks += 1;
            if last {
                break;
            }
        }
        if fhd & 0x04 != 0 {
            at += 4;
        }
        if at > r.limit() {
            return partial(r.limit(), "frame cut off at the end of the image");
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}

/// A frame that breaks at `at` after `blocks` whole blocks: nothing when no
/// block stood (most header hits in random data), else partial there.
fn cut(at: u64, blocks: u64, why: &str) -> Verdict {
    if blocks == 0 {
        Verdict::Reject
    } else {
        partial(at, why)
    }
}
