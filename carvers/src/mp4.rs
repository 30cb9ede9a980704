//! MP4 / QuickTime validator.

use crate::{Carver, Reader, Verdict};

/// MP4 / QuickTime / 3GP / M4A and the other ISO-BMFF files: `ftyp` first (its
/// major brand names the type: HEIC/HEIF/AVIF images, CR3 raw, M4A/M4V/M4B, 3GP,
/// MOV, MP4), then top-level boxes (32- or 64-bit sizes, known types only, so
/// following data is not taken for boxes) up to the last one; a movie needs both
/// `moov` and `mdat`. A still image (HEIF family) needs `meta` whose item
/// locations (`iloc`) all lie inside the file: unverified, as nothing in it is
/// checked.
pub struct Mp4;

const TOP_LEVEL: [&[u8; 4]; 16] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"pdin", b"moof",
    b"mfra", b"sidx", b"styp", b"emsg", b"prft", b"pnot",
];

/// The file type its major brand gives; None when the brand is not four
/// printable characters (not a file type box).
fn brand(b: &[u8]) -> Option<&'static str> {
    Some(match b {
        b"qt  " => "mov",
        b"M4A " => "m4a",
        b"M4B " => "m4b",
        b"M4V " | b"M4VH" | b"M4VP" => "m4v",
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => "heic",
        b"mif1" | b"msf1" => "heif",
        b"avif" | b"avis" => "avif",
        b"crx " => "cr3",
        _ if b.starts_with(b"3g2") => "3g2",
        _ if b.starts_with(b"3gp") => "3gp",
        _ if b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b' ') => "mp4",
        _ => return None,
    })
}

/// A big-endian integer of `n` bytes (0, 4 or 8; `iloc` field sizes) at `*at`.
fn be_n(b: &[u8], at: &mut usize, n: usize) -> Option<u64> {
    let v = b
        .get(*at..*at + n)?
        .iter()
        .fold(0u64, |v, &x| v << 8 | u64::from(x));
    *at += n;
    Some(v)
}

/// Checks that every item the meta box's `iloc` places in the file (construction
/// method 0) lies inside the file's `len` bytes.
fn items_inside(r: &mut Reader<'_>, at: u64, size: u64, len: u64) -> Result<(), &'static str> {
    let Some(meta) = r.get(at, size.min(1 << 20) as usize).map(<[u8]>::to_vec) else {
        return Err("its meta box cannot be read");
    };
    // A full box: header, version and flags, then its children.
    let mut child = 12usize;
    let iloc = loop {
        let Some(h) = meta.get(child..child + 8) else {
            return Err("no item locations (iloc) in its meta box");
        };
        let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if &h[4..8] == b"iloc" {
            break meta
                .get(child..child + n)
                .ok_or("its iloc box is cut off")?;
        }
        if n < 8 {
            return Err("a box of its meta box has no size");
        }
        child += n;
    };
    let bad = "its iloc box does not parse";
    let v = *iloc.get(8).ok_or(bad)?;
    let sizes = iloc.get(12..14).ok_or(bad)?;
    let (off_n, len_n, base_n) = (sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4);
    let idx_n = if v >= 1 { sizes[1] & 15 } else { 0 };
    if [off_n, len_n, base_n, idx_n]
        .iter()
        .any(|&n| ![0, 4, 8].contains(&n))
        || v > 2
    {
        return Err(bad);
    }
    let mut p = 14usize;
    let count = be_n(iloc, &mut p, if v < 2 { 2 } else { 4 }).ok_or(bad)?;
    for _ in 0..count {
        be_n(iloc, &mut p, if v < 2 { 2 } else { 4 }).ok_or(bad)?;
        let method = if v >= 1 {
            be_n(iloc, &mut p, 2).ok_or(bad)? & 15
        } else {
            0
        };
        be_n(iloc, &mut p, 2).ok_or(bad)?;
        let base = be_n(iloc, &mut p, usize::from(base_n)).ok_or(bad)?;
        let extents = be_n(iloc, &mut p, 2).ok_or(bad)?;
        for _ in 0..extents {
            be_n(iloc, &mut p, usize::from(idx_n)).ok_or(bad)?;
            let o = be_n(iloc, &mut p, usize::from(off_n)).ok_or(bad)?;
            let l = be_n(iloc, &mut p, usize::from(len_n)).ok_or(bad)?;
            let end = base
                .checked_add(o)
                .and_then(|e| e.checked_add(l))
                .ok_or(bad)?;
            if method == 0 && end > len {
                return Err("an item lies past the file's last box");
            }
        }
    }
    Ok(())
}

impl Carver for Mp4 {
    fn name(&self) -> &'static str {
        "mp4"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("mp4")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"ftyp"]
    }
    fn header_offset(&self) -> u64 {
        4
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        16 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(first) = r.be32(0) else {
            return Verdict::Reject;
        };
        if !(8..=256).contains(&first) {
            return Verdict::Reject;
        }
        let subtype = match r.get(8, 4) {
            Some(b) => match brand(b) {
                Some(s) => Some(s),
                None => return Verdict::Reject,
            },
            None => return Verdict::Reject,
        };
        let (mut off, mut moov, mut mdat) = (0u64, false, false);
        let mut meta = None;
        while let (Some(size32), Some(ty)) = (r.be32(off), r.get(off + 4, 4).map(<[u8]>::to_vec)) {
            if !TOP_LEVEL.iter().any(|t| t[..] == ty[..]) {
                break;
            }
            let size = match size32 {
                1 => match r.get(off + 8, 8) {
                    Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
                    None => break,
                },
                0 => r.limit() - off, // to the end of the file: trust it only as far as we can read
                s => u64::from(s),
            };
            if size < 8 {
                break;
            }
            moov |= &ty == b"moov";
            mdat |= &ty == b"mdat";
            if &ty == b"meta" && meta.is_none() {
                meta = Some((off, size));
            }
            // A 64-bit size can wrap the offset back to the start: the walk would
            // never end. Past the readable end is past the end, whatever the sum.
            let Some(next) = off.checked_add(size) else {
                break;
            };
            if next > r.limit() {
                return Verdict::Partial {
                    len: r.limit(),
                    why: format!(
                        "{} box runs past what is readable",
                        String::from_utf8_lossy(&ty)
                    ),
                    subtype,
                };
            }
            off = next;
        }
        if off == 0 {
            return Verdict::Reject;
        }
        if moov && mdat {
            Verdict::Complete { len: off, subtype }
        } else if let (Some("heic" | "heif" | "avif"), Some((at, size))) = (subtype, meta) {
            // A still image: its items are where the meta box's `iloc` says.
            // Nothing in them is checked (no checksums): unverified.
            match items_inside(r, at, size, off) {
                Ok(()) => Verdict::Unverified { len: off, subtype },
                Err(why) => Verdict::Partial {
                    len: off,
                    why: why.into(),
                    subtype,
                },
            }
        } else {
            Verdict::Partial {
                len: off,
                why: "no moov and mdat boxes".into(),
                subtype,
            }
        }
    }
}
