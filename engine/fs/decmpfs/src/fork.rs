//! Compressed data in the resource fork: a table of chunks, each decoding to
//! 64 KiB (the last to the rest), read and decoded one at a time.
//!
//! zlib (method 4) keeps a resource-fork header (big-endian offset of the
//! data at byte 0), then at that offset a length, a chunk count and (offset,
//! length) pairs, little-endian, offsets counted from just after the length.
//! LZVN and uncompressed chunks (8, 10) start the fork with little-endian
//! offsets, one more than there are chunks, the first being the table's size.

use crate::{chunk, Header, Method, CHUNK};
use dredge_core::bytes::{be32, le32};
use dredge_core::{Decode, ImageSource, Run, RunData, Why};
use std::fmt;
use std::sync::Arc;

/// The largest chunk table read (2^23 chunks: 512 GiB of output).
const MAX_TABLE: u64 = 64 << 20;
/// The most stored bytes one chunk may take: 64 KiB, plus what zlib's stored
/// blocks or a raw chunk's marker byte add.
const MAX_STORED: u64 = CHUNK + 4096;

pub struct ForkStream {
    src: Arc<dyn ImageSource>,
    method: Method,
    kind: u32,
    size: u64,
    /// The resource fork's layout, offsets in the fork.
    runs: Vec<Run>,
    /// Each chunk's (offset in the fork, stored length).
    chunks: Vec<(u64, u64)>,
}

impl fmt::Debug for ForkStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkStream")
            .field("kind", &self.kind)
            .field("size", &self.size)
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

/// `len` bytes at `off` of a stream laid out in `runs`; the first reason a
/// byte of it could not be had, if one could not.
fn read(src: &dyn ImageSource, runs: &[Run], off: u64, len: u64) -> (Vec<u8>, Option<Why>) {
    let mut out = vec![0u8; len as usize];
    let mut why = None;
    let mut covered = 0u64;
    let end = off + len;
    for r in runs {
        let (a, b) = (
            r.file_offset.max(off),
            (r.file_offset.saturating_add(r.len)).min(end),
        );
        if a >= b {
            continue;
        }
        covered += b - a;
        let dst = &mut out[(a - off) as usize..(b - off) as usize];
        match &r.data {
            RunData::Image(at) => match src.read_at(at + (a - r.file_offset), dst) {
                Ok(rep) if rep.is_clean() => {}
                Ok(rep) => {
                    why.get_or_insert(rep.synthesized[0].why);
                }
                Err(_) => {
                    why.get_or_insert(Why::Unreadable);
                }
            },
            RunData::Sparse => {}
            RunData::Inline(b) => {
                let s = (a - r.file_offset) as usize;
                dst.copy_from_slice(&b[s..s + dst.len()]);
            }
            RunData::Decoded(_) => {
                why.get_or_insert(Why::NotInLayout);
            }
        }
    }
    if covered < len {
        why.get_or_insert(Why::NotInLayout);
    }
    (out, why)
}

impl ForkStream {
    /// The stream of the file whose header is `h`, its data in the resource
    /// fork laid out in `runs` (`fork_len` bytes). Err: the chunk table is
    /// not there or does not fit the fork.
    pub fn new(
        src: Arc<dyn ImageSource>,
        h: &Header,
        runs: Vec<Run>,
        fork_len: u64,
    ) -> Result<ForkStream, String> {
        let need = h.size.div_ceil(CHUNK);
        let table_err = |w: Why| {
            format!(
                "the resource fork's chunk table is unreadable ({})",
                w.as_str()
            )
        };
        let mut chunks = Vec::new();
        match h.method {
            Method::Zlib => {
                let (head, why) = read(&*src, &runs, 0, 16.min(fork_len));
                if let Some(w) = why {
                    return Err(table_err(w));
                }
                if head.len() < 16 {
                    return Err(format!("resource fork of {fork_len} bytes"));
                }
                let data: u64 = be32::<u32>(&head, 0).into();
                let (top, why) = read(&*src, &runs, data, 8.min(fork_len.saturating_sub(data)));
                if let Some(w) = why.filter(|_| top.len() == 8) {
                    return Err(table_err(w));
                }
                if top.len() < 8 {
                    return Err(format!(
                        "chunk table at byte {data} of a {fork_len}-byte resource fork"
                    ));
                }
                let count = u64::from(le32::<u32>(&top, 4));
                let bytes = count * 8;
                if bytes > MAX_TABLE || data + 8 + bytes > fork_len {
                    return Err(format!("{count} chunks in a {fork_len}-byte resource fork"));
                }
                // Only the entries the file's size needs are read.
                let count = count.min(need);
                let (t, why) = read(&*src, &runs, data + 8, count * 8);
                if let Some(w) = why {
                    return Err(table_err(w));
                }
                for i in 0..count as usize {
                    let o = u64::from(le32::<u32>(&t, 8 * i)) + data + 4;
                    chunks.push((o, u64::from(le32::<u32>(&t, 8 * i + 4))));
                }
            }
            Method::Lzvn | Method::Lzfse | Method::Lzbitmap | Method::Raw => {
                let (first, why) = read(&*src, &runs, 0, 4.min(fork_len));
                if let Some(w) = why {
                    return Err(table_err(w));
                }
                if first.len() < 4 {
                    return Err(format!("resource fork of {fork_len} bytes"));
                }
                let bytes = u64::from(le32::<u32>(&first, 0));
                if bytes < 8 || bytes % 4 != 0 || bytes > fork_len.min(MAX_TABLE) {
                    return Err(format!(
                        "chunk table of {bytes} bytes in a {fork_len}-byte resource fork"
                    ));
                }
                let (t, why) = read(&*src, &runs, 0, bytes.min((need + 1) * 4));
                if let Some(w) = why {
                    return Err(table_err(w));
                }
                let offs: Vec<u64> = t
                    .chunks_exact(4)
                    .map(|e| u64::from(le32::<u32>(e, 0)))
                    .collect();
                for w in offs.windows(2) {
                    chunks.push((w[0], w[1].saturating_sub(w[0])));
                }
            }
            Method::Other(k) => return Err(format!("decmpfs method {k} is not decoded")),
        }
        // Chunks past the file's size are not read; a chunk that runs past the
        // fork, or claims more stored bytes than any codec makes of 64 KiB
        // (a hostile table asking for a huge read), ends the layout there.
        chunks.truncate(need.min(usize::MAX as u64) as usize);
        if let Some(bad) = chunks
            .iter()
            .position(|&(o, l)| o.saturating_add(l) > fork_len || l == 0 || l > MAX_STORED)
        {
            chunks.truncate(bad);
        }
        Ok(ForkStream {
            src,
            method: h.method,
            kind: h.kind,
            size: h.size,
            runs,
            chunks,
        })
    }

    /// Decoded chunk `i` into `out` (its decoded length); the gaps in it.
    fn chunk_at(&self, i: usize, out: &mut [u8]) -> Vec<(u64, u64, Why)> {
        let n = out.len() as u64;
        let Some(&(o, l)) = self.chunks.get(i) else {
            return vec![(0, n, Why::NotInLayout)];
        };
        let (stored, why) = read(&*self.src, &self.runs, o, l);
        if let Some(w) = why {
            // Compressed bytes with holes decode to guesses: none are made.
            return vec![(0, n, w)];
        }
        match chunk(self.method, &stored, out) {
            Ok(()) => Vec::new(),
            Err(made) => vec![(made as u64, n - made as u64, Why::Undecodable)],
        }
    }
}

impl Decode for ForkStream {
    fn kind(&self) -> &'static str {
        match self.method {
            Method::Zlib => "decmpfs-zlib",
            Method::Lzvn => "decmpfs-lzvn",
            Method::Lzfse => "decmpfs-lzfse",
            Method::Lzbitmap => "decmpfs-lzbitmap",
            _ => "decmpfs-raw",
        }
    }

    fn read_at(&self, off: u64, buf: &mut [u8]) -> Vec<(u64, u64, Why)> {
        buf.fill(0);
        let want = off.saturating_add(buf.len() as u64).min(self.size);
        let mut gaps: Vec<(u64, u64, Why)> = Vec::new();
        let mut scratch = vec![0u8; CHUNK as usize];
        let mut lo = off - off % CHUNK;
        while lo < want {
            let n = (self.size - lo).min(CHUNK) as usize;
            let c = &mut scratch[..n];
            c.fill(0);
            let g = self.chunk_at((lo / CHUNK) as usize, c);
            let (a, b) = (lo.max(off), (lo + n as u64).min(want));
            buf[(a - off) as usize..(b - off) as usize]
                .copy_from_slice(&c[(a - lo) as usize..(b - lo) as usize]);
            for (go, gl, w) in g {
                let (ga, gb) = ((lo + go).max(a), (lo + go + gl).min(b));
                if ga < gb {
                    match gaps.last_mut() {
                        Some(l) if l.0 + l.1 == ga && l.2 == w => l.1 += gb - ga,
                        _ => gaps.push((ga, gb - ga, w)),
                    }
                }
            }
            lo += CHUNK;
        }
        let end = off.saturating_add(buf.len() as u64);
        if want < end {
            gaps.push((want.max(off), end - want.max(off), Why::PastEnd));
        }
        gaps
    }

    fn stored(&self) -> &[Run] {
        &self.runs
    }

    fn made_len(&self) -> u64 {
        (self.chunks.len() as u64 * CHUNK).min(self.size)
    }

    fn max_ratio(&self) -> u64 {
        match self.method {
            // zlib's ceiling is about 1 032 to 1; LZVN's 272 to 2 per op.
            Method::Zlib => 1032,
            Method::Lzvn => 136,
            // A triplet can cost no bits at all (a symbol holding every
            // state): up to 10 000 of them, 15 bytes each, per block header.
            Method::Lzfse => 4096,
            // One nibble names eight bytes; a repeat of 15 more steps costs
            // half a byte of nibbles: 240 bytes a byte.
            Method::Lzbitmap => 256,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dredge_testkit::MemSource;

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"decmpfs chunk test, line after line\n"[i % 36])
            .collect()
    }

    /// A resource fork of zlib chunks as HFS+ writes it.
    fn zlib_fork(data: &[u8]) -> Vec<u8> {
        let blocks: Vec<Vec<u8>> = data
            .chunks(CHUNK as usize)
            .map(|c| miniz_oxide::deflate::compress_to_vec_zlib(c, 6))
            .collect();
        let mut table = Vec::new();
        let mut body = Vec::new();
        let start = 4 + 8 * blocks.len();
        table.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
        for b in &blocks {
            table.extend_from_slice(&((start + body.len()) as u32).to_le_bytes());
            table.extend_from_slice(&(b.len() as u32).to_le_bytes());
            body.extend_from_slice(b);
        }
        let mut fork = vec![0u8; 0x100];
        fork[..4].copy_from_slice(&0x100u32.to_be_bytes());
        let len = (table.len() + body.len()) as u32;
        fork.extend_from_slice(&len.to_be_bytes());
        fork.extend_from_slice(&table);
        fork.extend_from_slice(&body);
        fork
    }

    fn lzvn_fork(data: &[u8]) -> Vec<u8> {
        let blocks: Vec<Vec<u8>> = data.chunks(CHUNK as usize).map(lzvn::encode_raw).collect();
        let mut offs = vec![4 * (blocks.len() as u32 + 1)];
        for b in &blocks {
            offs.push(offs.last().unwrap() + b.len() as u32);
        }
        let mut fork: Vec<u8> = offs.iter().flat_map(|o| o.to_le_bytes()).collect();
        for b in &blocks {
            fork.extend_from_slice(b);
        }
        fork
    }

    fn stream(kind: u32, data: &[u8], fork: Vec<u8>) -> ForkStream {
        let len = fork.len() as u64;
        // The fork laid out in two runs with a gap of unrelated bytes between.
        let cut = (len / 2) as usize;
        let mut img = fork[..cut].to_vec();
        img.extend_from_slice(&[0xAA; 4096]);
        img.extend_from_slice(&fork[cut..]);
        let runs = vec![
            Run {
                file_offset: 0,
                len: cut as u64,
                data: RunData::Image(0),
            },
            Run {
                file_offset: cut as u64,
                len: len - cut as u64,
                data: RunData::Image(cut as u64 + 4096),
            },
        ];
        let h = Header {
            kind,
            method: if kind == 4 {
                Method::Zlib
            } else {
                Method::Lzvn
            },
            in_fork: true,
            size: data.len() as u64,
        };
        ForkStream::new(Arc::new(MemSource(img)), &h, runs, len).unwrap()
    }

    #[test]
    fn zlib_and_lzvn_forks_decode_at_any_offset() {
        let data = text(200_000);
        for (kind, fork) in [(4, zlib_fork(&data)), (8, lzvn_fork(&data))] {
            let s = stream(kind, &data, fork);
            assert_eq!(s.made_len(), data.len() as u64);
            let mut all = vec![0u8; data.len()];
            assert!(s.read_at(0, &mut all).is_empty());
            assert!(all == data, "method {kind}");
            // Across a chunk boundary, and past the end.
            let mut b = vec![0u8; 1000];
            assert!(s.read_at(CHUNK - 300, &mut b).is_empty());
            assert_eq!(
                &b[..],
                &data[(CHUNK - 300) as usize..(CHUNK + 700) as usize]
            );
            let g = s.read_at(data.len() as u64 - 10, &mut b);
            assert_eq!(g, vec![(data.len() as u64, 990, Why::PastEnd)]);
        }
    }

    #[test]
    fn a_damaged_chunk_costs_that_chunk_and_a_bad_table_is_an_error() {
        let data = text(200_000);
        let mut fork = zlib_fork(&data);
        // Damage the second chunk's stored bytes.
        let t = 0x104 + 4;
        let o = u32::from_le_bytes(fork[t + 8..t + 12].try_into().unwrap()) as usize + 0x104;
        for b in &mut fork[o + 10..o + 40] {
            *b ^= 0x5A;
        }
        let s = stream(4, &data, fork);
        let mut all = vec![0u8; data.len()];
        let g = s.read_at(0, &mut all);
        assert!(
            !g.is_empty() && g.iter().all(|x| x.0 >= CHUNK && x.0 + x.1 <= 2 * CHUNK),
            "{g:?}"
        );
        assert_eq!(&all[..CHUNK as usize], &data[..CHUNK as usize]);
        assert_eq!(&all[2 * CHUNK as usize..], &data[2 * CHUNK as usize..]);
        // A chunk count past the fork.
        let mut fork = zlib_fork(&data);
        fork[0x104..0x108].copy_from_slice(&u32::MAX.to_le_bytes());
        let len = fork.len() as u64;
        let h = Header {
            kind: 4,
            method: Method::Zlib,
            in_fork: true,
            size: 200_000,
        };
        let runs = vec![Run {
            file_offset: 0,
            len,
            data: RunData::Image(0),
        }];
        assert!(ForkStream::new(Arc::new(MemSource(fork)), &h, runs, len).is_err());
    }

    /// Gaps as `read_at` must give them: in order, apart, inside the read.
    fn well_formed(g: &[(u64, u64, Why)], off: u64, len: u64) -> bool {
        g.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0)
            && g.iter()
                .all(|x| x.1 > 0 && x.0 >= off && x.0 + x.1 <= off + len)
    }

    #[test]
    fn mutated_forks_and_attributes_never_panic_or_read_without_bound() {
        let data = text(200_000);
        let (mut r, cases) = dredge_testkit::mutation_setup(0x6465_636D_7066_7321);
        let bases = [(4u32, zlib_fork(&data)), (8, lzvn_fork(&data))];
        let mut decoded_less = 0;
        for case in 0..cases {
            let (kind, base) = &bases[case % 2];
            let mut fork = base.clone();
            let mut size = data.len() as u64;
            for _ in 0..1 + r.below(4) {
                // Mostly the headers and tables, sometimes anywhere.
                let span = if r.below(4) == 0 {
                    fork.len() - 4
                } else {
                    0x200
                };
                let i = r.below(span as u64) as usize & !3;
                match r.below(4) {
                    0 => fork[i] = r.next() as u8,
                    1 => fork[i..i + 4].copy_from_slice(&(r.next() as u32).to_le_bytes()),
                    2 => fork[i..i + 4].copy_from_slice(&(r.next() as u32).to_be_bytes()),
                    _ => size = r.next() >> r.below(64),
                }
            }
            let mut attr = b"fpmc".to_vec();
            attr.extend_from_slice(&kind.to_le_bytes());
            attr.extend_from_slice(&size.to_le_bytes());
            let len = fork.len() as u64;
            let runs = vec![Run {
                file_offset: 0,
                len,
                data: RunData::Image(0),
            }];
            let src: Arc<dyn ImageSource> = Arc::new(MemSource(fork));
            let Ok((n, runs)) = crate::content(&attr, || Some((src, runs, len))) else {
                decoded_less += 1;
                continue;
            };
            assert_eq!(n, size);
            let RunData::Decoded(d) = &runs[0].data else {
                panic!("a fork stream expected")
            };
            // The read is the test's: a claimed size does not size it.
            let want = size.min(300_000);
            let mut buf = vec![0u8; want as usize];
            let g = d.0.read_at(0, &mut buf);
            assert!(well_formed(&g, 0, want), "{g:?}");
            if !g.is_empty() || buf != data[..want as usize] {
                decoded_less += 1;
            }
        }
        assert!(decoded_less > 0 && decoded_less < cases, "{decoded_less}");
    }
}
