//! BMP validator.

use crate::signal::{continuity, Continuity, Signal};
use crate::{partial, Carver, Reader, Verdict};

/// BMP: file size, pixel-data offset, DIB header size, one plane, a known bit depth,
/// and uncompressed pixel data that fits the file size. The pixels carry no
/// check, but the 24- and 32-bit ones of a photo or drawing are smooth
/// (`signal`): a sector as rough as noise among smooth ones cuts the file
/// there, or, when the pixels resume after the rough run for exactly the bytes
/// still owed, puts it together from its two pieces.
pub struct Bmp;

impl Carver for Bmp {
    fn name(&self) -> &'static str {
        "bmp"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "bmp"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"BM"]
    }
    fn min_size(&self) -> u64 {
        58
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(size), Some(reserved), Some(data), Some(dib)) =
            (r.le32(2), r.le32(6), r.le32(10), r.le32(14))
        else {
            return Verdict::Reject;
        };
        if reserved != 0
            || !matches!(dib, 12 | 40 | 52 | 56 | 108 | 124)
            || data < 14 + dib
            || data >= size
        {
            return Verdict::Reject;
        }
        let (w, h, planes, bpp, comp) = if dib == 12 {
            (
                r.le16(18).map(u32::from),
                r.le16(20).map(|x| x as i32),
                r.le16(22),
                r.le16(24),
                Some(0),
            )
        } else {
            (
                r.le32(18),
                r.le32(22).map(|x| x as i32),
                r.le16(26),
                r.le16(28),
                r.le32(30),
            )
        };
        let (Some(w), Some(h), Some(planes), Some(bpp), Some(comp)) = (w, h, planes, bpp, comp)
        else {
            return Verdict::Reject;
        };
        if planes != 1
            || !matches!(bpp, 1 | 4 | 8 | 16 | 24 | 32)
            || w == 0
            || h == 0
            || w > 1 << 16
            || h.unsigned_abs() > 1 << 16
            || comp > 6
        {
            return Verdict::Reject;
        }
        if comp == 0 {
            let stride = (u64::from(w) * u64::from(bpp)).div_ceil(32) * 4;
            if u64::from(data) + stride * u64::from(h.unsigned_abs()) > u64::from(size) {
                return Verdict::Reject;
            }
        }
        let size = u64::from(size);
        if size > r.limit() {
            return partial(r.limit(), "cut off before its declared size");
        }
        if r.get(size - 1, 1).is_none() {
            return partial(r.limit(), "cut off");
        }
        // 32-bit pixels with bit fields are smooth too when the fields are
        // the plain blue-green-red bytes (what ImageMagick and Windows write).
        let plain_fields = comp == 3
            && bpp == 32
            && dib >= 40
            && (r.le32(54), r.le32(58), r.le32(62))
                == (Some(0x00FF_0000), Some(0x0000_FF00), Some(0x0000_00FF));
        if (comp == 0 && matches!(bpp, 24 | 32)) || plain_fields {
            let s = Signal {
                at: u64::from(data),
                // Only the pixel array: a profile or other data may follow it.
                end: size.min(
                    u64::from(data)
                        + (u64::from(w) * u64::from(bpp)).div_ceil(32)
                            * 4
                            * u64::from(h.unsigned_abs()),
                ),
                step: usize::from(bpp / 8),
                width: 1,
                big_endian: false,
                signed: false,
                pixels: true,
            };
            let why = "a sector of the pixels is as rough as noise: data that is not the file's";
            match continuity(r, &s) {
                Continuity::Smooth | Continuity::Undecided => {}
                Continuity::Gap { at, gap } => {
                    return Verdict::Joined {
                        fragments: vec![(0, at), (at + gap, size - at)],
                        subtype: None,
                    }
                }
                Continuity::Cut { at } => return partial(at, why),
            }
        }
        // Header and size check out, but the pixels carry no check: a
        // fragmented BMP carved contiguously would pass.
        Verdict::Unverified {
            len: size,
            subtype: None,
        }
    }
}
