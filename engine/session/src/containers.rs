//! VeraCrypt/TrueCrypt containers kept as files (issue 13), opened in the
//! same command as the filesystem that holds them. After a scan with keys and
//! `--container-files` (each try is a key-derivation sweep of seconds),
//! each extracted file of a container's shape (`container_shape`: size,
//! random first sector and samples) is tried with the keys meant for every
//! volume; one that opens is registered as evidence of its own, from its
//! copy in the case (its hash ties it to the artifact), and scanned with the
//! same options, so its files are recovered like any other. Containers in
//! those containers are opened the same way, a few levels deep.

use crate::register::add_evidence;
use crate::scan::{scan_only, ScanReport};
use crate::unit::contain;
use crate::{fail, open_case, Failure, ProgressFn, ScanOptions};
use dredge_core::{Extent, VolumeReader};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Levels of containers inside containers opened at most.
const MAX_DEPTH: usize = 4;

/// What a scan with keys opened afterwards and registered as evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// The plaintext of an encrypted Apple disk image that is a disk image
    /// itself (`crate::decrypted_images`); `artifact` names its volume.
    DecryptedImage,
    /// A VeraCrypt/TrueCrypt container kept as a file; `artifact` names it.
    ContainerFile,
}

/// A file opened after a scan, registered and scanned.
pub struct OpenedFile {
    pub kind: Opening,
    pub artifact: String,
    pub path: String,
    /// The evidence label it was registered under.
    pub label: String,
    pub report: ScanReport,
}

/// Whether `copy` (of `size` bytes) has a container's shape and opens with
/// `keys` as VeraCrypt/TrueCrypt.
fn opens(copy: &Path, size: u64, keys: &[&dredge_crypt::Secret]) -> bool {
    let Ok(f) = std::fs::File::open(copy) else {
        return false;
    };
    let read = |at: u64, buf: &mut [u8]| f.read_exact_at(buf, at).is_ok();
    if dredge_crypt::container_shape(size, read).is_none() {
        return false;
    }
    let Ok(ev) = dredge_image::open_evidence(copy, None) else {
        return false;
    };
    let src: Arc<dyn dredge_core::ImageSource> = Arc::from(ev.source);
    let reader = VolumeReader::new(src, Extent::new(0, size));
    matches!(
        contain(|| dredge_crypt::unlock_tcrypt(&reader, keys, &crate::unlock::on_all_cores)),
        Ok(Ok(_))
    )
}

impl OpenedFile {
    /// One sentence saying what was opened and what became of it.
    pub fn said(&self) -> String {
        match self.kind {
            Opening::DecryptedImage => format!(
                "the plaintext of {} is a disk image: written to {}, registered as {} and scanned",
                self.artifact, self.path, self.label
            ),
            Opening::ContainerFile => format!(
                "container file {} ({}) opened with the key given: registered as {} and scanned",
                self.path, self.artifact, self.label
            ),
        }
    }

    /// The word of its progress events (`decrypted_image`, `container_file`).
    pub fn word(&self) -> &'static str {
        match self.kind {
            Opening::DecryptedImage => "decrypted_image",
            Opening::ContainerFile => "container_file",
        }
    }
}

/// After a scan with keys: the disk images inside opened encrypted Apple
/// disk images, then the container files the keys open, each registered
/// and scanned.
pub fn open_after_scan(
    case_dir: &Path,
    opts: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<Vec<OpenedFile>, Failure> {
    let mut done =
        crate::decrypted_images::open_decrypted_images(case_dir, opts, interrupt, progress)?;
    done.extend(open_container_files(case_dir, opts, interrupt, progress)?);
    Ok(done)
}

/// Registers `file` as evidence of its own and scans it with `opts`: its
/// label and the scan's report.
pub(crate) fn register_and_scan(
    case_dir: &Path,
    file: &Path,
    opts: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<(String, ScanReport), Failure> {
    let added = add_evidence(case_dir, file, None, interrupt, progress)?;
    let label = added
        .evidence
        .map(|e| e.label)
        .ok_or_else(|| Failure(format!("{}: not registered", file.display())))?;
    let report = scan_only(
        case_dir,
        opts,
        Some(label.clone()),
        None,
        interrupt,
        progress,
    )?;
    Ok((label, report))
}

/// Opens and scans the container files of the case that the scan's keys
/// (those not aimed at one volume) open; none when no key could, or the
/// options do not ask for it.
pub fn open_container_files(
    case_dir: &Path,
    opts: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<Vec<OpenedFile>, Failure> {
    let keys: Vec<&dredge_crypt::Secret> = opts
        .keys
        .iter()
        .filter(|k| k.target.is_none())
        .map(|k| &k.secret)
        .collect();
    let mut done = Vec::new();
    if !opts.container_files || !dredge_crypt::tcrypt_keys(&keys) {
        return Ok(done);
    }
    // A file tried once is not tried again in a later round: each try is a
    // key-derivation sweep of seconds.
    let mut tried = std::collections::HashSet::new();
    for _ in 0..MAX_DEPTH {
        let store = open_case(case_dir)?;
        let files = store.container_sized_files().map_err(fail)?;
        let known: Vec<PathBuf> = store
            .evidence()
            .map_err(fail)?
            .iter()
            .filter_map(|e| Path::new(&e.path).canonicalize().ok())
            .collect();
        drop(store);
        let mut more = false;
        for (artifact, path, rel, size) in files {
            let copy = case_dir.join(&rel);
            let Ok(canon) = copy.canonicalize() else {
                continue;
            };
            if known.contains(&canon) || !tried.insert(canon.clone()) || !opens(&copy, size, &keys)
            {
                continue;
            }
            let (label, report) = register_and_scan(case_dir, &canon, opts, interrupt, progress)?;
            done.push(OpenedFile {
                kind: Opening::ContainerFile,
                artifact,
                path,
                label,
                report,
            });
            more = true;
        }
        if !more {
            break;
        }
    }
    Ok(done)
}
