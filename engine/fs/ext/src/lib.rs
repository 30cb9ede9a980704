//! ext2/3/4, read-only and forensic: the namespace from the root, deleted names from
//! directory slack, an inode sweep for deleted and orphaned inodes, backup
//! superblocks and group descriptors, and the jbd2 journal as a source of older
//! inode copies for files whose block maps the kernel wiped on deletion.
//! (docs/decisions/0007-own-ext-reader.md)

mod bitmap;
mod deleted;
mod dir;
mod gdt;
mod inode;
mod journal;
mod layout;
mod sb;
mod walk;

use dredge_core::{Entry, EntryKind, Extent, FileSystem, Finding, Run, RunData, VolumeReader};
use gdt::Group;
use inode::Inode;
use journal::Journal;
pub use sb::Superblock;
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
    bitmap: OnceLock<bitmap::Allocation>,
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

impl ExtFs {
    pub fn open(vol: VolumeReader) -> Result<ExtFs, Finding> {
        let mut findings = Vec::new();
        let sb = sb::find(&vol, &mut findings)?;
        let groups = gdt::groups(&vol, &sb, &mut findings)?;
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
        let g = self
            .groups
            .get((idx / ipg) as usize)
            .filter(|g| g.known())?;
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
        let gr = self.groups.get(g).filter(|g| g.known())?;
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
        self.walk_all(visit, findings);
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
        dredge_core::free_past_end(out, volume, self.span().unwrap_or(u64::MAX))
    }

    fn span(&self) -> Option<u64> {
        // The end of the last block.
        Some(self.sb.blocks_count.saturating_mul(self.bs()))
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
