//! `dredge batch JOB.toml`: a lab's unattended run over a list of evidence items. Each
//! item is acquired or added, scanned (with carving) and reported, into one shared case
//! or a case of its own. Progress is JSON lines on stdout; an item that fails is
//! recorded and the batch goes on to the next; the exit code is the worst outcome.

use crate::progress::Reporter;
use dredge_core::Word;
use dredge_session::{self as session, CarveScope, CaseInfo, Failure, ReportFormat, ShardSpec};
use serde::Deserialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Job {
    /// One case for every item…
    case: Option<PathBuf>,
    /// …or one case per item, named after it, in this directory.
    cases_dir: Option<PathBuf>,
    examiner: Option<String>,
    case_number: Option<String>,
    description: Option<String>,
    /// The examiner's Ed25519 key: every case this job creates is signed with it.
    pub(crate) signing_key: Option<PathBuf>,
    threads: Option<usize>,
    /// "unallocated" (default), "all" or "none".
    pub(crate) carve: Option<String>,
    /// Evidence digests, e.g. "sha256" or "md5,sha256" (default: all three).
    hash: Option<String>,
    /// Reports written for each case when its items are done.
    #[serde(default)]
    reports: Vec<String>,
    /// Keys for encrypted volumes, as `--key` takes them, tried on every
    /// item (file paths relative to the job file).
    #[serde(default)]
    keys: Vec<String>,
    /// Files of a container's shape are tried with the keys, as
    /// `--container-files` asks: each try is a key-derivation sweep of
    /// seconds. A case the items share (`case = …`) has them tried once its
    /// last item is scanned, so the items keep their labels.
    #[serde(default)]
    pub(crate) container_files: bool,
    /// A sharded run cuts the carving of each item larger than this into
    /// ranges of this size, each a unit of work of its own (a multiple of
    /// 4 MiB: "1GiB"). A single run ignores it.
    pub(crate) range_size: Option<String>,
    #[serde(default)]
    pub(crate) item: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Item {
    /// Name of the item's own case (default: the image's file name).
    name: Option<String>,
    /// The image to register (or to write, with `acquire`).
    pub(crate) image: PathBuf,
    pub(crate) map: Option<PathBuf>,
    /// A device or file to image into `image` first (ddrescue-style).
    pub(crate) acquire: Option<PathBuf>,
    pub(crate) carve: Option<String>,
    #[serde(default = "yes")]
    pub(crate) scan: bool,
    /// Keys for this item's encrypted volumes (after the job's).
    #[serde(default)]
    pub(crate) keys: Vec<String>,
}

fn yes() -> bool {
    true
}

pub(crate) fn scope(s: Option<&str>, job: &Path) -> Result<CarveScope, Failure> {
    let s = s.unwrap_or(CarveScope::Unallocated.word());
    CarveScope::from_word(s).ok_or_else(|| {
        Failure(format!(
            "{}: carve must be {}, not {s:?}",
            job.display(),
            CarveScope::choices()
        ))
    })
}

fn format(s: &str, job: &Path) -> Result<ReportFormat, Failure> {
    ReportFormat::from_word(s).ok_or_else(|| {
        Failure(format!(
            "{}: unknown report format {s:?} ({})",
            job.display(),
            ReportFormat::choices()
        ))
    })
}

/// The keys for `item`: the job's, then its own, each parsed as `--key`
/// parses it, file paths taken relative to the job file. An error names the
/// spec's kind, never its value.
fn keys(job: &Job, own: &[String], path: &Path) -> Result<Vec<session::KeySpec>, Failure> {
    let base = path.parent().unwrap_or(Path::new("."));
    job.keys
        .iter()
        .chain(own)
        .map(|spec| {
            let spec = match spec.split_once('=') {
                Some((lhs, file))
                    if ["password-file", "keyfile", "bek"]
                        .contains(&lhs.rsplit(':').next().unwrap_or(lhs))
                        && Path::new(file).is_relative() =>
                {
                    format!("{lhs}={}", base.join(file).display())
                }
                _ => spec.clone(),
            };
            session::KeySpec::parse(&spec)
                .map_err(|e| Failure(format!("{}: keys: {e}", path.display())))
        })
        .collect()
}

/// The keys a merge of the case holding `items` (0-based) needs to copy files
/// carved by ranges out of unlocked volumes: the job's and those items'.
pub(crate) fn case_keys(
    job: &Job,
    items: &[usize],
    path: &Path,
) -> Result<Vec<session::KeySpec>, Failure> {
    let own: Vec<String> = items
        .iter()
        .flat_map(|&i| job.item[i].keys.clone())
        .collect();
    keys(job, &own, path)
}

fn hashes(job: &Job, path: &Path) -> Result<session::Algorithms, Failure> {
    match &job.hash {
        None => Ok(session::Algorithms::ALL),
        Some(h) => session::Algorithms::parse(h)
            .map_err(|e| Failure(format!("{}: hash: {e}", path.display()))),
    }
}

/// Reads and checks the job file: a bad one fails before anything runs, with the
/// byte offset of the problem.
impl Job {
    /// One case for every item (not a case per item).
    pub(crate) fn shared(&self) -> bool {
        self.case.is_some()
    }
}

pub(crate) fn load(path: &Path) -> Result<Job, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("{}: cannot read: {e}", path.display())))?;
    let job: Job = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map_or(String::new(), |s| format!(" (byte offset {})", s.start));
        Failure(format!(
            "{}: {}{at}",
            path.display(),
            e.message().lines().next().unwrap_or("invalid job file")
        ))
    })?;
    if job.case.is_some() == job.cases_dir.is_some() {
        return Err(Failure(format!(
            "{}: give either `case` (one case for all items) or `cases_dir` (a case per item)",
            path.display()
        )));
    }
    if job.item.is_empty() {
        return Err(Failure(format!("{}: no [[item]] to run", path.display())));
    }
    scope(job.carve.as_deref(), path)?;
    hashes(&job, path)?;
    for i in &job.item {
        scope(i.carve.as_deref(), path)?;
        keys(&job, &i.keys, path)?;
    }
    for r in &job.reports {
        format(r, path)?;
    }
    crate::batch_ranges::range_size(&job, path)?;
    Ok(job)
}

/// Worst of two exit codes, in the order 0 < 3 < 2 < 130.
pub(crate) fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        0 => 0,
        3 => 1,
        130 => 3,
        _ => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Where a single run of the job puts item `n`'s case (the shared case, or its
/// own under `cases_dir`), and its name.
pub(crate) fn item_case(job: &Job, n: usize, base: &Path) -> (PathBuf, String) {
    let item = &job.item[n];
    let at = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let image = at(&item.image);
    let name = item.name.clone().unwrap_or_else(|| {
        image.file_name().map_or(format!("item{}", n + 1), |f| {
            f.to_string_lossy().into_owned()
        })
    });
    let case = match (&job.case, &job.cases_dir) {
        (Some(c), _) => at(c),
        (None, Some(d)) => at(d).join(session::safe_component(&name)),
        (None, None) => unreachable!("checked by load"),
    };
    (case, name)
}

/// The mark of shard `spec`'s case for the items `items` (0-based) that go into
/// one case of the job.
fn mark(
    job: &Job,
    digest: &str,
    spec: ShardSpec,
    case_items: &[usize],
    splits: &[u32],
) -> session::ShardMark {
    let len = job.item.len() as u32;
    let ours = |i: u32| case_items.contains(&(i as usize));
    let (mut items, mut ranges) = (Vec::new(), Vec::new());
    for u in spec.holds(len, splits) {
        match u {
            session::Unit::Item(i) if ours(i) => items.push(i + 1),
            session::Unit::Range(i, r) if ours(i) => ranges.push([i + 1, r]),
            _ => {}
        }
    }
    session::ShardMark {
        job: digest.to_string(),
        shard: spec.k,
        of: spec.n,
        items,
        case_items: case_items.iter().map(|&i| i as u32 + 1).collect(),
        job_items: len,
        splits: splits.to_vec(),
        ranges,
    }
}

/// The cases of a job: each case a single run writes, with the items (0-based)
/// that go into it, in job order.
pub(crate) fn job_cases(job: &Job, base: &Path) -> Vec<(PathBuf, Vec<usize>)> {
    let mut out: Vec<(PathBuf, Vec<usize>)> = Vec::new();
    for n in 0..job.item.len() {
        let (case, _) = item_case(job, n, base);
        match out.iter_mut().find(|(c, _)| *c == case) {
            Some((_, items)) => items.push(n),
            None => out.push((case, vec![n])),
        }
    }
    out
}

/// The batch, or with `shard` its shard K of N: only the items the assignment
/// gives it, each case written at `<case>.shards/K-of-N` (marked, ended with
/// `shard.end`, its JSON lines also in `progress.jsonl` there), and no reports
/// (the merge writes them).
pub fn run_shard(
    job_path: &Path,
    shard: Option<ShardSpec>,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let job = load(job_path)?;
    let digest = session::job_digest(job_path)?;
    let base = job_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let at = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let info = CaseInfo {
        case_number: job.case_number.clone(),
        examiner: job
            .examiner
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unspecified".into()),
        description: job
            .description
            .clone()
            .or_else(|| Some(format!("dredge batch {}", job_path.display()))),
    };
    let mut code = 0;
    let mut summary = Vec::new();
    let shared = job.case.as_ref().map(|c| at(c));
    let len = job.item.len() as u32;
    let cases = job_cases(&job, &base);
    let key = job.signing_key.as_ref().map(|k| base.join(k));
    // Items whose carving a sharded run cuts into ranges (none in a single run).
    let splits = match shard {
        Some(_) => crate::batch_ranges::splits(&job, &base, job_path)?,
        None => Vec::new(),
    };
    let held = shard.map(|s| s.holds(len, &splits)).unwrap_or_default();
    // A shard's cases, made (or found finished) before their first item runs.
    let mut shard_cases: Vec<(PathBuf, bool)> = Vec::new();
    // Each shard case's lock, held until this process ends.
    let mut locks = Vec::new();
    let mut open_shard_case = |spec: ShardSpec,
                               case: &Path,
                               rep: &mut Reporter|
     -> Result<(PathBuf, bool), Failure> {
        let dir = spec.dir(case);
        if let Some((_, done)) = shard_cases.iter().find(|(d, _)| *d == dir) {
            return Ok((dir, *done));
        }
        let items = cases
            .iter()
            .find(|(c, _)| c == case)
            .map(|(_, i)| i.clone())
            .unwrap_or_default();
        let m = mark(&job, &digest, spec, &items, &splits);
        let done = match session::shard_case(&dir, &info, key.as_deref(), &m)? {
            session::ShardCase::Done => true,
            session::ShardCase::Fresh { moved, lock } => {
                if let Some(aside) = moved {
                    rep.json(json!({"event": "batch.shard.retry", "case": dir, "unfinished_moved_to": aside}));
                }
                locks.push(lock);
                false
            }
        };
        rep.tee((!done).then(|| dir.join("progress.jsonl")));
        shard_cases.push((dir.clone(), done));
        Ok((dir, done))
    };
    if let (Some(spec), Some(case)) = (shard, &shared) {
        // Every shard of a job with one case writes its case, items or none, so
        // the merge can tell a shard with nothing to do from a missing one.
        open_shard_case(spec, case, rep)?;
        rep.json(
            json!({"event": "batch.shard", "shard": spec.k, "of": spec.n, "case": spec.dir(case)}),
        );
    }
    rep.json(
        json!({"event": "batch.start", "job": job_path, "items": job.item.len(),
                    "shard": shard.map(|s| json!({"k": s.k, "n": s.n}))}),
    );
    for (n, item) in job.item.iter().enumerate() {
        // This shard's share of the item: the item itself, ranges of its carving.
        let main = shard.is_none() || held.contains(&session::Unit::Item(n as u32));
        let ranges: Vec<u32> = held
            .iter()
            .filter_map(|u| match *u {
                session::Unit::Range(i, r) if i as usize == n => Some(r),
                _ => None,
            })
            .collect();
        let cut = splits.get(n).copied().unwrap_or(0);
        // Holding the item and every range of it: run it as a single run does.
        let whole = cut == 0 || ranges.len() as u32 == cut;
        if !main && ranges.is_empty() {
            continue;
        }
        if interrupt.load(Ordering::Relaxed) {
            code = worse(code, 130);
            break;
        }
        let image = at(&item.image);
        let (mut case, name) = item_case(&job, n, &base);
        if let Some(spec) = shard {
            let (dir, done) = open_shard_case(spec, &case, rep)?;
            case = dir;
            if done {
                rep.json(json!({"event": "batch.item.end", "item": n + 1, "name": name, "status": "done-before", "exit_code": 0,
                                "units": usize::from(main) + ranges.len()}));
                continue;
            }
        }
        rep.json(json!({"event": "batch.item.start", "item": n + 1, "name": name, "image": image, "case": case}));
        // The item's label is its place among the items of its case, in a single
        // run and in a shard alike (decision 0020).
        let place = cases
            .iter()
            .find(|(_, items)| items.contains(&n))
            .and_then(|(_, items)| items.iter().position(|&i| i == n))
            .map_or(1, |p| p + 1);
        let announce = json!({"item": n + 1, "name": name, "image": image, "label": format!("ev{place}"),
                              "job": digest});
        let cut_at = (!whole)
            .then(|| crate::batch_ranges::range_size(&job, job_path))
            .transpose()?
            .flatten();
        let result = if main {
            run_item(
                &job,
                item,
                (&image, &case),
                &info,
                &announce,
                (
                    job.container_files && shared.is_none() && shard.is_none(),
                    cut_at,
                ),
                interrupt,
                rep,
                job_path,
            )
        } else {
            Ok(0)
        };
        // The ranges of the item's carving this shard holds (issue 16).
        let result = match (result, cut_at) {
            (Ok(c), Some(size)) if c != 130 => crate::batch_ranges::run_ranges(
                &job,
                item,
                (&image, &case, &format!("ev{place}")),
                (size, &ranges, cut),
                interrupt,
                rep,
                job_path,
            )
            .map(|r| worse(c, r)),
            (r, _) => r,
        };
        // A case of its own is reported as soon as its item is done (a shard's
        // after the merge).
        let result = match result {
            Ok(c) if shared.is_none() && c != 130 && shard.is_none() => {
                reports(&job, &case, job_path, rep).map(|r| worse(c, r))
            }
            r => r,
        };
        let (item_code, error) = match result {
            Ok(c) => (c, None),
            Err(f) => (2, Some(f.0)),
        };
        code = worse(code, item_code);
        let status = match item_code {
            0 => "complete",
            3 => "complete-with-gaps",
            130 => "interrupted",
            _ => "failed",
        };
        let rec = json!({"item": n + 1, "name": name, "image": image, "case": case, "status": status, "exit_code": item_code, "error": error});
        // `units`: the item itself and its ranges, as far as this run holds them
        // (what `batch-status` counts).
        rep.json(json!({"event": "batch.item.end", "item": n + 1, "name": name, "status": status, "exit_code": item_code, "error": error,
                        "units": usize::from(main) + ranges.len()}));
        if !rep.is_json() {
            match &error {
                Some(e) => eprintln!("dredge: item {} ({name}) failed: {e}", n + 1),
                None => eprintln!("item {} ({name}): {status}", n + 1),
            }
        }
        if shard.is_some() && shared.is_none() && item_code != 130 {
            session::end_shard(&case, json!({"items": [rec.clone()]}))?;
        }
        summary.push(rec);
    }
    if let (Some(spec), Some(case)) = (shard, &shared) {
        let done = shard_cases.first().is_some_and(|(_, d)| *d);
        if !done && !interrupt.load(Ordering::Relaxed) {
            session::end_shard(
                &spec.dir(case),
                json!({"items": summary, "exit_code": code}),
            )?;
        }
    }
    if job.container_files && shard.is_some() {
        // A shard's registrations would take labels the merge gives the
        // job's items in other shards (decision 0020): `--merge` tries them.
        rep.json(json!({"event": "batch.container_files.deferred", "why": "sharded run: tried by the merge"}));
    }
    if let (Some(case), None, true) = (&shared, shard, job.container_files) {
        if !interrupt.load(Ordering::Relaxed) && case.join("case.sqlite").exists() {
            match crate::batch_opened::shared_container_files(&job, case, job_path, interrupt, rep)
            {
                Ok(c) => code = worse(code, c),
                Err(f) => {
                    rep.json(json!({"event": "batch.container_files.failed", "case": case, "error": f.0}));
                    eprintln!("dredge: container files of {}: {f}", case.display());
                    code = worse(code, 2);
                }
            }
        }
    }
    if let (Some(case), None) = (&shared, shard) {
        if !interrupt.load(Ordering::Relaxed) && case.join("case.sqlite").exists() {
            if let Err(f) = reports(&job, case, job_path, rep) {
                rep.json(json!({"event": "batch.report.failed", "case": case, "error": f.0}));
                eprintln!("dredge: reports for {}: {f}", case.display());
                code = worse(code, 2);
            }
        }
    }
    rep.json(json!({"event": "batch.summary", "exit_code": code, "items": summary}));
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
fn run_item(
    job: &Job,
    item: &Item,
    (image, case): (&Path, &Path),
    info: &CaseInfo,
    announce: &serde_json::Value,
    (containers, carve_ranges): (bool, Option<u64>),
    interrupt: &AtomicBool,
    rep: &mut Reporter,
    job_path: &Path,
) -> Result<i32, Failure> {
    let base = job_path.parent().unwrap_or(Path::new("."));
    if !case.join("case.sqlite").exists() {
        let key = job.signing_key.as_ref().map(|k| base.join(k));
        session::case_new_signed(case, info, key.as_deref())?;
    }
    session::announce_batch_item(case, announce.clone())?;
    let map = item.map.as_ref().map(|m| base.join(m));
    let mut code = 0;
    // The item this run registers: its scan examines that item only.
    let mut label = None;
    if let Some(src) = &item.acquire {
        let map = map.clone().unwrap_or_else(|| {
            let mut s = image.to_path_buf().into_os_string();
            s.push(".map");
            PathBuf::from(s)
        });
        let req = session::AcquireRequest {
            source: &base.join(src),
            image,
            map: &map,
            case_dir: Some(case),
            options: session::AcquireOptions {
                hash: hashes(job, job_path)?,
                ..Default::default()
            },
            e01: None,
        };
        let r = session::acquire(&req, interrupt, &mut |p| rep.progress(p))?;
        code = worse(code, r.outcome.exit_code());
        label = r.evidence.as_ref().map(|e| e.label.clone());
    }
    let carve = item.carve.as_deref().or(job.carve.as_deref());
    let mut opts = scan_options(job, carve, &item.keys, containers, job_path)?;
    opts.carve_ranges = carve_ranges;
    let mut pre = None;
    if item.acquire.is_none() {
        // Registered and, when it is to be scanned, read for the scan in one pass.
        let (r, p) = session::add_evidence_one_pass(
            case,
            image,
            map.as_deref(),
            if item.scan { Ok(&opts) } else { Err(opts.hash) },
            interrupt,
            &mut |p| rep.progress(p),
        )?;
        code = worse(code, r.outcome.exit_code());
        label = r.evidence.as_ref().map(|e| e.label.clone());
        pre = p;
    }
    if code == 130 || !item.scan {
        return Ok(code);
    }
    let r = session::scan_only(case, &opts, label, pre, interrupt, &mut |p| rep.progress(p))?;
    rep.json(json!({
        "event": "batch.scan", "case": case, "outcome": r.outcome.name(),
        "files": r.summary.files, "deleted": r.summary.deleted, "carved": r.summary.carved,
        "partial": r.summary.partial, "findings": r.summary.findings,
        "read": {"image_bytes": r.summary.image_bytes, "pass_bytes": r.summary.read_pass, "other_bytes": r.summary.read_other},
    }));
    let code = worse(code, r.outcome.exit_code());
    if !containers || r.outcome == session::Outcome::Interrupted {
        return Ok(code);
    }
    Ok(worse(
        code,
        crate::batch_opened::container_files(case, &opts, interrupt, rep)?,
    ))
}

/// A scan's options as the job gives them: its threads and digests, the
/// carving scope `carve`, its keys then `own`.
pub(crate) fn scan_options(
    job: &Job,
    carve: Option<&str>,
    own: &[String],
    container_files: bool,
    job_path: &Path,
) -> Result<session::ScanOptions, Failure> {
    let mut opts = session::ScanOptions::default();
    if let Some(t) = job.threads {
        opts.threads = t.max(1);
    }
    opts.carve = scope(carve, job_path)?;
    opts.hash = hashes(job, job_path)?;
    opts.keys = keys(job, own, job_path)?;
    opts.container_files = container_files;
    Ok(opts)
}

pub(crate) fn reports(
    job: &Job,
    case: &Path,
    job_path: &Path,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    for r in &job.reports {
        let f = format(r, job_path)?;
        let out = session::report(case, f, None)?;
        rep.json(json!({"event": "batch.report", "case": case, "format": r, "path": out.path, "sha256": out.sha256}));
        if let Err(b) = &out.integrity {
            return Err(Failure(format!(
                "{}: verification FAILED at custody event {}: {}",
                case.display(),
                b.seq,
                b.detail
            )));
        }
    }
    Ok(0)
}
