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
    // 2: volumes, filesystems, findings, artifacts and resumable scan units.
    r#"
    CREATE TABLE volumes (
        id INTEGER PRIMARY KEY,
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        len INTEGER NOT NULL,
        kind TEXT NOT NULL,
        description TEXT NOT NULL,
        slot TEXT,
        scheme TEXT NOT NULL,
        UNIQUE (evidence_id, idx)
    ) STRICT;
    CREATE TABLE filesystems (
        id INTEGER PRIMARY KEY,
        volume_id INTEGER NOT NULL REFERENCES volumes(id),
        type TEXT NOT NULL,
        label TEXT,
        UNIQUE (volume_id, type)
    ) STRICT;
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        unit TEXT NOT NULL,
        offset INTEGER NOT NULL,
        what TEXT NOT NULL,
        expected TEXT,
        actual TEXT
    ) STRICT;
    CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        unit TEXT NOT NULL,
        fs_id INTEGER REFERENCES filesystems(id),
        origin TEXT NOT NULL,
        forensic_path TEXT NOT NULL,
        path TEXT NOT NULL,
        other_names TEXT NOT NULL,
        kind TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        size INTEGER NOT NULL,
        recovery TEXT NOT NULL,
        recovery_detail TEXT,
        meta_offset INTEGER NOT NULL,
        md5 TEXT,
        sha1 TEXT,
        sha256 TEXT,
        extracted TEXT,
        unreadable_bytes INTEGER NOT NULL,
        status TEXT NOT NULL
    ) STRICT;
    CREATE INDEX artifacts_by_unit ON artifacts(evidence_id, unit);
    CREATE TABLE artifact_times (
        artifact_id TEXT NOT NULL REFERENCES artifacts(id),
        source TEXT NOT NULL,
        utc TEXT NOT NULL
    ) STRICT;
    CREATE INDEX artifact_times_by_artifact ON artifact_times(artifact_id);
    CREATE TABLE artifact_runs (
        artifact_id TEXT NOT NULL REFERENCES artifacts(id),
        seq INTEGER NOT NULL,
        file_offset INTEGER NOT NULL,
        len INTEGER NOT NULL,
        kind TEXT NOT NULL,
        image_offset INTEGER,
        unreadable_bytes INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX artifact_runs_by_artifact ON artifact_runs(artifact_id);
    CREATE TABLE artifact_gaps (
        artifact_id TEXT NOT NULL REFERENCES artifacts(id),
        file_offset INTEGER NOT NULL,
        len INTEGER NOT NULL,
        why TEXT NOT NULL
    ) STRICT;
    CREATE INDEX artifact_gaps_by_artifact ON artifact_gaps(artifact_id);
    CREATE TABLE scan_units (
        evidence_id INTEGER NOT NULL REFERENCES evidence(id),
        unit TEXT NOT NULL,
        done_event INTEGER NOT NULL REFERENCES custody(seq),
        PRIMARY KEY (evidence_id, unit)
    ) STRICT;
    "#,
    // 3: why an extracted copy is not where its name puts it; the examiner's
    // signature over each head, for a case created with a signing key (the public
    // key is in the case.create event).
    r#"
    ALTER TABLE artifacts ADD COLUMN extract_note TEXT;
    CREATE TABLE head_signatures (
        seq INTEGER PRIMARY KEY REFERENCES custody(seq),
        signature TEXT NOT NULL
    ) STRICT;
    "#,
    // 4: the evidence holds the digests the examiner chose (`--hash`), at least
    // one. SQLite cannot relax NOT NULL in place, so the table is rebuilt with its
    // columns in the same order and every value kept (migrate() turns foreign keys
    // off around it, as SQLite's documented procedure requires).
    r#"
    CREATE TABLE evidence_v4 (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        segments TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        md5 TEXT,
        sha1 TEXT,
        sha256 TEXT,
        map_path TEXT,
        map_sha256 TEXT,
        bad_bytes INTEGER NOT NULL CHECK (bad_bytes >= 0),
        added_event INTEGER NOT NULL REFERENCES custody(seq),
        CHECK (md5 IS NOT NULL OR sha1 IS NOT NULL OR sha256 IS NOT NULL)
    ) STRICT;
    INSERT INTO evidence_v4 SELECT * FROM evidence;
    DROP TABLE evidence;
    ALTER TABLE evidence_v4 RENAME TO evidence;
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
    if current as usize == MIGRATIONS.len() {
        return Ok(());
    }
    // A migration may rebuild a table others refer to; SQLite checks foreign keys
    // again once it is done (foreign_key_check) and only then commits.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = (|| {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            // IMMEDIATE, and the version read again inside: another process that
            // opened the same case meanwhile may have migrated it already.
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let now: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now as usize > i {
                conn.execute_batch("COMMIT")?;
                continue;
            }
            conn.execute_batch(sql)?;
            let broken: i64 =
                conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken != 0 {
                conn.execute_batch("ROLLBACK")?;
                return Err(rusqlite::Error::InvalidParameterName(format!(
                    "migration to schema {} would break {broken} references; case left at schema {}",
                    i + 1,
                    i
                )));
            }
            conn.execute_batch(&format!("PRAGMA user_version = {}; COMMIT;", i + 1))?;
        }
        Ok(())
    })();
    conn.pragma_update(None, "foreign_keys", "ON")?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case written at schema 3 (every evidence digest NOT NULL) keeps every
    /// value and reference through the rebuild of schema 4, which then takes
    /// evidence with some digests left out, but not with none.
    #[test]
    fn schema_4_keeps_a_schema_3_case_and_relaxes_the_digests() {
        let conn = Connection::open_in_memory().unwrap();
        configure(&conn).unwrap();
        for (i, sql) in MIGRATIONS.iter().take(3).enumerate() {
            conn.execute_batch(&format!(
                "BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO custody VALUES (1, 't', 'a', 'evidence.add', '{}', 'v', NULL, 'p', 'h1');
             INSERT INTO evidence VALUES (1, 'ev1', '/x.img', '[]', 'raw', 4096,
                 'm', 's', 'h', NULL, NULL, 0, 1);
             INSERT INTO volumes VALUES (1, 1, 0, 0, 4096, 'whole', 'd', NULL, 'none');
             INSERT INTO findings VALUES (1, 1, 'v0', 0, 'w', NULL, NULL);",
        )
        .unwrap();
        // Every evidence row, every column, as text.
        let rows = |conn: &Connection| -> Vec<String> {
            conn.prepare("SELECT * FROM evidence")
                .unwrap()
                .query_map([], |r| {
                    (0..13)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .unwrap()
                .map(|r| r.unwrap().join("|"))
                .collect()
        };
        let before = rows(&conn);
        migrate(&conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let after = rows(&conn);
        assert_eq!(before, after);
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are back on after the migration");
        // The volume and finding still refer to the evidence, and the references
        // are enforced on the rebuilt table.
        assert!(conn
            .execute("DELETE FROM evidence WHERE id = 1", [])
            .is_err());
        conn.execute(
            "INSERT INTO evidence VALUES (2, 'ev2', '/y.img', '[]', 'raw', 1, NULL, NULL, 'h2', NULL, NULL, 0, 1)",
            [],
        )
        .unwrap();
        assert!(conn
            .execute(
                "INSERT INTO evidence VALUES (3, 'ev3', '/z.img', '[]', 'raw', 1, NULL, NULL, NULL, NULL, NULL, 0, 1)",
                [],
            )
            .is_err());
    }
}
