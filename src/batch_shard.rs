//! A batch across machines (decision 0020, docs/scale-out.md): `batch --merge`
//! builds each case of the job from its shards, where a single run writes it, and
//! writes the job's reports; `batch-status` says how the shards are doing.

use crate::batch::{self, Job};
use crate::progress::Reporter;
use dredge_session::{self as session, Failure, ShardSpec, Store};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The shard counts N that have shard cases beside `case` (`<case>.shards/K-of-N`).
fn counts(case: &Path) -> Vec<u32> {
    let mut ns: Vec<u32> = std::fs::read_dir(session::shards_dir(case))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (k, n) = name.split_once("-of-")?;
            k.parse::<u32>().ok()?;
            n.parse::<u32>().ok()
        })
        .collect();
    ns.sort_unstable();
    ns.dedup();
    ns
}

fn shard_count(case: &Path, given: Option<u32>) -> Result<u32, Failure> {
    if let Some(n) = given.filter(|&n| n > 0) {
        return Ok(n);
    }
    match counts(case).as_slice() {
        [n] => Ok(*n),
        [] => Err(Failure(format!(
            "{}: no shard cases: run `dredge batch JOB --shard K/N` first",
            session::shards_dir(case).display()
        ))),
        many => Err(Failure(format!(
            "{}: shards of {} runs ({:?} shards): give --merge N",
            session::shards_dir(case).display(),
            many.len(),
            many
        ))),
    }
}

/// `dredge batch JOB --merge [N]`: each case merged, its container files
/// tried (with `container_files = true`, as a single run does after the
/// case's items: the shards do not, decision 0020), then its reports.
pub fn merge(
    job_path: &Path,
    n: Option<u32>,
    interrupt: &AtomicBool,
    rep: &mut Reporter,
) -> Result<i32, Failure> {
    let job = batch::load(job_path)?;
    let digest = session::job_digest(job_path)?;
    let base = job_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let key = job.signing_key.as_ref().map(|k| base.join(k));
    let splits = crate::batch_ranges::splits(&job, &base, job_path)?;
    let mut code = 0;
    for (case, items) in batch::job_cases(&job, &base) {
        let keys = batch::case_keys(&job, &items, job_path)?;
        let result = shard_count(&case, n).and_then(|n| {
            let len = job.item.len() as u32;
            // The shards that hold this case's items and their ranges, and (for
            // a job with one case) every other shard, whose cases say they hold
            // nothing.
            let ks: Vec<u32> = if job.shared() {
                (1..=n).collect()
            } else {
                session::shards_of_items(&items, len, &splits, n)
            };
            let dirs: Vec<PathBuf> = ks
                .iter()
                .map(|&k| ShardSpec { k, n }.dir(&case))
                .filter(|d| d.exists())
                .collect();
            if dirs.is_empty() {
                return Err(Failure(format!(
                    "{}: no shard case of {n} shards to merge (shard {} holds its item)",
                    case.display(),
                    ks.first().copied().unwrap_or(1)
                )));
            }
            session::case_merge(&case, &dirs, key.as_deref(), Some(&digest), &keys)
        });
        match result {
            Ok(r) => {
                for (k, c) in &r.merged {
                    rep.json(json!({"event": "batch.merge.shard", "case": case, "shard": k,
                                    "events": c.events, "artifacts": c.artifacts, "evidence": c.evidence,
                                    "merge_event": c.merge_event}));
                    if !rep.is_json() {
                        eprintln!(
                            "{}: shard {k} merged: {} artifacts, evidence {}",
                            case.display(),
                            c.artifacts,
                            c.evidence.join(", ")
                        );
                    }
                }
                for g in &r.ranges {
                    rep.json(
                        json!({"event": "batch.merge.ranges", "case": case, "evidence": g.label,
                                    "ranges": g.ranges, "carved": g.carved, "partial": g.partial}),
                    );
                    if !rep.is_json() {
                        eprintln!(
                            "{}: {}: {} ranges' carving stored: {} carved files ({} partial)",
                            case.display(),
                            g.label,
                            g.ranges,
                            g.carved,
                            g.partial
                        );
                    }
                    // A partial carved file makes a single run's scan complete
                    // with gaps: so it does the merged run.
                    if g.partial > 0 {
                        code = batch::worse(code, 3);
                    }
                }
                if job.container_files && !interrupt.load(Ordering::Relaxed) {
                    match crate::batch_opened::merged_container_files(
                        &job, &case, &items, job_path, interrupt, rep,
                    ) {
                        Ok(c) => code = batch::worse(code, c),
                        Err(f) => {
                            rep.json(json!({"event": "batch.container_files.failed", "case": case, "error": f.0}));
                            eprintln!("dredge: container files of {}: {f}", case.display());
                            code = batch::worse(code, 2);
                        }
                    }
                }
                if let Err(f) = batch::reports(&job, &case, job_path, rep) {
                    eprintln!("dredge: reports for {}: {f}", case.display());
                    code = batch::worse(code, 2);
                }
            }
            Err(f) => {
                rep.json(json!({"event": "batch.merge.failed", "case": case, "error": f.0}));
                eprintln!("dredge: {f}");
                code = batch::worse(code, 2);
            }
        }
    }
    rep.json(json!({"event": "batch.merge.summary", "exit_code": code}));
    Ok(code)
}

/// One shard case's state, from its store, its lock and its `progress.jsonl`.
fn shard_state(dir: &Path) -> Value {
    let mut items_done = 0u64;
    let mut failed = 0u64;
    let mut bytes = 0u64;
    let mut current = 0u64;
    if let Ok(text) = std::fs::read_to_string(dir.join("progress.jsonl")) {
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue; // a line being written
            };
            match v["event"].as_str() {
                Some("batch.item.end") => {
                    // An item's units: itself and the ranges of it run here.
                    items_done += v["units"].as_u64().unwrap_or(1);
                    if v["status"] == "failed" {
                        failed += 1;
                    }
                    bytes += current;
                    current = 0;
                }
                Some("progress") if v["unit"] == "bytes" => {
                    current = current.max(v["done"].as_u64().unwrap_or(0));
                }
                _ => {}
            }
        }
    }
    let ended = Store::open(dir)
        .and_then(|s| s.shard_ended())
        .unwrap_or(false);
    let state = if ended {
        if failed > 0 {
            "failed"
        } else {
            "done"
        }
    } else if session::shard_running(dir) {
        "running"
    } else {
        "stopped"
    };
    json!({"state": state, "items_done": items_done, "items_failed": failed,
           "bytes": bytes + current})
}

/// `dredge batch-status JOB`: every shard of every case of the job.
pub fn status(job_path: &Path, rep: &mut Reporter) -> Result<i32, Failure> {
    let job: Job = batch::load(job_path)?;
    let base = job_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let len = job.item.len() as u32;
    let splits = crate::batch_ranges::splits(&job, &base, job_path)?;
    let mut rows = Vec::new();
    for (case, items) in batch::job_cases(&job, &base) {
        let merged = Store::open(&case)
            .and_then(|s| s.merges())
            .map(|m| m.len())
            .unwrap_or(0);
        for n in counts(&case) {
            for k in 1..=n {
                let spec = ShardSpec { k, n };
                let mine = spec
                    .holds(len, &splits)
                    .iter()
                    .filter(|u| {
                        let (session::Unit::Item(i) | session::Unit::Range(i, _)) = **u;
                        items.contains(&(i as usize))
                    })
                    .count();
                if mine == 0 && !job.shared() {
                    continue;
                }
                let dir = spec.dir(&case);
                let mut st = if dir.exists() {
                    shard_state(&dir)
                } else {
                    json!({"state": "not-started", "items_done": 0, "items_failed": 0, "bytes": 0})
                };
                st["case"] = json!(case);
                st["shard"] = json!(k);
                st["of"] = json!(n);
                st["items"] = json!(mine);
                st["merged_shards_in_case"] = json!(merged);
                rows.push(st);
            }
        }
    }
    let count = |s: &str| rows.iter().filter(|r| r["state"] == s).count();
    let summary = json!({
        "event": "batch.status", "shards": rows.len(), "done": count("done"),
        "running": count("running"), "failed": count("failed"),
        "stopped": count("stopped"), "not_started": count("not-started"),
        "bytes": rows.iter().map(|r| r["bytes"].as_u64().unwrap_or(0)).sum::<u64>(),
        "items_done": rows.iter().map(|r| r["items_done"].as_u64().unwrap_or(0)).sum::<u64>(),
        "items": len,
        // Units of work: items, and the ranges of items cut (as many as the
        // items when none is).
        "units": session::units(len, &splits).len(),
    });
    if rep.is_json() {
        for r in &rows {
            let mut r = r.clone();
            r["event"] = json!("batch.status.shard");
            rep.json(r);
        }
        rep.json(summary.clone());
    } else {
        for r in &rows {
            println!(
                "{:>3}/{:<3} {:<12} units {}/{} ({} failed)  {}  {}",
                r["shard"],
                r["of"],
                r["state"].as_str().unwrap_or("?"),
                r["items_done"],
                r["items"],
                r["items_failed"],
                session::human_bytes(r["bytes"].as_u64().unwrap_or(0)),
                r["case"].as_str().unwrap_or("")
            );
        }
        println!(
            "{} shards: {} done, {} running, {} failed, {} stopped, {} not started; {} of {} units of work ({} items)",
            summary["shards"],
            summary["done"],
            summary["running"],
            summary["failed"],
            summary["stopped"],
            summary["not_started"],
            summary["items_done"],
            summary["units"],
            len
        );
    }
    if rows.is_empty() {
        eprintln!("{}: no shard cases found for this job", job_path.display());
        return Ok(2);
    }
    Ok(if count("failed") > 0 { 2 } else { 0 })
}
