//! Carving: the pass (pass.rs) cuts the extents to carve into pages; workers find
//! header hits that start inside their page (with a margin so a header crossing
//! the page end is whole) and validate each hit against the whole image. Each hit
//! is judged on its own, so the result is the same for any page size and thread
//! count; the list is settled (sorted) before anything is written.

use crate::extract::{extract_tasks, Task};
use crate::scan::to_records;
use crate::unit::{contain, count_cut_short, cut_short};
use crate::{fail, Failure, ProgressFn};
use dredge_carvers::{registry, Matcher, Reader, Verdict};
use dredge_core::{Entry, EntryKind, Extent, Finding, ImageSource, Recovery, Run, RunData};
use dredge_store::ArtifactStatus;
use dredge_store::{EvidenceRow, Store};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Whole by its structure but in a format with no check that foreign
    /// data inside it would fail (`Verdict::Unverified`).
    pub unverified: bool,
    /// In pieces put together by the continuity of its samples
    /// (`Verdict::Joined`), not by a check.
    pub joined: bool,
    pub why: Option<String>,
}

/// The carvers and their header matcher, built once per carve.
pub(crate) struct CarveKit {
    carvers: Vec<Box<dyn dredge_carvers::Carver>>,
    matcher: Matcher,
    /// The text carver, whose candidates are sectors, not header hits.
    text: Option<usize>,
    /// Other carvers no header marks, asked of every sector (`sector_start`).
    sectors: Vec<usize>,
}

impl CarveKit {
    pub(crate) fn new() -> Result<CarveKit, Failure> {
        let carvers = registry();
        let matcher = Matcher::new(&carvers).map_err(Failure)?;
        let text = carvers.iter().position(|c| c.name() == "text");
        let sectors = (0..carvers.len())
            .filter(|&i| carvers[i].headers().is_empty() && Some(i) != text)
            .collect();
        Ok(CarveKit {
            carvers,
            matcher,
            text,
            sectors,
        })
    }

    /// Bytes past a page a header starting in it may need.
    pub(crate) fn margin(&self) -> usize {
        self.matcher.margin()
    }

    /// Header hits (offset in `buf`, carver) that start in `buf[..owned]`; `buf`
    /// holds up to `margin()` bytes more.
    pub(crate) fn hits(&self, buf: &[u8], owned: usize) -> Vec<(usize, usize)> {
        self.matcher.hits(buf, owned)
    }

    /// Sectors in `buf[..owned]` (image offset `at`) where text, or a file of
    /// another format no header marks, starts, as hits of its carver; `before`:
    /// the bytes before `buf` known (for text).
    pub(crate) fn text_hits(
        &self,
        buf: &[u8],
        owned: usize,
        at: u64,
        before: &[u8],
    ) -> Vec<(usize, usize)> {
        let mut hits: Vec<(usize, usize)> = match self.text {
            Some(t) => dredge_carvers::text_starts(buf, owned, at, before)
                .into_iter()
                .map(|i| (i, t))
                .collect(),
            None => Vec::new(),
        };
        if !self.sectors.is_empty() {
            let mut i = (at.next_multiple_of(512) - at) as usize;
            while i < owned {
                for &c in &self.sectors {
                    if self.carvers[c].sector_start(&buf[i..]) {
                        hits.push((i, c));
                    }
                }
                i += 512;
            }
        }
        hits
    }

    /// Validates each hit (image offset, carver). Validators read from `lent`
    /// (blocks read without unreadable sectors, already in memory) and otherwise
    /// through `src`, which reports what it zero-filled. Each candidate is a unit
    /// (decision 0013).
    pub(crate) fn carve_hits(
        &self,
        src: &dyn ImageSource,
        hits: &[(u64, usize)],
        lent: [(&[u8], u64); 2],
    ) -> (Vec<Carved>, Vec<Finding>) {
        let mut r = Reader::with_page(src, lent[0].0, lent[0].1, 0, 0);
        r.lend_next(lent[1].0, lent[1].1);
        let mut out = Vec::new();
        let mut cut = Vec::new();
        for &(hit, ci) in hits {
            let c = &self.carvers[ci];
            // The hit belongs to the page it is in; the file starts header_offset
            // bytes before it.
            let Some(off) = hit.checked_sub(c.header_offset()) else {
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
            let unverified = matches!(verdict, Verdict::Unverified { .. });
            let joined = matches!(verdict, Verdict::Joined { .. });
            let (len, complete, why, sub, fragments) = match verdict {
                Verdict::Complete { len, subtype } | Verdict::Unverified { len, subtype } => {
                    (len, true, None, subtype, one(len))
                }
                Verdict::Partial { len, why, subtype } => {
                    (len, false, Some(why), subtype, one(len))
                }
                Verdict::Fragmented { fragments, subtype }
                | Verdict::Joined { fragments, subtype } => {
                    let f: Vec<Extent> = fragments
                        .iter()
                        .map(|&(o, l)| Extent::new(off + o, l))
                        .collect();
                    (f.iter().map(|e| e.len).sum(), true, None, subtype, f)
                }
                Verdict::Reject => continue,
            };
            // A complete file below the format's minimum is a coincidence; a
            // partial one keeps whatever prefix validated.
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
                unverified,
                joined,
                why,
            });
        }
        (out, cut)
    }
}

/// Formats whose partial verdict covers only structure walked and checked
/// (local headers and members, segments, chunks), so a partial hit of the
/// same format inside that prefix is the partial file's own (a ZIP or TAR
/// member header, a JPEG thumbnail), not another damaged file. Other formats'
/// partials may claim up to a damaged declared size.
const WALKED_PARTIALS: &[&str] = &["zip", "jpeg", "png", "tar"];

/// Formats with no structure that a file inside another would break: a
/// start of theirs inside any carved file, whole or partial, is dropped.
const TEXTS: &[&str] = &["text", "utf16-text"];

/// Whether a whole but unverified carve's bytes are raw samples that never
/// hold another file (BMP pixels, WAV's PCM): a validated file starting inside
/// one is not its content but a sign it was carved contiguous across a gap,
/// so it is kept. (An MP3's ID3 picture, an AVI's JPEG frames are content.)
fn opaque(c: &Carved) -> bool {
    (c.unverified || c.joined)
        && (c.format == "bmp" || (c.format == "riff" && c.subtype == Some("wav")))
}

/// The carve's result in a fixed order, whatever the pages and threads were:
/// sorted, each hit once, and hits inside a complete file left to it (a ZIP's
/// member headers, a JPEG's thumbnail come out with their container), as are
/// partial hits of the same format inside the prefix of a partial ZIP, JPEG or
/// PNG (a damaged ZIP's member headers are not further "zip" partials), and
/// text starting inside any carved file. A complete file of a structured
/// format is never dropped for lying inside a partial one, nor a validated
/// one for lying inside an unverified BMP or WAV (see [`opaque`]).
pub(crate) fn settle(found: Vec<Carved>, notes: Vec<Finding>) -> (Vec<Carved>, Vec<Finding>) {
    let (mut found, notes) = sorted(found, notes);
    let mut covered = dredge_core::ExtentSet::new();
    let mut own: std::collections::HashMap<&str, dredge_core::ExtentSet> =
        std::collections::HashMap::new();
    // Every kept file's bytes, partial ones too: text (no structure of its
    // own) that starts inside any of them is that file's, not another file.
    let mut any = dredge_core::ExtentSet::new();
    // Whole files of raw samples: only unvalidated hits inside them are theirs.
    let mut samples = dredge_core::ExtentSet::new();
    found.retain(|c| {
        let at = Extent::new(c.offset, 1);
        let validated = c.complete && !c.unverified;
        if covered.covered(&at) > 0
            || (!validated && samples.covered(&at) > 0)
            || (!c.complete && own.get(c.format).is_some_and(|s| s.covered(&at) > 0))
            || (TEXTS.contains(&c.format) && any.covered(&at) > 0)
        {
            return false;
        }
        for f in &c.fragments {
            any.insert(*f);
        }
        if opaque(c) {
            for f in &c.fragments {
                samples.insert(*f);
            }
        } else if c.complete {
            for f in &c.fragments {
                covered.insert(*f);
            }
        } else if WALKED_PARTIALS.contains(&c.format) {
            let set = own.entry(c.format).or_default();
            for f in &c.fragments {
                set.insert(*f);
            }
        }
        true
    });
    (found, notes)
}

/// The carve's hits in settling order, each once, nothing dropped: what a
/// range shard keeps, since a file of an earlier range may hold its hits.
pub(crate) fn sorted(
    mut found: Vec<Carved>,
    mut notes: Vec<Finding>,
) -> (Vec<Carved>, Vec<Finding>) {
    // At one offset a structured format goes before text, which would
    // otherwise cover it (a torrent's or an mbox's first bytes are text).
    let key = |c: &Carved| (c.offset, TEXTS.contains(&c.format), c.format);
    found.sort_by(|a, b| key(a).cmp(&key(b)));
    found.dedup_by(|a, b| a.offset == b.offset && a.format == b.format);
    notes.sort_by(|a, b| (a.offset, &a.what).cmp(&(b.offset, &b.what)));
    (found, notes)
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

/// Checks a carved file's copy before its row is stored: (offset, format,
/// SHA-256 of the copy). The merge of a carving cut into ranges gives one, so
/// the bytes copied are proved to be those the range's shard carved as they
/// are copied, not by reading every carved file once more before.
pub type CopyCheck<'a> = &'a dyn Fn(u64, &str, &str) -> Result<(), Failure>;

/// Records what the pass carved from one evidence item (`found`, settled) as unit
/// `carve`: each file extracted, hashed and stored, then the unit sealed.
#[allow(clippy::too_many_arguments)]
pub fn carve_into_case(
    store: &mut Store,
    sid: i64,
    ev: &EvidenceRow,
    src: &Arc<dyn ImageSource>,
    found: (Vec<Carved>, Vec<Finding>),
    volumes: &[(usize, Extent)],
    threads: usize,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
    check: Option<CopyCheck<'_>>,
) -> Result<CarveStats, Failure> {
    let unit = "carve";
    store.clear_unit(ev.id, unit).map_err(fail)?;
    let (mut carved, mut findings) = found;
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
                        None if c.joined && TEXTS.contains(&c.format) => Recovery::Assumed(format!(
                            "carved in {} fragments, put together where its text resumes after a gap in the middle of the line the first piece was cut in, the line across the seam reading as one of the file's (no check covers text)",
                            c.fragments.len()
                        )),
                        None if c.joined => Recovery::Assumed(format!(
                            "carved in {} fragments, put together where its samples resume as smooth as before a run as rough as noise (no check covers the samples)",
                            c.fragments.len()
                        )),
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
                rel_out: Some(rel.display().to_string()),
                fallback: None,
            }
        })
        .collect();
    let mut stats = (0u64, 0u64);
    // Forensic path: the volume the file starts in (when the image has volumes), where,
    // and what: ev1/vol2@1048576/unalloc@0x8a00000/zip/docx.
    let formats: std::collections::HashMap<u64, &str> =
        carved.iter().map(|c| (c.offset, c.format)).collect();
    let by_offset: std::collections::HashMap<u64, (bool, bool, String)> = carved
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
            (c.offset, (c.complete, c.unverified, path))
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
            let (whole, unverified, path) = by_offset.get(&a.meta_offset).cloned().unwrap_or((
                false,
                false,
                format!("{}/unalloc@{:#x}", ev.label, a.meta_offset),
            ));
            a.origin = dredge_store::ArtifactOrigin::Carved;
            a.forensic_path = path;
            a.recovery = match (whole, unverified) {
                (true, false) => dredge_store::ArtifactRecovery::CarvedComplete,
                (true, true) => dredge_store::ArtifactRecovery::CarvedUnverified,
                (false, _) => dredge_store::ArtifactRecovery::CarvedPartial,
            };
            if unverified && whole {
                a.recovery_detail = Some(
                    "whole by its structure; the format has no check that would catch foreign data inside it (a fragmented file carved as contiguous)".into(),
                );
            }
            if !whole {
                a.status = ArtifactStatus::Partial;
            }
            stats.0 += 1;
            stats.1 += u64::from(!whole);
            // A copy cut short has no digest (its finding says why): only
            // the bytes a copy holds are checked.
            if let (Some(check), Some(format), Some(d)) =
                (check, formats.get(&a.meta_offset), a.digests.as_ref())
            {
                check(a.meta_offset, format, &d.2)?;
            }
            Ok(())
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
