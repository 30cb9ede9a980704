//! A filesystem's files as a unit of the scan: walked and planned before the
//! pass (`plan_fs`, `plan_files`), written from the pass, then hashed, stored
//! and sealed (`finish_units`; decision 0014).

use crate::extract::{sync_case, Rows, Task};
use crate::files::{cut_record, finish, plan_all, Planned, Sweep};
use crate::names::{CaseOut, PathPlanner};
use crate::pool::in_parallel;
use crate::scan::{stop_if_cut, to_records, ScanSummary};
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
    tasks: Vec<Task>,
    /// Index range of its files in the pass's plans (`plan_files`).
    range: std::ops::Range<usize>,
}

/// A volume's unit, sealed once its files are written.
pub(crate) struct UnitWork {
    pub unit: String,
    pub volume: usize,
    pub start: u64,
    pub findings: Vec<Finding>,
    pub fss: Vec<Deferred>,
}

/// Walks one filesystem and plans every file's copy (safe names, fallback).
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
    findings: &mut Vec<Finding>,
) -> Deferred {
    // Each entry becomes its task where it is: one vector of the walk's files,
    // never a second one built from the first.
    let mut tasks: Vec<Task> = Vec::new();
    let mut walked = Vec::new();
    let walk = contain_reading(vol.len, || {
        fs.walk(
            &mut |mut entry| {
                stop_if_cut(interrupt);
                entry.runs.shrink_to_fit();
                // The reader made the entry (charged to its unit); from here on
                // the session keeps it, and the unit's count is its own working
                // memory.
                memory::hand_over(entry.heap_bytes());
                memory::uncounted(|| {
                    tasks.push(Task {
                        entry,
                        artifact_id: String::new(),
                        rel_out: None,
                        fallback: None,
                    })
                })
            },
            &mut walked,
        )
    });
    findings.append(&mut walked);
    if let Err(why) = walk {
        if interrupt.load(Ordering::Relaxed) {
            return Deferred {
                fs_id: 0,
                fs_type: fs.type_name(),
                fs_label: fs.label(),
                forensic_base: String::new(),
                tasks: Vec::new(),
                range: 0..0,
            };
        }
        // The entries met before the reader gave out are extracted as usual.
        let what = format!(
            "{} reader (walk, {} entries kept)",
            fs.type_name(),
            tasks.len()
        );
        findings.push(cut_short(vol.start, &what, &why));
    }
    // A size far beyond the evidence is damage, not a file: extracting it would
    // write (and hash) zeros without end. Sparse files up to the cap are fine.
    let cap = src.size().saturating_mul(4).saturating_add(1 << 30);
    let copies = |e: &dredge_core::Entry| {
        e.kind == EntryKind::File
            && e.size <= cap
            && !matches!(e.recovery, dredge_core::Recovery::NotRecoverable(_))
            && (e.size == 0 || !e.runs.is_empty())
    };
    let entries: Vec<&dredge_core::Entry> = tasks.iter().map(|t| &t.entry).collect();
    let paid = budget.credit(&entries, &copies);
    drop(entries);
    let prefix = format!("{}/v{vol_idx}/{}", label, fs.type_name());
    let out_root = PathBuf::from("files").join(label).join(out_dir);
    let mut planner = PathPlanner::with_rules(case_out.rules.clone());
    // Entry ids (artifact ids are the prefix and the id).
    let mut seen = std::collections::HashSet::new();
    let mut listed_twice = Vec::new();
    for (i, t) in tasks.iter_mut().enumerate() {
        let e = &t.entry;
        if !seen.insert(e.id) {
            findings.push(Finding::new(
                e.meta_offset,
                format!(
                    "entry {} ({}) listed twice; second listing ignored",
                    e.id, e.path
                ),
            ));
            listed_twice.push(i);
            continue;
        }
        t.artifact_id = format!("{prefix}/{}", e.id);
        if e.kind == EntryKind::File && e.size > cap {
            findings.push(Finding::new(
                e.meta_offset,
                format!(
                    "{}: size {} is implausible for {} bytes of evidence; not extracted",
                    e.path,
                    e.size,
                    src.size()
                ),
            ));
            continue;
        }
        // Files with a traced layout (or empty ones) are extracted; the rest are
        // listed with their metadata only.
        if !copies(e) {
            continue;
        }
        if let Err(why) = budget.charge(e, paid.get(&i).copied().unwrap_or(0)) {
            findings.push(Finding::new(
                e.meta_offset,
                format!("{}: {why}; not extracted", e.path),
            ));
            continue;
        }
        let rel = out_root.join(planner.plan(&e.path, e.id));
        // Entry ids are unique within the walk (checked above), and the
        // planner never puts a name in `by-id` (top-level names come from
        // the root directory, and `by-id` there is renamed).
        let by_id = out_root.join(crate::names::BY_ID).join(e.id.to_string());
        t.rel_out = Some(rel.display().to_string());
        t.fallback = Some(by_id.display().to_string());
    }
    if !listed_twice.is_empty() {
        let mut i = 0;
        tasks.retain(|_| {
            i += 1;
            listed_twice.binary_search(&(i - 1)).is_err()
        });
    }
    Deferred {
        fs_id: 0,
        fs_type: fs.type_name(),
        fs_label: fs.label(),
        forensic_base: format!("{label}/vol{vol_idx}@{}/{}", vol.start, fs.type_name()),
        tasks,
        range: 0..0,
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

/// Creates every planned copy and lays it out; the pieces to write from the pass.
pub(crate) fn plan_files(
    work: &mut [UnitWork],
    size_of_image: u64,
    case_dir: &std::path::Path,
) -> Result<(Vec<Planned>, Sweep), Failure> {
    // Sized once: growing it would hold two copies of every plan for a moment.
    let n = work
        .iter()
        .flat_map(|u| &u.fss)
        .map(|d| d.tasks.len())
        .sum();
    let mut plans = Vec::with_capacity(n);
    let mut pieces = Vec::new();
    for u in work.iter_mut() {
        for d in &mut u.fss {
            let lo = plans.len();
            let tasks = std::mem::take(&mut d.tasks);
            plan_all(tasks, case_dir, size_of_image, &mut plans, &mut pieces)?;
            d.range = lo..plans.len();
        }
    }
    pieces.sort_by_key(|p| (p.image, p.file, p.file_off));
    Ok((plans, Sweep::new(case_dir, pieces)))
}

/// After the pass: each copy hashed (workers), its record stored (this thread),
/// each unit sealed in order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_units(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    mut work: Vec<UnitWork>,
    plans: Vec<Planned>,
    threads: usize,
    progress: ProgressFn<'_>,
    summary: &mut ScanSummary,
) -> Result<(), Failure> {
    // Which unit and filesystem each plan belongs to (indexes: one entry per
    // file, so no string each).
    let mut fss: Vec<(i64, String)> = Vec::new();
    let mut owner = vec![(0usize, 0usize); plans.len()];
    for (ui, u) in work.iter().enumerate() {
        for d in &u.fss {
            for i in d.range.clone() {
                owner[i] = (ui, fss.len());
            }
            fss.push((d.fs_id, d.forensic_base.clone()));
        }
    }
    let total = plans.len() as u64;
    let mut counts = vec![(0u64, 0u64, 0u64); work.len()];
    let started = Instant::now();
    let (owner, fss) = (&owner, &fss);
    let case_dir = store.dir().to_path_buf();
    let case_dir = case_dir.as_path();
    let units: Vec<String> = work.iter().map(|u| u.unit.clone()).collect();
    let mut rows = Rows::new();
    let mut last = Instant::now();
    in_parallel(
        plans.into_iter().enumerate(),
        threads,
        None,
        |(i, mut p): (usize, Planned)| {
            let (ui, fsi) = owner[i];
            let (fs_id, base) = (fss[fsi].0, fss[fsi].1.as_str());
            let unit = &units[ui];
            // One file is a unit: a panic finishing it costs its content.
            let r = contain(|| finish(&mut p, case_dir, ev.id, unit, Some(fs_id), base))
                .unwrap_or_else(|why| {
                    let a = cut_record(&p, ev.id, unit, Some(fs_id), base);
                    let what = format!("extraction of {}", p.task.entry.path);
                    Ok((a, Some(cut_short(p.task.entry.meta_offset, &what, &why))))
                });
            (i, r)
        },
        |(i, r): (usize, Result<(ArtifactRecord, Option<Finding>), Failure>)| {
            let (a, finding) = r?;
            let ui = owner[i].0;
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
    sync_case(store.dir())?;
    for (u, c) in work.iter().zip(counts) {
        seal(store, sid, ev, u, c, summary)?;
    }
    Ok(())
}
