//! Catalog records: folders and files keyed by (parent CNID, name), their
//! times (seconds since 1904, UTC), BSD modes, and data and resource forks.

use crate::be32;
use crate::fork::Fork;
use dredge_core::bytes::be16;
use dredge_core::{EntryKind, Timestamp};

/// Seconds from 1904-01-01 to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;

/// A catalog key: the parent folder's CNID and the name.
pub(crate) struct Key {
    pub parent: u32,
    pub name: String,
}

/// A key's parent and name; `None` when it does not fit.
pub(crate) fn key(k: &[u8]) -> Option<Key> {
    if k.len() < 6 {
        return None;
    }
    let n = usize::from(be16::<u16>(k, 4));
    if n > 255 || 6 + 2 * n > k.len() {
        return None;
    }
    let units: Vec<u16> = (0..n).map(|i| be16(k, 6 + 2 * i)).collect();
    // The POSIX layer shows a '/' in an HFS+ name as ':'.
    let name: String = char::decode_utf16(units)
        .map(|c| match c {
            Ok('/') => ':',
            Ok(c) => c,
            Err(_) => char::REPLACEMENT_CHARACTER,
        })
        .collect();
    Some(Key {
        parent: be32(k, 0),
        name,
    })
}

/// A folder or file record.
pub(crate) struct Item {
    pub cnid: u32,
    pub folder: bool,
    pub kind: EntryKind,
    pub times: Vec<Timestamp>,
    pub data: Fork,
    pub rsrc: Fork,
    /// `UF_COMPRESSED`: the content is in a decmpfs attribute or the
    /// resource fork, the data fork empty.
    pub compressed: bool,
    /// A file hard link: the inode number of its `iNode<N>` file.
    pub link_to: Option<u32>,
}

fn times(d: &[u8]) -> Vec<Timestamp> {
    [
        ("hfs.create", 12),
        ("hfs.modify", 16),
        ("hfs.change", 20),
        ("hfs.access", 24),
        ("hfs.backup", 28),
    ]
    .iter()
    .filter_map(|&(source, at)| {
        let t = be32(d, at);
        (t != 0).then(|| Timestamp {
            source,
            secs: i64::from(t) - EPOCH_1904,
            nanos: 0,
        })
    })
    .collect()
}

/// A folder (type 1, 88 bytes) or file (type 2, 248 bytes) record; `None`
/// for threads and anything short or unknown.
pub(crate) fn item(d: &[u8]) -> Option<Item> {
    if d.len() < 2 {
        return None;
    }
    match be16::<u16>(d, 0) {
        1 if d.len() >= 88 => Some(Item {
            cnid: be32(d, 8),
            folder: true,
            kind: EntryKind::Directory,
            times: times(d),
            data: Fork::default(),
            rsrc: Fork::default(),
            compressed: false,
            link_to: None,
        }),
        2 if d.len() >= 248 => {
            let mode = be16::<u16>(d, 42) & 0o170_000;
            let kind = match mode {
                0o120_000 => EntryKind::Symlink,
                0o020_000 | 0o060_000 => EntryKind::Device,
                0o010_000 => EntryKind::Fifo,
                0o140_000 => EntryKind::Socket,
                _ => EntryKind::File,
            };
            let hard_link = &d[48..56] == b"hlnkhfs+";
            Some(Item {
                cnid: be32(d, 8),
                folder: false,
                kind,
                times: times(d),
                data: Fork::parse(d, 88),
                rsrc: Fork::parse(d, 168),
                compressed: d[41] & 0x20 != 0,
                link_to: hard_link.then(|| be32(d, 44)),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_utf16_names_and_refuse_what_does_not_fit() {
        let mut k = vec![0, 0, 0, 2, 0, 3];
        for c in "a/é".encode_utf16() {
            k.extend(c.to_be_bytes());
        }
        let got = key(&k).unwrap();
        assert_eq!((got.parent, got.name.as_str()), (2, "a:é"));
        assert!(key(&k[..9]).is_none());
        assert!(key(&[0, 0, 0, 2, 1, 0]).is_none());
    }

    #[test]
    fn file_records_give_kind_times_and_forks() {
        let mut d = vec![0u8; 248];
        d[1] = 2;
        d[8..12].copy_from_slice(&25u32.to_be_bytes());
        d[16..20].copy_from_slice(&(EPOCH_1904 as u32 + 60).to_be_bytes());
        d[42..44].copy_from_slice(&0o120_755u16.to_be_bytes());
        d[88..96].copy_from_slice(&24u64.to_be_bytes());
        d[104..112].copy_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1]);
        let it = item(&d).unwrap();
        assert_eq!((it.cnid, it.kind), (25, EntryKind::Symlink));
        assert_eq!(it.times.len(), 1);
        assert_eq!((it.times[0].source, it.times[0].secs), ("hfs.modify", 60));
        assert_eq!(it.data.extents, vec![(9, 1)]);
        assert!(item(&d[..100]).is_none());
    }
}
