//! The reading phases, in GNU ddrescue's order: copy passes over what was
//! not tried (the first skipping ahead past errors), trimming the edges of
//! each failed block, scraping what trimming left sector by sector, and
//! retry passes over bad sectors.

use crate::{AcquireError, Job, Phase, Read};
use dredge_core::Extent;
use dredge_image::MapStatus;

impl Job<'_> {
    /// Copy pass over non-tried areas. Returns true if interrupted.
    pub(crate) fn copy_pass(&mut self, pass: u32, skipping: bool) -> Result<bool, AcquireError> {
        self.set_phase(Phase::Copying, pass);
        let cluster = self.opts.cluster.max(self.dev.sector_size() as usize) as u64;
        for area in self.map.extents_with(MapStatus::NonTried) {
            let mut pos = area.start;
            let mut skip = self.opts.initial_skip;
            while pos < area.end() {
                if self.interrupted() {
                    return Ok(true);
                }
                self.pos = pos;
                // Keep reads cluster-aligned so errors land on the same boundaries
                // whatever the starting point (as after a resume).
                let aligned_end = (pos / cluster + 1) * cluster;
                let len = (aligned_end.min(area.end()) - pos) as usize;
                match self.read(pos, len)? {
                    Read::Ok(data) => {
                        self.rescued(pos, data)?;
                        skip = self.opts.initial_skip;
                        pos += len as u64;
                    }
                    failed => {
                        self.failed(Extent::new(pos, len as u64), failed, MapStatus::NonTrimmed)?;
                        pos += len as u64;
                        if skipping {
                            // Skip ahead, aligned, leaving the skipped part for pass 2.
                            pos = ((pos + skip).div_ceil(cluster) * cluster).min(area.end());
                            skip = (skip * 2).min(self.opts.max_skip.max(cluster));
                        }
                        self.tick()?;
                    }
                }
            }
        }
        self.phase_save()?;
        Ok(false)
    }

    pub(crate) fn sector(&self) -> u64 {
        u64::from(self.dev.sector_size().max(1))
    }

    /// The sector-aligned piece of `area` that starts at `pos` (clipped to the area).
    fn sector_at(&self, pos: u64, area: &Extent) -> Extent {
        let ss = self.sector();
        Extent::from_bounds(pos, ((pos / ss + 1) * ss).min(area.end()))
    }

    /// Reads one sector-sized piece and records the outcome; true if it was good.
    fn read_piece(&mut self, piece: Extent, bad: MapStatus) -> Result<bool, AcquireError> {
        self.pos = piece.start;
        match self.read(piece.start, piece.len as usize)? {
            Read::Ok(d) => {
                self.rescued(piece.start, d)?;
                Ok(true)
            }
            failed => {
                self.failed(piece, failed, bad)?;
                self.tick()?;
                Ok(false)
            }
        }
    }

    /// A read of `piece` that failed (`Read::Part` with the good sectors
    /// before the failure, or `Read::Bad`): those sectors are stored, the
    /// rest of the piece marked `status`.
    fn failed(&mut self, piece: Extent, read: Read, status: MapStatus) -> Result<(), AcquireError> {
        let mut good = 0;
        if let Read::Part(d) = read {
            good = d.len() as u64;
            self.rescued(piece.start, d)?;
        }
        self.map
            .set(Extent::from_bounds(piece.start + good, piece.end()), status);
        Ok(())
    }

    pub(crate) fn trim(&mut self) -> Result<bool, AcquireError> {
        self.set_phase(Phase::Trimming, 1);
        let ss = self.sector();
        for area in self.map.extents_with(MapStatus::NonTrimmed) {
            // Leading edge, forwards.
            let mut lo = area.start;
            while lo < area.end() {
                if self.interrupted() {
                    return Ok(true);
                }
                let piece = self.sector_at(lo, &area);
                lo = piece.end();
                if !self.read_piece(piece, MapStatus::BadSector)? {
                    break;
                }
            }
            // Trailing edge, backwards.
            let mut hi = area.end();
            while hi > lo {
                if self.interrupted() {
                    return Ok(true);
                }
                let start = if hi % ss == 0 { hi - ss } else { hi - hi % ss }.max(lo);
                let piece = Extent::from_bounds(start, hi);
                hi = start;
                if !self.read_piece(piece, MapStatus::BadSector)? {
                    break;
                }
            }
            if hi > lo {
                self.map
                    .set(Extent::from_bounds(lo, hi), MapStatus::NonScraped);
            }
        }
        self.phase_save()?;
        Ok(false)
    }

    fn sector_by_sector(&mut self, from: MapStatus) -> Result<bool, AcquireError> {
        for area in self.map.extents_with(from) {
            let mut pos = area.start;
            while pos < area.end() {
                if self.interrupted() {
                    return Ok(true);
                }
                let piece = self.sector_at(pos, &area);
                pos = piece.end();
                self.read_piece(piece, MapStatus::BadSector)?;
            }
        }
        self.phase_save()?;
        Ok(false)
    }

    pub(crate) fn scrape(&mut self) -> Result<bool, AcquireError> {
        self.set_phase(Phase::Scraping, 1);
        self.sector_by_sector(MapStatus::NonScraped)
    }

    pub(crate) fn retry(&mut self) -> Result<bool, AcquireError> {
        for pass in 1..=self.opts.retries {
            self.set_phase(Phase::Retrying, pass);
            if self.sector_by_sector(MapStatus::BadSector)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
