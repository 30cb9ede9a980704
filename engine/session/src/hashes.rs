//! `dredge hashes`: for every password-protected encrypted volume of a case,
//! the line hashcat or John the Ripper takes to search for its password
//! (issue 13, password-recovery hand-off): BitLocker as a line; LUKS1 and
//! possible VeraCrypt/TrueCrypt containers as header files written to a
//! directory (hashcat reads those formats from files). Read from the
//! evidence's metadata only; what was handed off, and each file's SHA-256, is
//! recorded in the custody log, as any export.

use crate::layout::{accepting, layout, registry, Laid, Lost};
use crate::unit::{contain, volume_budget};
use crate::{fail, open_case, Failure};
use dredge_core::{ImageSource, VolumeKind, VolumeReader};
use dredge_store::{Action, SessionCommand};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// One line to hand to a password cracker.
#[derive(Debug, Clone)]
pub struct HashLine {
    /// The encrypted volume (`ev1/v0`).
    pub volume: String,
    /// The container's type ("bitlocker").
    pub container: &'static str,
    pub protector: String,
    /// "password", "recovery password".
    pub kind: &'static str,
    /// The hashcat mode that takes the line (None: John the Ripper only).
    pub hashcat_mode: Option<u32>,
    /// The line (empty for a header file).
    pub line: String,
    /// A header file: where it was written (None: no `--out`) and what reads it.
    pub file: Option<HeaderOut>,
}

/// A header file handed off.
#[derive(Debug, Clone)]
pub struct HeaderOut {
    pub path: Option<PathBuf>,
    pub sha256: Option<String>,
    pub hashcat: &'static str,
}

/// Copies `h` of volume `reader` to `DIR/ev1-v0.SUFFIX` (never over a file).
fn write_header(
    reader: &VolumeReader,
    h: &dredge_crypt::HeaderFile,
    dir: &Path,
    name: &str,
) -> Result<(PathBuf, String), Failure> {
    let (bytes, rep) = reader
        .read_vec(h.offset, h.len, h.len)
        .map_err(|e| Failure(format!("{name}: reading its header: {e}")))?;
    if !rep.is_clean() {
        return Err(Failure(format!(
            "{name}: its header is partly unreadable; not handed off"
        )));
    }
    let path = dir.join(format!("{}.{}", name.replace('/', "-"), h.suffix));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Failure(format!("{}: cannot create: {e}", path.display())))?;
    std::io::Write::write_all(&mut f, &bytes)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    Ok((path, dredge_hash::digest_bytes(&bytes).sha256))
}

/// Every hand-off line of every evidence item of the case at `case_dir`.
/// With `out`, LUKS1 headers and possible VeraCrypt/TrueCrypt headers are
/// written there as files.
pub fn password_hashes(
    case_dir: &Path,
    out: Option<&Path>,
    interrupt: &AtomicBool,
) -> Result<Vec<HashLine>, Failure> {
    let mut store = open_case(case_dir)?;
    let reg = registry();
    crate::in_action_session(
        &mut store,
        SessionCommand::Export,
        json!({"what": "password hashes", "dest": out.map(crate::abs)}),
        Action::Export,
        |store| -> Result<Vec<HashLine>, Failure> {
            if let Some(dir) = out {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Failure(format!("{}: cannot create: {e}", dir.display())))?;
            }
            let mut lines = Vec::new();
            for ev in store.evidence().map_err(fail)? {
                let map = ev.map_path.as_ref().map(PathBuf::from);
                let opened = dredge_image::open_evidence(Path::new(&ev.path), map.as_deref())
                    .map_err(fail)?;
                let src: Arc<dyn ImageSource> = Arc::from(opened.source);
                let Laid { vols, .. } = layout(&src, &reg, interrupt, Lost::Skip)?;
                for (i, v) in vols.iter().enumerate() {
                    if !matches!(v.kind, VolumeKind::Partition | VolumeKind::Whole) {
                        continue;
                    }
                    let reader = VolumeReader::new(Arc::clone(&src), v.extent)
                        .with_budget(volume_budget(v.extent.len));
                    let name = format!("{}/v{i}", ev.label);
                    // FileVault on APFS: each protector of each encrypted
                    // volume of the container.
                    let apfs = contain(|| dredge_fs_apfs::crack_lines(&reader)).unwrap_or_default();
                    if !apfs.is_empty() {
                        for (vol, l) in apfs {
                            lines.push(HashLine {
                                volume: name.clone(),
                                container: "apfs-filevault",
                                // "<volume name>/<protector UUID>", with nothing
                                // John's "user:hash" lines would split on.
                                protector: format!(
                                    "{}/{}",
                                    vol.replace(|c: char| c == ':' || c.is_whitespace(), "_"),
                                    l.protector
                                ),
                                kind: l.kind,
                                hashcat_mode: l.hashcat_mode,
                                line: l.line,
                                file: None,
                            });
                        }
                        continue;
                    }
                    // Containers whose protectors give crack lines.
                    let cracked = match contain(|| dredge_crypt::FileVault::read(&reader)) {
                        Ok(Ok(f)) => Some(("filevault2", dredge_crypt::fvault_lines(&f))),
                        _ => match contain(|| dredge_crypt::BitLocker::read(&reader)) {
                            Ok(Ok(b)) => Some(("bitlocker", dredge_crypt::bitlocker_lines(&b))),
                            _ => match contain(|| dredge_crypt::Encrcdsa::read(&reader)) {
                                Ok(Ok(e)) => Some((
                                    "apple-dmg",
                                    contain(|| dredge_crypt::dmg_lines(&e, &reader))
                                        .unwrap_or_default(),
                                )),
                                _ => None,
                            },
                        },
                    };
                    if let Some((container, found)) = cracked {
                        for l in found {
                            lines.push(HashLine {
                                volume: name.clone(),
                                container,
                                protector: l.protector,
                                kind: l.kind,
                                hashcat_mode: l.hashcat_mode,
                                line: l.line,
                                file: None,
                            });
                        }
                        continue;
                    }
                    // Header files: LUKS1, and volumes that may be VeraCrypt.
                    let (container, files) = match contain(|| dredge_crypt::Luks::read(&reader)) {
                        Ok(Ok(l)) => match dredge_crypt::luks1_header_file(&l) {
                            Some(h) => ("luks1", vec![h]),
                            None => continue,
                        },
                        _ if accepting(&reader, &reg, &mut Vec::new()).is_empty()
                            && contain(|| dredge_crypt::possible_container(&reader))
                                .ok()
                                .flatten()
                                .is_some() =>
                        {
                            (
                                "possible veracrypt/truecrypt",
                                dredge_crypt::tcrypt_header_files().to_vec(),
                            )
                        }
                        _ => continue,
                    };
                    for h in files {
                        let (path, sha256) = match out {
                            Some(dir) => {
                                let (p, s) = write_header(&reader, &h, dir, &name)?;
                                (Some(p), Some(s))
                            }
                            None => (None, None),
                        };
                        lines.push(HashLine {
                            volume: name.clone(),
                            container,
                            protector: h.suffix.to_string(),
                            kind: "password",
                            hashcat_mode: None,
                            line: String::new(),
                            file: Some(HeaderOut {
                                path,
                                sha256,
                                hashcat: h.hashcat,
                            }),
                        });
                    }
                }
            }
            Ok(lines)
        },
        |lines| {
            (
                json!({"password_hashes": lines.iter().map(|l| json!({
                    "volume": l.volume, "container": l.container, "protector": l.protector,
                    "kind": l.kind, "hashcat_mode": l.hashcat_mode, "line": l.line,
                    "file": l.file.as_ref().and_then(|f| f.path.as_deref().map(crate::abs)),
                    "sha256": l.file.as_ref().and_then(|f| f.sha256.clone())})).collect::<Vec<_>>()}),
                json!({"lines": lines.len()}),
            )
        },
    )
}
