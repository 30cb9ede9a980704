//! Raw directory entries: 8.3 entries, long-name slots (checksum-matched, also when
//! deleted), and deleted entries (first byte 0xE5).

use dredge_core::bytes::le16;
use dredge_core::time::days_from_civil;
use dredge_core::Timestamp;

pub const SLOT: usize = 32;

pub const ATTR_DIR: u8 = 0x10;
pub const ATTR_VOLUME: u8 = 0x08;
pub const ATTR_LFN: u8 = 0x0F;

#[derive(Clone, Debug)]
pub struct RawEntry {
    /// Index of the short entry's slot in the directory data.
    pub slot: usize,
    pub long_name: Option<String>,
    pub short_name: String,
    pub attr: u8,
    pub deleted: bool,
    pub start_cluster: u32,
    pub size: u32,
    pub times: Vec<Timestamp>,
    /// How a damaged entry was read, when it was (a finding for the caller).
    pub repaired: Option<String>,
}

impl RawEntry {
    pub fn is_dir(&self) -> bool {
        self.attr & ATTR_DIR != 0
    }

    pub fn name(&self) -> &str {
        self.long_name.as_deref().unwrap_or(&self.short_name)
    }
}

/// Checksum of an 11-byte short name that long-name slots carry.
pub fn short_checksum(name: &[u8]) -> u8 {
    name.iter()
        .fold(0u8, |s, &b| (s >> 1 | (s & 1) << 7).wrapping_add(b))
}

/// FAT date/time (local time, no zone: recorded as if UTC) to seconds.
fn fat_time(date: u16, time: u16, tenths: u8) -> Option<(i64, u32)> {
    if date == 0 {
        return None;
    }
    let y = 1980 + i64::from(date >> 9);
    let m = u32::from((date >> 5) & 0x0F);
    let d = u32::from(date & 0x1F);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let h = i64::from(time >> 11);
    let mi = i64::from((time >> 5) & 0x3F);
    let s = i64::from(time & 0x1F) * 2;
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let extra = u32::from(tenths.min(199));
    let secs = days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s + i64::from(extra / 100);
    Some((secs, (extra % 100) * 10_000_000))
}

/// Code page 437's characters for bytes 0x80 to 0xFF.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú', 'ñ', 'Ñ',
    'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕',
    '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦',
    '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐',
    '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', '≡', '±',
    '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// A short-name byte as a character. Short names are in the OEM code page of
/// the system that wrote them, which the volume does not record; code page 437
/// is DOS's and Windows' default in the United States and the Linux kernel's
/// default for FAT, and under it a German Windows' `ß` (0xE1) reads as `ß`,
/// where Latin-1 made it `á`. The mapping is one to one, so it stays
/// reversible and deterministic.
fn oem_char(c: u8) -> char {
    if c < 0x80 {
        char::from(c)
    } else {
        CP437_HIGH[usize::from(c - 0x80)]
    }
}

/// A short name (8.3) as text: base and extension in code page 437
/// (`oem_char`), trailing spaces dropped, lower-cased where the entry's case
/// flags say (Windows NT's way of keeping `readme.txt` without a long name).
fn decode_short(e: &[u8], first: Option<u8>) -> String {
    let lower_base = e[12] & 0x08 != 0;
    let lower_ext = e[12] & 0x10 != 0;
    let mut raw = [0u8; 11];
    raw.copy_from_slice(&e[..11]);
    match first {
        Some(c) => raw[0] = c,
        None if raw[0] == 0x05 => raw[0] = 0xE5,
        None => {}
    }
    let conv = |b: &[u8], lower: bool| -> String {
        let s: String = b.iter().map(|&c| oem_char(c)).collect();
        let s = s.trim_end_matches(' ').to_string();
        if lower {
            s.to_lowercase()
        } else {
            s
        }
    };
    let base = conv(&raw[..8], lower_base);
    let ext = conv(&raw[8..11], lower_ext);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// Plausibility of a deleted short entry (directory slack is full of old bytes).
fn plausible(e: &[u8], max_cluster: u32, volume_bytes: u64) -> bool {
    let attr = e[11];
    if attr & 0xC0 != 0 {
        return false;
    }
    // Name bytes after the first must be printable or space-padded.
    if e[1..11].iter().any(|&c| {
        c < 0x20
            || matches!(
                c,
                b'"' | b'*' | b'/' | b':' | b'<' | b'>' | b'?' | b'\\' | b'|'
            )
    }) {
        return false;
    }
    let cluster = u32::from(le16::<u16>(e, 26)) | u32::from(le16::<u16>(e, 20)) << 16;
    let size = u32::from_le_bytes([e[28], e[29], e[30], e[31]]);
    (cluster == 0 || (cluster >= 2 && cluster <= max_cluster)) && u64::from(size) <= volume_bytes
}

struct LfnSlot {
    seq: u8,
    checksum: u8,
    units: [u16; 13],
}

fn lfn_units(e: &[u8]) -> [u16; 13] {
    let mut u = [0u16; 13];
    let offs = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    for (i, &o) in offs.iter().enumerate() {
        u[i] = le16(e, o);
    }
    u
}

/// Joins long-name slots (in on-disk order: last part first) into a name, if their
/// checksums match `sum` and, for allocated entries, their sequence numbers count
/// down to 1.
fn join_lfn(slots: &[LfnSlot], sum: u8, deleted: bool) -> Option<String> {
    if slots.is_empty() || slots.iter().any(|s| s.checksum != sum) {
        return None;
    }
    if !deleted {
        let n = slots.len();
        for (i, s) in slots.iter().enumerate() {
            let want = (n - i) as u8 | if i == 0 { 0x40 } else { 0 };
            if s.seq != want {
                return None;
            }
        }
    }
    let mut units = Vec::new();
    for s in slots.iter().rev() {
        units.extend_from_slice(&s.units);
    }
    let end = units
        .iter()
        .position(|&u| u == 0 || u == 0xFFFF)
        .unwrap_or(units.len());
    let name = String::from_utf16_lossy(&units[..end]);
    (!name.is_empty()).then_some(name)
}

/// Parses a directory's data. An end-of-directory marker (a slot of zeros)
/// ends it only when nothing but zeros follows: a damaged first byte (0x00
/// over a live entry) must not hide the entries after it. Such an entry, and
/// anything after a slot of zeros, is taken only when it is plausible; an
/// entry marked as a volume label that has clusters and a size (a label has
/// neither) is read as a file. Both say so in `repaired`.
pub fn parse(data: &[u8], max_cluster: u32, volume_bytes: u64, fat32: bool) -> Vec<RawEntry> {
    let mut out = Vec::new();
    let mut pending: Vec<LfnSlot> = Vec::new();
    let mut pending_deleted = false;
    let mut after_end = false;
    let last_nonzero = data.iter().rposition(|&x| x != 0);
    for (slot, e) in data.chunks_exact(SLOT).enumerate() {
        let first = e[0];
        let mut repaired = None;
        if first == 0x00 {
            if e[1..].iter().all(|&x| x == 0) {
                if last_nonzero.is_none_or(|l| l < (slot + 1) * SLOT) {
                    break;
                }
                after_end = true;
                pending.clear();
                continue;
            }
            if e[11] == ATTR_LFN || !plausible(e, max_cluster, volume_bytes) {
                pending.clear();
                continue;
            }
            repaired = Some(
                "the entry's first byte is 0x00 (end of directory) but the entry is whole: read as a live entry whose first letter is lost".to_string(),
            );
        } else if after_end && e[11] != ATTR_LFN && !plausible(e, max_cluster, volume_bytes) {
            pending.clear();
            continue;
        }
        let lost_first = first == 0x00;
        let mut attr = e[11];
        let deleted = first == 0xE5;
        if attr == ATTR_LFN {
            if pending.is_empty() {
                pending_deleted = deleted;
            }
            if deleted != pending_deleted {
                pending.clear();
                pending_deleted = deleted;
            }
            pending.push(LfnSlot {
                seq: first,
                checksum: e[13],
                units: lfn_units(e),
            });
            continue;
        }
        let lfn = std::mem::take(&mut pending);
        if attr & ATTR_VOLUME != 0 && attr & ATTR_DIR == 0 {
            // A volume label has no clusters and no size; with both, the
            // attribute byte is what is damaged.
            let cluster = u32::from(le16::<u16>(e, 26)) | u32::from(le16::<u16>(e, 20)) << 16;
            let size = u32::from_le_bytes([e[28], e[29], e[30], e[31]]);
            let mut as_file = e.to_vec();
            as_file[11] = 0x20;
            if cluster < 2 || size == 0 || !plausible(&as_file, max_cluster, volume_bytes) {
                continue;
            }
            repaired = Some(format!(
                "attribute byte {attr:#04x} marks a volume label, but the entry has clusters and a size: read as a file"
            ));
            attr = 0x20;
        }
        if &e[..11] == b".          " || &e[..11] == b"..         " {
            continue;
        }
        if deleted && !plausible(e, max_cluster, volume_bytes) {
            continue;
        }
        // For a deleted entry the first byte of the short name is lost; the long
        // name's checksum tells which byte it was (its first letter, upper-cased, is
        // the usual answer; otherwise try all).
        let mut long_name = None;
        let mut first_byte = None;
        if !lfn.is_empty() && lfn.len() <= 20 {
            if (deleted && pending_deleted) || (lost_first && !pending_deleted) {
                let mut name = [0u8; 11];
                name.copy_from_slice(&e[..11]);
                let hint = lfn
                    .last()
                    .and_then(|s| char::from_u32(u32::from(s.units[0])))
                    .filter(|c| c.is_ascii())
                    .map(|c| c.to_ascii_uppercase() as u8);
                let candidates = hint.into_iter().chain(0x20u8..=0xFF);
                for c in candidates {
                    name[0] = c;
                    if let Some(n) = join_lfn(&lfn, short_checksum(&name), deleted) {
                        long_name = Some(n);
                        first_byte = Some(c);
                        break;
                    }
                }
            } else if !deleted && !pending_deleted {
                long_name = join_lfn(&lfn, short_checksum(&e[..11]), false);
            }
        }
        let short_name = if deleted || lost_first {
            decode_short(e, Some(first_byte.unwrap_or(b'_')))
        } else {
            decode_short(e, None)
        };
        let hi = if fat32 {
            u32::from(le16::<u16>(e, 20))
        } else {
            0
        };
        let start_cluster = hi << 16 | u32::from(le16::<u16>(e, 26));
        let size = u32::from_le_bytes([e[28], e[29], e[30], e[31]]);
        let times = entry_times(e);
        out.push(RawEntry {
            slot,
            long_name,
            short_name,
            attr,
            deleted,
            start_cluster,
            size,
            times,
            repaired,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short entry of 32 bytes named `name` (11 bytes), with case flags.
    fn short(name: &[u8; 11], flags: u8) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[12] = flags;
        e
    }

    #[test]
    fn short_names_read_in_code_page_437() {
        // What a German or US Windows (and mtools, Linux) writes for `ß`,
        // `Übung.txt` (no long name needed in 8.3) and a name starting 0xE5
        // (stored as 0x05 so it is not taken for deleted).
        assert_eq!(decode_short(&short(b"\xE1          ", 0), None), "ß");
        assert_eq!(
            decode_short(&short(b"\x9ABUNG   TXT", 0), None),
            "ÜBUNG.TXT"
        );
        assert_eq!(decode_short(&short(b"\x05X         ", 0), None), "σX");
        // Case flags: base and extension lower-cased apart.
        assert_eq!(
            decode_short(&short(b"README  TXT", 0x08), None),
            "readme.TXT"
        );
        assert_eq!(
            decode_short(&short(b"README  TXT", 0x18), None),
            "readme.txt"
        );
        // Deleted: the first byte is given (its original lost).
        assert_eq!(
            decode_short(&short(b"\xE5BC        ", 0), Some(b'_')),
            "_BC"
        );
        // Every byte maps to its own character: the name stays reversible.
        let all: std::collections::HashSet<char> = (0..=255u8).map(oem_char).collect();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn checksum_and_time() {
        // Checksum of "README  TXT" computed by hand with the spec's algorithm.
        let mut s = 0u8;
        for &b in b"README  TXT" {
            s = (s >> 1 | (s & 1) << 7).wrapping_add(b);
        }
        assert_eq!(short_checksum(b"README  TXT"), s);
        // 2026-10-30 12:00:00
        let date = ((2026 - 1980) << 9) | (10 << 5) | 30;
        let time = 12 << 11;
        let (secs, _) = fat_time(date, time, 0).unwrap();
        assert_eq!(
            dredge_core::time::format_utc(secs, 0),
            "2026-10-30T12:00:00.000000Z"
        );
        assert_eq!(fat_time(0, 0, 0), None);
        assert_eq!(fat_time((1 << 5) | 1, 24 << 11, 0), None);
    }
}

/// The times a short entry records (written, created, accessed date), in
/// that order, those whose date is set and valid.
pub fn entry_times(e: &[u8]) -> Vec<Timestamp> {
    let mut times = Vec::new();
    if let Some((s, n)) = fat_time(le16(e, 24), le16(e, 22), 0) {
        times.push(Timestamp {
            source: "fat.written",
            secs: s,
            nanos: n,
        });
    }
    if let Some((s, n)) = fat_time(le16(e, 16), le16(e, 14), e[13]) {
        times.push(Timestamp {
            source: "fat.created",
            secs: s,
            nanos: n,
        });
    }
    if let Some((s, n)) = fat_time(le16(e, 18), 0, 0) {
        times.push(Timestamp {
            source: "fat.accessed(date)",
            secs: s,
            nanos: n,
        });
    }
    times
}

/// The first cluster an entry names (FAT32 keeps the high half at byte 20;
/// FAT12/16 use those bytes for other things).
pub fn entry_cluster(e: &[u8], fat32: bool) -> u32 {
    let lo = u32::from(le16::<u16>(e, 26));
    if fat32 {
        lo | u32::from(le16::<u16>(e, 20)) << 16
    } else {
        lo
    }
}

/// Whether `first` (a cluster's first bytes) begins with a live "." entry
/// naming cluster `c` itself: how a directory is known without the entry that
/// names it.
pub fn self_dot(first: &[u8], c: u32, fat32: bool) -> bool {
    first.len() >= SLOT && &first[..11] == b".          " && entry_cluster(first, fat32) == c
}

/// Whether directory data begins with the "." and ".." entries (first byte
/// possibly the deleted mark 0xE5), each with the directory attribute. One
/// of the two is enough: a damaged byte in the other must not cost the
/// directory (random data matches either by chance about once in 2^90).
pub fn starts_with_dots(d: &[u8]) -> bool {
    let dot = |e: &[u8], name: &[u8]| {
        (e[0] == b'.' || e[0] == 0xE5)
            && e[1..name.len()] == name[1..]
            && e[name.len()..11].iter().all(|&c| c == b' ')
            && e[11] & 0x10 != 0
    };
    d.len() >= 64 && (dot(&d[..32], b".") || dot(&d[32..64], b".."))
}

#[cfg(test)]
mod dots_tests {
    use super::starts_with_dots;

    #[test]
    fn a_directory_begins_with_dot_entries_and_random_bytes_do_not() {
        let mut d = vec![0u8; 64];
        d[..11].copy_from_slice(b".          ");
        d[32..43].copy_from_slice(b"..         ");
        d[11] = 0x10;
        d[43] = 0x10;
        assert!(starts_with_dots(&d));
        d[0] = 0xE5;
        assert!(starts_with_dots(&d), "a deleted directory keeps them");
        d[43] = 0x20;
        assert!(starts_with_dots(&d), "'.' alone is enough");
        d[11] = 0x20;
        assert!(!starts_with_dots(&d), "neither is a directory");
        d[11] = 0x10;
        d[43] = 0x10;
        d[34] = b'X';
        assert!(starts_with_dots(&d), "'..' damaged, '.' whole");
        d[2] = b'Y';
        assert!(!starts_with_dots(&d), "both damaged");
        assert!(!starts_with_dots(&d[..40]));
    }
}
