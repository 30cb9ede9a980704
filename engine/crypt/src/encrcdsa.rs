//! Apple's encrypted disk images (`hdiutil create -encryption`, version 2:
//! Mac OS X 10.5 on): detection, metadata and unlocking. The file begins
//! `encrcdsa`, version 2; its header names the AES key size, the block size
//! the data is encrypted in (4096 bytes), the encrypted data's offset and
//! length, and where each key header lies. A password key header holds
//! PBKDF2-HMAC-SHA-1 parameters and a key blob encrypted with Triple DES
//! (EDE, CBC, PKCS#7 padding) under the derived 24 bytes; the blob is the
//! AES key, a 20-byte HMAC-SHA-1 key and `CKIE`, which tells a wrong
//! password. Block `n` of the data is AES-CBC under the AES key with the IV
//! the first 16 bytes of HMAC-SHA-1(HMAC key, `n` big-endian in 32 bits).
//! Its plaintext is what an unencrypted image would hold: a UDIF image with
//! its `koly` trailer, a sparse image, or a raw disk. Layout from the
//! vfdecrypt, apfs-fuse and John the Ripper readers; `vfdecrypt` (Debian's
//! dmg2img), given the keys, is the oracle for the data's encryption (its
//! password path takes the HMAC key from the wrong place in the blob).

use crate::keys::{fingerprint, Secret};
use crate::layer::Layer;
use crate::luks_open::Opened;
use crate::sector::SectorCipher;
use dredge_core::bytes::{be32, be64};
use dredge_core::{Extent, Finding, VolumeReader};
use std::sync::Arc;

/// Key headers read at most (hdiutil writes one per password or
/// certificate).
const MAX_KEYS: u32 = 16;
/// A key header is a few hundred bytes; one past this is not Apple's.
const MAX_KEY_HEADER: u64 = 4096;
/// Key blobs past this are not a key (hdiutil's are 48 or 64 bytes).
const MAX_BLOB: usize = 512;
/// Encrypted data longer than this (1 EiB) is not an image's.
const MAX_DATA: u64 = 1 << 60;
/// `kdf_algorithm` for PBKDF2 (CSSM_ALGID_PKCS5_PBKDF2).
const PBKDF2: u32 = 103;

/// One password key header: how a password opens the key blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswordKey {
    /// Byte offset of the key header in the volume.
    pub at: u64,
    pub kdf: u32,
    pub iterations: u32,
    pub salt: Vec<u8>,
    /// The blob's IV field as stored (32 bytes; Triple DES uses the first 8).
    pub iv: [u8; 32],
    pub blob: Vec<u8>,
}

/// A version-1 image's wrapped keys and how a password opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Keys {
    /// Byte offset of the trailer in the image.
    pub at: u64,
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub aes: Vec<u8>,
    pub mac: Vec<u8>,
}

/// An encrypted disk image's header.
#[derive(Debug, Clone)]
pub struct Encrcdsa {
    /// 2 (`encrcdsa` header first) or 1 (`cdsaencr` trailer last).
    pub version: u32,
    pub uuid: String,
    pub key_bits: u32,
    pub block: u64,
    pub data_offset: u64,
    pub data_len: u64,
    pub(crate) passwords: Vec<PasswordKey>,
    /// Key headers of other types (2: a certificate's public key), by type
    /// and offset: they need the private key, which dredge does not take.
    pub others: Vec<(u32, u64)>,
    /// Version 1's keys (no key headers).
    pub(crate) v1: Option<V1Keys>,
}

/// Whether the volume starts with a version-2 encrypted image header or
/// ends with a version-1 trailer.
pub(crate) fn probe(vol: &VolumeReader) -> bool {
    let mut h = [0u8; 12];
    (vol.read_at(0, &mut h).is_ok_and(|r| r.is_clean())
        && &h[..8] == b"encrcdsa"
        && be32::<u32>(&h, 8) == 2)
        || crate::encrcdsa_v1::probe(vol)
}

impl Encrcdsa {
    pub fn read(vol: &VolumeReader) -> Result<Encrcdsa, Finding> {
        if crate::encrcdsa_v1::probe(vol) {
            return crate::encrcdsa_v1::read(vol);
        }
        let base = vol.base();
        let fail = |at: u64, what: String| {
            Finding::new(base + at, format!("encrypted Apple disk image: {what}"))
        };
        let mut h = [0u8; 76 + 20 * MAX_KEYS as usize];
        let got = vol
            .read_at(0, &mut h)
            .map_err(|e| fail(0, format!("header unreadable: {e}")))?;
        if !got.is_clean() {
            return Err(fail(0, "header unreadable".into()));
        }
        if &h[..8] != b"encrcdsa" || be32::<u32>(&h, 8) != 2 {
            return Err(fail(0, "no encrcdsa version 2 header".into()));
        }
        let key_bits: u32 = be32(&h, 24);
        if key_bits != 128 && key_bits != 256 {
            return Err(fail(24, "AES key size".into()).expected("128 or 256", key_bits));
        }
        let block = u64::from(be32::<u32>(&h, 52));
        if !(512..=1 << 20).contains(&block) || !block.is_power_of_two() {
            return Err(
                fail(52, "block size".into()).expected("a power of two, 512 B–1 MiB", block)
            );
        }
        let (data_len, data_offset) = (be64(&h, 56), be64(&h, 64));
        // The data may run past a truncated image's end (it is cut to what
        // is there), never past what offsets can hold.
        if data_offset >= vol.len() || data_len == 0 || data_len > MAX_DATA {
            return Err(fail(56, "encrypted data".into()).expected(
                format!("inside the image's {} bytes", vol.len()),
                format!("{data_len} bytes at {data_offset}"),
            ));
        }
        let count: u32 = be32(&h, 72);
        if count == 0 || count > MAX_KEYS {
            return Err(fail(72, "key headers".into()).expected(format!("1–{MAX_KEYS}"), count));
        }
        let mut e = Encrcdsa {
            version: 2,
            v1: None,
            uuid: crate::fvault::uuid(&h[36..52]),
            key_bits,
            block,
            data_offset,
            data_len,
            passwords: Vec::new(),
            others: Vec::new(),
        };
        for k in 0..count as usize {
            let p = 76 + 20 * k;
            let (kind, at, size) = (be32::<u32>(&h, p), be64(&h, p + 4), be64(&h, p + 12));
            if kind != 1 {
                e.others.push((kind, at));
                continue;
            }
            if !(104..=MAX_KEY_HEADER).contains(&size) || at.saturating_add(size) > vol.len() {
                return Err(fail(p as u64, format!("password key header {k}")).expected(
                    "104 B–4 KiB inside the image",
                    format!("{size} bytes at {at}"),
                ));
            }
            let mut b = vec![0u8; size as usize];
            if !vol.read_at(at, &mut b).is_ok_and(|r| r.is_clean()) {
                return Err(fail(at, format!("password key header {k} unreadable")));
            }
            let salt_len = be32::<u32>(&b, 12) as usize;
            let blob_len = be32::<u32>(&b, 100) as usize;
            if salt_len > 32
                || be32::<u32>(&b, 48) < 8
                || blob_len == 0
                || blob_len > MAX_BLOB
                || !blob_len.is_multiple_of(8)
                || 104 + blob_len > b.len()
            {
                return Err(fail(at, format!("password key header {k}")).expected(
                    "salt ≤ 32 B, an 8-byte IV, a blob of whole 8-byte blocks",
                    "other sizes",
                ));
            }
            e.passwords.push(PasswordKey {
                at,
                kdf: be32(&b, 0),
                iterations: be32(&b, 8),
                salt: b[16..16 + salt_len].to_vec(),
                iv: b[52..84].try_into().unwrap_or([0; 32]),
                blob: b[104..104 + blob_len].to_vec(),
            });
        }
        Ok(e)
    }

    /// The plaintext's extent in volume offsets: whole blocks, as far as
    /// the volume holds them.
    fn plain(&self, vol_len: u64) -> Option<(u64, u64)> {
        let room = vol_len.checked_sub(self.data_offset)?;
        let whole = self.data_len.div_ceil(self.block) * self.block;
        let len = whole.min(room / self.block * self.block);
        (len > 0).then_some((self.data_offset, len))
    }

    /// One finding holding the header's metadata.
    pub fn findings(&self, base: u64) -> Vec<Finding> {
        let mut what = format!(
            "encrypted Apple disk image (encrcdsa version {}) {}: AES-{} CBC in {}-byte blocks, \
             {} bytes of encrypted data at byte {}",
            self.version, self.uuid, self.key_bits, self.block, self.data_len, self.data_offset
        );
        if let Some(k) = &self.v1 {
            what.push_str(&format!(
                "; protector trailer@{}: password (PBKDF2-HMAC-SHA-1, {} iterations, {}-byte salt)",
                k.at,
                k.iterations,
                k.salt.len()
            ));
        }
        // "protector NAME: KIND (…)", as the other containers' findings
        // name theirs.
        for p in &self.passwords {
            what.push_str(&format!(
                "; protector password-key@{}: password (PBKDF2-HMAC-SHA-1, {} iterations, {}-byte salt)",
                p.at,
                p.iterations,
                p.salt.len()
            ));
        }
        for (kind, at) in &self.others {
            what.push_str(&format!(
                "; protector key-header-{kind}@{at}: certificate (a private key opens it; not taken)"
            ));
        }
        vec![Finding::new(base, what)]
    }

    /// The AES key and HMAC key a password opens, through the first
    /// password key header it fits.
    fn by_password(&self, pw: &[u8]) -> Option<(Vec<u8>, usize)> {
        if let Some(k) = &self.v1 {
            return crate::encrcdsa_v1::by_password(k, pw).map(|keys| (keys, 0));
        }
        let klen = self.key_bits as usize / 8;
        for (i, p) in self.passwords.iter().enumerate() {
            if p.kdf != PBKDF2 {
                continue;
            }
            if let Some(keys) = open_blob(pw, &p.salt, p.iterations, &p.iv, &p.blob) {
                if keys.len() >= klen + 20 {
                    return Some((keys[..klen + 20].to_vec(), i));
                }
            }
        }
        None
    }

    /// The block cipher for `keys` (the AES key then the HMAC key).
    fn cipher(keys: &[u8]) -> Result<SectorCipher, String> {
        SectorCipher::new("aes-cbc-hmacsha1", keys).map_err(|e| e.0)
    }
}

/// What a password opens of a key blob: the AES key then the HMAC key
/// (the blob without its `CKIE` mark); `None` for a wrong password.
pub(crate) fn open_blob(
    pw: &[u8],
    salt: &[u8],
    iterations: u32,
    iv: &[u8],
    blob: &[u8],
) -> Option<Vec<u8>> {
    let mut dk = [0u8; 24];
    crate::kdf::pbkdf2("sha1", pw, salt, iterations, &mut dk).ok()?;
    let plain = crate::encrcdsa_v1::des3_cbc(&dk, iv.get(..8)?, blob)?;
    // The keys, then `CKIE` and one byte.
    let n = plain.len().checked_sub(5)?;
    (&plain[n..n + 4] == b"CKIE").then(|| plain[..n].to_vec())
}

/// Tries every key; `Err` names what was tried (never a key).
pub fn open(vol: &VolumeReader, e: &Encrcdsa, keys: &[&Secret]) -> Result<Opened, String> {
    let (off, len) = e
        .plain(vol.len())
        .ok_or("the encrypted data lies past the image's end")?;
    let klen = e.key_bits as usize / 8;
    let mut tried = Vec::new();
    for key in keys {
        let got = match key {
            Secret::Password(pw) => match e.by_password(pw) {
                Some((k, _)) if e.v1.is_some() => Some((k, "the password (version 1)".into())),
                Some((k, i)) => Some((k, format!("password key {i}"))),
                None => {
                    tried.push(match e.v1 {
                        Some(_) => "password on the version 1 password key".to_string(),
                        None => format!("password on {} password key(s)", e.passwords.len()),
                    });
                    None
                }
            },
            // What vfdecrypt's -k takes: the AES key then the HMAC key.
            Secret::VolumeKey(k) if k.len() == klen + 20 => {
                Some((k.clone(), "the AES and HMAC keys given".to_string()))
            }
            Secret::VolumeKey(k) => {
                tried.push(format!(
                    "master-key of {} bytes (this image takes {}: the AES-{} key then the HMAC-SHA-1 key)",
                    k.len(),
                    klen + 20,
                    e.key_bits
                ));
                None
            }
            other => {
                tried.push(format!(
                    "{}: not a kind of key an encrypted disk image takes",
                    other.kind()
                ));
                None
            }
        };
        if let Some((k, by)) = got {
            let cipher = Encrcdsa::cipher(&k)?;
            return Ok(Opened {
                kind: "apple-dmg",
                layer: Layer::in_place(
                    Extent::new(vol.base() + off, len),
                    e.block,
                    0,
                    e.block,
                    Arc::new(cipher),
                ),
                by,
                fingerprint: fingerprint(&k[..klen]),
                plain_len: Some(e.data_len),
            });
        }
    }
    Err(tried.join("; "))
}

/// The IV of block `n`: HMAC-SHA-1 of its number, first 16 bytes.
pub(crate) fn block_iv(mac_key: &[u8], n: u64) -> [u8; 16] {
    use hmac::{KeyInit, Mac};
    let mut iv = [0u8; 16];
    if let Ok(mut m) = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(mac_key) {
        m.update(&(n as u32).to_be_bytes());
        iv.copy_from_slice(&m.finalize().into_bytes()[..16]);
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ivs_are_hmac_sha1_of_the_32_bit_block_number() {
        // Python's hmac.new(b"\x0b" * 20, struct.pack(">I", n), "sha1").
        let k = [0x0bu8; 20];
        let hex = |iv: [u8; 16]| iv.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(block_iv(&k, 0)), "d6e836f88a16c068fd3f0029c4aac78e");
        assert_eq!(hex(block_iv(&k, 300)), "49bee676030857615a4dcf3baab7ac80");
        assert_eq!(
            block_iv(&k, (1 << 32) + 1),
            block_iv(&k, 1),
            "32-bit block numbers"
        );
        // The sector cipher takes its IVs from the same function.
        let mut key = vec![7u8; 16];
        key.extend_from_slice(&k);
        let c = SectorCipher::new("aes-cbc-hmacsha1", &key).unwrap();
        assert_eq!(c.iv(300, 4096), block_iv(&k, 300));
    }

    /// A version-2 image: header, one password key header at byte 96 (its
    /// blob noise), two blocks of data at 4096.
    fn v2() -> Vec<u8> {
        let mut h = vec![0u8; 3 * 4096];
        h[..8].copy_from_slice(b"encrcdsa");
        let put = |h: &mut Vec<u8>, at: usize, v: &[u8]| h[at..at + v.len()].copy_from_slice(v);
        put(&mut h, 8, &2u32.to_be_bytes());
        put(&mut h, 24, &128u32.to_be_bytes());
        put(&mut h, 52, &4096u32.to_be_bytes());
        put(&mut h, 56, &8000u64.to_be_bytes());
        put(&mut h, 64, &4096u64.to_be_bytes());
        put(&mut h, 72, &1u32.to_be_bytes());
        put(&mut h, 76, &1u32.to_be_bytes());
        put(&mut h, 80, &96u64.to_be_bytes());
        put(&mut h, 88, &152u64.to_be_bytes());
        put(&mut h, 96, &PBKDF2.to_be_bytes());
        put(&mut h, 104, &100u32.to_be_bytes());
        put(&mut h, 108, &20u32.to_be_bytes());
        put(&mut h, 144, &8u32.to_be_bytes());
        put(&mut h, 196, &48u32.to_be_bytes());
        for (k, b) in h[200..248].iter_mut().enumerate() {
            *b = k as u8 ^ 0x5a;
        }
        h
    }

    /// A version-1 image: two blocks, then the trailer.
    fn v1() -> Vec<u8> {
        let mut h = vec![0u8; 2 * 4096 + crate::encrcdsa_v1::TRAILER as usize];
        let t = 2 * 4096;
        let put =
            |h: &mut Vec<u8>, at: usize, v: &[u8]| h[t + at..t + at + v.len()].copy_from_slice(v);
        put(&mut h, 0x10, &4096u32.to_be_bytes());
        put(&mut h, 0x30, &100u32.to_be_bytes());
        put(&mut h, 0x34, &20u32.to_be_bytes());
        put(&mut h, 0x88, &40u32.to_be_bytes());
        put(&mut h, 0x1B4, &48u32.to_be_bytes());
        put(&mut h, 0x4E8, &8000u64.to_be_bytes());
        put(&mut h, 0x4F4, b"cdsaencr");
        h
    }

    #[test]
    fn mutated_headers_and_trailers_never_panic() {
        use dredge_testkit::whole_volume;
        let (good2, good1) = (
            Encrcdsa::read(&whole_volume(v2())),
            Encrcdsa::read(&whole_volume(v1())),
        );
        assert!(good2.is_ok_and(|e| e.passwords.len() == 1 && e.data_len == 8000));
        assert!(good1.is_ok_and(|e| e.v1.is_some() && e.data_len == 8000));
        let (mut rng, cases) = dredge_testkit::mutation_setup(0xd36);
        let (base2, base1) = (v2(), v1());
        for i in 0..cases {
            let (mut img, from, span) = if i % 2 == 0 {
                (base2.clone(), 0, 260)
            } else {
                (
                    base1.clone(),
                    2 * 4096,
                    crate::encrcdsa_v1::TRAILER as usize,
                )
            };
            for _ in 0..1 + rng.below(6) {
                let at = from + rng.index(span);
                img[at] = rng.next() as u8;
            }
            let vol = whole_volume(img);
            let Ok(e) = Encrcdsa::read(&vol) else {
                continue;
            };
            let _ = e.findings(0);
            let _ = crate::dmg_lines(&e, &vol);
            // A costly KDF is bounded, not run here.
            let cheap = e.passwords.iter().all(|p| p.iterations < 5000)
                && e.v1.as_ref().is_none_or(|k| k.iterations < 5000);
            if cheap {
                let _ = open(&vol, &e, &[&Secret::Password(b"pw".to_vec())]);
            }
        }
    }

    #[test]
    fn data_lengths_near_the_top_of_the_offsets_are_refused_or_cut() {
        use dredge_testkit::whole_volume;
        let mut img = v2();
        img[56..64].copy_from_slice(&u64::MAX.to_be_bytes());
        img[64..72].copy_from_slice(&12000u64.to_be_bytes());
        assert!(Encrcdsa::read(&whole_volume(img.clone())).is_err());
        // The largest length taken: cut to the image, the hand-off reads
        // nothing past it.
        img[56..64].copy_from_slice(&MAX_DATA.to_be_bytes());
        let vol = whole_volume(img);
        let e = Encrcdsa::read(&vol).unwrap();
        assert_eq!(e.plain(vol.len()), None, "no whole block after byte 12000");
        assert!(crate::dmg_lines(&e, &vol).is_empty());
        assert!(open(&vol, &e, &[&Secret::Password(b"pw".to_vec())]).is_err());
    }
}
