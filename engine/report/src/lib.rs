//! Reports read the custody store and nothing else: what was examined, how, with which
//! tool version, what was recovered, what could not be read, and whether the custody
//! record still holds. Artifacts are streamed from the store one at a time, so a case
//! with any number of them is reported in bounded memory.

mod bodyfile;
mod case;
mod csv;
mod dfxml;
mod doc;
mod html;
mod pdf;
mod text;

use dredge_store::{
    Action, CaseRow, ChainBreak, Event, EvidenceRow, FindingRecord, SessionCommand, SessionStatus,
    Store, StoreError, VolumeRow,
};
use serde_json::Value;
use std::io::Write;

pub use pdf::source as pdf_source;
pub use text::{allocation, macb, pick_time, unix_seconds, visible};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
    Dfxml,
    Case,
    Csv,
    Bodyfile,
}

impl dredge_core::Word for Format {
    const ALL: &'static [Self] = &[
        Format::Html,
        Format::Pdf,
        Format::Dfxml,
        Format::Case,
        Format::Csv,
        Format::Bodyfile,
    ];
    const WORDS: &'static [&'static str] = &["html", "pdf", "dfxml", "case", "csv", "bodyfile"];
}

impl Format {
    pub fn name(&self) -> &'static str {
        dredge_core::Word::word(*self)
    }
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Dfxml => "dfxml",
            Format::Case => "jsonld",
            Format::Csv => "csv",
            Format::Bodyfile => "body",
        }
    }
}

/// One evidence item with what is known of it.
pub struct EvidenceInfo {
    pub row: EvidenceRow,
    /// Every unreadable range of the medium (image offsets).
    pub gaps: Vec<dredge_core::Gap>,
    pub volumes: Vec<VolumeRow>,
    /// (unit, finding)
    pub findings: Vec<(String, FindingRecord)>,
    /// (time, result) of each later verification of this item's hashes.
    pub verifications: Vec<(String, String)>,
    /// (time, SHA-256 before and after) of each scan that checked the image unchanged.
    pub unchanged: Vec<(String, String)>,
}

/// A session as the custody log records it: the command, its exact options, when,
/// how it ended, and the tool version that ran it.
pub struct SessionInfo {
    pub id: i64,
    pub command: String,
    pub args: Value,
    pub started: String,
    pub ended: Option<String>,
    pub status: String,
    pub tool_version: String,
}

/// Everything but the artifacts, which are streamed.
pub struct Model {
    pub case: CaseRow,
    pub generated_utc: String,
    pub evidence: Vec<EvidenceInfo>,
    pub sessions: Vec<SessionInfo>,
    pub events: Vec<Event>,
    /// The store-side verification: chain, anchor, evidence rows, artifact rows.
    pub integrity: Result<usize, ChainBreak>,
    /// The examiner's public key (hex) when every custody event is signed.
    pub signing_key: Option<String>,
    /// Artifacts and bytes per evidence item, unit, origin, deletion and status.
    pub counts: Vec<dredge_store::ArtifactCount>,
}

impl Model {
    pub fn gather(store: &Store) -> Result<Model, StoreError> {
        let mut integrity = store.integrity()?;
        // An altered store still gets its report, which says so first. Rows
        // holding values dredge never writes cannot be shown as facts: they are
        // left out, and the break says how many and which kind.
        let mut left_out = Vec::new();
        let events = store.events()?;
        let params = |e: &Event| serde_json::from_str::<Value>(&e.params).unwrap_or_default();
        let mut sessions: Vec<SessionInfo> = Vec::new();
        for e in &events {
            let p = params(e);
            match Action::parse(&e.action) {
                Some(Action::SessionStart) => sessions.push(SessionInfo {
                    id: e.session_id.unwrap_or(0),
                    command: p["command"].as_str().unwrap_or("").to_string(),
                    args: p["args"].clone(),
                    started: e.time_utc.clone(),
                    ended: None,
                    status: SessionStatus::Running.as_str().into(),
                    tool_version: e.tool_version.clone(),
                }),
                Some(Action::SessionEnd) => {
                    if let Some(s) = sessions
                        .iter_mut()
                        .rev()
                        .find(|s| Some(s.id) == e.session_id)
                    {
                        s.ended = Some(e.time_utc.clone());
                        s.status = p["status"].as_str().unwrap_or("").to_string();
                    }
                }
                _ => {}
            }
        }
        let mut evidence = Vec::new();
        for row in store.evidence()? {
            let mut verifications = Vec::new();
            let mut unchanged = Vec::new();
            for e in &events {
                let p = params(e);
                if e.is(Action::SessionEnd) {
                    let is_verify = sessions.iter().any(|s| {
                        Some(s.id) == e.session_id
                            && SessionCommand::parse(&s.command) == Some(SessionCommand::Verify)
                    });
                    if is_verify {
                        for r in p["summary"]["evidence"].as_array().into_iter().flatten() {
                            if r["label"] == row.label.as_str() {
                                let mut res = r["result"].as_str().unwrap_or("").to_string();
                                // Written since --hash: which digests matched, or
                                // which one did not.
                                let names: Vec<&str> = r["digests"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|v| v.as_str())
                                    .collect();
                                if !names.is_empty() {
                                    res = format!("{res} ({})", names.join(", "));
                                }
                                if let Some(a) = r["algorithm"].as_str() {
                                    res = format!("{res} ({a})");
                                }
                                verifications.push((e.time_utc.clone(), res));
                            }
                        }
                    }
                }
                if e.is(Action::ScanEvidence) && p["evidence"] == row.label.as_str() {
                    // The strongest digest the scan's pass proved (SHA-256
                    // unless the examiner chose others).
                    let h = p["sha256_before_and_after"]
                        .as_str()
                        .map(|s| s.to_string())
                        .or_else(|| {
                            let d = &p["digests_before_and_after"];
                            ["sha1", "md5"]
                                .iter()
                                .find_map(|k| d[*k].as_str().map(|v| format!("{k} {v}")))
                        })
                        .unwrap_or_default();
                    unchanged.push((e.time_utc.clone(), h));
                }
            }
            let gaps = match store.evidence_gaps(row.id) {
                Err(e) if integrity.is_err() => {
                    left_out.push(format!(
                        "the unreadable ranges of {} ({})",
                        row.label, e.detail
                    ));
                    Vec::new()
                }
                r => r?,
            };
            evidence.push(EvidenceInfo {
                gaps,
                volumes: store.volumes(row.id)?,
                findings: store.findings(row.id)?,
                verifications,
                unchanged,
                row,
            });
        }
        if let Err(b) = &mut integrity {
            let n = store.each_artifact_row(None, true, &mut |_| Ok(()))?;
            if n > 0 {
                left_out.push(format!("{n} artifact rows"));
            }
            if !left_out.is_empty() {
                b.detail = format!(
                    "{}; left out of this report because they hold values dredge never writes: {}",
                    b.detail,
                    left_out.join("; ")
                );
            }
        }
        Ok(Model {
            case: store.case()?,
            generated_utc: dredge_core::time::utc_now(),
            evidence,
            sessions,
            events,
            integrity,
            signing_key: store.signing_public_key()?,
            counts: store.artifact_counts()?,
        })
    }

    pub fn label(&self, evidence_id: i64) -> &str {
        self.evidence
            .iter()
            .find(|e| e.row.id == evidence_id)
            .map_or("?", |e| e.row.label.as_str())
    }
}

pub(crate) fn io_error(store: &Store, what: &str) -> impl Fn(std::io::Error) -> StoreError {
    let path = store.dir().join("reports");
    let what = what.to_string();
    move |e| StoreError {
        path: path.clone(),
        detail: format!("writing the {what} report: {e}"),
    }
}

/// Writes the report. Errors are the store's or the output's, each naming its file.
pub fn write(
    store: &Store,
    model: &Model,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), StoreError> {
    match format {
        Format::Csv => csv::write(store, model, out),
        Format::Bodyfile => bodyfile::write(store, model, out),
        Format::Dfxml => dfxml::write(store, model, out),
        Format::Case => case::write(store, model, out),
        Format::Html => html::write(store, model, out),
        Format::Pdf => pdf::write(store, model, out),
    }
}
