//! What leaves the case: reports (`dredge report`) and exported copies
//! (`dredge export`), each a session in the custody log.

use crate::{
    abs, fail, names::safe_component, open_case, Action, ChainBreak, Failure, ReportFormat,
    SessionCommand,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// A report as written.
#[derive(Debug, Clone)]
pub struct ReportOutcome {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    /// The store-side verification: Ok(events) or the first break.
    pub integrity: Result<usize, ChainBreak>,
}

/// Writes a report from the store alone (default `CASE_DIR/reports/report-TIME.EXT`),
/// atomically, with a `.sha256` file beside it, and records it in the custody log.
/// A store that fails verification still gets its report, which says so first.
pub fn report(
    case_dir: &Path,
    format: ReportFormat,
    out: Option<&Path>,
) -> Result<ReportOutcome, Failure> {
    let mut store = open_case(case_dir)?;
    // Verify before this run appends to the log.
    let model = dredge_report::Model::gather(&store).map_err(fail)?;
    let out = match out {
        Some(p) => p.to_path_buf(),
        None => {
            let stamp: String = model
                .generated_utc
                .chars()
                .filter(char::is_ascii_digit)
                .take(14)
                .collect();
            case_dir
                .join("reports")
                .join(format!("report-{stamp}.{}", format.extension()))
        }
    };
    crate::in_action_session(
        &mut store,
        SessionCommand::Report,
        json!({"format": format.name(), "out": abs(&out)}),
        Action::ReportGenerate,
        |store| -> Result<ReportOutcome, Failure> {
            let tmp = out.with_extension(format!("{}.partial", format.extension()));
            let file = std::fs::File::create(&tmp)
                .map_err(|e| Failure(format!("{}: cannot create: {e}", tmp.display())))?;
            let mut w = std::io::BufWriter::new(file);
            dredge_report::write(store, &model, format, &mut w).map_err(fail)?;
            let file = w
                .into_inner()
                .map_err(|e| Failure(format!("{}: {}", tmp.display(), e.error())))?;
            file.sync_all()
                .map_err(|e| Failure(format!("{}: {e}", tmp.display())))?;
            std::fs::rename(&tmp, &out).map_err(|e| {
                Failure(format!(
                    "{}: cannot rename to {}: {e}",
                    tmp.display(),
                    out.display()
                ))
            })?;
            let sha256 = dredge_hash::sha256_file(&out)
                .map_err(|e| Failure(format!("{}: {e}", out.display())))?;
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            let name = out
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let side = PathBuf::from(format!("{}.sha256", out.display()));
            std::fs::write(&side, format!("{sha256}  {name}\n"))
                .map_err(|e| Failure(format!("{}: {e}", side.display())))?;
            Ok(ReportOutcome {
                path: out.clone(),
                sha256,
                bytes,
                integrity: model.integrity.clone(),
            })
        },
        |r| {
            (
                json!({"format": format.name(), "path": abs(&r.path), "sha256": r.sha256, "bytes": r.bytes,
                    "custody_verified": r.integrity.is_ok()}),
                json!({"sha256": r.sha256}),
            )
        },
    )
}

/// One exported file.
#[derive(Debug, Clone)]
pub struct Exported {
    pub artifact_id: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// Copies artifacts' extracted contents to `dest`, checks each copy against the
/// SHA-256 recorded for it, appends `hash  name` lines to `dest/MANIFEST.sha256`
/// (`sha256sum -c` checks them), and records the export in the custody log.
pub fn export(case_dir: &Path, ids: &[String], dest: &Path) -> Result<Vec<Exported>, Failure> {
    let mut store = open_case(case_dir)?;
    crate::in_action_session(
        &mut store,
        SessionCommand::Export,
        json!({"artifacts": ids, "dest": abs(dest)}),
        Action::Export,
        |store| -> Result<Vec<Exported>, Failure> {
            std::fs::create_dir_all(dest)
                .map_err(|e| Failure(format!("{}: cannot create: {e}", dest.display())))?;
            let all = store.artifacts(None).map_err(fail)?;
            let mut out = Vec::new();
            let mut manifest = String::new();
            for id in ids {
                let a = all
                    .iter()
                    .find(|a| &a.id == id)
                    .ok_or_else(|| Failure(format!("{}: no artifact {id}", case_dir.display())))?;
                let (Some(rel), Some((_, _, sha256))) = (&a.extracted, &a.digests) else {
                    return Err(Failure(format!("{id}: has no extracted content to export")));
                };
                let base = a.path.rsplit('/').next().unwrap_or("file");
                let mut name = safe_component(base);
                let mut n = 1;
                while dest.join(&name).exists() {
                    n += 1;
                    name = format!("{n}-{}", safe_component(base));
                }
                let to = dest.join(&name);
                std::fs::copy(case_dir.join(rel), &to).map_err(|e| {
                    Failure(format!("{}: cannot copy to {}: {e}", rel, to.display()))
                })?;
                let got = dredge_hash::sha256_file(&to)
                    .map_err(|e| Failure(format!("{}: {e}", to.display())))?;
                if &got != sha256 {
                    return Err(Failure(format!(
                        "{}: SHA-256 is {got}, the case records {sha256}: the extracted copy changed",
                        to.display()
                    )));
                }
                manifest += &format!("{got}  {name}\n");
                out.push(Exported {
                    artifact_id: id.clone(),
                    path: to,
                    sha256: got,
                });
            }
            use std::io::Write;
            let mpath = dest.join("MANIFEST.sha256");
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&mpath)
                .and_then(|mut f| f.write_all(manifest.as_bytes()))
                .map_err(|e| Failure(format!("{}: {e}", mpath.display())))?;
            Ok(out)
        },
        |files| {
            (
                json!({"dest": abs(dest), "files": files.iter().map(|f| json!({"artifact": f.artifact_id, "path": abs(&f.path), "sha256": f.sha256})).collect::<Vec<_>>()}),
                json!({"files": files.len()}),
            )
        },
    )
}
