//! The file browser's tree: each filesystem of each evidence item is a top-level
//! folder (orphans stay grouped under the `$OrphanFiles` folder the readers put
//! them in), carved files are grouped by type under the item's `carved` folder.
//! Rows are rebuilt only when the filter or an open folder changes, never per frame.

use dredge_session::ArtifactRecord;
use std::collections::{HashMap, HashSet};

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
        /// The directory's own entry, when the filesystem has one.
        art: Option<usize>,
    },
    File {
        art: usize,
        name: String,
        depth: usize,
    },
}

impl Row {
    pub fn art(&self) -> Option<usize> {
        match self {
            Row::Dir { art, .. } => *art,
            Row::File { art, .. } => Some(*art),
        }
    }
}

/// Separates components in folder keys; cannot occur in a name shown escaped.
const SEP: char = '\u{0}';

/// Where an artifact sits: its group (evidence, volume and filesystem, or the
/// evidence's carved files and their type), then its path's components.
pub fn components(a: &ArtifactRecord, file_type: &str) -> Vec<String> {
    let mut c = Vec::new();
    if a.origin == "carved" {
        let label = a.forensic_path.split('/').next().unwrap_or("?");
        c.push(format!("{label} carved"));
        c.push(if file_type.is_empty() {
            "other".to_string()
        } else {
            file_type.to_string()
        });
        c.push(a.path.rsplit('/').next().unwrap_or(&a.path).to_string());
        return c;
    }
    let group: Vec<&str> = a.forensic_path.splitn(4, '/').take(3).collect();
    c.push(group.join(" "));
    c.extend(
        a.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
    c
}

fn key_of(c: &[String]) -> String {
    c.join(&SEP.to_string())
}

/// The group keys (top-level folders) of the given artifacts: opened when the tree
/// is first shown.
pub fn roots(arts: &[ArtifactRecord], shown: &[usize], ty: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut r: Vec<String> = shown
        .iter()
        .map(|&i| components(&arts[i], &ty(&arts[i].path))[0].clone())
        .collect();
    r.sort();
    r.dedup();
    r
}

/// The visible rows: folders in name order, each followed by its contents when open.
pub fn build(
    arts: &[ArtifactRecord],
    shown: &[usize],
    open: &HashSet<String>,
    ty: &dyn Fn(&str) -> String,
) -> Vec<Row> {
    let mut entries: Vec<(Vec<String>, usize)> = shown
        .iter()
        .map(|&i| (components(&arts[i], &ty(&arts[i].path)), i))
        .collect();
    entries.sort();
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (c, i) in &entries {
        if arts[*i].kind == "dir" {
            continue;
        }
        for d in 1..c.len() {
            let e = counts.entry(key_of(&c[..d])).or_default();
            e.0 += 1;
            e.1 += usize::from(arts[*i].deleted);
        }
    }
    let mut rows = Vec::new();
    let mut emitted: HashSet<String> = HashSet::new();
    let visible = |c: &[String]| (1..c.len()).all(|d| open.contains(&key_of(&c[..d])));
    let dir_row = |c: &[String], art: Option<usize>| {
        let key = key_of(c);
        let (files, deleted) = counts.get(&key).copied().unwrap_or_default();
        Row::Dir {
            open: open.contains(&key),
            key,
            name: c.last().cloned().unwrap_or_default(),
            depth: c.len() - 1,
            files,
            deleted,
            art,
        }
    };
    for (c, i) in &entries {
        for d in 1..c.len() {
            let prefix = &c[..d];
            if !visible(prefix) {
                break;
            }
            if emitted.insert(key_of(prefix)) {
                rows.push(dir_row(prefix, None));
            }
        }
        if !visible(c) {
            continue;
        }
        if arts[*i].kind == "dir" || c.len() == 1 {
            let key = key_of(c);
            if emitted.insert(key.clone()) {
                rows.push(dir_row(c, Some(*i)));
            } else if let Some(Row::Dir { art, .. }) = rows
                .iter_mut()
                .rev()
                .find(|r| matches!(r, Row::Dir { key: k, .. } if *k == key))
            {
                *art = Some(*i);
            }
        } else {
            rows.push(Row::File {
                art: *i,
                name: c.last().cloned().unwrap_or_default(),
                depth: c.len() - 1,
            });
        }
    }
    rows
}
