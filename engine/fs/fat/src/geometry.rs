//! A damaged boot sector's geometry, found again by probing the volume. FAT16
//! keeps no backup boot sector, and one changed byte in the BPB (bytes per
//! sector, reserved sectors, FAT count or size, root entries, even the jump
//! instruction) loses the whole volume to a reader that trusts it. The FATs
//! themselves say where they are: each copy begins with the media byte and
//! 0xFF, and the copies are equal. So each field that is impossible, or that
//! puts no FAT where it says, is replaced by the value that does, and the
//! result is accepted only when the FAT copies are found where the repaired
//! geometry puts them. Each repair is a finding with the byte offset, what
//! was there and what was used.

use crate::bpb::{Bpb, FatType};
use dredge_core::bytes::le16;
use dredge_core::{Finding, VolumeReader};

/// Sectors searched for the first FAT (reserved sectors are few: 1 to 32
/// for FAT12/16, 32 or so for FAT32).
const MAX_RESERVED: u64 = 128;
/// Sectors searched for the second FAT copy after the first (a FAT16 FAT is
/// at most 256 sectors of 512 bytes; a FAT32 one can be far larger).
const MAX_FAT_SECTORS: u64 = 1 << 16;

fn sector(vol: &VolumeReader, at: u64, bps: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; bps as usize];
    let r = vol.read_at(at, &mut b).ok()?;
    (r.len as u64 == bps && r.is_clean()).then_some(b)
}

/// Does a FAT copy start here: the media byte (0xF0 or 0xF8..0xFF), then 0xFF.
fn fat_start(b: &[u8]) -> bool {
    b.len() >= 4 && (b[0] == 0xF0 || b[0] >= 0xF8) && b[1] == 0xFF && b[2] == 0xFF
}

/// Two sectors that are copies of one FAT sector, allowing a few damaged
/// bytes in either.
fn same_fat_sector(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).filter(|(x, y)| x != y).count() <= 8
}

/// Whether `b`'s FATs lie where it says (the first, and the second when
/// there are two or more).
pub fn fats_where_said(vol: &VolumeReader, b: &Bpb) -> bool {
    let bps = u64::from(b.bytes_per_sector);
    let first = sector(vol, b.fat_offset(0), bps);
    let Some(first) = first.filter(|f| fat_start(f)) else {
        return false;
    };
    b.num_fats < 2
        || sector(vol, b.fat_offset(1), bps)
            .is_some_and(|s| fat_start(&s) && same_fat_sector(&s, &first))
}

/// For FAT12/16: whether the first subdirectory the root directory names has
/// its "." entry (pointing to itself) where this geometry puts its cluster;
/// `None` when there is no subdirectory to check (or on FAT32).
pub fn root_ok(vol: &VolumeReader, b: &Bpb) -> Option<bool> {
    if b.fat_type == FatType::Fat32 {
        return None;
    }
    let len = b.root_dir_bytes().min(64 * 1024);
    let (root, _) = vol.read_vec(b.root_dir_offset(), len, 64 * 1024).ok()?;
    let dir = root.chunks_exact(32).take_while(|e| e[0] != 0).find(|e| {
        e[0] != 0xE5
            && e[0] != b'.'
            && e[11] & 0x10 != 0
            && e[11] != 0x0F
            && le16::<u16>(e, 26) >= 2
    })?;
    let c = le16::<u16>(dir, 26);
    let mut first = [0u8; 32];
    vol.read_at(b.cluster_offset(u32::from(c)), &mut first)
        .ok()?;
    Some(&first[..11] == b".          " && first[11] & 0x10 != 0 && le16::<u16>(&first, 26) == c)
}

/// The geometry holds: FATs where it says, and (when there is one to check)
/// a subdirectory where it says.
pub fn sane(vol: &VolumeReader, b: &Bpb) -> bool {
    fats_where_said(vol, b) && root_ok(vol, b) != Some(false)
}

/// Whether a boot sector is worth repairing: the 0x55AA signature and a FAT
/// type name where FAT12/16 or FAT32 keep it.
pub fn looks_like_fat_boot(s: &[u8]) -> bool {
    s.len() >= 512
        && s[510] == 0x55
        && s[511] == 0xAA
        && (s[54..57] == *b"FAT" || s[82..87] == *b"FAT32")
}

/// The geometry of boot sector `s` repaired against the volume, with a
/// finding per field changed; `None` when no consistent geometry is found.
pub fn repair(vol: &VolumeReader, s: &[u8]) -> Option<(Bpb, Vec<Finding>)> {
    if !looks_like_fat_boot(s) {
        return None;
    }
    let mut b = s[..512].to_vec();
    let mut notes: Vec<(usize, &str, String, String)> = Vec::new();
    let base = vol.base();
    if !(b[0] == 0xEB || b[0] == 0xE9) {
        notes.push((
            0,
            "jump instruction",
            format!("{:02X}", b[0]),
            "EB (ignored)".into(),
        ));
        b[0] = 0xEB;
    }
    let mut bps = le16::<u32>(&b, 11);
    if !matches!(bps, 512 | 1024 | 2048 | 4096) {
        // The sector size whose reading puts a FAT right after a small
        // reserved area; 512 first (almost every stick and card).
        let found = [512u32, 4096, 2048, 1024].into_iter().find(|&n| {
            (1..MAX_RESERVED)
                .any(|r| sector(vol, r * u64::from(n), u64::from(n)).is_some_and(|x| fat_start(&x)))
        })?;
        notes.push((11, "bytes per sector", bps.to_string(), found.to_string()));
        bps = found;
        b[11..13].copy_from_slice(&(found as u16).to_le_bytes());
    }
    let n = u64::from(bps);
    // The first FAT: where the reserved count says, else the first sector
    // after the boot sector that starts like one.
    let reserved = u64::from(le16::<u16>(&b, 14));
    let at_reserved = reserved > 0 && sector(vol, reserved * n, n).is_some_and(|x| fat_start(&x));
    if !at_reserved {
        let r =
            (1..MAX_RESERVED).find(|&r| sector(vol, r * n, n).is_some_and(|x| fat_start(&x)))?;
        notes.push((
            14,
            "reserved sector count",
            reserved.to_string(),
            r.to_string(),
        ));
        b[14..16].copy_from_slice(&(r as u16).to_le_bytes());
    }
    let reserved = u64::from(le16::<u16>(&b, 14));
    let fat1 = sector(vol, reserved * n, n)?;
    // FAT size: the second copy where the size says, else the next sector
    // equal to the first FAT's first sector.
    let is32 = le16::<u16>(&b, 22) == 0;
    let size_at = if is32 { 36 } else { 22 };
    let size = if is32 {
        u64::from(dredge_core::bytes::le32::<u32>(&b, 36))
    } else {
        u64::from(le16::<u16>(&b, 22))
    };
    let copy_at = |k: u64| {
        sector(vol, (reserved + k) * n, n)
            .is_some_and(|x| fat_start(&x) && same_fat_sector(&x, &fat1))
    };
    let fats = u32::from(b[16]);
    if size == 0 || !copy_at(size) {
        // At most 64 MiB read looking for it.
        let limit = MAX_FAT_SECTORS.min((64 << 20) / n).min(vol.len() / n / 2);
        if let Some(k) = (1..limit).find(|&k| copy_at(k)) {
            notes.push((size_at, "sectors per FAT", size.to_string(), k.to_string()));
            if is32 {
                b[36..40].copy_from_slice(&(k as u32).to_le_bytes());
            } else {
                b[22..24].copy_from_slice(&(k.min(0xFFFF) as u16).to_le_bytes());
            }
        } else if !(1..=4).contains(&fats) || fats > 1 {
            return None;
        }
    }
    let size = if is32 {
        u64::from(dredge_core::bytes::le32::<u32>(&b, 36))
    } else {
        u64::from(le16::<u16>(&b, 22))
    };
    // The FAT count: the copies found one after another.
    if !(1..=4).contains(&fats) || (2..=4).contains(&fats) && !copy_at(size * u64::from(fats - 1)) {
        let count = 1 + (1..4u64).take_while(|&k| copy_at(size * k)).count() as u8;
        notes.push((16, "FAT count", fats.to_string(), count.to_string()));
        b[16] = count;
    }
    // Sectors per cluster: a power of two.
    let spc = b[13];
    if spc == 0 || !spc.is_power_of_two() {
        // The largest power of two that keeps the cluster count under the
        // FAT's capacity is what formatters choose for the size.
        let total = {
            let t16 = le16::<u32>(&b, 19);
            if t16 != 0 {
                u64::from(t16)
            } else {
                u64::from(dredge_core::bytes::le32::<u32>(&b, 32))
            }
        };
        let bits = if is32 { 32 } else { 16 };
        let capacity = size * n * 8 / bits;
        let found = (0..8)
            .map(|p| 1u8 << p)
            .find(|&c| total / u64::from(c) <= capacity)?;
        notes.push((
            13,
            "sectors per cluster",
            spc.to_string(),
            found.to_string(),
        ));
        b[13] = found;
    }
    // FAT12/16 root directory size: the count under which a subdirectory's
    // first cluster holds its own "." entry (the data area starts right after
    // the root directory); without a subdirectory to check, the usual 512
    // when the count is impossible.
    if !is32 {
        let per = (n / 32) as u16;
        let entries = le16::<u16>(&b, 17);
        let check = |e: u16| {
            let mut t = b.clone();
            t[17..19].copy_from_slice(&e.to_le_bytes());
            Bpb::parse(&t, base, 0).ok().and_then(|x| root_ok(vol, &x))
        };
        if check(entries) != Some(true) {
            let (hi, lo) = (entries & 0xFF00, entries & 0x00FF);
            let candidates = [512u16, 1024, 256, 224, 112, 240]
                .into_iter()
                .chain((0..16).map(|k| hi | (k * 16)))
                .chain((0..8).map(|k| (k << 8) | lo))
                .filter(|&e| e > 0 && e.is_multiple_of(per) && e != entries);
            let mut fixed = None;
            for e in candidates {
                if check(e) == Some(true) {
                    fixed = Some(e);
                    break;
                }
            }
            let fixed = fixed.or_else(|| {
                (check(entries).is_none() && (entries == 0 || !entries.is_multiple_of(per)))
                    .then_some(512)
            });
            if let Some(f) = fixed {
                notes.push((
                    17,
                    "root directory entries",
                    entries.to_string(),
                    f.to_string(),
                ));
                b[17..19].copy_from_slice(&f.to_le_bytes());
            }
        }
    }
    let bpb = Bpb::parse(&b, base, 0).ok()?;
    if !sane(vol, &bpb) || bpb.fat_type == FatType::Fat32 && !is32 {
        return None;
    }
    let findings = notes
        .into_iter()
        .map(|(at, what, was, used)| {
            Finding::new(
                base + at as u64,
                format!("FAT boot sector's {what} is damaged; the value the volume's FATs agree with was used"),
            )
            .expected(used, was)
        })
        .collect();
    Some((bpb, findings))
}
