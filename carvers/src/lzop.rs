//! lzop validator (`.lzo`: lzop's file format, as lzop 1.0x writes it).

use crate::{partial, Carver, Reader, Verdict};
use dredge_core::checksum::{adler32, crc32};

/// lzop: the magic, a header of known method (LZO1X), its flags, mode, time
/// and name, whose Adler-32 (or CRC-32, as flagged) must hold; then blocks
/// (decoded and stored sizes, a decoded size of at most 64 MiB, stored no
/// larger than decoded, the checksums the flags announce) to a zero decoded
/// size that ends the file. A stored (uncompressed) block's checksum of its
/// data is checked; a compressed block's is checked when the file carries
/// checksums of compressed data (flags 0x2/0x200). When every
/// block was checked the file is `Complete`; otherwise `Unverified`.
pub struct Lzop;

const MAGIC: &[u8] = b"\x89LZO\0\r\n\x1a\n";
const ADLER_D: u32 = 0x1;
const ADLER_C: u32 = 0x2;
const EXTRA: u32 = 0x40;
const CRC_D: u32 = 0x100;
const CRC_C: u32 = 0x200;
const FILTER: u32 = 0x800;
const HEADER_CRC: u32 = 0x1000;
/// lzop's largest block.
const MAX_BLOCK: u64 = 64 << 20;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The header after the magic: its end and flags, or None when it is not
/// one (a checksum that fails included).
fn header(r: &mut Reader<'_>) -> Option<(u64, u32)> {
    let n = 400.min(r.limit().saturating_sub(9)) as usize;
    let h = r.get(9, n)?.to_vec();
    let version = u16::from_be_bytes([*h.first()?, *h.get(1)?]);
    if !(0x0900..0x2000).contains(&version) {
        return None;
    }
    let mut p = 4;
    if version >= 0x0940 {
        p += 2;
    }
    if !matches!(h.get(p)?, 1..=3) {
        return None;
    }
    p += 1;
    if version >= 0x0940 {
        p += 1;
    }
    let flags = be32(&h, p)?;
    p += 4;
    if flags & FILTER != 0 {
        p += 4;
    }
    p += 8; // mode, mtime (low)
    if version >= 0x0940 {
        p += 4;
    }
    let name = usize::from(*h.get(p)?);
    p += 1 + name;
    let sum = be32(&h, p)?;
    let body = h.get(..p)?;
    let want = if flags & HEADER_CRC != 0 {
        crc32(body)
    } else {
        adler32(body)
    };
    if sum != want {
        return None;
    }
    p += 4;
    let mut end = 9 + p as u64;
    if flags & EXTRA != 0 {
        let n = u64::from(r.be32(end)?);
        end += 4 + n + 4;
    }
    Some((end, flags))
}

impl Carver for Lzop {
    fn name(&self) -> &'static str {
        "lzop"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "lzo"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }
    fn min_size(&self) -> u64 {
        9 + 25 + 4
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some((mut at, flags)) = header(r) else {
            return Verdict::Reject;
        };
        let mut all_checked = true;
        loop {
            if !r.spend(64) {
                return partial(at, "too many blocks");
            }
            let Some(dst) = r.be32(at).map(u64::from) else {
                return partial(at, "the file breaks off before its end marker");
            };
            if dst == 0 {
                return Verdict::whole(at + 4, None, all_checked);
            }
            let Some(src) = r.be32(at + 4).map(u64::from) else {
                return partial(at, "the file breaks off in a block header");
            };
            if dst > MAX_BLOCK || src == 0 || src > dst {
                return partial(at, "a block's sizes are not lzop's");
            }
            let mut p = at + 8;
            let d_sum = (flags & (ADLER_D | CRC_D) != 0).then(|| r.be32(p));
            p += 4 * u64::from((flags & ADLER_D != 0) as u8 + (flags & CRC_D != 0) as u8);
            let compressed = src < dst;
            let c_flags = flags & (ADLER_C | CRC_C);
            let c_sum = (compressed && c_flags != 0).then(|| r.be32(p));
            if compressed {
                p += 4 * u64::from((flags & ADLER_C != 0) as u8 + (flags & CRC_C != 0) as u8);
            }
            let Some(data) = r.get(p, src as usize).map(<[u8]>::to_vec) else {
                return partial(at, "the file breaks off in a block");
            };
            // The first checksum of the kind present (Adler-32 before CRC-32).
            let sum_of = |adler: bool| {
                if adler {
                    adler32(&data)
                } else {
                    crc32(&data)
                }
            };
            let checked = if compressed {
                c_sum.map(|s| s == Some(sum_of(flags & ADLER_C != 0)))
            } else {
                d_sum.map(|s| s == Some(sum_of(flags & ADLER_D != 0)))
            };
            match checked {
                Some(false) => return partial(at, "a block's checksum does not match"),
                Some(true) => {}
                None => all_checked = false,
            }
            at = p + src;
        }
    }
}
