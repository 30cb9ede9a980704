//! The chunk codecs of Apple disk images that are not a crate call away:
//! ADC (Apple Data Compression, our own), bzip2 (through `bzip2-rs`,
//! guarded) and LZMA (ULMO: an .xz stream, through `lzma-rs`, its size
//! walked first). Each decodes one chunk to exactly the bytes its sectors
//! need, or fails, costing that chunk.

/// A bzip2 chunk decoded to exactly `out` bytes. The decoder is safe Rust
/// (`#![forbid(unsafe_code)]`); a panic inside it on a hostile chunk is
/// caught here and costs that chunk only.
pub(crate) fn bzip2(stored: &[u8], out: usize) -> Result<Vec<u8>, ()> {
    use std::io::Read;
    std::panic::catch_unwind(|| {
        let mut v = Vec::with_capacity(out);
        let mut r = bzip2_rs::DecoderReader::new(stored).take(out as u64);
        match r.read_to_end(&mut v) {
            Ok(_) if v.len() == out => Ok(v),
            _ => Err(()),
        }
    })
    .unwrap_or(Err(()))
}

/// An LZMA chunk (ULMO: one .xz stream of LZMA2 blocks, as liblzma's
/// `lzma_easy_buffer_encode` writes it) decoded to exactly `out` bytes.
///
/// `lzma-rs` (safe Rust) gathers an LZMA2 block's output in memory until the
/// next dictionary reset, with no limit, and a small hostile chunk can claim
/// gigabytes. So the stream's LZMA2 chunk headers, which each state their
/// unpacked size, are walked first: unless they add up to exactly `out`, the
/// chunk is refused without decoding. The decoder then checks the blocks'
/// checks and the index; a panic inside it costs this chunk only.
pub(crate) fn xz(stored: &[u8], out: usize) -> Result<Vec<u8>, ()> {
    if xz_unpacked(stored, out as u64) != Some(out as u64) {
        return Err(());
    }
    std::panic::catch_unwind(|| {
        let mut v = Vec::with_capacity(out);
        match lzma_rs::xz_decompress(&mut &stored[..], &mut v) {
            Ok(()) if v.len() == out => Ok(v),
            _ => Err(()),
        }
    })
    .unwrap_or(Err(()))
}

/// The bytes an .xz stream's blocks unpack to, from their LZMA2 chunk
/// headers (tukaani.org's .xz format 1.1.0; LZMA2 as liblzma's
/// lzma2_decoder.c reads it), without decoding; `None` when the stream's
/// framing does not hold or the sum passes `limit`.
fn xz_unpacked(b: &[u8], limit: u64) -> Option<u64> {
    let be16 = |at: usize| {
        Some(u64::from(u16::from_be_bytes(
            b.get(at..at + 2)?.try_into().ok()?,
        )))
    };
    if b.get(..6)? != b"\xFD7zXZ\0" || *b.get(6)? != 0 {
        return None;
    }
    // The check's size by its type (0: none, then 4, 8, 16, 32, 64 bytes in
    // threes of types).
    let check = match *b.get(7)? & 0x0F {
        0 => 0,
        t => 4usize << ((t - 1) / 3),
    };
    let mut p = 12usize;
    let mut total = 0u64;
    // Each turn moves `p` forward, so the walk ends within the chunk.
    while *b.get(p)? != 0 {
        let block = p;
        p += (usize::from(b[p]) + 1) * 4;
        loop {
            let c = *b.get(p)?;
            match c {
                0 => {
                    p += 1;
                    break;
                }
                1 | 2 => {
                    total += be16(p + 1)? + 1;
                    p += 3 + (be16(p + 1)? as usize + 1);
                }
                0x80.. => {
                    total += ((u64::from(c & 0x1F) << 16) | be16(p + 1)?) + 1;
                    let props = usize::from(c >= 0xC0);
                    p += 5 + props + (be16(p + 3)? as usize + 1);
                }
                _ => return None,
            }
            if total > limit {
                return None;
            }
        }
        // Block padding to four bytes, then the check.
        p += (4 - (p - block) % 4) % 4 + check;
    }
    Some(total)
}

/// Apple Data Compression, to exactly `out` bytes: a literal run (0x80 |
/// n−1, then n bytes), a 2-byte back reference (0x00–0x3F: length 3 + bits
/// 2–5, distance 10 bits) or a 3-byte one (0x40–0x7F: length 4 + the low 6
/// bits, distance 16 bits); a distance d copies from d + 1 bytes back.
pub(crate) fn adc(b: &[u8], out: usize) -> Result<Vec<u8>, ()> {
    let mut o: Vec<u8> = Vec::with_capacity(out);
    let mut i = 0;
    while i < b.len() && o.len() < out {
        let c = b[i];
        let (len, dist, used) = if c & 0x80 != 0 {
            let n = usize::from(c & 0x7F) + 1;
            let lit = b.get(i + 1..i + 1 + n).ok_or(())?;
            o.extend_from_slice(lit);
            i += 1 + n;
            continue;
        } else if c & 0x40 != 0 {
            // Three bytes: length (c & 0x3F) + 4, offset 16 bits.
            let x = b.get(i + 1..i + 3).ok_or(())?;
            (
                usize::from(c & 0x3F) + 4,
                usize::from(u16::from_be_bytes([x[0], x[1]])),
                3,
            )
        } else {
            // Two bytes: length ((c >> 2) & 0xF) + 3, offset 10 bits.
            let x = *b.get(i + 1).ok_or(())?;
            (
                (usize::from(c) >> 2 & 0xF) + 3,
                (usize::from(c & 3) << 8) | usize::from(x),
                2,
            )
        };
        i += used;
        if dist >= o.len() {
            return Err(());
        }
        let from = o.len() - dist - 1;
        for k in 0..len {
            let v = o[from + k];
            o.push(v);
        }
    }
    if o.len() < out {
        return Err(());
    }
    o.truncate(out);
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An .xz stream (lzma-rs's encoder: LZMA2 stored chunks; the DMG tests
    /// read liblzma's compressed ones) of 40 000 bytes.
    fn sample_xz() -> (Vec<u8>, Vec<u8>) {
        let plain: Vec<u8> = (0..40_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 977) as u8)
            .collect();
        let mut packed = Vec::new();
        lzma_rs::xz_compress(&mut &plain[..], &mut packed).unwrap();
        (plain, packed)
    }

    #[test]
    fn xz_chunks_decode_to_their_exact_size_and_a_forged_size_is_refused_undecoded() {
        let (plain, packed) = sample_xz();
        assert_eq!(xz_unpacked(&packed, u64::MAX), Some(plain.len() as u64));
        assert_eq!(xz(&packed, plain.len()).unwrap(), plain);
        // The sectors want more, or fewer, bytes than the stream holds.
        assert!(xz(&packed, plain.len() + 512).is_err());
        assert!(xz(&packed, plain.len() - 512).is_err());
        // A stream whose chunk headers claim more than the chunk may hold
        // is refused before any decoding.
        let mut bomb = packed[..12].to_vec();
        bomb.extend_from_slice(&[0x01, 0, 0, 0, 0, 0, 0, 0]); // block header, 8 bytes
        for _ in 0..1000 {
            // An LZMA chunk claiming 2 MiB from one packed byte.
            bomb.extend_from_slice(&[0x9F, 0xFF, 0xFF, 0x00, 0x00, 0x00]);
        }
        assert_eq!(xz_unpacked(&bomb, 1 << 20), None);
        assert!(xz(&bomb, 1 << 20).is_err());
        // Every cut of a stream fails, and none panics.
        for cut in 0..packed.len() {
            assert!(xz(&packed[..cut], plain.len()).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn adc_decodes_literals_and_both_references_and_refuses_what_points_before_the_start() {
        // "abc" literal, then a 2-byte reference copying 3 bytes from 3 back,
        // then a 3-byte reference copying 4 bytes from 6 back.
        let s = [0x82, b'a', b'b', b'c', 0x00, 0x02, 0x40, 0x00, 0x05];
        assert_eq!(adc(&s, 10).unwrap(), b"abcabcabca");
        assert!(adc(&[0x00, 0x05], 3).is_err());
        assert!(adc(&[0x85, b'a'], 6).is_err());
    }
}
