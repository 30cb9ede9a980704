//! The command line's shape: every command, its arguments and their parsers
//! (clap). What each command does is in its own module; `main` dispatches.

use clap::{Args, Parser, Subcommand, ValueEnum};
use dredge_session as session;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "dredge",
    version,
    about = "Forensic data extraction from damaged media",
    long_about = "Forensic data extraction from damaged media.\n\n\
        Exit codes: 0 complete, 3 complete with gaps (unreadable bytes, or units cut short by damage), 2 failed, 130 interrupted."
)]
pub(crate) struct Cli {
    /// How to show progress of long jobs: a bar on stderr, JSON lines on stdout, or nothing.
    #[arg(long, value_enum, global = true, default_value = "auto")]
    pub(crate) progress: ProgressMode,
    /// Memory one unit of work (a filesystem walk, a carver candidate, a file's copy)
    /// may hold before it is cut short with a finding, e.g. 4GiB. Default: 1 GiB plus
    /// 16 bytes per byte of the volume the unit reads.
    #[arg(long, global = true, value_name = "SIZE", value_parser = session::parse_size)]
    pub(crate) unit_memory: Option<u64>,
    #[command(subcommand)]
    pub(crate) command: Command,
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
pub(crate) enum Command {
    /// Create or inspect cases.
    #[command(subcommand)]
    Case(CaseCmd),
    /// Register an image (raw, split raw, E01, DMG, sparse bundle, sparse image, or block device) as evidence: hash it and record it.
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
    /// Write the plaintext of encrypted volumes (LUKS, BitLocker, VeraCrypt, FileVault) as raw images, one file
    /// each (OUT/ev1-v0.plain.raw), for other tools; their MD5, SHA-1 and
    /// SHA-256 go into the custody log. The key is given again (never kept).
    ExportVolume(ExportVolumeArgs),
    /// Print, for every password-protected encrypted volume, what hashcat or
    /// John the Ripper takes to search for its password: a line for BitLocker
    /// (-m 22100), FileVault 2 (-m 16700) and each protector of FileVault on
    /// APFS (-m 18300), a John the Ripper `dmg` line for Apple encrypted disk
    /// images, header files in --out DIR for LUKS1 (-m 14600) and possible
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
    /// How the shards of a sharded batch are doing: per shard done, running,
    /// failed, stopped or not started, with items and bytes (from each shard's
    /// progress.jsonl). Exit 2 when a shard failed.
    BatchStatus(BatchStatusArgs),
    /// The terminal UI: create or open a case, add or acquire evidence, run scans with
    /// live progress (pause, cancel, resume), evidence with its sector map, files as a
    /// list or tree (deleted and carved ones marked), hex view of files or the image
    /// with unreadable bytes shown as ??, export, reports, custody log and
    /// verification. Keys: ? for help.
    Tui(TuiArgs),
    /// Make the examiner's signing key for signed cases (`case new --signing-key`).
    #[command(subcommand)]
    Key(crate::key::KeyCmd),
}

#[derive(Args)]
pub(crate) struct TuiArgs {
    /// The case to open; without one, or where there is no case yet, the UI starts
    /// with the new-case form.
    pub(crate) case_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum CaseCmd {
    /// Create a case directory (case.sqlite, files/, carved/, reports/).
    New(CaseNewArgs),
    /// Show a case: its details, evidence and sessions.
    Show(CaseArg),
    /// Build one case from the finished shard cases of a sharded batch (each
    /// verified first: chain, head, sealed rows; then the set: one job, none twice,
    /// none missing), in shard order; a `shard.merge` custody event per shard holds
    /// its head. Run again to finish a merge that stopped.
    Merge(CaseMergeArgs),
}

#[derive(Args)]
pub(crate) struct CaseMergeArgs {
    /// The merged case (created, with the first shard's case details, if absent).
    pub(crate) out: PathBuf,
    /// The shard cases (`<case>.shards/K-of-N`), in any order.
    #[arg(required = true)]
    pub(crate) shards: Vec<PathBuf>,
    /// Sign the new merged case with this key (`dredge key new`).
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
    /// Keys for the encrypted volumes of items whose carving was cut into
    /// ranges (`range_size`): the files the ranges carved inside an unlocked
    /// volume are copied from its plaintext. As `scan --key`; never recorded.
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse)]
    pub(crate) keys: Vec<session::KeySpec>,
}

#[derive(Args)]
pub(crate) struct CaseNewArgs {
    /// Directory to create (must not exist or be empty).
    pub(crate) case_dir: PathBuf,
    /// Name of the examiner responsible for the case.
    #[arg(long)]
    pub(crate) examiner: String,
    #[arg(long)]
    pub(crate) case_number: Option<String>,
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Sign every custody event with this Ed25519 key (`dredge key new`): then
    /// rewriting the case's log needs the key. Later commands find it at this
    /// path, or at $DREDGE_SIGNING_KEY.
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct CaseArg {
    pub(crate) case_dir: PathBuf,
}

#[derive(Args)]
pub(crate) struct VerifyArgs {
    pub(crate) case_dir: PathBuf,
    /// A custody head copied from a report (SEQ:HASH, printed on every page): the
    /// log must still hold it.
    #[arg(long, value_name = "SEQ:HASH")]
    pub(crate) head: Option<String>,
    /// The examiner's public key (64 hex digits, as `dredge key new` printed) or its
    /// 16-digit fingerprint: the case must be signed with it.
    #[arg(long, value_name = "KEY")]
    pub(crate) public_key: Option<String>,
}

#[derive(Args)]
pub(crate) struct BatchArgs {
    /// The job file (TOML); see docs/batch.md.
    pub(crate) job: PathBuf,
    /// Run only shard K of N (`K/N`), writing `<case>.shards/K-of-N`; `auto` takes
    /// K and N from a Slurm array (SLURM_ARRAY_TASK_ID/COUNT) or a Kubernetes
    /// Indexed Job (JOB_COMPLETION_INDEX with DREDGE_SHARD_COUNT); `auto/N` takes K
    /// from there and N as given. See docs/scale-out.md.
    #[arg(long, value_name = "K/N", conflicts_with = "merge")]
    pub(crate) shard: Option<String>,
    /// Merge the finished shards of this job (of N shards; found when omitted)
    /// into the cases a single run writes, then write the job's reports.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub(crate) merge: Option<u32>,
}

#[derive(Args)]
pub(crate) struct BatchStatusArgs {
    /// The job file the shards run.
    pub(crate) job: PathBuf,
}

#[derive(Args)]
pub(crate) struct ReportArgs {
    pub(crate) case_dir: PathBuf,
    #[arg(long, value_parser = word::<session::ReportFormat>())]
    pub(crate) format: session::ReportFormat,
    /// Default: CASE_DIR/reports/report-TIME.EXT
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct LogArgs {
    pub(crate) case_dir: PathBuf,
    /// One JSON object per event.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct AddArgs {
    pub(crate) case_dir: PathBuf,
    /// Image file, first segment of a split raw set (.001, .aa), or block device.
    pub(crate) image: PathBuf,
    /// GNU ddrescue mapfile of the image: bytes it does not mark rescued (+) are read
    /// as zeros and recorded as unreadable.
    #[arg(long)]
    pub(crate) map: Option<PathBuf>,
    /// Digests of the evidence: any of md5, sha1, sha256, comma-separated (recorded
    /// in custody). Fewer is faster: MD5 is the slowest.
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    pub(crate) hash: session::Algorithms,
}

#[derive(Args)]
pub(crate) struct ScanArgs {
    pub(crate) case_dir: PathBuf,
    #[command(flatten)]
    pub(crate) scan: ScanFlags,
}

#[derive(Args)]
pub(crate) struct ScanFlags {
    /// Worker threads for extraction and hashing (default: one per core).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Skip re-hashing the evidence before and after the scan (faster on huge
    /// images; the custody record then says so).
    #[arg(long)]
    pub(crate) no_rehash: bool,
    /// What to carve after the filesystems: free space and unclaimed volumes
    /// (unallocated), the whole image (all), or nothing (none).
    #[arg(long, default_value = "unallocated", value_parser = word::<session::CarveScope>())]
    pub(crate) carve: session::CarveScope,
    /// Carving page size in bytes (results do not depend on it).
    #[arg(long, default_value_t = 16 << 20)]
    pub(crate) page_size: u64,
    /// Do not extract filesystems or search for lost ones: carve only.
    #[arg(long)]
    pub(crate) no_filesystems: bool,
    /// Digests of the evidence: any of md5, sha1, sha256, comma-separated. A
    /// registration (recover, carve) computes these; a scan checks those of them
    /// the registration recorded. Fewer is faster: MD5 is the slowest.
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    pub(crate) hash: session::Algorithms,
    /// A key for encrypted volumes, tried on each (repeatable):
    /// password=TEXT, password-file=PATH (its first line), keyfile=PATH,
    /// recovery=NNNNNN-… (BitLocker's 48 digits), bek=PATH (BitLocker startup
    /// key), pim=N (VeraCrypt), master-key=HEX or fvek=HEX, luks-header=PATH (a
    /// LUKS header kept apart from its data); `ev1/v2:SPEC` tries it on that volume
    /// only. Never recorded; prefer password-file (a command line is visible
    /// to `ps`). BitLocker with its protection suspended opens with no key.
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse)]
    pub(crate) keys: Vec<session::KeySpec>,
    /// After the scan, try the keys (those not aimed at one volume) on every
    /// extracted file that could be a VeraCrypt/TrueCrypt container; one they
    /// open is registered from its copy and scanned. Each file tried costs a
    /// key derivation of several seconds.
    #[arg(long)]
    pub(crate) container_files: bool,
}

impl ScanFlags {
    pub(crate) fn options(&self) -> session::ScanOptions {
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
        o.container_files = self.container_files;
        o
    }
}

#[derive(Args)]
pub(crate) struct ExportVolumeArgs {
    pub(crate) case_dir: PathBuf,
    /// Encrypted volumes to write (`ev1/v0`); none: every one the keys open.
    pub(crate) volumes: Vec<String>,
    /// Directory for the images (created).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Keys, as for `scan --key` (repeatable).
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse, required = true)]
    pub(crate) keys: Vec<session::KeySpec>,
}

/// Whose line format `dredge hashes` prints.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub(crate) enum CrackerFormat {
    Hashcat,
    John,
}

#[derive(Args)]
pub(crate) struct HashesArgs {
    pub(crate) case_dir: PathBuf,
    /// hashcat: the lines alone (which volume each is for on stderr); john:
    /// `VOLUME/PROTECTOR:LINE`, as John the Ripper reads them.
    #[arg(long, value_enum, default_value = "hashcat")]
    pub(crate) format: CrackerFormat,
    /// Directory for header files (LUKS1, possible VeraCrypt/TrueCrypt
    /// containers), which hashcat reads as files; created.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct LsArgs {
    pub(crate) case_dir: PathBuf,
    /// Only entries at or below this path.
    pub(crate) path: Option<String>,
    /// Also show size, status and SHA-256.
    #[arg(long, short)]
    pub(crate) long: bool,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Image file, first segment of a split set, or block device.
    pub(crate) image: PathBuf,
    #[arg(long)]
    pub(crate) map: Option<PathBuf>,
    /// A key for encrypted volumes, as for `scan` (targets name the image `ev1`).
    #[arg(long = "key", value_name = "SPEC", value_parser = session::KeySpec::parse)]
    pub(crate) keys: Vec<session::KeySpec>,
    /// Also read each filesystem's free space for the metadata it let go
    /// (APFS filesystem-tree nodes, NTFS index blocks), as the pass of `scan`
    /// and `recover` does, and list the deleted files found there. Slower: it
    /// reads the free space, which `list` otherwise never does.
    #[arg(long)]
    pub(crate) deep: bool,
}

#[derive(Args)]
pub(crate) struct RecoverArgs {
    /// Image file, first segment of a split set, or block device.
    pub(crate) image: PathBuf,
    /// Case directory to create.
    #[arg(long)]
    pub(crate) out: PathBuf,
    #[arg(long)]
    pub(crate) map: Option<PathBuf>,
    /// Examiner name for the case (default: $USER).
    #[arg(long)]
    pub(crate) examiner: Option<String>,
    #[arg(long)]
    pub(crate) case_number: Option<String>,
    /// Sign the new case's custody events with this Ed25519 key (`dredge key new`).
    #[arg(long, value_name = "FILE")]
    pub(crate) signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) scan: ScanFlags,
}

#[derive(Args)]
pub(crate) struct AcquireArgs {
    /// Device or file to image. Opened read-only.
    pub(crate) source: PathBuf,
    /// Image file to write (resumed if its mapfile exists).
    pub(crate) image: PathBuf,
    /// Mapfile to keep (GNU ddrescue format). Default: IMAGE.map
    #[arg(long)]
    pub(crate) map: Option<PathBuf>,
    /// Record the acquisition in this case and register the image as evidence.
    #[arg(long)]
    pub(crate) case: Option<PathBuf>,
    /// Retry passes over bad sectors after scraping.
    #[arg(long, default_value_t = 0)]
    pub(crate) retries: u32,
    /// Read size of the copy passes, in bytes (a multiple of the sector size).
    #[arg(long, default_value_t = 65536, value_parser = clap::value_parser!(u32).range(512..=(64 << 20)))]
    pub(crate) cluster_size: u32,
    /// Seconds between mapfile saves.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) map_interval: f64,
    /// Image format: raw, or an E01 set (IMAGE must end in .E01).
    #[arg(long, value_enum, default_value = "raw")]
    pub(crate) format: ImageFormat,
    /// E01 segment size, e.g. 650MiB, 2GiB (at most 2 GiB).
    #[arg(long, default_value = "1.4GiB", value_parser = parse_size)]
    pub(crate) segment_size: u64,
    /// E01 chunk compression.
    #[arg(long, default_value = "fast", value_parser = word::<dredge_image::Compression>())]
    pub(crate) compression: dredge_image::Compression,
    /// E01 evidence number.
    #[arg(long, default_value = "")]
    pub(crate) evidence_number: String,
    /// E01 notes.
    #[arg(long, default_value = "")]
    pub(crate) notes: String,
    /// Digests computed while imaging: any of md5, sha1, sha256, comma-separated.
    /// An E01 always gets MD5 and SHA-1 too (its hash sections hold them).
    #[arg(long, default_value = "md5,sha1,sha256", value_parser = parse_hash)]
    pub(crate) hash: session::Algorithms,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub(crate) enum ImageFormat {
    Raw,
    E01,
}

/// An E01 segment size: 1 MiB to 2 GiB, written like 650MiB or 1.4GiB.
/// Parses one of a closed set of words (the engine's own list, so `--help` and
/// the batch and TUI choices name the same values).
pub(crate) fn word<T: dredge_core::Word + Send + Sync + Clone>(
) -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(T::WORDS)
        .map(|w| T::from_word(&w).expect("a word the parser accepted"))
}

pub(crate) fn parse_hash(s: &str) -> Result<session::Algorithms, String> {
    session::Algorithms::parse(s)
}

pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let v = session::parse_size(s)?;
    if !(1 << 20..=2u64 << 30).contains(&v) {
        return Err(format!("segment size {s} must be between 1 MiB and 2 GiB"));
    }
    Ok(v)
}
