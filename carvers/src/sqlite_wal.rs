//! SQLite write-ahead log validator (sqlite.org "Database File Format", 4.1).

use crate::{Carver, Reader, Verdict};

/// SQLite WAL: the 32-byte header (version 3007000, a power-of-two page size,
/// its checksum), then frames while each carries the header's salts and its
/// checksum continues the chain over its header and page; the log ends before
/// the first frame that does not (a checkpointed log keeps older frames with
/// other salts after the live ones: those are not this log's). Every byte is
/// under a checksum, so a whole log is `Complete`. A log with no frame is too
/// small to matter and is not carved.
pub struct SqliteWal;

/// The checksum chain over `b` (whole 8-byte pairs of 32-bit words, in the
/// byte order the header's magic names).
fn sum(mut s: (u32, u32), b: &[u8], big: bool) -> (u32, u32) {
    for c in b.chunks_exact(8) {
        let w = |i: usize| {
            let x = [c[i], c[i + 1], c[i + 2], c[i + 3]];
            if big {
                u32::from_be_bytes(x)
            } else {
                u32::from_le_bytes(x)
            }
        };
        s.0 = s.0.wrapping_add(w(0)).wrapping_add(s.1);
        s.1 = s.1.wrapping_add(w(4)).wrapping_add(s.0);
    }
    s
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Carver for SqliteWal {
    fn name(&self) -> &'static str {
        "sqlite-wal"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "sqlite-wal"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[
            b"\x37\x7F\x06\x82\x00\x2D\xE2\x18",
            b"\x37\x7F\x06\x83\x00\x2D\xE2\x18",
        ]
    }
    fn min_size(&self) -> u64 {
        32 + 24 + 512
    }
    fn max_size(&self) -> u64 {
        1 << 32
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 32).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let big = h[3] == 0x83;
        let page = u64::from(be32(&h, 8));
        if !(512..=65536).contains(&page) || !page.is_power_of_two() {
            return Verdict::Reject;
        }
        let mut s = sum((0, 0), &h[..24], big);
        if s != (be32(&h, 24), be32(&h, 28)) {
            return Verdict::Reject;
        }
        let salts = &h[16..24];
        let mut at = 32u64;
        while let Some(f) = r.get(at, (24 + page) as usize) {
            if f[8..16] != *salts || be32(f, 0) == 0 {
                break;
            }
            let next = sum(sum(s, &f[..8], big), &f[24..], big);
            if next != (be32(f, 16), be32(f, 20)) {
                break;
            }
            s = next;
            at += 24 + page;
        }
        if at == 32 {
            return Verdict::Reject;
        }
        Verdict::Complete {
            len: at,
            subtype: None,
        }
    }
}
