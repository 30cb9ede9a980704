//! gzip validator.

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
        use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
        use miniz_oxide::inflate::TINFLStatus;
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
        let mut d = DecompressorOxide::new();
        let mut out = vec![0u8; 32768];
        let (mut out_pos, mut crc, mut total) = (0usize, !0u32, 0u64);
        loop {
            let avail = (r.limit().saturating_sub(off)).min(1 << 16) as usize;
            let Some(input) = r.get(off, avail).map(<[u8]>::to_vec) else {
                // Out of budget mid-stream: what inflated so far still holds.
                return if total == 0 {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "deflate stream not followed to its end".into(),
                        subtype: None,
                    }
                };
            };
            let more = if off + (avail as u64) < r.limit() {
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT
            } else {
                0
            };
            let (status, used, written) = decompress(&mut d, &input, &mut out, out_pos, more);
            // Inflated bytes count against the candidate's budget: a bomb stops here.
            if !r.spend(written as u64) {
                return Verdict::Partial {
                    len: off,
                    why: "inflation stopped at the work budget".into(),
                    subtype: None,
                };
            }
            crc = dredge_core::checksum::crc32_update(crc, &out[out_pos..out_pos + written]);
            total += written as u64;
            out_pos = (out_pos + written) & (out.len() - 1);
            off += used as u64;
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::NeedsMoreInput if more != 0 => {}
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput => {
                    return Verdict::Partial {
                        len: off,
                        why: "deflate stream cut off".into(),
                        subtype: None,
                    }
                }
                _ => {
                    return if total == 0 {
                        Verdict::Reject
                    } else {
                        Verdict::Partial {
                            len: off,
                            why: "deflate stream damaged".into(),
                            subtype: None,
                        }
                    }
                }
            }
            if used == 0 && written == 0 && status != TINFLStatus::HasMoreOutput {
                return Verdict::Partial {
                    len: off,
                    why: "deflate stream stalled".into(),
                    subtype: None,
                };
            }
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
