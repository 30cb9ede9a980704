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
//! page continues in the next page's data area (`logrec.rs` parses them).
//! Each index entry of the four index operations, and each `$FILE_NAME` of
//! the MFT record images `InitializeFileRecordSegment` logs, whose key checks
//! (`i30::checked_key`) is one (record, parent, name); those the MFT no
//! longer lists are name-only entries, with the LSN range, what the log did
//! with the name, and the key's times (`ntfs.logfile.*`) from the newest
//! record naming it.
//! Their folder is the live folder the parent reference names, else a folder
//! the log itself names (a deleted folder), else `/$OrphanFiles/logfile-parent-N`.

use crate::logrec::{index_entry, layout, operations, record_len, record_names, How, Named};
use crate::logrec::{HEADER, INITIALIZE_RECORD};
use crate::record::{fixup, le16, le64, Attribute};
use crate::NtfsFs;
use dredge_core::{Entry, EntryKind, Finding, Recovery, Run};
use std::collections::BTreeMap;

/// Ids of journal names: this bit with the volume offset of the first log
/// record naming them (`indx::FREE_INDX_ID` is the bit above).
pub(crate) const LOG_ID: u64 = 1 << 59;
/// `$LogFile` bytes read at most (Windows makes it 2–64 MiB, `chkdsk /L`
/// at most about 4 GiB; more than this is damage).
const MAX_LOG: u64 = 1 << 30;
/// Names kept at most.
const MAX_NAMES: usize = 1 << 20;
/// Log bytes read at once.
const CHUNK: u64 = 1 << 20;

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
            if fs.read_runs(self.runs, off, &mut self.chunk) != Some(true) {
                self.chunk.resize(self.page, 0);
                if fs.read_runs(self.runs, off, &mut self.chunk) != Some(true) {
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
    /// The names the index operations of `$LogFile` (the extents `data`) hold.
    pub(crate) fn logfile_names(
        &self,
        data: &[Attribute],
        findings: &mut Vec<Finding>,
    ) -> LogNames {
        let mut names = LogNames::new();
        let (runs, size) = self.data_runs(data, 0);
        // Never more than the volume holds: runs that cross-link cannot make
        // the log larger than the disk.
        let size = size.min(MAX_LOG).min(self.vol.len());
        let base = self.vol.base();
        // The restart pages: the first, else the second at any page size.
        let mut head = vec![0u8; 65536.min(size as usize)];
        if self.read_runs(&runs, 0, &mut head) != Some(true) {
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
        crate::streams::image_at(runs, off).map_or(0, |x| x - self.vol.base())
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
            let dir = path_of(parent, pseq);
            // Full paths, as the MFT's names are listed: the DOS name is in
            // the same folder.
            let other_names = if s.dos {
                Vec::new()
            } else {
                let twins = dos.get(&twins).map(Vec::as_slice).unwrap_or_default();
                twins.iter().map(|d| format!("{dir}/{d}")).collect()
            };
            let times = crate::record::name_times(
                [
                    "ntfs.logfile.created",
                    "ntfs.logfile.modified",
                    "ntfs.logfile.mft_modified",
                    "ntfs.logfile.accessed",
                ],
                s.times,
            );
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
