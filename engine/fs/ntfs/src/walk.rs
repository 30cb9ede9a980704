//! The walk: every MFT record, in MFT order, as an entry per stream, paths
//! rebuilt from $FILE_NAME parent references.
//!
//! Two sweeps over the records. The first keeps what paths are made of — each
//! folder's names and sequence number — and where extension
//! records belong; the second reads each record again and lists it, its path
//! made from its own names and the folders'. Files are not kept between the
//! sweeps, so the walk holds the folders (and the paths of those on a listed
//! path), not the files (issue 18): memory follows the folder count.

use crate::i30::{name_key, FolderIndex};
use crate::record::{file_name, Attribute, FileName, Record, Value, AT_DATA, AT_FILE_NAME};
use crate::{best_name, times, NtfsFs, EXTEND, LOGFILE, ROOT};
use dredge_core::{Entry, EntryKind, Finding, Recovery};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A folder, as paths need it.
struct Folder {
    sequence: u16,
    in_use: bool,
    names: Vec<FileName>,
}

pub(crate) fn names_of(rec: &Record) -> Vec<FileName> {
    rec.attrs
        .iter()
        .filter(|a| a.ty == AT_FILE_NAME)
        .filter_map(|a| match &a.value {
            Value::Resident(v) => file_name(v),
            _ => None,
        })
        .collect()
}

impl NtfsFs {
    /// Lists every record, the names of folder indexes and the change
    /// journal, then the names of index blocks found in free space. With
    /// `free_index_only`, only those last: the records are swept for the
    /// folders and deleted names they are read against, and not listed.
    pub(crate) fn walk_all(
        &self,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
        free_index_only: bool,
    ) {
        let rs = self.boot.record_size;
        let mut folders: BTreeMap<u64, Folder> = BTreeMap::new();
        let mut extension: HashMap<u64, Vec<u64>> = HashMap::new();
        let mapped = self.mapped_records(self.record_count(), findings);
        for n in mapped.iter().flat_map(|&(a, b)| a..b) {
            let (rec, note) = self.record(n);
            let at = self.vol.base() + self.mft_offset(n * rs).unwrap_or(0);
            if let Some(note) = note {
                findings.push(Finding::new(at, format!("MFT record {n}: {note}")));
            }
            let Some(rec) = rec else { continue };
            for p in &rec.problems {
                findings.push(Finding::new(at, format!("MFT record {n}: {p}")));
            }
            if rec.base != 0 && rec.base != n {
                // An extension record: its attributes belong to the base record.
                if rec.in_use {
                    extension.entry(rec.base).or_default().push(n);
                }
                continue;
            }
            if rec.directory {
                folders.insert(
                    n,
                    Folder {
                        sequence: rec.sequence,
                        in_use: rec.in_use,
                        names: names_of(&rec),
                    },
                );
            }
        }
        for (base, exts) in &extension {
            if let Some(f) = folders.get_mut(base) {
                for &e in exts {
                    if let (Some(r), _) = self.record(e) {
                        f.names.extend(names_of(&r));
                    }
                }
            }
        }
        // Paths of folders met on a listed path.
        let mut cache: HashMap<u64, String> = HashMap::new();
        let mut slack = Vec::new();
        let mut journal: Option<Vec<Attribute>> = None;
        let mut logfile: Option<Vec<Attribute>> = None;
        // (parent, name) of every deleted record, names hashed: 16 bytes a
        // deleted record.
        let mut gone: HashSet<(u64, u64)> = HashSet::new();
        for n in mapped.iter().flat_map(|&(a, b)| a..b) {
            // Second sweep: the record's attributes, with its extension records'.
            let (Some(mut rec), _) = self.record(n) else {
                continue;
            };
            if rec.base != 0 && rec.base != n {
                continue;
            }
            let mut names = names_of(&rec);
            for &e in extension.get(&n).map(Vec::as_slice).unwrap_or_default() {
                if let (Some(r), _) = self.record(e) {
                    names.extend(names_of(&r));
                    rec.attrs.extend(r.attrs);
                }
            }
            // Folders have their slack searched after the sweep, when the
            // names of every deleted record are known (a slack copy whose
            // header is overwritten is matched to them by name): their index
            // blocks' when they have some, and their own record's.
            if rec.directory && (n == ROOT || !names.is_empty()) {
                let path = if n == ROOT {
                    String::new()
                } else {
                    path_of(n, &names, &folders, &mut cache)
                };
                let i = FolderIndex::of(&rec.attrs);
                slack.push((n, rec.sequence, !rec.in_use, i, path));
            }
            if !rec.in_use {
                for f in &names {
                    gone.insert((f.parent, name_key(&f.name)));
                }
            }
            // The change journal: $Extend/$UsnJrnl, its $J stream.
            if rec.in_use
                && names
                    .iter()
                    .any(|f| f.name == "$UsnJrnl" && f.parent == EXTEND)
            {
                journal = Some(
                    rec.attrs
                        .iter()
                        .filter(|a| a.ty == AT_DATA && a.name == "$J")
                        .cloned()
                        .collect::<Vec<_>>(),
                );
            }
            if n == LOGFILE && rec.in_use {
                let data = rec
                    .attrs
                    .iter()
                    .filter(|a| a.ty == AT_DATA && a.name.is_empty());
                logfile = Some(data.cloned().collect());
            }
            if n == ROOT || names.is_empty() {
                continue;
            }
            if !free_index_only {
                let path = path_of(n, &names, &folders, &mut cache);
                let others = other_paths(&names, &folders, &mut cache);
                self.emit(n, rec, &names, (path, others), visit, findings);
            }
        }
        let mut log = match logfile.filter(|l| !l.is_empty() && !free_index_only) {
            Some(l) => self.logfile_names(&l, findings),
            None => Default::default(),
        };
        if let Some(j) = journal.filter(|j| !j.is_empty() && !free_index_only) {
            let mut parent_path = |p: u64, seq: u16| -> Option<String> {
                if p == ROOT {
                    return Some(String::new());
                }
                let f = folders.get(&p).filter(|f| f.sequence == seq)?;
                let names = f.names.clone();
                Some(path_of(p, &names, &folders, &mut cache))
            };
            self.usn_names(&j, &mut parent_path, &mut log, visit, findings);
        }
        // A folder's path while its record is that folder: in use with that
        // sequence, or deleted since and not reused (deleting raises the
        // sequence by one; a record reused after that keeps it).
        let mut folder_path = |n: u64, seq: u16| -> Option<String> {
            if n == ROOT {
                return Some(String::new());
            }
            let f = folders.get(&n).filter(|f| {
                (f.in_use && f.sequence == seq) || (!f.in_use && f.sequence == seq.wrapping_add(1))
            })?;
            let names = f.names.clone();
            Some(path_of(n, &names, &folders, &mut cache))
        };
        self.emit_log_names(log, &mut folder_path, visit, findings);
        let mut reads = crate::i30::IndexReads {
            budget: self.vol.len(),
            searched: HashSet::new(),
        };
        for (n, seq, deleted, index, path) in slack {
            let folder = crate::i30::Folder {
                n,
                sequence: seq,
                deleted,
                path: &path,
            };
            // Only which blocks it reads matters when listing free ones alone.
            let mut none = |_| {};
            let to: &mut dyn FnMut(Entry) = if free_index_only { &mut none } else { visit };
            match index {
                Some(index) => self.i30_slack(&folder, &index, &gone, &mut reads, to, findings),
                None if !free_index_only => self.root_only_slack(&folder, &gone, to, findings),
                None => {}
            }
        }
        self.free_index_blocks(&reads.searched, &gone, &mut folder_path, visit, findings);
    }

    /// Lists record `n` (its attributes with its extension records') under `path`:
    /// an entry for a folder or a file without an unnamed stream, and one per
    /// stream.
    fn emit(
        &self,
        n: u64,
        rec: Record,
        names: &[FileName],
        (path, other_names): (String, Vec<String>),
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let rs = self.boot.record_size;
        let directory = rec.directory;
        let deleted = !rec.in_use;
        let meta = self.vol.base() + self.mft_offset(n * rs).unwrap_or(0);
        let ts = times(&rec, names);
        // Streams: the unnamed $DATA and each named one (alternate data streams).
        let mut streams: BTreeMap<String, Vec<Attribute>> = BTreeMap::new();
        for a in rec.attrs.iter().filter(|a| a.ty == AT_DATA) {
            streams.entry(a.name.clone()).or_default().push(a.clone());
        }
        if directory || !streams.contains_key("") {
            visit(Entry {
                id: n,
                path: path.clone(),
                other_names: other_names.clone(),
                kind: if directory {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                deleted,
                size: 0,
                times: ts.clone(),
                runs: Vec::new(),
                recovery: if deleted {
                    Recovery::Intact
                } else {
                    Recovery::Allocated
                },
                meta_offset: meta,
            });
        }
        for (k, (sname, ext)) in streams.iter().enumerate() {
            if n == 8 && sname == "$Bad" {
                continue; // $BadClus:$Bad spans the volume sparsely; it is not content
            }
            let mut problems = Vec::new();
            let (runs, size) = self.stream(ext, &mut problems);
            for p in problems {
                findings.push(Finding::new(meta, format!("{path}: {p}")));
            }
            let recovery = if deleted {
                self.judge_deleted(&runs)
            } else {
                Recovery::Allocated
            };
            let (id, p) = if sname.is_empty() {
                (n, path.clone())
            } else {
                (n | ((k as u64 + 1) << 48), format!("{path}:{sname}"))
            };
            visit(Entry {
                id,
                path: p,
                // A stream is reached through every name of its file.
                other_names: if sname.is_empty() {
                    other_names.clone()
                } else {
                    other_names.iter().map(|o| format!("{o}:{sname}")).collect()
                },
                kind: EntryKind::File,
                deleted,
                size,
                times: ts.clone(),
                runs,
                recovery,
                meta_offset: meta,
            });
        }
    }
}

/// The path of record `n` from its own names and its folders'; a parent that is
/// gone, reused (another sequence number) or not a folder makes an orphan.
/// The full paths of a record's names other than the one its path is made
/// of: hard links (a name in another folder, or another name in the same
/// one) and its DOS 8.3 name, as ext lists its links. A name whose folder is
/// not known goes under `/$OrphanFiles`, as a path would.
fn other_paths(
    names: &[FileName],
    folders: &BTreeMap<u64, Folder>,
    cache: &mut HashMap<u64, String>,
) -> Vec<String> {
    let best = best_name(names).map(|f| (f.parent, f.name.as_str()));
    let mut out = std::collections::BTreeSet::new();
    for f in names {
        if Some((f.parent, f.name.as_str())) == best {
            continue;
        }
        let dir = if f.parent == ROOT {
            String::new()
        } else {
            match folders
                .get(&f.parent)
                .filter(|p| p.sequence == f.parent_seq || f.parent_seq == 0)
            {
                Some(p) => path_of(f.parent, &p.names, folders, cache),
                None => "/$OrphanFiles".into(),
            }
        };
        out.insert(format!("{dir}/{}", f.name));
    }
    out.into_iter().collect()
}

fn path_of(
    n: u64,
    own: &[FileName],
    folders: &BTreeMap<u64, Folder>,
    cache: &mut HashMap<u64, String>,
) -> String {
    let mut chain = Vec::new();
    let mut cur = n;
    let mut names = own;
    let mut prefix = String::new();
    for _ in 0..256 {
        if cur == ROOT {
            break;
        }
        if let Some(p) = cache.get(&cur) {
            prefix = p.clone();
            break;
        }
        let Some(f) = best_name(names) else {
            prefix = "/$OrphanFiles".into();
            break;
        };
        chain.push((cur, f.name.clone()));
        let parent_ok = folders
            .get(&f.parent)
            .is_some_and(|p| p.sequence == f.parent_seq || f.parent_seq == 0);
        if !parent_ok || chain.iter().any(|(c, _)| *c == f.parent) {
            prefix = "/$OrphanFiles".into();
            break;
        }
        cur = f.parent;
        names = folders.get(&cur).map_or(&[], |p| p.names.as_slice());
    }
    let mut path = prefix;
    for (c, name) in chain.into_iter().rev() {
        path = format!("{path}/{name}");
        // Folders only: a file's path is made once.
        if folders.contains_key(&c) {
            cache.insert(c, path.clone());
        }
    }
    path
}
