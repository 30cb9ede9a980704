//! ext2/3/4, read-only and forensic: the namespace from the root, deleted names from
//! directory slack, an inode sweep for deleted and orphaned inodes, backup
//! superblocks and group descriptors, and the jbd2 journal as a source of older
//! inode copies for files whose block maps the kernel wiped on deletion.
//! (docs/decisions/0007-own-ext-reader.md)

mod deleted;
mod dir;
mod inode;
mod journal;
mod layout;
mod sb;

use dredge_core::{
    Entry, EntryKind, Extent, FileSystem, Finding, Recovery, Run, RunData, VolumeReader,
};
use inode::{Inode, EXT4_INDEX_FL, EXT4_INLINE_DATA_FL};
use journal::Journal;
pub use sb::Superblock;
use sb::{Group, BG_INODE_UNINIT};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};

/// Directories larger than this are damage (a million entries is ~64 MiB).
const MAX_DIR_BYTES: u64 = 256 << 20;
const MAX_DEPTH: usize = 256;
/// Entry ids for deleted names whose inode is now used by something else; they
/// need ids of their own, distinct from inode numbers.
const NAME_ONLY_ID: u64 = 1 << 62;

pub struct ExtFs {
    vol: VolumeReader,
    sb: Superblock,
    groups: Vec<Group>,
    findings: Vec<Finding>,
    bitmap: OnceLock<Vec<u8>>,
    journal: OnceLock<Option<Journal>>,
    journal_runs: OnceLock<Option<(Vec<Run>, u64)>>,
    /// Inode tables read whole, most recent last.
    tables: Mutex<TableCache>,
    /// Block runs all layouts of this reader may still hold. Files do not share
    /// blocks, so a real volume has fewer runs than blocks (twice, with deleted
    /// inodes over reused blocks); crafted inodes that all point at one extent leaf
    /// would otherwise hold millions of runs each.
    runs_left: AtomicU64,
}

/// Inode tables by group, (bytes, read cleanly), in the order they were read;
/// and the bytes they hold.
type TableCache = (
    std::collections::VecDeque<(usize, Arc<(Vec<u8>, bool)>)>,
    u64,
);

/// Runs any file's layout may have even once the reader's run budget is spent.
const RUNS_FLOOR: u64 = 256;

/// Memory for cached inode tables. A walk meets a folder's files in few groups
/// (the allocator puts them near their folder), so a few recent tables serve
/// nearly every inode; the oldest go first. Holding every table (as once, up to
/// 256 MiB) made memory grow with the volume's inode count.
const TABLE_CACHE_BYTES: u64 = 16 << 20;

pub fn probe(vol: &VolumeReader) -> bool {
    let mut f = Vec::new();
    sb::find(vol, &mut f).is_ok()
}

struct Named {
    paths: Vec<(String, u64)>,
}

impl ExtFs {
    pub fn open(vol: VolumeReader) -> Result<ExtFs, Finding> {
        let mut findings = Vec::new();
        let sb = sb::find(&vol, &mut findings)?;
        let groups = sb::groups(&vol, &sb, &mut findings)?;
        let size = sb.blocks_count.saturating_mul(sb.block_size);
        if size > vol.len() {
            findings.push(
                Finding::new(
                    vol.base(),
                    "ext filesystem is larger than the space it was found in",
                )
                .expected(format!("<= {} bytes", vol.len()), size),
            );
        }
        let runs_budget = (vol.len() / sb.block_size.max(1))
            .saturating_mul(2)
            .saturating_add(1 << 20);
        Ok(ExtFs {
            vol,
            sb,
            groups,
            findings,
            bitmap: OnceLock::new(),
            journal: OnceLock::new(),
            journal_runs: OnceLock::new(),
            tables: Mutex::new((std::collections::VecDeque::new(), 0)),
            runs_left: AtomicU64::new(runs_budget),
        })
    }

    pub fn superblock(&self) -> &Superblock {
        &self.sb
    }

    fn bs(&self) -> u64 {
        self.sb.block_size
    }

    fn abs_block(&self, b: u64) -> u64 {
        self.vol.base() + b * self.bs()
    }

    /// Image offset of an inode and whether it can exist.
    fn inode_location(&self, n: u32) -> Option<(u64, u64)> {
        if n == 0 || n > self.sb.inodes_count {
            return None;
        }
        let idx = u64::from(n - 1);
        let ipg = u64::from(self.sb.inodes_per_group);
        let g = self.groups.get((idx / ipg) as usize)?;
        let within = (idx % ipg) * u64::from(self.sb.inode_size);
        let table_block = g.inode_table + within / self.bs();
        Some((table_block, within % self.bs()))
    }

    fn read_inode(&self, n: u32) -> Option<Inode> {
        let (b, clean) = self.inode_bytes(n)?;
        clean.then(|| Inode::parse(&b))
    }

    fn raw_inode(&self, n: u32) -> Option<Vec<u8>> {
        self.inode_bytes(n).map(|x| x.0)
    }

    /// The used part of group `g`'s inode table, read once and cached within a
    /// memory budget (walking a large filesystem otherwise costs one small read per
    /// inode). `None` when over budget.
    fn table(&self, g: usize) -> Option<Arc<(Vec<u8>, bool)>> {
        let gr = self.groups.get(g)?;
        let ipg = u64::from(self.sb.inodes_per_group);
        // Only the part of the table in use (the rest is zeroed or never written).
        let unused = if self.sb.ro_compat & (0x10 | sb::RO_COMPAT_METADATA_CSUM) != 0 {
            u64::from(gr.itable_unused)
        } else {
            0
        };
        let bytes = ipg.saturating_sub(unused) * u64::from(self.sb.inode_size);
        let mut c = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, t)) = c.0.iter().rev().find(|(k, _)| *k == g) {
            return Some(Arc::clone(t));
        }
        if bytes > TABLE_CACHE_BYTES {
            return None;
        }
        while c.1 + bytes > TABLE_CACHE_BYTES {
            let Some((_, old)) = c.0.pop_front() else {
                break;
            };
            c.1 -= old.0.len() as u64;
        }
        let mut t = vec![0u8; bytes as usize];
        let clean = self
            .vol
            .read_at(gr.inode_table * self.bs(), &mut t)
            .is_ok_and(|r| r.is_clean());
        let t = Arc::new((t, clean));
        c.1 += bytes;
        c.0.push_back((g, Arc::clone(&t)));
        Some(t)
    }

    /// An inode's bytes and whether they were read cleanly.
    fn inode_bytes(&self, n: u32) -> Option<(Vec<u8>, bool)> {
        let (blk, off) = self.inode_location(n)?;
        let isz = self.sb.inode_size as usize;
        let g = (u64::from(n - 1) / u64::from(self.sb.inodes_per_group)) as usize;
        if let Some(t) = self.table(g) {
            let at = ((blk - self.groups.get(g)?.inode_table) * self.bs() + off) as usize;
            if let (true, Some(b)) = (t.1, t.0.get(at..at + isz)) {
                return Some((b.to_vec(), true));
            }
        }
        let mut b = vec![0u8; isz];
        let r = self.vol.read_at(blk * self.bs() + off, &mut b).ok()?;
        Some((b, r.is_clean()))
    }

    fn dir_data(
        &self,
        ino: &Inode,
        raw: &[u8],
        findings: &mut Vec<Finding>,
        at: u64,
    ) -> Vec<(u64, Vec<u8>)> {
        let mut problems = Vec::new();
        if ino.size > MAX_DIR_BYTES {
            findings.push(
                Finding::new(at, "directory larger than the read budget")
                    .expected(format!("<= {MAX_DIR_BYTES}"), ino.size),
            );
            return Vec::new();
        }
        let runs = self.layout(ino, Some(raw), &mut problems);
        for p in problems {
            findings.push(Finding::new(at, format!("directory inode: {p}")));
        }
        let mut out = Vec::new();
        for r in runs {
            match &r.data {
                RunData::Image(a) => {
                    let mut b = vec![0u8; r.len as usize];
                    match self.vol.source().read_at(*a, &mut b) {
                        Ok(rep) if !rep.is_clean() => findings.push(Finding::new(
                            *a,
                            "directory block partly unreadable; entries there are lost",
                        )),
                        Err(e) => findings
                            .push(Finding::new(*a, format!("directory block unreadable: {e}"))),
                        _ => {}
                    }
                    out.push((*a, b));
                }
                RunData::Inline(b) => out.push((at + 40, b.to_vec())),
                RunData::Sparse | RunData::Decoded(_) => {}
            }
        }
        out
    }
}

impl FileSystem for ExtFs {
    fn type_name(&self) -> &'static str {
        self.sb.type_name()
    }

    fn label(&self) -> Option<String> {
        self.sb.label.clone()
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }

    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        let max_inode = self.sb.inodes_count;
        // inode -> names reaching it (path, image offset of the directory record)
        let mut named: BTreeMap<u32, Named> = BTreeMap::new();
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
                named
                    .entry(e.inode)
                    .or_insert_with(|| Named { paths: Vec::new() })
                    .paths
                    .push((full.clone(), at));
                if e.ftype == 2 || e.ftype == 0 {
                    if depth + 1 >= MAX_DEPTH {
                        findings.push(Finding::new(
                            at,
                            format!("{full}: nested deeper than {MAX_DEPTH}; not entered"),
                        ));
                    } else if visited.insert(e.inode) {
                        stack.push((e.inode, full, depth + 1));
                    }
                }
            }
        }
        let mut emitted: HashSet<u32> = HashSet::new();
        // Live names.
        // Consumed as emitted: the names are moved into the entries, not copied.
        for (n, names) in named {
            let Some(raw) = self.raw_inode(n) else {
                findings.push(Finding::new(
                    names.paths[0].1,
                    format!("{}: inode {n} unreadable", names.paths[0].0),
                ));
                continue;
            };
            let ino = Inode::parse(&raw);
            let mut problems = Vec::new();
            let deleted = ino.is_deleted();
            let (size, runs, recovery) = if deleted {
                self.deleted_layout(n, &ino, &raw)
            } else {
                let r = self.layout(&ino, Some(&raw), &mut problems);
                (ino.size, r, Recovery::Allocated)
            };
            for p in problems {
                findings.push(Finding::new(
                    names.paths[0].1,
                    format!("{}: {p}", names.paths[0].0),
                ));
            }
            // The first name in walk (directory) order is the primary one.
            let mut paths = names.paths.into_iter();
            let Some((path, at)) = paths.next() else {
                continue;
            };
            emitted.insert(n);
            visit(Entry {
                id: u64::from(n),
                path,
                other_names: paths.map(|p| p.0).collect(),
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
        // Inode sweep: deleted or unreachable inodes no name led to.
        let first_ino = self.sb.first_ino;
        let ipg = self.sb.inodes_per_group;
        for (gi, g) in self.groups.iter().enumerate() {
            if g.flags & BG_INODE_UNINIT != 0 {
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

    fn unallocated(&self, _findings: &mut Vec<Finding>) -> Vec<Extent> {
        let bs = self.bs();
        let volume = Extent::new(self.vol.base(), self.vol.len());
        let mut out: Vec<Extent> = Vec::new();
        let total = self.sb.blocks_count.min(self.vol.len() / bs);
        for b in u64::from(self.sb.first_data_block)..total {
            if self.block_allocated(b) {
                continue;
            }
            let Some(x) = Extent::new(self.abs_block(b), bs).intersect(&volume) else {
                continue;
            };
            match out.last_mut() {
                Some(l) if l.end() == x.start => l.len += x.len,
                _ => out.push(x),
            }
        }
        out
    }
}

fn ftype_kind(ft: u8) -> EntryKind {
    match ft {
        1 => EntryKind::File,
        2 => EntryKind::Directory,
        3 | 4 => EntryKind::Device,
        5 => EntryKind::Fifo,
        6 => EntryKind::Socket,
        7 => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}
