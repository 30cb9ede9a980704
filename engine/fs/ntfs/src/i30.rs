//! Names from folder indexes that the MFT no longer holds (issue 14).
//!
//! A folder's `$I30` index keeps a copy of each child's `$FILE_NAME` (name,
//! parent, four times, size). When a name is removed, NTFS (and ntfs-3g) moves
//! the later entries of its index block down and lowers the block's in-use
//! length; the bytes past it (the slack) keep older copies of entries until the
//! block fills again. A block the index no longer uses ($BITMAP:$I30) is slack
//! whole, and so is every block of a deleted folder. A copy found there whose
//! MFT record no longer carries that name — the record was reused by another
//! file, or the file was renamed or moved — is the only trace of that name, so
//! it is listed as a name-only entry (no content), its times from the copy
//! (`ntfs.i30.*`) and its source and MFT reference in the recovery detail.
//!
//! Copies are found by their key, not by walking entries: a slack copy's entry
//! header may be overwritten, but its `$FILE_NAME` must name this folder
//! (record and sequence number), hold a valid name and plausible times, and lie
//! wholly in the slack. Reads are bounded: index blocks of at most 64 KiB, at
//! most `MAX_INDEX` bytes of index per folder and, over all folders, as many
//! bytes as the volume holds (damaged runs that cross-link cannot make it more).

use crate::record::{file_name, fixup, le16, le32, le64, Attribute, FileName, Value};
use crate::NtfsFs;
use dredge_core::{Entry, EntryKind, Finding, Recovery};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

const AT_INDEX_ROOT: u32 = 0x90;
const AT_INDEX_ALLOCATION: u32 = 0xA0;
const AT_BITMAP: u32 = 0xB0;
/// Ids of name-only entries: this bit with the byte offset of the copy's key in
/// the volume (MFT records and their streams use the low 48 + 8 bits).
pub(crate) const I30_ID: u64 = 1 << 62;
/// Index bytes read per folder at most (a folder of a million entries has
/// about 100 MiB of index; more is damage).
const MAX_INDEX: u64 = 1 << 30;
/// FILETIMEs between 1980 and 2107: anything else is not a time NTFS wrote.
const FT_MIN: u64 = 119_600_064_000_000_000;
const FT_MAX: u64 = 159_000_000_000_000_000;

/// The `$I30` attributes of a folder record, cloned before the record is listed.
pub(crate) struct FolderIndex {
    block_size: u64,
    allocation: Vec<Attribute>,
    bitmap: Option<Vec<u8>>,
}

impl FolderIndex {
    pub(crate) fn of(attrs: &[Attribute]) -> Option<FolderIndex> {
        let i30 = |ty| attrs.iter().filter(move |a| a.ty == ty && a.name == "$I30");
        let allocation: Vec<Attribute> = i30(AT_INDEX_ALLOCATION).cloned().collect();
        if allocation.is_empty() {
            return None;
        }
        // $INDEX_ROOT gives the index block size (byte 8); 4 KiB is what
        // every NTFS version writes when the root is damaged.
        let block_size = i30(AT_INDEX_ROOT)
            .find_map(|a| match &a.value {
                Value::Resident(v) if v.len() >= 12 => Some(le32::<u64>(v, 8)),
                _ => None,
            })
            .filter(|b| b.is_power_of_two() && (512..=65536).contains(b))
            .unwrap_or(4096);
        let bitmap = i30(AT_BITMAP).find_map(|a| match &a.value {
            Value::Resident(v) => Some(v.clone()),
            _ => None,
        });
        Some(FolderIndex {
            block_size,
            allocation,
            bitmap,
        })
    }

    fn in_use(&self, block: u64) -> bool {
        match &self.bitmap {
            Some(b) => b
                .get((block / 8) as usize)
                .is_some_and(|x| x >> (block % 8) & 1 == 1),
            // A non-resident or missing bitmap: trust each block's own header.
            None => true,
        }
    }
}

/// Index blocks read over all folders: what is left of the budget (the
/// volume's size: cross-linked runs cannot make it more), and the image
/// offset of every block read.
pub(crate) struct IndexReads {
    pub budget: u64,
    pub searched: HashSet<u64>,
}

/// The folder whose index is searched.
pub(crate) struct Folder<'a> {
    pub n: u64,
    pub sequence: u16,
    pub deleted: bool,
    /// Its path ("" for the root).
    pub path: &'a str,
}

/// The MFT references a child's `$FILE_NAME` gives its parent folder. A
/// deleted folder's record has its sequence number raised by one: its
/// children name the one before. A folder in use is only this one (the one
/// before may be another folder that had this record).
pub(crate) fn wanted(folder: &Folder) -> Vec<u64> {
    let s = folder.sequence;
    let seqs = if folder.deleted {
        vec![s, s.wrapping_sub(1)]
    } else {
        vec![s]
    };
    seqs.into_iter()
        .map(|s| folder.n | (u64::from(s) << 48))
        .collect()
}

/// A name as the deleted-names set keeps it: hashed (SipHash with fixed keys,
/// the same on every run), so a million deleted records cost 16 MiB.
pub(crate) fn name_key(name: &str) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// Where copies were found: the words for their entries' detail, the bit
/// their ids carry, the folder they name and its path.
pub(crate) struct Source<'a> {
    pub what: String,
    pub id_bit: u64,
    pub folder: u64,
    pub path: &'a str,
}

/// A `$FILE_NAME` copy found in an index block.
pub(crate) struct Copy {
    /// Volume offset of the key.
    at: u64,
    /// The entry's MFT reference, when its header lies in the slack too.
    file_ref: Option<(u64, u16)>,
    name: FileName,
    size: u64,
    directory: bool,
    /// Found in the slack of the folder's own MFT record (`i30_root.rs`),
    /// not in an index block.
    pub(crate) in_root: bool,
}

impl NtfsFs {
    /// Lists the names in a folder's index slack (all of its index when the
    /// folder is deleted) that the MFT no longer holds. `gone` holds (parent,
    /// `name_key`) of every deleted record's names; the image offset of every
    /// block read goes into `searched`.
    pub(crate) fn i30_slack(
        &self,
        folder: &Folder,
        index: &FolderIndex,
        gone: &HashSet<(u64, u64)>,
        reads: &mut IndexReads,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let IndexReads { budget, searched } = reads;
        let (n, folder_deleted, path) = (folder.n, folder.deleted, folder.path);
        let (runs, size) = self.data_runs(&index.allocation, 0);
        let bs = index.block_size;
        let mut live = Live::default();
        let mut copies: Vec<Copy> = Vec::new();
        let mut buf = vec![0u8; bs as usize];
        let mut unreadable = 0u64;
        let want = wanted(folder);
        for b in 0..size.min(MAX_INDEX) / bs {
            let off = b * bs;
            if *budget < bs {
                findings.push(Finding::new(
                    self.vol.base(),
                    format!("{path}: index slack not searched past byte {off} of $I30: the volume's folders claim more index than the volume holds (cross-linked or damaged runs)"),
                ));
                break;
            }
            *budget -= bs;
            // The block from the runs (it may span runs when clusters are
            // smaller than blocks); bytes read for a bad sector are searched.
            let read = self.read_runs(&runs, off, &mut buf);
            if read.is_none() || &buf[0..4] != b"INDX" {
                unreadable += u64::from(read.is_none());
                continue;
            }
            let Some(block_at) = crate::streams::image_at(&runs, off) else {
                continue;
            };
            // Blocks searched here are not searched again as blocks found in
            // free space (a deleted folder's are both).
            searched.insert(block_at);
            if fixup(&mut buf).is_err() {
                continue;
            }
            let eo = 0x18 + le32::<u64>(&buf, 0x18);
            let used = 0x18 + le32::<u64>(&buf, 0x1C);
            let alloc = (0x18 + le32::<u64>(&buf, 0x20)).min(bs);
            if eo < 0x28 || eo > alloc {
                continue;
            }
            let stale_from = if folder_deleted || !index.in_use(b) {
                eo
            } else {
                walk_live(&buf, eo, used.min(alloc), &mut live);
                used.min(alloc)
            };
            find_copies(&buf, stale_from, alloc, &want, block_at, &mut copies);
        }
        // The tail of the root's older entries, in the folder's own record.
        self.root_slack(n, &want, &mut live, &mut copies);
        if unreadable > 0 {
            findings.push(Finding::new(
                self.vol.base(),
                format!("{path}: {unreadable} index block(s) of $I30 unreadable; their slack not searched"),
            ));
        }
        let from = Source {
            what: format!("the $I30 index slack of folder record {n}"),
            id_bit: I30_ID,
            folder: n,
            path,
        };
        self.emit_copies(copies, &live, &from, gone, visit);
    }

    /// Lists the copies `from` holds whose names neither `live` (the folder's
    /// entries in use) nor the MFT lists any more.
    pub(crate) fn emit_copies(
        &self,
        mut copies: Vec<Copy>,
        live: &Live,
        from: &Source,
        gone: &HashSet<(u64, u64)>,
        visit: &mut dyn FnMut(Entry),
    ) {
        let (n, path) = (from.folder, from.path);
        let base = self.vol.base();
        // A reference past the MFT, or with sequence 0, is no reference: the
        // bytes before the key are not its entry's header.
        let records = self.record_count();
        for c in &mut copies {
            // (Sequence 0 is only ever a system file's.)
            if c.file_ref.is_some_and(|(m, q)| m >= records || q == 0) {
                c.file_ref = None;
            }
        }
        // Copies whose reference is known first: they cover the shifted copies
        // of the same entry whose header was overwritten.
        copies.sort_by_key(|c| c.file_ref.is_none());
        // Names hashed (name_key), so memory and time follow the folder's
        // entry count, not its square.
        let mut seen: HashSet<(u64, Option<(u64, u16)>)> = HashSet::new();
        let mut seen_with_ref: HashSet<u64> = HashSet::new();
        for c in copies {
            let key = name_key(&c.name.name);
            let listed = match c.file_ref {
                Some((r, _)) => live.pairs.contains(&(key, r)),
                None => live.names.contains(&key),
            };
            if listed || !seen.insert((key, c.file_ref)) {
                continue;
            }
            // Shifted copies of one entry: one with its reference known covers
            // the ones whose header was overwritten.
            if c.file_ref.is_some() {
                seen_with_ref.insert(key);
            } else if seen_with_ref.contains(&key) {
                continue;
            }
            let Some(why) = self.why_name_only(&c, n, gone) else {
                continue;
            };
            let times = crate::record::name_times(
                [
                    "ntfs.i30.created",
                    "ntfs.i30.modified",
                    "ntfs.i30.mft_modified",
                    "ntfs.i30.accessed",
                ],
                c.name.times,
            );
            visit(Entry {
                id: from.id_bit | (c.at - base),
                path: format!("{path}/{}", c.name.name),
                other_names: Vec::new(),
                kind: if c.directory {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                deleted: true,
                size: c.size,
                times,
                runs: Vec::new(),
                recovery: Recovery::NotRecoverable(if c.in_root {
                    format!(
                        "name from the slack of folder record {n} (older entries of its $INDEX_ROOT) at byte {}: {why}",
                        c.at
                    )
                } else {
                    format!("name from {} at byte {}: {why}", from.what, c.at)
                }),
                meta_offset: c.at,
            });
        }
    }

    /// Why a copy is the only trace of its name, or None when the MFT still
    /// lists that name under this folder (the MFT sweep has it).
    fn why_name_only(&self, c: &Copy, folder: u64, gone: &HashSet<(u64, u64)>) -> Option<String> {
        let Some((m, seq)) = c.file_ref else {
            // A deleted record still naming it: listed by the MFT sweep.
            if gone.contains(&(folder, name_key(&c.name.name))) {
                return None;
            }
            return Some(
                "the entry's header is overwritten, so its MFT record is not known".into(),
            );
        };
        let (rec, _) = self.record(m);
        let Some(rec) = rec else {
            return Some(format!("MFT record {m} is empty or unreadable"));
        };
        // Deleting a file raises its record's sequence number by one.
        let same_file = rec.sequence == seq || (!rec.in_use && rec.sequence == seq.wrapping_add(1));
        if !same_file {
            return Some(format!(
                "MFT record {m} now holds another file (sequence {}, the index entry names {seq}); the content is gone",
                rec.sequence
            ));
        }
        let names = crate::walk::names_of(&rec);
        if names
            .iter()
            .any(|f| f.parent == folder && f.name == c.name.name)
        {
            return None;
        }
        Some(format!(
            "an earlier name of MFT record {m} (sequence {seq}), which now has other names; its content is listed under that record"
        ))
    }
}

/// The entries of a folder's index in use: (name_key, MFT record), and the
/// names alone.
#[derive(Default)]
pub(crate) struct Live {
    pairs: HashSet<(u64, u64)>,
    names: HashSet<u64>,
}

/// Entries of the in-use part of a block.
pub(crate) fn walk_live(buf: &[u8], from: u64, to: u64, live: &mut Live) {
    let mut p = from as usize;
    let to = to as usize;
    while p + 16 <= to {
        let len = le16::<u64>(buf, p + 8) as usize;
        let key = le16::<u64>(buf, p + 10) as usize;
        let flags = le16::<u64>(buf, p + 12);
        if flags & 2 != 0 || len < 16 || p + len > to {
            break;
        }
        if key >= 66 && p + 16 + key <= to {
            if let Some(f) = file_name(&buf[p + 16..p + 16 + key]) {
                let key = name_key(&f.name);
                live.pairs
                    .insert((key, le64(buf, p) & 0x0000_FFFF_FFFF_FFFF));
                live.names.insert(key);
            }
        }
        p += len;
    }
}

/// `$FILE_NAME` keys whose parent reference is one of `want`, at 8-byte
/// steps of `[from, to)`.
pub(crate) fn find_copies(
    buf: &[u8],
    from: u64,
    to: u64,
    want: &[u64],
    block_at: u64,
    out: &mut Vec<Copy>,
) {
    let (from, to) = (from as usize, to as usize);
    // Keys sit 16 bytes into 8-aligned entries: 8-aligned.
    let mut k = (from + 7) & !7;
    while k + 66 <= to {
        let here = k;
        k += 8;
        if !want.contains(&le64(buf, here)) {
            continue;
        }
        let Some((name, size, directory)) = checked_key(&buf[here..to]) else {
            continue;
        };
        let nlen = buf[here + 64] as usize;
        // The entry header, when it is in the stale part too and agrees.
        // Entry length: the key rounded up to 8 (Windows), or 8 more
        // (ntfs-3g leaves room for a subnode reference).
        let key_len = 66 + 2 * nlen;
        let header_ok = here >= from + 16 && {
            let entry_len = le16::<u64>(buf, here - 8) as usize;
            le16::<u64>(buf, here - 6) as usize == key_len
                && entry_len >= 16 + key_len
                && entry_len.is_multiple_of(8)
                && entry_len <= 16 + key_len + 16
        };
        let file_ref = header_ok
            .then(|| {
                let r = le64(buf, here - 16);
                (r & 0x0000_FFFF_FFFF_FFFF, (r >> 48) as u16)
            })
            .filter(|(m, _)| *m >= 16 || *m == 5);
        out.push(Copy {
            at: block_at + here as u64,
            file_ref,
            name,
            size,
            directory,
            in_root: false,
        });
    }
}

/// The `$FILE_NAME` key at the start of `k`, when NTFS could have written it:
/// a name of valid characters in one of the four namespaces, wholly in `k`,
/// and four times between 1980 and 2107. With the size it records and
/// whether it names a folder.
pub(crate) fn checked_key(k: &[u8]) -> Option<(FileName, u64, bool)> {
    if k.len() < 66 {
        return None;
    }
    let nlen = k[64] as usize;
    if nlen == 0 || k[65] > 3 || 66 + 2 * nlen > k.len() {
        return None;
    }
    let times = [8, 16, 24, 32].map(|o| le64(k, o));
    if times.iter().any(|t| !(FT_MIN..FT_MAX).contains(t)) {
        return None;
    }
    if !plausible_name(&k[66..66 + 2 * nlen]) {
        return None;
    }
    let name = file_name(&k[..66 + 2 * nlen])?;
    let flags = le32::<u64>(k, 56);
    Some((name, le64(k, 48), flags & 0x1000_0000 != 0))
}

/// A name NTFS could have stored: valid UTF-16, no NUL, `/` or control
/// characters (a damaged copy decodes to them).
fn plausible_name(b: &[u8]) -> bool {
    let u = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(u).all(|c| c.is_ok_and(|c| c != '/' && !c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parent: u64, name: &str, t: u64) -> Vec<u8> {
        let mut k = vec![0u8; 66];
        k[0..8].copy_from_slice(&parent.to_le_bytes());
        for o in [8, 16, 24, 32] {
            k[o..o + 8].copy_from_slice(&t.to_le_bytes());
        }
        k[48..56].copy_from_slice(&1234u64.to_le_bytes());
        let u: Vec<u16> = name.encode_utf16().collect();
        k[64] = u.len() as u8;
        k[65] = 1;
        for c in u {
            k.extend_from_slice(&c.to_le_bytes());
        }
        k
    }

    fn entry(fref: u64, k: &[u8]) -> Vec<u8> {
        let len = (16 + k.len()).div_ceil(8) * 8;
        let mut e = vec![0u8; len];
        e[0..8].copy_from_slice(&fref.to_le_bytes());
        e[8..10].copy_from_slice(&(len as u16).to_le_bytes());
        e[10..12].copy_from_slice(&(k.len() as u16).to_le_bytes());
        e[16..16 + k.len()].copy_from_slice(k);
        e
    }

    #[test]
    fn copies_name_this_folder_and_carry_their_reference() {
        let t = 133_000_000_000_000_000u64;
        let parent = 64 | (3u64 << 48);
        let mut buf = vec![0u8; 4096];
        let live = entry(100 | (1 << 48), &key(parent, "kept.txt", t));
        let stale = entry(101 | (2 << 48), &key(parent, "gone.txt", t));
        let other = entry(102 | (1 << 48), &key(65 | (3 << 48), "elsewhere.txt", t));
        let bad_time = entry(103 | (1 << 48), &key(parent, "old.txt", 5));
        let mut p = 0x40;
        for e in [&live, &stale, &other, &bad_time] {
            buf[p..p + e.len()].copy_from_slice(e);
            p += e.len();
        }
        let mut set = Live::default();
        walk_live(&buf, 0x40, 0x40 + live.len() as u64, &mut set);
        assert_eq!(
            set.pairs.into_iter().collect::<Vec<_>>(),
            [(name_key("kept.txt"), 100)]
        );
        let mut out = Vec::new();
        find_copies(
            &buf,
            0x40 + live.len() as u64,
            4096,
            &[parent],
            1 << 20,
            &mut out,
        );
        assert_eq!(
            out.len(),
            1,
            "only the copy naming folder 64, sequence 3, with real times"
        );
        assert_eq!(out[0].name.name, "gone.txt");
        assert_eq!(out[0].file_ref, Some((101, 2)));
        assert_eq!(out[0].size, 1234);
        assert_eq!(out[0].at, (1 << 20) + 0x40 + live.len() as u64 + 16);
        // A copy whose header is cut by the in-use end: the key alone, no reference.
        let mut out = Vec::new();
        find_copies(
            &buf,
            0x40 + live.len() as u64 + 8,
            4096,
            &[parent],
            0,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].file_ref, None);
    }

    #[test]
    fn damaged_names_and_short_slack_are_not_copies() {
        let t = 133_000_000_000_000_000u64;
        let parent = 64 | (3u64 << 48);
        let mut k = key(parent, "ab", t);
        k[66..68].copy_from_slice(&0xD800u16.to_le_bytes()); // lone surrogate
        let mut buf = vec![0u8; 512];
        let e = entry(100 | (1 << 48), &k);
        buf[0x40..0x40 + e.len()].copy_from_slice(&e);
        let mut out = Vec::new();
        find_copies(&buf, 0x40, 512, &[parent], 0, &mut out);
        assert!(out.is_empty());
        let good = entry(100 | (1 << 48), &key(parent, "name.txt", t));
        buf[0x40..0x40 + good.len()].copy_from_slice(&good);
        // The name runs past the slack's end: not a copy.
        find_copies(
            &buf,
            0x40,
            0x40 + good.len() as u64 - 8,
            &[parent],
            0,
            &mut out,
        );
        assert!(out.is_empty());
        find_copies(&buf, 0x40, 0x40 + good.len() as u64, &[parent], 0, &mut out);
        assert_eq!(out.len(), 1);
    }
}
