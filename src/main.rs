//! The `dredge` command line. Exit codes: 0 complete, 3 complete with gaps
//! (unreadable bytes), 2 failed, 130 interrupted.

mod batch;
mod key;
mod progress;

// A walk of a large filesystem allocates a little for every entry; glibc's malloc
// was a third of `dredge list`'s time on 100 000 files (perf), mimalloc much less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dredge_session::{
    self as session, human_bytes, AcquireOptions, CaseInfo, EvidenceCheck, Failure, Outcome,
};

use progress::Reporter;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EXIT_FAILED: i32 = 2;

#[derive(Parser)]
#[command(
    name = "dredge",
    version,
    about = "Forensic data extraction from damaged media",
    long_about = "Forensic data extraction from damaged media.\n\n\
        Exit codes: 0 complete, 3 complete with gaps (unreadable bytes, or units cut short by damage), 2 failed, 130 interrupted."
)]
struct Cli {
    /// How to show progress of long jobs: a bar on stderr, JSON lines on stdout, or nothing.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    progress: ProgressMode,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, otherwise nothing.
    Auto,
    Bar,
    Json,
    None,
}

#[derive(Subcommand)]
enum Command {
    /// Create or inspect cases.
    #[command(subcommand)]
    Case(CaseCmd),
    /// Register an image (raw, split raw, or block device) as evidence: hash it and record it.
    Add(AddArgs),
    /// Image a (possibly failing) drive, ddrescue-style, keeping a GNU ddrescue mapfile.
    Acquire(AcquireArgs),
    /// Examine every evidence item: volumes, filesystems, allocated and deleted files,
    /// extracted to CASE_DIR/files/ and hashed. Resumes an interrupted scan.
    Scan(ScanArgs),
    /// List recovered files like `fls -r -p` (deleted entries marked with *).
    Ls(LsArgs),
    /// List every file of every filesystem in an image, allocated and deleted (*),
    /// without creating a case (triage; `fls -r -p` style).
    List(ListArgs),
    /// One-shot carving of a whole image (no filesystem extraction): create a case in
    /// OUT, register IMAGE, carve every JPEG, PNG and ZIP/OOXML/ODF file it holds.
    Carve(RecoverArgs),
    /// One-shot recovery: create a case in OUT, register IMAGE, scan it.
    Recover(RecoverArgs),
    /// Recompute the custody chain, every evidence hash and every extracted file's
    /// hash; name the first mismatch.
    Verify(VerifyArgs),
    /// Print the custody log.
    Log(LogArgs),
    /// Write a report from the case store alone (HTML, PDF/A, DFXML, CASE/UCO JSON-LD, CSV, bodyfile), with its
    /// SHA-256 beside it and in the custody log. A store that fails verification still
    /// gets its report, which says so first; the exit code is then 2.
    Report(ReportArgs),
    /// Run a lab job file unattended: each [[item]] acquired or added, scanned, carved
    /// and reported, into one case or a case each; JSON lines on stdout; a failing
    /// item is recorded and the next one runs. Exit 0 all complete, 3 some bytes
    /// unreadable, 2 an item failed, 130 interrupted.
    Batch(BatchArgs),
    /// The terminal UI: create or open a case, add or acquire evidence, run scans with
    /// live progress (pause, cancel, resume), evidence with its sector map, files as a
    /// list or tree (deleted and carved ones marked), hex view of files or the image
    /// with unreadable bytes shown as ??, export, reports, custody log and
    /// verification. Keys: ? for help.
    Tui(TuiArgs),
    /// Make the examiner's signing key for signed cases (`case new --signing-key`).
    #[command(subcommand)]
    Key(key::KeyCmd),
}

#[derive(Args)]
struct TuiArgs {
    /// The case to open; without one, or where there is no case yet, the UI starts
    /// with the new-case form.
    case_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CaseCmd {
    /// Create a case directory (case.sqlite, files/, carved/, reports/).
    New(CaseNewArgs),
    /// Show a case: its details, evidence and sessions.
    Show(CaseArg),
}

#[derive(Args)]
struct CaseNewArgs {
    /// Directory to create (must not exist or be empty).
    case_dir: PathBuf,
    /// Name of the examiner responsible for the case.
    #[arg(long)]
    examiner: String,
    #[arg(long)]
    case_number: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// Sign every custody event with this Ed25519 key (`dredge key new`): then
    /// rewriting the case's log needs the key. Later commands find it at this
    /// path, or at $DREDGE_SIGNING_KEY.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

#[derive(Args)]
struct CaseArg {
    case_dir: PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    case_dir: PathBuf,
    /// A custody head copied from a report (SEQ:HASH, printed on every page): the
    /// log must still hold it.
    #[arg(long, value_name = "SEQ:HASH")]
    head: Option<String>,
    /// The examiner's public key (64 hex digits, as `dredge key new` printed) or its
    /// 16-digit fingerprint: the case must be signed with it.
    #[arg(long, value_name = "KEY")]
    public_key: Option<String>,
}

#[derive(Args)]
struct BatchArgs {
    /// The job file (TOML); see docs/batch.md.
    job: PathBuf,
}

#[derive(Args)]
struct ReportArgs {
    case_dir: PathBuf,
    #[arg(long, value_enum)]
    format: ReportFormatArg,
    /// Default: CASE_DIR/reports/report-TIME.EXT
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum ReportFormatArg {
    Html,
    Pdf,
    Dfxml,
    Case,
    Csv,
    Bodyfile,
}

#[derive(Args)]
struct LogArgs {
    case_dir: PathBuf,
    /// One JSON object per event.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AddArgs {
    case_dir: PathBuf,
    /// Image file, first segment of a split raw set (.001, .aa), or block device.
    image: PathBuf,
    /// GNU ddrescue mapfile of the image: bytes it does not mark rescued (+) are read
    /// as zeros and recorded as unreadable.
    #[arg(long)]
    map: Option<PathBuf>,
    /// Digests of the evidence: any of md5, sha1, sha256, comma-separated (recorded
    /// in custody). Fewer is faster: MD5 is the slowest.
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    hash: session::Algorithms,
}

#[derive(Args)]
struct ScanArgs {
    case_dir: PathBuf,
    #[command(flatten)]
    scan: ScanFlags,
}

#[derive(Args)]
struct ScanFlags {
    /// Worker threads for extraction and hashing (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip re-hashing the evidence before and after the scan (faster on huge
    /// images; the custody record then says so).
    #[arg(long)]
    no_rehash: bool,
    /// What to carve after the filesystems: free space and unclaimed volumes
    /// (unallocated), the whole image (all), or nothing (none).
    #[arg(long, value_enum, default_value = "unallocated")]
    carve: CarveArg,
    /// Carving page size in bytes (results do not depend on it).
    #[arg(long, default_value_t = 16 << 20)]
    page_size: u64,
    /// Do not extract filesystems or search for lost ones: carve only.
    #[arg(long)]
    no_filesystems: bool,
    /// Digests of the evidence: any of md5, sha1, sha256, comma-separated. A
    /// registration (recover, carve) computes these; a scan checks those of them
    /// the registration recorded. Fewer is faster: MD5 is the slowest.
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    hash: session::Algorithms,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum CarveArg {
    Unallocated,
    All,
    None,
}

impl ScanFlags {
    fn options(&self) -> session::ScanOptions {
        let mut o = session::ScanOptions::default();
        if let Some(t) = self.threads {
            o.threads = t.max(1);
        }
        o.rehash = !self.no_rehash;
        o.carve = match self.carve {
            CarveArg::Unallocated => session::CarveScope::Unallocated,
            CarveArg::All => session::CarveScope::All,
            CarveArg::None => session::CarveScope::None,
        };
        o.page_size = self.page_size.max(4096);
        o.filesystems = !self.no_filesystems;
        o.hash = self.hash;
        o
    }
}

#[derive(Args)]
struct LsArgs {
    case_dir: PathBuf,
    /// Only entries at or below this path.
    path: Option<String>,
    /// Also show size, status and SHA-256.
    #[arg(long, short)]
    long: bool,
}

#[derive(Args)]
struct ListArgs {
    /// Image file, first segment of a split set, or block device.
    image: PathBuf,
    #[arg(long)]
    map: Option<PathBuf>,
}

#[derive(Args)]
struct RecoverArgs {
    /// Image file, first segment of a split set, or block device.
    image: PathBuf,
    /// Case directory to create.
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    map: Option<PathBuf>,
    /// Examiner name for the case (default: $USER).
    #[arg(long)]
    examiner: Option<String>,
    #[arg(long)]
    case_number: Option<String>,
    /// Sign the new case's custody events with this Ed25519 key (`dredge key new`).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    #[command(flatten)]
    scan: ScanFlags,
}

#[derive(Args)]
struct AcquireArgs {
    /// Device or file to image. Opened read-only.
    source: PathBuf,
    /// Image file to write (resumed if its mapfile exists).
    image: PathBuf,
    /// Mapfile to keep (GNU ddrescue format). Default: IMAGE.map
    #[arg(long)]
    map: Option<PathBuf>,
    /// Record the acquisition in this case and register the image as evidence.
    #[arg(long)]
    case: Option<PathBuf>,
    /// Retry passes over bad sectors after scraping.
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// Read size of the copy passes, in bytes (a multiple of the sector size).
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(512..=(64 << 20)))]
    cluster_size: u32,
    /// Seconds between mapfile saves.
    #[arg(long, default_value_t = 1.0)]
    map_interval: f64,
    /// Image format: raw, or an E01 set (IMAGE must end in .E01).
    #[arg(long, value_enum, default_value = "raw")]
    format: ImageFormat,
    /// E01 segment size, e.g. 650MiB, 2GiB (at most 2 GiB).
    #[arg(long, default_value = "1.4GiB", value_parser = parse_size)]
    segment_size: u64,
    /// E01 chunk compression.
    #[arg(long, value_enum, default_value = "fast")]
    compression: CompressionArg,
    /// E01 evidence number.
    #[arg(long, default_value = "")]
    evidence_number: String,
    /// E01 notes.
    #[arg(long, default_value = "")]
    notes: String,
    /// Digests computed while imaging: any of md5, sha1, sha256, comma-separated.
    /// An E01 always gets MD5 and SHA-1 too (its hash sections hold them).
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    hash: session::Algorithms,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum ImageFormat {
    Raw,
    E01,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum CompressionArg {
    None,
    Fast,
    Best,
}

/// An E01 segment size: 1 MiB to 2 GiB, written like 650MiB or 1.4GiB.
/// The evidence digests computed, one per line (those not chosen are left out).
fn print_digests(md5: &Option<String>, sha1: &Option<String>, sha256: &Option<String>) {
    for (name, d) in [("MD5    ", md5), ("SHA-1  ", sha1), ("SHA-256", sha256)] {
        if let Some(d) = d {
            println!("  {name} {d}");
        }
    }
}

fn parse_hash(s: &str) -> Result<session::Algorithms, String> {
    session::Algorithms::parse(s)
}

fn parse_size(s: &str) -> Result<u64, String> {
    let v = session::parse_size(s)?;
    if !(1 << 20..=2u64 << 30).contains(&v) {
        return Err(format!("segment size {s} must be between 1 MiB and 2 GiB"));
    }
    Ok(v)
}

fn main() {
    let cli = Cli::parse();
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

fn print_gaps(gaps: &[(u64, u64, String)]) {
    const SHOWN: usize = 50;
    for (s, l, w) in gaps.iter().take(SHOWN) {
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
        Command::Case(CaseCmd::New(a)) => {
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
        Command::Case(CaseCmd::Show(a)) => case_show(&a.case_dir, rep),
        Command::Add(a) => {
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
                        "event": "result", "command": "add", "outcome": format!("{:?}", r.outcome),
                        "label": e.label, "size": e.size, "md5": e.md5, "sha1": e.sha1, "sha256": e.sha256,
                        "bad_bytes": e.bad_bytes,
                        "unreadable": r.gaps.iter().map(|(s, l, w)| json!({"start": s, "len": l, "why": w})).collect::<Vec<_>>(),
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
                        if let Some(ewf) = &r.ewf {
                            for (k, v) in &ewf.header {
                                println!("  E01 {k:<17} {}", shown(v));
                            }
                            for (name, stored, check) in [
                                ("MD5", &ewf.stored_md5, &e.md5),
                                ("SHA-1", &ewf.stored_sha1, &e.sha1),
                            ] {
                                match stored {
                                    Some(_) if check.is_none() => println!(
                                        "  E01 stored {name} not checked (not chosen with --hash)"
                                    ),
                                    Some(s) if Some(s) == check.as_ref() => {
                                        println!("  E01 stored {name} matches the content")
                                    }
                                    Some(s) => println!(
                                        "  E01 stored {name} {s} does NOT match the content"
                                    ),
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
                    rep.json(
                        json!({"event": "result", "command": "add", "outcome": "Interrupted"}),
                    );
                    eprintln!("dredge: interrupted; nothing was registered");
                }
            }
            Ok(r.outcome.exit_code())
        }
        Command::Acquire(a) => {
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
                    compression: match a.compression {
                        CompressionArg::None => dredge_image::Compression::None,
                        CompressionArg::Fast => dredge_image::Compression::Fast,
                        CompressionArg::Best => dredge_image::Compression::Best,
                    },
                    evidence_number: a.evidence_number.clone(),
                    notes: a.notes.clone(),
                }),
            };
            let r = session::acquire(&req, interrupt, &mut |p| rep.progress(p))?;
            rep.clear();
            let res = &r.result;
            let d = res.digests.clone().unwrap_or_default();
            rep.json(json!({
                "event": "result", "command": "acquire", "outcome": format!("{:?}", r.outcome),
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
                let gaps: Vec<(u64, u64, String)> = res
                    .bad_extents
                    .iter()
                    .map(|e| (e.start, e.len, "unreadable".into()))
                    .collect();
                print_gaps(&gaps);
                if let Some(e) = &r.evidence {
                    println!("  registered as {} in the case", e.label);
                }
            }
            Ok(r.outcome.exit_code())
        }
        Command::Scan(a) => {
            let r = session::scan(&a.case_dir, &a.scan.options(), interrupt, &mut |p| {
                rep.progress(p)
            })?;
            rep.clear();
            print_scan(rep, &r);
            Ok(r.outcome.exit_code())
        }
        Command::Ls(a) => ls(&a, rep),
        Command::List(a) => {
            use std::io::Write;
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            let json_mode = rep.is_json();
            let findings = session::list_image(
                &a.image,
                a.map.as_deref(),
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
        Command::Carve(mut a) => {
            a.scan.carve = CarveArg::All;
            let mut opts = a.scan.options();
            opts.filesystems = false;
            one_shot(&a, &opts, interrupt, rep)
        }
        Command::Recover(a) => {
            let opts = a.scan.options();
            one_shot(&a, &opts, interrupt, rep)
        }
        Command::Verify(a) => {
            let anchors = session::Anchors {
                head: a.head.clone(),
                public_key: a.public_key.clone(),
            };
            let r = session::verify_against(&a.case_dir, &anchors, interrupt, &mut |p| {
                rep.progress(p)
            })?;
            rep.clear();
            rep.json(json!({
                "event": "result", "command": "verify", "ok": r.ok(),
                "custody_events": r.events,
                "custody_break": r.custody.as_ref().map(|b| json!({"seq": b.seq, "detail": b.detail})),
                "evidence": r.evidence.iter().map(|(l, c)| json!({"label": l, "result": format!("{c:?}")})).collect::<Vec<_>>(),
                "artifacts_checked": r.artifacts.0,
                "artifact_mismatch": r.artifacts.1.as_ref().map(|(id, why)| json!({"id": id, "detail": why})),
                "signed_by": r.signed_by, "not_recorded": r.unrecorded,
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
                    match c {
                        EvidenceCheck::Match(set) => println!("{label}: {} match", set.labels()),
                        EvidenceCheck::Mismatch {
                            algorithm,
                            recorded,
                            actual,
                        } => {
                            println!(
                                "{label}: {algorithm} MISMATCH: recorded {recorded}, now {actual}"
                            )
                        }
                        EvidenceCheck::Unreadable(e) => println!("{label}: cannot be read: {e}"),
                        EvidenceCheck::Interrupted => println!("{label}: interrupted"),
                    }
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
                        .map(|(l, c)| format!("evidence {l}: {c:?}"))
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
            batch::run(&a.job, interrupt, &mut json_rep)
        }
        Command::Report(a) => {
            let format = match a.format {
                ReportFormatArg::Html => session::ReportFormat::Html,
                ReportFormatArg::Pdf => session::ReportFormat::Pdf,
                ReportFormatArg::Dfxml => session::ReportFormat::Dfxml,
                ReportFormatArg::Case => session::ReportFormat::Case,
                ReportFormatArg::Csv => session::ReportFormat::Csv,
                ReportFormatArg::Bodyfile => session::ReportFormat::Bodyfile,
            };
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
        Command::Log(a) => {
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
    }
}

/// case new + add + scan, for `recover` and `carve`.
fn one_shot(
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
    if !rep.is_json() && r.outcome != Outcome::Interrupted {
        println!(
            "files are in {}/files; list them with: dredge ls {}",
            a.out.display(),
            a.out.display()
        );
    }
    Ok(r.outcome.exit_code())
}

fn print_scan(rep: &Reporter, r: &session::ScanReport) {
    let s = &r.summary;
    rep.json(json!({
        "event": "result", "command": "scan", "outcome": format!("{:?}", r.outcome),
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

/// The one-letter type `fls` prints.
fn type_char(kind: &str) -> char {
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
fn shown(name: &str) -> String {
    dredge_core::visible(name).into_owned()
}

fn ls(a: &LsArgs, rep: &Reporter) -> Result<i32, Failure> {
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
                json!({"id": art.id, "path": art.path, "other_names": art.other_names, "kind": art.kind, "deleted": art.deleted,
                       "size": art.size, "status": art.status, "recovery": art.recovery, "recovery_detail": art.recovery_detail,
                       "md5": art.digests.as_ref().map(|d| &d.0), "sha1": art.digests.as_ref().map(|d| &d.1),
                       "sha256": art.digests.as_ref().map(|d| &d.2),
                       "extracted": art.extracted, "extract_note": art.extract_note, "unreadable_bytes": art.unreadable_bytes, "forensic_path": art.forensic_path,
                       "times": art.times.iter().map(|(s, t)| json!({"source": s, "utc": t})).collect::<Vec<_>>(),
                       "runs": art.runs.iter().map(|r| json!({"file_offset": r.file_offset, "len": r.len, "kind": r.kind,
                           "image_offset": r.image_offset, "unreadable_bytes": r.unreadable_bytes})).collect::<Vec<_>>(),
                       "gaps": art.gaps.iter().map(|(o, l, w)| json!({"file_offset": o, "len": l, "why": w})).collect::<Vec<_>>()})
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
        let t = type_char(&art.kind);
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
        Ok(()) => match out.flush() {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(Failure(format!("writing the listing: {e}")))
            }
            _ => Ok(0),
        },
        // A reader that went away (`| head`) is not a failure of the case.
        Err(e) if e.detail.contains("Broken pipe") => Ok(0),
        Err(e) => Err(Failure(e.to_string())),
    }
}

fn case_show(dir: &std::path::Path, rep: &mut Reporter) -> Result<i32, Failure> {
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
