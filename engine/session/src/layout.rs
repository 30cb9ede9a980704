//! Volumes and the filesystems on them: the partition tables, which reader
//! accepts which volume, the lost-partition scan (in the pass, or now for
//! `list`), and the space no filesystem uses.

use crate::unit::{contain, contain_reading, cut_short, volume_budget};
use crate::{fail, Failure};
use dredge_core::{Extent, FileSystem, Finding, ImageSource, Volume, VolumeKind, VolumeReader};
use dredge_volume::scan::Candidate;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The registry's name for the encrypted-volume reader.
pub(crate) const ENCRYPTED: &str = "encrypted";

/// One filesystem type dredge can read: a cheap probe and an opener.
pub struct FsKind {
    pub name: &'static str,
    pub probe: fn(&VolumeReader) -> bool,
    pub open: fn(VolumeReader) -> Result<Box<dyn FileSystem>, Finding>,
}

/// Every filesystem reader, probed against every volume.
pub fn registry() -> Vec<FsKind> {
    vec![
        FsKind {
            name: "fat",
            probe: dredge_fs_fat::probe,
            open: |v| dredge_fs_fat::FatFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        FsKind {
            name: "ntfs",
            probe: dredge_fs_ntfs::probe,
            open: |v| dredge_fs_ntfs::NtfsFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        FsKind {
            name: "exfat",
            probe: dredge_fs_exfat::probe,
            open: |v| dredge_fs_exfat::ExFatFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        FsKind {
            name: "ext",
            probe: dredge_fs_ext::probe,
            open: |v| dredge_fs_ext::ExtFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        FsKind {
            name: "hfs",
            probe: dredge_fs_hfs::probe,
            open: |v| dredge_fs_hfs::HfsFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        FsKind {
            name: "apfs",
            probe: dredge_fs_apfs::probe,
            open: |v| dredge_fs_apfs::ApfsFs::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>),
        },
        // Not a filesystem: an encrypted volume (LUKS, BitLocker), described,
        // with nothing to list or carve; unlocked, its plaintext is a volume of
        // its own (issue 13).
        FsKind {
            name: ENCRYPTED,
            probe: dredge_crypt::probe,
            open: |v| {
                dredge_crypt::EncryptedVolume::open(v).map(|f| Box::new(f) as Box<dyn FileSystem>)
            },
        },
    ]
}

/// The readers whose probe accepts `reader`'s volume; a probe that panics is a
/// finding and accepts nothing.
pub(crate) fn accepting<'r>(
    reader: &VolumeReader,
    reg: &'r [FsKind],
    findings: &mut Vec<Finding>,
) -> Vec<&'r FsKind> {
    reg.iter()
        .filter(|k| match contain(|| (k.probe)(reader)) {
            Ok(yes) => yes,
            Err(why) => {
                findings.push(cut_short(reader.base(), &format!("{} probe", k.name), &why));
                false
            }
        })
        .collect()
}

/// Space no filesystem uses: each filesystem's free space, and whole volumes no
/// reader accepts (partitions, gaps, or the whole image).
pub(crate) fn unallocated_extents(
    src: &Arc<dyn ImageSource>,
    raw: &Arc<dyn ImageSource>,
    vols: &[Volume],
    reg: &[FsKind],
) -> Vec<Extent> {
    let mut out = Vec::new();
    let mut findings = Vec::new();
    for v in vols {
        if v.kind == VolumeKind::Meta {
            continue;
        }
        // An unlocked container is ciphertext (and headers): what is free in
        // it is its decrypted volume's free space, carved there.
        let decrypted = v.kind == VolumeKind::Decrypted;
        if !decrypted
            && vols
                .iter()
                .any(|d| d.kind == VolumeKind::Decrypted && d.extent.overlaps(&v.extent))
        {
            continue;
        }
        // The plaintext of an encrypted disk image that is a disk image
        // itself is a container format, not a disk: it is carved as the
        // evidence of its own it becomes (`crate::decrypted_images`).
        if decrypted
            && v.slot
                .as_deref()
                .is_some_and(|s| s.starts_with(crate::unlock::IMAGE_SLOT))
        {
            continue;
        }
        // A physical volume's logical volumes are carved as volumes of
        // their own; of it, what lies outside them.
        if crate::lvm::is_physical(v, vols) {
            out.extend(crate::lvm::outside_logical(v, vols));
            continue;
        }
        // Only a decrypted volume is read through its layer.
        let vsrc = if decrypted { src } else { raw };
        let reader =
            VolumeReader::new(Arc::clone(vsrc), v.extent).with_budget(volume_budget(v.extent.len));
        let mut claimed = false;
        if v.kind != VolumeKind::Unallocated {
            let accepted = accepting(&reader, reg, &mut findings);
            // An encrypted volume whose header is also a filesystem's (BitLocker
            // To Go keeps a FAT32 discovery volume) has ciphertext where that
            // filesystem sees free space: nothing of it is carved.
            let encrypted = accepted.iter().any(|k| k.name == ENCRYPTED);
            for k in accepted
                .into_iter()
                .filter(|k| !encrypted || k.name == ENCRYPTED)
            {
                // A reader that fails here failed its own unit already (and said
                // so): its volume is carved whole, the safe side for recovery.
                let free = contain_reading(v.extent.len, || {
                    (k.open)(reader.clone())
                        .ok()
                        .map(|fs| fs.unallocated(&mut Vec::new()))
                });
                if let Ok(Some(free)) = free {
                    out.extend(free);
                    claimed = true;
                }
            }
        }
        if !claimed {
            out.push(v.extent);
        }
    }
    out.sort();
    out
}

/// When and how the lost-partition scan runs.
pub(crate) enum Lost {
    /// Not at all: a carve-only run has no use for lost filesystems.
    Skip,
    /// Now, reading what it scans (`list`, which has no pass).
    Now,
    /// In the one pass: `layout` returns the volumes to scan, unscanned.
    InPass,
    /// With what the pass found in each volume it scanned (those `InPass`
    /// returned, and the space past the filesystems' ends the analysis
    /// added), in order.
    Found(Vec<Volume>, Vec<Vec<Candidate>>),
}

/// What `layout` found.
pub(crate) struct Laid {
    pub scheme: String,
    pub vols: Vec<Volume>,
    pub findings: Vec<Finding>,
    /// With `Lost::InPass`: the volumes the pass must scan for lost filesystems.
    pub lost_targets: Vec<Volume>,
}

/// Volumes to examine: the table's, plus filesystems found by the lost-partition
/// scan in space no filesystem claims. Deterministic for the same evidence.
pub(crate) fn layout(
    src: &Arc<dyn ImageSource>,
    reg: &[FsKind],
    interrupt: &AtomicBool,
    lost: Lost,
) -> Result<Laid, Failure> {
    let l = match contain(|| dredge_volume::detect(&**src)) {
        Ok(l) => l.map_err(fail)?,
        // The tables are unreadable as tables: the image is one volume, and the
        // lost-partition scan below still looks inside it.
        Err(why) => dredge_volume::Layout {
            scheme: dredge_volume::Scheme::None,
            sector_size: 512,
            volumes: vec![Volume {
                extent: Extent::new(0, src.size()),
                kind: VolumeKind::Whole,
                description: "whole image (partition tables cut short)".into(),
                slot: None,
            }],
            findings: vec![cut_short(0, "partition table reader", &why)],
        },
    };
    let mut findings = l.findings.clone();
    let mut vols = l.volumes.clone();
    // LVM's logical volumes are volumes like the table's.
    let logical = crate::lvm::in_layout(&**src, &vols, &mut findings)?;
    vols.extend(logical);
    let scheme = l.scheme.as_str().to_string();
    let done = |vols, findings, lost_targets| Laid {
        scheme: scheme.clone(),
        vols,
        findings,
        lost_targets,
    };
    if matches!(lost, Lost::Skip) {
        // (the scan is a full read of the unclaimed space)
        return Ok(done(vols, findings, Vec::new()));
    }
    let mut targets = Vec::new();
    for v in &vols {
        // A physical volume is scanned where no logical volume lies: a
        // removed one's filesystem may still be in its free extents.
        if crate::lvm::is_physical(v, &vols) {
            targets.extend(
                crate::lvm::outside_logical(v, &vols)
                    .into_iter()
                    .filter(|e| e.len >= 64 * 1024)
                    .map(|e| Volume {
                        extent: e,
                        kind: VolumeKind::Unallocated,
                        description: format!("outside the logical volumes of {}", v.description),
                        slot: None,
                    }),
            );
            continue;
        }
        let scan_it = match v.kind {
            VolumeKind::Unallocated => v.extent.len >= 64 * 1024,
            VolumeKind::Partition | VolumeKind::Whole | VolumeKind::Logical => {
                !claimed(src, reg, v, &mut findings)
            }
            _ => false,
        };
        if scan_it {
            targets.push(v.clone());
        }
    }
    let found: Vec<Vec<Candidate>> = match lost {
        Lost::Skip => Vec::new(),
        Lost::InPass => return Ok(done(vols, findings, targets)),
        Lost::Found(scanned, f) => {
            targets = scanned;
            f
        }
        Lost::Now => scan_now(src, &targets, interrupt, &mut findings)?,
    };
    vols.extend(recovered_volumes(src, reg, &targets, &found, &mut findings));
    Ok(done(vols, findings, Vec::new()))
}

/// The lost-partition scan of each of `targets`, read now (no pass): what it
/// proposes in each, in order; a scan cut short is a finding and proposes
/// nothing.
pub(crate) fn scan_now(
    src: &Arc<dyn ImageSource>,
    targets: &[Volume],
    interrupt: &AtomicBool,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Vec<Candidate>>, Failure> {
    let mut all = Vec::new();
    for v in targets {
        all.push(
            match contain(|| dredge_volume::scan::scan(&**src, v.extent, interrupt)) {
                Ok(r) => r.map_err(fail)?,
                Err(why) => {
                    findings.push(cut_short(v.extent.start, "lost-partition scan", &why));
                    Vec::new()
                }
            },
        );
    }
    Ok(all)
}

/// Whether some filesystem reader accepts volume `v`.
fn claimed(
    src: &Arc<dyn ImageSource>,
    reg: &[FsKind],
    v: &Volume,
    findings: &mut Vec<Finding>,
) -> bool {
    let r = VolumeReader::new(Arc::clone(src), v.extent).with_budget(volume_budget(v.extent.len));
    !accepting(&r, reg, findings).is_empty()
}

/// The lost filesystems a reader confirms among the scan's candidates (`found[i]`
/// for `targets[i]`), each a finding; overlapping ones are kept once.
pub(crate) fn recovered_volumes(
    src: &Arc<dyn ImageSource>,
    reg: &[FsKind],
    targets: &[Volume],
    found: &[Vec<Candidate>],
    findings: &mut Vec<Finding>,
) -> Vec<Volume> {
    let mut recovered: Vec<Volume> = Vec::new();
    for (v, cands) in targets.iter().zip(found) {
        for c in cands {
            if c.start == v.extent.start && v.kind != VolumeKind::Unallocated {
                continue; // the volume itself, which no reader accepted
            }
            let ext = Extent::new(c.start, c.len.min(src.size().saturating_sub(c.start)));
            let cand = Volume {
                extent: ext,
                kind: VolumeKind::Recovered,
                description: format!("{} found by scan ({})", c.fs, c.evidence),
                slot: None,
            };
            if claimed(src, reg, &cand, findings)
                && !recovered.iter().any(|r: &Volume| r.extent.overlaps(&ext))
            {
                findings.push(Finding::new(
                    c.start,
                    format!(
                        "lost {} volume found by scanning ({}), {} bytes",
                        c.fs, c.evidence, ext.len
                    ),
                ));
                recovered.push(cand);
            }
        }
    }
    recovered
}
