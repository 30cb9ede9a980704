//! JPEG: SOI, then marker segments (each with its length) up to SOS, and EOI ends the
//! file. A frame header (SOF) and a scan (SOS) must both be seen, so stray FF D8 FF
//! bytes do not pass.
//!
//! Sequential Huffman scans (SOF0/SOF1, by far the most common: cameras, phones) are
//! decoded: every Huffman code must exist in its table, every block must stay within
//! 64 coefficients, DC values must stay in range, restart markers must come in order
//! after every interval, and the scan must hold exactly the number of MCUs the frame
//! size calls for. That is what finds where foreign data begins. Progressive
//! Huffman scans are decoded the same way (`progressive`). Other scans
//! (arithmetic, lossless, 12-bit) are checked for stuffing only.
//!
//! Two fragments: when a sequential scan fails, the file may continue after foreign
//! data. The split is a sector boundary shortly before the failure; the second
//! fragment starts on a sector boundary in a stretch of entropy-coded-looking bytes
//! (no marker but restarts) that ends in EOI. Each such pair is tried by resuming the
//! decoder from a checkpoint before the split, and must decode to exactly the right
//! MCU count and EOI.

use crate::{Carver, Reader, Splice, Verdict, SECTOR, WHOLE};
use std::collections::VecDeque;

mod fragments;
mod huffman;
mod progressive;
pub(crate) use fragments::dense;
use fragments::reassemble;
use huffman::{Bits, Huff};

pub struct Jpeg;

/// Largest gap between the two fragments that is searched.
const MAX_GAP: u64 = 2 << 20;
/// How far before the detected failure the split may lie.
const LAG: u64 = 2 << 10;
/// Bytes the gap search may decode for one candidate file.
const BUDGET: u64 = 32 << 20;

#[derive(Clone, Copy)]
struct Comp {
    id: u8,
    h: u32,
    v: u32,
}

#[derive(Clone)]
struct Frame {
    sequential: bool,
    /// Progressive Huffman, 8-bit, with a known height.
    progressive: bool,
    width: u32,
    height: u32,
    comps: Vec<Comp>,
}

#[derive(Clone)]
struct ScanComp {
    /// Index into the frame's components (for the DC predictor).
    frame: usize,
    dc: usize,
    ac: usize,
    blocks: u32,
}

#[derive(Clone)]
struct Scan {
    comps: Vec<ScanComp>,
    mcus: u64,
    restart: u64,
}

/// Decoder position at an MCU boundary, to resume from.
#[derive(Clone)]
struct Cursor {
    bits: Bits,
    mcu: u64,
    dc: [i32; 4],
    rst: u8,
}

#[derive(Clone, Default)]
struct State {
    frame: Option<Frame>,
    dc: [Option<Huff>; 4],
    ac: [Option<Huff>; 4],
    restart: u64,
    sos: bool,
    /// A progressive frame's coefficient history (None: not tracked).
    coefs: Option<progressive::Coefs>,
}

enum Stop {
    End(u64),
    Reject,
    Fail {
        at: u64,
        why: &'static str,
        /// A sequential scan that failed: where to resume a gap search.
        resume: Option<Box<Resume>>,
    },
}

struct Resume {
    state: State,
    scan: Scan,
    data_start: u64,
    cursors: VecDeque<Cursor>,
}

/// Decodes a scan's MCUs from `cur` on; on success `cur.bits.pos` is at the marker
/// after the scan. With `ring`, checkpoints at least 128 bytes apart are kept.
fn decode_scan(
    r: &mut Reader<'_>,
    sp: Splice,
    st: &State,
    scan: &Scan,
    cur: &mut Cursor,
    ring: Option<&mut VecDeque<Cursor>>,
    spent: &mut u64,
) -> Result<(), &'static str> {
    let from = cur.bits.pos;
    let res = decode_mcus(r, sp, st, scan, cur, ring);
    *spent += cur.bits.pos.saturating_sub(from);
    res
}

fn decode_mcus(
    r: &mut Reader<'_>,
    sp: Splice,
    st: &State,
    scan: &Scan,
    cur: &mut Cursor,
    mut ring: Option<&mut VecDeque<Cursor>>,
) -> Result<(), &'static str> {
    let mut last_cp = 0u64;
    while cur.mcu < scan.mcus {
        if let Some(ring) = ring.as_deref_mut() {
            if cur.bits.pos >= last_cp + 128 {
                if ring.len() == 64 {
                    ring.pop_front();
                }
                ring.push_back(cur.clone());
                last_cp = cur.bits.pos;
            }
        }
        for c in &scan.comps {
            let (Some(dc), Some(ac)) = (&st.dc[c.dc], &st.ac[c.ac]) else {
                return Err("scan uses an undefined Huffman table");
            };
            for _ in 0..c.blocks {
                let t = u32::from(cur.bits.decode(r, sp, dc)?);
                if t > 11 {
                    return Err("DC difference out of range");
                }
                let pred = &mut cur.dc[c.frame];
                *pred += cur.bits.receive(r, sp, t)?;
                if !(-4096..=4096).contains(pred) {
                    return Err("DC value out of range");
                }
                let mut k = 1;
                while k < 64 {
                    let rs = cur.bits.decode(r, sp, ac)?;
                    let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                    if size == 0 {
                        if run != 15 {
                            break;
                        }
                        k += 16;
                        if k > 64 {
                            return Err("more than 64 coefficients in a block");
                        }
                        continue;
                    }
                    k += run;
                    if k > 63 || size > 10 {
                        return Err("AC coefficient out of range");
                    }
                    cur.bits.peek(r, sp, size);
                    cur.bits.skip(size)?;
                    k += 1;
                }
            }
        }
        cur.mcu += 1;
        if scan.restart > 0 && cur.mcu.is_multiple_of(scan.restart) && cur.mcu < scan.mcus {
            cur.bits.fill(r, sp);
            if !cur.bits.marker || cur.bits.real() >= 8 {
                return Err("restart marker missing");
            }
            if r.u8(sp.at(cur.bits.pos)) != Some(0xFF)
                || r.u8(sp.at(cur.bits.pos + 1)) != Some(0xD0 + cur.rst)
            {
                return Err("restart marker out of sequence");
            }
            cur.bits = Bits::new(cur.bits.pos + 2);
            cur.rst = (cur.rst + 1) & 7;
            cur.dc = [0; 4];
        }
    }
    cur.bits.fill(r, sp);
    if !cur.bits.marker || cur.bits.real() >= 8 {
        return Err("data after the last MCU of a scan");
    }
    Ok(())
}

/// The `n` components a scan header at `off` lists (after their count):
/// (index in the frame, DC table, AC table).
fn scan_comps(
    r: &mut Reader<'_>,
    sp: Splice,
    f: &Frame,
    off: u64,
    n: usize,
) -> Option<Vec<(usize, usize, usize)>> {
    let mut comps = Vec::new();
    for i in 0..n as u64 {
        let id = r.u8(sp.at(off + 1 + 2 * i))?;
        let t = r.u8(sp.at(off + 2 + 2 * i))?;
        let frame = f.comps.iter().position(|c| c.id == id)?;
        let (dc, ac) = (usize::from(t >> 4), usize::from(t & 15));
        if dc > 3 || ac > 3 {
            return None;
        }
        comps.push((frame, dc, ac));
    }
    Some(comps)
}

/// The scan header at `off` (after the marker's length): its components and MCU count.
fn scan_header(r: &mut Reader<'_>, sp: Splice, st: &State, off: u64) -> Option<Scan> {
    let f = st.frame.as_ref()?;
    let n = usize::from(r.u8(sp.at(off))?);
    if n == 0 || n > 4 || n > f.comps.len() {
        return None;
    }
    let (hmax, vmax) = f
        .comps
        .iter()
        .fold((1, 1), |(h, v), c| (c.h.max(h), c.v.max(v)));
    let comps: Vec<ScanComp> = scan_comps(r, sp, f, off, n)?
        .into_iter()
        .map(|(frame, dc, ac)| {
            let c = f.comps[frame];
            ScanComp {
                frame,
                dc,
                ac,
                blocks: if n == 1 { 1 } else { c.h * c.v },
            }
        })
        .collect();
    let (w, h) = (u64::from(f.width), u64::from(f.height));
    let mcus = if n == 1 {
        let c = f.comps[comps[0].frame];
        let cw = (w * u64::from(c.h)).div_ceil(u64::from(hmax));
        let ch = (h * u64::from(c.v)).div_ceil(u64::from(vmax));
        cw.div_ceil(8) * ch.div_ceil(8)
    } else {
        w.div_ceil(8 * u64::from(hmax)) * h.div_ceil(8 * u64::from(vmax))
    };
    Some(Scan {
        comps,
        mcus,
        restart: st.restart,
    })
}

/// Walks markers from `off` (logical, through `sp`) to EOI.
fn walk(r: &mut Reader<'_>, sp: Splice, st: &mut State, mut off: u64, spent: &mut u64) -> Stop {
    let reject_or = |st: &State, at: u64, why: &'static str| {
        if st.sos {
            Stop::Fail {
                at,
                why,
                resume: None,
            }
        } else {
            Stop::Reject
        }
    };
    loop {
        let Some(ff) = r.u8(sp.at(off)) else {
            return reject_or(st, off, "ends before EOI");
        };
        if ff != 0xFF {
            return reject_or(st, off, "marker expected");
        }
        let Some(mut m) = r.u8(sp.at(off + 1)) else {
            return reject_or(st, off, "ends before EOI");
        };
        // Fill bytes.
        while m == 0xFF {
            off += 1;
            m = match r.u8(sp.at(off + 1)) {
                Some(m) => m,
                None => return reject_or(st, off, "ends before EOI"),
            };
        }
        match m {
            0xD9 => {
                return if st.frame.is_some() && st.sos {
                    Stop::End(off + 2)
                } else {
                    Stop::Reject
                };
            }
            0x01 | 0xD0..=0xD7 => {
                off += 2;
                continue;
            }
            0x00 | 0xD8 => return reject_or(st, off, "invalid marker"),
            _ => {}
        }
        let Some(len) = sp
            .read(r, off + 2, 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
        else {
            return reject_or(st, off, "cut inside a marker");
        };
        if len < 2 {
            return reject_or(st, off, "marker length below 2");
        }
        let body = off + 4;
        let next = off + 2 + u64::from(len);
        match m {
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                let Some(b) = sp.read(r, body, usize::from(len - 2)) else {
                    return reject_or(st, off, "cut inside a frame header");
                };
                let n = usize::from(*b.get(5).unwrap_or(&0));
                if st.frame.is_some() || n == 0 || n > 4 || b.len() < 6 + 3 * n {
                    return reject_or(st, off, "invalid frame header");
                }
                let comps: Vec<Comp> = (0..n)
                    .map(|i| Comp {
                        id: b[6 + 3 * i],
                        h: u32::from(b[7 + 3 * i] >> 4),
                        v: u32::from(b[7 + 3 * i] & 15),
                    })
                    .collect();
                if comps
                    .iter()
                    .any(|c| !(1..=4).contains(&c.h) || !(1..=4).contains(&c.v))
                {
                    return reject_or(st, off, "invalid sampling factors");
                }
                let progressive = m == 0xC2 && b[0] == 8 && b[1..3] != [0, 0];
                if progressive {
                    let hv: Vec<(u32, u32)> = comps.iter().map(|c| (c.h, c.v)).collect();
                    st.coefs = progressive::Coefs::new(
                        u32::from(u16::from_be_bytes([b[3], b[4]])),
                        u32::from(u16::from_be_bytes([b[1], b[2]])),
                        &hv,
                    );
                }
                st.frame = Some(Frame {
                    progressive,
                    // Baseline and extended sequential Huffman, 8-bit, with a known height.
                    sequential: matches!(m, 0xC0 | 0xC1) && b[0] == 8 && b[1..3] != [0, 0],
                    height: u32::from(u16::from_be_bytes([b[1], b[2]])),
                    width: u32::from(u16::from_be_bytes([b[3], b[4]])),
                    comps,
                });
            }
            0xC4 => {
                let Some(b) = sp.read(r, body, usize::from(len - 2)) else {
                    return reject_or(st, off, "cut inside a Huffman table");
                };
                let mut p = 0;
                while p < b.len() {
                    let (class, id) = (b[p] >> 4, usize::from(b[p] & 15));
                    let Some(bits) = b.get(p + 1..p + 17) else {
                        return reject_or(st, off, "invalid Huffman table");
                    };
                    let count: usize = bits.iter().map(|&x| usize::from(x)).sum();
                    let Some(vals) = b.get(p + 17..p + 17 + count) else {
                        return reject_or(st, off, "invalid Huffman table");
                    };
                    let Some(h) = Huff::new(bits, vals) else {
                        return reject_or(st, off, "invalid Huffman table");
                    };
                    match (class, id) {
                        (0, 0..=3) => st.dc[id] = Some(h),
                        (1, 0..=3) => st.ac[id] = Some(h),
                        _ => return reject_or(st, off, "invalid Huffman table"),
                    }
                    p += 17 + count;
                }
            }
            0xDD => {
                let Some(ri) = sp.read(r, body, 2) else {
                    return reject_or(st, off, "cut inside a restart interval");
                };
                st.restart = u64::from(u16::from_be_bytes([ri[0], ri[1]]));
            }
            _ => {}
        }
        off = next;
        if m != 0xDA {
            continue;
        }
        if st.frame.is_none() {
            return reject_or(st, off, "scan before frame header");
        }
        st.sos = true;
        let sequential = st.frame.as_ref().is_some_and(|f| f.sequential);
        if sequential {
            let Some(scan) = scan_header(r, sp, st, body) else {
                return reject_or(st, off, "invalid scan header");
            };
            let mut ring = VecDeque::new();
            let mut cur = Cursor {
                bits: Bits::new(off),
                mcu: 0,
                dc: [0; 4],
                rst: 0,
            };
            if let Err(why) = decode_scan(r, sp, st, &scan, &mut cur, Some(&mut ring), spent) {
                let at = cur.bits.pos.saturating_sub(u64::from(cur.bits.real() / 8));
                return Stop::Fail {
                    at,
                    why,
                    resume: Some(Box::new(Resume {
                        state: st.clone(),
                        scan,
                        data_start: off,
                        cursors: ring,
                    })),
                };
            }
            off = cur.bits.pos;
        } else if let (true, Some(mut coefs)) = (
            st.frame.as_ref().is_some_and(|f| f.progressive),
            st.coefs.take(),
        ) {
            let Some(scan) = progressive::header(r, sp, st, body) else {
                return reject_or(st, off, "invalid scan header");
            };
            let mut at = progressive::At {
                bits: Bits::new(off),
            };
            let from = off;
            let res = progressive::decode(r, sp, st, &mut coefs, &scan, &mut at);
            *spent += at.bits.pos.saturating_sub(from);
            if let Err(why) = res {
                let at = at.bits.pos.saturating_sub(u64::from(at.bits.real() / 8));
                return Stop::Fail {
                    at,
                    why,
                    resume: None,
                };
            }
            st.coefs = Some(coefs);
            off = at.bits.pos;
        } else {
            // Entropy-coded data: scan to the next marker that is not stuffing or RSTn.
            loop {
                let Some(b) = r.u8(sp.at(off)) else {
                    return reject_or(st, off, "entropy-coded data cut off");
                };
                if b != 0xFF {
                    off += 1;
                    continue;
                }
                let Some(n) = r.u8(sp.at(off + 1)) else {
                    return reject_or(st, off, "entropy-coded data cut off");
                };
                match n {
                    0x00 | 0xD0..=0xD7 => off += 2,
                    0xFF => off += 1,
                    _ => break,
                }
            }
        }
        if r.unreadable > 0 {
            return reject_or(st, off, "unreadable sectors inside");
        }
    }
}

impl Carver for Jpeg {
    fn name(&self) -> &'static str {
        "jpeg"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "jpg"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\xFF\xD8\xFF"]
    }
    fn min_size(&self) -> u64 {
        125
    }
    fn max_size(&self) -> u64 {
        64 << 20
    }

    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut st = State::default();
        let mut spent = 0;
        // A damaged length can move `at` past the data; a prefix never exceeds it.
        let limit = r.limit();
        match walk(r, WHOLE, &mut st, 2, &mut spent) {
            Stop::End(len) => Verdict::Complete { len, subtype: None },
            Stop::Reject => Verdict::Reject,
            Stop::Fail { at, why, resume } => {
                if let Some(res) =
                    resume.filter(|_| r.unreadable == 0 && std::env::var_os("NOGAP").is_none())
                {
                    if let Some((sp, end)) = reassemble(r, at, &res) {
                        return Verdict::Fragmented {
                            fragments: sp.fragments(end),
                            subtype: None,
                        };
                    }
                }
                // Data breaks at sector boundaries (a file in pieces, a sector
                // overwritten): the decoder notices some bytes after the break,
                // in the same sector or later, so the bytes before the failing
                // one's sector are all that can be the file's.
                let len = at.min(limit);
                let sector = r.sector_before(len);
                let len = if len < limit && sector > 0 {
                    sector
                } else {
                    len
                };
                Verdict::Partial {
                    len,
                    why: why.into(),
                    subtype: None,
                }
            }
        }
    }
}
