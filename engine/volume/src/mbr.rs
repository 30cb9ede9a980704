//! DOS/MBR partition tables with extended partitions (a chain of EBRs, each holding
//! one logical partition relative to itself and a link relative to the extended
//! partition's start).

use crate::read_sector;
use dredge_core::{Extent, Finding, ImageSource, SourceError, Volume, VolumeKind};

const SECTOR: u64 = 512;
/// Logical partitions we follow before calling the chain a loop.
const MAX_LOGICAL: usize = 256;

#[derive(Clone, Copy, Debug)]
struct RawEntry {
    status: u8,
    ptype: u8,
    start: u32,
    count: u32,
}

fn entries(s: &[u8]) -> [RawEntry; 4] {
    let e = |i: usize| {
        let b = &s[446 + 16 * i..446 + 16 * (i + 1)];
        RawEntry {
            status: b[0],
            ptype: b[4],
            start: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            count: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        }
    };
    [e(0), e(1), e(2), e(3)]
}

fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0F | 0x85)
}

pub(crate) fn has_protective_entry(s: &[u8]) -> bool {
    entries(s).iter().any(|e| e.ptype == 0xEE)
}

pub(crate) fn type_name(t: u8) -> &'static str {
    match t {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0E => "FAT16",
        0x07 => "NTFS / exFAT / HPFS",
        0x0B | 0x0C => "FAT32",
        0x05 | 0x0F | 0x85 => "Extended",
        0x11 | 0x14 | 0x16 | 0x1B | 0x1C | 0x1E => "Hidden FAT",
        0x17 => "Hidden NTFS",
        0x27 => "Windows recovery",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x8E => "Linux LVM",
        0xA5 => "FreeBSD",
        0xA8 | 0xAF => "Apple",
        0xEE => "GPT protective",
        0xEF => "EFI system",
        0xFD => "Linux RAID",
        _ => "unknown",
    }
}

pub(crate) struct Parsed {
    pub volumes: Vec<Volume>,
    pub meta: Vec<Volume>,
}

fn part(start_lba: u64, count: u64, ptype: u8, slot: String) -> Volume {
    Volume {
        extent: Extent::new(start_lba * SECTOR, count * SECTOR),
        kind: VolumeKind::Partition,
        description: format!("{} (0x{ptype:02x})", type_name(ptype)),
        slot: Some(slot),
    }
}

fn meta(lba: u64, what: &str) -> Volume {
    Volume {
        extent: Extent::new(lba * SECTOR, SECTOR),
        kind: VolumeKind::Meta,
        description: what.into(),
        slot: None,
    }
}

/// Parses an MBR; `None` if no entry is usable (then it is not a partition table).
pub(crate) fn parse(
    src: &dyn ImageSource,
    s0: &[u8],
    findings: &mut Vec<Finding>,
) -> Result<Option<Parsed>, SourceError> {
    let sectors = src.size() / SECTOR;
    let mut volumes = Vec::new();
    let mut metas = vec![meta(0, "MBR (primary table)")];
    let mut usable = 0;
    let mut bad = 0;
    for (i, e) in entries(s0).iter().enumerate() {
        if e.ptype == 0 && e.count == 0 && e.start == 0 {
            continue;
        }
        let at = 446 + 16 * i as u64;
        if !(e.status == 0 || e.status == 0x80) || e.count == 0 || e.start == 0 || e.ptype == 0 {
            bad += 1;
            findings.push(
                Finding::new(
                    at,
                    format!("MBR entry {} is not a valid partition entry", i + 1),
                )
                .expected(
                    "status 0x00/0x80, non-zero type, start and size",
                    format!(
                        "status 0x{:02x}, type 0x{:02x}, start {}, size {}",
                        e.status, e.ptype, e.start, e.count
                    ),
                ),
            );
            continue;
        }
        if u64::from(e.start) >= sectors {
            findings.push(
                Finding::new(
                    at,
                    format!("MBR entry {} starts past the end of the image", i + 1),
                )
                .expected(format!("start < {sectors} sectors"), e.start),
            );
        }
        usable += 1;
        if is_extended(e.ptype) {
            walk_extended(
                src,
                u64::from(e.start),
                u64::from(e.count),
                &mut volumes,
                &mut metas,
                findings,
            )?;
        } else {
            volumes.push(part(
                u64::from(e.start),
                u64::from(e.count),
                e.ptype,
                format!("mbr:{}", i + 1),
            ));
        }
    }
    if usable == 0 {
        if bad > 0 {
            findings.push(Finding::new(0, "sector 0 ends in 55 AA but holds no usable partition entry; treating the image as having no table"));
        }
        return Ok(None);
    }
    Ok(Some(Parsed {
        volumes,
        meta: metas,
    }))
}

fn walk_extended(
    src: &dyn ImageSource,
    ext_start: u64,
    ext_len: u64,
    volumes: &mut Vec<Volume>,
    metas: &mut Vec<Volume>,
    findings: &mut Vec<Finding>,
) -> Result<(), SourceError> {
    let mut cur = ext_start;
    let mut seen = std::collections::BTreeSet::new();
    let mut number = 5;
    while volumes.len() < MAX_LOGICAL + 4 {
        if !seen.insert(cur) {
            findings.push(Finding::new(
                cur * SECTOR,
                "extended partition chain loops back on itself",
            ));
            break;
        }
        let (s, clean) = read_sector(src, cur * SECTOR, 512)?;
        if !clean {
            findings.push(Finding::new(
                cur * SECTOR,
                "extended boot record is unreadable",
            ));
            break;
        }
        if !(s[510] == 0x55 && s[511] == 0xAA) {
            findings.push(
                Finding::new(cur * SECTOR + 510, "extended boot record has no signature")
                    .expected("55 AA", format!("{:02X} {:02X}", s[510], s[511])),
            );
            break;
        }
        metas.push(meta(cur, "extended boot record"));
        let es = entries(&s);
        let logical = es[0];
        if logical.count > 0 && logical.ptype != 0 {
            let start = cur + u64::from(logical.start);
            if start + u64::from(logical.count) > ext_start + ext_len {
                findings.push(
                    Finding::new(
                        cur * SECTOR + 446,
                        format!("logical partition {number} extends past its extended partition"),
                    )
                    .expected(
                        format!("end <= sector {}", ext_start + ext_len),
                        start + u64::from(logical.count),
                    ),
                );
            }
            volumes.push(part(
                start,
                u64::from(logical.count),
                logical.ptype,
                format!("ebr:{number}"),
            ));
            number += 1;
        }
        let link = es[1];
        if is_extended(link.ptype) && link.start > 0 {
            cur = ext_start + u64::from(link.start);
        } else {
            break;
        }
    }
    Ok(())
}
