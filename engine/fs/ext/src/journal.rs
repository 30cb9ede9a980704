//! The jbd2 journal as a history of metadata blocks: every descriptor block in the
//! whole journal area (old transactions stay in the circular log until overwritten)
//! lists which filesystem blocks the following journal blocks are copies of. An
//! inode-table block copied before a deletion holds the inode's old block map.

use dredge_core::bytes::{be16, be32};
use std::collections::HashMap;

const MAGIC: u32 = 0xC03B_3998;
const DESCRIPTOR: u32 = 1;
const FEATURE_INCOMPAT_64BIT: u32 = 0x2;
const FEATURE_INCOMPAT_CSUM_V2: u32 = 0x8;
const FEATURE_INCOMPAT_CSUM_V3: u32 = 0x10;
const TAG_ESCAPE: u32 = 1;
const TAG_SAME_UUID: u32 = 2;
const TAG_LAST: u32 = 8;

/// A copy of a filesystem block inside the journal.
#[derive(Clone, Copy, Debug)]
pub struct Copy {
    pub sequence: u32,
    pub journal_block: u64,
    pub escaped: bool,
}

#[derive(Default)]
pub struct Journal {
    /// filesystem block -> copies, newest transaction first
    pub copies: HashMap<u64, Vec<Copy>>,
    pub transactions: usize,
}

impl Journal {
    /// Scans the journal's blocks (`read(i)` returns journal block `i`).
    /// `read(i, len)` returns the first `len` bytes of journal block `i`: only a
    /// block's header decides whether it matters, so blocks are looked at through
    /// their first sector and only descriptor blocks are read whole.
    pub fn scan(
        nblocks: u64,
        block_size: usize,
        read: &mut dyn FnMut(u64, usize) -> Option<Vec<u8>>,
    ) -> Option<Journal> {
        let sb = read(0, block_size)?;
        if be32::<u32>(&sb, 0) != MAGIC || !matches!(be32::<u32>(&sb, 4), 3 | 4) {
            return None;
        }
        let maxlen = u64::from(be32::<u32>(&sb, 16)).min(nblocks);
        let first = u64::from(be32::<u32>(&sb, 20)).max(1);
        let incompat = if be32::<u32>(&sb, 4) == 4 {
            be32(&sb, 40)
        } else {
            0
        };
        let csum3 = incompat & FEATURE_INCOMPAT_CSUM_V3 != 0;
        let is64 = incompat & FEATURE_INCOMPAT_64BIT != 0;
        let tag_size = if csum3 {
            16
        } else {
            8 + if is64 { 4 } else { 0 }
        };
        let tail = if incompat & (FEATURE_INCOMPAT_CSUM_V2 | FEATURE_INCOMPAT_CSUM_V3) != 0 {
            4
        } else {
            0
        };
        let mut j = Journal::default();
        let span = maxlen.saturating_sub(first);
        let wrap = |i: u64| {
            if i >= maxlen {
                first + (i - first) % span.max(1)
            } else {
                i
            }
        };
        let mut i = first;
        while i < maxlen {
            let Some(h) = read(i, 512.min(block_size)) else {
                i += 1;
                continue;
            };
            if h.len() < 12 || be32::<u32>(&h, 0) != MAGIC || be32::<u32>(&h, 4) != DESCRIPTOR {
                i += 1;
                continue;
            }
            let Some(b) = read(i, block_size) else {
                i += 1;
                continue;
            };
            let seq = be32(&b, 8);
            j.transactions += 1;
            let mut off = 12;
            let mut k = 0u64;
            let end = block_size.saturating_sub(tail);
            while off + tag_size <= end {
                let lo = u64::from(be32::<u32>(&b, off));
                let (flags, hi) = if csum3 {
                    (
                        be32::<u32>(&b, off + 4),
                        u64::from(be32::<u32>(&b, off + 8)),
                    )
                } else {
                    (
                        be16(&b, off + 6),
                        if is64 {
                            u64::from(be32::<u32>(&b, off + 8))
                        } else {
                            0
                        },
                    )
                };
                let fs_block = lo | hi << 32;
                k += 1;
                let jb = wrap(i + k);
                j.copies.entry(fs_block).or_default().push(Copy {
                    sequence: seq,
                    journal_block: jb,
                    escaped: flags & TAG_ESCAPE != 0,
                });
                off += tag_size;
                if flags & TAG_SAME_UUID == 0 {
                    off += 16;
                }
                if flags & TAG_LAST != 0 || k > 4096 {
                    break;
                }
            }
            i += 1 + k;
        }
        for v in j.copies.values_mut() {
            v.sort_by(|a, b| {
                b.sequence
                    .cmp(&a.sequence)
                    .then(b.journal_block.cmp(&a.journal_block))
            });
        }
        Some(j)
    }

    /// Restores the magic number a journal copy had escaped.
    pub fn unescape(c: &Copy, data: &mut [u8]) {
        if c.escaped && data.len() >= 4 {
            data[..4].copy_from_slice(&MAGIC.to_be_bytes());
        }
    }
}
