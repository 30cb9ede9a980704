//! TAR validator (POSIX ustar and GNU archives).

use crate::{partial, Carver, Reader, Verdict};

/// TAR: every 512-byte header's checksum, its size (octal or GNU base-256)
/// placing the next header, to the two zero blocks that end the archive, and
/// the zeros tar pads the archive with to its 10 KiB record when they are
/// there. A header that fails its checksum where one is due makes the archive
/// partial after the last whole member: a gap inside a member's data puts
/// foreign bytes where the next header is due. The members' data is not
/// checked.
pub struct Tar;

const BLOCK: u64 = 512;
/// tar's default record: 20 blocks, to which the archive is padded.
const RECORD: u64 = 20 * BLOCK;

/// An octal field (spaces or NULs around it), or GNU's base-256 form.
fn number(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256, big-endian, the top bit of the first byte a flag.
        // At most the last 8 bytes hold the value (a field of 8, such as the
        // checksum's, holds 7 after its flag byte).
        let tail = f.len().saturating_sub(8).max(1);
        if f[0] != 0x80 || f[1..tail].iter().any(|&b| b != 0) {
            return None;
        }
        return Some(f[tail..].iter().fold(0, |v, &b| v << 8 | u64::from(b)));
    }
    let s = f
        .iter()
        .skip_while(|&&b| b == b' ')
        .take_while(|&&b| b != 0 && b != b' ');
    let mut v = 0u64;
    let mut any = false;
    for &b in s {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        v = v.checked_mul(8)? + u64::from(b - b'0');
        any = true;
    }
    any.then_some(v)
}

/// Whether a header's stored checksum is the sum of its bytes with the
/// checksum field read as spaces (unsigned, as POSIX says; old tars summed
/// signed bytes, accepted too).
fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = number(&h[148..156]) else {
        return false;
    };
    let field = |i: usize, b: u8| if (148..156).contains(&i) { b' ' } else { b };
    let unsigned: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| u64::from(field(i, b)))
        .sum();
    let signed: i64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| i64::from(field(i, b) as i8))
        .sum();
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

impl Carver for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "tar"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"ustar\x0000", b"ustar  \x00"]
    }
    fn header_offset(&self) -> u64 {
        257
    }
    fn min_size(&self) -> u64 {
        3 * BLOCK
    }
    fn max_size(&self) -> u64 {
        1 << 34
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut at = 0u64;
        loop {
            let Some(h) = r.get(at, BLOCK as usize) else {
                return if at == 0 {
                    Verdict::Reject
                } else {
                    partial(at, "archive cut off before its end blocks")
                };
            };
            if h.iter().all(|&b| b == 0) {
                // End of archive: a second zero block, then the record's padding.
                if at == 0
                    || !r
                        .get(at + BLOCK, BLOCK as usize)
                        .is_some_and(|b| b.iter().all(|&x| x == 0))
                {
                    return partial(at, "end of archive without its second zero block");
                }
                let mut end = at + 2 * BLOCK;
                let padded = end.next_multiple_of(RECORD);
                if padded > end
                    && r.get(end, (padded - end) as usize)
                        .is_some_and(|b| b.iter().all(|&x| x == 0))
                {
                    end = padded;
                }
                return Verdict::Complete {
                    len: end,
                    subtype: None,
                };
            }
            if !checksum_ok(h) {
                return if at == 0 {
                    Verdict::Reject
                } else {
                    partial(at, "a member header fails its checksum")
                };
            }
            let Some(size) = number(&h[124..136]) else {
                return if at == 0 {
                    Verdict::Reject
                } else {
                    partial(at, "a member size is not a number")
                };
            };
            // Links, folders and devices have no data whatever the size says.
            let data = if matches!(h[156], b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
                0
            } else {
                size
            };
            let Some(next) = data
                .checked_add(BLOCK - 1)
                .map(|d| d / BLOCK * BLOCK)
                .and_then(|d| at.checked_add(BLOCK + d))
            else {
                return partial(at, "a member size past any archive");
            };
            at = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_octal_or_base_256() {
        assert_eq!(number(b"00000001750\0"), Some(1000));
        assert_eq!(number(b"     1750 \0\0"), Some(1000));
        assert_eq!(number(b"0000000175x\0"), None);
        let mut big = [0u8; 12];
        big[0] = 0x80;
        big[11] = 5;
        assert_eq!(number(&big), Some(5));
    }
}
