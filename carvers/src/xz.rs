//! XZ validator (the .xz container of xz-utils, tukaani.org's format
//! specification 1.1.0).

use crate::{partial, Carver, Reader, Verdict};
use dredge_core::checksum::crc32_update;

/// XZ: the stream header's flags and CRC-32, then the stream footer found by
/// its magic on a 4-byte boundary, whose CRC-32 and flags must match; the
/// index it points back to (CRC-32) must list blocks whose padded sizes fill
/// the stream from header to index exactly, and every block header at the
/// offset the index gives must carry its CRC-32. A file carved across a gap
/// fails that sum, so a whole verdict is a contiguous file. The compressed
/// data itself is not decoded. Concatenated streams end at the first.
pub struct Xz;

const MAGIC: &[u8] = b"\xFD7zXZ\0";
/// The most blocks an index may list that are checked one by one.
const MAX_BLOCKS: u64 = 1 << 16;

fn crc(b: &[u8]) -> u32 {
    !crc32_update(!0, b)
}

/// A multibyte integer of the format (7 bits a byte, at most 9 bytes) at
/// `*at` in `b`, advancing `*at`.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let c = *b.get(*at)?;
        *at += 1;
        v |= u64::from(c & 0x7F) << (7 * i);
        if c & 0x80 == 0 {
            // The encoding is minimal: no trailing zero byte.
            return (i == 0 || c != 0).then_some(v);
        }
    }
    None
}

impl Carver for Xz {
    fn name(&self) -> &'static str {
        "xz"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "xz"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }
    fn min_size(&self) -> u64 {
        32
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(head) = r.get(0, 12).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let flags = [head[6], head[7]];
        if flags[0] != 0
            || flags[1] > 0x0F
            || crc(&flags) != u32::from_le_bytes([head[8], head[9], head[10], head[11]])
        {
            return Verdict::Reject;
        }
        // The first block header (or an empty stream's index) must check out.
        let Some(first) = r.u8(12) else {
            return Verdict::Reject;
        };
        let first_len = if first == 0 {
            0
        } else {
            let n = (u64::from(first) + 1) * 4;
            match r.get(12, n as usize) {
                Some(h) if block_header_ok(h) => n,
                _ => return Verdict::Reject,
            }
        };
        let mut from = 12 + first_len;
        loop {
            let Some(yz) = r.find(from, b"YZ") else {
                return whole_blocks(r, head[7] & 0x0F);
            };
            from = yz + 1;
            // The magic ends the 12-byte footer, on a 4-byte boundary.
            if (yz + 2) % 4 != 0 || yz < 12 + 10 {
                continue;
            }
            let foot_at = yz + 2 - 12;
            if let Some(end) = footer(r, foot_at, flags) {
                return Verdict::Complete {
                    len: end,
                    subtype: None,
                };
            }
        }
    }
}

/// A stream with no footer that fits: partial up to the end of its last
/// block known whole, a block being whole when the block header its
/// compressed size (a field `xz -T` writes) points to checks, or the index
/// starts there. A block without that field, or the first one, cut: nothing
/// of the data is known to hold, so no partial (its header alone is no
/// prefix worth a file, as for a header in noise).
fn whole_blocks(r: &mut Reader<'_>, check_type: u8) -> Verdict {
    let check = match check_type {
        0 => 0,
        t => 4u64 << ((t - 1) / 3),
    };
    let mut at = 12u64;
    for _ in 0..MAX_BLOCKS {
        let Some(size) = r.u8(at).filter(|&s| s != 0) else {
            break;
        };
        let n = (usize::from(size) + 1) * 4;
        let Some(h) = r.get(at, n).map(<[u8]>::to_vec) else {
            break;
        };
        if !block_header_ok(&h) || h[1] & 0x40 == 0 {
            break;
        }
        let mut i = 2usize;
        let Some(packed) = varint(&h, &mut i) else {
            break;
        };
        let Some(next) = packed
            .checked_add(3)
            .map(|p| at + n as u64 + p / 4 * 4 + check)
        else {
            break;
        };
        let follows = match r.u8(next) {
            Some(0) => index_ok(r, next),
            Some(s) => r
                .get(next, (usize::from(s) + 1) * 4)
                .is_some_and(block_header_ok),
            None => false,
        };
        if !follows {
            break;
        }
        at = next;
    }
    if at == 12 {
        return Verdict::Reject;
    }
    partial(at, "no stream footer whose index fits the stream; the blocks before are whole by their headers")
}

/// Whether an index (its indicator, record count, records, padding and
/// CRC-32) starts at `at`. Its records are read within the 64 KiB after it,
/// so an index longer than that (over 4 000 blocks) is not believed here.
fn index_ok(r: &mut Reader<'_>, at: u64) -> bool {
    let len = r.limit().saturating_sub(at).min(1 << 16) as usize;
    let Some(b) = r.get(at, len).map(<[u8]>::to_vec) else {
        return false;
    };
    let Some((_, i)) = index_records(&b) else {
        return false;
    };
    let pad = i.next_multiple_of(4);
    b.get(i..pad).is_some_and(|p| p.iter().all(|&c| c == 0))
        && b.get(pad..pad + 4)
            .is_some_and(|c| crc(&b[..pad]) == u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// An index's records in `b`, which starts at its indicator byte: each
/// block's unpadded size (its uncompressed size read past), and the offset
/// where the records end. Each record takes bytes of `b`, so a wild count
/// runs out of them.
fn index_records(b: &[u8]) -> Option<(Vec<u64>, usize)> {
    if *b.first()? != 0 {
        return None;
    }
    let mut i = 1usize;
    let count = varint(b, &mut i)?;
    let mut sizes = Vec::new();
    for _ in 0..count {
        sizes.push(varint(b, &mut i)?);
        varint(b, &mut i)?;
    }
    Some((sizes, i))
}

/// A block header: its size byte, flags with no reserved bits, and its CRC-32.
fn block_header_ok(h: &[u8]) -> bool {
    let n = h.len();
    n >= 8
        && h[1] & 0x3C == 0
        && crc(&h[..n - 4]) == u32::from_le_bytes([h[n - 4], h[n - 3], h[n - 2], h[n - 1]])
}

/// The stream's length if the footer at `at` checks out with its index and
/// blocks.
fn footer(r: &mut Reader<'_>, at: u64, flags: [u8; 2]) -> Option<u64> {
    let f = r.get(at, 12)?.to_vec();
    if f[8..10] != flags || crc(&f[4..10]) != u32::from_le_bytes([f[0], f[1], f[2], f[3]]) {
        return None;
    }
    let index_len = (u64::from(u32::from_le_bytes([f[4], f[5], f[6], f[7]])) + 1) * 4;
    let index_at = at.checked_sub(index_len).filter(|&i| i >= 12)?;
    let index = r.get(index_at, usize::try_from(index_len).ok()?)?.to_vec();
    let n = index.len();
    if index[0] != 0
        || crc(&index[..n - 4])
            != u32::from_le_bytes([index[n - 4], index[n - 3], index[n - 2], index[n - 1]])
    {
        return None;
    }
    let (sizes, i) = index_records(&index)?;
    let mut block_at = 12u64;
    for &unpadded in &sizes {
        block_at = block_at.checked_add(unpadded.checked_add(3)? / 4 * 4)?;
    }
    // Padding to 4 bytes, then the CRC: nothing else in the index.
    if block_at != index_at
        || i.next_multiple_of(4) != n - 4
        || index[i..n - 4].iter().any(|&b| b != 0)
    {
        return None;
    }
    let mut pos = 12u64;
    for &s in sizes.iter().take(MAX_BLOCKS as usize) {
        let size = r.u8(pos)?;
        if size == 0 {
            return None;
        }
        let h = r.get(pos, (usize::from(size) + 1) * 4)?;
        if !block_header_ok(h) {
            return None;
        }
        pos += s.checked_add(3)? / 4 * 4;
    }
    Some(at + 12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multibyte_integers_are_read_and_overlong_ones_refused() {
        let mut at = 0;
        assert_eq!(varint(&[0x7F], &mut at), Some(127));
        at = 0;
        assert_eq!(varint(&[0x80, 0x01], &mut at), Some(128));
        assert_eq!(at, 2);
        at = 0;
        assert_eq!(varint(&[0x80, 0x00], &mut at), None, "a trailing zero byte");
        at = 0;
        assert_eq!(varint(&[0x80; 9], &mut at), None, "more than 9 bytes");
    }
}
