//! Folder index blocks in free space (issue 14).
//!
//! When a folder is deleted, its `$I30` index blocks (`INDX`) are freed with
//! it, and once its MFT record is reused nothing leads to them: TSK lists
//! none of their names, and the slack search (`i30.rs`) reaches a deleted
//! folder's blocks only while its record still holds their runs. The blocks
//! stay whole until their clusters are written again, each entry a copy of a
//! child's `$FILE_NAME` (name, parent reference, four times, size). The pass
//! finds them in free clusters (`NtfsFs::hunt`: a block that starts `INDX`
//! and whose update sequence holds); after it, each block is read again on
//! its own (a metadata read), the folder it belonged to taken from its
//! entries' parent references (the one most of them name), and every name it
//! holds that the MFT no longer lists under that folder is listed as a
//! name-only entry: under the folder's path while its record is that folder
//! (in use, or deleted and not reused), else under `/$OrphanFiles/folder-N`.

use crate::i30::{find_copies, Copy, Live, Source};
use crate::record::{file_name, fixup, le16, le32, le64};
use crate::NtfsFs;
use dredge_core::{Entry, Finding};
use std::collections::{BTreeMap, HashSet};

/// Ids of names from index blocks in free space: this bit with the byte
/// offset of the copy's key (`i30::I30_ID` and `usn::USN_ID` are the two
/// above it).
pub(crate) const FREE_INDX_ID: u64 = 1 << 60;
/// Index blocks in free space read per volume (each a metadata read of at
/// most 64 KiB, its names held until they are listed); the rest are counted
/// in a finding by the session.
pub(crate) const MAX_BLOCKS: usize = 1 << 14;

/// The pass's test for a block in free space: `INDX`, an update sequence
/// array inside the first sector, covering a block of 1–64 KiB, and every
/// sector of the block that lies in `b` ending with the update sequence
/// number.
pub(crate) fn is_index_block(b: &[u8]) -> bool {
    if b.len() < 512 || &b[0..4] != b"INDX" {
        return false;
    }
    let (off, count) = (le16::<u64>(b, 4) as usize, le16::<u64>(b, 6) as usize);
    if !(0x28..0x1F0).contains(&off) || off % 2 != 0 || !(3..=129).contains(&count) {
        return false;
    }
    if off + 2 * count > 512 {
        return false;
    }
    let usn = [b[off], b[off + 1]];
    (1..count)
        .map(|i| i * 512)
        .take_while(|&end| end <= b.len())
        .all(|end| b[end - 2..end] == usn)
}

/// The parent reference most entries of the block's in-use part name (the
/// smallest on a tie).
fn folder_of(buf: &[u8], from: usize, to: usize) -> Option<u64> {
    let mut votes: BTreeMap<u64, u32> = BTreeMap::new();
    let mut p = from;
    while p + 16 <= to {
        let len = le16::<u64>(buf, p + 8) as usize;
        let key = le16::<u64>(buf, p + 10) as usize;
        if le16::<u64>(buf, p + 12) & 2 != 0 || len < 16 || p + len > to {
            break;
        }
        if key >= 66 && p + 16 + key <= to && file_name(&buf[p + 16..p + 16 + key]).is_some() {
            *votes.entry(le64(buf, p + 16)).or_default() += 1;
        }
        p += len;
    }
    let best = votes.values().copied().max()?;
    votes.into_iter().find(|(_, v)| *v == best).map(|(r, _)| r)
}

impl NtfsFs {
    /// Lists the names that the index blocks the pass found in free space
    /// hold and the MFT does not, skipping blocks `searched` as some folder's.
    /// `path_of(record, sequence)`: the folder's path while that record is
    /// that folder.
    pub(crate) fn free_index_blocks(
        &self,
        searched: &HashSet<u64>,
        gone: &HashSet<(u64, u64)>,
        path_of: &mut dyn FnMut(u64, u16) -> Option<String>,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let Some(found) = self.free_indx.get().filter(|f| !f.is_empty()) else {
            return;
        };
        let base = self.vol.base();
        let (mut blocks, mut listed, mut nameless) = (0u64, 0u64, 0u64);
        // Copies by the folder they name: one folder's blocks are searched
        // together, so a name in two of them (an older copy of a block the
        // index split) is listed once.
        let mut by_folder: BTreeMap<u64, Vec<(u64, Copy)>> = BTreeMap::new();
        let mut buf = Vec::new();
        for &at in found.iter().take(MAX_BLOCKS) {
            if searched.contains(&at) || at < base {
                continue;
            }
            // The block's size from its update sequence count.
            let mut head = [0u8; 512];
            if self.vol.source().read_at(at, &mut head).is_err() || !is_index_block(&head) {
                continue;
            }
            let bs = (le16::<u64>(&head, 6) - 1) * 512;
            buf.resize(bs as usize, 0);
            match self.vol.source().read_at(at, &mut buf) {
                Ok(r) if r.is_clean() => {}
                _ => continue,
            }
            if !is_index_block(&buf) || fixup(&mut buf).is_err() {
                continue;
            }
            let eo = 0x18 + le32::<u64>(&buf, 0x18) as usize;
            let used = (0x18 + le32::<u64>(&buf, 0x1C) as usize).min(buf.len());
            let alloc = (0x18 + le32::<u64>(&buf, 0x20) as usize).min(buf.len());
            if eo < 0x28 || eo > alloc {
                continue;
            }
            let Some(parent) = folder_of(&buf, eo, used.min(alloc)) else {
                nameless += 1;
                continue;
            };
            blocks += 1;
            let mut copies = Vec::new();
            find_copies(&buf, eo as u64, alloc as u64, &[parent], at, &mut copies);
            by_folder
                .entry(parent)
                .or_default()
                .extend(copies.into_iter().map(|c| (at, c)));
        }
        for (parent, copies) in by_folder {
            let (n, seq) = (parent & 0x0000_FFFF_FFFF_FFFF, (parent >> 48) as u16);
            let path = path_of(n, seq).unwrap_or_else(|| format!("/$OrphanFiles/folder-{n}"));
            let first = copies.first().map_or(0, |c| c.0);
            let from = Source {
                what: format!(
                    "an $I30 index block in free space (folder record {n}, sequence {seq}; the folder's first such block at byte {first})"
                ),
                id_bit: FREE_INDX_ID,
                folder: n,
                path: &path,
            };
            // The blocks are free: nothing in them is in use. Whether the MFT
            // lists a name under the folder now, `emit_copies` asks the MFT.
            let copies = copies.into_iter().map(|c| c.1).collect();
            self.emit_copies(copies, &Live::default(), &from, gone, &mut |e| {
                listed += 1;
                visit(e)
            });
        }
        if listed > 0 || nameless > 0 {
            findings.push(Finding::new(
                base,
                format!(
                    "NTFS: {listed} name(s) the MFT no longer lists, from {blocks} folder index block(s) in free space (names only: their MFT records are gone or hold other files); {nameless} more such block(s) held no entry to tell their folder"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[0..4].copy_from_slice(b"INDX");
        b[4..6].copy_from_slice(&0x28u16.to_le_bytes());
        b[6..8].copy_from_slice(&9u16.to_le_bytes());
        b[0x28..0x2A].copy_from_slice(&[0x11, 0x22]);
        for i in 1..9 {
            b[i * 512 - 2..i * 512].copy_from_slice(&[0x11, 0x22]);
        }
        b
    }

    #[test]
    fn an_index_block_is_its_signature_and_a_whole_update_sequence() {
        let b = block();
        assert!(is_index_block(&b));
        // The first sector alone is tested as far as it goes.
        assert!(is_index_block(&b[..512]));
        let mut torn = b.clone();
        torn[3 * 512 - 1] ^= 1;
        assert!(!is_index_block(&torn), "a sector written later");
        let mut other = b.clone();
        other[0..4].copy_from_slice(b"FILE");
        assert!(!is_index_block(&other));
        for (at, v) in [(4usize, 0x10u8), (4, 0x29), (6, 0), (6, 200)] {
            let mut x = b.clone();
            x[at] = v;
            x[at + 1] = 0;
            assert!(!is_index_block(&x), "byte {at} = {v}");
        }
        assert!(!is_index_block(&b[..100]));
    }
}
