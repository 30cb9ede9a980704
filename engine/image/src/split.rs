//! Split raw sets: `image.001, image.002, …` (any width, from `.000` or `.001`) and
//! `image.aa, image.ab, …` (split(1) style), opened from the first segment.

use crate::file::{FileDevice, OpenError};
use dredge_core::{BlockDevice, DeviceError};
use std::path::{Path, PathBuf};

/// The naming scheme of a split set, decided from the first segment's name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scheme {
    /// Decimal suffix of fixed width starting at `first`.
    Numeric { width: usize, first: u64 },
    /// Lower-case letters of fixed width starting at `aa…a`.
    Alpha { width: usize },
}

fn split_name(path: &Path) -> Option<(String, Scheme)> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.len() < 2 {
        return None;
    }
    if ext.bytes().all(|b| b.is_ascii_digit()) {
        let first: u64 = ext.parse().ok()?;
        if first <= 1 {
            return Some((
                stem.to_string(),
                Scheme::Numeric {
                    width: ext.len(),
                    first,
                },
            ));
        }
    } else if ext.bytes().all(|b| b == b'a') {
        return Some((stem.to_string(), Scheme::Alpha { width: ext.len() }));
    }
    None
}

fn segment_name(stem: &str, scheme: &Scheme, index: u64) -> Option<String> {
    match scheme {
        Scheme::Numeric { width, first } => {
            let n = first + index;
            let s = format!("{n:0width$}");
            (s.len() == *width).then(|| format!("{stem}.{s}"))
        }
        Scheme::Alpha { width } => {
            let mut digits = vec![b'a'; *width];
            let mut rest = index;
            for d in digits.iter_mut().rev() {
                *d = b'a' + (rest % 26) as u8;
                rest /= 26;
            }
            if rest != 0 {
                return None;
            }
            Some(format!("{stem}.{}", String::from_utf8(digits).ok()?))
        }
    }
}

/// Lists the segments of the split set that `first` starts, or just `first` if its
/// name is not the first of a split set or no second segment exists.
pub fn segment_paths(first: &Path) -> Vec<PathBuf> {
    let Some((stem, scheme)) = split_name(first) else {
        return vec![first.to_path_buf()];
    };
    let dir = first.parent().unwrap_or(Path::new(""));
    let mut out = vec![first.to_path_buf()];
    for i in 1.. {
        let Some(name) = segment_name(&stem, &scheme, i) else {
            break;
        };
        let p = dir.join(name);
        if !p.exists() {
            break;
        }
        out.push(p);
    }
    out
}

/// If `path` looks like a later segment of a split set whose first segment exists,
/// returns the first segment's path.
pub fn first_segment_of(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.len() < 2 {
        return None;
    }
    let candidates: Vec<String> = if ext.bytes().all(|b| b.is_ascii_digit()) {
        if ext.parse::<u64>().ok()? <= 1 {
            return None;
        }
        vec![
            format!("{stem}.{:0w$}", 1, w = ext.len()),
            format!("{stem}.{:0w$}", 0, w = ext.len()),
        ]
    } else if ext.bytes().all(|b| b.is_ascii_lowercase()) && ext.bytes().any(|b| b != b'a') {
        vec![format!("{stem}.{}", "a".repeat(ext.len()))]
    } else {
        return None;
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    candidates
        .into_iter()
        .map(|c| dir.join(c))
        .find(|p| p.exists())
}

/// Several files presented as one device.
pub struct SplitDevice {
    segments: Vec<(u64, FileDevice)>,
    size: u64,
    name: String,
}

impl SplitDevice {
    pub fn open(paths: &[PathBuf]) -> Result<Self, OpenError> {
        let mut segments = Vec::with_capacity(paths.len());
        let mut start = 0u64;
        for (i, p) in paths.iter().enumerate() {
            let dev = FileDevice::open(p)?;
            if dev.size() == 0 && i + 1 < paths.len() {
                return Err(OpenError::new(
                    p,
                    "segment of a split set is empty (0 bytes)",
                ));
            }
            let len = dev.size();
            segments.push((start, dev));
            start = start.saturating_add(len);
        }
        let name = paths
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Ok(SplitDevice {
            segments,
            size: start,
            name,
        })
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

impl BlockDevice for SplitDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn sector_size(&self) -> u32 {
        self.segments
            .iter()
            .map(|(_, d)| d.sector_size())
            .max()
            .unwrap_or(512)
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            // Last segment starting at or before pos.
            let idx = self
                .segments
                .partition_point(|(s, _)| *s <= pos)
                .saturating_sub(1);
            let Some((seg_start, dev)) = self.segments.get(idx) else {
                return Err(DeviceError::Media);
            };
            let within = pos - seg_start;
            let avail = dev.size().saturating_sub(within);
            if avail == 0 {
                return Err(DeviceError::Fatal(dredge_core::SourceError::new(
                    &self.name,
                    pos,
                    dredge_core::SourceErrorKind::Shrunk,
                    "read past the end of the split set",
                )));
            }
            let n = avail.min((buf.len() - done) as u64) as usize;
            dev.read_exact_at(within, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_alpha_segment_names() {
        let (stem, s) = split_name(Path::new("/x/disk.001")).unwrap();
        assert_eq!(segment_name(&stem, &s, 1).unwrap(), "disk.002");
        assert_eq!(segment_name(&stem, &s, 998).unwrap(), "disk.999");
        assert_eq!(segment_name(&stem, &s, 999), None);
        let (stem, s) = split_name(Path::new("disk.aa")).unwrap();
        assert_eq!(segment_name(&stem, &s, 1).unwrap(), "disk.ab");
        assert_eq!(segment_name(&stem, &s, 26).unwrap(), "disk.ba");
        assert_eq!(segment_name(&stem, &s, 26 * 26), None);
        assert!(split_name(Path::new("disk.raw")).is_none());
        assert!(split_name(Path::new("disk.002")).is_none());
    }
}
