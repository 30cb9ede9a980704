//! Records of a volume's filesystem tree: inodes, directory records, file
//! extents, extended attributes and sibling links (hard links), gathered in
//! one walk of the tree. Keys start with an object id (low 60 bits) and a
//! record type (high 4 bits).

use dredge_core::bytes::{le16, le32, le64};
use std::collections::HashMap;

const INODE: u8 = 3;
const XATTR: u8 = 4;
const SIBLING_LINK: u8 = 5;
const FILE_EXTENT: u8 = 8;
const DIR_REC: u8 = 9;

/// `INO_EXT_TYPE_NAME` and `INO_EXT_TYPE_DSTREAM` extended fields.
const XF_NAME: u8 = 4;
const XF_DSTREAM: u8 = 8;
/// `XATTR_DATA_STREAM`: the attribute's value is in extents of its own.
const XATTR_STREAM: u16 = 1;

/// The most records of each kind one tree is read for: a tree claiming more
/// is damaged or hostile, and the rest is reported, not held.
pub(crate) const MAX_RECORDS: usize = 1 << 26;

#[derive(Clone, Debug, Default)]
pub(crate) struct Inode {
    pub parent: u64,
    pub private_id: u64,
    /// create, modify, change, access: nanoseconds since 1970.
    pub times: [u64; 4],
    pub bsd_flags: u32,
    pub mode: u16,
    /// The data stream's logical size, when the inode has one.
    pub size: Option<u64>,
    pub name: Option<String>,
    /// Image offset of the leaf holding the record.
    pub at: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Drec {
    pub parent: u64,
    pub name: String,
    pub file: u64,
    /// `DT_*` of the entry (4 directory, 8 file, 10 symlink).
    pub dtype: u16,
}

#[derive(Clone, Debug)]
pub(crate) enum XValue {
    Embedded(Vec<u8>),
    /// (extents' owner id, logical size).
    Stream(u64, u64),
}

#[derive(Clone, Debug)]
pub(crate) struct Xattr {
    pub name: String,
    pub value: XValue,
}

/// A file extent: (logical offset, length, physical block, 0 for a hole).
pub(crate) type FileExtent = (u64, u64, u64);

#[derive(Default)]
pub(crate) struct Records {
    pub inodes: HashMap<u64, Inode>,
    /// In tree order (parent, then name hash).
    pub drecs: Vec<Drec>,
    pub extents: HashMap<u64, Vec<FileExtent>>,
    pub xattrs: HashMap<u64, Vec<Xattr>>,
    /// inode → (link id, parent, name).
    pub siblings: HashMap<u64, Vec<(u64, u64, String)>>,
    /// Records dropped past [`MAX_RECORDS`] or that did not parse.
    pub dropped: u64,
}

fn name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The extended fields of an inode or directory record: (type, value).
fn xfields(b: &[u8]) -> Vec<(u8, &[u8])> {
    if b.len() < 4 {
        return Vec::new();
    }
    let n = usize::from(le16::<u16>(b, 0));
    let mut out = Vec::new();
    let mut data = 4 + 4 * n;
    for i in 0..n {
        let h = 4 + 4 * i;
        if h + 4 > b.len() {
            break;
        }
        let size = usize::from(le16::<u16>(b, h + 2));
        let Some(v) = b.get(data..data + size) else {
            break;
        };
        out.push((b[h], v));
        data += size.div_ceil(8) * 8;
    }
    out
}

impl Records {
    fn full(&mut self, n: usize) -> bool {
        if n >= MAX_RECORDS {
            self.dropped += 1;
            return true;
        }
        false
    }

    /// Takes in one leaf record of the tree (its leaf at image offset `at`).
    pub fn add(&mut self, at: u64, k: &[u8], v: &[u8]) {
        if k.len() < 8 {
            self.dropped += 1;
            return;
        }
        let hdr = le64(k, 0);
        let (oid, kind) = (hdr & ((1 << 60) - 1), (hdr >> 60) as u8);
        match kind {
            INODE if v.len() >= 92 => {
                if self.full(self.inodes.len()) {
                    return;
                }
                let mut ino = Inode {
                    parent: le64(v, 0),
                    private_id: le64(v, 8),
                    times: [le64(v, 16), le64(v, 24), le64(v, 32), le64(v, 40)],
                    bsd_flags: le32(v, 68),
                    mode: le16(v, 80),
                    at,
                    ..Inode::default()
                };
                for (t, x) in xfields(&v[92..]) {
                    match t {
                        XF_NAME => ino.name = Some(name(x)),
                        XF_DSTREAM if x.len() >= 8 => ino.size = Some(le64(x, 0)),
                        _ => {}
                    }
                }
                self.inodes.insert(oid, ino);
            }
            DIR_REC if v.len() >= 18 => {
                if self.full(self.drecs.len()) {
                    return;
                }
                // Hashed keys (length and hash in a u32) on every volume
                // since macOS 10.13; plain keys (a u16 length) before.
                let n = if k.len() >= 12 && 12 + (le32::<u32>(k, 8) & 0x3FF) as usize == k.len() {
                    &k[12..]
                } else if k.len() >= 10 && 10 + usize::from(le16::<u16>(k, 8)) == k.len() {
                    &k[10..]
                } else {
                    self.dropped += 1;
                    return;
                };
                self.drecs.push(Drec {
                    parent: oid,
                    name: name(n),
                    file: le64(v, 0),
                    dtype: le16::<u16>(v, 16) & 0xF,
                });
            }
            FILE_EXTENT if k.len() >= 16 && v.len() >= 16 => {
                let list = self.extents.entry(oid).or_default();
                if list.len() >= MAX_RECORDS {
                    self.dropped += 1;
                    return;
                }
                list.push((le64(k, 8), le64(v, 0) & ((1 << 56) - 1), le64(v, 8)));
            }
            XATTR if k.len() >= 10 && v.len() >= 4 => {
                let nl = usize::from(le16::<u16>(k, 8));
                let Some(n) = k.get(10..10 + nl) else {
                    self.dropped += 1;
                    return;
                };
                let (flags, len) = (le16::<u16>(v, 0), usize::from(le16::<u16>(v, 2)));
                let data = &v[4..(4 + len).min(v.len())];
                let value = if flags & XATTR_STREAM != 0 {
                    if data.len() < 16 {
                        self.dropped += 1;
                        return;
                    }
                    XValue::Stream(le64(data, 0), le64(data, 8))
                } else {
                    XValue::Embedded(data.to_vec())
                };
                let list = self.xattrs.entry(oid).or_default();
                if list.len() < 4096 {
                    list.push(Xattr {
                        name: name(n),
                        value,
                    });
                }
            }
            SIBLING_LINK if k.len() >= 16 && v.len() >= 10 => {
                let nl = usize::from(le16::<u16>(v, 8));
                let n = v.get(10..10 + nl).map(name).unwrap_or_default();
                self.siblings
                    .entry(oid)
                    .or_default()
                    .push((le64(k, 8), le64(v, 0), n));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_fields_are_read_after_their_table_each_padded_to_eight() {
        // Two fields: a 5-byte name (padded to 8) then a dstream.
        let mut b = vec![2, 0, 0, 0, XF_NAME, 0, 5, 0, XF_DSTREAM, 0, 40, 0];
        b.extend_from_slice(b"abcd\0\0\0\0");
        let mut ds = vec![0u8; 40];
        ds[..8].copy_from_slice(&1234u64.to_le_bytes());
        b.extend_from_slice(&ds);
        let f = xfields(&b);
        assert_eq!(f.len(), 2);
        assert_eq!(name(f[0].1), "abcd");
        assert_eq!(le64(f[1].1, 0), 1234);
        // A field running past the blob stops the list, it does not panic.
        b.truncate(30);
        assert_eq!(xfields(&b).len(), 1);
    }
}
