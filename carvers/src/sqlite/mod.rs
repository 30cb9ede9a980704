//! SQLite validator: the header's page size and page count give the length
//! (trusted only when the "version valid for" counter equals the change
//! counter), and the b-trees are walked (`btree`): every table and index page
//! the schema reaches, their cells and overflow chains, the freelist trunks.
//! A database whose walk fails and that no gap explains is partial up to the
//! first page that failed.
//!
//! Two fragments: a database cut in two fails the walk at the first walked page
//! past the cut. The cut lies between the last page that checked out and that
//! one; the gap is a sector multiple after which that page checks out again;
//! each such (cut, gap) is walked whole, and exactly one must pass (a cut that
//! could be in several places, all in bytes no structure covers, is not
//! guessed, unless every such place makes the same bytes).

mod btree;

use crate::{Carver, Reader, Splice, Verdict, SECTOR, WHOLE};
use btree::{page_ok, walk, Db, Role, Walk};

pub struct Sqlite;

/// Largest gap between the two fragments that is searched.
const MAX_GAP: u64 = 8 << 20;
/// Sector boundaries that may hold the cut: with more, it is not looked for.
const MAX_CUTS: u64 = 256;
/// Work the gap search may do for one candidate file (the reader's own count
/// of bytes served and requests made: each look at a page start, each page
/// checked, each database walked as far as it walks): a page 1 inside some
/// other structure (a WAL frame, a journal record) costs this at most, and
/// stays well inside the reader's own budget.
const BUDGET: u64 = 96 << 20;

/// Whether the 12 bytes at the start of a page could begin a b-tree page or an
/// overflow page (its next page number within the database).
fn looks_like_page(h: &[u8], pages: u32) -> bool {
    let cells = u16::from_be_bytes([h[3], h[4]]);
    let btree = matches!(h[0], 0x02 | 0x05 | 0x0A | 0x0D) && h[7] <= 60 && cells < 0x4000;
    btree || u32::from_be_bytes([h[0], h[1], h[2], h[3]]) <= pages
}

/// Looks for the one cut and gap that make the whole database walk. The cut
/// lies after the start of the last page that checked out (`below`) and before
/// the end of the first that did not (`bad`): every sector boundary there is
/// tried for each gap, nearest gap first. A (cut, gap) whose first page past the
/// cut looks like a page, and where page `bad` checks out as what it was
/// reached as, is walked whole. When more than one cut walks for the nearest
/// gap that has any, or there are too many boundaries to try them all, no cut
/// is guessed: the bytes between such cuts are ones no structure covers.
fn bifragment(
    r: &mut Reader<'_>,
    db: &Db,
    freelist: u32,
    (bad, role, below): (u32, Role, u32),
) -> Option<Splice> {
    let ps = db.page_size;
    let len = ps * u64::from(db.pages);
    let bad_at = u64::from(bad.saturating_sub(1)) * ps;
    let floor = u64::from(below.saturating_sub(1)) * ps;
    let top = (bad_at + ps).min(len);
    let first = r.sector_from(floor + 1);
    if top <= first || (top - first) / SECTOR >= MAX_CUTS {
        return None;
    }
    let mut cuts: Vec<u64> = (first..top).step_by(SECTOR as usize).collect();
    cuts.reverse();
    // What the walks cost is what they read: a wrong (cut, gap) usually fails
    // a few pages in, not after reading the whole database.
    let before = r.work();
    let mut g = SECTOR;
    while g <= MAX_GAP && bad_at + g + 12 <= r.limit() {
        // Another database starting `g` on: this layout would read its pages
        // as ours, page for page, and databases a program made alike (one
        // schema, rowids from 1) pass every check page by page. A cut-short
        // database then came back "complete" with another one's tail.
        if r.get(g, 16) == Some(b"SQLite format 3\0") {
            g += SECTOR;
            continue;
        }
        let mut found = None;
        for &s in &cuts {
            // The first page that starts at or after the cut must look like one
            // where the gap puts it.
            if r.work() - before > BUDGET {
                return None;
            }
            let p0 = s.div_ceil(ps) * ps;
            if p0 < len
                && !r
                    .get(p0 + g, 12)
                    .is_some_and(|h| looks_like_page(h, db.pages))
            {
                continue;
            }
            let sp = Splice {
                split: s,
                gap: g,
                ..WHOLE
            };
            if !page_ok(r, sp, db, bad, role) {
                continue;
            }
            // The walk reaches only the pages the b-trees name: the last
            // page, where this layout puts it, must be there too.
            if r.get(sp.at(len - 1), 1).is_none() {
                continue;
            }
            if let Walk::Ok { .. } = walk(r, sp, db, freelist, true) {
                match found {
                    None => found = Some(sp),
                    // Two cuts that make the same bytes (what lies between
                    // them is the same before the gap and after it: zeros in
                    // a page's free space and zeros filler) are one file.
                    Some(f) if same_file(r, f, sp) => {}
                    Some(_) => return None,
                }
            }
        }
        if found.is_some() {
            return found;
        }
        g += SECTOR;
    }
    None
}

/// Whether two splices of one gap make the same file: the bytes between
/// their cuts are the same where one takes them (before the gap) and where
/// the other does (after it).
fn same_file(r: &mut Reader<'_>, a: Splice, b: Splice) -> bool {
    let (lo, hi) = (a.split.min(b.split), a.split.max(b.split));
    let n = (hi - lo) as usize;
    let Some(before) = r.get(lo, n).map(<[u8]>::to_vec) else {
        return false;
    };
    a.gap == b.gap
        && r.get(lo + a.gap, n)
            .is_some_and(|after| after == before.as_slice())
}

impl Carver for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "sqlite"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"SQLite format 3\0"]
    }
    fn min_size(&self) -> u64 {
        512
    }
    fn max_size(&self) -> u64 {
        4 << 30
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let (Some(ps), Some(reserved), Some(change), Some(pages), Some(trunk), Some(valid_for)) = (
            r.be16(16),
            r.u8(20),
            r.be32(24),
            r.be32(28),
            r.be32(32),
            r.be32(92),
        ) else {
            return Verdict::Reject;
        };
        let Some(btree) = r.u8(100) else {
            return Verdict::Reject;
        };
        let ps = if ps == 1 { 65536 } else { u64::from(ps) };
        if !(512..=65536).contains(&ps) || !ps.is_power_of_two() || !matches!(btree, 0x05 | 0x0D) {
            return Verdict::Reject;
        }
        if pages == 0 || change != valid_for {
            return crate::partial(ps, "database size not recorded in the header");
        }
        let len = ps * u64::from(pages);
        if len > r.limit() {
            return crate::partial(r.limit(), "cut off before its last page");
        }
        let usable = ps - u64::from(reserved);
        if usable < 480 {
            return Verdict::Reject;
        }
        let db = Db {
            page_size: ps,
            usable,
            pages,
        };
        match walk(r, WHOLE, &db, trunk, false) {
            // Complete when the last page is one the walk checked: a database
            // in pieces carved as one fails at the first walked page past a
            // cut, and every page past any cut includes the last.
            Walk::Ok { last } => Verdict::whole(len, None, last),
            Walk::Bad { page, role, below } => match bifragment(r, &db, trunk, (page, role, below))
            {
                Some(sp) => Verdict::Fragmented {
                    fragments: sp.fragments(len),
                    subtype: None,
                },
                None => Verdict::Partial {
                    len: (u64::from(page.saturating_sub(1)) * ps).max(100),
                    why: format!("page {page} does not check out where the b-tree reaches it"),
                    subtype: None,
                },
            },
        }
    }
}
