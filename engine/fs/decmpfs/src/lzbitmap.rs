//! LZBITMAP, Apple's compressor of macOS 11 and later (decmpfs methods
//! 13/14). Apple has not published it; this decoder follows the layout as
//! libzbitmap's author worked it out by black-box testing (MIT, read to
//! learn the layout, no code taken) and is checked against that project's
//! test vectors (testimages/external/libzbitmap).
//!
//! A stream is the magic `ZBM\x09`, then chunks, each opening with two
//! 24-bit little-endian numbers: the chunk's length with its header, and
//! what it decodes to (at most 32 KiB; 0 ends the stream). A chunk whose
//! length is its decoded length plus the 6 header bytes holds its bytes as
//! they are. Any other chunk has three more 24-bit offsets (from the chunk's
//! start) of three areas, the literal bytes starting after that 15-byte
//! header, and twelve 10-bit table entries packed into its last 17 bytes
//! (bits read from each byte's lowest up):
//!
//! - output is made eight bytes at a time, by a *bitmap*: bit i set takes
//!   the next literal byte, clear copies the byte `period` bytes back (the
//!   period starts at 8 for each chunk, and may reach into earlier chunks'
//!   output);
//! - the third area is a string of nibbles (low nibble first), one per step:
//!   3..=14 names table entry n-3 (a bitmap and how many bytes of new period
//!   it reads from the first area, 0..=2); 0..=2 takes the bitmap from the
//!   next byte of the second area, reading that many period bytes;
//! - a step may repeat: a nibble 15 after it means 4 + the next nibble times,
//!   each further 15 adding 15 and another nibble; no repeat is read when at
//!   most 8 bytes of the chunk are left.

/// Bytes one chunk decodes to at most.
const MAX_CHUNK: usize = 0x8000;
/// Table entries per chunk, packed in its last bytes.
const TABLE: usize = 12;
const TABLE_BYTES: usize = 17;

/// Where decoding stopped: the bytes made so far.
type Made = usize;

fn u24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 3)?;
    Some(usize::from(s[0]) | usize::from(s[1]) << 8 | usize::from(s[2]) << 16)
}

/// A reader of the nibble area, low nibble first.
struct Nibbles<'a> {
    b: &'a [u8],
    at: usize,
    high: bool,
}

impl Nibbles<'_> {
    fn next(&mut self) -> Option<u8> {
        let byte = *self.b.get(self.at)?;
        let n = if self.high {
            self.at += 1;
            byte >> 4
        } else {
            byte & 0x0F
        };
        self.high = !self.high;
        Some(n)
    }

    fn back(&mut self) {
        if self.high {
            self.high = false;
        } else {
            self.at -= 1;
            self.high = true;
        }
    }
}

/// Decodes the stream `src` into `out`, which must come out exactly full.
pub(crate) fn decode(src: &[u8], out: &mut [u8]) -> Result<(), Made> {
    if src.get(..4) != Some(b"ZBM\x09") {
        return Err(0);
    }
    let mut at = 4usize;
    let mut made = 0usize;
    loop {
        let (Some(len), Some(dlen)) = (u24(src, at), u24(src, at + 3)) else {
            return Err(made);
        };
        if dlen == 0 {
            break;
        }
        if len < 6 {
            return Err(made);
        }
        let Some(chunk) = src.get(at..at.saturating_add(len)) else {
            return Err(made);
        };
        if dlen > MAX_CHUNK || dlen > out.len() - made {
            return Err(made);
        }
        if len == dlen + 6 {
            out[made..made + dlen].copy_from_slice(&chunk[6..]);
            made += dlen;
        } else {
            made = compressed(chunk, dlen, out, made)?;
        }
        at += len;
    }
    if made == out.len() {
        Ok(())
    } else {
        Err(made)
    }
}

/// One compressed chunk decoding to `dlen` bytes at `out[made..]`; the new
/// `made`, or how far it got.
fn compressed(chunk: &[u8], dlen: usize, out: &mut [u8], start: usize) -> Result<Made, Made> {
    let bad = Err(start);
    let (Some(m1), Some(m2), Some(m3)) = (u24(chunk, 6), u24(chunk, 9), u24(chunk, 12)) else {
        return bad;
    };
    if chunk.len() < TABLE_BYTES + 15 || m1 >= chunk.len() || m2 >= chunk.len() || m3 >= chunk.len()
    {
        return bad;
    }
    // The table: 12 entries of 8 bitmap bits and 2 period-byte-count bits.
    let bits = &chunk[chunk.len() - TABLE_BYTES..];
    let bit = |i: usize| (bits[i / 8] >> (i % 8)) & 1;
    let mut table = [(0u8, 0usize); TABLE];
    for (e, t) in table.iter_mut().enumerate() {
        let b = e * 10;
        let map = (0..8).fold(0u8, |m, i| m | bit(b + i) << i);
        let count = usize::from(bit(b + 8) | bit(b + 9) << 1);
        if count > 2 {
            return bad;
        }
        *t = (map, count);
    }
    let (mut data, mut periods, mut maps) = (15usize, m1, m2);
    let mut nib = Nibbles {
        b: chunk,
        at: m3,
        high: false,
    };
    let end = start + dlen;
    let mut made = start;
    let mut period = 8usize;
    while made < end {
        let Some(op) = nib.next() else {
            return Err(made);
        };
        let mut repeat = 1usize;
        if end - made > 8 {
            match nib.next() {
                Some(15) => {
                    repeat = 4;
                    loop {
                        let Some(n) = nib.next() else {
                            return Err(made);
                        };
                        repeat += usize::from(n);
                        if n != 15 {
                            break;
                        }
                    }
                }
                Some(_) => nib.back(),
                None => {}
            }
        }
        for _ in 0..repeat {
            if made == end {
                break;
            }
            let (map, count) = match op {
                15 => return Err(made),
                3..=14 => table[usize::from(op) - 3],
                _ => {
                    let Some(&m) = chunk.get(maps) else {
                        return Err(made);
                    };
                    maps += 1;
                    (m, usize::from(op))
                }
            };
            if count > 0 {
                let Some(p) = chunk.get(periods..periods + count) else {
                    return Err(made);
                };
                period = p.iter().rev().fold(0, |v, &b| v << 8 | usize::from(b));
                periods += count;
            }
            if period == 0 {
                return Err(made);
            }
            for i in 0..8 {
                if made == end {
                    break;
                }
                out[made] = if map >> i & 1 == 1 {
                    let Some(&b) = chunk.get(data) else {
                        return Err(made);
                    };
                    data += 1;
                    b
                } else {
                    // Reaches into earlier chunks of the stream, never before it.
                    let Some(from) = made.checked_sub(period) else {
                        return Err(made);
                    };
                    out[from]
                };
                made += 1;
            }
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn vectors() -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../testimages/external/libzbitmap");
        let mut out = Vec::new();
        for i in 1..100 {
            let (c, o) = (
                dir.join(format!("{i:03}-compressed")),
                dir.join(format!("{i:03}-original")),
            );
            if let (Ok(c), Ok(o)) = (std::fs::read(&c), std::fs::read(&o)) {
                out.push((format!("{i:03}"), c, o));
            }
        }
        out
    }

    #[test]
    fn libzbitmap_s_vectors_decode_to_their_originals() {
        let v = vectors();
        assert!(v.len() >= 15, "{} vectors", v.len());
        for (name, c, o) in &v {
            let mut out = vec![0u8; o.len()];
            assert_eq!(decode(c, &mut out), Ok(()), "{name}");
            assert!(out == *o, "{name}: other bytes");
        }
    }

    #[test]
    fn a_short_buffer_cut_or_damaged_stream_is_an_error_with_what_was_made() {
        for (name, c, o) in vectors() {
            if o.len() < 64 {
                continue;
            }
            let mut out = vec![0u8; o.len() - 1];
            assert!(decode(&c, &mut out).is_err(), "{name}: a buffer too small");
            let mut out = vec![0u8; o.len()];
            let cut = &c[..c.len() / 2];
            if let Err(n) = decode(cut, &mut out) {
                assert!(out[..n] == o[..n], "{name}: made bytes differ");
            } else {
                panic!("{name}: a cut stream decoded whole");
            }
        }
    }

    #[test]
    fn mutated_streams_never_panic() {
        let (mut r, cases) = dredge_testkit::mutation_setup(0x5A42_4D09_0000_0001);
        let v = vectors();
        for _ in 0..cases {
            let (_, c, o) = &v[r.below(v.len() as u64) as usize];
            let mut c = c.clone();
            for _ in 0..1 + r.below(4) {
                let i = r.below(c.len() as u64) as usize;
                c[i] = r.next() as u8;
            }
            let mut out = vec![0u8; o.len()];
            let _ = decode(&c, &mut out);
        }
    }
}
