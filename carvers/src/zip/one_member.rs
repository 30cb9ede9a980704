//! Both cuts of a three-fragment ZIP in one member: the members before it
//! are where the directory says, those after it lie the whole `shift` on, so
//! only that member's data has two unknown cuts and a first gap to place.
//!
//! - A stored member: placed by its CRC-32 alone, over every (first cut,
//!   first gap, second cut) (`crate::crc_layout`). One layout must match,
//!   not two.
//! - A deflated member kept in stored blocks (incompressible data): the
//!   same, over its bytes but the blocks' 5-byte headers.
//! - A deflated member: the stream decoded as it lies fails a little after the
//!   first cut, which bounds it to a few sectors; decoded again across each of
//!   those with each first gap, it fails a little after the second cut when
//!   the gap is right, which bounds that one; every layout so found is checked
//!   whole (inflated to its exact end, CRC-32 and size).

use super::fragments::boundaries;
use super::*;
use crate::crc_layout::three_pieces;

/// How far before the point where a stream stops decoding its cut is looked
/// for: garbage decodes for a while before an invalid code.
const LAG: u64 = 4096;
/// A stored member longer than this is not searched (prefix tables grow with it).
const MAX_STORED: u64 = 16 << 20;

/// The member's local header as it lies: where its data starts.
fn data_start(r: &mut Reader<'_>, e: &Entry) -> Option<u64> {
    let nl = r.le16(e.local + 26)?;
    let xl = r.le16(e.local + 28)?;
    e.local.checked_add(30 + u64::from(nl) + u64::from(xl))
}

/// Looks for two cuts inside entry `entries[0]` whose data ends before the
/// next header (found `shift` on): the layouts its CRC accepts, checked with
/// every member from it on.
pub(super) fn both_cuts(
    r: &mut Reader<'_>,
    entries: &[Entry],
    shift: u64,
    spent: &mut u64,
) -> Option<Splice> {
    let e = entries.first()?;
    let data = data_start(r, e)?;
    let end = data.checked_add(e.csize)?;
    let check = |r: &mut Reader<'_>, sp: Splice, spent: &mut u64| {
        *spent <= BUDGET && members(r, sp, entries, spent).is_ok()
    };
    // The bytes the CRC covers as they are stored: a stored member's, or
    // those of a deflate stream of stored blocks (incompressible data that
    // `deflate` kept as it was) but for the blocks' headers.
    let skips = match e.method {
        0 if e.csize == e.usize && e.csize <= MAX_STORED => Vec::new(),
        8 if e.csize <= MAX_STORED => match stored_blocks(r, data, end, shift) {
            Some(heads) => heads,
            None => return deflated(r, data, end, shift, spent, &check),
        },
        8 => return deflated(r, data, end, shift, spent, &check),
        _ => return None,
    };
    let (s1, g1, s2) = three_pieces(r, e.crc, (data, end), &skips, shift, spent)?;
    let sp = Splice {
        split: s1,
        gap: g1,
        ..WHOLE
    }
    .then(s2, shift - g1)?;
    check(r, sp, spent).then_some(sp)
}

/// The 5-byte block headers of a deflate stream at `[data, end)` made of
/// stored blocks only (incompressible data that `deflate` kept as it was):
/// garbage in a stored block decodes without an error, so where decoding
/// stops tells nothing, and the member's bytes are the stream's but for these.
fn stored_blocks(r: &mut Reader<'_>, data: u64, end: u64, shift: u64) -> Option<Vec<u64>> {
    let header = |r: &mut Reader<'_>, at: u64| -> Option<(u8, u16)> {
        let h = r.get(at, 5)?;
        let len = u16::from_le_bytes([h[1], h[2]]);
        (h[0] & 6 == 0 && len == !u16::from_le_bytes([h[3], h[4]])).then_some((h[0], len))
    };
    let mut at = data;
    let mut heads = Vec::new();
    // 64 KiB a block: a member up to `MAX_STORED`.
    while heads.len() <= (MAX_STORED >> 16) as usize {
        // Where it lies, or after both cuts (a header between them, where
        // the unknown first gap puts it, is not looked for).
        let (b0, len) = header(r, at).or_else(|| header(r, at + shift))?;
        heads.push(at);
        at += 5 + u64::from(len);
        if b0 & 1 == 1 {
            return (at == end).then_some(heads);
        }
    }
    None
}

/// Output bytes decoded before a byte value never seen yet is taken for
/// foreign data: text settles its alphabet within this much.
const WARM: u64 = 512;

/// Where decoding the member's data stops making sense, as it lies under
/// `sp` (an input offset), or None when it decodes to its end. Garbage in a
/// block of dynamic Huffman codes often decodes without an error for long,
/// so a member whose output has kept to a few byte values (text) is also
/// stopped at the first byte outside them.
fn stops(r: &mut Reader<'_>, sp: Splice, data: u64, end: u64, spent: &mut u64) -> Option<u64> {
    let mut seen = [false; 256];
    let mut kinds = 0usize;
    let mut total = 0u64;
    let run = inflate::inflate_in_steps(
        r,
        |r, at, n| sp.read(r, at, n),
        data,
        end,
        false,
        SECTOR as usize,
        |b| {
            for &x in b {
                if !seen[x as usize] {
                    // Binary data soon uses most values: no sign there.
                    if total >= WARM && kinds < 128 {
                        return false;
                    }
                    seen[x as usize] = true;
                    kinds += 1;
                }
                total += 1;
            }
            true
        },
    );
    *spent += (run.at - data) + run.total;
    // A final block met early is garbage too.
    (run.end != inflate::End::Done || run.at != end).then_some(run.at)
}

/// A deflated member: the first cut from where it stops decoding as it lies,
/// the first gap and second cut from where it stops across each candidate.
fn deflated(
    r: &mut Reader<'_>,
    data: u64,
    end: u64,
    shift: u64,
    spent: &mut u64,
    check: &dyn Fn(&mut Reader<'_>, Splice, &mut u64) -> bool,
) -> Option<Splice> {
    // A stop is reported at the start of the step (a sector of input) that
    // made it: the cut lies before that step's end.
    let f1 = stops(r, WHOLE, data, end, spent)? + SECTOR;
    let firsts: Vec<u64> =
        boundaries(r, f1.saturating_sub(LAG).max(data), f1.min(end - 1)).collect();
    for &s1 in firsts.iter().rev() {
        for g1 in (1..shift / SECTOR).map(|k| k * SECTOR) {
            if *spent > BUDGET {
                return None;
            }
            let one = Splice {
                split: s1,
                gap: g1,
                ..WHOLE
            };
            // Right: it decodes at least the one sector of the middle piece.
            let Some(f2) = stops(r, one, data, end, spent).map(|f| f + SECTOR) else {
                continue;
            };
            if f2 < s1 + SECTOR {
                continue;
            }
            let lo = f2.saturating_sub(LAG).max(s1);
            let seconds: Vec<u64> = boundaries(r, lo, f2.min(end - 1)).collect();
            for &s2 in seconds.iter().rev() {
                if let Some(sp) = one.then(s2, shift - g1) {
                    if check(r, sp, spent) {
                        return Some(sp);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crc_layout::crc;
    use crate::crc_layout::tests::{laid_out, noise};
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    #[test]
    fn stored_deflate_blocks_are_checksummed_without_their_headers() {
        // Two stored blocks (the second final), as zlib writes random data.
        let (p1, p2) = (noise(5000, 5), noise(3000, 9));
        let mut stream = Vec::new();
        for (p, last) in [(&p1, 0u8), (&p2, 1u8)] {
            let n = p.len() as u16;
            stream.push(last);
            stream.extend(n.to_le_bytes());
            stream.extend((!n).to_le_bytes());
            stream.extend_from_slice(p);
        }
        let mut file = vec![0x50u8; 36];
        file.extend_from_slice(&stream);
        let end = file.len() as u64;
        // Both cuts in the first block: the second block's header lies after
        // both gaps.
        let (s1, s2, g1, g2) = (1024, 4608, 512, 2560);
        let src = Sectored::new(MemDevice::new(laid_out(&file, s1, s2, g1, g2)));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, 1 << 20);
        let heads = stored_blocks(&mut r, 36, end, (g1 + g2) as u64).expect("stored blocks");
        assert_eq!(heads, vec![36, 36 + 5 + 5000]);
        let mut whole = p1.clone();
        whole.extend_from_slice(&p2);
        let mut spent = 0;
        assert_eq!(
            three_pieces(
                &mut r,
                crc(&whole),
                (36, end),
                &heads,
                (g1 + g2) as u64,
                &mut spent
            ),
            Some((s1 as u64, g1 as u64, s2 as u64))
        );
    }
}
