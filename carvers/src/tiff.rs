//! TIFF and the camera RAW formats built on it (CR2, NEF, ARW, DNG): the IFD chain is
//! walked from the header, with the EXIF, GPS, interoperability and sub-IFDs it
//! points to. Every IFD's entries must have known types and ascending tags (the
//! specification requires the order; random bytes almost never keep it), and the file
//! ends at the last byte any entry, strip, tile or thumbnail refers to. TIFF has no
//! end marker, so that is the exact end the structure gives.

use crate::{partial_as, Carver, Reader, Verdict};

pub struct Tiff;

/// Most IFDs followed in one file (a loop in the chain must not run forever).
const MAX_IFDS: usize = 64;
/// Most entries in one IFD, and most strip or tile offsets read from one entry.
pub(crate) const MAX_ENTRIES: u64 = 4096;
const MAX_ARRAY: u64 = 1 << 20;

pub(crate) struct Endian(pub(crate) bool);

impl Endian {
    pub(crate) fn u16(&self, r: &mut Reader<'_>, off: u64) -> Option<u16> {
        if self.0 {
            r.le16(off)
        } else {
            r.be16(off)
        }
    }
    pub(crate) fn u32(&self, r: &mut Reader<'_>, off: u64) -> Option<u32> {
        if self.0 {
            r.le32(off)
        } else {
            r.be32(off)
        }
    }
}

pub(crate) fn type_size(t: u16) -> Option<u64> {
    Some(match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

struct Entry {
    tag: u16,
    ty: u16,
    count: u64,
    /// Where the values are: inside the entry when they fit in four bytes.
    at: u64,
}

impl Entry {
    /// The i-th value of a SHORT or LONG array.
    fn value(&self, e: &Endian, r: &mut Reader<'_>, i: u64) -> Option<u64> {
        match self.ty {
            3 => e.u16(r, self.at + 2 * i).map(u64::from),
            4 | 13 => e.u32(r, self.at + 4 * i).map(u64::from),
            _ => None,
        }
    }
}

impl Carver for Tiff {
    fn name(&self) -> &'static str {
        "tiff"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("tif")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"II*\0", b"MM\0*"]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        1 << 30
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let e = Endian(r.u8(0) == Some(b'I'));
        let Some(first) = e.u32(r, 4).map(u64::from) else {
            return Verdict::Reject;
        };
        if first < 8 || first % 2 != 0 {
            return Verdict::Reject;
        }
        // The first IFD is not where the header says: the file may be in two
        // pieces, the IFD (written last) a gap further on.
        if !crate::tiff_pieces::ifd_looks_ok(r, &e, first) {
            return crate::tiff_pieces::rejoin(r, &e, first).unwrap_or(Verdict::Reject);
        }
        let mut subtype = if r.get(8, 2) == Some(b"CR") {
            Some("cr2")
        } else {
            None
        };
        let mut queue = vec![first];
        let mut seen: Vec<u64> = Vec::new();
        let (mut end, mut images) = (8u64, 0);
        while let Some(ifd) = queue.pop() {
            if seen.contains(&ifd) {
                continue;
            }
            if seen.len() == MAX_IFDS {
                return Verdict::Reject;
            }
            seen.push(ifd);
            let Some(n) = e.u16(r, ifd).map(u64::from) else {
                return if seen.len() == 1 {
                    Verdict::Reject
                } else {
                    partial_as(ifd, "IFD cut off", subtype)
                };
            };
            if n == 0 || n > MAX_ENTRIES {
                return Verdict::Reject;
            }
            end = end.max(ifd + 2 + 12 * n + 4);
            let mut entries = Vec::new();
            let mut last_tag = None;
            for i in 0..n {
                let p = ifd + 2 + 12 * i;
                let (Some(tag), Some(ty), Some(count)) =
                    (e.u16(r, p), e.u16(r, p + 2), e.u32(r, p + 4))
                else {
                    return partial_as(ifd, "IFD cut off", subtype);
                };
                let Some(size) = type_size(ty) else {
                    return Verdict::Reject;
                };
                if last_tag.is_some_and(|l| tag <= l) {
                    return Verdict::Reject;
                }
                last_tag = Some(tag);
                let count = u64::from(count);
                let bytes = size * count;
                let at = if bytes <= 4 {
                    p + 8
                } else {
                    let Some(o) = e.u32(r, p + 8).map(u64::from) else {
                        return partial_as(ifd, "IFD cut off", subtype);
                    };
                    end = end.max(o + bytes);
                    o
                };
                entries.push(Entry { tag, ty, count, at });
            }
            let next = e.u32(r, ifd + 2 + 12 * n).map_or(0, u64::from);
            if next != 0 {
                queue.push(next);
            }
            let find = |tag: u16| entries.iter().position(|x| x.tag == tag);
            if find(256).is_some() && find(257).is_some() {
                images += 1;
            }
            // Image data: offsets with their byte counts.
            for (offs, lens) in [(273u16, 279u16), (324, 325), (513, 514)] {
                let (Some(o), Some(l)) = (find(offs), find(lens)) else {
                    continue;
                };
                let (o, l) = (&entries[o], &entries[l]);
                if o.count != l.count && offs != 513 {
                    return Verdict::Reject;
                }
                if o.count > MAX_ARRAY {
                    return partial_as(ifd, "too many strips", subtype);
                }
                for i in 0..o.count.min(l.count.max(1)) {
                    let start = if offs == 513 {
                        u64::from(e.u32(r, o.at).unwrap_or(0))
                    } else {
                        o.value(&e, r, i).unwrap_or(0)
                    };
                    let len = if offs == 513 {
                        u64::from(e.u32(r, l.at).unwrap_or(0))
                    } else {
                        l.value(&e, r, i).unwrap_or(0)
                    };
                    end = end.max(start + len);
                }
            }
            // IFDs this one points to: sub-IFDs, EXIF, GPS, interoperability.
            for tag in [330u16, 34665, 34853, 40965] {
                if let Some(x) = find(tag) {
                    let x = &entries[x];
                    for i in 0..x.count.min(16) {
                        match x.value(&e, r, i) {
                            Some(o) if o >= 8 => queue.push(o),
                            _ => {}
                        }
                    }
                }
            }
            // DNGVersion names a DNG; Make names the camera of other RAW files.
            if find(50706).is_some() {
                subtype = Some("dng");
            } else if subtype.is_none() {
                if let Some(m) = find(271) {
                    let at = entries[m].at;
                    let make = r.get(at, 5).map(<[u8]>::to_vec).unwrap_or_default();
                    if make.starts_with(b"NIKON") {
                        subtype = Some("nef");
                    } else if make.starts_with(b"SONY") {
                        subtype = Some("arw");
                    }
                }
            }
        }
        if images == 0 {
            return Verdict::Reject;
        }
        if end > self.max_size() {
            return Verdict::Reject;
        }
        if end > r.limit() {
            return partial_as(
                r.limit(),
                "cut off before the data its IFDs point to",
                subtype,
            );
        }
        if r.unreadable > 0 {
            return partial_as(end, "unreadable sectors inside", subtype);
        }
        Verdict::Complete { len: end, subtype }
    }
}
