//! The `dredge` command line. Exit codes: 0 complete, 3 complete with gaps
//! (unreadable bytes), 2 failed, 130 interrupted.

mod batch;
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

use clap::{Args, Parser, Subcommand, ValueEnum};
use dredge_session::{self as session, human_bytes, Failure, Outcome};

use evidence_cmds::{one_shot, print_scan};
use listing::{case_show, ls, shown};
use progress::Reporter;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Memory one unit of work (a filesystem walk, a carver candidate, a file's copy)
    /// may hold before it is cut short with a finding, e.g. 4GiB. Default: 1 GiB plus
    /// 16 bytes per byte of the volume the unit reads.
    #[arg(long, global = true, value_name = "SIZE", value_parser = session::parse_size)]
    unit_memory: Option<u64>,
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
    /// OUT, register IMAGE, carve every file it holds of the formats dredge knows
    /// (images, documents, archives, executables, databases, text; docs/formats.md).
    Carve(RecoverArgs),
    /// One-shot recovery: create a case in OUT, register IMAGE, scan it.
    Recover(RecoverArgs),
    /// Recompute the custody chain, every evidence hash and every extracted file's
    /// hash; name the first mismatch.
    Verify(VerifyArgs),
    /// Print the custody log.
    Log(LogArgs),
    /// Write the plaintext of encrypted volumes (LUKS, BitLocker) as raw images, one file
    /// each (OUT/ev1-v0.plain.raw), for other tools; their MD5, SHA-1 and
    /// SHA-256 go into the custody log. The key is given again (never kept).
    ExportVolume(ExportVolumeArgs),
    /// Print, for every password-protected encrypted volume, what hashcat or
    /// John the Ripper takes to search for its password: a line for BitLocker
    /// (-m 22100), header files in --out DIR for LUKS1 (-m 14600) and possible
    /// VeraCrypt/TrueCrypt containers (-m 137xx/62xx); what is handed off goes
    /// into the custody log.
    Hashes(HashesArgs),
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
    #[arg(long, value_parser = word::<session::ReportFormat>())]
    format: session::ReportFormat,
    /// Default: CASE_DIR/reports/report-TIME.EXT
    #[arg(long)]
    out: Option<PathBuf>,
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
    #[arg(long, default_value = "unallocated", value_parser = word::<session::CarveScope>())]
    carve: session::CarveScope,
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
    /// A key for encrypted volumes, tried on each (repeatable):
    /// password=TEXT, password-file=PATH (its first line), keyfile=PATH,
    /// recovery=NNNNNN-… (BitLocker's 48 digits), bek=PATH (BitLocker startup
    /// key), pim=N (VeraCrypt), master-key=HEX or fvek=HEX; `ev1/v2:SPEC` tries it on that volume
    /// only. Never recorded; prefer password-file (a command line is visible
    /// to `ps`). BitLocker with its protection suspended opens with no key.
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse)]
    keys: Vec<session::KeySpec>,
}

impl ScanFlags {
    fn options(&self) -> session::ScanOptions {
        let mut o = session::ScanOptions::default();
        if let Some(t) = self.threads {
            o.threads = t.max(1);
        }
        o.rehash = !self.no_rehash;
        o.carve = self.carve;
        o.page_size = self.page_size.max(4096);
        o.filesystems = !self.no_filesystems;
        o.hash = self.hash;
        o.keys = self.keys.clone();
        o
    }
}

#[derive(Args)]
struct ExportVolumeArgs {
    case_dir: PathBuf,
    /// Encrypted volumes to write (`ev1/v0`); none: every one the keys open.
    volumes: Vec<String>,
    /// Directory for the images (created).
    #[arg(long)]
    out: PathBuf,
    /// Keys, as for `scan --key` (repeatable).
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse, required = true)]
    keys: Vec<session::KeySpec>,
}

/// Whose line format `dredge hashes` prints.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum CrackerFormat {
    Hashcat,
    John,
}

#[derive(Args)]
struct HashesArgs {
    case_dir: PathBuf,
    /// hashcat: the lines alone (which volume each is for on stderr); john:
    /// `VOLUME/PROTECTOR:LINE`, as John the Ripper reads them.
    #[arg(long, value_enum, default_value = "hashcat")]
    format: CrackerFormat,
    /// Directory for header files (LUKS1, possible VeraCrypt/TrueCrypt
    /// containers), which hashcat reads as files; created.
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// A key for encrypted volumes, as for `scan` (targets name the image `ev1`).
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse)]
    keys: Vec<session::KeySpec>,
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
    #[arg(long, default_value = "fast", value_parser = word::<dredge_image::Compression>())]
    compression: dredge_image::Compression,
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

/// An E01 segment size: 1 MiB to 2 GiB, written like 650MiB or 1.4GiB.
/// The evidence digests computed, one per line (those not chosen are left out).
fn print_digests(md5: &Option<String>, sha1: &Option<String>, sha256: &Option<String>) {
    for (name, d) in [("MD5    ", md5), ("SHA-1  ", sha1), ("SHA-256", sha256)] {
        if let Some(d) = d {
            println!("  {name} {d}");
        }
    }
}

/// Parses one of a closed set of words (the engine's own list, so `--help` and
/// the batch and TUI choices name the same values).
fn word<T: dredge_core::Word + Send + Sync + Clone>(
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::WORDS)
        .map(|w| T::from_word(&w).expect("a word the parser accepted"))
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
        Command::Add(a) => evidence_cmds::add(a, interrupt, rep),
        Command::Acquire(a) => evidence_cmds::acquire(a, interrupt, rep),
        Command::Scan(a) => {
            let r = session::scan(&a.case_dir, &a.scan.options(), interrupt, &mut |p| {
                rep.progress(p)
            })?;
            rep.clear();
            print_scan(rep, &r);
            Ok(r.outcome.exit_code())
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
            batch::run(&a.job, interrupt, &mut json_rep)
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
