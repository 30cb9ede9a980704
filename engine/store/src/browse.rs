//! The file browser's queries (issue 18): filtering and sorting happen in SQLite,
//! and a front end holds only the row ids of what it shows (8 bytes a file) and
//! fetches the rows it draws. A case of a million files is never read whole.
//!
//! What SQLite cannot do by itself — Unicode case folding, a name's type, the
//! browser's tree order — is given to it as functions on this connection. The
//! modification time a browser sorts by is picked from each artifact's times once,
//! into a TEMP table (SQLite's temporary file, not memory, not the case).

use crate::scan::ArtifactRecord;
use crate::{sql_err, Result, Store};
use rusqlite::functions::FunctionFlags;

/// One search term, typed: what the browser's search line parses into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseTerm {
    /// The path holds this, in any case.
    Text(String),
    /// The name's type (see [`file_type`]) is this.
    Type(String),
    Larger(u64),
    Smaller(u64),
    /// The modification time starts so.
    TimePrefix(String),
    /// The modification time is at or after this.
    After(String),
    /// The modification time is before this.
    Before(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BrowseOrder {
    /// The store's order: evidence, unit, path.
    #[default]
    Path,
    /// Largest first.
    Size,
    /// Where the entry's metadata lies on the medium.
    Position,
    /// Newest modification first, those without one last.
    Time,
    /// By type, then path.
    Type,
}

/// What the browser shows: filters, search terms (every one must hold), order.
/// Ties always fall back to the store's order, so a list is the same every time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Browse {
    pub deleted: bool,
    pub carved: bool,
    /// Everything not complete (partial or without content).
    pub partial: bool,
    pub terms: Vec<BrowseTerm>,
    pub order: BrowseOrder,
}

/// Picks an artifact's modification time from its (source, UTC) times.
pub type PickTime = fn(&[(String, String)]) -> Option<String>;

/// An artifact's place in a tree, worked out from (origin, forensic path, path).
pub type TreeKey = fn(&str, &str, &str) -> String;

/// One artifact as a tree walk meets it, in [`TreeKey`] order.
#[derive(Debug, Clone)]
pub struct TreeItem {
    pub rowid: i64,
    pub key: String,
    pub directory: bool,
    pub deleted: bool,
}

/// A file's type for sorting and grouping: its extension, lower case ("" for none).
pub fn file_type(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_lowercase(),
        _ => String::new(),
    }
}

/// Whether `text` holds `needle` (already lower case) in any case. Most names are
/// ASCII: they are compared in place, with no copy per row.
fn contains_folded(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if text.is_ascii() {
        let n = needle.as_bytes();
        text.as_bytes()
            .windows(n.len())
            .any(|w| w.eq_ignore_ascii_case(n))
    } else {
        text.to_lowercase().contains(needle)
    }
}

/// Each artifact's place in the store's order, by row id (4 bytes a file). Row ids
/// are dense in a case dredge wrote; a store whose ids are far apart (rows removed
/// by hand) gets a map instead of a vector sized by its largest id.
pub(crate) enum Rank {
    Dense(Vec<u32>),
    Sparse(std::collections::HashMap<i64, u32>),
}

impl Rank {
    fn new(order: &[i64]) -> Rank {
        let max = order.iter().copied().max().unwrap_or(0);
        let dense_ok = max >= 0 && (max as u64) <= 4 * order.len() as u64 + 1024;
        let place = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        if dense_ok {
            let mut v = vec![u32::MAX; max as usize + 1];
            for (i, &id) in order.iter().enumerate() {
                v[id as usize] = place(i);
            }
            Rank::Dense(v)
        } else {
            Rank::Sparse(
                order
                    .iter()
                    .enumerate()
                    .map(|(i, &id)| (id, place(i)))
                    .collect(),
            )
        }
    }

    /// A row added since the ranks were taken (another process's job) sorts last.
    fn get(&self, id: i64) -> u32 {
        match self {
            Rank::Dense(v) => usize::try_from(id)
                .ok()
                .and_then(|i| v.get(i))
                .copied()
                .unwrap_or(u32::MAX),
            Rank::Sparse(m) => m.get(&id).copied().unwrap_or(u32::MAX),
        }
    }
}

const COLUMNS: &str = "a.id, a.evidence_id, a.unit, a.fs_id, a.origin, a.forensic_path, a.path, a.other_names, a.kind, a.deleted, a.size,
     a.recovery, a.recovery_detail, a.meta_offset, a.md5, a.sha1, a.sha256, a.extracted, a.unreadable_bytes, a.status, a.extract_note";

const STORE_ORDER: &str = "a.evidence_id, a.unit, a.path, a.id";

impl Store {
    /// How many artifacts the case holds.
    pub fn artifact_total(&self) -> Result<u64> {
        let db = self.db_path_buf();
        self.conn
            .query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(sql_err(&db))
    }

    /// The row ids of the artifacts the browser shows, in its order. SQLite
    /// filters; the matches are sorted here by their key and their place in the
    /// store's order ([`Rank`], worked out once per connection), so a keystroke
    /// does not sort the whole table again.
    pub fn browse(&self, b: &Browse, pick: PickTime) -> Result<Vec<i64>> {
        if b.order == BrowseOrder::Time {
            self.pick_times(pick)?;
        }
        let (filter, params) = self.browse_filter(b, pick)?;
        let rank = self.rank()?;
        let key = match b.order {
            BrowseOrder::Path => "NULL",
            BrowseOrder::Size => "a.size",
            BrowseOrder::Position => "a.meta_offset",
            BrowseOrder::Time => "m.utc",
            BrowseOrder::Type => "dredge_type(a.path)",
        };
        let sql = format!("SELECT a.rowid, {key} FROM {filter}");
        match b.order {
            BrowseOrder::Path => self.sorted(&sql, &params, rank, |_| Ok(())),
            BrowseOrder::Size => self.sorted(&sql, &params, rank, |r| {
                Ok(std::cmp::Reverse(r.get::<_, i64>(1)?))
            }),
            BrowseOrder::Position => self.sorted(&sql, &params, rank, |r| r.get::<_, i64>(1)),
            BrowseOrder::Time => self.sorted(&sql, &params, rank, |r| {
                Ok(std::cmp::Reverse(r.get::<_, Option<String>>(1)?))
            }),
            BrowseOrder::Type => self.sorted(&sql, &params, rank, |r| r.get::<_, String>(1)),
        }
    }

    /// Runs a browse query (row id, then its sort key) and sorts by (key, rank).
    fn sorted<K: Ord>(
        &self,
        sql: &str,
        params: &[rusqlite::types::Value],
        rank: &Rank,
        key: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<K>,
    ) -> Result<Vec<i64>> {
        let db = self.db_path_buf();
        let mut st = self.conn.prepare(sql).map_err(sql_err(&db))?;
        let mut found: Vec<(K, u32, i64)> = st
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                let id: i64 = r.get(0)?;
                Ok((key(r)?, rank.get(id), id))
            })
            .and_then(|rows| rows.collect())
            .map_err(sql_err(&db))?;
        found.sort_unstable();
        // A new vector: collecting from `found` would reuse its buffer, keeping
        // 16 to 40 bytes a file for the 8 the ids need.
        let mut ids = Vec::with_capacity(found.len());
        ids.extend(found.iter().map(|&(_, _, id)| id));
        Ok(ids)
    }

    /// The store's order as ranks, once per connection.
    fn rank(&self) -> Result<&Rank> {
        if let Some(r) = self.browse_rank.get() {
            return Ok(r);
        }
        let order = self.rows(
            &format!("SELECT a.rowid FROM artifacts a ORDER BY {STORE_ORDER}"),
            [],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(self.browse_rank.get_or_init(|| Rank::new(&order)))
    }

    /// The artifacts the browser shows, one at a time in tree order (`key`, then
    /// the store's order), without holding them. The places are worked out and
    /// sorted once per connection, into a TEMP table, with the `key` of the first
    /// call. With `within` (low, high), only those whose key k has low <= k < high:
    /// one folder's contents.
    pub fn browse_tree(
        &self,
        b: &Browse,
        pick: PickTime,
        key: TreeKey,
        within: Option<(&str, &str)>,
        f: &mut dyn FnMut(TreeItem),
    ) -> Result<()> {
        let db = self.db_path_buf();
        self.tree_function(key)?;
        let (filter, params) = self.browse_filter(b, pick)?;
        self.tree_order()?;
        let (lo, hi) = match within {
            Some((lo, hi)) => (self.tree_seq(lo)?, self.tree_seq(hi)?),
            None => (0, i64::MAX),
        };
        // The places are sorted once (the table's key is their order); each
        // build reads them in that order and joins the artifacts by row id.
        let sql = format!(
            "SELECT t.art, t.k, a.kind, a.deleted FROM temp.browse_tree t JOIN {filter} AND a.rowid = t.art
             AND t.seq >= {lo} AND t.seq < {hi} ORDER BY t.seq"
        );
        let mut st = self.conn.prepare(&sql).map_err(sql_err(&db))?;
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sql_err(&db))?;
        let dir = dredge_core::Word::word(dredge_core::EntryKind::Directory);
        while let Some(r) = rows.next().map_err(sql_err(&db))? {
            let kind: String = r.get(2).map_err(sql_err(&db))?;
            f(TreeItem {
                rowid: r.get(0).map_err(sql_err(&db))?,
                key: r.get(1).map_err(sql_err(&db))?,
                directory: kind == dir,
                deleted: r.get(3).map_err(sql_err(&db))?,
            });
        }
        Ok(())
    }

    /// The artifacts with these row ids, in that order (without times, runs and
    /// gaps); an id no longer in the case is left out.
    pub fn artifacts_at(&self, rowids: &[i64]) -> Result<Vec<(i64, ArtifactRecord)>> {
        let db = self.db_path_buf();
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM artifacts a WHERE a.rowid = ?1"
            ))
            .map_err(sql_err(&db))?;
        let mut out = Vec::with_capacity(rowids.len());
        for &id in rowids {
            use rusqlite::OptionalExtension;
            if let Some(a) = st
                .query_row([id], crate::read::artifact_row)
                .optional()
                .map_err(sql_err(&db))?
            {
                out.push((id, a));
            }
        }
        Ok(out)
    }

    /// One artifact's times (source, UTC).
    pub fn artifact_times(&self, id: &str) -> Result<Vec<(String, String)>> {
        self.cached_rows(
            "SELECT source, utc FROM artifact_times WHERE artifact_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql_err(&self.db_path_buf()))
    }

    /// The FROM and WHERE of a browse, with its parameters. Registers the
    /// functions it uses, and picks the times when a term asks for them.
    fn browse_filter(
        &self,
        b: &Browse,
        pick: PickTime,
    ) -> Result<(String, Vec<rusqlite::types::Value>)> {
        use rusqlite::types::Value;
        let db = self.db_path_buf();
        let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
        self.conn
            .create_scalar_function("dredge_contains", 2, flags, |ctx| {
                let text = |i| {
                    ctx.get_raw(i)
                        .as_str()
                        .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
                };
                Ok(contains_folded(text(0)?, text(1)?))
            })
            .and_then(|()| {
                self.conn
                    .create_scalar_function("dredge_type", 1, flags, |ctx| {
                        Ok(file_type(&ctx.get::<String>(0)?))
                    })
            })
            .map_err(sql_err(&db))?;
        let mut w = vec!["1".to_string()];
        let mut p: Vec<Value> = Vec::new();
        let mut bind = |w: &mut Vec<String>, cond: &str, v: Value| {
            p.push(v);
            w.push(cond.replace('?', &format!("?{}", p.len())));
        };
        if b.deleted {
            w.push("a.deleted = 1".into());
        }
        if b.carved {
            bind(
                &mut w,
                "a.origin = ?",
                crate::ArtifactOrigin::Carved.as_str().to_string().into(),
            );
        }
        if b.partial {
            bind(
                &mut w,
                "a.status <> ?",
                crate::ArtifactStatus::Complete.as_str().to_string().into(),
            );
        }
        let mut times = b.order == BrowseOrder::Time;
        let int = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        for t in &b.terms {
            match t {
                BrowseTerm::Text(s) => bind(
                    &mut w,
                    "dredge_contains(a.path, ?)",
                    s.to_lowercase().into(),
                ),
                BrowseTerm::Type(s) => bind(&mut w, "dredge_type(a.path) = ?", s.clone().into()),
                BrowseTerm::Larger(n) => bind(&mut w, "a.size > ?", int(*n)),
                BrowseTerm::Smaller(n) => bind(&mut w, "a.size < ?", int(*n)),
                BrowseTerm::TimePrefix(s) => {
                    times = true;
                    let cond = format!("substr(m.utc, 1, {}) = ?", s.chars().count());
                    bind(&mut w, &cond, s.clone().into());
                }
                BrowseTerm::After(s) => {
                    times = true;
                    bind(&mut w, "m.utc >= ?", s.clone().into());
                }
                BrowseTerm::Before(s) => {
                    times = true;
                    bind(&mut w, "m.utc < ?", s.clone().into());
                }
            }
        }
        let from = if times {
            self.pick_times(pick)?;
            "artifacts a LEFT JOIN temp.browse_mtime m ON m.art = a.rowid"
        } else {
            "artifacts a"
        };
        Ok((format!("{from} WHERE {}", w.join(" AND ")), p))
    }

    /// Works out ahead, once per connection, what browsing asks for first: the
    /// store order's ranks, each artifact's modification time, every artifact's
    /// place in the tree. A front end does it on a connection of its own in the
    /// background, and browses through that one once it is done.
    pub fn prepare_browse(&self, pick: PickTime, key: TreeKey) -> Result<()> {
        self.rank()?;
        self.pick_times(pick)?;
        self.tree_function(key)?;
        self.tree_order()
    }

    fn tree_function(&self, key: TreeKey) -> Result<()> {
        self.conn
            .create_scalar_function(
                "dredge_tree_key",
                3,
                FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
                move |ctx| {
                    let s = |i| ctx.get::<String>(i);
                    Ok(key(&s(0)?, &s(1)?, &s(2)?))
                },
            )
            .map_err(sql_err(&self.db_path_buf()))
    }

    /// Fills the TEMP table of every artifact's place in the tree, in tree order.
    fn tree_order(&self) -> Result<()> {
        let db = self.db_path_buf();
        if self.has_temp("browse_tree").map_err(sql_err(&db))? {
            return Ok(());
        }
        self.conn
            .execute_batch(&format!(
                "CREATE TEMP TABLE browse_tree (seq INTEGER PRIMARY KEY, art INTEGER NOT NULL, k TEXT NOT NULL);
                 INSERT INTO temp.browse_tree (art, k)
                   SELECT a.rowid, dredge_tree_key(a.origin, a.forensic_path, a.path) AS k FROM artifacts a
                   ORDER BY k, {STORE_ORDER};"
            ))
            .map_err(sql_err(&db))
    }

    /// The first place in tree order whose key is at or after `k` (binary search:
    /// the places are numbered in key order, so no index on the keys is needed).
    fn tree_seq(&self, k: &str) -> Result<i64> {
        let db = self.db_path_buf();
        let e = sql_err(&db);
        let mut at = self
            .conn
            .prepare_cached("SELECT k FROM temp.browse_tree WHERE seq = ?1")
            .map_err(&e)?;
        let (mut lo, mut hi): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) + 1 FROM temp.browse_tree",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(&e)?;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let key: String = at.query_row([mid], |r| r.get(0)).map_err(&e)?;
            if key.as_str() < k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    fn has_temp(&self, table: &str) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT COUNT(*) FROM temp.sqlite_master WHERE name = ?1",
            [table],
            |r| Ok(r.get::<_, i64>(0)? > 0),
        )
    }

    /// Fills the TEMP table of each artifact's picked modification time, once per
    /// connection: the artifacts are read in row id order with their times (found
    /// by their index), so one artifact's times are together, nothing is held but
    /// them, and the table is written in its key's order.
    fn pick_times(&self, pick: PickTime) -> Result<()> {
        let db = self.db_path_buf();
        let e = sql_err(&db);
        if self.has_temp("browse_mtime").map_err(&e)? {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction().map_err(&e)?;
        tx.execute_batch(
            "CREATE TEMP TABLE browse_mtime (art INTEGER PRIMARY KEY, utc TEXT NOT NULL)",
        )
        .map_err(&e)?;
        // Only the sources `pick` can choose are read: it is asked about each
        // distinct source once (a case has a handful), not about every time.
        let sources = self.rows("SELECT DISTINCT source FROM artifact_times", [], |r| {
            r.get::<_, String>(0)
        })?;
        let wanted: Vec<String> = sources
            .into_iter()
            .filter(|s| pick(&[(s.clone(), String::new())]).is_some())
            .collect();
        if !wanted.is_empty() {
            let mut ins = tx
                .prepare("INSERT INTO temp.browse_mtime (art, utc) VALUES (?1, ?2)")
                .map_err(&e)?;
            let list = vec!["?"; wanted.len()].join(", ");
            let mut st = tx
                .prepare(&format!(
                    "SELECT a.rowid, t.source, t.utc FROM artifacts a JOIN artifact_times t ON t.artifact_id = a.id
                     WHERE t.source IN ({list}) ORDER BY a.rowid"
                ))
                .map_err(&e)?;
            let mut rows = st
                .query(rusqlite::params_from_iter(wanted.iter()))
                .map_err(&e)?;
            let mut cur: Option<i64> = None;
            let mut times: Vec<(String, String)> = Vec::new();
            let mut flush =
                |art: Option<i64>, times: &mut Vec<(String, String)>| -> rusqlite::Result<()> {
                    if let (Some(art), Some(utc)) = (art, pick(times)) {
                        ins.execute(rusqlite::params![art, utc])?;
                    }
                    times.clear();
                    Ok(())
                };
            while let Some(r) = rows.next().map_err(&e)? {
                let art: i64 = r.get(0).map_err(&e)?;
                if cur != Some(art) {
                    flush(cur, &mut times).map_err(&e)?;
                    cur = Some(art);
                }
                times.push((r.get(1).map_err(&e)?, r.get(2).map_err(&e)?));
            }
            flush(cur, &mut times).map_err(&e)?;
        }
        tx.commit().map_err(&e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_dense_and_sparse_agree() {
        let order = [5, 2, 9, 1];
        let far = [5, 2, 9_000_000, 1];
        let (d, s) = (Rank::new(&order), Rank::new(&far));
        assert!(matches!(d, Rank::Dense(_)) && matches!(s, Rank::Sparse(_)));
        for (id, want) in [(5, 0), (2, 1), (1, 3), (7, u32::MAX), (-1, u32::MAX)] {
            assert_eq!(d.get(id), want, "dense {id}");
            assert_eq!(s.get(id), want, "sparse {id}");
        }
        assert_eq!((d.get(9), s.get(9_000_000)), (2, 2));
    }

    #[test]
    fn contains_in_any_case() {
        assert!(contains_folded("/Docs/Ledger.TXT", "ledger.txt"));
        assert!(!contains_folded("/Docs/Ledger.TXT", "ledgers"));
        assert!(contains_folded("/Фото/ОТЧЁТ.doc", "отчёт"));
        assert!(!contains_folded("/plain", "отчёт"));
        assert!(contains_folded("/x", ""));
    }
}
