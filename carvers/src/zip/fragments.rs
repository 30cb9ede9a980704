//! Gap carving for ZIP: where the foreign data sits in a file whose directory
//! lies further on than its end record says.

use super::*;

/// Sector boundaries in `(lo, hi]` (offsets from the candidate's start).
pub(super) fn boundaries(
    r: &Reader<'_>,
    lo: u64,
    hi: u64,
) -> std::iter::StepBy<std::ops::RangeInclusive<u64>> {
    (r.sector_from(lo + 1)..=hi).step_by(SECTOR as usize)
}

/// The entries of a directory that lies `shift` bytes after where the end
/// record says (`[cd_off, cd_end)` then), sorted by their local headers; None
/// unless it parses with the record's entry count.
fn moved_directory(
    r: &mut Reader<'_>,
    shift: u64,
    cd_off: u64,
    cd_end: u64,
    count: u16,
) -> Option<Vec<Entry>> {
    let probe = Splice {
        split: cd_off,
        gap: shift,
        ..WHOLE
    };
    let mut entries = central(r, probe, cd_off, cd_end).ok()?;
    if entries.len() != usize::from(count) {
        return None;
    }
    entries.sort_by_key(|e| e.local);
    Some(entries)
}

/// Looks for the split of a file whose directory lies `gap` bytes after where the end
/// record says.
pub(super) fn bifragment(
    r: &mut Reader<'_>,
    gap: u64,
    cd_off: u64,
    cd_end: u64,
    count: u16,
) -> Option<(Splice, Vec<Entry>)> {
    let mut spent = 0u64;
    if r.le32(cd_off + gap) == Some(CENTRAL) {
        // The split lies before the directory: in the member whose local header is
        // the last one found unshifted.
        let entries = moved_directory(r, gap, cd_off, cd_end, count)?;
        let k = entries
            .iter()
            .position(|e| r.le32(e.local) != Some(LOCAL))
            .unwrap_or(entries.len());
        let lo = entries.get(k.checked_sub(1)?)?.local;
        let hi = entries.get(k).map_or(cd_off, |e| e.local);
        for s in boundaries(r, lo, hi) {
            if spent > BUDGET {
                return None;
            }
            let sp = Splice {
                split: s,
                gap,
                ..WHOLE
            };
            if members(r, sp, &entries[k.saturating_sub(1)..], &mut spent).is_ok() {
                return Some((sp, entries));
            }
        }
    } else if r.le32(cd_off) == Some(CENTRAL) {
        // The split lies inside the directory.
        for s in boundaries(r, cd_off, cd_end) {
            let sp = Splice {
                split: s,
                gap,
                ..WHOLE
            };
            if let Ok(entries) = central(r, sp, cd_off, cd_end) {
                if entries.len() == usize::from(count) {
                    return Some((sp, entries));
                }
            }
        }
    }
    None
}

/// Whether entry `e`'s local header lies `shift` bytes after where the directory
/// says: the directory's name for it and, unless a data descriptor follows the
/// data (flag bit 3), its CRC-32 and compressed size (other archives in the gap
/// hold members of the same name: every OOXML file has a `word/document.xml`).
fn header_at(r: &mut Reader<'_>, e: &Entry, shift: u64) -> bool {
    let Some(at) = e.local.checked_add(shift) else {
        return false;
    };
    if r.le32(at) != Some(LOCAL)
        || r.le16(at + 26) != u16::try_from(e.name.len()).ok()
        || r.get(at + 30, e.name.len()) != Some(&e.name[..])
    {
        return false;
    }
    let Some(flags) = r.le16(at + 6) else {
        return false;
    };
    flags & 8 != 0
        || (r.le32(at + 14) == Some(e.crc) && r.le32(at + 18).map(u64::from) == Some(e.csize))
}

/// Looks for the two cuts of a file whose directory lies `shift` bytes after where
/// the end record says, both cuts before the directory and in different members.
/// The first member whose local header is not where the directory says is looked
/// for a sector multiple further on, short of the whole shift (its name must
/// match): that is the first gap. The members after it lie that far on until
/// the second cut and `shift` on after it, which bounds the second cut to one
/// member. Each cut's sector is the one the CRC of the member it falls in picks.
pub(super) fn trifragment(
    r: &mut Reader<'_>,
    shift: u64,
    cd_off: u64,
    cd_end: u64,
    count: u16,
) -> Option<(Splice, Vec<Entry>)> {
    if r.le32(cd_off.checked_add(shift)?) != Some(CENTRAL) {
        return None;
    }
    let entries = moved_directory(r, shift, cd_off, cd_end, count)?;
    let k1 = entries
        .iter()
        .position(|e| !header_at(r, e, 0))
        .unwrap_or(entries.len());
    let before = k1.checked_sub(1)?;
    let mut spent = 0u64;
    if entries[k1..].iter().all(|e| header_at(r, e, shift)) {
        // Every header is where the directory says or the whole shift on:
        // both cuts fall in the member before the first moved one.
        let sp = super::one_member::both_cuts(r, &entries[before..], shift, &mut spent)?;
        return Some((sp, entries));
    }
    // The first cut may fall inside entry `k1`'s own header, which is then found
    // nowhere: the next entry's tells the gap.
    for probe in [k1, k1 + 1] {
        let Some(moved) = entries.get(probe) else {
            break;
        };
        // Each place the moved header is found, nearest first: the first gap.
        let mut g1 = 0;
        while let Some(g) = ((g1 / SECTOR + 1)..shift / SECTOR)
            .map(|k| k * SECTOR)
            .find(|&g| header_at(r, moved, g))
        {
            g1 = g;
            if spent > BUDGET {
                return None;
            }
            let at = Found {
                before,
                probe,
                g1,
                shift,
                cd_off,
            };
            if let Some(sp) = cuts(r, &entries, &at, &mut spent) {
                return Some((sp, entries));
            }
        }
    }
    None
}

/// A first gap found: entry `probe`'s header lies `g1` on, the first cut is
/// after entry `before`'s header; everything lies `shift` on after the second.
struct Found {
    before: usize,
    probe: usize,
    g1: u64,
    shift: u64,
    cd_off: u64,
}

/// The two cuts, given the first gap: the first between the headers of entries
/// `before` and `probe`; the second after the last header found `g1` on and
/// before the first found `shift` on (a header the cut falls in is found at
/// neither); each placed where the members around it match their CRCs.
fn cuts(r: &mut Reader<'_>, entries: &[Entry], at: &Found, spent: &mut u64) -> Option<Splice> {
    let k2 = entries[at.probe..]
        .iter()
        .position(|e| !header_at(r, e, at.g1))
        .map_or(entries.len(), |i| at.probe + i);
    let k3 = entries[k2..]
        .iter()
        .position(|e| header_at(r, e, at.shift))
        .map_or(entries.len(), |i| k2 + i);
    if k3 > k2 + 1 || !entries[k3..].iter().all(|e| header_at(r, e, at.shift)) {
        return None;
    }
    let (lo, hi) = (entries[at.before].local, entries[at.probe].local);
    let first = boundaries(r, lo, hi).find(|&s| {
        let sp = Splice {
            split: s,
            gap: at.g1,
            ..WHOLE
        };
        *spent <= BUDGET && members(r, sp, &entries[at.before..at.probe], spent).is_ok()
    })?;
    let sp = Splice {
        split: first,
        gap: at.g1,
        ..WHOLE
    };
    let lo = entries[k2 - 1].local;
    let hi = entries.get(k3).map_or(at.cd_off, |e| e.local);
    for s in boundaries(r, lo, hi) {
        if *spent > BUDGET {
            return None;
        }
        let two = sp.then(s, at.shift - at.g1)?;
        if members(r, two, &entries[k2 - 1..], spent).is_ok() {
            return Some(two);
        }
    }
    None
}
