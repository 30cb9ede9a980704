//! One indirect object checked where the cross-reference puts it: its header
//! (`num gen obj`), its value, its stream (the length its dictionary gives, or
//! the object its `/Length` refers to; `endstream` exactly there; a FlateDecode
//! stream inflated to its Adler-32), and `endobj`.

use super::lex::{is_ws, Cur, Dict, Val};
use crate::SECTOR;
use std::collections::BTreeMap;

/// Bytes inflated from one stream that are kept (an xref stream's entries).
pub(super) const KEEP_CAP: usize = 32 << 20;

/// What the check of one object found.
pub(super) struct Obj {
    /// Logical offset just past `endobj`.
    pub(super) end: u64,
    pub(super) dict: Option<Dict>,
    /// The stream's data: logical `[from, to)`.
    pub(super) stream: Option<(u64, u64)>,
}

/// The newest offset and generation of each object number the cross-reference
/// gives (for `/Length n g R`).
pub(super) type Index = BTreeMap<u32, (u64, u16)>;

/// The object `num gen` at logical `off`; None when any part of it does not
/// check out. `num` None: any header (an xref stream's own number is not known
/// before it is read).
pub(super) fn object(
    cur: &mut Cur,
    off: u64,
    num: Option<(u32, u16)>,
    index: &Index,
) -> Option<Obj> {
    cur.pos = off;
    match num {
        Some((n, g)) => {
            if !cur.obj_header(n, g) {
                return None;
            }
        }
        None => {
            let n = cur.uint()?;
            cur.ws();
            let g = cur.uint()?;
            if u32::try_from(n).is_err() || u16::try_from(g).is_err() {
                return None;
            }
            cur.ws();
            if !cur.eat(b"obj") {
                return None;
            }
        }
    }
    let v = cur.value()?;
    cur.ws();
    let mut stream = None;
    let dict = match v {
        Val::Dict(d) => Some(d),
        _ => None,
    };
    if let Some(d) = dict.as_ref().filter(|_| cur.eat(b"stream")) {
        // The data begins after the keyword's end of line.
        if !cur.eat(b"\r\n") && !cur.eat(b"\n") && !cur.eat(b"\r") {
            return None;
        }
        let from = cur.pos;
        let len = stream_len(cur, d, index)?;
        let to = from.checked_add(len)?;
        cur.pos = to;
        let mut eol = 0;
        while cur.peek().is_some_and(is_ws) && eol < 4 {
            cur.pos += 1;
            eol += 1;
        }
        if !cur.eat(b"endstream") {
            return None;
        }
        if d.flate_first() && !inflate(cur, from, to, None) {
            return None;
        }
        if d.filter_is(b"DCTDecode") && !jpeg(cur, from, to) {
            return None;
        }
        // XMP may be UTF-16, or hold literal XML: a heuristic for telling
        // cuts apart, never a reason to call a file in one piece broken.
        if cur.deep
            && d.get(b"Filter").is_none()
            && d.name_is(b"Type", b"Metadata")
            && !xmp(cur, from, to)
        {
            return None;
        }
        stream = Some((from, to));
        cur.ws();
    }
    if !cur.eat(b"endobj") {
        return None;
    }
    Some(Obj {
        end: cur.pos,
        dict,
        stream,
    })
}

/// The stream's length: direct, or the integer object `/Length` refers to.
fn stream_len(cur: &mut Cur, d: &Dict, index: &Index) -> Option<u64> {
    match d.get(b"Length")? {
        Val::Int(n) => Some(*n),
        Val::Ref(n, _) if cur.measure && !index.contains_key(n) => measured(cur),
        Val::Ref(n, g) => {
            let &(at, gen) = index.get(n)?;
            if gen != *g {
                return None;
            }
            let back = cur.pos;
            cur.pos = at;
            let len = if cur.obj_header(*n, *g) {
                cur.ws();
                cur.uint()
            } else {
                None
            };
            cur.pos = back;
            len
        }
        _ => None,
    }
}

/// The stream at the cursor measured to the first `endstream` within
/// `WHOLE_CAP`, less the end of line before it.
fn measured(cur: &mut Cur) -> Option<u64> {
    let from = cur.pos;
    let at = cur
        .reader()
        .find_before(from, from.saturating_add(WHOLE_CAP), b"endstream")?;
    let mut len = at - from;
    if len > 0 && cur.byte(from + len - 1) == Some(b'\n') {
        len -= 1;
    }
    if len > 0 && cur.byte(from + len - 1) == Some(b'\r') {
        len -= 1;
    }
    Some(len)
}

/// Inflates the zlib stream in logical `[from, to)`: true when it ends with a
/// matching Adler-32 and nothing but whitespace follows it in the range. With
/// `keep`, the inflated bytes are kept (at most `KEEP_CAP`).
pub(super) fn inflate(cur: &mut Cur, from: u64, to: u64, mut keep: Option<&mut Vec<u8>>) -> bool {
    let sp = cur.sp;
    let run = crate::inflate::inflate(
        cur.reader(),
        |r, at, n| sp.read(r, at, n),
        from,
        to,
        true,
        |b| match keep.as_deref_mut() {
            Some(k) if k.len() + b.len() > KEEP_CAP => false,
            Some(k) => {
                k.extend_from_slice(b);
                true
            }
            None => true,
        },
    );
    // What the stream's length holds after the zlib data: an end of line at most.
    let at = run.at;
    run.end == crate::inflate::End::Done
        && to - at <= 16
        && (at..to).all(|p| cur.byte(p).is_some_and(is_ws))
}

/// Largest stream read whole for a check: a larger one is not checked (and
/// so tells no cut apart in a gap search).
const WHOLE_CAP: u64 = 16 << 20;

/// Whether the stream in logical `[from, to)` is one whole JPEG (the JPEG
/// carver's own check: markers, and baseline scans decoded to their last MCU),
/// followed by an end of line at most.
fn jpeg(cur: &mut Cur, from: u64, to: u64) -> bool {
    use crate::{Carver, Reader, Verdict};
    if to - from > WHOLE_CAP {
        return !cur.deep;
    }
    let sp = cur.sp;
    let Some(bytes) = sp.read(cur.reader(), from, (to - from) as usize) else {
        return false;
    };
    let n = bytes.len() as u64;
    let src = dredge_core::InMemory::new(bytes, "a PDF stream");
    let mut r = Reader::new(&src, 0, n);
    let len = match crate::jpeg::Jpeg.validate(&mut r) {
        Verdict::Complete { len, .. } => len,
        _ => return false,
    };
    cur.reader().spend(n);
    // Ghostscript passes a JPEG through with a second EOI after it.
    let b = src.bytes();
    let tail = b.get(len as usize..).unwrap_or_default();
    let tail = tail.strip_prefix(b"\xff\xd9").unwrap_or(tail);
    if !tail.iter().all(|&c| is_ws(c)) {
        return false;
    }
    if !cur.deep {
        return true;
    }
    // Text and zeros decode as valid codes for long: in a gap search every
    // whole image sector of the scan data must look compressed, as the JPEG
    // gap search demands (not of a file in one piece: a flat image is fine).
    let Some(sos) = b.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    let scan = sos
        + 2
        + b.get(sos + 2..sos + 4)
            .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    let image = cur.reader().start() + from;
    let mut k = ((image + scan as u64).div_ceil(SECTOR) * SECTOR - image) as usize;
    while k + SECTOR as usize <= len as usize {
        if !crate::jpeg::dense(&b[k..k + SECTOR as usize]) {
            return false;
        }
        k += SECTOR as usize;
    }
    true
}

/// Whether the unfiltered metadata stream in logical `[from, to)` is text as
/// XMP is (UTF-8, no NUL, its tags nested): zeros, random bytes or text from
/// a gap are not.
fn xmp(cur: &mut Cur, from: u64, to: u64) -> bool {
    if to - from > WHOLE_CAP {
        return false;
    }
    let sp = cur.sp;
    sp.read(cur.reader(), from, (to - from) as usize)
        .is_some_and(|b| !b.contains(&0) && std::str::from_utf8(&b).is_ok() && nested(&b))
}

/// Whether an XMP packet's tags nest: each end tag closes the element last
/// opened, none is left open (declarations, comments and processing
/// instructions are passed over), and text lies only in elements with no
/// child elements (RDF/XML has no mixed content; outside the root there is
/// only padding). Text from a gap in place of some of it leaves a tag
/// unclosed, closes the wrong one, or lies between elements.
fn nested(b: &[u8]) -> bool {
    // Each open element: its name, whether it has had a child, and text.
    let mut open: Vec<(&[u8], bool, bool)> = Vec::new();
    let name = |t: &[u8]| -> usize {
        t.iter()
            .take_while(|&&c| !c.is_ascii_whitespace() && c != b'/')
            .count()
    };
    let mut at = 0;
    loop {
        let next = memchr::memchr(b'<', &b[at..]).map_or(b.len(), |i| at + i);
        if !b[at..next].iter().all(u8::is_ascii_whitespace) {
            match open.last_mut() {
                Some((_, false, text)) => *text = true,
                _ => return false,
            }
        }
        if next == b.len() {
            return open.is_empty();
        }
        let tag = next + 1;
        let Some(j) = memchr::memchr(b'>', &b[tag..]) else {
            return false;
        };
        let body = &b[tag..tag + j];
        at = tag + j + 1;
        match body.first() {
            Some(b'?' | b'!') => {}
            Some(b'/') => match open.pop() {
                Some((o, ..)) if body[1..1 + name(&body[1..])] == o[..] => {}
                _ => return false,
            },
            Some(_) => {
                if let Some((_, child, text)) = open.last_mut() {
                    if *text {
                        return false;
                    }
                    *child = true;
                }
                let n = name(body);
                if n == 0 || !attributes(body[n..].strip_suffix(b"/").unwrap_or(&body[n..])) {
                    return false;
                }
                if !body.ends_with(b"/") {
                    if open.len() > 256 {
                        return false;
                    }
                    open.push((&body[..name(body)], false, false));
                }
            }
            None => return false,
        }
    }
}

/// Whether `b` is a start tag's attributes: `name='value'` or
/// `name="value"`, separated by whitespace.
fn attributes(b: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let ws = b[i..]
            .iter()
            .take_while(|c| c.is_ascii_whitespace())
            .count();
        i += ws;
        if i == b.len() {
            return true;
        }
        if ws == 0 {
            return false;
        }
        let n = b[i..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b':' | b'_' | b'-' | b'.'))
            .count();
        i += n;
        if n == 0 || b.get(i) != Some(&b'=') {
            return false;
        }
        let Some(&q @ (b'\'' | b'"')) = b.get(i + 1) else {
            return false;
        };
        let Some(close) = memchr::memchr(q, &b[i + 2..]) else {
            return false;
        };
        i += 2 + close + 1;
    }
}
