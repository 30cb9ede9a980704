//! Evidence rows: registration (with its unreadable ranges, in the same
//! transaction as its custody event), reading them back, and checking each row
//! against the event that recorded it.

use crate::{sql_err, ChainBreak, EvidenceRow, NewEvidence, Result, Store, StoreError};
use dredge_core::{Gap, Why};
use rusqlite::params;
use serde_json::{json, Value};

impl Store {
    /// The label the next registered evidence item will get (`ev<N>`): what a
    /// registration that analyses the image before storing it names things by.
    pub fn next_evidence_label(&self) -> Result<String> {
        crate::shard::next_label(&self.conn).map_err(sql_err(&self.db()))
    }

    /// Registers evidence together with its custody event, atomically.
    pub fn add_evidence(
        &mut self,
        ev: &NewEvidence,
        session_id: Option<i64>,
    ) -> Result<EvidenceRow> {
        let id = self.anchored(|tx, log| {
            let db = log.db;
            let label = crate::shard::next_label(tx).map_err(sql_err(db))?;
            let hashes: Vec<&str> = [("md5", &ev.md5), ("sha1", &ev.sha1), ("sha256", &ev.sha256)]
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| *k)
                .collect();
            let params_json = json!({
                "label": label,
                "path": ev.path,
                "segments": ev.segments,
                "kind": ev.kind,
                "size": ev.size,
                "md5": ev.md5,
                "sha1": ev.sha1,
                "sha256": ev.sha256,
                "hashes": hashes,
                "map_path": ev.map_path,
                "map_sha256": ev.map_sha256,
                "bad_bytes": ev.bad_bytes,
                "gap_count": ev.gaps.len(),
                "gaps_digest": Self::gaps_digest(ev.gaps.iter().map(|g| (g.offset, g.len, g.why.as_str()))),
                "extra": ev.extra,
            });
            let event = log.event(tx, crate::Action::EvidenceAdd, params_json, session_id)?;
            tx.execute(
                "INSERT INTO evidence (label, path, segments, kind, size, md5, sha1, sha256, map_path, map_sha256, bad_bytes, added_event)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    label,
                    ev.path,
                    serde_json::to_string(&ev.segments).unwrap_or_default(),
                    ev.kind,
                    ev.size as i64,
                    ev.md5,
                    ev.sha1,
                    ev.sha256,
                    ev.map_path,
                    ev.map_sha256,
                    ev.bad_bytes as i64,
                    event.seq
                ],
            )
            .map_err(sql_err(db))?;
            let id = tx.last_insert_rowid();
            {
                let mut st = tx
                    .prepare("INSERT INTO evidence_gaps (evidence_id, start, len, why) VALUES (?1, ?2, ?3, ?4)")
                    .map_err(sql_err(db))?;
                for g in &ev.gaps {
                    st.execute(params![id, g.offset as i64, g.len as i64, g.why.as_str()])
                        .map_err(sql_err(db))?;
                }
            }
            Ok(id)
        })?;
        self.evidence_by_id(id)
    }

    pub(super) fn evidence_by_id(&self, id: i64) -> Result<EvidenceRow> {
        self.evidence()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| StoreError::new(&self.db(), format!("evidence {id} vanished")))
    }

    pub fn evidence(&self) -> Result<Vec<EvidenceRow>> {
        self.rows(
                "SELECT id, label, path, segments, kind, size, md5, sha1, sha256, map_path, map_sha256, bad_bytes, added_event
                 FROM evidence ORDER BY id", [], |r| {
                let segs: String = r.get(3)?;
                Ok(EvidenceRow {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    path: r.get(2)?,
                    segments: serde_json::from_str(&segs).unwrap_or_default(),
                    kind: r.get(4)?,
                    size: r.get::<_, i64>(5)? as u64,
                    md5: r.get(6)?,
                    sha1: r.get(7)?,
                    sha256: r.get(8)?,
                    map_path: r.get(9)?,
                    map_sha256: r.get(10)?,
                    bad_bytes: r.get::<_, i64>(11)? as u64,
                    added_event: r.get(12)?,
                })
            })
    }

    pub fn evidence_gaps(&self, evidence_id: i64) -> Result<Vec<Gap>> {
        self.rows(
            "SELECT start, len, why FROM evidence_gaps WHERE evidence_id = ?1 ORDER BY start",
            [evidence_id],
            gap_row,
        )
    }

    /// Checks each evidence row against the custody event that registered it, so an
    /// edit of the row (say, to a stored hash) is caught even if the file matches it.
    pub fn verify_evidence_rows(&self) -> Result<std::result::Result<(), ChainBreak>> {
        let events = self.events()?;
        for row in self.evidence()? {
            let Some(ev) = events.iter().find(|e| e.seq == row.added_event) else {
                return Ok(Err(ChainBreak {
                    seq: row.added_event,
                    detail: format!(
                        "evidence {} names custody event {} which does not exist",
                        row.label, row.added_event
                    ),
                }));
            };
            let p: Value = serde_json::from_str(&ev.params).unwrap_or(Value::Null);
            let checks: [(&str, Value); 11] = [
                ("label", json!(row.label)),
                ("path", json!(row.path)),
                ("segments", json!(row.segments)),
                ("kind", json!(row.kind)),
                ("map_path", json!(row.map_path)),
                ("size", json!(row.size)),
                ("md5", json!(row.md5)),
                ("sha1", json!(row.sha1)),
                ("sha256", json!(row.sha256)),
                ("bad_bytes", json!(row.bad_bytes)),
                ("map_sha256", json!(row.map_sha256)),
            ];
            // Cases registered before gaps were sealed have no gaps_digest.
            let gaps = match p.get("gaps_digest") {
                Some(_) => Some((
                    "gaps_digest",
                    // The rows as stored, words and all: an edited reason word
                    // is a changed digest, named below, not a read error.
                    json!(Self::gaps_digest(
                        self.rows(
                            "SELECT start, len, why FROM evidence_gaps WHERE evidence_id = ?1",
                            [row.id],
                            |r| Ok((
                                r.get::<_, i64>(0)? as u64,
                                r.get::<_, i64>(1)? as u64,
                                r.get::<_, String>(2)?
                            )),
                        )?
                        .iter()
                        .map(|(s, l, w)| (*s, *l, w.as_str()))
                    )),
                )),
                None => None,
            };
            for (k, v) in checks.into_iter().chain(gaps) {
                if p.get(k) != Some(&v) {
                    return Ok(Err(ChainBreak {
                        seq: ev.seq,
                        detail: format!(
                            "evidence {} field {k} is {v} in the evidence table but custody event {} recorded {}",
                            row.label,
                            ev.seq,
                            p.get(k).cloned().unwrap_or(Value::Null)
                        ),
                    }));
                }
            }
        }
        Ok(Ok(()))
    }
}

/// A gap row: offset, length, reason. A reason word dredge never writes (an
/// edited store) is an error naming it, not a guess.
pub(crate) fn gap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Gap> {
    let why: String = r.get(2)?;
    let why = Why::parse(&why).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("unknown gap reason {why:?}").into(),
        )
    })?;
    Ok(Gap::new(
        r.get::<_, i64>(0)? as u64,
        r.get::<_, i64>(1)? as u64,
        why,
    ))
}
