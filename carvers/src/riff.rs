//! RIFF (WAV, AVI, WebP) validator.

use crate::signal::{continuity, Continuity, Signal};
use crate::{Carver, Reader, Verdict};

/// RIFF (WAV, AVI, WEBP): the declared size, a known form type, and a chunk walk
/// (four-letter ids, sizes padded to even) that lands exactly on the declared end.
/// Nothing checks what the chunks hold (PCM samples, video frames, VP8 data), so
/// a whole file is `carved-unverified-contiguous`: a WAV in two pieces has the
/// same sizes as a whole one. A PCM WAV's samples are checked for smoothness
/// (`signal`): a sector as rough as noise among smooth ones cuts the file
/// there, or, when the samples resume after the rough run for exactly the
/// bytes still owed, puts it together from its two pieces.
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
        // WAV: the 'fmt ' chunk's PCM layout (format, channels, bits), and the
        // 'data' chunk's span.
        let mut pcm: Option<(u16, u16, u16)> = None;
        let mut data: Option<(u64, u64)> = None;
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
            if subtype == Some("wav") {
                if id == b"fmt " && len >= 16 {
                    if let (Some(f), Some(ch), Some(bits)) =
                        (r.le16(off + 8), r.le16(off + 10), r.le16(off + 22))
                    {
                        pcm = Some((f, ch, bits));
                    }
                } else if id == b"data" {
                    data = Some((off + 8, off + 8 + u64::from(len)));
                }
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
        if let (Some(p), Some(d)) = (pcm, data) {
            if let Some(v) = samples(r, p, d, end) {
                return v;
            }
        }
        Verdict::Unverified { len: end, subtype }
    }
}

/// What a PCM WAV's samples say (`signal`), for a file whose `data` chunk spans
/// `d` and which ends at `end`: None when they say nothing.
fn samples(
    r: &mut Reader<'_>,
    (format, channels, bits): (u16, u16, u16),
    d: (u64, u64),
    end: u64,
) -> Option<Verdict> {
    // Integer PCM (1, or WAVE_FORMAT_EXTENSIBLE, whose integer subformat is
    // by far the common one; float samples are not read this way).
    if !matches!(format, 1 | 0xFFFE) || !matches!(bits, 8 | 16 | 24 | 32) || channels == 0 {
        return None;
    }
    let width = usize::from(bits / 8);
    let s = Signal {
        at: d.0,
        end: d.1.min(end),
        step: width * usize::from(channels),
        width,
        big_endian: false,
        signed: bits > 8,
        pixels: false,
    };
    let subtype = Some("wav");
    match continuity(r, &s) {
        Continuity::Smooth | Continuity::Undecided => None,
        // The rest is only put together when the samples run to the file's
        // end: a chunk after them would lie where the gap moved it.
        Continuity::Gap { at, gap } if d.1 + (d.1 & 1) == end => Some(Verdict::Joined {
            fragments: vec![(0, at), (at + gap, end - at)],
            subtype,
        }),
        Continuity::Gap { at, .. } | Continuity::Cut { at } => Some(Verdict::Partial {
            len: at,
            why: "a sector of the samples is as rough as noise: data that is not the file's".into(),
            subtype,
        }),
    }
}
