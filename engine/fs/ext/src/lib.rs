//! ext2/3/4, read-only and forensic: the namespace from the root, deleted names from
//! directory slack, an inode sweep for deleted and orphaned inodes, backup
//! superblocks and group descriptors, and the jbd2 journal as a source of older
//! inode copies for files whose block maps the kernel wiped on deletion.
//! (docs/decisions/0007-own-ext-reader.md)

mod dir;
mod inode;
mod journal;
mod sb;

use dredge_core::{
    Entry, EntryKind, Extent, FileSystem, Finding, Recovery, Run, RunData, VolumeReader,
};
use inode::{
    blockmap_runs, extent_runs, BlockRun, Budget, Inode, EXT4_EXTENTS_FL, EXT4_INDEX_FL,
    EXT4_INLINE_DATA_FL,
};
use journal::Journal;
pub use sb::Superblock;
use sb::{Group, BG_BLOCK_UNINIT, BG_INODE_UNINIT};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// group -> (inode table bytes, read cleanly); and the bytes cached so far
    tables: Mutex<TableCache>,
    /// Block runs all layouts of this reader may still hold. Files do not share
    /// blocks, so a real volume has fewer runs than blocks (twice, with deleted
    /// inodes over reused blocks); crafted inodes that all point at one extent leaf
    /// would otherwise hold millions of runs each.
    runs_left: AtomicU64,
}

type TableCache = (HashMap<usize, Arc<(Vec<u8>, bool)>>, u64);

/// Runs any file's layout may have even once the reader's run budget is spent.
const RUNS_FLOOR: u64 = 256;

/// Memory for cached inode tables.
const TABLE_CACHE_BYTES: u64 = 256 << 20;

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
            tables: Mutex::new((HashMap::new(), 0)),
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
        if let Some(t) = c.0.get(&g) {
            return Some(Arc::clone(t));
        }
        if c.1 + bytes > TABLE_CACHE_BYTES {
            return None;
        }
        let mut t = vec![0u8; bytes as usize];
        let clean = self
            .vol
            .read_at(gr.inode_table * self.bs(), &mut t)
            .is_ok_and(|r| r.is_clean());
        let t = Arc::new((t, clean));
        c.1 += bytes;
        c.0.insert(g, Arc::clone(&t));
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

    fn budget(&self) -> Budget {
        Budget {
            max_runs: 1 << 20,
            max_blocks_read: 1 << 16,
            full: false,
        }
    }

    /// Block runs of an inode's content, or inline bytes. Problems are described.
    fn layout(&self, ino: &Inode, raw: Option<&[u8]>, problems: &mut Vec<String>) -> Vec<Run> {
        let size = ino.size;
        let bs = self.bs();
        if ino.flags & EXT4_INLINE_DATA_FL != 0 {
            let mut data = ino.block[..(size.min(60)) as usize].to_vec();
            if size > 60 {
                if let Some(extra) = raw.and_then(inline_xattr) {
                    data.extend_from_slice(&extra[..extra.len().min((size - 60) as usize)]);
                }
            }
            let len = data.len() as u64;
            return vec![Run {
                file_offset: 0,
                len,
                data: RunData::Inline(Arc::from(data.into_boxed_slice())),
            }];
        }
        // A fast symlink has no data blocks (an xattr block may still be counted,
        // as the kernel's ext4_inode_is_fast_symlink allows for).
        let xattr_sectors = if ino.file_acl != 0 { bs / 512 } else { 0 };
        if ino.kind() == EntryKind::Symlink
            && size < 60
            && ino.blocks.saturating_sub(xattr_sectors) == 0
        {
            // A fast symlink: the target is in the block array itself.
            let t = ino.block[..size as usize].to_vec();
            return vec![Run {
                file_offset: 0,
                len: size,
                data: RunData::Inline(Arc::from(t.into_boxed_slice())),
            }];
        }
        let mut budget = self.budget();
        let file_blocks = size.div_ceil(bs);
        // No more runs than the file has blocks (extents past its size are cut
        // anyway), nor than the reader has left, but always a few: an ordinary file
        // after a crafted one that spent the reader's budget still gets its layout.
        let left = self.runs_left.load(Ordering::Relaxed);
        budget.max_runs = budget
            .max_runs
            .min(usize::try_from(file_blocks.saturating_add(16)).unwrap_or(usize::MAX))
            .min(usize::try_from(left.max(RUNS_FLOOR)).unwrap_or(usize::MAX));
        let runs = if ino.flags & EXT4_EXTENTS_FL != 0 {
            extent_runs(
                &self.vol,
                bs,
                self.sb.blocks_count,
                &ino.block,
                &mut budget,
                problems,
            )
        } else {
            blockmap_runs(
                &self.vol,
                bs,
                self.sb.blocks_count,
                &ino.block,
                file_blocks,
                &mut budget,
                problems,
            )
        };
        let _ = self
            .runs_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                Some(l.saturating_sub(runs.len() as u64))
            });
        let mut out = self.to_runs(&runs, size);
        if budget.full {
            // The map was not read to its end: what lies past the last run read is
            // unknown, not a hole. Left out of the layout, it is extracted as a gap
            // (not-in-layout) and the file is partial, never zeros called complete.
            let end = runs
                .iter()
                .map(|r| r.logical.saturating_add(r.len).saturating_mul(bs))
                .max()
                .unwrap_or(0)
                .min(size);
            out.retain(|r| r.file_offset < end);
        }
        out
    }

    /// Block runs to file runs, holes made explicit as sparse runs.
    fn to_runs(&self, runs: &[BlockRun], size: u64) -> Vec<Run> {
        let bs = self.bs();
        let mut out = Vec::new();
        let mut pos = 0u64;
        for r in runs {
            let start = r.logical.saturating_mul(bs);
            if start >= size {
                break;
            }
            if start < pos {
                continue; // overlapping extents: damage; keep the first
            }
            if start > pos {
                out.push(Run {
                    file_offset: pos,
                    len: start - pos,
                    data: RunData::Sparse,
                });
            }
            let len = r.len.saturating_mul(bs).min(size - start);
            let data = match r.physical {
                Some(p) => RunData::Image(self.abs_block(p)),
                None => RunData::Sparse,
            };
            out.push(Run {
                file_offset: start,
                len,
                data,
            });
            pos = start + len;
        }
        if pos < size && !runs.is_empty() {
            out.push(Run {
                file_offset: pos,
                len: size - pos,
                data: RunData::Sparse,
            });
        } else if runs.is_empty() && size > 0 {
            // No blocks at all: a fully sparse file, or a wiped map. The caller
            // decides which (deleted inodes are handled separately).
            out.push(Run {
                file_offset: 0,
                len: size,
                data: RunData::Sparse,
            });
        }
        out
    }

    fn block_bitmap(&self) -> &Vec<u8> {
        self.bitmap.get_or_init(|| {
            let per = u64::from(self.sb.blocks_per_group);
            let total = self.sb.blocks_count;
            let mut bits = vec![0u8; total.div_ceil(8).min(512 << 20) as usize];
            for (gi, g) in self.groups.iter().enumerate() {
                if g.flags & BG_BLOCK_UNINIT != 0 {
                    continue;
                }
                let first = u64::from(self.sb.first_data_block) + gi as u64 * per;
                let n = per.min(total.saturating_sub(first));
                let mut b = vec![0u8; n.div_ceil(8) as usize];
                if self
                    .vol
                    .read_at(g.block_bitmap * self.bs(), &mut b)
                    .is_err()
                {
                    continue;
                }
                for i in 0..n {
                    if b[(i / 8) as usize] >> (i % 8) & 1 == 1 {
                        let blk = first + i;
                        if let Some(x) = bits.get_mut((blk / 8) as usize) {
                            *x |= 1 << (blk % 8);
                        }
                    }
                }
            }
            bits
        })
    }

    fn block_allocated(&self, b: u64) -> bool {
        self.block_bitmap()
            .get((b / 8) as usize)
            .is_some_and(|x| x >> (b % 8) & 1 == 1)
    }

    /// The journal inode's runs and size, computed once: every lookup of a journal
    /// block goes through them.
    fn journal_layout(&self) -> Option<&(Vec<Run>, u64)> {
        self.journal_runs
            .get_or_init(|| {
                let n = self.sb.journal_inum;
                if n == 0 || self.sb.compat & sb::COMPAT_HAS_JOURNAL == 0 {
                    return None;
                }
                let ino = self.read_inode(n)?;
                let mut p = Vec::new();
                Some((self.layout(&ino, None, &mut p), ino.size))
            })
            .as_ref()
    }

    /// Image offset of journal block `i`.
    fn journal_offset(&self, i: u64) -> Option<u64> {
        let (runs, _) = self.journal_layout()?;
        let off = i * self.bs();
        let r = runs
            .iter()
            .find(|r| off >= r.file_offset && off < r.file_offset + r.len)?;
        match r.data {
            RunData::Image(at) => Some(at + off - r.file_offset),
            _ => None,
        }
    }

    fn journal(&self) -> Option<&Journal> {
        self.journal
            .get_or_init(|| {
                let (_, size) = self.journal_layout()?;
                let bs = self.bs() as usize;
                let mut read = |i: u64, len: usize| -> Option<Vec<u8>> {
                    let at = self.journal_offset(i)?;
                    let mut b = vec![0u8; len.min(bs)];
                    self.vol.source().read_at(at, &mut b).ok()?;
                    Some(b)
                };
                Journal::scan(size / self.bs(), bs, &mut read)
            })
            .as_ref()
    }

    fn journal_block(&self, j: &journal::Copy) -> Option<Vec<u8>> {
        let at = self.journal_image_offset(j)?;
        let mut b = vec![0u8; self.bs() as usize];
        self.vol.source().read_at(at, &mut b).ok()?;
        Journal::unescape(j, &mut b);
        Some(b)
    }

    /// Image offset of a journal block (for provenance of what was read from it).
    fn journal_image_offset(&self, j: &journal::Copy) -> Option<u64> {
        self.journal_offset(j.journal_block)
    }

    /// Layout of a deleted inode: its own block map if it survived (ext2), else an
    /// older copy of the inode from the journal.
    fn deleted_layout(&self, n: u32, ino: &Inode, raw: &[u8]) -> (u64, Vec<Run>, Recovery) {
        let mut problems = Vec::new();
        let has_map = if ino.flags & EXT4_EXTENTS_FL != 0 {
            sb::le16(&ino.block, 2) > 0
        } else {
            ino.block.iter().any(|&b| b != 0)
        };
        if ino.kind() != EntryKind::File
            && ino.kind() != EntryKind::Directory
            && ino.kind() != EntryKind::Symlink
        {
            return (ino.size, Vec::new(), Recovery::Intact);
        }
        if has_map && ino.size > 0 {
            let runs = self.layout(ino, Some(raw), &mut problems);
            return (
                ino.size,
                runs.clone(),
                self.judge(&runs, "the inode's own block map survived deletion".into()),
            );
        }
        if let Some((size, runs, seq)) = self.older_copy_in_journal(n, ino) {
            return (size, runs.clone(), self.judge(&runs, format!("block map from an older copy of the inode in the jbd2 journal (transaction {seq})")));
        }
        if ino.size == 0 && !has_map && ino.kind() == EntryKind::File {
            return (0, Vec::new(), Recovery::NotRecoverable("the kernel cleared the inode's size and block map on deletion and no older copy of it is in the journal".into()));
        }
        (ino.size, Vec::new(), Recovery::NotRecoverable("the inode's block map was cleared on deletion and no older copy of it is in the journal".into()))
    }

    fn judge(&self, runs: &[Run], how: String) -> Recovery {
        let bs = self.bs();
        let reused = runs.iter().any(|r| match r.data {
            RunData::Image(at) => {
                let first = (at - self.vol.base()) / bs;
                (first..first + r.len.div_ceil(bs)).any(|b| self.block_allocated(b))
            }
            _ => false,
        });
        if reused {
            Recovery::Overwritten(format!("{how}; some of its blocks are allocated again"))
        } else {
            Recovery::Assumed(how)
        }
    }

    fn older_copy_in_journal(&self, n: u32, now: &Inode) -> Option<(u64, Vec<Run>, u32)> {
        let j = self.journal()?;
        let (blk, off) = self.inode_location(n)?;
        for c in j.copies.get(&blk)? {
            let Some(b) = self.journal_block(c) else {
                continue;
            };
            let isz = self.sb.inode_size as usize;
            let Some(raw) = b.get(off as usize..off as usize + isz) else {
                continue;
            };
            let old = Inode::parse(raw);
            if old.is_deleted() || old.kind() != now.kind() || old.size == 0 {
                continue;
            }
            let mut p = Vec::new();
            let runs = self.layout(&old, Some(raw), &mut p);
            if runs
                .iter()
                .any(|r| matches!(r.data, RunData::Image(_) | RunData::Inline(_)))
            {
                return Some((old.size, runs, c.sequence));
            }
        }
        None
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

fn le32_at(b: &[u8], o: usize) -> u32 {
    // Callers check bounds before.
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// The `system.data` extended attribute in the inode body: the rest of inline data.
fn inline_xattr(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() <= 132 {
        return None;
    }
    let extra = u16::from_le_bytes([raw[128], raw[129]]) as usize;
    let start = 128 + extra;
    if start + 4 > raw.len() || le32_at(raw, start) != 0xEA02_0000 {
        return None;
    }
    let first = start + 4;
    let mut p = first;
    while p + 16 <= raw.len() {
        let nl = raw[p] as usize;
        let idx = raw[p + 1];
        let voff = u16::from_le_bytes([raw[p + 2], raw[p + 3]]) as usize;
        let vsize = le32_at(raw, p + 8) as usize;
        if nl == 0 && idx == 0 {
            break;
        }
        let name = raw.get(p + 16..p + 16 + nl)?;
        if idx == 7 && name == b"data" {
            return raw
                .get(first + voff..first + voff + vsize)
                .map(<[u8]>::to_vec);
        }
        p += (16 + nl + 3) & !3;
    }
    None
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
        for (n, names) in &named {
            let Some(raw) = self.raw_inode(*n) else {
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
                self.deleted_layout(*n, &ino, &raw)
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
            let paths = &names.paths;
            let (path, at) = paths[0].clone();
            emitted.insert(*n);
            visit(Entry {
                id: u64::from(*n),
                path,
                other_names: paths[1..].iter().map(|p| p.0.clone()).collect(),
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
