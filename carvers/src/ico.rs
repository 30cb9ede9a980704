//! Windows icon and cursor validator (ICO, CUR): application and website icons,
//! `favicon.ico`, cursors.

use crate::{Carver, Reader, Verdict};

/// ICO/CUR: the directory (type 1 or 2, 1 to 64 images, reserved bytes zero),
/// each entry's image inside the file after the directory, none overlapping
/// another, and each image what its entry says: a PNG whose header has the
/// entry's width and height (0 meaning 256), or a bitmap header (40, 108 or 124
/// bytes) of that width and twice that height (colour and mask). Pixels carry no
/// check: `Unverified`, ending at the last image.
pub struct Ico;

/// Type 1 (icon) or 2 (cursor) after the zero reserved word; the image count
/// (1 to 64) and its zero high byte are checked in `check`. One pattern per count
/// would be 128 patterns and push the matcher off its fast packed search.
const HEADERS: &[&[u8]] = &[b"\0\0\x01\0", b"\0\0\x02\0"];

impl Carver for Ico {
    fn name(&self) -> &'static str {
        "ico"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("ico")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        HEADERS
    }
    fn min_size(&self) -> u64 {
        6 + 16 + 40
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 6).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let cursor = h[2] == 2;
        let n = u64::from(h[4]);
        if h[..2] != [0, 0]
            || !matches!(h[2], 1 | 2)
            || h[3] != 0
            || h[5] != 0
            || !(1..=64).contains(&n)
        {
            return Verdict::Reject;
        }
        let dir_end = 6 + 16 * n;
        let Some(d) = r.get(6, 16 * n as usize).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let mut images = Vec::new();
        for e in d.chunks_exact(16) {
            let le16 = |i: usize| u16::from_le_bytes([e[i], e[i + 1]]);
            let le32 =
                |i: usize| u64::from(u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]));
            let (w, ht) = (dim(e[0]), dim(e[1]));
            let (size, off) = (le32(8), le32(12));
            let icon_fields =
                matches!(le16(4), 0 | 1) && matches!(le16(6), 0 | 1 | 4 | 8 | 16 | 24 | 32);
            if e[3] != 0
                || (!cursor && !icon_fields)
                || !(40..=16 << 20).contains(&size)
                || off < dir_end
            {
                return Verdict::Reject;
            }
            images.push((off, size, w, ht));
        }
        images.sort_unstable();
        let mut end = dir_end;
        for &(off, size, w, ht) in &images {
            if off < end {
                return Verdict::Reject;
            }
            let Some(b) = r.get(off, 24).map(<[u8]>::to_vec) else {
                return Verdict::Reject;
            };
            let be32 =
                |i: usize| u64::from(u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
            let le32 =
                |i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
            let fits = if &b[..8] == b"\x89PNG\r\n\x1a\n" {
                &b[12..16] == b"IHDR" && be32(16) == w && be32(20) == ht
            } else {
                matches!(le32(0), 40 | 108 | 124) && le32(4) == w && le32(8) == 2 * ht
            };
            if !fits {
                return Verdict::Reject;
            }
            end = off + size;
        }
        Verdict::Unverified {
            len: end,
            subtype: cursor.then_some("cur"),
        }
    }
}

/// A directory entry's width or height: one byte, 0 meaning 256.
fn dim(b: u8) -> u64 {
    if b == 0 {
        256
    } else {
        u64::from(b)
    }
}
