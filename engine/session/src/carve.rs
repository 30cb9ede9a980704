//! Carving on a worker pool: the extents to carve are cut into pages; workers find
//! header hits that start inside their page (read with a margin so a header crossing
//! the page end is whole) and validate each hit against the whole image. Each hit is
//! judged on its own, so the result is the same for any page size and thread count;
//! the list is sorted before anything is written.

use crate::extract::{extract_tasks, Task};
use crate::scan::to_records;
use crate::unit::{contain, count_cut_short, cut_short};
use crate::{fail, Failure, JobProgress, ProgressFn};
use crossbeam_channel::bounded;
use dredge_carvers::{registry, Matcher, Reader, Verdict};
use dredge_core::{Entry, EntryKind, Extent, Finding, ImageSource, Recovery, Run, RunData, Why};
use dredge_store::{EvidenceRow, Store};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carved {
    pub offset: u64,
    pub len: u64,
    /// Image extents of the file's pieces, in file order (one for a contiguous file).
    pub fragments: Vec<Extent>,
    pub format: &'static str,
    /// The kind within the format ("docx" within "zip", "cr2" within "tiff").
    pub subtype: Option<&'static str>,
    pub extension: &'static str,
    pub complete: bool,
    pub why: Option<String>,
}

/// Finds and validates every file in `extents`. Each candidate is a unit: one that
/// panics or exhausts its work budget is a finding (sorted by offset), never the end
/// of the carve.
pub fn carve_extents(
    src: &Arc<dyn ImageSource>,
    extents: &[Extent],
    threads: usize,
    page_size: u64,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(Vec<Carved>, Vec<Finding>), Failure> {
    let carvers = registry();
    let matcher = Matcher::new(&carvers).map_err(Failure)?;
    let page_size = page_size.max(4096);
    let pages: Vec<Extent> = extents
        .iter()
        .flat_map(|e| {
            let n = e.len.div_ceil(page_size);
            (0..n).map(move |i| {
                Extent::from_bounds(
                    e.start + i * page_size,
                    (e.start + (i + 1) * page_size).min(e.end()),
                )
            })
        })
        .collect();
    let total: u64 = pages.iter().map(|p| p.len).sum();
    let (tx, rx) = bounded::<Extent>(threads * 2);
    let (rtx, rrx) = bounded::<(u64, Vec<Carved>, Vec<Finding>)>(threads * 2);
    let mut found: Vec<Carved> = Vec::new();
    let mut notes: Vec<Finding> = Vec::new();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let rx = rx.clone();
            let rtx = rtx.clone();
            let src = Arc::clone(src);
            let (carvers, matcher) = (&carvers, &matcher);
            s.spawn(move || {
                let mut buf = Vec::new();
                for page in rx {
                    if interrupt.load(Ordering::Relaxed) {
                        break;
                    }
                    let want = (page.len as usize + matcher.margin())
                        .min(src.size().saturating_sub(page.start) as usize);
                    buf.resize(want, 0);
                    let Ok(report) = src.read_at(page.start, &mut buf) else {
                        let _ = rtx.send((page.len, Vec::new(), Vec::new()));
                        continue;
                    };
                    // Validators read mostly inside the page: lend it to them, unless
                    // it has unreadable sectors (those reads must count them).
                    let clean = report.synthesized.iter().all(|s| s.why == Why::PastEnd);
                    let lent: &[u8] = if clean { &buf } else { &[] };
                    let mut r = Reader::with_page(&*src, lent, page.start, 0, 0);
                    let mut out = Vec::new();
                    let mut cut = Vec::new();
                    for (at, ci) in matcher.hits(&buf, page.len as usize) {
                        let c = &carvers[ci];
                        // The hit belongs to the page it is in; the file starts
                        // header_offset bytes before it.
                        let Some(off) = (page.start + at as u64).checked_sub(c.header_offset())
                        else {
                            continue;
                        };
                        r.reset(off, c.max_size());
                        let one = |len| vec![Extent::new(off, len)];
                        // Named only when cut short: most hits are rejected at once.
                        let what = || format!("{} carver", c.name());
                        let verdict = match contain(|| c.validate(&mut r)) {
                            Ok(v) => v,
                            Err(why) => {
                                cut.push(cut_short(off, &what(), &why));
                                continue;
                            }
                        };
                        if r.exhausted() {
                            let why = format!("work budget of {} bytes exhausted", r.work_limit());
                            cut.push(cut_short(off, &what(), &why));
                        }
                        let (len, complete, why, sub, fragments) = match verdict {
                            Verdict::Complete { len, subtype } => {
                                (len, true, None, subtype, one(len))
                            }
                            Verdict::Partial { len, why, subtype } => {
                                (len, false, Some(why), subtype, one(len))
                            }
                            Verdict::Fragmented { fragments, subtype } => {
                                let f: Vec<Extent> = fragments
                                    .iter()
                                    .map(|&(o, l)| Extent::new(off + o, l))
                                    .collect();
                                (f.iter().map(|e| e.len).sum(), true, None, subtype, f)
                            }
                            Verdict::Reject => continue,
                        };
                        // A complete file below the format's minimum is a coincidence;
                        // a partial one keeps whatever prefix validated.
                        if (complete && len < c.min_size()) || len == 0 {
                            continue;
                        }
                        out.push(Carved {
                            offset: off,
                            len,
                            fragments,
                            format: c.name(),
                            subtype: sub,
                            extension: c.extension(sub),
                            complete,
                            why,
                        });
                    }
                    if rtx.send((page.len, out, cut)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(rtx);
        drop(rx);
        s.spawn(move || {
            for p in pages {
                if tx.send(p).is_err() {
                    break;
                }
            }
        });
        let mut done = 0u64;
        let mut last = Instant::now();
        for (n, mut c, mut cut) in rrx {
            done += n;
            found.append(&mut c);
            notes.append(&mut cut);
            if last.elapsed().as_millis() >= 200 || done == total {
                last = Instant::now();
                let el = started.elapsed();
                progress(&JobProgress {
                    job: "carve",
                    phase: format!("carving: {} candidates", found.len()),
                    unit: "bytes",
                    done,
                    total,
                    rescued: done,
                    bad: 0,
                    rate: done as f64 / el.as_secs_f64().max(1e-9),
                    elapsed: el,
                    found: found.len() as u64,
                    unreadable: 0,
                });
            }
        }
    });
    found.sort_by(|a, b| (a.offset, a.format).cmp(&(b.offset, b.format)));
    found.dedup_by(|a, b| a.offset == b.offset && a.format == b.format);
    // Hits inside a complete file belong to it (a ZIP's member headers, a JPEG's
    // thumbnail): they come out with their container, not as files of their own.
    // Decided on the sorted list, so it does not depend on pages or threads.
    let mut covered = dredge_core::ExtentSet::new();
    found.retain(|c| {
        if covered.covered(&Extent::new(c.offset, 1)) > 0 {
            return false;
        }
        if c.complete {
            for f in &c.fragments {
                covered.insert(*f);
            }
        }
        true
    });

    notes.sort_by(|a, b| (a.offset, &a.what).cmp(&(b.offset, &b.what)));
    Ok((found, notes))
}

/// What a carve unit added to the case.
#[derive(Debug, Default, Clone, Copy)]
pub struct CarveStats {
    pub carved: u64,
    pub partial: u64,
    /// Candidates that panicked or ran out of budget (each also a finding).
    pub cut_short: u64,
    pub findings: u64,
}

/// Carves `extents` of one evidence item into the case, as unit `carve`.
#[allow(clippy::too_many_arguments)]
pub fn carve_into_case(
    store: &mut Store,
    sid: i64,
    case_dir: &Path,
    ev: &EvidenceRow,
    src: &Arc<dyn ImageSource>,
    extents: &[Extent],
    volumes: &[(usize, Extent)],
    threads: usize,
    page_size: u64,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<CarveStats, Failure> {
    let unit = "carve";
    if store.unit_done(ev.id, unit).map_err(fail)? {
        return Ok(CarveStats::default());
    }
    store.clear_unit(ev.id, unit).map_err(fail)?;
    let (mut carved, mut findings) =
        carve_extents(src, extents, threads, page_size, interrupt, progress)?;
    if interrupt.load(Ordering::Relaxed) {
        return Ok(CarveStats::default());
    }
    // A deleted file the filesystem layer already recovered lies in free space too:
    // the same place and length is the same bytes, so it is not carved again.
    let known = store.single_run_artifacts(ev.id).map_err(fail)?;
    let before = carved.len();
    carved
        .retain(|c| !(c.complete && c.fragments.len() == 1 && known.contains(&(c.offset, c.len))));
    let duplicates = before - carved.len();
    let out_root = PathBuf::from("carved").join(&ev.label);
    let tasks: Vec<Task> = carved
        .iter()
        .map(|c| {
            let name = format!("{:012x}.{}", c.offset, c.extension);
            let rel = out_root.join(&name);
            Task {
                entry: Entry {
                    id: c.offset,
                    path: format!("/$Carved/{name}"),
                    other_names: Vec::new(),
                    kind: EntryKind::File,
                    deleted: false,
                    size: c.len,
                    times: Vec::new(),
                    runs: {
                        let mut pos = 0;
                        c.fragments
                            .iter()
                            .map(|f| {
                                let r = Run { file_offset: pos, len: f.len, data: RunData::Image(f.start) };
                                pos += f.len;
                                r
                            })
                            .collect()
                    },
                    recovery: match &c.why {
                        None if c.fragments.len() > 1 => Recovery::Assumed(format!(
                            "carved in {} fragments, reassembled and validated to its end (gap carving)",
                            c.fragments.len()
                        )),
                        None => Recovery::Assumed("carved: structure validated to its end".into()),
                        Some(w) => Recovery::Assumed(format!(
                            "carved: valid only up to byte {} ({w})",
                            c.len
                        )),
                    },
                    meta_offset: c.offset,
                },
                artifact_id: format!("{}/carve/{:x}/{}", ev.label, c.offset, c.format),
                out: Some(case_dir.join(&rel)),
                rel_out: Some(rel.display().to_string()),
                fallback: None,
            }
        })
        .collect();
    let mut stats = (0u64, 0u64);
    // Forensic path: the volume the file starts in (when the image has volumes), where,
    // and what: ev1/vol2@1048576/unalloc@0x8a00000/zip/docx.
    let by_offset: std::collections::HashMap<u64, (bool, String)> = carved
        .iter()
        .map(|c| {
            let vol = volumes
                .iter()
                .find(|(_, v)| v.contains(c.offset))
                .map(|(i, v)| format!("/vol{i}@{}", v.start))
                .unwrap_or_default();
            let what = match c.subtype {
                Some(sub) if sub != c.format => format!("{}/{sub}", c.format),
                _ => c.format.to_string(),
            };
            let path = format!("{}{vol}/unalloc@{:#x}/{what}", ev.label, c.offset);
            (c.offset, (c.complete, path))
        })
        .collect();
    extract_tasks(
        store,
        ev,
        unit,
        None,
        "carve",
        tasks,
        src,
        threads,
        interrupt,
        progress,
        &mut findings,
        &mut |a| {
            let (whole, path) = by_offset
                .get(&a.meta_offset)
                .cloned()
                .unwrap_or((false, format!("{}/unalloc@{:#x}", ev.label, a.meta_offset)));
            a.origin = "carved".into();
            a.forensic_path = path;
            a.recovery = if whole {
                "carved-complete".into()
            } else {
                "carved-partial".into()
            };
            if !whole {
                a.status = "partial".into();
            }
            stats.0 += 1;
            stats.1 += u64::from(!whole);
        },
    )?;
    if interrupt.load(Ordering::Relaxed) {
        return Ok(CarveStats::default());
    }
    let cut = count_cut_short(&findings);
    store
        .add_findings(ev.id, unit, &to_records(&findings))
        .map_err(fail)?;
    store
        .finish_unit(
            ev.id,
            unit,
            serde_json::json!({"carved": stats.0, "partial": stats.1, "already_recovered_by_filesystem": duplicates,
                               "findings": findings.len()}),
            Some(sid),
        )
        .map_err(fail)?;
    Ok(CarveStats {
        carved: stats.0,
        partial: stats.1,
        cut_short: cut,
        findings: findings.len() as u64,
    })
}
