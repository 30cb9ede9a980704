//! Serpent decrypting many blocks side by side (decision 0015, amended
//! 2026-12-07).
//!
//! The `serpent` crate runs one block at a time: about 90 MB/s on this
//! machine, so a 1 TB VeraCrypt volume in Serpent (alone or in one of its
//! cascades) takes over three hours to read. Serpent's "bitslice" form works on
//! four 32-bit words with boolean operations only, so the same operations run
//! on the same word of many blocks at once. Here each word is an array of
//! `L` lanes (one block per lane) that the compiler turns into vector
//! instructions: 16 lanes with AVX-512, 8 with AVX2 (chosen when the program
//! runs), 4 otherwise.
//!
//! The eight S-boxes (and their inverses) are evaluated from their algebraic
//! normal form, worked out here from the tables of the Serpent paper
//! (Anderson, Biham, Knudsen, 1998): every output bit is the XOR of products
//! of input bits, with the products shared between the four outputs. That
//! takes more operations per S-box than hand-made circuits, but one operation
//! does sixteen blocks. The key schedule is the paper's. Checked against the
//! `serpent` crate on random keys of every length, one block and many.

use cipher::consts::{U16, U32};
use cipher::{
    Block, BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOut, InvalidLength, Key, KeyInit,
    KeySizeUser, ParBlocks, ParBlocksSizeUser,
};

/// S0..S7 of the paper.
const SBOX: [[u8; 16]; 8] = [
    [3, 8, 15, 1, 10, 6, 5, 11, 14, 13, 4, 2, 7, 0, 9, 12],
    [15, 12, 2, 7, 9, 0, 5, 10, 1, 11, 14, 8, 6, 13, 3, 4],
    [8, 6, 7, 9, 3, 12, 10, 15, 13, 1, 14, 4, 0, 11, 5, 2],
    [0, 15, 11, 8, 12, 9, 6, 3, 13, 1, 2, 4, 10, 7, 5, 14],
    [1, 15, 8, 3, 12, 0, 11, 6, 2, 5, 4, 10, 9, 14, 7, 13],
    [15, 5, 2, 11, 4, 10, 9, 12, 0, 3, 14, 8, 13, 6, 7, 1],
    [7, 2, 12, 5, 8, 4, 6, 11, 14, 9, 1, 15, 13, 3, 10, 0],
    [1, 13, 15, 0, 14, 8, 2, 11, 7, 4, 12, 10, 9, 3, 5, 6],
];

const PHI: u32 = 0x9e37_79b9;

/// The inverse of a 4-bit permutation.
const fn inverse(s: [u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[s[i] as usize] = i as u8;
        i += 1;
    }
    out
}

/// The algebraic normal form of each output bit of `s`: bit `m` of entry `j`
/// set when the product of the input bits in mask `m` is a term of output
/// bit `j` (mask 0: the constant 1). The Möbius transform of each bit's
/// truth table.
const fn anf(s: [u8; 16]) -> [u16; 4] {
    let mut out = [0u16; 4];
    let mut j = 0;
    while j < 4 {
        let mut f = [0u8; 16];
        let mut x = 0;
        while x < 16 {
            f[x] = (s[x] >> j) & 1;
            x += 1;
        }
        let mut bit = 1;
        while bit < 16 {
            let mut x = 0;
            while x < 16 {
                if x & bit != 0 {
                    f[x] ^= f[x ^ bit];
                }
                x += 1;
            }
            bit <<= 1;
        }
        let mut m = 0;
        while m < 16 {
            out[j] |= (f[m] as u16) << m;
            m += 1;
        }
        j += 1;
    }
    out
}

/// Forms 0..7: S0..S7; 8..15: their inverses.
const FORMS: [[u16; 4]; 16] = {
    let mut t = [[0u16; 4]; 16];
    let mut i = 0;
    while i < 8 {
        t[i] = anf(SBOX[i]);
        t[8 + i] = anf(inverse(SBOX[i]));
        i += 1;
    }
    t
};

/// One 32-bit word of several blocks, one block per lane.
trait Lane: Copy {
    const N: usize;
    fn splat(v: u32) -> Self;
    fn load(words: &[u32]) -> Self;
    fn store(self, words: &mut [u32]);
    fn and(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn shl(self, n: u32) -> Self;
    fn rotl(self, n: u32) -> Self;
}

/// Portable lanes: the compiler's own vectors, or one block (`L` = 1) for
/// the key schedule and single blocks.
impl<const L: usize> Lane for [u32; L] {
    const N: usize = L;
    #[inline(always)]
    fn splat(v: u32) -> Self {
        [v; L]
    }
    #[inline(always)]
    fn load(words: &[u32]) -> Self {
        let mut a = [0; L];
        a.copy_from_slice(&words[..L]);
        a
    }
    #[inline(always)]
    fn store(self, words: &mut [u32]) {
        words[..L].copy_from_slice(&self);
    }
    #[inline(always)]
    fn and(mut self, o: Self) -> Self {
        for i in 0..L {
            self[i] &= o[i];
        }
        self
    }
    #[inline(always)]
    fn xor(mut self, o: Self) -> Self {
        for i in 0..L {
            self[i] ^= o[i];
        }
        self
    }
    #[inline(always)]
    fn shl(mut self, n: u32) -> Self {
        for v in self.iter_mut() {
            *v <<= n;
        }
        self
    }
    #[inline(always)]
    fn rotl(mut self, n: u32) -> Self {
        for v in self.iter_mut() {
            *v = v.rotate_left(n);
        }
        self
    }
}

/// AVX-512 and AVX2 lanes: 16 and 8 blocks per instruction.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::*;

    // SAFETY (every `unsafe` below): values of these types are made only
    // inside `Serpent::decrypt16_avx512` / `_avx2`, which run after a run-time
    // check that the processor has the feature, and these methods are
    // always inlined into them; the loads and stores take exactly the
    // lanes' words from slices checked to hold them.
    #[derive(Clone, Copy)]
    pub(super) struct Z(__m512i);
    #[derive(Clone, Copy)]
    pub(super) struct Y(__m256i);

    impl super::Lane for Z {
        const N: usize = 16;
        #[inline(always)]
        fn splat(v: u32) -> Self {
            Z(unsafe { _mm512_set1_epi32(v as i32) })
        }
        #[inline(always)]
        fn load(w: &[u32]) -> Self {
            assert!(w.len() >= 16);
            Z(unsafe { _mm512_loadu_si512(w.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, w: &mut [u32]) {
            assert!(w.len() >= 16);
            unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            Z(unsafe { _mm512_and_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            Z(unsafe { _mm512_xor_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn shl(self, n: u32) -> Self {
            Z(unsafe { _mm512_sllv_epi32(self.0, _mm512_set1_epi32(n as i32)) })
        }
        #[inline(always)]
        fn rotl(self, n: u32) -> Self {
            Z(unsafe { _mm512_rolv_epi32(self.0, _mm512_set1_epi32(n as i32)) })
        }
    }

    impl super::Lane for Y {
        const N: usize = 8;
        #[inline(always)]
        fn splat(v: u32) -> Self {
            Y(unsafe { _mm256_set1_epi32(v as i32) })
        }
        #[inline(always)]
        fn load(w: &[u32]) -> Self {
            assert!(w.len() >= 8);
            Y(unsafe { _mm256_loadu_si256(w.as_ptr().cast()) })
        }
        #[inline(always)]
        fn store(self, w: &mut [u32]) {
            assert!(w.len() >= 8);
            unsafe { _mm256_storeu_si256(w.as_mut_ptr().cast(), self.0) }
        }
        #[inline(always)]
        fn and(self, o: Self) -> Self {
            Y(unsafe { _mm256_and_si256(self.0, o.0) })
        }
        #[inline(always)]
        fn xor(self, o: Self) -> Self {
            Y(unsafe { _mm256_xor_si256(self.0, o.0) })
        }
        #[inline(always)]
        fn shl(self, n: u32) -> Self {
            Y(unsafe { _mm256_sllv_epi32(self.0, _mm256_set1_epi32(n as i32)) })
        }
        #[inline(always)]
        fn rotl(self, n: u32) -> Self {
            Y(unsafe {
                _mm256_or_si256(
                    _mm256_sllv_epi32(self.0, _mm256_set1_epi32(n as i32)),
                    _mm256_srlv_epi32(self.0, _mm256_set1_epi32(32 - n as i32)),
                )
            })
        }
    }
}

/// An S-box given by its algebraic normal form (`A`..`D`: the terms of
/// output bits 0..3, as in [`FORMS`]) on the four words of a batch of
/// blocks: each bit position of the words is one 4-bit input, word 0 its
/// lowest bit. The forms are constants, so each copy keeps only the XORs of
/// its own terms.
#[inline(always)]
fn sbox<const A: u16, const B: u16, const C: u16, const D: u16, V: Lane>(
    [x0, x1, x2, x3]: [V; 4],
) -> [V; 4] {
    // Every product of input bits, by mask (0: the constant 1).
    let m3 = x0.and(x1);
    let m5 = x0.and(x2);
    let m6 = x1.and(x2);
    let m7 = m3.and(x2);
    let mono = [
        V::splat(u32::MAX),
        x0,
        x1,
        m3,
        x2,
        m5,
        m6,
        m7,
        x3,
        x0.and(x3),
        x1.and(x3),
        m3.and(x3),
        x2.and(x3),
        m5.and(x3),
        m6.and(x3),
        m7.and(x3),
    ];
    // The vector paths take the products inlined: a closure is not always
    // inlined, and out of line it lacks the vector instructions its caller
    // enables (the AVX2 path's XORs became calls, at a third of its speed).
    // The portable lanes keep a closure, which the compiler leaves apart and
    // vectorises better (inlined, they ran at half their speed).
    if V::N > 4 {
        return [
            terms(&mono, A),
            terms(&mono, B),
            terms(&mono, C),
            terms(&mono, D),
        ];
    }
    let out = |form: u16| {
        let mut acc = V::splat(0);
        for (m, v) in mono.iter().enumerate() {
            if form >> m & 1 == 1 {
                acc = acc.xor(*v);
            }
        }
        acc
    };
    [out(A), out(B), out(C), out(D)]
}

/// The XOR of the products `form` names.
#[inline(always)]
fn terms<V: Lane>(mono: &[V; 16], form: u16) -> V {
    let mut acc = V::splat(0);
    for (m, v) in mono.iter().enumerate() {
        if form >> m & 1 == 1 {
            acc = acc.xor(*v);
        }
    }
    acc
}

/// Form `F` of [`FORMS`] as its specialised copy.
macro_rules! form {
    ($f:expr, $x:expr) => {
        sbox::<{ FORMS[$f][0] }, { FORMS[$f][1] }, { FORMS[$f][2] }, { FORMS[$f][3] }, V>($x)
    };
}

/// The S-box of round `r` (`inv`: its inverse), chosen at run time from
/// specialised copies.
#[inline(always)]
fn sbox_of<V: Lane>(r: usize, inv: bool, x: [V; 4]) -> [V; 4] {
    match (r % 8) + if inv { 8 } else { 0 } {
        0 => form!(0, x),
        1 => form!(1, x),
        2 => form!(2, x),
        3 => form!(3, x),
        4 => form!(4, x),
        5 => form!(5, x),
        6 => form!(6, x),
        7 => form!(7, x),
        8 => form!(8, x),
        9 => form!(9, x),
        10 => form!(10, x),
        11 => form!(11, x),
        12 => form!(12, x),
        13 => form!(13, x),
        14 => form!(14, x),
        _ => form!(15, x),
    }
}

/// The linear transformation between rounds.
#[inline(always)]
fn lt<V: Lane>([mut a, mut b, mut c, mut d]: [V; 4]) -> [V; 4] {
    a = a.rotl(13);
    c = c.rotl(3);
    b = b.xor(a).xor(c);
    d = d.xor(c).xor(a.shl(3));
    b = b.rotl(1);
    d = d.rotl(7);
    a = a.xor(b).xor(d);
    c = c.xor(d).xor(b.shl(7));
    a = a.rotl(5);
    c = c.rotl(22);
    [a, b, c, d]
}

/// Its inverse, each step undone in reverse order.
#[inline(always)]
fn lt_inv<V: Lane>([mut a, mut b, mut c, mut d]: [V; 4]) -> [V; 4] {
    c = c.rotl(32 - 22);
    a = a.rotl(32 - 5);
    c = c.xor(d).xor(b.shl(7));
    a = a.xor(b).xor(d);
    d = d.rotl(32 - 7);
    b = b.rotl(32 - 1);
    d = d.xor(c).xor(a.shl(3));
    b = b.xor(a).xor(c);
    c = c.rotl(32 - 3);
    a = a.rotl(32 - 13);
    [a, b, c, d]
}

#[inline(always)]
fn add_key<V: Lane>([a, b, c, d]: [V; 4], k: [u32; 4]) -> [V; 4] {
    [
        a.xor(V::splat(k[0])),
        b.xor(V::splat(k[1])),
        c.xor(V::splat(k[2])),
        d.xor(V::splat(k[3])),
    ]
}

#[derive(Clone)]
pub struct Serpent {
    /// K0..K32, each four words.
    rk: [[u32; 4]; 33],
}

impl Serpent {
    fn with_key(key: &[u8]) -> Serpent {
        // The key as 256 bits, little-endian words; a shorter key is followed
        // by a single 1 bit.
        let mut k = [0u8; 32];
        k[..key.len()].copy_from_slice(key);
        if key.len() < 32 {
            k[key.len()] = 1;
        }
        let mut w = [0u32; 140];
        for (i, c) in k.chunks_exact(4).enumerate() {
            w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 8..140 {
            w[i] =
                (w[i - 8] ^ w[i - 5] ^ w[i - 3] ^ w[i - 1] ^ PHI ^ (i as u32 - 8)).rotate_left(11);
        }
        let mut rk = [[0u32; 4]; 33];
        for (i, r) in rk.iter_mut().enumerate() {
            let x: [[u32; 1]; 4] = std::array::from_fn(|j| [w[8 + 4 * i + j]]);
            // K_i takes S-box (3 - i) mod 8.
            let y = sbox_of((35 - i) % 8, false, x);
            *r = std::array::from_fn(|j| y[j][0]);
        }
        Serpent { rk }
    }

    #[inline(always)]
    fn encrypt_lanes<V: Lane>(&self, mut x: [V; 4]) -> [V; 4] {
        for r in 0..31 {
            x = lt(sbox_of(r, false, add_key(x, self.rk[r])));
        }
        add_key(sbox_of(31, false, add_key(x, self.rk[31])), self.rk[32])
    }

    #[inline(always)]
    fn decrypt_lanes<V: Lane>(&self, x: [V; 4]) -> [V; 4] {
        let mut x = add_key(sbox_of(31, true, add_key(x, self.rk[32])), self.rk[31]);
        for r in (0..31).rev() {
            x = add_key(sbox_of(r, true, lt_inv(x)), self.rk[r]);
        }
        x
    }

    /// `V::N` blocks of `blocks` from bytes into lanes, decrypted, and back.
    #[inline(always)]
    fn decrypt_bytes<V: Lane>(&self, blocks: &mut [[u8; 16]]) {
        let n = V::N;
        let mut words = [[0u32; 16]; 4];
        for (b, block) in blocks[..n].iter().enumerate() {
            for (w, word) in words.iter_mut().enumerate() {
                let s = &block[4 * w..4 * w + 4];
                word[b] = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        let x: [V; 4] = std::array::from_fn(|w| V::load(&words[w]));
        let y = self.decrypt_lanes(x);
        for (w, v) in y.into_iter().enumerate() {
            v.store(&mut words[w]);
        }
        for (b, block) in blocks[..n].iter_mut().enumerate() {
            for (w, word) in words.iter().enumerate() {
                block[4 * w..4 * w + 4].copy_from_slice(&word[b].to_le_bytes());
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn decrypt16_avx512(&self, blocks: &mut [[u8; 16]; 16]) {
        self.decrypt_bytes::<wide::Z>(blocks)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn decrypt16_avx2(&self, blocks: &mut [[u8; 16]; 16]) {
        let (a, b) = blocks.split_at_mut(8);
        self.decrypt_bytes::<wide::Y>(a);
        self.decrypt_bytes::<wide::Y>(b);
    }

    /// Sixteen blocks, with the widest vectors this processor has.
    fn decrypt16(&self, blocks: &mut [[u8; 16]; 16]) {
        #[cfg(target_arch = "x86_64")]
        {
            let w = width();
            if w >= 16 && std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the processor has AVX-512F, checked just above.
                return unsafe { self.decrypt16_avx512(blocks) };
            }
            if w >= 8 && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor has AVX2, checked just above.
                return unsafe { self.decrypt16_avx2(blocks) };
            }
        }
        for four in blocks.chunks_exact_mut(4) {
            self.decrypt_bytes::<[u32; 4]>(four);
        }
    }

    fn one(&self, block: &[u8], encrypt: bool) -> [u8; 16] {
        let x: [[u32; 1]; 4] = std::array::from_fn(|w| {
            [u32::from_le_bytes([
                block[4 * w],
                block[4 * w + 1],
                block[4 * w + 2],
                block[4 * w + 3],
            ])]
        });
        let y = if encrypt {
            self.encrypt_lanes(x)
        } else {
            self.decrypt_lanes(x)
        };
        let mut out = [0u8; 16];
        for w in 0..4 {
            out[4 * w..4 * w + 4].copy_from_slice(&y[w][0].to_le_bytes());
        }
        out
    }
}

impl KeySizeUser for Serpent {
    type KeySize = U32;
}

impl KeyInit for Serpent {
    fn new(key: &Key<Self>) -> Self {
        Self::with_key(key)
    }

    fn new_from_slice(key: &[u8]) -> Result<Self, InvalidLength> {
        match key.len() {
            16..=32 => Ok(Self::with_key(key)),
            _ => Err(InvalidLength),
        }
    }
}

impl BlockSizeUser for Serpent {
    type BlockSize = U16;
}

impl ParBlocksSizeUser for Serpent {
    // Sixteen blocks decrypted together (`decrypt16`).
    type ParBlocksSize = U16;
}

impl BlockCipherEncrypt for Serpent {
    fn encrypt_with_backend(&self, f: impl BlockCipherEncClosure<BlockSize = U16>) {
        f.call(self)
    }
}

impl BlockCipherEncBackend for Serpent {
    fn encrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let out = self.one(&block.get_in()[..], true);
        block.get_out().copy_from_slice(&out);
    }
}

impl BlockCipherDecrypt for Serpent {
    fn decrypt_with_backend(&self, f: impl BlockCipherDecClosure<BlockSize = U16>) {
        f.call(self)
    }
}

impl BlockCipherDecBackend for Serpent {
    fn decrypt_block(&self, mut block: InOut<'_, '_, Block<Self>>) {
        let out = self.one(&block.get_in()[..], false);
        block.get_out().copy_from_slice(&out);
    }

    fn decrypt_par_blocks(&self, mut blocks: InOut<'_, '_, ParBlocks<Self>>) {
        let mut b: [[u8; 16]; 16] = std::array::from_fn(|i| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&blocks.get(i).get_in()[..]);
            a
        });
        self.decrypt16(&mut b);
        for (i, v) in b.iter().enumerate() {
            blocks.get(i).get_out().copy_from_slice(v);
        }
    }
}

/// The widest vectors (in 32-bit lanes) the sixteen-block path may use: 16
/// (AVX-512) unless `DREDGE_SERPENT_LANES` says 8 (AVX2) or 4 (no vector
/// instructions), read once: the speed benchmark measures each path on a
/// processor that has the wider ones, and the result is the same.
fn width() -> u32 {
    static W: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *W.get_or_init(|| {
        std::env::var("DREDGE_SERPENT_LANES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cipher::Array;

    #[test]
    fn the_forms_give_back_the_tables() {
        for (i, s) in SBOX.iter().enumerate() {
            for n in 0..16u32 {
                let x: [[u32; 1]; 4] =
                    std::array::from_fn(|k| [if n >> k & 1 == 1 { u32::MAX } else { 0 }]);
                let y = sbox_of(i, false, x);
                let got = (0..4).fold(0u8, |a, k| a | (((y[k][0] & 1) as u8) << k));
                assert_eq!(got, s[n as usize], "S{i}({n})");
                let z = sbox_of(i, true, y);
                assert_eq!(z, x, "S{i} inverse");
            }
        }
    }

    /// The same cipher as the `serpent` crate, for every key length, one
    /// block at a time both ways and sixteen at a time.
    #[test]
    fn equals_the_serpent_crate() {
        let mut r = dredge_testkit::Rng::new(23);
        for len in [16usize, 20, 24, 31, 32] {
            for _ in 0..20 {
                let key: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
                let (ours, theirs) = (
                    Serpent::new_from_slice(&key).unwrap(),
                    serpent::Serpent::new_from_slice(&key).unwrap(),
                );
                let block: [u8; 16] = std::array::from_fn(|_| r.next() as u8);
                let (mut a, mut b) = (Array::from(block), Array::from(block));
                BlockCipherEncrypt::encrypt_block(&ours, &mut a);
                BlockCipherEncrypt::encrypt_block(&theirs, &mut b);
                assert_eq!(a, b, "encrypt, {len}-byte key");
                let (mut a, mut b) = (Array::from(block), Array::from(block));
                BlockCipherDecrypt::decrypt_block(&ours, &mut a);
                BlockCipherDecrypt::decrypt_block(&theirs, &mut b);
                assert_eq!(a, b, "decrypt, {len}-byte key");
                // 37 blocks: two batches of sixteen and a tail of five.
                let many: Vec<Array<u8, U16>> = (0..37)
                    .map(|_| Array::from(std::array::from_fn::<u8, 16, _>(|_| r.next() as u8)))
                    .collect();
                let (mut a, mut b) = (many.clone(), many);
                BlockCipherDecrypt::decrypt_blocks(&ours, &mut a);
                BlockCipherDecrypt::decrypt_blocks(&theirs, &mut b);
                assert_eq!(a, b, "many blocks, {len}-byte key");
            }
        }
    }

    /// Every vector width gives the crate's result (the run-time choice
    /// takes only the widest this processor has).
    #[test]
    fn every_width_agrees() {
        let mut r = dredge_testkit::Rng::new(29);
        let key: Vec<u8> = (0..32).map(|_| r.next() as u8).collect();
        let ours = Serpent::new_from_slice(&key).unwrap();
        let theirs = serpent::Serpent::new_from_slice(&key).unwrap();
        let blocks: [[u8; 16]; 16] =
            std::array::from_fn(|_| std::array::from_fn(|_| r.next() as u8));
        let mut want = blocks;
        for b in want.iter_mut() {
            let mut a = Array::from(*b);
            BlockCipherDecrypt::decrypt_block(&theirs, &mut a);
            b.copy_from_slice(&a);
        }
        let mut four = blocks;
        for c in four.chunks_exact_mut(4) {
            ours.decrypt_bytes::<[u32; 4]>(c);
        }
        assert_eq!(four, want);
        let mut sixteen = blocks;
        ours.decrypt_bytes::<[u32; 16]>(&mut sixteen);
        assert_eq!(sixteen, want);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let mut eight = blocks;
            // SAFETY: the processor has AVX2, checked just above.
            unsafe { ours.decrypt16_avx2(&mut eight) };
            assert_eq!(eight, want);
        }
        let mut chosen = blocks;
        ours.decrypt16(&mut chosen);
        assert_eq!(chosen, want);
    }
}
