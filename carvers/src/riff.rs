//! RIFF (WAV, AVI, WebP) validator.

use crate::{Carver, Reader, Verdict};

/// RIFF (WAV, AVI, WEBP): the declared size, a known form type, and a chunk walk
/// (four-letter ids, sizes padded to even) that lands exactly on the declared end.
/// Nothing checks what the chunks hold (PCM samples, video frames, VP8 data), so
/// a whole file is `carved-unverified-contiguous`: a WAV in two pieces has the
/// same sizes as a whole one.
pub struct Riff;

impl Carver for Riff {
    fn name(&self) -> &'static str {
        "riff"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("riff")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"RIFF"]
    }
    fn min_size(&self) -> u64 {
        44
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(size), Some(form)) = (r.le32(4), r.get(8, 4).map(<[u8]>::to_vec)) else {
            return Verdict::Reject;
        };
        let subtype = match &form[..] {
            b"WAVE" => Some("wav"),
            b"AVI " => Some("avi"),
            b"WEBP" => Some("webp"),
            _ => return Verdict::Reject,
        };
        let end = 8 + u64::from(size);
        let mut off = 12u64;
        let mut chunks = 0;
        while off < end {
            let (Some(id), Some(len)) = (r.get(off, 4).map(<[u8]>::to_vec), r.le32(off + 4)) else {
                return Verdict::Partial {
                    len: off,
                    why: "cut inside a chunk".into(),
                    subtype,
                };
            };
            if !id.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
                return if chunks == 0 {
                    Verdict::Reject
                } else {
                    Verdict::Partial {
                        len: off,
                        why: "invalid chunk id".into(),
                        subtype,
                    }
                };
            }
            off += 8 + u64::from(len) + u64::from(len & 1);
            chunks += 1;
        }
        if off != end || chunks == 0 {
            return Verdict::Partial {
                len: end.min(off),
                why: "chunks do not end at the declared size".into(),
                subtype,
            };
        }
        if r.get(end - 1, 1).is_none() {
            return Verdict::Partial {
                len: r.limit(),
                why: "cut off before its declared size".into(),
                subtype,
            };
        }
        Verdict::Unverified { len: end, subtype }
    }
}
