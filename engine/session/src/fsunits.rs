//! A filesystem's files as a unit of the scan: walked and planned before the
//! pass (`plan_fs`: each entry planned as the walk hands it over), written
//! from the pass, then hashed, stored and sealed (`finish_units`; decision
//! 0014).

use crate::extract::{sync_case, Rows, Task};
use crate::files::{cut_record, finish, PlanSink, Planned, Stored};
use crate::names::{CaseOut, PathPlanner};
use crate::pool::in_parallel;
use crate::scan::{stop_if_cut, to_records, ScanSummary};
use crate::spill::Replay;
use crate::sweep::{Damage, Digests, Hashed};
use crate::unit::{contain, contain_reading, count_cut_short, cut_short};
use crate::{fail, Failure, JobProgress, ProgressFn};
use dredge_core::{memory, EntryKind, FileSystem, Finding, ImageSource};
use dredge_store::ArtifactStatus;
use dredge_store::{ArtifactRecord, EvidenceRow, Store};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One filesystem's planned files.
pub(crate) struct Deferred {
    /// Set when the filesystem's row is recorded (`analysis::record`).
    pub fs_id: i64,
    pub fs_type: &'static str,
    pub fs_label: Option<String>,
    pub forensic_base: String,
    /// Index range of its files in the pass's plans.
    range: std::ops::Range<u64>,
    /// Files planned after the pass, from what its hunt found (after every
    /// `range` of the scan).
    pub extra: std::ops::Range<u64>,
    /// The names its copies were given, while more may be planned.
    pub planner: Option<PathPlanner>,
}

/// A volume's unit, sealed once its files are written.
pub(crate) struct UnitWork {
    pub unit: String,
    pub volume: usize,
    pub start: u64,
    pub findings: Vec<Finding>,
    pub fss: Vec<Deferred>,
}

/// One filesystem's entries planned as the walk hands them over: nothing is
/// kept per file but its id (entries listed twice are dropped) and what the
/// path planner needs; each file's plan goes to the sink.
struct Walking<'a> {
    sink: &'a mut PlanSink,
    budget: &'a mut crate::copybudget::OutputBudget,
    planner: PathPlanner,
    seen: std::collections::HashSet<u64>,
    prefix: String,
    out_root: PathBuf,
    /// A size far beyond the evidence is damage, not a file.
    cap: u64,
    evidence_size: u64,
    /// Deleted files with decoded runs: credited after every allocated one
    /// (`OutputBudget::credit`), so planned after the walk, in walk order.
    held: Vec<dredge_core::Entry>,
    findings: Vec<Finding>,
    /// The first copy that could not be made at all: the scan fails with it.
    failed: Option<Failure>,
}

/// Whether an entry's content is extracted: a file with a traced layout (or an
/// empty one) of a plausible size; the rest are listed with their metadata.
fn copies(cap: u64, e: &dredge_core::Entry) -> bool {
    e.kind == EntryKind::File
        && e.size <= cap
        && !matches!(e.recovery, dredge_core::Recovery::NotRecoverable(_))
        && (e.size == 0 || !e.runs.is_empty())
}

impl Walking<'_> {
    fn take(&mut self, e: dredge_core::Entry) {
        if self.failed.is_some() {
            return;
        }
        if !self.seen.insert(e.id) {
            self.findings.push(Finding::new(
                e.meta_offset,
                format!(
                    "entry {} ({}) listed twice; second listing ignored",
                    e.id, e.path
                ),
            ));
            return;
        }
        let decoded = e
            .runs
            .iter()
            .any(|r| matches!(r.data, dredge_core::RunData::Decoded(_)));
        if e.deleted && decoded && copies(self.cap, &e) {
            self.held.push(e);
            return;
        }
        self.plan(e);
    }

    fn plan(&mut self, e: dredge_core::Entry) {
        let cap = self.cap;
        let paid = self.budget.credit(&[&e], &|e| copies(cap, e));
        let mut t = Task {
            artifact_id: format!("{}/{}", self.prefix, e.id),
            entry: e,
            rel_out: None,
            fallback: None,
        };
        let e = &t.entry;
        if e.kind == EntryKind::File && e.size > cap {
            self.findings.push(Finding::new(
                e.meta_offset,
                format!(
                    "{}: size {} is implausible for {} bytes of evidence; not extracted",
                    e.path, e.size, self.evidence_size
                ),
            ));
        } else if copies(cap, e) {
            if let Err(why) = self.budget.charge(e, paid.get(&0).copied().unwrap_or(0)) {
                self.findings.push(Finding::new(
                    e.meta_offset,
                    format!("{}: {why}; not extracted", e.path),
                ));
            } else {
                let rel = self.out_root.join(self.planner.plan(&e.path, e.id));
                // Entry ids are unique within the walk (checked above), and
                // the planner never puts a name in `by-id` (top-level names
                // come from the root directory, and `by-id` there is renamed).
                let by_id = (self.out_root.join(crate::names::BY_ID)).join(e.id.to_string());
                t.rel_out = Some(rel.display().to_string());
                t.fallback = Some(by_id.display().to_string());
            }
        }
        if let Err(f) = self.sink.plan(t) {
            self.failed = Some(f);
        }
    }
}

/// Walks one filesystem and plans every file's copy (safe names, fallback) as
/// its entry comes: each copy made and laid out, its plan handed to `sink`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_fs(
    case_out: &CaseOut,
    label: &str,
    vol_idx: usize,
    out_dir: &str,
    vol: dredge_core::Extent,
    fs: &dyn FileSystem,
    src: &Arc<dyn ImageSource>,
    interrupt: &AtomicBool,
    budget: &mut crate::copybudget::OutputBudget,
    sink: &mut PlanSink,
    findings: &mut Vec<Finding>,
) -> Result<Deferred, Failure> {
    let place = Place {
        label,
        vol_idx,
        out_dir,
        vol,
        src,
    };
    let planner = PathPlanner::with_rules(case_out.rules.clone());
    let (range, planner) = place.plan(fs, false, planner, interrupt, budget, sink, findings)?;
    Ok(Deferred {
        fs_id: 0,
        fs_type: fs.type_name(),
        fs_label: fs.label(),
        forensic_base: format!("{label}/vol{vol_idx}@{}/{}", vol.start, fs.type_name()),
        range,
        extra: 0..0,
        planner: Some(planner),
    })
}

/// Where a filesystem's files are planned.
pub(crate) struct Place<'a> {
    pub label: &'a str,
    pub vol_idx: usize,
    pub out_dir: &'a str,
    pub vol: dredge_core::Extent,
    pub src: &'a Arc<dyn ImageSource>,
}

impl Place<'_> {
    /// Walks `fs` (only what its hunt found, with `hunted_only`) and plans
    /// every file's copy, names chosen by `planner` (the one of an earlier
    /// walk of the same filesystem, so no name is given twice).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn plan(
        &self,
        fs: &dyn FileSystem,
        hunted_only: bool,
        planner: PathPlanner,
        interrupt: &AtomicBool,
        budget: &mut crate::copybudget::OutputBudget,
        sink: &mut PlanSink,
        findings: &mut Vec<Finding>,
    ) -> Result<(std::ops::Range<u64>, PathPlanner), Failure> {
        let (label, vol_idx, vol, src) = (self.label, self.vol_idx, self.vol, self.src);
        let lo = sink.len();
        let mut w = Walking {
            sink,
            budget,
            planner,
            seen: std::collections::HashSet::new(),
            prefix: format!("{}/v{vol_idx}/{}", label, fs.type_name()),
            out_root: PathBuf::from("files").join(label).join(self.out_dir),
            cap: src.size().saturating_mul(4).saturating_add(1 << 30),
            evidence_size: src.size(),
            held: Vec::new(),
            findings: Vec::new(),
            failed: None,
        };
        let mut walked = Vec::new();
        let mut kept = 0u64;
        let walk = contain_reading(vol.len, || {
            let mut visit = |entry: dredge_core::Entry| {
                stop_if_cut(interrupt);
                // The reader made the entry (charged to its unit); from here on
                // the session plans it, and the unit's count is its own working
                // memory.
                memory::hand_over(entry.heap_bytes());
                kept += 1;
                memory::uncounted(|| w.take(entry))
            };
            if hunted_only {
                fs.walk_hunted(&mut visit, &mut walked)
            } else {
                fs.walk(&mut visit, &mut walked)
            }
        });
        findings.append(&mut walked);
        let interrupted = walk.is_err() && interrupt.load(Ordering::Relaxed);
        if let (Err(why), false) = (&walk, interrupted) {
            // The entries met before the reader gave out are extracted as usual.
            let what = format!("{} reader (walk, {kept} entries kept)", fs.type_name());
            w.findings.push(cut_short(vol.start, &what, why));
        }
        if !interrupted {
            for e in std::mem::take(&mut w.held) {
                memory::uncounted(|| w.plan(e));
            }
        }
        findings.append(&mut w.findings);
        if let Some(f) = w.failed {
            return Err(f);
        }
        Ok((lo..w.sink.len(), w.planner))
    }
}

/// (files, deleted, partial) of a unit's records.
fn count(a: &ArtifactRecord, c: &mut (u64, u64, u64)) {
    if a.kind == EntryKind::File {
        c.0 += 1;
        c.1 += u64::from(a.deleted);
        c.2 += u64::from(a.status == ArtifactStatus::Partial);
    }
}

/// Adds a unit's findings and seals it.
fn seal(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    u: &UnitWork,
    c: (u64, u64, u64),
    summary: &mut ScanSummary,
) -> Result<(), Failure> {
    summary.files += c.0;
    summary.deleted += c.1;
    summary.partial += c.2;
    summary.findings += u.findings.len() as u64;
    summary.cut_short += count_cut_short(&u.findings);
    store
        .add_findings(ev.id, &u.unit, &to_records(&u.findings))
        .map_err(fail)?;
    store
        .finish_unit(
            ev.id,
            &u.unit,
            json!({"volume": u.volume, "start": u.start, "files": c.0, "deleted": c.1, "partial": c.2, "findings": u.findings.len()}),
            Some(sid),
        )
        .map_err(fail)
}

/// A plan to finish: its index, its record's bytes and its digests if the
/// pass took them.
type Item = (
    (u64, Result<Vec<u8>, Failure>),
    Result<Option<Digests>, Failure>,
);

/// After the pass: each copy hashed (workers) as its plan is read back, unless
/// the pass hashed it (`hashed`), its record stored (this thread), each unit
/// sealed in order. `damage`: what the pass could not read, sorted by file.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_units(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    mut work: Vec<UnitWork>,
    plans: Replay,
    damage: Vec<Damage>,
    hashed: Option<Hashed>,
    threads: usize,
    progress: ProgressFn<'_>,
    summary: &mut ScanSummary,
) -> Result<(), Failure> {
    // Which unit and filesystem each plan belongs to: ranges, found by binary
    // search (one entry per filesystem, not per file).
    let mut owners: Vec<(u64, usize, i64, String)> = Vec::new();
    for (ui, u) in work.iter().enumerate() {
        for d in &u.fss {
            if !d.range.is_empty() {
                owners.push((d.range.end, ui, d.fs_id, d.forensic_base.clone()));
            }
        }
    }
    // Files planned after the pass come after every other, in the same order.
    let mut extra: Vec<_> = work
        .iter()
        .enumerate()
        .flat_map(|(ui, u)| u.fss.iter().map(move |d| (ui, d)))
        .filter(|(_, d)| !d.extra.is_empty())
        .map(|(ui, d)| (d.extra.clone(), ui, d.fs_id, d.forensic_base.clone()))
        .collect();
    extra.sort_by_key(|e| e.0.start);
    owners.extend(extra.into_iter().map(|(r, ui, id, b)| (r.end, ui, id, b)));
    let owner = |i: u64| owners.get(owners.partition_point(|o| o.0 <= i));
    // Every copy was written and closed by the pass, and nothing below
    // writes to one, so flushing them to disk starts now, beside the
    // hashing and storing, and is waited for before the first seal (a seal
    // says the copies are on disk). Before, the sync waited its own turn
    // after the rows: about a second of 100 000 copies spent idle.
    let syncing = {
        let dir = store.dir().to_path_buf();
        std::thread::spawn(move || sync_case(&dir))
    };
    let total = plans.len();
    let mut counts = vec![(0u64, 0u64, 0u64); work.len()];
    let started = Instant::now();
    let case_dir = store.dir().to_path_buf();
    let case_dir = case_dir.as_path();
    let units: Vec<String> = work.iter().map(|u| u.unit.clone()).collect();
    let damage = &damage;
    let mut rows = Rows::new();
    let mut last = Instant::now();
    // Digests the pass took, file by file beside the plans (none when the
    // pass wrote nothing).
    let digests: Box<dyn Iterator<Item = _> + Send> = match hashed {
        Some(h) => Box::new(h.in_order()),
        None => Box::new(std::iter::repeat_with(|| Ok(None))),
    };
    in_parallel(
        (0u64..).zip(plans).zip(digests),
        threads,
        None,
        |((i, bytes), digests): Item| {
            let (bytes, digests) = (bytes?, digests?);
            let Some((_, ui, fs_id, base)) = owner(i) else {
                return Err(Failure(format!("plan {i} belongs to no filesystem")));
            };
            let at = Stored {
                evidence_id: ev.id,
                unit: &units[*ui],
                fs_id: Some(*fs_id),
                forensic_base: base,
            };
            let lo = damage.partition_point(|d| d.file < i);
            let hi = damage.partition_point(|d| d.file <= i);
            // One file is a unit: a panic finishing it costs its content (its
            // plan is read again for the record of what is left).
            let r = contain(|| {
                let p = Planned::get(&bytes)?;
                finish(p, &damage[lo..hi], digests, case_dir, &at)
            })
            .unwrap_or_else(|why| {
                let p = Planned::get(&bytes)?;
                let (path, meta) = (p.path().to_string(), p.meta_offset());
                let what = format!("extraction of {path}");
                Ok((cut_record(p, &at), vec![cut_short(meta, &what, &why)]))
            });
            Ok((*ui, r?))
        },
        |r: Result<(usize, (ArtifactRecord, Vec<Finding>)), Failure>| {
            let (ui, (a, finding)) = r?;
            count(&a, &mut counts[ui]);
            work[ui].findings.extend(finding);
            rows.push(store, a)?;
            let done = rows.done;
            if last.elapsed().as_millis() >= 200 || done == total {
                last = Instant::now();
                progress(&JobProgress::items(
                    "scan",
                    format!("{}: hashing the copies written", ev.label),
                    "files",
                    done,
                    total,
                    started.elapsed(),
                ));
            }
            Ok(())
        },
    )?;
    rows.flush(store)?;
    syncing
        .join()
        .map_err(|_| Failure("the sync of the case's copies panicked".into()))??;
    for (u, c) in work.iter().zip(counts) {
        seal(store, sid, ev, u, c, summary)?;
    }
    Ok(())
}
