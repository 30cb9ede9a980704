//! A TIFF in two pieces: the IFD its header points to is not there (libtiff
//! writes the IFD after the image data, so most cuts fall before it), but a
//! whole number of sectors further on; and the image data, uncompressed 8- or
//! 16-bit samples, is as smooth after the gap as before it. Neither is a check of
//! the bytes (TIFF has none), so the file is put together as `Joined`:
//! reasoning about the samples' texture, recorded as such.

use crate::signal::{continuity, Continuity, Signal};
use crate::tiff::{type_size, Endian, MAX_ENTRIES};
use crate::{Reader, Verdict, SECTOR};

/// The longest gap looked across (as the samples' own search does).
const MAX_GAP: u64 = 4 << 20;
/// IFD-like places tried as the moved first IFD.
const MAX_TRIES: usize = 16;

/// Whether the `n` entries at `at` read as an IFD: a count in range, known
/// types, tags strictly ascending.
pub(crate) fn ifd_looks_ok(r: &mut Reader<'_>, e: &Endian, at: u64) -> bool {
    let Some(n) = e.u16(r, at).map(u64::from) else {
        return false;
    };
    if n == 0 || n > MAX_ENTRIES {
        return false;
    }
    let mut last = None;
    for i in 0..n {
        let p = at + 2 + 12 * i;
        let (Some(tag), Some(ty)) = (e.u16(r, p), e.u16(r, p + 2)) else {
            return false;
        };
        if type_size(ty).is_none() || last.is_some_and(|l| tag <= l) {
            return false;
        }
        last = Some(tag);
    }
    true
}

/// The file put together, when the first IFD (at `first`, where the header
/// says) lies a gap further on and the samples say where the cut is.
pub(crate) fn rejoin(r: &mut Reader<'_>, e: &Endian, first: u64) -> Option<Verdict> {
    let mut tries = 0;
    let mut g = SECTOR;
    while g <= MAX_GAP && first + g + 2 <= r.limit() && tries < MAX_TRIES {
        if r.exhausted() {
            return None;
        }
        if ifd_looks_ok(r, e, first + g) {
            tries += 1;
            if let Some(v) = joined(r, e, first, g) {
                return Some(v);
            }
        }
        g += SECTOR;
    }
    None
}

/// The layout with the IFD `gap` bytes on: a single image of uncompressed
/// 8- or 16-bit gray or RGB(A) samples in strips that follow one another, the cut
/// inside them where the samples turn foreign, and the rest smooth again
/// exactly `gap` bytes on.
fn joined(r: &mut Reader<'_>, e: &Endian, first: u64, gap: u64) -> Option<Verdict> {
    let at = first + gap;
    let n = u64::from(e.u16(r, at)?);
    // Values after the IFD's own place lie past the cut too: a gap further.
    let moved = |o: u64| if o >= first { o + gap } else { o };
    // The file ends where the IFD or the last of its entries' values does.
    let mut end = first + 2 + 12 * n + 4;
    for i in 0..n {
        let p = at + 2 + 12 * i;
        let (ty, count) = (e.u16(r, p + 2)?, u64::from(e.u32(r, p + 4)?));
        let bytes = type_size(ty)?.checked_mul(count)?;
        if bytes > 4 {
            end = end.max(u64::from(e.u32(r, p + 8)?).checked_add(bytes)?);
        }
    }
    let get = |tag: u16, r: &mut Reader<'_>| -> Option<Vec<u64>> {
        for i in 0..n {
            let p = at + 2 + 12 * i;
            if e.u16(r, p)? != tag {
                continue;
            }
            let (ty, count) = (e.u16(r, p + 2)?, u64::from(e.u32(r, p + 4)?));
            let size = type_size(ty)?;
            if count == 0 || count > 1 << 16 || !matches!(ty, 3 | 4) {
                return None;
            }
            let vals = if size * count <= 4 {
                p + 8
            } else {
                moved(u64::from(e.u32(r, p + 8)?))
            };
            return (0..count)
                .map(|k| {
                    if ty == 3 {
                        e.u16(r, vals + 2 * k).map(u64::from)
                    } else {
                        e.u32(r, vals + 4 * k).map(u64::from)
                    }
                })
                .collect();
        }
        None
    };
    let one = |v: Option<Vec<u64>>, default: u64| v.map_or(Some(default), |v| v.first().copied());
    let spp = one(get(277, r), 1)?;
    let bps = get(258, r).unwrap_or_else(|| vec![1]);
    if one(get(259, r), 1)? != 1
        || one(get(284, r), 1)? != 1
        || !matches!(spp, 1 | 3 | 4)
        || bps.len() as u64 != spp
        || !matches!(bps[0], 8 | 16)
        || bps.iter().any(|&b| b != bps[0])
        || !matches!(one(get(262, r), 2)?, 1 | 2)
    {
        return None;
    }
    let offs = get(273, r)?;
    let lens = get(279, r)?;
    if offs.len() != lens.len() {
        return None;
    }
    // One run of strips, in order, before the IFD.
    let (start, mut strip_end) = (offs[0], offs[0]);
    for (&o, &l) in offs.iter().zip(&lens) {
        if o != strip_end {
            return None;
        }
        strip_end += l;
    }
    if start < 8 || strip_end > first {
        return None;
    }
    end = end.max(strip_end);
    // 16-bit samples (ImageMagick's default depth) are read as samples in
    // the file's byte order; 8-bit colour as pixels, whose colour tells
    // noise apart too.
    let wide = bps[0] == 16;
    let s = Signal {
        at: start,
        end: strip_end,
        step: spp as usize * if wide { 2 } else { 1 },
        width: if wide { 2 } else { 1 },
        big_endian: !e.0,
        signed: false,
        pixels: !wide && spp >= 3,
    };
    match continuity(r, &s) {
        Continuity::Gap { at: cut, gap: g } if g == gap && cut > start => Some(Verdict::Joined {
            fragments: vec![(0, cut), (cut + gap, end.saturating_sub(cut))],
            subtype: None,
        }),
        _ => None,
    }
}
