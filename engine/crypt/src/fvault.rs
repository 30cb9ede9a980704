//! FileVault 2 on CoreStorage (Mac OS X 10.7 to macOS 10.12; later Macs
//! encrypt APFS volumes instead): detection and metadata. CoreStorage is
//! Apple's volume manager: a physical volume begins with a 512-byte header
//! (`CS` at byte 88, a CRC-32C over the rest) that names the block size, the
//! disk label block, and a 128-bit key which, with the physical volume's
//! UUID, decrypts the metadata blocks (AES-XTS, the block's index as tweak).
//! Those blocks, each under its own CRC-32C, hold the logical volume's place
//! (type 0x0305), its size and family UUID (0x001A), and the encryption
//! context (0x0019): every user's passphrase-wrapped key-encrypting key
//! (PBKDF2-SHA-256 salt and iterations) and the volume key wrapped by it.
//! The layout is libfvde's documentation and cryptsetup's `fvault2` reader;
//! `cryptsetup fvault2Dump` is the oracle.

use crate::sector::SectorCipher;
use dredge_core::checksum::crc32c_update;
use dredge_core::plist_xml::{self as cfxml, Val};
use dredge_core::{Finding, VolumeReader};

fn le16(b: &[u8], at: usize) -> u16 {
    dredge_core::bytes::le16(b, at)
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    dredge_core::bytes::le32(b, at)
}

fn le64(b: &[u8], at: usize) -> u64 {
    dredge_core::bytes::le64(b, at)
}

/// Metadata blocks are 8 KiB.
const MD_BLOCK: usize = 8192;
/// Metadata blocks read at most (the test volumes use 4; macOS a few dozen).
const MAX_MD_BLOCKS: u64 = 4096;
/// Structures past this offset are not CoreStorage's (cryptsetup's bound).
const MAX_OFF: u64 = 1 << 30;

/// One user's passphrase-wrapped key-encrypting key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub ident: String,
    pub kind: u64,
    pub kek_ident: String,
    pub hint: String,
    pub salt: [u8; 16],
    pub iterations: u32,
    pub wrapped_kek: [u8; 24],
}

/// A volume key wrapped by a key-encrypting key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrappedKey {
    pub kek_ident: String,
    pub wrapped: [u8; 24],
}

/// A CoreStorage physical volume and what its metadata says.
#[derive(Debug, Clone)]
pub struct FileVault {
    pub pv_uuid: String,
    pub group_uuid: String,
    pub block_size: u64,
    pub pv_size: u64,
    /// The logical volume's byte offset in the physical volume and size.
    pub lv_offset: Option<u64>,
    pub lv_size: Option<u64>,
    pub lv_name: Option<String>,
    pub lv_uuid: Option<String>,
    pub content_hint: Option<String>,
    /// The family UUID (its bytes key the XTS tweak).
    pub family: Option<[u8; 16]>,
    pub(crate) users: Vec<User>,
    pub(crate) keys: Vec<WrappedKey>,
    /// "Complete", or a conversion (encryption) still running.
    pub conversion: Option<String>,
    /// Whether an encryption context was found: without one the logical
    /// volume is plain (a Fusion Drive, or CoreStorage without FileVault).
    pub encrypted: bool,
    pub problems: Vec<String>,
}

/// A UUID as Apple prints it (bytes in order).
pub fn uuid(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The 16 bytes a UUID string names.
fn uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    if h.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Whether `b` (a header or metadata block) passes its CRC-32C: the seed
/// 0xFFFFFFFF at byte 4, the sum at byte 0, over the bytes after them.
fn crc_ok(b: &[u8]) -> bool {
    b.len() > 8 && le32(b, 4) == 0xFFFF_FFFF && crc32c_update(!0, &b[8..]) == le32(b, 0)
}

/// Whether the volume starts with a CoreStorage physical volume header.
pub(crate) fn probe(vol: &VolumeReader) -> bool {
    let mut h = [0u8; 512];
    vol.read_at(0, &mut h).is_ok_and(|r| r.is_clean()) && header_ok(&h)
}

fn header_ok(h: &[u8]) -> bool {
    le16(h, 8) == 1 && le16(h, 10) == 0x10 && &h[88..90] == b"CS" && crc_ok(&h[..512])
}

impl FileVault {
    pub fn read(vol: &VolumeReader) -> Result<FileVault, Finding> {
        let base = vol.base();
        let fail = |what: String| Finding::new(base, format!("CoreStorage: {what}"));
        let mut h = [0u8; 512];
        vol.read_at(0, &mut h)
            .map_err(|e| fail(format!("header unreadable: {e}")))?;
        if !header_ok(&h) {
            return Err(fail(
                "no physical volume header (or its CRC-32C fails)".into(),
            ));
        }
        let block_size = u64::from(le32(&h, 96));
        if !(512..=65_536).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(fail(format!("block size {block_size} at byte 96")));
        }
        let mut fv = FileVault {
            pv_uuid: uuid(&h[304..320]),
            group_uuid: uuid(&h[320..336]),
            block_size,
            pv_size: le64(&h, 64),
            lv_offset: None,
            lv_size: None,
            lv_name: None,
            lv_uuid: None,
            content_hint: None,
            family: None,
            users: Vec::new(),
            keys: Vec::new(),
            conversion: None,
            encrypted: false,
            problems: Vec::new(),
        };
        if le32(&h, 168) != 16 {
            fv.problems.push(format!(
                "a metadata key of {} bytes at byte 168 (16 expected): the metadata is not read",
                le32(&h, 168)
            ));
            return Ok(fv);
        }
        if let Err(p) = fv.metadata(vol, &h) {
            fv.problems.push(p);
        }
        Ok(fv)
    }

    /// Reads the disk label, then the encrypted metadata blocks.
    fn metadata(&mut self, vol: &VolumeReader, h: &[u8]) -> Result<(), String> {
        let bs = self.block_size;
        let label_at = le64(h, 104)
            .checked_mul(bs)
            .filter(|&o| o <= MAX_OFF)
            .ok_or("the disk label block lies past 1 GiB")?;
        let (label, _) = vol
            .read_vec(label_at, MD_BLOCK as u64, MD_BLOCK as u64)
            .map_err(|e| format!("disk label at byte {label_at}: {e}"))?;
        if !crc_ok(&label) {
            return Err(format!(
                "the disk label block at byte {label_at} fails its CRC-32C"
            ));
        }
        let groups_at = label_at + u64::from(le32(&label, 220));
        let mut g = [0u8; 40];
        vol.read_at(groups_at, &mut g)
            .map_err(|e| format!("volume groups descriptor at byte {groups_at}: {e}"))?;
        let count = le64(&g, 8).min(MAX_MD_BLOCKS);
        let md_at = le64(&g, 32)
            .checked_mul(bs)
            .filter(|&o| o <= MAX_OFF)
            .ok_or("the encrypted metadata lies past 1 GiB")?;
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&h[176..192]);
        key[16..].copy_from_slice(&h[304..320]);
        let cipher = SectorCipher::new("aes-xts-plain64", &key).map_err(|e| e.0)?;
        let mut seen = 0u8;
        for i in 0..count {
            let at = md_at + i * MD_BLOCK as u64;
            let mut b = vec![0u8; MD_BLOCK];
            if vol.read_at(at, &mut b).is_err() {
                self.problems
                    .push(format!("metadata block {i} at byte {at} unreadable"));
                continue;
            }
            if b.iter().all(|&x| x == 0) {
                break;
            }
            cipher.decrypt_sector(i, &mut b);
            if !crc_ok(&b) {
                self.problems.push(format!(
                    "metadata block {i} at byte {at} fails its CRC-32C once decrypted"
                ));
                continue;
            }
            let r = match le16(&b, 10) {
                0x0019 => self.context(&b).map(|_| 1),
                0x001A => self.volume(&b).map(|_| 2),
                0x0305 => {
                    self.lv_offset = u64::from(le32(&b, 104)).checked_mul(bs);
                    Ok(4)
                }
                _ => Ok(0),
            };
            match r {
                Ok(bit) => seen |= bit,
                Err(p) => self.problems.push(format!("metadata block {i}: {p}")),
            }
        }
        if seen & 6 != 6 {
            return Err("the logical volume's place or size was not found in the metadata".into());
        }
        Ok(())
    }

    /// The XML of a metadata block: `off` and `len` at bytes `at`, `at + 4`.
    fn xml(b: &[u8], at: usize) -> Result<Val, String> {
        let (off, len) = (le32(b, at) as usize, le32(b, at + 4) as usize);
        let text = off
            .checked_add(len)
            .and_then(|end| b.get(off..end))
            .ok_or_else(|| format!("XML at {off}+{len} outside the block"))?;
        let text = text.split(|&c| c == 0).next().unwrap_or(&[]);
        cfxml::parse(&String::from_utf8_lossy(text))
    }

    /// Block 0x001A: the logical volume's size, name and family UUID.
    fn volume(&mut self, b: &[u8]) -> Result<(), String> {
        let v = Self::xml(b, 128)?;
        let s = |k: &str| v.get(k).and_then(Val::str).map(String::from);
        self.lv_size = Some(
            v.get("com.apple.corestorage.lv.size")
                .and_then(Val::int)
                .filter(|&n| n > 0)
                .ok_or("no logical volume size")?,
        );
        self.family = Some(
            s("com.apple.corestorage.lv.familyUUID")
                .as_deref()
                .and_then(uuid_bytes)
                .ok_or("no family UUID")?,
        );
        self.lv_name = s("com.apple.corestorage.lv.name");
        self.lv_uuid = s("com.apple.corestorage.lv.uuid");
        self.content_hint = s("com.apple.corestorage.lv.contenthint");
        Ok(())
    }

    /// Block 0x0019: the encryption context, its users and wrapped keys.
    fn context(&mut self, b: &[u8]) -> Result<(), String> {
        if le32(b, 104) != le32(b, 108) {
            return Err("a compressed encryption context (not read)".into());
        }
        let v = Self::xml(b, 112)?;
        let ctx = v
            .get("com.apple.corestorage.lvf.encryption.context")
            .ok_or("no encryption context")?;
        self.encrypted = true;
        self.users.clear();
        self.keys.clear();
        for u in ctx.get("CryptoUsers").map(Val::items).unwrap_or_default() {
            let s = |k: &str| u.get(k).and_then(Val::str).unwrap_or("").to_string();
            // salt type, salt size, salt[16], KEK type, KEK size, KEK[24],
            // 112 bytes, iterations (cryptsetup: 284 bytes in all).
            let Some(p) = u
                .get("PassphraseWrappedKEKStruct")
                .and_then(Val::data)
                .filter(|p| p.len() >= 172 && le32(p, 4) == 16 && le32(p, 28) == 24)
            else {
                continue;
            };
            let mut salt = [0u8; 16];
            salt.copy_from_slice(&p[8..24]);
            let mut wrapped_kek = [0u8; 24];
            wrapped_kek.copy_from_slice(&p[32..56]);
            self.users.push(User {
                ident: s("UserIdent"),
                kind: u.get("UserType").and_then(Val::int).unwrap_or(0),
                kek_ident: s("KeyEncryptingKeyIdent"),
                hint: s("PassphraseHint"),
                salt,
                iterations: le32(p, 168),
                wrapped_kek,
            });
        }
        for k in ctx
            .get("WrappedVolumeKeys")
            .map(Val::items)
            .unwrap_or_default()
        {
            let Some(w) = k
                .get("KEKWrappedVolumeKeyStruct")
                .and_then(Val::data)
                .filter(|w| w.len() >= 32 && le32(w, 4) == 24)
            else {
                continue;
            };
            let mut wrapped = [0u8; 24];
            wrapped.copy_from_slice(&w[8..32]);
            self.keys.push(WrappedKey {
                kek_ident: k
                    .get("KeyEncryptingKeyIdent")
                    .and_then(Val::str)
                    .unwrap_or("")
                    .to_string(),
                wrapped,
            });
        }
        self.conversion = ctx
            .get("ConversionInfo")
            .and_then(|c| c.get("ConversionStatus"))
            .and_then(Val::str)
            .map(String::from);
        Ok(())
    }

    /// The logical volume's extent in the physical volume, whole 512-byte
    /// sectors inside it.
    pub fn lv_range(&self, vol_len: u64) -> Option<(u64, u64)> {
        let off = self.lv_offset?;
        let end = off.saturating_add(self.lv_size?).min(vol_len);
        (end > off).then(|| (off, off + (end - off) / 512 * 512))
    }

    pub fn findings(&self, base: u64) -> Vec<Finding> {
        let mut what = format!(
            "CoreStorage physical volume {} (volume group {}), {}-byte blocks, {} bytes",
            self.pv_uuid, self.group_uuid, self.block_size, self.pv_size
        );
        if let (Some(off), Some(size)) = (self.lv_offset, self.lv_size) {
            what.push_str(&format!(
                "; logical volume {} {:?} ({}) at byte {off}, {size} bytes",
                self.lv_uuid.as_deref().unwrap_or("?"),
                self.lv_name.as_deref().unwrap_or(""),
                self.content_hint.as_deref().unwrap_or("?"),
            ));
        }
        if let Some(f) = self.family {
            what.push_str(&format!(", family {}", uuid(&f)));
        }
        if self.encrypted {
            what.push_str("; FileVault 2 encrypted (AES-XTS-128)");
            if let Some(c) = &self.conversion {
                what.push_str(&format!(", conversion {c}"));
            }
            for u in &self.users {
                // "protector ID: kind (…)", as BitLocker's are written.
                what.push_str(&format!(
                    "; protector {}: passphrase (user type 0x{:x}, PBKDF2-SHA-256 {} iterations, key-encrypting key {}",
                    u.ident, u.kind, u.iterations, u.kek_ident
                ));
                if !u.hint.is_empty() {
                    what.push_str(&format!(", hint {:?}", u.hint));
                }
                what.push(')');
            }
            what.push_str(". Without its key its files are not listed and it is not carved");
        } else {
            what.push_str("; no encryption context (not FileVault)");
        }
        let mut out = vec![Finding::new(base, what)];
        out.extend(
            self.problems
                .iter()
                .map(|p| Finding::new(base, format!("CoreStorage: {p}"))),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_print_and_parse_in_byte_order() {
        let b: Vec<u8> = (0u8..16).collect();
        let s = uuid(&b);
        assert_eq!(s, "00010203-0405-0607-0809-0a0b0c0d0e0f");
        assert_eq!(uuid_bytes(&s.to_uppercase()).unwrap().to_vec(), b);
        assert!(uuid_bytes("00-11").is_none());
        assert!(uuid_bytes("zz010203-0405-0607-0809-0a0b0c0d0e0f").is_none());
    }

    #[test]
    fn a_header_needs_its_signature_version_and_crc() {
        let mut h = vec![0u8; 512];
        h[4..8].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        h[8] = 1;
        h[10] = 0x10;
        h[88..90].copy_from_slice(b"CS");
        let sum = crc32c_update(!0, &h[8..]);
        h[..4].copy_from_slice(&sum.to_le_bytes());
        assert!(header_ok(&h));
        let mut bad = h.clone();
        bad[300] ^= 1;
        assert!(!header_ok(&bad), "a changed byte fails the CRC");
        let mut bad = h.clone();
        bad[88] = b'X';
        assert!(!header_ok(&bad));
    }
}
