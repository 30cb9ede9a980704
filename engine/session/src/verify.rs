//! `dredge verify`: the custody chain and its anchor, the sealed rows, the
//! examiner's signatures, a head copied from a report, every evidence hash and
//! every extracted copy, each checked again from what is on disk now.

use crate::{compare, fail, hash_with_progress, open_case, Failure, JobProgress, ProgressFn};
use dredge_image::open_evidence;
use dredge_store::{sign, ChainBreak, EvidenceRow, SessionCommand, SessionStatus, Store};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// One evidence item's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceCheck {
    /// Every digest recorded (these) matches.
    Match(dredge_hash::Algorithms),
    Mismatch {
        algorithm: &'static str,
        recorded: String,
        actual: String,
    },
    Unreadable(String),
    Interrupted,
}

/// One line for people, as `verify` prints it and as its failure names it.
impl std::fmt::Display for EvidenceCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvidenceCheck::Match(set) => write!(f, "{} match", set.labels()),
            EvidenceCheck::Mismatch {
                algorithm,
                recorded,
                actual,
            } => write!(f, "{algorithm} MISMATCH: recorded {recorded}, now {actual}"),
            EvidenceCheck::Unreadable(e) => write!(f, "cannot be read: {e}"),
            EvidenceCheck::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl EvidenceCheck {
    /// What the custody record holds for this check: typed fields, written out
    /// here, so renaming a variant cannot change what a court reads.
    pub fn record(&self, label: &str) -> serde_json::Value {
        match self {
            EvidenceCheck::Match(set) => {
                json!({"label": label, "result": "Match", "digests": set.names()})
            }
            EvidenceCheck::Mismatch {
                algorithm,
                recorded,
                actual,
            } => json!({"label": label, "result": "Mismatch", "algorithm": algorithm,
                        "recorded": recorded, "actual": actual}),
            EvidenceCheck::Unreadable(why) => {
                json!({"label": label, "result": "Unreadable", "reason": why})
            }
            EvidenceCheck::Interrupted => json!({"label": label, "result": "Interrupted"}),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub events: usize,
    /// The first custody problem found (chain, anchor, or evidence row vs its event).
    pub custody: Option<ChainBreak>,
    pub evidence: Vec<(String, EvidenceCheck)>,
    /// Extracted files checked, and the first whose content no longer matches.
    pub artifacts: (u64, Option<(String, String)>),
    /// Stopped by an interrupt before every check was made.
    pub stopped: bool,
    /// The fingerprint of the key the case is signed with, when it is.
    pub signed_by: Option<String>,
    /// Why this verification is not in the custody log: a signed case takes no
    /// record without its key, and anyone may verify it.
    pub unrecorded: Option<String>,
    /// For a merged case, one line per `shard.merge`: the shard case re-verified
    /// where it still is (a failure is also the `custody` break), or absent.
    pub shards: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.custody.is_none()
            && self.artifacts.1.is_none()
            && self
                .evidence
                .iter()
                .all(|(_, c)| matches!(c, EvidenceCheck::Match(_)))
    }

    pub fn interrupted(&self) -> bool {
        self.stopped
            || self
                .evidence
                .iter()
                .any(|(_, c)| *c == EvidenceCheck::Interrupted)
    }
}

/// Recomputes the custody chain and every evidence hash, records the result.
pub fn verify(
    case_dir: &Path,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<VerifyReport, Failure> {
    verify_against(case_dir, &Anchors::default(), interrupt, progress)
}

/// What the examiner holds outside the case to check it against.
#[derive(Debug, Default, Clone)]
pub struct Anchors {
    /// `SEQ:HASH`, as every page of a report prints it.
    pub head: Option<String>,
    /// The examiner's public key (64 hex digits) or its fingerprint (16).
    pub public_key: Option<String>,
}

/// `verify`, and the log must also hold `head` (`SEQ:HASH`, as every page of a
/// report prints it): a log rewritten since that report was made fails, even one
/// whose own chain and anchor were rewritten to match.
pub fn verify_against(
    case_dir: &Path,
    anchors: &Anchors,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<VerifyReport, Failure> {
    let head = anchors.head.as_deref().map(parse_head).transpose()?;
    let mut store = open_case(case_dir)?;
    // Check the chain before this run appends to it.
    // The event count stands when only the rows fail (the chain itself holds).
    let (events, mut custody) = match store.verify_chain().map_err(fail)? {
        Ok(n) => (n, store.sealed_rows().map_err(fail)?.err()),
        Err(b) => (0, Some(b)),
    };
    if let (None, Some((seq, hash))) = (&custody, &head) {
        custody = store.check_head(*seq, hash).map_err(fail)?.err();
    }
    let (shards, broken) = check_shards(&store)?;
    if custody.is_none() {
        custody = broken;
    }
    let public = store.signing_public_key().map_err(fail)?;
    if let (None, Some(given)) = (&custody, &anchors.public_key) {
        custody = check_key(public.as_deref(), given)?.err();
    }
    // Anyone may verify a signed case; only its examiner's key records that here.
    let unrecorded = match store.ready_to_append() {
        Ok(()) => None,
        Err(e) => Some(e.detail),
    };
    let mut check = |store: &mut Store| -> Result<VerifyReport, Failure> {
        let mut evidence = Vec::new();
        for row in store.evidence().map_err(fail)? {
            let check = check_evidence(&row, interrupt, progress);
            evidence.push((row.label.clone(), check));
            if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
        }
        // Rows that cannot be read as dredge writes them (a status word it never
        // writes) are an altered store: a failed check named in the report, and
        // the session still ends.
        let artifacts =
            verify_extracted(store, case_dir, interrupt, progress).unwrap_or_else(|e| {
                (
                    0,
                    Some((
                        "artifacts".to_string(),
                        format!("altered: the rows cannot be read as dredge writes them: {e}"),
                    )),
                )
            });
        Ok(VerifyReport {
            events,
            custody: custody.clone(),
            evidence,
            artifacts,
            stopped: interrupt.load(std::sync::atomic::Ordering::Relaxed),
            signed_by: public.as_deref().map(sign::fingerprint),
            unrecorded: unrecorded.clone(),
            shards: shards.clone(),
        })
    };
    if unrecorded.is_some() {
        return check(&mut store);
    }
    crate::in_session(&mut store, SessionCommand::Verify, json!({}), |store, _| {
        let report = check(store)?;
        let status = if report.interrupted() {
            SessionStatus::Interrupted
        } else if report.ok() {
            SessionStatus::Complete
        } else {
            SessionStatus::Failed
        };
        let summary = json!({
            "custody_ok": report.custody.is_none(),
            "custody_break": report.custody.as_ref().map(|b| json!({"seq": b.seq, "detail": b.detail})),
            "evidence": report.evidence.iter().map(|(l, c)| c.record(l)).collect::<Vec<_>>(),
        });
        Ok((report, status, summary))
    })
}

/// The case's signing key against the one the examiner holds (hex, or the
/// fingerprint reports print).
/// Each shard a merged case was built from, where its case still is: its chain,
/// anchor and sealed rows intact, and still holding the head its `shard.merge`
/// event recorded. Returns a line per shard and the first failure, as a break
/// at that `shard.merge` event.
fn check_shards(store: &Store) -> Result<(Vec<String>, Option<ChainBreak>), Failure> {
    let mut lines = Vec::new();
    let mut broken = None;
    let seqs: Vec<i64> = store
        .events()
        .map_err(fail)?
        .iter()
        .filter(|e| e.action == "shard.merge")
        .map(|e| e.seq)
        .collect();
    for (m, seq) in store.merges().map_err(fail)?.iter().zip(seqs) {
        let who = format!("shard {}/{}", m["shard"], m["of"]);
        let Some(path) = m["shard_case"].as_str().map(PathBuf::from) else {
            continue;
        };
        if !path.join(crate::CASE_DB).is_file() {
            lines.push(format!(
                "{who}: {} is not there (not re-verified)",
                path.display()
            ));
            continue;
        }
        let problem = match Store::open(&path).map_err(fail).and_then(|s| {
            let ok = s.integrity().map_err(fail)?;
            let head = match (
                m["shard_head"]["seq"].as_i64(),
                m["shard_head"]["hash"].as_str(),
            ) {
                (Some(q), Some(h)) => s.check_head(q, h).map_err(fail)?,
                _ => Ok(()),
            };
            Ok(ok.err().or(head.err()))
        }) {
            Ok(None) => None,
            Ok(Some(b)) => Some(format!("its event {}: {}", b.seq, b.detail)),
            Err(f) => Some(f.0),
        };
        match problem {
            None => lines.push(format!(
                "{who}: {} re-verified, holds the merged head",
                path.display()
            )),
            Some(p) => {
                lines.push(format!("{who}: {} FAILED: {p}", path.display()));
                broken.get_or_insert(ChainBreak {
                    seq,
                    detail: format!("{who} merged here from {}: {p}", path.display()),
                });
            }
        }
    }
    Ok((lines, broken))
}

fn check_key(public: Option<&str>, given: &str) -> Result<Result<(), ChainBreak>, Failure> {
    let given = given.trim().to_ascii_lowercase();
    if !(given.len() == 64 || given.len() == 16) || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure(format!(
            "--public-key {given:?}: expected the 64 hex digits `dredge key new` printed, or the 16-digit fingerprint"
        )));
    }
    Ok(match public {
        None => Err(ChainBreak {
            seq: 1,
            detail: format!("the case is not signed, but it should be signed with key {given}: its log was rewritten without a key, or this is another case"),
        }),
        Some(p) if p == given || sign::fingerprint(p) == given => Ok(()),
        Some(p) => Err(ChainBreak {
            seq: 1,
            detail: format!(
                "the case is signed with key {} ({p}), not with {given}: its log was rewritten and signed again by another key",
                sign::fingerprint(p)
            ),
        }),
    })
}

/// `SEQ:HASH` as a report prints it.
fn parse_head(text: &str) -> Result<(i64, String), Failure> {
    let bad = || {
        Failure(format!("--head {text:?}: expected SEQ:HASH, as printed on every page of a report (e.g. 12:9f2c…)"))
    };
    let (seq, hash) = text.trim().split_once(':').ok_or_else(bad)?;
    let seq = seq.parse().map_err(|_| bad())?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok((seq, hash.to_ascii_lowercase()))
}

/// Re-hashes every extracted file against its recorded SHA-256.
fn verify_extracted(
    store: &Store,
    case_dir: &Path,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(u64, Option<(String, String)>), dredge_store::StoreError> {
    let mut n = 0;
    let arts = store.artifacts(None)?;
    let total = arts.len() as u64;
    let started = Instant::now();
    let mut last = Instant::now();
    for (i, a) in arts.iter().enumerate() {
        if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        if last.elapsed() >= Duration::from_millis(200) {
            last = Instant::now();
            progress(&JobProgress::items(
                "verify",
                "re-hashing the extracted files".into(),
                "files",
                i as u64,
                total,
                started.elapsed(),
            ));
        }
        let (Some(rel), Some((_, _, sha256))) = (&a.extracted, &a.digests) else {
            continue;
        };
        let p = case_dir.join(rel);
        let actual = match dredge_hash::sha256_file(&p) {
            Ok(h) => h,
            Err(e) => return Ok((n, Some((a.id.clone(), format!("{}: {e}", p.display()))))),
        };
        if &actual != sha256 {
            return Ok((
                n,
                Some((
                    a.id.clone(),
                    format!("{}: SHA-256 is {actual}, recorded {sha256}", p.display()),
                )),
            ));
        }
        n += 1;
    }
    Ok((n, None))
}

fn check_evidence(
    row: &EvidenceRow,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> EvidenceCheck {
    let map = row.map_path.as_ref().map(PathBuf::from);
    let ev = match open_evidence(Path::new(&row.path), map.as_deref()) {
        Ok(ev) => ev,
        Err(e) => return EvidenceCheck::Unreadable(e.to_string()),
    };
    // The digests the registration recorded, and those an E01 stores about itself.
    let mut set = crate::recorded_hashes(row);
    if let Some(m) = &ev.ewf {
        if m.stored_md5.is_some() {
            set = set.with(dredge_hash::Algorithm::Md5);
        }
        if m.stored_sha1.is_some() {
            set = set.with(dredge_hash::Algorithm::Sha1);
        }
    }
    let h = match hash_with_progress(&*ev.source, set, "verify", "hashing", interrupt, progress) {
        Ok(h) => h,
        Err(e) => return EvidenceCheck::Unreadable(e.0),
    };
    if h.interrupted {
        return EvidenceCheck::Interrupted;
    }
    if let Some((table, recorded, actual)) = ev.dmg.as_deref().and_then(crate::dmg_mismatch) {
        // A DMG's own stored CRC-32s must hold too.
        return EvidenceCheck::Mismatch {
            algorithm: "CRC-32 stored in the DMG",
            recorded: format!("{recorded} (table {table})"),
            actual,
        };
    }
    if let Some(m) = &ev.ewf {
        // The E01's own stored hashes must hold too.
        for (algorithm, stored, actual) in [
            ("MD5 stored in the E01", &m.stored_md5, &h.digests.md5),
            ("SHA-1 stored in the E01", &m.stored_sha1, &h.digests.sha1),
        ] {
            if let (Some(s), Some(a)) = (stored, actual) {
                if s != a {
                    return EvidenceCheck::Mismatch {
                        algorithm,
                        recorded: s.clone(),
                        actual: a.clone(),
                    };
                }
            }
        }
    }
    compare(row, &h.digests)
}
