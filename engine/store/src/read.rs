//! Reading artifacts back: whole, streamed one at a time for listings and
//! reports, and the counts and single facts other commands ask for.

use crate::scan::{ArtifactRecord, FindingRecord, RunRecord, VolumeRow};
use crate::{sql_err, Result, Store};

/// One group of [`Store::artifact_counts`]. An origin or status the store holds
/// that dredge never writes (an altered store) is None: its rows are still
/// counted, as the report that names them as left out expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCount {
    pub evidence_id: i64,
    pub unit: String,
    pub origin: Option<crate::ArtifactOrigin>,
    pub deleted: bool,
    pub status: Option<crate::ArtifactStatus>,
    pub count: u64,
    /// The sum of their sizes.
    pub bytes: u64,
}

/// One run of [`Store::image_runs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRun {
    /// Where it lies in the image.
    pub offset: u64,
    pub len: u64,
    /// None where an altered store holds a word dredge never writes.
    pub origin: Option<crate::ArtifactOrigin>,
    pub deleted: bool,
}

impl Store {
    pub fn artifacts(&self, evidence_id: Option<i64>) -> Result<Vec<ArtifactRecord>> {
        self.rows(
                "SELECT id, evidence_id, unit, fs_id, origin, forensic_path, path, other_names, kind, deleted, size,
                        recovery, recovery_detail, meta_offset, md5, sha1, sha256, extracted, unreadable_bytes, status, extract_note
                 FROM artifacts WHERE (?1 IS NULL OR evidence_id = ?1) ORDER BY evidence_id, unit, path, id", [evidence_id], artifact_row)
    }

    /// Every artifact with its times, runs and gaps, one at a time in the order of
    /// [`Store::artifacts`], so reports over a large case run in bounded memory.
    /// Returns how many rows were left out because they cannot be read as dredge
    /// writes them (see [`Store::each_artifact_row`]).
    pub fn each_artifact(
        &self,
        evidence_id: Option<i64>,
        f: &mut dyn FnMut(ArtifactRecord) -> std::io::Result<()>,
    ) -> Result<u64> {
        self.each_artifact_row(evidence_id, true, f)
    }

    /// [`Store::each_artifact`], with its times, runs and gaps only when
    /// `details`: a listing of a million files streams its rows, never holding
    /// them all.
    ///
    /// A row holding a value dredge never writes (an edited status or gap word)
    /// is an altered store, which `verify` and the seals report. Listings and
    /// reports of such a case are still made: the row is left out and counted in
    /// the returned number, instead of ending the listing at it.
    pub fn each_artifact_row(
        &self,
        evidence_id: Option<i64>,
        details: bool,
        f: &mut dyn FnMut(ArtifactRecord) -> std::io::Result<()>,
    ) -> Result<u64> {
        let db = self.db_path_buf();
        let err = |e: rusqlite::Error| crate::StoreError::new(&db, e.to_string());
        let mut st = self
            .conn
            .prepare(
                "SELECT id, evidence_id, unit, fs_id, origin, forensic_path, path, other_names, kind, deleted, size,
                        recovery, recovery_detail, meta_offset, md5, sha1, sha256, extracted, unreadable_bytes, status, extract_note
                 FROM artifacts WHERE (?1 IS NULL OR evidence_id = ?1) ORDER BY evidence_id, unit, path, id",
            )
            .map_err(err)?;
        let mut rows = st.query([evidence_id]).map_err(err)?;
        let mut left_out = 0;
        while let Some(r) = rows.next().map_err(err)? {
            let mut a = match artifact_row(r) {
                Ok(a) => a,
                Err(e) if unreadable_value(&e) => {
                    left_out += 1;
                    continue;
                }
                Err(e) => return Err(err(e)),
            };
            if details {
                match self.details_raw(&mut a) {
                    Ok(()) => {}
                    Err(e) if unreadable_value(&e) => {
                        left_out += 1;
                        continue;
                    }
                    Err(e) => return Err(err(e)),
                }
            }
            f(a).map_err(|e| crate::StoreError::new(&db, format!("writing: {e}")))?;
        }
        Ok(left_out)
    }

    /// Every run of every artifact of one evidence item that lies in the image, by
    /// offset: what a sector map shows.
    pub fn image_runs(&self, evidence_id: i64) -> Result<Vec<ImageRun>> {
        self.rows(
            "SELECT r.image_offset, r.len, a.origin, a.deleted FROM artifact_runs r JOIN artifacts a ON a.id = r.artifact_id
             WHERE a.evidence_id = ?1 AND r.kind = 'image' AND r.image_offset IS NOT NULL ORDER BY r.image_offset",
            [evidence_id],
            |r| {
                Ok(ImageRun {
                    offset: r.get::<_, i64>(0)? as u64,
                    len: r.get::<_, i64>(1)? as u64,
                    origin: crate::ArtifactOrigin::parse(&r.get::<_, String>(2)?),
                    deleted: r.get(3)?,
                })
            },
        )
    }

    /// How many artifacts, and their bytes, per evidence item, unit, origin,
    /// deletion and status.
    pub fn artifact_counts(&self) -> Result<Vec<ArtifactCount>> {
        self.rows(
            "SELECT evidence_id, unit, origin, deleted, status, COUNT(*), SUM(size) FROM artifacts
             GROUP BY evidence_id, unit, origin, deleted, status ORDER BY evidence_id, unit, origin, deleted, status",
            [],
            |r| {
                Ok(ArtifactCount {
                    evidence_id: r.get(0)?,
                    unit: r.get(1)?,
                    origin: crate::ArtifactOrigin::parse(&r.get::<_, String>(2)?),
                    deleted: r.get(3)?,
                    status: crate::ArtifactStatus::parse(&r.get::<_, String>(4)?),
                    count: r.get::<_, i64>(5)? as u64,
                    bytes: r.get::<_, Option<i64>>(6)?.unwrap_or(0) as u64,
                })
            },
        )
    }

    /// Fills in times, runs and gaps of one artifact.
    pub fn artifact_details(&self, a: &mut ArtifactRecord) -> Result<()> {
        self.details_raw(a)
            .map_err(|e| crate::StoreError::new(&self.db_path_buf(), e.to_string()))
    }

    fn details_raw(&self, a: &mut ArtifactRecord) -> rusqlite::Result<()> {
        a.times = self.cached_rows(
            "SELECT source, utc FROM artifact_times WHERE artifact_id = ?1",
            [&a.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        a.runs = self.cached_rows("SELECT file_offset, len, kind, image_offset, unreadable_bytes FROM artifact_runs WHERE artifact_id = ?1 ORDER BY seq", [&a.id], |r| {
                Ok(RunRecord {
                    file_offset: r.get::<_, i64>(0)? as u64,
                    len: r.get::<_, i64>(1)? as u64,
                    kind: r.get(2)?,
                    image_offset: r.get::<_, Option<i64>>(3)?.map(|x| x as u64),
                    unreadable_bytes: r.get::<_, i64>(4)? as u64,
                })
            })?;
        a.gaps = self.cached_rows("SELECT file_offset, len, why FROM artifact_gaps WHERE artifact_id = ?1 ORDER BY file_offset", [&a.id], crate::evidence::gap_row)?;
        Ok(())
    }

    /// How many artifacts one evidence item has, and how many of their bytes were
    /// unreadable: where a running job starts counting from.
    pub fn artifact_totals(&self, evidence_id: i64) -> Result<(u64, u64)> {
        let db = self.db();
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(unreadable_bytes), 0) FROM artifacts WHERE evidence_id = ?1",
                [evidence_id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(sql_err(&db))
    }

    /// (image offset, length) of every filesystem artifact stored in one piece: a
    /// carved file at the same place with the same length is the same bytes.
    pub fn single_run_artifacts(
        &self,
        evidence_id: i64,
    ) -> Result<std::collections::HashSet<(u64, u64)>> {
        self.rows(
                "SELECT r.image_offset, a.size FROM artifacts a JOIN artifact_runs r ON r.artifact_id = a.id
                 WHERE a.evidence_id = ?1 AND a.origin = 'filesystem' AND r.kind = 'image' AND a.size > 0
                   AND (SELECT COUNT(*) FROM artifact_runs x WHERE x.artifact_id = a.id) = 1", [evidence_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
            })
            .map(|v| v.into_iter().collect())
    }

    /// Files of a VeraCrypt/TrueCrypt container's size (at least 256 KiB, a
    /// multiple of 512), wholly read and extracted: (artifact id, path, copy
    /// relative to the case, size), in id order.
    pub fn container_sized_files(&self) -> Result<Vec<(String, String, String, u64)>> {
        self.rows(
            "SELECT id, path, extracted, size FROM artifacts
             WHERE kind = 'file' AND size >= 262144 AND size % 512 = 0
               AND unreadable_bytes = 0 AND extracted IS NOT NULL ORDER BY id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)),
        )
    }

    pub fn findings(&self, evidence_id: i64) -> Result<Vec<(String, FindingRecord)>> {
        self.rows("SELECT unit, offset, what, expected, actual FROM findings WHERE evidence_id = ?1 ORDER BY id", [evidence_id], |r| {
                Ok((
                    r.get(0)?,
                    FindingRecord {
                        offset: r.get::<_, i64>(1)? as u64,
                        what: r.get(2)?,
                        expected: r.get(3)?,
                        actual: r.get(4)?,
                    },
                ))
            })
    }

    pub fn volumes(&self, evidence_id: i64) -> Result<Vec<VolumeRow>> {
        let mut vols: Vec<(i64, VolumeRow)> = self.rows(
            "SELECT id, idx, start, len, kind, description, slot FROM volumes WHERE evidence_id = ?1 ORDER BY idx",
            [evidence_id],
            |r| {
                Ok((
                    r.get(0)?,
                    VolumeRow {
                        idx: r.get(1)?,
                        start: r.get::<_, i64>(2)? as u64,
                        len: r.get::<_, i64>(3)? as u64,
                        kind: r.get(4)?,
                        description: r.get(5)?,
                        slot: r.get(6)?,
                        filesystems: Vec::new(),
                    },
                ))
            },
        )?;
        for (id, v) in vols.iter_mut() {
            v.filesystems = self.rows(
                "SELECT type, label FROM filesystems WHERE volume_id = ?1 ORDER BY type",
                [*id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
        }
        Ok(vols.into_iter().map(|(_, v)| v).collect())
    }
}

pub(crate) fn artifact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ArtifactRecord> {
    let names: String = r.get(7)?;
    let md5: Option<String> = r.get(14)?;
    let sha1: Option<String> = r.get(15)?;
    let sha256: Option<String> = r.get(16)?;
    Ok(ArtifactRecord {
        id: r.get(0)?,
        evidence_id: r.get(1)?,
        unit: r.get(2)?,
        fs_id: r.get(3)?,
        origin: r.get(4)?,
        forensic_path: r.get(5)?,
        path: r.get(6)?,
        other_names: serde_json::from_str(&names).unwrap_or_default(),
        kind: {
            use dredge_core::Word;
            let s: String = r.get(8)?;
            dredge_core::EntryKind::from_word(&s).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    8,
                    rusqlite::types::Type::Text,
                    format!("unknown artifact kind {s:?}").into(),
                )
            })?
        },
        deleted: r.get(9)?,
        size: r.get::<_, i64>(10)? as u64,
        recovery: r.get(11)?,
        recovery_detail: r.get(12)?,
        meta_offset: r.get::<_, i64>(13)? as u64,
        digests: match (md5, sha1, sha256) {
            (Some(a), Some(b), Some(c)) => Some((a, b, c)),
            _ => None,
        },
        extracted: r.get(17)?,
        unreadable_bytes: r.get::<_, i64>(18)? as u64,
        status: r.get(19)?,
        extract_note: r.get(20)?,
        times: Vec::new(),
        runs: Vec::new(),
        gaps: Vec::new(),
    })
}

/// A value the row holds that dredge never writes, or of a type it never stores:
/// the store was altered, the database itself is fine.
fn unreadable_value(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..)
    )
}
