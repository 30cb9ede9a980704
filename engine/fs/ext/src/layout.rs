//! A file's layout from its inode: extent trees or block maps (bounded by the
//! reader's run budget), inline data, holes made explicit.

use crate::inode::{
    blockmap_runs, extent_runs, BlockRun, Budget, Inode, EXT4_EXTENTS_FL, EXT4_INLINE_DATA_FL,
};
use crate::{ExtFs, RUNS_FLOOR};
use dredge_core::{EntryKind, Run, RunData};
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl ExtFs {
    pub(super) fn budget(&self) -> Budget {
        Budget {
            max_runs: 1 << 20,
            max_blocks_read: 1 << 16,
            full: false,
            held: Vec::new(),
        }
    }

    /// Block runs of an inode's content, or inline bytes. Problems are described.
    pub(super) fn layout(
        &self,
        ino: &Inode,
        raw: Option<&[u8]>,
        problems: &mut Vec<String>,
    ) -> Vec<Run> {
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
    pub(super) fn to_runs(&self, runs: &[BlockRun], size: u64) -> Vec<Run> {
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
}

/// The `system.data` extended attribute in the inode body: the rest of inline data.
pub(super) fn inline_xattr(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() <= 132 {
        return None;
    }
    let extra = u16::from_le_bytes([raw[128], raw[129]]) as usize;
    let start = 128 + extra;
    if start + 4 > raw.len() || dredge_core::bytes::le32::<u32>(raw, start) != 0xEA02_0000 {
        return None;
    }
    let first = start + 4;
    let mut p = first;
    while p + 16 <= raw.len() {
        let nl = raw[p] as usize;
        let idx = raw[p + 1];
        let voff = u16::from_le_bytes([raw[p + 2], raw[p + 3]]) as usize;
        let vsize = dredge_core::bytes::le32::<u32>(raw, p + 8) as usize;
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
