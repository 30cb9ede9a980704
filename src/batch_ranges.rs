//! A sharded batch's cut of large items into byte ranges (issue 16, decision
//! 0020): which items are cut, and a shard's run of the ranges it holds.

use crate::batch::{scan_options, worse, Item, Job};
use crate::progress::Reporter;
use dredge_session::{self as session, CarveScope, Failure};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The job's `range_size`, checked: whole pass blocks (4 MiB), so a range's
/// blocks and seams are those of a whole pass.
pub(crate) fn range_size(job: &Job, path: &Path) -> Result<Option<u64>, Failure> {
    let Some(text) = &job.range_size else {
        return Ok(None);
    };
    let n = session::parse_size(text)
        .map_err(|e| Failure(format!("{}: range_size: {e}", path.display())))?;
    let align = session::RANGE_ALIGN;
    if n == 0 || n % align != 0 {
        return Err(Failure(format!(
            "{}: range_size {text:?} ({n} bytes) is not a multiple of {} (4 MiB)",
            path.display(),
            align
        )));
    }
    Ok(Some(n))
}

/// Per item of the job, the ranges a sharded run cuts its carving into (0: not
/// cut). A pure function of the job file and the evidence's sizes, so every
/// worker computes the same: an item is cut when it is registered from an
/// existing image (not acquired), scanned, carved, and larger than one range.
/// An image that cannot be opened is not cut (its item fails where it runs).
pub(crate) fn splits(job: &Job, base: &Path, path: &Path) -> Result<Vec<u32>, Failure> {
    let Some(size) = range_size(job, path)? else {
        return Ok(Vec::new());
    };
    let at = |p: &Path| base.join(p);
    job.item
        .iter()
        .map(|item| {
            let carve = crate::batch::scope(item.carve.as_deref().or(job.carve.as_deref()), path)?;
            if item.acquire.is_some() || !item.scan || carve == CarveScope::None {
                return Ok(0);
            }
            let map = item.map.as_ref().map(|m| at(m));
            let len = session::evidence_size(&at(&item.image), map.as_deref()).unwrap_or(0);
            let r = session::range_count(len, size);
            Ok(if r >= 2 { r } else { 0 })
        })
        .collect()
}

/// Carves the ranges `ranges` (of `cut`) of `item`, registered as `label`, into
/// the shard case `case`: one JSON line per range.
pub(crate) fn run_ranges(
    job: &Job,
    item: &Item,
    (image, case, label): (&Path, &Path, &str),
    (size, ranges, cut): (u64, &[u32], u32),
    interrupt: &AtomicBool,
    rep: &mut Reporter,
    job_path: &Path,
) -> Result<i32, Failure> {
    let base = job_path.parent().unwrap_or(Path::new("."));
    let map = item.map.as_ref().map(|m| base.join(m));
    let carve = item.carve.as_deref().or(job.carve.as_deref());
    let opts = scan_options(job, carve, &item.keys, false, job_path)?;
    let mut code = 0;
    for &r in ranges {
        rep.json(json!({"event": "batch.range.start", "case": case, "evidence": label, "range": r, "of": cut}));
        let out = session::carve_range(
            case,
            (image, map.as_deref()),
            label,
            &opts,
            (size, r, cut),
            interrupt,
            &mut |p| rep.progress(p),
        )?;
        rep.json(json!({"event": "batch.range.end", "case": case, "evidence": label, "range": r, "of": cut,
                        "start": out.span.start, "len": out.span.len, "sha256": out.sha256,
                        "candidates": out.candidates, "interrupted": out.interrupted}));
        if out.interrupted {
            return Ok(worse(code, 130));
        }
        code = worse(code, 0);
    }
    Ok(code)
}
