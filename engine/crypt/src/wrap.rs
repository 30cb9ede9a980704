//! The two primitives Apple's key bags are built from, for readers outside
//! this crate (APFS, whose keys live in the filesystem's own objects):
//! PBKDF2-HMAC-SHA-256 of a passphrase and RFC 3394 AES key unwrapping.

use aes_kw::{cipher::KeyInit, KwAes128, KwAes256};

/// PBKDF2-HMAC-SHA-256 of `pw` into `out`; `None` for an iteration count
/// of 0 or past the ceiling every reader here keeps (50 million).
pub fn pbkdf2_sha256(pw: &[u8], salt: &[u8], iterations: u64, out: &mut [u8]) -> Option<()> {
    let iters = u32::try_from(iterations).ok()?;
    crate::kdf::pbkdf2("sha256", pw, salt, iters, out).ok()
}

/// `wrapped` (8 bytes longer than the key it holds) unwrapped under `kek`
/// (16 or 32 bytes); `None` when the wrap's integrity check fails, which is
/// what a wrong passphrase gives.
pub fn aes_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Vec<u8>> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    let mut out = vec![0u8; wrapped.len() - 8];
    match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .ok()?
            .unwrap_key(wrapped, &mut out)
            .ok()?,
        32 => KwAes256::new_from_slice(kek)
            .ok()?
            .unwrap_key(wrapped, &mut out)
            .ok()?,
        _ => return None,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3394_vector_unwraps_and_a_wrong_kek_is_refused() {
        // RFC 3394 section 4.6: 256-bit KEK wrapping 256 bits of key data.
        let h = |s: &str| -> Vec<u8> {
            (0..s.len() / 2)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect()
        };
        let kek = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let wrapped =
            h("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
        let key = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        assert_eq!(aes_unwrap(&kek, &wrapped), Some(key));
        let mut other = kek.clone();
        other[0] ^= 1;
        assert_eq!(aes_unwrap(&other, &wrapped), None);
        assert_eq!(aes_unwrap(&kek[..20], &wrapped), None);
    }
}
