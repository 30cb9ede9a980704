//! Key derivation as LUKS uses it: PBKDF2 with a named hash, Argon2i/Argon2id,
//! and the anti-forensic splitter's merge (LUKS1 on-disk format, section 2.4).
//! Parameters come from the evidence, so each is bounded before any work: a
//! header claiming 2^32 iterations or 64 GiB of Argon2 memory is refused, not
//! obeyed.

use pbkdf2::pbkdf2_hmac;
use sha2::Digest;

/// Refused parameters, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// PBKDF2 iterations cryptsetup would ever write are far below this; more
/// would keep one guess busy for minutes.
const MAX_ITERATIONS: u32 = 50_000_000;
/// cryptsetup's own ceiling for Argon2 memory (4 GiB, in KiB).
const MAX_ARGON2_KIB: u32 = 4 << 20;
const MAX_ARGON2_TIME: u32 = 1_000;

/// PBKDF2-HMAC with the hash LUKS names, into `out`.
pub fn pbkdf2(
    hash: &str,
    pw: &[u8],
    salt: &[u8],
    iters: u32,
    out: &mut [u8],
) -> Result<(), Refused> {
    if iters == 0 || iters > MAX_ITERATIONS {
        return Err(Refused(format!("{iters} PBKDF2 iterations")));
    }
    match hash.to_ascii_lowercase().as_str() {
        "sha1" => pbkdf2_hmac::<sha1::Sha1>(pw, salt, iters, out),
        "sha256" => pbkdf2_hmac::<sha2::Sha256>(pw, salt, iters, out),
        "sha512" => pbkdf2_hmac::<sha2::Sha512>(pw, salt, iters, out),
        "ripemd160" => pbkdf2_hmac::<ripemd::Ripemd160>(pw, salt, iters, out),
        "whirlpool" => pbkdf2_hmac::<whirlpool::Whirlpool>(pw, salt, iters, out),
        // VeraCrypt's further PRFs.
        "stribog512" | "streebog" => pbkdf2_hmac::<streebog::Streebog512>(pw, salt, iters, out),
        // BLAKE2s buffers lazily: HMAC over it is the generic construction.
        "blake2s-256" | "blake2s" => {
            pbkdf2::pbkdf2::<hmac::SimpleHmac<blake2::Blake2s256>>(pw, salt, iters, out)
                .map_err(|e| Refused(format!("PBKDF2-BLAKE2s: {e}")))?
        }
        h => return Err(Refused(format!("PBKDF2 hash {h}"))),
    }
    Ok(())
}

/// Argon2i or Argon2id (version 1.3), as LUKS2 runs it: `memory` in KiB.
pub fn argon2(
    kind: &str,
    pw: &[u8],
    salt: &[u8],
    time: u32,
    memory: u32,
    lanes: u32,
    out: &mut [u8],
) -> Result<(), Refused> {
    if memory > MAX_ARGON2_KIB || time > MAX_ARGON2_TIME {
        return Err(Refused(format!(
            "Argon2 with {memory} KiB and {time} passes (more than cryptsetup writes)"
        )));
    }
    let alg = match kind {
        "argon2i" => argon2::Algorithm::Argon2i,
        "argon2id" => argon2::Algorithm::Argon2id,
        k => return Err(Refused(format!("KDF {k}"))),
    };
    let params = argon2::Params::new(memory, time, lanes.clamp(1, 16), Some(out.len()))
        .map_err(|e| Refused(format!("Argon2 parameters: {e}")))?;
    argon2::Argon2::new(alg, argon2::Version::V0x13, params)
        .hash_password_into(pw, salt, out)
        .map_err(|e| Refused(format!("Argon2: {e}")))
}

/// One hash by its LUKS name (the splitter's diffusion, reencryption checksums).
pub(crate) fn hash_of(hash: &str, data: &[u8]) -> Result<Vec<u8>, Refused> {
    Ok(match hash.to_ascii_lowercase().as_str() {
        "sha1" => sha1::Sha1::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        "ripemd160" => ripemd::Ripemd160::digest(data).to_vec(),
        "whirlpool" => whirlpool::Whirlpool::digest(data).to_vec(),
        h => return Err(Refused(format!("AF hash {h}"))),
    })
}

/// The splitter's diffusion: each digest-sized piece replaced by the hash of
/// its index (big-endian) and itself, the last piece truncated.
fn diffuse(hash: &str, d: &mut [u8]) -> Result<(), Refused> {
    let size = hash_of(hash, b"")?.len();
    let mut out = Vec::with_capacity(d.len());
    for (i, piece) in d.chunks(size).enumerate() {
        let mut input = (i as u32).to_be_bytes().to_vec();
        input.extend_from_slice(piece);
        let h = hash_of(hash, &input)?;
        out.extend_from_slice(&h[..piece.len()]);
    }
    d.copy_from_slice(&out);
    Ok(())
}

/// Merges `stripes` stripes of `key_len` bytes (the decrypted key material)
/// into the key they were split from.
pub fn af_merge(
    material: &[u8],
    key_len: usize,
    stripes: usize,
    hash: &str,
) -> Result<Vec<u8>, Refused> {
    if key_len == 0 || stripes == 0 || material.len() < key_len * stripes {
        return Err(Refused(format!(
            "{stripes} stripes of {key_len} bytes in {} bytes of key material",
            material.len()
        )));
    }
    let mut d = vec![0u8; key_len];
    for s in material.chunks(key_len).take(stripes - 1) {
        d.iter_mut().zip(s).for_each(|(a, b)| *a ^= b);
        diffuse(hash, &mut d)?;
    }
    let last = &material[(stripes - 1) * key_len..stripes * key_len];
    d.iter_mut().zip(last).for_each(|(a, b)| *a ^= b);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_matches_rfc_6070_and_bounds_are_kept() {
        let mut out = [0u8; 20];
        pbkdf2("sha1", b"password", b"salt", 2, &mut out).unwrap();
        assert_eq!(
            out.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
        assert!(pbkdf2("sha1", b"p", b"s", u32::MAX, &mut out).is_err());
        assert!(pbkdf2("md4", b"p", b"s", 1, &mut out).is_err());
        assert!(argon2("argon2id", b"p", b"saltsalt", 1, u32::MAX, 1, &mut out).is_err());
        argon2("argon2id", b"p", b"saltsalt", 1, 64, 1, &mut out).unwrap();
    }

    #[test]
    fn one_stripe_is_the_key_and_short_material_is_refused() {
        let key = [7u8; 32];
        assert_eq!(af_merge(&key, 32, 1, "sha256").unwrap(), key);
        assert!(af_merge(&key, 32, 2, "sha256").is_err());
        assert!(af_merge(&key, 0, 1, "sha256").is_err());
        // Two stripes: s0 = 0…, so the key is H-diffused zeros XOR s1.
        let mut m = vec![0u8; 64];
        m[32..].copy_from_slice(&key);
        let mut d = vec![0u8; 32];
        diffuse("sha256", &mut d).unwrap();
        let want: Vec<u8> = d.iter().zip(&key).map(|(a, b)| a ^ b).collect();
        assert_eq!(af_merge(&m, 32, 2, "sha256").unwrap(), want);
    }
}
