//! Plain text (issue 14: PhotoRec returns text files, dredge did not). Text has
//! no header, so candidates are not signature hits: a sector (512-byte
//! aligned) whose first bytes are text while the byte before it is not (the
//! previous sector ended in slack or binary data) starts one; the caller finds
//! them with [`text_starts`]. The file runs while its bytes are text (ASCII
//! printable, tab, line and page breaks, well-formed UTF-8, or Shift_JIS or
//! EUC-JP double-byte characters when the file's first 64 KiB run longer so) and
//! ends before the first byte that is not, usually the zeros of its last
//! cluster's slack.
//! Nothing inside text can be checked, so a whole one is `Unverified`: a text
//! file cut mid-line is partial, or put together with its rest where the line
//! across the seam reads as one of its own (`text_join`); text files run
//! together where one sector follows another. Where a run really ends is
//! `text_tail`'s.

use crate::text_tail::trim_tail;
use crate::{Carver, Reader, Verdict};

/// The text bytes a sector must begin with to start a candidate: random data
/// does so about once in 10^13 sectors.
const START: usize = 32;
/// The same for Shift_JIS and EUC-JP, whose rules random bytes meet far more
/// often (Shift_JIS about once in 10^7 sectors for 32 bytes, once in 10^14
/// for 64; EUC-JP about the same): shorter such files are not found.
const SJIS_START: usize = 64;
/// Sectors where text may start.
pub const SECTOR: u64 = 512;

pub struct Text;

/// How many bytes at the start of `b` are text, cut before a UTF-8 sequence
/// that `b` ends inside of.
pub(crate) fn text_len(b: &[u8]) -> usize {
    scan(b, true, Enc::Utf8)
}

/// Shift_JIS, the encoding of most Japanese text written on Windows and old
/// phones, is not UTF-8: its double-byte characters end a UTF-8 run at once.
fn sjis_len(b: &[u8]) -> usize {
    scan(b, true, Enc::ShiftJis)
}

/// EUC-JP, the encoding of Japanese text on older Unix systems, mail and web
/// pages: double-byte characters whose bytes are both 0xA1 or above.
fn euc_len(b: &[u8]) -> usize {
    scan(b, true, Enc::EucJp)
}

/// Text in any of the encodings: what starts and continues a run.
fn any_len(b: &[u8]) -> usize {
    text_len(b).max(sjis_len(b)).max(euc_len(b))
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Enc {
    Utf8,
    /// ASCII text and JIS X 0208 double-byte characters: a lead byte of a
    /// row that holds characters, a trail byte 0x40–0x7E or 0x80–0xFC.
    /// Half-width katakana (single bytes 0xA1–0xDF) and the user-defined
    /// leads 0xF0–0xFC are left out: with them most random bytes would be
    /// text, and modern text seldom holds them.
    ShiftJis,
    /// ASCII text and JIS X 0208 characters as EUC-JP writes them: a lead
    /// byte of a row that holds characters (0xA1–0xA8 symbols, kana, Greek,
    /// Cyrillic, box drawing; 0xB0–0xF4 kanji), a trail byte 0xA1–0xFE.
    /// Half-width katakana (0x8E) and JIS X 0212 (0x8F, three bytes) are
    /// left out, as Shift_JIS leaves out its rare forms.
    EucJp,
}

/// [`text_len`] / [`sjis_len`], with or without the ASCII fast path (the
/// tests compare them).
fn scan(b: &[u8], fast: bool, enc: Enc) -> usize {
    let mut i = 0;
    while i < b.len() {
        // Most text is printable ASCII: 32 bytes at a time, without a branch per
        // byte (the check vectorizes), until a chunk holds anything else.
        while let Some(c) = b.get(i..i + 32).filter(|_| fast) {
            if !c
                .iter()
                .fold(true, |ok, &x| ok & (x.wrapping_sub(0x20) < 0x5F))
            {
                break;
            }
            i += 32;
        }
        if i >= b.len() {
            break;
        }
        let c = b[i];
        if matches!(c, 0x09 | 0x0A | 0x0C | 0x0D | 0x20..=0x7E) {
            i += 1;
            continue;
        }
        if enc == Enc::EucJp {
            let lead = matches!(c, 0xA1..=0xA8 | 0xB0..=0xF4);
            let trail = b.get(i + 1).is_some_and(|&t| matches!(t, 0xA1..=0xFE));
            if !(lead && trail) {
                return i;
            }
            i += 2;
            continue;
        }
        if enc == Enc::ShiftJis {
            // The rows of JIS X 0208 that hold characters: symbols, kana,
            // Greek and Cyrillic, box drawing (0x81–0x84), kanji (0x88–0x9F,
            // 0xE0–0xEA).
            let lead = matches!(c, 0x81..=0x84 | 0x88..=0x9F | 0xE0..=0xEA);
            let trail = b
                .get(i + 1)
                .is_some_and(|&t| matches!(t, 0x40..=0x7E | 0x80..=0xFC));
            if !(lead && trail) {
                return i;
            }
            i += 2;
            continue;
        }
        let n = match c {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return i,
        };
        let Some(tail) = b.get(i + 1..i + n) else {
            return i;
        };
        if !tail.iter().all(|&t| t & 0xC0 == 0x80) {
            return i;
        }
        // Overlong and surrogate forms are not text either.
        let second = tail[0];
        let bad = (c == 0xE0 && second < 0xA0)
            || (c == 0xED && second > 0x9F)
            || (c == 0xF0 && second < 0x90)
            || (c == 0xF4 && second > 0x8F);
        if bad {
            return i;
        }
        i += n;
    }
    i
}

/// Whether the bytes before a sector end in text, so text there continues a
/// run rather than starting a file: from one of their first 4 bytes (a
/// character may be cut at the front) to the end they are text. Random data
/// ends so about once in 10^5 sectors; a file's slack of zeros never does.
pub(crate) fn continues(tail: &[u8]) -> bool {
    (0..4.min(tail.len())).any(|p| any_len(&tail[p..]) == tail.len() - p)
}

/// Bytes before a sector that decide whether text there continues.
pub const TAIL: usize = 16;

/// Offsets in `page` (whose first byte is at image offset `at`) of sectors
/// that start a text candidate and lie in `page[..owned]`. `before` holds the
/// bytes just before the page, as many as are known (`TAIL` suffice); where
/// fewer are known, text at the page's first sector is taken as a start (a
/// later hit inside a text file already carved is dropped when the carve is
/// settled).
pub fn text_starts(page: &[u8], owned: usize, at: u64, before: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let first = at.next_multiple_of(SECTOR) - at;
    let mut i = first as usize;
    while i < owned {
        let tail = if i >= TAIL {
            Some(&page[i - TAIL..i])
        } else if i == 0 && before.len() >= TAIL {
            Some(&before[before.len() - TAIL..])
        } else {
            None
        };
        // A character may cross the START-th byte: up to 3 more are looked at.
        let head = &page[i.min(page.len())..(i + SJIS_START + 3).min(page.len())];
        let text =
            text_len(head) >= START || sjis_len(head) >= SJIS_START || euc_len(head) >= SJIS_START;
        if text && !tail.is_some_and(continues) {
            out.push(i);
        }
        i += SECTOR as usize;
    }
    out
}

impl Carver for Text {
    fn name(&self) -> &'static str {
        "text"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("txt")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[]
    }
    fn min_size(&self) -> u64 {
        START as u64
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(run) = measure(r, 0, None) else {
            return Verdict::Reject;
        };
        let (len, raw) = (run.len, run.raw);
        if len < START as u64 || kana_poor(run.double, &run.counts) {
            return Verdict::Reject;
        }
        let subtype = subtype(&run.head);
        if let Some(b) = cut_at(r, 0, len, raw) {
            // Where the text resumes mid-line after the gap, and the line
            // across the seam reads as one of the file's, the rest is there.
            if let Some((at, n)) = crate::text_join::resumes(r, b, &run) {
                return Verdict::Joined {
                    fragments: vec![(0, b), (at, n)],
                    subtype,
                };
            }
            return Verdict::Partial {
                len: b,
                why: "the text runs mid-line to a sector boundary and stops: the file goes on elsewhere or was cut".into(),
                subtype,
            };
        }
        Verdict::Unverified { len, subtype }
    }
}

/// A run of text: where it ends (`len`, its tail trimmed; `raw`, where its
/// bytes stopped being text), relative to the offset it was measured from.
pub(crate) struct Run {
    pub len: u64,
    pub raw: u64,
    pub enc: Enc,
    /// Its first bytes (up to 1 KiB).
    pub head: Vec<u8>,
    /// How often each byte value occurs in it (see `trim_tail`).
    pub counts: [u32; 256],
    /// Double-byte characters, and those of the kana and punctuation rows,
    /// in the first chunk (see `kana_poor`).
    double: (usize, usize),
}

/// The text run from `from` (relative to the candidate), in `enc` or, with
/// `None`, the encoding in which its first chunk runs longer.
pub(crate) fn measure(r: &mut Reader<'_>, from: u64, enc: Option<Enc>) -> Option<Run> {
    const CHUNK: u64 = 64 << 10;
    let mut len = 0u64;
    let mut head = Vec::new();
    let mut counts = [0u32; 256];
    let mut double = (0usize, 0usize);
    let mut enc = enc;
    let limit = r.limit().checked_sub(from)?;
    // Chunks overlap by 3 bytes, so a UTF-8 sequence a chunk's end cuts is
    // read whole with the next (where text stops short of a chunk's last 3
    // bytes, it has ended).
    while len < limit {
        let want = CHUNK.min(limit - len) as usize;
        let last = len + want as u64 == limit;
        let Some(b) = r.get(from + len, want) else {
            break;
        };
        let enc = *enc.get_or_insert_with(|| {
            // The longest run wins; UTF-8 on a tie, then Shift_JIS. The
            // bytes after an ASCII file's end pass Shift_JIS's or EUC-JP's
            // rules for a few bytes more often than UTF-8's: a Japanese
            // encoding wins only by as much as starts a file in it.
            let (u, j, e) = (text_len(b), sjis_len(b), euc_len(b));
            let u = u + SJIS_START;
            if e > u && e > j {
                Enc::EucJp
            } else if j > u {
                Enc::ShiftJis
            } else {
                Enc::Utf8
            }
        });
        let n = scan(b, true, enc);
        if head.is_empty() {
            head.extend_from_slice(&b[..n.min(1024)]);
            double = double_bytes(&b[..n], enc);
        }
        if last || n + 3 < b.len() {
            b[..n].iter().for_each(|&x| counts[usize::from(x)] += 1);
            len += n as u64;
            break;
        }
        // Keep the whole characters before the last 3 bytes; read on from
        // there.
        let keep = scan(&b[..b.len() - 3], true, enc);
        if keep == 0 {
            break;
        }
        b[..keep].iter().for_each(|&x| counts[usize::from(x)] += 1);
        len += keep as u64;
    }
    let enc = enc?;
    // Where the run itself stopped, before its tail is trimmed.
    let raw = len;
    if enc == Enc::Utf8 {
        let k = len.min(128) as usize;
        if let Some(t) = r.get(from + len - k as u64, k) {
            len -= trim_tail(t, &mut counts) as u64;
        }
    }
    Some(Run {
        len,
        raw,
        enc,
        head,
        counts,
        double,
    })
}

/// Where a run measured from `from` (`len` trimmed, `raw` untrimmed) was cut,
/// if it was: text that runs mid-line up to a sector boundary and stops there
/// (within the few bytes of noise that pass for text), not in a line break,
/// was cut there: a file ends where it ends, near a sector boundary a few
/// times in 512, and then most often after a line break. The boundary,
/// relative to the candidate.
pub(crate) fn cut_at(r: &mut Reader<'_>, from: u64, len: u64, raw: u64) -> Option<u64> {
    let b = r.sector_before(from + raw);
    let (end, lenabs) = (from + raw, from + len);
    (b >= from + START as u64
        && end - b <= CUT_SLACK
        && lenabs >= b
        && r.get(b - 1, 1)
            .is_some_and(|c| c[0] != b'\n' && c[0] != b'\r')
        && r.get(lenabs - 1, 1)
            .is_some_and(|c| c[0] != b'\n' && c[0] != b'\r'))
    .then_some(b)
}

/// How far past a sector boundary a run may stop and still be text cut at it
/// (each random byte passes for text three times in eight).
const CUT_SLACK: u64 = 8;

/// (double-byte characters, those in the rows of kana and punctuation) in a
/// Shift_JIS or EUC-JP run; (0, 0) for UTF-8.
fn double_bytes(b: &[u8], enc: Enc) -> (usize, usize) {
    let (mut all, mut kana, mut i) = (0, 0, 0);
    if enc == Enc::Utf8 {
        return (0, 0);
    }
    while i < b.len() {
        if b[i] < 0x80 {
            i += 1;
            continue;
        }
        all += 1;
        kana += usize::from(match enc {
            Enc::ShiftJis => matches!(b[i], 0x81..=0x83),
            _ => matches!(b[i], 0xA1..=0xA5),
        });
        i += 2;
    }
    (all, kana)
}

/// Japanese text is a fifth or more kana and punctuation, and has line
/// breaks; the bright pixels of an uncompressed image (every byte 0xA1 or
/// above) pass EUC-JP's byte rules for as long as they last, but have
/// neither.
fn kana_poor((all, kana): (usize, usize), counts: &[u32; 256]) -> bool {
    all >= 16
        && kana * 5 < all
        && counts[usize::from(b'\n')] == 0
        && counts[usize::from(b'\r')] == 0
}

/// A kind of text its first bytes (up to 1 KiB) name, for the copy's
/// extension: markup, mail, contacts and calendars, data, scripts.
fn subtype(head: &[u8]) -> Option<&'static str> {
    let s = String::from_utf8_lossy(head);
    let s = s.trim_start_matches('\u{feff}').trim_start();
    let lower = s.to_ascii_lowercase();
    let starts = |p: &str| lower.starts_with(p);
    let header = |names: &[&str]| {
        // Mail: the first line is one of its header fields.
        names.iter().any(|n| starts(n))
            && lower
                .lines()
                .take_while(|l| !l.trim_end().is_empty())
                .take(8)
                .all(|l| l.contains(':') || l.starts_with([' ', '\t']))
    };
    Some(if starts("<!doctype html") || starts("<html") {
        "html"
    } else if starts("<svg") || (starts("<?xml") && lower.contains("<svg")) {
        "svg"
    } else if starts("<?xml") {
        "xml"
    } else if starts("{\\rtf") {
        "rtf"
    } else if starts("begin:vcard") {
        "vcf"
    } else if starts("begin:vcalendar") {
        "ics"
    } else if starts("-----begin ") {
        "pem"
    } else if s.starts_with("From ") && lower.lines().nth(1).is_some_and(|l| l.contains(':')) {
        "mbox"
    } else if header(&[
        "return-path:",
        "received:",
        "from:",
        "message-id:",
        "mime-version:",
        "delivered-to:",
    ]) {
        "eml"
    } else if starts("<?php") {
        "php"
    } else if starts("#!") {
        "sh"
    } else if starts("[{") || ((starts("{\"") || starts("[\"")) && lower.contains("\":")) {
        "json"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_fast_path_agrees_with_byte_by_byte() {
        // Text with, at random places, breaks, UTF-8, controls and high bytes
        // (and cut anywhere): the length must be what a byte-by-byte walk gives.
        let mut r = dredge_testkit::Rng::new(41);
        let bits: [&[u8]; 6] = [
            b"\n",
            "é".as_bytes(),
            "€".as_bytes(),
            b"\x01",
            b"\xff",
            b"\t",
        ];
        for _ in 0..2000 {
            let mut b = Vec::new();
            while b.len() < 300 {
                if r.next().is_multiple_of(40) {
                    b.extend(bits[(r.next() % 6) as usize]);
                } else {
                    b.push(b'a' + (r.next() % 26) as u8);
                }
            }
            b.truncate(200 + (r.next() % 100) as usize);
            for enc in [Enc::Utf8, Enc::ShiftJis] {
                assert_eq!(
                    scan(&b, true, enc),
                    scan(&b, false, enc),
                    "{enc:?} {:?}",
                    String::from_utf8_lossy(&b)
                );
            }
        }
    }

    #[test]
    fn text_is_printable_ascii_and_well_formed_utf8() {
        assert_eq!(text_len(b"hello\r\n\tworld"), 13);
        assert_eq!(text_len("grüße €".as_bytes()), "grüße €".len());
        assert_eq!(text_len(b"abc\0def"), 3);
        assert_eq!(text_len(b"abc\xC3"), 3, "a sequence cut short");
        assert_eq!(text_len(b"abc\xC0\x80"), 3, "overlong");
        assert_eq!(text_len(b"ab\xED\xA0\x80"), 2, "a surrogate");
        assert_eq!(text_len(b"a\x1Bb"), 1, "ESC is no text");
    }

    #[test]
    fn shift_jis_is_ascii_and_double_byte_characters() {
        // "日本語のテキスト。" in Shift_JIS (as iconv writes it), then ASCII.
        let t = b"\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x4c\x83\x58\x83\x67\x81\x42 ok\n";
        assert_eq!(sjis_len(t), t.len());
        assert!(text_len(t) == 0, "not UTF-8");
        assert_eq!(sjis_len(b"ab\x93"), 2, "a lead without its trail");
        assert_eq!(sjis_len(b"ab\xb1\xb2"), 2, "half-width katakana left out");
        assert_eq!(sjis_len(b"ab\x93\x0a"), 2, "a trail below 0x40");
        // UTF-8 text is not taken for Shift_JIS: the first non-ASCII
        // character ends the Shift_JIS run sooner.
        let u = "Grüße, 日本".as_bytes();
        assert!(sjis_len(u) < text_len(u));
        // A sector starts Shift_JIS text when 64 bytes of it are there.
        let mut page = vec![0u8; 2048];
        let long: Vec<u8> = t.iter().copied().cycle().take(70).collect();
        page[512..512 + 70].copy_from_slice(&long);
        page[1024..1024 + 40].copy_from_slice(&long[..40]);
        assert_eq!(text_starts(&page, 2048, 0, &[]), vec![512]);
        // 8 MiB of random bytes: no start in any encoding.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..8 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(text_starts(&noise, noise.len(), 0, &[]).is_empty());
    }

    #[test]
    fn euc_jp_is_ascii_and_double_byte_characters_of_high_bytes() {
        // "日本語のテキスト。" in EUC-JP (as iconv writes it), then ASCII.
        let t = b"\xc6\xfc\xcb\xdc\xb8\xec\xa4\xce\xa5\xc6\xa5\xad\xa5\xb9\xa5\xc8\xa1\xa3 ok\n";
        assert_eq!(euc_len(t), t.len());
        assert_eq!(text_len(t), 0, "not UTF-8");
        assert!(sjis_len(t) < t.len(), "not Shift_JIS");
        assert_eq!(euc_len(b"ab\xc6"), 2, "a lead without its trail");
        assert_eq!(euc_len(b"ab\x8e\xb1"), 2, "half-width katakana left out");
        assert_eq!(euc_len(b"ab\xc6\x41"), 2, "a trail below 0xA1");
        assert_eq!(euc_len(b"ab\xa9\xa1"), 2, "a row with no characters");
        // UTF-8 and Shift_JIS Japanese end an EUC-JP run at once.
        let u = "日本".as_bytes();
        assert!(euc_len(u) < text_len(u));
        let sj = b"\x93\xfa\x96\x7b";
        assert_eq!(euc_len(sj), 0);
        // A sector starts EUC-JP text when 64 bytes of it are there.
        let mut page = vec![0u8; 2048];
        let long: Vec<u8> = t.iter().copied().cycle().take(70).collect();
        page[512..512 + 70].copy_from_slice(&long);
        page[1024..1024 + 40].copy_from_slice(&long[..40]);
        assert_eq!(text_starts(&page, 2048, 0, &[]), vec![512]);
    }

    #[test]
    fn the_kind_of_text_comes_from_its_first_bytes() {
        let kind = |t: &str| subtype(t.as_bytes());
        assert_eq!(kind("<!DOCTYPE html><html>"), Some("html"));
        assert_eq!(kind("<?xml version=\"1.0\"?>\n<svg xmlns="), Some("svg"));
        assert_eq!(kind("<?xml version=\"1.0\"?>\n<plist>"), Some("xml"));
        assert_eq!(kind("{\\rtf1\\ansi text}"), Some("rtf"));
        assert_eq!(kind("BEGIN:VCARD\r\nVERSION:3.0"), Some("vcf"));
        assert_eq!(kind("BEGIN:VCALENDAR\r\n"), Some("ics"));
        assert_eq!(
            kind("From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: a"),
            Some("mbox")
        );
        assert_eq!(
            kind("Return-Path: <a@b>\nReceived: from x\n\tby y\nSubject: hi\n\nbody"),
            Some("eml")
        );
        assert_eq!(kind("From: someone said this\nand then more prose"), None);
        assert_eq!(kind("{\"items\": [1, 2]}"), Some("json"));
        assert_eq!(kind("#!/bin/sh\necho"), Some("sh"));
        assert_eq!(kind("Dear diary, today"), None);
    }

    #[test]
    fn a_start_is_a_text_sector_after_one_that_does_not_end_in_text() {
        let mut page = vec![0u8; 2048];
        page[512..600].fill(b'a');
        page[1024..2048].fill(b'b');
        // Sector 1 starts text after zeros; sector 2 too (sector 1 ends in
        // zeros); sector 3 continues sector 2's text.
        assert_eq!(text_starts(&page, 2048, 0, &[]), vec![512, 1024]);
        // Unknown bytes before: the first sector counts when it is text.
        page[..512].fill(b'c');
        assert_eq!(text_starts(&page, 2048, 0, &[]), vec![0, 1024]);
        assert_eq!(text_starts(&page, 2048, 0, &[b'x'; TAIL]), vec![1024]);
        // One binary byte among the last few: text after it starts a file.
        page[1020] = 0x01;
        assert_eq!(text_starts(&page, 2048, 0, &[b'x'; TAIL]), vec![1024]);
        page[1020] = b'c';
        page[500] = 0x01;
        assert_eq!(text_starts(&page, 2048, 0, &[b'x'; TAIL]), vec![512, 1024]);
        // A page not on a sector boundary: offsets are the image's sectors.
        assert_eq!(text_starts(&page[12..], 2036, 12, &[]), vec![500, 1012]);
        // Random-looking bytes start nothing.
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(text_starts(&noise, 4096, 0, &[]).is_empty());
    }

    fn trimmed(text: &[u8]) -> usize {
        let mut counts = [0u32; 256];
        text.iter().for_each(|&b| counts[usize::from(b)] += 1);
        let k = text.len().min(128);
        text.len() - trim_tail(&text[text.len() - k..], &mut counts)
    }

    #[test]
    fn short_lines_of_noise_after_the_last_line_break_are_cut() {
        let body = "<p>the vessel left the harbour</p>\n".repeat(12) + "</body></html>\n";
        for (after, kept) in [
            ("^\n X", 0),
            ("^\n", 0),
            ("-\n;\n", 0),
            // A last line of letters or digits, or a closer, stays.
            ("42\n", 3),
            ("}\n", 2),
            // More than 8 bytes of short lines is more than noise gives.
            ("^\n.\n,\n;\n:\n", 10),
        ] {
            let text = format!("{body}{after}");
            assert_eq!(trimmed(text.as_bytes()), body.len() + kept, "{after:?}");
        }
    }

    #[test]
    fn noise_after_the_last_line_is_cut_where_a_byte_the_text_never_used_comes() {
        let body = "account,28727\npayment,23511\n".repeat(40);
        // Bytes after the end that the body never used: cut before them.
        for noise in ["\rcU2", "A", "tr:B", "\u{e9}x"] {
            let t = format!("{body}{noise}");
            let end = body.len() + noise.find(|c: char| !body.contains(c)).unwrap();
            assert_eq!(trimmed(t.as_bytes()), end, "{noise:?}");
        }
        // A last line of the body's own characters, or a line break at the
        // end, is the file's.
        for last in ["payment,1", "", "account"] {
            let t = format!("{body}{last}");
            assert_eq!(trimmed(t.as_bytes()), t.len());
        }
        // A flat JSON object ends in its only closing brace.
        let json = format!("{{\n{}}}", "  \"account\": 28727,\n".repeat(20));
        assert_eq!(trimmed(json.as_bytes()), json.len());
        // One or two letters or digits after the last line break: noise.
        for noise in ["u", "g7"] {
            let t = format!("{body}{noise}");
            assert_eq!(trimmed(t.as_bytes()), body.len(), "{noise:?}");
        }
        // A character the body never used is cut whole, not inside.
        let t = format!("{body}pay\u{e9}");
        assert_eq!(trimmed(t.as_bytes()), body.len() + 3);
    }

    #[test]
    fn japanese_needs_kana_or_line_breaks() {
        // Kanji-row bytes only, as bright pixels give: not text.
        let pixels: Vec<u8> = (0..64u8)
            .flat_map(|i| [0xB0 + i % 60, 0xC1 + i % 50])
            .collect();
        let mut counts = [0u32; 256];
        pixels.iter().for_each(|&b| counts[usize::from(b)] += 1);
        assert!(kana_poor(double_bytes(&pixels, Enc::EucJp), &counts));
        // Hiragana among them: Japanese.
        let mut text = pixels.clone();
        for k in (0..text.len()).step_by(6) {
            text[k] = 0xA4;
        }
        assert!(!kana_poor(double_bytes(&text, Enc::EucJp), &counts));
        // A line break: text too.
        counts[usize::from(b'\n')] = 1;
        assert!(!kana_poor(double_bytes(&pixels, Enc::EucJp), &counts));
    }
}
