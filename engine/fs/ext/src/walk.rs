//! The walk: the namespace from the root (live names, and deleted ones from
//! directory slack and the journal's older copies of directory blocks), then
//! deleted names joined to their inodes, then the inode sweep for deleted and
//! orphaned inodes no name led to.
//!
//! Each inode is listed when its name is met, in walk order (issue 18: memory
//! does not grow with the file count). Only inodes with more than one link wait
//! until every directory is read, so their entry carries all their names.

use crate::gdt::BG_INODE_UNINIT;
use crate::inode::{Inode, EXT4_INDEX_FL, EXT4_INLINE_DATA_FL};
use crate::sb;
use crate::{dir, ftype_kind, ExtFs, MAX_DEPTH, NAME_ONLY_ID};
use dredge_core::{Entry, EntryKind, Finding, Recovery, RunData};
use std::collections::{BTreeMap, HashSet};

/// Names of hard-linked inodes met so far: (path, image offset of the record).
type Held = BTreeMap<u32, Vec<(String, u64)>>;

impl ExtFs {
    pub(crate) fn walk_all(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        let max_inode = self.sb.inodes_count;
        // Hard-linked inodes -> the names reaching them so far (path, image offset
        // of the directory record): listed once every directory is read. Every
        // other inode is listed when its name is met, so the walk holds the
        // namespace only of the folders still to be read, whatever the file count.
        let mut held: BTreeMap<u32, Vec<(String, u64)>> = BTreeMap::new();
        let mut emitted: HashSet<u32> = HashSet::new();
        let mut deleted_names: Vec<(u32, String, u64, u8)> = Vec::new();
        let mut visited: HashSet<u32> = HashSet::new();
        let mut stack: Vec<(u32, String, usize)> = vec![(2, String::new(), 0)];
        visited.insert(2);
        while let Some((dino, path, depth)) = stack.pop() {
            let Some(raw) = self.raw_inode(dino) else {
                findings.push(Finding::new(
                    self.vol.base(),
                    format!("directory inode {dino} ({path}/) is unreadable"),
                ));
                continue;
            };
            let ino = Inode::parse(&raw);
            let loc = self
                .inode_location(dino)
                .map_or(0, |(b, o)| self.abs_block(b) + o);
            if ino.kind() != EntryKind::Directory {
                findings.push(Finding::new(
                    loc,
                    format!("inode {dino} reached as directory {path}/ is not a directory"),
                ));
                continue;
            }
            let htree = ino.flags & EXT4_INDEX_FL != 0;
            let mut ents = Vec::new();
            for (bi, (at, data)) in self
                .dir_data(&ino, &raw, findings, loc)
                .into_iter()
                .enumerate()
            {
                // An inline directory (inline_data) is not in blocks: its first
                // four bytes name the parent, then entries fill the rest of
                // i_block (56 bytes) and, apart, the `system.data` attribute.
                let inline = ino.flags & EXT4_INLINE_DATA_FL != 0;
                let regions: Vec<(u64, &[u8])> = if inline {
                    let cut = data.len().min(60);
                    [
                        (at + 4, data.get(4..cut).unwrap_or_default()),
                        (at + 60, &data[cut..]),
                    ]
                    .into_iter()
                    .filter(|(_, r)| !r.is_empty())
                    .collect()
                } else {
                    data.chunks(self.bs() as usize)
                        .enumerate()
                        .map(|(ci, c)| (at + (ci as u64) * self.bs(), c))
                        .collect()
                };
                for (ci, (base, chunk)) in regions.into_iter().enumerate() {
                    let mut local = Vec::new();
                    if let Some(p) = dir::parse_block(
                        chunk,
                        0,
                        max_inode,
                        htree && bi == 0 && ci == 0,
                        &mut local,
                    ) {
                        findings.push(Finding::new(base, format!("directory {path}/: {p}")));
                    }
                    ents.extend(local.into_iter().map(|e| (base + e.offset as u64, e)));
                }
            }
            // Older copies of this directory's blocks in the journal still hold
            // the names of entries deleted since (the kernel may wipe them in place).
            let mut from_journal = Vec::new();
            // Built only when the journal holds copies of this directory.
            let mut live: Option<HashSet<(u32, String)>> = None;
            if let Some(j) = self.journal().filter(|j| !j.copies.is_empty()) {
                let mut problems = Vec::new();
                for r in self.layout(&ino, Some(&raw), &mut problems) {
                    let RunData::Image(at) = r.data else { continue };
                    let first = (at - self.vol.base()) / self.bs();
                    for blk in first..first + r.len.div_ceil(self.bs()) {
                        for c in j.copies.get(&blk).map(Vec::as_slice).unwrap_or_default() {
                            let Some(old) = self.journal_block(c) else {
                                continue;
                            };
                            let mut olds = Vec::new();
                            let _ = dir::parse_block(
                                &old,
                                0,
                                max_inode,
                                htree && blk == first,
                                &mut olds,
                            );
                            let live = live.get_or_insert_with(|| {
                                ents.iter()
                                    .filter(|(_, e)| !e.deleted)
                                    .map(|(_, e)| (e.inode, e.name.clone()))
                                    .collect()
                            });
                            for mut e in olds {
                                if e.name == "."
                                    || e.name == ".."
                                    || live.contains(&(e.inode, e.name.clone()))
                                {
                                    continue;
                                }
                                e.deleted = true;
                                let jat =
                                    self.journal_image_offset(c).unwrap_or(0) + e.offset as u64;
                                from_journal.push((jat, e));
                            }
                        }
                    }
                }
            }
            let mut seen_deleted: HashSet<(u32, String)> = HashSet::new();
            for (at, e) in ents.into_iter().chain(from_journal) {
                if e.name == "." || e.name == ".." {
                    continue;
                }
                if e.deleted && !seen_deleted.insert((e.inode, e.name.clone())) {
                    continue;
                }
                let full = format!("{path}/{}", e.name);
                if e.deleted {
                    deleted_names.push((e.inode, full, at, e.ftype));
                    continue;
                }
                if e.ftype == 2 || e.ftype == 0 {
                    if depth + 1 >= MAX_DEPTH {
                        findings.push(Finding::new(
                            at,
                            format!("{full}: nested deeper than {MAX_DEPTH}; not entered"),
                        ));
                    } else if visited.insert(e.inode) {
                        stack.push((e.inode, full.clone(), depth + 1));
                    }
                }
                self.name(
                    e.inode,
                    (full, at),
                    &mut held,
                    &mut emitted,
                    visit,
                    findings,
                );
            }
        }
        // Hard-linked inodes, with every live name found.
        for (n, paths) in held {
            let Some(raw) = self.raw_inode(n) else {
                continue;
            };
            let ino = Inode::parse(&raw);
            self.emit(n, (&raw, &ino), paths, visit, findings);
            emitted.insert(n);
        }
        // Deleted names: joined to their inode when it is deleted too.
        let mut by_inode: BTreeMap<u32, Vec<(String, u64, u8)>> = BTreeMap::new();
        for (n, p, at, ft) in deleted_names {
            by_inode.entry(n).or_default().push((p, at, ft));
        }
        for (n, mut names) in by_inode {
            names.sort();
            let raw = self.raw_inode(n);
            let ino = raw.as_deref().map(Inode::parse);
            match ino {
                Some(ino) if !emitted.contains(&n) && (ino.is_deleted() || ino.is_empty()) => {
                    let raw = raw.unwrap_or_default();
                    let (size, runs, recovery) = self.deleted_layout(n, &ino, &raw);
                    emitted.insert(n);
                    visit(Entry {
                        id: u64::from(n),
                        path: names[0].0.clone(),
                        other_names: names[1..].iter().map(|x| x.0.clone()).collect(),
                        kind: if ino.mode == 0 {
                            ftype_kind(names[0].2)
                        } else {
                            ino.kind()
                        },
                        deleted: true,
                        size,
                        times: ino.times.clone(),
                        runs,
                        recovery,
                        meta_offset: names[0].1,
                    });
                }
                _ => {
                    // The inode is in use by another file (or unreadable): only the
                    // name is evidence now.
                    for (p, at, ft) in names {
                        visit(Entry {
                            id: NAME_ONLY_ID | (at - self.vol.base()),
                            path: p,
                            other_names: Vec::new(),
                            kind: ftype_kind(ft),
                            deleted: true,
                            size: 0,
                            times: Vec::new(),
                            runs: Vec::new(),
                            recovery: Recovery::NotRecoverable(format!(
                                "deleted name; inode {n} is now in use by another file"
                            )),
                            meta_offset: at,
                        });
                    }
                }
            }
        }
        // Bitmaps not believed are said once, whether or not a deleted file
        // asked for the allocation: its blocks are what free space is carved from.
        findings.extend(self.allocation().findings.iter().cloned());
        // Inode sweep: deleted or unreachable inodes no name led to.
        let first_ino = self.sb.first_ino;
        let ipg = self.sb.inodes_per_group;
        for (gi, g) in self.groups.iter().enumerate() {
            if g.flags & BG_INODE_UNINIT != 0 || !g.known() {
                continue;
            }
            let isz = u64::from(self.sb.inode_size);
            let used = u64::from(ipg.saturating_sub(
                if self.sb.ro_compat & 0x10 != 0
                    || self.sb.ro_compat & sb::RO_COMPAT_METADATA_CSUM != 0
                {
                    g.itable_unused
                } else {
                    0
                },
            ));
            let bytes = used * isz;
            // The cached table when it fits the budget, else a read of its own.
            let cached = self.table(gi).filter(|t| t.0.len() as u64 >= bytes);
            let owned;
            let table: &[u8] = match &cached {
                Some(t) => &t.0[..bytes as usize],
                None => match self
                    .vol
                    .read_vec(g.inode_table * self.bs(), bytes, 512 << 20)
                {
                    Ok((v, _)) => {
                        owned = v;
                        &owned
                    }
                    Err(_) => {
                        findings.push(Finding::new(
                            self.abs_block(g.inode_table),
                            format!("inode table of group {gi} unreadable"),
                        ));
                        continue;
                    }
                },
            };
            for i in 0..used {
                let n = (gi as u64 * u64::from(ipg) + i + 1) as u32;
                if n < first_ino || emitted.contains(&n) || n == self.sb.journal_inum {
                    continue;
                }
                let raw = &table[(i * isz) as usize..((i + 1) * isz) as usize];
                let ino = Inode::parse(raw);
                if ino.is_empty() || ino.mode == 0 {
                    continue;
                }
                let deleted = ino.is_deleted();
                let (size, runs, recovery) = if deleted {
                    self.deleted_layout(n, &ino, raw)
                } else {
                    let mut p = Vec::new();
                    (
                        ino.size,
                        self.layout(&ino, Some(raw), &mut p),
                        Recovery::Allocated,
                    )
                };
                emitted.insert(n);
                visit(Entry {
                    id: u64::from(n),
                    path: format!("/$OrphanFiles/inode-{n}"),
                    other_names: Vec::new(),
                    kind: ino.kind(),
                    deleted,
                    size,
                    times: ino.times.clone(),
                    runs: if matches!(ino.kind(), EntryKind::File | EntryKind::Symlink) {
                        runs
                    } else {
                        Vec::new()
                    },
                    recovery,
                    meta_offset: self.abs_block(g.inode_table) + i * isz,
                });
            }
        }
    }

    /// A live name `(path, record offset)` of inode `n`: the inode is listed now,
    /// or, when it has more than one link, held until every directory is read.
    fn name(
        &self,
        n: u32,
        (path, at): (String, u64),
        held: &mut Held,
        emitted: &mut HashSet<u32>,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        if let Some(names) = held.get_mut(&n) {
            names.push((path, at));
            return;
        }
        if emitted.contains(&n) {
            // A link count of 1 (or a folder, which has no hard links) named
            // twice: damage. The inode was listed under its first name.
            findings.push(Finding::new(
                at,
                format!("{path}: another name of inode {n}, already listed under its first name"),
            ));
            return;
        }
        let Some(raw) = self.raw_inode(n) else {
            findings.push(Finding::new(at, format!("{path}: inode {n} unreadable")));
            return;
        };
        let ino = Inode::parse(&raw);
        if ino.links > 1 && ino.kind() != EntryKind::Directory {
            held.insert(n, vec![(path, at)]);
            return;
        }
        emitted.insert(n);
        self.emit(n, (&raw, &ino), vec![(path, at)], visit, findings);
    }

    /// Lists inode `n` under its live names, the first (in walk order) the
    /// primary one.
    fn emit(
        &self,
        n: u32,
        (raw, ino): (&[u8], &Inode),
        names: Vec<(String, u64)>,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let mut problems = Vec::new();
        let deleted = ino.is_deleted();
        let (size, runs, recovery) = if deleted {
            self.deleted_layout(n, ino, raw)
        } else {
            let r = self.layout(ino, Some(raw), &mut problems);
            (ino.size, r, Recovery::Allocated)
        };
        let mut names = names.into_iter();
        let Some((path, at)) = names.next() else {
            return;
        };
        for p in problems {
            findings.push(Finding::new(at, format!("{path}: {p}")));
        }
        visit(Entry {
            id: u64::from(n),
            path,
            other_names: names.map(|p| p.0).collect(),
            kind: ino.kind(),
            deleted,
            size: if ino.kind() == EntryKind::Directory {
                ino.size
            } else {
                size
            },
            times: ino.times.clone(),
            runs: if matches!(
                ino.kind(),
                EntryKind::File | EntryKind::Symlink | EntryKind::Directory
            ) {
                runs
            } else {
                Vec::new()
            },
            recovery,
            meta_offset: at,
        });
    }
}
