//! PNG: the 8-byte signature, IHDR first, then chunks whose CRC-32 (over type and
//! data) must match, up to IEND. When a chunk fails partway through, the file may be
//! in fragments with foreign data between: candidate gaps (sector multiples) are
//! tried, first cheaply — the next chunk header must appear exactly where the split
//! chunk's length puts it, with a valid CRC — then the split point is found by the
//! split chunk's own CRC; the chunks after the gap may fail again, and are then
//! explained by a second gap the same way (three fragments). Both cuts inside
//! one chunk: the next chunk found a whole shift on, the chunk's CRC places
//! both cuts and the first gap (`crc_layout`). Otherwise the file is partial at
//! the last good chunk.

use crate::crc_layout::three_pieces;
use crate::{Carver, Reader, Verdict, SECTOR};
use dredge_core::checksum::crc32_update;

pub struct Png;

/// Largest gap between the two fragments that is searched.
const MAX_GAP: u64 = 4 << 20;

/// Chunk types the PNG specification defines (and common private ones): a chunk found
/// by the gap search must be one of these, not any four letters in random data.
const KNOWN: [&[u8; 4]; 20] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"tEXt", b"zTXt", b"iTXt", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"tIME", b"eXIf", b"acTL",
];

/// Validates the chunk at `off`: Ok(next offset, is IEND) or Err(why). The CRC is
/// computed in pieces: a damaged length must not make us allocate it.
fn chunk_checked(
    r: &mut Reader<'_>,
    off: u64,
    first: bool,
    known_only: bool,
) -> Result<(u64, bool), String> {
    let len = u64::from(r.be32(off).ok_or("cut before a chunk")?);
    let ty = r.get(off + 4, 4).ok_or("cut before a chunk")?.to_vec();
    if !ty.iter().all(u8::is_ascii_alphabetic) || (first && &ty != b"IHDR") || len > 1 << 30 {
        return Err("invalid chunk header".into());
    }
    if known_only && !KNOWN.iter().any(|k| k[..] == ty[..]) {
        return Err("unknown chunk type".into());
    }
    if off + 12 + len > r.limit() {
        return Err("cut inside a chunk".into());
    }
    let mut crc = crc32_update(!0, &ty);
    let mut at = off + 8;
    while at < off + 8 + len {
        let n = (off + 8 + len - at).min(1 << 16) as usize;
        let piece = r.get(at, n).ok_or("cut inside a chunk")?;
        crc = crc32_update(crc, piece);
        at += n as u64;
    }
    let stored = r.be32(off + 8 + len).ok_or("cut inside a chunk")?;
    if !crc != stored {
        return Err(format!(
            "CRC mismatch in {} chunk",
            String::from_utf8_lossy(&ty)
        ));
    }
    Ok((off + 12 + len, &ty == b"IEND"))
}

/// Whether a chunk header of a known type and a length that fits lies at `off`.
fn known_header(r: &mut Reader<'_>, off: u64) -> bool {
    let (Some(len), Some(ty)) = (r.be32(off), r.get(off + 4, 4)) else {
        return false;
    };
    KNOWN.iter().any(|k| k[..] == ty[..]) && off + 12 + u64::from(len) <= r.limit()
}

fn chunk(r: &mut Reader<'_>, off: u64, first: bool) -> Result<(u64, bool), String> {
    chunk_checked(r, off, first, false)
}

/// Walks chunks from `off` to IEND: Ok(end) or Err((last good offset, why)).
fn walk(r: &mut Reader<'_>, mut off: u64, mut first: bool) -> Result<u64, (u64, String)> {
    loop {
        match chunk(r, off, first) {
            Ok((next, true)) => return Ok(next),
            Ok((next, false)) => off = next,
            Err(e) => return Err((off, e)),
        }
        first = false;
    }
}

/// Fragments a file may be in: two gaps.
const MAX_GAPS: u32 = 2;

/// The (split, gap) of each gap a file was found in, and its end.
type Gapped = (Vec<(u64, u64)>, u64);

/// `walk`, where up to `gaps` failing chunks are explained by gaps.
fn walk_gapped(
    r: &mut Reader<'_>,
    off: u64,
    first: bool,
    gaps: u32,
) -> Result<Gapped, (u64, String)> {
    match walk(r, off, first) {
        Ok(end) => Ok((Vec::new(), end)),
        Err((c, why)) if gaps == 0 || c == 8 => Err((c, why)),
        Err((c, why)) => fragmented(r, c, gaps).ok_or((c, why)),
    }
}

/// Tries to explain a failing chunk at `c` (relative offset) by a gap, and what
/// follows it by at most `gaps - 1` more: the (split, gap) pairs and the end,
/// the file being [0, split₁) + [split₁ + gap₁, split₂) + … + [… , end).
fn fragmented(r: &mut Reader<'_>, c: u64, gaps: u32) -> Option<Gapped> {
    // The split is on a sector boundary of the image, after the failing chunk's start.
    let first_split = r.sector_from(c);
    let (len, ty) = (r.be32(c)?, r.get(c + 4, 4)?.to_vec());
    let header_whole =
        first_split >= c + 8 && ty.iter().all(u8::is_ascii_alphabetic) && len <= 64 << 20;
    let mut gap = SECTOR;
    while gap <= MAX_GAP {
        if header_whole {
            // The chunk continues after the gap; the next chunk must follow it there.
            let next = c + 12 + u64::from(len) + gap;
            // The next chunk whole, or (a second gap left) a chunk header of a
            // known type the second cut may fall after: what follows must then
            // be explained by that second gap.
            let next_ok =
                chunk_checked(r, next, false, true).is_ok() || (gaps >= 2 && known_header(r, next));
            if next_ok {
                let stored = r.be32(next - 4)?;
                let mut s = first_split;
                while s <= c + 12 + u64::from(len) {
                    // CRC over type+data: [c+4, s) from fragment one, the rest after the gap.
                    let a = r.get(c + 4, (s - (c + 4)) as usize).map(<[u8]>::to_vec);
                    let b_len = (c + 8 + u64::from(len)).saturating_sub(s);
                    let b = r.get(s + gap, b_len as usize).map(<[u8]>::to_vec);
                    if let (Some(a), Some(b)) = (a, b) {
                        if s <= c + 8 + u64::from(len)
                            && crc32_update(crc32_update(!0, &a), &b) == !stored
                        {
                            if let Ok((mut rest, end)) = walk_gapped(r, next, false, gaps - 1) {
                                rest.insert(0, (s, gap));
                                return Some((rest, end));
                            }
                        }
                    }
                    s += SECTOR;
                }
                // Both cuts inside this chunk: the chunk's CRC over its type and
                // data places them and the first gap (`crc_layout`).
                if gaps >= 2 {
                    let data_end = c + 8 + u64::from(len);
                    let mut spent = 0;
                    if let Some((s1, g1, s2)) =
                        three_pieces(r, stored, (c + 4, data_end), &[], gap, &mut spent)
                    {
                        if let Ok((mut rest, end)) = walk_gapped(r, next, false, gaps - 2) {
                            rest.insert(0, (s2 + g1, gap - g1));
                            rest.insert(0, (s1, g1));
                            return Some((rest, end));
                        }
                    }
                }
            }
        } else if c == first_split {
            // The split falls exactly between chunks: the failing header is foreign.
            if let Ok((mut rest, end)) = walk_gapped(r, c + gap, false, gaps - 1) {
                rest.insert(0, (c, gap));
                return Some((rest, end));
            }
        }
        gap += SECTOR;
    }
    None
}

impl Carver for Png {
    fn name(&self) -> &'static str {
        "png"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "png"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x89PNG\r\n\x1a\n"]
    }
    fn min_size(&self) -> u64 {
        57
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        match walk_gapped(r, 8, true, MAX_GAPS) {
            Ok((splits, end)) if splits.is_empty() => Verdict::Complete {
                len: end,
                subtype: None,
            },
            Ok((splits, end)) => {
                // [0, split₁), then from each split plus its gap to the next split.
                let mut fragments = Vec::new();
                let mut from = 0;
                for (split, gap) in splits {
                    fragments.push((from, split - from));
                    from = split + gap;
                }
                fragments.push((from, end - from));
                Verdict::Fragmented {
                    fragments,
                    subtype: None,
                }
            }
            Err((8, _)) => Verdict::Reject,
            Err((c, why)) => Verdict::Partial {
                len: c,
                why,
                subtype: None,
            },
        }
    }
}
