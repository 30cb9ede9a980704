//! Windows Prefetch files (`.pf`): format versions 17 (XP), 23 (Vista, 7),
//! 26 (8.1) as they are, and 30/31 (Windows 10, 11) inside the `MAM\x04`
//! container, compressed with XPRESS Huffman ([MS-XCA] 2.2).

use crate::{partial, Carver, Reader, Verdict};

/// Prefetch: the SCCA header (a known version, the signature, a file size, the
/// executable's name as NUL-terminated UTF-16), and every section the file
/// information places inside that size: file metrics (20 or 32 bytes each),
/// trace chains (12 or 8), the file-name strings and the volume information;
/// each metric's name lies in the strings, is as long as it says and ends in a
/// NUL. A compressed file is decoded (its 64 KiB blocks, each a 256-byte table
/// of code lengths that must form a prefix code, then symbols) to exactly its
/// stated size, where its compressed stream ends; what it decodes to is checked
/// as above. Nothing is checksummed: `Unverified`.
pub struct Prefetch;

/// Prefetch files are kilobytes to a few megabytes.
const MAX_SIZE: u64 = 16 << 20;
const HEADER: usize = 84;

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// Why an SCCA image is not a prefetch file, or None when it is.
fn scca(b: &[u8]) -> Option<&'static str> {
    if b.len() < HEADER + 36 || &b[4..8] != b"SCCA" || le32(b, 12) != b.len() as u64 {
        return Some("not an SCCA header of its size");
    }
    let (metric, trace) = match le32(b, 0) {
        17 => (20, 12),
        23 | 26 => (32, 12),
        30 | 31 => (32, 8),
        _ => return Some("unknown prefetch version"),
    };
    // The executable's name: UTF-16, at least one character, NUL-terminated
    // within its 60 bytes, no control characters.
    let name: Vec<u16> = b[16..76]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    if name.is_empty() || name.len() == 30 || name.iter().any(|&u| u < 0x20) {
        return Some("executable name is not text");
    }
    let size = b.len() as u64;
    let f = |i: usize| le32(b, HEADER + 4 * i);
    let (mo, mc, to, tc, fo, fs, vo, _vc, vs) =
        (f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8));
    let inside = |off: u64, len: u64| off >= (HEADER + 36) as u64 && off + len <= size;
    if !inside(mo, mc * metric) || !inside(to, tc * trace) || !inside(fo, fs) || !inside(vo, vs) {
        return Some("a section lies outside the file");
    }
    let names = &b[fo as usize..(fo + fs) as usize];
    for i in 0..mc as usize {
        let e = &b[mo as usize + i * metric as usize..];
        let (off, chars) = if metric == 20 {
            (le32(e, 8), le32(e, 12))
        } else {
            (le32(e, 12), le32(e, 16))
        };
        let (s, end) = (off as usize, (off + 2 * chars) as usize);
        if chars == 0 || end + 2 > names.len() || names[end..end + 2] != [0, 0] {
            return Some("a file metric names no string of its length");
        }
        if names[s..end]
            .chunks(2)
            .any(|c| u16::from_le_bytes([c[0], c[1]]) == 0)
        {
            return Some("a file metric's name holds a NUL");
        }
    }
    None
}

/// The XPRESS Huffman stream at `data[pos..]` decoded to `total` bytes:
/// `Ok((output, end of the stream))`, or `Err((offset, why))`: the bytes before
/// `offset` are believed. No checksum covers a block, so damage inside one
/// shows only when the stream goes wrong, often in the block after it: the
/// offset is the start of the block before the one that failed.
pub(crate) fn xpress_huffman(
    data: &[u8],
    mut pos: usize,
    total: usize,
) -> Result<(Vec<u8>, usize), (usize, &'static str)> {
    let mut out: Vec<u8> = Vec::with_capacity(total);
    let mut previous = pos;
    while out.len() < total {
        let block = std::mem::replace(&mut previous, pos);
        let lens = data
            .get(pos..pos + 256)
            .ok_or((block, "code table past the end"))?;
        // Canonical codes, shortest first, by symbol within a length: a table
        // of 2^15 entries of (symbol, length).
        let mut table = vec![(0u16, 0u8); 1 << 15];
        let mut code = 0usize;
        for len in 1..=15u8 {
            for sym in 0..512usize {
                let l = (lens[sym / 2] >> (4 * (sym % 2))) & 0xF;
                if l == len {
                    let n = 1usize << (15 - len);
                    if code + n > table.len() {
                        return Err((block, "code lengths are no prefix code"));
                    }
                    table[code..code + n].fill((sym as u16, len));
                    code += n;
                }
            }
        }
        let r16 = |p: usize| -> u32 {
            data.get(p..p + 2)
                .map_or(0, |w| u32::from(u16::from_le_bytes([w[0], w[1]])))
        };
        let mut cur = pos + 256;
        if cur + 4 > data.len() {
            return Err((block, "block past the end"));
        }
        let mut bits: u32 = (r16(cur) << 16) | r16(cur + 2);
        cur += 4;
        let mut extra: i32 = 16;
        let block_end = (out.len() + 65536).min(total);
        // Consumes `n` bits, refilling from the stream when the look-ahead runs dry.
        let take = |bits: &mut u32, extra: &mut i32, cur: &mut usize, n: u32| {
            *bits = if n >= 32 { 0 } else { *bits << n };
            *extra -= n as i32;
            if *extra < 0 {
                *bits |= r16(*cur) << (-*extra);
                *extra += 16;
                *cur += 2;
            }
        };
        while out.len() < block_end {
            if cur > data.len() + 4 {
                return Err((block, "stream past the end"));
            }
            let (sym, len) = table[(bits >> 17) as usize];
            if len == 0 {
                return Err((block, "a code no table entry has"));
            }
            take(&mut bits, &mut extra, &mut cur, u32::from(len));
            if sym < 256 {
                out.push(sym as u8);
                continue;
            }
            let sym = sym - 256;
            let mut length = usize::from(sym & 15);
            let offset_bits = u32::from(sym >> 4);
            if length == 15 {
                length = usize::from(*data.get(cur).ok_or((block, "stream past the end"))?);
                cur += 1;
                if length == 255 {
                    length = r16(cur) as usize;
                    cur += 2;
                    if length < 15 {
                        return Err((block, "a match length below its escape"));
                    }
                    length -= 15;
                }
                length += 15;
            }
            length += 3;
            let offset = if offset_bits == 0 {
                1
            } else {
                ((bits >> (32 - offset_bits)) as usize) + (1 << offset_bits)
            };
            take(&mut bits, &mut extra, &mut cur, offset_bits);
            if offset > out.len() || out.len() + length > total + 65536 {
                return Err((block, "a match before the start"));
            }
            for _ in 0..length {
                out.push(out[out.len() - offset]);
            }
        }
        pos = cur;
    }
    if pos > data.len() {
        return Err((data.len(), "stream past the end"));
    }
    out.truncate(total);
    Ok((out, pos))
}

impl Carver for Prefetch {
    fn name(&self) -> &'static str {
        "prefetch"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "pf"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[
            b"\x11\x00\x00\x00SCCA",
            b"\x17\x00\x00\x00SCCA",
            b"\x1A\x00\x00\x00SCCA",
            b"\x1E\x00\x00\x00SCCA",
            b"\x1F\x00\x00\x00SCCA",
            b"MAM\x04",
        ]
    }
    fn min_size(&self) -> u64 {
        (HEADER + 36) as u64
    }
    fn max_size(&self) -> u64 {
        MAX_SIZE
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 16).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let size = le32(&h, if &h[..3] == b"MAM" { 4 } else { 12 });
        if !((HEADER + 36) as u64..=MAX_SIZE).contains(&size) {
            return Verdict::Reject;
        }
        if &h[..3] != b"MAM" {
            if size > r.limit() {
                return Verdict::Reject;
            }
            let Some(b) = r.get(0, size as usize) else {
                return Verdict::Reject;
            };
            return match scca(b) {
                None => Verdict::Unverified {
                    len: size,
                    subtype: None,
                },
                Some(_) => Verdict::Reject,
            };
        }
        // The compressed stream is no longer than its output and a table per
        // block, with a few bytes of slack; read what the image holds of that.
        let bound = (8 + size + 256 * size.div_ceil(65536) + 64).min(r.limit());
        let Some(data) = r.get(0, bound as usize).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        match xpress_huffman(&data, 8, size as usize) {
            // What decodes to no prefetch file was no prefetch file.
            Ok((out, end)) => match scca(&out) {
                None => Verdict::Unverified {
                    len: end as u64,
                    subtype: None,
                },
                Some(_) => Verdict::Reject,
            },
            // The first block's table is the first thing past the header: a
            // stream that fails there is no prefetch file at all.
            Err((8, _)) => Verdict::Reject,
            Err((block, why)) => partial(block as u64, why),
        }
    }
}
