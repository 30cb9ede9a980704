//! One long job per case at a time. Two scans of one case would clear and rewrite
//! each other's units; an advisory lock (flock on `CASE/.dredge.lock`) held from a
//! job's start to its end keeps a second one out, whether it comes from the CLI, a
//! batch or the TUI. The kernel drops the lock when the process dies, so a killed
//! job never leaves the case locked.

use crate::Failure;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub const LOCK_NAME: &str = ".dredge.lock";

pub struct CaseLock {
    _file: File,
}

fn try_flock(dir: &Path) -> Result<Option<File>, Failure> {
    try_flock_at(&dir.join(LOCK_NAME))
}

/// Held by a shard's batch from its start to its end (across its items' jobs),
/// so `batch-status` can tell a running shard from one that stopped.
pub const SHARD_LOCK_NAME: &str = ".shard.lock";

/// The shard lock of `dir`, if no other process holds it.
pub fn shard_lock(dir: &Path) -> Result<Option<CaseLock>, Failure> {
    Ok(try_flock_at(&dir.join(SHARD_LOCK_NAME))?.map(|f| CaseLock { _file: f }))
}

/// Whether a shard's batch holds `dir` right now.
pub fn shard_running(dir: &Path) -> bool {
    dir.join(SHARD_LOCK_NAME).exists()
        && matches!(try_flock_at(&dir.join(SHARD_LOCK_NAME)), Ok(None))
}

fn try_flock_at(p: &Path) -> Result<Option<File>, Failure> {
    let p = p.to_path_buf();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| Failure(format!("{}: cannot open the case lock: {e}", p.display())))?;
    // SAFETY: flock takes an open descriptor and touches no memory of ours.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(f));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(Failure(format!(
            "{}: cannot lock the case: {e}",
            p.display()
        )))
    }
}

impl CaseLock {
    /// Takes the case for a job, or says that another job has it.
    pub fn acquire(dir: &Path) -> Result<CaseLock, Failure> {
        // `job_running` takes the lock for an instant to test it: a job starting in
        // that instant waits it out instead of failing.
        for _ in 0..10 {
            if let Some(f) = try_flock(dir)? {
                return Ok(CaseLock { _file: f });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        match try_flock(dir)? {
            Some(f) => Ok(CaseLock { _file: f }),
            None => Err(Failure(format!(
                "{}: another dredge job (add, acquire or scan) is running on this case; wait for it to end",
                dir.display()
            ))),
        }
    }
}

/// Whether a job holds the case right now (in this process or another).
pub fn job_running(dir: &Path) -> bool {
    matches!(try_flock(dir), Ok(None))
}
