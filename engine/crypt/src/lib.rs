//! Encrypted volumes (issue 13): LUKS, BitLocker, VeraCrypt/TrueCrypt,
//! FileVault 2 on CoreStorage, Apple's encrypted disk images. An
//! encrypted volume is ciphertext: without its key it holds no file dredge can
//! list and nothing worth carving (carving it makes noise look like evidence).
//! So its reader walks nothing, gives no free space, and says what it is in
//! one finding holding the header's metadata: the examiner sees "LUKS2,
//! aes-xts-plain64, keyslot 0 argon2id …" where the volume used to be unknown
//! space. With a key the examiner gives, [`unlock`] (and [`unlock_tcrypt`]
//! for VeraCrypt, which has no header to recognise) opens it read-only: a
//! [`Layer`] the session reads the image through ([`Layered`]), so the
//! plaintext is probed, walked and carved like any volume.

mod bitlocker;
mod bitlocker_open;
mod encrcdsa;
mod encrcdsa_v1;
mod entropy;
mod fvault;
mod fvault_open;
mod handoff;
mod kdf;
mod keys;
mod layer;
mod luks;
mod luks_datashift;
mod luks_open;
mod luks_reencrypt;
mod sector;
mod sector_elephant;
mod sector_legacy;
mod serpent_fast;
mod tcrypt;
mod twofish_fast;
mod wrap;

pub use bitlocker::BitLocker;
pub use encrcdsa::Encrcdsa;
pub use entropy::{container_shape, looks_random, possible_container};
pub use fvault::{uuid as apple_uuid, FileVault};
pub use handoff::{
    bitlocker_line_opens, bitlocker_lines, dmg_line_opens, dmg_lines, fvault_lines,
    luks1_header_file, tcrypt_header_files, CrackLine, HeaderFile,
};
pub use keys::{fingerprint, KeySpec, Secret};
pub use layer::{Layer, Layered, Segment, Source};
pub use luks::Luks;
pub use luks_open::Opened;
pub use sector::{SectorCipher, Unsupported};
pub use tcrypt::{
    sequential as tcrypt_sequential, Runner as TcryptRunner, SYSTEM_HEADER as TCRYPT_SYSTEM_HEADER,
};
pub use wrap::{aes_unwrap, pbkdf2_sha256};

/// Opens the encrypted volume `vol` with the first of `keys` that fits.
/// `Err`: one line naming what was tried (never a key).
pub fn unlock(vol: &VolumeReader, keys: &[&Secret]) -> Result<Opened, String> {
    if encrcdsa::probe(vol) {
        let e = Encrcdsa::read(vol).map_err(|f| f.what)?;
        return encrcdsa::open(vol, &e, keys);
    }
    if fvault::probe(vol) {
        let f = FileVault::read(vol).map_err(|f| f.what)?;
        return fvault_open::open(vol, &f, keys);
    }
    if bitlocker::probe(vol) {
        let b = BitLocker::read(vol).map_err(|f| f.what)?;
        return bitlocker_open::open(vol, &b, keys);
    }
    if !can_unlock(vol) {
        return Err("dredge does not unlock this kind of encrypted volume yet".into());
    }
    let l = Luks::read(vol).map_err(|f| f.what)?;
    luks_open::open(vol, &l, keys)
}

/// Opens `data` with a detached LUKS header (`luks-header=PATH`): see
/// [`luks_open::open_detached`].
pub fn unlock_detached(
    header: &[u8],
    data: &VolumeReader,
    keys: &[&Secret],
) -> Result<Opened, String> {
    luks_open::open_detached(header, data, keys)
}

/// Opens `vol` as a VeraCrypt or TrueCrypt container (normal or hidden
/// volume) with the passwords, keyfiles and PIMs among `keys`. Such a volume
/// has no magic: any volume no reader recognises may be one.
/// `run` spreads the key derivations over threads (the caller's:
/// [`tcrypt_sequential`] uses none).
pub fn unlock_tcrypt(
    vol: &VolumeReader,
    keys: &[&Secret],
    run: TcryptRunner,
) -> Result<Opened, String> {
    tcrypt::open(vol, keys, run)
}

/// Opens VeraCrypt/TrueCrypt system encryption of the drive `src` (header
/// at byte 31 744).
pub fn unlock_tcrypt_system(
    src: &std::sync::Arc<dyn dredge_core::ImageSource>,
    keys: &[&Secret],
    run: TcryptRunner,
) -> Result<Opened, String> {
    tcrypt::open_system(src, keys, run)
}

/// Whether any of `keys` can open a VeraCrypt/TrueCrypt volume (a password
/// or keyfile).
pub fn tcrypt_keys(keys: &[&Secret]) -> bool {
    keys.iter()
        .any(|k| matches!(k, Secret::Password(_) | Secret::KeyFile(_)))
}

/// Whether [`unlock`] knows how to open this volume: LUKS, BitLocker,
/// FileVault 2 on CoreStorage and Apple's encrypted disk images.
pub fn can_unlock(vol: &VolumeReader) -> bool {
    luks::magic(vol).is_some()
        || (encrcdsa::probe(vol) && Encrcdsa::read(vol).is_ok())
        || (fvault::probe(vol) && FileVault::read(vol).is_ok_and(|f| f.encrypted))
        || (bitlocker::probe(vol) && BitLocker::read(vol).is_ok())
}

/// Whether the volume opens with no key: BitLocker with its protection
/// suspended keeps a clear key in its metadata.
pub fn opens_without_key(vol: &VolumeReader) -> bool {
    bitlocker::probe(vol)
        && BitLocker::read(vol).is_ok_and(|b| {
            b.material
                .vmks
                .iter()
                .any(|v| v.protection == 0 && v.clear.is_some())
        })
}

use dredge_core::{Entry, Extent, FileSystem, Finding, VolumeReader};

/// Whether the volume starts with a header this crate reads.
pub fn probe(vol: &VolumeReader) -> bool {
    luks::magic(vol).is_some()
        || bitlocker::probe(vol)
        || fvault::probe(vol)
        || encrcdsa::probe(vol)
}

/// An encrypted volume, described and not decrypted.
pub struct EncryptedVolume {
    kind: &'static str,
    label: Option<String>,
    findings: Vec<Finding>,
    /// What is carved: nothing of ciphertext; a CoreStorage volume without
    /// FileVault holds plain data, carved whole.
    free: Vec<Extent>,
}

impl EncryptedVolume {
    pub fn open(vol: VolumeReader) -> Result<EncryptedVolume, Finding> {
        if encrcdsa::probe(&vol) {
            let e = Encrcdsa::read(&vol)?;
            return Ok(EncryptedVolume {
                kind: "apple-dmg",
                label: None,
                findings: e.findings(vol.base()),
                free: Vec::new(),
            });
        }
        if fvault::probe(&vol) {
            let f = FileVault::read(&vol)?;
            let plain = !f.encrypted && f.problems.is_empty();
            return Ok(EncryptedVolume {
                kind: if f.encrypted {
                    "filevault2"
                } else {
                    "corestorage"
                },
                label: f.lv_name.clone().filter(|s| !s.is_empty()),
                findings: f.findings(vol.base()),
                free: if plain {
                    vec![Extent::new(vol.base(), vol.len())]
                } else {
                    Vec::new()
                },
            });
        }
        if bitlocker::probe(&vol) {
            let b = BitLocker::read(&vol)?;
            return Ok(EncryptedVolume {
                kind: "bitlocker",
                label: None,
                findings: b.findings(vol.base(), vol.len()),
                free: Vec::new(),
            });
        }
        let l = Luks::read(&vol)?;
        Ok(EncryptedVolume {
            kind: l.kind(),
            label: l.label.clone().filter(|s| !s.is_empty()),
            findings: l.findings(vol.base()),
            free: Vec::new(),
        })
    }
}

impl FileSystem for EncryptedVolume {
    fn type_name(&self) -> &'static str {
        self.kind
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn walk(&self, _: &mut dyn FnMut(Entry), _: &mut Vec<Finding>) {}

    fn unallocated(&self, _: &mut Vec<Finding>) -> Vec<Extent> {
        self.free.clone()
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }
}
