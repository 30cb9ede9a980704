//! lzip validator (`.lz`, `.tlz`: lzip, plzip, tarlz; the format of the lzip
//! manual, member version 1).

use crate::{partial, Carver, Reader, Verdict};

/// lzip: members, each `LZIP`, version 1 and a coded dictionary size (4 KiB
/// to 512 MiB), the LZMA stream, and a 20-byte trailer (CRC-32 and size of
/// the data, then the member's own size). The LZMA stream has no length, so
/// a member's end is found where a trailer's member size equals its
/// distance from the member's start (a coincidence of 64 bits), with a data
/// size LZMA can make of it; members follow one another (lzip -b, plzip).
/// The CRC-32 is of decoded data, not checked: `Unverified`. A first member
/// with no trailer before the carve limit is not claimed: its end cannot be
/// known.
pub struct Lzip;

/// Bytes of the image looked at per read while searching for a trailer.
const WINDOW: u64 = 64 << 10;
/// LZMA's largest expansion of one stored byte, with room.
const MAX_RATIO: u64 = 8000;

/// Whether a member header starts at `at`.
fn header(r: &mut Reader<'_>, at: u64) -> bool {
    match r.get(at, 6) {
        Some(h) => &h[..4] == b"LZIP" && h[4] == 1 && (12..=29).contains(&(h[5] & 0x1F)),
        None => false,
    }
}

/// Where the member starting at `at` ends: the first trailer whose member
/// size is its distance from `at`.
fn member_end(r: &mut Reader<'_>, at: u64) -> Option<u64> {
    // The member-size field's offset: after the header (6), one LZMA byte
    // at least, and the trailer's first 12 bytes.
    let mut q = at + 6 + 1 + 12;
    let limit = r.limit();
    while q + 8 <= limit {
        let n = WINDOW.min(limit - q);
        let b = r.get(q, n as usize)?.to_vec();
        for k in 0..b.len().saturating_sub(7) {
            let field = u64::from_le_bytes(b[k..k + 8].try_into().ok()?);
            let end = q + k as u64 + 8;
            if field == end - at {
                let data = r.get(end - 16, 8)?;
                let data = u64::from_le_bytes(data.try_into().ok()?);
                if data <= field.saturating_mul(MAX_RATIO) {
                    return Some(end);
                }
            }
        }
        q += n.saturating_sub(7).max(1);
    }
    None
}

impl Carver for Lzip {
    fn name(&self) -> &'static str {
        "lzip"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "lz"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"LZIP\x01"]
    }
    fn min_size(&self) -> u64 {
        36
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        if !header(r, 0) {
            return Verdict::Reject;
        }
        let mut at = 0u64;
        let mut members = 0u32;
        while header(r, at) {
            match member_end(r, at) {
                Some(end) => {
                    members += 1;
                    at = end;
                }
                // No end to be found: not claimed (a cut file has none).
                None if members == 0 => return Verdict::Reject,
                None => return partial(at, "a later member has no trailer"),
            }
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}
