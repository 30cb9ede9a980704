//! A text file in two pieces (issue 14): its first piece runs mid-line to a
//! sector boundary and stops (`text::cut_at`), and its second, after a gap of
//! bytes that are not text, starts at a sector boundary in the middle of
//! that line. Carved alone, the second piece is a "file" that starts
//! nowhere a file starts. Nothing in text can be checked, so the pieces are
//! put together only on reasoning, recorded as such: the first text after the
//! gap (and only it) is the rest when the line across the seam reads as one
//! of the file's lines. It is no longer than the file's longest line; it has
//! the file's count of a delimiter every line has (a CSV row) and the ending
//! nine in ten of its lines share (a closing tag); the word at the
//! seam (one the cut split, put back together, or the second piece's first)
//! is a word the file uses; and the second piece does not open with what
//! opens a document. Any doubt leaves the first piece
//! partial, as before.

use crate::text::{continues, cut_at, measure, text_len, Enc, Run, TAIL};
use crate::Reader;
use std::collections::HashSet;

/// The farthest the second piece is looked for past the cut (as for samples).
const MAX_GAP: u64 = 4 << 20;
/// The bytes before the cut its lines are learnt from.
const WINDOW: u64 = 64 << 10;
/// Text bytes that start a candidate (as `text::START`).
const START: usize = 32;
const SECTOR: u64 = 512;

/// What the first piece's lines are like.
struct Lines<'a> {
    /// The cut line's bytes before the cut.
    cut: &'a [u8],
    longest: usize,
    /// A delimiter every whole line has the same number of: (byte, count).
    delimiter: Option<(u8, usize)>,
    /// What nine in ten of the lines end with (markup's closing tag, a
    /// statement's `;`), if they share an ending.
    ending: Option<&'a [u8]>,
    words: HashSet<&'a [u8]>,
}

fn learn(t: &[u8], whole_window: bool) -> Option<Lines<'_>> {
    let last = t.iter().rposition(|&b| b == b'\n')?;
    let cut = &t[last + 1..];
    let mut lines: Vec<&[u8]> = t[..last].split(|&b| b == b'\n').collect();
    // The window's first line is cut at the window's start, unless the
    // window is the whole file so far.
    if !whole_window {
        lines.remove(0);
    }
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if lines.len() < 3 {
        return None;
    }
    let longest = lines.iter().map(|l| l.len()).max()?;
    let delimiter = [b',', b'\t', b';', b'|'].into_iter().find_map(|d| {
        let n = |l: &[u8]| l.iter().filter(|&&b| b == d).count();
        let c = n(lines[lines.len() - 1]);
        (c > 0 && lines.iter().filter(|l| n(l) == c).count() * 10 >= lines.len() * 9)
            .then_some((d, c))
    });
    let reference = lines[lines.len() - 1];
    let ending = (1..=8.min(reference.len())).rev().find_map(|k| {
        let e = &reference[reference.len() - k..];
        (lines.iter().filter(|l| l.ends_with(e)).count() * 10 >= lines.len() * 9).then_some(e)
    });
    let words = lines
        .iter()
        .flat_map(|l| l.split(|b| !b.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    Some(Lines {
        cut,
        longest,
        delimiter,
        ending,
        words,
    })
}

/// Whether `first`, the second piece's first line, continues the cut line.
fn seam_fits(l: &Lines<'_>, first: &[u8]) -> bool {
    let joined = l.cut.len() + first.len();
    if joined > l.longest + l.longest / 4 + 8 {
        return false;
    }
    if let Some((d, c)) = l.delimiter {
        let n = l.cut.iter().chain(first).filter(|&&b| b == d).count();
        if n != c {
            return false;
        }
    }
    // (The seam may fall inside the ending itself.)
    if l.ending.is_some_and(|e| !joined_ends(l.cut, first, e)) {
        return false;
    }
    // The word at the seam (one the cut split, or the second piece's first)
    // must be one the file uses; numbers are left to the delimiters.
    let front = l
        .cut
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let back = first
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let mut word = l.cut[l.cut.len() - front..].to_vec();
    word.extend_from_slice(&first[..back]);
    if !word.is_empty()
        && back < first.len()
        && !word.iter().any(u8::is_ascii_digit)
        && l.words.len() >= 3
        && !l.words.contains(word.as_slice())
    {
        return false;
    }
    let lower = String::from_utf8_lossy(&first[..first.len().min(16)]).to_ascii_lowercase();
    let opens = ["\u{feff}", "<?xml", "<!doctype", "<html"];
    !opens.iter().any(|o| lower.trim_start().starts_with(o))
}

/// Whether the cut line's bytes then `first` end with `e` (a seam inside
/// the ending itself).
fn joined_ends(cut: &[u8], first: &[u8], e: &[u8]) -> bool {
    let mut j = cut.to_vec();
    j.extend_from_slice(first);
    j.ends_with(e)
}

/// The rest of a text file cut mid-line at `b` (relative to the candidate;
/// `run` measured from 0): where its second piece starts and how long it is,
/// when the first text after the gap continues the cut line.
pub(crate) fn resumes(r: &mut Reader<'_>, b: u64, run: &Run) -> Option<(u64, u64)> {
    if run.enc != Enc::Utf8 {
        return None;
    }
    let from = b.saturating_sub(WINDOW);
    let t = r.get(from, (b - from) as usize)?.to_vec();
    let lines = learn(&t, from == 0)?;
    let at = first_text_after(r, b)?;
    let probe = (lines.longest * 2 + 64).min(64 << 10);
    let head = r.get(at, probe.min((r.limit() - at) as usize))?;
    let first = &head[..head.iter().position(|&c| c == b'\n')?];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if text_len(first) != first.len() || !seam_fits(&lines, first) {
        return None;
    }
    let rest = measure(r, at, Some(Enc::Utf8))?;
    // A second piece that is itself cut is left alone: a third piece is
    // not looked for.
    if rest.len < START as u64 || cut_at(r, at, rest.len, rest.raw).is_some() {
        return None;
    }
    Some((at, rest.len))
}

/// The first sector boundary past `b`, within `MAX_GAP`, where text starts
/// after bytes that are not text.
fn first_text_after(r: &mut Reader<'_>, b: u64) -> Option<u64> {
    const STEP: u64 = 64 << 10;
    let need = START + 3;
    let end = (b + MAX_GAP).min(r.limit().checked_sub(need as u64)?);
    let mut w = b + SECTOR;
    while w <= end {
        // Each window of sectors with the bytes before its first.
        let base = w - TAIL as u64;
        let len = (STEP + (TAIL + need) as u64).min(r.limit() - base);
        let chunk = r.get(base, len as usize)?.to_vec();
        let mut s = w;
        while s <= end && s < w + STEP {
            let i = (s - base) as usize;
            let head = chunk.get(i..i + need)?;
            if text_len(head) >= START && !continues(&chunk[i - TAIL..i]) {
                return Some(s);
            }
            s += SECTOR;
        }
        w += STEP;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(t: &[u8]) -> Lines<'_> {
        learn(t, true).unwrap()
    }

    #[test]
    fn a_csv_row_across_the_seam_keeps_its_delimiters() {
        let t = b"id,name,amount\n1,ledger,5\n2,vessel,77\n3,harbour,12\n4,led";
        let l = lines(t);
        assert_eq!(l.delimiter, Some((b',', 2)));
        assert!(seam_fits(&l, b"ger,90"));
        // A new file's header after the gap has its own delimiters.
        assert!(!seam_fits(&l, b"id,name,amount"));
    }

    #[test]
    fn a_word_the_cut_split_must_be_a_word_of_the_file() {
        let body: String = (0..40)
            .map(|i| format!("evidence ledger harbour meeting transfer {i} account witness\n"))
            .collect();
        let t = format!("{body}meeting trans");
        let l = lines(t.as_bytes());
        assert!(seam_fits(&l, b"fer 7 account witness"));
        assert!(!seam_fits(&l, b"ship invoice 9"));
        // Too long for a line of this file.
        let long = "x ".repeat(60);
        assert!(!seam_fits(&l, format!("fer {long}").as_bytes()));
        // What opens a document does not continue a line.
        assert!(!seam_fits(&l, b"<!DOCTYPE html>"));
        // The second piece's first word must be the file's too.
        let t = format!("{body}meeting ");
        let l = lines(t.as_bytes());
        assert!(seam_fits(&l, b"transfer 7 account witness"));
        assert!(!seam_fits(&l, b"t meeting account witness"));
        // Markup whose lines all close their tag: the joined line must too.
        let html: String = (0..30)
            .map(|i| format!("<p>ledger {i} vessel witness</p>\n"))
            .collect();
        let t = format!("{html}<p>ledger 31 ves");
        let l = lines(t.as_bytes());
        assert!(l.ending.unwrap().ends_with(b"</p>"));
        assert!(seam_fits(&l, b"sel witness</p>"));
        assert!(!seam_fits(&l, b"sel witness meeting"));
    }
}
