//! Long jobs as values: what the TUI starts on a worker thread, and what it rebuilds
//! from a recorded session to resume one that was interrupted or killed. Each runs
//! the same session function the CLI runs, so it is recorded the same way.

use crate::{
    acquire, add_evidence, report, scan, AcquireOptions, AcquireRequest, E01Options, Failure,
    Outcome, ProgressFn, ReportFormat, ScanOptions, SessionCommand, SessionRow, SessionStatus,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Register an image (raw, split or E01), reading through its mapfile if given.
    Add {
        image: PathBuf,
        map: Option<PathBuf>,
    },
    Scan(ScanOptions),
    /// Image a device or file into `image` (raw, or an E01 set with `e01`) and
    /// register it; resumes from `map` when that exists.
    Acquire {
        source: PathBuf,
        image: PathBuf,
        map: Option<PathBuf>,
        retries: u32,
        cluster: usize,
        /// Seconds between mapfile saves.
        map_interval: f64,
        e01: Option<E01Options>,
    },
    /// Court reports from the store, into CASE/reports (each hashed and logged).
    Report(Vec<ReportFormat>),
    /// The custody chain, every evidence hash and every extracted file re-checked.
    Verify,
    /// Copies of artifacts into `dest`, checked against their hashes, with a manifest.
    Export {
        ids: Vec<String>,
        dest: PathBuf,
    },
}

impl PartialEq for ScanOptions {
    fn eq(&self, o: &Self) -> bool {
        self.to_args() == o.to_args()
    }
}

/// How a job ended, in one line for a status bar.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub outcome: Outcome,
    pub summary: String,
}

fn default_map(image: &Path) -> PathBuf {
    let mut s = image.as_os_str().to_owned();
    s.push(".map");
    PathBuf::from(s)
}

impl Job {
    pub fn name(&self) -> &'static str {
        match self {
            Job::Add { .. } => "add",
            Job::Scan(_) => "scan",
            Job::Acquire { .. } => "acquire",
            Job::Report(_) => "report",
            Job::Verify => "verify",
            Job::Export { .. } => "export",
        }
    }

    /// One line saying what the job does, for the job list.
    pub fn describe(&self) -> String {
        match self {
            Job::Add { image, map } => format!(
                "add {}{}",
                image.display(),
                map.as_ref()
                    .map_or(String::new(), |m| format!(" (mapfile {})", m.display()))
            ),
            Job::Scan(o) => format!(
                "scan: carve {}, filesystems {}, re-hash {}, {} threads",
                o.carve.as_str(),
                if o.filesystems { "on" } else { "off" },
                if o.rehash { "on" } else { "off" },
                o.threads
            ),
            Job::Acquire { source, image, .. } => {
                format!("acquire {} -> {}", source.display(), image.display())
            }
            Job::Report(f) => format!(
                "reports: {}",
                f.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            ),
            Job::Verify => "verify: custody chain, evidence hashes, extracted files".into(),
            Job::Export { ids, dest } => {
                format!("export {} files to {}", ids.len(), dest.display())
            }
        }
    }

    /// Runs the job in the case, as its own recorded session.
    pub fn run(
        &self,
        case_dir: &Path,
        interrupt: &AtomicBool,
        progress: ProgressFn<'_>,
    ) -> Result<JobEnd, Failure> {
        match self {
            Job::Add { image, map } => {
                let r = add_evidence(case_dir, image, map.as_deref(), interrupt, progress)?;
                let summary = match &r.evidence {
                    Some(e) => {
                        let (algorithm, digest) = e.strongest_digest();
                        format!(
                            "{} registered: {} bytes, {} unreadable, {algorithm} {digest}",
                            e.label, e.size, e.bad_bytes
                        )
                    }
                    None => format!("adding {} was interrupted", image.display()),
                };
                Ok(JobEnd {
                    outcome: r.outcome,
                    summary,
                })
            }
            Job::Scan(o) => {
                let r = scan(case_dir, o, interrupt, progress)?;
                let mut summary = format!(
                    "scan {}: {}",
                    match r.outcome {
                        Outcome::Interrupted => "interrupted",
                        _ => "complete",
                    },
                    r.summary.describe()
                );
                let mut outcome = r.outcome;
                // With keys: the disk images inside encrypted Apple disk
                // images, and (with `container_files`) the container files
                // the keys open: what `recover` and `scan` do after their scan.
                if outcome != Outcome::Interrupted {
                    for f in crate::open_after_scan(case_dir, o, interrupt, progress)? {
                        summary.push_str(&format!(
                            "; {}, {}",
                            f.said(),
                            f.report.summary.describe()
                        ));
                        if f.report.outcome.exit_code() > outcome.exit_code() {
                            outcome = f.report.outcome;
                        }
                    }
                }
                Ok(JobEnd { outcome, summary })
            }
            Job::Report(formats) => Job::reports(case_dir, formats, interrupt, progress),
            Job::Verify => Job::verify(case_dir, interrupt, progress),
            Job::Export { ids, dest } => {
                let files = crate::export(case_dir, ids, dest)?;
                let summary = match files.as_slice() {
                    [f] => format!(
                        "exported {} (SHA-256 {}…, checked) to {}",
                        f.path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        f.sha256.get(..16).unwrap_or(&f.sha256),
                        dest.display()
                    ),
                    fs => format!(
                        "exported {} files (each checked against its SHA-256) to {}, listed in MANIFEST.sha256",
                        fs.len(),
                        dest.display()
                    ),
                };
                Ok(JobEnd {
                    outcome: Outcome::Complete,
                    summary,
                })
            }
            Job::Acquire {
                source,
                image,
                map,
                retries,
                cluster,
                map_interval,
                e01,
            } => {
                let map = map.clone().unwrap_or_else(|| default_map(image));
                let req = AcquireRequest {
                    source,
                    image,
                    map: &map,
                    case_dir: Some(case_dir),
                    options: AcquireOptions {
                        cluster: (*cluster).clamp(512, 64 << 20) / 512 * 512,
                        retries: *retries,
                        map_interval: Duration::from_secs_f64(map_interval.clamp(0.0, 3600.0)),
                        command_line: format!("dredge tui: {}", self.describe()),
                        ..Default::default()
                    },
                    e01: e01.clone(),
                };
                let r = acquire(&req, interrupt, progress)?;
                Ok(JobEnd {
                    outcome: r.outcome,
                    summary: format!(
                        "acquire {}: {} bytes rescued, {} unreadable{}",
                        if r.outcome == Outcome::Interrupted {
                            "interrupted (resumes from its mapfile)"
                        } else {
                            "complete"
                        },
                        r.result.rescued,
                        r.result.bad_bytes,
                        r.evidence
                            .as_ref()
                            .map_or(String::new(), |e| format!(", registered as {}", e.label))
                    ),
                })
            }
        }
    }

    /// Writes each report in turn. A store that fails verification still gets its
    /// reports (they say so first); the job then fails naming the break.
    fn reports(
        case_dir: &Path,
        formats: &[ReportFormat],
        interrupt: &AtomicBool,
        progress: ProgressFn<'_>,
    ) -> Result<JobEnd, Failure> {
        let started = std::time::Instant::now();
        let mut written = Vec::new();
        for (i, f) in formats.iter().enumerate() {
            if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(JobEnd {
                    outcome: Outcome::Interrupted,
                    summary: format!("reports interrupted after {}", written.join(", ")),
                });
            }
            progress(&crate::JobProgress::items(
                "report",
                format!("writing the {} report", f.name()),
                "reports",
                i as u64,
                formats.len() as u64,
                started.elapsed(),
            ));
            let r = report(case_dir, *f, None)?;
            if let Err(b) = &r.integrity {
                return Err(Failure(format!(
                    "{}: written, but the case FAILED VERIFICATION at custody event {}: {}",
                    r.path.display(),
                    b.seq,
                    b.detail
                )));
            }
            written.push(format!(
                "{} (SHA-256 {}…)",
                r.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                r.sha256.get(..16).unwrap_or(&r.sha256)
            ));
        }
        Ok(JobEnd {
            outcome: Outcome::Complete,
            summary: format!("reports written to reports/: {}", written.join(", ")),
        })
    }

    /// A failed check is the job's failure, naming what failed first.
    fn verify(
        case_dir: &Path,
        interrupt: &AtomicBool,
        progress: ProgressFn<'_>,
    ) -> Result<JobEnd, Failure> {
        use crate::EvidenceCheck;
        let r = crate::verify(case_dir, interrupt, progress)?;
        if r.interrupted() {
            return Ok(JobEnd {
                outcome: Outcome::Interrupted,
                summary: "verification interrupted: nothing concluded".into(),
            });
        }
        if let Some(b) = &r.custody {
            return Err(Failure(format!(
                "VERIFICATION FAILED at custody event {}: {}",
                b.seq, b.detail
            )));
        }
        for (label, c) in &r.evidence {
            match c {
                EvidenceCheck::Match(_) | EvidenceCheck::Interrupted => {}
                EvidenceCheck::Mismatch {
                    algorithm,
                    recorded,
                    actual,
                } => {
                    return Err(Failure(format!(
                        "VERIFICATION FAILED: {label}: {algorithm} is {actual}, {recorded} was recorded"
                    )))
                }
                EvidenceCheck::Unreadable(e) => {
                    return Err(Failure(format!(
                        "VERIFICATION FAILED: {label} cannot be read: {e}"
                    )))
                }
            }
        }
        if let (_, Some((id, why))) = &r.artifacts {
            return Err(Failure(format!("VERIFICATION FAILED: {id}: {why}")));
        }
        Ok(JobEnd {
            outcome: Outcome::Complete,
            summary: format!(
                "custody record verified: {} events, chain intact; {} evidence items match their recorded digests; {} extracted files match",
                r.events,
                r.evidence.len(),
                r.artifacts.0
            ),
        })
    }

    /// The job a recorded session ran, to run it again (resume). None for commands
    /// that are not long jobs or arguments that do not say enough.
    pub fn from_session(s: &SessionRow) -> Option<Job> {
        let a = &s.args;
        match s.command_word()? {
            SessionCommand::Add => crate::register::resumed(a),
            SessionCommand::Scan => Some(Job::Scan(ScanOptions::from_args(a))),
            SessionCommand::Acquire => crate::acquire::resumed(a),
            _ => None,
        }
    }

    /// What a later run of the same job is recognised by.
    fn key(&self) -> (&'static str, Option<PathBuf>) {
        match self {
            Job::Add { image, .. } | Job::Acquire { image, .. } => {
                (self.name(), Some(image.clone()))
            }
            _ => (self.name(), None),
        }
    }
}

/// Jobs that did not finish: for each job (an image added or acquired, the case
/// scanned), the newest session that ran it, when that one was interrupted or is
/// still marked running after its process died. While a job holds the case, no
/// session marked running is counted: it may be that job. Oldest first.
/// `sessions` are the case's, oldest first; `job_running` whether a job holds the
/// case now (`crate::job_running`).
pub fn unfinished_jobs(sessions: &[SessionRow], job_running: bool) -> Vec<(SessionRow, Job)> {
    let mut newest: Vec<(SessionRow, Job)> = Vec::new();
    for s in sessions.iter().cloned() {
        let Some(job) = Job::from_session(&s) else {
            continue;
        };
        newest.retain(|(_, j)| j.key() != job.key());
        newest.push((s, job));
    }
    newest.retain(|(s, _)| match s.status_word() {
        Some(SessionStatus::Interrupted) => true,
        Some(SessionStatus::Running) => !job_running,
        _ => false,
    });
    newest
}

/// A session's arguments as one `key=value …` line (nested values left out).
pub fn args_line(s: &SessionRow) -> String {
    match &s.args {
        Value::Object(m) => {
            // What the session worked on comes first, whatever its key sorts as.
            let primary = |k: &str| !matches!(k, "image" | "source");
            let mut kv: Vec<(&String, &Value)> = m
                .iter()
                .filter(|(_, v)| !v.is_null() && !v.is_object())
                .collect();
            kv.sort_by_key(|(k, _)| primary(k));
            kv.into_iter()
                .map(|(k, v)| match v {
                    Value::String(t) => format!("{k}={t}"),
                    Value::Array(a) if a.iter().all(Value::is_string) => format!(
                        "{k}={}",
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    v => format!("{k}={v}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::unfinished_jobs;
    use crate::SessionRow;
    use serde_json::json;

    fn row(id: i64, command: &str, status: &str, image: &str) -> SessionRow {
        SessionRow {
            id,
            command: command.into(),
            args: json!({"image": image}),
            started_utc: "2026-12-01T00:00:00Z".into(),
            ended_utc: None,
            status: status.into(),
        }
    }

    #[test]
    fn only_the_words_dredge_writes_make_a_job_unfinished() {
        let rows = [
            row(1, "add", "interrupted", "a.img"),
            row(2, "add", "running", "b.img"),
            // Words no dredge writes (an edited row): never resumed.
            row(3, "add", "Interrupted", "c.img"),
            row(4, "Add", "interrupted", "d.img"),
            row(5, "add", "complete", "e.img"),
        ];
        let ids = |running| -> Vec<i64> {
            unfinished_jobs(&rows, running)
                .iter()
                .map(|(s, _)| s.id)
                .collect()
        };
        assert_eq!(ids(false), [1, 2]);
        // A session marked running may be the job holding the case now.
        assert_eq!(ids(true), [1]);
        // The newest session of a job decides: a later complete add of a.img ends it.
        let mut more = rows.to_vec();
        more.push(row(6, "add", "complete", "a.img"));
        assert!(unfinished_jobs(&more, false).iter().all(|(s, _)| s.id != 1));
    }
}
