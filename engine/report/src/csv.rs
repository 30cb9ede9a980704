//! CSV of every artifact (RFC 4180), one row each; names from evidence are written
//! through [`visible`], so a row is always one line.

use crate::text::{gaps, visible};
use crate::Model;
use dredge_store::{ArtifactRecord, Store, StoreError};
use std::io::Write;

const HEAD: &str = "evidence,artifact_id,forensic_path,path,other_names,kind,origin,deleted,status,recovery,recovery_detail,size,md5,sha1,sha256,unreadable_bytes,unreadable_ranges,modified,accessed,changed,created,image_runs,extracted,extract_note";

/// One cell: never a formula to a spreadsheet, quoted where RFC 4180 needs it.
fn field(s: &str) -> String {
    let s = dredge_core::csv_safe(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn time_of(a: &ArtifactRecord, k: char) -> Option<&(String, String)> {
    crate::text::pick_time(&a.times, k)
}

pub fn write(store: &Store, model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    let path = store.dir().to_path_buf();
    let io = |e: std::io::Error| StoreError {
        path: path.clone(),
        detail: format!("writing the CSV report: {e}"),
    };
    writeln!(out, "{HEAD}").map_err(io)?;
    store.each_artifact(None, &mut |a| {
        let (md5, sha1, sha256) = a.digests.clone().unwrap_or_default();
        let t = |k| time_of(&a, k).map_or(String::new(), |(_, u)| u.clone());
        let runs = a
            .runs
            .iter()
            .filter_map(|r| r.image_offset.map(|o| format!("{o}+{}", r.len)))
            .collect::<Vec<_>>()
            .join(" ");
        let names: Vec<String> = a
            .other_names
            .iter()
            .map(|n| visible(n).into_owned())
            .collect();
        let row = [
            model.label(a.evidence_id).to_string(),
            a.id.clone(),
            visible(&a.forensic_path).into_owned(),
            visible(&a.path).into_owned(),
            names.join(" | "),
            a.kind.as_str().to_string(),
            a.origin.to_string(),
            u8::from(a.deleted).to_string(),
            a.status.to_string(),
            a.recovery.as_str().to_string(),
            a.recovery_detail.clone().unwrap_or_default(),
            a.size.to_string(),
            md5,
            sha1,
            sha256,
            a.unreadable_bytes.to_string(),
            gaps(&a.gaps),
            t('m'),
            t('a'),
            t('c'),
            t('b'),
            runs,
            a.extracted.clone().unwrap_or_default(),
            a.extract_note.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = row.iter().map(|f| field(f)).collect();
        writeln!(out, "{}", line.join(","))
    })?;
    Ok(())
}
