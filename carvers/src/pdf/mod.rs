//! PDF validator. A file ends at a `%%EOF` whose `startxref` names its
//! cross-reference; every section of it is read (back through `/Prev`), and
//! every in-use object is checked where it says (`objects`): a file in pieces
//! carved as one fails at the first object past the cut, so only a file whose
//! every object checks out, and whose last section runs into `startxref` and
//! that `%%EOF`, is complete. One whose `startxref` names a section but whose
//! objects do not all check out (a writer's wrong offsets, or a cut no gap
//! explains) is unverified; one cut in two is put back together from its
//! offsets (`fragments`).

mod fragments;
mod lex;
mod objects;
mod truncated;
mod xref;

use crate::{partial, Carver, Reader, Splice, Verdict, WHOLE};
use lex::{is_ws, Cur};
use objects::object;
use std::ops::Range;
use xref::{read, section, Xref};

/// Whether `b` begins an incremental update, or could begin a section: `xref`,
/// or an object header (`12 0 obj`).
fn starts_update(b: &[u8]) -> bool {
    if b.starts_with(b"xref") {
        return true;
    }
    let mut parts = b
        .split(|c| c.is_ascii_whitespace())
        .filter(|p| !p.is_empty());
    let num = |p: Option<&[u8]>| p.is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    num(parts.next()) && num(parts.next()) && parts.next().is_some_and(|p| p.starts_with(b"obj"))
}

/// Checks, under layout `sp`, the objects whose offsets lie in `range` (each
/// ending before the next begins) and the sections there; and when the last
/// section lies in `range`, that `startxref` and the `%%EOF` at logical `eof`
/// follow it and nothing else. Err: the offset of the first object or section
/// that does not check out.
fn verify(
    r: &mut Reader<'_>,
    sp: Splice,
    xref: &Xref,
    end: u64,
    eof: u64,
    range: Range<u64>,
    deep: bool,
) -> Result<(), u64> {
    let mut cur = Cur::new(r, sp, end);
    cur.deep = deep;
    let es = &xref.entries;
    for (i, &(off, num, gen)) in es.iter().enumerate() {
        if !range.contains(&off) {
            continue;
        }
        let o = object(&mut cur, off, Some((num, gen)), &xref.index).ok_or(off)?;
        if es.get(i + 1).is_some_and(|&(next, ..)| o.end > next) {
            return Err(off);
        }
    }
    let last = xref.sections.iter().max_by_key(|s| s.at).ok_or(0u64)?;
    for s in &xref.sections {
        if range.contains(&s.at) && section(&mut cur, s.at, &xref.index, &mut Vec::new()).is_none()
        {
            return Err(s.at);
        }
    }
    if !range.contains(&last.at) {
        return Ok(());
    }
    cur.pos = last.after;
    cur.ws();
    if !cur.eat(b"startxref") {
        return Err(last.at);
    }
    let blank = |cur: &mut Cur| {
        while cur.peek().is_some_and(is_ws) {
            cur.pos += 1;
        }
    };
    blank(&mut cur);
    if cur.uint().is_none() {
        return Err(last.at);
    }
    blank(&mut cur);
    if cur.pos == eof && cur.eat(b"%%EOF") {
        Ok(())
    } else {
        Err(last.at)
    }
}

/// The `startxref` offset in the 48 bytes before the `%%EOF` at `e`.
fn startxref(r: &mut Reader<'_>, e: u64) -> Option<u64> {
    let from = e.saturating_sub(48);
    let tail = r.get(from, (e - from) as usize)?.to_vec();
    let i = tail.windows(9).rposition(|w| w == b"startxref")?;
    let num: String = tail[i + 9..]
        .iter()
        .map(|&c| char::from(c))
        .filter(char::is_ascii_digit)
        .collect();
    num.parse().ok()
}

/// What one `%%EOF` makes of the file.
enum End {
    /// Every object and section checks out.
    Checked,
    /// A file in two pieces: the layout and the logical length.
    Pieces(Splice, u64),
    /// `startxref` names a cross-reference inside the file, and the first
    /// object or section that does not check out where it says is here; no
    /// gap explains it.
    Broken(u64),
    No,
}

fn judge(r: &mut Reader<'_>, e: u64, end: u64) -> End {
    let Some(x) = startxref(r, e).filter(|&x| x < e) else {
        return End::No;
    };
    let (first_bad, y) = match read(r, &[WHOLE], end, x) {
        Ok(xref) if !xref.entries.is_empty() => {
            match verify(r, WHOLE, &xref, end, e, 0..u64::MAX, false) {
                Ok(()) => return End::Checked,
                Err(at) => (at, x),
            }
        }
        Ok(_) => return End::No,
        Err(at) => (at, at),
    };
    match fragments::bifragment(r, (x, y), e, end) {
        Some((sp, len)) => End::Pieces(sp, len),
        // Nothing names an xref at `x`: this `%%EOF` is not this file's.
        None if y == x && first_bad == x => End::No,
        None => End::Broken(first_bad),
    }
}

/// PDF: see the module's comment.
pub struct Pdf;

impl Carver for Pdf {
    fn name(&self) -> &'static str {
        "pdf"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "pdf"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"%PDF-1.", b"%PDF-2."]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut off = 8u64;
        let mut good: Option<u64> = None;
        let mut broken: Option<u64> = None;
        // A header met before any %%EOF of this file: another PDF, laid in
        // a gap of this one, or embedded in it. One per gap (two: a file in
        // three pieces) is passed over, and this file's end looked for within
        // `MAX_GAP` of the last.
        let mut passed: Option<u64> = None;
        let mut headers_passed = 0;
        // One forward scan: each %%EOF in turn, until the next PDF's header.
        while let Some((e, k)) = r.find_any(off, &[b"%%EOF", b"%PDF-"]) {
            off = e + 5;
            if k == 1 {
                if good.is_none() && broken.is_none() && headers_passed < 2 {
                    passed = Some(e);
                    headers_passed += 1;
                    continue;
                }
                break;
            }
            if passed.is_some_and(|h| e > h + fragments::MAX_GAP) {
                break;
            }
            // One end of line after `%%EOF` (CR LF, LF or CR) is the file's:
            // a second is as likely the next bytes' (writers put one).
            let mut end = e + 5;
            match r.u8(end) {
                Some(b'\r') => {
                    end += 1;
                    if r.u8(end) == Some(b'\n') {
                        end += 1;
                    }
                }
                Some(b'\n') => end += 1,
                _ => {}
            }
            match judge(r, e, end) {
                End::No => continue,
                // An update that does not check out after a version that did
                // is not taken: the version that did is the file.
                End::Broken(_) if good.is_some() => break,
                End::Broken(at) => {
                    broken = Some(broken.map_or(at, |b| b.max(at)));
                    continue;
                }
                End::Checked => good = Some(end),
                End::Pieces(sp, len) => {
                    return Verdict::Fragmented {
                        fragments: sp.fragments(len),
                        subtype: None,
                    }
                }
            }
            // An incremental update starts right after the %%EOF with an
            // object (`12 0 obj`), an xref table or a comment; anything else
            // is the end of this file, and nothing past it need be read.
            let mut k = end;
            while matches!(r.u8(k), Some(b' ' | b'\t' | b'\r' | b'\n')) && k < end + 16 {
                k += 1;
            }
            let next = r.get(k, 24).map(<[u8]>::to_vec).unwrap_or_default();
            if !starts_update(&next) {
                break;
            }
        }
        match (good, broken) {
            (Some(len), _) => Verdict::Complete { len, subtype: None },
            // Another PDF's header before the end that did not check out:
            // that end may be the other file's.
            (None, Some(at)) if passed.is_none() => partial(
                at,
                "an object or cross-reference section is not where the cross-reference puts it",
            ),
            _ => match truncated::walk(r) {
                0 => partial(0, "no %%EOF consistent with startxref"),
                len => partial(
                    len,
                    "cut short: no %%EOF of its own; the objects up to here check out in sequence",
                ),
            },
        }
    }
}
