//! The `dredge` command line. Exit codes: 0 complete, 3 complete with gaps
//! (unreadable bytes), 2 failed, 130 interrupted.

mod batch;
mod batch_opened;
mod batch_ranges;
mod batch_shard;
mod cli;
mod evidence_cmds;
mod key;
mod listing;
mod progress;

// A walk of a large filesystem allocates a little for every entry; glibc's malloc
// was a third of `dredge list`'s time on 100 000 files (perf), mimalloc much less.
// Counted per thread, so a unit holding more than its limit is cut short
// (`dredge_core::memory`, decision 0013).
#[global_allocator]
static GLOBAL: dredge_core::memory::Counting<mimalloc::MiMalloc> =
    dredge_core::memory::Counting(mimalloc::MiMalloc);

use clap::Parser;
use cli::*;
use dredge_session::{self as session, human_bytes, Failure, Outcome};

use evidence_cmds::{one_shot, print_scan};
use listing::{case_show, ls, shown};
use progress::Reporter;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const EXIT_FAILED: i32 = 2;

/// The evidence digests computed, one per line (those not chosen are left out).
fn print_digests(md5: &Option<String>, sha1: &Option<String>, sha256: &Option<String>) {
    for (name, d) in [("MD5    ", md5), ("SHA-1  ", sha1), ("SHA-256", sha256)] {
        if let Some(d) = d {
            println!("  {name} {d}");
        }
    }
}

fn main() {
    // Output piped into `head` that closes early ends dredge quietly, as it does
    // any Unix tool, instead of a panic trace from a failed print (Rust ignores
    // SIGPIPE by default). Work already recorded stays recorded; a job cut off
    // this way is resumed like any killed one.
    // SAFETY: restoring the default disposition of one signal, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // Scans take it into their options (recorded, so a resumed scan cuts the
    // same units); `list` and the rest use it as it is.
    dredge_core::memory::fix_limit(cli.unit_memory);
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupt);
        // Without a handler Ctrl-C would kill us before the session is closed as
        // interrupted and the mapfile saved.
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    }
    let mut reporter = Reporter::new(cli.progress);
    let code = match run(cli.command, &interrupt, &mut reporter) {
        Ok(code) => code,
        Err(f) => {
            reporter.clear();
            eprintln!("dredge: error: {f}");
            reporter.json(json!({"event": "error", "message": f.0}));
            EXIT_FAILED
        }
    };
    std::process::exit(code);
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Complete => "complete",
        Outcome::CompleteWithGaps => {
            "complete with gaps (unreadable bytes, or units cut short by damage)"
        }
        Outcome::Interrupted => "INTERRUPTED: not complete",
    }
}

fn print_gaps(gaps: &[session::Gap]) {
    const SHOWN: usize = 50;
    for (s, l, w) in gaps.iter().take(SHOWN).map(|g| (g.offset, g.len, g.why)) {
        println!(
            "  unreadable {s:>14} .. {:>14}  {:>10} bytes  {w}",
            s + l,
            l
        );
    }
    if gaps.len() > SHOWN {
        println!(
            "  ... and {} more ranges (all are in the case store)",
            gaps.len() - SHOWN
        );
    }
}

fn run(cmd: Command, interrupt: &AtomicBool, rep: &mut Reporter) -> Result<i32, Failure> {
    match cmd {
        Command::Case(CaseCmd::New(a)) => evidence_cmds::case_new(a, rep),
        Command::Case(CaseCmd::Show(a)) => case_show(&a.case_dir, rep),
        Command::Case(CaseCmd::Merge(a)) => {
            let r =
                session::case_merge(&a.out, &a.shards, a.signing_key.as_deref(), None, &a.keys)?;
            for (k, c) in &r.merged {
                rep.json(json!({"event": "case.merge.shard", "shard": k, "events": c.events,
                                "artifacts": c.artifacts, "evidence": c.evidence, "merge_event": c.merge_event}));
                if !rep.is_json() {
                    println!(
                        "shard {k}: {} events, {} artifacts, evidence {} (custody event {})",
                        c.events,
                        c.artifacts,
                        c.evidence.join(", "),
                        c.merge_event
                    );
                }
            }
            for k in &r.already {
                eprintln!("shard {k}: merged before, skipped");
            }
            for g in &r.ranges {
                rep.json(
                    json!({"event": "case.merge.ranges", "evidence": g.label, "ranges": g.ranges,
                                "carved": g.carved, "partial": g.partial}),
                );
                if !rep.is_json() {
                    println!(
                        "{}: {} ranges' carving stored: {} carved files ({} partial)",
                        g.label, g.ranges, g.carved, g.partial
                    );
                }
            }
            Ok(0)
        }
        Command::BatchStatus(a) => {
            let mut r = Reporter::new(if rep.is_json() {
                ProgressMode::Json
            } else {
                ProgressMode::None
            });
            batch_shard::status(&a.job, &mut r)
        }
        Command::Add(a) => evidence_cmds::add(a, interrupt, rep),
        Command::Acquire(a) => evidence_cmds::acquire(a, interrupt, rep),
        Command::Scan(a) => {
            let opts = a.scan.options();
            let r = session::scan(&a.case_dir, &opts, interrupt, &mut |p| rep.progress(p))?;
            rep.clear();
            print_scan(rep, &r);
            evidence_cmds::containers(&a.case_dir, &opts, &r, interrupt, rep)
        }
        Command::Ls(a) => ls(&a, rep),
        Command::List(a) => listing::list(a, interrupt, rep),
        Command::Carve(mut a) => {
            a.scan.carve = session::CarveScope::All;
            let mut opts = a.scan.options();
            opts.filesystems = false;
            one_shot(&a, &opts, interrupt, rep)
        }
        Command::Recover(a) => {
            let opts = a.scan.options();
            one_shot(&a, &opts, interrupt, rep)
        }
        Command::Verify(a) => evidence_cmds::verify(a, interrupt, rep),
        Command::Key(k) => key::run(k, rep),
        Command::Tui(a) => {
            dredge_tui::run(a.case_dir.as_deref(), interrupt).map_err(|e| {
                Failure(match &a.case_dir {
                    Some(d) => format!("{}: {e}", d.display()),
                    None => e,
                })
            })?;
            Ok(0)
        }
        Command::Batch(a) => {
            // Labs read the batch's progress as JSON lines, whatever --progress says.
            let mut json_rep = Reporter::new(ProgressMode::Json);
            if a.merge.is_some() {
                return batch_shard::merge(
                    &a.job,
                    a.merge.filter(|&n| n > 0),
                    interrupt,
                    &mut json_rep,
                );
            }
            let shard = a
                .shard
                .as_deref()
                .map(|s| session::ShardSpec::parse(s, |v| std::env::var(v).ok()))
                .transpose()?;
            batch::run_shard(&a.job, shard, interrupt, &mut json_rep)
        }
        Command::Report(a) => listing::report(a, rep),
        Command::Log(a) => listing::log(a, rep),
        Command::Hashes(a) => {
            let lines = session::password_hashes(&a.case_dir, a.out.as_deref(), interrupt)?;
            if lines.is_empty() {
                eprintln!(
                    "{}: no password-protected encrypted volume",
                    a.case_dir.display()
                );
            }
            for l in &lines {
                if let Some(f) = &l.file {
                    match &f.path {
                        Some(p) => eprintln!(
                            "{} {}: {} (SHA-256 {}), for {}",
                            l.volume,
                            l.container,
                            p.display(),
                            f.sha256.as_deref().unwrap_or("?"),
                            f.hashcat
                        ),
                        None => eprintln!(
                            "{} {}: its {} is read as a file ({}): give --out DIR to write it",
                            l.volume, l.container, l.protector, f.hashcat
                        ),
                    }
                    continue;
                }
                if a.format == CrackerFormat::John {
                    println!("{}/{}:{}", l.volume, l.protector, l.line);
                    continue;
                }
                println!("{}", l.line);
                eprintln!(
                    "{} {} protector {} ({}): {}",
                    l.volume,
                    l.container,
                    l.protector,
                    l.kind,
                    match l.hashcat_mode {
                        Some(m) => format!("hashcat -m {m}"),
                        None => "John the Ripper only (hashcat does not take this kind)".into(),
                    }
                );
            }
            Ok(0)
        }
        Command::ExportVolume(a) => {
            let done =
                session::export_volumes(&a.case_dir, &a.volumes, &a.keys, &a.out, interrupt)?;
            for v in &done {
                if rep.is_json() {
                    rep.json(json!({"event": "volume_exported", "volume": v.volume, "path": v.path, "size": v.size,
                                    "md5": v.md5, "sha1": v.sha1, "sha256": v.sha256, "unreadable_bytes": v.unreadable}));
                } else {
                    println!(
                        "{}: {} ({}), SHA-256 {}{}",
                        v.volume,
                        v.path.display(),
                        human_bytes(v.size),
                        v.sha256,
                        if v.unreadable > 0 {
                            format!(
                                ", {} unreadable (see {}.map)",
                                human_bytes(v.unreadable),
                                v.path.display()
                            )
                        } else {
                            String::new()
                        }
                    );
                }
            }
            Ok(if done.iter().any(|v| v.unreadable > 0) {
                3
            } else {
                0
            })
        }
    }
}
