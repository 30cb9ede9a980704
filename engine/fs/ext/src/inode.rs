//! Inodes and where their content lies: extent trees (ext4), indirect block maps
//! (ext2/3), inline data, fast symlinks.

use crate::sb::{le16, le32};
use dredge_core::{EntryKind, Timestamp, VolumeReader};

pub const EXT4_EXTENTS_FL: u32 = 0x80000;
pub const EXT4_INLINE_DATA_FL: u32 = 0x1000_0000;
pub const EXT4_INDEX_FL: u32 = 0x1000;

#[derive(Clone, Debug)]
pub struct Inode {
    pub mode: u16,
    pub size: u64,
    pub links: u16,
    pub flags: u32,
    pub dtime: u32,
    /// 512-byte sectors in use (0 for fast symlinks and inline data).
    pub blocks: u64,
    /// Block holding extended attributes, if any (counted in `blocks`).
    pub file_acl: u64,
    pub block: [u8; 60],
    pub times: Vec<Timestamp>,
}

impl Inode {
    pub fn kind(&self) -> EntryKind {
        match self.mode & 0xF000 {
            0x8000 => EntryKind::File,
            0x4000 => EntryKind::Directory,
            0xA000 => EntryKind::Symlink,
            0x2000 | 0x6000 => EntryKind::Device,
            0x1000 => EntryKind::Fifo,
            0xC000 => EntryKind::Socket,
            _ => EntryKind::Other,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.dtime != 0 || self.links == 0
    }

    pub fn is_empty(&self) -> bool {
        self.mode == 0 && self.links == 0 && self.size == 0 && self.block.iter().all(|&b| b == 0)
    }

    pub fn parse(b: &[u8]) -> Inode {
        let extra = if b.len() > 128 {
            le16::<u32>(b, 128) as usize
        } else {
            0
        };
        let has = |off: usize| b.len() > 128 && 128 + extra >= off + 4;
        let ts = |lo: usize, extra_at: usize, source: &'static str| -> Option<Timestamp> {
            let base = i64::from(le32::<u32>(b, lo) as i32);
            let (epoch, nanos) = if has(extra_at) {
                let x = le32::<u32>(b, extra_at);
                (i64::from(x & 3), x >> 2)
            } else {
                (0, 0)
            };
            (base != 0 || epoch != 0).then(|| Timestamp {
                source,
                secs: base + (epoch << 32),
                nanos: nanos.min(999_999_999),
            })
        };
        let mut times: Vec<Timestamp> = [
            ts(16, 136, "ext.mtime"),
            ts(8, 140, "ext.atime"),
            ts(12, 132, "ext.ctime"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if has(144) {
            if let Some(t) = ts(144, 148, "ext.crtime") {
                times.push(t);
            }
        }
        let dtime = le32(b, 20);
        if dtime != 0 {
            times.push(Timestamp {
                source: "ext.dtime",
                secs: i64::from(dtime),
                nanos: 0,
            });
        }
        let mut block = [0u8; 60];
        block.copy_from_slice(&b[40..100]);
        Inode {
            mode: le16::<u32>(b, 0) as u16,
            size: u64::from(le32::<u32>(b, 4)) | u64::from(le32::<u32>(b, 108)) << 32,
            links: le16::<u32>(b, 26) as u16,
            flags: le32(b, 32),
            dtime,
            blocks: u64::from(le32::<u32>(b, 28)) | u64::from(le16::<u32>(b, 116)) << 32,
            file_acl: u64::from(le32::<u32>(b, 104)) | u64::from(le16::<u32>(b, 118)) << 32,
            block,
            times,
        }
    }
}

/// One run of a file in filesystem blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRun {
    pub logical: u64,
    pub physical: Option<u64>,
    pub len: u64,
}

/// Limits that keep damaged trees from costing unbounded time or memory.
pub struct Budget {
    pub max_runs: usize,
    pub max_blocks_read: u64,
    /// Set once either limit is reached: every level of the walk stops, and the
    /// problem is said once (a crafted tree would otherwise say it per entry).
    pub full: bool,
    /// Blocks the map holds besides the file's data (first block, count):
    /// extent tree nodes and indirect blocks it read, and uninitialized
    /// extents, which are allocated but read as zeros. Only the allocation
    /// derived from the inodes (`bitmap.rs`) wants them.
    pub held: Vec<(u64, u64)>,
}

impl Budget {
    /// Marks the budget spent, saying why the first time.
    fn spend_out(&mut self, problems: &mut Vec<String>, why: &str) {
        if !self.full {
            problems.push(why.into());
            self.full = true;
        }
    }
}

pub fn extent_runs(
    vol: &VolumeReader,
    block_size: u64,
    blocks_count: u64,
    root: &[u8],
    budget: &mut Budget,
    problems: &mut Vec<String>,
) -> Vec<BlockRun> {
    let mut out = Vec::new();
    walk_extents(
        vol,
        block_size,
        blocks_count,
        root,
        0,
        budget,
        problems,
        &mut out,
    );
    out.sort_by_key(|r| r.logical);
    out
}

#[allow(clippy::too_many_arguments)]
fn walk_extents(
    vol: &VolumeReader,
    bs: u64,
    blocks_count: u64,
    node: &[u8],
    level: u32,
    budget: &mut Budget,
    problems: &mut Vec<String>,
    out: &mut Vec<BlockRun>,
) {
    if node.len() < 12 || le16::<u32>(node, 0) != 0xF30A {
        problems.push(format!("extent node at level {level} has no magic"));
        return;
    }
    let entries = le16::<u32>(node, 2) as usize;
    let depth = le16::<u32>(node, 6);
    if depth > 5 || level > 5 {
        problems.push(format!("extent tree deeper than 5 (depth {depth})"));
        return;
    }
    let fit = (node.len() - 12) / 12;
    if entries > fit {
        problems.push(format!(
            "extent node claims {entries} entries but holds {fit}"
        ));
    }
    for i in 0..entries.min(fit) {
        let e = &node[12 + i * 12..24 + i * 12];
        if depth == 0 {
            let logical = u64::from(le32::<u32>(e, 0));
            let raw_len = le16::<u32>(e, 4);
            let (len, uninit) = if raw_len > 32768 {
                (raw_len - 32768, true)
            } else {
                (raw_len, false)
            };
            let start = u64::from(le32::<u32>(e, 8)) | u64::from(le16::<u32>(e, 6)) << 32;
            if len == 0 {
                continue;
            }
            if uninit && start.saturating_add(u64::from(len)) <= blocks_count {
                budget.held.push((start, u64::from(len)));
            }
            if !uninit && start.saturating_add(u64::from(len)) > blocks_count {
                problems.push(format!(
                    "extent at logical block {logical} points past the filesystem (block {start})"
                ));
                continue;
            }
            if out.len() >= budget.max_runs {
                budget.spend_out(problems, "too many extents; the rest are ignored");
                return;
            }
            out.push(BlockRun {
                logical,
                physical: (!uninit).then_some(start),
                len: u64::from(len),
            });
        } else {
            let leaf = u64::from(le32::<u32>(e, 4)) | u64::from(le16::<u32>(e, 8)) << 32;
            if leaf >= blocks_count || leaf == 0 {
                problems.push(format!(
                    "extent index points past the filesystem (block {leaf})"
                ));
                continue;
            }
            if budget.full {
                return;
            }
            if budget.max_blocks_read == 0 {
                budget.spend_out(problems, "extent tree too large to read");
                return;
            }
            if out.len() >= budget.max_runs {
                budget.spend_out(problems, "too many extents; the rest are ignored");
                return;
            }
            budget.max_blocks_read -= 1;
            budget.held.push((leaf, 1));
            let mut child = vec![0u8; bs as usize];
            if !vol
                .read_at(leaf * bs, &mut child)
                .is_ok_and(|r| r.is_clean())
            {
                problems.push(format!("extent tree block {leaf} is unreadable"));
                continue;
            }
            walk_extents(
                vol,
                bs,
                blocks_count,
                &child,
                level + 1,
                budget,
                problems,
                out,
            );
        }
    }
}

/// Adds one mapped block, merging it into the previous run when contiguous.
fn push_block(
    out: &mut Vec<BlockRun>,
    problems: &mut Vec<String>,
    m: &MapCtx,
    logical: u64,
    phys: u32,
) {
    if phys == 0 || logical >= m.file_blocks {
        return;
    }
    let p = u64::from(phys);
    if p >= m.blocks_count {
        problems.push(format!(
            "block pointer for logical block {logical} points past the filesystem ({p})"
        ));
        return;
    }
    match out.last_mut() {
        Some(l) if l.logical + l.len == logical && l.physical.map(|x| x + l.len) == Some(p) => {
            l.len += 1
        }
        _ => out.push(BlockRun {
            logical,
            physical: Some(p),
            len: 1,
        }),
    }
}

struct MapCtx<'a> {
    vol: &'a VolumeReader,
    bs: u64,
    blocks_count: u64,
    file_blocks: u64,
}

/// ext2/3 block maps: 12 direct pointers, then single, double and triple indirect.
pub fn blockmap_runs(
    vol: &VolumeReader,
    bs: u64,
    blocks_count: u64,
    block: &[u8; 60],
    file_blocks: u64,
    budget: &mut Budget,
    problems: &mut Vec<String>,
) -> Vec<BlockRun> {
    let m = MapCtx {
        vol,
        bs,
        blocks_count,
        file_blocks,
    };
    let mut out: Vec<BlockRun> = Vec::new();
    let per = bs / 4;
    for i in 0..12u64 {
        push_block(&mut out, problems, &m, i, le32(block, i as usize * 4));
    }
    // Indirect levels: (pointer slot, depth); `first` is the first logical block covered.
    let mut first = 12u64;
    for (slot, depth) in [(12usize, 1u32), (13, 2), (14, 3)] {
        if first >= file_blocks {
            break;
        }
        let ptr = le32::<u32>(block, slot * 4);
        if ptr != 0 {
            indirect(&m, u64::from(ptr), depth, first, budget, problems, &mut out);
        }
        first = first.saturating_add(per.saturating_pow(depth));
    }
    out
}

fn indirect(
    m: &MapCtx,
    blk: u64,
    depth: u32,
    first: u64,
    budget: &mut Budget,
    problems: &mut Vec<String>,
    out: &mut Vec<BlockRun>,
) {
    if blk >= m.blocks_count {
        problems.push(format!("indirect block {blk} is past the filesystem"));
        return;
    }
    if budget.max_blocks_read == 0 || out.len() >= budget.max_runs {
        budget.spend_out(problems, "block map too large; the rest is ignored");
        return;
    }
    budget.max_blocks_read -= 1;
    budget.held.push((blk, 1));
    let mut b = vec![0u8; m.bs as usize];
    if !m
        .vol
        .read_at(blk * m.bs, &mut b)
        .is_ok_and(|r| r.is_clean())
    {
        problems.push(format!("indirect block {blk} is unreadable"));
        return;
    }
    let per = m.bs / 4;
    let span = per.saturating_pow(depth - 1);
    for i in 0..per {
        let logical = first.saturating_add(i.saturating_mul(span));
        if logical >= m.file_blocks {
            break;
        }
        let p = le32(&b, (i * 4) as usize);
        if depth == 1 {
            push_block(out, problems, m, logical, p);
        } else if p != 0 {
            indirect(m, u64::from(p), depth - 1, logical, budget, problems, out);
        }
    }
}
