//! What a batch opens after a scan with keys: the disk images inside
//! encrypted Apple disk images and the VeraCrypt/TrueCrypt container files,
//! each registered as evidence of its own and scanned (a case's items alone,
//! shared, or merged from shards).

use crate::batch::{scan_options, worse, Job};
use crate::progress::Reporter;
use dredge_session::{self as session, Failure};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The disk images inside the encrypted Apple disk images of `case`
/// and the container files that the keys of `opts` open
/// (`session::open_after_scan`), each registered and scanned, one event and
/// one line each; the worst of their exit codes.
pub(crate) fn container_files(
    case: &Path,
    opts: &session::ScanOptions,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let mut code = 0;
    for o in session::open_after_scan(case, opts, interrupt, &mut |p| rep.progress(p))? {
        let r = &o.report;
        rep.json(json!({
            "event": format!("batch.{}", o.word()), "case": case, "artifact": o.artifact, "path": o.path,
            "evidence": o.label, "outcome": r.outcome.name(), "files": r.summary.files,
            "carved": r.summary.carved, "findings": r.summary.findings,
        }));
        if !rep.is_json() {
            eprintln!("{}: {}, {}", case.display(), o.said(), r.summary.describe());
        }
        code = worse(code, r.outcome.exit_code());
    }
    Ok(code)
}

/// `container_files` of a case the job's items share, after its last item:
/// the keys of the job and of every item, the job's carving and digests.
pub(crate) fn shared_container_files(
    job: &Job,
    case: &Path,
    job_path: &Path,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let own: Vec<String> = job.item.iter().flat_map(|i| i.keys.clone()).collect();
    let opts = scan_options(job, job.carve.as_deref(), &own, true, job_path)?;
    container_files(case, &opts, interrupt, rep)
}

/// `container_files` of a case just merged from its shards, as a single run
/// tries them: a shared case's once with every key, a case of one item's
/// with that item's options.
pub(crate) fn merged_container_files(
    job: &Job,
    case: &Path,
    items: &[usize],
    job_path: &Path,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    if job.shared() {
        return shared_container_files(job, case, job_path, interrupt, rep);
    }
    let mut code = 0;
    for &n in items {
        let item = &job.item[n];
        let carve = item.carve.as_deref().or(job.carve.as_deref());
        let opts = scan_options(job, carve, &item.keys, true, job_path)?;
        code = worse(code, container_files(case, &opts, interrupt, rep)?);
    }
    Ok(code)
}
