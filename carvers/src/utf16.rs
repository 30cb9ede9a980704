//! UTF-16 text with a byte-order mark (Windows "Unicode" text, registry
//! exports, some logs). Found by its mark at a sector start; the first 16
//! characters must be ASCII (so Latin-script text: UTF-16 text in other
//! scripts without ASCII at its start is not found), and the file runs while
//! its code units are text: ASCII printable or breaks, other characters of
//! the Basic Multilingual Plane that are not controls, noncharacters or
//! unpaired surrogates, and well-formed surrogate pairs. It ends before the
//! first unit that is not, usually its slack's zeros. `Unverified`, as plain
//! text.

use crate::{Carver, Reader, Verdict};

pub struct Utf16;

/// ASCII characters the text must begin with after its mark.
const START: u64 = 16;

/// Whether `u` is an ASCII text character.
fn ascii(u: u16) -> bool {
    matches!(u, 0x09 | 0x0A | 0x0C | 0x0D | 0x20..=0x7E)
}

impl Carver for Utf16 {
    fn name(&self) -> &'static str {
        "utf16-text"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "txt"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\xFF\xFE", b"\xFE\xFF"]
    }
    fn min_size(&self) -> u64 {
        2 + 2 * START
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        // A file's first byte is at a sector start; the mark's two bytes
        // are common in binary data anywhere else.
        if !r.start().is_multiple_of(512) {
            return Verdict::Reject;
        }
        let Some(bom) = r.get(0, 2) else {
            return Verdict::Reject;
        };
        let le = bom == b"\xFF\xFE";
        let unit = |b: &[u8], i: usize| {
            let (x, y) = (b[2 * i], b[2 * i + 1]);
            if le {
                u16::from_le_bytes([x, y])
            } else {
                u16::from_be_bytes([x, y])
            }
        };
        let mut len = 2u64;
        const CHUNK: u64 = 64 << 10;
        loop {
            let want = CHUNK.min(r.limit() - len) & !1;
            if want < 2 {
                break;
            }
            let Some(b) = r.get(len, want as usize) else {
                break;
            };
            let n = b.len() / 2;
            let mut i = 0;
            while i < n {
                let u = unit(b, i);
                let ok = if len == 2 && (i as u64) < START {
                    ascii(u)
                } else if (0xD800..0xDC00).contains(&u) {
                    // A high surrogate needs its low one (within the chunk;
                    // one split by the chunk's end ends the text there).
                    if i + 1 < n && (0xDC00..0xE000).contains(&unit(b, i + 1)) {
                        i += 1;
                        true
                    } else {
                        false
                    }
                } else {
                    ascii(u)
                        || matches!(u, 0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0xFFFD)
                            && u != 0xFEFF
                };
                if !ok {
                    break;
                }
                i += 1;
            }
            len += 2 * i as u64;
            if i < n {
                break;
            }
        }
        if len < self.min_size() {
            return Verdict::Reject;
        }
        Verdict::Unverified { len, subtype: None }
    }
}
