//! The pass (issue 18): the evidence read once, in order, in large blocks. Each
//! block goes to the three hashers (each on its own thread: the scan's proof that
//! it analysed the registered bytes) and, where it lies in space to carve, to the
//! carving workers. The blocks are shared, not copied; a page whose margin runs
//! past its block reads only that margin again.

use crate::carve::{settle, CarveKit, Carved};
use crate::files::Write;
use crate::sweep::Sweep;
use crate::{Failure, JobProgress, ProgressFn};
use crossbeam_channel::bounded;
use dredge_core::{Extent, Finding, ImageSource, ReadReport, Why};
use dredge_hash::{Algorithms, ImageDigests, MultiHasher};
use dredge_volume::scan::{Candidate, LostScan};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Bytes read per request: large and aligned, as a disk likes them.
const BLOCK: u64 = 4 << 20;

/// What the pass does besides reading.
pub(crate) struct Plan<'a> {
    /// Hash every byte with these algorithms (`None`: no hashing).
    pub hash: Option<Algorithms>,
    /// Extents to carve, sorted; empty: no carving.
    pub carve: &'a [Extent],
    /// Extents to scan for lost filesystems' boot sectors and superblocks.
    pub lost: &'a [Extent],
    /// Blocks filesystems asked to have tested (their orphaned metadata).
    pub hunts: &'a [dredge_core::Hunt],
    /// Carving pages within a block (the result does not depend on it).
    pub page_size: u64,
    pub threads: usize,
    /// Progress's job name ("scan", "carve").
    pub job: &'static str,
    /// Unlocked encrypted volumes: blocks are hashed as read (ciphertext, the
    /// evidence) and handed on decrypted.
    pub layered: Option<&'a dredge_crypt::Layered>,
    /// Read only this range of the image (a shard's share of an item, issue
    /// 16), and one block past it, which is neither hashed nor carved: a header
    /// crossing the range's end is found in the seam as in a whole pass.
    pub span: Option<Extent>,
    /// Also a SHA-256 of each range of this many bytes (a multiple of the
    /// block), for the shards that carve the ranges to prove their bytes by.
    pub range_digests: Option<u64>,
    /// Settle the carved list (sort, drop what complete files hold); a range
    /// shard leaves that to the merge, which sees every range's files at once.
    pub settle: bool,
}

pub(crate) struct Passed {
    pub digests: Option<ImageDigests>,
    /// Settled: sorted, each file once.
    pub carved: Vec<Carved>,
    pub notes: Vec<Finding>,
    /// Every zero-filled range met (the registration's gaps).
    pub synthesized: ReadReport,
    pub interrupted: bool,
    /// What the lost-partition scan found, per `Plan::lost` extent.
    pub lost: Vec<Vec<Candidate>>,
    /// What each of `Plan::hunts` found, in order.
    pub hunted: Vec<crate::hunt::Found>,
    /// SHA-256 of each range of `Plan::range_digests` bytes, in order.
    pub ranges: Vec<String>,
}

/// A block read by the pass: its bytes (shared), where it starts, and whether
/// every byte of it was read (only such blocks are lent to validators).
#[derive(Clone)]
struct Block {
    bytes: Arc<Vec<u8>>,
    at: u64,
    clean: bool,
}

/// One carving job: a page, the block that holds it and the block after it.
type Work = (Extent, Block, Option<Block>);

/// The extents sorted and merged where they touch or overlap, so a block finds
/// its own by binary search (free space can be millions of pieces).
pub(crate) fn merged(carve: &[Extent]) -> Vec<Extent> {
    let mut v: Vec<Extent> = carve.iter().copied().filter(|e| e.len > 0).collect();
    v.sort_by_key(|e| e.start);
    let mut out: Vec<Extent> = Vec::with_capacity(v.len());
    for e in v {
        match out.last_mut() {
            Some(l) if e.start <= l.end() => {
                *l = Extent::from_bounds(l.start, l.end().max(e.end()));
            }
            _ => out.push(e),
        }
    }
    out
}

/// Pages of `block` to carve: its overlap with each extent, cut at `page` bytes.
/// `carve` is merged (sorted, disjoint).
fn pages(block: Extent, carve: &[Extent], page: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    let first = carve.partition_point(|e| e.end() <= block.start);
    for e in carve[first..].iter().take_while(|e| e.start < block.end()) {
        let (s, t) = (e.start.max(block.start), e.end().min(block.end()));
        let mut at = s;
        while at < t {
            let end = (at + page).min(t);
            out.push(Extent::from_bounds(at, end));
            at = end;
        }
    }
    out
}

/// Whether no byte of the read was zero-filled for a reason other than the end.
fn all_read(report: &ReadReport) -> bool {
    report.synthesized.iter().all(|s| s.why == Why::PastEnd)
}

/// A block's bytes for validators to read from memory, when all were read.
fn lend(b: Option<&Block>) -> (&[u8], u64) {
    match b {
        Some(b) if b.clean => (&b.bytes[..], b.at),
        _ => (&[], 0),
    }
}

/// Header hits that start in `page`, as (image offset, carver): those whose
/// header lies in the block, then those crossing into the next block (found in
/// a seam of `margin` bytes either side of the block's end).
fn page_hits(kit: &CarveKit, page: Extent, b: &Block, next: Option<&Block>) -> Vec<(u64, usize)> {
    let margin = kit.margin();
    let from = (page.start - b.at) as usize;
    let to = from + page.len as usize;
    let inner = (to + margin).min(b.bytes.len());
    let mut hits: Vec<(u64, usize)> = kit
        .hits(&b.bytes[from..inner], page.len as usize)
        .into_iter()
        .map(|(i, c)| (page.start + i as u64, c))
        .collect();
    let before = &b.bytes[from.saturating_sub(dredge_carvers::TEXT_TAIL)..from];
    let text = kit.text_hits(&b.bytes[from..inner], page.len as usize, page.start, before);
    hits.extend(text.into_iter().map(|(i, c)| (page.start + i as u64, c)));
    if let Some(n) = next.filter(|_| to + margin > b.bytes.len()) {
        let s = to.saturating_sub(margin).max(from);
        let mut seam = b.bytes[s..].to_vec();
        seam.extend_from_slice(&n.bytes[..margin.min(n.bytes.len())]);
        for (i, c) in kit.hits(&seam, to - s) {
            let hit = (b.at + (s + i) as u64, c);
            if !hits.contains(&hit) {
                hits.push(hit);
            }
        }
    }
    hits
}

/// Reads `seq` once from start to end; carving validators read through `random`
/// (counted apart). With `files`, each block's bytes are also written into the
/// copies whose pieces it covers, on writer threads.
pub(crate) fn run(
    seq: &Arc<dyn ImageSource>,
    random: &Arc<dyn ImageSource>,
    plan: &Plan<'_>,
    mut files: Option<&mut Sweep>,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<Passed, Failure> {
    let size = seq.size();
    let kit = CarveKit::new()?;
    let page_size = plan.page_size.max(4096);
    let carve = merged(plan.carve);
    let threads = plan.threads.max(1);
    let mut hasher = plan.hash.map(MultiHasher::new);
    let mut range_hasher = plan.range_digests.map(dredge_hash::RangeHasher::new);
    // What is read: the span, or everything; `end` is where hashing stops.
    let (from, end) = plan
        .span
        .map_or((0, size), |s| (s.start.min(size), s.end().min(size)));
    let read_to = match plan.span {
        Some(_) => end.saturating_add(BLOCK).min(size),
        None => size,
    };
    // Sector checks on the reading thread: a few compares per 512 bytes.
    let mut lost = LostScan::new(plan.lost, size);
    let mut hunt = crate::hunt::HuntScan::new(plan.hunts, size);
    let found = AtomicU64::new(0);
    let (tx, rx) = bounded::<Work>(threads * 2);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut interrupted = false;
    let mut synthesized = ReadReport::clean(0);
    let failed: std::sync::Mutex<Option<Failure>> = std::sync::Mutex::new(None);
    let (carved, notes) = std::thread::scope(|s| -> Result<_, Failure> {
        let (rtx, rrx) = bounded::<(Vec<Carved>, Vec<Finding>)>(threads * 2);
        for _ in 0..threads {
            let (rx, rtx) = (rx.clone(), rtx.clone());
            let (src, kit) = (Arc::clone(random), &kit);
            s.spawn(move || {
                for (page, b, next) in rx {
                    if interrupt.load(Ordering::Relaxed) {
                        break;
                    }
                    let hits = page_hits(kit, page, &b, next.as_ref());
                    let lent = [lend(Some(&b)), lend(next.as_ref())];
                    if rtx.send(kit.carve_hits(&*src, &hits, lent)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(rtx);
        drop(rx);
        // A file's writes always go to one writer, in the pass's order: it can
        // hash a file as it writes it.
        let failed = &failed;
        let mut wtx = Vec::new();
        for _ in 0..threads {
            let (tx, wrx) = bounded::<Write>(64);
            wtx.push(tx);
            s.spawn(move || {
                let mut hashing = crate::files::Hashing::default();
                for w in wrx {
                    if let Err(e) = w.apply(&mut hashing) {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                    }
                }
            });
        }
        let found = &found;
        let collector = s.spawn(move || {
            let (mut all, mut notes) = (Vec::new(), Vec::new());
            for (mut c, mut n) in rrx {
                found.fetch_add(c.len() as u64, Ordering::Relaxed);
                all.append(&mut c);
                notes.append(&mut n);
            }
            (all, notes)
        });
        let mut at = from;
        let mut read_error = None;
        // A block's pages are carved once the block after it is read, so a file
        // running past its block is validated from memory.
        let mut prev: Option<Block> = None;
        let send = |b: &Block, next: Option<&Block>| {
            let here = Extent::new(b.at, b.bytes.len() as u64);
            for page in pages(here, &carve, page_size) {
                if tx.send((page, b.clone(), next.cloned())).is_err() {
                    return;
                }
            }
        };
        while at < read_to {
            if interrupt.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            let n = (read_to - at).min(BLOCK) as usize;
            let mut buf = vec![0u8; n];
            let report = match seq.read_at(at, &mut buf) {
                Ok(r) => r,
                Err(e) => {
                    read_error = Some(Failure(e.to_string()));
                    break;
                }
            };
            // The block past a span is read for the seam only.
            let beyond = at >= end;
            if !beyond {
                synthesized.extend(&report);
            }
            // The hashers get the bytes as read; everything after them reads
            // unlocked volumes' plaintext (a copy only where a layer lies).
            let raw = Arc::new(buf);
            if let Some(h) = hasher.as_mut().filter(|_| !beyond) {
                h.update(Arc::clone(&raw));
            }
            if let Some(h) = range_hasher.as_mut().filter(|_| !beyond) {
                h.update(Arc::clone(&raw));
            }
            let (bytes, report) = match plan
                .layered
                .filter(|l| l.overlaps(Extent::new(at, n as u64)))
            {
                None => (raw, report),
                Some(l) => {
                    let mut plain = raw.to_vec();
                    match l.plain(at, &mut plain, &report) {
                        Ok(r) => (Arc::new(plain), r),
                        Err(e) => {
                            read_error = Some(Failure(e.to_string()));
                            break;
                        }
                    }
                }
            };
            let block = Block {
                bytes,
                at,
                clean: all_read(&report),
            };
            if let Some(sweep) = files.as_mut() {
                match sweep.block(at, &block.bytes, &report) {
                    Ok(writes) => {
                        for w in writes {
                            let to = &wtx[(w.file % wtx.len() as u64) as usize];
                            if to.send(w).is_err() {
                                break;
                            }
                        }
                    }
                    Err(e) => {
                        read_error = Some(e);
                        break;
                    }
                }
            }
            if let Some(p) = prev.take() {
                if !lost.is_empty() {
                    lost.feed(p.at, &p.bytes, &block.bytes);
                }
                if !hunt.is_empty() {
                    hunt.feed(p.at, &p.bytes, &block.bytes);
                }
                send(&p, Some(&block));
            }
            prev = Some(block);
            at += n as u64;
            if last.elapsed().as_millis() >= 200 || at == read_to {
                last = Instant::now();
                let el = started.elapsed();
                let carving = !plan.carve.is_empty();
                progress(&JobProgress {
                    job: plan.job,
                    phase: match (plan.hash.is_some(), carving) {
                        (true, true) => "one pass: hashing and carving".into(),
                        (true, false) => "one pass: hashing".into(),
                        _ => "one pass: carving".into(),
                    },
                    unit: "bytes",
                    done: at - from,
                    total: read_to - from,
                    rescued: at - from,
                    bad: 0,
                    rate: (at - from) as f64 / el.as_secs_f64().max(1e-9),
                    elapsed: el,
                    found: found.load(Ordering::Relaxed),
                    unreadable: 0,
                });
            }
        }
        if let Some(p) = prev.take().filter(|_| !interrupted && read_error.is_none()) {
            if !lost.is_empty() {
                lost.feed(p.at, &p.bytes, &[]);
            }
            if !hunt.is_empty() {
                hunt.feed(p.at, &p.bytes, &[]);
            }
            send(&p, None);
        }
        drop(tx);
        drop(wtx);
        let got = collector
            .join()
            .map_err(|_| Failure("the carving collector stopped".into()))?;
        if let Some(e) = read_error {
            return Err(e);
        }
        Ok(got)
    })?;
    // Every writer has ended with the scope: the first write that failed fails the
    // pass (a copy that cannot be written is not evidence of anything).
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    let (carved, notes) = if plan.settle {
        settle(carved, notes)
    } else {
        crate::carve::sorted(carved, notes)
    };
    synthesized.len = usize::try_from(end - from).unwrap_or(usize::MAX);
    Ok(Passed {
        digests: hasher.map(MultiHasher::finish),
        carved,
        notes,
        synthesized,
        interrupted,
        lost: lost.finish(),
        hunted: hunt.finish(),
        ranges: range_hasher
            .map(dredge_hash::RangeHasher::finish)
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cover_exactly_the_overlap_of_a_block_and_the_extents() {
        let block = Extent::new(100, 1000);
        let carve = merged(&[
            Extent::new(1050, 500),
            Extent::new(0, 150),
            Extent::new(500, 50),
            Extent::new(510, 20),
        ]);
        assert_eq!(carve.len(), 3, "{carve:?}");
        let p = pages(block, &carve, 30);
        let covered: u64 = p.iter().map(|e| e.len).sum();
        assert_eq!(covered, 50 + 50 + 50);
        assert!(p
            .iter()
            .all(|e| e.len <= 30 && e.start >= 100 && e.end() <= 1100));
        assert!(pages(block, &[], 30).is_empty());
    }
}
