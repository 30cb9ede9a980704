//! SQLite rollback journal validator (`-journal`): the pages a transaction was
//! about to change, as they were before it. A journal left behind by a crash or
//! a copied-out live database holds older versions of records.

use crate::{partial, Carver, Reader, Verdict};

/// A rollback journal: segments, each a header padded to the sector size (the
/// magic, a record count, the checksum nonce, the database's size in pages, the
/// sector size and the page size, both powers of two) followed by page records
/// (a page number within the database's size, the page, a checksum: the nonce
/// plus every 200th byte of the page back from its end, so each 512-byte sector
/// of a page is sampled). Later segments start at the next sector boundary;
/// SQLite writes their magic (and a count) only when it syncs them, so a
/// segment with a zero magic and count is read too, its records taken while they
/// check. Every record checked and every stated count met: `Complete`; a
/// journal whose end is where its records stop checking (a count of zero):
/// `Unverified`; a stated count not met: partial after the last good record.
pub struct SqliteJournal;

const MAGIC: &[u8] = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7";

impl Carver for SqliteJournal {
    fn name(&self) -> &'static str {
        "sqlite-journal"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "db-journal"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[MAGIC]
    }
    fn min_size(&self) -> u64 {
        512 + 4 + 512 + 4
    }
    fn max_size(&self) -> u64 {
        1 << 36
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(h) = r.get(0, 28).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let be32 = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
        let (sector, page) = (be32(20), be32(24));
        let pow = |x: u64| x.is_power_of_two() && (512..=65536).contains(&x);
        if !pow(sector) || !pow(page) || be32(16) == 0 {
            return Verdict::Reject;
        }
        let record = page + 8;
        let mut at = 0u64;
        let mut end = 0u64;
        let mut counted = true;
        let mut segments = 0u32;
        while let Some(s) = r.get(at, 28).map(<[u8]>::to_vec) {
            let f = |i: usize| u64::from(u32::from_be_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]));
            let (n, nonce, pages) = (f(8), f(12) as u32, f(16));
            let synced = &s[..8] == MAGIC;
            let unsynced = s[..8].iter().all(|&b| b == 0) && n == 0;
            if segments > 0
                && (!(synced || unsynced) || f(20) != sector || f(24) != page || pages == 0)
            {
                break;
            }
            segments += 1;
            // A count of 0xFFFFFFFF (no-sync mode) or 0 (not yet synced): the
            // records are taken while they check.
            let stated = (n != 0 && n != 0xFFFF_FFFF).then_some(n);
            let mut rec = at + sector;
            let mut k = 0u64;
            while stated.is_none_or(|n| k < n) {
                match checks(r, rec, page, nonce, pages) {
                    Some(true) => {}
                    _ if stated.is_some() => {
                        return if rec > sector {
                            partial(rec, "a journal record fails its checksum")
                        } else {
                            Verdict::Reject
                        };
                    }
                    _ => break,
                }
                rec += record;
                k += 1;
                if !r.spend(64) {
                    return partial(rec, "too many records");
                }
            }
            if k == 0 && segments == 1 {
                return Verdict::Reject;
            }
            counted &= stated.is_some();
            end = rec;
            at = rec.div_ceil(sector) * sector;
        }
        Verdict::whole(end, None, counted)
    }
}

/// Whether the record at `at` has a page number within `pages` and its checksum.
fn checks(r: &mut Reader<'_>, at: u64, page: u64, nonce: u32, pages: u64) -> Option<bool> {
    let b = r.get(at, page as usize + 8)?;
    let pgno = u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if pgno == 0 || pgno > pages {
        return Some(false);
    }
    let data = &b[4..4 + page as usize];
    let mut sum = nonce;
    let mut i = page as usize - 200;
    while i > 0 {
        sum = sum.wrapping_add(u32::from(data[i]));
        i = i.saturating_sub(200);
    }
    let want = u32::from_be_bytes([
        b[4 + page as usize],
        b[5 + page as usize],
        b[6 + page as usize],
        b[7 + page as usize],
    ]);
    Some(sum == want)
}
