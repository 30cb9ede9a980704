//! Names from the change journal, `$Extend/$UsnJrnl:$J` (issue 14).
//!
//! Windows appends a record to `$J` for every change to a file: its MFT
//! reference, its parent's, its name at that moment, a time and the reasons
//! (created, renamed from, renamed to, deleted, data written…). Deleted files
//! whose MFT records were reused, and the names files had before a rename,
//! survive there long after the MFT forgot them. Each (record, parent, name)
//! the journal holds that the MFT no longer lists is a name-only entry, its
//! first and last journal times (`ntfs.usn.first`, `ntfs.usn.last`), the USN
//! range and the reasons in the recovery detail, linked to the MFT record
//! where it still exists.
//!
//! Records (versions 2 and 3) are read where `$J` is stored (its leading
//! sparse part, which Windows frees as the journal wraps, is skipped); they
//! sit at 8-byte boundaries and are checked field by field, a record that
//! does not check costing 8 bytes. At most `MAX_J` bytes are read and
//! `MAX_NAMES` names kept.

use crate::record::{filetime, le16, le32, le64, Attribute};
use crate::NtfsFs;
use dredge_core::{Entry, EntryKind, Finding, Recovery, RunData};
use std::collections::BTreeMap;

/// Ids of journal names: this bit with the volume offset of the name's first
/// record.
pub(crate) const USN_ID: u64 = 1 << 61;
const MAX_J: u64 = 4 << 30;
const MAX_NAMES: usize = 1 << 20;
const CHUNK: u64 = 1 << 20;

/// One journal record.
#[derive(Debug, PartialEq)]
pub(crate) struct UsnRecord {
    pub file: (u64, u16),
    pub parent: (u64, u16),
    pub usn: u64,
    pub time: u64,
    pub reason: u32,
    pub attributes: u32,
    pub name: String,
    pub len: usize,
}

fn reference(r: u64) -> (u64, u16) {
    (r & 0x0000_FFFF_FFFF_FFFF, (r >> 48) as u16)
}

/// The record at the start of `b`, if one is there.
pub(crate) fn parse(b: &[u8]) -> Option<UsnRecord> {
    if b.len() < 60 {
        return None;
    }
    let len = le32::<u64>(b, 0) as usize;
    let (major, minor) = (le16::<u64>(b, 4), le16::<u64>(b, 6));
    if len < 60 || len > b.len() || !len.is_multiple_of(8) || len > 4096 || minor != 0 {
        return None;
    }
    // Version 3 has 128-bit references (ReFS, or NTFS with them asked for);
    // an NTFS reference is in their low 64 bits.
    let (file, parent, rest, name_at) = match major {
        2 => (le64(b, 8), le64(b, 16), 24, 56),
        3 if len >= 76 => (le64(b, 8), le64(b, 24), 40, 72),
        _ => return None,
    };
    let usn = le64(b, rest);
    let time = le64(b, rest + 8);
    let reason = le32::<u64>(b, rest + 16) as u32;
    let attributes = le32::<u64>(b, rest + 28) as u32;
    let name_len = le16::<u64>(b, name_at) as usize;
    let name_off = le16::<u64>(b, name_at + 2) as usize;
    if name_len == 0
        || !name_len.is_multiple_of(2)
        || name_off != name_at + 4
        || name_off + name_len > len
        || reason == 0
        || filetime(time).is_none_or(|(s, _)| !(315_532_800..4_102_444_800).contains(&s))
    {
        return None;
    }
    let units = b[name_off..name_off + name_len]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let name: String = char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()?;
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return None;
    }
    Some(UsnRecord {
        file: reference(file),
        parent: reference(parent),
        usn,
        time,
        reason,
        attributes,
        name,
        len,
    })
}

/// The reasons, as Windows names them, joined by `|`.
pub(crate) fn reasons(r: u32) -> String {
    const NAMES: [(u32, &str); 21] = [
        (0x1, "DATA_OVERWRITE"),
        (0x2, "DATA_EXTEND"),
        (0x4, "DATA_TRUNCATION"),
        (0x10, "NAMED_DATA_OVERWRITE"),
        (0x20, "NAMED_DATA_EXTEND"),
        (0x40, "NAMED_DATA_TRUNCATION"),
        (0x100, "FILE_CREATE"),
        (0x200, "FILE_DELETE"),
        (0x400, "EA_CHANGE"),
        (0x800, "SECURITY_CHANGE"),
        (0x1000, "RENAME_OLD_NAME"),
        (0x2000, "RENAME_NEW_NAME"),
        (0x4000, "INDEXABLE_CHANGE"),
        (0x8000, "BASIC_INFO_CHANGE"),
        (0x10000, "HARD_LINK_CHANGE"),
        (0x20000, "COMPRESSION_CHANGE"),
        (0x40000, "ENCRYPTION_CHANGE"),
        (0x80000, "OBJECT_ID_CHANGE"),
        (0x100000, "REPARSE_POINT_CHANGE"),
        (0x200000, "STREAM_CHANGE"),
        (0x8000_0000, "CLOSE"),
    ];
    let mut out: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| r & b != 0)
        .map(|(_, n)| *n)
        .collect();
    let known: u32 = NAMES.iter().map(|(b, _)| b).sum();
    let other = format!("{:#x}", r & !known);
    if r & !known != 0 {
        out.push(&other);
    }
    out.join("|")
}

/// What the journal says of one (record, parent, name).
struct Seen {
    at: u64,
    first: u64,
    last: u64,
    usn: (u64, u64),
    reason: u32,
    directory: bool,
}

/// Where a journal name goes: its parent's path when the parent is a
/// folder the walk knows (same sequence number), else under
/// `/$OrphanFiles/usn-parent-N`.
pub(crate) type ParentPath<'a> = dyn FnMut(u64, u16) -> Option<String> + 'a;

impl NtfsFs {
    /// Lists the names `$J` (the extents `j`) holds that the MFT no longer
    /// does.
    pub(crate) fn usn_names(
        &self,
        j: &[Attribute],
        parent_path: &mut ParentPath,
        log: &mut crate::logfile::LogNames,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let (runs, _) = self.data_runs(j, 0);
        let mut seen: BTreeMap<(u64, u16, u64, u16, String), Seen> = BTreeMap::new();
        let mut budget = MAX_J.min(self.vol.len());
        let mut full = false;
        let mut buf = Vec::new();
        for r in &runs {
            let RunData::Image(base) = r.data else {
                continue;
            };
            // Records do not cross runs' ends in practice; one that would is
            // lost, not misread.
            let mut off = 0u64;
            while off < r.len && budget > 0 && !full {
                let want = CHUNK.min(r.len - off).min(budget);
                buf.resize(want as usize, 0);
                if self.vol.source().read_at(base + off, &mut buf).is_err() {
                    findings.push(Finding::new(
                        base + off,
                        "$UsnJrnl:$J: unreadable; its records here not read",
                    ));
                    off += want;
                    continue;
                }
                budget -= want;
                let mut p = 0usize;
                // The last 4 KiB of a full chunk are read again with the next,
                // so a record across the chunk's end is read whole.
                let last = want < CHUNK || off + want == r.len;
                let stop = if last { buf.len() } else { buf.len() - 4096 };
                while p < stop {
                    let Some(rec) = parse(&buf[p..]) else {
                        p += 8;
                        continue;
                    };
                    let at = base + off + p as u64;
                    p += rec.len;
                    let key = (rec.file.0, rec.file.1, rec.parent.0, rec.parent.1, rec.name);
                    if !seen.contains_key(&key) && seen.len() == MAX_NAMES {
                        findings.push(Finding::new(at, format!("$UsnJrnl:$J: more than {MAX_NAMES} names; the records from here on were not read")));
                        full = true;
                        break;
                    }
                    let s = seen.entry(key).or_insert(Seen {
                        at,
                        first: rec.time,
                        last: rec.time,
                        usn: (rec.usn, rec.usn),
                        reason: 0,
                        directory: false,
                    });
                    s.first = s.first.min(rec.time);
                    s.last = s.last.max(rec.time);
                    s.usn = (s.usn.0.min(rec.usn), s.usn.1.max(rec.usn));
                    s.reason |= rec.reason;
                    s.directory |= rec.attributes & 0x10 != 0;
                }
                off += if last { want } else { p as u64 };
            }
        }
        let base = self.vol.base();
        for ((m, seq, parent, pseq, name), s) in seen {
            let Some(why) = self.why_journal_only(m, seq, parent, &name) else {
                continue;
            };
            // The same name in $LogFile: one entry, both sources stated.
            let also = log
                .remove(&(m, seq, parent, pseq, name.clone()))
                .map(|l| format!("; also in {}", l.detail()))
                .unwrap_or_default();
            let dir = parent_path(parent, pseq)
                .unwrap_or_else(|| format!("/$OrphanFiles/usn-parent-{parent}"));
            let times =
                crate::record::timestamps([("ntfs.usn.first", s.first), ("ntfs.usn.last", s.last)]);
            visit(Entry {
                id: USN_ID | (s.at - base),
                path: format!("{dir}/{name}"),
                other_names: Vec::new(),
                kind: if s.directory {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                deleted: true,
                size: 0,
                times,
                runs: Vec::new(),
                recovery: Recovery::NotRecoverable(format!(
                    "name from $UsnJrnl:$J (USN {}..{}, {}){also} of MFT record {m} (sequence {seq}), parent record {parent}: {why}",
                    s.usn.0,
                    s.usn.1,
                    reasons(s.reason)
                )),
                meta_offset: s.at,
            });
        }
    }

    /// Why a journal's (or `$LogFile`'s) name is not in the MFT any more, or None when the MFT
    /// still lists it (record `m`, same sequence, with that name under
    /// `parent`).
    pub(crate) fn why_journal_only(
        &self,
        m: u64,
        seq: u16,
        parent: u64,
        name: &str,
    ) -> Option<String> {
        if m >= self.record_count() {
            return Some("the record lies past the MFT".into());
        }
        let Some(rec) = self.record(m).0 else {
            return Some("that record is empty or unreadable; the content is gone".into());
        };
        let same = rec.sequence == seq || (!rec.in_use && rec.sequence == seq.wrapping_add(1));
        if !same {
            return Some(format!(
                "that record now holds another file (sequence {}); the content is gone",
                rec.sequence
            ));
        }
        let names = crate::walk::names_of(&rec);
        if names.iter().any(|f| f.parent == parent && f.name == name) {
            return None;
        }
        Some("an earlier name of that record, which the MFT lists under its present name".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_2_and_3_records_and_their_checks() {
        let mut b = vec![0u8; 96];
        b[0..4].copy_from_slice(&88u32.to_le_bytes());
        b[4] = 2;
        b[8..16].copy_from_slice(&(30u64 | 1 << 48).to_le_bytes());
        b[16..24].copy_from_slice(&(5u64 | 5 << 48).to_le_bytes());
        b[24..32].copy_from_slice(&4096u64.to_le_bytes());
        b[32..40].copy_from_slice(&133_000_000_000_000_000u64.to_le_bytes());
        b[40..44].copy_from_slice(&0x1000u32.to_le_bytes());
        b[52..56].copy_from_slice(&0x20u32.to_le_bytes());
        let name: Vec<u8> = "a.txt".encode_utf16().flat_map(u16::to_le_bytes).collect();
        b[56..58].copy_from_slice(&(name.len() as u16).to_le_bytes());
        b[58..60].copy_from_slice(&60u16.to_le_bytes());
        b[60..70].copy_from_slice(&name);
        let r = parse(&b).unwrap();
        assert_eq!(
            (r.file, r.parent, r.usn, r.name.as_str()),
            ((30, 1), (5, 5), 4096, "a.txt")
        );
        assert_eq!(reasons(r.reason | 0x8000_0000), "RENAME_OLD_NAME|CLOSE");
        // Each check: length not a multiple of 8, a name past the record,
        // no reason, a time before 1980.
        for (at, v) in [(0usize, 87u64), (56, 60), (40, 0), (32, 1)] {
            let mut c = b.clone();
            let w = if at == 56 {
                2
            } else if at == 32 {
                8
            } else {
                4
            };
            c[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
            assert!(parse(&c).is_none(), "field at {at}");
        }
        assert_eq!(reasons(0x100 | 0x4_0000), "FILE_CREATE|ENCRYPTION_CHANGE");
        assert_eq!(reasons(0x400_0000), "0x4000000");
        // Damaged records: any bytes, any lengths, never a panic.
        let mut r = dredge_testkit::Rng::new(7);
        for _ in 0..20_000 {
            let mut c = b.clone();
            for _ in 0..1 + r.below(4) {
                let i = r.below(c.len() as u64) as usize;
                c[i] = r.next() as u8;
            }
            c.truncate(r.below(97) as usize);
            if let Some(x) = parse(&c) {
                assert!(x.len <= c.len() && x.len.is_multiple_of(8));
            }
        }
    }
}
