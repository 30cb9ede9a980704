//! MP4 / QuickTime validator.

use crate::{Carver, Reader, Verdict};

/// MP4 / QuickTime: `ftyp` first, then top-level boxes (32- or 64-bit sizes, known
/// types only, so following data is not taken for boxes) up to the last one; a movie
/// needs both `moov` and `mdat`.
pub struct Mp4;

const TOP_LEVEL: [&[u8; 4]; 16] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof",
    b"mfra", b"sidx", b"styp", b"emsg", b"prft", b"pnot",
];

impl Carver for Mp4 {
    fn name(&self) -> &'static str {
        "mp4"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("mp4")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"ftyp"]
    }
    fn header_offset(&self) -> u64 {
        4
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        16 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(first) = r.be32(0) else {
            return Verdict::Reject;
        };
        if !(8..=256).contains(&first) {
            return Verdict::Reject;
        }
        let subtype = match r.get(8, 4) {
            Some(b"qt  ") => Some("mov"),
            Some(b) if b.starts_with(b"3gp") => Some("3gp"),
            Some(b) if b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') => Some("mp4"),
            _ => return Verdict::Reject,
        };
        let (mut off, mut moov, mut mdat) = (0u64, false, false);
        while let (Some(size32), Some(ty)) = (r.be32(off), r.get(off + 4, 4).map(<[u8]>::to_vec)) {
            if !TOP_LEVEL.iter().any(|t| t[..] == ty[..]) {
                break;
            }
            let size = match size32 {
                1 => match r.get(off + 8, 8) {
                    Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    None => break,
                },
                0 => r.limit() - off, // to the end of the file: trust it only as far as we can read
                s => u64::from(s),
            };
            if size < 8 {
                break;
            }
            moov |= &ty == b"moov";
            mdat |= &ty == b"mdat";
            // A 64-bit size can wrap the offset back to the start: the walk would
            // never end. Past the readable end is past the end, whatever the sum.
            let Some(next) = off.checked_add(size) else {
                break;
            };
            if next > r.limit() {
                return Verdict::Partial {
                    len: r.limit(),
                    why: format!(
                        "{} box runs past what is readable",
                        String::from_utf8_lossy(&ty)
                    ),
                    subtype,
                };
            }
            off = next;
        }
        if off == 0 {
            return Verdict::Reject;
        }
        if moov && mdat {
            Verdict::Complete { len: off, subtype }
        } else {
            Verdict::Partial {
                len: off,
                why: "no moov and mdat boxes".into(),
                subtype,
            }
        }
    }
}
