//! A LUKS2 volume whose reencryption (`cryptsetup reencrypt`, a change of
//! volume key) was interrupted: a laptop seized mid-way, or a suspect who
//! pulled the plug. The header then holds several data segments, each
//! under its own key: the part already rewritten under the new key, the
//! window being rewritten (the "hotzone", flag `in-reencryption`), and the
//! rest still under the old key, plus copies of the old and new segments'
//! parameters (`backup-previous`, `backup-final`). The plaintext is one
//! volume, so it is one layer whose stretches decrypt under different keys.
//!
//! The hotzone is read as cryptsetup's own recovery would restore it. With
//! `journal` resilience the reencrypt keyslot's area holds a copy of the
//! window's old ciphertext, written and synced before the window itself was
//! touched (checked on images cryptsetup 2.7 left behind when killed), so the
//! window's plaintext is that copy under the old key, whatever part of the
//! window had been rewritten. With `checksum` resilience the area holds, for
//! each block of the window, a hash of its old ciphertext, stored before the
//! window was touched: a block whose bytes still hash to it is read under the
//! old key, any other under the new one (cryptsetup's recovery decides the
//! same way). With `none` the window is read in place under the old key, and
//! the opener says that its blocks may already hold the new key's ciphertext.
//! Data shifts (`datashift`, encryption that moves the data) are read by
//! `luks_datashift`.

use crate::keys::{fingerprint, Secret};
use crate::layer::{Layer, Segment, Source};
use crate::luks_open::{digest_of, has_flag, num, unlock_digest, Opened};
use crate::sector::SectorCipher;
use dredge_core::{Extent, VolumeReader};
use serde_json::Value;
use std::sync::Arc;

/// One live data segment, in data-device offsets.
struct Seg<'a> {
    id: &'a str,
    v: &'a Value,
    start: u64,
    end: u64,
}

/// `segments`: the header's live data segments (not the backup copies), as
/// the LUKS2 opener found them.
pub(crate) fn open(
    vol: &VolumeReader,
    data: &VolumeReader,
    kind: &'static str,
    json: &Value,
    segments: &[(&String, &Value)],
    keys: &[&Secret],
) -> Result<Opened, String> {
    let segs = json["segments"].as_object().ok_or("no segments")?;
    let mut live = Vec::new();
    for &(id, v) in segments {
        let start = num(&v["offset"]).ok_or_else(|| format!("segment {id} without offset"))?;
        let end = match v["size"].as_str() {
            Some("dynamic") => data.len(),
            _ => start.saturating_add(
                num(&v["size"]).ok_or_else(|| format!("segment {id} without size"))?,
            ),
        }
        .min(data.len());
        // Offsets come from the evidence: held to the device, never wrapped.
        let start = start.min(data.len());
        live.push(Seg {
            id,
            v,
            start,
            end: end.max(start),
        });
    }
    let reenc = json["keyslots"]
        .as_object()
        .and_then(|k| k.values().find(|k| k["type"].as_str() == Some("reencrypt")));
    let resilience = reenc
        .and_then(|k| k["area"]["type"].as_str())
        .unwrap_or("none");
    // Data that moves is stored out of the volume's order: its own reading.
    if resilience.starts_with("datashift") {
        return crate::luks_datashift::open(vol, data, kind, json, segments, keys, resilience);
    }
    live.sort_by_key(|s| s.start);
    // One volume: the segments must follow each other with no gap or overlap.
    for w in live.windows(2) {
        if w[0].end != w[1].start {
            return Err(format!(
                "reencryption segments {} and {} do not meet (byte {} and byte {})",
                w[0].id, w[1].id, w[0].end, w[1].start
            ));
        }
    }
    let previous = segs.iter().find(|(_, v)| has_flag(v, "backup-previous"));
    let last = segs.iter().find(|(_, v)| has_flag(v, "backup-final"));
    let base = data.base();
    let mut k = Keys::default();
    let mut parts = Vec::new();
    let mut story = Vec::new();
    for s in &live {
        let plain = Extent::from_bounds(base + s.start, base + s.end);
        let range = format!("bytes {}-{}", s.start, s.end);
        let source = match s.v["type"].as_str() {
            Some("linear") => {
                story.push(format!("{range} not encrypted yet"));
                Source::Clear
            }
            Some("crypt") if has_flag(s.v, "in-reencryption") => {
                let (pid, pv) = previous.ok_or("a hotzone with no backup-previous segment")?;
                let key = k.key(vol, json, pid, pv, keys)?;
                let iv = num(&pv["iv_tweak"])
                    .unwrap_or(0)
                    .saturating_add(s.start.saturating_sub(num(&pv["offset"]).unwrap_or(0)) / 512);
                match resilience {
                    "journal" => {
                        let area = reenc.map(|r| &r["area"]).ok_or("no reencrypt keyslot")?;
                        let at = num(&area["offset"]).ok_or("journal without offset")?;
                        let len = num(&area["size"]).ok_or("journal without size")?;
                        if len < s.end - s.start {
                            return Err(format!(
                                "a journal of {len} bytes for a hotzone of {} bytes",
                                s.end - s.start
                            ));
                        }
                        // The journal is in the header's keyslot area: in the
                        // image, or in the detached header's file, where it
                        // is read now and held (its size is the window's).
                        if !std::ptr::eq(vol, data) {
                            let hot = s.end - s.start;
                            // All held copies together (a forged header may
                            // flag many segments), never past MAX_HELD.
                            let held: u64 = k.held.iter().map(|h| h.len() as u64).sum();
                            if hot.saturating_add(held) > MAX_HELD || k.held.len() >= 16 {
                                return Err(format!(
                                    "a window of {hot} bytes in a detached header's journal: at most {MAX_HELD} are read"
                                ));
                            }
                            let (copy, rep) = vol.read_vec(at, hot, MAX_HELD).map_err(|e| {
                                format!("the detached header's journal at byte {at}: {e}")
                            })?;
                            if !rep.synthesized.is_empty() || copy.len() as u64 != hot {
                                return Err(format!(
                                    "the detached header's journal at byte {at}: not all of its {hot} bytes readable"
                                ));
                            }
                            story.push(format!(
                                "{range} (the window being rewritten) from the journal copy at byte {at} of the detached header under the old key ({})",
                                k.how(key)
                            ));
                            k.held.push(Arc::from(copy));
                            let slot = (k.held.len() - 1) as u8;
                            Source::Held { slot, iv, key }
                        } else {
                            story.push(format!(
                                "{range} (the window being rewritten) from the journal copy at byte {at} under the old key ({})",
                                k.how(key)
                            ));
                            let at = vol
                                .base()
                                .checked_add(at)
                                .filter(|a| a.checked_add(s.end - s.start).is_some())
                                .ok_or_else(|| format!("a journal at byte {at}"))?;
                            Source::Cipher { at, iv, key }
                        }
                    }
                    "checksum" => {
                        let (fid, fv) = last.ok_or("a hotzone with no backup-final segment")?;
                        let new = k.key(vol, json, fid, fv, keys)?;
                        let area = &reenc.ok_or("no reencrypt keyslot")?["area"];
                        let sum = Checksums::read(vol, area, s.end - s.start)?;
                        // Blocks hold whole sectors of both keys.
                        let sec = k.sector(key).max(k.sector(new));
                        if sum.block % sec != 0 {
                            return Err(format!(
                                "checksum blocks of {} bytes for {sec}-byte sectors",
                                sum.block
                            ));
                        }
                        let runs = sum.runs(data, s.start, s.end)?;
                        let olds: u64 = runs.iter().filter(|r| r.2).map(|r| r.1 - r.0).sum();
                        story.push(format!(
                            "{range} (the window being rewritten) in place, by blocks of {} bytes: {olds} still old (their {} is the checksum stored before the rewrite) under the old key ({}), {} already rewritten under the new key {} ({})",
                            sum.block,
                            sum.hash,
                            k.how(key),
                            sum.blocks() - olds,
                            k.fp(new),
                            k.how(new),
                        ));
                        for (a, b, old) in runs {
                            let off = a * sum.block;
                            let plain = Extent::new(plain.start + off, (b - a) * sum.block);
                            let source = Source::Cipher {
                                at: plain.start,
                                iv: iv.saturating_add(off / 512),
                                key: if old { key } else { new },
                            };
                            parts.push(Segment { plain, source });
                        }
                        // A tail shorter than a block has no checksum:
                        // cryptsetup leaves it as it is, under the old key.
                        let done = sum.blocks() * sum.block;
                        if s.start + done < s.end {
                            let plain = Extent::from_bounds(plain.start + done, plain.end());
                            let source = Source::Cipher {
                                at: plain.start,
                                iv: iv.saturating_add(done / 512),
                                key,
                            };
                            parts.push(Segment { plain, source });
                        }
                        continue;
                    }
                    r => {
                        story.push(format!(
                            "{range} (the window being rewritten, resilience {r}) in place under the old key ({}): blocks already rewritten there decrypt to noise",
                            k.how(key)
                        ));
                        Source::Cipher {
                            at: plain.start,
                            iv,
                            key,
                        }
                    }
                }
            }
            Some("crypt") => {
                let key = k.key(vol, json, s.id, s.v, keys)?;
                story.push(format!("{range} under key {} ({})", k.fp(key), k.how(key)));
                Source::Cipher {
                    at: plain.start,
                    iv: num(&s.v["iv_tweak"]).unwrap_or(0),
                    key,
                }
            }
            t => return Err(format!("segment {} of type {t:?}", s.id)),
        };
        parts.push(Segment { plain, source });
    }
    // Where the sector size changes, the larger one aligns the layer; each
    // key decrypts its own sectors.
    let sector = k.sectors.iter().copied().max().unwrap_or(512);
    // Whole sectors only: a last segment cut by the device's end loses its tail.
    if let Some(l) = parts.last_mut() {
        let len = l.plain.len / sector * sector;
        l.plain = Extent::new(l.plain.start, len);
    }
    parts.retain(|p| p.plain.len > 0);
    let by = format!(
        "an interrupted reencryption (resilience {resilience}): {}",
        story.join("; ")
    );
    k.opened(kind, parts, sector, by)
}

/// What `checksum` resilience stored for the window being rewritten: one
/// hash of each block's old ciphertext, in the reencrypt keyslot's area.
struct Checksums {
    hash: String,
    block: u64,
    sums: Vec<u8>,
    size: usize,
}

/// The window is read a block at a time; its length comes from the header,
/// so it is bounded before any of it is read.
const MAX_HOTZONE: u64 = 1 << 30;
/// A detached header's journal copy of the window is held in memory: at
/// most this (cryptsetup's windows are a few MiB at most).
const MAX_HELD: u64 = 256 << 20;

impl Checksums {
    fn read(vol: &VolumeReader, area: &Value, hot: u64) -> Result<Checksums, String> {
        let hash = area["hash"].as_str().unwrap_or("sha256").to_string();
        let size = crate::kdf::hash_of(&hash, b"")
            .map_err(|_| format!("checksums made with {hash}: not read yet"))?
            .len();
        let block = num(&area["sector_size"]).unwrap_or(512);
        if !block.is_power_of_two() || !(512..=(1 << 20)).contains(&block) {
            return Err(format!("checksum blocks of {block} bytes"));
        }
        if hot > MAX_HOTZONE {
            return Err(format!("a window of {hot} bytes being rewritten"));
        }
        let at = num(&area["offset"]).ok_or("checksum area without offset")?;
        let len = num(&area["size"]).ok_or("checksum area without size")?;
        let need = hot / block * size as u64;
        if need > len {
            return Err(format!(
                "{need} bytes of checksums for the window in an area of {len} bytes"
            ));
        }
        let (sums, rep) = vol
            .read_vec(at, need, MAX_HOTZONE)
            .map_err(|e| format!("checksums at byte {at}: {e}"))?;
        if !rep.synthesized.is_empty() {
            return Err(format!("checksums at byte {at} not all readable"));
        }
        Ok(Checksums {
            hash,
            block,
            sums,
            size,
        })
    }

    fn blocks(&self) -> u64 {
        (self.sums.len() / self.size) as u64
    }

    /// Runs `(first block, end block, still old)` over the window at
    /// `start..end` of `data`. A block that cannot be read whole hashes to
    /// nothing known: it stays with the old key, as cryptsetup would leave it.
    fn runs(
        &self,
        data: &VolumeReader,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, u64, bool)>, String> {
        let mut runs: Vec<(u64, u64, bool)> = Vec::new();
        let mut buf = vec![0u8; self.block as usize];
        for i in 0..self.blocks() {
            let at = start + i * self.block;
            if at + self.block > end {
                break;
            }
            let rep = data
                .read_at(at, &mut buf)
                .map_err(|e| format!("the window at byte {at}: {e}"))?;
            let want = &self.sums[i as usize * self.size..(i as usize + 1) * self.size];
            let old = !rep.synthesized.is_empty()
                || crate::kdf::hash_of(&self.hash, &buf).is_ok_and(|h| h == want);
            match runs.last_mut() {
                Some(r) if r.2 == old && r.1 == i => r.1 = i + 1,
                _ => runs.push((i, i + 1, old)),
            }
        }
        Ok(runs)
    }
}

/// The keys of the segments, each unlocked once per digest and cipher.
#[derive(Default)]
pub(crate) struct Keys {
    /// (digest name, cipher spec, bytes per sector) of each key.
    ids: Vec<(String, String, u64)>,
    /// Bytes per sector of each key's segments.
    pub(crate) sectors: Vec<u64>,
    ciphers: Vec<Arc<SectorCipher>>,
    fps: Vec<String>,
    hows: Vec<String>,
    /// Ciphertext held in memory (`Source::Held`): a detached header's
    /// journal copy of the window.
    held: Vec<Arc<[u8]>>,
}

impl Keys {
    /// The layer's key number for segment `seg_id` (parameters `seg`).
    pub(crate) fn key(
        &mut self,
        vol: &VolumeReader,
        json: &Value,
        seg_id: &str,
        seg: &Value,
        keys: &[&Secret],
    ) -> Result<u8, String> {
        let spec = seg["encryption"]
            .as_str()
            .ok_or_else(|| format!("segment {seg_id} without encryption"))?;
        let (name, digest) =
            digest_of(json, seg_id).ok_or_else(|| format!("no digest for segment {seg_id}"))?;
        let sector = seg_sector(seg)?;
        let id = (name.to_string(), spec.to_string(), sector);
        if let Some(i) = self.ids.iter().position(|x| *x == id) {
            return Ok(i as u8);
        }
        if self.ids.len() >= 4 {
            return Err("more than four keys in one reencryption".into());
        }
        let (mk, how) =
            unlock_digest(vol, json, digest, keys).map_err(|e| format!("segment {seg_id}: {e}"))?;
        let cipher = SectorCipher::new(spec, &mk).map_err(|e| e.0)?;
        self.ciphers.push(Arc::new(cipher.with_sector(sector)));
        self.sectors.push(sector);
        self.fps.push(fingerprint(&mk));
        self.hows.push(how);
        self.ids.push(id);
        Ok((self.ids.len() - 1) as u8)
    }

    fn sector(&self, k: u8) -> u64 {
        self.sectors[usize::from(k)]
    }

    pub(crate) fn fp(&self, k: u8) -> &str {
        &self.fps[usize::from(k)]
    }

    /// How each key was unlocked.
    pub(crate) fn hows(&self) -> String {
        self.hows.join("; ")
    }

    /// The opened volume: one layer over `parts` (in order, adjacent) with
    /// these keys, described by `by`; the fingerprints joined by `+`.
    pub(crate) fn opened(
        self,
        kind: &'static str,
        parts: Vec<Segment>,
        sector: u64,
        by: String,
    ) -> Result<Opened, String> {
        let extent = match (parts.first(), parts.last()) {
            (Some(a), Some(b)) => Extent::from_bounds(a.plain.start, b.plain.end()),
            _ => return Err("no data in the reencryption's segments".into()),
        };
        let mut ciphers = self.ciphers.into_iter();
        let cipher = ciphers.next().ok_or("no key")?;
        Ok(Opened {
            kind,
            layer: Layer {
                extent,
                sector,
                iv_unit: 512,
                cipher,
                more: ciphers.collect(),
                segments: parts,
                held: self.held,
            },
            by,
            fingerprint: self.fps.join("+"),
            plain_len: None,
        })
    }

    fn how(&self, k: u8) -> &str {
        &self.hows[usize::from(k)]
    }
}

/// A segment's bytes per sector, as LUKS2 allows them.
fn seg_sector(seg: &Value) -> Result<u64, String> {
    let s = num(&seg["sector_size"]).unwrap_or(512);
    if !matches!(s, 512 | 1024 | 2048 | 4096) {
        return Err(format!("{s}-byte sectors"));
    }
    Ok(s)
}

/// Every segment of a data shift has one sector size.
pub(crate) fn same_sector(sector: &mut Option<u64>, seg: &Value) -> Result<(), String> {
    let s = seg_sector(seg)?;
    match *sector {
        Some(t) if t != s => Err(format!(
            "a data shift from {t}-byte to {s}-byte sectors: not read yet"
        )),
        _ => {
            *sector = Some(s);
            Ok(())
        }
    }
}
