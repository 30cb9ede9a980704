//! Opening a BitLocker volume with the examiner's keys, read-only. A
//! protector's key unwraps the volume master key (VMK), which unwraps the full
//! volume encryption key (FVEK); both wraps are AES-CCM, so a wrong key fails
//! its tag and never yields a wrong plaintext. Protectors:
//! - password: SHA-256 twice of the UTF-16LE password, stretched by 2^20
//!   rounds of SHA-256 with the protector's salt;
//! - recovery password: the 16 bytes its eight groups stand for, hashed
//!   once and stretched the same way;
//! - startup key: the key in a `.BEK` file naming the protector's GUID;
//! - clear key (protection suspended): the key is in the metadata itself, so
//!   such a volume opens with no key given, as Windows opens it.
//!
//! A `fvek=HEX` key skips all that and is accepted when it decrypts the
//! volume's first sector to a boot sector. The plaintext volume is laid out
//! as cryptsetup's BITLK mapping lays it: the first sectors come from where
//! BitLocker moved them (encrypted there), the three FVE metadata areas and
//! that moved copy read as zeros, the rest is decrypted in place, with IVs
//! counting the volume's own sectors; past the encrypted size of a volume
//! whose conversion stopped, the bytes are plaintext as stored. Windows
//! Vista moved nothing (cryptsetup does not open its volumes; libbde and
//! dislocker do): its NTFS boot sector and the backup at the volume's end
//! stay in the clear, marked `-FVE-FS-` and with the metadata's cluster in
//! the MFT mirror field, both put back; the 8 KiB after the boot sector are
//! not encrypted; its metadata files (16 KiB each) read as zeros.

use crate::bitlocker::{guid, BitLocker, Material, Vmk, Wrapped};
use crate::keys::{fingerprint, recovery_key, Secret};
use crate::layer::{Layer, Layered, Segment, Source};
use crate::luks_open::Opened;
use crate::sector::SectorCipher;
use aes::Aes256;
use ccm::aead::AeadInOut;
use ccm::consts::{U12, U16};
use ccm::{Ccm, KeyInit};

use dredge_core::{Extent, ImageSource, VolumeReader};
use sha2::{Digest, Sha256};

fn le16(b: &[u8], at: usize) -> usize {
    dredge_core::bytes::le16::<u16>(b, at).into()
}

use std::sync::Arc;

/// Each FVE metadata area is 64 KiB; it reads as zeros in the plaintext.
const METADATA_AREA: u64 = 64 * 1024;
/// Windows Vista's metadata files are 16 KiB (rounded up to a cluster).
const VISTA_METADATA: u64 = 16 * 1024;
/// Windows Vista leaves a volume's first 8 KiB unencrypted.
const VISTA_CLEAR: u64 = 8 * 1024;

/// The password KDF: 2^20 rounds of SHA-256 over (last, initial, salt, count).
fn stretch(initial: &[u8; 32], salt: &[u8; 16]) -> [u8; 32] {
    let mut block = [0u8; 88];
    block[32..64].copy_from_slice(initial);
    block[64..80].copy_from_slice(salt);
    for count in 0u64..(1 << 20) {
        block[80..].copy_from_slice(&count.to_le_bytes());
        let h = Sha256::digest(block);
        block[..32].copy_from_slice(&h);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&block[..32]);
    out
}

pub(crate) fn password_key(pw: &[u8], salt: &[u8; 16]) -> Option<[u8; 32]> {
    let text = std::str::from_utf8(pw).ok()?;
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let once = Sha256::digest(&utf16);
    Some(stretch(&Sha256::digest(once).into(), salt))
}

pub(crate) fn recovery_password_key(rp: &[u8], salt: &[u8; 16]) -> Option<[u8; 32]> {
    let k = recovery_key(rp)?;
    Some(stretch(&Sha256::digest(k).into(), salt))
}

/// The key in a `.BEK` startup key file meant for the protector `vmk_guid`.
fn bek_key(b: &[u8], vmk_guid: &str) -> Option<Vec<u8>> {
    // A 48-byte metadata header naming the protector, then one external
    // key datum (type 6, value 9: GUID and time, then nested datums).
    if b.len() < 56 || dredge_core::bytes::le32::<u32>(b, 4) != 1 || guid(&b[16..32]) != vmk_guid {
        return None;
    }
    let len = le16(b, 48).min(b.len() - 48);
    let e = &b[48..48 + len];
    if len < 32 || le16(e, 2) != 0x0006 || le16(e, 4) != 0x0009 {
        return None;
    }
    let mut p = 32;
    while p + 8 <= e.len() {
        let n = le16(e, p);
        if n < 8 || p + n > e.len() {
            return None;
        }
        if le16(e, p + 4) == 0x0001 && n > 12 {
            return Some(e[p + 12..p + n].to_vec());
        }
        p += n;
    }
    None
}

/// Unwraps an AES-CCM datum with a 256-bit key; the key it holds (after
/// the datum's header and method) when the tag checks.
pub(crate) fn unwrap(key: &[u8], w: &Wrapped) -> Option<Vec<u8>> {
    let ccm = Ccm::<Aes256, U16, U12>::new_from_slice(key).ok()?;
    let mut data = w.data.clone();
    ccm.decrypt_inout_detached(
        &w.nonce.into(),
        &[],
        data.as_mut_slice().into(),
        &w.tag.into(),
    )
    .ok()?;
    (data.len() > 12 && le16(&data, 0) == data.len()).then(|| data[12..].to_vec())
}

/// The sector cipher spec and key for the volume's method, from the key the
/// FVEK datum holds (or one given).
fn cipher_key(method: u16, fvek: &[u8]) -> Result<(&'static str, Vec<u8>), String> {
    let (spec, len) = match method {
        0x8000 => ("aes-cbc-elephant", 32),
        0x8001 => ("aes-cbc-elephant", 64),
        0x8002 => ("aes-cbc-eboiv", 16),
        0x8003 => ("aes-cbc-eboiv", 32),
        0x8004 => ("aes-xts-plain64", 32),
        0x8005 => ("aes-xts-plain64", 64),
        m => return Err(format!("encryption method 0x{m:04x}")),
    };
    // AES-128 with the diffuser stores each 16-byte key in a 32-byte field.
    if method == 0x8000 && fvek.len() >= 64 {
        return Ok((spec, [&fvek[..16], &fvek[32..48]].concat()));
    }
    if fvek.len() < len {
        return Err(format!("a {}-byte key for a {len}-byte method", fvek.len()));
    }
    Ok((spec, fvek[..len].to_vec()))
}

/// The plaintext volume's segments (offsets relative to the volume).
/// `vista_backup`: a Vista volume whose NTFS backup boot sector (the sector
/// after the filesystem's last) is stored in the clear, marked as the first
/// (dislocker reads it so; Windows Vista rewrote both copies).
fn segments(
    m: &Material,
    metadata: &[u64],
    len: u64,
    encrypted: Option<u64>,
    vista_backup: bool,
) -> Result<Vec<(Extent, Source)>, String> {
    let s = m.sector;
    // BitLocker writes 512- and 4096-byte sectors (cryptsetup refuses others).
    if s != 512 && s != 4096 {
        return Err(format!("{s}-byte sectors"));
    }
    if len < s {
        return Err(format!("a volume of {len} bytes"));
    }
    let aligned = |x: u64| x.is_multiple_of(s);
    let iv = |at: u64| at / s;
    let mut special = Vec::new();
    let area = match m.vista {
        // Vista: the boot sector in the clear, marked, and the 8 KiB after
        // it unencrypted (libbde and dislocker read them so); its metadata
        // files are 16 KiB rounded up to a cluster.
        Some(v) => {
            let boot = Source::VistaBoot {
                mft_mirror: v.mft_mirror,
            };
            special.push((Extent::new(0, s), boot));
            if s < VISTA_CLEAR {
                special.push((Extent::from_bounds(s, VISTA_CLEAR.min(len)), Source::Clear));
            }
            let backup = v.sectors.saturating_mul(s);
            if vista_backup && backup.saturating_add(s) <= len {
                special.push((Extent::new(backup, s), boot));
            }
            let unit = v.cluster.max(s);
            VISTA_METADATA.div_ceil(unit).saturating_mul(unit)
        }
        None => {
            let (vho, vhs) = m
                .volume_header
                .ok_or("the metadata does not say where the volume's first sectors are")?;
            // 8 KiB on a Windows volume; the whole FAT discovery volume
            // (megabytes) on To Go. Only the volume bounds it.
            if vhs == 0
                || !aligned(vho)
                || !aligned(vhs)
                || vho.checked_add(vhs).is_none_or(|e| e > len)
            {
                return Err(format!("moved volume header of {vhs} bytes at {vho}"));
            }
            special.push((
                Extent::new(0, vhs),
                Source::Cipher {
                    at: vho,
                    iv: iv(vho),
                    key: 0,
                },
            ));
            special.push((Extent::new(vho, vhs), Source::Zero));
            METADATA_AREA
        }
    };
    for &at in metadata {
        if !aligned(at) {
            return Err(format!("FVE metadata at unaligned offset {at}"));
        }
        if at < len {
            special.push((
                Extent::from_bounds(at, at.saturating_add(area).min(len)),
                Source::Zero,
            ));
        }
    }
    special.sort_by_key(|(e, _)| e.start);
    // Past the encrypted size (a conversion stopped part way) is plaintext.
    let enc = encrypted.map_or(len, |e| (e / s * s).min(len));
    let mut out = Vec::new();
    let gap = |out: &mut Vec<(Extent, Source)>, a: u64, b: u64| {
        if a < b.min(enc) {
            out.push((
                Extent::from_bounds(a, b.min(enc)),
                Source::Cipher {
                    at: a,
                    iv: iv(a),
                    key: 0,
                },
            ));
        }
        if a.max(enc) < b {
            out.push((Extent::from_bounds(a.max(enc), b), Source::Clear));
        }
    };
    let mut cur = 0;
    for (e, src) in special {
        // Overlapping areas (hostile metadata): what is already laid stands.
        let start = e.start.max(cur);
        if start >= e.end() {
            continue;
        }
        gap(&mut out, cur, start);
        out.push((Extent::from_bounds(start, e.end()), src));
        cur = e.end();
    }
    gap(&mut out, cur, len);
    Ok(out)
}

/// Whether a Vista volume's NTFS backup boot sector is stored in the clear
/// (marked `-FVE-FS-`, boot signature in place) rather than encrypted.
fn vista_backup_clear(vol: &VolumeReader, m: &Material) -> bool {
    let Some(v) = m.vista else { return false };
    let mut sec = [0u8; 512];
    let at = v.sectors.saturating_mul(m.sector);
    vol.read_at(at, &mut sec).is_ok() && &sec[3..11] == b"-FVE-FS-" && sec[510..512] == [0x55, 0xaa]
}

/// The layer for FVEK `fvek` (as the datum holds it).
fn layer(vol: &VolumeReader, b: &BitLocker, fvek: &[u8]) -> Result<Layer, String> {
    let m = &b.material;
    let (spec, key) = cipher_key(m.method, fvek)?;
    let cipher = Arc::new(SectorCipher::new(spec, &key).map_err(|e| e.0)?);
    let len = vol.len() / m.sector * m.sector;
    let partial = b.encrypted_size.filter(|&e| e < len);
    let backup = vista_backup_clear(vol, m);
    let segs = segments(m, &b.metadata_offsets, len, partial, backup)?;
    let base = vol.base();
    let layer = Layer {
        extent: Extent::new(base, len),
        sector: m.sector,
        iv_unit: m.sector,
        more: Vec::new(),
        held: Vec::new(),
        cipher,
        segments: segs
            .into_iter()
            .map(|(e, src)| Segment {
                plain: Extent::new(base + e.start, e.len),
                source: match src {
                    Source::Cipher { at, iv, key } => Source::Cipher {
                        at: base + at,
                        iv,
                        key,
                    },
                    other => other,
                },
            })
            .collect(),
    };
    Ok(layer)
}

/// Whether a key given as the FVEK is this volume's: the volume's first
/// sector decrypts to a boot sector (NTFS, FAT: 0x55AA at byte 510), or, on
/// Vista, whose boot sector is not encrypted, the MFT's first sector to an
/// MFT record (`FILE`).
fn decrypts(vol: &VolumeReader, layer: &Layer, m: &Material) -> bool {
    let s = layer.sector;
    let at = match m.vista {
        Some(v) => v.mft.saturating_mul(v.cluster),
        None => 0,
    };
    if at.saturating_add(s) > layer.extent.len {
        return false;
    }
    let mut sec = vec![0u8; s as usize];
    let plain = Layered::new(Arc::clone(vol.source()), vec![layer.clone()]);
    let Ok(rep) = plain.read_at(layer.extent.start + at, &mut sec) else {
        return false;
    };
    rep.is_clean()
        && match m.vista {
            Some(_) => sec.starts_with(b"FILE"),
            None => sec[510] == 0x55 && sec[511] == 0xaa,
        }
}

fn protector_name(p: u16) -> &'static str {
    match p {
        0x0000 => "clear key",
        0x0100 => "TPM",
        0x0200 => "startup key",
        0x0500 => "TPM and PIN",
        0x0800 => "recovery password",
        0x2000 => "password",
        _ => "unknown protector",
    }
}

/// The key that unwraps `vmk`'s wrapped VMK, from `secret`, if it is the kind
/// the protector takes.
fn protector_key(secret: &Secret, vmk: &Vmk) -> Option<Vec<u8>> {
    let salt = vmk.salt.as_ref();
    match (secret, vmk.protection) {
        (Secret::Password(p), 0x2000) => password_key(p, salt?).map(|k| k.to_vec()),
        // A recovery password typed as a password, as cryptsetup takes it.
        (Secret::Password(p) | Secret::Recovery(p), 0x0800) => {
            recovery_password_key(p, salt?).map(|k| k.to_vec())
        }
        (Secret::Bek(b) | Secret::KeyFile(b), 0x0200) => bek_key(b, &vmk.guid),
        _ => None,
    }
}

/// Opens `b` (read from `vol`) with the first key that fits, or with its
/// clear key; `Err` names the protectors and the kinds of key tried.
pub fn open(vol: &VolumeReader, b: &BitLocker, keys: &[&Secret]) -> Result<Opened, String> {
    let m = &b.material;
    let fvek = m
        .fvek
        .as_ref()
        .ok_or("the metadata holds no wrapped FVEK")?;
    // The fingerprint is of the sector cipher's key, however it was given.
    let opened = |k: Vec<u8>, by: String| -> Result<Opened, String> {
        let layer = layer(vol, b, &k)?;
        Ok(Opened {
            kind: "bitlocker",
            layer,
            by,
            fingerprint: fingerprint(&cipher_key(m.method, &k)?.1),
            plain_len: None,
        })
    };
    let from_vmk = |vmk_key: &[u8]| unwrap(vmk_key, fvek);
    // Protection suspended: the key is in the clear.
    for v in m.vmks.iter().filter(|v| v.protection == 0x0000) {
        let (Some(c), Some(w)) = (&v.clear, &v.wrapped) else {
            continue;
        };
        if let Some(k) = unwrap(c, w).and_then(|vk| from_vmk(&vk)) {
            return opened(
                k,
                format!("protector {} (clear key: protection suspended)", v.guid),
            );
        }
    }
    for secret in keys {
        if let Secret::VolumeKey(k) = secret {
            // A key of the wrong length or one that does not decrypt the
            // first sector to a boot sector is not this volume's; the next
            // key may be.
            if layer(vol, b, k).is_ok_and(|l| decrypts(vol, &l, m)) {
                return opened(k.clone(), "the full volume encryption key given".into());
            }
            continue;
        }
        for v in &m.vmks {
            let Some(w) = &v.wrapped else { continue };
            let Some(pk) = protector_key(secret, v) else {
                continue;
            };
            if let Some(k) = unwrap(&pk, w).and_then(|vk| from_vmk(&vk)) {
                return opened(
                    k,
                    format!(
                        "protector {} ({}) with a {}",
                        v.guid,
                        protector_name(v.protection),
                        secret.kind()
                    ),
                );
            }
        }
    }
    let kinds: Vec<&str> = keys.iter().map(|k| k.kind()).collect();
    let prots: Vec<String> = m
        .vmks
        .iter()
        .map(|v| format!("{} ({})", v.guid, protector_name(v.protection)))
        .collect();
    Err(format!(
        "{} on protectors {}",
        if kinds.is_empty() {
            "no key".to_string()
        } else {
            kinds.join(", ")
        },
        prots.join(", ")
    ))
}
