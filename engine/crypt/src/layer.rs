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
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, Why};
use std::sync::Arc;

/// One unlocked stretch of the image.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Image offsets of the encrypted data, a whole number of sectors.
    pub extent: Extent,
    /// Bytes per encryption sector (512 or 4096).
    pub sector: u64,
    /// The IV of the first sector, and bytes per IV step (512 for LUKS1 and
    /// dm-crypt's default, the sector size for LUKS2).
    pub iv_first: u64,
    pub iv_unit: u64,
    pub cipher: Arc<SectorCipher>,
}

impl Layer {
    /// Decrypts `buf`, which holds whole sectors starting at image offset `at`.
    fn decrypt(&self, at: u64, buf: &mut [u8]) {
        let s = self.sector as usize;
        for (i, sec) in buf.chunks_exact_mut(s).enumerate() {
            let rel = at - self.extent.start + (i * s) as u64;
            self.cipher
                .decrypt_sector(self.iv_first + rel / self.iv_unit, sec);
        }
    }

    /// Decrypts `bytes`, the ciphertext of `whole` (whole sectors) read with
    /// `rep`; the sectors `rep` says were not read become zeros, and are
    /// returned with their reasons.
    fn open(&self, whole: Extent, bytes: &mut [u8], rep: &ReadReport) -> Vec<(Extent, Why)> {
        self.decrypt(whole.start, bytes);
        let bad: Vec<(Extent, Why)> = rep
            .synthesized
            .iter()
            .filter_map(|r| r.extent.intersect(&whole).map(|x| (self.widen(x), r.why)))
            .collect();
        for (e, _) in &bad {
            let o = (e.start - whole.start) as usize;
            bytes[o..o + e.len as usize].fill(0);
        }
        bad
    }

    /// `e` widened to whole sectors of this layer, within it.
    fn widen(&self, e: Extent) -> Extent {
        let (s, base) = (self.sector, self.extent.start);
        let start = base + (e.start.max(base) - base) / s * s;
        let end = base + (e.end().min(self.extent.end()) - base).div_ceil(s) * s;
        Extent::from_bounds(start, end.min(self.extent.end()))
    }
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
            let Some(part) = l.extent.intersect(&here) else {
                continue;
            };
            let whole = l.widen(part);
            // The ciphertext of `whole`: in place when the buffer holds it all.
            let bad = if whole == part {
                let o = (part.start - at) as usize;
                l.open(whole, &mut buf[o..o + part.len as usize], report)
            } else {
                let mut tmp = vec![0u8; whole.len as usize];
                let raw = self.inner.read_at(whole.start, &mut tmp)?;
                let bad = l.open(whole, &mut tmp, &raw);
                let (o, d) = (
                    (part.start - whole.start) as usize,
                    (part.start - at) as usize,
                );
                buf[d..d + part.len as usize].copy_from_slice(&tmp[o..o + part.len as usize]);
                bad
            };
            // Inside the layer, only the widened ranges stand.
            ranges.retain(|(e, _)| !e.overlaps(&part));
            ranges.extend(
                bad.into_iter()
                    .filter_map(|(e, w)| e.intersect(&part).map(|x| (x, w))),
            );
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
