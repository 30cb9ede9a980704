//! A LUKS2 encryption that moves the data, interrupted: `cryptsetup
//! reencrypt --encrypt --reduce-device-size` puts the header where the
//! volume began, so it first copies the volume's first bytes to the end of
//! the device (the "moved segment"), then encrypts backwards, each window of
//! plaintext written encrypted one shift further on. A laptop seized while
//! that ran holds three kinds of stretch: plaintext still where it was,
//! ciphertext already one shift on, and the volume's first bytes at the end.
//!
//! The header's live segments, in the order of their ids, are the plaintext
//! volume, each one's `offset` saying where its bytes are stored; their
//! sizes add up to the volume. The volume is laid where the finished
//! encryption will put it (the `backup-final` segment's offset), so its
//! first byte is where the filesystem's will be. The window being written
//! when it stopped (flag `in-reencryption`) is read from where it came from:
//! `datashift` resilience writes each window into room the shift left free
//! and commits the header before the source is touched, so the source is
//! whole (the old layout, `backup-previous`, or for the volume's first bytes
//! the `backup-moved-segment`), whatever part of the window's new place was
//! written.
//!
//! Decryption that moves the data (`cryptsetup reencrypt --decrypt --header
//! FILE`, the header exported to FILE so the plaintext can take its place)
//! is the same layout run the other way: the volume's first bytes moved to
//! the device's start still encrypted (the moved segment, decrypted last),
//! then windows decrypted forward, each written one shift back, with
//! `datashift-checksum` or `datashift-journal` resilience. A window in flight
//! is read from its source as above, which the shift keeps clear of its new
//! place; one whose source and new place overlap is refused.

use crate::keys::Secret;
use crate::layer::{Segment, Source};
use crate::luks_open::{has_flag, num, Opened};
use crate::luks_reencrypt::{same_sector, Keys};
use dredge_core::{Extent, VolumeReader};
use serde_json::Value;

/// Where a stretch of the plaintext volume is stored, as one segment of the
/// header gives it: its bytes from `offset`, its IVs from `iv` (crypt).
struct Stored<'a> {
    id: &'a str,
    v: &'a Value,
    offset: u64,
}

/// A segment's place: its `offset`.
fn stored<'a>((id, v): (&'a String, &'a Value)) -> Result<Stored<'a>, String> {
    let offset = num(&v["offset"]).ok_or_else(|| format!("segment {id} without offset"))?;
    Ok(Stored {
        id: id.as_str(),
        v,
        offset,
    })
}

impl Stored<'_> {
    fn crypt(&self) -> bool {
        self.v["type"].as_str() == Some("crypt")
    }
}

/// `live`: the header's live data segments; `resilience`: the reencrypt
/// keyslot's (a `datashift` kind).
pub(crate) fn open(
    vol: &VolumeReader,
    data: &VolumeReader,
    kind: &'static str,
    json: &Value,
    live: &[(&String, &Value)],
    keys: &[&Secret],
    resilience: &str,
) -> Result<Opened, String> {
    let segs = json["segments"].as_object().ok_or("no segments")?;
    let flagged = |flag: &str| segs.iter().find(|(_, v)| has_flag(v, flag));

    let last = stored(flagged("backup-final").ok_or("a data shift with no backup-final segment")?)?;
    let previous = flagged("backup-previous").map(stored).transpose()?;
    let moved = flagged("backup-moved-segment").map(stored).transpose()?;
    let moved_len = moved.as_ref().and_then(|m| num(&m.v["size"])).unwrap_or(0);
    let place = last.offset;
    if place >= data.len() {
        return Err(format!(
            "the volume placed at byte {place}, past the device"
        ));
    }
    let base = data.base();
    let mut k = Keys::default();
    let mut sector = None;
    // The new key opens the volume even before any of it is encrypted.
    if last.crypt() {
        same_sector(&mut sector, last.v)?;
        k.key(vol, json, last.id, last.v, keys)?;
    }
    let mut order = live.to_vec();
    order.sort_by_key(|(id, _)| id.parse::<u64>().unwrap_or(u64::MAX));
    let room = data.len() - place;
    let (mut m, mut parts, mut story) = (0u64, Vec::new(), Vec::new());
    // Image offset of `len` bytes stored at `at` of the data device.
    let inside = |at: u64, len: u64| -> Result<u64, String> {
        at.checked_add(len)
            .filter(|&e| e <= data.len())
            .map(|_| base + at)
            .ok_or_else(|| format!("{len} bytes stored at byte {at}, past the device"))
    };
    for &(id, v) in &order {
        let s = stored((id, v))?;
        let size = match v["size"].as_str() {
            Some("dynamic") => data.len().saturating_sub(s.offset),
            _ => num(&v["size"]).ok_or_else(|| format!("segment {id} without size"))?,
        };
        // The volume ends where the device does.
        let size = size.min(room - m);
        if size == 0 {
            continue;
        }
        let plain = Extent::new(base + place + m, size);
        let range = format!("bytes {m}-{}", m + size);
        if has_flag(v, "in-reencryption") {
            if !matches!(
                resilience,
                "datashift" | "datashift-checksum" | "datashift-journal"
            ) {
                return Err(format!(
                    "a window in flight with resilience {resilience}: not read yet"
                ));
            }
            // The window's source: the volume's first bytes from the moved
            // segment, the rest from the old layout.
            let mut a = m;
            while a < m + size {
                let (from, b) = match &moved {
                    Some(mv) if a < moved_len => (mv, (m + size).min(moved_len)),
                    _ => (
                        previous
                            .as_ref()
                            .ok_or("a window with no backup-previous segment")?,
                        m + size,
                    ),
                };
                let at = inside(from.offset.saturating_add(a), b - a)?;
                let piece = Extent::new(base + place + a, b - a);
                // Decryption moves each window back by the shift into room
                // already read: its source is untouched as long as it does
                // not overlap the window's new place (cryptsetup keeps
                // windows no larger than the shift). An overlap would need the
                // checksums or the journal to tell old bytes from new.
                let to = Extent::new(base + s.offset + (a - m), b - a);
                if resilience != "datashift" && to.overlaps(&Extent::new(at, b - a)) {
                    return Err(format!(
                        "a window in flight (resilience {resilience}) whose source, byte {}, overlaps its new place, byte {}: not read yet",
                        at - base,
                        to.start - base
                    ));
                }
                let source = if from.crypt() {
                    same_sector(&mut sector, from.v)?;
                    let key = k.key(vol, json, from.id, from.v, keys)?;
                    let iv = num(&from.v["iv_tweak"])
                        .unwrap_or(0)
                        .saturating_add(a / 512);
                    Source::Cipher { at, iv, key }
                } else {
                    Source::PlainAt { at }
                };
                story.push(format!(
                    "bytes {a}-{b} (the window being moved) from where they came, byte {}",
                    at - base
                ));
                parts.push(Segment {
                    plain: piece,
                    source,
                });
                a = b;
            }
        } else if s.crypt() {
            same_sector(&mut sector, v)?;
            let key = k.key(vol, json, id, v, keys)?;
            let at = inside(s.offset, size)?;
            story.push(format!(
                "{range} encrypted at byte {} under key {}",
                s.offset,
                k.fp(key)
            ));
            parts.push(Segment {
                plain,
                source: Source::Cipher {
                    at,
                    iv: num(&v["iv_tweak"]).unwrap_or(0),
                    key,
                },
            });
        } else if v["type"].as_str() == Some("linear") {
            let at = inside(s.offset, size)?;
            story.push(format!("{range} not encrypted yet, at byte {}", s.offset));
            parts.push(Segment {
                plain,
                source: Source::PlainAt { at },
            });
        } else {
            return Err(format!("segment {id} of type {}", v["type"]));
        }
        m += size;
    }
    let sector = sector.unwrap_or(512);
    // Whole sectors only: the volume's tail past the last whole one is lost.
    let whole = m / sector * sector;
    parts.retain_mut(|p| {
        let end = (base + place + whole).min(p.plain.end());
        p.plain = Extent::from_bounds(p.plain.start.min(end), end);
        p.plain.len > 0
    });
    if parts.iter().any(|p| p.plain.len % sector != 0) {
        return Err(format!("segments that are not whole {sector}-byte sectors"));
    }
    let by = format!(
        "an interrupted encryption that moves the data (resilience {resilience}), the volume placed at byte {place} where it will be when finished ({}): {}",
        k.hows(),
        story.join("; ")
    );
    k.opened(kind, parts, sector, by)
}
