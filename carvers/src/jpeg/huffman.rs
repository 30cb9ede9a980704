//! The Huffman tables and the entropy-coded bit stream of a JPEG scan, as
//! the sequential and the progressive decoders read them.

use crate::{Reader, Splice};

#[derive(Clone)]
pub(super) struct Huff {
    /// Codes up to 9 bits: (length << 8 | symbol), 0 when longer.
    pub(super) fast: Vec<u16>,
    pub(super) maxcode: [i32; 17],
    pub(super) valptr: [i32; 17],
    pub(super) mincode: [i32; 17],
    pub(super) vals: Vec<u8>,
}

impl Huff {
    /// Builds the table from the DHT counts and symbols (T.81 Annex C), or None when
    /// the counts do not make a prefix code.
    pub(super) fn new(bits: &[u8], vals: &[u8]) -> Option<Huff> {
        let mut h = Huff {
            fast: vec![0; 512],
            maxcode: [-1; 17],
            valptr: [0; 17],
            mincode: [0; 17],
            vals: vals.to_vec(),
        };
        let (mut code, mut k) = (0i32, 0usize);
        for l in 1..=16 {
            let n = i32::from(bits[l - 1]);
            if n > 0 {
                h.valptr[l] = k as i32;
                h.mincode[l] = code;
                for _ in 0..n {
                    if code >= 1 << l {
                        return None;
                    }
                    if l <= 9 {
                        let first = (code as usize) << (9 - l);
                        let entry = (l as u16) << 8 | u16::from(*vals.get(k)?);
                        h.fast[first..first + (1 << (9 - l))].fill(entry);
                    }
                    code += 1;
                    k += 1;
                }
                h.maxcode[l] = code - 1;
            }
            code <<= 1;
        }
        Some(h)
    }
}

/// The entropy-coded bit stream: bytes are loaded until a marker, after which
/// zeros are supplied to peek with, but consuming them is an error.
#[derive(Clone)]
pub(super) struct Bits {
    /// Logical offset of the next byte to load.
    pub(super) pos: u64,
    pub(super) buf: u64,
    pub(super) n: u32,
    pub(super) phantom: u32,
    /// `pos` is at a marker (or the end of the data).
    pub(super) marker: bool,
}

impl Bits {
    pub(super) fn new(pos: u64) -> Bits {
        Bits {
            pos,
            buf: 0,
            n: 0,
            phantom: 0,
            marker: false,
        }
    }

    pub(super) fn fill(&mut self, r: &mut Reader<'_>, sp: Splice) {
        while self.n <= 56 {
            if self.marker {
                self.buf <<= 8;
                self.n += 8;
                self.phantom += 8;
                continue;
            }
            // Up to eight bytes at once, never across a cut.
            let want = ((64 - self.n) / 8) as u64 + 1;
            let run = want.min(sp.piece_end(self.pos) - self.pos);
            let at = sp.at(self.pos);
            let mut b = [0u8; 9];
            let got = match r.get(at, run as usize) {
                Some(s) => {
                    b[..s.len()].copy_from_slice(s);
                    s.len()
                }
                None => match r.u8(at) {
                    Some(x) => {
                        b[0] = x;
                        1
                    }
                    None => {
                        self.marker = true;
                        continue;
                    }
                },
            };
            let mut i = 0;
            while i < got && self.n <= 56 {
                let x = b[i];
                if x == 0xFF {
                    let next = if i + 1 < got {
                        Some(b[i + 1])
                    } else {
                        r.u8(sp.at(self.pos + 1))
                    };
                    if next != Some(0) {
                        self.marker = true;
                        break;
                    }
                    self.pos += 2;
                    i += 2;
                } else {
                    self.pos += 1;
                    i += 1;
                }
                self.buf = self.buf << 8 | u64::from(x);
                self.n += 8;
            }
        }
    }

    pub(super) fn peek(&mut self, r: &mut Reader<'_>, sp: Splice, k: u32) -> u32 {
        if self.n < k {
            self.fill(r, sp);
        }
        ((self.buf >> (self.n - k)) & ((1u64 << k) - 1)) as u32
    }

    pub(super) fn real(&self) -> u32 {
        self.n - self.phantom
    }

    pub(super) fn skip(&mut self, k: u32) -> Result<(), &'static str> {
        if k > self.real() {
            return Err("entropy-coded data runs into a marker");
        }
        self.n -= k;
        Ok(())
    }

    pub(super) fn decode(
        &mut self,
        r: &mut Reader<'_>,
        sp: Splice,
        h: &Huff,
    ) -> Result<u8, &'static str> {
        let p = self.peek(r, sp, 16);
        let e = h.fast[(p >> 7) as usize];
        if e != 0 {
            self.skip(u32::from(e >> 8))?;
            return Ok(e as u8);
        }
        for l in 10..=16 {
            let code = (p >> (16 - l)) as i32;
            if code <= h.maxcode[l] && h.maxcode[l] >= 0 {
                self.skip(l as u32)?;
                let i = h.valptr[l] + code - h.mincode[l];
                return h.vals.get(i as usize).copied().ok_or("bad Huffman table");
            }
        }
        Err("invalid Huffman code")
    }

    pub(super) fn receive(
        &mut self,
        r: &mut Reader<'_>,
        sp: Splice,
        s: u32,
    ) -> Result<i32, &'static str> {
        if s == 0 {
            return Ok(0);
        }
        let v = self.peek(r, sp, s) as i32;
        self.skip(s)?;
        Ok(if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        })
    }
}
