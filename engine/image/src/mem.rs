//! In-memory devices for tests: a byte vector whose chosen ranges fail like bad
//! sectors, and which can be made to vanish after a number of reads.

use dredge_core::{BlockDevice, DeviceError, Extent, ExtentSet, SourceError, SourceErrorKind};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct MemDevice {
    data: Vec<u8>,
    bad: ExtentSet,
    sector_size: u32,
    name: String,
    reads: AtomicU64,
    vanish_after: Option<u64>,
}

impl MemDevice {
    pub fn new(data: Vec<u8>) -> Self {
        MemDevice {
            data,
            bad: ExtentSet::new(),
            sector_size: 512,
            name: "mem".to_string(),
            reads: AtomicU64::new(0),
            vanish_after: None,
        }
    }

    /// Every read touching `e` fails with a media error.
    pub fn with_bad(mut self, e: Extent) -> Self {
        self.bad.insert(e);
        self
    }

    pub fn with_sector_size(mut self, s: u32) -> Self {
        self.sector_size = s;
        self
    }

    pub fn with_name(mut self, n: &str) -> Self {
        self.name = n.to_string();
        self
    }

    /// After `n` successful or failed reads, every read reports the device gone.
    pub fn vanishing_after(mut self, n: u64) -> Self {
        self.vanish_after = Some(n);
        self
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

impl BlockDevice for MemDevice {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let n = self.reads.fetch_add(1, Ordering::Relaxed);
        if self.vanish_after.is_some_and(|v| n >= v) {
            return Err(DeviceError::Fatal(SourceError::new(
                &self.name,
                offset,
                SourceErrorKind::Gone,
                "device vanished",
            )));
        }
        let e = Extent::new(offset, buf.len() as u64);
        if e.end() > self.size() {
            return Err(DeviceError::Fatal(SourceError::new(
                &self.name,
                offset,
                SourceErrorKind::Shrunk,
                "read past end of device",
            )));
        }
        if self.bad.covered(&e) > 0 {
            return Err(DeviceError::Media);
        }
        let start = offset as usize;
        buf.copy_from_slice(&self.data[start..start + buf.len()]);
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
