//! Schema and migrations. `PRAGMA user_version` is the schema version; each entry of
//! MIGRATIONS moves it up by one inside a transaction.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: case, evidence, sessions, custody log.
    r#"
    CREATE TABLE case_info (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        uuid TEXT NOT NULL,
        case_number TEXT,
        examiner TEXT NOT NULL,
        description TEXT,
        created_utc TEXT NOT NULL,
        tool_version TEXT NOT NULL
    ) STRICT;
    CREATE TABLE custody (
        seq INTEGER PRIMARY KEY,
        time_utc TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        params TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        session_id INTEGER,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    ) STRICT;
    -- Guards against accidents, not against someone with the file: verify is what
    -- detects a determined edit.
    CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody
        BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
    CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody
        BEGIN SELECT RAISE(ABORT, 'custody events are append-only'); END;
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        args TEXT NOT NULL,
        started_utc TEXT NOT NULL,
        ended_utc TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('running', 'complete', 'complete-with-gaps', 'failed', 'interrupted'))
    ) STRICT;
    CREATE TABLE evidence (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        segments TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        md5 TEXT NOT NULL,
        sha1 TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        map_path TEXT,
        map_sha256 TEXT,
        bad_bytes INTEGER NOT NULL CHECK (bad_bytes >= 0),
        added_event INTEGER NOT NULL REFERENCES custody(seq)
    ) STRICT;
    CREATE TABLE evidence_gaps (
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        start INTEGER NOT NULL,
        len INTEGER NOT NULL,
        why TEXT NOT NULL
    ) STRICT;
    CREATE INDEX evidence_gaps_by_evidence ON evidence_gaps(evidence_id, start);
    "#,
];

pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current as usize > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "case was written by a newer dredge (schema {current}, this one knows {})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}
