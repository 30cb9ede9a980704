//! EnCase / libewf evidence files (E01, E02, …): segment files of sections (header,
//! volume, sectors, table, hash, digest, error2, done), chunks of 64 sectors stored
//! zlib-compressed or raw with an Adler-32. A chunk that fails its checksum or does
//! not decompress is a media problem: its bytes read as zeros and are reported
//! (`ewf-bad-chunk`), and so are the sectors the acquisition itself could not read
//! (`error2`). A missing segment is named. Layout from libewf's documentation of the
//! format (Joachim Metz, "Expert Witness Compression Format").

use crate::file::{FileDevice, OpenError};
use dredge_core::bytes::{le32, le64};
use dredge_core::checksum::adler32;
use dredge_core::{BlockDevice, DeviceError, Extent, ImageSource, ReadReport, SourceError, Why};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Decoded = Arc<Result<Vec<u8>, ()>>;

const SIGNATURE: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
/// Chunks larger than this are damage (EnCase uses 32 KiB; libewf allows more).
const MAX_CHUNK: u64 = 64 << 20;
const CACHE_CHUNKS: usize = 16;

pub fn is_ewf(path: &Path) -> bool {
    let mut b = [0u8; 8];
    crate::file::open_read_only(path)
        .ok()
        .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, 0).ok())
        .is_some()
        && &b == SIGNATURE
}

/// Segment names after `x.E01`: E02…E99, then EAA…EZZ, FAA…, (and e01 in lower case).
fn segment_name(first: &Path, n: u32) -> Option<PathBuf> {
    let name = first.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let lower = ext.chars().next()?.is_ascii_lowercase();
    let first_letter = ext.chars().next()?.to_ascii_uppercase();
    let e = if n <= 99 {
        format!("{first_letter}{n:02}")
    } else {
        let k = n - 100;
        let l1 = char::from(b'A' + (k / 26 / 26) as u8 + (first_letter as u8 - b'E'));
        let l2 = char::from(b'A' + ((k / 26) % 26) as u8);
        let l3 = char::from(b'A' + (k % 26) as u8);
        if l1 > 'Z' {
            return None;
        }
        format!("{}{l2}{l3}", if k < 26 * 26 { first_letter } else { l1 })
    };
    let e = if lower { e.to_lowercase() } else { e };
    Some(first.with_file_name(format!("{stem}.{e}")))
}

#[derive(Clone, Debug)]
struct Chunk {
    segment: usize,
    offset: u64,
    size: u64,
    compressed: bool,
}

/// What the evidence file says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EwfMeta {
    pub stored_md5: Option<String>,
    pub stored_sha1: Option<String>,
    /// Case fields from the header section(s): key → value (case_number, examiner…).
    pub header: Vec<(String, String)>,
    /// Sectors the acquisition could not read: (first sector, count).
    pub acquisition_errors: Vec<(u64, u64)>,
    pub bytes_per_sector: u32,
    pub sectors_per_chunk: u32,
    pub segments: Vec<PathBuf>,
    /// Damage found while opening (bad section checksums, missing segments).
    pub problems: Vec<String>,
}

pub struct EwfSource {
    segments: Vec<Option<FileDevice>>,
    name: String,
    chunks: Vec<Chunk>,
    chunk_size: u64,
    size: u64,
    errors: Vec<Extent>,
    meta: EwfMeta,
    /// The most recently decoded chunks (a damaged one is remembered as `Err`).
    cache: Mutex<Vec<(usize, Decoded)>>,
}

fn read_at(dev: &FileDevice, off: u64, len: usize) -> Option<Vec<u8>> {
    if off.checked_add(len as u64)? > dev.size() {
        return None;
    }
    let mut b = vec![0u8; len];
    match dev.read_exact_at(off, &mut b) {
        Ok(()) => Some(b),
        Err(DeviceError::Media) | Err(DeviceError::Fatal(_)) => None,
    }
}

fn inflate(data: &[u8], limit: usize) -> Option<Vec<u8>> {
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, limit).ok()
}

/// Parses the text of a header/header2 section into (key, value) pairs.
fn parse_header_text(t: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = t.lines().map(|l| l.trim_end_matches('\r')).collect();
    let Some(i) = lines.iter().position(|l| *l == "main") else {
        return Vec::new();
    };
    let (Some(keys), Some(vals)) = (lines.get(i + 1), lines.get(i + 2)) else {
        return Vec::new();
    };
    let name = |k: &str| match k {
        "c" => "case_number",
        "n" => "evidence_number",
        "a" => "description",
        "e" => "examiner",
        "t" => "notes",
        "m" => "acquisition_date",
        "u" => "system_date",
        "av" => "software_version",
        "ov" => "operating_system",
        "md" => "model",
        "sn" => "serial_number",
        _ => "",
    };
    keys.split('\t')
        .zip(vals.split('\t'))
        .filter(|(k, _)| !name(k).is_empty())
        .map(|(k, v)| {
            // header2 stores dates as seconds since the epoch; show them in UTC.
            let v = match (k, v.parse::<i64>()) {
                ("m" | "u", Ok(secs)) if secs > 0 => dredge_core::time::format_utc(secs, 0),
                _ => v.to_string(),
            };
            (name(k).to_string(), v)
        })
        .collect()
}

impl EwfSource {
    pub fn open(first: &Path) -> Result<EwfSource, OpenError> {
        let mut segs: Vec<Option<FileDevice>> = Vec::new();
        let mut paths = Vec::new();
        let mut meta = EwfMeta::default();
        let mut chunks: Vec<Chunk> = Vec::new();
        let (mut chunk_count, mut spc, mut bps, mut sectors) = (0u64, 0u64, 0u64, 0u64);
        let mut header_found = false;
        let mut done = false;
        let mut n = 1u32;
        while !done {
            let path = if n == 1 {
                first.to_path_buf()
            } else {
                match segment_name(first, n) {
                    Some(p) => p,
                    None => break,
                }
            };
            if !path.exists() {
                meta.problems.push(format!(
                    "segment {} is missing; the image ends early",
                    path.display()
                ));
                break;
            }
            let dev = FileDevice::open(&path)?;
            let head = read_at(&dev, 0, 13)
                .ok_or_else(|| OpenError::new(&path, "too short for an EWF segment"))?;
            if &head[..8] != SIGNATURE {
                return Err(OpenError::new(
                    &path,
                    "not an EWF (E01) segment: signature missing at byte offset 0",
                ));
            }
            let seg_no = u16::from_le_bytes([head[9], head[10]]);
            if u32::from(seg_no) != n {
                meta.problems.push(format!(
                    "{}: says it is segment {seg_no}, expected {n}",
                    path.display()
                ));
            }
            let si = segs.len();
            let mut off = 13u64;
            let mut last_sectors: Option<(u64, u64)> = None;
            let mut guard = 0;
            loop {
                guard += 1;
                if guard > 1 << 20 {
                    meta.problems
                        .push(format!("{}: too many sections", path.display()));
                    break;
                }
                let Some(d) = read_at(&dev, off, 76) else {
                    meta.problems.push(format!(
                        "{}: section descriptor at byte offset {off} is unreadable or cut off",
                        path.display()
                    ));
                    done = true;
                    break;
                };
                if adler32(&d[..72]) as u64 != le32(&d, 72) {
                    meta.problems.push(format!(
                        "{}: section descriptor at byte offset {off} fails its checksum",
                        path.display()
                    ));
                }
                let ty: String = d[..16]
                    .iter()
                    .take_while(|&&c| c != 0)
                    .map(|&c| char::from(c))
                    .collect();
                let next = le64(&d, 16);
                let size = le64(&d, 24);
                let body = off + 76;
                let body_len = size.saturating_sub(76);
                match ty.as_str() {
                    "header" | "header2" if !header_found => {
                        if let Some(raw) = read_at(&dev, body, body_len.min(1 << 20) as usize) {
                            if let Some(t) = inflate(&raw, 1 << 20) {
                                let text = if ty == "header2" {
                                    let u: Vec<u16> = t
                                        .chunks_exact(2)
                                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                                        .collect();
                                    String::from_utf16_lossy(&u)
                                        .trim_start_matches('\u{feff}')
                                        .to_string()
                                } else {
                                    String::from_utf8_lossy(&t).to_string()
                                };
                                meta.header = parse_header_text(&text);
                                header_found = !meta.header.is_empty();
                            }
                        }
                    }
                    "volume" | "disk" | "data" if chunk_count == 0 => {
                        if let Some(v) = read_at(&dev, body, 24) {
                            chunk_count = le32(&v, 4);
                            spc = le32(&v, 8);
                            bps = le32(&v, 12);
                            sectors = le64(&v, 16);
                        }
                    }
                    "sectors" => last_sectors = Some((body, body_len)),
                    "table" => {
                        if let Some(h) = read_at(&dev, body, 24) {
                            let count = le32::<u64>(&h, 0);
                            let base = le64(&h, 8);
                            // Tables are bounded by the media they describe: a crafted
                            // file repeating tables must not grow the list without end.
                            let needed = match sectors.saturating_mul(bps) {
                                0 => 1 << 24,
                                media => media.div_ceil(spc.saturating_mul(bps).max(1)),
                            };
                            // A count is evidence too: the entries read are those the
                            // section holds (24-byte header, 4 bytes each, a 4-byte
                            // checksum after them) and the media still needs, so a
                            // crafted count neither allocates without end nor costs
                            // the honest entries.
                            let fits = body_len.saturating_sub(28) / 4;
                            // (with slack: a damaged sector count must not cost chunks
                            // the file stores; the stored bytes are read, finding 7)
                            let remaining = needed
                                .saturating_add(1 << 16)
                                .saturating_sub(chunks.len() as u64);
                            let take = count.min(fits).min(remaining);
                            if take < count {
                                meta.problems.push(format!(
                                    "{}: table at byte offset {off} claims {count} entries; the section holds {fits}, at most {remaining} more fit the media: {take} read",
                                    path.display()
                                ));
                            }
                            let count = take;
                            if count == 0 {
                                // Nothing to add: a repeated table past the media's end.
                            } else if let Some(t) = read_at(&dev, body + 24, (count * 4) as usize) {
                                // Sizes and bases are evidence: sums saturate (an offset
                                // past the file reads as a bad chunk, never wraps).
                                let end = last_sectors
                                    .map_or(off, |(s, l)| s.saturating_add(l))
                                    .min(off);
                                let offs: Vec<(u64, bool)> = (0..count as usize)
                                    .map(|i| {
                                        let v = le32::<u64>(&t, i * 4);
                                        (base.saturating_add(v & 0x7FFF_FFFF), v & 0x8000_0000 != 0)
                                    })
                                    .collect();
                                for (i, &(o, c)) in offs.iter().enumerate() {
                                    let stop = offs.get(i + 1).map_or(end, |x| x.0);
                                    chunks.push(Chunk {
                                        segment: si,
                                        offset: o,
                                        size: stop.saturating_sub(o),
                                        compressed: c,
                                    });
                                }
                            }
                        }
                    }
                    "hash" => {
                        if let Some(h) = read_at(&dev, body, 16) {
                            meta.stored_md5 = Some(hex(&h));
                        }
                    }
                    "digest" => {
                        if let Some(h) = read_at(&dev, body, 36) {
                            meta.stored_md5.get_or_insert(hex(&h[..16]));
                            if h[16..36].iter().any(|&b| b != 0) {
                                meta.stored_sha1 = Some(hex(&h[16..36]));
                            }
                        }
                    }
                    "error2" => {
                        if let Some(h) = read_at(&dev, body, 4) {
                            let count = le32::<u64>(&h, 0).min(1 << 20);
                            if let Some(e) = read_at(&dev, body + 520, (count * 8) as usize) {
                                for i in 0..count as usize {
                                    meta.acquisition_errors
                                        .push((le32(&e, i * 8), le32(&e, i * 8 + 4)));
                                }
                            }
                        }
                    }
                    "done" => {
                        done = true;
                        break;
                    }
                    "next" => break,
                    _ => {}
                }
                if next <= off || next >= dev.size() {
                    if ty != "done" && ty != "next" {
                        meta.problems.push(format!(
                            "{}: section chain breaks after '{ty}' at byte offset {off}",
                            path.display()
                        ));
                    }
                    break;
                }
                off = next;
            }
            paths.push(path);
            segs.push(Some(dev));
            n += 1;
            if n > 14_000 {
                break;
            }
        }
        if bps == 0 || spc == 0 || !bps.is_power_of_two() || spc * bps > MAX_CHUNK {
            return Err(OpenError::new(first, format!("EWF volume section missing or invalid (sectors per chunk {spc}, bytes per sector {bps})")));
        }
        let chunk_size = spc * bps;
        let size = if sectors > 0 {
            sectors.checked_mul(bps)
        } else {
            chunk_count.checked_mul(chunk_size)
        };
        // 2^56 bytes is beyond any medium; more is a damaged volume section.
        let Some(size) = size.filter(|&s| s <= 1 << 56) else {
            return Err(OpenError::new(first, format!("EWF volume section gives an impossible media size ({sectors} sectors of {bps} bytes)")));
        };
        if (chunks.len() as u64) < size.div_ceil(chunk_size) {
            meta.problems.push(format!(
                "tables describe {} chunks but the media needs {}; the rest reads as missing",
                chunks.len(),
                size.div_ceil(chunk_size)
            ));
        }
        let errors = meta
            .acquisition_errors
            .iter()
            .map(|&(s, c)| Extent::new(s.saturating_mul(bps), c.saturating_mul(bps)))
            .collect();
        meta.bytes_per_sector = bps as u32;
        meta.sectors_per_chunk = spc as u32;
        meta.segments = paths;
        let mut src = EwfSource {
            segments: segs,
            name: first.display().to_string(),
            chunks,
            chunk_size,
            size,
            errors,
            meta,
            cache: Mutex::new(Vec::new()),
        };
        src.take_stored_tail();
        Ok(src)
    }

    /// Media that is not a whole number of sectors: the volume section counts
    /// whole sectors, but the last chunk holds the last partial sector too, and
    /// the stored hashes cover it. The stored bytes are the evidence, so they are
    /// returned, and the difference is recorded. Only a tail shorter than one sector
    /// is taken: a final chunk padded to full size is padding, not media.
    fn take_stored_tail(&mut self) {
        let last = self.size.div_ceil(self.chunk_size);
        if last == 0 || self.chunks.len() as u64 != last {
            return;
        }
        let base = (last - 1) * self.chunk_size;
        let held = match &*self.chunk((last - 1) as usize) {
            Ok(d) => d.len() as u64,
            Err(()) => return,
        };
        let stored = base + held.min(self.chunk_size);
        let bps = u64::from(self.meta.bytes_per_sector);
        if stored > self.size && stored - self.size < bps {
            self.meta.problems.push(format!(
                "the volume section counts {} sectors ({} bytes) but the last chunk holds {} bytes more; the stored {} bytes are read (the stored hashes cover them)",
                self.size / bps,
                self.size,
                stored - self.size,
                stored
            ));
            self.size = stored;
            // Cached chunks were cut to the old size.
            self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    pub fn meta(&self) -> &EwfMeta {
        &self.meta
    }

    /// The decoded bytes of chunk `i`, or `Err` if it is damaged or missing.
    fn chunk(&self, i: usize) -> Decoded {
        {
            let c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, d)) = c.iter().find(|(k, _)| *k == i) {
                return Arc::clone(d);
            }
        }
        let want = (self.size - i as u64 * self.chunk_size).min(self.chunk_size) as usize;
        let r = (|| {
            let c = self.chunks.get(i).ok_or(())?;
            let dev = self
                .segments
                .get(c.segment)
                .and_then(Option::as_ref)
                .ok_or(())?;
            if c.size > MAX_CHUNK + 4 {
                return Err(());
            }
            let raw = read_at(dev, c.offset, c.size as usize).ok_or(())?;
            if c.compressed {
                let d = inflate(&raw, self.chunk_size as usize).ok_or(())?;
                if d.len() < want {
                    return Err(());
                }
                Ok(d)
            } else {
                // Raw chunk data followed by its Adler-32.
                if raw.len() < want + 4 {
                    return Err(());
                }
                let n = raw.len() - 4;
                if adler32(&raw[..n]) as u64 != le32(&raw, n) {
                    return Err(());
                }
                Ok(raw[..n].to_vec())
            }
        })();
        let r = Arc::new(r);
        let mut c = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() >= CACHE_CHUNKS {
            c.remove(0);
        }
        c.push((i, Arc::clone(&r)));
        r
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl ImageSource for EwfSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn sector_size(&self) -> u32 {
        self.meta.bytes_per_sector
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let inside = self.size.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut rep = ReadReport::clean(inside);
        let mut done = 0usize;
        while done < inside {
            let pos = offset + done as u64;
            let ci = (pos / self.chunk_size) as usize;
            let within = (pos % self.chunk_size) as usize;
            let n = (self.chunk_size as usize - within).min(inside - done);
            let dst = &mut buf[done..done + n];
            match &*self.chunk(ci) {
                Ok(data) if data.len() >= within + n => {
                    dst.copy_from_slice(&data[within..within + n])
                }
                _ => {
                    dst.fill(0);
                    let why = match self.chunks.get(ci) {
                        Some(c) if self.segments.get(c.segment).is_some_and(Option::is_some) => {
                            Why::BadChunk
                        }
                        _ => Why::MissingSegment,
                    };
                    rep.push(Extent::new(pos, n as u64), why);
                }
            }
            done += n;
        }
        rep.past_end(offset, buf, inside);
        // Sectors the acquisition could not read hold filler, whatever the chunk says.
        if !self.errors.is_empty() {
            let read = Extent::new(offset, inside as u64);
            let mut extra: Vec<Extent> = self
                .errors
                .iter()
                .filter_map(|e| e.intersect(&read))
                .collect();
            if !extra.is_empty() {
                extra.sort();
                let mut merged = ReadReport::clean(inside);
                let mut all: Vec<(Extent, Why)> =
                    rep.synthesized.iter().map(|s| (s.extent, s.why)).collect();
                for x in extra.drain(..) {
                    let lo = (x.start - offset) as usize;
                    buf[lo..lo + x.len as usize].fill(0);
                    all.push((x, Why::AcquisitionError));
                }
                all.sort_by_key(|(e, _)| e.start);
                for (e, w) in all {
                    merged.push(e, w);
                }
                rep = merged;
            }
        }
        Ok(rep)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_follow_libewf() {
        let f = Path::new("/x/disk.E01");
        assert_eq!(segment_name(f, 2).unwrap(), Path::new("/x/disk.E02"));
        assert_eq!(segment_name(f, 99).unwrap(), Path::new("/x/disk.E99"));
        assert_eq!(segment_name(f, 100).unwrap(), Path::new("/x/disk.EAA"));
        assert_eq!(segment_name(f, 101).unwrap(), Path::new("/x/disk.EAB"));
        assert_eq!(
            segment_name(Path::new("d.e01"), 3).unwrap(),
            Path::new("d.e03")
        );
    }

    #[test]
    fn header_text() {
        let t = "1\nmain\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\ncase\tev\tdesc\texam\tnotes\t1\tLinux\t2021 7 22\t2021 7 22\t0\n\n";
        let h = parse_header_text(t);
        assert!(h.contains(&("examiner".into(), "exam".into())));
        assert!(h.contains(&("case_number".into(), "case".into())));
    }
}
