//! VeraCrypt and TrueCrypt volumes, opened read-only with the examiner's
//! password, keyfiles and PIM. Such a volume has no magic: its first 512 bytes
//! are a 64-byte salt and a header encrypted under a key derived from the
//! password, so the only test is to derive and look. Every key derivation and
//! cipher chain the formats define is tried, as `cryptsetup tcryptOpen` does,
//! and a header is accepted only with its magic (`VERA`, `TRUE`) and both of
//! its CRC-32s. Layout (TrueCrypt's "Volume Format Specification", as
//! cryptsetup's tcrypt.c reads it):
//! - a normal header at byte 0, a hidden volume's at 65 536, their backups
//!   131 072 and 65 536 bytes before the end; system encryption keeps the
//!   header at byte 31 744 of the drive;
//! - the decrypted header holds the data area (offset, size) and 256 bytes of
//!   master keys; data is XTS over 512-byte units numbered from the start of
//!   the container (of the drive for system encryption);
//! - cascades apply their ciphers one over another, the last first when
//!   decrypting; every cipher's keys are at fixed places in the key area.
//!
//! - TrueCrypt before 5.0 used other modes, tried like the rest: LRW
//!   (4.1 to 4.3; the LRW tweak key at the start of the key area, sectors
//!   numbered from the data area's start) and CBC with whitening (1.0 to
//!   4.0; the header itself CBC with a fixed IV and 8 whitening bytes, the
//!   data `cbc-tcw`, sectors numbered from the container's start), with
//!   PBKDF2-SHA-1 among their KDFs. Only their single ciphers (AES, Serpent,
//!   Twofish): the "outer CBC" cascades and 64-bit ciphers (Blowfish, CAST5,
//!   3DES) are not.

use crate::kdf::{argon2, pbkdf2};
use crate::keys::{fingerprint, Secret};
use crate::layer::Layer;
use crate::luks_open::Opened;
use crate::sector::SectorCipher;
use dredge_core::bytes::be64;
use dredge_core::{Extent, ImageSource, VolumeReader};
use std::sync::Arc;

fn be16(b: &[u8], at: usize) -> u16 {
    dredge_core::bytes::be16(b, at)
}

fn be32(b: &[u8], at: usize) -> u32 {
    dredge_core::bytes::be32(b, at)
}

/// Where a system-encryption header lies on the drive.
pub const SYSTEM_HEADER: u64 = 31_744;
const HIDDEN_HEADER: u64 = 65_536;
/// Keyfile bytes that count (TrueCrypt reads the first megabyte).
const KEYFILE_MAX: usize = 1 << 20;
/// Derived header key bytes: three ciphers' XTS key pairs.
const HEADER_KEY: usize = 192;

/// One key derivation the formats define.
struct Kdf {
    hash: &'static str,
    iterations: u32,
    vera: bool,
    /// Only for a pre-boot (system) header.
    boot: bool,
    /// VeraCrypt's PIM: iterations = const + mult × PIM.
    pim: (u32, u32),
}

const fn kdf(hash: &'static str, iterations: u32, vera: bool, boot: bool, pim: (u32, u32)) -> Kdf {
    Kdf {
        hash,
        iterations,
        vera,
        boot,
        pim,
    }
}

/// In the order tried: TrueCrypt's (cheap) first, then VeraCrypt's.
const KDFS: &[Kdf] = &[
    kdf("ripemd160", 2000, false, false, (0, 0)),
    kdf("ripemd160", 1000, false, true, (0, 0)),
    // TrueCrypt 1.0 to 4.x.
    kdf("sha1", 2000, false, false, (0, 0)),
    kdf("sha512", 1000, false, false, (0, 0)),
    kdf("whirlpool", 1000, false, false, (0, 0)),
    kdf("sha512", 500_000, true, false, (15_000, 1000)),
    kdf("sha256", 500_000, true, false, (15_000, 1000)),
    kdf("sha256", 200_000, true, true, (0, 2048)),
    kdf("whirlpool", 500_000, true, false, (15_000, 1000)),
    kdf("blake2s-256", 500_000, true, false, (15_000, 1000)),
    kdf("blake2s-256", 200_000, true, true, (0, 2048)),
    kdf("argon2id", 0, true, false, (0, 0)),
    kdf("ripemd160", 655_331, true, false, (15_000, 1000)),
    kdf("ripemd160", 327_661, true, true, (0, 2048)),
    kdf("stribog512", 500_000, true, false, (15_000, 1000)),
];

/// How a chain's sectors are encrypted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Xts,
    /// TrueCrypt 4.1 to 4.3.
    Lrw,
    /// TrueCrypt 1.0 to 4.0: CBC with whitening.
    Cbc,
}

/// A cipher chain: (cipher, key offset, tweak key offset) in the header's
/// key area, named as cryptsetup names it. For the legacy modes the second
/// offset is where the LRW tweak key, or CBC's IV seed and whitening, lie.
struct Chain {
    name: &'static str,
    mode: Mode,
    parts: &'static [(&'static str, usize, usize)],
}

const fn legacy(
    name: &'static str,
    mode: Mode,
    parts: &'static [(&'static str, usize, usize)],
) -> Chain {
    Chain { name, mode, parts }
}

const CHAINS: &[Chain] = &[
    legacy("aes", Mode::Lrw, &[("aes", 32, 0)]),
    legacy("serpent", Mode::Lrw, &[("serpent", 32, 0)]),
    legacy("twofish", Mode::Lrw, &[("twofish", 32, 0)]),
    legacy("aes", Mode::Cbc, &[("aes", 32, 0)]),
    legacy("serpent", Mode::Cbc, &[("serpent", 32, 0)]),
    legacy("twofish", Mode::Cbc, &[("twofish", 32, 0)]),
    Chain {
        mode: Mode::Xts,
        name: "aes",
        parts: &[("aes", 0, 32)],
    },
    Chain {
        mode: Mode::Xts,
        name: "serpent",
        parts: &[("serpent", 0, 32)],
    },
    Chain {
        mode: Mode::Xts,
        name: "twofish",
        parts: &[("twofish", 0, 32)],
    },
    Chain {
        mode: Mode::Xts,
        name: "camellia",
        parts: &[("camellia", 0, 32)],
    },
    Chain {
        mode: Mode::Xts,
        name: "kuznyechik",
        parts: &[("kuznyechik", 0, 32)],
    },
    Chain {
        mode: Mode::Xts,
        name: "twofish-aes",
        parts: &[("twofish", 0, 64), ("aes", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "aes-serpent",
        parts: &[("aes", 0, 64), ("serpent", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "serpent-twofish",
        parts: &[("serpent", 0, 64), ("twofish", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "serpent-twofish-aes",
        parts: &[("serpent", 0, 96), ("twofish", 32, 128), ("aes", 64, 160)],
    },
    Chain {
        mode: Mode::Xts,
        name: "aes-twofish-serpent",
        parts: &[("aes", 0, 96), ("twofish", 32, 128), ("serpent", 64, 160)],
    },
    Chain {
        mode: Mode::Xts,
        name: "kuznyechik-camellia",
        parts: &[("kuznyechik", 0, 64), ("camellia", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "twofish-kuznyechik",
        parts: &[("twofish", 0, 64), ("kuznyechik", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "serpent-camellia",
        parts: &[("serpent", 0, 64), ("camellia", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "aes-kuznyechik",
        parts: &[("aes", 0, 64), ("kuznyechik", 32, 96)],
    },
    Chain {
        mode: Mode::Xts,
        name: "camellia-serpent-kuznyechik",
        parts: &[
            ("camellia", 0, 96),
            ("serpent", 32, 128),
            ("kuznyechik", 64, 160),
        ],
    },
];

impl Chain {
    /// dm-crypt's name for the mode and IV.
    fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::Xts => "xts-plain64",
            Mode::Lrw => "lrw-benbi",
            Mode::Cbc => "cbc-tcw",
        }
    }

    /// The chain keyed from `keys` (a derived header key or the master key area).
    fn cipher(&self, keys: &[u8]) -> Option<SectorCipher> {
        let mode = self.mode_name();
        let parts: Option<Vec<SectorCipher>> = self
            .parts
            .iter()
            .map(|&(c, k, t)| {
                // XTS: the two 32-byte keys; LRW: the key, then the 16-byte
                // tweak key; CBC: the key, then IV seed and whitening.
                let extra = match self.mode {
                    Mode::Xts => 32,
                    Mode::Lrw => 16,
                    Mode::Cbc => 32,
                };
                let key = [keys.get(k..k + 32)?, keys.get(t..t + extra)?].concat();
                SectorCipher::new(&format!("{c}-{mode}"), &key).ok()
            })
            .collect();
        Some(SectorCipher::cascade(
            &format!("{}-{mode}", self.name),
            parts?,
        ))
    }

    /// Decrypts the 448 header bytes after the salt with the header key.
    /// CBC headers are not sectors: 8 whitening bytes (key bytes 8 to 15)
    /// XORed over them, then CBC with key bytes 0 to 15 as the IV.
    fn decrypt_header(&self, key: &[u8], d: &mut [u8]) -> Option<()> {
        if self.mode != Mode::Cbc {
            self.cipher(key)?.decrypt_sector(0, d);
            return Some(());
        }
        let &[(c, k, _)] = self.parts else {
            return None;
        };
        let white = key.get(8..16)?;
        for (i, b) in d.iter_mut().enumerate() {
            *b ^= white[i % 8];
        }
        let ecb = SectorCipher::new(&format!("{c}-ecb"), key.get(k..k + 32)?).ok()?;
        let mut prev = [0u8; 16];
        prev.copy_from_slice(key.get(..16)?);
        for block in d.chunks_exact_mut(16) {
            let stored: [u8; 16] = block.try_into().ok()?;
            ecb.decrypt_sector(0, block);
            for (b, p) in block.iter_mut().zip(prev) {
                *b ^= p;
            }
            prev = stored;
        }
        Some(())
    }

    /// Master key bytes the chain uses (for the fingerprint).
    fn key_bytes(&self) -> usize {
        match self.mode {
            Mode::Xts => self.parts.len() * 64,
            Mode::Lrw | Mode::Cbc => 64,
        }
    }
}

/// A decrypted header (holds the master keys: never printed).
struct Header {
    vera: bool,
    version: u16,
    hidden_size: u64,
    volume_size: u64,
    data_offset: u64,
    flags: u32,
    keys: Vec<u8>,
    chain: &'static Chain,
    kdf: String,
}

/// The password as the KDF takes it: keyfiles pooled (CRC-32 of each byte
/// added into a 64-byte pool, 128 bytes for VeraCrypt passwords longer than
/// 64), the password added onto the pool.
fn pooled(pw: &[u8], keyfiles: &[&[u8]]) -> Option<Vec<u8>> {
    if keyfiles.is_empty() {
        return (pw.len() <= 128).then(|| pw.to_vec());
    }
    let len = if pw.len() > 64 { 128 } else { 64 };
    if pw.len() > len {
        return None;
    }
    let mut pool = vec![0u8; len];
    for k in keyfiles {
        let (mut crc, mut j) = (!0u32, 0usize);
        for &b in k.iter().take(KEYFILE_MAX) {
            crc = dredge_core::checksum::crc32_update(crc, &[b]);
            for x in crc.to_be_bytes() {
                pool[j] = pool[j].wrapping_add(x);
                j += 1;
            }
            j %= len;
        }
    }
    for (p, &c) in pool.iter_mut().zip(pw) {
        *p = p.wrapping_add(c);
    }
    Some(pool)
}

/// The header key for `kdf` (with `pim`, if given).
fn derive(kdf: &Kdf, pw: &[u8], salt: &[u8], pim: Option<u32>) -> Option<Vec<u8>> {
    let mut key = vec![0u8; HEADER_KEY];
    if kdf.hash == "argon2id" {
        // VeraCrypt 1.26.27: 416 MiB, 6 passes; a PIM scales both.
        let (time, memory) = match pim {
            Some(p) if (1..=31).contains(&p) => ((p - 1) / 3 + 3, 1024 * (64 + (p - 1) * 32)),
            Some(p) if p > 31 => (p - 18, 1024 * 1024),
            _ => (6, 425_984),
        };
        argon2("argon2id", pw, salt, time, memory, 1, &mut key).ok()?;
        return Some(key);
    }
    let iterations = match pim {
        Some(p) => kdf.pim.0.checked_add(kdf.pim.1.checked_mul(p)?)?,
        None => kdf.iterations,
    };
    pbkdf2(kdf.hash, pw, salt, iterations, &mut key).ok()?;
    Some(key)
}

/// Decrypts the 448 header bytes after the salt with `chain` keyed from
/// `key` and checks magic and CRCs.
fn check(raw: &[u8; 512], key: &[u8], chain: &'static Chain, kdf: &str) -> Option<Header> {
    let mut d = raw[64..].to_vec();
    chain.decrypt_header(key, &mut d)?;
    let vera = match &d[..4] {
        b"VERA" => true,
        b"TRUE" => false,
        _ => return None,
    };
    let crc = dredge_core::checksum::crc32;
    let version = be16(&d, 4);
    if crc(&d[192..448]) != be32(&d, 8) || (version > 3 && crc(&d[..188]) != be32(&d, 188)) {
        return None;
    }
    Some(Header {
        vera,
        version,
        hidden_size: be64(&d, 28),
        volume_size: be64(&d, 36),
        data_offset: be64(&d, 44),
        flags: be32(&d, 60),
        keys: d[192..448].to_vec(),
        chain,
        kdf: kdf.to_string(),
    })
}

/// Runs `job(i)` for every `i` below `n`, taking them in order, on as many
/// threads as the caller likes (threads are the session's, not a parser's);
/// once a job returns true no later one need start. [`sequential`] is one.
pub type Runner<'a> = &'a (dyn Fn(usize, &(dyn Fn(usize) -> bool + Sync)) + Sync);

/// The one-thread [`Runner`].
pub fn sequential(n: usize, job: &(dyn Fn(usize) -> bool + Sync)) {
    for i in 0..n {
        if job(i) {
            break;
        }
    }
}

/// Which (KDF, PIM) job of [`open_header`] opened a header, by the SHA-256
/// of (header, pooled password, PIMs, system or not): the scan of a
/// container file that `--container-files` just found opening derives that
/// one key again instead of sweeping every KDF a second time (seconds to a
/// minute each). Process memory only, never written; the last few kept.
static OPENED_BY: std::sync::Mutex<Vec<([u8; 32], usize)>> = std::sync::Mutex::new(Vec::new());

/// How many [`OPENED_BY`] keeps.
const OPENED_KEPT: usize = 32;

fn memo_key(raw: &[u8; 512], pw: &[u8], pims: &[u32], system: bool) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(raw);
    h.update((pw.len() as u64).to_le_bytes());
    h.update(pw);
    for p in pims {
        h.update(p.to_le_bytes());
    }
    h.update([u8::from(system)]);
    h.finalize().into()
}

/// Tries every KDF and chain on the header `raw` with password `pw`. Each
/// (KDF, PIM) pair is a job for `run` (a second each at VeraCrypt's costs);
/// of the jobs that open the header the first in order wins, so the result
/// does not depend on how `run` schedules them. The same header and password
/// opened before in this process try only the job that won then: it is the
/// first in order that opens, so the result is the same.
fn open_header(
    raw: &[u8; 512],
    pw: &[u8],
    pims: &[u32],
    system: bool,
    run: Runner,
) -> Option<Header> {
    let salt = &raw[..64];
    let pim_list: Vec<Option<u32>> = if pims.is_empty() {
        vec![None]
    } else {
        pims.iter().map(|&p| Some(p)).collect()
    };
    // (KDF, PIM) pairs in order; a PIM is VeraCrypt's; boot-only KDFs only
    // for a system header.
    let jobs: Vec<(&Kdf, Option<u32>)> = KDFS
        .iter()
        .filter(|k| !k.boot || system)
        .flat_map(|k| pim_list.iter().map(move |&p| (k, p)))
        .filter(|(k, p)| p.is_none() || k.vera)
        .collect();
    let try_job = |i: usize| -> Option<Header> {
        let &(k, pim) = jobs.get(i)?;
        let key = derive(k, pw, salt, pim)?;
        let name = match pim {
            Some(p) => format!("{} (PIM {p})", k.hash),
            None => k.hash.to_string(),
        };
        CHAINS.iter().find_map(|c| check(raw, &key, c, &name))
    };
    let memo = memo_key(raw, pw, pims, system);
    let known = OPENED_BY
        .lock()
        .ok()
        .and_then(|m| m.iter().find(|(k, _)| *k == memo).map(|&(_, i)| i));
    if let Some(h) = known.and_then(try_job) {
        return Some(h);
    }
    let hits: std::sync::Mutex<Vec<(usize, Header)>> = std::sync::Mutex::new(Vec::new());
    run(jobs.len(), &|i| match try_job(i) {
        Some(h) => {
            if let Ok(mut v) = hits.lock() {
                v.push((i, h));
            }
            true
        }
        None => false,
    });
    let mut hits = hits.into_inner().ok()?;
    hits.sort_by_key(|(i, _)| *i);
    let (i, h) = hits.into_iter().next()?;
    if let Ok(mut m) = OPENED_BY.lock() {
        if m.len() >= OPENED_KEPT {
            m.remove(0);
        }
        m.push((memo, i));
    }
    Some(h)
}

/// What the examiner gave, sorted for VeraCrypt: passwords, keyfiles, PIMs.
fn material<'a>(keys: &[&'a Secret]) -> (Vec<&'a [u8]>, Vec<&'a [u8]>, Vec<u32>) {
    let (mut pws, mut files, mut pims) = (Vec::new(), Vec::new(), Vec::new());
    for k in keys {
        match k {
            Secret::Password(p) => pws.push(p.as_slice()),
            Secret::KeyFile(f) => files.push(f.as_slice()),
            Secret::Pim(n) => pims.push(*n),
            _ => {}
        }
    }
    // Keyfiles alone are a key (an empty password).
    if pws.is_empty() && !files.is_empty() {
        pws.push(&[]);
    }
    (pws, files, pims)
}

/// Reads 512 header bytes at `at` of `src`, if all of them read.
fn read_header(src: &dyn ImageSource, at: u64) -> Option<[u8; 512]> {
    let mut h = [0u8; 512];
    let rep = src.read_at(at, &mut h).ok()?;
    (rep.is_clean() && rep.len == 512).then_some(h)
}

/// The opened volume for header `h` found at `base` (the container's start;
/// for system encryption the drive's), of a container `len` bytes long.
fn opened(h: Header, base: u64, len: u64, which: &str) -> Result<Opened, String> {
    let hidden = which.contains("hidden");
    // Where the data starts, as cryptsetup reads the older header versions:
    // before version 3 right after the header; a version-3 hidden volume
    // from the container's end; an offset of 0 means 512.
    let legacy = h.chain.mode != Mode::Xts;
    let start = match (h.version, hidden) {
        (0..=2, false) if legacy => h.data_offset.max(512),
        (0..=2, _) if !which.contains("system") && !legacy => 512,
        (v, true) if v == 3 || legacy => len
            .checked_sub(h.hidden_size)
            .and_then(|x| x.checked_sub(1536))
            .ok_or("a hidden volume larger than its container")?,
        _ if h.data_offset == 0 => 512,
        _ => h.data_offset,
    };
    // As cryptsetup maps it: a hidden header's own size, else the volume's.
    // TrueCrypt 1.0 records no size (0): the data runs to the container's
    // end, as dm-crypt maps a size of 0.
    let size = match (hidden, h.volume_size) {
        (true, _) => h.hidden_size,
        (false, 0) => len.saturating_sub(start),
        (false, n) => n,
    };
    let end = start
        .checked_add(size)
        .filter(|&e| e <= len && start.is_multiple_of(512) && e > start)
        .ok_or_else(|| format!("{which} names data at {start}+{size}, outside the volume"))?;
    let end = start + (end - start) / 512 * 512;
    let cipher = h
        .chain
        .cipher(&h.keys)
        .ok_or("the header's keys do not key its ciphers")?;
    let master: Vec<u8> = h.keys[..h.chain.key_bytes()].to_vec();
    // Sector numbers for the IVs: XTS from the container's start (the data
    // area's first sector is its offset), LRW from the data area's start,
    // CBC from the container's start as the master key's offset gives it.
    let iv_first = match h.chain.mode {
        Mode::Xts => start / 512,
        Mode::Lrw => 0,
        Mode::Cbc => h.data_offset.max(512) / 512,
    };
    let kind = if h.vera { "veracrypt" } else { "truecrypt" };
    Ok(Opened {
        kind,
        layer: Layer::in_place(
            Extent::from_bounds(base + start, base + end),
            512,
            iv_first,
            512,
            Arc::new(cipher),
        ),
        by: format!(
            "the {which} (format version {}, {}, flags 0x{:x}{}) with a password",
            h.version,
            h.kdf,
            h.flags,
            if h.hidden_size > 0 && !which.contains("hidden") {
                ", a hidden volume inside"
            } else {
                ""
            }
        ),
        fingerprint: fingerprint(&master),
        plain_len: None,
    })
}

/// Opens the VeraCrypt/TrueCrypt volume `vol` (its normal header, then its
/// hidden volume's, then their backups when the first are unreadable).
pub fn open(vol: &VolumeReader, keys: &[&Secret], run: Runner) -> Result<Opened, String> {
    let (pws, files, pims) = material(keys);
    if pws.is_empty() {
        return Err("no password or keyfile given".into());
    }
    let len = vol.len();
    let src = vol.source();
    let mut places = vec![
        (0u64, "normal header"),
        (HIDDEN_HEADER, "hidden volume's header"),
    ];
    let primaries_unreadable = [0, HIDDEN_HEADER]
        .iter()
        .any(|&at| read_header(&**src, vol.base() + at).is_none());
    if primaries_unreadable && len >= 131_072 {
        places.push((len - 131_072, "backup normal header"));
        places.push((len - 65_536, "backup hidden volume's header"));
    }
    for (at, which) in places {
        let Some(raw) = read_header(&**src, vol.base() + at) else {
            continue;
        };
        for pw in &pws {
            let Some(pool) = pooled(pw, &files) else {
                continue;
            };
            if let Some(h) = open_header(&raw, &pool, &pims, false, run) {
                return opened(h, vol.base(), len, which);
            }
        }
    }
    Err(format!(
        "{} password(s), {} keyfile(s){} on the normal and hidden volume headers (every VeraCrypt and TrueCrypt KDF and cipher chain)",
        pws.len(),
        files.len(),
        if pims.is_empty() { String::new() } else { format!(", PIM {pims:?}") }
    ))
}

/// Opens system encryption: the header at byte 31 744 of the drive `src`
/// (the data is an encrypted partition; offsets and IVs count from the
/// drive's start).
pub fn open_system(
    src: &Arc<dyn ImageSource>,
    keys: &[&Secret],
    run: Runner,
) -> Result<Opened, String> {
    let (pws, files, pims) = material(keys);
    let raw = read_header(&**src, SYSTEM_HEADER).ok_or("no readable system header")?;
    for pw in &pws {
        let Some(pool) = pooled(pw, &files) else {
            continue;
        };
        if let Some(h) = open_header(&raw, &pool, &pims, true, run) {
            return opened(h, 0, src.size(), "system encryption header");
        }
    }
    Err("no key given opens a system encryption header".into())
}
