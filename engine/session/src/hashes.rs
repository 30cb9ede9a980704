//! `dredge hashes`: for every password-protected encrypted volume of a case,
//! the line hashcat or John the Ripper takes to search for its password
//! (issue 13, password-recovery hand-off). Read from the evidence's metadata
//! only; what was handed off is recorded in the custody log, as any export.

use crate::layout::{layout, registry, Laid, Lost};
use crate::unit::{contain, volume_budget};
use crate::{fail, open_case, Failure};
use dredge_core::{ImageSource, VolumeKind, VolumeReader};
use dredge_store::{Action, SessionCommand, SessionStatus};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One line to hand to a password cracker.
#[derive(Debug, Clone)]
pub struct HashLine {
    /// The encrypted volume (`ev1/v0`).
    pub volume: String,
    /// The container's type ("bitlocker").
    pub container: &'static str,
    pub protector: String,
    /// "password", "recovery password".
    pub kind: &'static str,
    /// The hashcat mode that takes the line (None: John the Ripper only).
    pub hashcat_mode: Option<u32>,
    pub line: String,
}

/// Every hand-off line of every evidence item of the case at `case_dir`.
pub fn password_hashes(case_dir: &Path, interrupt: &AtomicBool) -> Result<Vec<HashLine>, Failure> {
    let mut store = open_case(case_dir)?;
    let sid = store
        .begin_session(SessionCommand::Export, json!({"what": "password hashes"}))
        .map_err(fail)?;
    let result = (|| -> Result<Vec<HashLine>, Failure> {
        let mut out = Vec::new();
        for ev in store.evidence().map_err(fail)? {
            let map = ev.map_path.as_ref().map(PathBuf::from);
            let opened =
                dredge_image::open_evidence(Path::new(&ev.path), map.as_deref()).map_err(fail)?;
            let src: Arc<dyn ImageSource> = Arc::from(opened.source);
            let Laid { vols, .. } = layout(&src, &registry(), interrupt, Lost::Skip)?;
            for (i, v) in vols.iter().enumerate() {
                if !matches!(v.kind, VolumeKind::Partition | VolumeKind::Whole) {
                    continue;
                }
                let reader = VolumeReader::new(Arc::clone(&src), v.extent)
                    .with_budget(volume_budget(v.extent.len));
                let Ok(Ok(b)) = contain(|| dredge_crypt::BitLocker::read(&reader)) else {
                    continue;
                };
                for l in dredge_crypt::bitlocker_lines(&b) {
                    out.push(HashLine {
                        volume: format!("{}/v{i}", ev.label),
                        container: "bitlocker",
                        protector: l.protector,
                        kind: l.kind,
                        hashcat_mode: l.hashcat_mode,
                        line: l.line,
                    });
                }
            }
        }
        Ok(out)
    })();
    match &result {
        Ok(lines) => {
            store
                .append_event(
                    Action::Export,
                    json!({"password_hashes": lines.iter().map(|l| json!({
                        "volume": l.volume, "container": l.container, "protector": l.protector,
                        "kind": l.kind, "hashcat_mode": l.hashcat_mode, "line": l.line})).collect::<Vec<_>>()}),
                    Some(sid),
                )
                .map_err(fail)?;
            store
                .end_session(sid, SessionStatus::Complete, json!({"lines": lines.len()}))
                .map_err(fail)?;
        }
        Err(e) => {
            let _ = store.end_session(sid, SessionStatus::Failed, json!({"error": e.0}));
        }
    }
    result
}
