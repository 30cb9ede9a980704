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

/// A page at `at`: (its length, flags, serial, sequence number), or why it is not
/// a good page.
fn page(r: &mut Reader<'_>, at: u64) -> Result<(u64, u8, u32, u32), &'static str> {
    let Some(h) = r.get(at, 27).map(<[u8]>::to_vec) else {
        return Err("cut off before the stream's last page");
    };
    if &h[..4] != b"OggS" || h[4] != 0 || h[5] & !0x07 != 0 {
        return Err("a page is missing where the stream goes on");
    }
    let n = usize::from(h[26]);
    let Some(table) = r.get(at + 27, n).map(<[u8]>::to_vec) else {
        return Err("cut off inside a page header");
    };
    let body: u64 = table.iter().map(|&s| u64::from(s)).sum();
    let len = 27 + n as u64 + body;
    let Some(data) = r.get(at + 27 + n as u64, body as usize) else {
        return Err("cut off inside a page");
    };
    let mut zeroed = h.clone();
    zeroed[22..26].fill(0);
    let sum = crc(data, crc(&table, crc(&zeroed, 0)));
    if sum.to_le_bytes() != h[22..26] {
        return Err("a page fails its CRC");
    }
    let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    Ok((len, h[5], le(14), le(18)))
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
        // Next sequence number and whether it ended, per logical stream.
        let mut streams: HashMap<u32, (u32, bool)> = HashMap::from([(serial, (1, false))]);
        let mut at = len;
        // Streams of a file all begin before any other page (RFC 3533, 4).
        let mut opening = true;
        loop {
            if streams.values().all(|&(_, ended)| ended) {
                return Verdict::Complete {
                    len: at,
                    subtype: sub,
                };
            }
            let (len, flags, serial, seq) = match page(r, at) {
                Ok(p) => p,
                Err(why) => return partial_as(at, why, sub),
            };
            let known = streams.get(&serial).copied();
            let fits = match known {
                None => opening && flags & 0x02 != 0 && seq == 0,
                Some((next, ended)) => !ended && seq == next && flags & 0x02 == 0,
            };
            if !fits {
                return partial_as(at, "a page of no stream of this file, or out of order", sub);
            }
            opening &= flags & 0x02 != 0;
            let next = seq.wrapping_add(1);
            streams.insert(serial, (next, flags & 0x04 != 0));
            at += len;
            if streams.len() > 64 {
                return partial_as(at, "more logical streams than a file holds", sub);
            }
        }
    }
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
