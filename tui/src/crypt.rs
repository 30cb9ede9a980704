//! Encrypted volumes as the evidence screen shows them (issue 13): which
//! volumes are containers, whether they were opened (and as which decrypted
//! volume), and their protectors or keyslots, from the volume rows and the
//! container's own finding. Read once when the case is loaded.

use dredge_session::{FindingRecord, VolumeKind, VolumeRow};

fn decrypted(v: &VolumeRow) -> bool {
    v.volume_kind() == Some(VolumeKind::Decrypted)
}

/// One encrypted (or possibly encrypted) volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    pub idx: u32,
    pub start: u64,
    pub len: u64,
    /// "BitLocker", "LUKS2", "VeraCrypt", "possible VeraCrypt/TrueCrypt", …
    pub what: String,
    /// Protector kinds (BitLocker) or keyslots (LUKS), as its finding names them.
    pub protectors: Vec<String>,
    /// The decrypted volume it was opened as.
    pub opened_as: Option<u32>,
}

fn container_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "bitlocker" => "BitLocker",
        "luks1" => "LUKS1",
        "luks2" => "LUKS2",
        "veracrypt" => "VeraCrypt",
        "truecrypt" => "TrueCrypt",
        "filevault2" => "FileVault 2",
        // An encrypted .dmg; its decrypted volume's slot says
        // "apple-dmg-image" when the plaintext is a disk image itself.
        "apple-dmg" | "apple-dmg-image" => "encrypted disk image",
        // FileVault on APFS: the decrypted volume's slot ("filevault:v0").
        "filevault" => "FileVault (APFS)",
        _ => return None,
    })
}

/// The protectors or keyslots a container's finding lists.
fn protectors(what: &str) -> Vec<String> {
    what.split("; ")
        .filter_map(|part| {
            if let Some(p) = part.strip_prefix("protector ") {
                // "GUID: password"; FileVault's "UUID: passphrase (user …)".
                return p
                    .split_once(": ")
                    .map(|(_, kind)| kind.split_once(" (").map_or(kind, |(k, _)| k).to_string());
            }
            // "keyslot 0: pbkdf2-sha256, 1000 iterations, …"
            let k = part.strip_prefix("keyslot ")?;
            let (id, rest) = k.split_once(": ")?;
            Some(format!(
                "keyslot {id} ({})",
                rest.split(',').next().unwrap_or(rest)
            ))
        })
        .collect()
}

/// The encrypted volumes among `vols`; `findings` (unit, finding) are read
/// only when some volume may be one.
pub fn encrypted(
    vols: &[VolumeRow],
    findings: impl FnOnce() -> Vec<(String, FindingRecord)>,
) -> Vec<Encrypted> {
    let container_fs = |v: &VolumeRow| v.filesystems.iter().find_map(|(t, _)| container_name(t));
    let maybe = vols.iter().any(|v| {
        decrypted(v)
            || container_fs(v).is_some()
            || v.filesystems.is_empty()
            || v.filesystems.iter().any(|(t, _)| t == "apfs")
    });
    if !maybe {
        return Vec::new();
    }
    let findings = findings();
    let own = |v: &VolumeRow, prefix: &str| {
        findings
            .iter()
            .find(|(u, f)| {
                *u == format!("v{}", v.idx) && f.offset == v.start && f.what.starts_with(prefix)
            })
            .map(|(_, f)| f.what.clone())
    };
    // An encrypted APFS volume's finding is at its volume superblock, inside
    // the container, and names its protectors.
    let apfs = |v: &VolumeRow| {
        findings
            .iter()
            .find(|(u, f)| {
                *u == format!("v{}", v.idx) && f.what.contains("is encrypted (FileVault);")
            })
            .map(|(_, f)| f.what.clone())
    };
    let mut out = Vec::new();
    for v in vols.iter().filter(|v| !decrypted(v)) {
        // Opened: a decrypted volume names it in its slot ("bitlocker:v0").
        let opened = vols.iter().find_map(|d| {
            let (kind, of) = d.slot.as_deref()?.split_once(':')?;
            (decrypted(d) && of == format!("v{}", v.idx)).then(|| (d.idx, container_name(kind)))
        });
        let what = match (container_fs(v), opened) {
            (Some(w), _) | (None, Some((_, Some(w)))) => w.to_string(),
            _ if own(v, "possible VeraCrypt/TrueCrypt container").is_some() => {
                "possible VeraCrypt/TrueCrypt".to_string()
            }
            _ if apfs(v).is_some() => "FileVault (APFS)".to_string(),
            _ => continue,
        };
        let desc = own(v, "BitLocker")
            .or_else(|| own(v, "LUKS"))
            .or_else(|| own(v, "CoreStorage"))
            .or_else(|| own(v, "encrypted Apple disk image"))
            .or_else(|| apfs(v))
            .unwrap_or_default();
        out.push(Encrypted {
            idx: v.idx,
            start: v.start,
            len: v.len,
            what,
            protectors: protectors(&desc),
            opened_as: opened.map(|(i, _)| i),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protectors_and_keyslots_are_read_from_the_containers_finding() {
        let bl = "BitLocker encrypted volume 8f59…: AES-128-XTS, fully encrypted; protector 3e55195c-…: password; protector 64311dea-…: recovery password; metadata at bytes 1, 2, 3. Without its key…";
        assert_eq!(protectors(bl), vec!["password", "recovery password"]);
        let luks = "LUKS2 encrypted volume u: aes-xts-plain64, 512-bit key, data at byte 16777216; keyslot 0: luks2, 512-bit key, pbkdf2-sha256 1000 iterations, area aes-xts-plain64 at byte 32768; segment 0: crypt. Without";
        assert_eq!(protectors(luks), vec!["keyslot 0 (luks2)"]);
        let apfs = "APFS volume \"Data\" (uuid 45…) is encrypted (FileVault); protector 5A1E6C3B-9D2F-4E8A-8B7C-6D5E4F3A2B1C: password (PBKDF2-SHA-256, 1000 iterations, 256-bit key); protector EBC6C064-0000-11AA-AA11-00306543ECAC: personal recovery key (PBKDF2-SHA-256, 1000 iterations, 256-bit key); passphrase hint \"h\". Its files";
        assert_eq!(protectors(apfs), vec!["password", "personal recovery key"]);
        let fv = "CoreStorage physical volume p (volume group g), 4096-byte blocks, 536829952 bytes; FileVault 2 encrypted (AES-XTS-128), conversion Complete; protector 868C54AC-…: passphrase (user type 0x10000001, PBKDF2-SHA-256 204222 iterations, key-encrypting key 6614421E-…); protector 1FE684FE-…: passphrase (user type 0x10060002, PBKDF2-SHA-256 41000 iterations, key-encrypting key K). Without";
        assert_eq!(protectors(fv), vec!["passphrase", "passphrase"]);
        let dmg = "encrypted Apple disk image (encrcdsa version 2) U: AES-128 CBC in 4096-byte blocks, 4153344 bytes of encrypted data at byte 4096; protector password-key@680: password (PBKDF2-HMAC-SHA-1, 1000 iterations, 20-byte salt); protector key-header-2@900: certificate (a private key opens it; not taken)";
        assert_eq!(protectors(dmg), vec!["password", "certificate"]);
    }
}
