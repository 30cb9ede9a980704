//! PDF syntax as far as the validator needs it: a cursor over a file's logical
//! bytes (through a `Splice`, so a layout in pieces reads as one file), and the
//! objects of the language (numbers, names, strings, arrays, dictionaries,
//! references), parsed with bounded depth and bounded storage.

use crate::{Reader, Splice};

/// Bytes read into the cursor at a time.
const CHUNK: u64 = 16 << 10;
/// Nesting deeper than this is not a PDF any writer makes.
const DEPTH: u32 = 32;
/// Elements kept of one array or dictionary (the rest are parsed, not kept):
/// a hostile array of millions of numbers allocates nothing.
const KEEP: usize = 4096;

/// Forward reading of logical bytes `[0, end)` of a candidate.
pub(super) struct Cur<'c, 'a> {
    r: &'c mut Reader<'a>,
    pub(super) sp: Splice,
    buf: Vec<u8>,
    at: u64,
    pub(super) pos: u64,
    pub(super) end: u64,
    /// In a gap search: a JPEG stream's scan data must also look compressed
    /// sector by sector (text decodes as codes), and an XMP packet must be
    /// XML as XMP writes it, to tell cuts apart.
    pub(super) deep: bool,
    /// Walking a file cut short: a stream whose `/Length` refers to an
    /// object not met yet is measured to its `endstream`.
    pub(super) measure: bool,
}

pub(super) fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delim(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'c, 'a> Cur<'c, 'a> {
    pub(super) fn new(r: &'c mut Reader<'a>, sp: Splice, end: u64) -> Self {
        Cur {
            r,
            sp,
            buf: Vec::new(),
            at: 0,
            pos: 0,
            end,
            deep: false,
            measure: false,
        }
    }

    /// The reader underneath (for inflating a stream).
    pub(super) fn reader(&mut self) -> &mut Reader<'a> {
        self.r
    }

    pub(super) fn byte(&mut self, p: u64) -> Option<u8> {
        if p >= self.end {
            return None;
        }
        if p < self.at || p >= self.at + self.buf.len() as u64 {
            let n = (self.end - p).min(CHUNK) as usize;
            self.buf = self.sp.read(self.r, p, n)?;
            self.at = p;
        }
        self.buf.get((p - self.at) as usize).copied()
    }

    pub(super) fn peek(&mut self) -> Option<u8> {
        self.byte(self.pos)
    }

    /// Whether the bytes at the cursor are `lit`; the cursor moves past them
    /// when they are.
    pub(super) fn eat(&mut self, lit: &[u8]) -> bool {
        for (i, &c) in lit.iter().enumerate() {
            if self.byte(self.pos + i as u64) != Some(c) {
                return false;
            }
        }
        self.pos += lit.len() as u64;
        true
    }

    /// Past whitespace and comments.
    pub(super) fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if is_ws(c) {
                self.pos += 1;
            } else if c == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// An unsigned decimal integer of at most 19 digits at the cursor.
    pub(super) fn uint(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut v = 0u64;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if self.pos - start >= 19 {
                return None;
            }
            v = v * 10 + u64::from(c - b'0');
            self.pos += 1;
        }
        (self.pos > start).then_some(v)
    }

    /// `num gen obj` at the cursor, the cursor after it.
    pub(super) fn obj_header(&mut self, num: u32, gen: u16) -> bool {
        if self.uint() != Some(u64::from(num)) || !self.peek().is_some_and(is_ws) {
            return false;
        }
        self.ws();
        if self.uint() != Some(u64::from(gen)) || !self.peek().is_some_and(is_ws) {
            return false;
        }
        self.ws();
        self.eat(b"obj")
    }

    /// One object of the language at the cursor (after whitespace).
    pub(super) fn value(&mut self) -> Option<Val> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: u32) -> Option<Val> {
        if depth > DEPTH {
            return None;
        }
        self.ws();
        let c = self.peek()?;
        match c {
            b'<' if self.byte(self.pos + 1) == Some(b'<') => {
                self.pos += 2;
                let mut d = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b">>") {
                        return Some(Val::Dict(Dict(d)));
                    }
                    if self.peek()? != b'/' {
                        return None;
                    }
                    let Val::Name(k) = self.value_at(depth + 1)? else {
                        return None;
                    };
                    let v = self.value_at(depth + 1)?;
                    if d.len() < KEEP {
                        d.push((k, v));
                    }
                }
            }
            b'<' => {
                self.pos += 1;
                loop {
                    let c = self.peek()?;
                    self.pos += 1;
                    match c {
                        b'>' => return Some(Val::Other),
                        c if c.is_ascii_hexdigit() || is_ws(c) => {}
                        _ => return None,
                    }
                }
            }
            b'(' => {
                self.pos += 1;
                let mut open = 1u32;
                while open > 0 {
                    let c = self.peek()?;
                    self.pos += 1;
                    match c {
                        b'\\' => self.pos += 1,
                        b'(' => open += 1,
                        b')' => open -= 1,
                        _ => {}
                    }
                }
                Some(Val::Other)
            }
            b'[' => {
                self.pos += 1;
                let mut a = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b"]") {
                        return Some(Val::Arr(a));
                    }
                    let v = self.value_at(depth + 1)?;
                    if a.len() < KEEP {
                        a.push(v);
                    }
                }
            }
            b'/' => {
                self.pos += 1;
                let mut n = Vec::new();
                while let Some(c) = self.peek() {
                    if is_ws(c) || is_delim(c) {
                        break;
                    }
                    if n.len() < 128 {
                        n.push(c);
                    }
                    self.pos += 1;
                }
                Some(Val::Name(n))
            }
            b'0'..=b'9' => {
                let v = self.uint()?;
                if matches!(self.peek(), Some(b'.')) {
                    self.number_rest();
                    return Some(Val::Num);
                }
                // `n g R`: a reference; otherwise the integer alone.
                let back = self.pos;
                if self.peek().is_some_and(is_ws) {
                    self.ws();
                    if let Some(g) = self.uint() {
                        if self.peek().is_some_and(is_ws) {
                            self.ws();
                            if self.peek() == Some(b'R')
                                && !self
                                    .byte(self.pos + 1)
                                    .is_some_and(|c| !is_ws(c) && !is_delim(c))
                            {
                                self.pos += 1;
                                return match (u32::try_from(v), u16::try_from(g)) {
                                    (Ok(n), Ok(g)) => Some(Val::Ref(n, g)),
                                    _ => Some(Val::Other),
                                };
                            }
                        }
                    }
                }
                self.pos = back;
                Some(Val::Int(v))
            }
            b'+' | b'-' | b'.' => {
                self.pos += 1;
                self.number_rest();
                Some(Val::Num)
            }
            c if c.is_ascii_alphabetic() => {
                // true, false, null (and nothing else belongs in a value).
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                    if self.pos - start > 5 {
                        return None;
                    }
                }
                Some(Val::Other)
            }
            _ => None,
        }
    }

    fn number_rest(&mut self) {
        let mut n = 0;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'.') && n < 40 {
            self.pos += 1;
            n += 1;
        }
    }
}

/// A value of the PDF language, as far as the validator keeps it: strings and
/// real numbers are checked and dropped.
#[derive(Debug)]
pub(super) enum Val {
    Int(u64),
    Num,
    Name(Vec<u8>),
    Arr(Vec<Val>),
    Dict(Dict),
    Ref(u32, u16),
    Other,
}

#[derive(Debug, Default)]
pub(super) struct Dict(Vec<(Vec<u8>, Val)>);

impl Dict {
    pub(super) fn get(&self, key: &[u8]) -> Option<&Val> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(super) fn int(&self, key: &[u8]) -> Option<u64> {
        match self.get(key) {
            Some(Val::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub(super) fn name_is(&self, key: &[u8], name: &[u8]) -> bool {
        matches!(self.get(key), Some(Val::Name(n)) if n == name)
    }

    /// Integers of an array value (None when any element is not one).
    pub(super) fn ints(&self, key: &[u8]) -> Option<Vec<u64>> {
        match self.get(key) {
            Some(Val::Arr(a)) => a
                .iter()
                .map(|v| match v {
                    Val::Int(i) => Some(*i),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    /// Whether the stream's first filter is FlateDecode (a name, or the first
    /// of an array): its bytes are then a zlib stream with an Adler-32.
    pub(super) fn flate_first(&self) -> bool {
        match self.get(b"Filter") {
            Some(Val::Name(n)) => n == b"FlateDecode",
            Some(Val::Arr(a)) => matches!(a.first(), Some(Val::Name(n)) if n == b"FlateDecode"),
            _ => false,
        }
    }

    /// Whether the stream's only filter is `name`.
    pub(super) fn filter_is(&self, name: &[u8]) -> bool {
        match self.get(b"Filter") {
            Some(Val::Name(n)) => n == name,
            Some(Val::Arr(a)) => {
                a.len() == 1 && matches!(a.first(), Some(Val::Name(n)) if n == name)
            }
            _ => false,
        }
    }

    /// Whether the stream has no filter but FlateDecode (its decoded bytes are
    /// the inflated ones, up to a predictor).
    pub(super) fn flate_only(&self) -> bool {
        self.filter_is(b"FlateDecode")
    }

    pub(super) fn parms(&self) -> Option<&Dict> {
        match self.get(b"DecodeParms") {
            Some(Val::Dict(d)) => Some(d),
            Some(Val::Arr(a)) => match a.first() {
                Some(Val::Dict(d)) => Some(d),
                _ => None,
            },
            _ => None,
        }
    }
}
