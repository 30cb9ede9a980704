//! Apple disk images (UDIF `.dmg`) as evidence (issue 15): the `koly` trailer
//! in the file's last 512 bytes places the data fork and an XML property list
//! whose `blkx` entries are `mish` block tables. Each table covers a run of
//! 512-byte sectors with chunks: raw, zero-filled, free (read as zeros, not
//! checksummed), zlib, ADC, LZFSE (dredge-lzfse), bzip2 (bzip2-rs, safe
//! Rust), LZMA (an .xz stream, lzma-rs, safe Rust); a chunk whose method
//! dredge does not know or that does not decode reads as zeros reported as
//! `dmg-bad-chunk`, like any
//! unreadable range. Each table's CRC-32 (over its
//! decoded sectors, free chunks left out) and the trailer's master CRC-32
//! (over the tables' CRCs) are computed as the registration's pass reads the
//! image ([`Checks`]) and recorded with the evidence.

use dredge_core::plist_xml::{self, Val};
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, Why};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::dmg_codec::{adc, bzip2, xz};
use crate::OpenError;

/// The XML property list is at most this long (Apple's are a few KiB per
/// partition).
const MAX_XML: u64 = 64 << 20;
/// Chunks a DMG may have in all (a 2 TiB image of 1 MiB chunks is 2 million).
const MAX_CHUNKS: usize = 1 << 24;
/// A chunk decodes to at most this many bytes (hdiutil writes 1 MiB).
const MAX_CHUNK_OUT: u64 = 64 << 20;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

/// A chunk's decoded bytes, or `Err` when it does not decode.
type Decoded = Arc<Result<Vec<u8>, ()>>;

/// A table's name, its stored checksum (type, value), and what was computed.
pub type TableReport = (String, (u32, u32), Option<TableCheck>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Zero,
    Raw,
    Free,
    Adc,
    Zlib,
    Lzfse,
    Bzip2,
    Lzma,
    /// Unknown kinds: not decoded.
    Other(u32),
}

#[derive(Clone, Debug)]
struct Chunk {
    method: Method,
    /// Absolute sector and count.
    sector: u64,
    count: u64,
    /// Absolute file offset and length of the stored bytes.
    off: u64,
    len: u64,
}

/// One `mish` table: its sectors, its chunks (indices) and stored CRC-32.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub first: u64,
    pub count: u64,
    chunks: std::ops::Range<usize>,
    /// (checksum type, value): type 2 is CRC-32.
    pub checksum: (u32, u32),
}

#[derive(Clone, Debug)]
pub struct DmgMeta {
    pub sectors: u64,
    pub tables: Vec<Table>,
    /// The trailer's master checksum (type, value).
    pub master: (u32, u32),
    /// Chunk methods present that dredge does not decode, by name.
    pub undecoded: Vec<String>,
}

pub struct DmgSource {
    file: File,
    size: u64,
    chunks: Vec<Chunk>,
    meta: DmgMeta,
    /// The last chunk decoded (reads come in order).
    cache: Mutex<Option<(usize, Decoded)>>,
    checks: Arc<Checks>,
}

/// Whether the file ends in a UDIF trailer.
pub fn is_dmg(path: &Path) -> bool {
    let Ok(f) = crate::file::open_read_only(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut k = [0u8; 512];
    len >= 512 && f.read_exact_at(&mut k, len - 512).is_ok() && &k[..4] == b"koly"
}

fn method(kind: u32) -> Method {
    match kind {
        0 => Method::Zero,
        1 => Method::Raw,
        2 => Method::Free,
        0x8000_0004 => Method::Adc,
        0x8000_0005 => Method::Zlib,
        0x8000_0006 => Method::Bzip2,
        0x8000_0007 => Method::Lzfse,
        0x8000_0008 => Method::Lzma,
        k => Method::Other(k),
    }
}

fn method_name(k: u32) -> String {
    match k {
        0x8000_0006 => "bzip2".into(),
        0x8000_0007 => "LZFSE".into(),
        0x8000_0008 => "LZMA".into(),
        k => format!("0x{k:08x}"),
    }
}

impl DmgSource {
    pub fn open(path: &Path) -> Result<DmgSource, OpenError> {
        let err = |at: u64, what: String| {
            OpenError::new(path, format!("DMG at byte offset {at}: {what}"))
        };
        let file =
            crate::file::open_read_only(path).map_err(|e| OpenError::new(path, e.to_string()))?;
        let flen = file
            .metadata()
            .map_err(|e| OpenError::new(path, e.to_string()))?
            .len();
        let kat = flen.saturating_sub(512);
        let mut k = [0u8; 512];
        file.read_exact_at(&mut k, kat)
            .map_err(|e| err(kat, e.to_string()))?;
        if &k[..4] != b"koly" || be32(&k, 4) != 4 || be32(&k, 8) != 512 {
            return Err(err(
                kat,
                "no UDIF trailer (expected \"koly\", version 4, 512 bytes)".into(),
            ));
        }
        let data_fork = be64(&k, 24);
        let (xml_off, xml_len) = (be64(&k, 216), be64(&k, 224));
        if xml_len == 0 || xml_len > MAX_XML || xml_off.saturating_add(xml_len) > kat {
            return Err(err(
                kat + 216,
                format!("property list of {xml_len} bytes at {xml_off} does not fit the file"),
            ));
        }
        let mut xml = vec![0u8; xml_len as usize];
        file.read_exact_at(&mut xml, xml_off)
            .map_err(|e| err(xml_off, e.to_string()))?;
        let text = std::str::from_utf8(&xml).map_err(|e| {
            err(
                xml_off + e.valid_up_to() as u64,
                "property list is not UTF-8".into(),
            )
        })?;
        let plist = plist_xml::parse(text)
            .map_err(|e| err(xml_off, format!("property list does not parse: {e}")))?;
        let blkx = plist
            .get("resource-fork")
            .and_then(|r| r.get("blkx"))
            .map(Val::items)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| err(xml_off, "no resource-fork/blkx in the property list".into()))?;
        let mut chunks = Vec::new();
        let mut tables = Vec::new();
        let mut undecoded = Vec::new();
        for (ti, b) in blkx.iter().enumerate() {
            let name = b
                .get("Name")
                .or_else(|| b.get("CFName"))
                .and_then(Val::str)
                .unwrap_or("")
                .to_string();
            // Names are evidence: quoted escaped in messages, never raw.
            let shown = name.escape_debug().to_string();
            let Some(m) = b.get("Data").and_then(Val::data) else {
                return Err(err(xml_off, format!("blkx {ti} has no Data")));
            };
            if m.len() < 204 || &m[..4] != b"mish" {
                return Err(err(
                    xml_off,
                    format!("blkx {ti} ({shown}) is not a mish table"),
                ));
            }
            let (first, count, doff) = (be64(m, 8), be64(m, 16), be64(m, 24));
            let n = be32(m, 200) as usize;
            if m.len() < 204 + 40 * n || chunks.len() + n > MAX_CHUNKS {
                return Err(err(
                    xml_off,
                    format!("blkx {ti} ({shown}) lists {n} chunks in {} bytes", m.len()),
                ));
            }
            let start = chunks.len();
            for i in 0..n {
                let c = &m[204 + 40 * i..244 + 40 * i];
                let kind = be32(c, 0);
                if kind == 0xFFFF_FFFF || kind == 0x7FFF_FFFE {
                    continue;
                }
                let (s, sc) = (be64(c, 8), be64(c, 16));
                let (off, len) = (be64(c, 24), be64(c, 32));
                let sector = first
                    .checked_add(s)
                    .filter(|_| s.saturating_add(sc) <= count);
                let stored = data_fork
                    .checked_add(doff)
                    .and_then(|x| x.checked_add(off))
                    .filter(|x| x.saturating_add(len) <= kat);
                let (Some(sector), Some(off)) = (sector, stored) else {
                    return Err(err(
                        xml_off,
                        format!("blkx {ti} ({shown}) chunk {i} lies outside its table or the file"),
                    ));
                };
                if sc == 0 || sc.saturating_mul(512) > MAX_CHUNK_OUT {
                    return Err(err(
                        xml_off,
                        format!("blkx {ti} ({shown}) chunk {i} of {sc} sectors"),
                    ));
                }
                let mth = method(kind);
                if let Method::Other(k) = mth {
                    let nm = method_name(k);
                    if !undecoded.contains(&nm) {
                        undecoded.push(nm);
                    }
                }
                chunks.push(Chunk {
                    method: mth,
                    sector,
                    count: sc,
                    off,
                    len,
                });
            }
            tables.push(Table {
                name,
                first,
                count,
                chunks: start..chunks.len(),
                checksum: (be32(m, 64), be32(m, 72)),
            });
        }
        chunks.sort_by_key(|c| c.sector);
        if chunks
            .windows(2)
            .any(|w| w[0].sector + w[0].count > w[1].sector)
        {
            return Err(err(xml_off, "chunks overlap".into()));
        }
        // Tables name chunks by index before the sort: keep them by sector.
        for t in &mut tables {
            let lo = chunks.partition_point(|c| c.sector < t.first);
            let hi = chunks.partition_point(|c| c.sector < t.first + t.count);
            t.chunks = lo..hi;
        }
        // The disk is as long as the trailer says, but never longer than its
        // tables cover: a forged count would make the pass read zeros for ever.
        let covered = tables
            .iter()
            .map(|t| t.first.saturating_add(t.count))
            .max()
            .unwrap_or(0);
        let sectors = be64(&k, 492).min(covered);
        let meta = DmgMeta {
            sectors,
            tables,
            master: (be32(&k, 352), be32(&k, 360)),
            undecoded,
        };
        let state = meta
            .tables
            .iter()
            .map(|t| {
                let mut next = t.chunks.start;
                while next < t.chunks.end && chunks[next].method == Method::Free {
                    next += 1;
                }
                TableState {
                    next,
                    crc: !0,
                    result: (next == t.chunks.end).then_some(TableCheck::Computed(0)),
                }
            })
            .collect();
        Ok(DmgSource {
            file,
            size: sectors.saturating_mul(512),
            chunks,
            checks: Arc::new(Checks {
                meta: meta.clone(),
                state: Mutex::new(state),
            }),
            meta,
            cache: Mutex::new(None),
        })
    }

    pub fn meta(&self) -> &DmgMeta {
        &self.meta
    }

    /// Chunk `i` decoded, or `Err` when it cannot be.
    fn decode(&self, i: usize) -> Decoded {
        if let Ok(g) = self.cache.lock() {
            if let Some((j, d)) = &*g {
                if *j == i {
                    return Arc::clone(d);
                }
            }
        }
        let c = &self.chunks[i];
        let out = (c.count * 512) as usize;
        let stored = || -> Result<Vec<u8>, ()> {
            let mut b = vec![0u8; c.len.min(MAX_CHUNK_OUT) as usize];
            self.file.read_exact_at(&mut b, c.off).map_err(|_| ())?;
            Ok(b)
        };
        let d = match c.method {
            Method::Zero | Method::Free => Ok(vec![0u8; out]),
            Method::Raw => stored().map(|mut b| {
                b.resize(out, 0);
                b
            }),
            Method::Zlib => stored().and_then(|b| {
                miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&b, out)
                    .map_err(|_| ())
                    .and_then(|v| if v.len() == out { Ok(v) } else { Err(()) })
            }),
            Method::Adc => stored().and_then(|b| adc(&b, out)),
            Method::Bzip2 => stored().and_then(|b| bzip2(&b, out)),
            Method::Lzma => stored().and_then(|b| xz(&b, out)),
            Method::Lzfse => stored().and_then(|b| {
                let mut v = Vec::with_capacity(out);
                match dredge_lzfse::decode(&b, &mut v, out) {
                    Ok(()) if v.len() == out => Ok(v),
                    _ => Err(()),
                }
            }),
            Method::Other(_) => Err(()),
        };
        self.check(i, &d);
        let d = Arc::new(d);
        if let Ok(mut g) = self.cache.lock() {
            *g = Some((i, Arc::clone(&d)));
        }
        d
    }

    /// What the reads so far have checked of the stored CRC-32s: shared, so
    /// the caller reads it after the pass (the source is then behind an
    /// `Arc<dyn ImageSource>`).
    pub fn checks(&self) -> Arc<Checks> {
        Arc::clone(&self.checks)
    }

    /// Feeds decoded chunk `i` to its table's CRC-32 when it is the chunk
    /// the table expects next (the pass reads in order; a chunk read out of
    /// order leaves its table unchecked until it comes in turn).
    fn check(&self, i: usize, d: &Result<Vec<u8>, ()>) {
        let Some(t) = self.meta.tables.iter().position(|t| t.chunks.contains(&i)) else {
            return;
        };
        let Ok(mut g) = self.checks.state.lock() else {
            return;
        };
        let st = &mut g[t];
        if st.next != i || st.result.is_some() {
            return;
        }
        match d {
            Ok(d) => st.crc = dredge_core::checksum::crc32_update(st.crc, d),
            Err(()) => st.result = Some(TableCheck::Undecodable),
        }
        st.next += 1;
        // Free chunks are not summed.
        while st.next < self.meta.tables[t].chunks.end
            && self.chunks[st.next].method == Method::Free
        {
            st.next += 1;
        }
        if st.result.is_none() && st.next == self.meta.tables[t].chunks.end {
            st.result = Some(TableCheck::Computed(!st.crc));
        }
    }
}

/// A table's check: the CRC-32 its decoded sectors gave, or why none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableCheck {
    Computed(u32),
    Undecodable,
}

#[derive(Debug)]
struct TableState {
    next: usize,
    crc: u32,
    result: Option<TableCheck>,
}

/// The stored checksums and what reading the image computed of them.
#[derive(Debug)]
pub struct Checks {
    meta: DmgMeta,
    state: Mutex<Vec<TableState>>,
}

impl Checks {
    /// For each table: its name, stored (type, value), and the CRC-32
    /// computed (None: not all its chunks were read in order, or one did not
    /// decode); then the master check: "match", "MISMATCH", or why not
    /// checked.
    pub fn report(&self) -> (Vec<TableReport>, &'static str) {
        let st = match self.state.lock() {
            Ok(g) => g.iter().map(|s| s.result).collect::<Vec<_>>(),
            Err(_) => vec![None; self.meta.tables.len()],
        };
        let tables: Vec<_> = self
            .meta
            .tables
            .iter()
            .zip(&st)
            .map(|(t, r)| (t.name.clone(), t.checksum, *r))
            .collect();
        let master = if self.meta.master.0 != 2 {
            "not stored"
        } else {
            let sums: Vec<u8> = self
                .meta
                .tables
                .iter()
                .flat_map(|t| t.checksum.1.to_be_bytes())
                .collect();
            let tables_ok = tables.iter().all(|(_, (k, v), r)| match (k, r) {
                (2, Some(TableCheck::Computed(c))) => c == v,
                (2, _) => false,
                _ => true,
            });
            let all_read = tables
                .iter()
                .all(|(_, (k, _), r)| *k != 2 || matches!(r, Some(TableCheck::Computed(_))));
            if dredge_core::checksum::crc32(&sums) != self.meta.master.1 {
                "MISMATCH"
            } else if !all_read {
                "not checked (tables not read whole)"
            } else if tables_ok {
                "match"
            } else {
                "MISMATCH"
            }
        };
        (tables, master)
    }
}

impl ImageSource for DmgSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let inside = self.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut rep = ReadReport::clean(inside);
        let mut done = 0usize;
        while done < inside {
            let pos = offset + done as u64;
            let sector = pos / 512;
            let i = self
                .chunks
                .partition_point(|c| c.sector + c.count <= sector);
            let Some(c) = self.chunks.get(i).filter(|c| c.sector <= sector) else {
                // Sectors no table covers: until the next chunk, zeros.
                let next = self.chunks.get(i).map_or(self.size, |c| c.sector * 512);
                let n = (next.saturating_sub(pos) as usize).clamp(1, inside - done);
                buf[done..done + n].fill(0);
                rep.push(Extent::new(pos, n as u64), Why::DmgBadChunk);
                done += n;
                continue;
            };
            let within = (pos - c.sector * 512) as usize;
            let n = ((c.count * 512) as usize - within).min(inside - done);
            let dst = &mut buf[done..done + n];
            match &*self.decode(i) {
                Ok(d) if d.len() >= within + n => dst.copy_from_slice(&d[within..within + n]),
                _ => {
                    dst.fill(0);
                    rep.push(Extent::new(pos, n as u64), Why::DmgBadChunk);
                }
            }
            done += n;
        }
        rep.past_end(offset, buf, inside);
        Ok(rep)
    }

    fn describe(&self) -> String {
        format!("Apple disk image (UDIF, {} sectors)", self.meta.sectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Damage to the trailer, the property list and the compressed data never
    /// panics: the image opens or is refused with one line, and every read
    /// either returns bytes or reports what it made up.
    #[test]
    fn mutated_dmgs_never_panic() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testimages/external/dfvfs/hfsplus_zlib.dmg");
        let base = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (mut r, cases) = dredge_testkit::mutation_setup(0xD46);
        let (mut opened, mut refused) = (0, 0);
        for case in 0..cases / 8 {
            let mut b = base.clone();
            let n = b.len() as u64;
            for _ in 0..1 + r.below(4) {
                // The trailer, the XML, or anywhere.
                let at = match r.below(3) {
                    0 => n - 512 + r.below(512),
                    1 => 11_984 + r.below(7_560),
                    _ => r.below(n),
                } as usize;
                b[at] = r.next() as u8;
            }
            let p = dir.path().join(format!("m{case}.dmg"));
            std::fs::write(&p, &b).unwrap();
            match DmgSource::open(&p) {
                Ok(d) => {
                    opened += 1;
                    let mut buf = vec![0u8; 1 << 16];
                    let mut at = 0;
                    while at < d.size().min(64 << 20) {
                        let rep = d.read_at(at, &mut buf).unwrap();
                        assert!(rep.synthesized_bytes() <= buf.len() as u64);
                        at += buf.len() as u64;
                    }
                    let _ = d.checks().report();
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().contains('\n'));
                }
            }
            let _ = std::fs::remove_file(&p);
        }
        assert!(
            opened > 0 && refused > 0,
            "{opened} opened, {refused} refused"
        );
    }

    /// The dfvfs image rewritten with bzip2 or LZFSE chunks by
    /// testimages/dmg-recompress.py; None (the test says why) without
    /// python3 and its lzfse module, a failure under DREDGE_REQUIRE_TOOLS=1.
    fn recompressed(dir: &std::path::Path, method: &str) -> Option<(std::path::PathBuf, u64)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = dir.join(format!("{method}.dmg"));
        let ok = std::process::Command::new("python3")
            .arg(root.join("testimages/dmg-recompress.py"))
            .arg(root.join("testimages/external/dfvfs/hfsplus_zlib.dmg"))
            .arg(&out)
            .arg(method)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let why = format!("python3 could not make a {method} DMG");
            assert!(
                std::env::var("DREDGE_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "{why}"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        }
        let b = std::fs::read(&out).unwrap();
        let xml = u64::from_be_bytes(
            b[b.len() - 512 + 216..b.len() - 512 + 224]
                .try_into()
                .unwrap(),
        );
        Some((out, xml))
    }

    /// Damage to bzip2, LZFSE and LZMA chunks never panics or hangs: every
    /// read returns bytes, and the damage shows as made-up bytes in some.
    #[test]
    fn mutated_bzip2_lzfse_and_lzma_chunks_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        for method in ["bzip2", "lzfse", "lzma"] {
            let Some((path, fork_len)) = recompressed(dir.path(), method) else {
                continue;
            };
            let base = std::fs::read(&path).unwrap();
            let whole = {
                let d = DmgSource::open(&path).unwrap();
                let mut buf = vec![0u8; d.size() as usize];
                assert_eq!(d.read_at(0, &mut buf).unwrap().synthesized_bytes(), 0);
                buf
            };
            let (mut r, cases) = dredge_testkit::mutation_setup(0xB21F);
            let mut noticed = 0;
            for case in 0..cases / 8 {
                let mut b = base.clone();
                for _ in 0..1 + r.below(4) {
                    b[r.below(fork_len) as usize] = r.next() as u8;
                }
                let p = dir.path().join(format!("{method}{case}.dmg"));
                std::fs::write(&p, &b).unwrap();
                let d = DmgSource::open(&p).unwrap();
                let mut buf = vec![0u8; d.size() as usize];
                let rep = d.read_at(0, &mut buf).unwrap();
                if rep.synthesized_bytes() > 0 {
                    noticed += 1;
                } else if buf != whole {
                    // bzip2's block CRC, LZFSE's structure and .xz's
                    // checks catch most damage; what decodes anyway is
                    // counted, not hidden.
                    let (tables, _) = d.checks().report();
                    let caught = tables.iter().any(|(_, (_, want), got)| {
                        matches!(got, Some(TableCheck::Computed(c)) if c != want)
                    });
                    assert!(caught, "{method} case {case}: changed bytes, no mismatch");
                }
                let _ = std::fs::remove_file(&p);
            }
            assert!(noticed > 0, "{method}: no damage noticed");
        }
    }
}
