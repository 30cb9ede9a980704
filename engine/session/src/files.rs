//! Files written from the pass (issue 18, decision 0014). A filesystem's layouts
//! are known from its metadata before the pass: each file's copy is created (at
//! its planned path, or the fallback), its holes and inline bytes written, and
//! every piece of it that lies in the image put in one index sorted by image
//! offset (`sweep`). Its record, as far as planning knows it, goes to a scratch
//! file (`spill`): nothing is held per file while the walk goes on. The pass
//! then writes each block's bytes into the copies whose pieces it covers, and
//! records the block's unreadable ranges against them. After the pass each
//! copy is hashed from the file just written (in the page cache), not from the
//! evidence, as its record is read back.

use crate::extract::{create_copy, record_for, run_record, Task};
use crate::spill::{index_of, Dec, Enc, Records};
use crate::sweep::{Damage, Piece, Pieces};
use crate::unit::{contain, cut_short};
use crate::Failure;
use dredge_core::{EntryKind, Finding, Gap, RunData, Why, Word};
use dredge_hash::Digester;
use dredge_store::{ArtifactRecord, ArtifactRecovery, ArtifactStatus, RunRecord};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file of the pass as planned: its record as far as its metadata and its
/// layout tell, kept in a scratch file (`spill`) until the pass has written
/// its copy.
pub(crate) struct Planned {
    /// Without its evidence, unit and filesystem (set when stored), the prefix
    /// of its forensic path (which holds the kind and id only), its digests and
    /// what the pass could not read.
    rec: ArtifactRecord,
    /// The copy at `rec.extracted` is hashed after the pass.
    hash: bool,
    /// Zeros of the copy known before the pass: (file offset, length, why).
    gaps: Vec<(u64, u64, Why)>,
    /// For the unit: why the copy went to its fallback path, or why planning
    /// was cut short.
    finding: Option<Finding>,
}

fn put_finding(e: &mut Enc, f: &Finding) {
    e.u64(f.offset);
    e.str(&f.what);
    e.opt_str(f.expected.as_deref());
    e.opt_str(f.actual.as_deref());
    e.bool(f.unit_cut_short);
}

fn get_finding(d: &mut Dec) -> Result<Finding, Failure> {
    Ok(Finding {
        offset: d.u64()?,
        what: d.str()?,
        expected: d.opt_str()?,
        actual: d.opt_str()?,
        unit_cut_short: d.bool()?,
    })
}

impl Planned {
    pub(crate) fn path(&self) -> &str {
        &self.rec.path
    }

    pub(crate) fn meta_offset(&self) -> u64 {
        self.rec.meta_offset
    }

    pub(crate) fn put(&self, e: &mut Enc) {
        let a = &self.rec;
        e.str(&a.id);
        e.str(&a.forensic_path);
        e.str(&a.path);
        e.u64(a.other_names.len() as u64);
        for n in &a.other_names {
            e.str(n);
        }
        e.u64(index_of(EntryKind::ALL, &a.kind));
        e.bool(a.deleted);
        e.u64(a.size);
        e.u64(index_of(ArtifactRecovery::ALL, &a.recovery));
        e.opt_str(a.recovery_detail.as_deref());
        e.u64(a.meta_offset);
        e.opt_str(a.extracted.as_deref());
        e.opt_str(a.extract_note.as_deref());
        e.u64(index_of(ArtifactStatus::ALL, &a.status));
        e.u64(a.times.len() as u64);
        for (source, utc) in &a.times {
            e.str(source);
            e.str(utc);
        }
        e.u64(a.runs.len() as u64);
        for r in &a.runs {
            e.u64(r.file_offset);
            e.u64(r.len);
            e.str(&r.kind);
            e.opt_u64(r.image_offset);
            e.u64(r.unreadable_bytes);
        }
        e.bool(self.hash);
        e.u64(self.gaps.len() as u64);
        for (off, len, why) in &self.gaps {
            e.u64(*off);
            e.u64(*len);
            e.u64(index_of(&Why::ALL, why));
        }
        e.bool(self.finding.is_some());
        if let Some(f) = &self.finding {
            put_finding(e, f);
        }
    }

    pub(crate) fn get(b: &[u8]) -> Result<Planned, Failure> {
        let mut d = Dec::new(b);
        let d = &mut d;
        // Counts are bounded by the record's length: never an allocation a
        // garbled count asks for.
        let count = |d: &mut Dec| -> Result<usize, Failure> {
            let n = d.u64()?;
            Ok(n.min(b.len() as u64) as usize)
        };
        let mut a = ArtifactRecord {
            id: d.str()?,
            forensic_path: d.str()?,
            path: d.str()?,
            ..ArtifactRecord::default()
        };
        for _ in 0..count(d)? {
            a.other_names.push(d.str()?);
        }
        a.kind = d.pick(EntryKind::ALL)?;
        a.deleted = d.bool()?;
        a.size = d.u64()?;
        a.recovery = d.pick(ArtifactRecovery::ALL)?;
        a.recovery_detail = d.opt_str()?;
        a.meta_offset = d.u64()?;
        a.extracted = d.opt_str()?;
        a.extract_note = d.opt_str()?;
        a.status = d.pick(ArtifactStatus::ALL)?;
        for _ in 0..count(d)? {
            a.times.push((d.str()?, d.str()?));
        }
        for _ in 0..count(d)? {
            a.runs.push(RunRecord {
                file_offset: d.u64()?,
                len: d.u64()?,
                kind: d.str()?,
                image_offset: d.opt_u64()?,
                unreadable_bytes: d.u64()?,
            });
        }
        let hash = d.bool()?;
        let mut gaps = Vec::new();
        for _ in 0..count(d)? {
            gaps.push((d.u64()?, d.u64()?, d.pick(&Why::ALL)?));
        }
        let finding = if d.bool()? {
            Some(get_finding(d)?)
        } else {
            None
        };
        Ok(Planned {
            rec: a,
            hash,
            gaps,
            finding,
        })
    }
}

/// What laying a file out settled before the pass.
#[derive(Default)]
struct Layout {
    /// The copy, relative to the case directory; None: no content to write.
    copy: Option<String>,
    /// Fallback: the finding and the note for the artifact.
    note: Option<(Finding, String)>,
    /// (file offset, length, why) of bytes that are zeros in the copy.
    gaps: Vec<(u64, u64, Why)>,
    /// Unreadable bytes per run (file order).
    run_unreadable: Vec<u64>,
}

fn sorted_runs(t: &Task) -> Vec<dredge_core::Run> {
    let mut runs = t.entry.runs.clone();
    runs.sort_by_key(|r| r.file_offset);
    runs
}

/// Creates the copy and lays the file out: holes, inline bytes and bytes the
/// layout does not cover are settled now; the pieces in the image go to
/// `pieces` (index `me`). The same walk over the runs as a per-file read made.
fn lay_out(
    t: &Task,
    case_dir: &Path,
    me: u64,
    size_of_image: u64,
    pieces: &mut Vec<Piece>,
) -> Result<Layout, Failure> {
    let e = &t.entry;
    let mut p = Layout {
        run_unreadable: vec![0; e.runs.len()],
        ..Layout::default()
    };
    let Some(rel) = &t.rel_out else {
        return Ok(p);
    };
    let (f, at, note) = create_copy(t, case_dir, rel)?;
    let io = |err: std::io::Error| Failure(format!("{}: {err}", at.display()));
    let copy: Arc<str> = match (&note, &t.fallback) {
        (Some(_), Some(alt)) => Arc::from(alt.as_str()),
        _ => Arc::from(rel.as_str()),
    };
    // Holes stay holes: the copy is sparse where the file is.
    f.set_len(e.size).map_err(io)?;
    let mut pos = 0u64;
    for (ri, r) in sorted_runs(t).iter().enumerate() {
        if r.file_offset >= e.size {
            break;
        }
        if r.file_offset > pos {
            p.gaps.push((pos, r.file_offset - pos, Why::NotInLayout));
            pos = r.file_offset;
        }
        let len = r.len.min(e.size - r.file_offset);
        let from = pos - r.file_offset;
        if from >= len {
            continue;
        }
        let n = len - from;
        match &r.data {
            RunData::Sparse => {}
            RunData::Image(at) => {
                let image = at.saturating_add(from);
                // Bytes past the end of the image are never read by the pass.
                let inside = size_of_image.saturating_sub(image).min(n);
                if inside > 0 {
                    pieces.push(Piece {
                        image,
                        len: inside,
                        file: me,
                        file_off: pos,
                        run: u32::try_from(ri).unwrap_or(u32::MAX),
                        copy: Arc::clone(&copy),
                        whole: false,
                    });
                }
                if inside < n {
                    p.gaps.push((pos + inside, n - inside, Why::PastEnd));
                    p.run_unreadable[ri] += n - inside;
                }
            }
            RunData::Decoded(d) => {
                // Decoded now, a unit at a time, from the stored bytes: read
                // outside the pass (they are few: that is what compression is).
                let mut buf = vec![0u8; n.min(1 << 20) as usize];
                let mut done = 0u64;
                while done < n {
                    let k = (n - done).min(buf.len() as u64) as usize;
                    for (o, l, why) in d.0.read_at(from + done, &mut buf[..k]) {
                        p.gaps.push((pos + done + (o - from - done), l, why));
                        if why != Why::NotInLayout {
                            p.run_unreadable[ri] += l;
                        }
                    }
                    f.write_all_at(&buf[..k], pos + done).map_err(io)?;
                    done += k as u64;
                }
            }
            RunData::Inline(bytes) => {
                let lo = (from as usize).min(bytes.len());
                let avail = bytes.len().saturating_sub(lo).min(n as usize);
                f.write_all_at(&bytes[lo..lo + avail], pos).map_err(io)?;
                if (avail as u64) < n {
                    p.gaps
                        .push((pos + avail as u64, n - avail as u64, Why::NotInLayout));
                }
            }
        }
        pos += n;
    }
    if pos < e.size {
        p.gaps.push((pos, e.size - pos, Why::NotInLayout));
    }
    if let [one] = &mut pieces[..] {
        one.whole = one.file_off == 0 && one.len == e.size;
    }
    p.copy = Some(copy.to_string());
    p.note = note;
    Ok(p)
}

/// Where the pass's plans go while the filesystems are walked: their records
/// to a scratch file in walk order, their pieces to be sorted by image offset.
pub(crate) struct PlanSink {
    pub(crate) records: Records,
    pub(crate) pieces: Pieces,
    case_dir: PathBuf,
    size_of_image: u64,
}

impl PlanSink {
    pub(crate) fn new(case_dir: &Path, size_of_image: u64) -> Result<PlanSink, Failure> {
        Ok(PlanSink {
            records: Records::new(case_dir)?,
            pieces: Pieces::new(case_dir),
            case_dir: case_dir.to_path_buf(),
            size_of_image,
        })
    }

    /// Plans more files after `records` (those planned before the pass), with
    /// pieces of their own.
    pub(crate) fn resume(records: Records, case_dir: &Path, size_of_image: u64) -> PlanSink {
        PlanSink {
            records,
            pieces: Pieces::new(case_dir),
            case_dir: case_dir.to_path_buf(),
            size_of_image,
        }
    }

    /// Files planned so far (the next one's index).
    pub(crate) fn len(&self) -> u64 {
        self.records.len()
    }

    /// Creates a file's copy and lays it out (a unit: a layout that panics
    /// costs that file's content, and it is listed with its metadata), then
    /// keeps its plan. An error: the copy could not be made at either path.
    pub(crate) fn plan(&mut self, t: Task) -> Result<(), Failure> {
        let me = self.len();
        let mut mine = Vec::new();
        let size = self.size_of_image;
        let planned = match contain(|| lay_out(&t, &self.case_dir, me, size, &mut mine)) {
            Ok(lay) => {
                let lay = lay?;
                for p in mine {
                    self.pieces.push(p)?;
                }
                planned(&t, lay)
            }
            Err(why) => {
                let what = format!("extraction of {}", t.entry.path);
                let mut rec = bare_record(&t);
                rec.runs = t.entry.runs.iter().map(|r| run_record(r, 0)).collect();
                rec.status = ArtifactStatus::NoContent;
                Planned {
                    rec,
                    hash: false,
                    gaps: Vec::new(),
                    finding: Some(cut_short(t.entry.meta_offset, &what, &why)),
                }
            }
        };
        self.records.push(|e| planned.put(e))
    }
}

/// A file's record as planning knows it: the forensic path holds only its
/// kind and id (`Stored::place` prefixes the filesystem's, known when stored).
fn bare_record(t: &Task) -> ArtifactRecord {
    let mut rec = record_for(t, 0, "", None, "");
    rec.forensic_path = rec.forensic_path.trim_start_matches('/').to_string();
    rec
}

/// A file's plan from its layout: the record as the metadata and the layout
/// tell it (runs the way a per-file read meets them: in file order, those that
/// start inside the file).
fn planned(t: &Task, lay: Layout) -> Planned {
    let mut rec = bare_record(t);
    let Some(copy) = lay.copy else {
        if t.entry.kind == EntryKind::File {
            rec.status = ArtifactStatus::NoContent;
        }
        rec.runs = t.entry.runs.iter().map(|r| run_record(r, 0)).collect();
        return Planned {
            rec,
            hash: false,
            gaps: Vec::new(),
            finding: None,
        };
    };
    rec.runs = sorted_runs(t)
        .iter()
        .enumerate()
        .take_while(|(_, r)| r.file_offset < t.entry.size)
        .map(|(i, r)| run_record(r, lay.run_unreadable.get(i).copied().unwrap_or(0)))
        .collect();
    let finding = lay.note.map(|(finding, why)| {
        rec.extract_note = Some(why);
        finding
    });
    rec.extracted = Some(copy);
    Planned {
        rec,
        hash: true,
        gaps: lay.gaps,
        finding,
    }
}

/// A write the pass hands to a writer: bytes `range` of the block go to the
/// copy at `path`, at `file_off`. Every write of file `file` goes to one
/// writer, in the pass's order.
pub(crate) struct Write {
    pub path: Arc<PathBuf>,
    pub file: u64,
    pub file_off: u64,
    pub block: Arc<Vec<u8>>,
    pub range: std::ops::Range<usize>,
    /// The file is this one piece, which the writer hashes as it writes:
    /// the digests' slots, and whether this write ends the file.
    pub hash: Option<(Arc<std::fs::File>, bool)>,
}

/// A writer's files being hashed as they are written (those whose last write
/// has not come yet: a few at a time, whatever the file count).
#[derive(Default)]
pub(crate) struct Hashing(std::collections::HashMap<u64, Digester>);

impl Write {
    pub(crate) fn apply(&self, hashing: &mut Hashing) -> Result<(), Failure> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&*self.path)
            .map_err(|e| Failure(format!("{}: {e}", self.path.display())))?;
        let bytes = &self.block[self.range.clone()];
        f.write_all_at(bytes, self.file_off)
            .map_err(|e| Failure(format!("{}: {e}", self.path.display())))?;
        if let Some((slots, last)) = &self.hash {
            let dg = hashing.0.entry(self.file).or_default();
            dg.update(bytes);
            if *last {
                if let Some(dg) = hashing.0.remove(&self.file) {
                    crate::sweep::keep_digests(slots, self.file, dg)
                        .map_err(|e| Failure(format!("scratch file: {e}")))?;
                }
            }
        }
        Ok(())
    }
}

/// The record of a file whose finishing was cut short (a panic hashing its
/// copy): listed with its metadata, its content not vouched for.
pub(crate) fn cut_record(p: Planned, at: &Stored<'_>) -> ArtifactRecord {
    let mut a = at.place(p.rec);
    a.status = ArtifactStatus::NoContent;
    a.extracted = None;
    a
}

/// The digests of a copy, read back from the file just written.
fn hash_copy(path: &Path, size: u64) -> Result<(String, String, String), Failure> {
    let mut dg = Digester::new();
    let mut f =
        std::fs::File::open(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let mut buf = vec![0u8; size.clamp(1, 1 << 20) as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n])
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
        dg.update(&buf[..n]);
        left -= n as u64;
    }
    let d = dg.finish();
    Ok((d.md5, d.sha1, d.sha256))
}

/// Where a file's record is stored: what planning did not know.
pub(crate) struct Stored<'a> {
    pub evidence_id: i64,
    pub unit: &'a str,
    pub fs_id: Option<i64>,
    pub forensic_base: &'a str,
}

impl Stored<'_> {
    fn place(&self, mut a: ArtifactRecord) -> ArtifactRecord {
        a.evidence_id = self.evidence_id;
        a.unit = self.unit.to_string();
        a.fs_id = self.fs_id;
        a.forensic_path = format!("{}/{}", self.forensic_base, a.forensic_path);
        a
    }
}

/// A planned file's record once the pass has written it: hashed from its copy,
/// with what the pass could not read of it (`damage`: this file's), and its
/// findings (the planning's, and whether it may be an encrypted container).
pub(crate) fn finish(
    p: Planned,
    damage: &[Damage],
    hashed: Option<(String, String, String)>,
    case_dir: &Path,
    at: &Stored<'_>,
) -> Result<(ArtifactRecord, Vec<Finding>), Failure> {
    let mut a = at.place(p.rec);
    let mut findings: Vec<Finding> = p.finding.into_iter().collect();
    let (Some(rel), true) = (a.extracted.as_deref(), p.hash) else {
        return Ok((a, findings));
    };
    let path = case_dir.join(rel);
    let mut zeros = p.gaps;
    for d in damage {
        zeros.push((d.off, d.len, d.why));
        if let Some(r) = a.runs.get_mut(d.run as usize) {
            r.unreadable_bytes += d.len;
        }
    }
    a.digests = Some(match hashed {
        Some(d) => d,
        None => hash_copy(&path, a.size)?,
    });
    zeros.sort_by_key(|g| g.0);
    let mut gaps: Vec<Gap> = Vec::new();
    for (off, len, why) in zeros {
        match gaps.last_mut() {
            Some(l) if l.end() == off && l.why == why => l.len += len,
            _ => gaps.push(Gap::new(off, len, why)),
        }
    }
    a.unreadable_bytes = gaps.iter().map(|g| g.len).sum();
    if a.unreadable_bytes > 0 {
        a.status = ArtifactStatus::Partial;
    }
    a.gaps = gaps;
    findings.extend(possible_container(&a, &path));
    Ok((a, findings))
}

/// Whether a file's first sector starts as a format the carvers know (a
/// stored ZIP or an MP4 is random-looking past a short header). Headers of
/// fewer than three bytes are left out: random data matches them too often.
fn known_start(first: &[u8]) -> bool {
    static HEADERS: std::sync::OnceLock<Vec<(usize, &'static [u8])>> = std::sync::OnceLock::new();
    let headers = HEADERS.get_or_init(|| {
        dredge_carvers::registry()
            .iter()
            .flat_map(|c| {
                let at = usize::try_from(c.header_offset()).unwrap_or(usize::MAX);
                c.headers().iter().map(move |h| (at, *h))
            })
            .filter(|(at, h)| h.len() >= 3 && at.saturating_add(h.len()) <= 512)
            .collect()
    });
    headers
        .iter()
        .any(|(at, h)| first.get(*at..at + h.len()) == Some(h))
}

/// A file that may be a VeraCrypt/TrueCrypt container kept in a filesystem
/// (the usual way they are kept): wholly read, a container's size, its first
/// sector random-looking and samples across it too (`container_shape`; read
/// from the copy, in the page cache). Most files are ruled out by their size
/// or by their first sector, which is read only when the size fits.
fn possible_container(a: &ArtifactRecord, copy: &Path) -> Option<Finding> {
    if a.kind != EntryKind::File || a.unreadable_bytes > 0 {
        return None;
    }
    // VeraCrypt's headers alone are 256 KiB: smaller files are not opened.
    if a.size < 256 << 10 || !a.size.is_multiple_of(512) {
        return None;
    }
    let f = std::fs::File::open(copy).ok()?;
    let read = |at: u64, buf: &mut [u8]| f.read_exact_at(buf, at).is_ok();
    let mut first = [0u8; 512];
    if !read(0, &mut first) || known_start(&first) {
        return None;
    }
    let (len, low) = dredge_crypt::container_shape(a.size, read)?;
    let at = a
        .runs
        .iter()
        .find(|r| r.file_offset == 0)
        .and_then(|r| r.image_offset)
        .unwrap_or(a.meta_offset);
    let copy = a.extracted.as_deref().unwrap_or_default();
    Some(Finding::new(
        at,
        format!(
            "possible VeraCrypt/TrueCrypt container file {} ({}): {len} bytes (a multiple of 512), no format recognised at its start, random-looking throughout (16 samples, the lowest {low:.3} bits per byte). Compressed or wiped data can look the same. A scan with its key and --container-files (dredge scan CASE --key password=… --container-files) opens it: its copy CASE/{copy} is registered as evidence of its own and scanned",
            a.path, a.id
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Sweep;
    use dredge_core::{memory, Entry, Recovery, Run, Timestamp};

    fn task(i: u64) -> Task {
        let t = |source| Timestamp {
            source,
            secs: 1_700_000_000 + i as i64,
            nanos: 0,
        };
        Task {
            entry: Entry {
                id: i,
                path: format!("/folder-{:03}/a-long-enough-file-name-{i:07}.txt", i / 500),
                other_names: Vec::new(),
                kind: EntryKind::File,
                deleted: false,
                size: 100,
                times: vec![
                    t("ext4.mtime"),
                    t("ext4.atime"),
                    t("ext4.ctime"),
                    t("ext4.crtime"),
                ],
                runs: vec![Run {
                    file_offset: 0,
                    len: 4096,
                    data: RunData::Image(i * 4096),
                }],
                recovery: Recovery::Allocated,
                meta_offset: i * 256,
            },
            artifact_id: format!("ev1/v0/ext4/{i}"),
            rel_out: Some(format!(
                "files/ev1/v0/folder-{:03}/file-{i:07}.txt",
                i / 500
            )),
            fallback: Some(format!("files/ev1/v0/by-id/{i}")),
        }
    }

    /// What planning holds on this thread after `files` files (bytes).
    fn held_after(dir: &Path, files: u64, run_bytes: usize) -> (i64, PlanSink) {
        let base = memory::held();
        let mut sink = PlanSink::new(dir, u64::MAX).unwrap();
        sink.pieces = Pieces::with_run_bytes(dir, run_bytes);
        for i in 0..files {
            sink.plan(task(i)).unwrap();
        }
        (memory::held() - base, sink)
    }

    /// Planning keeps a file's record in the scratch file, not in memory: what
    /// is held per file is its piece waiting for the pass, and with pieces
    /// sorted to disk in small runs, nothing grows with the file count. The
    /// records come back in order, whole.
    #[test]
    fn planning_holds_pieces_only_and_records_come_back() {
        let dir = tempfile::tempdir().unwrap();
        held_after(dir.path(), 100, usize::MAX);
        let (small, _) = held_after(dir.path(), 1_000, usize::MAX);
        let (large, sink) = held_after(dir.path(), 6_000, usize::MAX);
        let per_file = (large - small) / 5_000;
        // A piece (56 bytes) and its copy's name (about 40): a file's plan,
        // record and all, held as before would be about 1 000.
        assert!(per_file > 0 && per_file < 160, "{per_file} bytes a file");
        // Runs of pieces on disk: what is held (the scratch files' buffers,
        // one run being filled) does not grow with the files.
        let (few, _) = held_after(dir.path(), 1_000, 64 << 10);
        let (many, _) = held_after(dir.path(), 6_000, 64 << 10);
        assert!(
            many - few < 64 << 10,
            "{few} then {many} bytes held with runs on disk"
        );
        let replay = sink.records.read().unwrap();
        assert_eq!(replay.len(), 6_000);
        for (i, b) in replay.enumerate() {
            let p = Planned::get(&b.unwrap()).unwrap();
            let t = task(i as u64);
            assert_eq!(p.rec.path, t.entry.path);
            // Kind and id only: the filesystem's prefix is added when stored.
            assert_eq!(p.rec.forensic_path, format!("file:{i}"));
            assert_eq!(p.rec.extracted, t.rel_out);
            assert_eq!(p.rec.times.len(), 4);
            assert_eq!(p.rec.runs[0].image_offset, Some(i as u64 * 4096));
            assert!(p.hash);
        }
        let sweep = Sweep::new(dir.path(), sink.pieces).unwrap();
        assert!(!sweep.is_empty());
    }
}
