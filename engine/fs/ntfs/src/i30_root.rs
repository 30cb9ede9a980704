//! Names from the slack of a folder's own MFT record (issue 14).
//!
//! A small folder's index lives whole in its record, in `$INDEX_ROOT`. When a
//! name is removed the attribute shrinks, the entries after it move down, and
//! the record's in-use length drops: the bytes past it keep the old tail of
//! the index until the record grows again. So the last names of a folder, in
//! index order, outlive their removal there, and when the file's own MFT
//! record has been reused since (as ntfs-3g and Windows reuse the lowest free
//! record), that slack is the only place the name is left: `fls` does not
//! show it. When a folder outgrows its record its entries move to index
//! blocks and the root keeps a pointer entry: the slack then holds copies of
//! names still in use, which the live entries and the MFT filter out as for
//! index blocks (`i30.rs`).

use crate::i30::{find_copies, walk_live, Copy, Folder, Live, Source, I30_ID};
use crate::record::{fixup, le16, le32};
use crate::NtfsFs;
use dredge_core::{Entry, Finding};
use std::collections::HashSet;

const AT_INDEX_ROOT: u32 = 0x90;

impl NtfsFs {
    /// Adds the copies in folder record `n`'s slack to `copies`, marked as
    /// found there, and its root's entries in use to `live`.
    pub(crate) fn root_slack(&self, n: u64, want: &[u64], live: &mut Live, copies: &mut Vec<Copy>) {
        let rs = self.boot.record_size;
        let Some(at) = self.mft_offset(n * rs) else {
            return;
        };
        let mut b = vec![0u8; rs as usize];
        if self.vol.read_at(at, &mut b).is_err() || &b[0..4] != b"FILE" {
            return;
        }
        // A torn stride leaves its last two bytes wrong, nothing more: the
        // search still reads it, and a copy there fails its own checks.
        if fixup(&mut b).is_err() {
            return;
        }
        let used = le32::<u64>(&b, 0x18);
        let alloc = le32::<u64>(&b, 0x1C).min(rs);
        if used < 0x38 || used > alloc {
            return;
        }
        root_entries(&b, used as usize, live);
        let first = copies.len();
        // The entry removed last from the end of the root lies under the
        // entries that moved down: the new end entry covers its header and the
        // record's end marker (8 bytes, ending at the in-use length) its
        // parent reference. Its key still starts there, and its parent was
        // this folder (a root holds only this folder's entries), so that
        // reference is put back before the search, which then needs the name,
        // four plausible times and the size to hold as for any other copy.
        let (u, end) = (used as usize, want.first());
        if let Some(&me) = end.filter(|_| b[u - 8..u - 4] == [0xFF; 4]) {
            b[u - 8..u].copy_from_slice(&me.to_le_bytes());
            find_copies(&b, used - 8, alloc, want, self.vol.base() + at, copies);
        } else {
            find_copies(&b, used, alloc, want, self.vol.base() + at, copies);
        }
        for c in &mut copies[first..] {
            c.in_root = true;
        }
    }

    /// The names in the record slack of a folder without index blocks.
    pub(crate) fn root_only_slack(
        &self,
        folder: &Folder,
        gone: &HashSet<(u64, u64)>,
        visit: &mut dyn FnMut(Entry),
        _findings: &mut Vec<Finding>,
    ) {
        let mut live = Live::default();
        let mut copies = Vec::new();
        let want = crate::i30::wanted(folder);
        self.root_slack(folder.n, &want, &mut live, &mut copies);
        if copies.is_empty() {
            return;
        }
        let from = Source {
            what: format!("the $I30 index of folder record {}", folder.n),
            id_bit: I30_ID,
            folder: folder.n,
            path: folder.path,
        };
        self.emit_copies(copies, &live, &from, gone, visit);
    }
}

/// The entries in use of the record's `$INDEX_ROOT` (the first resident one:
/// a folder has one, `$I30`), added to `live`.
fn root_entries(b: &[u8], used: usize, live: &mut Live) {
    let mut p = le16::<u64>(b, 0x14) as usize;
    while p + 24 <= used {
        let ty = le32::<u32>(b, p);
        let len = le32::<u64>(b, p + 4) as usize;
        if ty == 0xFFFF_FFFF || len < 24 || p + len > used {
            return;
        }
        if ty == AT_INDEX_ROOT && b[p + 8] == 0 {
            let vlen = le32::<u64>(b, p + 0x10) as usize;
            let v = p + le16::<u64>(b, p + 0x14) as usize;
            if vlen >= 0x20 && v + vlen <= p + len {
                // The index header is 16 bytes into the value; its offsets
                // count from the header.
                let h = v + 0x10;
                let from = h + le32::<u64>(b, h) as usize;
                let to = (h + le32::<u64>(b, h + 4) as usize).min(v + vlen);
                walk_live(b, from as u64, to as u64, live);
            }
            return;
        }
        p += len;
    }
}
