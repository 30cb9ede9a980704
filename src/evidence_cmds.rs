//! Commands that bring evidence into a case and examine it: case new, add,
//! acquire, scan/recover/carve (one shot), verify.

use crate::progress::Reporter;
use crate::{
    human_bytes, outcome_word, print_digests, print_gaps, session, shown, AcquireArgs, AddArgs,
    CaseNewArgs, ImageFormat, RecoverArgs, VerifyArgs,
};
use dredge_session::{AcquireOptions, CaseInfo, EvidenceCheck, Failure, Outcome};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub(super) fn case_new(a: CaseNewArgs, rep: &mut Reporter) -> Result<i32, Failure> {
    let info = CaseInfo {
        case_number: a.case_number,
        examiner: a.examiner,
        description: a.description,
    };
    let store = session::case_new_signed(&a.case_dir, &info, a.signing_key.as_deref())?;
    let case = store.case().map_err(|e| Failure(e.to_string()))?;
    rep.json(json!({"event": "result", "command": "case new", "case_dir": a.case_dir, "uuid": case.uuid}));
    if !rep.is_json() {
        println!("created case {} ({})", a.case_dir.display(), case.uuid);
    }
    Ok(0)
}

pub(super) fn add(a: AddArgs, interrupt: &AtomicBool, rep: &mut Reporter) -> Result<i32, Failure> {
    let r = session::add_evidence_hashing(
        &a.case_dir,
        &a.image,
        a.map.as_deref(),
        a.hash,
        interrupt,
        &mut |p| rep.progress(p),
    )?;
    rep.clear();
    match &r.evidence {
        Some(e) => {
            rep.json(json!({
                    "event": "result", "command": "add", "outcome": r.outcome.name(),
                    "label": e.label, "size": e.size, "md5": e.md5, "sha1": e.sha1, "sha256": e.sha256,
                    "bad_bytes": e.bad_bytes,
                    "unreadable": r.gaps.iter().map(|g| json!({"start": g.offset, "len": g.len, "why": g.why.as_str()})).collect::<Vec<_>>(),
                }));
            if !rep.is_json() {
                println!(
                    "added {} as {}: {} ({} bytes)",
                    e.path,
                    e.label,
                    human_bytes(e.size),
                    e.size
                );
                print_digests(&e.md5, &e.sha1, &e.sha256);
                for l in &r.dmg {
                    println!("  {l}");
                }
                if let Some(ewf) = &r.ewf {
                    for (k, v) in &ewf.header {
                        println!("  E01 {k:<17} {}", shown(v));
                    }
                    for (name, stored, check) in [
                        ("MD5", &ewf.stored_md5, &e.md5),
                        ("SHA-1", &ewf.stored_sha1, &e.sha1),
                    ] {
                        match stored {
                            Some(_) if check.is_none() => {
                                println!("  E01 stored {name} not checked (not chosen with --hash)")
                            }
                            Some(s) if Some(s) == check.as_ref() => {
                                println!("  E01 stored {name} matches the content")
                            }
                            Some(s) => {
                                println!("  E01 stored {name} {s} does NOT match the content")
                            }
                            None => {}
                        }
                    }
                    for p in &ewf.problems {
                        println!("  E01 problem: {}", shown(p));
                    }
                }
                if e.bad_bytes > 0 {
                    println!(
                        "  {} bytes unreadable in {} ranges:",
                        e.bad_bytes,
                        r.gaps.len()
                    );
                    print_gaps(&r.gaps);
                } else {
                    println!("  every byte was read");
                }
                println!("{}", outcome_word(r.outcome));
            }
        }
        None => {
            rep.json(json!({"event": "result", "command": "add", "outcome": Outcome::Interrupted.name()}));
            eprintln!("dredge: interrupted; nothing was registered");
        }
    }
    Ok(r.outcome.exit_code())
}

pub(super) fn acquire(
    a: AcquireArgs,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let map = a.map.clone().unwrap_or_else(|| {
        let mut s = a.image.clone().into_os_string();
        s.push(".map");
        PathBuf::from(s)
    });
    if !(a.map_interval.is_finite() && a.map_interval >= 0.0) {
        return Err(Failure("--map-interval must be a number of seconds".into()));
    }
    let options = AcquireOptions {
        cluster: a.cluster_size as usize,
        retries: a.retries,
        map_interval: Duration::from_secs_f64(a.map_interval),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        hash: a.hash,
        ..Default::default()
    };
    let req = session::AcquireRequest {
        source: &a.source,
        image: &a.image,
        map: &map,
        case_dir: a.case.as_deref(),
        options,
        e01: (a.format == ImageFormat::E01).then(|| session::E01Options {
            segment_size: a.segment_size,
            compression: a.compression,
            evidence_number: a.evidence_number.clone(),
            notes: a.notes.clone(),
        }),
    };
    let r = session::acquire(&req, interrupt, &mut |p| rep.progress(p))?;
    rep.clear();
    let res = &r.result;
    let d = res.digests.clone().unwrap_or_default();
    rep.json(json!({
        "event": "result", "command": "acquire", "outcome": r.outcome.name(),
        "size": res.size, "rescued": res.rescued, "bad_bytes": res.bad_bytes,
        "read_errors": res.read_errors, "resumed": res.resumed,
        "md5": res.digests.as_ref().map(|_| &d.md5),
        "sha1": res.digests.as_ref().map(|_| &d.sha1),
        "sha256": res.digests.as_ref().map(|_| &d.sha256),
        "evidence": r.evidence.as_ref().map(|e| &e.label),
        "map": map,
    }));
    if !rep.is_json() {
        println!(
            "{} {}: {} rescued, {} unreadable in {} ranges, {} read errors, {:.1} s{}",
            a.source.display(),
            outcome_word(r.outcome),
            human_bytes(res.rescued),
            human_bytes(res.bad_bytes),
            res.bad_extents.len(),
            res.read_errors,
            res.elapsed.as_secs_f64(),
            if res.resumed { " (resumed)" } else { "" }
        );
        if res.digests.is_some() {
            print_digests(&d.md5, &d.sha1, &d.sha256);
        } else {
            println!("  rerun the same command to resume from {}", map.display());
        }
        let gaps: Vec<session::Gap> = res
            .bad_extents
            .iter()
            .map(|e| session::Gap::new(e.start, e.len, session::Why::AcquisitionUnreadable))
            .collect();
        print_gaps(&gaps);
        if let Some(e) = &r.evidence {
            println!("  registered as {} in the case", e.label);
        }
    }
    Ok(r.outcome.exit_code())
}

pub(super) fn verify(
    a: VerifyArgs,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let anchors = session::Anchors {
        head: a.head.clone(),
        public_key: a.public_key.clone(),
    };
    let r = session::verify_against(&a.case_dir, &anchors, interrupt, &mut |p| rep.progress(p))?;
    rep.clear();
    rep.json(json!({
            "event": "result", "command": "verify", "ok": r.ok(),
            "custody_events": r.events,
            "custody_break": r.custody.as_ref().map(|b| json!({"seq": b.seq, "detail": b.detail})),
            "evidence": r.evidence.iter().map(|(l, c)| c.record(l)).collect::<Vec<_>>(),
            "artifacts_checked": r.artifacts.0,
            "artifact_mismatch": r.artifacts.1.as_ref().map(|(id, why)| json!({"id": id, "detail": why})),
            "signed_by": r.signed_by, "not_recorded": r.unrecorded, "shards": r.shards,
        }));
    if !rep.is_json() {
        match (&r.custody, &r.signed_by) {
            (None, None) => println!("custody log: {} events, chain intact", r.events),
            (None, Some(fp)) => println!(
                "custody log: {} events, chain intact, every event signed by key {fp}",
                r.events
            ),
            (Some(b), _) => {
                println!("custody log: BROKEN at event {}: {}", b.seq, b.detail)
            }
        }
        if let Some(why) = &r.unrecorded {
            println!("(this verification is not recorded in the case: {why})");
        }
        for (label, c) in &r.evidence {
            println!("{label}: {c}");
        }
        for line in &r.shards {
            println!("{line}");
        }
        match &r.artifacts {
            (n, None) => println!("extracted files: {n} re-hashed, all match"),
            (_, Some((id, why))) => println!("extracted file {id}: MISMATCH: {why}"),
        }
    }
    if r.interrupted() {
        return Ok(130);
    }
    if !r.ok() {
        let first = match (&r.custody, &r.artifacts.1) {
            (Some(b), _) => format!("custody event {}: {}", b.seq, b.detail),
            (None, Some((id, why))) => format!("artifact {id}: {why}"),
            (None, None) => r
                .evidence
                .iter()
                .find(|(_, c)| !matches!(c, EvidenceCheck::Match(_)))
                .map(|(l, c)| format!("evidence {l}: {c}"))
                .unwrap_or_default(),
        };
        return Err(Failure(format!(
            "{}: verification FAILED: {first}",
            a.case_dir.display()
        )));
    }
    println!("verification passed");
    Ok(0)
}

/// case new + add + scan, for `recover` and `carve`.
pub(super) fn one_shot(
    a: &RecoverArgs,
    opts: &session::ScanOptions,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let info = CaseInfo {
        case_number: a.case_number.clone(),
        examiner: a
            .examiner
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unspecified".into()),
        description: Some(format!("dredge recover {}", a.image.display())),
    };
    // The same command again after a crash, Ctrl-C or kill -9 goes on from where
    // the case stands.
    let state = session::one_shot_state(&a.out, &a.image)?;
    match state {
        session::OneShotState::New => {
            session::case_new_signed(&a.out, &info, a.signing_key.as_deref())?;
        }
        _ if !rep.is_json() => println!(
            "{} is a case this command began: going on from where it stopped",
            a.out.display()
        ),
        _ => {}
    }
    // One read of the image registers it and does the scan's reading: hashes,
    // carving, the files' copies.
    let (added, pre) = if state == session::OneShotState::Scan {
        (None, None)
    } else {
        let (added, pre) = session::add_evidence_one_pass(
            &a.out,
            &a.image,
            a.map.as_deref(),
            Ok(opts),
            interrupt,
            &mut |p| rep.progress(p),
        )?;
        (Some(added), pre)
    };
    rep.clear();
    if added
        .as_ref()
        .is_some_and(|r| r.outcome == Outcome::Interrupted)
    {
        return Ok(130);
    }
    if let Some(e) = added.as_ref().and_then(|r| r.evidence.as_ref()) {
        if !rep.is_json() {
            println!(
                "registered {} as {} ({} {}), {} bytes unreadable",
                e.path,
                e.label,
                e.strongest_digest().0,
                e.strongest_digest().1,
                e.bad_bytes
            );
        }
    }
    let r = session::scan_precarved(&a.out, opts, pre, interrupt, &mut |p| rep.progress(p))?;
    rep.clear();
    print_scan(rep, &r);
    let code = containers(&a.out, opts, &r, interrupt, rep)?;
    if !rep.is_json() && r.outcome != Outcome::Interrupted {
        println!(
            "files are in {}/files; list them with: dredge ls {}",
            a.out.display(),
            a.out.display()
        );
    }
    Ok(code)
}

/// After a scan with keys: the disk images inside encrypted Apple disk
/// images and the container files the keys open (`session::open_after_scan`),
/// each registered and scanned, said on a line each. The exit
/// code of the scan and theirs.
pub(super) fn containers(
    case: &std::path::Path,
    opts: &session::ScanOptions,
    r: &session::ScanReport,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let mut code = r.outcome.exit_code();
    if r.outcome == Outcome::Interrupted {
        return Ok(code);
    }
    let opened = session::open_after_scan(case, opts, interrupt, &mut |p| rep.progress(p))?;
    rep.clear();
    for o in &opened {
        if rep.is_json() {
            rep.json(json!({"event": format!("{}_opened", o.word()), "artifact": o.artifact, "path": o.path, "evidence": o.label}));
        } else {
            println!("{}", o.said());
        }
        print_scan(rep, &o.report);
        code = code.max(o.report.outcome.exit_code());
    }
    Ok(code)
}

pub(super) fn print_scan(rep: &Reporter, r: &session::ScanReport) {
    let s = &r.summary;
    rep.json(json!({
        "event": "result", "command": "scan", "outcome": r.outcome.name(),
        "files": s.files, "deleted": s.deleted, "partial": s.partial, "findings": s.findings, "carved": s.carved,
        "volumes": s.volumes, "filesystems": s.filesystems, "units_resumed": s.units_resumed,
        "read": {"image_bytes": s.image_bytes, "pass_bytes": s.read_pass, "other_bytes": s.read_other},
    }));
    if rep.is_json() {
        return;
    }
    println!(
        "scanned {} evidence item(s): {} volumes, filesystems [{}]",
        s.evidence,
        s.volumes,
        s.filesystems.join(", ")
    );
    println!("  {}", s.describe());
    println!("  {}", s.reads());
    println!("{}", outcome_word(r.outcome));
}
