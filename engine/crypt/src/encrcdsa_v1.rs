//! Version 1 of Apple's encrypted disk images (Mac OS X 10.2–10.4): the
//! header is a 1 276-byte trailer ending `cdsaencr`; the encrypted data
//! starts at byte 0. A password is derived as in version 2 (PBKDF2-HMAC-SHA-1
//! to a 24-byte Triple-DES key), but the AES key and the HMAC-SHA-1 key are
//! each wrapped apart, as RFC 3217 wraps a key with Triple DES: CBC under a
//! fixed IV, the result reversed, its first 8 bytes the IV of a second CBC
//! over the rest, each with PKCS#7 padding; the key follows 4 bytes. Four
//! paddings and two exact key lengths tell a wrong password. The data is
//! AES-128-CBC per block with the HMAC-SHA-1 IV, as in version 2. Layout
//! from vfdecrypt's and apfs-fuse's readers, which agree; no reader here
//! decrypts version 1 (Debian's vfdecrypt takes every image for version 2).

use crate::encrcdsa::{Encrcdsa, V1Keys};
use cipher::{BlockModeDecrypt, KeyIvInit};
use dredge_core::bytes::{be32, be64};
use dredge_core::{Finding, VolumeReader};

/// The trailer's length and its mark's.
pub(crate) const TRAILER: u64 = 0x4FC;
const MARK: &[u8; 8] = b"cdsaencr";
/// RFC 3217's fixed IV of the first CBC pass.
const WRAP_IV: [u8; 8] = [0x4a, 0xdd, 0xa2, 0x2c, 0x79, 0xe8, 0x21, 0x05];

/// Whether the volume ends with a version-1 trailer.
pub(crate) fn probe(vol: &VolumeReader) -> bool {
    let mut m = [0u8; 8];
    vol.len() >= TRAILER
        && vol
            .read_at(vol.len() - 8, &mut m)
            .is_ok_and(|r| r.is_clean())
        && &m == MARK
}

/// The trailer read and checked.
pub(crate) fn read(vol: &VolumeReader) -> Result<Encrcdsa, Finding> {
    let at = vol.len().saturating_sub(TRAILER);
    let fail = |off: usize, what: String| {
        Finding::new(
            vol.base() + at + off as u64,
            format!("encrypted Apple disk image (version 1): {what}"),
        )
    };
    let mut h = vec![0u8; TRAILER as usize];
    if !probe(vol) || !vol.read_at(at, &mut h).is_ok_and(|r| r.is_clean()) {
        return Err(fail(0, "trailer unreadable or not `cdsaencr`".into()));
    }
    let block = u64::from(be32::<u32>(&h, 0x10));
    if !(512..=1 << 20).contains(&block) || !block.is_power_of_two() {
        return Err(fail(0x10, "block size".into()).expected("a power of two, 512 B–1 MiB", block));
    }
    let salt_len = be32::<u32>(&h, 0x34) as usize;
    let wrapped = |len_at: usize| -> Option<Vec<u8>> {
        let n = be32::<u32>(&h, len_at) as usize;
        ((16..=256).contains(&n) && n.is_multiple_of(8))
            .then(|| h[len_at + 4..len_at + 4 + n].to_vec())
    };
    let (Some(aes), Some(mac)) = (wrapped(0x88), wrapped(0x1B4)) else {
        return Err(fail(0x88, "wrapped keys".into())
            .expected("16–256 bytes, whole 8-byte blocks", "other sizes"));
    };
    if salt_len > 32 {
        return Err(fail(0x34, "salt".into()).expected("at most 32 bytes", salt_len));
    }
    let data_len = be64(&h, 0x4E8);
    if data_len == 0 || data_len > at {
        return Err(
            fail(0x4E8, "encrypted data".into()).expected(format!("1–{at} bytes"), data_len)
        );
    }
    Ok(Encrcdsa {
        version: 1,
        uuid: crate::fvault::uuid(&h[..16]),
        key_bits: 128,
        block,
        data_offset: 0,
        data_len,
        passwords: Vec::new(),
        others: Vec::new(),
        v1: Some(V1Keys {
            at: vol.base() + at,
            iterations: be32(&h, 0x30),
            salt: h[0x38..0x38 + salt_len].to_vec(),
            aes,
            mac,
        }),
    })
}

/// Triple-DES CBC decryption of `data` under `key` from `iv`, PKCS#7
/// padding removed; `None` when the padding does not check. Both versions'
/// key unwrapping is made of it.
pub(crate) fn des3_cbc(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let dec = cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv).ok()?;
    let mut buf = data.to_vec();
    let n = dec
        .decrypt_padded::<cipher::block_padding::Pkcs7>(&mut buf)
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

/// A key unwrapped under `kek` (RFC 3217's two passes); `None` when either
/// padding fails.
fn unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    let mut t = des3_cbc(kek, &WRAP_IV, wrapped)?;
    t.reverse();
    if t.len() < 16 {
        return None;
    }
    let (iv, rest) = t.split_at(8);
    let cek = des3_cbc(kek, iv, rest)?;
    cek.get(4..).map(<[u8]>::to_vec)
}

/// The AES key then the HMAC key a password opens; `None` for a wrong one.
pub(crate) fn by_password(k: &V1Keys, pw: &[u8]) -> Option<Vec<u8>> {
    let mut dk = [0u8; 24];
    crate::kdf::pbkdf2("sha1", pw, &k.salt, k.iterations, &mut dk).ok()?;
    let aes = unwrap(&dk, &k.aes).filter(|a| a.len() == 16)?;
    let mac = unwrap(&dk, &k.mac).filter(|m| m.len() == 20)?;
    Some([aes, mac].concat())
}
