//! Encrypted Apple disk images whose plaintext is itself a disk image (issue
//! 15). hdiutil encrypts a UDIF image (or a sparse image) whole, so once
//! the scan has opened one with the examiner's key, its plaintext is a
//! compressed or chunked image of a disk, not the disk: the chunks must be
//! decoded before any filesystem shows. After the scan, each such plaintext
//! (`unlock::IMAGE_SLOT`) is written into the case by `export-volume`'s
//! code (its digests in custody, tied to the encrypted evidence), registered
//! as evidence of its own (the disk-image reader decodes it and checks its
//! checksums), and scanned with the same options. A plaintext registered
//! once is not written again.

use crate::containers::{register_and_scan, OpenedFile, Opening};
use crate::unlock::IMAGE_SLOT;
use crate::{fail, open_case, Failure, ProgressFn, ScanOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Levels of encrypted images inside encrypted images opened at most.
const MAX_DEPTH: usize = 4;

/// Where the plaintexts are written, inside the case.
const DIR: &str = "decrypted";

/// Registers and scans the disk images inside the case's opened encrypted
/// Apple disk images; none when no key was given.
pub(crate) fn open_decrypted_images(
    case_dir: &Path,
    opts: &ScanOptions,
    interrupt: &AtomicBool,
    progress: ProgressFn<'_>,
) -> Result<Vec<OpenedFile>, Failure> {
    let mut done = Vec::new();
    if opts.keys.is_empty() {
        return Ok(done);
    }
    let dest = case_dir.join(DIR);
    for _ in 0..MAX_DEPTH {
        let store = open_case(case_dir)?;
        let evidence = store.evidence().map_err(fail)?;
        let known: Vec<PathBuf> = evidence
            .iter()
            .filter_map(|e| Path::new(&e.path).canonicalize().ok())
            .collect();
        let mut wanted = Vec::new();
        for ev in &evidence {
            for v in store.volumes(ev.id).map_err(fail)? {
                let Some(c) = v
                    .slot
                    .as_deref()
                    .and_then(|s| s.strip_prefix(IMAGE_SLOT))
                    .and_then(|s| s.strip_prefix(':'))
                else {
                    continue;
                };
                let file = dest.join(crate::export_volume::plain_file_name(&ev.label, c));
                let registered = file.canonicalize().is_ok_and(|f| known.contains(&f));
                if !registered {
                    wanted.push(format!("{}/{c}", ev.label));
                }
            }
        }
        drop(store);
        if wanted.is_empty() {
            break;
        }
        let written = crate::export_volumes(case_dir, &wanted, &opts.keys, &dest, interrupt)?;
        for w in written {
            let (label, report) = register_and_scan(case_dir, &w.path, opts, interrupt, progress)?;
            done.push(OpenedFile {
                kind: Opening::DecryptedImage,
                artifact: w.volume.clone(),
                path: w.path.display().to_string(),
                label,
                report,
            });
        }
    }
    Ok(done)
}
