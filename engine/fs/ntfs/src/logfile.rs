//! Names from the NTFS journal, `$LogFile` (issue 14).
//!
//! Before NTFS changes its metadata it logs the change in `$LogFile`, a ring
//! of 4 KiB pages (`RCRD`, protected by an update sequence like MFT records),
//! each holding log records: a redo operation to replay the change and an
//! undo operation to roll it back, each with its data. Adding a name to a
//! folder is logged as `AddIndexEntryRoot`/`AddIndexEntryAllocation` whose
//! redo data is the index entry (MFT reference, `$FILE_NAME` key: parent,
//! four times, size, name); removing one — a delete, or the first half of a
//! rename — carries the removed entry as its undo data. The ring wraps after
//! a few MiB to 64 MiB of changes, so it holds the last minutes or hours of a
//! volume's history: names of files deleted, and names files had before a
//! rename, whose MFT records were reused or renamed since.
//!
//! Every page of `$LogFile` is read where it is stored (a metadata read; at
//! most `MAX_LOG` bytes) and searched for records at 8-byte steps, each
//! header checked (LSNs in order, the NTFS client, a client record, its
//! operations known and their data inside it); a record that runs past its
//! page continues in the next page's data area. Each index entry of the four
//! index operations whose `$FILE_NAME` key checks (`i30::checked_key`) is one
//! (record, parent, name); those the MFT no longer lists are name-only
//! entries, with the LSN range, whether the log added or removed the name,
//! and the key's times (`ntfs.logfile.*`) from the newest record naming it.
//! Their folder is the live folder the parent reference names, else a folder
//! the log itself names (a deleted folder), else `/$OrphanFiles/logfile-parent-N`.

use crate::i30::checked_key;
use crate::record::{filetime, fixup, le16, le32, le64, Attribute};
use crate::NtfsFs;
use dredge_core::{Entry, EntryKind, Finding, Recovery, Run, RunData, Timestamp};
use std::collections::BTreeMap;
use std::ops::Range;

/// Ids of journal names: this bit with the volume offset of the first log
/// record naming them (`indx::FREE_INDX_ID` is the bit above).
pub(crate) const LOG_ID: u64 = 1 << 59;
/// `$LogFile` bytes read at most (Windows makes it 2–64 MiB, `chkdsk /L`
/// at most about 4 GiB; more than this is damage).
const MAX_LOG: u64 = 1 << 30;
/// Names kept at most.
const MAX_NAMES: usize = 1 << 20;
/// Client data of one record at most (the largest NTFS logs are dumps of
/// its tables, a few pages).
const MAX_CLIENT: usize = 1 << 16;
/// Log bytes read at once.
const CHUNK: u64 = 1 << 20;
/// Log record header: LSNs, lengths, client, type, transaction, flags.
const HEADER: usize = 0x30;
/// The highest NTFS log operation (`ZeroEndOfFileRecord`).
const LAST_OP: u16 = 0x25;
const INITIALIZE_RECORD: u16 = 0x02;
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

/// What the log says of one (record, parent, name).
pub(crate) struct Seen {
    /// Volume offset of the first record naming it.
    pub at: u64,
    pub lsn: (u64, u64),
    /// LSN of the newest record naming it: its key's times and size are those.
    newest: u64,
    pub added: bool,
    pub removed: bool,
    pub made: bool,
    pub size: u64,
    pub directory: bool,
    pub times: [u64; 4],
    pub dos: bool,
}

/// The names of a log, by (record, sequence, parent, parent sequence, name).
pub(crate) type LogNames = BTreeMap<(u64, u16, u64, u16, String), Seen>;

impl Seen {
    /// The words for the recovery detail of an entry the log names.
    pub(crate) fn detail(&self) -> String {
        let index = match (self.added, self.removed) {
            (true, true) => Some("added to and removed from its folder's index"),
            (true, false) => Some("added to its folder's index"),
            (false, true) => Some("removed from its folder's index"),
            (false, false) => None,
        };
        let made = self.made.then_some("its MFT record made with it");
        let what: Vec<&str> = [index, made].into_iter().flatten().collect();
        format!(
            "$LogFile (LSN {}..{}: {})",
            self.lsn.0,
            self.lsn.1,
            what.join("; ")
        )
    }
}

/// Adds what `n` says to `names`; false when it is full.
fn note(names: &mut LogNames, n: Named, lsn: u64, at: u64) -> bool {
    let key = (n.file.0, n.file.1, n.parent.0, n.parent.1, n.name);
    if !names.contains_key(&key) && names.len() >= MAX_NAMES {
        return false;
    }
    let s = names.entry(key).or_insert(Seen {
        at,
        lsn: (lsn, lsn),
        newest: 0,
        added: false,
        removed: false,
        made: false,
        size: n.size,
        directory: n.directory,
        times: n.times,
        dos: n.namespace == 2,
    });
    s.lsn = (s.lsn.0.min(lsn), s.lsn.1.max(lsn));
    s.added |= n.how == How::Added;
    s.removed |= n.how == How::Removed;
    s.made |= n.how == How::Made;
    if lsn >= s.newest {
        (s.newest, s.size, s.directory, s.times) = (lsn, n.size, n.directory, n.times);
    }
    true
}

/// The log's pages, read a chunk at a time.
struct Pages<'a> {
    runs: &'a [Run],
    size: u64,
    page: usize,
    chunk: Vec<u8>,
    /// The logical offset of `chunk`.
    at: u64,
}

impl Pages<'_> {
    /// The record page at logical offset `off`, its update sequence applied,
    /// with the sectors it found torn; None when it is not one or not read.
    fn get(&mut self, fs: &NtfsFs, off: u64) -> Option<(Vec<u8>, Vec<usize>)> {
        let page = self.page as u64;
        let inside = |c: &Pages| off >= c.at && off + page <= c.at + c.chunk.len() as u64;
        if !inside(self) {
            let len = CHUNK.min(self.size - off) / page * page;
            self.chunk.resize(len as usize, 0);
            self.at = off;
            // A chunk with a bad sector in it is read a page at a time.
            if !fs.read_runs(self.runs, off, &mut self.chunk) {
                self.chunk.resize(self.page, 0);
                if !fs.read_runs(self.runs, off, &mut self.chunk) {
                    self.chunk.clear();
                    return None;
                }
            }
        }
        let from = (off - self.at) as usize;
        let mut p = self.chunk[from..from + self.page].to_vec();
        if &p[0..4] != b"RCRD" {
            return None;
        }
        let torn = fixup(&mut p).ok()?;
        Some((p, torn))
    }
}

impl NtfsFs {
    /// The logical bytes `[off, off + buf.len())` of a stream laid out as
    /// `runs`, when they are all stored and read cleanly.
    fn read_runs(&self, runs: &[Run], off: u64, buf: &mut [u8]) -> bool {
        let end = off + buf.len() as u64;
        let mut got = 0u64;
        let first = runs.partition_point(|r| r.file_offset + r.len <= off);
        for r in runs[first..].iter().take_while(|r| r.file_offset < end) {
            let (from, to) = (off.max(r.file_offset), end.min(r.file_offset + r.len));
            let RunData::Image(x) = r.data else {
                return false;
            };
            let dst = &mut buf[(from - off) as usize..(to - off) as usize];
            match self.vol.source().read_at(x + (from - r.file_offset), dst) {
                Ok(read) if read.is_clean() => got += to - from,
                _ => return false,
            }
        }
        got == buf.len() as u64
    }

    /// The names the index operations of `$LogFile` (the extents `data`) hold.
    pub(crate) fn logfile_names(
        &self,
        data: &[Attribute],
        findings: &mut Vec<Finding>,
    ) -> LogNames {
        let mut names = LogNames::new();
        let (runs, size) = self.data_runs(data, 0);
        let size = size.min(MAX_LOG);
        let base = self.vol.base();
        // The restart pages: the first, else the second at any page size.
        let mut head = vec![0u8; 65536.min(size as usize)];
        if !self.read_runs(&runs, 0, &mut head) {
            head.clear();
        }
        let Some(lay) = std::iter::once(0)
            .chain((9..=16).map(|s| 1usize << s))
            .filter(|&at| at < head.len())
            .find_map(|at| layout(&head[at..]))
        else {
            // mkntfs and ntfs-3g leave the log all 0xFF: nothing logged.
            if head.iter().any(|&b| b != 0xFF) {
                findings.push(Finding::new(
                    base,
                    "$LogFile: no restart page that parses; its records not read",
                ));
            }
            return names;
        };
        let (mut torn_pages, mut full) = (0u64, false);
        let mut pages = Pages {
            runs: &runs,
            size,
            page: lay.page,
            chunk: Vec::new(),
            at: 0,
        };
        let mut off = lay.first;
        while off + lay.page as u64 <= size && !full {
            let Some((page, torn)) = pages.get(self, off) else {
                off += lay.page as u64;
                continue;
            };
            torn_pages += u64::from(!torn.is_empty());
            let clean = |from: usize, to: usize| {
                torn.iter().all(|&s| to <= s * 512 || from >= (s + 1) * 512)
            };
            let mut p = lay.data;
            while p + HEADER <= lay.page {
                let Some(len) = record_len(&page[p..]) else {
                    p += 8;
                    continue;
                };
                // The client data, continued in the next pages' data areas
                // when the record runs past this one.
                let mut d = page[p + HEADER..lay.page.min(p + HEADER + len)].to_vec();
                let mut next = off + lay.page as u64;
                while d.len() < len && next + lay.page as u64 <= size {
                    let Some((more, torn)) = pages.get(self, next) else {
                        break;
                    };
                    if !torn.is_empty() {
                        break;
                    }
                    let take = (len - d.len()).min(lay.page - lay.data);
                    d.extend_from_slice(&more[lay.data..lay.data + take]);
                    next += lay.page as u64;
                }
                let Some(ops) = operations(&d).filter(|_| d.len() == len) else {
                    p += 8;
                    continue;
                };
                if clean(p, (p + HEADER + len).min(lay.page)) {
                    let lsn = le64(&page, p);
                    let at = self.volume_at(&runs, off) + p as u64;
                    let mut found: Vec<Named> = Vec::new();
                    for (redo, (code, range)) in [true, false].into_iter().zip(ops.clone()) {
                        found.extend(index_entry(code, &d[range], redo));
                    }
                    // The record a new file's MFT record image goes to: the
                    // target VCN of $MFT and 512-byte blocks into it.
                    let (code, range) = ops[0].clone();
                    let byte = le64(&d, 0x18)
                        .checked_mul(self.boot.cs)
                        .and_then(|b| b.checked_add(le16::<u64>(&d, 0x14) * 512));
                    if let (INITIALIZE_RECORD, Some(byte)) = (code, byte) {
                        found.extend(record_names(byte / self.boot.record_size, &d[range]));
                    }
                    for n in found {
                        if !note(&mut names, n, lsn, at) {
                            findings.push(Finding::new(at, format!("$LogFile: more than {MAX_NAMES} names; the records from here on were not read")));
                            full = true;
                            break;
                        }
                    }
                }
                p += (HEADER + len).div_ceil(8) * 8;
            }
            off += lay.page as u64;
        }
        if torn_pages > 0 {
            findings.push(Finding::new(
                base,
                format!("$LogFile: {torn_pages} page(s) with torn sectors (written partly when the volume was last used); records in those sectors not read"),
            ));
        }
        names
    }

    /// The volume offset of the log's logical byte `off`, for ids and
    /// detail (0 when it is not stored).
    fn volume_at(&self, runs: &[Run], off: u64) -> u64 {
        let i = runs.partition_point(|r| r.file_offset + r.len <= off);
        match runs.get(i) {
            Some(Run {
                file_offset,
                data: RunData::Image(x),
                ..
            }) if *file_offset <= off => x + (off - file_offset) - self.vol.base(),
            _ => 0,
        }
    }

    /// Lists the names of `names` that the MFT no longer does. `folder(n,
    /// seq)`: the path of a folder the MFT holds as that record.
    pub(crate) fn emit_log_names(
        &self,
        names: LogNames,
        folder: &mut dyn FnMut(u64, u16) -> Option<String>,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        // Folders the log names: a deleted folder's children are placed under
        // its old name.
        let mut log_folders: BTreeMap<(u64, u16), (u64, u16, String)> = BTreeMap::new();
        // DOS (8.3) names by the file and folder they name: each goes with
        // a long name of the same file in the same folder, as its other name.
        let mut dos: BTreeMap<(u64, u16, u64, u16), Vec<String>> = BTreeMap::new();
        for ((m, seq, parent, pseq, name), s) in &names {
            if s.dos {
                dos.entry((*m, *seq, *parent, *pseq))
                    .or_default()
                    .push(name.clone());
            }
        }
        let has_long = |k: &(u64, u16, u64, u16)| {
            names
                .range((k.0, k.1, k.2, k.3, String::new())..)
                .take_while(|(n, _)| (n.0, n.1, n.2, n.3) == *k)
                .any(|(_, s)| !s.dos)
        };
        dos.retain(|k, _| has_long(k));
        for ((m, seq, parent, pseq, name), s) in &names {
            if s.directory && (!s.dos || !dos.contains_key(&(*m, *seq, *parent, *pseq))) {
                log_folders.insert((*m, *seq), (*parent, *pseq, name.clone()));
            }
        }
        // The chain of folders up to one the MFT holds; when it ends at a
        // folder neither holds, under `/$OrphanFiles/logfile-parent-N`.
        let mut path_of = |parent: u64, pseq: u16| -> String {
            let mut chain = Vec::new();
            let mut cur = (parent, pseq);
            let prefix = loop {
                if let Some(p) = folder(cur.0, cur.1) {
                    break p;
                }
                // At most 64 folders up: a loop of log names ends there.
                match log_folders.get(&cur) {
                    Some((p, q, name)) if chain.len() < 64 => {
                        chain.push(name.clone());
                        cur = (*p, *q);
                    }
                    _ => break format!("/$OrphanFiles/logfile-parent-{}", cur.0),
                }
            };
            chain
                .iter()
                .rev()
                .fold(prefix, |acc, n| format!("{acc}/{n}"))
        };
        let base = self.vol.base();
        let mut listed = 0u64;
        for ((m, seq, parent, pseq, name), s) in names {
            let twins = (m, seq, parent, pseq);
            if s.dos && dos.contains_key(&twins) {
                continue; // listed with its long name
            }
            let Some(why) = self.why_journal_only(m, seq, parent, &name) else {
                continue;
            };
            let other_names = if s.dos {
                Vec::new()
            } else {
                dos.get(&twins).cloned().unwrap_or_default()
            };
            let dir = path_of(parent, pseq);
            let times = [
                "ntfs.logfile.created",
                "ntfs.logfile.modified",
                "ntfs.logfile.mft_modified",
                "ntfs.logfile.accessed",
            ]
            .iter()
            .zip(s.times)
            .filter_map(|(src, ft)| {
                filetime(ft).map(|(secs, nanos)| Timestamp {
                    source: src,
                    secs,
                    nanos,
                })
            })
            .collect();
            listed += 1;
            visit(Entry {
                id: LOG_ID | s.at,
                path: format!("{dir}/{name}"),
                other_names,
                kind: if s.directory {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                deleted: true,
                size: s.size,
                times,
                runs: Vec::new(),
                recovery: Recovery::NotRecoverable(format!(
                    "name from {} of MFT record {m} (sequence {seq}), parent record {parent}, log record at byte {}: {why}",
                    s.detail(),
                    base + s.at
                )),
                meta_offset: base + s.at,
            });
        }
        if listed > 0 {
            findings.push(Finding::new(
                base,
                format!(
                    "NTFS: {listed} name(s) the MFT no longer lists, from $LogFile (names only)"
                ),
            ));
        }
    }
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
