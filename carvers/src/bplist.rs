//! Apple binary property lists (`bplist00`): preferences, caches and app data
//! on macOS and iOS (recent items, Wi-Fi networks, Safari state), and the
//! values inside many Apple SQLite databases. Layout as Apple's CoreFoundation
//! sources (CFBinaryPList.c) write it.

use crate::{Carver, Reader, Verdict};

/// bplist: the header, then objects, an offset table and a 32-byte trailer
/// that says where the table is and how wide its entries are. Nothing at the
/// start gives the length, so the trailer is looked for after the header: the
/// first 32 bytes whose table offset, entry width and object count put the
/// table's end exactly where those 32 bytes begin, whose widths are 1, 2, 4 or
/// 8 bytes and whose top object is one of the objects. Every offset in the
/// table must then point at an object marker of a known kind, between the
/// header and the table, the first at the first byte after the header. Nothing
/// checksums the objects: `carved-unverified-contiguous`.
pub struct Bplist;

/// Binary plists are small; one past this is not looked for.
const MAX: u64 = 64 << 20;
/// Bytes looked through for the trailer at a time.
const STEP: u64 = 1 << 16;

fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x))
}

/// Whether `m` is the marker of an object CFBinaryPList writes: null, false,
/// true, fill (0x00, 0x08, 0x09, 0x0F), int, real, date, data, ASCII and
/// UTF-16 strings, UID, array, set, dictionary.
fn known_marker(m: u8) -> bool {
    matches!(m, 0x00 | 0x08 | 0x09 | 0x0F | 0x33)
        || matches!(m >> 4, 0x1 | 0x2 | 0x4 | 0x5 | 0x6 | 0x8 | 0xA | 0xC | 0xD)
}

impl Carver for Bplist {
    fn name(&self) -> &'static str {
        "bplist"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "plist"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"bplist00"]
    }
    fn min_size(&self) -> u64 {
        8 + 1 + 1 + 32
    }
    fn max_size(&self) -> u64 {
        MAX
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        // The smallest plist: the header, one object, a one-byte table. The
        // bytes after the header are read a window at a time and each place
        // in it tried as the trailer.
        let limit = r.limit().min(MAX);
        let mut from = 10u64;
        while from + 32 <= limit {
            let n = (limit - from).min(STEP + 31) as usize;
            let Some(w) = r.get(from, n).map(<[u8]>::to_vec) else {
                break;
            };
            for (i, t) in w.windows(32).enumerate() {
                let at = from + i as u64;
                if t[..6] != [0; 6]
                    || !matches!(t[6], 1 | 2 | 4 | 8)
                    || !matches!(t[7], 1 | 2 | 4 | 8)
                {
                    continue;
                }
                let width = u64::from(t[6]);
                let (count, top, table) = (be(&t[8..16]), be(&t[16..24]), be(&t[24..32]));
                if count > 0
                    && top < count
                    && table > 8
                    && count.checked_mul(width).and_then(|n| n.checked_add(table)) == Some(at)
                {
                    // Bytes inside an object may look like a trailer: only
                    // one whose table checks ends the search.
                    if self.objects(r, table, count, width) == Some(true) {
                        return Verdict::Unverified {
                            len: at + 32,
                            subtype: None,
                        };
                    }
                }
            }
            from += STEP;
        }
        Verdict::Reject
    }
}

impl Bplist {
    /// Whether every entry of the offset table points at a known object
    /// marker between the header and the table, the first right after the
    /// header. None: cut off.
    fn objects(&self, r: &mut Reader<'_>, table: u64, count: u64, width: u64) -> Option<bool> {
        let mut first = u64::MAX;
        for i in 0..count {
            let o = be(r.get(table + i * width, width as usize)?);
            if !(8..table).contains(&o) {
                return Some(false);
            }
            if !known_marker(r.u8(o)?) {
                return Some(false);
            }
            first = first.min(o);
        }
        Some(first == 8)
    }
}
