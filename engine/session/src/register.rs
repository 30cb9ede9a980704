//! Registering evidence: hash it (through the mapfile, so unrescued bytes are
//! zero-filled and listed) and record it. For the one-shot commands (`recover`,
//! `carve`) the registration's read is also the scan's pass (decision 0014):
//! the image's metadata is analysed first (under the label it is about to get),
//! then one read hashes it, carves its free space and writes its files' copies,
//! and the scan that follows only stores the rows.

use crate::scan::{prepare, Hashing, Prepared, ScanOptions};
use crate::{
    abs, ewf_extra, fail, hash_with_progress, is_block_device, lock_for_job, open_case,
    EvidenceGuard, Failure, Outcome, ProgressFn,
};
use dredge_core::Counted;
use dredge_hash::{sha256_hex, Algorithms};
use dredge_image::open_evidence;
use dredge_store::{EvidenceRow, NewEvidence, SessionCommand, Store};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AddResult {
    pub outcome: Outcome,
    pub evidence: Option<EvidenceRow>,
    pub gaps: Vec<dredge_core::Gap>,
    /// For E01 evidence: what the file says about itself.
    pub ewf: Option<dredge_image::EwfMeta>,
    /// For an Apple disk image: its stored CRC-32s against what was read, as
    /// one line each ("match" lines left out when all match).
    pub dmg: Vec<String>,
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
    add_evidence_hashing(case_dir, image, map, Algorithms::ALL, interrupt, progress)
}

/// `add_evidence` computing only the digests chosen (`--hash`).
pub fn add_evidence_hashing(
    case_dir: &Path,
    image: &Path,
    map: Option<&Path>,
    hash: Algorithms,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<AddResult, Failure> {
    add_evidence_one_pass(case_dir, image, map, Err(hash), interrupt, progress).map(|r| r.0)
}

/// `add_evidence`, and with `scan` (`Ok`), the one read of the image also does
/// that scan's reading (returned for [`crate::scan_precarved`]); the digests are
/// the scan options' `hash`, or (`Err`) the set given.
pub fn add_evidence_one_pass(
    case_dir: &Path,
    image: &Path,
    map: Option<&Path>,
    scan: Result<&ScanOptions, Algorithms>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(AddResult, Option<Prepared>), Failure> {
    let mut store = open_case(case_dir)?;
    let _lock = lock_for_job(&mut store)?;
    let hash = match scan {
        Ok(o) => o.hash,
        Err(h) => h,
    };
    crate::in_session(
        &mut store,
        SessionCommand::Add,
        args(image, map, hash),
        |store, sid| {
            let r = add_in_session(store, sid, image, map, scan, interrupt, progress)?;
            let summary = json!({
                "evidence": r.0.evidence.as_ref().map(|e| e.label.clone()),
                "bad_bytes": r.0.evidence.as_ref().map(|e| e.bad_bytes),
                "read": {"pass_bytes": r.0.read_pass, "other_bytes": r.0.read_other},
            });
            let status = r.0.outcome.status();
            Ok((r, status, summary))
        },
    )
}

/// The recorded arguments of `add`: written here, read back by [`resumed`].
fn args(image: &Path, map: Option<&Path>, hash: Algorithms) -> serde_json::Value {
    json!({"image": abs(image), "map": map.map(abs), "hash": hash.names()})
}

/// The registration a session recorded with [`args`], to run it again.
pub(crate) fn resumed(a: &serde_json::Value) -> Option<crate::Job> {
    Some(crate::Job::Add {
        image: a["image"].as_str().map(std::path::PathBuf::from)?,
        map: a["map"].as_str().map(std::path::PathBuf::from),
    })
}

#[allow(clippy::too_many_arguments)]
fn add_in_session(
    store: &mut Store,
    sid: i64,
    image: &Path,
    map: Option<&Path>,
    scan: Result<&ScanOptions, Algorithms>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(AddResult, Option<Prepared>), Failure> {
    let mut read_pass = 0;
    let map_sha256 = match map {
        Some(m) => Some(sha256_hex(
            &std::fs::read(m).map_err(|e| fail(format!("{}: {e}", m.display())))?,
        )),
        None => None,
    };
    let interrupted = |read_pass, read_other| {
        let r = AddResult {
            outcome: Outcome::Interrupted,
            evidence: None,
            gaps: Vec::new(),
            ewf: None,
            dmg: Vec::new(),
            read_pass,
            read_other,
        };
        Ok((r, None))
    };
    // (digests, zero-filled ranges, size, segments, E01 facts, DMG checks,
    // the scan's work)
    let (digests, synthesized, size, segments, ewf, dmg, pre) = match scan {
        Err(hash) => {
            let opened = open_evidence(image, map).map_err(fail)?;
            let guard = EvidenceGuard::capture(&opened.segments).map_err(fail)?;
            let seq = Counted::new(Arc::from(opened.source));
            let h = hash_with_progress(&seq, hash, "hash", "hashing", interrupt, progress)?;
            if h.interrupted {
                return interrupted(seq.bytes(), 0);
            }
            guard.check().map_err(fail)?;
            read_pass = seq.bytes();
            (
                h.digests,
                h.synthesized,
                h.size,
                opened.segments,
                opened.ewf,
                opened.dmg,
                None,
            )
        }
        Ok(o) => {
            // Everything the scan will do to this image, from one read of it, under
            // the label it is about to get.
            let label = store.next_evidence_label().map_err(fail)?;
            let out = crate::names::CaseOut::of(store).map_err(fail)?;
            let Some(p) = prepare(
                image,
                map,
                &label,
                &out,
                o,
                &|_| false,
                Hashing::Always(o.hash),
                interrupt,
                progress,
            )?
            else {
                return interrupted(0, 0);
            };
            p.guard.check().map_err(fail)?;
            let digests = p.digests.clone().unwrap_or_default();
            (
                digests,
                p.synthesized.clone(),
                p.src.size(),
                p.segments.clone(),
                p.ewf.clone(),
                p.dmg.clone(),
                Some(p),
            )
        }
    };
    let mut extra = ewf_extra(ewf.as_ref(), &digests);
    if let Some(d) = &dmg {
        extra = crate::dmg_extra(d);
    }
    let gaps: Vec<dredge_core::Gap> = synthesized
        .synthesized
        .iter()
        .map(|s| dredge_core::Gap::new(s.extent.start, s.extent.len, s.why))
        .collect();
    let bad_bytes = synthesized.synthesized_bytes();
    let kind = if ewf.is_some() {
        "ewf"
    } else if dmg.is_some() {
        "dmg"
    } else if dredge_image::is_sparsebundle(image) {
        "sparsebundle"
    } else if dredge_image::is_sparseimage(image) {
        "sparseimage"
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
                size,
                md5: digests.md5,
                sha1: digests.sha1,
                sha256: digests.sha256,
                map_path: map.map(abs),
                map_sha256,
                bad_bytes,
                gaps: gaps.clone(),
                extra,
            },
            Some(sid),
        )
        .map_err(fail)?;
    if let Some(p) = &pre {
        if p.label != row.label {
            return Err(Failure(format!(
                "{}: registered as {} although analysed as {}: another process added evidence meanwhile",
                image.display(),
                row.label,
                p.label
            )));
        }
    }
    let (read_pass, read_other) = match &pre {
        Some(p) => (p.seq.bytes(), p.other.bytes()),
        None => (read_pass, 0),
    };
    let r = AddResult {
        outcome: if bad_bytes > 0 {
            Outcome::CompleteWithGaps
        } else {
            Outcome::Complete
        },
        evidence: Some(row),
        gaps,
        ewf,
        dmg: dmg.as_deref().map(crate::dmg_lines).unwrap_or_default(),
        read_pass,
        read_other,
    };
    Ok((r, pre))
}

/// Where a one-shot command (`recover`, `carve`) stands on its case directory:
/// what running the same command again, after a crash or `kill -9`, does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneShotState {
    /// No case yet: create it, register the image and scan it.
    New,
    /// The case exists with nothing registered (stopped during the registration's
    /// pass): register and scan.
    Register,
    /// The image is registered (stopped during the scan, or finished): scan,
    /// resuming from the sealed units (a finished case reads nothing).
    Scan,
}

/// The state of `case_dir` for a one-shot command on `image`. A case holding
/// other evidence is refused with one line: the command would mix two items.
pub fn one_shot_state(case_dir: &Path, image: &Path) -> Result<OneShotState, Failure> {
    if !Store::db_path(case_dir).exists() {
        return Ok(OneShotState::New);
    }
    let store = open_case(case_dir)?;
    let evidence = store.evidence().map_err(fail)?;
    match evidence.as_slice() {
        [] => Ok(OneShotState::Register),
        [e] if e.path == abs(image) => Ok(OneShotState::Scan),
        _ => Err(Failure(format!(
            "{}: is already a case holding other evidence ({}); to add {} to it use `dredge add` then `dredge scan`",
            case_dir.display(),
            evidence
                .iter()
                .map(|e| format!("{} {}", e.label, e.path))
                .collect::<Vec<_>>()
                .join(", "),
            image.display()
        ))),
    }
}
