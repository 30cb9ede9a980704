//! GIF validator.

use crate::{partial, Carver, Reader, Verdict, SECTOR};

/// GIF: header, logical screen (and global colour table), then blocks — images
/// (descriptor, local table, LZW data sub-blocks) and extensions (sub-blocks) — to
/// the trailer; at least one image. Each image's LZW codes are decoded (every
/// code one the table holds or the next it makes) and must give exactly the
/// descriptor's width × height pixels: foreign data inside the file (a GIF in
/// pieces) fails there, where sub-block lengths alone can chain on through it.
/// An image whose codes are valid but whose pixel count is not exact leaves
/// the file `carved-unverified-contiguous`.
pub struct Gif;

impl Carver for Gif {
    fn name(&self) -> &'static str {
        "gif"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "gif"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"GIF87a", b"GIF89a"]
    }
    fn min_size(&self) -> u64 {
        35
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(flags) = r.u8(10) else {
            return Verdict::Reject;
        };
        let mut off = 13u64;
        if flags & 0x80 != 0 {
            off += 3 << ((flags & 7) + 1);
        }
        match blocks(r, off, 0, true, true) {
            Blocks::Done(v) => v,
            Blocks::Broke {
                data,
                min,
                pixels,
                at,
            } => match rejoin(r, data, min, pixels, at) {
                Some(v) => v,
                None => partial(
                    r.sector_before(at).max(data - 1),
                    "an LZW code no table holds",
                ),
            },
        }
    }
}

/// Where the walk of a GIF's blocks ended.
enum Blocks {
    Done(Verdict),
    /// An image's LZW data broke at `at`: its data's sub-blocks start at
    /// `data` (its LZW minimum code size byte is just before), `min` that
    /// size, `pixels` its width × height.
    Broke {
        data: u64,
        min: u8,
        pixels: u64,
        at: u64,
    },
}

/// The blocks from `off` to the trailer — images (descriptor, local table,
/// LZW data sub-blocks) and extensions (sub-blocks) — `images` of them met
/// before, with `exact` pixel counts so far. `rejoin` the first broken image
/// may be put together again (not after a rejoin: one gap only).
fn blocks(
    r: &mut Reader<'_>,
    mut off: u64,
    mut images: u32,
    mut exact: bool,
    rejoin: bool,
) -> Blocks {
    let done = Blocks::Done;
    // Sub-blocks: length byte, data, until a zero length.
    let sub_blocks = |r: &mut Reader<'_>, mut off: u64| -> Option<u64> {
        loop {
            let n = r.u8(off)?;
            off += 1 + u64::from(n);
            if n == 0 {
                return Some(off);
            }
        }
    };
    loop {
        match r.u8(off) {
            Some(0x3B) => {
                return done(if images > 0 {
                    Verdict::whole(off + 1, None, exact)
                } else {
                    Verdict::Reject
                });
            }
            Some(0x2C) => {
                let (Some(f), Some(w), Some(h)) = (r.u8(off + 9), r.le16(off + 5), r.le16(off + 7))
                else {
                    return done(partial(off, "cut in an image descriptor"));
                };
                off += 10;
                if f & 0x80 != 0 {
                    off += 3 << ((f & 7) + 1);
                }
                let min = match r.u8(off) {
                    Some(m @ 2..=12) => m,
                    _ => {
                        return done(if images > 0 {
                            partial(off, "bad LZW code size")
                        } else {
                            Verdict::Reject
                        })
                    }
                };
                let pixels = u64::from(w) * u64::from(h);
                match lzw(r, off + 1, min) {
                    Lzw::End { end, pixels: got } => {
                        // Foreign bytes after a cut can end the sub-blocks
                        // (a zero length byte) before a code fails: the
                        // count then misses, and the rest is looked for as
                        // after a failing code.
                        if got != pixels && rejoin && exact {
                            if let Some(v) = self::rejoin(r, off + 1, min, pixels, end) {
                                return done(v);
                            }
                        }
                        exact &= got == pixels;
                        off = end;
                    }
                    Lzw::Cut => return done(partial(off, "image data cut off")),
                    Lzw::Bad(at) => {
                        if images == 0 && at < SECTOR {
                            return done(Verdict::Reject);
                        }
                        if rejoin && exact {
                            return Blocks::Broke {
                                data: off + 1,
                                min,
                                pixels,
                                at,
                            };
                        }
                        // Foreign data begins at a sector boundary before
                        // the code that cannot be.
                        let len = r.sector_before(at).max(off);
                        return done(partial(len, "an LZW code no table holds"));
                    }
                }
                images += 1;
            }
            Some(0x21) => match sub_blocks(r, off + 2) {
                Some(o) => off = o,
                None => {
                    return done(if images > 0 {
                        partial(off, "extension cut off")
                    } else {
                        Verdict::Reject
                    })
                }
            },
            _ => {
                return done(if images > 0 {
                    partial(off, "block expected")
                } else {
                    Verdict::Reject
                })
            }
        }
    }
}
/// How an image's LZW data ended.
enum Lzw {
    /// At the zero-length sub-block ending it (`end` just past it), having
    /// given `pixels`.
    End { end: u64, pixels: u64 },
    /// The data runs past what can be read.
    Cut,
    /// A code no table holds, in the sub-block byte at this offset.
    Bad(u64),
}

/// GIF's LZW decoder (codes least significant bit first, growing from
/// `min` + 1 to 12 bits, clear and end codes), counting the pixels the codes
/// give without making them; fed a sub-block's bytes at a time, so it can be
/// stopped at a cut and carried on from bytes somewhere else.
#[derive(Clone)]
struct Decoder {
    min: u8,
    /// Each code's string length (only lengths are needed to count pixels).
    lens: Vec<u16>,
    size: u32,
    next: u32,
    prev: Option<u32>,
    acc: u32,
    bits: u32,
    pixels: u64,
    /// The end code was met: the rest of the sub-blocks are skipped.
    done: bool,
}

impl Decoder {
    fn new(min: u8) -> Decoder {
        let clear = 1u32 << min;
        Decoder {
            min,
            lens: vec![1; 4096],
            size: u32::from(min) + 1,
            next: clear + 2,
            prev: None,
            acc: 0,
            bits: 0,
            pixels: 0,
            done: false,
        }
    }

    /// Decodes `bytes`; `Err(i)`: byte `i` completed a code no table holds.
    fn feed(&mut self, bytes: &[u8]) -> Result<(), usize> {
        let clear = 1u32 << self.min;
        for (i, &byte) in bytes.iter().enumerate() {
            if self.done {
                return Ok(());
            }
            self.acc |= u32::from(byte) << self.bits;
            self.bits += 8;
            while self.bits >= self.size && !self.done {
                let code = self.acc & ((1 << self.size) - 1);
                self.acc >>= self.size;
                self.bits -= self.size;
                if code == clear {
                    (self.size, self.next, self.prev) = (u32::from(self.min) + 1, clear + 2, None);
                    continue;
                }
                if code == clear + 1 {
                    self.done = true;
                    break;
                }
                let Some(p) = self.prev else {
                    if code > clear {
                        return Err(i);
                    }
                    self.pixels += 1;
                    self.prev = Some(code);
                    continue;
                };
                let len = match code.cmp(&self.next) {
                    std::cmp::Ordering::Less => self.lens[code as usize],
                    std::cmp::Ordering::Equal if self.next < 4096 => {
                        self.lens[p as usize].saturating_add(1)
                    }
                    _ => return Err(i),
                };
                self.pixels += u64::from(len);
                if self.next < 4096 {
                    self.lens[self.next as usize] = self.lens[p as usize].saturating_add(1);
                    self.next += 1;
                    if self.next == 1 << self.size && self.size < 12 {
                        self.size += 1;
                    }
                }
                self.prev = Some(code);
            }
        }
        Ok(())
    }
}

/// Decodes the LZW data in the sub-blocks from `off`.
fn lzw(r: &mut Reader<'_>, off: u64, min: u8) -> Lzw {
    lzw_from(r, off, 0, &mut Decoder::new(min))
}

/// Decodes on with `d` from `off`, where the first `skip` bytes are the rest
/// of a sub-block begun elsewhere, then sub-blocks to the zero length.
fn lzw_from(r: &mut Reader<'_>, mut off: u64, skip: u64, d: &mut Decoder) -> Lzw {
    if skip > 0 {
        let Some(block) = r.get(off, skip as usize) else {
            return Lzw::Cut;
        };
        if let Err(i) = d.feed(block) {
            return Lzw::Bad(off + i as u64);
        }
        off += skip;
    }
    loop {
        let Some(n) = r.u8(off) else {
            return Lzw::Cut;
        };
        let start = off + 1;
        off = start + u64::from(n);
        if n == 0 {
            return Lzw::End {
                end: off,
                pixels: d.pixels,
            };
        }
        let Some(block) = r.get(start, usize::from(n)) else {
            return Lzw::Cut;
        };
        if let Err(i) = d.feed(block) {
            return Lzw::Bad(start + i as u64);
        }
    }
}

/// Cuts tried, back from the sector where decoding broke: garbage decodes
/// for a few codes while the code table has room, and for a few KiB once it
/// is full (every 12-bit code is then one it holds, until a clear code).
const CUTS: u64 = 16;
/// How far on the rest of the file is looked for.
const MAX_GAP: u64 = 2 << 20;
/// Bytes decoded from a continuation before it is taken for a candidate
/// worth decoding to its end.
const PROBE: u64 = 64;

/// A GIF in two pieces, its image whose sub-blocks start at `data` broken at
/// `at` (or, where its sub-blocks all had one length, at the first that does
/// not): for each cut on a sector boundary before the break (the decoder's
/// state there, and how much of the sub-block the cut fell in is still to
/// come), each sector boundary up to 2 MiB on is tried as where the rest
/// lies: the codes must go on decoding there, to the zero-length sub-block,
/// giving exactly the image's pixels, and the blocks after it must reach the
/// trailer. The first layout that does is the file; a check covered it (the
/// pixel count, which a wrong layout misses), so it is complete.
fn rejoin(r: &mut Reader<'_>, data: u64, min: u8, pixels: u64, at: u64) -> Option<Verdict> {
    let odd = first_odd_length(r, data, at);
    let last = r.sector_before(at.min(odd));
    // The cuts, last first, and the decoder's state at each from one decode
    // of the sub-blocks (it was once per cut: sixteen decodes of the image).
    let cuts: Vec<u64> = (0..CUTS)
        .map_while(|k| last.checked_sub(k * SECTOR).filter(|&c| c > data))
        .collect();
    let mut states = states_at(r, data, min, &cuts);
    for (k, c) in cuts.iter().copied().enumerate() {
        let (d, skip, size) = states[k].take()?;
        let mut s = c + SECTOR;
        while s <= c + MAX_GAP && s < r.limit() {
            if r.exhausted() {
                return None;
            }
            let chained = size.is_none_or(|n| chain_of_blocks(r, s + skip, n, pixels));
            if chained && probe(r, s, skip, &d) {
                let mut full = d.clone();
                if let Lzw::End { end, pixels: got } = lzw_from(r, s, skip, &mut full) {
                    if got == pixels {
                        if let Blocks::Done(Verdict::Complete { len, subtype }) =
                            blocks(r, end, 1, true, false)
                        {
                            return Some(Verdict::Fragmented {
                                fragments: vec![(0, c), (s, len - s)],
                                subtype,
                            });
                        }
                    }
                }
            }
            s += SECTOR;
        }
    }
    None
}

/// Where the sub-blocks from `data` first stop having the one length all
/// before had (not the last, shorter one before the zero length): foreign
/// bytes start there or before, so the cut does too. `at` when they keep it.
fn first_odd_length(r: &mut Reader<'_>, data: u64, at: u64) -> u64 {
    let mut off = data;
    let mut size = None;
    while off < at {
        let Some(n) = r.u8(off) else {
            return at;
        };
        if n == 0 {
            return at;
        }
        match size {
            None => size = Some(n),
            Some(s) if s == n => {}
            // A shorter last block, then the zero length.
            Some(_) if r.u8(off + 1 + u64::from(n)) == Some(0) => return at,
            Some(_) => return off,
        }
        off += 1 + u64::from(n);
    }
    at
}

/// Whether sub-blocks of `size` bytes from `at` run to a last shorter one and
/// the zero length, followed by a block (extension, image or trailer): what
/// an encoder writing full sub-blocks leaves, and what noise almost never
/// does within two length bytes. Garbage decodes as valid codes while the
/// code table is full, so this is what keeps the search from decoding every
/// sector after such a cut to its end.
fn chain_of_blocks(r: &mut Reader<'_>, mut at: u64, size: u64, pixels: u64) -> bool {
    // At most the blocks a worst-case coding of the pixels fills (12 bits a
    // pixel), and a few.
    for _ in 0..pixels.saturating_mul(3) / 2 / size.max(1) + 8 {
        match r.u8(at).map(u64::from) {
            Some(n) if n == size => at += 1 + n,
            Some(0) => return matches!(r.u8(at + 1), Some(0x21 | 0x2C | 0x3B)),
            Some(n) => {
                at += 1 + n;
                return r.u8(at) == Some(0) && matches!(r.u8(at + 1), Some(0x21 | 0x2C | 0x3B));
            }
            None => return false,
        }
    }
    false
}

/// Whether the codes go on decoding from `s` for a few dozen bytes (the
/// `skip` bytes left of a sub-block, or the next sub-block's): garbage breaks
/// them within bytes while the code table has room.
fn probe(r: &mut Reader<'_>, s: u64, skip: u64, d: &Decoder) -> bool {
    let (at, n) = if skip > 0 {
        (s, skip)
    } else {
        match r.u8(s) {
            Some(0) => return true,
            Some(n) => (s + 1, u64::from(n)),
            None => return false,
        }
    };
    let mut p = d.clone();
    r.get(at, n.min(PROBE) as usize)
        .is_some_and(|b| p.feed(b).is_ok())
}

/// The decoder's state at cut `c` of the sub-blocks from `data`: the
/// decoder, the bytes of the sub-block the cut fell in still to come (0: the
/// cut lies on a length byte), and the length every sub-block before it had,
/// if one.
type State = (Decoder, u64, Option<u64>);

/// The decoder's state at each of `cuts` (descending), from one decode of
/// the sub-blocks from `data`; None for a cut decoding breaks before.
fn states_at(r: &mut Reader<'_>, data: u64, min: u8, cuts: &[u64]) -> Vec<Option<State>> {
    let mut out: Vec<Option<State>> = vec![None; cuts.len()];
    // Cuts in the order the decode meets them.
    let mut order: Vec<usize> = (0..cuts.len()).collect();
    order.sort_by_key(|&k| cuts[k]);
    let mut next = order.into_iter().peekable();
    let mut d = Decoder::new(min);
    let mut off = data;
    // The one length every sub-block so far had (encoders write all but the
    // last at one size: 255, or 254 as some do), if they all had one.
    let mut size = None;
    let mut same = true;
    loop {
        while let Some(k) = next.next_if(|&k| cuts[k] <= off) {
            out[k] = Some((d.clone(), 0, size.filter(|_| same)));
        }
        if next.peek().is_none() {
            return out;
        }
        let Some(n) = r.u8(off).map(u64::from).filter(|&n| n > 0) else {
            return out;
        };
        same &= size.is_none_or(|s| s == n);
        size = Some(n);
        let (start, end) = (off + 1, off + 1 + n);
        let mut pos = start;
        while let Some(k) = next.next_if(|&k| cuts[k] < end) {
            let c = cuts[k];
            if c > pos {
                match r.get(pos, (c - pos) as usize) {
                    Some(b) if d.feed(b).is_ok() => pos = c,
                    _ => return out,
                }
            }
            out[k] = Some((d.clone(), end - c, size.filter(|_| same)));
        }
        match r.get(pos, (end - pos) as usize) {
            Some(b) if d.feed(b).is_ok() => {}
            _ => return out,
        }
        off = end;
    }
}
