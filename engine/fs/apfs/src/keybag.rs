//! FileVault on APFS: the key bags that say who can open an encrypted
//! volume. The container keybag (`keys`, at the superblock's `nx_keylocker`)
//! is encrypted with AES-XTS-128 whose two keys are the container's UUID;
//! for each encrypted volume it holds the volume encryption key (VEK)
//! wrapped by a key-encrypting key (KEK), and where the volume keybag is.
//! The volume keybag (`recs`, encrypted with the volume's UUID) holds the
//! KEK wrapped once per protector — each user's password, the personal,
//! institutional or iCloud recovery key — with that protector's PBKDF2 salt
//! and iterations, and the passphrase hint. Tweaks count 512-byte units from
//! the container's start. Each wrapped key is a small DER blob (Apple's File
//! System Reference; libfsapfs's and apfs-fuse's notes on the blob's fields).

use crate::container::Container;
use crate::obj::fletcher64;
use dredge_core::bytes::{le16, le32, le64};

/// Blocks a key bag may span (macOS writes one).
const MAX_BAG_BLOCKS: u64 = 4;
/// Entries read from one key bag.
const MAX_ENTRIES: usize = 256;
const CONTAINER_BAG: u32 = 0x6b65_7973; // "keys"
const VOLUME_BAG: u32 = 0x7265_6373; // "recs"
const TAG_VOLUME_KEY: u16 = 2;
const TAG_UNLOCK_RECORDS: u16 = 3;
const TAG_HINT: u16 = 4;

/// One wrapped key (a VEK or a KEK) from its DER blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapped {
    pub uuid: [u8; 16],
    /// The first word of the blob's flags: 2 for a key migrated from
    /// CoreStorage (128-bit: the first 24 wrapped bytes under a 16-byte key).
    pub method: u32,
    pub wrapped: [u8; 40],
    /// PBKDF2-HMAC-SHA-256 iterations and salt (a KEK's; none for a VEK).
    pub iterations: u64,
    pub salt: Vec<u8>,
}

/// Who holds one wrapped copy of a volume's KEK.
#[derive(Clone, Debug)]
pub struct Protector {
    pub kek: Wrapped,
    /// The entry's UUID: a user's, or one of the fixed recovery UUIDs.
    pub uuid: [u8; 16],
}

impl Protector {
    pub fn kind(&self) -> String {
        match uuid_str(&self.uuid).as_str() {
            "EBC6C064-0000-11AA-AA11-00306543ECAC" => "personal recovery key".into(),
            "C064EBC6-0000-11AA-AA11-00306543ECAC" => "institutional recovery key".into(),
            "64C0C6EB-0000-11AA-AA11-00306543ECAC" => "iCloud recovery key".into(),
            u => format!("user {u}"),
        }
    }
}

/// What the key bags say of one encrypted volume.
#[derive(Clone, Debug, Default)]
pub struct VolumeKeys {
    pub name: String,
    pub uuid: [u8; 16],
    pub vek: Option<Wrapped>,
    pub protectors: Vec<Protector>,
    pub hint: Option<String>,
    /// Why the key bags could not be read in full, if they could not.
    pub problem: Option<String>,
}

impl VolumeKeys {
    /// "protector 5A1E…: password (PBKDF2-SHA-256, 1000 iterations, 256-bit
    /// key); protector EBC6…: personal recovery key (…); passphrase hint "…"",
    /// the form the TUI reads protectors from.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .protectors
            .iter()
            .map(|p| {
                let kind = p.kind();
                format!(
                    "protector {}: {} (PBKDF2-SHA-256, {} iterations, {}-bit key)",
                    uuid_str(&p.uuid),
                    if kind.starts_with("user") {
                        "password"
                    } else {
                        &kind
                    },
                    p.kek.iterations,
                    if p.kek.method == 2 { 128 } else { 256 }
                )
            })
            .collect();
        if parts.is_empty() {
            parts.push("no protector readable".into());
        }
        let mut s = parts.join("; ");
        if let Some(h) = &self.hint {
            s.push_str(&format!("; passphrase hint {h:?}"));
        }
        if let Some(p) = &self.problem {
            s.push_str(&format!("; {p}"));
        }
        s
    }
}

/// A UUID as Apple prints it, in capitals (as the recovery UUIDs are known).
pub(crate) fn uuid_str(u: &[u8; 16]) -> String {
    dredge_crypt::apple_uuid(u).to_uppercase()
}

/// The DER elements of `b` as (tag, contents), in order; stops at the first
/// that does not fit.
fn der(mut b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 2 && out.len() < 32 {
        let tag = b[0];
        let (len, hdr) = match b[1] {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 if b.len() >= 3 => (usize::from(b[2]), 3),
            0x82 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
            _ => break,
        };
        if tag == 0 && len == 0 {
            break;
        }
        let Some(v) = b.get(hdr..hdr + len) else {
            break;
        };
        out.push((tag, v));
        b = &b[hdr + len..];
    }
    out
}

/// A wrapped-key blob: `SEQUENCE { [0] version, [1] hmac, [2] salt,
/// [3] SEQUENCE { [0] version, [1] uuid, [2] flags, [3] wrapped key,
/// [4] iterations, [5] salt } }`.
pub(crate) fn parse_blob(b: &[u8]) -> Option<Wrapped> {
    let outer = der(b);
    let (0x30, seq) = *outer.first()? else {
        return None;
    };
    let inner = der(seq).into_iter().find(|e| e.0 == 0xa3)?.1;
    let mut w = Wrapped {
        uuid: [0; 16],
        method: 0,
        wrapped: [0; 40],
        iterations: 0,
        salt: Vec::new(),
    };
    let mut got_key = false;
    for (tag, v) in der(inner) {
        match tag {
            0x81 if v.len() == 16 => w.uuid.copy_from_slice(v),
            0x82 if v.len() >= 4 => w.method = le32(v, 0),
            0x83 if v.len() == 40 => {
                w.wrapped.copy_from_slice(v);
                got_key = true;
            }
            0x84 if !v.is_empty() && v.len() <= 8 => {
                w.iterations = v.iter().fold(0, |a, &x| (a << 8) | u64::from(x));
            }
            0x85 if v.len() <= 64 => w.salt = v.to_vec(),
            _ => {}
        }
    }
    got_key.then_some(w)
}

/// Key bag entries: (uuid, tag, data).
type Entries = Vec<([u8; 16], u16, Vec<u8>)>;

/// The key bag of type `want` at blocks `start..start+count`, decrypted
/// with `uuid` (unless it is stored in the clear, as on some iOS images).
fn read_bag(
    c: &Container,
    (start, count): (u64, u64),
    uuid: &[u8; 16],
    want: u32,
) -> Result<Entries, String> {
    if start == 0 || count == 0 || count > MAX_BAG_BLOCKS {
        return Err(format!("key bag at block {start}, {count} blocks"));
    }
    let bs = c.blocks.size as usize;
    let mut b = Vec::with_capacity(bs * count as usize);
    for n in start..start + count {
        b.extend(c.blocks.read(n)?);
    }
    if le64(&b, 0) != fletcher64(&b[..bs]) || le64(&b, 0) == 0 {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid);
        key[16..].copy_from_slice(uuid);
        let x = dredge_crypt::SectorCipher::new("aes-xts-plain64", &key)
            .map_err(|e| format!("AES-XTS: {e:?}"))?;
        let first = start * (bs as u64 / 512);
        x.decrypt_sectors(512, |i| first + i as u64, &mut b);
    }
    let otype = le32::<u32>(&b, 24);
    if otype != want {
        return Err(format!(
            "key bag at block {start}: object type {otype:#x} once decrypted, expected {want:#x} (the UUID does not open it)"
        ));
    }
    Ok(locker(&b))
}

/// The entries of a decrypted key bag (object header, then `kb_locker`):
/// at most its count and its byte count, each whole, 16-byte aligned.
fn locker(b: &[u8]) -> Entries {
    if b.len() < 48 {
        return Vec::new();
    }
    let n = usize::from(le16::<u16>(b, 34)).min(MAX_ENTRIES);
    let end = (48 + le32::<u32>(b, 36) as usize).min(b.len());
    let mut out = Vec::new();
    let mut at = 48;
    while out.len() < n && at + 24 <= end {
        let mut u = [0u8; 16];
        u.copy_from_slice(&b[at..at + 16]);
        let (tag, len) = (
            le16::<u16>(b, at + 16),
            usize::from(le16::<u16>(b, at + 18)),
        );
        let Some(data) = b
            .get(at + 24..at + 24 + len)
            .filter(|_| at + 24 + len <= end)
        else {
            break;
        };
        if tag == 0 && len == 0 {
            break;
        }
        out.push((u, tag, data.to_vec()));
        at = (at + 24 + len).div_ceil(16) * 16;
    }
    out
}

/// What the key bags say of every encrypted volume of `c`.
pub(crate) fn read_keys(c: &Container) -> Vec<VolumeKeys> {
    let enc: Vec<_> = c
        .volumes
        .iter()
        .filter(|(_, sb)| sb.fs_flags & crate::container::UNENCRYPTED == 0)
        .collect();
    if enc.is_empty() {
        return Vec::new();
    }
    let bag = read_bag(c, c.nx.keylocker, &c.nx.uuid, CONTAINER_BAG);
    enc.into_iter()
        .map(|(_, sb)| {
            let mut k = VolumeKeys {
                name: sb.name.clone(),
                uuid: sb.uuid,
                ..VolumeKeys::default()
            };
            let entries = match &bag {
                Ok(e) => e,
                Err(why) => {
                    k.problem = Some(format!("the container keybag: {why}"));
                    return k;
                }
            };
            let mine = entries.iter().filter(|e| e.0 == sb.uuid);
            let mut recs = None;
            for (_, tag, data) in mine {
                match *tag {
                    TAG_VOLUME_KEY => k.vek = parse_blob(data),
                    TAG_UNLOCK_RECORDS if data.len() == 16 => {
                        recs = Some((le64(data, 0), le64(data, 8)));
                    }
                    _ => {}
                }
            }
            if k.vek.is_none() {
                k.problem = Some("the container keybag holds no wrapped volume key for it".into());
            }
            let Some(at) = recs else {
                k.problem.get_or_insert_with(|| {
                    "the container keybag does not say where its volume keybag is".into()
                });
                return k;
            };
            match read_bag(c, at, &sb.uuid, VOLUME_BAG) {
                Ok(es) => {
                    for (u, tag, data) in es {
                        match tag {
                            TAG_UNLOCK_RECORDS => {
                                if let Some(kek) = parse_blob(&data) {
                                    k.protectors.push(Protector { kek, uuid: u });
                                }
                            }
                            TAG_HINT => {
                                let h = String::from_utf8_lossy(&data)
                                    .trim_end_matches('\0')
                                    .to_string();
                                k.hint = Some(h.chars().take(256).collect());
                            }
                            _ => {}
                        }
                    }
                }
                Err(why) => k.problem = Some(format!("the volume keybag: {why}")),
            }
            k
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, v: &[u8]) -> Vec<u8> {
        let mut o = vec![tag];
        if v.len() < 0x80 {
            o.push(v.len() as u8);
        } else {
            o.extend([0x81, v.len() as u8]);
        }
        o.extend(v);
        o
    }

    #[test]
    fn a_kek_blob_gives_its_fields_and_a_short_one_nothing() {
        let mut inner = tlv(0x80, &[0]);
        inner.extend(tlv(0x81, &[7; 16]));
        inner.extend(tlv(0x82, &[2, 0, 0, 0, 0, 0, 0, 0]));
        inner.extend(tlv(0x83, &[9; 40]));
        inner.extend(tlv(0x84, &[0x01, 0x86, 0xA0]));
        inner.extend(tlv(0x85, &[5; 16]));
        let mut seq = tlv(0x80, &[0]);
        seq.extend(tlv(0x81, &[1; 32]));
        seq.extend(tlv(0x82, &[2; 8]));
        seq.extend(tlv(0xa3, &inner));
        let blob = tlv(0x30, &seq);
        let w = parse_blob(&blob).unwrap();
        assert_eq!((w.uuid, w.method, w.iterations), ([7; 16], 2, 100_000));
        assert_eq!((w.wrapped, w.salt.as_slice()), ([9; 40], &[5u8; 16][..]));
        for cut in 0..blob.len() {
            assert!(parse_blob(&blob[..cut]).is_none(), "cut at {cut}");
        }
    }

    /// A decrypted key bag of one block holding `entries`.
    fn bag(entries: &[([u8; 16], u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let mut at = 48;
        for (u, tag, data) in entries {
            b[at..at + 16].copy_from_slice(u);
            b[at + 16..at + 18].copy_from_slice(&tag.to_le_bytes());
            b[at + 18..at + 20].copy_from_slice(&(data.len() as u16).to_le_bytes());
            b[at + 24..at + 24 + data.len()].copy_from_slice(data);
            at = (at + 24 + data.len()).div_ceil(16) * 16;
        }
        b[34..36].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        b[36..40].copy_from_slice(&((at - 48 + 24) as u32).to_le_bytes());
        b
    }

    #[test]
    fn a_locker_gives_its_entries_and_hostile_ones_cost_only_themselves() {
        let mut inner = tlv(0x81, &[7; 16]);
        inner.extend(tlv(0x83, &[9; 40]));
        inner.extend(tlv(0x84, &[0x03, 0xE8]));
        inner.extend(tlv(0x85, &[5; 16]));
        let blob = tlv(0x30, &tlv(0xa3, &inner));
        let entries = vec![
            ([1; 16], 2, blob.clone()),
            ([1; 16], 3, vec![0x10; 16]),
            ([2; 16], 4, b"hint".to_vec()),
        ];
        let good = bag(&entries);
        assert_eq!(locker(&good), entries);
        assert_eq!(parse_blob(&blob).unwrap().iterations, 1000);
        // Every byte of the header and the entries changed, and every
        // truncation: no panic, never more entries than the count says, each
        // inside the bag.
        let mut r = dredge_testkit::Rng::new(0x4b45_5942_4147);
        for case in 0..20_000 {
            let mut b = good.clone();
            match case % 3 {
                0 => {
                    let i = (r.next() as usize) % 400;
                    b[i] = r.next() as u8;
                }
                1 => b.truncate((r.next() as usize) % 400),
                _ => {
                    for _ in 0..8 {
                        let i = 32 + (r.next() as usize) % 300;
                        b[i] ^= 1 << (r.next() % 8);
                    }
                }
            }
            let got = locker(&b);
            assert!(got.len() <= MAX_ENTRIES);
            for (_, _, data) in &got {
                assert!(data.len() <= b.len());
                let _ = parse_blob(data);
            }
        }
    }

    #[test]
    fn recovery_uuids_are_named() {
        let mut u = [0u8; 16];
        u.copy_from_slice(&[
            0xEB, 0xC6, 0xC0, 0x64, 0, 0, 0x11, 0xAA, 0xAA, 0x11, 0, 0x30, 0x65, 0x43, 0xEC, 0xAC,
        ]);
        let p = Protector {
            kek: parse_blob(&[]).unwrap_or(Wrapped {
                uuid: u,
                method: 0,
                wrapped: [0; 40],
                iterations: 1,
                salt: Vec::new(),
            }),
            uuid: u,
        };
        assert_eq!(p.kind(), "personal recovery key");
        u[0] = 1;
        assert!(Protector { uuid: u, ..p }
            .kind()
            .starts_with("user 01C6C064-"));
    }
}
