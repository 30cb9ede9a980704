//! Shards (decision 0020): a case written by one shard of a sharded batch, and
//! the merge of finished shards into the one case a single run would have written.
//!
//! A shard case starts with `shard.start` (the job's digest, K of N, its items)
//! and ends with `shard.end`; each item's label comes from its `batch.item`
//! event, as in a single run. A merge copies every row of a shard into this
//! case with its integer ids moved past the rows already here (shards are merged in
//! order, so the ids are the ones a single run gives), replays the shard's custody
//! events in order (each re-chained here; a `scan.unit` re-sealed over the copied
//! rows, which hold new ids), and closes with `shard.merge`, which holds the shard's
//! head: the merged chain commits to every shard's chain. All of a shard or none of
//! it: one transaction.

use crate::{sql_err, Action, Event, Result, Store, StoreError};
use dredge_core::Word;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;

/// What `shard.start` records: which part of which job this case holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMark {
    /// SHA-256 of the job file's bytes: shards of one job agree on it.
    pub job: String,
    /// 1-based.
    pub shard: u32,
    pub of: u32,
    /// The job's items (1-based, in job order) this shard runs into this case.
    pub items: Vec<u32>,
    /// Every item of the job that goes into the merged case (all of them for a
    /// job with one case; one for a job with a case per item): the merge checks
    /// that the shards it is given hold each exactly once.
    pub case_items: Vec<u32>,
    /// The number of items in the job (shard assignment is a function of it).
    pub job_items: u32,
    /// Per item of the job, the byte ranges its carving is cut into (0: not
    /// cut); empty when the job cuts none (issue 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<u32>,
    /// The ranges (item, 1-based range) of this case's items this shard carves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<[u32; 2]>,
}

/// What one merge copied.
#[derive(Debug, Clone, Default)]
pub struct MergeCount {
    pub events: u64,
    pub artifacts: u64,
    pub evidence: Vec<String>,
    /// Seq of the `shard.merge` event.
    pub merge_event: i64,
}

/// The label the next registration takes: the one a `batch.item` event
/// announced since the last registration (a batch names each item's label by
/// its place in the job, so a single run and its shards agree even where an item
/// fails before it is registered), unless taken; else `ev<count + 1>`.
pub(crate) fn next_label(conn: &Connection) -> rusqlite::Result<String> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM evidence", [], |r| r.get(0))?;
    let announced: Option<String> = conn
        .query_row(
            "SELECT params FROM custody WHERE action = 'batch.item'
               AND seq > (SELECT COALESCE(MAX(seq), 0) FROM custody WHERE action = 'evidence.add')
             ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let label = announced
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["label"].as_str().map(str::to_string))
        .filter(|l| {
            l.strip_prefix("ev")
                .is_some_and(|d| d.parse::<u64>().is_ok())
        });
    if let Some(l) = label {
        let taken: i64 = conn.query_row(
            "SELECT COUNT(*) FROM evidence WHERE label = ?1",
            [&l],
            |r| r.get(0),
        )?;
        if taken == 0 {
            return Ok(l);
        }
    }
    Ok(format!("ev{}", n + 1))
}

/// The integer ids a merge moves, per table: (table, [(column, the table whose
/// offset it takes)]). Every other column is copied as it is.
const MOVED: &[(&str, &[(&str, &str)])] = &[
    ("sessions", &[("id", "sessions")]),
    ("evidence", &[("id", "evidence")]),
    ("evidence_gaps", &[("evidence_id", "evidence")]),
    ("volumes", &[("id", "volumes"), ("evidence_id", "evidence")]),
    (
        "filesystems",
        &[("id", "filesystems"), ("volume_id", "volumes")],
    ),
    (
        "findings",
        &[("id", "findings"), ("evidence_id", "evidence")],
    ),
    (
        "artifacts",
        &[("evidence_id", "evidence"), ("fs_id", "filesystems")],
    ),
    ("artifact_times", &[]),
    ("artifact_runs", &[]),
    ("artifact_gaps", &[]),
];

/// Tables whose ids move: the offset of each is the largest id already here.
const OFFSET_TABLES: [&str; 5] = ["sessions", "evidence", "volumes", "filesystems", "findings"];

/// `file:` URI of a database path, opened read-only.
fn ro_uri(p: &Path) -> String {
    let mut s = String::from("file:");
    for b in p.to_string_lossy().bytes() {
        match b {
            b'%' | b'?' | b'#' => s.push_str(&format!("%{b:02X}")),
            _ => s.push(b as char),
        }
    }
    s.push_str("?mode=ro");
    s
}

impl Store {
    /// Marks a new case as one shard of a job. Refused once evidence is
    /// registered (labels would already be taken) or when another mark is there.
    pub fn start_shard(&mut self, mark: &ShardMark) -> Result<()> {
        let db = self.db();
        if let Some(m) = self.shard_mark()? {
            if &m == mark {
                return Ok(());
            }
            return Err(StoreError::new(
                &db,
                format!(
                    "is shard {}/{} of job {}, not shard {}/{} of job {}",
                    m.shard, m.of, m.job, mark.shard, mark.of, mark.job
                ),
            ));
        }
        if !self.evidence()?.is_empty() {
            return Err(StoreError::new(
                &db,
                "holds evidence already: a shard starts as a new case",
            ));
        }
        let params = serde_json::to_value(mark).map_err(|e| StoreError::new(&db, e.to_string()))?;
        self.append_event(Action::ShardStart, params, None)?;
        Ok(())
    }

    /// The `shard.start` of this case, if it is a shard.
    pub fn shard_mark(&self) -> Result<Option<ShardMark>> {
        let p = self.rows(
            "SELECT params FROM custody WHERE action = 'shard.start' ORDER BY seq LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )?;
        Ok(p.first()
            .and_then(|t| serde_json::from_str::<ShardMark>(t).ok()))
    }

    /// Records that the shard's items are done (whatever their outcome).
    pub fn end_shard(&mut self, summary: Value) -> Result<()> {
        self.append_event(Action::ShardEnd, summary, None)?;
        Ok(())
    }

    /// Whether `shard.end` is recorded.
    pub fn shard_ended(&self) -> Result<bool> {
        Ok(!self
            .rows(
                "SELECT seq FROM custody WHERE action = 'shard.end' LIMIT 1",
                [],
                |r| r.get::<_, i64>(0),
            )?
            .is_empty())
    }

    /// The params of every `shard.merge` in this case, in order.
    pub fn merges(&self) -> Result<Vec<Value>> {
        self.rows(
            "SELECT params FROM custody WHERE action = 'shard.merge' ORDER BY seq",
            [],
            |r| r.get::<_, String>(0),
        )
        .map(|v| {
            v.iter()
                .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
                .collect()
        })
    }

    /// Copies the finished shard case `shard` (already verified by the caller)
    /// into this case; `record` goes into the closing `shard.merge` with the
    /// shard's head. The rows are attached read-only from the shard's database.
    pub fn merge_shard(&mut self, shard: &Store, record: Value) -> Result<MergeCount> {
        let db = self.db();
        let events = shard.events()?;
        let Some(last) = events.last() else {
            return Err(StoreError::new(&shard.db(), "has no custody events"));
        };
        let head = json!({"seq": last.seq, "hash": last.hash});
        let uuid = shard.case()?.uuid;
        let ours: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err(&db))?;
        let theirs: i64 = shard
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql_err(&shard.db()))?;
        if ours != theirs {
            return Err(StoreError::new(
                &shard.db(),
                format!("store schema {theirs}, this case's is {ours}: merge with the dredge that wrote both"),
            ));
        }
        self.conn
            .execute("ATTACH DATABASE ?1 AS shard", [ro_uri(&shard.db())])
            .map_err(sql_err(&db))?;
        let out = self.anchored(|tx, log| {
            let e = sql_err(log.db);
            tx.execute_batch("PRAGMA defer_foreign_keys = ON")
                .map_err(&e)?;
            let mut off = std::collections::HashMap::new();
            for t in OFFSET_TABLES {
                let n: i64 = tx
                    .query_row(
                        &format!("SELECT COALESCE(MAX(id), 0) FROM main.{t}"),
                        [],
                        |r| r.get(0),
                    )
                    .map_err(&e)?;
                off.insert(t, n);
            }
            for (table, moved) in MOVED {
                let cols: Vec<String> = {
                    let mut st = tx
                        .prepare(&format!("PRAGMA main.table_info({table})"))
                        .map_err(&e)?;
                    let names = st.query_map([], |r| r.get::<_, String>(1)).map_err(&e)?;
                    names.collect::<rusqlite::Result<_>>().map_err(&e)?
                };
                let select: Vec<String> = cols
                    .iter()
                    .map(|c| match moved.iter().find(|(m, _)| m == c) {
                        Some((_, by)) => format!("{c} + {}", off[by]),
                        None => c.clone(),
                    })
                    .collect();
                tx.execute(
                    &format!(
                        "INSERT INTO main.{table} ({}) SELECT {} FROM shard.{table} ORDER BY rowid",
                        cols.join(", "),
                        select.join(", ")
                    ),
                    [],
                )
                .map_err(&e)?;
            }
            let mut count = MergeCount::default();
            let mut first = None;
            for ev in &events {
                let action = Action::from_word(&ev.action).ok_or_else(|| {
                    StoreError::new(
                        &shard.db(),
                        format!(
                            "custody event {} has an unknown action {:?}",
                            ev.seq, ev.action
                        ),
                    )
                })?;
                if matches!(
                    action,
                    Action::CaseCreate | Action::ShardStart | Action::ShardEnd
                ) {
                    continue;
                }
                if action == Action::ShardMerge {
                    return Err(StoreError::new(
                        &shard.db(),
                        format!(
                            "custody event {} is a shard.merge: a merged case is not a shard",
                            ev.seq
                        ),
                    ));
                }
                let new = replay(tx, log, ev, action, &off)?;
                first.get_or_insert(new.seq);
                count.events += 1;
                if action == Action::EvidenceAdd {
                    tx.execute(
                        "UPDATE main.evidence SET added_event = ?1
                         WHERE id IN (SELECT id + ?2 FROM shard.evidence WHERE added_event = ?3)",
                        params![new.seq, off["evidence"], ev.seq],
                    )
                    .map_err(&e)?;
                }
            }
            count.artifacts = tx
                .query_row("SELECT count(*) FROM shard.artifacts", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(&e)? as u64;
            let mut st = tx
                .prepare("SELECT label FROM shard.evidence ORDER BY id")
                .map_err(&e)?;
            count.evidence = st
                .query_map([], |r| r.get(0))
                .map_err(&e)?
                .collect::<rusqlite::Result<_>>()
                .map_err(&e)?;
            let mut params = record;
            params["shard_case_uuid"] = json!(uuid);
            params["shard_head"] = head;
            params["events_replayed"] = json!(count.events);
            params["first_event"] = json!(first);
            params["artifacts"] = json!(count.artifacts);
            params["evidence"] = json!(count.evidence);
            count.merge_event = log.event(tx, Action::ShardMerge, params, None)?.seq;
            Ok(count)
        });
        // Detached whatever happened, so the next shard can be attached.
        let detach = self
            .conn
            .execute("DETACH DATABASE shard", [])
            .map_err(sql_err(&db));
        let out = out?;
        detach?;
        Ok(out)
    }
}

/// One shard event re-chained here: its session id moved, and a `scan.unit`
/// re-sealed over the rows as they are here (their ids moved).
fn replay(
    tx: &Connection,
    log: &crate::head::Log<'_>,
    ev: &Event,
    action: Action,
    off: &std::collections::HashMap<&str, i64>,
) -> Result<Event> {
    let e = sql_err(log.db);
    let mut params: Value = serde_json::from_str(&ev.params).map_err(|x| {
        StoreError::new(
            log.db,
            format!("shard custody event {}: params are not JSON: {x}", ev.seq),
        )
    })?;
    let session = ev.session_id.map(|s| s + off["sessions"]);
    if action != Action::ScanUnit {
        return log.event(tx, action, params, session);
    }
    let (Some(evidence), Some(unit)) = (params["evidence_id"].as_i64(), params["unit"].as_str())
    else {
        return Err(StoreError::new(
            log.db,
            format!(
                "shard custody event {} (scan.unit) names no evidence or unit",
                ev.seq
            ),
        ));
    };
    let unit = unit.to_string();
    let evidence = evidence + off["evidence"];
    params["evidence_id"] = json!(evidence);
    if params.get("rows_digest").is_some() {
        let (n, digest) = crate::seal::unit_seal_in(tx, log.db, evidence, &unit)?;
        if params["artifacts"] != json!(n) {
            return Err(StoreError::new(
                log.db,
                format!(
                    "scan unit {unit} of shard event {}: {n} artifacts copied, {} sealed",
                    ev.seq, params["artifacts"]
                ),
            ));
        }
        params["rows_digest"] = json!(digest);
    }
    let new = log.event(tx, action, params, session)?;
    tx.execute(
        "INSERT INTO main.scan_units (evidence_id, unit, done_event) VALUES (?1, ?2, ?3)",
        params![evidence, unit, new.seq],
    )
    .map_err(e)?;
    Ok(new)
}

impl Store {
    /// The extracted copies the artifacts name, relative to the case directory.
    pub fn extracted_paths(&self) -> Result<Vec<String>> {
        self.rows(
            "SELECT extracted FROM artifacts WHERE extracted IS NOT NULL ORDER BY rowid",
            [],
            |r| r.get(0),
        )
    }
}
