//! LevelDB write-ahead logs and MANIFEST files (the log format of Chrome's and
//! Electron apps' IndexedDB and Local Storage, of Bitcoin Core, and of many
//! other stores): 32 KiB blocks of records, each with a masked CRC-32C.

use crate::{Carver, Reader, Verdict};
use dredge_core::checksum::crc32c_update;

/// A LevelDB log: records of a 7-byte header (masked CRC-32C of type and
/// payload, 16-bit length, type: full, first, middle or last) and payload, never
/// crossing a 32 KiB block (fewer than 7 bytes left in a block are zeros).
/// Every record's CRC must hold and the types must follow (first, middles, last;
/// or full). In a write-ahead log each batch's sequence number must follow the
/// previous batch's (its sequence plus its count), so a stale log's records left
/// after this one's end on disk are not taken in. No header marks a log: a
/// candidate is a sector whose bytes start a full or first record holding a
/// batch (sequence under 2³²) or a MANIFEST's first edit (the comparator's name);
/// the file ends after its last record that checks (a log has no end marker).
/// A candidate one of whose checking records crosses a block boundary it
/// assumes started inside a log, not at its start, and is not taken. Every
/// byte kept is under a CRC: `Complete`. A log cut at a record boundary looks
/// like a shorter whole log; nothing in the format says otherwise.
pub struct LevelDbLog;

const BLOCK: u64 = 32 * 1024;
const HEADER: u64 = 7;
const MAX_SIZE: u64 = 1 << 30;

/// A MANIFEST's first edit starts with the comparator's name (tag 1, a length,
/// printable ASCII); a write batch starts with its 64-bit sequence number.
fn is_manifest(p: &[u8]) -> bool {
    let n = usize::from(*p.get(1).unwrap_or(&0));
    p.first() == Some(&1)
        && (8..=64).contains(&n)
        && p.get(2..2 + n)
            .is_some_and(|name| name.iter().all(u8::is_ascii_graphic))
}

fn masked(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// Whether `b` (the bytes from a sector start on) can start a log: a full or
/// first record whose payload begins a write batch or a MANIFEST's first edit,
/// with its CRC checked when the record lies in `b`.
pub fn leveldb_start(b: &[u8]) -> bool {
    if b.len() < 19 || !matches!(b[6], 1 | 2) {
        return false;
    }
    let len = usize::from(u16::from_le_bytes([b[4], b[5]]));
    if !(12..=(BLOCK - HEADER) as usize).contains(&len) {
        return false;
    }
    let p = &b[7..];
    let batch = p[4..8] == [0, 0, 0, 0] && p[..4] != [0, 0, 0, 0];
    let manifest = is_manifest(p);
    if !batch && !manifest {
        return false;
    }
    match b.get(6..7 + len) {
        Some(rec) => {
            let stored = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            masked(!crc32c_update(!0, rec)) == stored
        }
        None => true,
    }
}

impl Carver for LevelDbLog {
    fn name(&self) -> &'static str {
        "leveldb"
    }
    fn extension(&self, subtype: Option<&'static str>) -> &'static str {
        subtype.unwrap_or("log")
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[]
    }
    fn sector_start(&self, b: &[u8]) -> bool {
        leveldb_start(b)
    }
    fn min_size(&self) -> u64 {
        HEADER + 12
    }
    fn max_size(&self) -> u64 {
        MAX_SIZE
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let mut at = 0u64;
        let mut end = 0u64;
        let mut in_record = false;
        let mut manifest = None;
        // (sequence, count) of the last batch.
        let mut last: Option<(u64, u64)> = None;
        // The first bytes of the current batch.
        let mut head: Vec<u8> = Vec::with_capacity(12);
        loop {
            let left = BLOCK - at % BLOCK;
            if left < HEADER {
                if r.get(at, left as usize)
                    .is_none_or(|t| t.iter().any(|&x| x != 0))
                {
                    break;
                }
                at += left;
                continue;
            }
            let Some(h) = r.get(at, HEADER as usize).map(<[u8]>::to_vec) else {
                break;
            };
            let stored = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            let len = u64::from(u16::from_le_bytes([h[4], h[5]]));
            let ty = h[6];
            let order = match ty {
                1 | 2 => !in_record,
                3 | 4 => in_record,
                _ => false,
            };
            if !order {
                break;
            }
            let Some(rec) = r.get(at + 6, (1 + len) as usize) else {
                break;
            };
            if masked(!crc32c_update(!0, rec)) != stored {
                break;
            }
            if HEADER + len > left {
                // A record that checks but crosses a block boundary: the blocks
                // are not where this candidate puts them, so it starts inside a
                // log, not at a log's start (whose records never cross one).
                return Verdict::Reject;
            }
            let payload = &rec[1..];
            if matches!(ty, 1 | 2) {
                head.clear();
                // The first record says which kind of log this is.
                if manifest.is_none() {
                    manifest = Some(is_manifest(payload));
                }
            }
            // A batch's 12-byte header (sequence, count) may itself be split
            // across fragments: gathered, then checked once whole.
            if manifest == Some(false) && head.len() < 12 {
                let take = (12 - head.len()).min(payload.len());
                head.extend_from_slice(&payload[..take]);
                if head.len() == 12 {
                    let seq = u64::from_le_bytes(head[..8].try_into().unwrap_or([0; 8]));
                    let count =
                        u64::from(u32::from_le_bytes(head[8..12].try_into().unwrap_or([0; 4])));
                    if last.is_some_and(|(s, c)| s + c != seq) {
                        break;
                    }
                    last = Some((seq, count));
                } else if matches!(ty, 1 | 4) {
                    break; // a whole record too short to be a batch
                }
            }
            in_record = matches!(ty, 2 | 3);
            at += HEADER + len;
            if !in_record {
                end = at;
            }
        }
        if end == 0 {
            return Verdict::Reject;
        }
        Verdict::Complete {
            len: end,
            subtype: (manifest == Some(true)).then_some("manifest"),
        }
    }
}
