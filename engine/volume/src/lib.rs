//! Partition tables: MBR (with chained extended partitions), GPT (CRC-checked, with
//! the backup header at the end of the disk as fallback), the Apple Partition
//! Map, or none. Gaps between
//! partitions become `Unallocated` volumes and table sectors `Meta` volumes, so the
//! volumes of a layout tile the whole image.

mod apm;
mod gpt;
pub mod lvm;
mod mbr;
pub mod scan;

use dredge_core::{Extent, Finding, ImageSource, SourceError, Volume, VolumeKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Mbr,
    Gpt,
    Apm,
    None,
}

impl Scheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::Mbr => "mbr",
            Scheme::Gpt => "gpt",
            Scheme::Apm => "apm",
            Scheme::None => "none",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Layout {
    pub scheme: Scheme,
    pub sector_size: u32,
    /// In image order; partitions, meta areas and gaps together cover the image.
    pub volumes: Vec<Volume>,
    pub findings: Vec<Finding>,
}

impl Layout {
    pub fn partitions(&self) -> impl Iterator<Item = &Volume> {
        self.volumes
            .iter()
            .filter(|v| v.kind == VolumeKind::Partition)
    }
}

pub(crate) fn read_sector(
    src: &dyn ImageSource,
    offset: u64,
    len: usize,
) -> Result<(Vec<u8>, bool), SourceError> {
    let mut buf = vec![0u8; len];
    let r = src.read_at(offset, &mut buf)?;
    Ok((buf, r.is_clean()))
}

/// Whether a sector looks like a filesystem boot sector rather than an MBR: both
/// end in 55 AA, and a FAT or NTFS volume at offset 0 must not be taken for a table.
pub(crate) fn looks_like_boot_sector(s: &[u8]) -> bool {
    if s.len() < 512 || !(s[0] == 0xEB || s[0] == 0xE9) {
        return false;
    }
    let oem = &s[3..11];
    oem == b"NTFS    "
        || oem == b"EXFAT   "
        || &s[54..59] == b"FAT12"
        || &s[54..59] == b"FAT16"
        || &s[54..57] == b"FAT"
        || &s[82..87] == b"FAT32"
        || {
            // A FAT BPB without the type string: sane bytes/sector and sectors/cluster.
            let bps = u16::from_le_bytes([s[11], s[12]]);
            let spc = s[13];
            matches!(bps, 512 | 1024 | 2048 | 4096) && spc.is_power_of_two() && s[16] >= 1
        }
}

/// Reads the partition layout of an image. Only a vanished source is an error;
/// damaged tables are findings, and with no usable table the whole image is one
/// volume.
pub fn detect(src: &dyn ImageSource) -> Result<Layout, SourceError> {
    let size = src.size();
    let mut findings = Vec::new();
    let (s0, s0_clean) = read_sector(src, 0, 512)?;
    if !s0_clean {
        findings.push(Finding::new(0, "sector 0 (partition table) is unreadable"));
    }
    let has_sig = s0[510] == 0x55 && s0[511] == 0xAA;
    let protective = has_sig && mbr::has_protective_entry(&s0);

    // GPT first: a protective MBR, or a GPT header where one belongs even if the MBR
    // was wiped.
    if let Some(mut gpt) = gpt::detect(src, protective, &mut findings)? {
        findings.append(&mut gpt.findings);
        return Ok(finish(
            Scheme::Gpt,
            gpt.sector_size,
            gpt.volumes,
            gpt.meta,
            size,
            findings,
        ));
    }
    if protective {
        findings.push(Finding::new(
            0,
            "protective MBR (type 0xEE) but neither GPT header is valid",
        ));
    }
    if apm::looks_like(&s0) {
        if let Some(a) = apm::parse(src, &s0, &mut findings)? {
            return Ok(finish(Scheme::Apm, 512, a.volumes, a.meta, size, findings));
        }
    }
    if has_sig && !looks_like_boot_sector(&s0) {
        if let Some(m) = mbr::parse(src, &s0, &mut findings)? {
            return Ok(finish(Scheme::Mbr, 512, m.volumes, m.meta, size, findings));
        }
    }
    Ok(Layout {
        scheme: Scheme::None,
        sector_size: src.sector_size(),
        volumes: vec![Volume {
            extent: Extent::new(0, size),
            kind: VolumeKind::Whole,
            description: "whole image (no partition table)".into(),
            slot: None,
        }],
        findings,
    })
}

/// Adds meta and unallocated volumes so the layout tiles `[0, size)`, and sorts it.
fn finish(
    scheme: Scheme,
    sector_size: u32,
    mut parts: Vec<Volume>,
    meta: Vec<Volume>,
    size: u64,
    mut findings: Vec<Finding>,
) -> Layout {
    for p in &parts {
        if p.extent.end() > size {
            findings.push(
                Finding::new(
                    p.extent.start,
                    format!(
                        "partition {} extends past the end of the image",
                        p.slot.as_deref().unwrap_or("?")
                    ),
                )
                .expected(format!("end <= {size}"), p.extent.end()),
            );
        }
    }
    let mut covered: Vec<Extent> = parts
        .iter()
        .chain(meta.iter())
        .filter_map(|v| v.extent.intersect(&Extent::new(0, size)))
        .collect();
    covered.sort();
    let mut gaps = Vec::new();
    let mut pos = 0u64;
    for c in &covered {
        if c.start > pos {
            gaps.push(Extent::from_bounds(pos, c.start));
        }
        pos = pos.max(c.end());
    }
    if pos < size {
        gaps.push(Extent::from_bounds(pos, size));
    }
    parts.extend(meta);
    parts.extend(gaps.into_iter().map(|g| Volume {
        extent: g,
        kind: VolumeKind::Unallocated,
        description: "unallocated".into(),
        slot: None,
    }));
    parts.sort_by_key(|v| (v.extent.start, v.kind != VolumeKind::Meta, v.extent.len));
    Layout {
        scheme,
        sector_size,
        volumes: parts,
        findings,
    }
}
