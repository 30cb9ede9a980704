//! The file browser's tree: each filesystem of each evidence item is a top-level
//! folder (orphans stay grouped under the `$OrphanFiles` folder the readers put
//! them in), carved files are grouped by type under the item's `carved` folder.
//!
//! The store hands the artifacts over one at a time in the order of their place
//! ([`key`], sorted by SQLite, which spills to its temporary file), so what is
//! held is the rows of open folders and a count per folder, never every file.
//! Rows are rebuilt only when a filter or an open folder changes, never per frame.

use crate::data::CaseData;
use dredge_session::{Browse, TreeItem};
use std::collections::{BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Dir {
        key: String,
        name: String,
        depth: usize,
        /// Files below it (all depths) that pass the filters, and how many are deleted.
        files: usize,
        deleted: usize,
        open: bool,
        /// The directory's own entry (its row id), when the filesystem has one.
        art: Option<i64>,
    },
    File {
        art: i64,
        name: String,
        depth: usize,
    },
}

impl Row {
    pub fn art(&self) -> Option<i64> {
        match self {
            Row::Dir { art, .. } => *art,
            Row::File { art, .. } => Some(*art),
        }
    }
}

/// Separates components in keys. It sorts before every character a name can hold
/// (names holding it, or NUL, have it replaced), so keys sort in the order of
/// their components.
const SEP: char = '\u{1}';
/// The character after `SEP`: a folder's keys lie between `folder SEP` and this.
const AFTER_SEP: char = '\u{2}';

/// An artifact's place: its group (evidence, volume and filesystem, or the
/// evidence's carved files and their type), then its path's components, joined
/// by `SEP`. The store sorts by it.
pub fn key(origin: &str, forensic_path: &str, path: &str) -> String {
    let clean = |s: &str| s.replace([SEP, '\0'], "\u{fffd}");
    let mut k = String::new();
    if origin == dredge_session::ArtifactOrigin::Carved.as_str() {
        let label = forensic_path.split('/').next().unwrap_or("?");
        k.push_str(&clean(label));
        k.push_str(" carved");
        k.push(SEP);
        let t = dredge_session::file_type(path);
        k.push_str(if t.is_empty() { "other" } else { &t });
        k.push(SEP);
        k.push_str(&clean(path.rsplit('/').next().unwrap_or(path)));
        return k;
    }
    let group: Vec<&str> = forensic_path.splitn(4, '/').take(3).collect();
    k.push_str(&clean(&group.join(" ")));
    for c in path.split('/').filter(|s| !s.is_empty()) {
        k.push(SEP);
        k.push_str(&clean(c));
    }
    k
}

/// What one build of the tree yields.
pub struct Tree {
    /// The visible rows: folders in name order, each followed by its contents when open.
    pub rows: Vec<Row>,
    /// The group keys (top-level folders).
    pub roots: BTreeSet<String>,
    /// How many artifacts passed the filters.
    pub matched: usize,
}

/// Builds the visible rows of the artifacts that pass `b`. With `open_roots`, the
/// top-level folders count as open (the tree's first showing).
pub fn build(
    case: &CaseData,
    b: &Browse,
    open: &HashSet<String>,
    open_roots: bool,
) -> Result<Tree, String> {
    rows_of(case, b, open, open_roots, None)
}

/// The rows below the open folder `folder` (its key), as [`build`] would show
/// them: only its own contents are read, so opening a folder does not read the
/// whole tree again.
pub fn below(
    case: &CaseData,
    b: &Browse,
    open: &HashSet<String>,
    folder: &str,
) -> Result<Vec<Row>, String> {
    let (lo, hi) = (format!("{folder}{SEP}"), format!("{folder}{}", AFTER_SEP));
    let t = rows_of(case, b, open, false, Some((&lo, &hi)))?;
    // The folder and those above it come first: they are shown already.
    let above = |k: &str| folder == k || folder.starts_with(&format!("{k}{SEP}"));
    Ok(t.rows
        .into_iter()
        .skip_while(|r| matches!(r, Row::Dir { key, .. } if above(key)))
        .collect())
}

fn rows_of(
    case: &CaseData,
    b: &Browse,
    open: &HashSet<String>,
    open_roots: bool,
    within: Option<(&str, &str)>,
) -> Result<Tree, String> {
    let mut rows: Vec<Row> = Vec::new();
    let mut roots = BTreeSet::new();
    let mut matched = 0;
    // Files below each folder prefix: (files, deleted).
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    // Folder rows already made, by key.
    let mut made: HashMap<String, usize> = HashMap::new();
    let is_open = |p: &str| open.contains(p) || (open_roots && !p.contains(SEP));
    let dir_row = |prefix: &str, art: Option<i64>| Row::Dir {
        key: prefix.to_string(),
        name: prefix.rsplit(SEP).next().unwrap_or(prefix).to_string(),
        depth: prefix.matches(SEP).count(),
        files: 0,
        deleted: 0,
        open: is_open(prefix),
        art,
    };
    let mut each = |it: TreeItem| {
        matched += 1;
        let k = it.key.as_str();
        roots.insert(k.split(SEP).next().unwrap_or(k).to_string());
        if !it.directory {
            for (p, _) in k.match_indices(SEP) {
                let e = counts.entry(k[..p].to_string()).or_default();
                e.0 += 1;
                e.1 += usize::from(it.deleted);
            }
        }
        // Its folders, each shown while the ones above it are open.
        for (p, _) in k.match_indices(SEP) {
            let prefix = &k[..p];
            if !made.contains_key(prefix) {
                made.insert(prefix.to_string(), rows.len());
                rows.push(dir_row(prefix, None));
            }
            if !is_open(prefix) {
                return;
            }
        }
        if it.directory || !k.contains(SEP) {
            match made.get(k) {
                None => {
                    made.insert(k.to_string(), rows.len());
                    rows.push(dir_row(k, Some(it.rowid)));
                }
                Some(&i) => {
                    if let Some(Row::Dir { art, .. }) = rows.get_mut(i) {
                        art.get_or_insert(it.rowid);
                    }
                }
            }
        } else {
            rows.push(Row::File {
                art: it.rowid,
                name: k.rsplit(SEP).next().unwrap_or(k).to_string(),
                depth: k.matches(SEP).count(),
            });
        }
    };
    case.store
        .browse_tree(b, dredge_session::pick_modified, key, within, &mut each)
        .map_err(|e| e.to_string())?;
    for r in &mut rows {
        if let Row::Dir {
            key,
            files,
            deleted,
            ..
        } = r
        {
            (*files, *deleted) = counts.get(key.as_str()).copied().unwrap_or_default();
        }
    }
    Ok(Tree {
        rows,
        roots,
        matched,
    })
}
