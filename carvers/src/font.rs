//! TrueType and OpenType font validator (the OpenType specification's font
//! file, `sfnt`): fonts installed with documents, bundled in applications, or
//! cached by browsers.

use crate::{partial_as, Carver, Reader, Verdict};

/// A font: the table directory (TrueType `00010000` or `true`, CFF `OTTO`; 8 to
/// 48 tables, the search range agreeing with the count), table records in tag
/// order, each table 4-byte aligned after the directory, a `head` table with its
/// magic number. Every table's checksum is checked (for `head`, with its
/// checksum adjustment taken as zero), then the whole file's, which the
/// adjustment sets to `B1B0AFBA`: together they cover every byte, so a whole font
/// is `Complete`; tables that check under a whole-file sum that does not (a tool
/// that did not update the adjustment): `Unverified`. A table that fails: partial
/// before it. Font collections (`ttcf`) are not read.
pub struct Font;

/// The version tag and the high byte of the table count (always zero: a font has
/// at most 48 tables here). The rest of the first 8 bytes (count 8 to 48, search
/// range 16 times the largest power of two not above it) is checked in `check`:
/// spelling every count out as its own header took 123 patterns, which pushed the
/// matcher past its fast packed search (128 patterns) and cut the scan of every
/// image from gigabytes to hundreds of megabytes a second.
const HEADERS: &[&[u8]] = &[b"\0\x01\0\0\0", b"OTTO\0", b"true\0"];

/// The sum of big-endian 32-bit words, the last one padded with zeros.
fn sum(b: &[u8]) -> u32 {
    b.chunks(4).fold(0u32, |s, w| {
        let mut x = [0u8; 4];
        x[..w.len()].copy_from_slice(w);
        s.wrapping_add(u32::from_be_bytes(x))
    })
}

impl Carver for Font {
    fn name(&self) -> &'static str {
        "font"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("ttf")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        HEADERS
    }
    fn min_size(&self) -> u64 {
        12 + 16 * 8
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 12).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let sub = if &h[..4] == b"OTTO" { "otf" } else { "ttf" };
        let n = u64::from(u16::from_be_bytes([h[4], h[5]]));
        let range = u64::from(u16::from_be_bytes([h[6], h[7]]));
        if !(8..=48).contains(&n) || range != 16 << n.ilog2() {
            return Verdict::Reject;
        }
        let dir_end = 12 + 16 * n;
        let Some(d) = r.get(12, 16 * n as usize).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let be32 = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        let mut tables = Vec::new();
        let mut prev = [0u8; 4];
        for i in 0..n as usize {
            let tag: [u8; 4] = [d[16 * i], d[16 * i + 1], d[16 * i + 2], d[16 * i + 3]];
            let (ck, off, len) = (
                be32(16 * i + 4),
                u64::from(be32(16 * i + 8)),
                u64::from(be32(16 * i + 12)),
            );
            let printable = tag.iter().all(|c| (0x20..0x7F).contains(c));
            if !printable || (i > 0 && tag <= prev) || off % 4 != 0 || off < dir_end || len == 0 {
                return Verdict::Reject;
            }
            prev = tag;
            tables.push((tag, ck, off, len));
        }
        let Some(head) = tables.iter().find(|t| &t.0 == b"head").copied() else {
            return Verdict::Reject;
        };
        if head.3 < 54 || r.be32(head.2 + 12) != Some(0x5F0F_3CF5) {
            return Verdict::Reject;
        }
        // Checked in file order, so a failure cuts the font where it is.
        tables.sort_by_key(|t| t.2);
        let mut whole = sum(&h).wrapping_add(sum(&d));
        let mut end = dir_end;
        for (tag, ck, off, len) in &tables {
            let padded = len.div_ceil(4) * 4;
            // The table with its zero padding, or without where the file ends first.
            let got = r.get(*off, padded as usize).map(<[u8]>::to_vec);
            let Some(mut b) = got.or_else(|| r.get(*off, *len as usize).map(<[u8]>::to_vec)) else {
                return partial_as(*off, "the font breaks off in a table", Some(sub));
            };
            if b.len() as u64 > *len && b[*len as usize..].iter().any(|&x| x != 0) {
                b.truncate(*len as usize);
            }
            let all = sum(&b);
            let own = if tag == b"head" {
                // The adjustment (bytes 8–11) is left out of head's own sum.
                let adj = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                all.wrapping_sub(adj)
            } else {
                all
            };
            if own != *ck {
                let what = String::from_utf8_lossy(tag).into_owned();
                return partial_as(
                    *off,
                    &format!("table '{what}' fails its checksum"),
                    Some(sub),
                );
            }
            // Bytes between tables count in the whole-file sum too.
            if *off > end {
                let Some(gap) = r.get(end, (off - end) as usize) else {
                    return partial_as(end, "the font breaks off between tables", Some(sub));
                };
                whole = whole.wrapping_add(sum(gap));
            }
            whole = whole.wrapping_add(all);
            end = end.max(off + b.len() as u64);
        }
        Verdict::whole(end, Some(sub), whole == 0xB1B0_AFBA)
    }
}
