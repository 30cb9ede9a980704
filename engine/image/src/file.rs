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
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            match self.file.read_at(&mut buf[done..], pos) {
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
                Ok(n) => done += n,
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

    fn describe(&self) -> String {
        self.path.clone()
    }
}
