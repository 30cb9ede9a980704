//! GIF validator.

use crate::{partial, Carver, Reader, Verdict, SECTOR};

/// GIF: header, logical screen (and global colour table), then blocks — images
/// (descriptor, local table, LZW data sub-blocks) and extensions (sub-blocks) — to
/// the trailer; at least one image. Each image's LZW codes are decoded (every
/// code one the table holds or the next it makes) and must give exactly the
/// descriptor's width × height pixels: foreign data inside the file (a GIF in
/// pieces) fails there, where sub-block lengths alone can chain on through it.
/// An image whose codes are valid but whose pixel count is not exact leaves
/// the file `carved-unverified-contiguous`.
pub struct Gif;

impl Carver for Gif {
    fn name(&self) -> &'static str {
        "gif"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "gif"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"GIF87a", b"GIF89a"]
    }
    fn min_size(&self) -> u64 {
        35
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(flags) = r.u8(10) else {
            return Verdict::Reject;
        };
        let mut off = 13u64;
        if flags & 0x80 != 0 {
            off += 3 << ((flags & 7) + 1);
        }
        let mut images = 0;
        // Every image gave exactly its width × height pixels.
        let mut exact = true;
        // Sub-blocks: length byte, data, until a zero length.
        let sub_blocks = |r: &mut Reader<'_>, mut off: u64| -> Option<u64> {
            loop {
                let n = r.u8(off)?;
                off += 1 + u64::from(n);
                if n == 0 {
                    return Some(off);
                }
            }
        };
        loop {
            match r.u8(off) {
                Some(0x3B) => {
                    return if images > 0 {
                        Verdict::whole(off + 1, None, exact)
                    } else {
                        Verdict::Reject
                    };
                }
                Some(0x2C) => {
                    let (Some(f), Some(w), Some(h)) =
                        (r.u8(off + 9), r.le16(off + 5), r.le16(off + 7))
                    else {
                        return partial(off, "cut in an image descriptor");
                    };
                    off += 10;
                    if f & 0x80 != 0 {
                        off += 3 << ((f & 7) + 1);
                    }
                    let min = match r.u8(off) {
                        Some(m @ 2..=12) => m,
                        _ => {
                            return if images > 0 {
                                partial(off, "bad LZW code size")
                            } else {
                                Verdict::Reject
                            }
                        }
                    };
                    match lzw(r, off + 1, min) {
                        Lzw::End { end, pixels } => {
                            exact &= pixels == u64::from(w) * u64::from(h);
                            off = end;
                        }
                        Lzw::Cut => return partial(off, "image data cut off"),
                        Lzw::Bad(at) => {
                            if images == 0 && at < SECTOR {
                                return Verdict::Reject;
                            }
                            // Foreign data begins at a sector boundary before
                            // the code that cannot be.
                            let len = r.sector_before(at).max(off);
                            return partial(len, "an LZW code no table holds");
                        }
                    }
                    images += 1;
                }
                Some(0x21) => match sub_blocks(r, off + 2) {
                    Some(o) => off = o,
                    None => {
                        return if images > 0 {
                            partial(off, "extension cut off")
                        } else {
                            Verdict::Reject
                        }
                    }
                },
                _ => {
                    return if images > 0 {
                        partial(off, "block expected")
                    } else {
                        Verdict::Reject
                    }
                }
            }
        }
    }
}

/// How an image's LZW data ended.
enum Lzw {
    /// At the zero-length sub-block ending it (`end` just past it), having
    /// given `pixels`.
    End { end: u64, pixels: u64 },
    /// The data runs past what can be read.
    Cut,
    /// A code no table holds, in the sub-block byte at this offset.
    Bad(u64),
}

/// Decodes the LZW codes in the sub-blocks from `off` (GIF's variant: codes
/// least significant bit first, growing from `min` + 1 to 12 bits, clear and
/// end codes), counting the pixels they give without making them.
fn lzw(r: &mut Reader<'_>, mut off: u64, min: u8) -> Lzw {
    let clear = 1u32 << min;
    let mut lens = vec![1u32; 8192];
    let (mut size, mut next, mut prev) = (u32::from(min) + 1, clear + 2, None::<u32>);
    let (mut acc, mut bits, mut pixels, mut done) = (0u32, 0u32, 0u64, false);
    loop {
        let Some(n) = r.u8(off) else {
            return Lzw::Cut;
        };
        let start = off + 1;
        off = start + u64::from(n);
        if n == 0 {
            return Lzw::End { end: off, pixels };
        }
        if done {
            if r.get(start, usize::from(n)).is_none() {
                return Lzw::Cut;
            }
            continue;
        }
        let Some(block) = r.get(start, usize::from(n)) else {
            return Lzw::Cut;
        };
        for (i, &byte) in block.iter().enumerate() {
            acc |= u32::from(byte) << bits;
            bits += 8;
            while bits >= size && !done {
                let code = acc & ((1 << size) - 1);
                acc >>= size;
                bits -= size;
                if code == clear {
                    (size, next, prev) = (u32::from(min) + 1, clear + 2, None);
                    continue;
                }
                if code == clear + 1 {
                    done = true;
                    break;
                }
                let Some(p) = prev else {
                    if code > clear {
                        return Lzw::Bad(start + i as u64);
                    }
                    pixels += 1;
                    prev = Some(code);
                    continue;
                };
                let len = match code.cmp(&next) {
                    std::cmp::Ordering::Less => lens[code as usize],
                    std::cmp::Ordering::Equal if next < 4096 => lens[p as usize] + 1,
                    _ => return Lzw::Bad(start + i as u64),
                };
                pixels += u64::from(len);
                if next < 4096 {
                    lens[next as usize] = lens[p as usize] + 1;
                    next += 1;
                    if next == 1 << size && size < 12 {
                        size += 1;
                    }
                }
                prev = Some(code);
            }
        }
    }
}
