//! Password recovery hand-off (`dredge hashes`): for a protector that a
//! password opens, the line hashcat or John the Ripper takes to search for
//! that password on a lab's GPU cluster, built from the metadata alone.
//! BitLocker: `$bitlocker$T$16$SALT$1048576$12$NONCE$60$TAG+VMK` (hashcat
//! mode 22100 and John's `bitlocker` format): T = 1 for a user password
//! (checked by the whole AES-CCM tag, so no false hits), 3 for a recovery
//! password (John only: hashcat's 22100 takes types 0 and 1). FileVault 2:
//! `$fvde$1$16$SALT$ITERATIONS$KEK` (hashcat mode 16700). Apple's encrypted
//! disk images: John the Ripper's `dmg` format, `$dmg$2*…` (hashcat has no
//! mode for them): the password key header's salt, IV field, key blob and
//! iterations, and the image's first and last encrypted blocks, which John
//! decrypts to tell a right password from a false hit.
//!
//! hashcat reads LUKS1 and TrueCrypt/VeraCrypt from files, not lines: for
//! them the hand-off is a byte range of the volume to copy out
//! ([`HeaderFile`]) and the modes that read it.

use crate::bitlocker::BitLocker;
use crate::encrcdsa::Encrcdsa;
use crate::fvault::FileVault;
use crate::luks::Luks;

/// A range of an encrypted volume a cracker reads as a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFile {
    /// The file name's suffix (`luks1-header`, `tc-header`, …).
    pub suffix: &'static str,
    /// Volume offset and length of the bytes to copy.
    pub offset: u64,
    pub len: u64,
    /// What to run on it (the hashcat modes).
    pub hashcat: &'static str,
}

/// LUKS1 header files larger than this are not cryptsetup's (2 MiB of
/// header and keyslots plus the first data sector is the usual).
const MAX_LUKS1_FILE: u64 = 64 << 20;

/// hashcat's LUKS1 mode (14600) reads the header, the keyslots' material
/// and the first data sector: the volume up to one sector past the data
/// offset. `None` for LUKS2 (hashcat has no mode for it) or a data offset
/// past the bound.
pub fn luks1_header_file(l: &Luks) -> Option<HeaderFile> {
    (l.version == 1 && l.data_offset > 0 && l.data_offset + 512 <= MAX_LUKS1_FILE).then_some(
        HeaderFile {
            suffix: "luks1-header",
            offset: 0,
            len: l.data_offset + 512,
            hashcat: "hashcat -m 14600",
        },
    )
}

/// A possible VeraCrypt/TrueCrypt container: its normal header (first 512
/// bytes) and a hidden volume's (512 bytes at 64 KiB), for hashcat's modes,
/// which differ by PRF and cipher chain length and cannot be told apart
/// without the password.
pub fn tcrypt_header_files() -> [HeaderFile; 2] {
    const MODES: &str = "hashcat -m 13721 (VeraCrypt, SHA-512, one cipher; the other PRFs and chain lengths are 13711-13773, TrueCrypt's 6211-6243)";
    [
        HeaderFile {
            suffix: "tc-header",
            offset: 0,
            len: 512,
            hashcat: MODES,
        },
        HeaderFile {
            suffix: "tc-hidden-header",
            offset: 65_536,
            len: 512,
            hashcat: MODES,
        },
    ]
}

/// One line to hand to a password cracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrackLine {
    /// The protector's GUID.
    pub protector: String,
    /// What the password is ("password", "recovery password").
    pub kind: &'static str,
    /// The hashcat mode that takes the line, if any.
    pub hashcat_mode: Option<u32>,
    pub line: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Lines for every password and recovery password protector of `b`.
pub fn bitlocker_lines(b: &BitLocker) -> Vec<CrackLine> {
    let mut out = Vec::new();
    for v in &b.material.vmks {
        let (Some(salt), Some(w)) = (&v.salt, &v.wrapped) else {
            continue;
        };
        // The wrapped VMK: a 44-byte key datum (header, method, 32-byte key).
        if w.data.len() != 44 {
            continue;
        }
        let (t, kind, mode) = match v.protection {
            0x2000 => (1, "password", Some(22100)),
            0x0800 => (3, "recovery password", None),
            _ => continue,
        };
        out.push(CrackLine {
            protector: v.guid.clone(),
            kind,
            hashcat_mode: mode,
            line: format!(
                "$bitlocker${t}$16${}$1048576$12${}$60${}{}",
                hex(salt),
                hex(&w.nonce),
                hex(&w.tag),
                hex(&w.data)
            ),
        });
    }
    out
}

/// Lines for every passphrase of a FileVault 2 (CoreStorage) volume:
/// `$fvde$1$16$SALT$ITERATIONS$WRAPPED_KEK` (hashcat mode 16700, John's
/// `FVDE` format): the PBKDF2-SHA-256 salt and iterations and the wrapped
/// key-encrypting key, whose key-wrap check tells the right passphrase.
pub fn fvault_lines(f: &FileVault) -> Vec<CrackLine> {
    f.users
        .iter()
        .map(|u| CrackLine {
            protector: u.ident.clone(),
            kind: "password",
            hashcat_mode: Some(16700),
            line: format!(
                "$fvde$1$16${}${}${}",
                hex(&u.salt),
                u.iterations,
                hex(&u.wrapped_kek)
            ),
        })
        .collect()
}

/// John's `dmg` line for each password key header of `e`, read from `vol`
/// (the encrypted image): `$dmg$2*SALTLEN*SALT*32*IV*BLOBLEN*BLOB*N*LEN*
/// LAST*1*FIRST*ITERATIONS`, LAST the data from block N (the last two
/// blocks) on, FIRST the first block. None for an image under two blocks or
/// whose blocks cannot be read whole.
pub fn dmg_lines(e: &Encrcdsa, vol: &dredge_core::VolumeReader) -> Vec<CrackLine> {
    const BLOCK: u64 = 4096;
    // Version 1: `$dmg$1*SALTLEN*SALT*AESLEN*AES*HMACLEN*HMAC*ITERATIONS`,
    // the two wrapped keys (John's layout; the trailer alone).
    if let Some(k) = &e.v1 {
        return vec![CrackLine {
            protector: format!("trailer@{}", k.at),
            kind: "password",
            hashcat_mode: None,
            line: format!(
                "$dmg$1*{}*{}*{}*{}*{}*{}*{}",
                k.salt.len(),
                hex(&k.salt),
                k.aes.len(),
                hex(&k.aes),
                k.mac.len(),
                hex(&k.mac),
                k.iterations
            ),
        }];
    }
    let read = |at: u64, len: u64| {
        let mut b = vec![0u8; len as usize];
        vol.read_at(e.data_offset.saturating_add(at), &mut b)
            .is_ok_and(|r| r.is_clean())
            .then_some(b)
    };
    let Some(n) = e.data_len.div_ceil(BLOCK).checked_sub(2) else {
        return Vec::new();
    };
    let (Some(last), Some(first)) = (read(n * BLOCK, e.data_len - n * BLOCK), read(0, BLOCK))
    else {
        return Vec::new();
    };
    e.passwords
        .iter()
        .map(|p| CrackLine {
            protector: format!("password-key@{}", p.at),
            kind: "password",
            hashcat_mode: None,
            line: format!(
                "$dmg$2*{}*{}*32*{}*{}*{}*{n}*{}*{}*1*{}*{}",
                p.salt.len(),
                hex(&p.salt),
                hex(&p.iv),
                p.blob.len(),
                hex(&p.blob),
                last.len(),
                hex(&last),
                hex(&first),
                p.iterations
            ),
        })
        .collect()
}

/// Checks `line` (a `$dmg$2*` or `$dmg$1*` line) against `password` as a
/// cracker's first step does: the password must open the key blob (`CKIE`),
/// or version 1's two wrapped keys.
pub fn dmg_line_opens(line: &str, password: &[u8]) -> bool {
    let f: Vec<&str> = line.split('*').collect();
    let unhex = |s: &str| -> Option<Vec<u8>> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    };
    if f.len() == 8 && f[0] == "$dmg$1" {
        let (Some(salt), Some(aes), Some(mac), Ok(iterations)) =
            (unhex(f[2]), unhex(f[4]), unhex(f[6]), f[7].parse::<u32>())
        else {
            return false;
        };
        let k = crate::encrcdsa::V1Keys {
            at: 0,
            iterations,
            salt,
            aes,
            mac,
        };
        return crate::encrcdsa_v1::by_password(&k, password).is_some();
    }
    if f.len() != 13 || f[0] != "$dmg$2" {
        return false;
    }
    let (Some(salt), Some(iv), Some(blob), Ok(iters)) =
        (unhex(f[2]), unhex(f[4]), unhex(f[6]), f[12].parse::<u32>())
    else {
        return false;
    };
    crate::encrcdsa::open_blob(password, &salt, iters, &iv, &blob).is_some()
}

/// Checks `line` (a `$bitlocker$` line) against `password` the way a cracker
/// does: the stretched password must unwrap the VMK. For tests and for
/// `dredge hashes --check`.
pub fn bitlocker_line_opens(line: &str, password: &[u8]) -> bool {
    let f: Vec<&str> = line.split('$').collect();
    // "", "bitlocker", type, 16, salt, iterations, 12, nonce, 60, data
    if f.len() != 10 || f[1] != "bitlocker" {
        return false;
    }
    let unhex = |s: &str| -> Option<Vec<u8>> {
        (s.len().is_multiple_of(2))
            .then(|| {
                (0..s.len() / 2)
                    .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
                    .collect()
            })
            .flatten()
    };
    let (Some(salt), Some(nonce), Some(data)) = (unhex(f[4]), unhex(f[7]), unhex(f[9])) else {
        return false;
    };
    if salt.len() != 16
        || nonce.len() != 12
        || data.len() != 60
        || (f[3], f[5], f[6], f[8]) != ("16", "1048576", "12", "60")
    {
        return false;
    }
    let mut s = [0u8; 16];
    s.copy_from_slice(&salt);
    let key = match f[2] {
        "0" | "1" => crate::bitlocker_open::password_key(password, &s),
        "2" | "3" => crate::bitlocker_open::recovery_password_key(password, &s),
        _ => None,
    };
    let Some(key) = key else { return false };
    let mut w = crate::bitlocker::Wrapped {
        data: data[16..].to_vec(),
        ..Default::default()
    };
    w.nonce.copy_from_slice(&nonce);
    w.tag.copy_from_slice(&data[..16]);
    crate::bitlocker_open::unwrap(&key, &w).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hashcat's own self-test hash for mode 22100 (module_22100.c, MIT) and
    /// its password: our reading of the line and our KDF agree with theirs.
    #[test]
    fn hashcats_self_test_line_opens_with_its_password_and_not_another() {
        let st = "$bitlocker$1$16$6f972989ddc209f1eccf07313a7266a2$1048576$12$3a33a8eaff5e6f81d907b591$60$316b0f6d4cb445fb056f0e3e0633c413526ff4481bbf588917b70a4e8f8075f5ceb45958a800b42cb7ff9b7f5e17c6145bf8561ea86f52d3592059fb";
        assert!(bitlocker_line_opens(st, b"hashcat"));
        assert!(!bitlocker_line_opens(st, b"hashcas"));
        assert!(!bitlocker_line_opens(
            &st.replace("$60$", "$61$"),
            b"hashcat"
        ));
    }
}
