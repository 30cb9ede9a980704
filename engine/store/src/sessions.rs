//! Sessions: one command run each, a row in `sessions` and its `session.start`
//! and `session.end` events, written in one transaction each.

use crate::{canonical_json, sql_err, Action, Result, SessionCommand, SessionStatus, Store};
use dredge_core::time::utc_now;
use rusqlite::params;
use serde_json::{json, Value};

/// One command run recorded in the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: i64,
    pub command: String,
    /// The options the command ran with, as recorded when it started.
    pub args: Value,
    pub started_utc: String,
    pub ended_utc: Option<String>,
    pub status: String,
}

// `command` and `status` keep the text the row holds, so the seal's check of an
// edited row can quote it; code asks for the typed value.
impl SessionRow {
    /// The command, or None when the row holds a word dredge never writes.
    pub fn command_word(&self) -> Option<SessionCommand> {
        SessionCommand::parse(&self.command)
    }

    /// The status, or None when the row holds a word dredge never writes.
    pub fn status_word(&self) -> Option<SessionStatus> {
        SessionStatus::parse(&self.status)
    }
}

impl Store {
    /// Starts a session (one command run): its row and its `session.start` event in one transaction,
    /// so a kill between the two cannot leave a row the log does not know.
    pub fn begin_session(&mut self, command: SessionCommand, args: Value) -> Result<i64> {
        let started = utc_now();
        self.anchored(|tx, log| {
            tx.execute(
                "INSERT INTO sessions (command, args, started_utc, status) VALUES (?1, ?2, ?3, ?4)",
                params![
                    command,
                    canonical_json(&args),
                    started,
                    SessionStatus::Running
                ],
            )
            .map_err(sql_err(log.db))?;
            let id = tx.last_insert_rowid();
            log.event(
                tx,
                Action::SessionStart,
                json!({"command": command.as_str(), "args": args, "started_utc": started}),
                Some(id),
            )?;
            Ok(id)
        })
    }

    /// Ends a session: its row and its `session.end` event in one transaction.
    pub fn end_session(&mut self, id: i64, status: SessionStatus, summary: Value) -> Result<()> {
        let ended = utc_now();
        self.anchored(|tx, log| {
            tx.execute(
                "UPDATE sessions SET ended_utc = ?1, status = ?2 WHERE id = ?3",
                params![ended, status, id],
            )
            .map_err(sql_err(log.db))?;
            log.event(
                tx,
                Action::SessionEnd,
                json!({"status": status.as_str(), "summary": summary, "ended_utc": ended}),
                Some(id),
            )?;
            Ok(())
        })
    }

    pub fn sessions(&self) -> Result<Vec<SessionRow>> {
        self.rows(
            "SELECT id, command, started_utc, ended_utc, status, args FROM sessions ORDER BY id",
            [],
            |r| {
                Ok(SessionRow {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    started_utc: r.get(2)?,
                    ended_utc: r.get(3)?,
                    status: r.get(4)?,
                    args: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or(Value::Null),
                })
            },
        )
    }
}
