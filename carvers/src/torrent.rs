//! BitTorrent metainfo validator (`.torrent`, BEP 3): evidence of what a
//! suspect shared or fetched.

use crate::{partial, Carver, Reader, Verdict};

/// A torrent: one bencoded dictionary parsed to its closing `e` (integers
/// without leading zeros, string lengths in range, dictionary keys strings in
/// ascending order as BEP 3 requires), holding an `info` dictionary whose
/// `pieces` is a whole number of 20-byte SHA-1s and whose `piece length` is a
/// power of two. The pieces' hashes cover the shared content, not this file:
/// `Unverified`.
pub struct Torrent;

/// Nesting deeper than this is not a torrent.
const MAX_DEPTH: u32 = 64;

/// What the parse learnt about the top-level dictionary.
#[derive(Default)]
struct Seen {
    pieces: Option<u64>,
    piece_length: Option<u64>,
}

struct P<'r, 'a> {
    r: &'r mut Reader<'a>,
    at: u64,
}

impl P<'_, '_> {
    fn byte(&mut self) -> Option<u8> {
        self.r.u8(self.at)
    }

    /// A decimal number up to `stop`; no leading zero, `-` only where allowed.
    fn number(&mut self, stop: u8, signed: bool) -> Option<i64> {
        let start = self.at;
        let mut digits = Vec::new();
        loop {
            let b = self.byte()?;
            self.at += 1;
            if b == stop {
                break;
            }
            if !(b.is_ascii_digit() || (signed && b == b'-' && self.at - 1 == start))
                || digits.len() > 19
            {
                return None;
            }
            digits.push(b);
        }
        let s = std::str::from_utf8(&digits).ok()?;
        let bad_zero = s.starts_with("-0") || (s.len() > 1 && s.starts_with('0'));
        if s.is_empty() || s == "-" || bad_zero {
            return None;
        }
        s.parse().ok()
    }

    /// A string's bytes (only their offset and length are kept).
    fn string(&mut self) -> Option<(u64, u64)> {
        let n = u64::try_from(self.number(b':', false)?).ok()?;
        let at = self.at;
        if at.checked_add(n)? > self.r.limit() {
            return None;
        }
        self.at += n;
        Some((at, n))
    }

    /// Any value at `depth`; `key` is the dictionary key it is the value of, and
    /// `in_info` whether that dictionary is the top level's `info`.
    fn value(&mut self, depth: u32, key: &[u8], in_info: bool, seen: &mut Seen) -> Option<()> {
        if depth > MAX_DEPTH || !self.r.spend(16) {
            return None;
        }
        match self.byte()? {
            b'i' => {
                self.at += 1;
                let v = self.number(b'e', true)?;
                if in_info && key == b"piece length" {
                    seen.piece_length = u64::try_from(v).ok();
                }
            }
            b'0'..=b'9' => {
                let (_, n) = self.string()?;
                if in_info && key == b"pieces" {
                    seen.pieces = Some(n);
                }
            }
            b'l' => {
                self.at += 1;
                while self.byte()? != b'e' {
                    self.value(depth + 1, b"", false, seen)?;
                }
                self.at += 1;
            }
            b'd' => {
                self.at += 1;
                let mut last: Option<Vec<u8>> = None;
                while self.byte()? != b'e' {
                    let (k, n) = self.string()?;
                    let name = self.r.get(k, n.min(64) as usize)?.to_vec();
                    if last.as_ref().is_some_and(|l| *l >= name) {
                        return None;
                    }
                    let info = depth == 1 && key == b"info";
                    self.value(depth + 1, &name, info, seen)?;
                    last = Some(name);
                }
                self.at += 1;
            }
            _ => return None,
        }
        Some(())
    }
}

impl Carver for Torrent {
    fn name(&self) -> &'static str {
        "torrent"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "torrent"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        // A torrent's first key, in sorted order: what most start with.
        &[
            b"d8:announce",
            b"d13:announce-list",
            b"d7:comment",
            b"d10:created by",
            b"d13:creation date",
            b"d4:info",
        ]
    }
    fn min_size(&self) -> u64 {
        64
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut seen = Seen::default();
        let mut p = P { r, at: 0 };
        if p.value(0, b"", false, &mut seen).is_none() {
            return Verdict::Reject;
        }
        let len = p.at;
        match (seen.pieces, seen.piece_length) {
            (Some(n), Some(l)) if n > 0 && n % 20 == 0 && l.is_power_of_two() => {
                Verdict::Unverified { len, subtype: None }
            }
            (Some(_), Some(_)) => partial(len, "the info dictionary's pieces do not fit"),
            _ => Verdict::Reject,
        }
    }
}
