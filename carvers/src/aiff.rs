//! Audio Interchange File Format validator (AIFF, AIFF-C): Apple's uncompressed
//! audio, written by GarageBand, Logic, iTunes imports and sound editors.

use crate::signal::{continuity, Continuity, Signal};
use crate::{partial, Carver, Reader, Verdict};

/// AIFF/AIFF-C: `FORM`, its size, `AIFF` or `AIFC`, then chunks (a four-character
/// id and a size, padded to even) tiling the form exactly; a `COMM` chunk (channels,
/// sample frames, sample size) and a `SSND` chunk, whose size must equal what
/// `COMM` describes for uncompressed audio (AIFF, and AIFF-C's `NONE`, `twos`,
/// `sowt`, `raw `). The samples carry no check: `Unverified`, unless their
/// texture (`signal`) shows noise among them: then cut there, or put together
/// from two pieces where the samples resume (as a WAV's).
pub struct Aiff;

impl Carver for Aiff {
    fn name(&self) -> &'static str {
        "aiff"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("aiff")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"AIFF", b"AIFC"]
    }
    fn header_offset(&self) -> u64 {
        8
    }
    fn min_size(&self) -> u64 {
        12 + 8 + 18 + 8 + 8
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 12).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let size = u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
        if &h[..4] != b"FORM" || size < 4 + 8 + 18 {
            return Verdict::Reject;
        }
        let compressed_kind = &h[8..12] == b"AIFC";
        let sub = compressed_kind.then_some("aifc");
        let end = 8 + size;
        let mut at = 12u64;
        // (bytes of samples COMM describes, or None for compressed audio); SSND's size.
        let mut comm: Option<Option<u64>> = None;
        let mut ssnd: Option<u64> = None;
        // The samples' layout (channels, bits, little-endian) and SSND's span.
        let mut layout: Option<(u64, u64, bool)> = None;
        let mut samples: Option<(u64, u64)> = None;
        while at < end {
            let Some(c) = r.get(at, 8).map(<[u8]>::to_vec) else {
                return partial(at, "the form breaks off in a chunk header");
            };
            let len = u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
            let named = c[..4].iter().all(|b| (0x20..0x7F).contains(b));
            if !named || at + 8 + len > end {
                return if at == 12 {
                    Verdict::Reject
                } else {
                    partial(at, "a chunk header is not one")
                };
            }
            match &c[..4] {
                b"COMM" => {
                    let Some(m) = r.get(at + 8, len.min(64) as usize).map(<[u8]>::to_vec) else {
                        return partial(at, "the form breaks off in COMM");
                    };
                    if m.len() < 18 || (compressed_kind && m.len() < 22) {
                        return Verdict::Reject;
                    }
                    let channels = u64::from(u16::from_be_bytes([m[0], m[1]]));
                    let frames = u64::from(u32::from_be_bytes([m[2], m[3], m[4], m[5]]));
                    let bits = u64::from(u16::from_be_bytes([m[6], m[7]]));
                    if channels == 0 || !(1..=64).contains(&bits) {
                        return Verdict::Reject;
                    }
                    let plain = !compressed_kind
                        || matches!(&m[18..22], b"NONE" | b"twos" | b"sowt" | b"raw ");
                    comm = Some(plain.then(|| frames * channels * bits.div_ceil(8)));
                    if plain {
                        layout = Some((channels, bits, compressed_kind && &m[18..22] == b"sowt"));
                    }
                }
                b"SSND" => {
                    ssnd = Some(len);
                    // After the offset and block size: the sample frames.
                    let data_off = r.be32(at + 8).map_or(0, u64::from);
                    samples = Some((at + 16 + data_off, at + 8 + len));
                }
                _ => {}
            }
            at += 8 + len + len % 2;
            if !r.spend(32) {
                return partial(at, "too many chunks");
            }
        }
        // A pad byte after an odd last chunk may be missing from the size.
        if at > end + 1 || at < end {
            return partial(12, "the chunks do not tile the form");
        }
        match (comm, ssnd) {
            (Some(Some(bytes)), Some(s)) if s < 8 || s - 8 < bytes => {
                partial(end, "SSND holds fewer samples than COMM counts")
            }
            (Some(_), Some(_)) => match (layout, samples) {
                (Some((channels, bits, little)), Some(span)) if span.1 + 1 >= end => {
                    texture(r, (channels, bits, little), span, end, sub)
                }
                _ => Verdict::Unverified {
                    len: end,
                    subtype: sub,
                },
            },
            _ => Verdict::Reject,
        }
    }
}

/// What the samples' texture says of a file whose last chunk holds its sample
/// frames at `span` (a chunk after them would lie where a gap moved it).
fn texture(
    r: &mut Reader<'_>,
    (channels, bits, little): (u64, u64, bool),
    span: (u64, u64),
    end: u64,
    subtype: Option<&'static str>,
) -> Verdict {
    let width = bits.div_ceil(8) as usize;
    let s = Signal {
        at: span.0,
        end: span.1,
        step: width.saturating_mul(channels as usize),
        width,
        big_endian: !little,
        signed: true,
        pixels: false,
    };
    match continuity(r, &s) {
        Continuity::Gap { at, gap } => Verdict::Joined {
            fragments: vec![(0, at), (at + gap, end - at)],
            subtype,
        },
        Continuity::Cut { at } => Verdict::Partial {
            len: at,
            why: "a sector of the samples is as rough as noise: data that is not the file's".into(),
            subtype,
        },
        Continuity::Smooth | Continuity::Undecided => Verdict::Unverified { len: end, subtype },
    }
}
