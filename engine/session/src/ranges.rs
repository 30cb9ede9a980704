//! One image's carving cut into byte ranges (issue 16, decision 0020). The
//! shard that registers the item reads it once, as always, hashing it whole and
//! each range alone, and carves nothing (`carve.deferred`). The shard of a range
//! reads that range (and one block past it for the seam), carves the space to
//! carve in it, and records what it found with the SHA-256 of the bytes it read
//! (`carve.range`). The merge checks each range's digest against the
//! registration's, settles every range's files together and stores them as the
//! one `carve` unit a single run stores (range_merge.rs).

use crate::carve::Carved;
use crate::scan::ScanOptions;
use crate::{fail, open_case, Failure, ProgressFn};
use dredge_core::{Extent, Finding, ImageSource};
use dredge_hash::{Algorithm, Algorithms};
use dredge_store::Action;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Range sizes are whole pass blocks, so a range's blocks are the blocks a
/// whole pass reads there, and its seams are theirs.
pub const RANGE_ALIGN: u64 = 4 << 20;

/// The number of ranges of `size` bytes an image of `image` bytes is cut into.
pub fn range_count(image: u64, size: u64) -> u32 {
    u32::try_from(image.div_ceil(size.max(1))).unwrap_or(u32::MAX)
}

/// Range `index` (1-based) of ranges of `size` bytes of an image of `image` bytes.
pub fn range_extent(index: u32, size: u64, image: u64) -> Extent {
    let start = (u64::from(index.max(1)) - 1)
        .saturating_mul(size)
        .min(image);
    Extent::from_bounds(start, start.saturating_add(size).min(image))
}

/// The space to carve that lies in `span`, sorted and merged, and its digest:
/// the registration and the range's shard must have meant the same bytes.
pub(crate) fn space_in(carve: &[Extent], span: Extent) -> (Vec<Extent>, String) {
    space_of_merged(&crate::pass::merged(carve), span)
}

/// [`space_in`] of space already merged (sorted, disjoint): the extents in
/// `span` are found by binary search, so the registration, which digests every
/// range's space, does not go through millions of free extents once per range.
fn space_of_merged(merged: &[Extent], span: Extent) -> (Vec<Extent>, String) {
    let first = merged.partition_point(|e| e.end() <= span.start);
    let out: Vec<Extent> = merged[first..]
        .iter()
        .take_while(|e| e.start < span.end())
        .filter_map(|e| e.intersect(&span))
        .collect();
    let mut text = String::with_capacity(out.len() * 24);
    for e in &out {
        text.push_str(&format!("{}+{}\n", e.start, e.len));
    }
    let digest = dredge_hash::sha256_hex(text.as_bytes());
    (out, digest)
}

/// What the registration's pass records for each range when carving is left to them.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    pub range_size: u64,
    /// Each range, the SHA-256 of its bytes and of the space to carve in it.
    pub ranges: Vec<(Extent, String, String)>,
}

impl Deferred {
    pub(crate) fn new(range_size: u64, size: u64, digests: Vec<String>, carve: &[Extent]) -> Self {
        let merged = crate::pass::merged(carve);
        let ranges = digests
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let span = range_extent(i as u32 + 1, range_size, size);
                (span, d, space_of_merged(&merged, span).1)
            })
            .collect();
        Deferred { range_size, ranges }
    }

    pub(crate) fn params(&self, label: &str) -> Value {
        json!({
            "evidence": label, "range_size": self.range_size,
            "ranges": self.ranges.iter().enumerate().map(|(i, (e, d, s))| json!({
                "index": i + 1, "start": e.start, "len": e.len, "sha256": d, "space_sha256": s,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What one range's shard did.
#[derive(Debug, Clone)]
pub struct RangeOutcome {
    pub span: Extent,
    /// Candidates found (before the merge settles them with the other ranges').
    pub candidates: usize,
    pub sha256: String,
    pub interrupted: bool,
}

fn carved_json(c: &Carved, sha256: &str) -> Value {
    json!({
        "offset": c.offset, "len": c.len,
        "fragments": c.fragments.iter().map(|f| [f.start, f.len]).collect::<Vec<_>>(),
        "format": c.format, "subtype": c.subtype, "extension": c.extension,
        "complete": c.complete, "unverified": c.unverified, "joined": c.joined, "why": c.why, "sha256": sha256,
    })
}

fn note_json(f: &Finding) -> Value {
    json!({"offset": f.offset, "what": f.what, "expected": f.expected, "actual": f.actual,
           "cut_short": f.unit_cut_short})
}

/// SHA-256 of a carved file's bytes as `src` gives them (zero-filled where
/// unreadable, as its copy will be).
pub(crate) fn carved_digest(src: &dyn ImageSource, c: &Carved) -> Result<String, Failure> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in &c.fragments {
        let mut at = f.start;
        while at < f.end() {
            let n = (f.end() - at).min(buf.len() as u64) as usize;
            src.read_at(at, &mut buf[..n]).map_err(fail)?;
            h.update(&buf[..n]);
            at += n as u64;
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Where a range's findings are written in its shard case.
pub fn range_file(label: &str, index: u32, of: u32) -> PathBuf {
    PathBuf::from("ranges").join(format!("{label}-{index}-of-{of}.json"))
}

/// The shard of range `index` of `of` (ranges of `range_size` bytes) of the item
/// registered as `label`: reads that range of `image`, carves the space the
/// scan would carve there, and records the result in the shard case `case`
/// (`ranges/…json` and a `carve.range` event).
#[allow(clippy::too_many_arguments)]
pub fn carve_range(
    case: &Path,
    (image, map): (&Path, Option<&Path>),
    label: &str,
    opts: &ScanOptions,
    (range_size, index, of): (u64, u32, u32),
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<RangeOutcome, Failure> {
    let mut store = open_case(case)?;
    let _lock = crate::lock_for_job(&mut store)?;
    let opened = dredge_image::open_evidence(image, map).map_err(fail)?;
    let guard = crate::EvidenceGuard::capture(&opened.segments).map_err(fail)?;
    let raw: Arc<dyn ImageSource> = Arc::from(opened.source);
    let size = raw.size();
    if range_count(size, range_size) != of {
        return Err(Failure(format!(
            "{}: {size} bytes make {} ranges of {range_size}, not the {of} this shard was cut for: the image changed",
            image.display(),
            range_count(size, range_size)
        )));
    }
    let seq = dredge_core::Counted::new(Arc::clone(&raw));
    let other = dredge_core::Counted::new(raw);
    let stored: Arc<dyn ImageSource> = Arc::new(other.clone());
    let unlocked = crate::unlock::unlock(&stored, label, &opts.keys, interrupt)?;
    // The volumes' files are the registering shard's: only the space to carve
    // is wanted here, so every volume unit counts as done and none is walked.
    let out = crate::names::CaseOut::of(&store).map_err(fail)?;
    let mut sink = crate::files::PlanSink::new(&out.dir, size)?;
    let Some(analysis) = crate::analysis::analyse(
        &unlocked.src,
        &stored,
        &unlocked.plain,
        label,
        &out,
        opts,
        &|u| u != "carve",
        crate::layout::Lost::Skip,
        None,
        &mut sink,
        interrupt,
    )?
    else {
        return Ok(RangeOutcome {
            span: Extent::new(0, 0),
            candidates: 0,
            sha256: String::new(),
            interrupted: true,
        });
    };
    drop(sink);
    let span = range_extent(index, range_size, size);
    let (space, space_sha256) = space_in(&analysis.carve, span);
    let plan = crate::pass::Plan {
        hash: Some(Algorithms::only(Algorithm::Sha256)),
        carve: &space,
        lost: &[],
        hunts: &[],
        page_size: opts.page_size,
        threads: opts.threads,
        job: "carve-range",
        layered: unlocked.layered.as_deref(),
        span: Some(span),
        range_digests: None,
        settle: false,
    };
    let seq_src: Arc<dyn ImageSource> = Arc::new(seq.clone());
    let r = crate::pass::run(&seq_src, &unlocked.src, &plan, None, interrupt, progress)?;
    let sha256 = r.digests.and_then(|d| d.sha256).unwrap_or_default();
    if r.interrupted {
        return Ok(RangeOutcome {
            span,
            candidates: 0,
            sha256,
            interrupted: true,
        });
    }
    let mut carved = Vec::with_capacity(r.carved.len());
    for c in &r.carved {
        carved.push(carved_json(c, &carved_digest(&*unlocked.src, c)?));
    }
    guard.check().map_err(fail)?;
    let rel = range_file(label, index, of);
    let body = json!({
        "evidence": label, "index": index, "of": of, "start": span.start, "len": span.len,
        "sha256": sha256, "space_sha256": space_sha256,
        "carved": carved,
        "notes": r.notes.iter().map(note_json).collect::<Vec<_>>(),
        "unreadable": r.synthesized.synthesized.iter()
            .map(|s| [s.extent.start, s.extent.len]).collect::<Vec<_>>(),
    });
    let text = serde_json::to_vec(&body).map_err(fail)?;
    let path = case.join(&rel);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| Failure(format!("{}: {e}", p.display())))?;
    }
    std::fs::write(&path, &text).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    store
        .append_event(
            Action::CarveRange,
            json!({
                "evidence": label, "index": index, "of": of, "start": span.start, "len": span.len,
                "range_size": range_size, "sha256": sha256, "space_sha256": space_sha256,
                "candidates": carved.len(), "results": rel, "results_sha256": dredge_hash::sha256_hex(&text),
                "read": {"pass_bytes": seq.bytes(), "other_bytes": other.bytes()},
            }),
            None,
        )
        .map_err(fail)?;
    Ok(RangeOutcome {
        span,
        candidates: carved.len(),
        sha256,
        interrupted: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::{units, ShardSpec, Unit};

    #[test]
    fn ranges_cover_the_image_once_in_order() {
        let m = 4u64 << 20;
        for image in [1, m - 1, m, m + 1, 3 * m, 10 * m + 7] {
            let n = range_count(image, m);
            let mut at = 0;
            for i in 1..=n {
                let e = range_extent(i, m, image);
                assert_eq!(e.start, at, "range {i} of {image}");
                assert!(e.len > 0 && e.len <= m);
                at = e.end();
            }
            assert_eq!(at, image);
        }
    }

    #[test]
    fn the_space_in_a_range_is_clipped_merged_and_digested_alike() {
        let span = Extent::new(100, 100);
        let (a, da) = space_in(
            &[
                Extent::new(150, 10),
                Extent::new(50, 60),
                Extent::new(155, 20),
            ],
            span,
        );
        assert_eq!(a, vec![Extent::new(100, 10), Extent::new(150, 25)]);
        // The same space cut otherwise has the same digest; other space does not.
        let (_, db) = space_in(&[Extent::new(100, 10), Extent::new(150, 25)], span);
        assert_eq!(da, db);
        let (_, dc) = space_in(&[Extent::new(100, 10), Extent::new(150, 26)], span);
        assert_ne!(da, dc);
        // The search over merged space gives what clipping every extent gives.
        let many: Vec<Extent> = (0..500u64)
            .map(|i| Extent::new(i * 37 % 9000, 1 + i % 23))
            .collect();
        for start in [0u64, 1, 499, 4000, 8990, 9500] {
            let span = Extent::new(start, 777);
            let clipped: Vec<Extent> = many.iter().filter_map(|e| e.intersect(&span)).collect();
            assert_eq!(
                space_in(&many, span).0,
                crate::pass::merged(&clipped),
                "span at {start}"
            );
        }
    }

    #[test]
    fn every_unit_goes_to_one_shard_in_runs_and_uncut_jobs_keep_their_items() {
        let splits = [0, 3, 0, 2];
        let all = units(4, &splits);
        assert_eq!(all.len(), 9);
        assert_eq!(all[1], Unit::Item(1));
        assert_eq!(all[2], Unit::Range(1, 1));
        for n in 1..=12 {
            let mut seen = Vec::new();
            for k in 1..=n {
                seen.extend(ShardSpec { k, n }.holds(4, &splits));
            }
            assert_eq!(seen, all, "{n} shards");
        }
        // Without cuts a unit is an item, and the item assignment stands.
        for n in 1..=5 {
            for i in 0..4 {
                let k = ShardSpec::of_item(i, 4, n);
                assert!(ShardSpec { k, n }.holds(4, &[]).contains(&Unit::Item(i)));
            }
        }
    }
}
