//! A file's bytes in three pieces, placed by a CRC-32 alone: for every
//! (first cut, first gap, second cut) the CRC of the bytes as that layout
//! would put them together is computed from prefix CRCs of the bytes as they
//! lie, CRC-32 being linear (`crc(X‖Y) = Z(|Y|)·crc(X) ⊕ crc(Y)`, `Z(n)` the
//! register's map for n zero bytes), so each try costs a few 32-bit products,
//! not a pass over the bytes. Used where a checksum covers raw bytes: a stored
//! ZIP member, a PNG chunk. A wrong layout matches a 32-bit CRC by chance with
//! odds of about one in 4 billion a try: under one in a thousand at the cap on
//! tries, and a second match makes the search give up rather than choose.

use crate::{Reader, SECTOR};
use dredge_core::checksum::crc32_update;

/// Layouts compared at most (about 0.4 µs each in a release build on this
/// 2-core machine: under 2 s a file).
const MAX_TRIES: u64 = 4 << 20;

/// The raw CRC-32 register's linear map for feeding some zero bytes: column
/// `i` is where state `1 << i` goes.
#[derive(Clone, Copy)]
struct Zeros([u32; 32]);

impl Zeros {
    fn of(n: usize) -> Zeros {
        let z = vec![0u8; n];
        Zeros(std::array::from_fn(|i| crc32_update(1 << i, &z)))
    }

    fn apply(&self, mut v: u32) -> u32 {
        let mut out = 0;
        for col in &self.0 {
            if v == 0 {
                break;
            }
            if v & 1 != 0 {
                out ^= col;
            }
            v >>= 1;
        }
        out
    }

    /// `other`'s zeros, then this one's.
    fn after(&self, other: &Zeros) -> Zeros {
        Zeros(std::array::from_fn(|i| self.apply(other.0[i])))
    }
}

/// The CRC-32 of `b` (as ZIP and PNG record it).
pub(crate) fn crc(b: &[u8]) -> u32 {
    !crc32_update(!0, b)
}

/// CRCs of the bytes as they lie from a fixed grid point, at any offset: on
/// the grid from a table, off it from the table and the sector's first bytes
/// (cached: the same few offsets come back for every layout).
struct Prefix {
    q0: u64,
    grid: Vec<u32>,
    /// Z(k·512) for every k of the grid, and Z(r) for r below 512.
    sectors: Vec<Zeros>,
    bytes: Vec<Zeros>,
    off_grid: std::collections::HashMap<u64, u32>,
}

impl Prefix {
    fn zeros(&self, n: u64) -> Zeros {
        self.bytes[(n % SECTOR) as usize].after(&self.sectors[(n / SECTOR) as usize])
    }

    /// `v` moved on by `n` zero bytes: Z(n)·v, without forming Z(n).
    fn push(&self, n: u64, v: u32) -> u32 {
        if v == 0 {
            return 0;
        }
        self.bytes[(n % SECTOR) as usize].apply(self.sectors[(n / SECTOR) as usize].apply(v))
    }

    /// CRC of the bytes from `q0` to `x` (`x` ≥ `q0`).
    fn at(&mut self, r: &mut Reader<'_>, x: u64) -> Option<u32> {
        let k = (x - self.q0) / SECTOR;
        let g = self.q0 + k * SECTOR;
        if g == x {
            return self.grid.get(k as usize).copied();
        }
        if let Some(&c) = self.off_grid.get(&x) {
            return Some(c);
        }
        let part = crc(r.get(g, (x - g) as usize)?);
        let c = self.bytes[(x - g) as usize].apply(*self.grid.get(k as usize)?) ^ part;
        self.off_grid.insert(x, c);
        Some(c)
    }

    /// CRC of the bytes at `[a, b)`.
    fn range(&mut self, r: &mut Reader<'_>, a: u64, b: u64) -> Option<u32> {
        let (pa, pb) = (self.at(r, a)?, self.at(r, b)?);
        Some(pb ^ self.push(b - a, pa))
    }

    /// CRC of logical bytes `[x, y)` but `skips` (5-byte headers), lying `d` on.
    fn piece(&mut self, r: &mut Reader<'_>, x: u64, y: u64, d: u64, skips: &[u64]) -> Option<u32> {
        let mut c = 0u32;
        let mut u = x;
        for &h in skips.iter().filter(|&&h| h + 5 > x && h < y) {
            if h > u {
                let s = self.range(r, u + d, h + d)?;
                c = self.push(h - u, c) ^ s;
            }
            u = u.max(h + 5);
        }
        if y > u {
            let s = self.range(r, u + d, y + d)?;
            c = self.push(y - u, c) ^ s;
        }
        Some(c)
    }
}

/// The one (first cut, first gap, second cut) of bytes of CRC `want` at
/// logical `[lo, hi)` but the 5-byte `skips`, whose three pieces checksum to
/// it: the first piece where it lies, the second `first gap` on, the third
/// `shift` on. Cuts fall on sector boundaries, not in a skip. None when no
/// layout or two of them match, or there are too many to compare.
pub(crate) fn three_pieces(
    r: &mut Reader<'_>,
    want: u32,
    (lo, hi): (u64, u64),
    skips: &[u64],
    shift: u64,
    spent: &mut u64,
) -> Option<(u64, u64, u64)> {
    let q0 = r.sector_from(lo + 1);
    if q0 >= hi || shift < 2 * SECTOR {
        return None;
    }
    let cuts: Vec<u64> = (0..=(hi - 1 - q0) / SECTOR)
        .map(|k| q0 + k * SECTOR)
        .filter(|&c| !skips.iter().any(|&h| c > h && c < h + 5))
        .collect();
    let gaps = shift / SECTOR - 1; // first gaps 512 … shift - 512
    let n = cuts.len() as u64;
    if n * n / 2 * gaps > MAX_TRIES {
        return None;
    }
    // The grid starts a sector before the first cut, at or before `lo`.
    let qs = q0.checked_sub(SECTOR)?;
    let last = hi + shift;
    let grid = (last - qs) / SECTOR;
    let z512 = Zeros::of(SECTOR as usize);
    let mut table = Vec::with_capacity(grid as usize + 1);
    table.push(0u32);
    for j in 0..grid {
        let c = crc(r.get(qs + j * SECTOR, SECTOR as usize)?);
        let p = table[j as usize];
        table.push(z512.apply(p) ^ c);
        *spent += SECTOR;
    }
    let one = Zeros::of(1);
    let mut bytes = vec![Zeros(std::array::from_fn(|i| 1 << i))];
    for k in 0..SECTOR as usize - 1 {
        let next = one.after(&bytes[k]);
        bytes.push(next);
    }
    let mut sectors = vec![bytes[0]];
    for k in 0..grid as usize {
        let next = z512.after(&sectors[k]);
        sectors.push(next);
    }
    let mut p = Prefix {
        q0: qs,
        grid: table,
        sectors,
        bytes,
        off_grid: std::collections::HashMap::new(),
    };
    // Bytes of logical `[x, y)` that are the member's (not a header's).
    let len =
        |x: u64, y: u64| (y - x) - 5 * skips.iter().filter(|&&h| h >= x && h < y).count() as u64;
    let mut found = None;
    for (i, &s1) in cuts.iter().enumerate() {
        // A: [lo, s1), where it lies.
        let ca = p.piece(r, lo, s1, 0, skips)?;
        for &s2 in &cuts[i + 1..] {
            let c = p.piece(r, s2, hi, shift, skips)?;
            let zb = p.zeros(len(s1, s2));
            let zc = p.zeros(len(s2, hi));
            let mid = zb.apply(ca);
            for g in 1..=gaps {
                let b = p.piece(r, s1, s2, g * SECTOR, skips)?;
                if zc.apply(mid ^ b) ^ c == want {
                    if found.is_some() {
                        // Two layouts agree with the CRC: neither is proved.
                        return None;
                    }
                    found = Some((s1, g * SECTOR, s2));
                }
            }
        }
    }
    found
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dredge_core::ImageSource;
    use dredge_image::{MemDevice, Sectored};

    /// A file of `len` bytes laid out in three pieces cut at `s1` and `s2`,
    /// with `g1` and `g2` bytes of filler before the second and third.
    pub(crate) fn laid_out(file: &[u8], s1: usize, s2: usize, g1: usize, g2: usize) -> Vec<u8> {
        let mut x = 7u32;
        let mut fill = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect()
        };
        let mut v = file[..s1].to_vec();
        v.extend(fill(g1));
        v.extend_from_slice(&file[s1..s2]);
        v.extend(fill(g2));
        v.extend_from_slice(&file[s2..]);
        v.extend(fill(4096));
        v
    }

    pub(crate) fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn a_stored_member_cut_twice_is_placed_by_its_crc_alone() {
        // 36 bytes before the member's data, as a local header with a name.
        let member = noise(9000, 3);
        let mut file = vec![0x50u8; 36];
        file.extend_from_slice(&member);
        let (s1, s2, g1, g2) = (2048, 6144, 3072, 1536);
        let src = Sectored::new(MemDevice::new(laid_out(&file, s1, s2, g1, g2)));
        let mut r = Reader::new(&src as &dyn ImageSource, 0, 1 << 20);
        let mut spent = 0;
        let want = crc(&member);
        let shift = (g1 + g2) as u64;
        let end = file.len() as u64;
        assert_eq!(
            three_pieces(&mut r, want, (36, end), &[], shift, &mut spent),
            Some((s1 as u64, g1 as u64, s2 as u64))
        );
        // Another CRC: no layout.
        assert_eq!(
            three_pieces(&mut r, want ^ 1, (36, end), &[], shift, &mut spent),
            None
        );
    }
}
