//! Volumes, filesystems, findings and artifacts of scans. A scan is cut into units
//! (one per volume); a unit's rows are written as they come and sealed by a custody
//! event carrying a digest over them, so `verify` can prove the artifact table was
//! not edited, and a killed scan resumes at the first unsealed unit.

use crate::words::{ArtifactOrigin, ArtifactStatus};
use crate::{canonical_json, sql_err, ChainBreak, Result, Store, StoreError};
use dredge_core::Gap;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct VolumeRecord {
    pub idx: u32,
    pub start: u64,
    pub len: u64,
    pub kind: String,
    pub description: String,
    pub slot: Option<String>,
    pub scheme: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub file_offset: u64,
    pub len: u64,
    /// "image", "sparse", "inline", or the encoding of bytes decoded from stored
    /// ones ("lznt1")
    pub kind: String,
    pub image_offset: Option<u64>,
    pub unreadable_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactRecord {
    pub id: String,
    pub evidence_id: i64,
    pub unit: String,
    pub fs_id: Option<i64>,
    pub origin: ArtifactOrigin,
    pub forensic_path: String,
    pub path: String,
    pub other_names: Vec<String>,
    pub kind: dredge_core::EntryKind,
    pub deleted: bool,
    pub size: u64,
    pub recovery: crate::ArtifactRecovery,
    pub recovery_detail: Option<String>,
    pub meta_offset: u64,
    /// (md5, sha1, sha256) of the recovered content; `None` for directories and
    /// entries whose content cannot be traced.
    pub digests: Option<(String, String, String)>,
    /// Path of the extracted copy, relative to the case directory.
    pub extracted: Option<String>,
    /// Why the copy is not where its name puts it (the planned path could not be
    /// made on the output filesystem, so it went to the fallback path), or why
    /// its name was changed on the way out.
    pub extract_note: Option<String>,
    pub unreadable_bytes: u64,
    pub status: ArtifactStatus,
    /// (source, UTC)
    pub times: Vec<(String, String)>,
    pub runs: Vec<RunRecord>,
    /// (file offset, length, why)
    pub gaps: Vec<Gap>,
}

/// A volume as recorded, with the filesystems found on it: (type, label).
#[derive(Debug, Clone)]
pub struct VolumeRow {
    pub idx: u32,
    pub start: u64,
    pub len: u64,
    pub kind: String,
    pub description: String,
    pub slot: Option<String>,
    pub filesystems: Vec<(String, Option<String>)>,
}

impl VolumeRow {
    /// The kind its word names; None for a word dredge never writes (an
    /// edited store), which no test of a kind then matches.
    pub fn volume_kind(&self) -> Option<dredge_core::VolumeKind> {
        <dredge_core::VolumeKind as dredge_core::Word>::from_word(&self.kind)
    }
}

#[derive(Debug, Clone)]
pub struct FindingRecord {
    pub offset: u64,
    pub what: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

impl Store {
    /// Records the volumes of an evidence item (idempotent: a resumed scan finds the
    /// same layout). Returns the row id of each volume, in the given order.
    pub fn record_volumes(&mut self, evidence_id: i64, vols: &[VolumeRecord]) -> Result<Vec<i64>> {
        let db = self.db();
        let tx = self.conn.transaction().map_err(sql_err(&db))?;
        let mut ids = Vec::new();
        for v in vols {
            tx.execute(
                "INSERT OR IGNORE INTO volumes (evidence_id, idx, start, len, kind, description, slot, scheme)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![evidence_id, v.idx, v.start as i64, v.len as i64, v.kind, v.description, v.slot, v.scheme],
            )
            .map_err(sql_err(&db))?;
            let id: i64 = tx
                .query_row(
                    "SELECT id FROM volumes WHERE evidence_id = ?1 AND idx = ?2",
                    params![evidence_id, v.idx],
                    |r| r.get(0),
                )
                .map_err(sql_err(&db))?;
            ids.push(id);
        }
        tx.commit().map_err(sql_err(&db))?;
        Ok(ids)
    }

    pub fn record_filesystem(
        &mut self,
        volume_id: i64,
        ty: &str,
        label: Option<&str>,
    ) -> Result<i64> {
        let db = self.db();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO filesystems (volume_id, type, label) VALUES (?1, ?2, ?3)",
                params![volume_id, ty, label],
            )
            .map_err(sql_err(&db))?;
        self.conn
            .query_row(
                "SELECT id FROM filesystems WHERE volume_id = ?1 AND type = ?2",
                params![volume_id, ty],
                |r| r.get(0),
            )
            .map_err(sql_err(&db))
    }

    pub fn unit_done(&self, evidence_id: i64, unit: &str) -> Result<bool> {
        let db = self.db();
        let n: Option<i64> = self
            .conn
            .query_row(
                "SELECT done_event FROM scan_units WHERE evidence_id = ?1 AND unit = ?2",
                params![evidence_id, unit],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&db))?;
        Ok(n.is_some())
    }

    /// Removes what an unfinished earlier run wrote for a unit, so it can be redone.
    /// The units of an evidence item that are sealed.
    pub fn done_units(&self, evidence_id: i64) -> Result<Vec<String>> {
        self.rows(
            "SELECT unit FROM scan_units WHERE evidence_id = ?1 ORDER BY unit",
            [evidence_id],
            |r| r.get(0),
        )
    }

    pub fn clear_unit(&mut self, evidence_id: i64, unit: &str) -> Result<()> {
        let db = self.db();
        let tx = self.conn.transaction().map_err(sql_err(&db))?;
        for t in ["artifact_times", "artifact_runs", "artifact_gaps"] {
            tx.execute(
                &format!("DELETE FROM {t} WHERE artifact_id IN (SELECT id FROM artifacts WHERE evidence_id = ?1 AND unit = ?2)"),
                params![evidence_id, unit],
            )
            .map_err(sql_err(&db))?;
        }
        tx.execute(
            "DELETE FROM artifacts WHERE evidence_id = ?1 AND unit = ?2",
            params![evidence_id, unit],
        )
        .map_err(sql_err(&db))?;
        tx.execute(
            "DELETE FROM findings WHERE evidence_id = ?1 AND unit = ?2",
            params![evidence_id, unit],
        )
        .map_err(sql_err(&db))?;
        tx.commit().map_err(sql_err(&db))
    }

    pub fn add_findings(
        &mut self,
        evidence_id: i64,
        unit: &str,
        f: &[FindingRecord],
    ) -> Result<()> {
        let db = self.db();
        let tx = self.conn.transaction().map_err(sql_err(&db))?;
        for x in f {
            tx.execute(
                "INSERT INTO findings (evidence_id, unit, offset, what, expected, actual) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![evidence_id, unit, x.offset as i64, x.what, x.expected, x.actual],
            )
            .map_err(sql_err(&db))?;
        }
        tx.commit().map_err(sql_err(&db))
    }

    /// Writes a batch of artifacts in one transaction.
    pub fn insert_artifacts(&mut self, batch: &[ArtifactRecord]) -> Result<()> {
        let db = self.db();
        let tx = self.conn.transaction().map_err(sql_err(&db))?;
        {
            // Prepared once per connection: parsing the SQL for every row cost more
            // than inserting it (100 000 files).
            let mut art = tx
                .prepare_cached(
                    "INSERT INTO artifacts (id, evidence_id, unit, fs_id, origin, forensic_path, path, other_names, kind, deleted,
                        size, recovery, recovery_detail, meta_offset, md5, sha1, sha256, extracted, unreadable_bytes, status, extract_note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                )
                .map_err(sql_err(&db))?;
            let mut times = tx
                .prepare_cached(
                    "INSERT INTO artifact_times (artifact_id, source, utc) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql_err(&db))?;
            let mut runs = tx
                .prepare_cached(
                    "INSERT INTO artifact_runs (artifact_id, seq, file_offset, len, kind, image_offset, unreadable_bytes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql_err(&db))?;
            let mut gaps = tx
                .prepare_cached("INSERT INTO artifact_gaps (artifact_id, file_offset, len, why) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sql_err(&db))?;
            for a in batch {
                let (md5, sha1, sha256) = match &a.digests {
                    Some((m, s1, s2)) => (Some(m), Some(s1), Some(s2)),
                    None => (None, None, None),
                };
                art.execute(params![
                    a.id,
                    a.evidence_id,
                    a.unit,
                    a.fs_id,
                    a.origin,
                    a.forensic_path,
                    a.path,
                    serde_json::to_string(&a.other_names).unwrap_or_default(),
                    a.kind.as_str(),
                    a.deleted,
                    a.size as i64,
                    a.recovery,
                    a.recovery_detail,
                    a.meta_offset as i64,
                    md5,
                    sha1,
                    sha256,
                    a.extracted,
                    a.unreadable_bytes as i64,
                    a.status,
                    a.extract_note
                ])
                .map_err(|e| StoreError::new(&db, format!("artifact {}: {e}", a.id)))?;
                for (src, utc) in &a.times {
                    times
                        .execute(params![a.id, src, utc])
                        .map_err(sql_err(&db))?;
                }
                for (i, r) in a.runs.iter().enumerate() {
                    runs.execute(params![
                        a.id,
                        i as i64,
                        r.file_offset as i64,
                        r.len as i64,
                        r.kind,
                        r.image_offset.map(|x| x as i64),
                        r.unreadable_bytes as i64
                    ])
                    .map_err(sql_err(&db))?;
                }
                for g in &a.gaps {
                    gaps.execute(params![a.id, g.offset as i64, g.len as i64, g.why.as_str()])
                        .map_err(sql_err(&db))?;
                }
            }
        }
        tx.commit().map_err(sql_err(&db))
    }

    /// Seal version 1 (see `seal`): a digest over some columns of a unit's artifact
    /// rows, in id order. Still checked for units sealed that way.
    fn unit_digest(&self, evidence_id: i64, unit: &str) -> Result<(u64, String)> {
        let db = self.db();
        let mut st = self
            .conn
            .prepare(
                "SELECT id, kind, deleted, size, status, md5, sha1, sha256, path, extracted, unreadable_bytes
                 FROM artifacts WHERE evidence_id = ?1 AND unit = ?2 ORDER BY id",
            )
            .map_err(sql_err(&db))?;
        let mut rows = st.query(params![evidence_id, unit]).map_err(sql_err(&db))?;
        let mut h = Sha256::new();
        let mut n = 0u64;
        while let Some(r) = rows.next().map_err(sql_err(&db))? {
            let v = json!([
                r.get::<_, String>(0).map_err(sql_err(&db))?,
                r.get::<_, String>(1).map_err(sql_err(&db))?,
                r.get::<_, i64>(2).map_err(sql_err(&db))?,
                r.get::<_, i64>(3).map_err(sql_err(&db))?,
                r.get::<_, String>(4).map_err(sql_err(&db))?,
                r.get::<_, Option<String>>(5).map_err(sql_err(&db))?,
                r.get::<_, Option<String>>(6).map_err(sql_err(&db))?,
                r.get::<_, Option<String>>(7).map_err(sql_err(&db))?,
                r.get::<_, String>(8).map_err(sql_err(&db))?,
                r.get::<_, Option<String>>(9).map_err(sql_err(&db))?,
                r.get::<_, i64>(10).map_err(sql_err(&db))?,
            ]);
            h.update(canonical_json(&v).as_bytes());
            h.update(b"\n");
            n += 1;
        }
        Ok((n, hex::encode(h.finalize())))
    }

    /// Seals a unit: a custody event with the digest of its artifacts, and the unit
    /// marked done, in one transaction.
    pub fn finish_unit(
        &mut self,
        evidence_id: i64,
        unit: &str,
        summary: Value,
        session_id: Option<i64>,
    ) -> Result<()> {
        let (count, digest) = self.unit_seal(evidence_id, unit)?;
        self.anchored(|tx, log| {
            let ev = log.event(
                tx,
                crate::Action::ScanUnit,
                json!({"evidence_id": evidence_id, "unit": unit, "artifacts": count, "seal": crate::seal::SEAL_VERSION,
                       "rows_digest": digest, "summary": summary}),
                session_id,
            )?;
            tx.execute(
                "INSERT INTO scan_units (evidence_id, unit, done_event) VALUES (?1, ?2, ?3)",
                params![evidence_id, unit, ev.seq],
            )
            .map_err(sql_err(log.db))?;
            Ok(())
        })
    }

    /// Each sealed unit's artifact rows against the digest its custody event holds.
    pub fn verify_artifact_rows(&self) -> Result<std::result::Result<u64, ChainBreak>> {
        let db = self.db();
        let units: Vec<(i64, String, i64)> = {
            self.rows(
                "SELECT evidence_id, unit, done_event FROM scan_units ORDER BY done_event",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
        };
        let mut total = 0;
        for (ev, unit, seq) in units {
            let params_text: Option<String> = self
                .conn
                .query_row("SELECT params FROM custody WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql_err(&db))?;
            let p: Value = params_text
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            let (n, d, key) = if p.get("rows_digest").is_some() {
                let (n, d) = self.unit_seal(ev, &unit)?;
                (n, d, "rows_digest")
            } else {
                let (n, d) = self.unit_digest(ev, &unit)?;
                (n, d, "artifacts_digest")
            };
            if p[key] != json!(d) || p["artifacts"] != json!(n) {
                let what = if key == "rows_digest" {
                    "the rows (artifacts with their times, runs and gaps, findings, volumes, filesystems)"
                } else {
                    "the artifacts"
                };
                return Ok(Err(ChainBreak {
                    seq,
                    detail: format!(
                        "{what} of scan unit {unit} (evidence {ev}) no longer match custody event {seq}: {} artifacts now, {} recorded",
                        n, p["artifacts"]
                    ),
                }));
            }
            total += n;
        }
        // A unit whose row in scan_units was deleted would escape the check above.
        let sealed: Vec<(i64, String)> = self.rows(
            "SELECT seq, params FROM custody WHERE action = 'scan.unit' ORDER BY seq",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (seq, text) in sealed {
            let p: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let here: Option<i64> = self
                .conn
                .query_row(
                    "SELECT done_event FROM scan_units WHERE evidence_id = ?1 AND unit = ?2",
                    params![p["evidence_id"].as_i64(), p["unit"].as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_err(&db))?;
            if here != Some(seq) {
                return Ok(Err(ChainBreak {
                    seq,
                    detail: format!(
                        "scan unit {} (evidence {}) was sealed by custody event {seq} but scan_units says {}",
                        p["unit"],
                        p["evidence_id"],
                        here.map_or("nothing".to_string(), |s| format!("event {s}"))
                    ),
                }));
            }
        }
        Ok(Ok(total))
    }
}
