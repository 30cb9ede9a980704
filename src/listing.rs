//! Commands that read a case or an image and print: ls, list, case show, report,
//! log.

use crate::progress::Reporter;
use crate::{session, ListArgs, LogArgs, LsArgs, ReportArgs};
use dredge_session::Failure;
use serde_json::json;
use std::sync::atomic::AtomicBool;

pub(super) fn list(
    a: ListArgs,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    use std::io::Write;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let json_mode = rep.is_json();
    let findings = session::list_image(
        &a.image,
        a.map.as_deref(),
        &a.keys,
        a.deep,
        interrupt,
        &mut |vol, ty, e| {
            let _ = if json_mode {
                writeln!(
                    out,
                    "{}",
                    json!({"volume": vol, "fs": ty, "id": e.id, "path": e.path, "kind": e.kind.as_str(), "deleted": e.deleted, "size": e.size})
                )
            } else {
                let t = type_char(e.kind.as_str());
                writeln!(
                    out,
                    "{t}/{t} {}v{vol}/{ty}/{}:\t{}",
                    if e.deleted { "* " } else { "" },
                    e.id,
                    shown(&e.path)
                )
            };
        },
    )?;
    drop(out);
    if !findings.is_empty() {
        eprintln!(
            "{} findings (damaged or unusual structures); `dredge recover` records them",
            findings.len()
        );
    }
    Ok(0)
}

pub(super) fn report(a: ReportArgs, rep: &mut Reporter) -> Result<i32, Failure> {
    let format = a.format;
    let r = session::report(&a.case_dir, format, a.out.as_deref())?;
    rep.json(json!({
        "event": "result", "command": "report", "format": format.name(),
        "path": r.path.display().to_string(), "sha256": r.sha256, "bytes": r.bytes,
        "custody_verified": r.integrity.is_ok(),
    }));
    if !rep.is_json() {
        println!("{}  {}", r.sha256, r.path.display());
    }
    if let Err(b) = &r.integrity {
        return Err(Failure(format!(
            "{}: verification FAILED at custody event {}: {} (the report was written and says so)",
            a.case_dir.display(),
            b.seq,
            b.detail
        )));
    }
    Ok(0)
}

pub(super) fn log(a: LogArgs, rep: &mut Reporter) -> Result<i32, Failure> {
    let store = session::open_case(&a.case_dir)?;
    for e in store.events().map_err(|e| Failure(e.to_string()))? {
        if a.json || rep.is_json() {
            println!(
                "{}",
                json!({"seq": e.seq, "time_utc": e.time_utc, "actor": e.actor, "action": e.action,
                           "params": serde_json::from_str::<serde_json::Value>(&e.params).unwrap_or_default(),
                           "tool_version": e.tool_version, "session": e.session_id, "prev_hash": e.prev_hash, "hash": e.hash})
            );
        } else {
            println!(
                "{:>5}  {}  {:<16} {:<20} {}  {}",
                e.seq,
                e.time_utc,
                e.action,
                e.actor,
                &e.hash[..16.min(e.hash.len())],
                e.params
            );
        }
    }
    Ok(0)
}

/// The one-letter type `fls` prints.
pub(super) fn type_char(kind: &str) -> char {
    match kind {
        "file" => 'r',
        "dir" => 'd',
        "symlink" => 'l',
        "device" => 'b',
        "fifo" => 'p',
        "socket" => 's',
        _ => '-',
    }
}

/// Names from evidence are escaped before they reach the terminal (the one
/// sanitizer, `dredge_core::visible`).
pub(super) fn shown(name: &str) -> String {
    dredge_core::visible(name).into_owned()
}

pub(super) fn ls(a: &LsArgs, rep: &Reporter) -> Result<i32, Failure> {
    use std::io::Write;
    let store = session::open_case(&a.case_dir)?;
    let mut current_unit = String::new();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    // Streamed from the store, one row at a time: memory does not grow with the
    // number of files.
    let r = store.each_artifact_row(None, rep.is_json(), &mut |art| {
        if let Some(prefix) = &a.path {
            let p = prefix.trim_end_matches('/');
            if !(art.path == p || art.path.starts_with(&format!("{p}/")) || p.is_empty()) {
                return Ok(());
            }
        }
        if rep.is_json() {
            return writeln!(
                out,
                "{}",
                json!({"id": art.id, "path": art.path, "other_names": art.other_names, "kind": art.kind.as_str(), "deleted": art.deleted,
                       "size": art.size, "status": art.status.as_str(), "recovery": art.recovery.as_str(), "recovery_detail": art.recovery_detail,
                       "md5": art.digests.as_ref().map(|d| &d.0), "sha1": art.digests.as_ref().map(|d| &d.1),
                       "sha256": art.digests.as_ref().map(|d| &d.2),
                       "extracted": art.extracted, "extract_note": art.extract_note, "unreadable_bytes": art.unreadable_bytes, "forensic_path": art.forensic_path,
                       "times": art.times.iter().map(|(s, t)| json!({"source": s, "utc": t})).collect::<Vec<_>>(),
                       "runs": art.runs.iter().map(|r| json!({"file_offset": r.file_offset, "len": r.len, "kind": r.kind,
                           "image_offset": r.image_offset, "unreadable_bytes": r.unreadable_bytes})).collect::<Vec<_>>(),
                       "gaps": art.gaps.iter().map(|g| json!({"file_offset": g.offset, "len": g.len, "why": g.why.as_str()})).collect::<Vec<_>>()})
            );
        }
        let unit = art
            .id
            .rsplit_once('/')
            .map(|x| x.0.to_string())
            .unwrap_or_default();
        if unit != current_unit {
            writeln!(out, "== {unit}")?;
            current_unit = unit;
        }
        let t = type_char(art.kind.as_str());
        let meta = art.id.rsplit('/').next().unwrap_or("");
        let del = if art.deleted { "* " } else { "" };
        if a.long {
            let h = art.digests.as_ref().map(|d| d.2.as_str()).unwrap_or("-");
            writeln!(
                out,
                "{t}/{t} {del}{meta}:\t{}\t{}\t{}\t{}",
                shown(&art.path),
                art.size,
                art.status,
                h
            )
        } else {
            writeln!(out, "{t}/{t} {del}{meta}:\t{}", shown(&art.path))
        }
    });
    match r {
        Ok(left_out) => match out.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Failure(format!("writing the listing: {e}")))
            }
            // An altered store is still listed, and said to be altered, as
            // `verify` would: exit 2, the code of bad input.
            _ if left_out > 0 => {
                eprintln!(
                    "dredge: error: {}: {left_out} artifact rows hold values dredge never writes and are not listed; the store was altered (see `dredge verify`)",
                    a.case_dir.display()
                );
                Ok(2)
            }
            _ => Ok(0),
        },
        // A reader that went away (`| head`) is not a failure of the case.
        Err(e) if e.detail.contains("Broken pipe") => Ok(0),
        Err(e) => Err(Failure(e.to_string())),
    }
}

pub(super) fn case_show(dir: &std::path::Path, rep: &mut Reporter) -> Result<i32, Failure> {
    let store = session::open_case(dir)?;
    let case = store.case().map_err(|e| Failure(e.to_string()))?;
    let evidence = store.evidence().map_err(|e| Failure(e.to_string()))?;
    let sessions = store.sessions().map_err(|e| Failure(e.to_string()))?;
    if rep.is_json() {
        println!(
            "{}",
            json!({
                "uuid": case.uuid, "case_number": case.info.case_number, "examiner": case.info.examiner,
                "description": case.info.description, "created_utc": case.created_utc,
                "signing_public_key": store.signing_public_key().map_err(|e| Failure(e.to_string()))?,
                "evidence": evidence.iter().map(|e| json!({"label": e.label, "path": e.path, "kind": e.kind, "size": e.size,
                    "md5": e.md5, "sha1": e.sha1, "sha256": e.sha256, "bad_bytes": e.bad_bytes, "map": e.map_path})).collect::<Vec<_>>(),
                "sessions": sessions.iter().map(|s| json!({"id": s.id, "command": s.command, "started": s.started_utc, "ended": s.ended_utc, "status": s.status})).collect::<Vec<_>>(),
            })
        );
        return Ok(0);
    }
    println!("case {}  ({})", dir.display(), case.uuid);
    println!("  examiner     {}", case.info.examiner);
    if let Some(n) = &case.info.case_number {
        println!("  case number  {n}");
    }
    if let Some(d) = &case.info.description {
        println!("  description  {d}");
    }
    println!(
        "  created      {} by dredge {}",
        case.created_utc, case.tool_version
    );
    if let Some(k) = store
        .signing_public_key()
        .map_err(|e| Failure(e.to_string()))?
    {
        println!(
            "  signed by    key {} ({k})",
            session::sign::fingerprint(&k)
        );
    }
    println!("evidence:");
    for e in &evidence {
        println!(
            "  {}  {} [{}] {} bytes, {} unreadable",
            e.label, e.path, e.kind, e.size, e.bad_bytes
        );
        let (algorithm, digest) = e.strongest_digest();
        println!("      {algorithm} {digest}");
        for v in store.volumes(e.id).map_err(|e| Failure(e.to_string()))? {
            let fss: Vec<String> = v
                .filesystems
                .iter()
                .map(|(t, l)| match l {
                    Some(l) => format!("{t} \"{}\"", shown(l)),
                    None => t.clone(),
                })
                .collect();
            println!(
                "      v{:<3} {:>12} +{:<12} {:<11} {}{}",
                v.idx,
                v.start,
                v.len,
                v.kind,
                v.description,
                if fss.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", fss.join(", "))
                }
            );
        }
    }
    println!("sessions:");
    for s in &sessions {
        println!(
            "  {:>4}  {:<10} {}  {:<27}  {}",
            s.id,
            s.command,
            s.started_utc,
            s.ended_utc.as_deref().unwrap_or("-"),
            s.status
        );
    }
    Ok(0)
}
