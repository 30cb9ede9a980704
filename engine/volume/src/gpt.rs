//! GUID partition tables. The primary header (LBA 1) and entries are CRC-checked;
//! when either fails the backup (last LBA of the disk) is used and the failure is
//! a finding. Sector sizes of 512 and 4096 are both tried.

use crate::read_sector;
use dredge_core::bytes::{le32, le64};
use dredge_core::checksum::crc32;
use dredge_core::{Extent, Finding, ImageSource, SourceError, Volume, VolumeKind};

/// Entry arrays larger than this are damage, not tables (the usual is 16 KiB).
const MAX_ENTRIES_BYTES: u64 = 4 << 20;

pub(crate) struct Parsed {
    pub sector_size: u32,
    pub volumes: Vec<Volume>,
    pub meta: Vec<Volume>,
    pub findings: Vec<Finding>,
}

struct Header {
    my_lba: u64,
    alternate_lba: u64,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Parses and CRC-checks a header sector; `Err` says what is wrong.
fn header(sector: &[u8], offset: u64) -> Result<Header, Finding> {
    if &sector[0..8] != b"EFI PART" {
        return Err(
            Finding::new(offset, "GPT header signature missing").expected(
                "EFI PART",
                String::from_utf8_lossy(&sector[0..8]).escape_debug(),
            ),
        );
    }
    let hsize = le32::<u32>(sector, 12) as usize;
    if !(92..=sector.len()).contains(&hsize) {
        return Err(Finding::new(offset + 12, "GPT header size out of range")
            .expected(format!("92..={}", sector.len()), hsize));
    }
    let stored = le32::<u32>(sector, 16);
    let mut h = sector[..hsize].to_vec();
    h[16..20].fill(0);
    let computed = crc32(&h);
    if stored != computed {
        return Err(Finding::new(offset + 16, "GPT header CRC mismatch")
            .expected(format!("{computed:#010x}"), format!("{stored:#010x}")));
    }
    Ok(Header {
        my_lba: le64(sector, 24),
        alternate_lba: le64(sector, 32),
        entries_lba: le64(sector, 72),
        entry_count: le32(sector, 80),
        entry_size: le32(sector, 84),
        entries_crc: le32(sector, 88),
    })
}

fn guid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        le32::<u32>(b, 0),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

fn type_name(g: &str) -> &'static str {
    match g {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "A19D880F-05FC-4D3B-A006-743F0F84911E" => "Linux RAID",
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
        "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" => "Linux home",
        "48465300-0000-11AA-AA11-00306543ECAC" => "Apple HFS+",
        "7C3457EF-0000-11AA-AA11-00306543ECAC" => "Apple APFS",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        _ => "unknown type",
    }
}

/// Reads the entry array a header points to, checking its CRC.
fn entries(
    src: &dyn ImageSource,
    h: &Header,
    ss: u64,
) -> Result<Result<Vec<u8>, Finding>, SourceError> {
    let at = h.entries_lba.saturating_mul(ss);
    let len = u64::from(h.entry_count) * u64::from(h.entry_size);
    if h.entry_size < 128 || !h.entry_size.is_power_of_two() || len > MAX_ENTRIES_BYTES {
        return Ok(Err(Finding::new(
            at,
            "GPT entry array has an impossible size",
        )
        .expected(
            format!("entry size >= 128 (power of two), array <= {MAX_ENTRIES_BYTES} bytes"),
            format!("{} entries of {} bytes", h.entry_count, h.entry_size),
        )));
    }
    let (buf, clean) = read_sector(src, at, len as usize)?;
    if !clean {
        return Ok(Err(Finding::new(at, "GPT entry array is unreadable")));
    }
    let c = crc32(&buf);
    if c != h.entries_crc {
        return Ok(Err(Finding::new(at, "GPT entry array CRC mismatch")
            .expected(
                format!("{:#010x}", h.entries_crc),
                format!("{c:#010x}"),
            )));
    }
    Ok(Ok(buf))
}

pub(crate) fn detect(
    src: &dyn ImageSource,
    protective: bool,
    outer: &mut Vec<Finding>,
) -> Result<Option<Parsed>, SourceError> {
    let size = src.size();
    let mut sizes = vec![src.sector_size().max(512) as u64, 512, 4096];
    sizes.dedup();
    for ss in sizes {
        if size < ss * 3 {
            continue;
        }
        let mut findings = Vec::new();
        let last = size / ss - 1;
        let (p, _) = read_sector(src, ss, ss as usize)?;
        let primary = header(&p, ss);
        let (b, _) = read_sector(src, last * ss, ss as usize)?;
        let backup = header(&b, last * ss);
        if primary.is_err() && backup.is_err() {
            // Report why only if a GPT was expected at this sector size.
            if protective && &p[0..8] == b"EFI PART" {
                if let Err(f) = primary {
                    outer.push(f);
                }
            }
            continue;
        }
        // Choose the first header whose entries also check out.
        let mut chosen = None;
        for (name, h) in [("primary", primary), ("backup", backup)] {
            match h {
                Err(f) => {
                    if name == "primary" {
                        findings.push(f);
                    } else if chosen.is_none() {
                        findings.push(Finding::new(
                            last * ss,
                            "backup GPT header is not valid either",
                        ));
                    }
                }
                Ok(h) => {
                    if chosen.is_some() {
                        // Backup seen only to verify it agrees about where it is.
                        if h.my_lba != last {
                            findings.push(
                                Finding::new(
                                    last * ss,
                                    "backup GPT header is not at the last sector",
                                )
                                .expected(last, h.my_lba),
                            );
                        }
                        continue;
                    }
                    match entries(src, &h, ss)? {
                        Ok(e) => {
                            if name == "backup" {
                                findings.push(Finding::new(ss, "primary GPT unusable; partitions read from the backup GPT at the end of the disk"));
                            }
                            chosen = Some((h, e, name));
                        }
                        Err(f) => findings.push(f),
                    }
                }
            }
        }
        let Some((h, raw, which)) = chosen else {
            outer.append(&mut findings);
            continue;
        };
        let mut volumes = Vec::new();
        let total_sectors = size / ss;
        for i in 0..h.entry_count as usize {
            let e = &raw[i * h.entry_size as usize..(i + 1) * h.entry_size as usize];
            if e[0..16].iter().all(|&b| b == 0) {
                continue;
            }
            let first = le64(e, 32);
            let last_lba = le64(e, 40);
            let at = h.entries_lba * ss + (i as u64) * u64::from(h.entry_size);
            if last_lba < first {
                findings.push(
                    Finding::new(at, format!("GPT entry {} ends before it starts", i + 1))
                        .expected(format!("last >= first ({first})"), last_lba),
                );
                continue;
            }
            if first >= total_sectors {
                findings.push(
                    Finding::new(
                        at,
                        format!("GPT entry {} starts past the end of the image", i + 1),
                    )
                    .expected(format!("< {total_sectors}"), first),
                );
            }
            let tguid = guid(&e[0..16]);
            let name: String = {
                let units: Vec<u16> = e[56..128.min(e.len())]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&u| u != 0)
                    .collect();
                String::from_utf16_lossy(&units)
            };
            let desc = if name.is_empty() {
                format!("{} ({tguid})", type_name(&tguid))
            } else {
                format!(
                    "{} \"{}\" ({tguid})",
                    type_name(&tguid),
                    name.escape_debug()
                )
            };
            volumes.push(Volume {
                extent: Extent::new(first * ss, (last_lba - first + 1).saturating_mul(ss)),
                kind: VolumeKind::Partition,
                description: desc,
                slot: Some(format!("gpt:{}", i + 1)),
            });
        }
        let entries_sectors = (u64::from(h.entry_count) * u64::from(h.entry_size)).div_ceil(ss);
        let mut meta = vec![Volume {
            extent: Extent::new(0, ss),
            kind: VolumeKind::Meta,
            description: "protective MBR".into(),
            slot: None,
        }];
        let (phdr, pent, bhdr, bent) = if which == "primary" {
            (
                h.my_lba,
                h.entries_lba,
                h.alternate_lba,
                h.alternate_lba.saturating_sub(entries_sectors),
            )
        } else {
            (h.alternate_lba, 2, h.my_lba, h.entries_lba)
        };
        for (lba, n, what) in [
            (phdr, 1, "GPT header"),
            (pent, entries_sectors, "GPT entries"),
            (bent, entries_sectors, "backup GPT entries"),
            (bhdr, 1, "backup GPT header"),
        ] {
            if lba > 0 && lba < total_sectors {
                meta.push(Volume {
                    extent: Extent::new(lba * ss, n * ss),
                    kind: VolumeKind::Meta,
                    description: what.into(),
                    slot: None,
                });
            }
        }
        return Ok(Some(Parsed {
            sector_size: ss as u32,
            volumes,
            meta,
            findings,
        }));
    }
    Ok(None)
}
