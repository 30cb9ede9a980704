//! TrueCrypt's legacy sector modes, as dm-crypt implements them for
//! `cryptsetup tcryptOpen`:
//! - `lrw-benbi` (TrueCrypt 4.1 to 4.3): LRW (Liskov, Rivest, Wagner; IEEE
//!   P1619 draft) with the block's index from 1 as the tweak;
//! - `cbc-tcw` (TrueCrypt 1.0 to 4.0): CBC with an IV from a seed and the
//!   sector number, and the ciphertext "whitened" with 8 bytes derived from a
//!   second seed and the sector number by CRC-32.
//!
//! No RustCrypto crate implements either mode; the block ciphers are still
//! the RustCrypto crates', and the modes are checked against the published
//! LRW vectors and against TrueCrypt 1.0 images (decision 0015).

use crate::sector::{key, Block16, Sectors, Unsupported};
use cipher::{Array, BlockModeDecrypt, InnerIvInit, KeyInit};

/// Multiplies by x in GF(2^128) mod x^128 + x^7 + x^2 + x + 1, the field
/// element held as a big-endian integer (the kernel's "bbe" order: the block
/// 00…01 is 1).
fn times_x(a: u128) -> u128 {
    (a << 1) ^ if a >> 127 == 1 { 0x87 } else { 0 }
}

fn gf_mul(mut a: u128, mut b: u128) -> u128 {
    let mut r = 0;
    while b != 0 {
        if b & 1 == 1 {
            r ^= a;
        }
        a = times_x(a);
        b >>= 1;
    }
    r
}

/// LRW over block cipher `C`: each block is XORed with T = K2 ⊗ I before
/// and after the cipher, I the block's index. From one block to the next
/// I + 1 differs from I in its trailing ones and the bit above them, so T
/// changes by K2 ⊗ (2^(t+1) − 1), t = trailing ones of I: one table lookup
/// instead of a multiplication per block.
struct LrwOf<C> {
    data: C,
    k2: u128,
    step: Box<[u128; 128]>,
}

impl<C: Block16> Sectors for LrwOf<C> {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        let mut i = u128::from_be_bytes(iv);
        let mut t = gf_mul(self.k2, i);
        let (blocks, _) = Array::<u8, cipher::consts::U16>::slice_as_chunks_mut(data);
        for b in blocks.iter_mut() {
            let tb = t.to_be_bytes();
            let mut x = u128::from_be_bytes((*b).into()) ^ t;
            *b = Array::from(x.to_be_bytes());
            self.data.decrypt_block(b);
            x = u128::from_be_bytes((*b).into());
            *b = Array::from((x ^ u128::from_be_bytes(tb)).to_be_bytes());
            t ^= self.step[i.trailing_ones().min(127) as usize];
            i = i.wrapping_add(1);
        }
    }
}

/// `lrw` keyed with `k`: the cipher's key, then the 16-byte tweak key.
pub(crate) fn lrw<C>(k: &[u8]) -> Result<Box<dyn Sectors>, Unsupported>
where
    C: Block16 + KeyInit + 'static,
{
    let Some(split) = k.len().checked_sub(16) else {
        return Err(Unsupported("an LRW key shorter than its tweak key".into()));
    };
    let (a, b) = k.split_at(split);
    let k2 = u128::from_be_bytes(
        b.try_into()
            .map_err(|_| Unsupported("LRW tweak key".into()))?,
    );
    let step = Box::new(std::array::from_fn(|t| {
        let mask = if t == 127 {
            u128::MAX
        } else {
            (1u128 << (t + 1)) - 1
        };
        gf_mul(k2, mask)
    }));
    Ok(Box::new(LrwOf {
        data: key::<C>(a)?,
        k2,
        step,
    }))
}

/// CBC with TrueCrypt's whitening (`tcw`): the IV is the seed XOR the
/// sector number (little-endian, in both halves); before CBC each 8 bytes of
/// the ciphertext lose an 8-byte whitening made from the whitening seed XOR
/// the sector number, folded by CRC-32 of each of its four 32-bit words.
struct TcwOf<C> {
    data: C,
    seed: [u8; 16],
    white: [u8; 16],
}

/// The 8 whitening bytes of `sector`. (The CRC's initial value and final
/// inversion cancel in the XOR of two words, so any CRC-32 convention gives
/// the same bytes.)
fn whitening(white: &[u8; 16], sector: u64) -> [u8; 8] {
    let s = sector.to_le_bytes();
    let mut buf = *white;
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= s[i % 8];
    }
    let w: [u32; 4] = std::array::from_fn(|i| dredge_core::checksum::crc32(&buf[4 * i..4 * i + 4]));
    let (lo, hi) = (w[0] ^ w[3], w[1] ^ w[2]);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&lo.to_le_bytes());
    out[4..].copy_from_slice(&hi.to_le_bytes());
    out
}

impl<C: Block16> Sectors for TcwOf<C> {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        let mut n = [0u8; 8];
        n.copy_from_slice(&iv[..8]);
        let sector = u64::from_le_bytes(n);
        let w = whitening(&self.white, sector);
        for chunk in data.chunks_exact_mut(8) {
            for (c, x) in chunk.iter_mut().zip(w) {
                *c ^= x;
            }
        }
        let mut iv = self.seed;
        for (i, b) in iv.iter_mut().enumerate() {
            *b ^= n[i % 8];
        }
        let mut mode = cbc::Decryptor::<C>::inner_iv_init(self.data.clone(), &Array::from(iv));
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        mode.decrypt_blocks(blocks);
    }
}

/// `cbc-tcw` keyed with `k`: the cipher's key, the 16-byte IV seed, the
/// 16-byte whitening seed.
pub(crate) fn tcw<C>(k: &[u8]) -> Result<Box<dyn Sectors>, Unsupported>
where
    C: Block16 + KeyInit + 'static,
{
    let Some(split) = k.len().checked_sub(32) else {
        return Err(Unsupported("a CBC-TCW key shorter than its seeds".into()));
    };
    let (a, rest) = k.split_at(split);
    let (mut seed, mut white) = ([0u8; 16], [0u8; 16]);
    seed.copy_from_slice(&rest[..16]);
    white.copy_from_slice(&rest[16..]);
    Ok(Box::new(TcwOf {
        data: key::<C>(a)?,
        seed,
        white,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sector::SectorCipher;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// The LRW-AES vectors of the IEEE P1619 draft (Cyril Guyot, as
    /// LibTomCrypt's lrw_test.c and the kernel's testmgr carry them), with
    /// the tweak key in the kernel's bit order: index 1 gives T = K2, index
    /// 2 gives T = K2 ⊗ x.
    #[test]
    fn lrw_matches_the_p1619_vectors() {
        let p = hex("30313233343536373839414243444546");
        for (k1, k2, index, c) in [
            (
                "4562ac25f828176d4c268414b5680185",
                "258e2a05e73e9d03ee5a830ccc094c87",
                1u64,
                "f1b273cd65a3df5fe95d489254634eb8",
            ),
            (
                "59704714f557478cd779e80f54887944",
                "0d48f0b7b15a53ea1caa6b29c2cafbaf",
                2,
                "00c82bae95bbcde5274f0769b260e136",
            ),
        ] {
            let key = [hex(k1), hex(k2)].concat();
            let lrw = lrw::<aes::Aes128>(&key).unwrap();
            let mut iv = [0u8; 16];
            iv[8..].copy_from_slice(&index.to_be_bytes());
            let mut data = hex(c);
            lrw.decrypt(iv, &mut data);
            assert_eq!(data, p, "LRW index {index}");
        }
        // T for index 2 is K2 ⊗ x, as the draft's second vector gives it.
        assert_eq!(
            gf_mul(0x0d48f0b7b15a53ea1caa6b29c2cafbaf, 2),
            0x1a91e16f62b4a7d43954d6538595f75e
        );
    }

    /// The table step equals a multiplication per block, across index
    /// carries (…ff → …00) and the top of the counter.
    #[test]
    fn lrw_steps_equal_multiplying_every_block() {
        let key: Vec<u8> = (0..48u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let lrw = lrw::<aes::Aes256>(&key).unwrap();
        let k2 = u128::from_be_bytes(key[32..].try_into().unwrap());
        let cipher = aes::Aes256::new_from_slice(&key[..32]).unwrap();
        for start in [1u128, 0xff, 0xffff_fffe, u128::MAX - 3] {
            let data: Vec<u8> = (0..512).map(|i| (i * 7 % 256) as u8).collect();
            let mut got = data.clone();
            lrw.decrypt(start.to_be_bytes(), &mut got);
            for (j, (g, c)) in got.chunks(16).zip(data.chunks(16)).enumerate() {
                let t = gf_mul(k2, start.wrapping_add(j as u128));
                let mut b =
                    Array::from((u128::from_be_bytes(c.try_into().unwrap()) ^ t).to_be_bytes());
                cipher::BlockCipherDecrypt::decrypt_block(&cipher, &mut b);
                let want = (u128::from_be_bytes(b.into()) ^ t).to_be_bytes();
                assert_eq!(g, want, "block {j} from index {start:#x}");
            }
        }
    }

    /// The named spec wires benbi to LRW (sector s starts at block index
    /// 32·s + 1) and cbc-tcw to its seeds; wrong key lengths are refused.
    #[test]
    fn legacy_specs_and_key_lengths() {
        let key: Vec<u8> = (0..48u8).collect();
        let spec = SectorCipher::new("aes-lrw-benbi", &key).unwrap();
        let raw = lrw::<aes::Aes256>(&key).unwrap();
        let data: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
        let (mut a, mut b) = (data.clone(), data.clone());
        spec.decrypt_sector(3, &mut a);
        let mut iv = [0u8; 16];
        iv[8..].copy_from_slice(&(3u64 * 32 + 1).to_be_bytes());
        raw.decrypt(iv, &mut b);
        assert_eq!(a, b);
        assert!(SectorCipher::new("aes-cbc-tcw", &[0; 64]).is_ok());
        assert!(SectorCipher::new("aes-cbc-tcw", &[0; 48]).is_ok());
        assert!(SectorCipher::new("serpent-cbc-tcw", &[0; 64]).is_ok());
        assert!(SectorCipher::new("aes-cbc-tcw", &[0; 40]).is_err());
        assert!(SectorCipher::new("aes-lrw-benbi", &[0; 20]).is_err());
        assert!(SectorCipher::new("twofish-lrw-benbi", &[0; 48]).is_ok());
    }

    /// Whitening: its 8 bytes come from the seed and the sector number
    /// only, differ from sector to sector, and undo themselves.
    #[test]
    fn tcw_whitening_depends_on_the_sector() {
        let white = [7u8; 16];
        assert_ne!(whitening(&white, 1), whitening(&white, 2));
        assert_eq!(whitening(&white, 5), whitening(&white, 5));
        // With seeds of zero and sector 0, the whitening is CRC(0000)^CRC(0000) = 0.
        assert_eq!(whitening(&[0; 16], 0), [0; 8]);
    }
}
