//! Sector ciphers as dm-crypt names them (`aes-xts-plain64`,
//! `aes-cbc-essiv:sha256`, `serpent-cbc-plain64`): a block cipher, a mode and an
//! IV generator, applied to each sector on its own. The primitives are the
//! RustCrypto crates (decision 0015); this file only wires them to the names
//! and to the sector numbers dm-crypt feeds them.

use crate::serpent_fast::Serpent;
use crate::twofish_fast::Twofish;
use aes::{Aes128, Aes192, Aes256};
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
use sha2::Digest;

/// A cipher spec dredge cannot use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// How each sector's IV (or XTS tweak) comes from its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Iv {
    /// The sector number, little-endian, 32 bits (`plain`) or 64 (`plain64`).
    Plain32,
    Plain64,
    /// The sector number big-endian in the last 8 bytes (`plain64be`).
    Plain64Be,
    /// Big-endian count of 16-byte blocks from 1, in the last 8 bytes
    /// (`benbi`, LRW's block index): sector × 32 + 1.
    Benbi,
    /// The sector's byte offset, little-endian (`eboiv`, BitLocker): the
    /// sector number times the sector's length.
    ByteOffset,
    /// The first 16 bytes of HMAC-SHA-1 of the block number, big-endian
    /// in 32 bits, under a key of its own (Apple's encrypted disk images).
    HmacSha1,
    /// ECB has none.
    Null,
}

/// A 128-bit block cipher the sector modes run over (AES, Serpent, Twofish,
/// Camellia, Kuznyechik), shared between threads.
pub(crate) trait Block16:
    BlockSizeUser<BlockSize = cipher::consts::U16>
    + BlockCipherEncrypt
    + BlockCipherDecrypt
    + Clone
    + Send
    + Sync
{
}

impl<C> Block16 for C where
    C: BlockSizeUser<BlockSize = cipher::consts::U16>
        + BlockCipherEncrypt
        + BlockCipherDecrypt
        + Clone
        + Send
        + Sync
{
}

/// One sector decryptor for every block cipher it is built for.
pub(crate) trait Sectors: Send + Sync {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]);

    /// Consecutive sectors of one length in `data`, one IV each: a mode whose
    /// work is a serial chain within a sector runs several sectors side by
    /// side (`sector_elephant.rs`); the others decrypt one after another.
    fn decrypt_many(&self, ivs: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / ivs.len().max(1);
        for (iv, d) in ivs.iter().zip(data.chunks_exact_mut(s.max(1))) {
            self.decrypt(*iv, d);
        }
    }
}

/// XTS (IEEE 1619) over block cipher `C`: the data key and the tweak key.
/// The construction is xts-mode's; it is applied a batch of blocks at a time
/// so the block cipher's parallel path (AES-NI, eight blocks in flight) does
/// the work: xts-mode's per-block loop runs at a quarter of the disk speed a
/// scan needs. A test checks every sector against xts-mode itself.
struct XtsOf<C> {
    data: C,
    tweak: C,
}

/// Multiplies an XTS tweak by the primitive element (little-endian GF(2^128)).
fn next_tweak(t: u128) -> u128 {
    (t << 1) ^ if t >> 127 == 1 { 0x87 } else { 0 }
}

impl<C: Block16> Sectors for XtsOf<C> {
    /// Several sectors: their tweaks encrypted in one call, and every block
    /// of every sector decrypted in one call (per-call set-up, not the
    /// blocks, is what 512-byte sectors one at a time spend most on).
    fn decrypt_many(&self, ivs: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / ivs.len().max(1);
        if ivs.len() < 2 || s < 16 || !s.is_multiple_of(16) {
            for (iv, d) in ivs.iter().zip(data.chunks_exact_mut(s.max(16))) {
                self.decrypt(*iv, d);
            }
            return;
        }
        let mut first: Vec<Array<u8, cipher::consts::U16>> =
            ivs.iter().map(|iv| Array::from(*iv)).collect();
        self.tweak.encrypt_blocks(&mut first);
        let per = s / 16;
        let mut tweaks = Vec::with_capacity(per * ivs.len());
        for t in &first {
            let mut t = u128::from_le_bytes((*t).into());
            for _ in 0..per {
                tweaks.push(t);
                t = next_tweak(t);
            }
        }
        let data = &mut data[..per * 16 * ivs.len()];
        let (blocks, _) = Array::<u8, cipher::consts::U16>::slice_as_chunks_mut(data);
        for (b, t) in blocks.iter_mut().zip(&tweaks) {
            *b = Array::from((u128::from_le_bytes((*b).into()) ^ t).to_le_bytes());
        }
        self.data.decrypt_blocks(blocks);
        for (b, t) in blocks.iter_mut().zip(&tweaks) {
            *b = Array::from((u128::from_le_bytes((*b).into()) ^ t).to_le_bytes());
        }
    }

    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        const BATCH: usize = 32;
        let mut t = Array::from(iv);
        self.tweak.encrypt_block(&mut t);
        let mut t = u128::from_le_bytes(t.into());
        let (blocks, _) = Array::<u8, cipher::consts::U16>::slice_as_chunks_mut(data);
        let mut tweaks = [0u128; BATCH];
        for batch in blocks.chunks_mut(BATCH) {
            for (b, tw) in batch.iter_mut().zip(tweaks.iter_mut()) {
                *tw = t;
                let x = u128::from_le_bytes((*b).into()) ^ t;
                *b = Array::from(x.to_le_bytes());
                t = next_tweak(t);
            }
            self.data.decrypt_blocks(batch);
            for (b, tw) in batch.iter_mut().zip(tweaks.iter()) {
                let x = u128::from_le_bytes((*b).into()) ^ tw;
                *b = Array::from(x.to_le_bytes());
            }
        }
    }
}

/// CBC from each sector's IV as it enters the chain (salted IVs come from
/// [`Essiv`] in front of it).
pub(crate) struct CbcOf<C> {
    pub(crate) data: C,
}

impl<C: Block16> CbcOf<C> {
    /// CBC decryption of `data`, consecutive sectors of one length, each from
    /// its IV in `chain` as it enters the chain (after ESSIV): every block of
    /// every sector decrypted in one call (the cipher's parallel path:
    /// AES-NI keeps eight blocks in flight, and sets its keys up once), then
    /// each XORed with the ciphertext block before it. (The `cbc` crate's
    /// decryptor takes a copy of the key schedule for every sector.)
    pub(crate) fn decrypt_from(&self, chain: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / chain.len().max(1);
        let (mut stack, mut heap) = ([0u8; 4096], Vec::new());
        let ct: &mut [u8] = if data.len() <= stack.len() {
            &mut stack[..data.len()]
        } else {
            heap.resize(data.len(), 0);
            &mut heap
        };
        ct.copy_from_slice(data);
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        self.data.decrypt_blocks(blocks);
        // Whole blocks at a time: a byte loop here costs more than the AES.
        let word = |b: &[u8]| u128::from_le_bytes(b.try_into().unwrap_or([0; 16]));
        for ((sector, c), iv) in data
            .chunks_exact_mut(s.max(16))
            .zip(ct.chunks_exact(s.max(16)))
            .zip(chain)
        {
            let mut prev = u128::from_le_bytes(*iv);
            for (block, c) in sector.chunks_exact_mut(16).zip(c.chunks_exact(16)) {
                block.copy_from_slice(&(word(block) ^ prev).to_le_bytes());
                prev = word(c);
            }
        }
    }
}

impl<C: Block16> Sectors for CbcOf<C> {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        self.decrypt_from(&[iv], data);
    }

    /// Sixteen sectors a call: the ciphertext copy stays on the stack for
    /// 256-byte sectors and is bounded for larger ones.
    fn decrypt_many(&self, ivs: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / ivs.len().max(1);
        for (ivs, d) in ivs.chunks(16).zip(data.chunks_mut(s.max(1) * 16)) {
            self.decrypt_from(ivs, d);
        }
    }
}

struct EcbOf<C>(C);

impl<C: Block16> Sectors for EcbOf<C> {
    fn decrypt(&self, _: [u8; 16], data: &mut [u8]) {
        let (blocks, _) = Array::slice_as_chunks_mut(data);
        self.0.decrypt_blocks(blocks);
    }
}

/// Several sector decryptors over one another, the last applied first.
struct Cascade(Vec<Box<dyn Sectors>>);

impl Sectors for Cascade {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        for c in self.0.iter().rev() {
            c.decrypt(iv, data);
        }
    }
}

/// A sector cipher with its key: what decrypts one volume.
pub struct SectorCipher {
    spec: String,
    iv: Iv,
    inner: Box<dyn Sectors>,
    /// Bytes per sector where they differ from the layer's: the stretches
    /// of a LUKS2 reencryption that changes the sector size.
    sector: Option<u64>,
    /// `Iv::HmacSha1`'s key.
    mac: Vec<u8>,
}

impl std::fmt::Debug for SectorCipher {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SectorCipher({})", self.spec)
    }
}

pub(crate) fn key<C: KeyInit>(k: &[u8]) -> Result<C, Unsupported> {
    C::new_from_slice(k).map_err(|_| Unsupported(format!("a {}-bit key", k.len() * 8)))
}

/// The mode for block cipher `C`, keyed.
fn build<C>(mode: &str, k: &[u8]) -> Result<Box<dyn Sectors>, Unsupported>
where
    C: Block16 + KeyInit + 'static,
{
    Ok(match mode {
        "xts" => {
            if !k.len().is_multiple_of(2) {
                return Err(Unsupported("an XTS key of odd length".into()));
            }
            let (a, b) = k.split_at(k.len() / 2);
            Box::new(XtsOf {
                data: key::<C>(a)?,
                tweak: key::<C>(b)?,
            })
        }
        "cbc" => Box::new(CbcOf { data: key::<C>(k)? }),
        "ecb" => Box::new(EcbOf(key::<C>(k)?)),
        // The IV is the byte offset encrypted under the data key itself.
        "cbc-eboiv" => Box::new(Essiv {
            iv: Box::new(key::<C>(k)?),
            inner: Box::new(CbcOf { data: key::<C>(k)? }),
        }),
        // The key is the CBC key followed by the tweak key, of one length.
        "cbc-elephant" => {
            let (a, b) = k.split_at(k.len() / 2);
            Box::new(crate::sector_elephant::ElephantOf {
                cbc: CbcOf { data: key::<C>(a)? },
                iv: key::<C>(a)?,
                tweak: key::<C>(b)?,
            })
        }
        // TrueCrypt's legacy modes (before 5.0).
        "lrw" => crate::sector_legacy::lrw::<C>(k)?,
        "cbc-tcw" => crate::sector_legacy::tcw::<C>(k)?,
        m => return Err(Unsupported(format!("mode {m}"))),
    })
}

/// A block cipher that only encrypts IVs (ESSIV's), whatever its key size.
pub(crate) trait IvCipher: Send + Sync {
    fn encrypt(&self, blocks: &mut [Array<u8, cipher::consts::U16>]);
}

impl<C: Block16> IvCipher for C {
    fn encrypt(&self, blocks: &mut [Array<u8, cipher::consts::U16>]) {
        self.encrypt_blocks(blocks);
    }
}

/// ESSIV (and EBOIV, the IV encrypted under the data key) in front of any
/// mode, as dm-crypt's `essiv(MODE(CIPHER),HASH)`
/// template does: each sector's IV (its number, `plain64`) is encrypted under
/// the same block cipher keyed with the hash of the whole volume key, and the
/// result is the mode's IV (CBC) or tweak input (XTS).
struct Essiv {
    iv: Box<dyn IvCipher>,
    inner: Box<dyn Sectors>,
}

impl Sectors for Essiv {
    fn decrypt(&self, iv: [u8; 16], data: &mut [u8]) {
        self.decrypt_many(&[iv], data);
    }
    /// Sixteen IVs encrypted in one call, then the mode on their sectors.
    fn decrypt_many(&self, ivs: &[[u8; 16]], data: &mut [u8]) {
        let s = data.len() / ivs.len().max(1);
        for (ivs, d) in ivs.chunks(16).zip(data.chunks_mut(s.max(1) * 16)) {
            let salted = encrypted_ivs(&*self.iv, ivs);
            self.inner.decrypt_many(&salted[..ivs.len()], d);
        }
    }
}

/// The first 16 of `ivs` encrypted under `c` in one call (the cipher's
/// parallel path, and its keys set up once): ESSIV's and EBOIV's salted IVs.
pub(crate) fn encrypted_ivs(c: &dyn IvCipher, ivs: &[[u8; 16]]) -> [[u8; 16]; 16] {
    let k = ivs.len().min(16);
    let mut blocks = [Array::<u8, cipher::consts::U16>::default(); 16];
    for (b, iv) in blocks.iter_mut().zip(&ivs[..k]) {
        *b = Array::from(*iv);
    }
    c.encrypt(&mut blocks[..k]);
    std::array::from_fn(|j| blocks[j].into())
}

/// ESSIV's cipher: the volume's block cipher keyed with the digest of the
/// whole volume key. Its key size is the digest's, not the data key's: an
/// AES-128 volume with `essiv:sha256` salts its IVs with AES-256, as the
/// kernel does (it allocates the bare cipher and sets the digest as its key).
fn essiv_cipher(name: &str, hash: &str, k: &[u8]) -> Result<Box<dyn IvCipher>, Unsupported> {
    let salt = match hash {
        "sha256" => sha2::Sha256::digest(k).to_vec(),
        "sha1" => sha1::Sha1::digest(k).to_vec(),
        "sha512" => sha2::Sha512::digest(k).to_vec(),
        h => return Err(Unsupported(format!("ESSIV hash {h}"))),
    };
    let bad = || {
        Unsupported(format!(
            "ESSIV {name} keyed by {hash} ({} bytes)",
            salt.len()
        ))
    };
    Ok(match (name, salt.len()) {
        ("aes", 16) => Box::new(key::<Aes128>(&salt)?),
        ("aes", 24) => Box::new(key::<Aes192>(&salt)?),
        ("aes", 32) => Box::new(key::<Aes256>(&salt)?),
        ("serpent", 16 | 24 | 32) => Box::new(key::<Serpent>(&salt)?),
        ("twofish", 16 | 24 | 32) => Box::new(key::<Twofish>(&salt)?),
        ("camellia", 16) => Box::new(key::<camellia::Camellia128>(&salt)?),
        ("camellia", 24) => Box::new(key::<camellia::Camellia192>(&salt)?),
        ("camellia", 32) => Box::new(key::<camellia::Camellia256>(&salt)?),
        _ => return Err(bad()),
    })
}

impl SectorCipher {
    /// `spec` as dm-crypt writes it (`aes-xts-plain64`); `key` the volume key.
    pub fn new(spec: &str, key: &[u8]) -> Result<SectorCipher, Unsupported> {
        let mut parts = spec.splitn(3, '-');
        let (name, mode, ivgen) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let (ivname, essiv) = match ivgen.split_once(':') {
            Some(("essiv", h)) => ("essiv", Some(h)),
            _ => (ivgen, None),
        };
        // BitLocker's CBC modes name their IV in the mode (`aes-cbc-eboiv`,
        // `aes-cbc-elephant`, as cryptsetup's BITLK does).
        let (mode, ivname) = match (mode, ivname) {
            ("cbc", "eboiv") => ("cbc-eboiv", "eboiv"),
            ("cbc", "elephant") => ("cbc-elephant", "eboiv"),
            // The IV and whitening come from the sector number (plain64).
            ("cbc", "tcw") => ("cbc-tcw", "plain64"),
            m => m,
        };
        // Apple's encrypted images: the AES key, then the IVs' HMAC key.
        let (key, mac) = match ivname {
            "hmacsha1" if key.len() > 20 => key.split_at(key.len() - 20),
            _ => (key, &[][..]),
        };
        let iv = match (mode, ivname) {
            ("ecb", _) => Iv::Null,
            (_, "eboiv") => Iv::ByteOffset,
            (_, "plain") => Iv::Plain32,
            (_, "plain64") | (_, "essiv") => Iv::Plain64,
            (_, "plain64be") => Iv::Plain64Be,
            (_, "benbi") => Iv::Benbi,
            ("cbc", "hmacsha1") if !mac.is_empty() => Iv::HmacSha1,
            (_, "null") => Iv::Null,
            (_, other) => return Err(Unsupported(format!("IV generator {other:?}"))),
        };
        if essiv.is_some() && !matches!(mode, "cbc" | "xts") {
            return Err(Unsupported(format!("ESSIV with mode {mode}")));
        }
        let inner = match (name, key.len()) {
            // The AES key, then LRW's 16-byte tweak key or CBC-TCW's IV seed
            // and whitening (32 bytes).
            ("aes", n) if mode == "lrw" || mode == "cbc-tcw" => {
                let extra = if mode == "lrw" { 16 } else { 32 };
                match n.saturating_sub(extra) {
                    16 => build::<Aes128>(mode, key)?,
                    24 => build::<Aes192>(mode, key)?,
                    32 => build::<Aes256>(mode, key)?,
                    _ => return Err(Unsupported(format!("an AES-{mode} key of {} bits", n * 8))),
                }
            }
            ("aes", n) if mode == "xts" || mode == "cbc-elephant" => match n {
                32 => build::<Aes128>(mode, key)?,
                48 => build::<Aes192>(mode, key)?,
                64 => build::<Aes256>(mode, key)?,
                _ => return Err(Unsupported(format!("an AES-{mode} key of {} bits", n * 8))),
            },
            ("aes", 16) => build::<Aes128>(mode, key)?,
            ("aes", 24) => build::<Aes192>(mode, key)?,
            ("aes", 32) => build::<Aes256>(mode, key)?,
            ("serpent", _) => build::<Serpent>(mode, key)?,
            ("twofish", _) => build::<Twofish>(mode, key)?,
            // VeraCrypt's further ciphers (256-bit keys, XTS).
            ("camellia", 64) if mode == "xts" => build::<camellia::Camellia256>(mode, key)?,
            ("kuznyechik", _) => build::<kuznyechik::Kuznyechik>(mode, key)?,
            (n, k) => return Err(Unsupported(format!("cipher {n} with a {}-bit key", k * 8))),
        };
        let inner = match essiv {
            Some(h) => Box::new(Essiv {
                iv: essiv_cipher(name, h, key)?,
                inner,
            }),
            None => inner,
        };
        Ok(SectorCipher {
            sector: None,
            spec: spec.to_string(),
            iv,
            inner,
            mac: mac.to_vec(),
        })
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Ciphers applied one over another (VeraCrypt's cascades): a sector is
    /// decrypted by the last of `parts` first. `name` is the spec recorded.
    pub fn cascade(name: &str, parts: Vec<SectorCipher>) -> SectorCipher {
        let iv = parts.first().map_or(Iv::Plain64, |p| p.iv);
        SectorCipher {
            sector: None,
            spec: name.to_string(),
            iv,
            inner: Box::new(Cascade(parts.into_iter().map(|p| p.inner).collect())),
            mac: Vec::new(),
        }
    }

    /// The same cipher, decrypting sectors of `bytes` whatever the layer's.
    pub fn with_sector(mut self, bytes: u64) -> SectorCipher {
        self.sector = Some(bytes);
        self
    }

    /// Bytes per sector, if the cipher has its own.
    pub fn sector(&self) -> Option<u64> {
        self.sector
    }

    /// The IV (or tweak) of sector number `n`, `len` bytes long.
    pub(crate) fn iv(&self, n: u64, len: usize) -> [u8; 16] {
        let mut iv = [0u8; 16];
        match self.iv {
            Iv::Plain32 => iv[..4].copy_from_slice(&(n as u32).to_le_bytes()),
            Iv::Plain64 => iv[..8].copy_from_slice(&n.to_le_bytes()),
            Iv::Plain64Be => iv[8..].copy_from_slice(&n.to_be_bytes()),
            Iv::Benbi => {
                iv[8..].copy_from_slice(&(n.wrapping_shl(5).wrapping_add(1)).to_be_bytes())
            }
            Iv::ByteOffset => iv[..8].copy_from_slice(&n.wrapping_mul(len as u64).to_le_bytes()),
            Iv::HmacSha1 => iv = crate::encrcdsa::block_iv(&self.mac, n),
            Iv::Null => {}
        }
        iv
    }

    /// Decrypts `data` (one sector, a multiple of 16 bytes) in place: sector
    /// number `n` in the IV generator's units.
    pub fn decrypt_sector(&self, n: u64, data: &mut [u8]) {
        self.inner.decrypt(self.iv(n, data.len()), data);
    }

    /// Decrypts `data`, consecutive sectors of `sector` bytes, in place; the
    /// `i`th is sector number `number(i)`. The same bytes as
    /// `decrypt_sector` on each, eight sectors at a time.
    pub fn decrypt_sectors(&self, sector: usize, number: impl Fn(usize) -> u64, data: &mut [u8]) {
        const BATCH: usize = crate::sector_elephant::LANES;
        let mut ivs = [[0u8; 16]; BATCH];
        for (b, chunk) in data.chunks_mut(sector * BATCH).enumerate() {
            let k = chunk.len() / sector;
            for (j, iv) in ivs.iter_mut().enumerate().take(k) {
                *iv = self.iv(number(b * BATCH + j), sector);
            }
            self.inner.decrypt_many(&ivs[..k], &mut chunk[..k * sector]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xts_matches_the_ieee_1619_vector_and_names_are_checked() {
        // IEEE 1619-2007 XTS-AES-128 vector 2: key1 = 11…, key2 = 22…, tweak 0x3333333333.
        let mut k = [0x11u8; 32];
        k[16..].fill(0x22);
        let c = SectorCipher::new("aes-xts-plain64", &k).unwrap();
        let mut data: Vec<u8> = [
            "c454185e6a16936e39334038acef838b",
            "fb186fff7480adc4289382ecd6d394f0",
        ]
        .iter()
        .flat_map(|h| (0..16).map(move |i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap()))
        .collect();
        c.decrypt_sector(0x3333333333, &mut data);
        assert_eq!(data, vec![0x44u8; 32]);
        assert!(SectorCipher::new("aes-xts-plain64", &[0; 40]).is_err());
        assert!(SectorCipher::new("aes-gcm-random", &[0; 32]).is_err());
        assert!(SectorCipher::new("des-cbc-plain", &[0; 8]).is_err());
        assert!(SectorCipher::new("aes-xts-essiv:sha256", &[0; 32]).is_ok());
        assert!(SectorCipher::new("aes-cbc-essiv:sha1", &[0; 16]).is_err());
        assert!(SectorCipher::new("aes-ecb-essiv:sha256", &[0; 16]).is_err());
        assert!(SectorCipher::new("aes-cbc-essiv:sha256", &[0; 32]).is_ok());
        assert!(SectorCipher::new("serpent-cbc-plain64", &[0; 32]).is_ok());
        assert!(SectorCipher::new("twofish-xts-plain64", &[0; 64]).is_ok());
        assert_eq!(format!("{c:?}"), "SectorCipher(aes-xts-plain64)");
    }

    /// CBC over the whole sector at once is the `cbc` crate's CBC, with
    /// plain IVs and ESSIV, for 512- and 4096-byte sectors (and a longer one,
    /// past the stack buffer).
    #[test]
    fn cbc_equals_the_cbc_crate() {
        use cipher::{BlockModeDecrypt, InnerIvInit};
        for (spec, len, bytes) in [
            ("aes-cbc-plain64", 512usize, 32usize),
            ("aes-cbc-essiv:sha256", 4096, 32),
            ("aes-cbc-plain64", 8192, 32),
            // AES-128 data, AES-256 ESSIV (the digest is the key).
            ("aes-cbc-essiv:sha256", 512, 16),
        ] {
            let k: Vec<u8> = (0..bytes).map(|i| (i * 13 + 1) as u8).collect();
            let ours = SectorCipher::new(spec, &k).unwrap();
            let data: Vec<u8> = (0..len).map(|i| (i * 29 % 241) as u8).collect();
            let mut iv = Array::from(ours.iv(77, len));
            if spec.contains("essiv") {
                let salt = sha2::Sha256::digest(&k);
                Aes256::new_from_slice(&salt)
                    .unwrap()
                    .encrypt_block(&mut iv);
            }
            let mut want = data.clone();
            let (blocks, _) = Array::slice_as_chunks_mut(&mut want);
            if bytes == 16 {
                cbc::Decryptor::<Aes128>::inner_iv_init(Aes128::new_from_slice(&k).unwrap(), &iv)
                    .decrypt_blocks(blocks);
            } else {
                cbc::Decryptor::<Aes256>::inner_iv_init(Aes256::new_from_slice(&k).unwrap(), &iv)
                    .decrypt_blocks(blocks);
            }
            let mut got = data.clone();
            ours.decrypt_sector(77, &mut got);
            assert_eq!(got, want, "{spec} {len}");
            // Many sectors at once (batches of eight, the last cut short)
            // are each sector on its own.
            let many: Vec<u8> = (0..len * 19).map(|i| (i * 7 % 253) as u8).collect();
            let mut one = many.clone();
            for (i, s) in one.chunks_exact_mut(len).enumerate() {
                ours.decrypt_sector(5 + i as u64, s);
            }
            let mut batched = many.clone();
            ours.decrypt_sectors(len, |i| 5 + i as u64, &mut batched);
            assert_eq!(batched, one, "{spec} {len}, 19 sectors");
        }
    }

    /// Every sector decrypts as xts-mode decrypts it, for each block cipher,
    /// key size and sector size, with tweaks past 2^32.
    #[test]
    fn batched_xts_equals_xts_mode() {
        fn check<C>(spec: &str, key: &[u8], sector: usize, n: u64)
        where
            C: BlockSizeUser<BlockSize = cipher::consts::U16>
                + BlockCipherEncrypt
                + BlockCipherDecrypt
                + KeyInit,
        {
            let data: Vec<u8> = (0..sector * 11)
                .map(|i| (i * 31 % 251) as u8 ^ key[0])
                .collect();
            let (a, b) = key.split_at(key.len() / 2);
            let reference =
                xts_mode::Xts128::new(C::new_from_slice(a).unwrap(), C::new_from_slice(b).unwrap());
            let ours = SectorCipher::new(spec, key).unwrap();
            for (i, s) in data.chunks(sector).enumerate() {
                let sec = n + i as u64;
                let mut want = s.to_vec();
                reference.decrypt_sector(&mut want, xts_mode::get_tweak_default(u128::from(sec)));
                let mut got = s.to_vec();
                ours.decrypt_sector(sec, &mut got);
                assert_eq!(got, want, "{spec} {}-byte key, sector {sec}", key.len());
            }
            // All of them at once (batched) are the same sectors.
            let mut want = data.clone();
            for (i, s) in want.chunks_exact_mut(sector).enumerate() {
                reference.decrypt_sector(s, xts_mode::get_tweak_default(u128::from(n + i as u64)));
            }
            let mut got = data.clone();
            ours.decrypt_sectors(sector, |i| n + i as u64, &mut got);
            assert_eq!(got, want, "{spec} {}-byte key, batched", key.len());
        }
        for (seed, sector, n) in [(1u8, 512, 0u64), (2, 4096, 1 << 33), (3, 1024, 77)] {
            let k: Vec<u8> = (0..64)
                .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                .collect();
            check::<Aes128>("aes-xts-plain64", &k[..32], sector, n);
            check::<Aes256>("aes-xts-plain64", &k, sector, n);
            check::<Serpent>("serpent-xts-plain64", &k, sector, n);
            // The reference is the `twofish` crate; ours is `twofish_fast`.
            check::<twofish::Twofish>("twofish-xts-plain64", &k, sector, n);
        }
    }

    /// `aes-xts-essiv:sha256`: the tweak input is the sector number encrypted
    /// under AES-256 keyed by SHA-256 of the whole XTS key, then XTS as usual.
    #[test]
    fn xts_behind_essiv_is_xts_with_salted_tweaks() {
        let k: Vec<u8> = (0..64).map(|i| (i * 7 + 3) as u8).collect();
        let ours = SectorCipher::new("aes-xts-essiv:sha256", &k).unwrap();
        let reference = xts_mode::Xts128::new(
            Aes256::new_from_slice(&k[..32]).unwrap(),
            Aes256::new_from_slice(&k[32..]).unwrap(),
        );
        let salt = Aes256::new_from_slice(&sha2::Sha256::digest(&k)).unwrap();
        let data: Vec<u8> = (0..512 * 20).map(|i| (i * 11 % 247) as u8).collect();
        let mut want = data.clone();
        for (i, s) in want.chunks_exact_mut(512).enumerate() {
            let mut t = Array::from((3 + i as u128).to_le_bytes());
            salt.encrypt_block(&mut t);
            reference.decrypt_sector(s, t);
        }
        let mut got = data.clone();
        ours.decrypt_sectors(512, |i| 3 + i as u64, &mut got);
        assert_eq!(got, want);
        let mut one = data[..512].to_vec();
        ours.decrypt_sector(3, &mut one);
        assert_eq!(one, want[..512]);
    }
}
