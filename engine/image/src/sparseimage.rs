//! Apple sparse images (`.sparseimage`, `hdiutil create -type SPARSE`, also
//! FileVault 1 home folders before they are encrypted) as evidence (issue
//! 15). One file, big-endian: a 4096-byte header node ("sprs", version 3,
//! sectors per band, the disk's size in sectors, the offset of the next index
//! node) whose band table (1008 entries from byte 64) lists the disk's bands
//! in the order they were first written, each band's bytes following the node
//! in that order; further 4096-byte index nodes ("sprs", their number, the
//! next node's offset, 1010 entries from byte 56) each with their bands after
//! them. An entry holds a disk band's number plus one; 0 ends the node's list.
//! A disk band no entry lists was never written: zeros, as the format
//! defines. Layout: libyal's libmodi documentation (the header node), and
//! Simon Gander's fsdump (the index node chain).
//!
//! What is damaged costs what it covers, never the image: a band whose bytes
//! the file does not hold (a truncated file) reads as unreadable; when the
//! node chain breaks (a node past the file's end, one without its signature,
//! one pointing back), the bands the rest of the chain would have listed are
//! not known, so every band no entry lists reads as unreadable rather than as
//! zeros it may not be. An entry that names a band past the disk, or a band
//! already listed, makes the image refuse to open, naming its byte offset: the
//! table contradicts itself, and no reading of it is right.

use crate::file::{describe_io, open_read_only, OpenError};
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, Why};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const NODE: u64 = 4096;
/// Band table entries of the header node and of an index node.
const HEADER_BANDS: usize = 1008;
const INDEX_BANDS: usize = 1010;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    (u64::from(be32(b, at)) << 32) | u64::from(be32(b, at + 4))
}

/// Whether `path` is a file that begins with a sparse image's header node.
pub fn is_sparseimage(path: &Path) -> bool {
    let Ok(f) = open_read_only(path) else {
        return false;
    };
    let mut h = [0u8; 8];
    f.read_exact_at(&mut h, 0).is_ok() && &h[..4] == b"sprs" && be32(&h, 4) == 3
}

pub struct SparseImageSource {
    file: File,
    file_len: u64,
    band_size: u64,
    size: u64,
    /// (disk band, file offset of its bytes), sorted by disk band.
    bands: Vec<(u64, u64)>,
    /// The node chain broke at this file offset: bands no entry lists are
    /// not known to be unwritten.
    broken_at: Option<u64>,
    nodes: usize,
}

impl SparseImageSource {
    pub fn open(path: &Path) -> Result<SparseImageSource, OpenError> {
        let err = |what: String| OpenError::new(path, what);
        let file = open_read_only(path)?;
        let file_len = file.metadata().map_err(|e| err(describe_io(&e)))?.len();
        let mut h = vec![0u8; NODE as usize];
        file.read_exact_at(&mut h, 0)
            .map_err(|e| err(format!("header node at byte offset 0: {}", describe_io(&e))))?;
        if &h[..4] != b"sprs" || be32(&h, 4) != 3 {
            return Err(err(format!(
                "byte offset 0: expected a sparse image header (\"sprs\", version 3), found {:02x?}",
                &h[..8]
            )));
        }
        let per_band = u64::from(be32(&h, 8));
        if !(8..=1 << 21).contains(&per_band) {
            return Err(err(format!(
                "byte offset 8: {per_band} sectors per band, expected 8 to 2 097 152 (4 KiB to 1 GiB)"
            )));
        }
        let band_size = per_band * 512;
        let (low, wide) = (u64::from(be32(&h, 16)), be64(&h, 28));
        if wide != 0 && low != 0 && wide & 0xFFFF_FFFF != low {
            return Err(err(format!(
                "byte offset 16: the disk's size is {low} sectors there and {wide} at byte offset 28"
            )));
        }
        let sectors = if wide != 0 { wide } else { low };
        if sectors == 0 || sectors > 1 << 47 {
            return Err(err(format!(
                "byte offset 28: the disk is {sectors} sectors, expected 1 to 2^47 (64 PiB)"
            )));
        }
        let size = sectors * 512;
        let disk_bands = size.div_ceil(band_size);
        let mut bands: Vec<(u64, u64)> = Vec::new();
        let mut broken_at = None;
        let mut nodes = 1usize;
        // (node offset, table start, entries, next node offset)
        let mut node = (0u64, 64usize, HEADER_BANDS, be64(&h, 20));
        let mut buf = h;
        loop {
            let (at, table, entries, next) = node;
            let mut data = at + NODE;
            for i in 0..entries {
                let v = u64::from(be32(&buf, table + 4 * i));
                if v == 0 {
                    break;
                }
                let entry_at = at + (table + 4 * i) as u64;
                if v > disk_bands {
                    return Err(err(format!(
                        "byte offset {entry_at}: band table entry {v} names a band past the disk's {disk_bands}"
                    )));
                }
                bands.push((v - 1, data));
                data += band_size;
            }
            if next == 0 {
                break;
            }
            // Each node lies after the last one's bands; the chain cannot
            // loop or grow past the file.
            let fits = next >= data && next.checked_add(NODE).is_some_and(|e| e <= file_len);
            let read = fits && file.read_exact_at(&mut buf, next).is_ok();
            if !read || &buf[..4] != b"sprs" {
                broken_at = Some(next);
                break;
            }
            nodes += 1;
            node = (next, 56, INDEX_BANDS, be64(&buf, 12));
        }
        bands.sort_unstable();
        if let Some(w) = bands.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(err(format!(
                "band {} is listed twice (its bytes at byte offsets {} and {})",
                w[0].0, w[0].1, w[1].1
            )));
        }
        Ok(SparseImageSource {
            file,
            file_len,
            band_size,
            size,
            bands,
            broken_at,
            nodes,
        })
    }

    pub fn band_size(&self) -> u64 {
        self.band_size
    }

    /// Where the node chain broke, if it did (the file offset it pointed to).
    pub fn broken_at(&self) -> Option<u64> {
        self.broken_at
    }

    /// The file offset of disk band `b`'s bytes, if an entry lists it.
    fn band(&self, b: u64) -> Option<u64> {
        self.bands
            .binary_search_by_key(&b, |x| x.0)
            .ok()
            .map(|i| self.bands[i].1)
    }
}

impl ImageSource for SparseImageSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let inside = if offset >= self.size {
            0
        } else {
            (self.size - offset).min(buf.len() as u64) as usize
        };
        let mut rep = ReadReport::clean(inside);
        let mut done = 0usize;
        while done < inside {
            let pos = offset + done as u64;
            let within = pos % self.band_size;
            let n = ((self.band_size - within) as usize).min(inside - done);
            let out = &mut buf[done..done + n];
            out.fill(0);
            match self.band(pos / self.band_size) {
                // Never written, unless the chain that would say otherwise
                // is broken.
                None => {
                    if self.broken_at.is_some() {
                        rep.push(Extent::new(pos, n as u64), Why::Unreadable);
                    }
                }
                Some(at) => {
                    let from = at + within;
                    let mut got = 0usize;
                    while got < n {
                        match self.file.read_at(&mut out[got..], from + got as u64) {
                            Ok(0) => break,
                            Ok(k) => got += k,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => break,
                        }
                    }
                    // A band the file does not hold whole (a truncated file,
                    // a read error) is unreadable from where it stops.
                    if got < n {
                        out[got..].fill(0);
                        rep.push(
                            Extent::new(pos + got as u64, (n - got) as u64),
                            Why::Unreadable,
                        );
                    }
                }
            }
            done += n;
        }
        rep.past_end(offset, buf, inside);
        Ok(rep)
    }

    fn describe(&self) -> String {
        let broken = match self.broken_at {
            Some(at) => format!(
                "; its index node chain breaks at byte offset {at} (of {}), so the bands no node lists are unreadable",
                self.file_len
            ),
            None => String::new(),
        };
        format!(
            "Apple sparse image ({} bytes in bands of {}, {} written, {} index node(s)){broken}",
            self.size,
            self.band_size,
            self.bands.len(),
            self.nodes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse image of 4 KiB bands: `stored` (disk band, fill byte) in
    /// the order written, the header's table holding `in_header` of them and
    /// one index node the rest; the disk `bands` long.
    fn made(bands: u64, stored: &[(u32, u8)], in_header: usize) -> Vec<u8> {
        let mut head = vec![0u8; 4096];
        head[..4].copy_from_slice(b"sprs");
        head[4..8].copy_from_slice(&3u32.to_be_bytes());
        head[8..12].copy_from_slice(&8u32.to_be_bytes());
        head[16..20].copy_from_slice(&((bands * 8) as u32).to_be_bytes());
        head[28..36].copy_from_slice(&(bands * 8).to_be_bytes());
        let mut out = head;
        let mut node = 0usize;
        let mut table = 64usize;
        for (i, &(b, fill)) in stored.iter().enumerate() {
            if i == in_header {
                let at = out.len() as u64;
                out[20..28].copy_from_slice(&at.to_be_bytes());
                let mut n = vec![0u8; 4096];
                n[..4].copy_from_slice(b"sprs");
                node = out.len();
                table = 56;
                out.extend_from_slice(&n);
            }
            let k = if i < in_header { i } else { i - in_header };
            let e = node + table + 4 * k;
            out[e..e + 4].copy_from_slice(&(b + 1).to_be_bytes());
            out.extend(std::iter::repeat_n(fill, 4096));
        }
        out
    }

    fn source(bytes: &[u8]) -> Result<SparseImageSource, OpenError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sparseimage");
        std::fs::write(&p, bytes).unwrap();
        SparseImageSource::open(&p)
    }

    #[test]
    fn bands_map_through_both_nodes_and_unwritten_ones_are_zeros() {
        let img = made(6, &[(4, 0xA4), (0, 0xA0), (5, 0xA5), (2, 0xA2)], 2);
        let s = source(&img).unwrap();
        let mut buf = vec![0xFFu8; 6 * 4096];
        let rep = s.read_at(0, &mut buf).unwrap();
        assert_eq!(rep.synthesized_bytes(), 0);
        let firsts: Vec<u8> = buf.chunks(4096).map(|c| c[0]).collect();
        assert_eq!(firsts, [0xA0, 0, 0xA2, 0, 0xA4, 0xA5]);
        assert!(buf.chunks(4096).all(|c| c.iter().all(|&x| x == c[0])));
        // A band past the disk is refused, naming the entry's offset.
        let bad = made(3, &[(4, 1)], 1);
        let e = source(&bad).err().unwrap().to_string();
        assert!(
            e.contains("byte offset 64") && e.contains("past the disk"),
            "{e}"
        );
    }

    /// Damage to the header and index nodes never panics, hangs or
    /// allocates without bound: the image opens or is refused, and reads
    /// return bytes.
    #[test]
    fn mutated_nodes_never_panic() {
        let base = made(40, &[(7, 1), (3, 2), (39, 3), (0, 4), (21, 5)], 3);
        let (mut r, cases) = dredge_testkit::mutation_setup(0x5350_5253);
        let node2 = 4096 + 3 * 4096;
        for _ in 0..cases {
            let mut b = base.clone();
            for _ in 0..1 + r.below(4) {
                let at = if r.below(2) == 0 { 0 } else { node2 } + r.below(128) as usize;
                b[at] = r.next() as u8;
            }
            if let Ok(s) = source(&b) {
                let mut buf = vec![0u8; 1 << 16];
                let _ = s.read_at(0, &mut buf);
                let _ = s.read_at(s.size().saturating_sub(4096), &mut buf);
            }
        }
    }
}
