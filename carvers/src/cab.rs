//! Microsoft Cabinet validator ([MS-CAB]): installers, Windows updates, driver
//! packages.

use crate::{partial, Carver, Reader, Verdict};

/// CAB: the header (version 1.3, reserved fields zero, known flags, the cabinet
/// size, at least one folder), every folder's data blocks walked from where the
/// folder says they start, each block's checksum checked where it has one
/// ([MS-CAB] 2.2.3: an XOR of 32-bit words over its data, then over its size
/// fields, as libmspack and the cabinet SDK compute it), and the last block ending exactly at the size the header gives.
/// Every data byte under a checksum: `Complete`; blocks without one (a zero
/// checksum, which the format allows): `Unverified`.
pub struct Cab;

/// The [MS-CAB] checksum of `b` from `seed`: whole little-endian words, then the
/// 1 to 3 bytes left, the first of them highest.
fn csum(b: &[u8], seed: u32) -> u32 {
    let mut c = seed;
    let words = b.chunks_exact(4);
    let rest = words.remainder();
    for w in words {
        c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    c ^ rest.iter().fold(0u32, |v, &x| v << 8 | u32::from(x))
}

/// A data block holds at most 32 KiB of uncompressed data, compressed into at
/// most this much (the format's allowance for data that does not compress).
const MAX_BLOCK: u64 = 32_768 + 6_144;

impl Carver for Cab {
    fn name(&self) -> &'static str {
        "cab"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "cab"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"MSCF\0\0\0\0"]
    }
    fn min_size(&self) -> u64 {
        44
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 36).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let le16 = |b: &[u8], i: usize| u64::from(u16::from_le_bytes([b[i], b[i + 1]]));
        let le32 = |b: &[u8], i: usize| {
            u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
        };
        let (size, files_at, folders, flags) =
            (le32(&h, 8), le32(&h, 16), le16(&h, 26), le16(&h, 30));
        if le32(&h, 12) != 0 || le32(&h, 20) != 0 || (h[25], h[24]) != (1, 3) {
            return Verdict::Reject;
        }
        if flags & !7 != 0 || folders == 0 || le16(&h, 28) == 0 || files_at >= size || size < 44 {
            return Verdict::Reject;
        }
        // Reserved areas, when the header says there are.
        let mut at = 36u64;
        let (mut folder_extra, mut data_extra) = (0u64, 0u64);
        if flags & 4 != 0 {
            let Some(x) = r.get(36, 4).map(<[u8]>::to_vec) else {
                return Verdict::Reject;
            };
            folder_extra = u64::from(x[2]);
            data_extra = u64::from(x[3]);
            at = 40 + le16(&x, 0);
        }
        // The names of the previous and next cabinets of a set.
        for flag in [1, 2] {
            if flags & flag != 0 {
                for _ in 0..2 {
                    let Some((end, _)) = r.find_any(at, &[b"\0"]).filter(|(e, _)| e - at < 256)
                    else {
                        return Verdict::Reject;
                    };
                    at = end + 1;
                }
            }
        }
        if size > r.limit() {
            return partial(r.limit(), "the cabinet runs past what is readable");
        }
        let mut end = 0u64;
        let mut checked_all = true;
        for f in 0..folders {
            let Some(x) = r.get(at + f * (8 + folder_extra), 8).map(<[u8]>::to_vec) else {
                return Verdict::Reject;
            };
            let (mut blk, blocks) = (le32(&x, 0), le16(&x, 4));
            if blk < at || blk >= size {
                return Verdict::Reject;
            }
            for _ in 0..blocks {
                let Some(d) = r.get(blk, 8).map(<[u8]>::to_vec) else {
                    return partial(blk, "cut off in a data block");
                };
                let (sum, len) = (le32(&d, 0) as u32, le16(&d, 4));
                let body = blk + 8 + data_extra;
                if len == 0 || len > MAX_BLOCK || le16(&d, 6) > 32_768 || body + len > size {
                    return partial(blk, "a data block of an impossible size");
                }
                if sum == 0 {
                    checked_all = false;
                } else {
                    // The sum runs over the data, then over the two size fields.
                    let Some(fields) = r.get(blk + 4, 4).map(<[u8]>::to_vec) else {
                        return partial(blk, "cut off in a data block");
                    };
                    let Some(data) = r.get(body, len as usize) else {
                        return partial(blk, "cut off in a data block");
                    };
                    if csum(&fields, csum(data, 0)) != sum {
                        return partial(blk, "a data block fails its checksum");
                    }
                }
                blk = body + len;
            }
            end = end.max(blk);
        }
        if end != size {
            return partial(
                end.min(size),
                "the data blocks do not end where the cabinet does",
            );
        }
        Verdict::whole(size, None, checked_all)
    }
}

#[cfg(test)]
mod tests {
    use super::csum;

    #[test]
    fn the_checksum_takes_words_then_the_bytes_left_highest_first() {
        assert_eq!(csum(&[1, 0, 0, 0, 2, 0, 0, 0], 0), 3);
        assert_eq!(csum(&[0, 0, 0, 0, 0xAA, 0xBB, 0xCC], 0), 0x00AA_BBCC);
        assert_eq!(csum(&[0xAA], 0x100), 0x1AA);
    }
}
