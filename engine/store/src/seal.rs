//! Seals: digests over every column of every row a unit wrote, recorded in the
//! custody event that closes the unit, and recomputed by `verify`.
//!
//! Rows are read with `SELECT *`, so a column added by a later migration is sealed
//! without anyone remembering to add it here. Each row is hashed as the canonical
//! JSON object of its non-NULL columns, by name (integers as numbers, text as
//! strings, blobs as `"x:<hex>"`), tables in a fixed order, rows in a fixed order.
//! NULLs are left out so that a nullable column added by a later migration leaves
//! the digests of cases sealed before it unchanged; setting or clearing a value
//! still changes the row's object.
//!
//! Version 1 (cases sealed before 2026-11-30) covered only some artifact columns;
//! its events carry `artifacts_digest`, and `verify` still checks them that way.
//! Version 2 events carry `rows_digest` and cover, per unit: the artifacts with
//! their times, runs and gaps; the unit's findings; the volumes (unit `layout`);
//! the filesystems of the volume (unit `v<i>`).

use crate::{canonical_json, sql_err, Action, ChainBreak, Result, SessionStatus, Store};
use rusqlite::types::ValueRef;
use rusqlite::{params_from_iter, Connection};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) const SEAL_VERSION: u64 = 2;

fn cell(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(format!("x:{}", hex::encode(b))),
    }
}

/// Appends the canonical JSON of one row (its non-NULL cells under their column
/// names, names in byte order) to `out`: what `canonical_json` gives for the
/// object `cell` builds, without building it. Sealing a case hashes every row it
/// holds, three or four per recovered file, and the map, the key clones and the
/// key sort per row were most of the seal's time. `keys` are (column index, the
/// name as a JSON string), sorted by name.
fn row_json(
    r: &rusqlite::Row<'_>,
    keys: &[(usize, String)],
    out: &mut String,
) -> rusqlite::Result<()> {
    use std::fmt::Write;
    out.push('{');
    let mut first = true;
    for (i, key) in keys {
        let v = r.get_ref(*i)?;
        let text = match v {
            ValueRef::Null => continue,
            ValueRef::Integer(_) | ValueRef::Text(_) => None,
            // Rare (no column is REAL today); NaN and infinities are JSON null,
            // which `cell` leaves out.
            ValueRef::Real(_) | ValueRef::Blob(_) => match cell(v) {
                Value::Null => continue,
                other => Some(other.to_string()),
            },
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(key);
        out.push(':');
        match (v, text) {
            (ValueRef::Integer(n), _) => {
                let _ = write!(out, "{n}");
            }
            (ValueRef::Text(t), _) => {
                let s = String::from_utf8_lossy(t);
                // serde_json's escaping, as `Value::String(..).to_string()` does.
                out.push_str(&serde_json::to_string(&*s).unwrap_or_default());
            }
            (_, Some(t)) => out.push_str(&t),
            _ => {}
        }
    }
    out.push('}');
    Ok(())
}

/// Hashes every row `sql` returns into `h` under `label`; returns the row count.
fn hash_rows(
    conn: &Connection,
    db: &Path,
    h: &mut Sha256,
    label: &str,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<u64> {
    let mut st = conn.prepare_cached(sql).map_err(sql_err(db))?;
    let mut keys: Vec<(usize, String)> = st
        .column_names()
        .enumerate()
        .map(|(i, n)| (i, Value::String(n.to_string()).to_string()))
        .collect();
    let names: Vec<String> = st.column_names().map(str::to_string).collect();
    keys.sort_by(|a, b| names[a.0].cmp(&names[b.0]));
    let mut rows = st
        .query(params_from_iter(args.iter()))
        .map_err(sql_err(db))?;
    h.update(label.as_bytes());
    h.update(b"\n");
    let mut n = 0;
    let mut line = String::new();
    while let Some(r) = rows.next().map_err(sql_err(db))? {
        line.clear();
        row_json(r, &keys, &mut line).map_err(sql_err(db))?;
        line.push('\n');
        h.update(line.as_bytes());
        n += 1;
    }
    Ok(n)
}

/// The volume index a unit named `v<i>` covers.
fn unit_volume(unit: &str) -> Option<i64> {
    unit.strip_prefix('v')?.parse().ok()
}

impl Store {
    /// Version 2 seal of a unit: (artifact count, digest over every row it wrote).
    pub(crate) fn unit_seal(&self, evidence_id: i64, unit: &str) -> Result<(u64, String)> {
        unit_seal_in(&self.conn, &self.db(), evidence_id, unit)
    }
}

/// [`Store::unit_seal`] on a connection (or a transaction, for a merge that seals
/// the rows it copies before it commits).
pub(crate) fn unit_seal_in(
    c: &Connection,
    db: &Path,
    evidence_id: i64,
    unit: &str,
) -> Result<(u64, String)> {
    let db = db.to_path_buf();
    {
        let mut h = Sha256::new();
        let ev: &dyn rusqlite::ToSql = &evidence_id;
        let un: &dyn rusqlite::ToSql = &unit;
        let n = hash_rows(
            c,
            &db,
            &mut h,
            "artifacts",
            "SELECT * FROM artifacts WHERE evidence_id = ?1 AND unit = ?2 ORDER BY id",
            &[ev, un],
        )?;
        // Every column, in a total order (rows of one artifact may repeat).
        for (t, order) in [
            ("artifact_times", "1, 2, 3"),
            ("artifact_runs", "1, 2"),
            ("artifact_gaps", "1, 2, 3, 4"),
        ] {
            let sql = format!(
                "SELECT t.* FROM {t} t JOIN artifacts a ON a.id = t.artifact_id
                 WHERE a.evidence_id = ?1 AND a.unit = ?2 ORDER BY {order}"
            );
            hash_rows(c, &db, &mut h, t, &sql, &[ev, un])?;
        }
        hash_rows(
            c,
            &db,
            &mut h,
            "findings",
            "SELECT * FROM findings WHERE evidence_id = ?1 AND unit = ?2 ORDER BY id",
            &[ev, un],
        )?;
        if unit == "layout" {
            hash_rows(
                c,
                &db,
                &mut h,
                "volumes",
                "SELECT * FROM volumes WHERE evidence_id = ?1 AND kind != 'decrypted' ORDER BY idx",
                &[ev],
            )?;
        }
        if let Some(idx) = unit_volume(unit) {
            let ix: &dyn rusqlite::ToSql = &idx;
            // An opened encrypted volume's plaintext is sealed by its own unit,
            // not the layout's: a later scan with a key adds it to a case whose
            // layout an earlier scan sealed. (Hashed only where one exists, so
            // the digests of every other unit are what they always were.)
            let decrypted: i64 = c
                .query_row(
                    "SELECT count(*) FROM volumes WHERE evidence_id = ?1 AND idx = ?2 AND kind = 'decrypted'",
                    [ev, ix],
                    |r| r.get(0),
                )
                .map_err(sql_err(&db))?;
            if decrypted > 0 {
                hash_rows(
                    c,
                    &db,
                    &mut h,
                    "volumes",
                    "SELECT * FROM volumes WHERE evidence_id = ?1 AND idx = ?2",
                    &[ev, ix],
                )?;
            }
            hash_rows(
                c,
                &db,
                &mut h,
                "filesystems",
                "SELECT f.* FROM filesystems f JOIN volumes v ON v.id = f.volume_id
                 WHERE v.evidence_id = ?1 AND v.idx = ?2 ORDER BY f.id",
                &[ev, ix],
            )?;
        }
        Ok((n, hex::encode(h.finalize())))
    }
}

impl Store {
    /// Digest of an evidence item's unreadable ranges, as registered: computed from
    /// the ranges in hand at registration and from the table at verification.
    /// (start, length, reason word) rows, sorted before digesting.
    pub(crate) fn gaps_digest<'a>(gaps: impl Iterator<Item = (u64, u64, &'a str)>) -> String {
        let mut sorted: Vec<(u64, u64, &str)> = gaps.collect();
        sorted.sort();
        let mut h = Sha256::new();
        for (s, l, w) in sorted {
            h.update(canonical_json(&json!([s, l, w])).as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }

    /// The rows no unit seals, against the custody events that recorded them: the
    /// case itself, every session, and the presence of every registered evidence
    /// item. Values an older dredge did not record in its events (session times,
    /// the case's creation time) are checked where the event has them.
    pub fn verify_case_rows(&self) -> Result<std::result::Result<(), ChainBreak>> {
        let events = self.events()?;
        let broken = |seq: i64, detail: String| Ok(Err(ChainBreak { seq, detail }));
        let params =
            |e: &crate::Event| -> Value { serde_json::from_str(&e.params).unwrap_or(Value::Null) };
        // The case.
        let case = self.case()?;
        if let Some(e) = events.iter().find(|e| e.is(Action::CaseCreate)) {
            let p = params(e);
            let checks = [
                ("case_uuid", json!(case.uuid)),
                ("case_number", json!(case.info.case_number)),
                ("examiner", json!(case.info.examiner)),
                ("description", json!(case.info.description)),
                ("created_utc", json!(case.created_utc)),
            ];
            for (k, v) in checks {
                if p.get(k).is_some_and(|r| *r != v) || (k != "created_utc" && p.get(k).is_none()) {
                    return broken(
                        e.seq,
                        format!(
                            "case field {k} is {v} but custody event {} recorded {}",
                            e.seq,
                            p.get(k).cloned().unwrap_or(Value::Null)
                        ),
                    );
                }
            }
            if case.tool_version != e.tool_version {
                return broken(
                    e.seq,
                    format!(
                        "case field tool_version is {:?} but custody event {} recorded {:?}",
                        case.tool_version, e.seq, e.tool_version
                    ),
                );
            }
        }
        // Every registered evidence item still has its row.
        let rows = self.evidence()?;
        for e in events.iter().filter(|e| e.is(Action::EvidenceAdd)) {
            if !rows.iter().any(|r| r.added_event == e.seq) {
                return broken(e.seq, format!("evidence {} registered by custody event {} has no row in the evidence table", params(e)["label"], e.seq));
            }
        }
        // Every session against its start and end events, and no session without one.
        let sessions = self.sessions()?;
        for s in &sessions {
            let start = events
                .iter()
                .find(|e| e.is(Action::SessionStart) && e.session_id == Some(s.id));
            let end = events
                .iter()
                .rev()
                .find(|e| e.is(Action::SessionEnd) && e.session_id == Some(s.id));
            let Some(start) = start else {
                return broken(
                    events.last().map_or(0, |e| e.seq),
                    format!(
                        "session {} ({}) has no session.start event",
                        s.id, s.command
                    ),
                );
            };
            let p = params(start);
            let mut checks = vec![
                ("command", json!(s.command), p.get("command").cloned()),
                ("args", s.args.clone(), p.get("args").cloned()),
            ];
            if p.get("started_utc").is_some() {
                checks.push((
                    "started_utc",
                    json!(s.started_utc),
                    p.get("started_utc").cloned(),
                ));
            }
            match end {
                Some(end) => {
                    let q = params(end);
                    checks.push(("status", json!(s.status), q.get("status").cloned()));
                    if q.get("ended_utc").is_some() {
                        checks.push(("ended_utc", json!(s.ended_utc), q.get("ended_utc").cloned()));
                    }
                }
                None => checks.push((
                    "status",
                    json!(s.status),
                    Some(json!(SessionStatus::Running.as_str())),
                )),
            }
            for (k, v, recorded) in checks {
                if Some(&v) != recorded.as_ref() {
                    let seq = if k == "status" || k == "ended_utc" {
                        end.map_or(start.seq, |e| e.seq)
                    } else {
                        start.seq
                    };
                    return broken(
                        seq,
                        format!(
                            "session {} field {k} is {v} but custody recorded {}",
                            s.id,
                            recorded.unwrap_or(Value::Null)
                        ),
                    );
                }
            }
        }
        for e in events.iter().filter(|e| e.is(Action::SessionStart)) {
            if !sessions.iter().any(|s| Some(s.id) == e.session_id) {
                return broken(
                    e.seq,
                    format!(
                        "session {:?} started by custody event {} has no row in the sessions table",
                        e.session_id, e.seq
                    ),
                );
            }
        }
        Ok(Ok(()))
    }

    /// Every check of the store alone, in order: the chain and its anchor, then
    /// [`Store::sealed_rows`]. `Ok(n)` is the number of events; `Err` names the
    /// first thing that does not hold.
    pub fn integrity(&self) -> Result<std::result::Result<usize, ChainBreak>> {
        Ok(match self.verify_chain()? {
            Ok(n) => self.sealed_rows()?.map(|()| n),
            Err(b) => Err(b),
        })
    }

    /// The rows against the log: the evidence rows, the sealed units, the case
    /// and sessions (for a chain already checked).
    pub fn sealed_rows(&self) -> Result<std::result::Result<(), ChainBreak>> {
        if let Err(b) = self.verify_evidence_rows()? {
            return Ok(Err(b));
        }
        if let Err(b) = self.verify_artifact_rows()? {
            return Ok(Err(b));
        }
        self.verify_case_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row writer gives, byte for byte, what `canonical_json` gives for the
    /// map of the same row: seals made before it was written still verify.
    #[test]
    fn row_json_is_canonical_json_of_the_row() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (zeta INTEGER, alpha TEXT, Mid BLOB, r REAL, _u TEXT, n INTEGER);
             INSERT INTO t VALUES (-5, 'é \"q\" \\ \n\t\u{1}', x'00ff10', 1.5, NULL, 9223372036854775807);
             INSERT INTO t VALUES (NULL, NULL, NULL, NULL, NULL, NULL);
             INSERT INTO t VALUES (0, '', x'', 1e308 * 10, 'x', -9223372036854775808);
             INSERT INTO t VALUES (7, CAST(x'ff41' AS TEXT), NULL, -0.25, '\u{2028}', 3);",
        )
        .unwrap();
        let mut st = c.prepare("SELECT * FROM t").unwrap();
        let names: Vec<String> = st.column_names().map(String::from).collect();
        let mut keys: Vec<(usize, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i, Value::String(n.clone()).to_string()))
            .collect();
        keys.sort_by(|a, b| names[a.0].cmp(&names[b.0]));
        let mut rows = st.query([]).unwrap();
        let mut seen = 0;
        while let Some(r) = rows.next().unwrap() {
            let mut map = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = cell(r.get_ref(i).unwrap());
                if !v.is_null() {
                    map.insert(name.clone(), v);
                }
            }
            let mut fast = String::new();
            row_json(r, &keys, &mut fast).unwrap();
            assert_eq!(fast, canonical_json(&Value::Object(map)));
            seen += 1;
        }
        assert_eq!(seen, 4);
    }
}
