//! Regular files and block devices, read with `pread` only.
//!
//! Never memory-mapped: a mapped page whose sector cannot be read kills the process
//! with SIGBUS (see docs/decisions/0002-pread-not-mmap.md).

use dredge_core::{BlockDevice, DeviceError, SourceError, SourceErrorKind};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Why a path could not be opened as evidence; each names the path.
#[derive(Debug)]
pub struct OpenError {
    pub path: PathBuf,
    pub detail: String,
}

impl OpenError {
    pub fn new(path: &Path, detail: impl Into<String>) -> Self {
        OpenError {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)
    }
}

impl std::error::Error for OpenError {}

/// Errno values that mean "the medium could not deliver these bytes" rather than
/// "the device is gone". Retrying a smaller range may succeed.
fn is_media_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO) | Some(libc::ENODATA) | Some(libc::EILSEQ) | Some(libc::EBADMSG)
    )
}

/// Opens a path read-only, without updating its access time where permitted.
pub fn open_read_only(path: &Path) -> Result<File, OpenError> {
    let meta = std::fs::metadata(path).map_err(|e| OpenError::new(path, describe_io(&e)))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(OpenError::new(
            path,
            "is a directory, not an image or device",
        ));
    }
    if !(ft.is_file() || ft.is_block_device()) {
        return Err(OpenError::new(
            path,
            "is neither a regular file nor a block device",
        ));
    }
    let mut opts = OpenOptions::new();
    opts.read(true).custom_flags(libc::O_NOATIME);
    match opts.open(path) {
        Ok(f) => Ok(f),
        // O_NOATIME needs ownership or CAP_FOWNER; without it, open plainly.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(|e| OpenError::new(path, describe_io(&e))),
        Err(e) => Err(OpenError::new(path, describe_io(&e))),
    }
}

pub(crate) fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// A regular file or block device read with positional reads.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    path: String,
    size: u64,
    sector_size: u32,
    is_block_device: bool,
}

impl FileDevice {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let mut file = open_read_only(path)?;
        let meta = file
            .metadata()
            .map_err(|e| OpenError::new(path, describe_io(&e)))?;
        let is_block_device = meta.file_type().is_block_device();
        // Seeking to the end gives the size of block devices too, where metadata says 0.
        let size = file
            .seek(SeekFrom::End(0))
            .map_err(|e| OpenError::new(path, format!("cannot determine size: {e}")))?;
        let sector_size = if is_block_device {
            logical_sector_size(&file).unwrap_or(512)
        } else {
            512
        };
        Ok(FileDevice {
            file,
            path: path.display().to_string(),
            size,
            sector_size,
            is_block_device,
        })
    }

    pub fn is_block_device(&self) -> bool {
        self.is_block_device
    }
}

fn logical_sector_size(file: &File) -> Option<u32> {
    use std::os::unix::io::AsRawFd;
    // BLKSSZGET = _IO(0x12, 104)
    const BLKSSZGET: libc::c_ulong = 0x1268;
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one c_int through the pointer we pass; fd is open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKSSZGET as _, &mut v) };
    (rc == 0 && v >= 512 && (v as u32).is_power_of_two()).then_some(v as u32)
}

impl BlockDevice for FileDevice {
    fn size(&self) -> u64 {
        self.size
    }

    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if self.is_block_device || buf.len() < SPARSE_MIN {
            return self.read_plain(offset, buf);
        }
        self.read_sparse(offset, buf)
    }

    fn read_good_prefix(&self, offset: u64, buf: &mut [u8]) -> Result<usize, DeviceError> {
        // Plain reads: the kernel's short read before a failing page is what
        // tells how far the good bytes go (a sparse image file has no bad
        // sectors to find).
        let mut done = 0usize;
        match self.read_plain_from(offset, buf, &mut done) {
            Ok(()) => Ok(buf.len()),
            Err(DeviceError::Media) => Ok(done),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        self.path.clone()
    }
}

/// Reads this long or longer skip a sparse image's holes: the kernel would
/// allocate, zero and copy a page-cache page for every 4 KiB of a hole (a
/// third of the CPU of reading a mostly empty 10 GiB image). Metadata reads are
/// shorter and read plainly.
const SPARSE_MIN: usize = 1 << 20;

impl FileDevice {
    /// `read_plain`, except that the holes of a sparse file (as `SEEK_DATA`
    /// and `SEEK_HOLE` report them) are zero-filled here instead of read: the
    /// same bytes, as a hole reads as zeros. Where the filesystem cannot say,
    /// everything reads as data.
    fn read_sparse(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let end = offset + buf.len() as u64;
        let mut pos = offset;
        while pos < end {
            let data = match self.seek(pos, libc::SEEK_DATA) {
                Some(Ok(d)) => d.clamp(pos, end),
                // No data from `pos` on: a hole up to the end of the file, or
                // the file is shorter than it was (the plain read says so).
                Some(Err(libc::ENXIO)) if self.current_len().is_some_and(|l| l >= end) => end,
                _ => return self.read_plain(pos, &mut buf[(pos - offset) as usize..]),
            };
            buf[(pos - offset) as usize..(data - offset) as usize].fill(0);
            if data == end {
                break;
            }
            let hole = match self.seek(data, libc::SEEK_HOLE) {
                Some(Ok(h)) if h > data => h.min(end),
                _ => end,
            };
            let (lo, hi) = ((data - offset) as usize, (hole - offset) as usize);
            self.read_plain(data, &mut buf[lo..hi])?;
            pos = hole;
        }
        Ok(())
    }

    /// `lseek` with `whence`: None where the offset does not fit, else the
    /// offset found or the errno.
    fn seek(&self, at: u64, whence: libc::c_int) -> Option<Result<u64, i32>> {
        use std::os::unix::io::AsRawFd;
        let at = libc::off_t::try_from(at).ok()?;
        // SAFETY: lseek on an open descriptor; it touches no memory of ours.
        // Reads are positional (pread), so moving the descriptor's offset
        // disturbs none of them.
        let r = unsafe { libc::lseek(self.file.as_raw_fd(), at, whence) };
        Some(if r < 0 {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r as u64)
        })
    }

    fn current_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }

    fn read_plain(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.read_plain_from(offset, buf, &mut 0)
    }

    /// `read_plain`, counting in `done` the bytes read before any error.
    fn read_plain_from(
        &self,
        offset: u64,
        buf: &mut [u8],
        done: &mut usize,
    ) -> Result<(), DeviceError> {
        *done = 0;
        while *done < buf.len() {
            let pos = offset + *done as u64;
            match self.file.read_at(&mut buf[*done..], pos) {
                Ok(0) => {
                    return Err(DeviceError::Fatal(SourceError::new(
                        &self.path,
                        pos,
                        SourceErrorKind::Shrunk,
                        format!(
                            "source ended early (expected {} bytes when opened)",
                            self.size
                        ),
                    )))
                }
                Ok(n) => *done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_media_error(&e) => return Err(DeviceError::Media),
                Err(e) => {
                    let kind = match e.raw_os_error() {
                        Some(libc::ENODEV) | Some(libc::ENXIO) | Some(libc::ESTALE)
                        | Some(libc::ENOTCONN) => SourceErrorKind::Gone,
                        _ => SourceErrorKind::Io,
                    };
                    return Err(DeviceError::Fatal(SourceError::new(
                        &self.path,
                        pos,
                        kind,
                        e.to_string(),
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A sparse file's holes, skipped, read as the zeros a plain read gives,
    /// with data islands at unaligned places and a hole to the end.
    #[test]
    fn sparse_reads_give_the_bytes_of_plain_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse.img");
        let len = 7 << 20;
        let mut model = vec![0u8; len];
        let f = File::create(&path).unwrap();
        f.set_len(len as u64).unwrap();
        for (at, n) in [
            (0, 100),
            ((1 << 20) + 5, 9000),
            ((3 << 20) + 4096, 4096),
            ((5 << 20) - 3, 70_000),
        ] {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + at) as u8 | 1).collect();
            f.write_all_at(&bytes, at as u64).unwrap();
            model[at..at + n].copy_from_slice(&bytes);
        }
        drop(f);
        let dev = FileDevice::open(&path).unwrap();
        for (at, n) in [
            (0, len),
            (1, (2 << 20) + 17),
            ((3 << 20) + 4097, 1 << 20),
            ((5 << 20) + 100_000, len - (5 << 20) - 100_000),
            (4096, 100),
        ] {
            let mut buf = vec![0xAAu8; n];
            dev.read_exact_at(at as u64, &mut buf).unwrap();
            assert!(buf == model[at..at + n], "bytes {at}..+{n} differ");
        }
    }

    /// A file cut shorter after it was opened is an error, not a hole of zeros.
    #[test]
    fn a_shrunk_sparse_file_is_not_read_as_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks.img");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"data").unwrap();
        f.set_len(4 << 20).unwrap();
        let dev = FileDevice::open(&path).unwrap();
        f.set_len(1 << 20).unwrap();
        let mut buf = vec![0u8; 2 << 20];
        match dev.read_exact_at(1 << 20, &mut buf) {
            Err(DeviceError::Fatal(e)) => assert_eq!(e.kind, SourceErrorKind::Shrunk, "{e}"),
            other => panic!("a shrunk file read as {other:?}"),
        }
    }
}
