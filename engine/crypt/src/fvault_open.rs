//! Opening FileVault 2 (CoreStorage) with the examiner's keys. A passphrase
//! (a user's password, or the recovery key typed as one) is derived with
//! PBKDF2-HMAC-SHA-256 (16 bytes, each user's salt and iterations) into the
//! key that unwraps that user's key-encrypting key (RFC 3394 AES key wrap,
//! whose integrity check tells a wrong passphrase); the key-encrypting key
//! unwraps the volume key. The logical volume is AES-XTS-128 over 512-byte
//! sectors numbered from its start, the tweak key being the first 16 bytes
//! of SHA-256(volume key ‖ family UUID). A volume key given as such
//! (`master-key=HEX`) has no check in the metadata: it is taken when the
//! plaintext it gives begins as HFS+ does (CoreStorage holds HFS+).

use crate::fvault::FileVault;
use crate::keys::{fingerprint, Secret};
use crate::layer::Layer;
use crate::luks_open::Opened;
use crate::sector::SectorCipher;
use dredge_core::{Extent, VolumeReader};
use sha2::Digest;
use std::sync::Arc;

/// Unwraps a 16-byte key wrapped (24 bytes) under `kek`; `None` when the
/// wrap's integrity check fails (the wrong key).
fn unwrap(kek: &[u8; 16], wrapped: &[u8; 24]) -> Option<[u8; 16]> {
    crate::wrap::aes_unwrap(kek, wrapped)?.try_into().ok()
}

/// The XTS key (volume key ‖ tweak key) for volume key `vk`.
fn xts_key(vk: &[u8; 16], family: &[u8; 16]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(vk);
    h.update(family);
    let t = h.finalize();
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(vk);
    k[16..].copy_from_slice(&t[..16]);
    k
}

/// The volume key a passphrase gives through `fv`'s users: the key and the
/// user it came through.
fn by_passphrase(fv: &FileVault, pw: &[u8]) -> Option<([u8; 16], String)> {
    for u in &fv.users {
        let mut pk = [0u8; 16];
        if crate::kdf::pbkdf2("sha256", pw, &u.salt, u.iterations, &mut pk).is_err() {
            continue;
        }
        let Some(kek) = unwrap(&pk, &u.wrapped_kek) else {
            continue;
        };
        // The volume key wrapped by this user's key-encrypting key (any
        // other the metadata holds when the idents are missing).
        let mut keys: Vec<_> = fv
            .keys
            .iter()
            .filter(|k| k.kek_ident == u.kek_ident)
            .collect();
        if keys.is_empty() {
            keys = fv.keys.iter().collect();
        }
        for k in keys {
            if let Some(vk) = unwrap(&kek, &k.wrapped) {
                return Some((vk, format!("user {}'s passphrase", u.ident)));
            }
        }
    }
    None
}

/// Whether the first plaintext sectors under `key` hold an HFS+ or HFSX
/// volume header (signature and version at byte 1024).
fn plaintext_is_hfs(vol: &VolumeReader, at: u64, key: &[u8; 32]) -> bool {
    let Ok(c) = SectorCipher::new("aes-xts-plain64", key) else {
        return false;
    };
    let mut s = [0u8; 512];
    if vol.read_at(at + 1024, &mut s).is_err() {
        return false;
    }
    c.decrypt_sector(2, &mut s);
    matches!(&s[..4], b"H+\0\x04" | b"HX\0\x05")
}

/// Tries every key; `Err` names what was tried (never a key).
pub fn open(vol: &VolumeReader, fv: &FileVault, keys: &[&Secret]) -> Result<Opened, String> {
    if !fv.encrypted {
        return Err("the CoreStorage volume has no encryption context".into());
    }
    let (off, end) = fv
        .lv_range(vol.len())
        .ok_or("the logical volume's place is not known")?;
    let family = fv.family.ok_or("no family UUID")?;
    let mut tried = Vec::new();
    for key in keys {
        let got = match key {
            Secret::Password(pw) => match by_passphrase(fv, pw) {
                Some((vk, by)) => Some((xts_key(&vk, &family), by)),
                None => {
                    tried.push(format!(
                        "password on {} user(s) {}",
                        fv.users.len(),
                        fv.users
                            .iter()
                            .map(|u| u.ident.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    None
                }
            },
            Secret::VolumeKey(k) if k.len() == 16 || k.len() == 32 => {
                let mut full = [0u8; 32];
                if k.len() == 16 {
                    let mut vk = [0u8; 16];
                    vk.copy_from_slice(k);
                    full = xts_key(&vk, &family);
                } else {
                    full.copy_from_slice(k);
                }
                if plaintext_is_hfs(vol, off, &full) {
                    Some((full, "the volume key given".to_string()))
                } else {
                    tried.push(
                        "master-key: its plaintext does not begin with an HFS+ volume header"
                            .into(),
                    );
                    None
                }
            }
            Secret::VolumeKey(k) => {
                tried.push(format!(
                    "master-key of {} bytes (FileVault 2 takes 16, or 32 with the tweak key)",
                    k.len()
                ));
                None
            }
            other => {
                tried.push(format!(
                    "{}: not a kind of key FileVault 2 takes",
                    other.kind()
                ));
                None
            }
        };
        if let Some((k, by)) = got {
            let cipher = SectorCipher::new("aes-xts-plain64", &k).map_err(|e| e.0)?;
            return Ok(Opened {
                kind: "filevault2",
                layer: Layer::in_place(
                    Extent::from_bounds(vol.base() + off, vol.base() + end),
                    512,
                    0,
                    512,
                    Arc::new(cipher),
                ),
                by,
                // The volume key as the metadata wraps it (what other tools
                // print as FileVault's volume key).
                fingerprint: fingerprint(&k[..16]),
                plain_len: None,
            });
        }
    }
    Err(tried.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_unwrap_follows_rfc_3394() {
        // RFC 3394 4.1: 128 bits of key data wrapped with a 128-bit KEK.
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len() / 2)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect()
        };
        let kek: [u8; 16] = hex("000102030405060708090A0B0C0D0E0F").try_into().unwrap();
        let wrapped: [u8; 24] = hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")
            .try_into()
            .unwrap();
        assert_eq!(
            unwrap(&kek, &wrapped).unwrap().to_vec(),
            hex("00112233445566778899AABBCCDDEEFF")
        );
        let mut wrong = kek;
        wrong[0] ^= 1;
        assert!(unwrap(&wrong, &wrapped).is_none(), "a wrong KEK is told");
    }
}
