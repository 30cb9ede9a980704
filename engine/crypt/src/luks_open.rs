//! Opening a LUKS volume with the examiner's keys: for each key and each
//! active keyslot, the passphrase derived with the keyslot's KDF decrypts the
//! keyslot's key material, the anti-forensic stripes merge into a candidate
//! volume key, and the header's digest says whether it is the one. Nothing
//! is written; the result is a [`Layer`] the session decrypts through.

use crate::kdf::{af_merge, argon2, pbkdf2};
use crate::keys::{fingerprint, Secret};
use crate::layer::Layer;
use crate::luks::{be32, Luks, Raw};
use crate::sector::SectorCipher;
use base64::Engine;
use dredge_core::{Extent, VolumeReader};
use serde_json::Value;
use std::sync::Arc;

/// A volume opened: the layer, and what the case records of how.
#[derive(Debug)]
pub struct Opened {
    /// The container's type ("luks1", "luks2"), the layer's name in paths.
    pub kind: &'static str,
    pub layer: Layer,
    /// e.g. "keyslot 1 with a keyfile".
    pub by: String,
    /// [`fingerprint`] of the volume key.
    pub fingerprint: String,
    /// The plaintext's length when it is shorter than the layer: an
    /// encrypted Apple disk image pads its last block, and its header gives
    /// the true length.
    pub plain_len: Option<u64>,
}

/// Key material larger than this is not a LUKS keyslot (4 000 stripes of a
/// 512-bit key are 256 000 bytes).
const MAX_MATERIAL: u64 = 8 << 20;

fn b64(v: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()
}

pub(crate) fn num(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Decrypts `len` bytes of key material at volume offset `off` with `key`
/// under `spec`, 512-byte sectors numbered from 0, and merges the stripes.
fn material(
    vol: &VolumeReader,
    spec: &str,
    key: &[u8],
    off: u64,
    key_len: usize,
    stripes: usize,
    af_hash: &str,
) -> Result<Vec<u8>, String> {
    let len = (key_len as u64)
        .checked_mul(stripes as u64)
        .filter(|&n| n > 0 && n <= MAX_MATERIAL)
        .ok_or_else(|| format!("{stripes} stripes of {key_len} bytes"))?;
    let padded = len.div_ceil(512) * 512;
    let (mut m, _) = vol
        .read_vec(off, padded, MAX_MATERIAL + 512)
        .map_err(|e| e.to_string())?;
    let c = SectorCipher::new(spec, key).map_err(|e| e.0)?;
    for (i, s) in m.chunks_exact_mut(512).enumerate() {
        c.decrypt_sector(i as u64, s);
    }
    af_merge(&m, key_len, stripes, af_hash).map_err(|e| e.0)
}

/// Tries every key on every keyslot; `Err` names what was tried.
pub fn open(vol: &VolumeReader, luks: &Luks, keys: &[&Secret]) -> Result<Opened, String> {
    open_with(vol, vol, luks, keys)
}

/// `open`, with the header and its keyslots read from `header` and the data
/// segment on `data`: the same volume, or a detached header (`cryptsetup
/// --header`) kept apart from the data it unlocks.
pub fn open_with(
    header: &VolumeReader,
    data: &VolumeReader,
    luks: &Luks,
    keys: &[&Secret],
) -> Result<Opened, String> {
    match &luks.raw {
        Raw::V1(h) => open_v1(header, data, luks, h, keys),
        Raw::V2(json) => open_v2(header, data, luks.kind(), json, keys),
    }
}

fn open_v1(
    vol: &VolumeReader,
    data_vol: &VolumeReader,
    luks: &Luks,
    h: &[u8],
    keys: &[&Secret],
) -> Result<Opened, String> {
    let hash = crate::luks::text(&h[72..104]);
    let key_len = be32(h, 108) as usize;
    if !(16..=128).contains(&key_len) {
        return Err(format!("a {key_len}-byte volume key"));
    }
    let (digest, salt, iters) = (&h[112..132], &h[132..164], be32(h, 164));
    let check = |mk: &[u8]| -> bool {
        let mut d = [0u8; 20];
        pbkdf2(&hash, mk, salt, iters, &mut d).is_ok() && d == digest
    };
    let data = u64::from(be32(h, 104)) * 512;
    let kind = luks.kind();
    let layer = |mk: Vec<u8>, by: String| -> Result<Opened, String> {
        let cipher = SectorCipher::new(&luks.cipher, &mk).map_err(|e| e.0)?;
        let end = data + (data_vol.len().saturating_sub(data)) / 512 * 512;
        Ok(Opened {
            kind,
            layer: Layer::in_place(
                Extent::from_bounds(data_vol.base() + data.min(end), data_vol.base() + end),
                512,
                0,
                512,
                Arc::new(cipher),
            ),
            by,
            fingerprint: fingerprint(&mk),
            plain_len: None,
        })
    };
    let slots: Vec<String> = (0..8)
        .filter(|&i| be32(h, 208 + 48 * i) == 0x00AC_71F3)
        .map(|i| i.to_string())
        .collect();
    let attempt = |id: &str, pw: &[u8]| -> Result<Vec<u8>, String> {
        let k = 208 + 48 * id.parse::<usize>().map_err(|e| e.to_string())?;
        let mut pk = vec![0u8; key_len];
        pbkdf2(&hash, pw, &h[k + 8..k + 40], be32(h, k + 4), &mut pk).map_err(|e| e.0)?;
        let off = u64::from(be32(h, k + 40)) * 512;
        let stripes = be32(h, k + 44) as usize;
        material(vol, &luks.cipher, &pk, off, key_len, stripes, &hash)
    };
    let (mk, by) = first_fit(keys, &slots, check, attempt)?;
    layer(mk, by)
}

fn open_v2(
    vol: &VolumeReader,
    data: &VolumeReader,
    kind: &'static str,
    json: &Value,
    keys: &[&Secret],
) -> Result<Opened, String> {
    let segs = json["segments"].as_object().ok_or("no segments")?;
    // A reencryption in progress keeps copies of the old and new segments'
    // parameters ("backup-previous", "backup-final"): never data of their own.
    let live: Vec<(&String, &Value)> = segs.iter().filter(|(_, g)| !is_backup(g)).collect();
    if live.len() > 1 || live.iter().any(|(_, g)| has_flag(g, "in-reencryption")) {
        return crate::luks_reencrypt::open(vol, data, kind, json, &live, keys);
    }
    let (seg_id, seg) = *live.first().ok_or("no segment")?;
    if seg["type"].as_str() != Some("crypt") {
        return Err(format!("segment {seg_id} of type {}", seg["type"]));
    }
    let spec = seg["encryption"]
        .as_str()
        .ok_or("segment without encryption")?;
    let sector = num(&seg["sector_size"]).unwrap_or(512);
    if !matches!(sector, 512 | 1024 | 2048 | 4096) {
        return Err(format!("{sector}-byte sectors"));
    }
    let offset = num(&seg["offset"]).ok_or("segment without offset")?;
    let len = match seg["size"].as_str() {
        Some("dynamic") => data.len().saturating_sub(offset),
        _ => num(&seg["size"]).ok_or("segment without size")?,
    };
    let end = offset.saturating_add(len).min(data.len());
    let end = offset + end.saturating_sub(offset) / sector * sector;
    let iv_tweak = num(&seg["iv_tweak"]).unwrap_or(0);
    let (_, digest) = digest_of(json, seg_id).ok_or("no digest for the data segment")?;
    let (mk, by) = unlock_digest(vol, json, digest, keys)?;
    let cipher = SectorCipher::new(spec, &mk).map_err(|e| e.0)?;
    Ok(Opened {
        kind,
        // IVs count 512-byte sectors whatever the encryption sector size:
        // cryptsetup maps LUKS2 without dm-crypt's iv_large_sectors
        // (4 KiB sectors advance the IV by 8).
        layer: Layer::in_place(
            Extent::from_bounds(data.base() + offset.min(end), data.base() + end),
            sector,
            iv_tweak,
            512,
            Arc::new(cipher),
        ),
        by,
        fingerprint: fingerprint(&mk),
        plain_len: None,
    })
}

pub(crate) fn has_flag(seg: &Value, flag: &str) -> bool {
    seg["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(flag)))
}

pub(crate) fn is_backup(seg: &Value) -> bool {
    seg["flags"].as_array().is_some_and(|f| {
        f.iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with("backup-")))
    })
}

/// The digest that checks segment `seg_id`'s key, with its name.
pub(crate) fn digest_of<'a>(json: &'a Value, seg_id: &str) -> Option<(&'a str, &'a Value)> {
    json["digests"].as_object().and_then(|d| {
        d.iter()
            .find(|(_, g)| {
                g["segments"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x.as_str() == Some(seg_id)))
            })
            .map(|(n, g)| (n.as_str(), g))
    })
}

/// The volume key a LUKS2 digest accepts, from the examiner's keys through
/// the keyslots the digest covers; and which keyslot gave it.
pub(crate) fn unlock_digest(
    vol: &VolumeReader,
    json: &Value,
    digest: &Value,
    keys: &[&Secret],
) -> Result<(Vec<u8>, String), String> {
    if digest["type"].as_str() != Some("pbkdf2") {
        return Err(format!("a digest of type {}", digest["type"]));
    }
    let want = b64(&digest["digest"]).ok_or("digest not base64")?;
    let dsalt = b64(&digest["salt"]).ok_or("digest salt not base64")?;
    let dhash = digest["hash"].as_str().unwrap_or("sha256").to_string();
    let diters = num(&digest["iterations"])
        .unwrap_or(0)
        .min(u64::from(u32::MAX)) as u32;
    let check = |mk: &[u8]| -> bool {
        let mut d = vec![0u8; want.len()];
        pbkdf2(&dhash, mk, &dsalt, diters, &mut d).is_ok() && d == want
    };
    // cryptsetup writes at most 32 keyslots; a header naming thousands would
    // make each key cost thousands of KDF runs.
    let slots: Vec<String> = digest["keyslots"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .take(32)
                .collect()
        })
        .unwrap_or_default();
    let attempt = |id: &str, pw: &[u8]| keyslot_v2(vol, &json["keyslots"][id], pw);
    first_fit(keys, &slots, check, attempt)
}

/// The first key that gives the volume key `check` accepts: a volume key
/// as given, a passphrase through each keyslot in `slots` (`attempt` derives
/// that keyslot's candidate). The volume key and which keyslot gave it; or
/// one line of what was tried.
fn first_fit(
    keys: &[&Secret],
    slots: &[String],
    check: impl Fn(&[u8]) -> bool,
    attempt: impl Fn(&str, &[u8]) -> Result<Vec<u8>, String>,
) -> Result<(Vec<u8>, String), String> {
    let mut tried = Vec::new();
    for key in keys {
        let pw = match key {
            Secret::VolumeKey(mk) => {
                if check(mk) {
                    return Ok((mk.clone(), "the volume key given".into()));
                }
                tried.push("master-key: does not match the header's digest".to_string());
                continue;
            }
            Secret::Password(p) | Secret::KeyFile(p) => p,
            // BitLocker's kinds of key: nothing a LUKS keyslot takes.
            Secret::Recovery(_) | Secret::Bek(_) | Secret::Pim(_) | Secret::LuksHeader(_) => {
                tried.push(format!("{}: not a kind of key LUKS takes", key.kind()));
                continue;
            }
        };
        for id in slots {
            match attempt(id, pw) {
                Ok(mk) if check(&mk) => {
                    return Ok((mk, format!("keyslot {id} with a {}", key.kind())));
                }
                Ok(_) => {}
                Err(e) => tried.push(format!("keyslot {id}: {e}")),
            }
        }
        tried.push(format!("{} on keyslots {}", key.kind(), slots.join(", ")));
    }
    Err(tried.join("; "))
}

/// The candidate volume key LUKS2 keyslot `k` gives for passphrase `pw`.
fn keyslot_v2(vol: &VolumeReader, k: &Value, pw: &[u8]) -> Result<Vec<u8>, String> {
    let key_len = num(&k["key_size"])
        .filter(|n| (16..=128).contains(n))
        .ok_or("key size")? as usize;
    let area = &k["area"];
    let spec = area["encryption"]
        .as_str()
        .ok_or("area without encryption")?;
    let area_key = num(&area["key_size"])
        .filter(|n| (16..=128).contains(n))
        .ok_or("area key size")? as usize;
    let off = num(&area["offset"]).ok_or("area offset")?;
    let kdf = &k["kdf"];
    let salt = b64(&kdf["salt"]).ok_or("KDF salt not base64")?;
    let mut pk = vec![0u8; area_key];
    let u32of = |v: &Value| num(v).unwrap_or(0).min(u64::from(u32::MAX)) as u32;
    match kdf["type"].as_str() {
        Some("pbkdf2") => pbkdf2(
            kdf["hash"].as_str().unwrap_or(""),
            pw,
            &salt,
            u32of(&kdf["iterations"]),
            &mut pk,
        ),
        Some(t @ ("argon2i" | "argon2id")) => argon2(
            t,
            pw,
            &salt,
            u32of(&kdf["time"]),
            u32of(&kdf["memory"]),
            u32of(&kdf["cpus"]),
            &mut pk,
        ),
        t => return Err(format!("KDF {}", t.unwrap_or("?"))),
    }
    .map_err(|e| e.0)?;
    let af = &k["af"];
    let stripes = num(&af["stripes"]).unwrap_or(0).min(1 << 20) as usize;
    let hash = af["hash"].as_str().unwrap_or("sha256");
    material(vol, spec, &pk, off, key_len, stripes, hash)
}

/// Opens the data volume `data` with a LUKS header kept apart from it
/// (`cryptsetup --header`), whose bytes are `header`. What opened it names the
/// header by its SHA-256, so the case records which header file was used.
pub fn open_detached(
    header: &[u8],
    data: &VolumeReader,
    keys: &[&Secret],
) -> Result<Opened, String> {
    let len = header.len() as u64;
    let hv = VolumeReader::new(
        Arc::new(dredge_core::InMemory::new(
            header.to_vec(),
            "detached LUKS header",
        )),
        Extent::new(0, len),
    );
    if crate::luks::magic(&hv).is_none() {
        return Err("the luks-header file given is not a LUKS header".into());
    }
    let luks = Luks::read(&hv).map_err(|f| f.what)?;
    let mut o = open_with(&hv, data, &luks, keys)?;
    let digest =
        sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), header));
    o.by = format!("{}, detached header SHA-256 {}", o.by, hex_lower(&digest));
    Ok(o)
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
