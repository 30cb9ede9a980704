//! RAR archive validator, both on-disk formats: RAR 1.5–4.x (`Rar!\x1a\x07\x00`)
//! and RAR 5 (`Rar!\x1a\x07\x01\x00`).

use crate::{partial, Carver, Reader, Verdict};
use dredge_core::checksum::crc32;

/// RAR: every block header walked from the signature, each header's own CRC
/// checked (RAR 4: the low 16 bits of the CRC-32 of the header after its CRC
/// field; RAR 5: the CRC-32 of the header's size and body), the packed data each
/// header announces skipped, to the end-of-archive block. Packed data carries
/// only CRCs of unpacked data, which is not decoded: a whole archive is
/// `Unverified`. A header that fails where one is due: partial before it.
pub struct Rar;

/// A header longer than this is not one (RAR 5 limits headers to 2 MiB; RAR 4's
/// size field is 16 bits).
const MAX_HEADER: u64 = 2 << 20;

impl Carver for Rar {
    fn name(&self) -> &'static str {
        "rar"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "rar"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00"]
    }
    fn min_size(&self) -> u64 {
        20
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        match r.get(0, 8).map(|s| s[6]) {
            Some(0) => rar4(r),
            Some(1) => rar5(r),
            _ => Verdict::Reject,
        }
    }
}

/// RAR 4: blocks of `HEAD_CRC u16, HEAD_TYPE u8, HEAD_FLAGS u16, HEAD_SIZE u16`,
/// with a 32-bit data size after them when flag 0x8000 is set (plus a high half
/// for file blocks with flag 0x100). The marker block is the signature itself.
fn rar4(r: &mut Reader<'_>) -> Verdict {
    let mut at = 7u64;
    let mut blocks = 0u32;
    loop {
        let Some(h) = r.get(at, 7).map(<[u8]>::to_vec) else {
            return end4(at, blocks, "the archive breaks off in a block header");
        };
        let (crc, kind) = (u16::from_le_bytes([h[0], h[1]]), h[2]);
        let flags = u16::from_le_bytes([h[3], h[4]]);
        let size = u64::from(u16::from_le_bytes([h[5], h[6]]));
        if !(0x72..=0x7B).contains(&kind) || size < 7 || (blocks == 0 && kind != 0x73) {
            return end4(at, blocks, "a block header is not one");
        }
        let Some(body) = r.get(at + 2, size as usize - 2).map(<[u8]>::to_vec) else {
            return end4(at, blocks, "the archive breaks off in a block header");
        };
        if crc32(&body) & 0xFFFF != u32::from(crc) {
            return end4(at, blocks, "a block header fails its CRC");
        }
        // Headers after an encrypted main header cannot be read without the key.
        if kind == 0x73 && flags & 0x80 != 0 {
            return partial(at + size, "block headers encrypted (not walked)");
        }
        let le32 = |i: usize| {
            body.get(i..i + 4)
                .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        };
        let mut data = 0u64;
        if flags & 0x8000 != 0 {
            let Some(low) = le32(5) else {
                return end4(at, blocks, "a block header is too short for its data size");
            };
            data = low;
            if matches!(kind, 0x74 | 0x7A) && flags & 0x100 != 0 {
                let Some(high) = le32(30) else {
                    return end4(at, blocks, "a file header is too short for its high size");
                };
                data |= high << 32;
            }
        }
        blocks += 1;
        at = at + size + data;
        if kind == 0x7B {
            return Verdict::Unverified {
                len: at,
                subtype: None,
            };
        }
        if !r.spend(64) {
            return partial(at, "too many blocks");
        }
    }
}

/// Archives written before RAR 3 end without an end-of-archive block: after
/// the main header and at least one file, the last block that checks ends it.
fn end4(at: u64, blocks: u32, why: &str) -> Verdict {
    match blocks {
        0 => Verdict::Reject,
        1 => partial(at, why),
        _ => Verdict::Unverified {
            len: at,
            subtype: None,
        },
    }
}

/// RAR 5's variable-length integer: 7 bits a byte, low first, at most 10 bytes.
fn vint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for k in 0..10 {
        let x = *b.get(*at)?;
        *at += 1;
        v |= u64::from(x & 0x7F).checked_shl(7 * k)?;
        if x & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// RAR 5: `CRC32 u32, size vint, type vint, flags vint, [extra size], [data size], …`.
fn rar5(r: &mut Reader<'_>) -> Verdict {
    let mut at = 8u64;
    let mut blocks = 0u32;
    loop {
        let Some(h) = r.get(at, 7).map(<[u8]>::to_vec) else {
            return cut5(at, blocks, "the archive breaks off in a block header");
        };
        let mut i = 4usize;
        let Some(size) = vint(&h, &mut i).filter(|s| (2..=MAX_HEADER).contains(s)) else {
            return cut5(at, blocks, "a block header is not one");
        };
        let whole = (i as u64) - 4 + size;
        let Some(b) = r.get(at + 4, whole as usize).map(<[u8]>::to_vec) else {
            return cut5(at, blocks, "the archive breaks off in a block header");
        };
        if crc32(&b) != u32::from_le_bytes([h[0], h[1], h[2], h[3]]) {
            return cut5(at, blocks, "a block header fails its CRC");
        }
        let mut j = i - 4;
        let (Some(kind), Some(flags)) = (vint(&b, &mut j), vint(&b, &mut j)) else {
            return cut5(at, blocks, "a block header is not one");
        };
        if !(1..=5).contains(&kind) || (blocks == 0 && kind != 1) {
            return cut5(at, blocks, "a block header is not one");
        }
        if flags & 1 != 0 && vint(&b, &mut j).is_none() {
            return cut5(at, blocks, "a block header is not one");
        }
        let data = if flags & 2 != 0 {
            match vint(&b, &mut j) {
                Some(d) => d,
                None => return cut5(at, blocks, "a block header is not one"),
            }
        } else {
            0
        };
        blocks += 1;
        let next = at.saturating_add(4 + whole).saturating_add(data);
        if kind == 4 {
            return partial(next, "block headers encrypted (not walked)");
        }
        if kind == 5 {
            return Verdict::Unverified {
                len: next,
                subtype: None,
            };
        }
        at = next;
        if !r.spend(64) {
            return partial(at, "too many blocks");
        }
    }
}

fn cut5(at: u64, blocks: u32, why: &str) -> Verdict {
    if blocks == 0 {
        Verdict::Reject
    } else {
        partial(at, why)
    }
}
