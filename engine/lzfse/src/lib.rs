#![forbid(unsafe_code)]
//! LZFSE, Apple's LZ + finite-state-entropy codec, decoded in safe Rust
//! (decision 0019: the one pure-Rust crate is mostly `unsafe`): decmpfs
//! files on APFS and HFS+, and LZFSE chunks of disk images (ULFO).
//!
//! A stream is blocks, each opened by a magic: `bvx2` (an LZFSE block whose
//! frequency tables are packed), `bvxn` (LZVN, decoded by the `lzvn` crate),
//! `bvx-` (stored bytes) and `bvx$` (the end). `bvx1` (tables unpacked) is
//! refused: Apple's encoder never writes it. An LZFSE block holds literals,
//! FSE-coded in four interleaved states and read backwards, then (L, M, D)
//! triplets (literal run, match length, distance), FSE-coded with extra bits
//! and read backwards too.
//!
//! Everything a hostile stream controls is checked before it is used: table
//! frequencies against their state counts, states against their tables,
//! literal runs against the literals decoded, distances against the output
//! made; output stops at the caller's limit. Written from the format as
//! Apple's reference implementation defines it (BSD-3-Clause), sharing no
//! code with it.

/// Why a stream could not be decoded (any output made is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The input ends inside a block.
    Truncated,
    /// A block's magic, header, tables or payload is inconsistent.
    Corrupt,
}

const L_SYMBOLS: usize = 20;
const M_SYMBOLS: usize = 20;
const D_SYMBOLS: usize = 64;
const LIT_SYMBOLS: usize = 256;
const L_STATES: usize = 64;
const M_STATES: usize = 64;
const D_STATES: usize = 256;
const LIT_STATES: usize = 1024;
const MAX_MATCHES: u32 = 10_000;
const MAX_LITERALS: u32 = 4 * MAX_MATCHES;
/// The largest LZVN block decoded: Apple's encoder uses LZVN for small
/// inputs only.
const MAX_LZVN_BLOCK: usize = 16 << 20;

// Extra bits and base values of L, M and D symbols: format constants.
const L_BITS: [u8; L_SYMBOLS] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 5, 8];
const L_BASE: [u32; L_SYMBOLS] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 28, 60,
];
const M_BITS: [u8; M_SYMBOLS] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 8, 11];
const M_BASE: [u32; M_SYMBOLS] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 56, 312,
];

/// D: four symbols per extra-bit count 0..=15, bases accumulating.
fn d_tables() -> ([u8; D_SYMBOLS], [u32; D_SYMBOLS]) {
    let (mut bits, mut base) = ([0u8; D_SYMBOLS], [0u32; D_SYMBOLS]);
    let mut next = 0u32;
    for i in 0..D_SYMBOLS {
        bits[i] = (i / 4) as u8;
        base[i] = next;
        next += 1 << bits[i];
    }
    (bits, base)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn field(v: u64, at: u32, bits: u32) -> u32 {
    ((v >> at) & ((1u64 << bits) - 1)) as u32
}

/// Decodes the LZFSE stream `src` onto `out`, at most `limit` bytes of
/// output in all; stops at the end-of-stream block or at `limit`.
pub fn decode(src: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
    let mut p = 0usize;
    while out.len() < limit {
        let magic = src.get(p..p + 4).ok_or(Error::Truncated)?;
        match magic {
            b"bvx$" => return Ok(()),
            b"bvx-" => {
                let n = le32(src, p + 4).ok_or(Error::Truncated)? as usize;
                let body = src.get(p + 8..p + 8 + n).ok_or(Error::Truncated)?;
                let take = n.min(limit - out.len());
                out.extend_from_slice(&body[..take]);
                p += 8 + n;
            }
            b"bvxn" => {
                let raw = le32(src, p + 4).ok_or(Error::Truncated)? as usize;
                let n = le32(src, p + 8).ok_or(Error::Truncated)? as usize;
                let body = src.get(p + 12..p + 12 + n).ok_or(Error::Truncated)?;
                // The block's own output only: a match reaching into earlier
                // blocks fails (Apple's encoder writes LZVN for a whole
                // stream or not at all).
                // The whole block is decoded (the lzvn crate does not stop
                // part way), so its size is held to what honest streams use.
                if raw > MAX_LZVN_BLOCK {
                    return Err(Error::Corrupt);
                }
                let mut buf = vec![0u8; raw];
                let made = lzvn::decode_raw_into(body, &mut buf).map_err(|_| Error::Corrupt)?;
                let room = limit - out.len();
                out.extend_from_slice(&buf[..made.min(room)]);
                if made < raw {
                    return Err(Error::Corrupt);
                }
                p += 12 + n;
            }
            b"bvx2" => p = block_v2(src, p, out, limit)?,
            _ => return Err(Error::Corrupt),
        }
    }
    Ok(())
}

/// A backward bit reader over `data[..end]`: 56 to 63 bits held after each
/// refill, as the encoder wrote them.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    accum: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    /// `extra` is the header's bit count (-7..=0): bits of the last byte
    /// that are padding.
    fn new(data: &'a [u8], extra: i32) -> Result<Bits<'a>, Error> {
        let bytes = if extra != 0 { 8 } else { 7 };
        let pos = data.len().checked_sub(bytes).ok_or(Error::Corrupt)?;
        let mut v = [0u8; 8];
        v[..bytes].copy_from_slice(&data[pos..]);
        let n = (bytes as i32 * 8 + extra) as u32;
        let accum = u64::from_le_bytes(v);
        if !(56..64).contains(&n) || accum >> n != 0 {
            return Err(Error::Corrupt);
        }
        Ok(Bits {
            data,
            pos,
            accum,
            n,
        })
    }

    fn refill(&mut self) -> Result<(), Error> {
        let add = (63 - self.n) & !7;
        let bytes = (add / 8) as usize;
        if add == 0 {
            return Ok(());
        }
        self.pos = self.pos.checked_sub(bytes).ok_or(Error::Corrupt)?;
        let mut v = [0u8; 8];
        v[..bytes].copy_from_slice(&self.data[self.pos..self.pos + bytes]);
        self.accum = (self.accum << add) | u64::from_le_bytes(v);
        self.n += add;
        Ok(())
    }

    fn pull(&mut self, k: u32) -> Result<u64, Error> {
        if k > self.n {
            return Err(Error::Corrupt);
        }
        self.n -= k;
        let v = self.accum >> self.n;
        self.accum &= (1u64 << self.n) - 1;
        Ok(v)
    }
}

/// One state of a value decoder: bits to pull (state + extra), extra bits,
/// next-state base, value base.
#[derive(Clone, Copy, Default)]
struct Entry {
    total: u8,
    extra: u8,
    delta: u16,
    base: u32,
}

/// The state table of `freq` over `states` states, each entry with the
/// extra bits and base of its symbol. Err when the frequencies add up to
/// more states than there are.
fn table(freq: &[u16], states: usize, bits: &[u8], base: &[u32]) -> Result<Vec<Entry>, Error> {
    let sum: usize = freq.iter().map(|&f| usize::from(f)).sum();
    if sum > states {
        return Err(Error::Corrupt);
    }
    let mut t = Vec::with_capacity(states);
    let lz = (states as u32).leading_zeros();
    for (sym, &f) in freq.iter().enumerate() {
        if f == 0 {
            continue;
        }
        let f = u32::from(f);
        // The shift that brings f into [states, 2 * states).
        let k = f.leading_zeros() - lz;
        let j0 = ((2 * states as u32) >> k) - f;
        for j in 0..f {
            let (kk, delta) = if j < j0 {
                (k, ((f + j) << k) - states as u32)
            } else {
                (k - 1, (j - j0) << (k - 1))
            };
            t.push(Entry {
                total: (kk + u32::from(bits[sym])) as u8,
                extra: bits[sym],
                delta: delta as u16,
                base: base[sym],
            });
        }
    }
    t.resize(states, Entry::default());
    Ok(t)
}

fn value(t: &[Entry], state: &mut usize, bits: &mut Bits) -> Result<u32, Error> {
    let e = *t.get(*state).ok_or(Error::Corrupt)?;
    let v = bits.pull(u32::from(e.total))?;
    *state = usize::from(e.delta) + (v >> e.extra) as usize;
    Ok(e.base + (v & ((1u64 << e.extra) - 1)) as u32)
}

/// The frequency tables of a `bvx2` header: 360 values in a prefix code.
fn freqs(packed: &[u8]) -> Result<Vec<u16>, Error> {
    const N: usize = L_SYMBOLS + M_SYMBOLS + D_SYMBOLS + LIT_SYMBOLS;
    // Code lengths and values by the low five bits; lengths 8 and 14 carry
    // the value in their upper bits.
    const LEN: [u8; 32] = [
        2, 3, 2, 5, 2, 3, 2, 8, 2, 3, 2, 5, 2, 3, 2, 14, 2, 3, 2, 5, 2, 3, 2, 8, 2, 3, 2, 5, 2, 3,
        2, 14,
    ];
    const VAL: [u8; 32] = [
        0, 2, 1, 4, 0, 3, 1, 0, 0, 2, 1, 5, 0, 3, 1, 0, 0, 2, 1, 6, 0, 3, 1, 0, 0, 2, 1, 7, 0, 3,
        1, 0,
    ];
    let mut out = vec![0u16; N];
    if packed.is_empty() {
        return Ok(out);
    }
    let (mut acc, mut n, mut i) = (0u32, 0u32, 0usize);
    for slot in out.iter_mut() {
        while i < packed.len() && n + 8 <= 32 {
            acc |= u32::from(packed[i]) << n;
            n += 8;
            i += 1;
        }
        let b = (acc & 31) as usize;
        let len = u32::from(LEN[b]);
        *slot = match len {
            8 => 8 + ((acc >> 4) & 0xF) as u16,
            14 => 24 + ((acc >> 4) & 0x3FF) as u16,
            _ => u16::from(VAL[b]),
        };
        if len > n {
            return Err(Error::Corrupt);
        }
        acc >>= len;
        n -= len;
    }
    if n >= 8 || i != packed.len() {
        return Err(Error::Corrupt);
    }
    Ok(out)
}

/// Decodes the `bvx2` block at `p`; the offset after it.
fn block_v2(src: &[u8], p: usize, out: &mut Vec<u8>, limit: usize) -> Result<usize, Error> {
    let (v0, v1, v2) = match (le64(src, p + 8), le64(src, p + 16), le64(src, p + 24)) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => return Err(Error::Truncated),
    };
    let head = field(v2, 0, 32) as usize;
    if head < 32 {
        return Err(Error::Corrupt);
    }
    let packed = src.get(p + 32..p + head).ok_or(Error::Truncated)?;
    let n_lit = field(v0, 0, 20);
    let lit_bytes = field(v0, 20, 20) as usize;
    let n_match = field(v0, 40, 20);
    let lit_extra = field(v0, 60, 3) as i32 - 7;
    let lit_state = [0, 10, 20, 30].map(|at| field(v1, at, 10) as usize);
    let lmd_bytes = field(v1, 40, 20) as usize;
    let lmd_extra = field(v1, 60, 3) as i32 - 7;
    let (mut ls, mut ms, mut ds) = (
        field(v2, 32, 10) as usize,
        field(v2, 42, 10) as usize,
        field(v2, 52, 10) as usize,
    );
    if n_lit > MAX_LITERALS || n_match > MAX_MATCHES || ls >= L_STATES || ms >= M_STATES {
        return Err(Error::Corrupt);
    }
    if ds >= D_STATES || lit_state.iter().any(|&s| s >= LIT_STATES) {
        return Err(Error::Corrupt);
    }
    let lit_at = p + head;
    let lmd_at = lit_at + lit_bytes;
    let end = lmd_at + lmd_bytes;
    if end > src.len() {
        return Err(Error::Truncated);
    }
    let f = freqs(packed)?;
    let (l_f, rest) = f.split_at(L_SYMBOLS);
    let (m_f, rest) = rest.split_at(M_SYMBOLS);
    let (d_f, lit_f) = rest.split_at(D_SYMBOLS);
    let (d_bits, d_base) = d_tables();
    let lt = table(l_f, L_STATES, &L_BITS, &L_BASE)?;
    let mt = table(m_f, M_STATES, &M_BITS, &M_BASE)?;
    let dt = table(d_f, D_STATES, &d_bits, &d_base)?;
    let sym: Vec<u32> = (0..=255u32).collect();
    let litt = table(lit_f, LIT_STATES, &[0; LIT_SYMBOLS], &sym)?;

    // Literals: four states in turn, read backwards from the payload's end
    // (bits before the payload belong to the header and are never reached
    // by an honest stream).
    let mut lits = vec![0u8; n_lit.next_multiple_of(4) as usize];
    let mut bits = Bits::new(&src[..lmd_at], lit_extra)?;
    let mut st = lit_state;
    for four in lits.chunks_exact_mut(4) {
        bits.refill()?;
        for (b, s) in four.iter_mut().zip(st.iter_mut()) {
            *b = value(&litt, s, &mut bits)? as u8;
        }
    }
    lits.truncate(n_lit as usize);

    let mut bits = Bits::new(&src[lmd_at..end], lmd_extra)?;
    let mut lit = 0usize;
    let mut d: Option<usize> = None;
    for _ in 0..n_match {
        bits.refill()?;
        let l = value(&lt, &mut ls, &mut bits)? as usize;
        let m = value(&mt, &mut ms, &mut bits)? as usize;
        let nd = value(&dt, &mut ds, &mut bits)? as usize;
        if nd != 0 {
            d = Some(nd);
        }
        let run = lits.get(lit..lit + l).ok_or(Error::Corrupt)?;
        let room = limit - out.len();
        out.extend_from_slice(&run[..l.min(room)]);
        lit += l;
        let dist = d.ok_or(Error::Corrupt)?;
        if dist > out.len() {
            return Err(Error::Corrupt);
        }
        // Byte by byte: a match may overlap what it makes.
        for _ in 0..m.min(limit - out.len()) {
            out.push(out[out.len() - dist]);
        }
        if out.len() >= limit {
            return Ok(end);
        }
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_end_blocks() {
        let mut s = b"bvx-".to_vec();
        s.extend_from_slice(&5u32.to_le_bytes());
        s.extend_from_slice(b"hello");
        s.extend_from_slice(b"bvx$");
        let mut out = Vec::new();
        assert_eq!(decode(&s, &mut out, 100), Ok(()));
        assert_eq!(out, b"hello");
        let mut out = Vec::new();
        assert_eq!(decode(&s, &mut out, 3), Ok(()));
        assert_eq!(out, b"hel");
        let mut out = Vec::new();
        assert_eq!(decode(&s[..10], &mut out, 100), Err(Error::Truncated));
        assert_eq!(decode(b"bvx1", &mut out, 100), Err(Error::Corrupt));
    }

    #[test]
    fn d_table_matches_the_format() {
        let (bits, base) = d_tables();
        assert_eq!((bits[63], base[63]), (15, 229_372));
        assert_eq!((bits[40], base[40]), (10, 4092));
    }
}
