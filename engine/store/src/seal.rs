//! Seals: digests over every column of every row a unit wrote, recorded in the
//! custody event that closes the unit, and recomputed by `verify`.
//!
//! Rows are read with `SELECT *`, so a column added by a later migration is sealed
//! without anyone remembering to add it here. Each row is hashed as the canonical
//! JSON array of its values (integers as numbers, text as strings, blobs as
//! `"x:<hex>"`), tables in a fixed order, rows in a fixed order.
//!
//! Version 1 (cases sealed before 2026-11-30) covered only some artifact columns;
//! its events carry `artifacts_digest`, and `verify` still checks them that way.
//! Version 2 events carry `rows_digest` and cover, per unit: the artifacts with
//! their times, runs and gaps; the unit's findings; the volumes (unit `layout`);
//! the filesystems of the volume (unit `v<i>`).

use crate::{canonical_json, sql_err, Result, Store};
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
    let cols = st.column_count();
    let mut rows = st
        .query(params_from_iter(args.iter()))
        .map_err(sql_err(db))?;
    h.update(label.as_bytes());
    h.update(b"\n");
    let mut n = 0;
    while let Some(r) = rows.next().map_err(sql_err(db))? {
        let mut row = Vec::with_capacity(cols);
        for i in 0..cols {
            row.push(cell(r.get_ref(i).map_err(sql_err(db))?));
        }
        h.update(canonical_json(&Value::Array(row)).as_bytes());
        h.update(b"\n");
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
        let db = self.db();
        let c = &self.conn;
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
                "SELECT * FROM volumes WHERE evidence_id = ?1 ORDER BY idx",
                &[ev],
            )?;
        }
        if let Some(idx) = unit_volume(unit) {
            let ix: &dyn rusqlite::ToSql = &idx;
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

    /// Digest of an evidence item's unreadable ranges, as registered: computed from
    /// the ranges in hand at registration and from the table at verification.
    pub(crate) fn gaps_digest(gaps: &[(u64, u64, String)]) -> String {
        let mut sorted: Vec<&(u64, u64, String)> = gaps.iter().collect();
        sorted.sort();
        let mut h = Sha256::new();
        for (s, l, w) in sorted {
            h.update(canonical_json(&json!([s, l, w])).as_bytes());
            h.update(b"\n");
        }
        hex::encode(h.finalize())
    }
}
