//! What a scan learns of an image from its metadata, before the pass and before
//! anything is stored: the volumes, each volume's filesystems with their files
//! planned, and the space to carve. Nothing here writes to the store, so the
//! registration of `recover` and `carve` can run it before the evidence has a
//! row (decision 0014); `record` then stores the volumes and filesystems.

use crate::fsunits::{plan_fs, UnitWork};
use crate::scan::{
    accepting, layout, registry, to_records, unallocated_extents, CarveScope, Laid, Lost,
    ScanOptions, ScanSummary,
};
use crate::unit::{contain_reading, count_cut_short, cut_short, volume_budget};
use crate::{fail, Failure};
use dredge_core::{Extent, Finding, Hunt, ImageSource, Volume, VolumeKind, VolumeReader};
use dredge_store::{EvidenceRow, Store, VolumeRecord};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) struct Analysis {
    pub scheme: String,
    pub vols: Vec<Volume>,
    pub layout_findings: Vec<Finding>,
    /// The volumes' units still to do, with their files planned.
    pub work: Vec<UnitWork>,
    /// Units an earlier run sealed.
    pub resumed: usize,
    /// Extents to carve; empty when carving is off or already done.
    pub carve: Vec<Extent>,
    /// Volumes the pass scans for lost filesystems (with `Lost::InPass`).
    pub lost_targets: Vec<Volume>,
    pub carve_due: bool,
    /// Blocks the pass tests for the filesystems, each with its reader kept
    /// open to be told what the pass found.
    pub hunts: Vec<Hunting>,
}

/// A filesystem's hunt ([`dredge_core::Hunt`]), the reader that asked, and
/// where what it adds is planned: its unit in `work`, its place in the unit's
/// filesystems, and its volume.
pub(crate) struct Hunting {
    pub key: crate::hunt::Key,
    pub hunt: Hunt,
    pub fs: Box<dyn dredge_core::FileSystem>,
    pub unit: usize,
    pub fs_index: usize,
    pub vol_idx: usize,
    pub vol: Extent,
    pub out_dir: String,
    pub src: Arc<dyn ImageSource>,
}

/// Reads the image's metadata for a scan of evidence `label`. `done` tells
/// which units an earlier run sealed. `hunted`: what the pass found for the
/// filesystems' hunts (a second analysis after it); `None` before the pass,
/// when the hunts are collected. `None`: interrupted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn analyse(
    src: &Arc<dyn ImageSource>,
    raw: &Arc<dyn ImageSource>,
    plain: &[Volume],
    label: &str,
    out: &crate::names::CaseOut,
    opts: &ScanOptions,
    done: &dyn Fn(&str) -> bool,
    lost: Lost,
    hunted: Option<&crate::hunt::Hunted>,
    sink: &mut crate::files::PlanSink,
    interrupt: &AtomicBool,
) -> Result<Option<Analysis>, Failure> {
    let reg = registry();
    let lost = if opts.filesystems { lost } else { Lost::Skip };
    // The pass also scans the space past each filesystem's end in its volume.
    let in_pass = matches!(lost, Lost::InPass);
    let Laid {
        scheme,
        mut vols,
        findings: layout_findings,
        lost_targets,
    } = layout(raw, &reg, interrupt, lost)?;
    // Opened encrypted volumes' plaintext: volumes like any other, after the
    // rest, then the LVM logical volumes inside them.
    let first_plain = vols.len();
    vols.extend(plain.iter().cloned());
    let (logical, mut lvm_notes) = crate::lvm::in_plaintext(&**src, plain);
    vols.extend(logical);
    // Their containers hold no lost filesystem: the plaintext is the volume.
    let mut lost_targets: Vec<_> = lost_targets
        .into_iter()
        .filter(|t| !plain.iter().any(|p| p.extent.overlaps(&t.extent)))
        .collect();
    let mut work: Vec<UnitWork> = Vec::new();
    let mut hunts = Vec::new();
    let mut resumed = 0;
    for (i, v) in vols.iter().enumerate() {
        if interrupt.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if !opts.filesystems || !v.kind.holds_files() {
            continue;
        }
        let unit = format!("v{i}");
        if done(&unit) {
            resumed += 1;
            continue;
        }
        // One budget for the volume's unit: every reader of it, open and walk.
        // A decrypted volume is read through its layer; every other volume
        // as stored, so an encrypted container is its ciphertext (BitLocker's
        // plaintext starts where its container does).
        let vsrc = if v.kind == VolumeKind::Decrypted {
            src
        } else {
            raw
        };
        let reader =
            VolumeReader::new(Arc::clone(vsrc), v.extent).with_budget(volume_budget(v.extent.len));
        let mut findings = Vec::new();
        // What the LVM reader found in this plaintext is this unit's.
        lvm_notes.retain(|(p, f)| {
            let mine = first_plain + p == i;
            if mine {
                findings.push(f.clone());
            }
            !mine
        });
        let mut accepted = accepting(&reader, &reg, &mut findings);
        // An APFS container whose FileVault volumes were unlocked is read
        // through its decrypted volume (the same extent), which holds the
        // clear volumes too; read as stored as well, every file would be
        // listed twice.
        if v.kind != VolumeKind::Decrypted
            && plain.iter().any(|p| {
                p.extent == v.extent
                    && p.slot
                        .as_deref()
                        .is_some_and(|s| s.starts_with("filevault:"))
            })
        {
            accepted.retain(|k| k.name != "apfs");
            findings.push(Finding::new(
                v.extent.start,
                "APFS container with FileVault volumes unlocked: read through its decrypted volume"
                    .to_string(),
            ));
        }
        // Nothing recognises it, nothing opened it: it may be a VeraCrypt
        // container, which looks like random data without its password.
        let opened = plain.iter().any(|p| p.extent.overlaps(&v.extent));
        if accepted.is_empty()
            && !opened
            && matches!(v.kind, VolumeKind::Partition | VolumeKind::Whole)
            && !crate::lvm::is_physical(v, &vols)
        {
            if let Ok(Some(f)) =
                contain_reading(v.extent.len, || dredge_crypt::possible_container(&reader))
            {
                findings.push(f);
            }
        }
        if accepted.len() > 1 {
            findings.push(Finding::new(
                v.extent.start,
                format!(
                    "more than one filesystem reader accepts this volume: {}",
                    accepted
                        .iter()
                        .map(|k| k.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let mut fss = Vec::new();
        // Where the filesystems that opened end (None: the whole volume).
        let mut ends: Vec<Option<u64>> = Vec::new();
        let mut budget = crate::copybudget::OutputBudget::for_volume(v.extent.len);
        for (k, kind) in accepted.iter().enumerate() {
            let opened = match contain_reading(v.extent.len, || (kind.open)(reader.clone())) {
                Ok(o) => o,
                Err(why) => {
                    let what = format!("{} reader (opening)", kind.name);
                    findings.push(cut_short(v.extent.start, &what, &why));
                    continue;
                }
            };
            // Two readers of one polyglot volume never share an output folder.
            let out_dir = if k == 0 {
                format!("v{i}")
            } else {
                format!("v{i}-{}", kind.name)
            };
            match opened {
                Err(f) => findings.push(f),
                Ok(fs) => {
                    findings.extend(fs.open_findings());
                    ends.push(fs.span());
                    let key = (v.extent.start, v.kind.as_str(), k);
                    let mut hunt = None;
                    match hunted.map(|h| h.get(&key)) {
                        // Before the pass: what the filesystem wants looked at.
                        None => {
                            hunt = contain_reading(v.extent.len, || fs.hunt()).ok().flatten();
                        }
                        Some(Some(f)) => {
                            fs.hunted(f.blocks.clone());
                            findings.extend(f.past_limit(fs.type_name(), v.extent.start));
                        }
                        Some(None) => {}
                    }
                    let mut planned = plan_fs(
                        out,
                        label,
                        i,
                        &out_dir,
                        v.extent,
                        &*fs,
                        vsrc,
                        interrupt,
                        &mut budget,
                        sink,
                        &mut findings,
                    )?;
                    // A decrypted volume's paths show the layer it was read
                    // through: ev1/vol1@…/luks2/ext4/file:12.
                    if let Some(layer) = v.slot.as_deref().and_then(|s| s.split(':').next()) {
                        if v.kind == VolumeKind::Decrypted {
                            planned.forensic_base = format!(
                                "{label}/vol{i}@{}/{layer}/{}",
                                v.extent.start,
                                fs.type_name()
                            );
                        }
                    }
                    if hunt.is_none() {
                        planned.planner = None;
                    }
                    if let Some(h) = hunt {
                        hunts.push(Hunting {
                            key,
                            hunt: h,
                            fs,
                            unit: work.len(),
                            fs_index: fss.len(),
                            vol_idx: i,
                            vol: v.extent,
                            out_dir: out_dir.clone(),
                            src: Arc::clone(vsrc),
                        });
                    }
                    fss.push(planned);
                }
            }
        }
        if interrupt.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if let Some(tail) = past_end(v, &ends).filter(|_| in_pass) {
            lost_targets.push(tail);
        }
        work.push(UnitWork {
            unit,
            volume: i,
            start: v.extent.start,
            findings,
            fss,
        });
    }
    let carve_due = opts.carve != CarveScope::None && !done("carve");
    let carve = match opts.carve {
        _ if !carve_due => Vec::new(),
        CarveScope::All => vec![Extent::new(0, src.size())],
        _ => unallocated_extents(src, raw, &vols, &reg),
    };
    Ok(Some(Analysis {
        scheme,
        vols,
        layout_findings,
        work,
        resumed,
        carve,
        carve_due,
        lost_targets,
        hunts,
    }))
}

/// The space of a partition (or a whole image) past the end of the
/// filesystems that opened in it, when there are 64 KiB or more: a lost
/// filesystem may lie there (a stick reformatted smaller without a partition
/// table, whose earlier partitions' filesystems are still past the new one).
pub(crate) fn past_end(v: &Volume, ends: &[Option<u64>]) -> Option<Volume> {
    if !matches!(v.kind, VolumeKind::Partition | VolumeKind::Whole) || ends.is_empty() {
        return None;
    }
    let end = ends.iter().try_fold(0u64, |m, e| e.map(|e| m.max(e)))?;
    (v.extent.len.saturating_sub(end) >= 64 * 1024).then(|| Volume {
        extent: Extent::from_bounds(v.extent.start + end, v.extent.end()),
        kind: VolumeKind::Unallocated,
        description: format!("past the filesystem's end in {}", v.description),
        slot: None,
    })
}

/// Stores what the analysis found: the volumes, the layout unit (sealed), and
/// each filesystem's row (its id set on the work).
pub(crate) fn record(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    a: &mut Analysis,
    summary: &mut ScanSummary,
) -> Result<(), Failure> {
    let records: Vec<VolumeRecord> = a
        .vols
        .iter()
        .enumerate()
        .map(|(i, v)| VolumeRecord {
            idx: i as u32,
            start: v.extent.start,
            len: v.extent.len,
            kind: v.kind.as_str().into(),
            description: v.description.clone(),
            slot: v.slot.clone(),
            scheme: a.scheme.clone(),
        })
        .collect();
    let vol_ids = store.record_volumes(ev.id, &records).map_err(fail)?;
    summary.volumes += a.vols.len();
    summary.units_resumed += a.resumed;
    if !store.unit_done(ev.id, "layout").map_err(fail)? {
        store.clear_unit(ev.id, "layout").map_err(fail)?;
        store
            .add_findings(ev.id, "layout", &to_records(&a.layout_findings))
            .map_err(fail)?;
        summary.findings += a.layout_findings.len() as u64;
        summary.cut_short += count_cut_short(&a.layout_findings);
        store
            .finish_unit(
                ev.id,
                "layout",
                json!({"scheme": a.scheme, "volumes": a.vols.len()}),
                Some(sid),
            )
            .map_err(fail)?;
    }
    for u in &mut a.work {
        store.clear_unit(ev.id, &u.unit).map_err(fail)?;
        for d in &mut u.fss {
            d.fs_id = store
                .record_filesystem(vol_ids[u.volume], d.fs_type, d.fs_label.as_deref())
                .map_err(fail)?;
            summary
                .filesystems
                .push(format!("{}/v{}:{}", ev.label, u.volume, d.fs_type));
        }
    }
    Ok(())
}
