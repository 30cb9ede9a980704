//! The head anchor `custody.head`: the newest event's `seq hash`, outside the
//! database, so removing events from the end of the log is caught.
//!
//! Writers (every append, from any process) take an exclusive `flock` on
//! `custody.head.lock` from before their transaction until the anchor is on disk;
//! `verify` takes it shared while it reads the chain and the anchor. So a verify
//! running beside a scan never sees an anchor and a log from different moments,
//! and two processes appending never leave the anchor behind the log. The anchor is
//! written to a temporary file of this process, synced, renamed over the old one,
//! and the directory synced: after a crash it names an event that was committed.

use crate::{newest_link, sql_err, ChainBreak, Event, Result, Store, StoreError, HEAD_NAME};
use rusqlite::{Connection, Transaction};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub(crate) const HEAD_LOCK: &str = "custody.head.lock";

/// Held while the anchor and the log must agree; released on drop (and by the
/// kernel if the process dies).
pub(crate) struct HeadLock {
    _file: File,
}

/// What a transaction run by [`Store::anchored`] appends custody events with.
pub(crate) struct Log<'a> {
    actor: &'a str,
    pub(crate) db: &'a Path,
}

impl Log<'_> {
    pub(crate) fn event(
        &self,
        conn: &Connection,
        action: crate::Action,
        params: Value,
        session_id: Option<i64>,
    ) -> Result<Event> {
        Store::insert_event(conn, self.actor, action.as_str(), params, session_id)
            .map_err(|e| StoreError::new(self.db, e))
    }
}

impl Store {
    /// Runs `f` in one transaction under the exclusive head lock, commits, and
    /// moves the anchor to the newest event: every append to the custody log goes
    /// through here, so none can skip the lock or leave the anchor behind.
    pub(crate) fn anchored<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>, &Log<'_>) -> Result<T>,
    ) -> Result<T> {
        let db = self.db();
        // A signed case whose key is missing refuses the append before it starts.
        self.signer()?;
        let _head = self.lock_head(true)?;
        let tx = self.conn.transaction().map_err(sql_err(&db))?;
        let before = newest_link(&tx).map_err(sql_err(&db))?.map_or(0, |l| l.0);
        let out = f(
            &tx,
            &Log {
                actor: &self.examiner,
                db: &db,
            },
        )?;
        if let Some(key) = &self.signer {
            Store::sign_new(key, &tx, before).map_err(sql_err(&db))?;
        }
        tx.commit().map_err(sql_err(&db))?;
        self.write_head()?;
        Ok(out)
    }

    pub(crate) fn lock_head(&self, exclusive: bool) -> Result<HeadLock> {
        let p = self.dir.join(HEAD_LOCK);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p);
        // A case on read-only media can still be verified: without a lock file,
        // nobody can be appending to it either.
        let f = match f {
            Ok(f) => f,
            Err(_) if !exclusive => {
                File::open(&self.dir).map_err(|e| StoreError::new(&p, e.to_string()))?
            }
            Err(e) => return Err(StoreError::new(&p, e.to_string())),
        };
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock takes an open descriptor and touches no memory of ours.
        if unsafe { libc::flock(f.as_raw_fd(), op) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(StoreError::new(&p, format!("cannot lock: {e}")));
        }
        Ok(HeadLock { _file: f })
    }

    /// Writes the newest committed event as the anchor, durably. Called with the
    /// head lock held.
    pub(crate) fn write_head(&self) -> Result<()> {
        let Some((seq, hash)) = newest_link(&self.conn).map_err(sql_err(&self.db()))? else {
            return Ok(());
        };
        let path = self.dir.join(HEAD_NAME);
        let tmp = self
            .dir
            .join(format!("{HEAD_NAME}.{}.tmp", std::process::id()));
        let io = |p: &std::path::Path| {
            let p = p.to_path_buf();
            move |e: std::io::Error| StoreError::new(&p, e.to_string())
        };
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(format!("{seq} {hash}\n").as_bytes())
            .map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }

    /// Whether the log holds event `seq` with `hash`: a head copied from a printed
    /// report, checked against the case as it is now.
    pub fn check_head(&self, seq: i64, hash: &str) -> Result<std::result::Result<(), ChainBreak>> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT hash FROM custody WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sql_err(&self.db()))?;
        Ok(match stored {
            Some(h) if h == hash => Ok(()),
            Some(h) => Err(ChainBreak {
                seq,
                detail: format!("the head {seq}:{hash} given does not match: event {seq} now hashes to {h}; the log was rewritten after that head was printed"),
            }),
            None => Err(ChainBreak {
                seq,
                detail: format!("the head {seq}:{hash} given names event {seq}, which the log no longer has"),
            }),
        })
    }
}
