//! Extraction: each file's content read through the image on a worker pool (every
//! synthesized range recorded as a gap in file offsets), written to its copy
//! (or the fallback path when the planned one cannot be made) and hashed; one
//! writer stores the rows. Each file is a unit (decision 0013).

use crate::pool::in_parallel;
use crate::unit::{contain, cut_short};
use crate::{fail, Failure, JobProgress, ProgressFn};
use dredge_core::{Entry, EntryKind, Finding, Gap, ImageSource, RunData, Why};
use dredge_hash::Digester;
use dredge_store::ArtifactStatus;
use dredge_store::{ArtifactRecord, EvidenceRow, RunRecord, Store};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub(crate) struct Task {
    pub entry: Entry,
    pub artifact_id: String,
    /// The copy, relative to the case directory; None: nothing is extracted.
    /// Paths are kept relative, once each: a plan holds every file of a volume.
    pub rel_out: Option<String>,
    /// Where the copy goes when `rel_out` cannot be made (a name too long for the
    /// output filesystem, characters it refuses, a clash), relative likewise.
    pub fallback: Option<String>,
}

/// Extracts and hashes tasks on a worker pool; one writer (this thread) stores the
/// rows in batches, after `post` has adjusted each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extract_tasks(
    store: &mut Store,
    ev: &EvidenceRow,
    unit: &str,
    fs: Option<(i64, String)>,
    phase: &str,
    tasks: Vec<Task>,
    src: &Arc<dyn ImageSource>,
    threads: usize,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
    findings: &mut Vec<Finding>,
    post: &mut dyn FnMut(&mut ArtifactRecord) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let total = tasks.len() as u64;
    let threads = threads.max(1);
    let (found_before, unreadable_before) = store.artifact_totals(ev.id).map_err(fail)?;
    let (fs_id, forensic_base) = match fs {
        Some((id, base)) => (Some(id), base),
        None => (None, String::new()),
    };
    let started = Instant::now();
    let fb = forensic_base.as_str();
    let case_dir = store.dir().to_path_buf();
    let case_dir = case_dir.as_path();
    let mut rows = Rows::new();
    let mut partial = 0u64;
    let mut unreadable = unreadable_before;
    let mut last = Instant::now();
    in_parallel(
        tasks,
        threads,
        Some(interrupt),
        |t: Task| {
            // One file is a unit: a panic on its layout costs its content, never
            // the case; its metadata is still recorded.
            contain(|| build_artifact(&t, case_dir, &**src, ev.id, unit, fs_id, fb)).unwrap_or_else(
                |why| {
                    let what = format!("extraction of {}", t.entry.path);
                    let mut a = record_for(&t, ev.id, unit, fs_id, fb);
                    a.runs = t.entry.runs.iter().map(|r| run_record(r, 0)).collect();
                    a.status = ArtifactStatus::NoContent;
                    Ok((a, Some(cut_short(t.entry.meta_offset, &what, &why))))
                },
            )
        },
        // The one writer: batches of rows in single transactions.
        |r: Result<Built, Failure>| {
            let (mut a, finding) = r?;
            findings.extend(finding);
            post(&mut a)?;
            partial += u64::from(a.status == ArtifactStatus::Partial);
            unreadable += a.unreadable_bytes;
            rows.push(store, a)?;
            let done = rows.done;
            if last.elapsed().as_millis() >= 200 || done == total {
                last = Instant::now();
                let el = started.elapsed();
                progress(&JobProgress {
                    job: "scan",
                    phase: phase.to_string(),
                    unit: "files",
                    done,
                    total,
                    rescued: done,
                    bad: partial,
                    rate: done as f64 / el.as_secs_f64().max(1e-9),
                    elapsed: el,
                    found: found_before + done,
                    unreadable,
                });
            }
            Ok(())
        },
    )?;
    rows.flush(store)?;
    sync_case(store.dir())
}

/// Rows per transaction. The store syncs on every commit (`synchronous=FULL`):
/// at 256 a 100 000-file recovery made 390 syncs of the log on the output disk.
/// A batch not yet committed when the process dies is lost with the unit's
/// seal, which is missing too, so the record never claims it.
const BATCH: usize = 4096;

/// The one writer's rows: stored in batches of `BATCH`, each one transaction.
pub(crate) struct Rows {
    batch: Vec<ArtifactRecord>,
    /// Rows taken so far.
    pub done: u64,
}

impl Rows {
    pub(crate) fn new() -> Rows {
        Rows {
            batch: Vec::with_capacity(BATCH),
            done: 0,
        }
    }

    pub(crate) fn push(&mut self, store: &mut Store, a: ArtifactRecord) -> Result<(), Failure> {
        self.batch.push(a);
        self.done += 1;
        if self.batch.len() >= BATCH {
            self.flush(store)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self, store: &mut Store) -> Result<(), Failure> {
        store.insert_artifacts(&self.batch).map_err(fail)?;
        self.batch.clear();
        Ok(())
    }
}

/// Flushes everything written under the case directory to stable storage, so the
/// custody record that seals a unit never describes files that are not on disk.
pub(crate) fn sync_case(dir: &Path) -> Result<(), Failure> {
    use std::os::unix::io::AsRawFd;
    let d = File::open(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
    // SAFETY: syncfs takes an open descriptor and touches no memory of ours.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(Failure(format!(
            "{}: cannot sync: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// A file's record and, where its copy had to go elsewhere, the finding saying why.
type Built = (ArtifactRecord, Option<Finding>);

/// An entry's record before its content is read: what the metadata says.
pub(crate) fn record_for(
    t: &Task,
    evidence_id: i64,
    unit: &str,
    fs_id: Option<i64>,
    forensic_base: &str,
) -> ArtifactRecord {
    let e = &t.entry;
    ArtifactRecord {
        id: t.artifact_id.clone(),
        evidence_id,
        unit: unit.to_string(),
        fs_id,
        origin: dredge_store::ArtifactOrigin::Filesystem,
        forensic_path: format!("{forensic_base}/{}:{}", e.kind.as_str(), e.id),
        path: e.path.clone(),
        other_names: e.other_names.clone(),
        kind: e.kind,
        deleted: e.deleted,
        size: e.size,
        recovery: (&e.recovery).into(),
        recovery_detail: e.recovery.detail().map(str::to_string),
        meta_offset: e.meta_offset,
        digests: None,
        extracted: t.rel_out.clone(),
        extract_note: None,
        unreadable_bytes: 0,
        status: ArtifactStatus::Complete,
        times: e
            .times
            .iter()
            .map(|x| (x.source.to_string(), x.utc()))
            .collect(),
        runs: Vec::new(),
        gaps: Vec::new(),
    }
}

/// Creates `out` and the folders above it.
fn create_at(out: &Path) -> std::io::Result<File> {
    // Most copies land in a folder an earlier copy made: one `open` then, not
    // the `mkdir` and `stat` per file that made a 100 000-file recovery spend
    // seconds in the kernel. Any failure takes the full path below, so what a
    // refused path records is the error it always recorded.
    if let Ok(f) = File::create(out) {
        return Ok(f);
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    File::create(out)
}

/// An open copy, where it is, and (when that is the fallback path) the finding and
/// the note for the artifact saying why.
type Copy = (File, PathBuf, Option<(Finding, String)>);

/// Creates the extracted copy where it was planned (`rel`, under `case_dir`) or,
/// when the output filesystem refuses that path (too long, characters it does
/// not allow, a folder in the way), at the task's fallback path, with a finding
/// that says why.
pub(crate) fn create_copy(t: &Task, case_dir: &Path, rel: &str) -> Result<Copy, Failure> {
    let out = case_dir.join(rel);
    let err = match create_at(&out) {
        Ok(f) => return Ok((f, out, None)),
        Err(err) => err,
    };
    let Some(rel) = &t.fallback else {
        return Err(Failure(format!("{}: {err}", out.display())));
    };
    let alt = case_dir.join(rel);
    let f = create_at(&alt).map_err(|e2| {
        Failure(format!(
            "{}: {e2} (after {}: {err})",
            alt.display(),
            out.display()
        ))
    })?;
    let note = Finding::new(
        t.entry.meta_offset,
        format!(
            "{}: extracted to {rel} because the planned path cannot be made here ({err})",
            t.entry.path
        ),
    );
    Ok((f, alt, Some((note, fallback_note(t, &err)))))
}

/// The reason recorded on the artifact when its copy went to the fallback path.
fn fallback_note(t: &Task, err: &std::io::Error) -> String {
    format!(
        "planned path {} cannot be made on the output filesystem ({err})",
        t.rel_out.as_deref().unwrap_or("?")
    )
}

/// Reads an entry's content through the image (recording every synthesized range as
/// a gap in file offsets), writes the extracted copy and hashes it.
fn build_artifact(
    t: &Task,
    case_dir: &Path,
    src: &dyn ImageSource,
    evidence_id: i64,
    unit: &str,
    fs_id: Option<i64>,
    forensic_base: &str,
) -> Result<Built, Failure> {
    let e = &t.entry;
    let mut a = record_for(t, evidence_id, unit, fs_id, forensic_base);
    let Some(rel) = &t.rel_out else {
        if e.kind == EntryKind::File {
            a.status = ArtifactStatus::NoContent;
        }
        a.runs = e.runs.iter().map(|r| run_record(r, 0)).collect();
        return Ok((a, None));
    };
    let (mut f, out, fell_back) = create_copy(t, case_dir, rel)?;
    let note = fell_back.map(|(finding, why)| {
        a.extracted = t.fallback.clone();
        a.extract_note = Some(why);
        finding
    });
    let out = &out;
    let mut dg = Digester::new();
    let mut pos = 0u64;
    let mut gaps: Vec<Gap> = Vec::new();
    let push_gap = |gaps: &mut Vec<Gap>, off: u64, len: u64, why: Why| {
        if let Some(l) = gaps.last_mut() {
            if l.end() == off && l.why == why {
                l.len += len;
                return;
            }
        }
        gaps.push(Gap::new(off, len, why));
    };
    const CHUNK: u64 = 1 << 20;
    // Sized to the file: most files are small, and a zeroed 1 MiB per file
    // dominated carving thousands of them.
    let mut buf = vec![0u8; e.size.clamp(1, CHUNK) as usize];
    let write = |f: &mut File, dg: &mut Digester, data: &[u8]| -> Result<(), Failure> {
        dg.update(data);
        f.write_all(data)
            .map_err(|err| Failure(format!("{}: {err}", out.display())))
    };
    // Holes are hashed as zeros but not written: the copy stays sparse.
    let zeros = vec![0u8; e.size.clamp(1, CHUNK) as usize];
    let skip = |f: &mut File, dg: &mut Digester, mut n: u64| -> Result<(), Failure> {
        f.seek(SeekFrom::Current(n as i64))
            .map_err(|err| Failure(format!("{}: {err}", out.display())))?;
        while n > 0 {
            let k = n.min(CHUNK) as usize;
            dg.update(&zeros[..k]);
            n -= k as u64;
        }
        Ok(())
    };
    let mut runs = e.runs.clone();
    runs.sort_by_key(|r| r.file_offset);
    for r in &runs {
        if r.file_offset >= e.size {
            break;
        }
        // Bytes the layout skips over: zeros, and said so.
        if r.file_offset > pos {
            let left = r.file_offset - pos;
            push_gap(&mut gaps, pos, left, Why::NotInLayout);
            skip(&mut f, &mut dg, left)?;
            pos = r.file_offset;
        }
        if r.data == RunData::Sparse {
            let n = r.len.min(e.size - r.file_offset) - (pos - r.file_offset);
            skip(&mut f, &mut dg, n)?;
            pos += n;
            a.runs.push(run_record(r, 0));
            continue;
        }
        let start_in_run = pos - r.file_offset;
        let len = r.len.min(e.size - r.file_offset);
        let mut unreadable_here = 0;
        let mut done = start_in_run;
        while done < len {
            let n = (len - done).min(CHUNK) as usize;
            match &r.data {
                RunData::Image(at) => {
                    let rep = src.read_at(at + done, &mut buf[..n]).map_err(fail)?;
                    for s in &rep.synthesized {
                        let off = pos + (s.extent.start - (at + done));
                        push_gap(&mut gaps, off, s.extent.len, s.why);
                        unreadable_here += s.extent.len;
                    }
                }
                RunData::Sparse => buf[..n].fill(0),
                RunData::Decoded(d) => {
                    for (o, l, why) in d.0.read_at(done, &mut buf[..n]) {
                        push_gap(&mut gaps, pos + (o - done), l, why);
                        if why != Why::NotInLayout {
                            unreadable_here += l;
                        }
                    }
                }
                RunData::Inline(bytes) => {
                    let from = done as usize;
                    let avail = bytes.len().saturating_sub(from).min(n);
                    buf[..avail].copy_from_slice(&bytes[from..from + avail]);
                    buf[avail..n].fill(0);
                    if avail < n {
                        push_gap(
                            &mut gaps,
                            pos + avail as u64,
                            (n - avail) as u64,
                            Why::NotInLayout,
                        );
                    }
                }
            }
            write(&mut f, &mut dg, &buf[..n])?;
            pos += n as u64;
            done += n as u64;
        }
        a.runs.push(run_record(r, unreadable_here));
    }
    if pos < e.size {
        let left = e.size - pos;
        push_gap(&mut gaps, pos, left, Why::NotInLayout);
        skip(&mut f, &mut dg, left)?;
    }
    // Seeking past the end does not extend the file; set its length.
    f.set_len(e.size)
        .map_err(|err| Failure(format!("{}: {err}", out.display())))?;
    // Durability is ensured once for all files, before their unit is sealed
    // (sync_case in extract_tasks): a sync per file made carving I/O-bound.
    let d = dg.finish();
    a.digests = Some((d.md5, d.sha1, d.sha256));
    a.unreadable_bytes = gaps.iter().map(|g| g.len).sum();
    if a.unreadable_bytes > 0 {
        a.status = ArtifactStatus::Partial;
    }
    a.gaps = gaps;
    Ok((a, note))
}

pub(crate) fn run_record(r: &dredge_core::Run, unreadable: u64) -> RunRecord {
    let (kind, image_offset) = match &r.data {
        RunData::Image(at) => ("image", Some(*at)),
        RunData::Sparse => ("sparse", None),
        RunData::Inline(_) => ("inline", None),
        RunData::Decoded(d) => (d.0.kind(), None),
    };
    RunRecord {
        file_offset: r.file_offset,
        len: r.len,
        kind: kind.into(),
        image_offset,
        unreadable_bytes: unreadable,
    }
}
