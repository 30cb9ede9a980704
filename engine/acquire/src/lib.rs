//! Imaging of failing drives, the way GNU ddrescue does it:
//!
//! 1. **copy**, pass 1: large reads forward; on an error the read's range is marked
//!    non-trimmed (`*`) and an exponentially growing stretch after it is skipped, so
//!    the healthy parts of the disk are saved before the drive degrades further;
//!    pass 2: the skipped stretches, without skipping;
//! 2. **trim**: each non-trimmed block is read sector by sector from both edges
//!    inwards until the first bad sector; what remains is non-scraped (`/`);
//! 3. **scrape**: non-scraped blocks sector by sector;
//! 4. **retry**: N passes over the bad sectors (`-`).
//!
//! The mapfile (GNU ddrescue's format) is rewritten atomically every interval and at
//! each phase change, always after the image data it describes has been synced, so a
//! crash or `kill -9` loses at most the work since the last save and the run resumes
//! from it. The syncs and saves run on a thread of their own (`saver`), so the
//! reads never wait for the disk the image is written to; the last save waits.
//! MD5, SHA-1 and SHA-256 of the image are computed on three other threads while
//! reading; when the image cannot be hashed in order (an error left a hole to be
//! filled later) the rest is hashed from the written image at the end.

mod passes;
mod rescue_map;
mod saver;

pub use rescue_map::RescueMap;
use saver::{MapSaver, SaveError};

use dredge_core::time::utc_now;
use dredge_core::{BlockDevice, DeviceError, Extent, SourceError};
use dredge_hash::{Algorithms, ImageDigests, MultiHasher};
use dredge_image::{read_mapfile, MapStatus};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct AcquireOptions {
    /// Read size of the copy passes.
    pub cluster: usize,
    /// Retry passes over bad sectors after scraping.
    pub retries: u32,
    /// First skip after an error in pass 1; doubles on each further error.
    pub initial_skip: u64,
    /// Largest skip in pass 1.
    pub max_skip: u64,
    /// How often the mapfile is saved while working.
    pub map_interval: Duration,
    /// Recorded in the mapfile header.
    pub command_line: String,
    /// The digests computed while copying (`--hash`).
    pub hash: Algorithms,
}

impl Default for AcquireOptions {
    fn default() -> Self {
        AcquireOptions {
            cluster: 64 * 1024,
            retries: 0,
            initial_skip: 64 * 1024,
            max_skip: 1 << 30,
            map_interval: Duration::from_secs(1),
            command_line: String::new(),
            hash: Algorithms::ALL,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Copying,
    Trimming,
    Scraping,
    Retrying,
    Hashing,
    Finished,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Copying => "copying",
            Phase::Trimming => "trimming",
            Phase::Scraping => "scraping",
            Phase::Retrying => "retrying",
            Phase::Hashing => "hashing",
            Phase::Finished => "finished",
        }
    }

    /// The status character ddrescue writes for this phase.
    fn map_char(&self) -> char {
        match self {
            Phase::Copying => '?',
            Phase::Trimming => '*',
            Phase::Scraping => '/',
            Phase::Retrying => '-',
            Phase::Hashing | Phase::Finished => '+',
        }
    }
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub phase: Phase,
    pub pass: u32,
    pub pos: u64,
    pub size: u64,
    pub rescued: u64,
    /// Bytes tried and failed so far (non-trimmed, non-scraped and bad-sector).
    pub bad: u64,
    pub non_tried: u64,
    pub read_errors: u64,
    pub elapsed: Duration,
    /// Bytes rescued in this run (not counting a previous, resumed one).
    pub rescued_this_run: u64,
}

impl Progress {
    /// Bytes per second rescued in this run.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.rescued_this_run as f64 / s
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone)]
pub struct AcquireResult {
    pub size: u64,
    pub rescued: u64,
    pub bad_bytes: u64,
    pub bad_extents: Vec<Extent>,
    pub read_errors: u64,
    /// `None` when interrupted.
    pub digests: Option<ImageDigests>,
    pub resumed: bool,
    pub elapsed: Duration,
}

impl AcquireResult {
    pub fn interrupted(&self) -> bool {
        self.digests.is_none()
    }
}

/// A failure that stops the acquisition; the mapfile holds what was done.
#[derive(Debug)]
pub struct AcquireError {
    pub path: PathBuf,
    pub offset: Option<u64>,
    pub detail: String,
}

impl std::fmt::Display for AcquireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(
                f,
                "{}: {} at byte offset {o}",
                self.path.display(),
                self.detail
            ),
            None => write!(f, "{}: {}", self.path.display(), self.detail),
        }
    }
}

impl std::error::Error for AcquireError {}

impl From<SourceError> for AcquireError {
    fn from(e: SourceError) -> Self {
        AcquireError {
            path: PathBuf::from(e.path),
            offset: Some(e.offset),
            detail: e.detail,
        }
    }
}

fn err(path: &Path, offset: Option<u64>, detail: impl Into<String>) -> AcquireError {
    AcquireError {
        path: path.to_path_buf(),
        offset,
        detail: detail.into(),
    }
}

struct Job<'a> {
    dev: &'a dyn BlockDevice,
    out: File,
    out_path: PathBuf,
    saver: MapSaver,
    map: RescueMap,
    opts: AcquireOptions,
    interrupt: &'a AtomicBool,
    progress: &'a mut dyn FnMut(&Progress),
    hasher: Option<MultiHasher>,
    hashed_upto: u64,
    phase: Phase,
    pass: u32,
    pos: u64,
    start_time: String,
    started: Instant,
    last_save: Instant,
    last_progress: Instant,
    read_errors: u64,
    rescued_at_start: u64,
}

/// Images `dev` into `out_path`, keeping the ddrescue mapfile at `map_path`. If the
/// mapfile exists the run resumes from it.
pub fn acquire(
    dev: &dyn BlockDevice,
    out_path: &Path,
    map_path: &Path,
    opts: AcquireOptions,
    interrupt: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<AcquireResult, AcquireError> {
    let size = dev.size();
    if size == 0 {
        return Err(err(
            Path::new(&dev.describe()),
            None,
            "source is empty (0 bytes)",
        ));
    }
    let resumed = map_path.exists();
    let map = if resumed {
        let m = read_mapfile(map_path).map_err(|e| err(map_path, None, e.detail))?;
        RescueMap::from_mapfile(&m, size).map_err(|d| err(map_path, None, d))?
    } else {
        if out_path.exists() && std::fs::metadata(out_path).map(|m| m.len()).unwrap_or(0) > 0 {
            return Err(err(
                out_path,
                None,
                "exists but its mapfile does not; refusing to overwrite an image whose state is unknown (give the mapfile to resume, or another name)",
            ));
        }
        RescueMap::new(size)
    };
    let out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(out_path)
        .map_err(|e| err(out_path, None, format!("cannot open for writing: {e}")))?;
    let cur_len = out
        .metadata()
        .map_err(|e| err(out_path, None, e.to_string()))?
        .len();
    if cur_len > size {
        return Err(err(
            out_path,
            Some(size),
            format!("is {cur_len} bytes, larger than the source ({size} bytes)"),
        ));
    }
    if cur_len < size {
        // Unread areas read back as zeros (sparse), as the mapfile says they are.
        out.set_len(size)
            .map_err(|e| err(out_path, None, format!("cannot extend image: {e}")))?;
    }
    let image = out
        .try_clone()
        .map_err(|e| err(out_path, None, format!("cannot open for syncing: {e}")))?;
    let saver = MapSaver::new(image, out_path, map_path);
    let now = Instant::now();
    let hash = opts.hash;
    let rescued_at_start = map.bytes_with(MapStatus::Finished);
    let mut job = Job {
        dev,
        out,
        out_path: out_path.to_path_buf(),
        saver,
        map,
        opts,
        interrupt,
        progress,
        hasher: Some(MultiHasher::new(hash)),
        hashed_upto: 0,
        phase: Phase::Copying,
        pass: 1,
        pos: 0,
        start_time: utc_now(),
        started: now,
        last_save: now,
        last_progress: now,
        read_errors: 0,
        rescued_at_start,
    };
    job.run(resumed)
}

enum Read {
    Ok(Vec<u8>),
    /// The first sectors came back, then the read failed: the good prefix
    /// (whole sectors), as the kernel's short read gave it.
    Part(Vec<u8>),
    Bad,
}

/// How far `catch_up_hash` goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Catch {
    /// Everything to the end (after the last phase).
    All,
    /// As far as the map is final.
    Final,
    /// As far as the map is final, while the hashers have room.
    WhileRoom,
}

impl Job<'_> {
    fn run(&mut self, resumed: bool) -> Result<AcquireResult, AcquireError> {
        self.phase_save()?;
        // Hash what an earlier run already rescued at the start of the image.
        self.catch_up_hash(Catch::Final)?;
        let stopped = self.copy_pass(1, true)?
            || self.copy_pass(2, false)?
            || self.trim()?
            || self.scrape()?
            || self.retry()?;
        if !stopped {
            self.set_phase(Phase::Hashing, 1);
            self.catch_up_hash(Catch::All)?;
            self.set_phase(Phase::Finished, 1);
        }
        self.save_map()?;
        let interrupted = stopped || self.interrupted();
        let digests = if interrupted {
            None
        } else {
            self.hasher.take().map(|h| h.finish())
        };
        self.report(true);
        let mut bad_extents: Vec<Extent> = Vec::new();
        for st in [
            MapStatus::NonTried,
            MapStatus::NonTrimmed,
            MapStatus::NonScraped,
            MapStatus::BadSector,
        ] {
            bad_extents.extend(self.map.extents_with(st));
        }
        bad_extents.sort();
        Ok(AcquireResult {
            size: self.map.size(),
            rescued: self.map.bytes_with(MapStatus::Finished),
            bad_bytes: self.map.size() - self.map.bytes_with(MapStatus::Finished),
            bad_extents,
            read_errors: self.read_errors,
            digests,
            resumed,
            elapsed: self.started.elapsed(),
        })
    }

    fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    fn set_phase(&mut self, p: Phase, pass: u32) {
        self.phase = p;
        self.pass = pass;
    }

    fn read(&mut self, pos: u64, len: usize) -> Result<Read, AcquireError> {
        let mut buf = vec![0u8; len];
        let ss = self.sector() as usize;
        match self.dev.read_good_prefix(pos, &mut buf) {
            Ok(n) if n >= len => Ok(Read::Ok(buf)),
            // A short read before the failure keeps its whole sectors, as
            // GNU ddrescue does: only the rest is left to trim, so trimming
            // reads from where the medium failed, not from the block's start.
            Ok(n) => {
                self.read_errors += 1;
                let good = n / ss * ss;
                if good == 0 {
                    return Ok(Read::Bad);
                }
                buf.truncate(good);
                Ok(Read::Part(buf))
            }
            Err(DeviceError::Media) => {
                self.read_errors += 1;
                Ok(Read::Bad)
            }
            Err(DeviceError::Fatal(e)) => {
                // Keep what we have before failing.
                let _ = self.save_map();
                Err(e.into())
            }
        }
    }

    fn write(&mut self, pos: u64, data: &[u8]) -> Result<(), AcquireError> {
        self.out.write_all_at(data, pos).map_err(|e| {
            err(
                &self.out_path,
                Some(pos),
                format!("cannot write image: {e}"),
            )
        })
    }

    /// Stores good data; feeds the hashers directly when it continues the hashed prefix.
    fn rescued(&mut self, pos: u64, data: Vec<u8>) -> Result<(), AcquireError> {
        self.write(pos, &data)?;
        let len = data.len() as u64;
        self.map.set(Extent::new(pos, len), MapStatus::Finished);
        if pos == self.hashed_upto {
            if let Some(h) = self.hasher.as_mut() {
                h.update(Arc::new(data));
                self.hashed_upto += len;
            }
        }
        self.tick()
    }

    fn tick(&mut self) -> Result<(), AcquireError> {
        // Hash behind the copy as the map turns final, not after the last phase,
        // and only while the hashers have room: the copy never waits for them.
        self.catch_up_hash(Catch::WhileRoom)?;
        if let Some((path, detail)) = self.saver.take_error() {
            return Err(err(&path, None, detail));
        }
        // A save still under way is not queued behind: the next tick takes a
        // newer snapshot.
        if self.last_save.elapsed() >= self.opts.map_interval && self.saver.idle() {
            self.request_save();
        }
        if self.last_progress.elapsed() >= Duration::from_millis(200) {
            self.report(false);
        }
        Ok(())
    }

    fn progress_now(&self) -> Progress {
        let rescued = self.map.bytes_with(MapStatus::Finished);
        Progress {
            phase: self.phase,
            pass: self.pass,
            pos: self.pos,
            size: self.map.size(),
            rescued,
            bad: self.map.bytes_with(MapStatus::NonTrimmed)
                + self.map.bytes_with(MapStatus::NonScraped)
                + self.map.bytes_with(MapStatus::BadSector),
            non_tried: self.map.bytes_with(MapStatus::NonTried),
            read_errors: self.read_errors,
            elapsed: self.started.elapsed(),
            rescued_this_run: rescued.saturating_sub(self.rescued_at_start),
        }
    }

    fn report(&mut self, _final: bool) {
        self.last_progress = Instant::now();
        let p = self.progress_now();
        (self.progress)(&p);
    }

    /// The mapfile's text for the map as it is now.
    fn map_text(&self) -> String {
        let finished = self.phase == Phase::Finished;
        let comments = vec![
            format!(
                "# Mapfile. Created by dredge version {}",
                dredge_core::TOOL_VERSION
            ),
            format!("# Command line: {}", self.opts.command_line),
            format!("# Start time:   {}", self.start_time),
            format!("# Current time: {}", utc_now()),
            if finished {
                "# Finished".to_string()
            } else {
                format!("# {} (pass {})", self.phase.as_str(), self.pass)
            },
        ];
        self.map
            .to_mapfile(comments, self.pos, self.phase.map_char(), self.pass)
            .to_string()
    }

    /// Hands a snapshot of the map to the saver (which syncs the image, then
    /// replaces the mapfile) and goes on.
    fn request_save(&mut self) {
        self.saver.request(self.map_text());
        self.last_save = Instant::now();
    }

    /// At a phase change: a save that does not wait (the next phase's reads go
    /// on while the image syncs), after any failed earlier save is reported.
    fn phase_save(&mut self) -> Result<(), AcquireError> {
        if let Some((path, detail)) = self.saver.take_error() {
            return Err(err(&path, None, detail));
        }
        self.request_save();
        Ok(())
    }

    /// Saves the map as it is now and waits until it is on disk.
    fn save_map(&mut self) -> Result<(), AcquireError> {
        self.request_save();
        self.saver
            .flush()
            .map_err(|(path, detail): SaveError| err(&path, None, detail))
    }

    /// Hashes the image from the hashed prefix onwards by reading it back from the
    /// output file: all of it (`Catch::All`), or while the map says its bytes are
    /// final (and, `Catch::WhileRoom`, while the hashers' queues have room).
    /// Rescued bytes are final; a bad sector's (zeros in the image) are once no
    /// later phase will read it again: with no retry passes, from the moment it
    /// is marked bad (trimming and scraping mark sectors bad as they go, so the
    /// hashes follow them instead of waiting for the end).
    fn catch_up_hash(&mut self, how: Catch) -> Result<(), AcquireError> {
        const CHUNK: u64 = 4 << 20;
        let size = self.map.size();
        let bad_is_final = self.opts.retries == 0;
        let to_end = how == Catch::All;
        while self.hashed_upto < size {
            if how == Catch::WhileRoom && !self.hasher.as_ref().is_some_and(|h| h.has_room()) {
                break;
            }
            let end = if to_end {
                size
            } else {
                match self.map.status_at(self.hashed_upto) {
                    Some((e, MapStatus::Finished)) => e.end(),
                    Some((e, MapStatus::BadSector)) if bad_is_final => e.end(),
                    _ => break,
                }
            };
            let len = (end - self.hashed_upto).min(CHUNK) as usize;
            let mut buf = vec![0u8; len];
            self.out
                .read_exact_at(&mut buf, self.hashed_upto)
                .map_err(|e| {
                    err(
                        &self.out_path,
                        Some(self.hashed_upto),
                        format!("cannot read back image: {e}"),
                    )
                })?;
            if let Some(h) = self.hasher.as_mut() {
                h.update(Arc::new(buf));
            }
            self.hashed_upto += len as u64;
            if to_end {
                self.pos = self.hashed_upto;
            }
            if self.last_progress.elapsed() >= Duration::from_millis(200) {
                self.report(false);
            }
        }
        Ok(())
    }
}
