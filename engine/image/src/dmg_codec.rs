//! The chunk codecs of Apple disk images that are not a crate call away:
//! ADC (Apple Data Compression, our own) and bzip2 (through `bzip2-rs`,
//! guarded). Each decodes one chunk to exactly the bytes its sectors need,
//! or fails, costing that chunk.

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
