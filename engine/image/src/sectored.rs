//! Turns a [`BlockDevice`] whose reads can fail into an [`ImageSource`] whose reads
//! always return bytes: a failed read is split in halves on sector boundaries until
//! only the failing sectors remain; those are zero-filled and reported.

use dredge_core::{BlockDevice, DeviceError, Extent, ImageSource, ReadReport, SourceError, Why};

pub struct Sectored<D> {
    dev: D,
}

impl<D: BlockDevice> Sectored<D> {
    pub fn new(dev: D) -> Self {
        Sectored { dev }
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    /// Reads `buf` at `offset` (inside the device), narrowing failures to sectors.
    fn read_narrowing(
        &self,
        offset: u64,
        buf: &mut [u8],
        report: &mut ReadReport,
    ) -> Result<(), SourceError> {
        match self.dev.read_exact_at(offset, buf) {
            Ok(()) => Ok(()),
            Err(DeviceError::Fatal(e)) => Err(e),
            Err(DeviceError::Media) => {
                let ss = u64::from(self.dev.sector_size().max(1));
                let first_sector = offset / ss;
                let last_sector = (offset + buf.len() as u64 - 1) / ss;
                if first_sector == last_sector {
                    buf.fill(0);
                    report.push(Extent::new(offset, buf.len() as u64), Why::Unreadable);
                    return Ok(());
                }
                // Split at the sector boundary nearest the middle.
                let mid_sector = first_sector + (last_sector - first_sector).div_ceil(2);
                let split = (mid_sector * ss - offset) as usize;
                let (a, b) = buf.split_at_mut(split);
                self.read_narrowing(offset, a, report)?;
                self.read_narrowing(offset + split as u64, b, report)
            }
        }
    }
}

impl<D: BlockDevice> ImageSource for Sectored<D> {
    fn size(&self) -> u64 {
        self.dev.size()
    }

    fn sector_size(&self) -> u32 {
        self.dev.sector_size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let size = self.dev.size();
        let inside = if offset >= size {
            0
        } else {
            (size - offset).min(buf.len() as u64) as usize
        };
        let mut report = ReadReport::clean(inside);
        if inside > 0 {
            self.read_narrowing(offset, &mut buf[..inside], &mut report)?;
        }
        report.past_end(offset, buf, inside);
        Ok(report)
    }

    fn describe(&self) -> String {
        self.dev.describe()
    }
}
