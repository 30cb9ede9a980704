//! Signature carvers. Each `Carver` names the headers that can start its format and
//! validates a candidate by walking the format's structure to its exact end (not to
//! the next footer). The scanning framework here finds header hits in a page of the
//! image and keeps only hits that *start* inside the page, so results do not depend on
//! how the image is cut into pages or how many workers scan them (the session runs
//! the pages on a worker pool; this crate has no threads).

mod adts;
mod aiff;
mod ar;
mod bmp;
mod bplist;
mod bzip2;
mod bzip2_block;
mod cab;
mod cpio;
mod crc_layout;
mod dex;
mod dsstore;
mod elf;
mod evtx;
mod flac;
mod flac_frame;
mod font;
mod gif;
mod gzip;
mod icns;
mod ico;
mod inflate;
mod iso9660;
mod javaclass;
mod jpeg;
mod leveldb;
mod lnk;
mod lz4;
mod lzip;
mod lzop;
mod macho;
mod matcher;
mod midi;
mod mkv;
mod mp3;
mod mp4;
mod ogg;
mod ole;
mod pdf;
mod pe;
mod png;
mod prefetch;
mod psd;
mod pst;
mod rar;
mod regf;
mod riff;
mod sevenz;
mod signal;
mod sqlite;
mod sqlite_journal;
mod sqlite_wal;
mod tar;
mod text;
mod text_join;
mod text_tail;
mod tiff;
mod tiff_pieces;
mod torrent;
mod utf16;
mod wasm;
mod xz;
mod zip;
mod zstd;

use dredge_core::{ImageSource, Why};
pub use matcher::Matcher;
pub use text::{text_starts, Text, TAIL as TEXT_TAIL};

/// A candidate whose first `len` bytes validate, cut short for `why`.
/// The `n`-byte unsigned integer at `at` in `b`, big- or little-endian (ELF and
/// Mach-O come in both byte orders).
pub(crate) fn uint(b: &[u8], at: usize, n: usize, big: bool) -> u64 {
    let s = &b[at..at + n];
    if big {
        s.iter().fold(0, |v, &x| v << 8 | u64::from(x))
    } else {
        s.iter().rev().fold(0, |v, &x| v << 8 | u64::from(x))
    }
}

pub(crate) fn partial(len: u64, why: &str) -> Verdict {
    partial_as(len, why, None)
}

/// `partial`, for a format whose subtype was already recognised.
pub(crate) fn partial_as(len: u64, why: &str, subtype: Option<&'static str>) -> Verdict {
    Verdict::Partial {
        len,
        why: why.into(),
        subtype,
    }
}

/// What validation concluded about a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A whole file of `len` bytes, every structure checked.
    Complete {
        len: u64,
        subtype: Option<&'static str>,
    },
    /// A whole file of `len` bytes by its structure, but the format has no
    /// check that would fail if foreign data sat inside it (a fragmented file
    /// carved as contiguous): BMP's pixels, a SQLite database whose last page
    /// is not a b-tree page the walk parsed. Recorded as
    /// `carved-unverified-contiguous`, never as validated.
    Unverified {
        len: u64,
        subtype: Option<&'static str>,
    },
    /// Only the first `len` bytes validate (truncated or corrupted after that).
    Partial {
        len: u64,
        why: String,
        subtype: Option<&'static str>,
    },
    /// A whole file in pieces: (offset from the candidate's start, length) each,
    /// in file order; every structure checked across the pieces.
    Fragmented {
        fragments: Vec<(u64, u64)>,
        subtype: Option<&'static str>,
    },
    /// A whole file in pieces like `Fragmented`, but put together where its
    /// samples (PCM audio, raw pixels) resume as smooth as they were before a
    /// rough run: no check covers the samples, so this is reasoning about
    /// their texture, recorded as such, not a validation.
    Joined {
        fragments: Vec<(u64, u64)>,
        subtype: Option<&'static str>,
    },
    /// Not this format (a decoy, a coincidence of bytes).
    Reject,
}

impl Verdict {
    /// A whole file of `len` bytes: `Complete` when a check covered every
    /// byte of it (`checked`), else `Unverified` (the format's checks are
    /// optional and this file lacks them).
    pub fn whole(len: u64, subtype: Option<&'static str>, checked: bool) -> Verdict {
        if checked {
            Verdict::Complete { len, subtype }
        } else {
            Verdict::Unverified { len, subtype }
        }
    }
}

/// Random access to the image from a candidate's start, bounded by the carver's
/// maximum size. Unreadable bytes are zeros; they are counted so a carver can
/// stop trusting what it sees.
pub struct Reader<'a> {
    src: &'a dyn ImageSource,
    start: u64,
    limit: u64,
    window: Vec<u8>,
    window_at: u64,
    /// Image bytes already in memory (the scanned page), at image offset `page_at`;
    /// only pages read without unreadable sectors are lent, so they hold exactly
    /// what a read would return.
    page: &'a [u8],
    page_at: u64,
    /// A second slice in memory: the block after the page, so a file that runs
    /// past its page is validated without reading it again.
    next: &'a [u8],
    next_at: u64,
    pub unreadable: u64,
    /// Work done for this candidate (bytes served, plus a fixed cost per request,
    /// plus bytes a decompressor produced) against `work_limit`: a validator
    /// following a wrapped offset or a decompression bomb runs out of budget and
    /// stops, deterministically, instead of spinning.
    work: u64,
    work_limit: u64,
    /// Set once the budget ran out: the verdict is then cut short.
    exhausted: bool,
}

const WINDOW: usize = 1 << 20;
/// What a request costs beyond its bytes, so a loop of tiny reads is bounded too.
const REQUEST_COST: u64 = 64;
/// A candidate may touch its bytes a few times over (checksums, inflation), up to
/// this much in all, plus `WORK_BASE`.
const WORK_CAP: u64 = 4 << 30;
const WORK_BASE: u64 = 256 << 20;

impl<'a> Reader<'a> {
    pub fn new(src: &'a dyn ImageSource, start: u64, limit: u64) -> Self {
        Self::with_page(src, &[], 0, start, limit)
    }

    /// A reader that serves bytes inside `page` (image offset `page_at`) from memory.
    pub fn with_page(
        src: &'a dyn ImageSource,
        page: &'a [u8],
        page_at: u64,
        start: u64,
        limit: u64,
    ) -> Self {
        let mut r = Reader {
            src,
            start: 0,
            limit: 0,
            window: Vec::new(),
            window_at: 0,
            page,
            page_at,
            next: &[],
            next_at: 0,
            unreadable: 0,
            work: 0,
            work_limit: 0,
            exhausted: false,
        };
        r.reset(start, limit);
        r
    }

    /// Also serves bytes inside `next` (image offset `next_at`) from memory; like
    /// the page, only a slice read without unreadable sectors may be lent.
    pub fn lend_next(&mut self, next: &'a [u8], next_at: u64) {
        self.next = next;
        self.next_at = next_at;
    }

    /// Starts over for another candidate, keeping the allocated window.
    pub fn reset(&mut self, start: u64, limit: u64) {
        self.start = start;
        self.limit = limit.min(self.src.size().saturating_sub(start));
        self.window.clear();
        self.window_at = 0;
        self.unreadable = 0;
        self.work = 0;
        self.work_limit = self.limit.saturating_mul(4).min(WORK_CAP) + WORK_BASE;
        self.exhausted = false;
    }

    /// Charges `n` units of work (a decompressor's output, say); false once the
    /// candidate's budget is spent, and every later `get` then answers `None`.
    pub fn spend(&mut self, n: u64) -> bool {
        // A validator growing a list from the candidate's bytes is cut here too.
        dredge_core::memory::check();
        self.work = self.work.saturating_add(n);
        if self.work > self.work_limit {
            self.exhausted = true;
        }
        !self.exhausted
    }

    /// Whether the candidate ran out of budget (its verdict is then cut short).
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Work done for the current candidate so far (a search measures its own
    /// share against this).
    pub(crate) fn work(&self) -> u64 {
        self.work
    }

    /// The work budget of the current candidate.
    pub fn work_limit(&self) -> u64 {
        self.work_limit
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The candidate's image offset.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The first offset at or after `off` (from the candidate's start) that
    /// lies on an image sector boundary.
    pub(crate) fn sector_from(&self, off: u64) -> u64 {
        (self.start + off).div_ceil(SECTOR) * SECTOR - self.start
    }

    /// The last offset at or before `off` (from the candidate's start) that
    /// lies on an image sector boundary; 0 when that boundary is before the
    /// candidate (one not starting on a sector).
    pub(crate) fn sector_before(&self, off: u64) -> u64 {
        ((self.start + off) / SECTOR * SECTOR).saturating_sub(self.start)
    }

    /// Bytes at `off..off+len` relative to the candidate's start, or `None` past the
    /// limit.
    pub fn get(&mut self, off: u64, len: usize) -> Option<&[u8]> {
        if off.checked_add(len as u64)? > self.limit || !self.spend(len as u64 + REQUEST_COST) {
            return None;
        }
        // In the lent page? (Image offsets: the candidate may start before it.)
        let abs = self.start.checked_add(off)?;
        if abs >= self.page_at && abs + len as u64 <= self.page_at + self.page.len() as u64 {
            let s = (abs - self.page_at) as usize;
            return Some(&self.page[s..s + len]);
        }
        if abs >= self.next_at && abs + len as u64 <= self.next_at + self.next.len() as u64 {
            let s = (abs - self.next_at) as usize;
            return Some(&self.next[s..s + len]);
        }
        // Across the seam of the page and the block after it: copied, not read.
        let page_end = self.page_at + self.page.len() as u64;
        if !self.page.is_empty()
            && self.next_at == page_end
            && abs >= self.page_at
            && abs < page_end
            && abs + len as u64 <= self.next_at + self.next.len() as u64
        {
            let s = (abs - self.page_at) as usize;
            let head = &self.page[s..];
            self.window.clear();
            self.window.extend_from_slice(head);
            self.window
                .extend_from_slice(&self.next[..len - head.len()]);
            self.window_at = off;
            return Some(&self.window[..len]);
        }
        let in_window =
            off >= self.window_at && off + len as u64 <= self.window_at + self.window.len() as u64;
        if !in_window {
            // Most candidates are rejected within their first bytes (two-byte headers
            // occur every 64 KiB in random data): start small, grow while a
            // validator keeps reading.
            let grow = (self.window.len() * 2).clamp(4096, WINDOW);
            let n = (self.limit - off).min(grow.max(len) as u64) as usize;
            self.window.resize(n, 0);
            let r = self.src.read_at(self.start + off, &mut self.window).ok()?;
            self.unreadable += r
                .synthesized
                .iter()
                .filter(|s| s.why != Why::PastEnd)
                .map(|s| s.extent.len)
                .sum::<u64>();
            self.window_at = off;
        }
        let s = (off - self.window_at) as usize;
        Some(&self.window[s..s + len])
    }

    pub fn u8(&mut self, off: u64) -> Option<u8> {
        self.get(off, 1).map(|b| b[0])
    }
    pub fn be16(&mut self, off: u64) -> Option<u16> {
        self.get(off, 2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn be32(&mut self, off: u64) -> Option<u32> {
        self.get(off, 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn le16(&mut self, off: u64) -> Option<u16> {
        self.get(off, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn le32(&mut self, off: u64) -> Option<u32> {
        self.get(off, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The first occurrence at or after `from` of any of `needles`, within the
    /// limit: (offset, which needle). One scan, so a validator that stops at the
    /// first of several markers reads no further than it must.
    pub fn find_any(&mut self, from: u64, needles: &[&[u8]]) -> Option<(u64, usize)> {
        let longest = needles.iter().map(|n| n.len()).max()?;
        let mut off = from;
        while off < self.limit {
            let n = ((self.limit - off) as usize).min(WINDOW);
            let chunk = self.get(off, n)?;
            let first = needles
                .iter()
                .enumerate()
                .filter_map(|(k, nd)| memchr::memmem::find(chunk, nd).map(|i| (i, k)))
                .min();
            if let Some((i, k)) = first {
                return Some((off + i as u64, k));
            }
            if n < longest || off + n as u64 >= self.limit {
                return None;
            }
            off += (n - longest + 1) as u64;
        }
        None
    }

    /// Offset of the first occurrence of `needle` that starts in `from..before`:
    /// reads no further than the needle's end.
    pub fn find_before(&mut self, from: u64, before: u64, needle: &[u8]) -> Option<u64> {
        let end = before
            .saturating_add(needle.len() as u64 - 1)
            .min(self.limit);
        let mut off = from;
        while off < end {
            let n = ((end - off) as usize).min(WINDOW);
            if n < needle.len() {
                return None;
            }
            let chunk = self.get(off, n)?;
            if let Some(i) = memchr::memmem::find(chunk, needle) {
                return Some(off + i as u64).filter(|&h| h < before);
            }
            if off + n as u64 >= end {
                return None;
            }
            off += (n - needle.len() + 1) as u64;
        }
        None
    }

    /// Offset of the first occurrence of `needle` at or after `from`, within the limit.
    pub fn find(&mut self, from: u64, needle: &[u8]) -> Option<u64> {
        let mut off = from;
        while off < self.limit {
            let n = ((self.limit - off) as usize).min(WINDOW);
            let chunk = self.get(off, n)?;
            if let Some(i) = memchr::memmem::find(chunk, needle) {
                return Some(off + i as u64);
            }
            if n < needle.len() || off + n as u64 >= self.limit {
                return None;
            }
            off += (n - needle.len() + 1) as u64;
        }
        None
    }
}

/// The image sector: gap searches place cuts and continuations on its
/// boundaries (filesystems allocate in multiples of it).
pub(crate) const SECTOR: u64 = 512;

/// A file's logical bytes: `[0, split)` where the candidate starts, `[split,
/// split2)` `gap` bytes further on, the rest `gap + gap2` further still. A split
/// of `u64::MAX` is a cut that is not there: `WHOLE` is a file in one piece.
#[derive(Clone, Copy)]
pub(crate) struct Splice {
    pub(crate) split: u64,
    pub(crate) gap: u64,
    pub(crate) split2: u64,
    pub(crate) gap2: u64,
}

pub(crate) const WHOLE: Splice = Splice {
    split: u64::MAX,
    gap: 0,
    split2: u64::MAX,
    gap2: 0,
};

impl Splice {
    /// Where logical byte `l` lies, relative to the candidate's start.
    pub(crate) fn at(&self, l: u64) -> u64 {
        if l < self.split {
            l
        } else if l < self.split2 {
            l.saturating_add(self.gap)
        } else {
            l.saturating_add(self.gap).saturating_add(self.gap2)
        }
    }

    /// The logical end of the piece that holds logical byte `l`.
    pub(crate) fn piece_end(&self, l: u64) -> u64 {
        if l < self.split {
            self.split
        } else if l < self.split2 {
            self.split2
        } else {
            u64::MAX
        }
    }

    /// The cuts made so far (0, 1 or 2).
    pub(crate) fn cuts(&self) -> usize {
        usize::from(self.split != u64::MAX) + usize::from(self.split2 != u64::MAX)
    }

    /// This layout with one more cut: from logical byte `at` on, the bytes lie
    /// `gap` further than they did. None: both cuts are made already.
    pub(crate) fn then(&self, at: u64, gap: u64) -> Option<Splice> {
        match self.cuts() {
            0 => Some(Splice {
                split: at,
                gap,
                ..WHOLE
            }),
            1 if at >= self.split => Some(Splice {
                split2: at,
                gap2: gap,
                ..*self
            }),
            _ => None,
        }
    }

    /// The pieces of logical bytes `[0, end)`: (offset from the candidate's
    /// start, length), empty pieces left out.
    pub(crate) fn fragments(&self, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut l = 0;
        while l < end {
            let to = self.piece_end(l).min(end);
            out.push((self.at(l), to - l));
            l = to;
        }
        out
    }

    pub(crate) fn read(&self, r: &mut Reader<'_>, l: u64, n: usize) -> Option<Vec<u8>> {
        let end = l.checked_add(n as u64)?;
        if end <= self.piece_end(l) {
            return r.get(self.at(l), n).map(<[u8]>::to_vec);
        }
        let mut v = Vec::with_capacity(n);
        let mut p = l;
        while p < end {
            let to = self.piece_end(p).min(end);
            v.extend_from_slice(r.get(self.at(p), (to - p) as usize)?);
            p = to;
        }
        Some(v)
    }
    pub(crate) fn le16(&self, r: &mut Reader<'_>, l: u64) -> Option<u16> {
        self.read(r, l, 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn le32(&self, r: &mut Reader<'_>, l: u64) -> Option<u32> {
        self.read(r, l, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

pub trait Carver: Send + Sync {
    /// Format name, as in forensic paths: "jpeg", "png", "zip".
    fn name(&self) -> &'static str;
    /// File extension for extracted copies.
    fn extension(&self, subtype: Option<&'static str>) -> &'static str;
    /// Byte strings that identify a file of this format.
    fn headers(&self) -> &'static [&'static [u8]];
    /// Where in the file the header bytes sit (MP4's `ftyp` is at 4).
    fn header_offset(&self) -> u64 {
        0
    }
    /// For a format no header marks (one with `headers()` empty): whether the
    /// bytes from a sector start on (`b`, as many as are in memory) can begin a
    /// file. The pass asks it of every sector of the space it carves, so it must
    /// be cheap and rarely true of other data.
    fn sector_start(&self, _b: &[u8]) -> bool {
        false
    }
    fn min_size(&self) -> u64;
    fn max_size(&self) -> u64;
    /// Walks the format's structure from the candidate's start.
    fn check(&self, r: &mut Reader<'_>) -> Verdict;

    /// `check`, with every verdict held to the bytes that exist: a damaged length
    /// field must never make a file claim more than the image holds.
    fn validate(&self, r: &mut Reader<'_>) -> Verdict {
        let limit = r.limit();
        let verdict = self.check(r);
        if r.exhausted() {
            // Whatever the validator concluded, it stopped for want of budget: keep
            // what it vouched for, and say why it is not whole.
            let len = match &verdict {
                Verdict::Complete { len, .. }
                | Verdict::Unverified { len, .. }
                | Verdict::Partial { len, .. } => *len,
                Verdict::Fragmented { .. } | Verdict::Joined { .. } | Verdict::Reject => {
                    return Verdict::Reject
                }
            };
            return Verdict::Partial {
                len: len.min(limit),
                why: format!(
                    "validation cut short: work budget of {} bytes exhausted",
                    r.work_limit()
                ),
                subtype: None,
            };
        }
        match verdict {
            Verdict::Complete { len, .. } | Verdict::Unverified { len, .. } if len > limit => {
                Verdict::Partial {
                    len: limit,
                    why: "declared end lies past the image".into(),
                    subtype: None,
                }
            }
            Verdict::Partial { len, why, subtype } => Verdict::Partial {
                len: len.min(limit),
                why,
                subtype,
            },
            v => v,
        }
    }
}

pub fn registry() -> Vec<Box<dyn Carver>> {
    vec![
        Box::new(jpeg::Jpeg),
        Box::new(png::Png),
        Box::new(zip::Zip),
        Box::new(gif::Gif),
        Box::new(bmp::Bmp),
        Box::new(pdf::Pdf),
        Box::new(sqlite::Sqlite),
        Box::new(sqlite_wal::SqliteWal),
        Box::new(riff::Riff),
        Box::new(gzip::Gzip),
        Box::new(mp4::Mp4),
        Box::new(pe::Pe),
        Box::new(elf::Elf),
        Box::new(macho::MachO),
        Box::new(tiff::Tiff),
        Box::new(ole::Ole),
        Box::new(xz::Xz),
        Box::new(bzip2::Bzip2),
        Box::new(tar::Tar),
        Box::new(zstd::Zstd),
        Box::new(lz4::Lz4),
        Box::new(lzip::Lzip),
        Box::new(lzop::Lzop),
        Box::new(ogg::Ogg),
        Box::new(flac::Flac),
        Box::new(sevenz::SevenZ),
        Box::new(mp3::Mp3),
        Box::new(adts::Adts),
        Box::new(cab::Cab),
        Box::new(iso9660::Iso9660),
        Box::new(evtx::Evtx),
        Box::new(regf::Regf),
        Box::new(lnk::Lnk),
        Box::new(pst::Pst),
        Box::new(prefetch::Prefetch),
        Box::new(dex::Dex),
        Box::new(bplist::Bplist),
        Box::new(dsstore::DsStore),
        Box::new(rar::Rar),
        Box::new(sqlite_journal::SqliteJournal),
        Box::new(javaclass::JavaClass),
        Box::new(font::Font),
        Box::new(mkv::Mkv),
        Box::new(ico::Ico),
        Box::new(icns::Icns),
        Box::new(psd::Psd),
        Box::new(aiff::Aiff),
        Box::new(midi::Midi),
        Box::new(cpio::Cpio),
        Box::new(ar::Ar),
        Box::new(torrent::Torrent),
        Box::new(wasm::Wasm),
        Box::new(leveldb::LevelDbLog),
        Box::new(text::Text),
        Box::new(utf16::Utf16),
    ]
}
