//! LZ4 frame validator (the LZ4 Frame Format, version 1.6).

use crate::{partial, Carver, Reader, Verdict};

/// LZ4 frame: the descriptor (version 01, no reserved bit, a block size
/// 64 KiB–4 MiB) and its xxHash-32 check byte, then blocks walked to the end
/// mark, none over the block size, each with its xxHash-32 when the frame
/// has block checksums, then the content checksum's 4 bytes when flagged.
/// With block checksums every stored byte is checked (`Complete`); without,
/// the content checksum is of decoded bytes and not checked (`Unverified`).
pub struct Lz4;

const P1: u32 = 2_654_435_761;
const P2: u32 = 2_246_822_519;
const P3: u32 = 3_266_489_917;
const P4: u32 = 668_265_263;
const P5: u32 = 374_761_393;

/// xxHash-32 of `b` with seed 0.
fn xxh32(b: &[u8]) -> u32 {
    let word = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let round = |acc: u32, w: u32| {
        acc.wrapping_add(w.wrapping_mul(P2))
            .rotate_left(13)
            .wrapping_mul(P1)
    };
    let mut rest = b;
    let mut h = if b.len() >= 16 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u32.wrapping_sub(P1)];
        while rest.len() >= 16 {
            for (k, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, word(&rest[4 * k..]));
            }
            rest = &rest[16..];
        }
        v[0].rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18))
    } else {
        P5
    };
    h = h.wrapping_add(b.len() as u32);
    while rest.len() >= 4 {
        h = h
            .wrapping_add(word(rest).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = &rest[4..];
    }
    for &x in rest {
        h = h
            .wrapping_add(u32::from(x).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ h >> 16
}

impl Carver for Lz4 {
    fn name(&self) -> &'static str {
        "lz4"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "lz4"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x04\x22\x4D\x18"]
    }
    fn min_size(&self) -> u64 {
        11
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(&[flg, bd]) = r.get(4, 2) else {
            return Verdict::Reject;
        };
        let (block_sums, content_size, content_sum, dict) = (
            flg & 0x10 != 0,
            flg & 0x08 != 0,
            flg & 0x04 != 0,
            flg & 0x01 != 0,
        );
        if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8F != 0 || bd >> 4 < 4 {
            return Verdict::Reject;
        }
        let max_block = 1u64 << (8 + 2 * u64::from(bd >> 4));
        let desc_len = 2 + 8 * usize::from(content_size) + 4 * usize::from(dict);
        let Some(desc) = r.get(4, desc_len + 1).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        if (xxh32(&desc[..desc_len]) >> 8) as u8 != desc[desc_len] {
            return Verdict::Reject;
        }
        let mut at = 4 + desc_len as u64 + 1;
        loop {
            let Some(v) = r.le32(at) else {
                return partial(at, "frame cut off before its end mark");
            };
            at += 4;
            if v == 0 {
                break;
            }
            let size = u64::from(v & 0x7FFF_FFFF);
            if size > max_block {
                return partial(at - 4, "a block larger than the frame's block size");
            }
            if block_sums {
                let Some(data) = r.get(at, size as usize + 4) else {
                    return partial(at - 4, "frame cut off inside a block");
                };
                let n = data.len() - 4;
                let stored = u32::from_le_bytes([data[n], data[n + 1], data[n + 2], data[n + 3]]);
                if xxh32(&data[..n]) != stored {
                    return partial(at - 4, "a block fails its checksum");
                }
                at += size + 4;
            } else {
                at += size;
            }
        }
        if content_sum {
            at += 4;
        }
        if at > r.limit() {
            return partial(r.limit(), "frame cut off at the end of the image");
        }
        Verdict::whole(at, None, block_sums)
    }
}

#[cfg(test)]
mod tests {
    use super::xxh32;

    #[test]
    fn xxhash32_matches_the_reference_values() {
        // The reference implementation's values for seed 0.
        assert_eq!(xxh32(b""), 0x02CC_5D05);
        assert_eq!(xxh32(b"a"), 0x550D_7456);
        assert_eq!(xxh32(b"abc"), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition"),
            0xE229_3B2F
        );
    }
}
