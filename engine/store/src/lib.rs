//! The custody store: one SQLite database per case (`CASE_DIR/case.sqlite`), one
//! writer, WAL, STRICT tables, versioned migrations.
//!
//! Custody events are append-only and hash-chained: each event's hash is
//! SHA-256(previous hash ‖ canonical JSON of the event). The newest hash is also
//! written to `CASE_DIR/custody.head`, so that deleting events from the end of the
//! table is detected as well as editing or deleting any event before it.

mod browse;
mod canonical;
mod evidence;
mod head;
mod output_rules;
mod read;
pub use browse::{file_type, Browse, BrowseOrder, BrowseTerm, PickTime, TreeItem, TreeKey};
pub use read::{ArtifactCount, ImageRun};
pub use sessions::SessionRow;
mod scan;
mod schema;
mod seal;
mod sessions;
mod shard;
pub use shard::{MergeCount, ShardMark};
pub mod sign;
mod words;

pub use canonical::canonical_json;
pub use output_rules::OutputRules;
pub use scan::{ArtifactRecord, FindingRecord, RunRecord, VolumeRecord, VolumeRow};
pub use words::{
    Action, ArtifactOrigin, ArtifactRecovery, ArtifactStatus, SessionCommand, SessionStatus,
};

use dredge_core::time::utc_now;
use dredge_core::Gap;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

pub const DB_NAME: &str = "case.sqlite";
pub const HEAD_NAME: &str = "custody.head";
pub const CASE_SUBDIRS: [&str; 3] = ["files", "carved", "reports"];
const GENESIS: [u8; 32] = [0; 32];

#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub detail: String,
}

impl StoreError {
    fn new(path: &Path, detail: impl Into<String>) -> Self {
        StoreError {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInfo {
    pub case_number: Option<String>,
    pub examiner: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CaseRow {
    pub uuid: String,
    pub info: CaseInfo,
    pub created_utc: String,
    pub tool_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    pub time_utc: String,
    pub actor: String,
    pub action: String,
    /// Canonical JSON text.
    pub params: String,
    pub tool_version: String,
    pub session_id: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Whether this event records `a` (its text is `a`'s word).
    pub fn is(&self, a: Action) -> bool {
        self.action == a.as_str()
    }

    /// The bytes the chain hashes for this event (after the previous hash). The
    /// params go in as the exact stored text, so a change of any byte in them —
    /// even one that leaves the JSON meaning alone — breaks the chain.
    fn canonical(&self) -> String {
        canonical_json(&json!({
            "seq": self.seq,
            "time_utc": self.time_utc,
            "actor": self.actor,
            "action": self.action,
            "params": self.params,
            "tool_version": self.tool_version,
            "session_id": self.session_id,
        }))
    }

    fn compute_hash(&self, prev: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(prev);
        h.update(self.canonical().as_bytes());
        hex::encode(h.finalize())
    }
}

/// A registered piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRow {
    pub id: i64,
    pub label: String,
    pub path: String,
    pub segments: Vec<String>,
    pub kind: String,
    pub size: u64,
    /// The digests chosen at registration (`--hash`); at least one is set.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub map_path: Option<String>,
    pub map_sha256: Option<String>,
    pub bad_bytes: u64,
    pub added_event: i64,
}

impl EvidenceRow {
    /// The strongest digest recorded, with its name ("SHA-256", "SHA-1", "MD5"):
    /// what a one-line summary shows.
    pub fn strongest_digest(&self) -> (&'static str, &str) {
        [
            ("SHA-256", &self.sha256),
            ("SHA-1", &self.sha1),
            ("MD5", &self.md5),
        ]
        .into_iter()
        .find_map(|(n, v)| v.as_deref().map(|v| (n, v)))
        .unwrap_or(("no digest", ""))
    }
}

/// What to record when registering evidence (id, label and event are assigned).
#[derive(Debug, Clone)]
pub struct NewEvidence {
    pub path: String,
    pub segments: Vec<String>,
    pub kind: String,
    pub size: u64,
    /// The digests chosen at registration (`--hash`); at least one is set.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub map_path: Option<String>,
    pub map_sha256: Option<String>,
    pub bad_bytes: u64,
    /// Synthesized ranges found while hashing: (start, len, why).
    pub gaps: Vec<Gap>,
    /// Anything else worth recording in the custody event (acquisition options...).
    pub extra: Value,
}

fn collect<T, P: rusqlite::Params>(
    st: &mut rusqlite::Statement<'_>,
    params: P,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    st.query_map(params, f)?.collect()
}

/// A mismatch found by [`Store::verify_chain`]: the first event that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub detail: String,
}

pub struct Store {
    conn: Connection,
    dir: PathBuf,
    examiner: String,
    /// The examiner's key for a signed case, loaded at the first append.
    signer: Option<ed25519_dalek::SigningKey>,
    /// The store's order by row id, for the file browser (`browse.rs`).
    browse_rank: std::cell::OnceCell<browse::Rank>,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::new(path, format!("database error: {e}"))
}

impl Store {
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_NAME)
    }

    /// Creates a new case directory (which must not exist or be empty).
    pub fn create(dir: &Path, info: &CaseInfo) -> Result<Store> {
        Self::create_signed(dir, info, None)
    }

    /// Creates a new case whose every custody event is signed with the Ed25519
    /// key in `signing_key` (see [`sign`]); `None` is [`Store::create`].
    pub fn create_signed(dir: &Path, info: &CaseInfo, signing_key: Option<&Path>) -> Result<Store> {
        // The key is read before anything is created: a wrong path leaves no case.
        let signer = match signing_key {
            Some(p) => {
                let abs = std::path::absolute(p).map_err(|e| StoreError::new(p, e.to_string()))?;
                Some((sign::load_key(&abs)?, abs))
            }
            None => None,
        };
        if info.examiner.trim().is_empty() {
            return Err(StoreError::new(dir, "an examiner name is required"));
        }
        if dir.exists() {
            let meta = std::fs::metadata(dir).map_err(|e| StoreError::new(dir, e.to_string()))?;
            if !meta.is_dir() {
                return Err(StoreError::new(dir, "exists and is not a directory"));
            }
            let mut entries =
                std::fs::read_dir(dir).map_err(|e| StoreError::new(dir, e.to_string()))?;
            if entries.next().is_some() {
                let what = if Self::db_path(dir).exists() {
                    "is already a case"
                } else {
                    "exists and is not empty"
                };
                return Err(StoreError::new(dir, what));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::new(dir, e.to_string()))?;
        for sub in CASE_SUBDIRS {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| StoreError::new(&dir.join(sub), e.to_string()))?;
        }
        let files = dir.join(CASE_SUBDIRS[0]);
        let rules = OutputRules::probe(&files)
            .map_err(|e| StoreError::new(&files, format!("cannot learn its naming rules: {e}")))?;
        let db = Self::db_path(dir);
        // No connection mutex: see `open`.
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err(&db))?;
        schema::configure(&conn).map_err(sql_err(&db))?;
        schema::migrate(&conn).map_err(sql_err(&db))?;
        let uuid = new_uuid();
        let created = utc_now();
        conn.execute(
            "INSERT INTO case_info (id, uuid, case_number, examiner, description, created_utc, tool_version)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                uuid,
                info.case_number,
                info.examiner,
                info.description,
                created,
                dredge_core::TOOL_VERSION
            ],
        )
        .map_err(sql_err(&db))?;
        let mut params = json!({
            "case_uuid": uuid,
            "case_number": info.case_number,
            "examiner": info.examiner,
            "description": info.description,
            "created_utc": created,
            "output_rules": rules.to_json(),
        });
        if let Some((key, path)) = &signer {
            params["signing_public_key"] = json!(sign::public_hex(key));
            params["signing_key_path"] = json!(path.to_string_lossy());
        }
        let mut store = Store {
            conn,
            dir: dir.to_path_buf(),
            examiner: info.examiner.clone(),
            signer: signer.map(|(k, _)| k),
            browse_rank: Default::default(),
        };
        store.append_event(Action::CaseCreate, params, None)?;
        Ok(store)
    }

    /// Opens an existing case, refusing anything that is not one.
    pub fn open(dir: &Path) -> Result<Store> {
        if !dir.is_dir() {
            let what = if dir.exists() {
                "is not a case directory (not a directory)"
            } else {
                "no such case directory"
            };
            return Err(StoreError::new(dir, what));
        }
        let db = Self::db_path(dir);
        if !db.is_file() {
            return Err(StoreError::new(
                dir,
                format!("is not a dredge case: no {DB_NAME} (create one with `dredge case new`)"),
            ));
        }
        // No connection mutex: rusqlite's Connection is not Sync, so one thread
        // uses it at a time, and in serialized mode every column read and bind
        // took and released a mutex (a fifth of the CPU of sealing a million
        // files' rows).
        let conn = Connection::open_with_flags(
            &db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err(&db))?;
        // A file that is not SQLite fails here, at the first read.
        let has_case: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='case_info'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::new(&db, format!("not a dredge case database: {e}")))?;
        if has_case.is_none() {
            return Err(StoreError::new(
                &db,
                "not a dredge case database (no case_info table)",
            ));
        }
        schema::configure(&conn).map_err(sql_err(&db))?;
        schema::migrate(&conn).map_err(sql_err(&db))?;
        let examiner: String = conn
            .query_row("SELECT examiner FROM case_info WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(|e| StoreError::new(&db, format!("case record missing: {e}")))?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            examiner,
            signer: None,
            browse_rank: Default::default(),
        })
    }

    /// Runs a query and collects its rows; every error names the database.
    pub(crate) fn rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let db = self.db();
        let mut st = self.conn.prepare(sql).map_err(sql_err(&db))?;
        collect(&mut st, params, f).map_err(sql_err(&db))
    }

    /// `rows` with a cached statement, for queries run once per artifact.
    /// Rows of a cached statement, with the database's own error, so a caller can
    /// tell a value it cannot read from a database that fails.
    pub(crate) fn cached_rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut st = self.conn.prepare_cached(sql)?;
        collect(&mut st, params, f)
    }

    pub(crate) fn db_path_buf(&self) -> PathBuf {
        self.db()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn db(&self) -> PathBuf {
        Self::db_path(&self.dir)
    }

    pub fn case(&self) -> Result<CaseRow> {
        let db = self.db();
        self.conn
            .query_row(
                "SELECT uuid, case_number, examiner, description, created_utc, tool_version FROM case_info WHERE id = 1",
                [],
                |r| {
                    Ok(CaseRow {
                        uuid: r.get(0)?,
                        info: CaseInfo {
                            case_number: r.get(1)?,
                            examiner: r.get(2)?,
                            description: r.get(3)?,
                        },
                        created_utc: r.get(4)?,
                        tool_version: r.get(5)?,
                    })
                },
            )
            .map_err(sql_err(&db))
    }

    fn last_event(&self) -> Result<Option<(i64, String)>> {
        newest_link(&self.conn).map_err(sql_err(&self.db()))
    }

    /// Appends a custody event and moves the head anchor to it.
    pub fn append_event(
        &mut self,
        action: Action,
        params: Value,
        session_id: Option<i64>,
    ) -> Result<Event> {
        self.anchored(|tx, log| log.event(tx, action, params, session_id))
    }

    fn insert_event(
        conn: &Connection,
        actor: &str,
        action: &str,
        params: Value,
        session_id: Option<i64>,
    ) -> std::result::Result<Event, String> {
        let last = newest_link(conn).map_err(|e| e.to_string())?;
        let (seq, prev_hash) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, hex::encode(GENESIS)),
        };
        let mut ev = Event {
            seq,
            time_utc: utc_now(),
            actor: actor.to_string(),
            action: action.to_string(),
            params: canonical_json(&params),
            tool_version: dredge_core::TOOL_VERSION.to_string(),
            session_id,
            prev_hash,
            hash: String::new(),
        };
        let prev = link_bytes(&ev.prev_hash);
        ev.hash = ev.compute_hash(&prev);
        conn.execute(
            "INSERT INTO custody (seq, time_utc, actor, action, params, tool_version, session_id, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                ev.seq,
                ev.time_utc,
                ev.actor,
                ev.action,
                ev.params,
                ev.tool_version,
                ev.session_id,
                ev.prev_hash,
                ev.hash
            ],
        )
        .map_err(|e| e.to_string())?;
        Ok(ev)
    }

    /// The naming rules of the case directory's filesystem, as learned when the
    /// case was created; the default (nothing refused) for a case made before
    /// dredge learned them.
    pub fn output_rules(&self) -> Result<OutputRules> {
        let first: Option<String> = self
            .conn
            .query_row(
                "SELECT params FROM custody WHERE action = 'case.create' ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(&Self::db_path(&self.dir)))?;
        Ok(first
            .and_then(|p| serde_json::from_str::<Value>(&p).ok())
            .and_then(|p| p.get("output_rules").and_then(OutputRules::from_json))
            .unwrap_or_default())
    }

    pub fn events(&self) -> Result<Vec<Event>> {
        self.rows(
            "SELECT seq, time_utc, actor, action, params, tool_version, session_id, prev_hash, hash
                 FROM custody ORDER BY seq",
            [],
            |r| {
                Ok(Event {
                    seq: r.get(0)?,
                    time_utc: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    params: r.get(4)?,
                    tool_version: r.get(5)?,
                    session_id: r.get(6)?,
                    prev_hash: r.get(7)?,
                    hash: r.get(8)?,
                })
            },
        )
    }

    /// Recomputes the whole chain and checks the head anchor. `Ok(n)` is the number
    /// of events that hold; `Err` names the first event that does not.
    pub fn verify_chain(&self) -> Result<std::result::Result<usize, ChainBreak>> {
        // The log and the anchor from one moment, whoever is appending.
        let _head = self.lock_head(false)?;
        let events = self.events()?;
        let mut prev = hex::encode(GENESIS);
        for (i, ev) in events.iter().enumerate() {
            let expect_seq = i as i64 + 1;
            if ev.seq != expect_seq {
                return Ok(Err(ChainBreak {
                    seq: expect_seq,
                    detail: format!(
                        "event {expect_seq} is missing (next stored event is {})",
                        ev.seq
                    ),
                }));
            }
            if ev.prev_hash != prev {
                return Ok(Err(ChainBreak {
                    seq: ev.seq,
                    detail: format!(
                        "event {} ({}) links to {} but the event before it hashes to {}",
                        ev.seq, ev.action, ev.prev_hash, prev
                    ),
                }));
            }
            let prev_bytes = link_bytes(&prev);
            let h = ev.compute_hash(&prev_bytes);
            if h != ev.hash {
                return Ok(Err(ChainBreak {
                    seq: ev.seq,
                    detail: format!(
                        "event {} ({}) was altered: stored hash {}, recomputed {}",
                        ev.seq, ev.action, ev.hash, h
                    ),
                }));
            }
            prev = ev.hash.clone();
        }
        let head_path = self.dir.join(HEAD_NAME);
        let head = std::fs::read_to_string(&head_path).unwrap_or_default();
        let last = events.last();
        let expect = last
            .map(|e| format!("{} {}", e.seq, e.hash))
            .unwrap_or_default();
        if head.trim() != expect {
            let seq = last.map_or(1, |e| e.seq + 1);
            return Ok(Err(ChainBreak {
                seq,
                detail: format!(
                    "{} says the newest event is {:?} but the store ends at {:?}: events were removed or the anchor was changed",
                    head_path.display(),
                    head.trim(),
                    expect
                ),
            }));
        }
        if let Err(b) = self.verify_signatures()? {
            return Ok(Err(b));
        }
        Ok(Ok(events.len()))
    }

    pub fn last_seq(&self) -> Result<i64> {
        Ok(self.last_event()?.map_or(0, |(s, _)| s))
    }
}

/// (seq, hash) of the newest custody event, the link the next one chains to.
/// The bytes an event's hash is chained from. A stored hash that is not hex (an
/// edited log) is taken as its text, so a verify of a broken case can still record
/// its own session after saying the chain is broken.
fn link_bytes(h: &str) -> Vec<u8> {
    hex::decode(h).unwrap_or_else(|_| h.as_bytes().to_vec())
}

fn newest_link(conn: &Connection) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT seq, hash FROM custody ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// A random UUID (v4) from the OS's random source, without a uuid crate.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !ok {
        // Fall back to time and pid: unique enough for a case id.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b[..16].copy_from_slice(&t.to_le_bytes());
        b[0] ^= std::process::id() as u8;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
