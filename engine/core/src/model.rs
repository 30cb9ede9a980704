//! What the volume and filesystem layers report: volumes, entries with their byte
//! runs, and findings about damaged structures.

use crate::{Extent, ImageSource, ReadReport, SourceError};
use std::fmt;
use std::sync::Arc;

/// A structural problem found while parsing: never fatal, always located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Absolute image offset of the structure.
    pub offset: u64,
    pub what: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The finding records a unit of work cut short (a panic or an exhausted
    /// budget at its boundary), which makes the session complete with gaps. A
    /// flag, not a phrase in `what`: `what` may quote names from evidence.
    pub unit_cut_short: bool,
}

impl Finding {
    pub fn new(offset: u64, what: impl Into<String>) -> Self {
        Finding {
            offset,
            what: what.into(),
            expected: None,
            actual: None,
            unit_cut_short: false,
        }
    }

    pub fn expected(mut self, expected: impl fmt::Display, actual: impl fmt::Display) -> Self {
        self.expected = Some(expected.to_string());
        self.actual = Some(actual.to_string());
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.what, self.offset)?;
        if let (Some(e), Some(a)) = (&self.expected, &self.actual) {
            write!(f, " (expected {e}, found {a})")?;
        }
        Ok(())
    }
}

use crate::Word;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VolumeKind {
    /// A partition described by a table.
    Partition,
    /// Space no partition covers.
    Unallocated,
    /// Partition-table structures (MBR, EBR, GPT header and entries).
    Meta,
    /// The whole image, when there is no partition table.
    Whole,
    /// A filesystem found by scanning, not described by any table.
    Recovered,
    /// The plaintext of an encrypted volume opened with the examiner's key: the
    /// ciphertext's image offsets, read decrypted.
    Decrypted,
    /// A Linux LVM logical volume (or the first piece of one), inside a
    /// physical volume that is a partition or the whole image.
    Logical,
}

impl VolumeKind {
    /// Whether filesystem readers look inside it: tables' partitions, the
    /// whole image, lost filesystems found, opened encrypted volumes.
    pub fn holds_files(self) -> bool {
        matches!(
            self,
            VolumeKind::Partition
                | VolumeKind::Whole
                | VolumeKind::Recovered
                | VolumeKind::Decrypted
                | VolumeKind::Logical
        )
    }

    pub fn as_str(&self) -> &'static str {
        self.word()
    }
}

/// The words the store records a volume's kind as.
impl crate::Word for VolumeKind {
    const ALL: &'static [Self] = &[
        VolumeKind::Partition,
        VolumeKind::Unallocated,
        VolumeKind::Meta,
        VolumeKind::Whole,
        VolumeKind::Recovered,
        VolumeKind::Decrypted,
        VolumeKind::Logical,
    ];
    const WORDS: &'static [&'static str] = &[
        "partition",
        "unallocated",
        "meta",
        "whole",
        "recovered",
        "decrypted",
        "logical",
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub extent: Extent,
    pub kind: VolumeKind,
    /// e.g. "Linux (0x83)", "Microsoft basic data", "unallocated".
    pub description: String,
    /// The table slot it came from, e.g. "mbr:1", "ebr:5", "gpt:2".
    pub slot: Option<String>,
}

/// A reader confined to one volume: offsets are relative to its start, and bytes
/// past its end read as synthesized (`PastEnd`) even if the image goes on.
#[derive(Clone)]
pub struct VolumeReader {
    src: Arc<dyn ImageSource>,
    base: u64,
    len: u64,
    /// The unit's budget: every read is charged to it (see `budget`).
    budget: Option<Arc<crate::UnitBudget>>,
}

impl VolumeReader {
    pub fn new(src: Arc<dyn ImageSource>, extent: Extent) -> Self {
        VolumeReader {
            src,
            base: extent.start,
            len: extent.len,
            budget: None,
        }
    }

    /// The same reader, with every read charged to `budget`: a read past the budget
    /// unwinds with `BudgetExceeded`, to be caught at the unit's boundary.
    pub fn with_budget(mut self, budget: Arc<crate::UnitBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    /// The `len` bytes from `offset` of this volume as a volume of their own
    /// (an HFS+ volume inside its HFS wrapper), charged to the same budget;
    /// `None` when they do not lie inside it.
    pub fn inner(&self, offset: u64, len: u64) -> Option<VolumeReader> {
        (offset.checked_add(len)? <= self.len).then(|| VolumeReader {
            src: Arc::clone(&self.src),
            base: self.base + offset,
            len,
            budget: self.budget.clone(),
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of the volume that lie inside the image: a table may claim a
    /// volume far larger than the evidence, and sizes taken from such a claim must
    /// not decide what is allocated (past the image every byte reads as zeros).
    pub fn readable_len(&self) -> u64 {
        self.len.min(self.src.size().saturating_sub(self.base))
    }

    pub fn source(&self) -> &Arc<dyn ImageSource> {
        &self.src
    }

    /// Reads at a volume-relative offset; the report's extents are absolute image
    /// offsets, like every report.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        self.charge(buf.len() as u64);
        self.read_charged(offset, buf)
    }

    /// Charges `n` bytes to the unit's budget, unwinding when it is spent.
    fn charge(&self, n: u64) {
        if let Some(b) = &self.budget {
            b.charge(n);
        }
    }

    /// [`VolumeReader::read_at`] for bytes already charged.
    fn read_charged(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let inside = self.len.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut rep = if inside > 0 {
            self.src
                .read_at(self.base.saturating_add(offset), &mut buf[..inside])?
        } else {
            ReadReport::clean(0)
        };
        rep.past_end(self.base.saturating_add(offset), buf, inside);
        rep.len = inside;
        Ok(rep)
    }

    /// Reads `len` bytes into a new vector, refusing lengths over `budget` (lengths
    /// come from evidence and must be bounded before allocating), and charging
    /// them to the unit's budget before allocating.
    ///
    /// The budget is also held to the volume's length (at least 64 MiB, so a
    /// table whose tail a truncated image lost is still read): one read longer
    /// than the whole volume is mostly zeros made up for bytes that do not
    /// exist, and a few bytes of a small image must not commit hundreds of MiB.
    pub fn read_vec(
        &self,
        offset: u64,
        len: u64,
        budget: u64,
    ) -> Result<(Vec<u8>, ReadReport), ReadVecError> {
        let budget = budget.min(self.len().max(64 << 20));
        if len > budget {
            return Err(ReadVecError::TooLarge { len, budget });
        }
        // The unit pays for the buffer before it exists: a reader whose reads
        // have spent its budget cannot allocate another one from a size it found.
        self.charge(len);
        let mut v = vec![0u8; len as usize];
        let r = self
            .read_charged(offset, &mut v)
            .map_err(ReadVecError::Source)?;
        Ok((v, r))
    }
}

#[derive(Debug)]
pub enum ReadVecError {
    TooLarge { len: u64, budget: u64 },
    Source(SourceError),
}

impl fmt::Display for ReadVecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadVecError::TooLarge { len, budget } => {
                write!(f, "length {len} exceeds the budget of {budget} bytes")
            }
            ReadVecError::Source(e) => e.fmt(f),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum EntryKind {
    #[default]
    File,
    Directory,
    Symlink,
    Device,
    Fifo,
    Socket,
    Other,
}

impl crate::Word for EntryKind {
    const ALL: &'static [Self] = &[
        EntryKind::File,
        EntryKind::Directory,
        EntryKind::Symlink,
        EntryKind::Device,
        EntryKind::Fifo,
        EntryKind::Socket,
        EntryKind::Other,
    ];
    const WORDS: &'static [&'static str] = &[
        "file", "dir", "symlink", "device", "fifo", "socket", "other",
    ];
}

impl EntryKind {
    /// The word the store and every report record (`dir`, not `Directory`).
    pub fn as_str(&self) -> &'static str {
        crate::Word::word(*self)
    }
}

/// Where a piece of a file's content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunData {
    /// These bytes of the image.
    Image(u64),
    /// A hole: reads as zeros, nothing is stored.
    Sparse,
    /// Bytes held in metadata (resident data, inline data), already decoded.
    Inline(Arc<[u8]>),
    /// Bytes made from stored bytes as they are read (a compressed stream): only
    /// the pieces asked for are decoded, so memory follows the read, not the
    /// size a record claims.
    Decoded(Decoded),
}

/// A stream whose bytes are decoded from stored bytes of the image on demand.
pub trait Decode: Send + Sync + std::fmt::Debug {
    /// Stable name of the encoding, recorded as the run's kind ("lznt1").
    fn kind(&self) -> &'static str;
    /// Fills `buf` with the decoded bytes at `off` of the stream. Bytes that
    /// could not be made (stored bytes unreadable, a damaged unit, a layout that
    /// stops) are zeros in `buf` and listed: (offset in the stream, length, why),
    /// in order.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> Vec<(u64, u64, crate::Why)>;
    /// The stored layout the bytes are decoded from: image and sparse runs, file
    /// offsets in the stored stream.
    fn stored(&self) -> &[Run];
    /// How many of the stream's first bytes are decoded at all: its length, or
    /// less where its layout stops being trusted (the rest reads as gaps).
    fn made_len(&self) -> u64;
    /// The most decoded bytes an honest stream makes from one stored byte (LZNT1:
    /// a unit of 16 clusters from one). Output budgets are charged past it.
    fn max_ratio(&self) -> u64;
}

/// A shared decoder; two are equal when they are the same decoder.
#[derive(Clone, Debug)]
pub struct Decoded(pub Arc<dyn Decode>);

impl PartialEq for Decoded {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Decoded {}

/// One piece of a file: `len` bytes at `file_offset` of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub file_offset: u64,
    pub len: u64,
    pub data: RunData,
}

/// A timestamp with the structure it came from, in UTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// e.g. "fat.write", "fat.create", "ntfs.si.modified", "ext4.mtime".
    pub source: &'static str,
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn utc(&self) -> String {
        crate::time::format_utc(self.secs, self.nanos / 1000)
    }
}

/// How much of a (deleted) file's content could be traced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Allocated: the layout is what the filesystem says.
    Allocated,
    /// Deleted, and the layout is still fully described by metadata.
    Intact,
    /// Deleted; the layout was reconstructed under an assumption (say, contiguous
    /// free clusters), stated here.
    Assumed(String),
    /// Deleted; some of the clusters now belong to another file.
    Overwritten(String),
    /// Deleted; the content cannot be traced from metadata (say why).
    NotRecoverable(String),
}

impl Recovery {
    pub fn as_str(&self) -> &'static str {
        match self {
            Recovery::Allocated => "allocated",
            Recovery::Intact => "deleted-intact",
            Recovery::Assumed(_) => "deleted-assumed",
            Recovery::Overwritten(_) => "deleted-overwritten",
            Recovery::NotRecoverable(_) => "deleted-not-recoverable",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Recovery::Assumed(s) | Recovery::Overwritten(s) | Recovery::NotRecoverable(s) => {
                Some(s)
            }
            _ => None,
        }
    }
}

/// A file, directory or other object a filesystem describes, allocated or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Inode, MFT record, or directory-entry address (filesystem specific, stable).
    pub id: u64,
    /// Full path inside the filesystem, `/`-separated, names as decoded from disk.
    pub path: String,
    /// Other names (8.3 short names, hard links).
    pub other_names: Vec<String>,
    pub kind: EntryKind,
    pub deleted: bool,
    pub size: u64,
    pub times: Vec<Timestamp>,
    pub runs: Vec<Run>,
    pub recovery: Recovery,
    /// Image offset of the metadata that describes this entry (directory entry, inode).
    pub meta_offset: u64,
}

impl Entry {
    /// Bytes this entry holds on the heap, as requested from the allocator (the
    /// capacities of its strings and lists, and inline data). Shared decoders are
    /// not included: they may be another entry's too. Used to hand an entry from
    /// the reader's unit of work to the session (`memory::hand_over`).
    pub fn heap_bytes(&self) -> u64 {
        use std::mem::size_of;
        let names: usize = self.other_names.iter().map(String::capacity).sum();
        let inline: usize = self
            .runs
            .iter()
            .map(|r| match &r.data {
                // An `Arc<[u8]>` holds its two counts before the bytes.
                RunData::Inline(b) => b.len() + 2 * size_of::<usize>(),
                _ => 0,
            })
            .sum();
        let recovery = self.recovery.detail().map_or(0, str::len);
        (self.path.capacity()
            + self.other_names.capacity() * size_of::<String>()
            + names
            + self.times.capacity() * size_of::<Timestamp>()
            + self.runs.capacity() * size_of::<Run>()
            + inline
            + recovery) as u64
    }
}

/// A parsed filesystem. Parsers read through a [`VolumeReader`] and never write.
pub trait FileSystem: Send + Sync {
    /// e.g. "fat16", "ntfs", "ext4".
    fn type_name(&self) -> &'static str;
    fn label(&self) -> Option<String>;
    /// Visits every entry, allocated and deleted. Damage is reported as findings and
    /// the walk goes on with what is left.
    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>);
    /// Image extents the filesystem does not use (free clusters/blocks), for
    /// carving; the part of its volume past [`FileSystem::span`] included.
    fn unallocated(&self, findings: &mut Vec<Finding>) -> Vec<Extent>;
    /// The bytes of its volume the filesystem spans from the volume's start,
    /// as its own structures say; `None`: all of the volume. What lies past it
    /// is no part of the filesystem: free for carving, and where the scan for
    /// lost filesystems looks.
    fn span(&self) -> Option<u64> {
        None
    }
    /// Findings made while opening (a backup structure used, a damaged primary...).
    fn open_findings(&self) -> Vec<Finding>;
    /// Blocks this filesystem wants the pass to look at as it reads (metadata
    /// its structures let go, lying in free space: APFS's orphaned B-tree
    /// nodes). Looking for them rides the one read of the image; nothing is
    /// read for it alone.
    fn hunt(&self) -> Option<Hunt> {
        None
    }
    /// What the pass found for [`FileSystem::hunt`]: the image offsets of the
    /// blocks its test accepted, in image order. Given before `walk`.
    fn hunted(&self, _found: Vec<u64>) {}
    /// Visits only the entries that what [`FileSystem::hunted`] gave it adds
    /// to [`FileSystem::walk`] (the same entries, ids and all). The scan plans
    /// them after the pass and reads their content alone, not the image again.
    fn walk_hunted(&self, _visit: &mut dyn FnMut(Entry), _findings: &mut Vec<Finding>) {}
}

/// Blocks the pass tests for a filesystem: every `unit`-sized block inside
/// `extents` (image offsets, sorted, each starting on a block boundary counted
/// from `origin`) whose bytes `test` accepts is reported back by its offset.
#[derive(Clone, Debug)]
pub struct Hunt {
    pub extents: Vec<Extent>,
    pub origin: u64,
    pub unit: u64,
    pub test: fn(&[u8]) -> bool,
    /// At most this many blocks are reported (the rest are counted).
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use crate::{Extent, ImageSource, ReadReport, SourceError, VolumeReader};
    use std::sync::Arc;

    struct Ones(u64);
    impl ImageSource for Ones {
        fn size(&self) -> u64 {
            self.0
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
            let inside = self.0.saturating_sub(offset).min(buf.len() as u64) as usize;
            buf[..inside].fill(1);
            Ok(ReadReport::clean(inside))
        }
        fn describe(&self) -> String {
            "ones".into()
        }
    }

    #[test]
    fn one_read_is_held_to_the_volume_length_or_64_mib() {
        let small = VolumeReader::new(Arc::new(Ones(1 << 20)), Extent::new(0, 1 << 20));
        // A table claimed at 512 MiB on a 1 MiB volume is refused before allocating.
        assert!(small.read_vec(0, 512 << 20, 512 << 20).is_err());
        // Up to 64 MiB is still read, the part past the end synthesized.
        let (v, r) = small.read_vec(0, 2 << 20, 512 << 20).unwrap();
        assert_eq!(v.len(), 2 << 20);
        assert!(!r.is_clean());
        assert_eq!(v[(1 << 20) - 1], 1);
        // The caller's own budget still holds.
        assert!(small.read_vec(0, 4096, 1024).is_err());
    }

    #[test]
    fn every_entry_kind_has_the_word_the_store_records() {
        crate::check_words::<crate::EntryKind>();
        assert_eq!(crate::EntryKind::Directory.as_str(), "dir");
        crate::check_words::<crate::VolumeKind>();
        assert_eq!(crate::VolumeKind::Decrypted.as_str(), "decrypted");
    }

    #[test]
    fn a_buffer_is_paid_for_before_it_is_allocated() {
        let budget = Arc::new(crate::UnitBudget::new(
            3 << 20,
            std::time::Duration::from_secs(60),
        ));
        let r = VolumeReader::new(Arc::new(Ones(64 << 20)), Extent::new(0, 64 << 20))
            .with_budget(Arc::clone(&budget));
        assert!(r.read_vec(0, 2 << 20, 64 << 20).is_ok());
        assert_eq!(budget.bytes_read(), 2 << 20);
        // 1 MiB left: a 2 MiB buffer unwinds at the charge, before allocating.
        let spent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            r.read_vec(0, 2 << 20, 64 << 20)
        }));
        assert!(spent.is_err());
    }
}
