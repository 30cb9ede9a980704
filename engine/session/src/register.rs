//! Registering evidence: hash it (through the mapfile, so unrescued bytes are
//! zero-filled and listed) and record it. For the one-shot commands (`recover`,
//! `carve`) the registration's read is also the scan's pass (issue 18): the
//! space to carve is found from metadata first, then one read of the image
//! hashes it and carves that space, and the scan takes those carved files
//! instead of reading the image again.

use crate::carve::Carved;
use crate::scan::{layout, registry, unallocated_extents, CarveScope, ScanOptions};
use crate::{
    abs, close_failed, ewf_extra, fail, hash_with_progress, is_block_device, lock_for_job,
    open_case, pass, EvidenceGuard, Failure, Outcome, ProgressFn,
};
use dredge_core::{Counted, Extent, Finding, ImageSource};
use dredge_hash::sha256_hex;
use dredge_image::open_evidence;
use dredge_store::{EvidenceRow, NewEvidence, Store};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the registration's pass carved, for the scan of the same item.
#[derive(Debug, Clone)]
pub struct Precarved {
    pub(crate) label: String,
    pub(crate) carved: Vec<Carved>,
    pub(crate) notes: Vec<Finding>,
}

#[derive(Debug, Clone)]
pub struct AddResult {
    pub outcome: Outcome,
    pub evidence: Option<EvidenceRow>,
    pub gaps: Vec<(u64, u64, String)>,
    /// For E01 evidence: what the file says about itself.
    pub ewf: Option<dredge_image::EwfMeta>,
    /// Bytes read: by the sequential pass, and otherwise (metadata, validators).
    pub read_pass: u64,
    pub read_other: u64,
}

/// Registers evidence: hashes it (reading through the mapfile if one is given, so
/// unrescued bytes are zero-filled and listed) and records it.
pub fn add_evidence(
    case_dir: &Path,
    image: &Path,
    map: Option<&Path>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<AddResult, Failure> {
    add_evidence_one_pass(case_dir, image, map, None, interrupt, progress).map(|r| r.0)
}

/// `add_evidence`, and with `scan`, the one read of the image also carves what
/// that scan would carve (returned for [`crate::scan_precarved`]).
pub fn add_evidence_one_pass(
    case_dir: &Path,
    image: &Path,
    map: Option<&Path>,
    scan: Option<&ScanOptions>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(AddResult, Option<Precarved>), Failure> {
    let mut store = open_case(case_dir)?;
    let _lock = lock_for_job(&mut store)?;
    let sid = store
        .begin_session("add", json!({"image": abs(image), "map": map.map(abs)}))
        .map_err(fail)?;
    match add_in_session(&mut store, sid, image, map, scan, interrupt, progress) {
        Ok(r) => {
            let summary = json!({
                "evidence": r.0.evidence.as_ref().map(|e| e.label.clone()),
                "bad_bytes": r.0.evidence.as_ref().map(|e| e.bad_bytes),
                "read": {"pass_bytes": r.0.read_pass, "other_bytes": r.0.read_other},
            });
            store
                .end_session(sid, r.0.outcome.status(), summary)
                .map_err(fail)?;
            Ok(r)
        }
        Err(f) => Err(close_failed(&mut store, sid, f)),
    }
}

#[allow(clippy::too_many_arguments)]
fn add_in_session(
    store: &mut Store,
    sid: i64,
    image: &Path,
    map: Option<&Path>,
    scan: Option<&ScanOptions>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(AddResult, Option<Precarved>), Failure> {
    let opened = open_evidence(image, map).map_err(fail)?;
    let guard = EvidenceGuard::capture(&opened.segments).map_err(fail)?;
    let (segments, ewf) = (opened.segments, opened.ewf);
    let map_sha256 = match map {
        Some(m) => Some(sha256_hex(
            &std::fs::read(m).map_err(|e| fail(format!("{}: {e}", m.display())))?,
        )),
        None => None,
    };
    let raw: Arc<dyn ImageSource> = Arc::from(opened.source);
    let seq = Counted::new(Arc::clone(&raw));
    let other = Counted::new(raw);
    let (hashed, pre) = match scan {
        None => {
            let h = hash_with_progress(&seq, "hash", "hashing", interrupt, progress)?;
            (h, None)
        }
        Some(o) => {
            let src: Arc<dyn ImageSource> = Arc::new(other.clone());
            let (h, carved) = hash_and_carve(&seq, &src, o, interrupt, progress)?;
            (h, Some(carved))
        }
    };
    let extra = ewf_extra(ewf.as_ref(), &hashed.digests);
    if hashed.interrupted {
        let r = AddResult {
            outcome: Outcome::Interrupted,
            evidence: None,
            gaps: Vec::new(),
            ewf: None,
            read_pass: seq.bytes(),
            read_other: other.bytes(),
        };
        return Ok((r, None));
    }
    guard.check().map_err(fail)?;
    let gaps: Vec<(u64, u64, String)> = hashed
        .synthesized
        .synthesized
        .iter()
        .map(|s| (s.extent.start, s.extent.len, s.why.as_str().to_string()))
        .collect();
    let bad_bytes = hashed.synthesized.synthesized_bytes();
    let kind = if ewf.is_some() {
        "ewf"
    } else if segments.len() > 1 {
        "split"
    } else if is_block_device(image) {
        "device"
    } else {
        "raw"
    };
    let row = store
        .add_evidence(
            &NewEvidence {
                path: abs(image),
                segments: segments.iter().map(|p| abs(p)).collect(),
                kind: kind.to_string(),
                size: hashed.size,
                md5: hashed.digests.md5,
                sha1: hashed.digests.sha1,
                sha256: hashed.digests.sha256,
                map_path: map.map(abs),
                map_sha256,
                bad_bytes,
                gaps: gaps.clone(),
                extra,
            },
            Some(sid),
        )
        .map_err(fail)?;
    let pre = pre.map(|(carved, notes)| Precarved {
        label: row.label.clone(),
        carved,
        notes,
    });
    let r = AddResult {
        outcome: if bad_bytes > 0 {
            Outcome::CompleteWithGaps
        } else {
            Outcome::Complete
        },
        evidence: Some(row),
        gaps,
        ewf,
        read_pass: seq.bytes(),
        read_other: other.bytes(),
    };
    Ok((r, pre))
}

/// The registration's hash and the scan's carving from one read of `seq`: the
/// space to carve comes from metadata first, exactly as the scan finds it.
#[allow(clippy::type_complexity)]
fn hash_and_carve(
    seq: &Counted,
    src: &Arc<dyn ImageSource>,
    o: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(dredge_hash::SourceHash, (Vec<Carved>, Vec<Finding>)), Failure> {
    let extents = match o.carve {
        CarveScope::None => Vec::new(),
        CarveScope::All => vec![Extent::new(0, src.size())],
        _ => {
            let reg = registry();
            let (_, vols, _) = layout(src, &reg, interrupt, o.filesystems)?;
            unallocated_extents(src, &vols, &reg)
        }
    };
    let plan = pass::Plan {
        hash: true,
        carve: &extents,
        page_size: o.page_size,
        threads: o.threads,
        job: "hash",
    };
    let seq: Arc<dyn ImageSource> = Arc::new(seq.clone());
    let p = pass::run(&seq, src, &plan, None, interrupt, progress)?;
    let hashed = dredge_hash::SourceHash {
        digests: p.digests.unwrap_or_default(),
        size: seq.size(),
        synthesized: p.synthesized,
        interrupted: p.interrupted,
    };
    Ok((hashed, (p.carved, p.notes)))
}
