//! GIF validator.

use crate::{partial, Carver, Reader, Verdict};

/// GIF: header, logical screen (and global colour table), then blocks — images
/// (descriptor, local table, LZW data sub-blocks) and extensions (sub-blocks) — to
/// the trailer; at least one image.
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
                        Verdict::Complete {
                            len: off + 1,
                            subtype: None,
                        }
                    } else {
                        Verdict::Reject
                    };
                }
                Some(0x2C) => {
                    let Some(f) = r.u8(off + 9) else {
                        return partial(off, "cut in an image descriptor");
                    };
                    off += 10;
                    if f & 0x80 != 0 {
                        off += 3 << ((f & 7) + 1);
                    }
                    match r.u8(off) {
                        Some(2..=12) => {}
                        _ => {
                            return if images > 0 {
                                partial(off, "bad LZW code size")
                            } else {
                                Verdict::Reject
                            }
                        }
                    }
                    match sub_blocks(r, off + 1) {
                        Some(o) => off = o,
                        None => return partial(off, "image data cut off"),
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
