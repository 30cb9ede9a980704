//! Bytes read from the evidence, counted where they are read (issue 18): a
//! scan's summary and custody record say how many passes over the evidence it
//! cost, measured, not estimated.

use crate::source::{ImageSource, ReadReport, SourceError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An image source that counts every byte asked of it (zero-filled ones too: a
/// read of a bad sector still costs a read). Clones share the count.
#[derive(Clone)]
pub struct Counted {
    inner: Arc<dyn ImageSource>,
    bytes: Arc<AtomicU64>,
    reads: Arc<AtomicU64>,
}

impl Counted {
    pub fn new(inner: Arc<dyn ImageSource>) -> Self {
        Counted {
            inner,
            bytes: Arc::new(AtomicU64::new(0)),
            reads: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes read through this source (and its clones) so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Read requests made so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

impl ImageSource for Counted {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let r = self.inner.read_at(offset, buf)?;
        self.bytes.fetch_add(r.len as u64, Ordering::Relaxed);
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(r)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Zeros(u64);
    impl ImageSource for Zeros {
        fn size(&self) -> u64 {
            self.0
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
            buf.fill(0);
            let inside = self.0.saturating_sub(offset).min(buf.len() as u64) as usize;
            Ok(ReadReport::clean(inside))
        }
        fn describe(&self) -> String {
            "zeros".into()
        }
    }

    #[test]
    fn clones_share_one_count_of_bytes_inside_the_source() {
        let c = Counted::new(Arc::new(Zeros(1000)));
        let d = c.clone();
        let mut b = [0u8; 600];
        c.read_at(0, &mut b).unwrap();
        d.read_at(700, &mut b).unwrap();
        // 600, then 300 inside and 300 past the end (not read from anything).
        assert_eq!(c.bytes(), 900);
        assert_eq!(d.reads(), 2);
    }
}
