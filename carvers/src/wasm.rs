//! WebAssembly binary modules (`.wasm`): browser caches, Electron apps,
//! plug-ins, malware loaders.

use crate::{partial, Carver, Reader, Verdict};

/// A module: `\0asm` and version 1, then sections (an id and a LEB128
/// size), the known ones in the order the specification fixes (custom
/// sections anywhere), each inside the carve limit. Sections whose bodies
/// carry structure are parsed to their exact end: custom (a UTF-8 name),
/// type (function types `0x60` with value types), function (type indices),
/// export (UTF-8 names, kinds), code (as many bodies as the function section
/// declares, each ending in the `end` opcode) and data (segments by mode).
/// A module has no length or end marker: it ends where the next bytes are
/// not a section that parses, so a carve is `Unverified`; functions declared
/// with no code section that parses after them make it `Partial` there.
pub struct Wasm;

/// Rank of each known section id in the fixed order; custom (0) has none.
fn rank(id: u8) -> Option<u8> {
    Some(match id {
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 4,
        5 => 5,
        13 => 6,
        6 => 7,
        7 => 8,
        8 => 9,
        9 => 10,
        12 => 11,
        10 => 12,
        11 => 13,
        _ => return None,
    })
}

/// A LEB128 u32 at `at`: its value and length.
fn leb(r: &mut Reader<'_>, at: u64) -> Option<(u64, u64)> {
    let mut v = 0u64;
    for k in 0..5 {
        let b = r.u8(at + k)?;
        v |= u64::from(b & 0x7F) << (7 * k);
        if b & 0x80 == 0 {
            return (v <= u64::from(u32::MAX)).then_some((v, k + 1));
        }
    }
    None
}

/// A cursor over one section's body: every read stays before `end`.
struct Body<'r, 'a> {
    r: &'r mut Reader<'a>,
    at: u64,
    end: u64,
}

impl Body<'_, '_> {
    fn leb(&mut self) -> Option<u64> {
        let (v, n) = leb(self.r, self.at)?;
        self.at += n;
        (self.at <= self.end).then_some(v)
    }
    fn byte(&mut self) -> Option<u8> {
        let b = (self.at < self.end).then(|| self.r.u8(self.at))??;
        self.at += 1;
        Some(b)
    }
    fn skip(&mut self, n: u64) -> Option<()> {
        self.at = self.at.checked_add(n)?;
        (self.at <= self.end).then_some(())
    }
    /// A name: a length and that many bytes of UTF-8.
    fn name(&mut self) -> Option<()> {
        let n = self.leb()?;
        let at = self.at;
        self.skip(n)?;
        let s = self.r.get(at, n as usize)?;
        std::str::from_utf8(s).ok().map(|_| ())
    }
    /// A count, with work spent for it.
    fn count(&mut self) -> Option<u64> {
        let n = self.leb()?;
        // Every item takes at least one byte.
        (n <= self.end - self.at && self.r.spend(n)).then_some(n)
    }
    /// A constant expression: one instruction and `end` (0x0B).
    fn expr(&mut self) -> Option<()> {
        match self.byte()? {
            0x41 | 0x42 | 0x23 | 0xD2 => {
                self.leb_signed()?;
            }
            0x43 => self.skip(4)?,
            0x44 => self.skip(8)?,
            0xD0 => {
                self.byte()?;
            }
            _ => return None,
        }
        (self.byte()? == 0x0B).then_some(())
    }
    /// A signed LEB128 of up to ten bytes (i64 constants).
    fn leb_signed(&mut self) -> Option<()> {
        for _ in 0..10 {
            if self.byte()? & 0x80 == 0 {
                return Some(());
            }
        }
        None
    }
}

/// Whether section `id`'s body `[at, end)` parses exactly to its end;
/// `funcs` is the function section's count, set by it and checked by code.
fn body(r: &mut Reader<'_>, id: u8, at: u64, end: u64, funcs: &mut Option<u64>) -> bool {
    let mut b = Body { r, at, end };
    let ok = (|| -> Option<()> {
        match id {
            0 => {
                b.name()?;
                b.at = end;
            }
            1 => {
                for _ in 0..b.count()? {
                    if b.byte()? != 0x60 {
                        return None;
                    }
                    for _ in 0..2 {
                        for _ in 0..b.count()? {
                            let t = b.byte()?;
                            // i32 i64 f32 f64 v128 funcref externref
                            if !matches!(t, 0x7F | 0x7E | 0x7D | 0x7C | 0x7B | 0x70 | 0x6F) {
                                return None;
                            }
                        }
                    }
                }
            }
            3 => {
                let n = b.count()?;
                for _ in 0..n {
                    b.leb()?;
                }
                *funcs = Some(n);
            }
            7 => {
                for _ in 0..b.count()? {
                    b.name()?;
                    if b.byte()? > 4 {
                        return None;
                    }
                    b.leb()?;
                }
            }
            10 => {
                let n = b.count()?;
                if n != funcs.unwrap_or(0) {
                    return None;
                }
                for _ in 0..n {
                    let size = b.leb()?;
                    if size == 0 {
                        return None;
                    }
                    b.skip(size)?;
                    // Every function body ends with `end`.
                    if b.r.u8(b.at - 1)? != 0x0B {
                        return None;
                    }
                }
            }
            11 => {
                for _ in 0..b.count()? {
                    match b.leb()? {
                        0 => b.expr()?,
                        1 => {}
                        2 => {
                            b.leb()?;
                            b.expr()?;
                        }
                        _ => return None,
                    }
                    let n = b.leb()?;
                    b.skip(n)?;
                }
            }
            // The others are taken by their size.
            _ => b.at = end,
        }
        (b.at == end).then_some(())
    })();
    ok.is_some()
}

impl Carver for Wasm {
    fn name(&self) -> &'static str {
        "wasm"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "wasm"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\0asm\x01\0\0\0"]
    }
    fn min_size(&self) -> u64 {
        8 + 2
    }
    fn max_size(&self) -> u64 {
        256 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut at = 8u64;
        let (mut last, mut sections, mut funcs) = (0u8, 0u32, None);
        let limit = r.limit();
        while at < limit {
            let Some(id) = r.u8(at) else { break };
            let Some((size, n)) = leb(r, at + 1) else {
                break;
            };
            let (start, end) = (at + 1 + n, at + 1 + n + size);
            if end > limit || !r.spend(64) {
                break;
            }
            let k = match (id, rank(id)) {
                (0, _) => last,
                (_, Some(k)) if k > last => k,
                _ => break,
            };
            // A section that does not parse ends the module: it is foreign
            // bytes after it (zeros read as an empty custom section, which
            // cannot be) or damage, told apart below by what is missing.
            if !body(r, id, start, end, &mut funcs) {
                break;
            }
            last = k;
            sections += 1;
            at = end;
        }
        // Functions declared and no code for them: cut or damaged before
        // (or in) the code section.
        if funcs.is_some_and(|n| n > 0) && last < 12 {
            return partial(at, "the module ends before a code section that parses");
        }
        if sections == 0 {
            return Verdict::Reject;
        }
        Verdict::Unverified {
            len: at,
            subtype: None,
        }
    }
}
