use crate::Extent;
use std::fmt;
use std::sync::Arc;

/// Why bytes of a read were synthesized instead of read from the medium.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Why {
    /// The medium returned a read error for this range now.
    Unreadable,
    /// The range lies past the end of the source.
    PastEnd,
    /// A ddrescue mapfile says the range was never tried (`?`).
    NotTried,
    /// A ddrescue mapfile says the range failed and was not trimmed (`*`).
    NotTrimmed,
    /// A ddrescue mapfile says the range failed and was not scraped (`/`).
    NotScraped,
    /// A ddrescue mapfile says the range is a bad sector (`-`).
    BadSector,
    /// A ddrescue mapfile does not describe the range at all.
    NotInMap,
    /// A file's metadata does not say where these bytes of it are.
    NotInLayout,
    /// An E01 chunk failed its checksum or could not be decompressed.
    BadChunk,
    /// The E01 acquisition could not read these sectors (its error2 list).
    AcquisitionError,
    /// The E01 segment holding these bytes is missing.
    MissingSegment,
    /// A file's stored bytes were read but could not be decoded (a damaged
    /// compression unit): what decoded before the damage is kept.
    Undecodable,
    /// `dredge acquire` could not read these bytes from the drive: the image
    /// holds zeros there (the mapfile's bad areas).
    AcquisitionUnreadable,
    /// An Apple disk image's chunk could not be decoded (damaged, or a
    /// method dredge does not read), or no block table covers the sectors.
    DmgBadChunk,
}

impl Why {
    /// Stable name used in the store, reports and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            Why::Unreadable => "unreadable",
            Why::PastEnd => "past-end",
            Why::NotTried => "map-non-tried",
            Why::NotTrimmed => "map-non-trimmed",
            Why::NotScraped => "map-non-scraped",
            Why::BadSector => "map-bad-sector",
            Why::NotInMap => "map-not-covered",
            Why::NotInLayout => "not-in-layout",
            Why::BadChunk => "ewf-bad-chunk",
            Why::AcquisitionError => "ewf-acquisition-error",
            Why::MissingSegment => "ewf-missing-segment",
            Why::Undecodable => "undecodable",
            Why::AcquisitionUnreadable => "acquisition-unreadable",
            Why::DmgBadChunk => "dmg-bad-chunk",
        }
    }

    /// The reason a stored word names; None for a word dredge never writes.
    pub fn parse(s: &str) -> Option<Why> {
        Why::ALL.into_iter().find(|w| w.as_str() == s)
    }

    pub const ALL: [Why; 14] = [
        Why::Unreadable,
        Why::PastEnd,
        Why::NotTried,
        Why::NotTrimmed,
        Why::NotScraped,
        Why::BadSector,
        Why::NotInMap,
        Why::NotInLayout,
        Why::BadChunk,
        Why::AcquisitionError,
        Why::MissingSegment,
        Why::Undecodable,
        Why::AcquisitionUnreadable,
        Why::DmgBadChunk,
    ];
}

/// Bytes of a file or of the evidence that are zeros not read from it: `len`
/// bytes at `offset` (of the file, or of the image), and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gap {
    pub offset: u64,
    pub len: u64,
    pub why: Why,
}

impl Gap {
    pub fn new(offset: u64, len: u64, why: Why) -> Gap {
        Gap { offset, len, why }
    }

    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A range of a read (absolute image offsets) that was zero-filled, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthRange {
    pub extent: Extent,
    pub why: Why,
}

/// What a read returned besides its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Bytes of the buffer that lie inside the source (the rest is past its end).
    pub len: usize,
    /// Zero-filled ranges in ascending order; adjacent ranges with the same reason are merged.
    pub synthesized: Vec<SynthRange>,
}

impl ReadReport {
    pub fn clean(len: usize) -> Self {
        ReadReport {
            len,
            synthesized: Vec::new(),
        }
    }

    pub fn is_clean(&self) -> bool {
        self.synthesized.is_empty()
    }

    pub fn synthesized_bytes(&self) -> u64 {
        self.synthesized.iter().map(|r| r.extent.len).sum()
    }

    /// Zero-fills `buf[inside..]`, the part of a read at image offset `at` that
    /// lies past the source's end, and records it as `Why::PastEnd` (nothing when
    /// the whole buffer lies inside).
    pub fn past_end(&mut self, at: u64, buf: &mut [u8], inside: usize) {
        if inside < buf.len() {
            buf[inside..].fill(0);
            self.push(
                Extent::new(
                    at.saturating_add(inside as u64),
                    (buf.len() - inside) as u64,
                ),
                Why::PastEnd,
            );
        }
    }

    /// Records a synthesized range. Ranges must be pushed in ascending order.
    pub fn push(&mut self, extent: Extent, why: Why) {
        if extent.is_empty() {
            return;
        }
        if let Some(last) = self.synthesized.last_mut() {
            if last.why == why && last.extent.end() == extent.start {
                last.extent.len += extent.len;
                return;
            }
        }
        self.synthesized.push(SynthRange { extent, why });
    }

    /// Appends another report's ranges (which must all lie after ours).
    pub fn extend(&mut self, other: &ReadReport) {
        for r in &other.synthesized {
            self.push(r.extent, r.why);
        }
    }
}

/// Something evidence can be read from: a file, a device, a split set, an E01, an
/// overlay. Shared by many threads, so reads are positional and take `&self`.
pub trait ImageSource: Send + Sync {
    /// Size in bytes of the media this source presents.
    fn size(&self) -> u64;

    /// Smallest unit a read error can be narrowed down to.
    fn sector_size(&self) -> u32 {
        512
    }

    /// Fills all of `buf` with the bytes at `offset`. Unreadable bytes and bytes past
    /// the end are zero-filled and listed in the report. `Err` only when the source
    /// itself is gone (device removed, file vanished, permission revoked).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError>;

    /// A name for messages: usually the path.
    fn describe(&self) -> String;
}

impl<T: ImageSource + ?Sized> ImageSource for Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn sector_size(&self) -> u32 {
        (**self).sector_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        (**self).read_at(offset, buf)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: ImageSource + ?Sized> ImageSource for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn sector_size(&self) -> u32 {
        (**self).sector_size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        (**self).read_at(offset, buf)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Why a source could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The source disappeared or stopped answering (ENODEV, ENXIO, ...).
    Gone,
    /// The source became shorter than it was when opened.
    Shrunk,
    /// Any other I/O failure that is not a media error.
    Io,
}

/// A failure of the source itself, always with the path and byte offset.
#[derive(Debug)]
pub struct SourceError {
    pub path: String,
    pub offset: u64,
    pub kind: SourceErrorKind,
    pub detail: String,
}

impl SourceError {
    pub fn new(
        path: impl Into<String>,
        offset: u64,
        kind: SourceErrorKind,
        detail: impl Into<String>,
    ) -> Self {
        SourceError {
            path: path.into(),
            offset,
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} at byte offset {}",
            self.path, self.detail, self.offset
        )
    }
}

impl std::error::Error for SourceError {}

/// Why a raw device read failed.
#[derive(Debug)]
pub enum DeviceError {
    /// The medium could not deliver these bytes (EIO and friends). Retrying smaller
    /// reads may succeed for part of the range.
    Media,
    /// The device is gone or the read cannot be done at all.
    Fatal(SourceError),
}

/// The lowest layer: a medium whose reads can fail. Acquisition drives this directly
/// (it needs to see failures to schedule trimming and scraping); examination reads go
/// through an [`ImageSource`] that narrows failures down to sectors.
pub trait BlockDevice: Send + Sync {
    fn size(&self) -> u64;
    /// Logical sector size: the granularity at which reads fail.
    fn sector_size(&self) -> u32;
    /// Reads exactly `buf.len()` bytes at `offset`, which must lie inside the device.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// Like `read_exact_at`, but a media error after some bytes came back (the
    /// kernel returns a short read up to the page that failed) keeps them:
    /// `Ok(n)`, the first `n` bytes of `buf` read good, `n < buf.len()` when
    /// the rest failed. A device that cannot tell reports 0 good bytes.
    fn read_good_prefix(&self, offset: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        match self.read_exact_at(offset, buf) {
            Ok(()) => Ok(buf.len()),
            Err(DeviceError::Media) => Ok(0),
            Err(e) => Err(e),
        }
    }
    fn describe(&self) -> String;
}

impl<T: BlockDevice + ?Sized> BlockDevice for Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn sector_size(&self) -> u32 {
        (**self).sector_size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read_exact_at(offset, buf)
    }
    fn read_good_prefix(&self, offset: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        (**self).read_good_prefix(offset, buf)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn sector_size(&self) -> u32 {
        (**self).sector_size()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read_exact_at(offset, buf)
    }
    fn read_good_prefix(&self, offset: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        (**self).read_good_prefix(offset, buf)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Bytes in memory read as a source: a detached header, a stream put together
/// for a check. Past the end is zero-filled and reported, as a device's is.
pub struct InMemory {
    bytes: Vec<u8>,
    what: &'static str,
}

impl InMemory {
    pub fn new(bytes: Vec<u8>, what: &'static str) -> Self {
        InMemory { bytes, what }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl ImageSource for InMemory {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let start = offset.min(self.bytes.len() as u64) as usize;
        let inside = (self.bytes.len() - start).min(buf.len());
        buf[..inside].copy_from_slice(&self.bytes[start..start + inside]);
        let mut r = ReadReport::clean(inside);
        r.past_end(offset, buf, inside);
        Ok(r)
    }
    fn describe(&self) -> String {
        self.what.into()
    }
}

#[cfg(test)]
mod tests {
    /// Every reason is in `Why::ALL` and reads back from its word. `rank` is an
    /// exhaustive match: a new reason does not compile until it has a rank, and
    /// this fails until `ALL` lists it.
    #[test]
    fn every_reason_round_trips_through_its_word() {
        fn rank(w: Why) -> usize {
            match w {
                Why::Unreadable => 0,
                Why::PastEnd => 1,
                Why::NotTried => 2,
                Why::NotTrimmed => 3,
                Why::NotScraped => 4,
                Why::BadSector => 5,
                Why::NotInMap => 6,
                Why::NotInLayout => 7,
                Why::BadChunk => 8,
                Why::AcquisitionError => 9,
                Why::MissingSegment => 10,
                Why::Undecodable => 11,
                Why::AcquisitionUnreadable => 12,
                Why::DmgBadChunk => 13,
            }
        }
        let mut seen = [false; 14];
        for w in Why::ALL {
            assert_eq!(Why::parse(w.as_str()), Some(w));
            seen[rank(w)] = true;
        }
        assert!(seen.iter().all(|&x| x), "{seen:?}");
        let mut words: Vec<_> = Why::ALL.iter().map(|w| w.as_str()).collect();
        words.sort();
        words.dedup();
        assert_eq!(words.len(), Why::ALL.len());
        assert_eq!(Why::parse("unreadablex"), None);
    }

    use super::*;

    #[test]
    fn push_merges_adjacent_ranges_with_the_same_reason_only() {
        let mut r = ReadReport::clean(100);
        r.push(Extent::new(0, 10), Why::Unreadable);
        r.push(Extent::new(10, 10), Why::Unreadable);
        r.push(Extent::new(20, 10), Why::PastEnd);
        r.push(Extent::new(40, 0), Why::PastEnd);
        assert_eq!(r.synthesized.len(), 2);
        assert_eq!(r.synthesized[0].extent, Extent::new(0, 20));
        assert_eq!(r.synthesized_bytes(), 30);
        assert!(!r.is_clean());
    }

    #[test]
    fn source_error_names_path_and_offset() {
        let e = SourceError::new("/dev/sdz", 4096, SourceErrorKind::Gone, "device removed");
        assert_eq!(
            e.to_string(),
            "/dev/sdz: device removed at byte offset 4096"
        );
    }
}
