//! Apple sparse bundles (`.sparsebundle`, Time Machine's network backups,
//! `hdiutil create -type SPARSEBUNDLE`) as evidence (issue 15): a directory
//! with `Info.plist` (the band size and the disk's size) and `bands/`, one
//! file per band named by its number in lower-case hex. A band file that
//! does not exist was never written: its bytes are zeros, as the format
//! defines, and so are the bytes past the end of a short band file; a band
//! file the system cannot read is an unreadable range. An encrypted bundle
//! (`token` holding an `encrcdsa` header) is refused, saying so.
//!
//! Band files are opened read-only when a read reaches them, never
//! written, never listed as segments one by one: the custody record names
//! `Info.plist` and `bands/`.

use crate::file::{describe_io, open_read_only, OpenError};
use dredge_core::plist_xml;
use dredge_core::{Extent, ImageSource, ReadReport, SourceError, Why};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Largest `Info.plist` read.
const MAX_PLIST: u64 = 1 << 20;

/// Whether `path` is a sparse bundle directory.
pub fn is_sparsebundle(path: &Path) -> bool {
    path.is_dir() && path.join("Info.plist").is_file() && path.join("bands").is_dir()
}

pub struct BundleSource {
    dir: PathBuf,
    band_size: u64,
    size: u64,
}

impl BundleSource {
    pub fn open(path: &Path) -> Result<BundleSource, OpenError> {
        let plist_path = path.join("Info.plist");
        let err = |what: String| OpenError::new(&plist_path, what);
        let len = std::fs::metadata(&plist_path)
            .map_err(|e| err(describe_io(&e)))?
            .len();
        if len > MAX_PLIST {
            return Err(err(format!(
                "is {len} bytes, more than a bundle's Info.plist ({MAX_PLIST} at most)"
            )));
        }
        let text = std::fs::read(&plist_path).map_err(|e| err(describe_io(&e)))?;
        let text = String::from_utf8_lossy(&text);
        let plist = plist_xml::parse(&text).map_err(|e| err(format!("does not parse: {e}")))?;
        let kind = plist.get("diskimage-bundle-type").and_then(|v| v.str());
        if kind != Some("com.apple.diskimage.sparsebundle") {
            return Err(err(format!(
                "diskimage-bundle-type is {kind:?}, expected \"com.apple.diskimage.sparsebundle\""
            )));
        }
        let band_size = plist.get("band-size").and_then(|v| v.int()).unwrap_or(0);
        if !(4096..=1 << 30).contains(&band_size) || band_size % 512 != 0 {
            return Err(err(format!(
                "band-size is {band_size}, expected a multiple of 512 from 4096 to 1 GiB"
            )));
        }
        let size = plist.get("size").and_then(|v| v.int()).unwrap_or(0);
        if size == 0 || size > 1 << 56 {
            return Err(err(format!("size is {size}, expected 1 byte to 64 PiB")));
        }
        let mut head = [0u8; 8];
        let token = File::open(path.join("token"))
            .and_then(|f| f.read_at(&mut head, 0))
            .unwrap_or(0);
        if token == 8 && &head == b"encrcdsa" {
            return Err(OpenError::new(
                &path.join("token"),
                "holds an encrcdsa header: the bundle is encrypted, which dredge does not read yet",
            ));
        }
        Ok(BundleSource {
            dir: path.to_path_buf(),
            band_size,
            size,
        })
    }

    /// What the custody record names: the plist and the bands directory.
    pub fn segments(&self) -> Vec<PathBuf> {
        vec![self.dir.join("Info.plist"), self.dir.join("bands")]
    }

    pub fn band_size(&self) -> u64 {
        self.band_size
    }
}

impl ImageSource for BundleSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<ReadReport, SourceError> {
        let inside = if offset >= self.size {
            0
        } else {
            (self.size - offset).min(buf.len() as u64) as usize
        };
        let mut rep = ReadReport::clean(inside);
        let mut done = 0usize;
        while done < inside {
            let pos = offset + done as u64;
            let band = pos / self.band_size;
            let within = pos % self.band_size;
            let n = ((self.band_size - within) as usize).min(inside - done);
            let out = &mut buf[done..done + n];
            out.fill(0);
            let band_path = self.dir.join("bands").join(format!("{band:x}"));
            // Never written: zeros, as the format defines. Evidence is
            // opened as everywhere else (read-only, atime untouched).
            let exists = std::fs::symlink_metadata(&band_path).is_ok();
            match exists.then(|| open_read_only(&band_path)) {
                None => {}
                Some(Err(_)) => rep.push(Extent::new(pos, n as u64), Why::Unreadable),
                Some(Ok(f)) => {
                    let mut got = 0usize;
                    while got < n {
                        match f.read_at(&mut out[got..], within + got as u64) {
                            // Past the band file's end: zeros.
                            Ok(0) => break,
                            Ok(k) => got += k,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => {
                                out[got..].fill(0);
                                rep.push(
                                    Extent::new(pos + got as u64, (n - got) as u64),
                                    Why::Unreadable,
                                );
                                break;
                            }
                        }
                    }
                }
            }
            done += n;
        }
        rep.past_end(offset, buf, inside);
        Ok(rep)
    }

    fn describe(&self) -> String {
        format!(
            "Apple sparse bundle {} ({} bytes in bands of {})",
            self.dir.display(),
            self.size,
            self.band_size
        )
    }
}
