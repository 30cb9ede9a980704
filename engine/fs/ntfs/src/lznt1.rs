//! LZNT1, the compression of NTFS compressed attributes: a sequence of chunks (each
//! at most 4 KiB of output) with a 2-byte header; compressed chunks hold groups of
//! eight tokens behind a flag byte, each a literal or a back-reference whose split
//! between offset and length bits depends on the position in the chunk.

/// Decompresses `src` into at most `limit` bytes. Damage stops decompression at the
/// bad chunk; what was produced until then is returned with the error.
pub fn decompress(src: &[u8], limit: usize) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(1 << 20));
    let mut p = 0usize;
    while p + 2 <= src.len() && out.len() < limit {
        let h = u16::from_le_bytes([src[p], src[p + 1]]);
        if h == 0 {
            break;
        }
        let size = (h & 0x0FFF) as usize + 1;
        let compressed = h & 0x8000 != 0;
        p += 2;
        if p + size > src.len() {
            return Err((out, format!("chunk at byte {} runs past the data", p - 2)));
        }
        let chunk = &src[p..p + size];
        p += size;
        if !compressed {
            out.extend_from_slice(&chunk[..chunk.len().min(limit - out.len())]);
            continue;
        }
        let start = out.len();
        let mut q = 0usize;
        'chunk: while q < chunk.len() {
            let flags = chunk[q];
            q += 1;
            for bit in 0..8 {
                if q >= chunk.len() {
                    break 'chunk;
                }
                if flags >> bit & 1 == 0 {
                    out.push(chunk[q]);
                    q += 1;
                } else {
                    if q + 2 > chunk.len() {
                        return Err((out, "back-reference cut short".into()));
                    }
                    let t = u16::from_le_bytes([chunk[q], chunk[q + 1]]) as usize;
                    q += 2;
                    let pos = out.len() - start;
                    let mut lg = 0;
                    let mut i = pos.saturating_sub(1);
                    while i >= 0x10 {
                        i >>= 1;
                        lg += 1;
                    }
                    let len = (t & (0x0FFF >> lg)) + 3;
                    let off = (t >> (12 - lg)) + 1;
                    if off > pos {
                        return Err((out, format!("back-reference {off} before the chunk start")));
                    }
                    for _ in 0..len {
                        let b = out[out.len() - off];
                        out.push(b);
                    }
                }
                if out.len() - start > 4096 || out.len() > limit {
                    break 'chunk;
                }
            }
        }
        // A chunk shorter than 4 KiB is padded with zeros only if more chunks follow;
        // the caller pads compression units to their full size.
    }
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_back_reference() {
        // "abcabcabc": flags 0b0000_1000 -> 3 literals, then a reference
        // (offset 3, length 6): lg = 0 at pos 3 -> t = ((3-1) << 12) | (6-3).
        let t: u16 = (2 << 12) | 3;
        let mut chunk = vec![0b0000_1000, b'a', b'b', b'c'];
        chunk.extend_from_slice(&t.to_le_bytes());
        let h: u16 = 0x8000 | 0x3000 | (chunk.len() as u16 - 1);
        let mut src = h.to_le_bytes().to_vec();
        src.extend(chunk);
        assert_eq!(decompress(&src, 100).unwrap(), b"abcabcabc");
        // Uncompressed chunk.
        let mut src = (0x3000u16 | 4).to_le_bytes().to_vec();
        src.extend_from_slice(b"hello");
        assert_eq!(decompress(&src, 100).unwrap(), b"hello");
        // A reference before the start is an error, not a panic.
        let bad = [0x05, 0x80, 0x01, 0xFF, 0xFF];
        assert!(decompress(&bad, 100).is_err());
    }
}
