//! Directory entry sets: file, stream extension and name entries, their
//! checksum and name hash, and timestamps with their UTC offset.

use dredge_core::bytes::{le16, le32, le64};
use dredge_core::time::days_from_civil;
use dredge_core::Timestamp;

/// The name hash exFAT stores with every file: over the up-cased name's UTF-16 units.
pub(super) fn name_hash(name: &str, upcase: &[u16]) -> u16 {
    let mut h: u16 = 0;
    for u in name.encode_utf16() {
        let c = upcase.get(usize::from(u)).copied().unwrap_or(u);
        for b in c.to_le_bytes() {
            h = (h >> 1 | (h & 1) << 15).wrapping_add(u16::from(b));
        }
    }
    h
}

/// Expands the up-case table: a run `0xFFFF, n` maps the next n characters to
/// themselves.
pub(super) fn expand_upcase(raw: &[u8]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::with_capacity(65536);
    let mut it = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    while out.len() < 65536 {
        let Some(u) = it.next() else { break };
        if u == 0xFFFF {
            let n = usize::from(it.next().unwrap_or(0));
            for _ in 0..n.min(65536 - out.len()) {
                out.push(out.len() as u16);
            }
        } else {
            out.push(u);
        }
    }
    out
}

/// exFAT timestamp (local time, with an optional UTC offset) to UTC seconds.
pub(super) fn timestamp(ts: u64, ms10: u8, utc_off: u8, source: &'static str) -> Option<Timestamp> {
    if ts == 0 {
        return None;
    }
    let y = 1980 + ((ts >> 25) & 0x7F) as i64;
    let mo = ((ts >> 21) & 0x0F) as u32;
    let d = ((ts >> 16) & 0x1F) as u32;
    let h = ((ts >> 11) & 0x1F) as i64;
    let mi = ((ts >> 5) & 0x3F) as i64;
    let s = ((ts & 0x1F) * 2) as i64;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400
        + h * 3600
        + mi * 60
        + s
        + i64::from(ms10.min(199) / 100);
    if utc_off & 0x80 != 0 {
        // Signed 7-bit count of 15-minute increments east of UTC.
        let q = i64::from(((utc_off & 0x7F) << 1) as i8 >> 1);
        secs -= q * 15 * 60;
    }
    Some(Timestamp {
        source,
        secs,
        nanos: u32::from(ms10.min(199) % 100) * 10_000_000,
    })
}

pub(super) struct Stream {
    pub(super) name_hash: u16,
    pub(super) no_fat_chain: bool,
    pub(super) first_cluster: u64,
    pub(super) valid: u64,
    pub(super) size: u64,
}

pub(super) struct Set {
    pub(super) attrs: u64,
    pub(super) deleted: bool,
    pub(super) name: String,
    pub(super) stream: Option<Stream>,
    pub(super) times: Vec<Timestamp>,
    pub(super) checksum_ok: bool,
    pub(super) offset: usize,
}

pub(crate) fn set_checksum(entries: &[u8]) -> u16 {
    let mut c: u16 = 0;
    for (i, &b) in entries.iter().enumerate() {
        if i == 2 || i == 3 {
            continue;
        }
        c = (c >> 1 | (c & 1) << 15).wrapping_add(u16::from(b));
    }
    c
}

/// Parses a directory's entry sets, allocated and deleted.
pub(crate) fn parse_dir(data: &[u8]) -> (Vec<Set>, Option<String>) {
    let n = data.len() / 32;
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let e = &data[i * 32..(i + 1) * 32];
        let t = e[0];
        if t == 0 {
            break;
        }
        if t & 0x7F != 0x05 {
            i += 1;
            continue;
        }
        let deleted = t & 0x80 == 0;
        let sec = e[1] as usize;
        if !(2..=18).contains(&sec) || i + sec >= n {
            i += 1;
            continue;
        }
        // The set, with in-use bits restored for a deleted one, must match its checksum.
        let mut set = data[i * 32..(i + 1 + sec) * 32].to_vec();
        let consistent = (1..=sec).all(|k| {
            let st = set[k * 32];
            st & 0x7F == 0x40 || st & 0x7F == 0x41 || st & 0x7F == 0x60 // stream, name, vendor
        }) && set[32] & 0x7F == 0x40;
        if !consistent {
            i += 1;
            continue;
        }
        if deleted {
            for k in 0..=sec {
                set[k * 32] |= 0x80;
            }
        }
        let checksum_ok = set_checksum(&set) == le16::<u64>(&set, 2) as u16;
        if deleted && !checksum_ok {
            // Slack or a partly overwritten set: not trusted.
            i += 1;
            continue;
        }
        let s = &set[32..64];
        let name_len = s[3] as usize;
        let mut units = Vec::new();
        for k in 2..=sec {
            let x = &set[k * 32..(k + 1) * 32];
            if x[0] == 0xC1 {
                units.extend(
                    x[2..32]
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]])),
                );
            }
        }
        units.truncate(name_len);
        let times = [
            timestamp(le32(e, 12), e[21], e[23], "exfat.modified"),
            timestamp(le32(e, 8), e[20], e[22], "exfat.created"),
            timestamp(le32(e, 16), 0, e[24], "exfat.accessed"),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.push(Set {
            attrs: le16(e, 4),
            deleted,
            name: String::from_utf16_lossy(&units),
            stream: Some(Stream {
                name_hash: le16::<u64>(s, 4) as u16,
                no_fat_chain: s[1] & 0x2 != 0,
                first_cluster: le32(s, 20),
                valid: le64(s, 8),
                size: le64(s, 24),
            }),
            times,
            checksum_ok,
            offset: i * 32,
        });
        i += 1 + sec;
    }
    (out, None)
}
