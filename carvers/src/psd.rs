//! Adobe Photoshop document validator (PSD, and PSB "large documents").

use crate::{partial, Carver, Reader, Verdict};

/// PSD/PSB: the header (version 1 or 2, reserved bytes zero, 1–56 channels,
/// dimensions within the version's limits, a known depth and colour mode), the
/// colour-mode data, the image resources walked block by block (signature, id,
/// padded name, padded size) to exactly their section's length, the layer and
/// mask section by its length, then the merged image: raw (channels × rows ×
/// row bytes) or RLE (the row-length table, then the rows it sums to). Pixels
/// carry no check: `Unverified`. ZIP-compressed merged images (rare) have no
/// stated length: partial before them.
pub struct Psd;

impl Carver for Psd {
    fn name(&self) -> &'static str {
        "psd"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("psd")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"8BPS\0\x01\0\0\0\0\0\0", b"8BPS\0\x02\0\0\0\0\0\0"]
    }
    fn min_size(&self) -> u64 {
        26 + 4 * 3 + 2
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 26).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let be16 = |i: usize| u64::from(u16::from_be_bytes([h[i], h[i + 1]]));
        let be32 = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
        let big = be16(4) == 2;
        let sub = big.then_some("psb");
        let (channels, rows, cols, depth, mode) =
            (be16(12), be32(14), be32(18), be16(22), be16(24));
        let max = if big { 300_000 } else { 30_000 };
        if !(1..=56).contains(&channels)
            || !(1..=max).contains(&rows)
            || !(1..=max).contains(&cols)
            || !matches!(depth, 1 | 8 | 16 | 32)
            || !matches!(mode, 0..=4 | 7..=9)
        {
            return Verdict::Reject;
        }
        // Colour-mode data.
        let Some(n) = r.be32(26) else {
            return Verdict::Reject;
        };
        let mut at = 30 + u64::from(n);
        // Image resources: blocks to exactly the section's length.
        let Some(n) = r.be32(at) else {
            return Verdict::Reject;
        };
        let res_end = at + 4 + u64::from(n);
        at += 4;
        while at < res_end {
            let Some(sig) = r.get(at, 4) else {
                return partial(at, "the document breaks off in its image resources");
            };
            if !matches!(sig, b"8BIM" | b"MeSa" | b"AgHg" | b"PHUT" | b"DCSR") {
                return if at == 30 + 4 {
                    Verdict::Reject
                } else {
                    partial(at, "an image resource has no signature")
                };
            }
            let Some(name) = r.u8(at + 6) else {
                return partial(at, "the document breaks off in its image resources");
            };
            let name_len = (1 + u64::from(name)).div_ceil(2) * 2;
            let Some(size) = r.be32(at + 6 + name_len) else {
                return partial(at, "the document breaks off in its image resources");
            };
            at += 6 + name_len + 4 + u64::from(size).div_ceil(2) * 2;
            if !r.spend(32) {
                return partial(at, "too many image resources");
            }
        }
        if at != res_end {
            return partial(30, "image resources overrun their section");
        }
        // Layer and mask information, by its length (8 bytes in a PSB).
        let layers = if big {
            match (r.be32(at), r.be32(at + 4)) {
                (Some(hi), Some(lo)) => (u64::from(hi) << 32 | u64::from(lo)) + 8,
                _ => return partial(at, "the document breaks off before its layers"),
            }
        } else {
            match r.be32(at) {
                Some(n) => u64::from(n) + 4,
                None => return partial(at, "the document breaks off before its layers"),
            }
        };
        at = at.saturating_add(layers);
        let Some(compression) = r.be16(at) else {
            return partial(
                at.min(r.limit()),
                "the document breaks off before its image data",
            );
        };
        at += 2;
        let row = (cols * depth).div_ceil(8);
        let planes = channels * rows;
        let data = match compression {
            0 => planes * row,
            1 => {
                // One count per row of every channel: 2 bytes each (4 in a PSB).
                let w = if big { 4 } else { 2 };
                let mut total = planes * w;
                let mut k = 0u64;
                while k < planes {
                    // The table read a chunk at a time, not a request per row.
                    let take = (planes - k).min(16_384);
                    let Some(t) = r.get(at + k * w, (take * w) as usize) else {
                        return partial(at - 2, "the document breaks off in its row lengths");
                    };
                    for e in t.chunks_exact(w as usize) {
                        let n = e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
                        if n > 2 * row + 2 {
                            return partial(at - 2, "a row's RLE length exceeds the row");
                        }
                        total += n;
                    }
                    k += take;
                }
                total
            }
            2 | 3 => return partial(at - 2, "ZIP-compressed image data has no stated length"),
            _ => return partial(at - 2, "unknown image compression"),
        };
        Verdict::Unverified {
            len: at + data,
            subtype: sub,
        }
    }
}
