//! `dredge scan`: evidence → volumes → filesystems → files, extracted and hashed on
//! a worker pool, recorded by one writer. Each volume is a unit sealed in the
//! custody log when done; a killed scan resumes at the first unsealed unit.

use crate::analysis::Analysis;
use crate::carve::Carved;
use crate::files::PlanSink;
use crate::fsunits;
pub(crate) use crate::layout::{
    accepting, layout, recovered_volumes, unallocated_extents, Laid, Lost,
};
pub use crate::layout::{registry, FsKind};
use crate::spill::Replay;
use crate::sweep::{Damage, Hashed, Sweep};
use crate::{fail, open_case, Failure, Outcome, ProgressFn};
use dredge_core::{Counted, Extent, Finding, ImageSource, VolumeKind};
use dredge_hash::Algorithms;
use dredge_image::open_evidence;
use dredge_store::{EvidenceRow, FindingRecord, SessionCommand, Store};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use crate::scan_options::{CarveScope, ScanOptions};

#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    pub evidence: usize,
    pub volumes: usize,
    pub filesystems: Vec<String>,
    pub units_resumed: usize,
    pub files: u64,
    pub deleted: u64,
    pub partial: u64,
    pub findings: u64,
    pub carved: u64,
    /// Units (a volume layout, a filesystem reader, a carver candidate, one file's
    /// extraction) that panicked or ran out of budget: each is a finding, and the
    /// session ends as complete with gaps.
    pub cut_short: u64,
    /// Bytes of the evidence examined (sum over items).
    pub image_bytes: u64,
    /// Bytes read by the one sequential pass (hashing and carving).
    pub read_pass: u64,
    /// Bytes read otherwise: metadata, files' content, carved files, validators.
    pub read_other: u64,
}

impl ScanSummary {
    /// How much of the evidence was read, as passes over it.
    pub fn reads(&self) -> String {
        format!(
            "read {} of {} of evidence ({:.2} passes) + {} metadata and files",
            crate::human_bytes(self.read_pass),
            crate::human_bytes(self.image_bytes),
            self.read_pass as f64 / self.image_bytes.max(1) as f64,
            crate::human_bytes(self.read_other)
        )
    }

    /// One line for people: what was found, and what an earlier run had done.
    pub fn describe(&self) -> String {
        let mut t = format!(
            "{} files ({} deleted), {} partial (unreadable or untraceable bytes), {} findings",
            self.files, self.deleted, self.partial, self.findings
        );
        if self.carved > 0 {
            t.push_str(&format!(", {} files carved", self.carved));
        }
        if self.cut_short > 0 {
            t.push_str(&format!(
                ", {} units cut short by damage (see the findings)",
                self.cut_short
            ));
        }
        if self.units_resumed > 0 {
            t.push_str(&format!(
                ", {} volumes already done by an earlier run",
                self.units_resumed
            ));
        }
        t
    }
}

#[derive(Debug, Clone)]
pub struct ScanReport {
    pub outcome: Outcome,
    pub summary: ScanSummary,
}

pub(crate) fn to_records(f: &[Finding]) -> Vec<FindingRecord> {
    f.iter()
        .map(|x| FindingRecord {
            offset: x.offset,
            what: x.what.clone(),
            expected: x.expected.clone(),
            actual: x.actual.clone(),
        })
        .collect()
}

/// Ends a walk from inside (through its unit's boundary) when the examiner
/// interrupts or the walk holds more memory than its unit may: readers take no
/// interrupt flag, but every entry passes here.
pub(crate) fn stop_if_cut(interrupt: &AtomicBool) {
    dredge_core::memory::check();
    if interrupt.load(Ordering::Relaxed) {
        std::panic::panic_any(dredge_core::BudgetExceeded {
            what: "interrupted".into(),
        });
    }
}

pub fn scan(
    case_dir: &Path,
    opts: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<ScanReport, Failure> {
    scan_precarved(case_dir, opts, None, interrupt, progress)
}

/// `scan`, where the item just registered by [`crate::add_evidence_one_pass`]
/// in this process is not read again: its registration's pass was this scan's
/// pass (it hashed the bytes the case records and carved what the scan carves).
/// Only that item is scanned: a batch's scan of the item it just registered
/// does not examine the items before it again (each had its own scan).
pub fn scan_precarved(
    case_dir: &Path,
    opts: &ScanOptions,
    pre: Option<Prepared>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<ScanReport, Failure> {
    let only = pre.as_ref().map(|p| p.label.clone());
    scan_only(case_dir, opts, only, pre, interrupt, progress)
}

/// `scan` of one evidence item (`only`, a label), or of all when None.
pub fn scan_only(
    case_dir: &Path,
    opts: &ScanOptions,
    only: Option<String>,
    pre: Option<Prepared>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<ScanReport, Failure> {
    let mut store = open_case(case_dir)?;
    let _lock = crate::lock_for_job(&mut store)?;
    let mut args = opts.to_args();
    if let Some(p) = &pre {
        args["pass_shared_with_registration_of"] = json!(p.label);
    }
    // The item scanned, when only one is; a scan that shares its registration's
    // pass covers that item alone, which `pass_shared_with_registration_of`
    // already names.
    if let Some(l) = only
        .as_ref()
        .filter(|l| pre.as_ref().is_none_or(|p| p.label != **l))
    {
        args["evidence"] = json!(l);
    }
    // The options' limit holds for this scan (a resumed one takes the limit
    // its session recorded).
    dredge_core::memory::fix_limit(opts.unit_memory);
    crate::in_session(&mut store, SessionCommand::Scan, args, |store, sid| {
        let r = scan_all(
            store,
            sid,
            case_dir,
            opts,
            only.as_deref(),
            pre,
            interrupt,
            progress,
        )?;
        let s = &r.summary;
        let summary = json!({"files": s.files, "deleted": s.deleted, "partial": s.partial, "findings": s.findings,
                             "volumes": s.volumes, "filesystems": s.filesystems, "units_resumed": s.units_resumed,
                             "cut_short": s.cut_short});
        let status = r.outcome.status();
        Ok((r, status, summary))
    })
}

#[allow(clippy::too_many_arguments)]
fn scan_all(
    store: &mut Store,
    sid: i64,
    case_dir: &Path,
    opts: &ScanOptions,
    only: Option<&str>,
    mut pre: Option<Prepared>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<ScanReport, Failure> {
    let mut evidence = store.evidence().map_err(fail)?;
    if let Some(l) = only {
        evidence.retain(|e| e.label == l);
    }
    if evidence.is_empty() {
        return Err(Failure(format!(
            "{}: the case has no evidence; add some with `dredge add`",
            case_dir.display()
        )));
    }
    let mut summary = ScanSummary::default();
    let mut gaps = false;
    for ev in &evidence {
        let mine = pre.take_if(|p| p.label == ev.label);
        let r = scan_evidence(
            store,
            sid,
            ev,
            opts,
            mine,
            interrupt,
            progress,
            &mut summary,
        )?;
        gaps |= r;
        if interrupt.load(Ordering::Relaxed) {
            return Ok(ScanReport {
                outcome: Outcome::Interrupted,
                summary,
            });
        }
        summary.evidence += 1;
    }
    let outcome = if gaps || summary.partial > 0 || summary.cut_short > 0 {
        Outcome::CompleteWithGaps
    } else {
        Outcome::Complete
    };
    Ok(ScanReport { outcome, summary })
}

/// Scans one evidence item: metadata first (analysis), then the pass — or, for
/// an item whose registration's pass did the work (`pre`), nothing read again as
/// a whole — then the rows stored and each unit sealed.
#[allow(clippy::too_many_arguments)]
fn scan_evidence(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    opts: &ScanOptions,
    pre: Option<Prepared>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
    summary: &mut ScanSummary,
) -> Result<bool, Failure> {
    let (mut p, proof) = match pre {
        Some(p) => (
            p,
            "registration pass (the same read carved and wrote the files)",
        ),
        None => {
            let done: std::collections::HashSet<String> =
                store.done_units(ev.id).map_err(fail)?.into_iter().collect();
            let map = ev.map_path.as_ref().map(PathBuf::from);
            let out = crate::names::CaseOut::of(store).map_err(fail)?;
            let Some(p) = prepare(
                Path::new(&ev.path),
                map.as_deref(),
                &ev.label,
                &out,
                opts,
                &|u| done.contains(u),
                if opts.rehash {
                    Hashing::WhenAnalysing(check_set(ev, opts.hash)?)
                } else {
                    Hashing::Never
                },
                interrupt,
                progress,
            )?
            else {
                return Ok(false);
            };
            if let Some(d) = &p.digests {
                if let crate::EvidenceCheck::Mismatch {
                    algorithm,
                    recorded,
                    actual,
                } = crate::compare(ev, d)
                {
                    return Err(Failure(format!(
                        "{}: evidence {} is not the evidence registered: during this scan its {algorithm} was {actual} but {recorded} was registered",
                        ev.path, ev.label
                    )));
                }
            }
            // A volume an earlier scan decrypted and did not finish needs its
            // key again (keys are never kept): without it the volume would be
            // skipped and the scan called complete.
            for v in store.volumes(ev.id).map_err(fail)? {
                let again = p.analysis.vols.get(v.idx as usize).is_some_and(|a| {
                    a.kind == dredge_core::VolumeKind::Decrypted && a.extent.start == v.start
                });
                if v.volume_kind() == Some(dredge_core::VolumeKind::Decrypted)
                    && !again
                    && !done.contains(&format!("v{}", v.idx))
                {
                    return Err(Failure(format!(
                        "{}: {}/v{} ({}) was decrypted by an earlier scan that did not finish it, and no key given now opens it: give its --key again (keys are never kept in the case)",
                        ev.path, ev.label, v.idx, v.description
                    )));
                }
            }
            (p, "scan pass")
        }
    };
    let proof = p.digests.clone().map(|d| (proof, d));
    crate::analysis::record(store, sid, ev, &mut p.analysis, summary)?;
    let work = std::mem::take(&mut p.analysis.work);
    fsunits::finish_units(
        store,
        sid,
        ev,
        work,
        p.plans
            .take()
            .ok_or_else(|| Failure("the files' plans were not read back".into()))?,
        std::mem::take(&mut p.damage),
        p.hashed.take(),
        opts.threads,
        progress,
        summary,
    )?;
    if let Some(d) = p.deferred.take().filter(|_| p.analysis.carve_due) {
        store
            .append_event(
                dredge_store::Action::CarveDeferred,
                d.params(&ev.label),
                Some(sid),
            )
            .map_err(fail)?;
    } else if p.analysis.carve_due {
        let volumes: Vec<(usize, Extent)> = p
            .analysis
            .vols
            .iter()
            .enumerate()
            .filter(|(_, v)| v.kind != VolumeKind::Meta)
            .map(|(i, v)| (i, v.extent))
            .collect();
        let c = crate::carve::carve_into_case(
            store,
            sid,
            ev,
            &p.src,
            (std::mem::take(&mut p.carved), std::mem::take(&mut p.notes)),
            &volumes,
            opts.threads,
            interrupt,
            progress,
            None,
        )?;
        summary.carved += c.carved;
        summary.partial += c.partial;
        summary.cut_short += c.cut_short;
        summary.findings += c.findings;
    }
    if interrupt.load(Ordering::Relaxed) {
        return Ok(false);
    }
    finish_item(
        store,
        sid,
        ev,
        &p.guard,
        proof.as_ref().map(|(w, d)| (*w, d)),
        &p.src,
        &p.seq,
        &p.other,
        summary,
    )
}

/// The digests a scan computes to prove `ev` is the registered evidence: those
/// the registration recorded, narrowed to `chosen`. None in common is refused: a
/// scan that could not check its evidence proves nothing.
pub(crate) fn check_set(ev: &EvidenceRow, chosen: Algorithms) -> Result<Algorithms, Failure> {
    let recorded = crate::recorded_hashes(ev);
    recorded.intersect(chosen).ok_or_else(|| {
        Failure(format!(
            "{}: evidence {} was registered with {recorded}; --hash {chosen} cannot check it",
            ev.path, ev.label
        ))
    })
}

/// Whether the pass hashes the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hashing {
    /// A registration: the hashes are what it records.
    Always(Algorithms),
    /// A scan: to prove that what it analyses is the registered evidence.
    WhenAnalysing(Algorithms),
    /// A scan run with `--no-rehash`.
    Never,
}

/// An item analysed and read once: what the store phase of its scan needs.
pub struct Prepared {
    pub(crate) label: String,
    pub(crate) analysis: Analysis,
    /// The files' plans, read back in the order they were made (None until
    /// the pass has written the copies).
    pub(crate) plans: Option<Replay>,
    /// What the pass could not read of the files, sorted by file.
    pub(crate) damage: Vec<Damage>,
    /// The files the pass hashed from its blocks.
    pub(crate) hashed: Option<Hashed>,
    pub(crate) carved: Vec<Carved>,
    pub(crate) notes: Vec<Finding>,
    /// The pass's digests and zero-filled ranges (None: not hashed).
    pub(crate) digests: Option<dredge_hash::ImageDigests>,
    pub(crate) synthesized: dredge_core::ReadReport,
    pub(crate) guard: crate::EvidenceGuard,
    pub(crate) src: Arc<dyn ImageSource>,
    pub(crate) seq: Counted,
    pub(crate) other: Counted,
    pub(crate) segments: Vec<PathBuf>,
    pub(crate) ewf: Option<dredge_image::EwfMeta>,
    pub(crate) dmg: Option<Arc<dredge_image::DmgChecks>>,
    /// Carving left to the shards of the item's ranges (`ScanOptions::carve_ranges`).
    pub(crate) deferred: Option<crate::ranges::Deferred>,
}

/// Opens an image, analyses it for evidence `label` and reads it once: hashed
/// (with `hash`), free space carved, the files' copies written. `None`:
/// interrupted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    image: &Path,
    map: Option<&Path>,
    label: &str,
    out: &crate::names::CaseOut,
    opts: &ScanOptions,
    done: &dyn Fn(&str) -> bool,
    hash: Hashing,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<Option<Prepared>, Failure> {
    let opened = open_evidence(image, map).map_err(fail)?;
    let guard = crate::EvidenceGuard::capture(&opened.segments).map_err(fail)?;
    let raw: Arc<dyn ImageSource> = Arc::from(opened.source);
    // Reads are counted apart: the one sequential pass, and everything else.
    let seq = Counted::new(Arc::clone(&raw));
    let other = Counted::new(raw);
    let src: Arc<dyn ImageSource> = Arc::new(other.clone());
    // Encrypted volumes the examiner gave keys for are read decrypted from here
    // on: the analysis, the pass (after hashing the ciphertext) and the copies.
    let unlocked = crate::unlock::unlock(&src, label, &opts.keys, interrupt)?;
    let stored = src;
    let (src, layered, plain) = (unlocked.src, unlocked.layered, unlocked.plain);
    let key_notes = unlocked.notes;
    // The lost-partition scan rides the pass. A resumed scan whose layout an
    // earlier run sealed scans now instead: it has to name the same volumes
    // before deciding whether anything is left to read.
    let lost = if done("layout") {
        Lost::Now
    } else {
        Lost::InPass
    };
    let size = src.size();
    // Every file's plan goes to the sink as the walks meet it.
    let mut sink = PlanSink::new(&out.dir, size)?;
    let Some(mut analysis) = crate::analysis::analyse(
        &src, &stored, &plain, label, out, opts, done, lost, None, &mut sink, interrupt,
    )?
    else {
        return Ok(None);
    };
    // Stored with the layout's findings (the unit that names the volumes).
    analysis.layout_findings.extend(key_notes);
    let PlanSink {
        records: mut plans,
        pieces,
        ..
    } = sink;
    let mut sweep = Sweep::new(&out.dir, pieces)?;
    let mut prepared = Prepared {
        label: label.to_string(),
        analysis,
        plans: None,
        damage: Vec::new(),
        hashed: None,
        carved: Vec::new(),
        notes: Vec::new(),
        digests: None,
        synthesized: dredge_core::ReadReport::clean(0),
        guard,
        src,
        seq,
        other,
        segments: opened.segments,
        ewf: opened.ewf,
        dmg: opened.dmg,
        deferred: None,
    };
    // A scan hashes only when it analyses something: an item whose every unit an
    // earlier run sealed is not read again. A registration always hashes.
    let analysing = !prepared.analysis.work.is_empty()
        || prepared.analysis.carve_due
        || !prepared.analysis.lost_targets.is_empty();
    let hash = match hash {
        Hashing::Always(a) => Some(a),
        Hashing::WhenAnalysing(a) => analysing.then_some(a),
        Hashing::Never => None,
    };
    let targets = std::mem::take(&mut prepared.analysis.lost_targets);
    let hunting = std::mem::take(&mut prepared.analysis.hunts);
    // What the pass could not read of its files, when what the hunts added
    // is written after it.
    let mut earlier = None;
    let hunts: Vec<dredge_core::Hunt> = hunting.iter().map(|h| h.hunt.clone()).collect();
    if hash.is_some()
        || prepared.analysis.carve_due
        || !sweep.is_empty()
        || !targets.is_empty()
        || !hunts.is_empty()
    {
        let lost: Vec<Extent> = targets.iter().map(|v| v.extent).collect();
        let seq_src: Arc<dyn ImageSource> = Arc::new(prepared.seq.clone());
        let random = Arc::clone(&prepared.src);
        let layered = layered.as_deref();
        // A read of the image: hashing (or not), carving `carve`, scanning
        // `lost` for lost filesystems, testing the blocks `hunts` ask for,
        // writing the files `sweep` holds.
        // A sharded item's carving left to its ranges' shards: this read
        // hashes each range for them instead (issue 16).
        let ranges = opts
            .carve_ranges
            .filter(|_| prepared.analysis.carve_due && hash.is_some());
        let mut read = |hash: Option<Algorithms>,
                        carve: &[Extent],
                        lost: &[Extent],
                        hunts,
                        sweep: &mut Sweep| {
            let deferring = ranges.is_some() && hash.is_some();
            let plan = crate::pass::Plan {
                hash,
                carve: if deferring { &[] } else { carve },
                lost,
                hunts,
                page_size: opts.page_size,
                threads: opts.threads,
                job: "scan",
                layered,
                span: None,
                range_digests: ranges.filter(|_| deferring),
                settle: true,
            };
            crate::pass::run(
                &seq_src,
                &random,
                &plan,
                Some(sweep),
                interrupt,
                &mut *progress,
            )
        };
        let r = read(hash, &prepared.analysis.carve, &lost, &hunts, &mut sweep)?;
        if r.interrupted {
            return Ok(None);
        }
        prepared.digests = r.digests;
        prepared.synthesized = r.synthesized;
        prepared.carved = r.carved;
        prepared.notes = r.notes;
        if let Some(rs) = ranges {
            prepared.deferred = Some(crate::ranges::Deferred::new(
                rs,
                size,
                r.ranges,
                &prepared.analysis.carve,
            ));
        }
        let mut scratch = Vec::new();
        let found = r.lost;
        let lost_found = !targets.is_empty()
            && !recovered_volumes(&prepared.src, &registry(), &targets, &found, &mut scratch)
                .is_empty();
        // What the hunts found, with the readers that asked.
        let found_by: Vec<_> = hunting
            .into_iter()
            .zip(r.hunted)
            .filter(|(_, f)| !f.blocks.is_empty() || f.more > 0)
            .collect();
        if lost_found {
            let hunted: crate::hunt::Hunted =
                found_by.iter().map(|(h, f)| (h.key, f.clone())).collect();
            // Lost filesystems were found: their files, and the space they leave
            // unallocated, were unknown before the pass. Analysed again with them
            // (and with what the hunts found) and read again without hashing
            // (the first read's digests stand): an image is read twice only when
            // the second read brings files back.
            let mut sink = PlanSink::new(&out.dir, size)?;
            let Some(again) = crate::analysis::analyse(
                &prepared.src,
                &(Arc::new(prepared.other.clone()) as Arc<dyn ImageSource>),
                &plain,
                label,
                out,
                opts,
                done,
                Lost::Found(targets.clone(), found),
                Some(&hunted),
                &mut sink,
                interrupt,
            )?
            else {
                return Ok(None);
            };
            plans = sink.records;
            sweep = Sweep::new(&out.dir, sink.pieces)?;
            let r = read(None, &again.carve, &[], &[], &mut sweep)?;
            if r.interrupted {
                return Ok(None);
            }
            prepared.analysis = again;
            // This read carved the space the lost filesystems leave, which the
            // ranges' shards could not know: the item is carved here, whole.
            prepared.deferred = None;
            prepared.carved = r.carved;
            prepared.notes = r.notes;
        } else if !found_by.is_empty() {
            // What the hunts add is planned after every other file, and only
            // its bytes are read (counted with the metadata reads), not the
            // image again.
            let (damage, hashed) = sweep.into_parts();
            earlier = Some(damage);
            let mut sink = PlanSink::resume(plans, &out.dir, size);
            crate::hunt::plan_found(
                found_by,
                &mut prepared.analysis.work,
                label,
                &mut sink,
                interrupt,
            )?;
            if interrupt.load(Ordering::Relaxed) {
                return Ok(None);
            }
            plans = sink.records;
            let mut more = Sweep::continuing(&out.dir, sink.pieces, hashed)?;
            if crate::sweep::read_pieces(&mut more, &*prepared.src, 4 << 20, interrupt)? {
                return Ok(None);
            }
            sweep = more;
        }
    }
    prepared.plans = Some(plans.read()?);
    let (mut damage, hashed) = sweep.into_parts();
    if let Some(mut first) = earlier {
        // The pass's files come first: sorted by file, as before.
        first.append(&mut damage);
        damage = first;
    }
    prepared.damage = damage;
    prepared.hashed = Some(hashed);
    Ok(Some(prepared))
}

/// The item's end: the evidence unchanged, the reads counted, the custody record.
#[allow(clippy::too_many_arguments)]
fn finish_item(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    guard: &crate::EvidenceGuard,
    proof: Option<(&str, &dredge_hash::ImageDigests)>,
    src: &Arc<dyn ImageSource>,
    seq: &Counted,
    other: &Counted,
    summary: &mut ScanSummary,
) -> Result<bool, Failure> {
    guard.check().map_err(fail)?;
    summary.image_bytes += src.size();
    summary.read_pass += seq.bytes();
    summary.read_other += other.bytes();
    store
        .append_event(
            dredge_store::Action::ScanEvidence,
            json!({"evidence": ev.label,
                   "sha256_before_and_after": proof.and_then(|(_, d)| d.sha256.as_ref()),
                   "digests_before_and_after": proof.map(|(_, d)| json!({"md5": d.md5, "sha1": d.sha1, "sha256": d.sha256})),
                   "hashed_in": proof.map(|(w, _)| w),
                   "read": {"image_bytes": src.size(), "pass_bytes": seq.bytes(), "other_bytes": other.bytes(),
                            "requests": seq.reads() + other.reads()}}),
            Some(sid),
        )
        .map_err(fail)?;
    Ok(ev.bad_bytes > 0)
}
