//! Deleted files: their layout from the inode, or from an older copy of it in
//! the journal, judged against the block bitmap.

use crate::inode::{Inode, EXT4_EXTENTS_FL};
use crate::journal::Journal;
use crate::{journal, sb, ExtFs};
use dredge_core::{EntryKind, Recovery, Run, RunData};

impl ExtFs {
    /// The journal inode's runs and size, computed once: every lookup of a journal
    /// block goes through them.
    pub(super) fn journal_layout(&self) -> Option<&(Vec<Run>, u64)> {
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
    pub(super) fn journal_offset(&self, i: u64) -> Option<u64> {
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

    pub(super) fn journal(&self) -> Option<&Journal> {
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

    pub(super) fn journal_block(&self, j: &journal::Copy) -> Option<Vec<u8>> {
        let at = self.journal_image_offset(j)?;
        let mut b = vec![0u8; self.bs() as usize];
        self.vol.source().read_at(at, &mut b).ok()?;
        Journal::unescape(j, &mut b);
        Some(b)
    }

    /// Image offset of a journal block (for provenance of what was read from it).
    pub(super) fn journal_image_offset(&self, j: &journal::Copy) -> Option<u64> {
        self.journal_offset(j.journal_block)
    }

    /// Layout of a deleted inode: its own block map if it survived (ext2), else an
    /// older copy of the inode from the journal.
    pub(super) fn deleted_layout(
        &self,
        n: u32,
        ino: &Inode,
        raw: &[u8],
    ) -> (u64, Vec<Run>, Recovery) {
        let mut problems = Vec::new();
        let has_map = if ino.flags & EXT4_EXTENTS_FL != 0 {
            sb::le16::<u32>(&ino.block, 2) > 0
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

    pub(super) fn judge(&self, runs: &[Run], how: String) -> Recovery {
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

    pub(super) fn older_copy_in_journal(
        &self,
        n: u32,
        now: &Inode,
    ) -> Option<(u64, Vec<Run>, u32)> {
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
}
