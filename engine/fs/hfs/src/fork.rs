//! A fork: a file's data or resource stream, `logical_size` bytes laid out in
//! extents of allocation blocks (eight in the catalog record, the rest in the
//! extents-overflow file).

use crate::be32;
use dredge_core::bytes::be64;
use dredge_core::{Run, RunData, VolumeReader};

/// Extents one fork may have (HFS+ has no bound; a million is far past any
/// real file and keeps a forged chain bounded).
pub(crate) const MAX_EXTENTS: usize = 1 << 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fork {
    pub logical_size: u64,
    pub total_blocks: u32,
    /// (start block, block count), in file order, none empty.
    pub extents: Vec<(u32, u32)>,
}

impl Fork {
    /// An `HFSPlusForkData` (80 bytes at `at` of `b`).
    pub fn parse(b: &[u8], at: usize) -> Fork {
        let mut extents = Vec::new();
        for i in 0..8 {
            let (s, n) = (be32(b, at + 16 + 8 * i), be32(b, at + 20 + 8 * i));
            if n == 0 {
                break;
            }
            extents.push((s, n));
        }
        Fork {
            logical_size: be64(b, at),
            total_blocks: be32(b, at + 12),
            extents,
        }
    }

    /// Blocks the extents hold.
    pub fn blocks(&self) -> u64 {
        self.extents.iter().map(|e| u64::from(e.1)).sum()
    }

    /// The volume offset of file offset `off`.
    pub fn volume_offset(&self, off: u64, block: u64) -> Option<u64> {
        let mut file = 0u64;
        for &(s, n) in &self.extents {
            let len = u64::from(n) * block;
            if off < file + len {
                return Some(u64::from(s) * block + (off - file));
            }
            file += len;
        }
        None
    }

    /// Reads `buf.len()` bytes at file offset `off` (a B-tree node); `None`
    /// when any byte lies outside the extents or does not read.
    pub fn read(&self, vol: &VolumeReader, block: u64, off: u64, buf: &mut [u8]) -> Option<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = off + done as u64;
            let v = self.volume_offset(at, block)?;
            // Bytes left in this block's extent from `at`.
            let mut file = 0u64;
            let mut left = 0u64;
            for &(_, n) in &self.extents {
                let len = u64::from(n) * block;
                if at < file + len {
                    left = file + len - at;
                    break;
                }
                file += len;
            }
            let n = left.min((buf.len() - done) as u64) as usize;
            if n == 0 {
                return None;
            }
            let r = vol.read_at(v, &mut buf[done..done + n]).ok()?;
            if !r.is_clean() || r.len < n {
                return None;
            }
            done += n;
        }
        Some(())
    }

    /// The runs of the fork's first `logical_size` bytes (image offsets); the
    /// bytes the extents do not cover are not listed (the file is short).
    pub fn runs(&self, base: u64, block: u64) -> Vec<Run> {
        let mut out = Vec::new();
        let mut file = 0u64;
        for &(s, n) in &self.extents {
            if file >= self.logical_size {
                break;
            }
            let len = (u64::from(n) * block).min(self.logical_size - file);
            match out.last_mut() {
                Some(Run {
                    file_offset,
                    len: l,
                    data: RunData::Image(at),
                }) if *at + *l == base + u64::from(s) * block && *file_offset + *l == file => {
                    *l += len
                }
                _ => out.push(Run {
                    file_offset: file,
                    len,
                    data: RunData::Image(base + u64::from(s) * block),
                }),
            }
            file += len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_the_logical_size_and_join_adjacent_extents() {
        let f = Fork {
            logical_size: 10_000,
            total_blocks: 3,
            extents: vec![(10, 1), (11, 1), (50, 5)],
        };
        let r = f.runs(1000, 4096);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].file_offset, r[0].len), (0, 8192));
        assert_eq!(r[0].data, RunData::Image(1000 + 10 * 4096));
        assert_eq!((r[1].file_offset, r[1].len), (8192, 10_000 - 8192));
        assert_eq!(f.volume_offset(8192, 4096), Some(50 * 4096));
        assert_eq!(f.volume_offset(7 * 4096, 4096), None);
    }
}
