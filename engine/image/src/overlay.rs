//! A source read through a ddrescue mapfile: only bytes the map marks rescued (`+`)
//! are read from the underlying source; everything else is zero-filled and reported
//! with the map's status, so an imperfect rescue never passes for a complete one.

use crate::mapfile::{MapStatus, Mapfile};
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, Why};

pub struct MapOverlay<S> {
    inner: S,
    map: Mapfile,
}

impl<S: ImageSource> MapOverlay<S> {
    pub fn new(inner: S, map: Mapfile) -> Self {
        MapOverlay { inner, map }
    }

    pub fn map(&self) -> &Mapfile {
        &self.map
    }
}

impl<S: ImageSource> ImageSource for MapOverlay<S> {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let size = self.inner.size();
        let inside = size.saturating_sub(offset).min(buf.len() as u64) as usize;
        let mut report = ReadReport::clean(inside);
        for (run, status) in self.map.status_runs(Extent::new(offset, inside as u64)) {
            let lo = (run.start - offset) as usize;
            let hi = lo + run.len as usize;
            match status {
                Some(MapStatus::Finished) => {
                    let r = self.inner.read_at(run.start, &mut buf[lo..hi])?;
                    report.extend(&r);
                }
                other => {
                    buf[lo..hi].fill(0);
                    let why = other.and_then(MapStatus::why).unwrap_or(Why::NotInMap);
                    report.push(run, why);
                }
            }
        }
        report.past_end(offset, buf, inside);
        Ok(report)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
