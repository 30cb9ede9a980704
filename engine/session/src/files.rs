//! Files written from the pass (issue 18, decision 0014). A filesystem's layouts
//! are known from its metadata before the pass: each file's copy is created (at
//! its planned path, or the fallback), its holes and inline bytes written, and
//! every piece of it that lies in the image put in one index sorted by image
//! offset. The pass then writes each block's bytes into the copies whose pieces
//! it covers, and records the block's unreadable ranges against them. After the
//! pass each copy is hashed from the file just written (in the page cache), not
//! from the evidence.

use crate::extract::{create_copy, record_for, run_record, Task};
use crate::unit::{contain, cut_short};
use crate::Failure;
use dredge_core::{EntryKind, Extent, Finding, Gap, ReadReport, RunData, Why};
use dredge_hash::Digester;
use dredge_store::ArtifactRecord;
use dredge_store::ArtifactStatus;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A piece of a file that lies in the image: file bytes `file_off..+len` are the
/// image bytes `image..+len`; `run` is its run's index in file order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    pub file: usize,
    pub run: usize,
    pub file_off: u64,
    pub image: u64,
    pub len: u64,
}

/// One file of the pass: where its copy is, what is known of its bytes before
/// the pass, and (filled by the pass) which of them could not be read.
pub(crate) struct Planned {
    pub task: Task,
    lay: Layout,
    /// Planning failed (a panic on a hostile layout): the file is listed only.
    cut: Option<Box<Finding>>,
}

/// Which of its task's paths a copy was made at. A plan is kept for every file
/// of the pass, so it holds no path of its own.
#[derive(Clone, Copy)]
enum Dest {
    Planned,
    Fallback,
}

#[derive(Default)]
struct Layout {
    /// Where the copy was made; None: no content to write.
    dest: Option<Dest>,
    /// Fallback: the finding and the note for the artifact (rare: boxed).
    note: Option<Box<(Finding, String)>>,
    /// (file offset, length, why) of bytes that are zeros in the copy.
    gaps: Vec<(u64, u64, Why)>,
    /// Unreadable bytes per run (file order).
    run_unreadable: Vec<u64>,
}

impl Planned {
    /// The copy, relative to the case directory.
    fn rel(&self) -> Option<&str> {
        match self.lay.dest? {
            Dest::Planned => self.task.rel_out.as_deref(),
            Dest::Fallback => self.task.fallback.as_deref(),
        }
    }
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
    me: usize,
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
                        file: me,
                        run: ri,
                        file_off: pos,
                        image,
                        len: inside,
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
    p.dest = Some(if note.is_some() {
        Dest::Fallback
    } else {
        Dest::Planned
    });
    p.note = note.map(Box::new);
    Ok(p)
}

/// Plans every task (each a unit: a layout that panics costs that file's
/// content), adding the plans and their pieces in the image to the pass's.
pub(crate) fn plan_all(
    tasks: Vec<Task>,
    case_dir: &Path,
    size_of_image: u64,
    plans: &mut Vec<Planned>,
    pieces: &mut Vec<Piece>,
) -> Result<(), Failure> {
    for t in tasks {
        let me = plans.len();
        let mut mine = Vec::new();
        match contain(|| lay_out(&t, case_dir, me, size_of_image, &mut mine)) {
            Ok(r) => {
                plans.push(Planned {
                    task: t,
                    lay: r?,
                    cut: None,
                });
                pieces.append(&mut mine);
            }
            Err(why) => {
                let what = format!("extraction of {}", t.entry.path);
                let cut = cut_short(t.entry.meta_offset, &what, &why);
                plans.push(Planned {
                    task: t,
                    lay: Layout::default(),
                    cut: Some(Box::new(cut)),
                });
            }
        }
    }
    Ok(())
}

/// A write the pass hands to a writer: bytes `range` of the block go to the
/// copy at `path`, at `file_off`.
pub(crate) struct Write {
    pub path: Arc<PathBuf>,
    pub file_off: u64,
    pub block: Arc<Vec<u8>>,
    pub range: std::ops::Range<usize>,
}

impl Write {
    pub(crate) fn apply(&self) -> Result<(), Failure> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&*self.path)
            .map_err(|e| Failure(format!("{}: {e}", self.path.display())))?;
        f.write_all_at(&self.block[self.range.clone()], self.file_off)
            .map_err(|e| Failure(format!("{}: {e}", self.path.display())))
    }
}

/// Walks the sorted pieces block by block: the ones a block covers, and what
/// it could not read of them.
pub(crate) struct Sweep {
    case_dir: PathBuf,
    pieces: Vec<Piece>,
    next: usize,
    active: Vec<usize>,
}

impl Sweep {
    pub(crate) fn new(case_dir: &Path, pieces: Vec<Piece>) -> Sweep {
        Sweep {
            case_dir: case_dir.to_path_buf(),
            pieces,
            next: 0,
            active: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The writes for one block, and the unreadable ranges it met recorded on
    /// the plans they fall in.
    pub(crate) fn block(
        &mut self,
        at: u64,
        block: &Arc<Vec<u8>>,
        report: &ReadReport,
        plans: &mut [Planned],
    ) -> Vec<Write> {
        let here = Extent::new(at, block.len() as u64);
        while self.next < self.pieces.len() && self.pieces[self.next].image < here.end() {
            self.active.push(self.next);
            self.next += 1;
        }
        let mut out = Vec::new();
        for &i in &self.active {
            let p = self.pieces[i];
            let piece = Extent::new(p.image, p.len);
            let Some(o) = piece.intersect(&here) else {
                continue;
            };
            let Some(rel) = plans[p.file].rel() else {
                continue;
            };
            let path = Arc::new(self.case_dir.join(rel));
            let plan = &mut plans[p.file].lay;
            let file_off = p.file_off + (o.start - p.image);
            out.push(Write {
                path,
                file_off,
                block: Arc::clone(block),
                range: (o.start - at) as usize..(o.end() - at) as usize,
            });
            for s in &report.synthesized {
                if let Some(x) = s.extent.intersect(&o) {
                    plan.gaps
                        .push((p.file_off + (x.start - p.image), x.len, s.why));
                    plan.run_unreadable[p.run] += x.len;
                }
            }
        }
        let pieces = &self.pieces;
        self.active
            .retain(|&i| pieces[i].image + pieces[i].len > here.end());
        out
    }
}

/// The record of a file whose finishing was cut short (a panic hashing its
/// copy): listed with its metadata, its content not vouched for.
pub(crate) fn cut_record(
    p: &Planned,
    evidence_id: i64,
    unit: &str,
    fs_id: Option<i64>,
    forensic_base: &str,
) -> ArtifactRecord {
    let mut a = record_for(&p.task, evidence_id, unit, fs_id, forensic_base);
    a.runs = p.task.entry.runs.iter().map(|r| run_record(r, 0)).collect();
    a.status = ArtifactStatus::NoContent;
    a.extracted = None;
    a
}

/// A planned file's record once the pass has written it: hashed from its copy.
pub(crate) fn finish(
    p: &mut Planned,
    case_dir: &Path,
    evidence_id: i64,
    unit: &str,
    fs_id: Option<i64>,
    forensic_base: &str,
) -> Result<(ArtifactRecord, Option<Finding>), Failure> {
    let mut a = record_for(&p.task, evidence_id, unit, fs_id, forensic_base);
    let t = &p.task;
    let runs = sorted_runs(t);
    if let Some(cut) = p.cut.take() {
        a.runs = t.entry.runs.iter().map(|r| run_record(r, 0)).collect();
        a.status = ArtifactStatus::NoContent;
        return Ok((a, Some(*cut)));
    }
    let Some(path) = p.rel().map(|rel| case_dir.join(rel)) else {
        if t.entry.kind == EntryKind::File {
            a.status = ArtifactStatus::NoContent;
        }
        a.runs = t.entry.runs.iter().map(|r| run_record(r, 0)).collect();
        return Ok((a, None));
    };
    let note = p.lay.note.take().map(|n| {
        let (finding, why) = *n;
        a.extracted = t.fallback.clone();
        a.extract_note = Some(why);
        finding
    });
    // The records list runs the way a per-file read met them: in file order,
    // those that start inside the file.
    a.runs = runs
        .iter()
        .enumerate()
        .take_while(|(_, r)| r.file_offset < t.entry.size)
        .map(|(i, r)| run_record(r, p.lay.run_unreadable.get(i).copied().unwrap_or(0)))
        .collect();
    let mut dg = Digester::new();
    let mut f =
        std::fs::File::open(&path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    let mut buf = vec![0u8; t.entry.size.clamp(1, 1 << 20) as usize];
    let mut left = t.entry.size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.read_exact(&mut buf[..n])
            .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
        dg.update(&buf[..n]);
        left -= n as u64;
    }
    let d = dg.finish();
    a.digests = Some((d.md5, d.sha1, d.sha256));
    let mut zeros = std::mem::take(&mut p.lay.gaps);
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
    Ok((a, note))
}
