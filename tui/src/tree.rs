//! The file browser's tree: each filesystem of each evidence item is a top-level
//! folder (orphans stay grouped under the `$OrphanFiles` folder the readers put
//! them in), carved files are grouped by type under the item's `carved` folder.
//!
//! Every artifact's place is worked out once, when the case is read (`TreeIndex`);
//! rows are rebuilt only when a filter or an open folder changes, never per frame.

use crate::data::CaseData;
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

/// Separates components in keys. It sorts before every character a name can hold,
/// so keys sort in the order of their components.
const SEP: char = '\u{0}';

/// Where each artifact sits (its components joined by `SEP`), and all artifacts in
/// that order.
#[derive(Debug, Clone, Default)]
pub struct TreeIndex {
    keys: Vec<String>,
    order: Vec<usize>,
}

/// An artifact's place: its group (evidence, volume and filesystem, or the
/// evidence's carved files and their type), then its path's components.
fn key(a: &ArtifactRecord, file_type: &str) -> String {
    let clean = |s: &str| s.replace(SEP, "\u{fffd}");
    let mut k = String::new();
    if a.origin == dredge_session::ArtifactOrigin::Carved {
        let label = a.forensic_path.split('/').next().unwrap_or("?");
        k.push_str(&clean(label));
        k.push_str(" carved");
        k.push(SEP);
        k.push_str(if file_type.is_empty() {
            "other"
        } else {
            file_type
        });
        k.push(SEP);
        k.push_str(&clean(a.path.rsplit('/').next().unwrap_or(&a.path)));
        return k;
    }
    let group: Vec<&str> = a.forensic_path.splitn(4, '/').take(3).collect();
    k.push_str(&clean(&group.join(" ")));
    for c in a.path.split('/').filter(|s| !s.is_empty()) {
        k.push(SEP);
        k.push_str(&clean(c));
    }
    k
}

impl TreeIndex {
    pub fn new(arts: &[ArtifactRecord], types: &[String]) -> TreeIndex {
        let keys: Vec<String> = arts.iter().zip(types).map(|(a, t)| key(a, t)).collect();
        let mut order: Vec<usize> = (0..arts.len()).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
        TreeIndex { keys, order }
    }
}

fn group_of(k: &str) -> &str {
    k.split(SEP).next().unwrap_or(k)
}

/// The group keys (top-level folders) of the given artifacts: opened when the tree
/// is first shown.
pub fn roots(case: &CaseData, shown: &[usize]) -> Vec<String> {
    let mut r: Vec<String> = shown
        .iter()
        .map(|&i| group_of(&case.tree.keys[i]).to_string())
        .collect();
    r.sort();
    r.dedup();
    r
}

/// The visible rows: folders in name order, each followed by its contents when open.
pub fn build(case: &CaseData, shown: &[usize], open: &HashSet<String>) -> Vec<Row> {
    let arts = &case.artifacts;
    let idx = &case.tree;
    let mut wanted = vec![false; arts.len()];
    for &i in shown {
        wanted[i] = true;
    }
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for &i in idx.order.iter().filter(|&&i| wanted[i]) {
        if arts[i].kind == dredge_session::EntryKind::Directory {
            continue;
        }
        let k = idx.keys[i].as_str();
        for (p, _) in k.match_indices(SEP) {
            let e = counts.entry(&k[..p]).or_default();
            e.0 += 1;
            e.1 += usize::from(arts[i].deleted);
        }
    }
    let dir_row = |prefix: &str, art: Option<usize>| {
        let (files, deleted) = counts.get(prefix).copied().unwrap_or_default();
        Row::Dir {
            key: prefix.to_string(),
            name: prefix.rsplit(SEP).next().unwrap_or(prefix).to_string(),
            depth: prefix.matches(SEP).count(),
            files,
            deleted,
            open: open.contains(prefix),
            art,
        }
    };
    let mut rows = Vec::new();
    let mut emitted: HashSet<&str> = HashSet::new();
    'entries: for &i in idx.order.iter().filter(|&&i| wanted[i]) {
        let k = idx.keys[i].as_str();
        // Its folders, each shown while the ones above it are open.
        for (p, _) in k.match_indices(SEP) {
            let prefix = &k[..p];
            if emitted.insert(prefix) {
                rows.push(dir_row(prefix, None));
            }
            if !open.contains(prefix) {
                continue 'entries;
            }
        }
        if arts[i].kind == dredge_session::EntryKind::Directory || !k.contains(SEP) {
            if emitted.insert(k) {
                rows.push(dir_row(k, Some(i)));
            } else if let Some(Row::Dir { art, .. }) = rows
                .iter_mut()
                .rev()
                .find(|r| matches!(r, Row::Dir { key, .. } if key == k))
            {
                art.get_or_insert(i);
            }
        } else {
            rows.push(Row::File {
                art: i,
                name: k.rsplit(SEP).next().unwrap_or(k).to_string(),
                depth: k.matches(SEP).count(),
            });
        }
    }
    rows
}
