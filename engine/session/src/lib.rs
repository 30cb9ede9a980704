//! Orchestration: each command the CLI or the TUI runs is a *session* recorded in
//! the case's custody log from start to end, whatever happens in between. Only this
//! crate knows every implementation (image readers, acquisition, store).

mod acquire;
mod analysis;
pub mod carve;
mod containers;
mod copybudget;
mod decrypted_images;
mod export_volume;
mod extract;
mod files;
mod fsunits;
mod guard;
mod hashes;
mod hunt;
pub mod jobs;
mod layout;
mod listing;
mod lock;
mod lvm;
mod names;
mod output;
mod pass;
mod pool;
mod range_merge;
pub mod ranges;
mod register;
pub mod scan;
mod scan_options;
mod shard;
mod spill;
mod sweep;
mod unit;
mod unlock;
mod verify;
mod view;

pub use acquire::{acquire, AcquireReport, AcquireRequest, E01Options};
pub use containers::{open_after_scan, open_container_files, OpenedFile, Opening};
pub use dredge_acquire::{AcquireOptions, Phase};
pub use dredge_core::{EntryKind, Gap, VolumeKind, Why, Word};
pub use dredge_crypt::KeySpec;
pub use dredge_hash::{Algorithm, Algorithms};
pub use dredge_image::Compression;
pub use dredge_report::Format as ReportFormat;
pub use dredge_report::{allocation, visible, Model as ReportModel};
pub use dredge_store::sign;
pub use dredge_store::{file_type, Browse, BrowseOrder, BrowseTerm, TreeItem, TreeKey};
pub use dredge_store::{
    Action, CaseInfo, ChainBreak, Event, EvidenceRow, SessionCommand, SessionRow, SessionStatus,
    Store,
};
pub use dredge_store::{
    ArtifactOrigin, ArtifactRecord, ArtifactRecovery, ArtifactStatus, FindingRecord, ImageRun,
    StoreError, VolumeRow, DB_NAME as CASE_DB,
};
pub use dredge_store::{MergeCount, ShardMark};
pub use export_volume::{export_volumes, ExportedVolume};
pub use guard::EvidenceGuard;
pub use hashes::{password_hashes, HashLine, HeaderOut};
pub use jobs::{args_line, unfinished_jobs, Job, JobEnd};
pub use listing::list_image;
pub use lock::{job_running, shard_lock, shard_running, CaseLock};
pub use names::safe_component;
pub use output::{export, report, Exported, ReportOutcome};
pub use range_merge::RangesMerged;
pub use ranges::{carve_range, range_count, RangeOutcome, RANGE_ALIGN};
pub use register::{
    add_evidence, add_evidence_hashing, add_evidence_one_pass, one_shot_state, AddResult,
    OneShotState,
};
pub use scan::Prepared;
pub use scan::{scan, scan_only, scan_precarved, CarveScope, ScanOptions, ScanReport, ScanSummary};
pub use shard::{
    announce_batch_item, case_merge, end_shard, job_digest, shard_case, shards_dir,
    shards_of_items, units, MergeReport, ShardCase, ShardSpec, Unit,
};
pub use verify::{verify, verify_against, Anchors, EvidenceCheck, VerifyReport};
pub use view::{open_image, pick_modified, ImageView, Viewed};

use dredge_core::ImageSource;
use dredge_hash::{hash_source, ImageDigests};
use serde_json::{json, Value};
use std::path::Path;
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

impl Word for Outcome {
    const ALL: &'static [Self] = &[
        Outcome::Complete,
        Outcome::CompleteWithGaps,
        Outcome::Interrupted,
    ];
    const WORDS: &'static [&'static str] = &["Complete", "CompleteWithGaps", "Interrupted"];
}

impl Outcome {
    /// The word the CLI's JSON `result` line gives (its `Word`): written out,
    /// not taken from `Debug`, so renaming a variant cannot change what a
    /// script reads.
    pub fn name(self) -> &'static str {
        self.word()
    }

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

/// The size of the evidence `image` presents (an E01's or a DMG's media, not
/// its file).
pub fn evidence_size(image: &Path, map: Option<&Path>) -> Result<u64, Failure> {
    Ok(dredge_image::open_evidence(image, map)
        .map_err(fail)?
        .source
        .size())
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
        if s.status_word() == Some(SessionStatus::Running)
            && s.command_word().is_some_and(|c| c.is_job())
        {
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

/// Runs `work` as one recorded session of `command` with its `args`: begins
/// it, and ends it whatever the work does, with the status and summary the work
/// returns, or as failed with the reason when it fails. Every command that
/// records a session (add, acquire, scan, verify, report, export) goes through
/// here, so no failure leaves a session marked running. (A killed process
/// leaves it running; the next job on the case closes it as interrupted,
/// [`lock_for_job`].)
pub(crate) fn in_session<T>(
    store: &mut Store,
    command: SessionCommand,
    args: Value,
    work: impl FnOnce(&mut Store, i64) -> Result<(T, SessionStatus, Value), Failure>,
) -> Result<T, Failure> {
    let sid = store.begin_session(command, args).map_err(fail)?;
    match work(store, sid) {
        Ok((done, status, summary)) => {
            store.end_session(sid, status, summary).map_err(fail)?;
            Ok(done)
        }
        Err(f) => Err(close_failed(store, sid, f)),
    }
}

/// [`in_session`] for work that is one recorded action (a report, an export):
/// on success the action's event, which `describe` gives with the session's
/// summary, then a complete end.
pub(crate) fn in_action_session<T>(
    store: &mut Store,
    command: SessionCommand,
    args: Value,
    action: Action,
    work: impl FnOnce(&mut Store) -> Result<T, Failure>,
    describe: impl FnOnce(&T) -> (Value, Value),
) -> Result<T, Failure> {
    in_session(store, command, args, |store, sid| {
        let done = work(store)?;
        let (event, summary) = describe(&done);
        store.append_event(action, event, Some(sid)).map_err(fail)?;
        Ok((done, SessionStatus::Complete, summary))
    })
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

/// What an Apple disk image's stored checksums came to as the registration
/// read it: each block table's CRC-32 and the master CRC-32.
pub(crate) fn dmg_extra(c: &dredge_image::DmgChecks) -> Value {
    use dredge_image::TableCheck;
    let (tables, master) = c.report();
    let tables: Vec<Value> = tables
        .into_iter()
        .map(|(name, (kind, stored), got)| {
            let (computed, check) = match (kind, got) {
                (2, Some(TableCheck::Computed(v))) => (
                    Some(format!("{v:08x}")),
                    if v == stored { "match" } else { "MISMATCH" },
                ),
                (2, Some(TableCheck::Undecodable)) => {
                    (None, "not checked (chunks that do not decode)")
                }
                (2, None) => (None, "not checked (not read whole)"),
                _ => (None, "not stored"),
            };
            json!({"table": name, "stored_crc32": (kind == 2).then(|| format!("{stored:08x}")),
                   "computed_crc32": computed, "check": check})
        })
        .collect();
    json!({"dmg": {"tables": tables, "master_crc32_check": master}})
}

/// The DMG checks as lines for a person: one line when every stored CRC-32
/// matched, else one per table that did not, and the master's.
pub(crate) fn dmg_lines(c: &dredge_image::DmgChecks) -> Vec<String> {
    use dredge_image::TableCheck;
    let (tables, master) = c.report();
    let mut out: Vec<String> = tables
        .iter()
        .filter_map(|(name, (kind, stored), got)| match (kind, got) {
            (2, Some(TableCheck::Computed(v))) if v == stored => None,
            (2, Some(TableCheck::Computed(v))) => Some(format!(
                "DMG table {name:?}: stored CRC-32 {stored:08x} does NOT match the content ({v:08x})"
            )),
            (2, _) => Some(format!("DMG table {name:?}: stored CRC-32 not checked (chunks not read or not decoded)")),
            _ => None,
        })
        .collect();
    out.push(format!("DMG master CRC-32: {master}"));
    if out.len() == 1 && master == "match" {
        out = vec![format!(
            "DMG stored CRC-32s of {} block tables and the master CRC-32 match the content",
            tables.len()
        )];
    }
    out
}

/// A DMG whose stored CRC-32s do not hold: the first table (or the master)
/// that does not, as (what, stored, computed).
pub(crate) fn dmg_mismatch(c: &dredge_image::DmgChecks) -> Option<(String, String, String)> {
    use dredge_image::TableCheck;
    let (tables, master) = c.report();
    for (name, (kind, stored), got) in tables {
        if let (2, Some(TableCheck::Computed(v))) = (kind, got) {
            if v != stored {
                return Some((name, format!("{stored:08x}"), format!("{v:08x}")));
            }
        }
    }
    (master == "MISMATCH").then(|| {
        (
            "master".into(),
            "stored".into(),
            "other tables' CRC-32s".into(),
        )
    })
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

/// Unit tests count what each thread allocates, as the `dredge` binary does
/// (`dredge_core::memory`): the planning test measures what it holds.
#[cfg(test)]
#[global_allocator]
static COUNTING: dredge_core::memory::Counting<std::alloc::System> =
    dredge_core::memory::Counting(std::alloc::System);

#[cfg(test)]
mod tests {
    #[test]
    fn every_choice_a_user_names_has_one_word_that_names_it_back() {
        dredge_core::check_words::<crate::CarveScope>();
        dredge_core::check_words::<crate::Compression>();
        dredge_core::check_words::<crate::ReportFormat>();
        dredge_core::check_words::<crate::Outcome>();
        assert_eq!(crate::Outcome::CompleteWithGaps.name(), "CompleteWithGaps");
        assert_eq!(
            <crate::CarveScope as crate::Word>::choices(),
            "unallocated, all or none"
        );
    }

    #[test]
    fn a_session_ends_whatever_its_work_does() {
        use dredge_store::{CaseInfo, SessionCommand, SessionStatus, Store};
        let d = tempfile::tempdir().unwrap();
        let info = CaseInfo {
            case_number: None,
            examiner: "T".into(),
            description: None,
        };
        let mut store = Store::create(&d.path().join("case"), &info).unwrap();
        let failed: Result<(), _> = crate::in_session(
            &mut store,
            SessionCommand::Verify,
            serde_json::json!({}),
            |_, _| Err(crate::Failure("the work failed".into())),
        );
        assert_eq!(failed.unwrap_err().0, "the work failed");
        let done = crate::in_session(
            &mut store,
            SessionCommand::Verify,
            serde_json::json!({}),
            |_, sid| Ok((sid, SessionStatus::Interrupted, serde_json::json!({"n": 1}))),
        )
        .unwrap();
        let sessions = store.sessions().unwrap();
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].status_word(), Some(SessionStatus::Failed));
        assert_eq!(sessions[1].id, done);
        assert_eq!(sessions[1].status_word(), Some(SessionStatus::Interrupted));
        assert!(sessions.iter().all(|s| s.ended_utc.is_some()));
        // The chain holds every begin and end.
        assert!(store.verify_chain().unwrap().is_ok());
    }
}
