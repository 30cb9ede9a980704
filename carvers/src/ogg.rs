//! Ogg validator (RFC 3533): Vorbis, Opus, FLAC-in-Ogg, Speex, Theora.

use crate::{partial_as, Carver, Reader, Verdict};
use std::collections::HashMap;

/// Ogg: pages from a beginning-of-stream page, each with its capture pattern,
/// version 0, no reserved flag, and its CRC-32 over the whole page; every
/// logical stream's pages numbered without a gap, to the page that ends the last
/// stream. Every byte is under a page CRC: `Complete`. The codec of the first
/// stream names the file. Chained files (streams one after another): the first
/// chain.
pub struct Ogg;

/// The Ogg CRC-32: polynomial 0x04C11DB7, not reflected, no initial or final xor.
fn crc(b: &[u8], mut c: u32) -> u32 {
    for &x in b {
        c ^= u32::from(x) << 24;
        for _ in 0..8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ 0x04C1_1DB7
            } else {
                c << 1
            };
        }
    }
    c
}

/// The codec whose identification packet begins the first page's data.
fn codec(first: &[u8]) -> Option<&'static str> {
    [
        (&b"\x01vorbis"[..], "vorbis"),
        (b"OpusHead", "opus"),
        (b"\x7fFLAC", "flac"),
        (b"Speex   ", "speex"),
        (b"\x80theora", "theora"),
    ]
    .into_iter()
    .find(|(m, _)| first.starts_with(m))
    .map(|(_, c)| c)
}

/// A page's header and lacing table at `at`, before its CRC is checked:
/// (those bytes, the page's length, flags, serial, sequence number), or why
/// there is no page there.
fn head(r: &mut Reader<'_>, at: u64) -> Result<(Vec<u8>, u64, u8, u32, u32), &'static str> {
    let Some(mut h) = r.get(at, 27).map(<[u8]>::to_vec) else {
        return Err("cut off before the stream's last page");
    };
    if &h[..4] != b"OggS" || h[4] != 0 || h[5] & !0x07 != 0 {
        return Err("a page is missing where the stream goes on");
    }
    let n = usize::from(h[26]);
    let Some(table) = r.get(at + 27, n) else {
        return Err("cut off inside a page header");
    };
    let body: u64 = table.iter().map(|&s| u64::from(s)).sum();
    h.extend_from_slice(table);
    let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (flags, serial, seq) = (h[5], le(14), le(18));
    Ok((h, 27 + n as u64 + body, flags, serial, seq))
}

/// Whether the page whose header and lacing table are `head` and whose data
/// is `data` carries its CRC (computed with the CRC field zeroed).
fn sum_ok(head: &[u8], data: &[u8]) -> bool {
    let mut zeroed = head.to_vec();
    zeroed[22..26].fill(0);
    crc(data, crc(&zeroed, 0)).to_le_bytes() == head[22..26]
}

/// A page at `at`: (its length, flags, serial, sequence number), or why it is not
/// a good page.
fn page(r: &mut Reader<'_>, at: u64) -> Result<(u64, u8, u32, u32), &'static str> {
    let (h, len, flags, serial, seq) = head(r, at)?;
    let hl = h.len() as u64;
    let Some(data) = r.get(at + hl, (len - hl) as usize) else {
        return Err("cut off inside a page");
    };
    if !sum_ok(&h, data) {
        return Err("a page fails its CRC");
    }
    Ok((len, flags, serial, seq))
}

impl Carver for Ogg {
    fn name(&self) -> &'static str {
        "ogg"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        match subtype {
            Some("opus") => "opus",
            Some("flac") => "oga",
            Some("speex") => "spx",
            Some("theora") => "ogv",
            _ => "ogg",
        }
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // Capture pattern, version 0, beginning of stream.
        &[b"OggS\x00\x02"]
    }
    fn min_size(&self) -> u64 {
        28
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Ok((len, _, serial, 0)) = page(r, 0) else {
            return Verdict::Reject;
        };
        let n = r.u8(26).map_or(0, u64::from);
        let sub = r.get(27 + n, 8).and_then(codec);
        let mut walk = Walk {
            streams: HashMap::from([(serial, (1, false))]),
            opening: true,
        };
        let (at, why) = match walk.pages(r, len, 0) {
            Ok(end) => {
                return Verdict::Complete {
                    len: end,
                    subtype: sub,
                }
            }
            Err(e) => e,
        };
        if let Some(fragments) = rejoin(r, &walk, at) {
            return Verdict::Fragmented {
                fragments,
                subtype: sub,
            };
        }
        partial_as(at, why, sub)
    }
}

/// The logical streams met so far: per serial number, the next sequence
/// number and whether it ended; and whether only beginning-of-stream pages
/// have come yet (streams of a file all begin before any other page, RFC
/// 3533, 4).
#[derive(Clone)]
struct Walk {
    streams: HashMap<u32, (u32, bool)>,
    opening: bool,
}

impl Walk {
    /// Pages from logical offset `at`, each read `shift` bytes further on in
    /// the image, to the page that ends the last stream: the file's logical
    /// length, or where and why a page does not fit.
    fn pages(
        &mut self,
        r: &mut Reader<'_>,
        mut at: u64,
        shift: u64,
    ) -> Result<u64, (u64, &'static str)> {
        loop {
            if self.streams.values().all(|&(_, ended)| ended) {
                return Ok(at);
            }
            let (len, flags, serial, seq) = page(r, at + shift).map_err(|why| (at, why))?;
            if !self.fits(flags, serial, seq) {
                return Err((at, "a page of no stream of this file, or out of order"));
            }
            self.opening &= flags & 0x02 != 0;
            let next = seq.wrapping_add(1);
            self.streams.insert(serial, (next, flags & 0x04 != 0));
            at += len;
            if self.streams.len() > 64 {
                return Err((at, "more logical streams than a file holds"));
            }
        }
    }

    fn fits(&self, flags: u8, serial: u32, seq: u32) -> bool {
        match self.streams.get(&serial).copied() {
            None => self.opening && flags & 0x02 != 0 && seq == 0,
            Some((next, ended)) => !ended && seq == next && flags & 0x02 == 0,
        }
    }
}

/// How far past a break the rest of a file in two pieces is looked for.
const MAX_GAP: u64 = 4 << 20;
/// Pages tried as the first after the gap.
const MAX_CONTINUATIONS: usize = 64;

/// A file in two pieces whose walk broke at logical offset `at` (`walk` as
/// it stood there): the pieces as (offset, length), or None.
///
/// The rest is found by its next page: one of this file's streams, with a
/// good CRC, numbered as the page at `at` (the cut fell on a page boundary)
/// or as the one after it (the cut fell inside the page at `at`, whose
/// header and lacing table, before the cut, give its length). The gap is
/// then known, and the cut, on a sector boundary inside that page, is where
/// the page's bytes put together give its CRC. Every page after it must then
/// check to the file's end.
fn rejoin(r: &mut Reader<'_>, walk: &Walk, at: u64) -> Option<Vec<(u64, u64)>> {
    const SECTOR: u64 = crate::SECTOR;
    // The page at the break, read where it lies: its header and table whole,
    // the page due there.
    let broken = head(r, at)
        .ok()
        .filter(|&(_, _, flags, serial, seq)| walk.fits(flags, serial, seq))
        .map(|(h, len, flags, serial, seq)| (h.len(), len, flags, serial, seq));
    let mut from = at + 1;
    for _ in 0..MAX_CONTINUATIONS {
        let q = r.find(from, b"OggS").filter(|&q| q <= at + MAX_GAP)?;
        from = q + 1;
        let Ok((_, flags, serial, seq)) = page(r, q) else {
            continue;
        };
        // The cut on the page boundary: this page is the one due at `at`.
        if (r.start() + at).is_multiple_of(SECTOR) && walk.fits(flags, serial, seq) {
            if let Ok(end) = walk.clone().pages(r, at, q - at) {
                return Some(vec![(0, at), (q, end - at)]);
            }
        }
        // The cut inside the page at `at`: this page is the one after it.
        let Some((hl, len, bflags, bserial, bseq)) = broken else {
            continue;
        };
        if serial != bserial || seq != bseq.wrapping_add(1) || q < at + len {
            continue;
        }
        let gap = q - (at + len);
        // Cuts lie on the image's sector boundaries, after the header.
        let first_cut = (r.start() + at + 28).next_multiple_of(SECTOR) - r.start();
        let mut found = None;
        let mut c = first_cut;
        while c < at + len {
            let mut b = r.get(at, (c - at) as usize)?.to_vec();
            b.extend_from_slice(r.get(c + gap, (at + len - c) as usize)?);
            if sum_ok(&b[..hl], &b[hl..]) {
                if found.is_some() {
                    // Two cuts fit: no choice is made.
                    return None;
                }
                found = Some(c);
            }
            c += SECTOR;
        }
        let Some(c) = found else {
            continue;
        };
        let mut w = walk.clone();
        w.opening &= bflags & 0x02 != 0;
        w.streams
            .insert(bserial, (bseq.wrapping_add(1), bflags & 0x04 != 0));
        if let Ok(end) = w.pages(r, at + len, gap) {
            return Some(vec![(0, c), (c + gap, end - c)]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::crc;

    #[test]
    fn the_ogg_crc_matches_its_reference_value() {
        // CRC-32/MPEG-2 without its initial value and final xor (the Ogg CRC):
        // the check value of "123456789".
        assert_eq!(crc(b"123456789", 0), 0x89A1_897F);
    }
}
