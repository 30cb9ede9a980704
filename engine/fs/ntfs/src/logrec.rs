//! The records of `$LogFile` (issue 14): its restart page's layout, a log
//! record's header and operations, and the names two kinds of operation
//! carry — the index entry an index operation adds or removes, and the
//! `$FILE_NAME`s of the MFT record image `InitializeFileRecordSegment` logs.
//! Pure functions over bytes; `logfile.rs` reads the pages and lists names.

use crate::i30::checked_key;
use crate::record::{le16, le32, le64};
use std::ops::Range;

/// Client data of one record at most (the largest NTFS logs are dumps of
/// its tables, a few pages).
const MAX_CLIENT: usize = 1 << 16;
/// Log record header: LSNs, lengths, client, type, transaction, flags.
pub(crate) const HEADER: usize = 0x30;
/// The highest NTFS log operation (`ZeroEndOfFileRecord`).
const LAST_OP: u16 = 0x25;
pub(crate) const INITIALIZE_RECORD: u16 = 0x02;
const ADD_ROOT: u16 = 0x0C;
const DELETE_ROOT: u16 = 0x0D;
const ADD_ALLOCATION: u16 = 0x0E;
const DELETE_ALLOCATION: u16 = 0x0F;

/// How the log lays out its pages, from a restart page (`RSTR`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Layout {
    /// Where the record pages begin: after the two restart pages.
    pub first: u64,
    pub page: usize,
    /// Where records begin in a record page (after its header and update
    /// sequence).
    pub data: usize,
}

/// The layout a restart page at the start of `b` gives.
pub(crate) fn layout(b: &[u8]) -> Option<Layout> {
    if b.len() < 0x60 || &b[0..4] != b"RSTR" {
        return None;
    }
    let system = le32::<u64>(b, 0x10) as usize;
    let page = le32::<u64>(b, 0x14) as usize;
    let area = le16::<u64>(b, 0x18) as usize;
    let ok = |s: usize| s.is_power_of_two() && (512..=65536).contains(&s);
    if !ok(system) || !ok(page) || area < 0x1E || !area.is_multiple_of(8) || area + 0x28 > b.len() {
        return None;
    }
    let data = le16::<u64>(b, area + 0x26) as usize;
    if data < 0x28 || !data.is_multiple_of(8) || data + HEADER >= page {
        return None;
    }
    Some(Layout {
        first: 2 * system as u64,
        page,
        data,
    })
}

/// The client data length of the log record header at the start of `p`,
/// when it is one: an NTFS client record whose LSNs are in order.
pub(crate) fn record_len(p: &[u8]) -> Option<usize> {
    if p.len() < HEADER {
        return None;
    }
    let (lsn, previous, undo_next) = (le64(p, 0), le64(p, 8), le64(p, 0x10));
    let len = le32::<u64>(p, 0x18) as usize;
    let client = le16::<u64>(p, 0x1E);
    let kind = le32::<u64>(p, 0x20);
    let ok = lsn != 0
        && previous < lsn
        && undo_next < lsn
        && client == 0
        && kind == 1
        && (0x20..=MAX_CLIENT).contains(&len);
    ok.then_some(len)
}

/// The redo and undo operations of a record's client data, each with its
/// data's range, when both are operations NTFS logs and their data lies in
/// `d`.
pub(crate) fn operations(d: &[u8]) -> Option<[(u16, Range<usize>); 2]> {
    if d.len() < 0x20 {
        return None;
    }
    // Redo then undo: operation codes at 0 and 2, (offset, length) of
    // their data at 4 and 8.
    let op = |code_at: usize, data_at: usize| -> Option<(u16, Range<usize>)> {
        let code = le16::<u64>(d, code_at) as u16;
        let off = le16::<u64>(d, data_at) as usize;
        let len = le16::<u64>(d, data_at + 2) as usize;
        // No data: an empty range wherever the offset points.
        let range = if len == 0 { 0..0 } else { off..off + len };
        let inside = len == 0 || (off >= 0x20 && range.end <= d.len());
        (code <= LAST_OP && inside).then_some((code, range))
    };
    Some([op(0, 4)?, op(2, 8)?])
}

/// One name the log holds.
pub(crate) struct Named {
    pub file: (u64, u16),
    pub parent: (u64, u16),
    pub name: String,
    /// 2: a DOS (8.3) name, the short twin of a long one.
    pub namespace: u8,
    pub size: u64,
    pub directory: bool,
    pub times: [u64; 4],
    pub how: How,
}

/// What a log record does with a name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum How {
    /// Adds it to its folder's index (redo data).
    Added,
    /// Removes it (the undo data of a removal puts it back).
    Removed,
    /// Makes the file's MFT record with it (`InitializeFileRecordSegment`).
    Made,
}

/// The index entry in an index operation's data, when its key checks.
pub(crate) fn index_entry(code: u16, e: &[u8], redo: bool) -> Option<Named> {
    let add = matches!(code, ADD_ROOT | ADD_ALLOCATION);
    if !add && !matches!(code, DELETE_ROOT | DELETE_ALLOCATION) {
        return None;
    }
    if e.len() < 16 + 66 {
        return None;
    }
    let r = le64(e, 0);
    let (entry_len, key_len) = (le16::<u64>(e, 8) as usize, le16::<u64>(e, 10) as usize);
    if key_len < 66 || 16 + key_len > e.len() || entry_len < 16 + key_len {
        return None;
    }
    let (name, size, directory) = checked_key(&e[16..16 + key_len])?;
    Some(Named {
        file: (r & 0x0000_FFFF_FFFF_FFFF, (r >> 48) as u16),
        parent: (name.parent, name.parent_seq),
        size,
        directory,
        times: name.times,
        namespace: name.namespace,
        name: name.name,
        // Redo adds or removes as its operation says; undo does the opposite.
        how: if add == redo {
            How::Added
        } else {
            How::Removed
        },
    })
}

/// The names in an MFT record image an `InitializeFileRecordSegment`
/// logs (as NTFS holds it in memory: no update sequence applied): its
/// resident `$FILE_NAME` attributes whose keys check, for record `m`.
pub(crate) fn record_names(m: u64, rec: &[u8]) -> Vec<Named> {
    let mut out = Vec::new();
    if rec.len() < 0x30 || &rec[0..4] != b"FILE" {
        return out;
    }
    let seq = le16::<u64>(rec, 0x10) as u16;
    let mut p = le16::<u64>(rec, 0x14) as usize;
    // Attributes at most: a record holds a few dozen.
    for _ in 0..256 {
        if p + 24 > rec.len() || le32::<u64>(rec, p) == 0xFFFF_FFFF {
            break;
        }
        let (ty, len) = (le32::<u64>(rec, p), le32::<u64>(rec, p + 4) as usize);
        if len < 24 || !len.is_multiple_of(8) || p + len > rec.len() {
            break;
        }
        if ty == 0x30 && rec[p + 8] == 0 {
            let (vlen, voff) = (
                le32::<u64>(rec, p + 16) as usize,
                le16::<u64>(rec, p + 20) as usize,
            );
            if let Some((name, size, directory)) = rec
                .get(p + voff..p + voff + vlen)
                .filter(|_| voff + vlen <= len)
                .and_then(checked_key)
            {
                out.push(Named {
                    file: (m, seq),
                    parent: (name.parent, name.parent_seq),
                    size,
                    directory: directory || le16::<u64>(rec, 0x16) & 2 != 0,
                    times: name.times,
                    namespace: name.namespace,
                    name: name.name,
                    how: How::Made,
                });
            }
        }
        p += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log record adding (redo) an index entry for `name` in the root.
    fn record(name: &str) -> Vec<u8> {
        let mut key = vec![0u8; 66];
        key[0..8].copy_from_slice(&(5u64 | 5 << 48).to_le_bytes());
        for o in [8, 16, 24, 32] {
            key[o..o + 8].copy_from_slice(&133_000_000_000_000_000u64.to_le_bytes());
        }
        key[48..56].copy_from_slice(&77u64.to_le_bytes());
        let u: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        key[64] = (u.len() / 2) as u8;
        key[65] = 1;
        key.extend_from_slice(&u);
        let mut entry = vec![0u8; 16];
        entry[0..8].copy_from_slice(&(70u64 | 3 << 48).to_le_bytes());
        let elen = (16 + key.len()).div_ceil(8) * 8;
        entry[8..10].copy_from_slice(&(elen as u16).to_le_bytes());
        entry[10..12].copy_from_slice(&(key.len() as u16).to_le_bytes());
        entry.extend_from_slice(&key);
        entry.resize(elen, 0);
        let mut client = vec![0u8; 0x28];
        client[0..2].copy_from_slice(&ADD_ALLOCATION.to_le_bytes());
        client[2..4].copy_from_slice(&DELETE_ALLOCATION.to_le_bytes());
        client[4..6].copy_from_slice(&0x28u16.to_le_bytes());
        client[6..8].copy_from_slice(&(entry.len() as u16).to_le_bytes());
        client[8..10].copy_from_slice(&0x28u16.to_le_bytes());
        client.extend_from_slice(&entry);
        let mut r = vec![0u8; HEADER];
        r[0..8].copy_from_slice(&1000u64.to_le_bytes());
        r[8..16].copy_from_slice(&990u64.to_le_bytes());
        r[0x18..0x1C].copy_from_slice(&(client.len() as u32).to_le_bytes());
        r[0x20..0x24].copy_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&client);
        r
    }

    #[test]
    fn a_record_its_operations_and_its_entry() {
        let r = record("gone.txt");
        let len = record_len(&r).unwrap();
        let d = &r[HEADER..HEADER + len];
        let [(redo, rr), (undo, ur)] = operations(d).unwrap();
        assert_eq!((redo, undo, ur), (ADD_ALLOCATION, DELETE_ALLOCATION, 0..0));
        let n = index_entry(redo, &d[rr.clone()], true).unwrap();
        assert_eq!(
            (n.file, n.parent, n.name.as_str()),
            ((70, 3), (5, 5), "gone.txt")
        );
        assert_eq!((n.size, n.how, n.directory), (77, How::Added, false));
        // The same entry as undo data: the record removed it.
        let undone = index_entry(redo, &d[rr.clone()], false).unwrap();
        assert_eq!(undone.how, How::Removed);
        // An operation that carries no index entry.
        assert!(index_entry(0x07, &d[rr], true).is_none());
        // Each header check: LSN 0, previous LSN after it, another client, a
        // restart record, client data too short.
        for (at, v) in [(0usize, 0u64), (8, 2000), (0x1E, 1), (0x20, 2), (0x18, 8)] {
            let mut c = r.clone();
            let w = match at {
                0 | 8 => 8,
                0x1E => 2,
                _ => 4,
            };
            c[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
            assert!(record_len(&c).is_none(), "field at {at}");
        }
        // An unknown operation, data past the record.
        let mut c = d.to_vec();
        c[0..2].copy_from_slice(&0x26u16.to_le_bytes());
        assert!(operations(&c).is_none());
        let mut c = d.to_vec();
        c[6..8].copy_from_slice(&0x400u16.to_le_bytes());
        assert!(operations(&c).is_none());
    }

    #[test]
    fn names_of_a_logged_record_image() {
        // The key of `record("made.txt")` as a resident $FILE_NAME.
        let r = record("made.txt");
        let key = &r[HEADER + 0x28 + 16..];
        let key = &key[..66 + 2 * key[64] as usize];
        let mut rec = vec![0u8; 0x38];
        rec[0..4].copy_from_slice(b"FILE");
        rec[0x10..0x12].copy_from_slice(&4u16.to_le_bytes());
        rec[0x14..0x16].copy_from_slice(&0x38u16.to_le_bytes());
        let alen = (24 + key.len()).div_ceil(8) * 8;
        let mut a = vec![0u8; alen];
        a[0..4].copy_from_slice(&0x30u32.to_le_bytes());
        a[4..8].copy_from_slice(&(alen as u32).to_le_bytes());
        a[16..20].copy_from_slice(&(key.len() as u32).to_le_bytes());
        a[20..22].copy_from_slice(&24u16.to_le_bytes());
        a[24..24 + key.len()].copy_from_slice(key);
        rec.extend_from_slice(&a);
        rec.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        let n = record_names(43, &rec);
        assert_eq!(n.len(), 1);
        assert_eq!(
            (n[0].file, n[0].parent, n[0].how),
            ((43, 4), (5, 5), How::Made)
        );
        assert_eq!(n[0].name, "made.txt");
        // A value past its attribute, an attribute past the record, not a
        // record: nothing.
        let mut c = rec.clone();
        c[0x38 + 16..0x38 + 20].copy_from_slice(&(alen as u32).to_le_bytes());
        assert!(record_names(43, &c).is_empty());
        let mut c = rec.clone();
        c[0x38 + 4..0x38 + 8].copy_from_slice(&4096u32.to_le_bytes());
        assert!(record_names(43, &c).is_empty());
        assert!(record_names(43, &rec[..0x20]).is_empty());
    }

    #[test]
    fn a_restart_page_gives_the_layout() {
        let mut p = vec![0u8; 4096];
        p[0..4].copy_from_slice(b"RSTR");
        p[0x10..0x14].copy_from_slice(&4096u32.to_le_bytes());
        p[0x14..0x18].copy_from_slice(&4096u32.to_le_bytes());
        p[0x18..0x1A].copy_from_slice(&0x30u16.to_le_bytes());
        p[0x30 + 0x26..0x30 + 0x28].copy_from_slice(&0x40u16.to_le_bytes());
        assert_eq!(
            layout(&p),
            Some(Layout {
                first: 8192,
                page: 4096,
                data: 0x40
            })
        );
        for (at, v) in [(0x14usize, 3000u32), (0x10, 0), (0x18, 0x31)] {
            let mut c = p.clone();
            c[at..at + 4].copy_from_slice(&v.to_le_bytes());
            if at == 0x18 {
                c[0x1A..0x1C].fill(0);
            }
            assert!(layout(&c).is_none(), "field at {at}");
        }
        p[0..4].copy_from_slice(b"RCRD");
        assert!(layout(&p).is_none());
    }
}
