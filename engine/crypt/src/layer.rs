//! The plaintext of unlocked volumes, in the image's own coordinates. LUKS
//! (and BitLocker, VeraCrypt) encrypt sector by sector without changing
//! lengths, so plaintext byte `p` of a volume's data sits at the same image
//! offset as its ciphertext. A [`Layered`] source is the image with every
//! unlocked stretch decrypted: the filesystem readers, the pass and the
//! carvers read it as they read any image, and every offset they record is an
//! image offset. A ciphertext byte that could not be read makes its whole
//! plaintext sector unreadable (a sector decrypts as a whole or not at all),
//! with the same reason.

use crate::sector::SectorCipher;
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, SynthRange, Why};
use std::sync::Arc;

/// Where the plaintext of one stretch of a layer comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Ciphertext at image offset `at` (for the stretch's first byte), whose
    /// first sector has IV number `iv`, under the layer's key number `key`
    /// (0: `Layer::cipher`; more only where a LUKS2 reencryption was
    /// interrupted: the part done is under the new key, the rest under the
    /// old). LUKS keeps it in place (`at` is the stretch's own offset);
    /// BitLocker moves the first sectors of a volume elsewhere and encrypts
    /// them there, and a LUKS2 reencryption's journal holds a copy of the
    /// window it was rewriting.
    Cipher { at: u64, iv: u64, key: u8 },
    /// Zeros: the container's own metadata inside the volume (BitLocker's
    /// FVE metadata), which is no part of the plaintext. dm-crypt's BITLK
    /// mapping and dislocker show it so.
    Zero,
    /// Plaintext as stored: the part of a volume BitLocker has not yet
    /// encrypted (a conversion in progress or paused), and the sectors after
    /// the boot sector that Windows Vista's BitLocker leaves unencrypted.
    Clear,
    /// An NTFS boot sector as Windows Vista's BitLocker stores it, in the
    /// clear but marked: its OEM name is `-FVE-FS-` and its MFT mirror field
    /// (byte 56) names the FVE metadata's cluster instead. Both are put back
    /// (`NTFS    `, and `mft_mirror`, which the metadata keeps), as libbde
    /// and dislocker read it.
    VistaBoot { mft_mirror: u64 },
    /// Plaintext stored at image offset `at` (for the stretch's first
    /// byte): a LUKS2 encryption that moves the data (`datashift`) keeps the
    /// part not yet encrypted where it was, and the volume's first bytes at
    /// the device's end, while the plaintext volume starts after the header.
    PlainAt { at: u64 },
    /// Ciphertext held in memory, `Layer::held[slot]` from the stretch's
    /// first byte on, whose first sector has IV number `iv`, under key number
    /// `key`: the journal's copy of a LUKS2 reencryption's window when the
    /// header (and its journal) is a file apart from the image. Read and
    /// checked whole when the volume was opened.
    Held { slot: u8, iv: u64, key: u8 },
}

/// The two fields of a Vista BitLocker boot sector put back: (offset in the
/// sector, bytes).
fn vista_fields(mft_mirror: u64) -> [(u64, Vec<u8>); 2] {
    [
        (3, b"NTFS    ".to_vec()),
        (56, mft_mirror.to_le_bytes().to_vec()),
    ]
}

/// One stretch of a layer, in image offsets of the plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub plain: Extent,
    pub source: Source,
}

/// One unlocked stretch of the image.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Image offsets of the plaintext volume, a whole number of sectors.
    pub extent: Extent,
    /// Bytes per encryption sector (512 or 4096; a key may have its own:
    /// `SectorCipher::sector`).
    pub sector: u64,
    /// Bytes per IV step (512 for LUKS1 and dm-crypt's default, the sector
    /// size for BitLocker's large sectors).
    pub iv_unit: u64,
    pub cipher: Arc<SectorCipher>,
    /// Keys 1, 2, … of `Source::Cipher` (empty but for an interrupted LUKS2
    /// reencryption).
    pub more: Vec<Arc<SectorCipher>>,
    /// Sorted, covering `extent`, each a whole number of sectors.
    pub segments: Vec<Segment>,
    /// The bytes `Source::Held` segments name.
    pub held: Vec<Arc<[u8]>>,
}

impl Layer {
    /// A layer whose ciphertext is where its plaintext is (LUKS, VeraCrypt):
    /// the first sector's IV is `iv_first`.
    pub fn in_place(
        extent: Extent,
        sector: u64,
        iv_first: u64,
        iv_unit: u64,
        cipher: Arc<SectorCipher>,
    ) -> Layer {
        Layer {
            extent,
            sector,
            iv_unit,
            cipher,
            more: Vec::new(),
            segments: vec![Segment {
                plain: extent,
                source: Source::Cipher {
                    at: extent.start,
                    iv: iv_first,
                    key: 0,
                },
            }],
            held: Vec::new(),
        }
    }

    /// Key number `key`'s cipher (0: `cipher`, then `more`).
    fn key(&self, key: u8) -> Option<&Arc<SectorCipher>> {
        match key {
            0 => Some(&self.cipher),
            k => self.more.get(usize::from(k) - 1),
        }
    }

    /// Bytes per encryption sector of a segment: its key's own where a
    /// reencryption changes the sector size, else the layer's.
    fn sector_of(&self, seg: &Segment) -> u64 {
        match seg.source {
            Source::Cipher { key, .. } | Source::Held { key, .. } => self
                .key(key)
                .and_then(|c| c.sector())
                .unwrap_or(self.sector),
            _ => self.sector,
        }
    }

    /// Whether the segment's stored bytes for a plaintext range are the
    /// image's bytes at that same range (so a raw read there already holds
    /// them).
    fn stored_in_place(seg: &Segment) -> bool {
        match seg.source {
            Source::Cipher { at, .. } | Source::PlainAt { at } => at == seg.plain.start,
            Source::Clear | Source::VistaBoot { .. } => true,
            Source::Zero | Source::Held { .. } => false,
        }
    }

    /// The segment's plaintext for `want` (inside it, sector-aligned to it)
    /// into `out`. `preread`: `out` already holds the stored bytes, read with
    /// that report; otherwise they are read from `inner`. Returns the
    /// plaintext ranges that could not be made, with their reasons.
    fn segment(
        &self,
        seg: &Segment,
        want: Extent,
        out: &mut [u8],
        preread: Option<&ReadReport>,
        inner: &dyn ImageSource,
    ) -> Result<Vec<(Extent, Why)>, SourceError> {
        let stored = match seg.source {
            Source::Zero => {
                out.fill(0);
                return Ok(Vec::new());
            }
            Source::Held { slot, .. } => {
                // Held whole for the segment; anything short is zeros, as a
                // key number past the keys leaves bytes as they are.
                out.fill(0);
                let from = (want.start - seg.plain.start) as usize;
                if let Some(h) = self.held.get(usize::from(slot)).and_then(|h| h.get(from..)) {
                    let n = h.len().min(out.len());
                    out[..n].copy_from_slice(&h[..n]);
                }
                Extent::new(0, 0)
            }
            Source::Clear | Source::VistaBoot { .. } => want,
            Source::Cipher { at, .. } | Source::PlainAt { at } => {
                Extent::new(at + (want.start - seg.plain.start), want.len)
            }
        };
        // Unreadable stored bytes, in plaintext offsets.
        let bad = match preread {
            _ if matches!(seg.source, Source::Held { .. }) => Vec::new(),
            Some(rep) => moved(&rep.synthesized, want, want.start),
            None => {
                let rep = inner.read_at(stored.start, out)?;
                moved(&rep.synthesized, stored, want.start)
            }
        };
        if let Source::VistaBoot { mft_mirror } = seg.source {
            for (off, bytes) in vista_fields(mft_mirror) {
                let field = Extent::new(seg.plain.start + off, bytes.len() as u64);
                if let Some(x) = field.intersect(&want) {
                    let (o, f) = (
                        (x.start - want.start) as usize,
                        (x.start - field.start) as usize,
                    );
                    out[o..o + x.len as usize].copy_from_slice(&bytes[f..f + x.len as usize]);
                }
            }
        }
        let (Source::Cipher { iv, key, .. } | Source::Held { iv, key, .. }) = seg.source else {
            return Ok(bad);
        };
        // A key number past the layer's keys is a bug of the opener: the
        // bytes are left as stored rather than decrypted with another key.
        let s = self.sector_of(seg) as usize;
        if let Some(c) = self.key(key) {
            let first = want.start - seg.plain.start;
            let whole = out.len() / s * s;
            c.decrypt_sectors(
                s,
                |i| iv + (first + (i * s) as u64) / self.iv_unit,
                &mut out[..whole],
            );
        }
        // A sector decrypts whole or not at all.
        let bad: Vec<(Extent, Why)> = bad
            .into_iter()
            .map(|(e, w)| (widen(e, seg.plain.start, s as u64, want), w))
            .collect();
        for (e, _) in &bad {
            let o = (e.start - want.start) as usize;
            out[o..o + e.len as usize].fill(0);
        }
        Ok(bad)
    }
}

/// The parts of `ranges` (absolute image offsets) inside `from`, moved so
/// `from.start` lands on `to`.
fn moved(ranges: &[SynthRange], from: Extent, to: u64) -> Vec<(Extent, Why)> {
    ranges
        .iter()
        .filter_map(|r| {
            r.extent
                .intersect(&from)
                .map(|x| (Extent::new(x.start - from.start + to, x.len), r.why))
        })
        .collect()
}

/// `e` widened to whole sectors counted from `origin`, within `bound`.
fn widen(e: Extent, origin: u64, sector: u64, bound: Extent) -> Extent {
    let start = origin + (e.start.max(origin) - origin) / sector * sector;
    let end = origin + (e.end() - origin).div_ceil(sector) * sector;
    Extent::from_bounds(start.max(bound.start), end.min(bound.end()))
}

/// The image with its unlocked layers decrypted.
pub struct Layered {
    inner: Arc<dyn ImageSource>,
    layers: Vec<Layer>,
}

impl Layered {
    /// `layers` must not overlap (each is one volume's data).
    pub fn new(inner: Arc<dyn ImageSource>, mut layers: Vec<Layer>) -> Layered {
        layers.sort_by_key(|l| l.extent.start);
        // A read finds its segments by binary search (an APFS layer has one
        // per tree node and file extent: millions on a large volume).
        for l in &mut layers {
            l.segments.sort_by_key(|s| s.plain.start);
        }
        Layered { inner, layers }
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Whether any byte of `e` is ciphertext of an unlocked layer.
    pub fn overlaps(&self, e: Extent) -> bool {
        self.layers.iter().any(|l| l.extent.overlaps(&e))
    }

    /// Turns `buf`, read raw from image offset `at` with `report`, into
    /// plaintext, returning the report of the plaintext (unreadable ranges
    /// inside a layer widened to whole sectors). Sectors cut by the buffer's
    /// edges are read whole from the image to be decrypted.
    pub fn plain(
        &self,
        at: u64,
        buf: &mut [u8],
        report: &ReadReport,
    ) -> Result<ReadReport, SourceError> {
        let here = Extent::new(at, buf.len() as u64);
        let mut ranges: Vec<(Extent, Why)> = report
            .synthesized
            .iter()
            .map(|r| (r.extent, r.why))
            .collect();
        for l in &self.layers {
            let first = l.segments.partition_point(|s| s.plain.end() <= here.start);
            let touching = l.segments[first..]
                .iter()
                .take_while(|s| s.plain.start < here.end());
            for seg in touching {
                let Some(part) = seg.plain.intersect(&here) else {
                    continue;
                };
                let want = match seg.source {
                    Source::Cipher { .. } | Source::Held { .. } => {
                        widen(part, seg.plain.start, l.sector_of(seg), seg.plain)
                    }
                    _ => part,
                };
                let d = (part.start - at) as usize;
                let bad = if want == part {
                    let out = &mut buf[d..d + part.len as usize];
                    let pre = Layer::stored_in_place(seg).then_some(report);
                    l.segment(seg, want, out, pre, &*self.inner)?
                } else {
                    // Sectors cut by the buffer's edges: made whole aside.
                    let mut tmp = vec![0u8; want.len as usize];
                    let bad = l.segment(seg, want, &mut tmp, None, &*self.inner)?;
                    let o = (part.start - want.start) as usize;
                    buf[d..d + part.len as usize].copy_from_slice(&tmp[o..o + part.len as usize]);
                    bad
                };
                // Inside the segment, only its own ranges stand.
                ranges.retain(|(e, _)| !e.overlaps(&part));
                ranges.extend(
                    bad.into_iter()
                        .filter_map(|(e, w)| e.intersect(&part).map(|x| (x, w))),
                );
            }
        }
        // Ranges of the raw read that straddle a layer's edge keep their parts
        // outside it.
        for r in &report.synthesized {
            for l in &self.layers {
                if r.extent.overlaps(&l.extent) {
                    if r.extent.start < l.extent.start {
                        ranges.push((Extent::from_bounds(r.extent.start, l.extent.start), r.why));
                    }
                    if r.extent.end() > l.extent.end() {
                        ranges.push((Extent::from_bounds(l.extent.end(), r.extent.end()), r.why));
                    }
                }
            }
        }
        ranges.sort_by_key(|(e, _)| (e.start, e.len));
        let mut out = ReadReport::clean(report.len);
        let mut end = 0;
        for (e, w) in ranges {
            let start = e.start.max(end);
            if start < e.end() {
                out.push(Extent::from_bounds(start, e.end()), w);
                end = e.end();
            }
        }
        Ok(out)
    }
}

impl ImageSource for Layered {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let raw = self.inner.read_at(offset, buf)?;
        if !self.overlaps(Extent::new(offset, buf.len() as u64)) {
            return Ok(raw);
        }
        self.plain(offset, buf, &raw)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
