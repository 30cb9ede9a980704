//! The Apple Partition Map (PowerPC Macs, Apple disk images, hybrid CDs):
//! block 0 is the driver descriptor map (`ER`, the block size and count),
//! then one `PM` entry per block from block 1, each giving the map's entry
//! count, a partition's first block and block count, its name and its type
//! (`Apple_HFS`, `Apple_partition_map`, `Apple_Free`, …). Layout: Apple's
//! "Inside Macintosh: Devices" and TN1189.
//!
//! The map itself and block 0 are meta volumes; `Apple_Free` entries are
//! left for the gaps; every other entry is a partition described by its
//! type and name. Entries are read at the descriptor's block size, which
//! is also the unit of their start and count (512 on every image we have
//! checked; other sizes are taken as the descriptor gives them).

use crate::read_sector;
use dredge_core::bytes::{be16, be32};
use dredge_core::{Extent, Finding, ImageSource, SourceError, Volume, VolumeKind};

/// Entries followed before the map is called damaged.
const MAX_ENTRIES: u64 = 1024;

pub(crate) struct Parsed {
    pub volumes: Vec<Volume>,
    pub meta: Vec<Volume>,
}

/// Whether sector 0 is a driver descriptor map.
pub(crate) fn looks_like(s0: &[u8]) -> bool {
    &s0[..2] == b"ER"
}

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Reads the map; `None` when block 1 holds no `PM` entry (then sector 0's
/// `ER` was not a map's).
pub(crate) fn parse(
    src: &dyn ImageSource,
    s0: &[u8],
    findings: &mut Vec<Finding>,
) -> Result<Option<Parsed>, SourceError> {
    let declared = u64::from(be16::<u16>(s0, 2));
    let bs = if matches!(declared, 512 | 1024 | 2048 | 4096) {
        declared
    } else {
        512
    };
    let (first, _) = read_sector(src, bs, 512)?;
    if &first[..2] != b"PM" {
        return Ok(None);
    }
    let count = u64::from(be32::<u32>(&first, 4));
    let size = src.size();
    let most = MAX_ENTRIES.min(size / bs);
    if count == 0 || count > most {
        findings.push(
            Finding::new(
                bs,
                "Apple partition map: implausible entry count; entries read until one is not `PM`",
            )
            .expected(format!("1..={most}"), count),
        );
    }
    let mut volumes = Vec::new();
    let mut meta = vec![Volume {
        extent: Extent::new(0, bs),
        kind: VolumeKind::Meta,
        description: "Apple driver descriptor map".into(),
        slot: None,
    }];
    let n = if count == 0 || count > most {
        most
    } else {
        count
    };
    for i in 1..=n {
        let at = i * bs;
        let (e, clean) = read_sector(src, at, 512)?;
        if !clean || &e[..2] != b"PM" {
            if i <= count {
                findings.push(
                    Finding::new(at, format!("Apple partition map entry {i} is unreadable or has no PM signature; the map ends there"))
                        .expected("PM", format!("{:02x?}", &e[..2])),
                );
            }
            break;
        }
        let start = u64::from(be32::<u32>(&e, 8));
        let blocks = u64::from(be32::<u32>(&e, 12));
        let (name, kind) = (text(&e[16..48]), text(&e[48..80]));
        let extent = Extent::new(start.saturating_mul(bs), blocks.saturating_mul(bs));
        if kind.eq_ignore_ascii_case("Apple_Free") || blocks == 0 {
            continue;
        }
        let description = if name.is_empty() {
            kind.clone()
        } else {
            format!("{kind} \"{name}\"")
        };
        if kind.eq_ignore_ascii_case("Apple_partition_map") {
            if extent.end() > size {
                findings.push(Finding::new(
                    at,
                    format!(
                        "Apple partition map entry {i} places the map past the end of the image"
                    ),
                ));
                continue;
            }
            meta.push(Volume {
                extent,
                kind: VolumeKind::Meta,
                description,
                slot: Some(format!("apm{i}")),
            });
        } else {
            volumes.push(Volume {
                extent,
                kind: VolumeKind::Partition,
                description,
                slot: Some(format!("apm{i}")),
            });
        }
    }
    // Entries that claim the same blocks are kept as written, and said.
    let mut all: Vec<&Volume> = volumes.iter().chain(meta.iter().skip(1)).collect();
    all.sort_by_key(|v| v.extent.start);
    for w in all.windows(2) {
        if w[0].extent.overlaps(&w[1].extent) {
            findings.push(Finding::new(
                w[1].extent.start,
                format!(
                    "Apple partition map entries {} and {} overlap",
                    w[0].slot.as_deref().unwrap_or("?"),
                    w[1].slot.as_deref().unwrap_or("?")
                ),
            ));
        }
    }
    Ok(Some(Parsed { volumes, meta }))
}
