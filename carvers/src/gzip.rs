//! gzip validator.

use crate::inflate::{inflate, End};
use crate::{Carver, Reader, Verdict};

/// GZIP: header (with optional extra, name, comment, header CRC), a deflate stream
/// inflated to its exact end, and a trailer whose CRC-32 and length must match what
/// the stream produced.
pub struct Gzip;

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
        let run = inflate(
            r,
            |r, at, n| r.get(at, n).map(<[u8]>::to_vec),
            off,
            limit,
            false,
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
            return Verdict::Partial {
                len: off,
                why: "trailer CRC or length does not match the data".into(),
                subtype: None,
            };
        }
        Verdict::Complete {
            len: off + 8,
            subtype: None,
        }
    }
}
