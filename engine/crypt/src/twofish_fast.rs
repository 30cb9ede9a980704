//! Twofish with key-dependent tables (decision 0015, amended 2026-12-06).
//!
//! The `twofish` crate computes every S-box and MDS product of the g
//! function byte by byte for every block: about 3 MB/s on this machine, so a
//! VeraCrypt volume in Twofish (alone or in one of its cascades) would take
//! a day to decrypt for every 250 GB. This is the same cipher with the
//! usual "full keying" of the Twofish paper (Schneier et al., 1998, §4.3 and
//! §7): the key-dependent S-boxes and the MDS matrix folded into four tables
//! of 256 words when the key is set, so g is four lookups and three XORs.
//! It is checked against the `twofish` crate on random keys of every length
//! and random blocks, and on the paper's known answer.

use cipher::consts::{U16, U32, U4};
use cipher::{
    Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, InvalidLength, Key, KeyInit,
    KeySizeUser, ParBlocks, ParBlocksSizeUser,
};

/// The nibble permutations t0..t3 that build q0 and q1 (the paper, §4.3.5).
const Q_NIBBLES: [[[u8; 16]; 4]; 2] = [
    [
        [8, 1, 7, 13, 6, 15, 3, 2, 0, 11, 5, 9, 14, 12, 10, 4],
        [14, 12, 11, 8, 1, 2, 3, 5, 15, 4, 10, 6, 7, 0, 9, 13],
        [11, 10, 5, 14, 6, 13, 9, 0, 12, 8, 15, 3, 2, 4, 7, 1],
        [13, 7, 15, 4, 1, 2, 6, 14, 9, 11, 3, 0, 8, 5, 12, 10],
    ],
    [
        [2, 8, 11, 13, 15, 7, 6, 14, 3, 1, 9, 4, 0, 10, 12, 5],
        [1, 14, 2, 11, 4, 12, 3, 7, 6, 13, 10, 5, 15, 9, 0, 8],
        [4, 12, 7, 5, 1, 6, 9, 10, 0, 14, 13, 8, 2, 11, 3, 15],
        [11, 9, 5, 1, 12, 3, 13, 14, 6, 4, 7, 15, 2, 0, 8, 10],
    ],
];

/// q0 (`which` 0) or q1 (1) of `x`.
fn q(which: usize, x: u8) -> u8 {
    let t = &Q_NIBBLES[which];
    let ror4 = |v: u8| ((v >> 1) | (v << 3)) & 15;
    let (a0, b0) = (x >> 4, x & 15);
    let (a1, b1) = (a0 ^ b0, (a0 ^ ror4(b0) ^ (a0 << 3)) & 15);
    let (a2, b2) = (t[0][a1 as usize], t[1][b1 as usize]);
    let (a3, b3) = (a2 ^ b2, (a2 ^ ror4(b2) ^ (a2 << 3)) & 15);
    let (a4, b4) = (t[2][a3 as usize], t[3][b3 as usize]);
    (b4 << 4) | a4
}

/// Multiplication in GF(2^8) modulo `poly` (with its x^8 term).
fn gf_mul(mut a: u8, mut b: u8, poly: u16) -> u8 {
    let mut r = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            r ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= (poly & 0xFF) as u8;
        }
        b >>= 1;
    }
    r
}

/// The MDS matrix (over x^8 + x^6 + x^5 + x^3 + 1).
const MDS: [[u8; 4]; 4] = [
    [0x01, 0xEF, 0x5B, 0x5B],
    [0x5B, 0xEF, 0xEF, 0x01],
    [0xEF, 0x5B, 0x01, 0xEF],
    [0xEF, 0x01, 0xEF, 0x5B],
];
const MDS_POLY: u16 = 0x169;
/// The Reed-Solomon matrix that makes the S vector (over x^8 + x^6 + x^3 +
/// x^2 + 1).
const RS: [[u8; 8]; 4] = [
    [0x01, 0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E],
    [0xA4, 0x56, 0x82, 0xF3, 0x1E, 0xC6, 0x68, 0xE5],
    [0x02, 0xA1, 0xFC, 0xC1, 0x47, 0xAE, 0x3D, 0x19],
    [0xA4, 0x55, 0x87, 0x5A, 0x58, 0xDB, 0x9E, 0x03],
];
const RS_POLY: u16 = 0x14D;

/// Column `j` of the MDS matrix times byte `v`, as a little-endian word.
fn mds_column(j: usize, v: u8) -> u32 {
    u32::from_le_bytes(std::array::from_fn(|i| gf_mul(MDS[i][j], v, MDS_POLY)))
}

/// The q permutations byte `j` of the input goes through in h, from the
/// innermost (used only with four key words) out; the paper's Figure 2.
const Q_ORDER: [[usize; 5]; 4] = [
    [1, 1, 0, 0, 1],
    [0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
    [1, 0, 1, 1, 0],
];

/// Byte `j` of h's input through its q permutations and the key words `l`
/// (`l[0]` outermost), before the MDS matrix.
fn h_byte(j: usize, x: u8, l: &[[u8; 4]]) -> u8 {
    let k = l.len();
    let mut y = x;
    // With k key words the chain starts at stage 4 - k (stages 0..4 take a
    // key byte after them; stage 4 is the last q).
    for (stage, key) in (4 - k..4).zip(l.iter().rev()) {
        y = q(Q_ORDER[j][stage], y) ^ key[j];
    }
    q(Q_ORDER[j][4], y)
}

/// The h function: `x`'s bytes through the q chains with key words `l`,
/// then the MDS matrix.
fn h(x: u32, l: &[[u8; 4]]) -> u32 {
    let b = x.to_le_bytes();
    (0..4).fold(0, |acc, j| acc ^ mds_column(j, h_byte(j, b[j], l)))
}

/// Twofish, keyed: the 40 round subkeys and g's four tables.
#[derive(Clone)]
pub struct Twofish {
    k: [u32; 40],
    g: Box<[[u32; 256]; 4]>,
}

impl Twofish {
    fn with_key(key: &[u8]) -> Twofish {
        let k = key.len() / 8;
        let words: Vec<[u8; 4]> = key
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        let even: Vec<[u8; 4]> = words.iter().step_by(2).copied().collect();
        let odd: Vec<[u8; 4]> = words.iter().skip(1).step_by(2).copied().collect();
        // The S vector: RS times each 8 key bytes, in reverse order.
        let s: Vec<[u8; 4]> = (0..k)
            .rev()
            .map(|i| {
                std::array::from_fn(|r| {
                    (0..8).fold(0u8, |acc, c| {
                        acc ^ gf_mul(RS[r][c], key[8 * i + c], RS_POLY)
                    })
                })
            })
            .collect();
        let rho = 0x0101_0101u32;
        let mut sub = [0u32; 40];
        for i in 0..20u32 {
            let a = h(2 * i * rho, &even);
            let b = h((2 * i + 1) * rho, &odd).rotate_left(8);
            sub[2 * i as usize] = a.wrapping_add(b);
            sub[2 * i as usize + 1] = a.wrapping_add(b.wrapping_mul(2)).rotate_left(9);
        }
        let mut g = Box::new([[0u32; 256]; 4]);
        for (j, table) in g.iter_mut().enumerate() {
            for (x, t) in table.iter_mut().enumerate() {
                *t = mds_column(j, h_byte(j, x as u8, &s));
            }
        }
        Twofish { k: sub, g }
    }

    #[inline(always)]
    fn g(&self, x: u32) -> u32 {
        let b = x.to_le_bytes();
        self.g[0][b[0] as usize]
            ^ self.g[1][b[1] as usize]
            ^ self.g[2][b[2] as usize]
            ^ self.g[3][b[3] as usize]
    }

    /// The round function of round `r` on `(a, b)`: the two words XORed
    /// into the other half.
    #[inline(always)]
    fn f(&self, a: u32, b: u32, r: usize) -> (u32, u32) {
        let t0 = self.g(a);
        let t1 = self.g(b.rotate_left(8));
        (
            t0.wrapping_add(t1).wrapping_add(self.k[2 * r + 8]),
            t0.wrapping_add(t1.wrapping_mul(2))
                .wrapping_add(self.k[2 * r + 9]),
        )
    }

    fn words(b: &[u8]) -> [u32; 4] {
        std::array::from_fn(|i| {
            u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        })
    }

    fn encrypt(&self, block: &[u8], out: &mut [u8]) {
        let p = Self::words(block);
        let mut r: [u32; 4] = std::array::from_fn(|i| p[i] ^ self.k[i]);
        for round in 0..16 {
            let (f0, f1) = self.f(r[0], r[1], round);
            let r2 = (r[2] ^ f0).rotate_right(1);
            let r3 = r[3].rotate_left(1) ^ f1;
            r = [r2, r3, r[0], r[1]];
        }
        // The last round's swap undone, then the output whitening.
        let c = [r[2], r[3], r[0], r[1]];
        for (i, w) in c.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&(w ^ self.k[4 + i]).to_le_bytes());
        }
    }

    fn decrypt(&self, block: &[u8], out: &mut [u8]) {
        let [p] = self.decrypt_n([Self::words(block)]);
        for (i, v) in p.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
    }

    /// `N` blocks (as words) decrypted round by round together: each
    /// block's rounds are a chain of table lookups, and `N` independent
    /// chains keep the core's load units busy.
    #[inline(always)]
    fn decrypt_n<const N: usize>(&self, c: [[u32; 4]; N]) -> [[u32; 4]; N] {
        // Back to the state after round 16, before its swap was undone.
        let mut r: [[u32; 4]; N] = std::array::from_fn(|b| {
            let w: [u32; 4] = std::array::from_fn(|i| c[b][i] ^ self.k[4 + i]);
            [w[2], w[3], w[0], w[1]]
        });
        for round in (0..16).rev() {
            for s in r.iter_mut() {
                // s is [r2', r3', r0, r1] of that round.
                let (f0, f1) = self.f(s[2], s[3], round);
                let r2 = s[0].rotate_left(1) ^ f0;
                let r3 = (s[1] ^ f1).rotate_right(1);
                *s = [s[2], s[3], r2, r3];
            }
        }
        r.map(|s| std::array::from_fn(|i| s[i] ^ self.k[i]))
    }
}

impl KeySizeUser for Twofish {
    type KeySize = U32;
}

impl KeyInit for Twofish {
    fn new(key: &Key<Self>) -> Self {
        Self::with_key(key)
    }

    fn new_from_slice(key: &[u8]) -> Result<Self, InvalidLength> {
        match key.len() {
            16 | 24 | 32 => Ok(Self::with_key(key)),
            _ => Err(InvalidLength),
        }
    }
}

impl BlockSizeUser for Twofish {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Twofish {
    // Four blocks decrypted together (`decrypt_n`).
    type ParBlocksSize = U4;
}

impl BlockCipherEncrypt for Twofish {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Twofish {
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let input = *block.get_in();
        self.encrypt(&input, block.get_out());
    }
}

impl BlockCipherDecrypt for Twofish {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U16>) {
        f.call(self)
    }
}

impl BlockCipherDecBackend for Twofish {
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let input = *block.get_in();
        self.decrypt(&input, block.get_out());
    }

    fn decrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let input: [[u32; 4]; 4] =
            std::array::from_fn(|b| Self::words(&blocks.get(b).get_in()[..]));
        let out = self.decrypt_n(input);
        for (b, words) in out.iter().enumerate() {
            let mut blk = blocks.get(b);
            let o = blk.get_out();
            for (i, v) in words.iter().enumerate() {
                o[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::Array;

    #[test]
    fn the_q_permutations_and_the_papers_known_answer() {
        assert_eq!((q(0, 0), q(1, 0)), (0xA9, 0x75));
        // q0 and q1 are permutations.
        for w in 0..2 {
            let mut seen = [false; 256];
            (0..=255u8).for_each(|x| seen[q(w, x) as usize] = true);
            assert!(seen.iter().all(|&s| s));
        }
        // 128-bit zero key, zero block (the paper's first known answer).
        let c = Twofish::new_from_slice(&[0; 16]).unwrap();
        let mut b = Array::from([0u8; 16]);
        BlockCipherEncrypt::encrypt_block(&c, &mut b);
        let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
        assert_eq!(hex, "9F589F5CF6122C32B6BFEC2F2AE8C35A");
        BlockCipherDecrypt::decrypt_block(&c, &mut b);
        assert_eq!(b, Array::from([0u8; 16]));
    }

    /// Blocks decrypted four at a time (and a tail of three) are the
    /// crate's, one at a time.
    #[test]
    fn four_at_a_time_equals_the_crate() {
        let mut r = dredge_testkit::Rng::new(5);
        let key: Vec<u8> = (0..32).map(|_| r.next() as u8).collect();
        let ours = Twofish::new_from_slice(&key).unwrap();
        let theirs = twofish::Twofish::new_from_slice(&key).unwrap();
        let blocks: Vec<Array<u8, U16>> = (0..11)
            .map(|_| Array::from(std::array::from_fn::<u8, 16, _>(|_| r.next() as u8)))
            .collect();
        let (mut a, mut b) = (blocks.clone(), blocks);
        BlockCipherDecrypt::decrypt_blocks(&ours, &mut a);
        BlockCipherDecrypt::decrypt_blocks(&theirs, &mut b);
        assert_eq!(a, b);
    }

    /// The same cipher as the `twofish` crate, for every key length.
    #[test]
    fn equals_the_twofish_crate() {
        let mut r = dredge_testkit::Rng::new(11);
        for len in [16usize, 24, 32] {
            for _ in 0..40 {
                let key: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
                let (ours, theirs) = (
                    Twofish::new_from_slice(&key).unwrap(),
                    twofish::Twofish::new_from_slice(&key).unwrap(),
                );
                let block: [u8; 16] = std::array::from_fn(|_| r.next() as u8);
                let (mut a, mut b) = (Array::from(block), Array::from(block));
                BlockCipherEncrypt::encrypt_block(&ours, &mut a);
                BlockCipherEncrypt::encrypt_block(&theirs, &mut b);
                assert_eq!(a, b, "encrypt, {len}-byte key");
                BlockCipherDecrypt::decrypt_block(&ours, &mut a);
                BlockCipherDecrypt::decrypt_block(&theirs, &mut b);
                assert_eq!(a, Array::from(block));
                assert_eq!(b, Array::from(block));
                let (mut a, mut b) = (Array::from(block), Array::from(block));
                BlockCipherDecrypt::decrypt_block(&ours, &mut a);
                BlockCipherDecrypt::decrypt_block(&theirs, &mut b);
                assert_eq!(a, b, "decrypt, {len}-byte key");
            }
        }
    }
}
