//! What the front ends read of a finished case: times for sorting, the evidence
//! itself for the hex view.

use crate::{fail, EvidenceRow, Failure};
use dredge_core::ImageSource;
use dredge_image::open_evidence;
use std::path::{Path, PathBuf};

/// The modification time a browser sorts by, of one artifact's (source, UTC) times:
/// the filesystem's own (NTFS $STANDARD_INFORMATION, ext inode, FAT entry) before a
/// $FILE_NAME copy, as the reports choose it.
pub fn pick_modified(times: &[(String, String)]) -> Option<String> {
    dredge_report::pick_time(times, 'm').map(|(_, utc)| utc.clone())
}

/// An evidence item opened for viewing, read-only: bytes at any offset, with the
/// ranges that could not be read (zero-filled in the bytes, never to be shown as
/// data). Nothing is parsed.
pub struct ImageView {
    src: Box<dyn ImageSource>,
    pub size: u64,
}

/// Bytes read for viewing, and the unreadable ranges among them as (image offset,
/// length).
pub type Viewed = (Vec<u8>, Vec<(u64, u64)>);

impl ImageView {
    /// Up to `len` bytes from `offset` (fewer at the end), with their unreadable ranges.
    pub fn read(&self, offset: u64, len: usize) -> Result<Viewed, Failure> {
        let n = (self.size.saturating_sub(offset)).min(len as u64) as usize;
        let mut buf = vec![0u8; n];
        let r = self.src.read_at(offset, &mut buf).map_err(fail)?;
        let bad = r
            .synthesized
            .iter()
            .map(|s| (s.extent.start, s.extent.len))
            .collect();
        Ok((buf, bad))
    }
}

/// Opens a registered evidence item for viewing, through its mapfile if it has one.
pub fn open_image(ev: &EvidenceRow) -> Result<ImageView, Failure> {
    let map = ev.map_path.as_ref().map(PathBuf::from);
    let e = open_evidence(Path::new(&ev.path), map.as_deref()).map_err(fail)?;
    Ok(ImageView {
        size: e.source.size(),
        src: e.source,
    })
}
