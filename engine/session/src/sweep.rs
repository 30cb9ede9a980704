//! The pieces of the files the pass writes, in image order (issue 18, decision
//! 0014). Planning meets them in walk order; the pass needs them by image
//! offset. They are sorted in runs of bounded size, each run written to a
//! scratch file when the next one starts, and merged as the pass reads: memory
//! holds one run being filled, then one buffered record per run.

use crate::files::Write;
use crate::spill::{read_frame, scratch, write_frame, Dec, Enc, Span};
use crate::Failure;
use dredge_core::{Extent, ReadReport, Why};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A piece of a file that lies in the image: file bytes `file_off..+len` are
/// the image bytes `image..+len`; `run` is its run's index in file order,
/// `file` the file's index in the pass's plans, `copy` its copy (relative to
/// the case directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub image: u64,
    pub len: u64,
    pub file: u64,
    pub file_off: u64,
    pub run: u32,
    pub copy: Arc<str>,
    /// This piece is the whole file (one run of image bytes from offset 0 to
    /// its size): the pass can hash the file from the blocks it writes.
    pub whole: bool,
}

impl Piece {
    /// The order of the pass (and the order pieces were always written in).
    fn key(&self) -> Key {
        (self.image, self.file, self.file_off)
    }

    fn put(&self, e: &mut Enc) {
        e.u64(self.image);
        e.u64(self.len);
        e.u64(self.file);
        e.u64(self.file_off);
        e.u64(u64::from(self.run));
        e.str(&self.copy);
        e.bool(self.whole);
    }

    fn get(b: &[u8]) -> Result<Piece, Failure> {
        let mut d = Dec::new(b);
        Ok(Piece {
            image: d.u64()?,
            len: d.u64()?,
            file: d.u64()?,
            file_off: d.u64()?,
            run: u32::try_from(d.u64()?).unwrap_or(u32::MAX),
            copy: Arc::from(d.str()?),
            whole: d.bool()?,
        })
    }
}

/// (image offset, file, file offset): a piece's place in the pass.
type Key = (u64, u64, u64);

/// Bytes of pieces held before a sorted run goes to the scratch file.
const RUN_BYTES: usize = 32 << 20;

/// Pieces gathered while planning: the current run in memory, earlier runs
/// sorted in a scratch file (`runs`: byte ranges of it).
pub(crate) struct Pieces {
    dir: PathBuf,
    mem: Vec<Piece>,
    mem_bytes: usize,
    file: Option<File>,
    runs: Vec<(u64, u64)>,
    written: u64,
    run_bytes: usize,
}

impl Pieces {
    pub(crate) fn new(dir: &Path) -> Pieces {
        Pieces::with_run_bytes(dir, RUN_BYTES)
    }

    pub(crate) fn with_run_bytes(dir: &Path, run_bytes: usize) -> Pieces {
        Pieces {
            dir: dir.to_path_buf(),
            mem: Vec::new(),
            mem_bytes: 0,
            file: None,
            runs: Vec::new(),
            written: 0,
            run_bytes,
        }
    }

    pub(crate) fn push(&mut self, p: Piece) -> Result<(), Failure> {
        // The copy's name is shared by its file's pieces in memory; counted
        // once per piece here, which errs towards spilling early.
        self.mem_bytes += std::mem::size_of::<Piece>() + p.copy.len();
        self.mem.push(p);
        if self.mem_bytes >= self.run_bytes {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<(), Failure> {
        if self.mem.is_empty() {
            return Ok(());
        }
        let err = |e: std::io::Error| Failure(format!("scratch file: {e}"));
        let f: &File = match &mut self.file {
            Some(f) => f,
            none => none.insert(scratch(&self.dir)?),
        };
        self.mem.sort_by_key(Piece::key);
        let start = self.written;
        // Runs are appended in order; readers use `pread`, so the file's own
        // offset is always the end of what was written.
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut e = Enc::default();
        for p in self.mem.drain(..) {
            e.0.clear();
            p.put(&mut e);
            self.written += write_frame(&mut w, &e.0).map_err(err)?;
        }
        w.flush().map_err(err)?;
        self.runs.push((start, self.written));
        self.mem_bytes = 0;
        self.mem.shrink_to(0);
        Ok(())
    }
}

/// One sorted source of the merge.
enum Source {
    Mem(std::vec::IntoIter<Piece>),
    Run(BufReader<Span>),
}

/// Walks the pieces in image order block by block: the ones a block covers,
/// and what it could not read of them (kept as `damage`, by file).
pub(crate) struct Sweep {
    case_dir: PathBuf,
    sources: Vec<Source>,
    /// The head of each source by its key, smallest first.
    heap: BinaryHeap<Reverse<(Key, usize)>>,
    heads: Vec<Option<Piece>>,
    active: Vec<(Piece, Arc<PathBuf>)>,
    /// Bytes the pass could not read, by the file they belong to.
    damage: Vec<Damage>,
    /// Digests of files hashed from the pass's blocks, one slot a file.
    digests: Arc<File>,
}

/// Bytes of a file the pass could not read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Damage {
    pub file: u64,
    pub run: u32,
    pub off: u64,
    pub len: u64,
    pub why: Why,
}

impl Sweep {
    pub(crate) fn new(case_dir: &Path, pieces: Pieces) -> Result<Sweep, Failure> {
        Sweep::with_digests(case_dir, pieces, Arc::new(scratch(case_dir)?))
    }

    /// A sweep of files planned after those whose digests `hashed` holds: it
    /// keeps its own in the same slots file.
    pub(crate) fn continuing(
        case_dir: &Path,
        pieces: Pieces,
        hashed: Hashed,
    ) -> Result<Sweep, Failure> {
        Sweep::with_digests(case_dir, pieces, hashed.0)
    }

    fn with_digests(
        case_dir: &Path,
        mut pieces: Pieces,
        digests: Arc<File>,
    ) -> Result<Sweep, Failure> {
        let mut sources = Vec::new();
        if pieces.runs.is_empty() {
            pieces.mem.sort_by_key(Piece::key);
            sources.push(Source::Mem(std::mem::take(&mut pieces.mem).into_iter()));
        } else {
            pieces.spill()?;
            let f: Arc<File> =
                Arc::new(pieces.file.take().ok_or_else(|| {
                    Failure("scratch file: sorted pieces without their file".into())
                })?);
            for &(pos, end) in &pieces.runs {
                let span = Span {
                    file: Arc::clone(&f),
                    pos,
                    end,
                };
                sources.push(Source::Run(BufReader::with_capacity(256 << 10, span)));
            }
        }
        let mut s = Sweep {
            case_dir: case_dir.to_path_buf(),
            heads: vec![None; sources.len()],
            sources,
            heap: BinaryHeap::new(),
            active: Vec::new(),
            damage: Vec::new(),
            digests,
        };
        for i in 0..s.sources.len() {
            s.advance(i)?;
        }
        Ok(s)
    }

    /// Reads source `i`'s next piece into its head.
    fn advance(&mut self, i: usize) -> Result<(), Failure> {
        let next = match &mut self.sources[i] {
            Source::Mem(it) => it.next(),
            Source::Run(r) => {
                if r.get_ref().pos >= r.get_ref().end && r.buffer().is_empty() {
                    None
                } else {
                    Some(Piece::get(&read_frame(r)?)?)
                }
            }
        };
        if let Some(p) = &next {
            self.heap.push(Reverse((p.key(), i)));
        }
        self.heads[i] = next;
        Ok(())
    }

    /// The next piece in image order.
    fn pop(&mut self) -> Result<Option<Piece>, Failure> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let p = self.heads[i].take();
        self.advance(i)?;
        Ok(p)
    }

    fn peek_image(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((k, _))| k.0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.active.is_empty()
    }

    /// The next bytes a piece needs at or after `at`: from the first such byte
    /// to the end of the piece it is in (the longest, when several start
    /// there), at most `max` bytes. `None`: every piece is written.
    pub(crate) fn next_need(&self, at: u64, max: u64) -> Option<Extent> {
        let head = self
            .heap
            .peek()
            .and_then(|Reverse((_, i))| self.heads[*i].as_ref());
        let (s, e) = self
            .active
            .iter()
            .map(|(p, _)| p)
            .chain(head)
            .map(|p| (p.image.max(at), p.image + p.len))
            .filter(|(s, e)| s < e)
            .min_by_key(|&(s, e)| (s, std::cmp::Reverse(e)))?;
        Some(Extent::new(s, (e - s).min(max.max(1))))
    }

    /// The writes for one block; the unreadable ranges it met are recorded
    /// against the files they fall in.
    pub(crate) fn block(
        &mut self,
        at: u64,
        block: &Arc<Vec<u8>>,
        report: &ReadReport,
    ) -> Result<Vec<Write>, Failure> {
        let here = Extent::new(at, block.len() as u64);
        while self.peek_image().is_some_and(|i| i < here.end()) {
            if let Some(p) = self.pop()? {
                let path = Arc::new(self.case_dir.join(&*p.copy));
                self.active.push((p, path));
            }
        }
        let mut out = Vec::new();
        for (p, path) in &self.active {
            let piece = Extent::new(p.image, p.len);
            let Some(o) = piece.intersect(&here) else {
                continue;
            };
            // A file that is one piece is hashed by its writer from the
            // blocks, in order, not read back after the pass (the bytes
            // hashed are the bytes written, zeros where unreadable).
            let hash = p
                .whole
                .then(|| (Arc::clone(&self.digests), o.end() == piece.end()));
            out.push(Write {
                path: Arc::clone(path),
                file: p.file,
                file_off: p.file_off + (o.start - p.image),
                block: Arc::clone(block),
                range: (o.start - at) as usize..(o.end() - at) as usize,
                hash,
            });
            for s in &report.synthesized {
                if let Some(x) = s.extent.intersect(&o) {
                    self.damage.push(Damage {
                        file: p.file,
                        run: p.run,
                        off: p.file_off + (x.start - p.image),
                        len: x.len,
                        why: s.why,
                    });
                }
            }
        }
        self.active.retain(|(p, _)| p.image + p.len > here.end());
        Ok(out)
    }

    /// What the pass could not read, sorted by file, and the digests of the
    /// files it hashed.
    pub(crate) fn into_parts(mut self) -> (Vec<Damage>, Hashed) {
        self.damage.sort_by_key(|d| (d.file, d.off));
        (std::mem::take(&mut self.damage), Hashed(self.digests))
    }
}

/// Reads through `src` only the bytes `sweep`'s pieces need, in image order,
/// in requests of at most `max` bytes, and writes them into the copies (on
/// this thread: what is read here is a few files, not the image). True:
/// interrupted.
pub(crate) fn read_pieces(
    sweep: &mut Sweep,
    src: &dyn dredge_core::ImageSource,
    max: u64,
    interrupt: &std::sync::atomic::AtomicBool,
) -> Result<bool, Failure> {
    let mut hashing = crate::files::Hashing::default();
    let mut at = 0;
    while let Some(x) = sweep.next_need(at, max) {
        if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(true);
        }
        let mut buf = vec![0u8; x.len as usize];
        let report = src
            .read_at(x.start, &mut buf)
            .map_err(|e| Failure(e.to_string()))?;
        let block = Arc::new(buf);
        for w in sweep.block(x.start, &block, &report)? {
            w.apply(&mut hashing)?;
        }
        at = x.end();
    }
    Ok(false)
}

/// Bytes of a digest slot: a mark, then MD5, SHA-1 and SHA-256 in hex.
const SLOT: u64 = 1 + 32 + 40 + 64;

/// Digests of the files the pass hashed, by file index (a scratch file of
/// fixed slots: nothing held in memory per file).
pub(crate) struct Hashed(Arc<File>);

/// Keeps a file's digests in its slot.
pub(crate) fn keep_digests(
    digests: &File,
    file: u64,
    dg: dredge_hash::Digester,
) -> std::io::Result<()> {
    let d = dg.finish();
    let mut slot = Vec::with_capacity(SLOT as usize);
    slot.push(1u8);
    for h in [&d.md5, &d.sha1, &d.sha256] {
        slot.extend_from_slice(h.as_bytes());
    }
    if slot.len() as u64 != SLOT {
        return Err(std::io::Error::other("a digest of an unexpected length"));
    }
    std::os::unix::fs::FileExt::write_all_at(digests, &slot, file.saturating_mul(SLOT))
}

impl Hashed {
    /// Each file's digests in file order, where the pass hashed it (one read
    /// a megabyte of slots, not one a file).
    pub(crate) fn in_order(self) -> impl Iterator<Item = Result<Option<Digests>, Failure>> {
        let mut r = BufReader::with_capacity(
            1 << 20,
            Span {
                file: self.0,
                pos: 0,
                end: u64::MAX,
            },
        );
        std::iter::from_fn(move || {
            let mut slot = [0u8; SLOT as usize];
            let mut got = 0;
            while got < slot.len() {
                match std::io::Read::read(&mut r, &mut slot[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => return Some(Err(Failure(format!("scratch file: {e}")))),
                }
            }
            // Past the last slot written: files the pass did not hash.
            if got < slot.len() || slot[0] != 1 {
                return Some(Ok(None));
            }
            let text = |r: std::ops::Range<usize>| {
                String::from_utf8(slot[r].to_vec())
                    .map_err(|_| Failure("scratch file: a digest is not text".into()))
            };
            Some((|| Ok(Some((text(1..33)?, text(33..73)?, text(73..137)?))))())
        })
    }
}

/// MD5, SHA-1 and SHA-256 in hex.
pub(crate) type Digests = (String, String, String);

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_core::SynthRange;

    fn piece(image: u64, len: u64, file: u64, file_off: u64) -> Piece {
        Piece {
            image,
            len,
            file,
            file_off,
            run: 0,
            copy: Arc::from(format!("f{file}").as_str()),
            whole: false,
        }
    }

    /// Every byte of every piece is written exactly once, in image order, from
    /// the block holding it, whether the pieces stayed in memory or were
    /// sorted in runs on disk and merged; damage lands on the right file.
    #[test]
    fn pieces_merged_from_sorted_runs_write_what_memory_would() {
        let dir = tempfile::tempdir().unwrap();
        // Pieces in a scrambled order (planning meets them in walk order).
        let mut all = Vec::new();
        let mut x = 7u64;
        for file in 0..3_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let image = (x >> 20) % (64 << 20);
            all.push(piece(image, 1 + (x >> 50) % 9000, file, (x >> 40) % 4096));
        }
        let size = 70u64 << 20;
        let bad = SynthRange {
            extent: Extent::new(5 << 20, 256 << 10),
            why: Why::Unreadable,
        };
        let run = |run_bytes: usize| {
            let mut p = Pieces::with_run_bytes(dir.path(), run_bytes);
            for q in &all {
                p.push(q.clone()).unwrap();
            }
            let spilled = p.runs.len();
            let mut s = Sweep::new(dir.path(), p).unwrap();
            let mut writes = Vec::new();
            let mut at = 0u64;
            while at < size {
                let n = (4u64 << 20).min(size - at);
                let block = Arc::new(vec![0u8; n as usize]);
                let mut report = ReadReport::clean(n as usize);
                if bad.extent.overlaps(&Extent::new(at, n)) {
                    report.synthesized.push(bad);
                }
                for w in s.block(at, &block, &report).unwrap() {
                    writes.push((w.path.display().to_string(), w.file_off, w.range.len()));
                }
                at += n;
            }
            let damage: Vec<(u64, u64, u64)> = s
                .into_parts()
                .0
                .iter()
                .map(|d| (d.file, d.off, d.len))
                .collect();
            (spilled, writes, damage)
        };
        let (none, mem_writes, mem_damage) = run(usize::MAX);
        let (runs, disk_writes, disk_damage) = run(16 << 10);
        assert_eq!(none, 0);
        assert!(runs > 10, "{runs} runs");
        assert_eq!(mem_writes, disk_writes);
        assert_eq!(mem_damage, disk_damage);
        let written: u64 = mem_writes.iter().map(|w| w.2 as u64).sum();
        assert_eq!(written, all.iter().map(|p| p.len).sum::<u64>());
        // The damage is exactly the pieces' overlap with the bad range.
        let expect: u64 = all
            .iter()
            .filter_map(|p| Extent::new(p.image, p.len).intersect(&bad.extent))
            .map(|o| o.len)
            .sum();
        assert!(expect > 0);
        assert_eq!(mem_damage.iter().map(|d| d.2).sum::<u64>(), expect);
        // Nothing is left in the case directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Reading only what pieces need writes every byte of every copy as a
    /// read of the whole image would, reads nothing else, and never more than
    /// the request size at once; overlapping and adjacent pieces included.
    #[test]
    fn reading_only_the_pieces_writes_them_whole_and_reads_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let img: Vec<u8> = (0..(3u64 << 20)).map(|i| (i * 31 % 251) as u8).collect();
        // (image, len) per file, one piece each but the last, in two.
        let files = [
            (100u64, 5000u64),
            (4000, 3000),
            (7000, 1),
            (1 << 20, 900_000),
        ];
        let mut p = Pieces::new(dir.path());
        for (i, &(image, len)) in files.iter().enumerate() {
            let name = format!("f{i}");
            std::fs::write(dir.path().join(&name), []).unwrap();
            let split = if i == 3 { len / 2 } else { len };
            p.push(Piece {
                copy: Arc::from(name.as_str()),
                ..piece(image, split, i as u64, 0)
            })
            .unwrap();
            if split < len {
                p.push(Piece {
                    copy: Arc::from(name.as_str()),
                    ..piece(image + split, len - split, i as u64, split)
                })
                .unwrap();
            }
        }
        let mem = dredge_testkit::MemSource(img.clone());
        let counted = dredge_core::Counted::new(Arc::new(mem));
        let mut s = Sweep::new(dir.path(), p).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        assert!(!read_pieces(&mut s, &counted, 64 << 10, &stop).unwrap());
        assert!(s.is_empty());
        for (i, &(image, len)) in files.iter().enumerate() {
            let got = std::fs::read(dir.path().join(format!("f{i}"))).unwrap();
            assert_eq!(got, img[image as usize..(image + len) as usize], "file {i}");
        }
        // The union of the pieces: 100..7001 and the last file.
        assert_eq!(counted.bytes(), (7001 - 100) + 900_000);
        assert!(counted.reads() >= 900_000 / (64 << 10));
    }
}
