//! BitLocker's AES-CBC with the Elephant diffuser (Windows Vista and 7):
//! CBC with the encrypted byte offset as IV (as `eboiv`), then the two
//! diffusers undone over the sector's 32-bit words and a sector key XORed
//! in. The sector key is two AES blocks under the tweak key: the byte offset,
//! and the byte offset with its last byte 0x80 (Niels Ferguson, "AES-CBC +
//! Elephant diffuser", 2006; as dm-crypt's `elephant` IV does it).
//!
//! Each diffuser is a serial chain: every word waits for the words two and
//! five before it (or after it), eight passes over the sector, so one
//! sector keeps one core's adder busy at about 0.4 GB/s. Sectors do not
//! depend on each other, so `decrypt_many` runs `LANES` of them side by
//! side, word `i` of every sector in one array, which the compiler turns
//! into vector instructions: the chain is as long, but each step does eight
//! sectors' work.

use crate::sector::{encrypted_ivs, Block16, CbcOf, Sectors};
use cipher::Array;

/// Sectors decrypted side by side.
pub(crate) const LANES: usize = 8;

pub(crate) struct ElephantOf<C> {
    pub(crate) cbc: CbcOf<C>,
    /// The IV is the byte offset encrypted under the CBC key (EBOIV).
    pub(crate) iv: C,
    pub(crate) tweak: C,
}

/// A rotation left as two shift counts (`r`, `32 - r`) the compiler cannot
/// see through: written as a rotate, or as shifts by constants (which LLVM
/// reads as one), it stays scalar on SSE2, which has no vector rotate, and
/// the lanes are done one at a time.
#[derive(Clone, Copy)]
struct Rot(u32, u32);

fn rot(r: u32) -> Rot {
    std::hint::black_box(Rot(r, 32 - r))
}

/// One step of a diffuser pass: `x += a ^ rotl(b)`, on every lane.
#[inline(always)]
fn step<const L: usize>(d: &mut [[u32; L]], i: usize, j: usize, k: usize, r: Rot) {
    let (a, b) = (d[j], d[k]);
    let x = &mut d[i];
    for l in 0..L {
        // A rotation by 0 shifts right by 32, masked to 0: b | b.
        let t = b[l].wrapping_shl(r.0) | b[l].wrapping_shr(r.1);
        x[l] = x[l].wrapping_add(a[l] ^ t);
    }
}

/// Diffuser A undone: five passes, each word gains the XOR of the word two
/// before it and the rotated word five before it (indices wrap), rotated by
/// 9, 0, 13, 0 as the word's place in its group of four. The first eight
/// words are stepped with wrapping indices; the rest go four at a time
/// (a sector is a multiple of four words).
fn diffuser_a<const L: usize>(d: &mut [[u32; L]]) {
    let n = d.len();
    let w = |i: usize, back: usize| (i + n - back) % n;
    let (r9, r0, r13) = (rot(9), rot(0), rot(13));
    for _ in 0..5 {
        for i in (0..8).step_by(4) {
            step(d, i, w(i, 2), w(i, 5), r9);
            step(d, i + 1, w(i + 1, 2), w(i + 1, 5), r0);
            step(d, i + 2, w(i + 2, 2), w(i + 2, 5), r13);
            step(d, i + 3, w(i + 3, 2), w(i + 3, 5), r0);
        }
        for i in (8..n).step_by(4) {
            step(d, i, i - 2, i - 5, r9);
            step(d, i + 1, i - 1, i - 4, r0);
            step(d, i + 2, i, i - 3, r13);
            step(d, i + 3, i + 1, i - 2, r0);
        }
    }
}

/// Diffuser B undone: three passes, with the words two and five after,
/// rotated by 0, 10, 0, 25; the last eight words wrap.
fn diffuser_b<const L: usize>(d: &mut [[u32; L]]) {
    let n = d.len();
    let w = |i: usize, ahead: usize| (i + ahead) % n;
    let (r0, r10, r25) = (rot(0), rot(10), rot(25));
    for _ in 0..3 {
        for i in (0..n - 8).step_by(4) {
            step(d, i, i + 2, i + 5, r0);
            step(d, i + 1, i + 3, i + 6, r10);
            step(d, i + 2, i + 4, i + 7, r0);
            step(d, i + 3, i + 5, i + 8, r25);
        }
        for i in (n - 8..n).step_by(4) {
            step(d, i, w(i, 2), w(i, 5), r0);
            step(d, i + 1, w(i + 1, 2), w(i + 1, 5), r10);
            step(d, i + 2, w(i + 2, 2), w(i + 2, 5), r0);
            step(d, i + 3, w(i + 3, 2), w(i + 3, 5), r25);
        }
    }
}

/// Both diffusers undone on a sector of any length (not a multiple of four
/// words, or shorter than eight: no BitLocker sector is), one word at a time.
fn undiffuse_any(d: &mut [u32]) {
    const ROT_A: [u32; 4] = [9, 0, 13, 0];
    const ROT_B: [u32; 4] = [0, 10, 0, 25];
    let n = d.len();
    for _ in 0..3 {
        for i in 0..n {
            let (a, b) = (d[(i + 2) % n], d[(i + 5) % n]);
            d[i] = d[i].wrapping_add(a ^ b.rotate_left(ROT_B[i & 3]));
        }
    }
    for _ in 0..5 {
        for i in 0..n {
            let (a, b) = (d[(i + n - 2) % n], d[(i + n - 5) % n]);
            d[i] = d[i].wrapping_add(a ^ b.rotate_left(ROT_A[i & 3]));
        }
    }
}

impl<C: Block16> ElephantOf<C> {
    /// The CBC IVs (the encrypted byte offsets) and sector keys of sectors
    /// with IVs `ivs` (at most `LANES`), each cipher run once over all of
    /// them (its parallel path, not a call a block).
    fn ivs_and_keys(&self, ivs: &[[u8; 16]]) -> ([[u8; 16]; LANES], [[u32; 8]; LANES]) {
        let k = ivs.len().min(LANES);
        let mut halves = [Array::<u8, cipher::consts::U16>::default(); 2 * LANES];
        for (j, iv) in ivs.iter().take(k).enumerate() {
            halves[2 * j] = Array::from(*iv);
            let mut high = *iv;
            high[15] = 0x80;
            halves[2 * j + 1] = Array::from(high);
        }
        let chain = encrypted_ivs(&self.iv, &ivs[..k]);
        self.tweak.encrypt_blocks(&mut halves[..2 * k]);
        let keys = std::array::from_fn(|j| {
            let (a, b) = (&halves[2 * j], &halves[2 * j + 1]);
            std::array::from_fn(|w| {
                let h = if w < 4 { a } else { b };
                let o = 4 * (w & 3);
                u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]])
            })
        });
        (std::array::from_fn(|j| chain[j]), keys)
    }

    /// The diffusers and sector keys undone on `keys.len()` (at most `L`)
    /// CBC-decrypted sectors of `s` bytes in `data`, side by side.
    fn undiffuse<const L: usize>(&self, keys: &[[u32; 8]], s: usize, data: &mut [u8]) {
        let n = s / 4;
        let mut words = vec![[0u32; L]; n];
        for (l, sector) in data.chunks_exact(s).enumerate().take(L) {
            for (w, c) in words.iter_mut().zip(sector.chunks_exact(4)) {
                w[l] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        if n >= 8 && n.is_multiple_of(4) {
            diffuser_b(&mut words);
            diffuser_a(&mut words);
        } else {
            for l in 0..L {
                let mut one: Vec<u32> = words.iter().map(|w| w[l]).collect();
                undiffuse_any(&mut one);
                for (w, v) in words.iter_mut().zip(one) {
                    w[l] = v;
                }
            }
        }
        for (l, (sector, k)) in data.chunks_exact_mut(s).zip(keys).enumerate().take(L) {
            for (i, (c, w)) in sector.chunks_exact_mut(4).zip(words.iter()).enumerate() {
                c.copy_from_slice(&(w[l] ^ k[i & 7]).to_le_bytes());
            }
        }
    }
}

impl<C: Block16> Sectors for ElephantOf<C> {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        let (chain, keys) = self.ivs_and_keys(&[iv]);
        self.cbc.decrypt_from(&chain[..1], data);
        self.undiffuse::<1>(&keys[..1], data.len(), data);
    }

    fn decrypt_many(&self, ivs: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / ivs.len().max(1);
        if ivs.len() < 2 || s < 16 {
            return ivs
                .iter()
                .zip(data.chunks_exact_mut(s.max(1)))
                .for_each(|(iv, d)| self.decrypt(*iv, d));
        }
        for (ivs, d) in ivs.chunks(LANES).zip(data.chunks_mut(s * LANES)) {
            let (chain, keys) = self.ivs_and_keys(ivs);
            self.cbc.decrypt_from(&chain[..ivs.len()], d);
            self.undiffuse::<LANES>(&keys[..ivs.len()], s, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SectorCipher;

    /// The four-at-a-time diffusers are the diffusers as written (every
    /// index wrapped, one word at a time), on every lane.
    #[test]
    fn unrolled_diffusers_equal_the_plain_ones() {
        for n in [8usize, 12, 128, 1024] {
            let words: Vec<[u32; 3]> = (0..n)
                .map(|i| {
                    std::array::from_fn(|l| {
                        (i as u32 ^ 0x9E37_79B9).wrapping_mul(2_654_435_761 + l as u32)
                    })
                })
                .collect();
            let mut got = words.clone();
            diffuser_b(&mut got);
            diffuser_a(&mut got);
            for l in 0..3 {
                let mut want: Vec<u32> = words.iter().map(|w| w[l]).collect();
                undiffuse_any(&mut want);
                let lane: Vec<u32> = got.iter().map(|w| w[l]).collect();
                assert_eq!(lane, want, "{n} words, lane {l}");
            }
        }
    }

    /// Sectors decrypted eight at a time are those decrypted one at a time,
    /// for both key sizes and sector sizes, with batches cut short.
    #[test]
    fn side_by_side_equals_one_at_a_time() {
        for (key, sector) in [(32usize, 512usize), (64, 512), (32, 4096), (64, 4096)] {
            let k: Vec<u8> = (0..key).map(|i| (i * 7 + 3) as u8).collect();
            let c = SectorCipher::new("aes-cbc-elephant", &k).unwrap();
            for count in [1usize, 2, 7, 8, 9, 19] {
                let data: Vec<u8> = (0..sector * count)
                    .map(|i| (i * 131 % 253) as u8 ^ (i >> 9) as u8)
                    .collect();
                let first = 1000 + count as u64;
                let mut want = data.clone();
                for (i, s) in want.chunks_exact_mut(sector).enumerate() {
                    c.decrypt_sector(first + i as u64, s);
                }
                let mut got = data.clone();
                c.decrypt_sectors(sector, |i| first + i as u64, &mut got);
                assert_eq!(got, want, "{key}-byte key, {sector}-byte sectors, {count}");
                assert_ne!(got, data);
            }
        }
    }
}
