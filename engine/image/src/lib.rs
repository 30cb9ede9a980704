//! Evidence readers. Everything here reads with `pread` (never mmap), opens
//! read-only, and turns media errors into synthesized ranges instead of failures.

mod dmg;
mod dmg_codec;
mod ewf;
mod ewf_write;
mod file;
pub mod mapfile;
mod mem;
mod overlay;
mod sectored;
mod sparsebundle;
mod sparseimage;
mod split;

pub use dmg::{is_dmg, Checks as DmgChecks, DmgMeta, DmgSource, TableCheck};
pub use ewf::{is_ewf, EwfMeta, EwfSource};
pub use ewf_write::{Compression, EwfHeader, EwfWriter};
pub use file::{open_read_only, FileDevice, OpenError};
pub use mapfile::{MapBlock, MapStatus, Mapfile, MapfileError};
pub use mem::MemDevice;
pub use overlay::MapOverlay;
pub use sectored::Sectored;
pub use sparsebundle::{is_sparsebundle, BundleSource};
pub use sparseimage::{is_sparseimage, SparseImageSource};
pub use split::{first_segment_of, segment_paths, SplitDevice};

use dredge_core::{BlockDevice, ImageSource};
use std::path::{Path, PathBuf};

/// Largest mapfile we read; a real one for a badly failing 20 TB disk stays far below.
pub const MAX_MAPFILE_BYTES: u64 = 256 << 20;

/// An opened piece of evidence: its segments and a source to read it through.
pub struct Evidence {
    pub segments: Vec<PathBuf>,
    pub source: Box<dyn ImageSource>,
    pub map: Option<Mapfile>,
    /// For E01 evidence: stored hashes, case metadata, acquisition errors.
    pub ewf: Option<EwfMeta>,
    /// For an Apple disk image: its stored checksums, checked as it is read.
    pub dmg: Option<std::sync::Arc<dmg::Checks>>,
}

/// A container source, read through a ddrescue mapfile when one is given.
fn overlaid<S: ImageSource + 'static>(
    src: S,
    mapfile: Option<&Path>,
) -> Result<Box<dyn ImageSource>, OpenError> {
    Ok(match mapfile {
        Some(m) => Box::new(MapOverlay::new(src, read_mapfile(m)?)),
        None => Box::new(src),
    })
}

/// Opens a raw image, a block device, or the first segment of a split raw set,
/// optionally read through a ddrescue mapfile.
pub fn open_evidence(path: &Path, mapfile: Option<&Path>) -> Result<Evidence, OpenError> {
    if let Some(first) = first_segment_of(path) {
        return Err(OpenError::new(
            path,
            format!(
                "is a later segment of a split set; open its first segment {}",
                first.display()
            ),
        ));
    }
    if is_ewf(path) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(ext) = name.rsplit_once('.').map(|x| x.1) {
            let later = ext.len() == 3 && ext[1..] != *"01" && ext[..1].eq_ignore_ascii_case("e");
            if later && ext[1..].bytes().all(|b| b.is_ascii_digit()) {
                return Err(OpenError::new(
                    path,
                    format!(
                        "is a later segment of an EWF set; open its first segment ({}.{}01)",
                        name.rsplit_once('.').map_or("", |x| x.0),
                        &ext[..1]
                    ),
                ));
            }
        }
        let ewf = EwfSource::open(path)?;
        let meta = ewf.meta().clone();
        let src = overlaid(ewf, mapfile)?;
        return Ok(Evidence {
            segments: meta.segments.clone(),
            source: src,
            map: None,
            ewf: Some(meta),
            dmg: None,
        });
    }
    if is_sparsebundle(path) {
        let b = BundleSource::open(path)?;
        let segments = b.segments();
        let src = overlaid(b, mapfile)?;
        return Ok(Evidence {
            segments,
            source: src,
            map: None,
            ewf: None,
            dmg: None,
        });
    }
    if is_sparseimage(path) {
        let s = SparseImageSource::open(path)?;
        let src = overlaid(s, mapfile)?;
        return Ok(Evidence {
            segments: vec![path.to_path_buf()],
            source: src,
            map: None,
            ewf: None,
            dmg: None,
        });
    }
    if is_dmg(path) {
        let d = DmgSource::open(path)?;
        let checks = d.checks();
        let src = overlaid(d, mapfile)?;
        return Ok(Evidence {
            segments: vec![path.to_path_buf()],
            source: src,
            map: None,
            ewf: None,
            dmg: Some(checks),
        });
    }
    // A file named like an EWF image without the signature is a damaged or
    // mislabelled one: reading its container bytes as a disk would be wrong.
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("e01") {
        let mut head = [0u8; 8];
        let got = crate::file::open_read_only(path)
            .ok()
            .and_then(|f| std::os::unix::fs::FileExt::read_at(&f, &mut head, 0).ok())
            .unwrap_or(0);
        let shown: String = head[..got].iter().map(|b| format!("{b:02x}")).collect();
        return Err(OpenError::new(
            path,
            format!(
                "is named like an E01 image but has no EWF signature at byte offset 0 (expected 455646090d0aff00, found {shown}); if it is a raw image, give it another name"
            ),
        ));
    }
    let segments = segment_paths(path);
    let device: Box<dyn BlockDevice> = if segments.len() > 1 {
        Box::new(SplitDevice::open(&segments)?)
    } else {
        Box::new(FileDevice::open(path)?)
    };
    if device.size() == 0 {
        return Err(OpenError::new(
            path,
            "is empty (0 bytes): nothing to examine",
        ));
    }
    let size = device.size();
    let sectored = Sectored::new(device);
    let Some(map_path) = mapfile else {
        return Ok(Evidence {
            segments,
            source: Box::new(sectored),
            map: None,
            ewf: None,
            dmg: None,
        });
    };
    let map = read_mapfile(map_path)?;
    if let Some(b) = map.blocks.iter().find(|b| b.pos + b.size > size) {
        return Err(OpenError::new(
            map_path,
            format!(
                "mapfile describes bytes up to {} but the image has {} bytes (the block on the line at byte offset {} of the mapfile)",
                b.pos + b.size,
                size,
                b.line_offset
            ),
        ));
    }
    Ok(Evidence {
        segments,
        source: Box::new(MapOverlay::new(sectored, map.clone())),
        map: Some(map),
        ewf: None,
        dmg: None,
    })
}

/// Reads and parses a mapfile, bounding its size first.
pub fn read_mapfile(path: &Path) -> Result<Mapfile, OpenError> {
    use std::io::Read;
    let f = open_read_only(path)?;
    let mut bytes = Vec::new();
    f.take(MAX_MAPFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| OpenError::new(path, e.to_string()))?;
    if bytes.len() as u64 > MAX_MAPFILE_BYTES {
        return Err(OpenError::new(
            path,
            format!("mapfile larger than {MAX_MAPFILE_BYTES} bytes"),
        ));
    }
    Mapfile::parse_bytes(&bytes).map_err(|e| OpenError::new(path, e.to_string()))
}
