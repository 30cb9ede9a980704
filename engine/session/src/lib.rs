//! Orchestration: each command the CLI or the TUI runs is a *session* recorded in
//! the case's custody log from start to end, whatever happens in between. Only this
//! crate knows every implementation (image readers, acquisition, store).

mod analysis;
pub mod carve;
mod extract;
mod files;
mod fsunits;
mod guard;
pub mod jobs;
mod layout;
mod lock;
mod names;
mod pass;
mod register;
pub mod scan;
mod unit;
mod verify;

pub use dredge_acquire::{AcquireOptions, Phase};
pub use dredge_hash::{Algorithm, Algorithms};
pub use dredge_image::Compression;
pub use dredge_report::Format as ReportFormat;
pub use dredge_report::{allocation, visible, Model as ReportModel};
pub use dredge_store::sign;
pub use dredge_store::{ArtifactRecord, StoreError, VolumeRow, DB_NAME as CASE_DB};
pub use dredge_store::{
    CaseInfo, ChainBreak, Event, EvidenceRow, SessionRow, SessionStatus, Store,
};
pub use guard::EvidenceGuard;
pub use jobs::{args_line, unfinished_jobs, Job, JobEnd};
pub use lock::{job_running, CaseLock};
pub use names::safe_component;
pub use register::{
    add_evidence, add_evidence_hashing, add_evidence_one_pass, one_shot_state, AddResult,
    OneShotState,
};
pub use scan::Prepared;
pub use scan::{
    list_image, scan, scan_precarved, CarveScope, ScanOptions, ScanReport, ScanSummary,
};
pub use verify::{verify, verify_against, Anchors, EvidenceCheck, VerifyReport};

use dredge_core::{BlockDevice, ImageSource};
use dredge_hash::{hash_source, sha256_hex, ImageDigests};
use dredge_image::{open_evidence, FileDevice};
use dredge_store::NewEvidence;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// A failure that ends a command: one line naming the file and, where there is
/// one, the byte offset.
#[derive(Debug)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure(e.to_string())
}

/// How a command ended. Maps onto the batch exit codes 0, 3 and 130 (a `Failure`
/// is 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    CompleteWithGaps,
    Interrupted,
}

impl Outcome {
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Complete => 0,
            Outcome::CompleteWithGaps => 3,
            Outcome::Interrupted => 130,
        }
    }

    fn status(&self) -> SessionStatus {
        match self {
            Outcome::Complete => SessionStatus::Complete,
            Outcome::CompleteWithGaps => SessionStatus::CompleteWithGaps,
            Outcome::Interrupted => SessionStatus::Interrupted,
        }
    }
}

/// Progress of a long job, for a progress bar, JSON lines or the TUI.
#[derive(Debug, Clone)]
pub struct JobProgress {
    pub job: &'static str,
    pub phase: String,
    /// `done` and `total` count this: "bytes" (hashing, acquiring, carving) or
    /// "files" (extracting a filesystem's files).
    pub unit: &'static str,
    pub done: u64,
    pub total: u64,
    pub rescued: u64,
    pub bad: u64,
    pub rate: f64,
    pub elapsed: Duration,
    /// Artifacts found so far: while extracting, every artifact recorded for this
    /// evidence item (earlier sessions' included); while carving, the candidates.
    pub found: u64,
    /// Unreadable bytes met so far: zero-filled while hashing or acquiring, or inside
    /// the recorded artifacts while extracting.
    pub unreadable: u64,
}

impl JobProgress {
    /// Progress through items counted one by one (files, reports), nothing found
    /// or unreadable along the way.
    pub fn items(
        job: &'static str,
        phase: String,
        unit: &'static str,
        done: u64,
        total: u64,
        elapsed: Duration,
    ) -> JobProgress {
        JobProgress {
            job,
            phase,
            unit,
            done,
            total,
            rescued: done,
            bad: 0,
            rate: done as f64 / elapsed.as_secs_f64().max(1e-9),
            elapsed,
            found: 0,
            unreadable: 0,
        }
    }

    /// How far along, 0 to 1.
    pub fn fraction(&self) -> f64 {
        if self.total > 0 {
            (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// A text bar `width` characters wide: `#` done, `.` to do.
    pub fn bar(&self, width: usize) -> String {
        let filled = ((self.fraction() * width as f64) as usize).min(width);
        format!("{}{}", "#".repeat(filled), ".".repeat(width - filled))
    }

    pub fn eta(&self) -> Option<Duration> {
        (self.rate > 0.0 && self.total >= self.done)
            .then(|| Duration::from_secs_f64((self.total - self.done) as f64 / self.rate))
    }

    pub fn to_json(&self) -> Value {
        json!({
            "event": "progress",
            "job": self.job,
            "phase": self.phase,
            "unit": self.unit,
            "done": self.done,
            "total": self.total,
            "rescued": self.rescued,
            "bad": self.bad,
            "rate_bytes_per_s": self.rate.round(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "eta_s": self.eta().map(|d| d.as_secs()),
            "found": self.found,
            "unreadable": self.unreadable,
        })
    }
}

/// Sizes for people: 1023 B, 1.5 KiB, 2.0 GiB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Sizes like 650MiB, 1.4GiB, 700MB, 4k, 1048576 (binary units for K/M/G/T and
/// KiB..TiB, decimal for KB..TB).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "tb" => 1e12,
        u => return Err(format!("{s:?}: unknown size unit {u:?}")),
    };
    let v = n * mult;
    if !(v.is_finite() && v >= 0.0 && v < u64::MAX as f64) {
        return Err(format!("not a size: {s:?}"));
    }
    Ok(v as u64)
}

/// Seconds as h:mm:ss.
pub fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

pub type ProgressFn<'a> = &'a mut dyn FnMut(&JobProgress);

pub fn case_new(dir: &Path, info: &CaseInfo) -> Result<Store, Failure> {
    Store::create(dir, info).map_err(fail)
}

/// A new case whose custody events are signed with the examiner's Ed25519 key
/// (`dredge key new`); `None` is [`case_new`].
pub fn case_new_signed(
    dir: &Path,
    info: &CaseInfo,
    signing_key: Option<&Path>,
) -> Result<Store, Failure> {
    Store::create_signed(dir, info, signing_key).map_err(fail)
}

pub fn open_case(dir: &Path) -> Result<Store, Failure> {
    Store::open(dir).map_err(fail)
}

fn abs(p: &Path) -> String {
    std::path::absolute(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// Takes the case for a job (add, acquire, scan), then records as interrupted the
/// jobs whose process died: holding the lock, no job marked running can still be
/// alive. Their units stay as sealed; the next run of the job resumes from them.
pub(crate) fn lock_for_job(store: &mut Store) -> Result<CaseLock, Failure> {
    let lock = CaseLock::acquire(store.dir())?;
    close_dead_sessions(store)?;
    Ok(lock)
}

fn close_dead_sessions(store: &mut Store) -> Result<(), Failure> {
    for s in store.sessions().map_err(fail)? {
        if s.status == "running" && matches!(s.command.as_str(), "add" | "acquire" | "scan") {
            store
                .end_session(
                    s.id,
                    SessionStatus::Interrupted,
                    json!({"found_dead": "no process held the case: the job was killed or crashed"}),
                )
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// Ends a session that failed, recording why, and passes the failure on.
fn close_failed(store: &mut Store, sid: i64, f: Failure) -> Failure {
    let _ = store.end_session(sid, SessionStatus::Failed, json!({"error": f.0}));
    f
}

/// What an E01 says about itself, and whether its content matches the hashes it
/// stores.
fn ewf_extra(meta: Option<&dredge_image::EwfMeta>, d: &ImageDigests) -> Value {
    let Some(m) = meta else {
        return json!({});
    };
    let check = |stored: &Option<String>, actual: &Option<String>| match (stored, actual) {
        (None, _) => "not stored",
        (Some(_), None) => "not computed (--hash)",
        (Some(s), Some(a)) if s == a => "match",
        (Some(_), Some(_)) => "MISMATCH",
    };
    json!({"ewf": {
        "stored_md5": m.stored_md5,
        "stored_sha1": m.stored_sha1,
        "stored_md5_check": check(&m.stored_md5, &d.md5),
        "stored_sha1_check": check(&m.stored_sha1, &d.sha1),
        "header": m.header.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, Value>>(),
        "acquisition_errors": m.acquisition_errors,
        "bytes_per_sector": m.bytes_per_sector,
        "sectors_per_chunk": m.sectors_per_chunk,
        "problems": m.problems,
    }})
}

fn is_block_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p)
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false)
}

pub(crate) fn hash_with_progress(
    src: &dyn ImageSource,
    algorithms: Algorithms,
    job: &'static str,
    phase: &str,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<dredge_hash::SourceHash, Failure> {
    let total = src.size();
    let start = Instant::now();
    let mut last = Instant::now();
    hash_source(src, algorithms, interrupt, |done, unreadable| {
        if last.elapsed() >= Duration::from_millis(200) || done == total {
            last = Instant::now();
            let el = start.elapsed();
            progress(&JobProgress {
                job,
                phase: phase.to_string(),
                unit: "bytes",
                done,
                total,
                rescued: done - unreadable.min(done),
                bad: unreadable,
                rate: done as f64 / el.as_secs_f64().max(1e-9),
                elapsed: el,
                found: 0,
                unreadable,
            });
        }
    })
    .map_err(fail)
}

/// The digests recorded for an evidence item (at least one: the store checks it).
pub(crate) fn recorded_hashes(row: &EvidenceRow) -> Algorithms {
    Algorithms::of(&row_digests(row)).unwrap_or(Algorithms::ALL)
}

fn row_digests(row: &EvidenceRow) -> ImageDigests {
    ImageDigests {
        md5: row.md5.clone(),
        sha1: row.sha1.clone(),
        sha256: row.sha256.clone(),
    }
}

/// Compares every digest both sides hold; one recorded but not computed is a
/// mismatch too (the caller computes the recorded set, so that is a bug, and it
/// must not pass as a match).
pub(crate) fn compare(row: &EvidenceRow, d: &ImageDigests) -> EvidenceCheck {
    let recorded = row_digests(row);
    for a in Algorithm::ALL {
        let Some(r) = recorded.get(a) else { continue };
        let actual = d.get(a).unwrap_or("(not computed)");
        if r != actual {
            return EvidenceCheck::Mismatch {
                algorithm: a.label(),
                recorded: r.to_string(),
                actual: actual.to_string(),
            };
        }
    }
    EvidenceCheck::Match(Algorithms::of(&recorded).unwrap_or(Algorithms::ALL))
}

#[derive(Debug, Clone)]
pub struct AcquireRequest<'a> {
    pub source: &'a Path,
    pub image: &'a Path,
    pub map: &'a Path,
    pub case_dir: Option<&'a Path>,
    pub options: AcquireOptions,
    /// Write an E01 set (IMAGE must end in .E01) instead of a raw image.
    pub e01: Option<E01Options>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E01Options {
    pub segment_size: u64,
    pub compression: dredge_image::Compression,
    pub evidence_number: String,
    pub notes: String,
}

impl E01Options {
    /// 1.4 GiB, the CLI's `--segment-size` default.
    pub const DEFAULT_SEGMENT: u64 = 1_503_238_553;
}

/// Where the acquisition itself writes when the result is to be an E01: a raw
/// working image beside it, kept until the E01 is complete (so a killed run resumes).
fn working_raw(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".partial.raw");
    PathBuf::from(s)
}

fn unhex<const N: usize>(h: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = h
            .get(i * 2..i * 2 + 2)
            .and_then(|x| u8::from_str_radix(x, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// Turns the finished raw working image into an E01 set. Returns its segments.
fn write_e01(
    raw: &Path,
    image: &Path,
    opts: &E01Options,
    header: dredge_image::EwfHeader,
    result: &dredge_acquire::AcquireResult,
) -> Result<Vec<PathBuf>, Failure> {
    use std::io::Read;
    let d = result
        .digests
        .as_ref()
        .ok_or_else(|| Failure("no hashes: acquisition incomplete".into()))?;
    let err = |e: std::io::Error| Failure(format!("{}: cannot write E01: {e}", image.display()));
    let mut w = dredge_image::EwfWriter::create(
        image,
        result.size,
        opts.segment_size,
        opts.compression,
        header,
    )
    .map_err(err)?;
    let mut f = std::fs::File::open(raw).map_err(|e| Failure(format!("{}: {e}", raw.display())))?;
    let mut buf = vec![0u8; w.chunk_size()];
    let mut left = result.size;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        f.read_exact(&mut buf[..n])
            .map_err(|e| Failure(format!("{}: {e}", raw.display())))?;
        w.write_chunk(&buf[..n]).map_err(err)?;
        left -= n as u64;
    }
    let bad: Vec<(u64, u64)> = result
        .bad_extents
        .iter()
        .map(|e| (e.start / 512, e.end().div_ceil(512) - e.start / 512))
        .collect();
    // The acquisition hashes MD5 and SHA-1 whenever it writes an E01 (its hash
    // sections hold them); a zero digest would be a false record, so refuse.
    let (Some(md5), Some(sha1)) = (&d.md5, &d.sha1) else {
        return Err(Failure(format!(
            "{}: an E01 stores MD5 and SHA-1, and they were not computed",
            image.display()
        )));
    };
    w.finish(&unhex::<16>(md5), &unhex::<20>(sha1), &bad)
        .map_err(err)
}

#[derive(Debug, Clone)]
pub struct AcquireReport {
    pub outcome: Outcome,
    pub result: dredge_acquire::AcquireResult,
    pub evidence: Option<EvidenceRow>,
}

/// Images a (possibly failing) device; with a case, records the acquisition and
/// registers the image as evidence.
pub fn acquire(
    req: &AcquireRequest<'_>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<AcquireReport, Failure> {
    let src_abs = abs(req.source);
    if let (Ok(a), Ok(b)) = (
        std::fs::canonicalize(req.source),
        std::fs::canonicalize(req.image),
    ) {
        if a == b {
            return Err(fail(format!(
                "{}: the image would overwrite the source",
                req.image.display()
            )));
        }
    }
    let mut store = match req.case_dir {
        Some(d) => Some(open_case(d)?),
        None => None,
    };
    let _lock = match store.as_mut() {
        Some(st) => Some(lock_for_job(st)?),
        None => None,
    };
    let params = json!({
        "source": src_abs,
        "source_device": describe_source(req.source),
        "image": abs(req.image),
        "map": abs(req.map),
        "retries": req.options.retries,
        "cluster_size": req.options.cluster,
        "map_interval_s": req.options.map_interval.as_secs_f64(),
        "hash": acquire_hashes(req).names(),
        "format": if req.e01.is_some() { "e01" } else { "raw" },
        "e01": req.e01.as_ref().map(|o| json!({
            "segment_size": o.segment_size,
            "compression": match o.compression {
                Compression::None => "none",
                Compression::Fast => "fast",
                Compression::Best => "best",
            },
            "evidence_number": o.evidence_number,
            "notes": o.notes,
        })),
    });
    let sid = match store.as_mut() {
        Some(s) => Some(s.begin_session("acquire", params.clone()).map_err(fail)?),
        None => None,
    };
    if req.e01.is_some() {
        let ok = req
            .image
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("e01"));
        if !ok {
            let f = fail(format!(
                "{}: an E01 image's name must end in .E01",
                req.image.display()
            ));
            return Err(match (store.as_mut(), sid) {
                (Some(s), Some(id)) => close_failed(s, id, f),
                _ => f,
            });
        }
    }
    let header = dredge_image::EwfHeader {
        case_number: store
            .as_ref()
            .and_then(|s| s.case().ok())
            .and_then(|c| c.info.case_number)
            .unwrap_or_default(),
        examiner: store
            .as_ref()
            .and_then(|s| s.case().ok())
            .map(|c| c.info.examiner)
            .unwrap_or_default(),
        description: format!("acquired by dredge from {src_abs}"),
        evidence_number: req
            .e01
            .as_ref()
            .map(|o| o.evidence_number.clone())
            .unwrap_or_default(),
        notes: req
            .e01
            .as_ref()
            .map(|o| o.notes.clone())
            .unwrap_or_default(),
        acquired: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    let result = run_acquire(req, interrupt, progress).and_then(|(outcome, r)| {
        let segments = match (&req.e01, &r.digests) {
            (Some(opts), Some(_)) => {
                let raw = working_raw(req.image);
                let segs = write_e01(&raw, req.image, opts, header, &r)?;
                let _ = std::fs::remove_file(&raw);
                segs
            }
            _ => vec![req.image.to_path_buf()],
        };
        Ok((outcome, r, segments))
    });
    let result = result.map(|(o, r, s)| (o, r, s.iter().map(|p| abs(p)).collect::<Vec<_>>()));
    let (Some(store), Some(sid)) = (store.as_mut(), sid) else {
        return result.map(|(outcome, result, _)| AcquireReport {
            outcome,
            result,
            evidence: None,
        });
    };
    let (outcome, result, segments) = result.map_err(|f| close_failed(store, sid, f))?;
    let summary = json!({
        "rescued": result.rescued,
        "bad_bytes": result.bad_bytes,
        "read_errors": result.read_errors,
        "resumed": result.resumed,
        "elapsed_s": result.elapsed.as_secs_f64(),
    });
    let mut evidence = None;
    if let Some(d) = &result.digests {
        let gaps: Vec<(u64, u64, String)> = result
            .bad_extents
            .iter()
            .map(|e| (e.start, e.len, "acquisition-unreadable".to_string()))
            .collect();
        let map_sha256 = std::fs::read(req.map).ok().map(|b| sha256_hex(&b));
        let row = store
            .add_evidence(
                &NewEvidence {
                    path: abs(req.image),
                    segments,
                    kind: if req.e01.is_some() {
                        "ewf".into()
                    } else {
                        "acquired".into()
                    },
                    size: result.size,
                    md5: d.md5.clone(),
                    sha1: d.sha1.clone(),
                    sha256: d.sha256.clone(),
                    // An E01 carries its unreadable sectors itself (error2).
                    map_path: if req.e01.is_some() {
                        None
                    } else {
                        Some(abs(req.map))
                    },
                    map_sha256,
                    bad_bytes: result.bad_bytes,
                    gaps,
                    extra: json!({"acquisition": params, "read_errors": result.read_errors}),
                },
                Some(sid),
            )
            .map_err(|e| close_failed(store, sid, fail(e)))?;
        evidence = Some(row);
    }
    store
        .end_session(sid, outcome.status(), summary)
        .map_err(fail)?;
    Ok(AcquireReport {
        outcome,
        result,
        evidence,
    })
}

/// What an examiner needs to identify the source later: size, sector size, and for
/// block devices the model and serial the kernel reports.
fn describe_source(p: &Path) -> Value {
    let dev = match FileDevice::open(p) {
        Ok(d) => d,
        Err(e) => return json!({"error": e.to_string()}),
    };
    let mut v = json!({
        "size": dev.size(),
        "sector_size": dev.sector_size(),
        "block_device": dev.is_block_device(),
    });
    if dev.is_block_device() {
        if let Some(name) = std::fs::canonicalize(p)
            .ok()
            .and_then(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
        {
            let sys = Path::new("/sys/class/block").join(&name);
            for (key, rel) in [
                ("model", "device/model"),
                ("vendor", "device/vendor"),
                ("serial", "device/serial"),
                ("wwid", "device/wwid"),
            ] {
                if let Ok(t) = std::fs::read_to_string(sys.join(rel)) {
                    v[key] = json!(t.trim());
                }
            }
        }
    }
    v
}

/// The digests an acquisition computes: the examiner's choice, plus MD5 and SHA-1
/// when it writes an E01, whose hash sections hold them.
fn acquire_hashes(req: &AcquireRequest<'_>) -> Algorithms {
    match req.e01 {
        Some(_) => req.options.hash.with(Algorithm::Md5).with(Algorithm::Sha1),
        None => req.options.hash,
    }
}

fn run_acquire(
    req: &AcquireRequest<'_>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(Outcome, dredge_acquire::AcquireResult), Failure> {
    let dev = FileDevice::open(req.source).map_err(fail)?;
    if dev.size() == 0 {
        return Err(fail(format!(
            "{}: is empty (0 bytes): nothing to acquire",
            req.source.display()
        )));
    }
    let mut cb = |p: &dredge_acquire::Progress| {
        progress(&JobProgress {
            job: "acquire",
            phase: format!("{} pass {}", p.phase.as_str(), p.pass),
            unit: "bytes",
            done: p.rescued + p.bad,
            total: p.size,
            rescued: p.rescued,
            bad: p.bad,
            rate: p.rate(),
            elapsed: p.elapsed,
            found: 0,
            unreadable: p.bad,
        })
    };
    let target = if req.e01.is_some() {
        working_raw(req.image)
    } else {
        req.image.to_path_buf()
    };
    let r = dredge_acquire::acquire(
        &dev,
        &target,
        req.map,
        dredge_acquire::AcquireOptions {
            hash: acquire_hashes(req),
            ..req.options.clone()
        },
        interrupt,
        &mut cb,
    )
    .map_err(fail)?;
    let outcome = if r.interrupted() {
        Outcome::Interrupted
    } else if r.bad_bytes > 0 {
        Outcome::CompleteWithGaps
    } else {
        Outcome::Complete
    };
    Ok((outcome, r))
}

/// Each artifact's modification time (UTC), for sorting: the filesystem's own
/// (NTFS $STANDARD_INFORMATION, ext inode, FAT entry) before a $FILE_NAME copy, as the
/// reports choose it.
pub fn modified_times(store: &Store) -> Result<std::collections::HashMap<String, String>, Failure> {
    let mut by_id: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for (id, source, utc) in store.all_times().map_err(fail)? {
        by_id.entry(id).or_default().push((source, utc));
    }
    Ok(by_id
        .into_iter()
        .filter_map(|(id, t)| Some((id, dredge_report::pick_time(&t, 'm')?.1.clone())))
        .collect())
}

/// An evidence item opened for viewing, read-only: bytes at any offset, with the
/// ranges that could not be read (zero-filled in the bytes, never to be shown as
/// data). Nothing is parsed.
pub struct ImageView {
    src: Box<dyn ImageSource>,
    pub size: u64,
}

/// Bytes read for viewing, and the unreadable ranges among them as (image offset,
/// length).
pub type Viewed = (Vec<u8>, Vec<(u64, u64)>);

impl ImageView {
    /// Up to `len` bytes from `offset` (fewer at the end), with their unreadable ranges.
    pub fn read(&self, offset: u64, len: usize) -> Result<Viewed, Failure> {
        let n = (self.size.saturating_sub(offset)).min(len as u64) as usize;
        let mut buf = vec![0u8; n];
        let r = self.src.read_at(offset, &mut buf).map_err(fail)?;
        let bad = r
            .synthesized
            .iter()
            .map(|s| (s.extent.start, s.extent.len))
            .collect();
        Ok((buf, bad))
    }
}

/// Opens a registered evidence item for viewing, through its mapfile if it has one.
pub fn open_image(ev: &EvidenceRow) -> Result<ImageView, Failure> {
    let map = ev.map_path.as_ref().map(PathBuf::from);
    let e = open_evidence(Path::new(&ev.path), map.as_deref()).map_err(fail)?;
    Ok(ImageView {
        size: e.source.size(),
        src: e.source,
    })
}

/// A report as written.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// The store-side verification: Ok(events) or the first break.
    pub integrity: Result<usize, ChainBreak>,
}

/// Writes a report from the store alone (default `CASE_DIR/reports/report-TIME.EXT`),
/// atomically, with a `.sha256` file beside it, and records it in the custody log.
/// A store that fails verification still gets its report, which says so first.
pub fn report(
    case_dir: &Path,
    format: ReportFormat,
    out: Option<&Path>,
) -> Result<ReportOutcome, Failure> {
    let mut store = open_case(case_dir)?;
    // Verify before this run appends to the log.
    let model = dredge_report::Model::gather(&store).map_err(fail)?;
    let out = match out {
        Some(p) => p.to_path_buf(),
        None => {
            let stamp: String = model
                .generated_utc
                .chars()
                .filter(char::is_ascii_digit)
                .take(14)
                .collect();
            case_dir
                .join("reports")
                .join(format!("report-{stamp}.{}", format.extension()))
        }
    };
    let sid = store
        .begin_session("report", json!({"format": format.name(), "out": abs(&out)}))
        .map_err(fail)?;
    let result = (|| -> Result<ReportOutcome, Failure> {
        let tmp = out.with_extension(format!("{}.partial", format.extension()));
        let file = std::fs::File::create(&tmp)
            .map_err(|e| Failure(format!("{}: cannot create: {e}", tmp.display())))?;
        let mut w = std::io::BufWriter::new(file);
        dredge_report::write(&store, &model, format, &mut w).map_err(fail)?;
        let file = w
            .into_inner()
            .map_err(|e| Failure(format!("{}: {}", tmp.display(), e.error())))?;
        file.sync_all()
            .map_err(|e| Failure(format!("{}: {e}", tmp.display())))?;
        std::fs::rename(&tmp, &out).map_err(|e| {
            Failure(format!(
                "{}: cannot rename to {}: {e}",
                tmp.display(),
                out.display()
            ))
        })?;
        let sha256 = dredge_hash::sha256_file(&out)
            .map_err(|e| Failure(format!("{}: {e}", out.display())))?;
        let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let side = PathBuf::from(format!("{}.sha256", out.display()));
        std::fs::write(&side, format!("{sha256}  {name}\n"))
            .map_err(|e| Failure(format!("{}: {e}", side.display())))?;
        Ok(ReportOutcome {
            path: out.clone(),
            sha256,
            bytes,
            integrity: model.integrity.clone(),
        })
    })();
    match &result {
        Ok(r) => {
            store
                .append_event(
                    "report.generate",
                    json!({"format": format.name(), "path": abs(&r.path), "sha256": r.sha256, "bytes": r.bytes,
                           "custody_verified": r.integrity.is_ok()}),
                    Some(sid),
                )
                .map_err(fail)?;
            store
                .end_session(sid, SessionStatus::Complete, json!({"sha256": r.sha256}))
                .map_err(fail)?;
        }
        Err(e) => {
            let _ = store.end_session(sid, SessionStatus::Failed, json!({"error": e.0}));
        }
    }
    result
}

/// One exported file.
#[derive(Debug, Clone)]
pub struct Exported {
    pub artifact_id: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// Copies artifacts' extracted contents to `dest`, checks each copy against the
/// SHA-256 recorded for it, appends `hash  name` lines to `dest/MANIFEST.sha256`
/// (`sha256sum -c` checks them), and records the export in the custody log.
pub fn export(case_dir: &Path, ids: &[String], dest: &Path) -> Result<Vec<Exported>, Failure> {
    let mut store = open_case(case_dir)?;
    let sid = store
        .begin_session("export", json!({"artifacts": ids, "dest": abs(dest)}))
        .map_err(fail)?;
    let result = (|| -> Result<Vec<Exported>, Failure> {
        std::fs::create_dir_all(dest)
            .map_err(|e| Failure(format!("{}: cannot create: {e}", dest.display())))?;
        let all = store.artifacts(None).map_err(fail)?;
        let mut out = Vec::new();
        let mut manifest = String::new();
        for id in ids {
            let a = all
                .iter()
                .find(|a| &a.id == id)
                .ok_or_else(|| Failure(format!("{}: no artifact {id}", case_dir.display())))?;
            let (Some(rel), Some((_, _, sha256))) = (&a.extracted, &a.digests) else {
                return Err(Failure(format!("{id}: has no extracted content to export")));
            };
            let base = a.path.rsplit('/').next().unwrap_or("file");
            let mut name = safe_component(base);
            let mut n = 1;
            while dest.join(&name).exists() {
                n += 1;
                name = format!("{n}-{}", safe_component(base));
            }
            let to = dest.join(&name);
            std::fs::copy(case_dir.join(rel), &to)
                .map_err(|e| Failure(format!("{}: cannot copy to {}: {e}", rel, to.display())))?;
            let got = dredge_hash::sha256_file(&to)
                .map_err(|e| Failure(format!("{}: {e}", to.display())))?;
            if &got != sha256 {
                return Err(Failure(format!(
                    "{}: SHA-256 is {got}, the case records {sha256}: the extracted copy changed",
                    to.display()
                )));
            }
            manifest += &format!("{got}  {name}\n");
            out.push(Exported {
                artifact_id: id.clone(),
                path: to,
                sha256: got,
            });
        }
        use std::io::Write;
        let mpath = dest.join("MANIFEST.sha256");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&mpath)
            .and_then(|mut f| f.write_all(manifest.as_bytes()))
            .map_err(|e| Failure(format!("{}: {e}", mpath.display())))?;
        Ok(out)
    })();
    match &result {
        Ok(files) => {
            store
                .append_event(
                    "export",
                    json!({"dest": abs(dest), "files": files.iter().map(|f| json!({"artifact": f.artifact_id, "path": abs(&f.path), "sha256": f.sha256})).collect::<Vec<_>>()}),
                    Some(sid),
                )
                .map_err(fail)?;
            store
                .end_session(sid, SessionStatus::Complete, json!({"files": files.len()}))
                .map_err(fail)?;
        }
        Err(e) => {
            let _ = store.end_session(sid, SessionStatus::Failed, json!({"error": e.0}));
        }
    }
    result
}
