//! The cross-reference: every section from the one `startxref` names, back
//! through `/Prev` (and a hybrid file's `/XRefStm`), classic tables and xref
//! streams (FlateDecode with the PNG predictors) alike. Each section is read
//! under the first of the given layouts where it parses, so the gap search can
//! tell the sections before a cut from those after it.

use super::lex::Cur;
use super::objects::{inflate, object, Index};
use crate::{Reader, Splice};

/// Sections followed from one `startxref` (a file with more incremental
/// updates than this is not followed to its first).
const MAX_SECTIONS: usize = 64;
/// Entries read in all: more than any real file, few enough to hold.
const MAX_ENTRIES: usize = 1 << 20;

pub(super) struct Section {
    /// Logical offset of `xref`, or of the xref stream's object.
    pub(super) at: u64,
    /// Which of the layouts it was read under.
    pub(super) placed: usize,
    /// Logical offset just past it: its trailer dictionary, or `endobj`.
    pub(super) after: u64,
}

pub(super) struct Xref {
    /// Every in-use entry of every section: (offset, number, generation),
    /// sorted by offset, each once.
    pub(super) entries: Vec<(u64, u32, u16)>,
    /// The newest entry of each number.
    pub(super) index: Index,
    pub(super) sections: Vec<Section>,
}

/// The cross-reference from logical offset `x`, in a file of logical length
/// `end`; Err: the offset of a section that parses under none of `layouts`
/// (or of the section where the limits were met).
pub(super) fn read(r: &mut Reader<'_>, layouts: &[Splice], end: u64, x: u64) -> Result<Xref, u64> {
    let mut xref = Xref {
        entries: Vec::new(),
        index: Index::new(),
        sections: Vec::new(),
    };
    let mut todo = vec![x];
    while let Some(at) = todo.pop() {
        if xref.sections.iter().any(|s| s.at == at) {
            continue;
        }
        if xref.sections.len() >= MAX_SECTIONS {
            return Err(at);
        }
        let mut read = None;
        for (i, &sp) in layouts.iter().enumerate() {
            let mut cur = Cur::new(r, sp, end);
            let mut got = Vec::new();
            if let Some(s) = section(&mut cur, at, &xref.index, &mut got) {
                read = Some((i, s, got));
                break;
            }
        }
        let (placed, s, got) = read.ok_or(at)?;
        for &(off, num, gen) in &got {
            xref.index.entry(num).or_insert((off, gen));
        }
        xref.entries.extend(got);
        if xref.entries.len() > MAX_ENTRIES {
            return Err(at);
        }
        xref.sections.push(Section {
            at,
            placed,
            after: s.after,
        });
        // Popped last-in first: the hybrid stream before the older sections.
        todo.extend(s.prev);
        todo.extend(s.stm);
    }
    xref.entries.sort_unstable();
    xref.entries.dedup();
    Ok(xref)
}

pub(super) struct Read {
    pub(super) after: u64,
    prev: Option<u64>,
    stm: Option<u64>,
}

/// The section at logical `at`: its in-use entries appended to `got`.
pub(super) fn section(
    cur: &mut Cur,
    at: u64,
    index: &Index,
    got: &mut Vec<(u64, u32, u16)>,
) -> Option<Read> {
    cur.pos = at;
    if cur.eat(b"xref") {
        table(cur, got)
    } else {
        stream(cur, at, index, got)
    }
}

/// Moves past at most `max` spaces, carriage returns and line feeds; None
/// when more follow.
fn gaps(cur: &mut Cur, max: usize) -> Option<()> {
    let mut n = 0;
    while matches!(cur.peek(), Some(b' ' | b'\r' | b'\n')) {
        n += 1;
        if n > max {
            return None;
        }
        cur.pos += 1;
    }
    Some(())
}

/// A classic table (`xref`, subsections of 20-byte entries) and its trailer.
fn table(cur: &mut Cur, got: &mut Vec<(u64, u32, u16)>) -> Option<Read> {
    loop {
        cur.ws();
        if cur.eat(b"trailer") {
            break;
        }
        let first = cur.uint()?;
        cur.ws();
        let count = cur.uint()?;
        if first.checked_add(count)? > u64::from(u32::MAX) || count > MAX_ENTRIES as u64 {
            return None;
        }
        for k in 0..count {
            // A row is 20 bytes: offset, generation and kind apart by a space,
            // then a two-byte end of line. Only spaces and line ends between
            // its fields (a few, for writers that pad or shorten them): any
            // other byte PDF counts as white space, NUL above all, is no part
            // of a table, and zeros where the rows should go are a gap.
            gaps(cur, 3)?;
            let off = cur.uint()?;
            gaps(cur, 2)?;
            // Free entries may carry 65536 (Pillow writes it for object 0).
            let gen = cur.uint()?;
            gaps(cur, 2)?;
            let kind = cur.peek()?;
            cur.pos += 1;
            match kind {
                b'n' if off > 0 => {
                    got.push((off, (first + k) as u32, u16::try_from(gen).ok()?));
                    if got.len() > MAX_ENTRIES {
                        return None;
                    }
                }
                b'n' | b'f' => {}
                _ => return None,
            }
        }
    }
    let super::lex::Val::Dict(d) = cur.value()? else {
        return None;
    };
    Some(Read {
        after: cur.pos,
        prev: d.int(b"Prev"),
        stm: d.int(b"XRefStm"),
    })
}

/// An xref stream: its object checked like any other, its entries inflated and
/// un-predicted, read by `/W` and `/Index`.
fn stream(cur: &mut Cur, at: u64, index: &Index, got: &mut Vec<(u64, u32, u16)>) -> Option<Read> {
    let o = object(cur, at, None, index)?;
    let d = o.dict?;
    let (from, to) = o.stream?;
    if !d.name_is(b"Type", b"XRef") || !d.flate_only() {
        return None;
    }
    let w = d.ints(b"W")?;
    if w.len() != 3 || w.iter().any(|&x| x > 8) {
        return None;
    }
    let row: usize = w.iter().sum::<u64>() as usize;
    if row == 0 {
        return None;
    }
    let mut data = Vec::new();
    if !inflate(cur, from, to, Some(&mut data)) {
        return None;
    }
    if let Some(p) = d.parms() {
        match p.int(b"Predictor").unwrap_or(1) {
            1 => {}
            10..=15 => {
                let cols = p.int(b"Columns").unwrap_or(1) as usize;
                if cols != row {
                    return None;
                }
                data = unpredict(&data, cols)?;
            }
            _ => return None,
        }
    }
    let size = d.int(b"Size")?;
    let ranges = d.ints(b"Index").unwrap_or_else(|| vec![0, size]);
    if ranges.len() % 2 != 0 {
        return None;
    }
    let mut rows = data.chunks_exact(row);
    let field = |b: &[u8], from: usize, n: u64| -> u64 {
        b[from..from + n as usize]
            .iter()
            .fold(0u64, |v, &x| v << 8 | u64::from(x))
    };
    for pair in ranges.chunks(2) {
        for k in 0..pair[1] {
            let b = rows.next()?;
            let kind = if w[0] == 0 { 1 } else { field(b, 0, w[0]) };
            let off = field(b, w[0] as usize, w[1]);
            let gen = field(b, (w[0] + w[1]) as usize, w[2]);
            let num = pair[0].checked_add(k)?;
            if kind == 1 && off > 0 {
                got.push((off, u32::try_from(num).ok()?, u16::try_from(gen).ok()?));
                if got.len() > MAX_ENTRIES {
                    return None;
                }
            }
        }
    }
    Some(Read {
        after: o.end,
        prev: d.int(b"Prev"),
        stm: None,
    })
}

/// PNG row filters undone (one byte per pixel, as xref streams use them).
fn unpredict(data: &[u8], cols: usize) -> Option<Vec<u8>> {
    if !data.len().is_multiple_of(cols + 1) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / (cols + 1) * cols);
    let mut prev = vec![0u8; cols];
    for line in data.chunks_exact(cols + 1) {
        let (t, src) = (line[0], &line[1..]);
        let mut cur = vec![0u8; cols];
        for i in 0..cols {
            let a = if i > 0 { cur[i - 1] } else { 0 };
            let b = prev[i];
            let c = if i > 0 { prev[i - 1] } else { 0 };
            let pred = match t {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = (
                        (p - i16::from(a)).abs(),
                        (p - i16::from(b)).abs(),
                        (p - i16::from(c)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => return None,
            };
            cur[i] = src[i].wrapping_add(pred);
        }
        out.extend_from_slice(&cur);
        prev = cur;
    }
    Some(out)
}
