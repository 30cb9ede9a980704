//! One bzip2 block decoded on its own, to check its contents against the CRC
//! its header holds (of the decoded bytes). Blocks are bit-aligned with no
//! length, so the block's bits are copied into a stream of their own (the
//! header, the block, the end-of-stream mark and, for one block, a stream CRC
//! equal to the block's) and decoded by `bzip2-rs` (safe Rust), which checks
//! each block's CRC; a panic in it is caught and counts as a failure.

use crate::Reader;
use std::io::Read;

const END: u64 = 0x1772_4538_5090;
/// Decoded bytes read at most per block: a block holds at most 900 000
/// bytes after bzip2's first run-length stage, which expands runs of 4 to 255
/// by up to 51 times; more is not bzip2.
const MAX_OUT: u64 = 900_000 * 52;

/// What decoding the block told.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// Its contents decode to bytes with its CRC.
    Good,
    /// They do not (data from elsewhere inside it, or cut).
    Bad,
}

/// Decodes the block whose magic starts at bit `from` and which ends at bit
/// `to` (the next mark), for a stream of block-size digit `level`.
pub(crate) fn check_block(r: &mut Reader<'_>, level: u8, from: u64, to: u64) -> Option<Block> {
    let first = from / 8;
    let bytes = r.get(first, (to.div_ceil(8) - first) as usize)?.to_vec();
    let crc = {
        let b = r.get((from + 48) / 8, 5)?;
        let v = b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x));
        (v >> (8 - (from + 48) % 8)) as u32
    };
    let mut w = BitWriter::default();
    for &c in b"BZh" {
        w.push(u64::from(c), 8);
    }
    w.push(u64::from(b'0' + level), 8);
    // The block's bits shifted onto byte boundaries (the header before them
    // is whole bytes), then the last few one by one.
    let (shift, bits) = ((from % 8) as u32, to - from);
    let at = |i: usize| u16::from(bytes.get(i).copied().unwrap_or(0));
    for i in 0..(bits / 8) as usize {
        w.push(
            u64::from(((at(i) << 8 | at(i + 1)) >> (8 - shift)) as u8),
            8,
        );
    }
    for bit in bits / 8 * 8..bits {
        let b = u64::from(shift) + bit;
        w.push(u64::from(bytes[(b / 8) as usize] >> (7 - b % 8) & 1), 1);
    }
    w.push(END, 48);
    w.push(u64::from(crc), 32);
    let stream = w.finish();
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let d = bzip2_rs::DecoderReader::new(&stream[..]);
        std::io::copy(&mut d.take(MAX_OUT + 1), &mut std::io::sink())
    }));
    Some(match decoded {
        Ok(Ok(n)) if n <= MAX_OUT => Block::Good,
        _ => Block::Bad,
    })
}

/// Bits written most significant first.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    n: u8,
}

impl BitWriter {
    fn push(&mut self, v: u64, bits: u32) {
        if bits == 8 && self.n == 0 {
            self.out.push(v as u8);
            return;
        }
        for i in (0..bits).rev() {
            self.acc = self.acc << 1 | (v >> i & 1) as u8;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc);
                (self.acc, self.n) = (0, 0);
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc << (8 - self.n));
        }
        self.out
    }
}
