//! Writing EWF (E01) in the EnCase 6 layout libewf documents: each segment file is
//! `header` (first only), `volume` (first) or `data` (later ones), then `sectors` +
//! `table` + `table2` groups, and `next`, or in the last segment `error2`, `digest`,
//! `hash`, `done`. Chunks are zlib-compressed when that makes them smaller, else stored
//! raw with their Adler-32, as EnCase does.

use dredge_core::checksum::adler32;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const SIGNATURE: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
/// Entries per table (EnCase's limit).
const TABLE_MAX: usize = 16_375;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Fast,
    Best,
}

impl dredge_core::Word for Compression {
    const ALL: &'static [Self] = &[Compression::Fast, Compression::Best, Compression::None];
    const WORDS: &'static [&'static str] = &["fast", "best", "none"];
}

impl Compression {
    fn level(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Fast => 1,
            Compression::Best => 9,
        }
    }

    fn code(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Fast => 1,
            Compression::Best => 2,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct EwfHeader {
    pub case_number: String,
    pub evidence_number: String,
    pub description: String,
    pub examiner: String,
    pub notes: String,
    /// Seconds since the epoch.
    pub acquired: i64,
}

pub struct EwfWriter {
    first: PathBuf,
    segment_size: u64,
    compression: Compression,
    header: EwfHeader,
    bytes_per_sector: u32,
    sectors_per_chunk: u32,
    media_size: u64,
    segment: u16,
    file: Option<File>,
    /// Offset of the open `sectors` section's descriptor and its chunk offsets.
    sectors_at: u64,
    entries: Vec<u32>,
    written: Vec<PathBuf>,
}

fn descriptor(ty: &str, at: u64, next: u64, size: u64) -> [u8; 76] {
    let mut d = [0u8; 76];
    d[..ty.len()].copy_from_slice(ty.as_bytes());
    d[16..24].copy_from_slice(&next.to_le_bytes());
    d[24..32].copy_from_slice(&size.to_le_bytes());
    let c = adler32(&d[..72]);
    d[72..76].copy_from_slice(&c.to_le_bytes());
    let _ = at;
    d
}

/// Segment file names: .E01 … .E99, then .EAA, .EAB, …
fn segment_path(first: &Path, n: u16) -> PathBuf {
    let stem = first.with_extension("");
    let ext = if n <= 99 {
        format!("E{n:02}")
    } else {
        let k = u32::from(n) - 100;
        format!(
            "E{}{}",
            char::from(b'A' + (k / 26 % 26) as u8),
            char::from(b'A' + (k % 26) as u8)
        )
    };
    stem.with_extension(ext)
}

fn date_fields(secs: i64) -> String {
    // "YYYY M D h m s", as the EnCase header writes dates.
    let t = dredge_core::time::format_utc(secs, 0);
    let n = |a: usize, b: usize| t[a..b].trim_start_matches('0').to_string();
    let z = |s: String| if s.is_empty() { "0".to_string() } else { s };
    format!(
        "{} {} {} {} {} {}",
        &t[0..4],
        z(n(5, 7)),
        z(n(8, 10)),
        z(n(11, 13)),
        z(n(14, 16)),
        z(n(17, 19))
    )
}

impl EwfWriter {
    /// `first` must end in `.E01`. `segment_size` bounds each segment file.
    pub fn create(
        first: &Path,
        media_size: u64,
        segment_size: u64,
        compression: Compression,
        header: EwfHeader,
    ) -> io::Result<EwfWriter> {
        let mut w = EwfWriter {
            first: first.to_path_buf(),
            segment_size: segment_size.clamp(1 << 20, (1 << 31) - (64 << 20)),
            compression,
            header,
            bytes_per_sector: 512,
            sectors_per_chunk: 64,
            media_size,
            segment: 0,
            file: None,
            sectors_at: 0,
            entries: Vec::new(),
            written: Vec::new(),
        };
        w.open_segment()?;
        Ok(w)
    }

    pub fn chunk_size(&self) -> usize {
        (self.bytes_per_sector * self.sectors_per_chunk) as usize
    }

    fn f(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("EWF writer already finished"))
    }

    fn pos(&mut self) -> io::Result<u64> {
        self.f()?.stream_position()
    }

    fn volume_body(&self) -> Vec<u8> {
        let mut v = vec![0u8; 1052];
        let chunks = self
            .media_size
            .div_ceil(u64::from(self.bytes_per_sector * self.sectors_per_chunk));
        v[0] = 0x01; // fixed disk
        v[4..8].copy_from_slice(&(chunks as u32).to_le_bytes());
        v[8..12].copy_from_slice(&self.sectors_per_chunk.to_le_bytes());
        v[12..16].copy_from_slice(&self.bytes_per_sector.to_le_bytes());
        v[16..24].copy_from_slice(
            &self
                .media_size
                .div_ceil(u64::from(self.bytes_per_sector))
                .to_le_bytes(),
        );
        v[36] = 0x01; // an image file
        v[52] = self.compression.code();
        v[56..60].copy_from_slice(&self.sectors_per_chunk.to_le_bytes()); // error granularity
        let c = adler32(&v[..1048]);
        v[1048..1052].copy_from_slice(&c.to_le_bytes());
        v
    }

    fn section(&mut self, ty: &str, body: &[u8]) -> io::Result<()> {
        let at = self.pos()?;
        let size = 76 + body.len() as u64;
        let d = descriptor(ty, at, at + size, size);
        let f = self.f()?;
        f.write_all(&d)?;
        f.write_all(body)
    }

    fn open_segment(&mut self) -> io::Result<()> {
        self.segment += 1;
        let path = segment_path(&self.first, self.segment);
        let mut f = File::create(&path)?;
        let mut head = SIGNATURE.to_vec();
        head.push(1);
        head.extend_from_slice(&self.segment.to_le_bytes());
        head.extend_from_slice(&[0, 0]);
        f.write_all(&head)?;
        self.file = Some(f);
        self.written.push(path);
        if self.segment == 1 {
            let h = &self.header;
            let d = date_fields(h.acquired);
            let text = format!(
                "1\nmain\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\n{}\t{}\t{}\t{}\t{}\tdredge {}\tLinux\t{d}\t{d}\t0\n\n",
                h.case_number, h.evidence_number, h.description, h.examiner, h.notes, dredge_core::TOOL_VERSION
            );
            // EnCase 6 writes two UTF-16 header2 sections before the ASCII header.
            let h2 = format!(
                "3\nmain\na\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc\n{}\t{}\t{}\t{}\t{}\t\t\tdredge {}\tLinux\t{}\t{}\t0\t\n\nsrce\n0\t1\np\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq\n0\t0\n\t\t\t\t\t-1\t-1\t\t\t\n\nsub\n0\t1\np\tn\tid\tnu\tco\tgu\n0\t0\n\t\t\t\t1\t\n\n",
                h.description, h.case_number, h.evidence_number, h.examiner, h.notes, dredge_core::TOOL_VERSION, h.acquired, h.acquired
            );
            let mut utf16 = vec![0xFF, 0xFE];
            for u in h2.encode_utf16() {
                utf16.extend_from_slice(&u.to_le_bytes());
            }
            let z2 = miniz_oxide::deflate::compress_to_vec_zlib(&utf16, 9);
            self.section("header2", &z2)?;
            self.section("header2", &z2)?;
            let text = text.replace('\n', "\r\n");
            let z = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 9);
            self.section("header", &z)?;
            let v = self.volume_body();
            self.section("volume", &v)?;
        } else {
            let v = self.volume_body();
            self.section("data", &v)?;
        }
        self.begin_sectors()
    }

    fn begin_sectors(&mut self) -> io::Result<()> {
        self.sectors_at = self.pos()?;
        self.entries.clear();
        // Placeholder descriptor; rewritten with the real size when the group closes.
        let d = [0u8; 76];
        self.f()?.write_all(&d)
    }

    /// Ends the open sectors section with its table and table2.
    fn end_sectors(&mut self) -> io::Result<()> {
        let end = self.pos()?;
        let at = self.sectors_at;
        let d = descriptor("sectors", at, end, end - at);
        let f = self.f()?;
        f.seek(SeekFrom::Start(at))?;
        f.write_all(&d)?;
        f.seek(SeekFrom::Start(end))?;
        let mut t = Vec::with_capacity(28 + self.entries.len() * 4);
        t.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        t.extend_from_slice(&[0u8; 4]);
        // EnCase 6: entries are relative to the sectors section's start.
        t.extend_from_slice(&self.sectors_at.to_le_bytes());
        t.extend_from_slice(&[0u8; 4]);
        let c = adler32(&t[..20]);
        t.extend_from_slice(&c.to_le_bytes());
        let mut e = Vec::with_capacity(self.entries.len() * 4);
        for x in &self.entries {
            e.extend_from_slice(&x.to_le_bytes());
        }
        t.extend_from_slice(&e);
        t.extend_from_slice(&adler32(&e).to_le_bytes());
        self.section("table", &t)?;
        self.section("table2", &t)
    }

    /// Appends the next chunk (the last one may be short). EWF stores whole sectors:
    /// a trailing partial sector is zero-padded, as the media size (in sectors) says.
    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let bps = self.bytes_per_sector as usize;
        let padded;
        let data = if !data.len().is_multiple_of(bps) {
            let mut v = data.to_vec();
            v.resize(data.len().div_ceil(bps) * bps, 0);
            padded = v;
            &padded[..]
        } else {
            data
        };
        let stored: Vec<u8>;
        let compressed = if self.compression != Compression::None {
            let z = miniz_oxide::deflate::compress_to_vec_zlib(data, self.compression.level());
            if z.len() < data.len() {
                stored = z;
                true
            } else {
                stored = Vec::new();
                false
            }
        } else {
            stored = Vec::new();
            false
        };
        let len = if compressed {
            stored.len()
        } else {
            data.len() + 4
        } as u64;
        // Close the segment before it would outgrow its size (keeping room for the
        // tables and closing sections).
        let reserve = 4096 + 4 * (self.entries.len() as u64 + 1) * 2 + 2 * 76;
        if self.pos()? + len + reserve > self.segment_size && !self.entries.is_empty() {
            self.end_sectors()?;
            let at = self.pos()?;
            let d = descriptor("next", at, at, 0);
            self.f()?.write_all(&d)?;
            self.file = None;
            self.open_segment()?;
        } else if self.entries.len() >= TABLE_MAX {
            self.end_sectors()?;
            self.begin_sectors()?;
        }
        let at = self.pos()? - self.sectors_at;
        if at > 0x7FFF_FFFF {
            return Err(io::Error::other("EWF chunk offset exceeds 31 bits"));
        }
        self.entries
            .push(at as u32 | if compressed { 0x8000_0000 } else { 0 });
        let f = self.f()?;
        if compressed {
            f.write_all(&stored)
        } else {
            f.write_all(data)?;
            f.write_all(&adler32(data).to_le_bytes())
        }
    }

    /// Writes the closing sections: unreadable sectors, hashes, done. Returns the
    /// segment files written.
    pub fn finish(
        mut self,
        md5: &[u8; 16],
        sha1: &[u8; 20],
        bad_sectors: &[(u64, u64)],
    ) -> io::Result<Vec<PathBuf>> {
        self.end_sectors()?;
        if !bad_sectors.is_empty() {
            let mut b = Vec::new();
            b.extend_from_slice(&(bad_sectors.len() as u32).to_le_bytes());
            b.extend_from_slice(&[0u8; 512]);
            let c = adler32(&b);
            b.extend_from_slice(&c.to_le_bytes());
            let mut e = Vec::new();
            for &(s, n) in bad_sectors {
                e.extend_from_slice(&(s.min(u64::from(u32::MAX)) as u32).to_le_bytes());
                e.extend_from_slice(&(n.min(u64::from(u32::MAX)) as u32).to_le_bytes());
            }
            b.extend_from_slice(&e);
            b.extend_from_slice(&adler32(&e).to_le_bytes());
            self.section("error2", &b)?;
        }
        let mut dg = Vec::with_capacity(80);
        dg.extend_from_slice(md5);
        dg.extend_from_slice(sha1);
        dg.extend_from_slice(&[0u8; 40]);
        let c = adler32(&dg);
        dg.extend_from_slice(&c.to_le_bytes());
        self.section("digest", &dg)?;
        let mut h = Vec::with_capacity(36);
        h.extend_from_slice(md5);
        h.extend_from_slice(&[0u8; 16]);
        let c = adler32(&h);
        h.extend_from_slice(&c.to_le_bytes());
        self.section("hash", &h)?;
        let at = self.pos()?;
        let d = descriptor("done", at, at, 0);
        let f = self.f()?;
        f.write_all(&d)?;
        f.sync_all()?;
        self.file = None;
        Ok(std::mem::take(&mut self.written))
    }
}
