//! A PDF in two fragments. The cross-reference gives every object's offset,
//! so a file cut in two shows where: the section `startxref` names is found a
//! sector multiple further on (the gap), the objects before the cut are where
//! their offsets say and those after it are the gap further. The cut lies
//! after the last object found in place and at or before the first found
//! shifted; each sector boundary there is tried, checking the objects between
//! (a FlateDecode stream inflates to its Adler-32 only when it is whole), and
//! exactly one must pass: a cut that could lie at several boundaries, all in
//! bytes no check covers (an image's raw or JPEG stream), is not guessed.
//!
//! Three fragments: the objects are then in three sets, in place, the whole
//! gap further (with the last section) and, between them, some objects at
//! neither place. Those must all be one shorter gap further (exactly one such
//! gap, a sector multiple), and each of the two cuts is then looked for as the
//! one cut is, between the sets it separates.

use super::lex::Cur;
use super::verify;
use super::xref::{read, Xref};
use crate::{Reader, Splice, SECTOR, WHOLE};

/// Largest gap between the two fragments that is searched.
pub(super) const MAX_GAP: u64 = 8 << 20;
/// Sector boundaries that may hold the cut: with more, it is not looked for.
const MAX_CUTS: u64 = 256;
/// Gaps tried for one end of file (places where a section seems to start).
const MAX_TRIES: usize = 8;
/// Work the search may cost one candidate, beyond what its first check cost.
const BUDGET: u64 = 96 << 20;

/// The layout of a file whose contiguous reading put its `%%EOF` at `eof` and
/// its end at `end` (offsets from the candidate's start), `startxref` naming
/// logical offset `x`, and `y` the first section that is not where it should
/// be (`x`, or in a linearized file the main one `/Prev` names): the splice
/// and the file's logical length.
pub(super) fn bifragment(
    r: &mut Reader<'_>,
    (x, y): (u64, u64),
    eof: u64,
    end: u64,
) -> Option<(Splice, u64)> {
    let base = r.work();
    let mut tries = 0;
    let mut g = SECTOR;
    while g <= MAX_GAP && y + g < eof && tries < MAX_TRIES {
        if r.work() - base > BUDGET {
            return None;
        }
        let here = r.get(y + g, 24).is_some_and(super::starts_update);
        if here {
            tries += 1;
            if let Some(found) = with_gap(r, (x, y), g, eof - g, end - g, base) {
                return found;
            }
        }
        g += SECTOR;
    }
    inside_section(r, (x, y), eof, end, base)
}

/// Where the keyword that ends the section at logical `y` lies when its head
/// is where it should be: `trailer` after a table's rows (one subsection, rows
/// of 20 bytes each), `endstream` after an xref stream's data (its `/Length`,
/// then an end of line of up to two bytes).
fn section_end(r: &mut Reader<'_>, y: u64, end: u64) -> Option<(Vec<u64>, &'static [u8])> {
    let mut cur = Cur::new(r, WHOLE, end);
    cur.pos = y;
    if cur.eat(b"xref") {
        cur.ws();
        cur.uint()?;
        cur.ws();
        let n = cur.uint()?;
        cur.ws();
        return Some((vec![cur.pos.checked_add(n.checked_mul(20)?)?], b"trailer"));
    }
    cur.uint()?;
    cur.ws();
    cur.uint()?;
    cur.ws();
    if !cur.eat(b"obj") {
        return None;
    }
    let super::lex::Val::Dict(d) = cur.value()? else {
        return None;
    };
    let len = d.int(b"Length")?;
    cur.ws();
    if !cur.eat(b"stream") || !(cur.eat(b"\r\n") || cur.eat(b"\n")) {
        return None;
    }
    let data_end = cur.pos.checked_add(len)?;
    Some(((0..=2).map(|k| data_end + k).collect(), b"endstream"))
}

/// A cut inside the section at `y` itself, the last in the file (the one
/// `startxref` follows): its head is in place and gives where the keyword
/// ending it lies in the file (`section_end`); the last such keyword before
/// the `%%EOF` in the image gives the gap. Each sector boundary between the
/// head and that keyword is tried (a table's rows, or an xref stream's
/// Adler-32, tell them apart), and exactly one must pass.
fn inside_section(
    r: &mut Reader<'_>,
    (x, y): (u64, u64),
    eof: u64,
    end: u64,
    base: u64,
) -> Option<(Splice, u64)> {
    let (ends, key) = section_end(r, y, end)?;
    let mut at = r.find_before(eof.saturating_sub(64 << 10).max(y), eof, key)?;
    while let Some(later) = r.find_before(at + 1, eof, key) {
        at = later;
    }
    let (a, g) = ends
        .into_iter()
        .filter(|&a| at > a && (at - a) % SECTOR == 0 && at - a <= MAX_GAP)
        .map(|a| (a, at - a))
        .next()?;
    let first = r.sector_from(y + 1);
    if first > a || (a - first) / SECTOR >= MAX_CUTS {
        return None;
    }
    let (end, eof) = (end - g, eof - g);
    let mut found = None;
    for s in (first..=a).step_by(SECTOR as usize) {
        if r.work() - base > BUDGET {
            return None;
        }
        let sp = Splice {
            split: s,
            gap: g,
            ..WHOLE
        };
        let Ok(xref) = read(r, &[sp], end, x) else {
            continue;
        };
        if verify(r, sp, &xref, end, eof, y..u64::MAX, false).is_ok() {
            if found.is_some() {
                return None;
            }
            found = Some((sp, xref));
        }
    }
    let (sp, xref) = found?;
    verify(r, sp, &xref, end, eof, 0..u64::MAX, false)
        .is_ok()
        .then_some((sp, end))
}

/// The search for one gap `g`. None: this gap explains nothing, try the next;
/// Some(None): stop (ambiguous, or out of budget).
fn with_gap(
    r: &mut Reader<'_>,
    (x, y): (u64, u64),
    g: u64,
    eof: u64,
    end: u64,
    base: u64,
) -> Option<Option<(Splice, u64)>> {
    let shifted = Splice {
        split: 0,
        gap: g,
        ..WHOLE
    };
    let layouts = [WHOLE, shifted];
    let xref = read(r, &layouts, end, x).ok()?;
    if xref.entries.is_empty() || !xref.sections.iter().any(|s| s.at == y && s.placed == 1) {
        return None;
    }
    let (lo, hi, mid) = bounds(r, &layouts, &xref, end)?;
    if !mid.is_empty() {
        return three(r, &xref, g, (eof, end), base, (lo, hi), &mid);
    }
    let cut = |s| {
        Some(Splice {
            split: s,
            gap: g,
            ..WHOLE
        })
    };
    let Some(sp) = one_cut(r, &xref, (eof, end), base, (lo, hi), cut)? else {
        return Some(None);
    };
    // The one cut: everything checked under it.
    Some(
        verify(r, sp, &xref, end, eof, 0..u64::MAX, false)
            .is_ok()
            .then_some((sp, end)),
    )
}

/// The one cut of `r`'s file between logical `lo` and `hi` under the layouts
/// `make` gives for each sector boundary there: the objects from `lo` to `hi`
/// must check out under exactly one. None: no boundary does; Some(None):
/// several do, or the search ran out of budget.
fn one_cut(
    r: &mut Reader<'_>,
    xref: &Xref,
    (eof, end): (u64, u64),
    base: u64,
    (lo, hi): (u64, u64),
    make: impl Fn(u64) -> Option<Splice>,
) -> Option<Option<Splice>> {
    let first = r.sector_from(lo + 1);
    if first > hi || (hi - first) / SECTOR >= MAX_CUTS {
        return Some(None);
    }
    let mut found = None;
    for s in (first..=hi).step_by(SECTOR as usize) {
        if r.work() - base > BUDGET {
            return Some(None);
        }
        let Some(sp) = make(s) else {
            continue;
        };
        if verify(r, sp, xref, end, eof, lo..hi + 1, true).is_ok() {
            if found.is_some() {
                return Some(None);
            }
            found = Some(sp);
        }
    }
    found.map(Some)
}

/// Three fragments: `mid` (logical offsets of the objects found at neither
/// place, between the last in place, `lo`, and the first the whole gap `g`
/// further, `hi`) lie one shorter gap further; then the first cut lies before
/// the first of them and the second after the last. Convention as
/// [`with_gap`].
fn three(
    r: &mut Reader<'_>,
    xref: &Xref,
    g: u64,
    (eof, end): (u64, u64),
    base: u64,
    (lo, hi): (u64, u64),
    mid: &[u64],
) -> Option<Option<(Splice, u64)>> {
    let entries: Vec<(u64, u32, u16)> = xref
        .entries
        .iter()
        .filter(|e| mid.binary_search(&e.0).is_ok())
        .copied()
        .collect();
    let mut shift = None;
    let mut g1 = SECTOR;
    while g1 < g {
        if r.work() - base > BUDGET {
            return Some(None);
        }
        let sp = Splice {
            split: 0,
            gap: g1,
            ..WHOLE
        };
        let mut cur = Cur::new(r, sp, end);
        if entries.iter().all(|&(off, num, gen)| {
            cur.pos = off;
            cur.obj_header(num, gen)
        }) {
            if shift.is_some() {
                return Some(None);
            }
            shift = Some(g1);
        }
        g1 += SECTOR;
    }
    let g1 = shift?;
    let (m0, m1) = (mid[0], mid[mid.len() - 1]);
    let cut = |s| {
        Some(Splice {
            split: s,
            gap: g1,
            ..WHOLE
        })
    };
    let Some(first) = one_cut(r, xref, (eof, end), base, (lo, m0), cut)? else {
        return Some(None);
    };
    let Some(sp) = one_cut(r, xref, (eof, end), base, (m1, hi), |s| {
        first.then(s, g - g1)
    })?
    else {
        return Some(None);
    };
    Some(
        verify(r, sp, xref, end, eof, 0..u64::MAX, false)
            .is_ok()
            .then_some((sp, end)),
    )
}

/// Where the cut may lie: after the last object or section found in place, at
/// or before the first found shifted; and the objects found at neither place
/// (a third fragment's), which must all lie between. None when the sets
/// interleave.
fn bounds(
    r: &mut Reader<'_>,
    layouts: &[Splice; 2],
    xref: &Xref,
    end: u64,
) -> Option<(u64, u64, Vec<u64>)> {
    let (mut lo, mut hi) = (0u64, u64::MAX);
    for s in &xref.sections {
        if s.placed == 0 {
            lo = lo.max(s.at);
        } else {
            hi = hi.min(s.at);
        }
    }
    // One cursor per layout, each reading the headers in offset order.
    let headers = |r: &mut Reader<'_>, sp: Splice| -> Vec<bool> {
        let mut cur = Cur::new(r, sp, end);
        xref.entries
            .iter()
            .map(|&(off, num, gen)| {
                cur.pos = off;
                cur.obj_header(num, gen)
            })
            .collect()
    };
    let (here, there) = (headers(r, layouts[0]), headers(r, layouts[1]));
    let mut mid = Vec::new();
    for ((&(off, ..), h), t) in xref.entries.iter().zip(here).zip(there) {
        match (h, t) {
            (true, false) => lo = lo.max(off),
            (false, true) => hi = hi.min(off),
            (true, true) => {}
            (false, false) => mid.push(off),
        }
    }
    mid.sort_unstable();
    let between = mid.first().is_none_or(|&m| m > lo) && mid.last().is_none_or(|&m| m < hi);
    (lo < hi && between).then_some((lo, hi, mid))
}
