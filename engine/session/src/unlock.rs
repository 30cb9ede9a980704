//! Encrypted volumes opened with the examiner's keys (issue 13, decision 0015),
//! before a scan analyses the image: each volume an encrypted-volume reader
//! accepts is tried with the keys that apply to it, and those that open become
//! layers the image is read through. A volume that no key opens fails the scan
//! before anything is stored: the examiner asked for its plaintext, and a case
//! silently without it would be wrong.

use crate::layout::{accepting, layout, registry, Laid, Lost};
use crate::unit::{contain, volume_budget};
use crate::Failure;
use dredge_core::{Extent, Finding, ImageSource, Volume, VolumeKind, VolumeReader};
use dredge_crypt::{KeySpec, Layered};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What unlocking gave: the image read through the layers, and one
/// `decrypted` volume per layer for the analysis to add.
pub(crate) struct Unlocked {
    pub src: Arc<dyn ImageSource>,
    /// `None`: nothing was unlocked; `src` is the image as it was.
    pub layered: Option<Arc<Layered>>,
    pub plain: Vec<Volume>,
    /// What the examiner should know of keys that opened nothing: a
    /// detached LUKS header given for every volume that none took.
    pub notes: Vec<Finding>,
}

/// What a session records of the keys it was given: their kinds and the
/// volumes they were aimed at, never the keys.
pub(crate) fn key_kinds(keys: &[KeySpec]) -> serde_json::Value {
    keys.iter()
        .map(|k| serde_json::json!({"kind": k.secret.kind(), "volume": k.target}))
        .collect()
}

/// Runs `job(0..n)` on every core, taking indices in order; once a job returns
/// true no new one starts (VeraCrypt's key derivations: a second each).
pub(crate) fn on_all_cores(n: usize, job: &(dyn Fn(usize) -> bool + Sync)) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (next, found) = (AtomicUsize::new(0), AtomicBool::new(false));
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !found.load(Ordering::Acquire) {
                    let i = next.fetch_add(1, Ordering::AcqRel);
                    if i >= n {
                        break;
                    }
                    if job(i) {
                        found.store(true, Ordering::Release);
                    }
                }
            });
        }
    });
}

/// Whether the 512 bytes at `at` look like ciphertext (a VeraCrypt salt and
/// encrypted header).
fn looks_random(src: &dyn ImageSource, at: u64) -> bool {
    let mut b = [0u8; 512];
    src.read_at(at, &mut b).is_ok_and(|r| r.is_clean()) && dredge_crypt::looks_random(&b)
}

/// The `decrypted` volume of volume `i` opened as `o`.
fn decrypted(label: &str, i: usize, o: &dredge_crypt::Opened) -> Volume {
    Volume {
        extent: o.layer.extent,
        kind: VolumeKind::Decrypted,
        description: format!(
            "plaintext of {label}/v{i} ({}, {}-byte sectors), opened by {}, volume key fingerprint {}",
            o.layer.cipher.spec(),
            o.layer.sector,
            o.by,
            o.fingerprint
        ),
        // Where the plaintext came from: the container's type and volume.
        slot: Some(format!("{}:v{i}", o.kind)),
    }
}

/// The slot word of an encrypted Apple disk image's plaintext that is
/// itself a disk image (UDIF or sparse image): after the scan it is
/// registered as evidence of its own (`crate::decrypted_images`).
pub(crate) const IMAGE_SLOT: &str = "apple-dmg-image";

/// An encrypted Apple disk image's plaintext is as long as its header says
/// (the last block is padded). It is most often a disk image itself: every
/// `.dmg` format hdiutil encrypts is a UDIF (its `koly` trailer last), and a
/// sparse image begins `sprs`. Such a plaintext is marked for the scan.
/// The length comes from the header the opening read (`plain_len`).
fn apple_image(src: &Arc<dyn ImageSource>, opened: &dredge_crypt::Opened, v: &mut Volume) {
    let layer = &opened.layer;
    let len = opened.plain_len.unwrap_or(v.extent.len).min(v.extent.len);
    v.extent = Extent::new(v.extent.start, len);
    let plain = Layered::new(Arc::clone(src), vec![layer.clone()]);
    let at = |off: u64| {
        let mut b = [0u8; 4];
        let ok = plain.read_at(off, &mut b).is_ok_and(|r| r.is_clean());
        ok.then_some(b)
    };
    let what = if len >= 512 && at(v.extent.start + len - 512) == Some(*b"koly") {
        "a UDIF disk image"
    } else if at(v.extent.start) == Some(*b"sprs") {
        "a sparse image"
    } else {
        return;
    };
    if let Some(s) = &mut v.slot {
        *s = s.replacen("apple-dmg:", &format!("{IMAGE_SLOT}:"), 1);
    }
    v.description.push_str(&format!(
        ", holding {what}: registered as evidence of its own"
    ));
}

/// Tries `keys` on every encrypted volume of `src` (evidence `label`).
pub(crate) fn unlock(
    src: &Arc<dyn ImageSource>,
    label: &str,
    keys: &[KeySpec],
    interrupt: &AtomicBool,
) -> Result<Unlocked, Failure> {
    let none = |notes| Unlocked {
        src: Arc::clone(src),
        layered: None,
        plain: Vec::new(),
        notes,
    };
    // Untargeted detached headers: why each volume did not take them, and
    // which opened one.
    let mut headers = Headers::default();
    let reg = registry();
    let Laid { vols, .. } = layout(src, &reg, interrupt, Lost::Skip)?;
    let (mut layers, mut plain) = (Vec::new(), Vec::new());
    let all: Vec<&dredge_crypt::Secret> = keys.iter().map(|k| &k.secret).collect();
    // VeraCrypt/TrueCrypt system encryption: its header sits before the first
    // partition, at byte 31 744 of the drive.
    if dredge_crypt::tcrypt_keys(&all)
        && vols.iter().any(|v| v.kind == VolumeKind::Partition)
        && looks_random(&**src, dredge_crypt::TCRYPT_SYSTEM_HEADER)
    {
        if let Ok(Ok(o)) = contain(|| dredge_crypt::unlock_tcrypt_system(src, &all, &on_all_cores))
        {
            let i = vols
                .iter()
                .position(|v| v.extent.start == o.layer.extent.start)
                .unwrap_or(0);
            plain.push(decrypted(label, i, &o));
            layers.push(o.layer);
        }
    }
    for (i, v) in vols.iter().enumerate() {
        // (a LUKS volume may lie in an LVM logical volume)
        if !matches!(
            v.kind,
            VolumeKind::Partition | VolumeKind::Whole | VolumeKind::Logical
        ) {
            continue;
        }
        if layers
            .iter()
            .any(|l: &dredge_crypt::Layer| l.extent.overlaps(&v.extent))
        {
            continue;
        }
        let reader =
            VolumeReader::new(Arc::clone(src), v.extent).with_budget(volume_budget(v.extent.len));
        let aimed = keys
            .iter()
            .any(|k| k.target.is_some() && k.applies_to(label, i));
        // The keys that apply to this volume.
        let mine: Vec<_> = keys
            .iter()
            .filter(|k| k.applies_to(label, i))
            .map(|k| &k.secret)
            .collect();
        // FileVault on APFS: the keys live in the container's own key bags
        // and the plaintext is a layer of many stretches (dredge_fs_apfs).
        // Probed only when some key applies: a scan without keys reads no
        // more than before.
        if !mine.is_empty()
            && contain(|| !dredge_fs_apfs::encrypted_volumes(&reader).is_empty()).unwrap_or(false)
        {
            match contain(|| dredge_fs_apfs::unlock(&reader, &mine)) {
                Ok(Ok(o)) => {
                    plain.push(decrypted(label, i, &o));
                    layers.push(o.layer);
                }
                Ok(Err(tried)) => {
                    return Err(Failure(format!(
                        "{}: {label}/v{i} (APFS container at byte {}, FileVault): no key given opens it: tried {tried}",
                        src.describe(),
                        v.extent.start
                    )))
                }
                Err(why) => {
                    return Err(Failure(format!(
                        "{}: {label}/v{i} (APFS container at byte {}): opening it stopped: {why}",
                        src.describe(),
                        v.extent.start
                    )))
                }
            }
            continue;
        }
        if !contain(|| dredge_crypt::probe(&reader)).unwrap_or(false) {
            // A LUKS header kept apart from its data: tried on the volume it is
            // aimed at, or on each volume without a header whose plaintext
            // then holds a filesystem (the keyslots' check says nothing about
            // which volume is the data).
            if let Some(o) = detached(src, label, i, &reader, keys, &reg, &mut headers)? {
                plain.push(decrypted(label, i, &o));
                layers.push(o.layer);
                continue;
            }
            // No header anyone recognises: with a password, it may be a
            // VeraCrypt/TrueCrypt container (they have no magic), if no
            // filesystem reader takes it and it starts with random bytes.
            if !dredge_crypt::tcrypt_keys(&mine)
                || !looks_random(&**src, v.extent.start)
                || !accepting(&reader, &reg, &mut Vec::new()).is_empty()
            {
                continue;
            }
            match contain(|| dredge_crypt::unlock_tcrypt(&reader, &mine, &on_all_cores)) {
                Ok(Ok(o)) => {
                    plain.push(decrypted(label, i, &o));
                    layers.push(o.layer);
                }
                // Keys meant for every volume: this one may just be noise.
                Ok(Err(_)) | Err(_) if !aimed => {}
                Ok(Err(tried)) => {
                    return Err(Failure(format!(
                        "{}: {label}/v{i} (volume at byte {}, no known header: tried as VeraCrypt/TrueCrypt): no key given opens it: tried {tried}",
                        src.describe(),
                        v.extent.start
                    )))
                }
                Err(why) => {
                    return Err(Failure(format!(
                        "{}: {label}/v{i} (volume at byte {}): opening it as VeraCrypt/TrueCrypt stopped: {why}",
                        src.describe(),
                        v.extent.start
                    )))
                }
            }
            continue;
        }
        // BitLocker with its protection suspended opens with no key, as
        // Windows opens it; if it does not, it stays as detected.
        if mine.is_empty() {
            if !contain(|| dredge_crypt::opens_without_key(&reader)).unwrap_or(false) {
                continue;
            }
            if let Ok(Ok(o)) = contain(|| dredge_crypt::unlock(&reader, &[])) {
                plain.push(decrypted(label, i, &o));
                layers.push(o.layer);
            }
            continue;
        }
        // A kind dredge only recognises is passed by keys meant for every
        // volume; a key aimed at it fails below and says why.
        if !aimed && !contain(|| dredge_crypt::can_unlock(&reader)).unwrap_or(false) {
            continue;
        }
        let opened = match contain(|| dredge_crypt::unlock(&reader, &mine)) {
            Ok(Ok(o)) => o,
            Ok(Err(tried)) => {
                return Err(Failure(format!(
                    "{}: {label}/v{i} (encrypted volume at byte {}): no key given opens it: tried {tried}",
                    src.describe(),
                    v.extent.start
                )))
            }
            Err(why) => {
                return Err(Failure(format!(
                    "{}: {label}/v{i} (encrypted volume at byte {}): opening it stopped: {why}",
                    src.describe(),
                    v.extent.start
                )))
            }
        };
        let mut vol = decrypted(label, i, &opened);
        if opened.kind == "apple-dmg" {
            apple_image(src, &opened, &mut vol);
        }
        plain.push(vol);
        layers.push(opened.layer);
    }
    let notes = headers.notes(label);
    if layers.is_empty() {
        return Ok(none(notes));
    }
    let layered = Arc::new(Layered::new(Arc::clone(src), layers));
    Ok(Unlocked {
        src: Arc::clone(&layered) as Arc<dyn ImageSource>,
        layered: Some(layered),
        plain,
        notes,
    })
}

/// Detached LUKS headers given for every volume (by their place among the
/// keys): why each volume tried did not take one, and which took one.
#[derive(Default)]
struct Headers {
    refused: Vec<(usize, usize, u64, String)>,
    took: Vec<usize>,
}

impl Headers {
    /// One finding per header no volume took that some volume refused with
    /// a reason (a header whose plaintext merely holds no filesystem there
    /// is another volume's, and says nothing).
    fn notes(&self, label: &str) -> Vec<Finding> {
        let mut keys: Vec<usize> = self.refused.iter().map(|r| r.0).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter()
            .filter(|k| !self.took.contains(k))
            .map(|k| {
                let mine: Vec<&(usize, usize, u64, String)> =
                    self.refused.iter().filter(|r| r.0 == k).collect();
                let why: Vec<String> = mine
                    .iter()
                    .map(|(_, i, at, why)| format!("{label}/v{i} (byte {at}): {why}"))
                    .collect();
                Finding::new(
                    mine[0].2,
                    format!(
                        "the detached LUKS header given as key {} opened no volume: {}",
                        k + 1,
                        why.join("; ")
                    ),
                )
            })
            .collect()
    }
}

/// Volume `i` opened with a detached LUKS header among `keys` (`luks-header=`),
/// if one applies and opens it. A header aimed at this volume that does not
/// open it is an error; one given for every volume is taken here only when the
/// plaintext it gives holds a filesystem a reader accepts.
fn detached(
    src: &Arc<dyn ImageSource>,
    label: &str,
    i: usize,
    reader: &VolumeReader,
    keys: &[KeySpec],
    reg: &[crate::scan::FsKind],
    headers: &mut Headers,
) -> Result<Option<dredge_crypt::Opened>, Failure> {
    let mine: Vec<&KeySpec> = keys.iter().filter(|k| k.applies_to(label, i)).collect();
    let secrets: Vec<&dredge_crypt::Secret> = mine
        .iter()
        .map(|k| &k.secret)
        .filter(|s| !matches!(s, dredge_crypt::Secret::LuksHeader(_)))
        .collect();
    for (n, k) in keys.iter().enumerate() {
        if !k.applies_to(label, i) {
            continue;
        }
        let dredge_crypt::Secret::LuksHeader(header) = &k.secret else {
            continue;
        };
        let aimed = k.target.is_some();
        let why = match contain(|| dredge_crypt::unlock_detached(header, reader, &secrets)) {
            Ok(Ok(o)) => {
                if aimed || holds_filesystem(src, &o, reg) {
                    headers.took.push(n);
                    return Ok(Some(o));
                }
                continue;
            }
            Ok(Err(tried)) => format!("no key given opens its detached LUKS header: tried {tried}"),
            Err(why) => format!("opening it with its detached LUKS header stopped: {why}"),
        };
        if aimed {
            return Err(Failure(format!(
                "{}: {label}/v{i} (volume at byte {}): {why}",
                src.describe(),
                reader.base()
            )));
        }
        headers.refused.push((n, i, reader.base(), why));
    }
    Ok(None)
}

/// Whether the plaintext `o` gives holds a filesystem some reader accepts.
fn holds_filesystem(
    src: &Arc<dyn ImageSource>,
    o: &dredge_crypt::Opened,
    reg: &[crate::scan::FsKind],
) -> bool {
    let layered: Arc<dyn ImageSource> =
        Arc::new(Layered::new(Arc::clone(src), vec![o.layer.clone()]));
    let plain =
        VolumeReader::new(layered, o.layer.extent).with_budget(volume_budget(o.layer.extent.len));
    contain(|| !accepting(&plain, reg, &mut Vec::new()).is_empty()).unwrap_or(false)
}
