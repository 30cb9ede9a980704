//! LZNT1-compressed streams, decoded as they are read (decision 0008). A stream
//! is stored as compression units (usually 16 clusters): a unit stored whole is
//! plain, one followed by sparse clusters is compressed, one all sparse is zeros.
//!
//! Nothing is decoded when the entry is made: a record of 1 KiB can claim
//! gigabytes, and holding them (as this reader once did) let a crafted MFT
//! exhaust memory or starve honest compressed files of a shared budget. Reading
//! decodes one unit at a time, so memory is one unit, and stored bytes the image
//! could not give are gaps of the decoded bytes, never zeros decoded as data.

use crate::lznt1;
use dredge_core::{Decode, ImageSource, Run, RunData, Why};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Largest compression unit decoded. NTFS writes 16 clusters of at most 4 KiB
/// (64 KiB); a header claiming more is damage, and each read allocates a unit.
pub(crate) const MAX_UNIT: u64 = 1 << 20;

pub(crate) struct Lznt1Stream {
    src: Arc<dyn ImageSource>,
    unit: u64,
    /// The decoded length (the attribute's data size).
    size: u64,
    /// The stored layout in file order: image and sparse runs.
    runs: Vec<Run>,
    /// Decoded bytes from here on are not made (see `new`).
    end: u64,
}

impl fmt::Debug for Lznt1Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lznt1Stream")
            .field("unit", &self.unit)
            .field("size", &self.size)
            .field("runs", &self.runs.len())
            .field("end", &self.end)
            .finish()
    }
}

impl Lznt1Stream {
    /// A stream of `size` decoded bytes stored in `runs` (sorted by file offset)
    /// in units of `unit` bytes. Err: the unit is not one NTFS writes.
    ///
    /// A stored cluster belongs to one unit of one stream. A layout that maps a
    /// cluster a second time (a crafted run list repeating one compressed
    /// cluster thousands of times is a decompression bomb) is decoded up to the
    /// unit that repeats it; the rest is a gap, and `problems` says where.
    pub(crate) fn new(
        src: Arc<dyn ImageSource>,
        unit: u64,
        size: u64,
        runs: Vec<Run>,
        problems: &mut Vec<String>,
    ) -> Result<Self, String> {
        if unit == 0 || unit > MAX_UNIT {
            return Err(format!(
                "compression unit of {unit} bytes (NTFS writes at most 64 KiB); the stored (compressed) runs are listed"
            ));
        }
        let mut end = size;
        // Image extents seen so far: start -> end.
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for r in &runs {
            let RunData::Image(at) = r.data else {
                continue;
            };
            let stop = at.saturating_add(r.len);
            let before = seen.range(..stop).next_back();
            if let Some((&s, &e)) = before.filter(|(_, &e)| e > at) {
                end = r.file_offset - r.file_offset % unit;
                problems.push(format!(
                    "compressed stream maps image bytes {at}..{stop} a second time (already at {s}..{e}); decoding stops at file offset {end}"
                ));
                break;
            }
            seen.insert(at, stop);
        }
        Ok(Lznt1Stream {
            src,
            unit,
            size,
            runs,
            end,
        })
    }

    /// The decoded bytes of the unit at `lo` (`out`, zeroed by the caller) and the
    /// ranges of it (offsets in the unit) that could not be made.
    fn unit_at(&self, lo: u64, out: &mut [u8]) -> Vec<(u64, u64, Why)> {
        let mut gaps = Vec::new();
        let stop = lo + self.unit;
        let mut stored = Vec::new();
        // (offset in `stored`, length, why) of stored bytes the image did not give.
        let mut unread: Vec<(u64, u64, Why)> = Vec::new();
        let mut sparse = false;
        for r in &self.runs {
            let (a, b) = (
                r.file_offset.max(lo),
                r.file_offset.saturating_add(r.len).min(stop),
            );
            if a >= b {
                continue;
            }
            match r.data {
                RunData::Image(at) => {
                    let here = stored.len() as u64;
                    let mut buf = vec![0u8; (b - a) as usize];
                    let from = at + (a - r.file_offset);
                    match self.src.read_at(from, &mut buf) {
                        Ok(rep) => {
                            for s in &rep.synthesized {
                                unread.push((here + (s.extent.start - from), s.extent.len, s.why));
                            }
                        }
                        Err(_) => unread.push((here, b - a, Why::Unreadable)),
                    }
                    stored.extend(buf);
                }
                _ => sparse = true,
            }
        }
        let n = out.len() as u64;
        if stored.is_empty() {
            // A hole: zeros are the data.
        } else if !sparse && stored.len() as u64 >= self.unit {
            // Every cluster of the unit stored: plain. (A last unit holding less
            // than that, with no sparse clusters after it because the run list
            // ends, is compressed: ntfs-3g and Windows write it so, and The
            // Sleuth Kit reads it so.) A bad sector costs its own bytes.
            out.copy_from_slice(&stored[..out.len()]);
            gaps.extend(
                unread
                    .into_iter()
                    .filter(|g| g.0 < n)
                    .map(|(o, l, w)| (o, l.min(n - o), w)),
            );
        } else if let Some(&(_, _, why)) = unread.first() {
            // Compressed bytes with holes in them decode to guesses: none are made.
            gaps.push((0, n, why));
        } else {
            match lznt1::decompress(&stored, out.len()) {
                Ok(d) => out[..d.len()].copy_from_slice(&d),
                Err((d, _)) => {
                    out[..d.len()].copy_from_slice(&d);
                    gaps.push((d.len() as u64, n - d.len() as u64, Why::Undecodable));
                }
            }
        }
        gaps
    }
}

impl Decode for Lznt1Stream {
    fn kind(&self) -> &'static str {
        "lznt1"
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Vec<(u64, u64, Why)> {
        buf.fill(0);
        let want = off.saturating_add(buf.len() as u64);
        let mut gaps: Vec<(u64, u64, Why)> = Vec::new();
        let mut push = |o: u64, l: u64, w: Why| match gaps.last_mut() {
            _ if l == 0 => {}
            Some(g) if g.0 + g.1 == o && g.2 == w => g.1 += l,
            _ => gaps.push((o, l, w)),
        };
        let mut lo = off - off % self.unit;
        let mut scratch = vec![0u8; self.unit as usize];
        while lo < want {
            let (a, b) = (lo.max(off), (lo + self.unit).min(want));
            if lo >= self.end || lo >= self.size {
                // Past where the layout can be trusted, or past the stream.
                let why = if lo >= self.size {
                    Why::PastEnd
                } else {
                    Why::NotInLayout
                };
                push(a, want - a, why);
                break;
            }
            let n = (self.size - lo).min(self.unit) as usize;
            let unit = &mut scratch[..n];
            unit.fill(0);
            let unit_gaps = self.unit_at(lo, unit);
            let b_in = b.min(lo + n as u64);
            if a < b_in {
                buf[(a - off) as usize..(b_in - off) as usize]
                    .copy_from_slice(&unit[(a - lo) as usize..(b_in - lo) as usize]);
            }
            for (o, l, w) in unit_gaps {
                let (ga, gb) = ((lo + o).max(a), (lo + o + l).min(b_in));
                if ga < gb {
                    push(ga, gb - ga, w);
                }
            }
            let past = b_in.max(a);
            if past < b {
                push(past, b - past, Why::PastEnd);
            }
            lo += self.unit;
        }
        gaps
    }

    fn stored(&self) -> &[Run] {
        &self.runs
    }

    fn made_len(&self) -> u64 {
        self.end.min(self.size)
    }

    fn max_ratio(&self) -> u64 {
        // NTFS compresses units of 16 clusters; one stored cluster is the least.
        16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image source over a vector, with one range that cannot be read.
    struct Mem(Vec<u8>, Option<(u64, u64)>);
    impl ImageSource for Mem {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(
            &self,
            offset: u64,
            buf: &mut [u8],
        ) -> Result<dredge_core::ReadReport, dredge_core::SourceError> {
            let mut rep = dredge_core::ReadReport::clean(buf.len());
            for (i, b) in buf.iter_mut().enumerate() {
                let at = offset + i as u64;
                *b = self.0.get(at as usize).copied().unwrap_or(0);
                if let Some((s, e)) = self.1 {
                    if at >= s && at < e {
                        *b = 0;
                        rep.push(dredge_core::Extent::new(at, 1), Why::Unreadable);
                    }
                }
            }
            Ok(rep)
        }
        fn describe(&self) -> String {
            "mem".into()
        }
    }

    /// One LZNT1 chunk that decodes to `n` (2..=4098) copies of `b`: a literal,
    /// then one back-reference of offset 1 (12 length bits at position 1).
    fn chunk(b: u8, n: u16) -> Vec<u8> {
        let token = n - 1 - 3;
        let body = [0b10, b, token as u8, (token >> 8) as u8];
        let h = 0xB000u16 | (body.len() as u16 + 2 - 3);
        let mut c = h.to_le_bytes().to_vec();
        c.extend_from_slice(&body);
        c
    }

    fn run(file_offset: u64, len: u64, data: RunData) -> Run {
        Run {
            file_offset,
            len,
            data,
        }
    }

    /// Units of 4 clusters of 512 bytes: unit 0 compressed in cluster 1,
    /// unit 1 stored plain in clusters 4..8, unit 2 a hole.
    fn image() -> (Vec<u8>, Vec<Run>) {
        let mut img = vec![0u8; 16 * 512];
        let c = chunk(b'a', 2048);
        img[512..512 + c.len()].copy_from_slice(&c);
        for (i, b) in img[4 * 512..8 * 512].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        let runs = vec![
            run(0, 512, RunData::Image(512)),
            run(512, 1536, RunData::Sparse),
            run(2048, 2048, RunData::Image(4 * 512)),
            run(4096, 2048, RunData::Sparse),
        ];
        (img, runs)
    }

    #[test]
    fn units_decode_plain_and_holes_at_any_offset() {
        let (img, runs) = image();
        let s = Lznt1Stream::new(
            Arc::new(Mem(img.clone(), None)),
            2048,
            6000,
            runs,
            &mut vec![],
        )
        .unwrap();
        let mut all = vec![0u8; 6000];
        assert!(s.read_at(0, &mut all).is_empty());
        assert!(all[..2048].iter().all(|&b| b == b'a'));
        assert_eq!(&all[2048..4096], &img[2048..4096]);
        assert!(all[4096..].iter().all(|&b| b == 0));
        // A read across a unit boundary returns the same bytes.
        let mut part = vec![0u8; 1000];
        assert!(s.read_at(1500, &mut part).is_empty());
        assert_eq!(part, all[1500..2500]);
        // Past the end: zeros, said so.
        let mut past = vec![1u8; 100];
        assert_eq!(s.read_at(5950, &mut past), vec![(6000, 50, Why::PastEnd)]);
    }

    #[test]
    fn a_last_unit_stored_in_fewer_clusters_than_a_unit_is_compressed() {
        // The run list ends after the one cluster (clipped to the data size):
        // no sparse run says "compressed", the missing clusters do.
        let (img, _) = image();
        let runs = vec![run(0, 400, RunData::Image(512))];
        let s = Lznt1Stream::new(Arc::new(Mem(img, None)), 2048, 400, runs, &mut vec![]).unwrap();
        let mut all = vec![0u8; 400];
        assert!(s.read_at(0, &mut all).is_empty());
        assert!(all.iter().all(|&b| b == b'a'));
    }

    #[test]
    fn unreadable_stored_bytes_are_gaps_of_what_they_decode_to() {
        let (img, runs) = image();
        // A bad byte in the compressed cluster costs its whole unit; one in the
        // plain unit costs that byte.
        let bad = Some((600, 601));
        let s = Lznt1Stream::new(
            Arc::new(Mem(img.clone(), bad)),
            2048,
            6000,
            runs.clone(),
            &mut vec![],
        )
        .unwrap();
        let mut all = vec![0u8; 6000];
        assert_eq!(s.read_at(0, &mut all), vec![(0, 2048, Why::Unreadable)]);
        let bad = Some((4 * 512 + 10, 4 * 512 + 12));
        let s = Lznt1Stream::new(Arc::new(Mem(img, bad)), 2048, 6000, runs, &mut vec![]).unwrap();
        assert_eq!(s.read_at(0, &mut all), vec![(2058, 2, Why::Unreadable)]);
    }

    #[test]
    fn a_damaged_unit_keeps_what_decoded_before_the_damage() {
        let (mut img, runs) = image();
        // A good chunk, then one whose header claims more than the cluster holds.
        let mut c = chunk(b'a', 512);
        c.extend([0xff, 0xbf]);
        img[512..512 + c.len()].copy_from_slice(&c);
        let s = Lznt1Stream::new(Arc::new(Mem(img, None)), 2048, 6000, runs, &mut vec![]).unwrap();
        let mut all = vec![0u8; 6000];
        let gaps = s.read_at(0, &mut all);
        assert_eq!(gaps, vec![(512, 1536, Why::Undecodable)]);
        assert!(all[..512].iter().all(|&b| b == b'a'));
    }

    /// Random stored bytes under random layouts: reading never panics, every
    /// gap lies inside the read, in order.
    #[test]
    fn random_layouts_and_bytes_never_panic() {
        let (mut r, cases) = dredge_testkit::mutation_setup(0x5DEE_CE66_D1CE_4E5B);
        for _ in 0..cases {
            let img: Vec<u8> = (0..8192).map(|_| r.next() as u8).collect();
            // Sometimes valid chunk headers, so decoding gets past the first one.
            let mut img = img;
            for k in 0..r.below(8) {
                let at = (k * 512) as usize;
                img[at..at + 2]
                    .copy_from_slice(&(0xB000u16 | r.below(0x1000) as u16).to_le_bytes());
            }
            let unit = 512 << r.below(4);
            let size = r.below(5 * unit);
            let mut runs = Vec::new();
            let mut at = 0;
            while at < size && runs.len() < 40 {
                let len = 1 + r.below(2 * unit);
                let data = match r.below(3) {
                    0 => RunData::Sparse,
                    _ => RunData::Image(r.below(9000)),
                };
                runs.push(run(at, len, data));
                at += len;
            }
            let bad = (r.below(2) == 0).then(|| {
                let s = r.below(8192);
                (s, s + r.below(600))
            });
            let Ok(s) = Lznt1Stream::new(Arc::new(Mem(img, bad)), unit, size, runs, &mut vec![])
            else {
                continue;
            };
            let off = r.below(size + 10);
            let mut buf = vec![0u8; r.below(3 * unit) as usize];
            let gaps = s.read_at(off, &mut buf);
            let mut last = off;
            for (o, l, _) in gaps {
                assert!(
                    o >= last && l > 0 && o + l <= off + buf.len() as u64,
                    "gap {o}+{l} after {last}, read {off}+{}, size {size}, unit {unit}",
                    buf.len()
                );
                last = o + l;
            }
        }
    }

    #[test]
    fn a_layout_repeating_one_cluster_is_decoded_up_to_the_repeat() {
        let (img, _) = image();
        // Every unit points at the one compressed cluster: a bomb.
        let mut runs = Vec::new();
        for u in 0..1000u64 {
            runs.push(run(u * 2048, 512, RunData::Image(512)));
            runs.push(run(u * 2048 + 512, 1536, RunData::Sparse));
        }
        let mut problems = Vec::new();
        let s = Lznt1Stream::new(
            Arc::new(Mem(img, None)),
            2048,
            2048 * 1000,
            runs,
            &mut problems,
        )
        .unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("a second time"), "{problems:?}");
        let mut all = vec![0u8; 2048 * 1000];
        assert_eq!(
            s.read_at(0, &mut all),
            vec![(2048, 2048 * 999, Why::NotInLayout)]
        );
        assert!(all[..2048].iter().all(|&b| b == b'a'));
        // A unit larger than NTFS writes is refused.
        assert!(Lznt1Stream::new(
            Arc::new(Mem(vec![], None)),
            4 << 20,
            1,
            vec![],
            &mut problems
        )
        .is_err());
    }
}
