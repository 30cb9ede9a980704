//! Windows registry hive (regf) validator: SYSTEM, SOFTWARE, SAM, NTUSER.DAT,
//! UsrClass.dat, Amcache.hve — where Windows keeps its configuration and each
//! user's traces. Layout as documented by libyal's "Windows NT Registry File
//! (REGF) format" and the hivex sources: a 4 KiB base block, then hive bins.

use crate::{partial, Carver, Reader, Verdict};

/// regf: the base block (signature, version 1.2–1.6, a primary file, format 1,
/// clustering 1, a hive-bins size in whole 4 KiB pages, the root cell inside
/// it, and the XOR checksum of its first 508 bytes), then every hive bin in
/// order to that size: its signature, its own offset, a size in whole pages,
/// and cells that tile it exactly. Nothing checksums the cells' bytes, so a
/// whole hive is `carved-unverified-contiguous`; a bin that does not check is
/// where a `Partial` hive ends.
pub struct Regf;

const BASE: u64 = 4096;
const PAGE: u64 = 4096;

/// The base block's checksum: the XOR of its first 127 little-endian words,
/// with 0xFFFFFFFF written as 0xFFFFFFFE and 0 as 1.
fn checksum(b: &[u8]) -> u32 {
    let x = b[..508].chunks_exact(4).fold(0u32, |x, w| {
        x ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]])
    });
    match x {
        0xFFFF_FFFF => 0xFFFF_FFFE,
        0 => 1,
        x => x,
    }
}

/// Whether the bin at `at` (image offset from the hive's start) is one: its
/// header, and cells (a signed 32-bit size each, negative when in use, a
/// multiple of 8) that end exactly at its end. None: cut off.
fn bin_checks(r: &mut Reader<'_>, at: u64, hive_end: u64) -> Option<Option<u64>> {
    let h = r.get(at, 32)?.to_vec();
    let le32 = |i: usize| u64::from(u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let size = le32(8);
    if &h[..4] != b"hbin"
        || le32(4) != at - BASE
        || size == 0
        || size % PAGE != 0
        || at + size > hive_end
    {
        return Some(None);
    }
    // Cell by cell (4 bytes each, from the reader's window): a bin may be
    // large, and nothing is read into memory at the size it claims.
    let mut i = 32u64;
    while i < size {
        let w = r.get(at + i, 4)?;
        let n = u64::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]]).unsigned_abs());
        if n < 8 || n % 8 != 0 {
            return Some(None);
        }
        i += n;
    }
    Some((i == size).then_some(size))
}

impl Carver for Regf {
    fn name(&self) -> &'static str {
        "regf"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "hive"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"regf"]
    }
    fn min_size(&self) -> u64 {
        BASE + PAGE
    }
    fn max_size(&self) -> u64 {
        // The hive-bins size is 32 bits.
        BASE + u64::from(u32::MAX)
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(b) = r.get(0, 512).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let le32 = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let data = u64::from(le32(40));
        if le32(20) != 1
            || !(2..=6).contains(&le32(24))
            || le32(28) != 0
            || le32(32) != 1
            || le32(44) != 1
            || data == 0
            || data % PAGE != 0
            || u64::from(le32(36)) >= data
            || checksum(&b) != le32(508)
        {
            return Verdict::Reject;
        }
        let end = BASE + data;
        let mut at = BASE;
        while at < end {
            match bin_checks(r, at, end) {
                Some(Some(size)) => at += size,
                None => return partial(at, "the hive is cut off in a bin"),
                Some(None) => return partial(at, "a bin of the hive does not check"),
            }
        }
        Verdict::Unverified {
            len: end,
            subtype: None,
        }
    }
}
