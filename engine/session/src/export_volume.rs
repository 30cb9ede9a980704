//! `dredge export-volume`: the plaintext of unlocked encrypted volumes written
//! as raw images, one file each, so an examiner can open them in other tools.
//! Keys are not in the case, so they are given again; each image's digests, size
//! and unreadable bytes go into the custody log, and a ddrescue mapfile beside
//! an image with unreadable sectors says which (plaintext offsets).

use crate::{abs, fail, open_case, Failure};
use dredge_core::{Extent, ImageSource};
use dredge_crypt::KeySpec;
use dredge_hash::{Algorithms, MultiHasher};
use dredge_image::{MapBlock, MapStatus, Mapfile};
use dredge_store::{Action, SessionCommand};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One plaintext image written.
#[derive(Debug, Clone)]
pub struct ExportedVolume {
    /// The encrypted volume it is the plaintext of (`ev1/v0`).
    pub volume: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    /// Plaintext bytes that could not be made (their ciphertext unreadable).
    pub unreadable: u64,
}

/// The file a volume's plaintext is written to (`ev1-v0.plain.raw`) for
/// evidence `label` and its encrypted volume `container` (`v0`).
pub(crate) fn plain_file_name(label: &str, container: &str) -> String {
    format!("{label}-{container}.plain.raw")
}

/// Writes to `dest` the plaintext of every encrypted volume `keys` open, or
/// only of those in `wanted` (`ev1/v0`).
pub fn export_volumes(
    case_dir: &Path,
    wanted: &[String],
    keys: &[KeySpec],
    dest: &Path,
    interrupt: &AtomicBool,
) -> Result<Vec<ExportedVolume>, Failure> {
    let mut store = open_case(case_dir)?;
    crate::in_action_session(
        &mut store,
        SessionCommand::Export,
        json!({"volumes": wanted, "dest": abs(dest),
               "keys": crate::unlock::key_kinds(keys)}),
        Action::Export,
        |store| -> Result<Vec<ExportedVolume>, Failure> {
            if keys.is_empty() {
                return Err(Failure(
                    "export-volume needs the key again (--key): keys are never kept in the case"
                        .into(),
                ));
            }
            std::fs::create_dir_all(dest)
                .map_err(|e| Failure(format!("{}: cannot create: {e}", dest.display())))?;
            let mut out = Vec::new();
            for ev in store.evidence().map_err(fail)? {
                // Volumes asked for by name: only their evidence is unlocked
                // (a key derivation each, seconds for some kinds).
                let asked = |w: &String| w.split('/').next() == Some(ev.label.as_str());
                if !wanted.is_empty() && !wanted.iter().any(asked) {
                    continue;
                }
                let map = ev.map_path.as_ref().map(PathBuf::from);
                let opened = dredge_image::open_evidence(Path::new(&ev.path), map.as_deref())
                    .map_err(fail)?;
                let raw: Arc<dyn ImageSource> = Arc::from(opened.source);
                let unlocked = crate::unlock::unlock(&raw, &ev.label, keys, interrupt)?;
                for v in &unlocked.plain {
                    let container = v
                        .slot
                        .as_deref()
                        .and_then(|s| s.split_once(':'))
                        .map_or_else(|| "v?".to_string(), |(_, c)| c.to_string());
                    let name = format!("{}/{container}", ev.label);
                    if !wanted.is_empty() && !wanted.contains(&name) {
                        continue;
                    }
                    let file = dest.join(plain_file_name(&ev.label, &container));
                    out.push(write_plain(
                        &unlocked.src,
                        v.extent,
                        &name,
                        &file,
                        interrupt,
                    )?);
                }
            }
            for w in wanted {
                if !out.iter().any(|e| &e.volume == w) {
                    return Err(Failure(format!(
                        "{w}: not an encrypted volume the keys given open"
                    )));
                }
            }
            Ok(out)
        },
        |vols| {
            (
                json!({"dest": abs(dest), "volumes": vols.iter().map(|v| json!({
                    "volume": v.volume, "path": abs(&v.path), "size": v.size,
                    "md5": v.md5, "sha1": v.sha1, "sha256": v.sha256,
                    "unreadable_bytes": v.unreadable})).collect::<Vec<_>>()}),
                json!({"volumes": vols.len()}),
            )
        },
    )
}

/// Copies `extent` of `src` (plaintext) into a new file `to`, hashing it; a
/// mapfile beside it when some of it was unreadable.
fn write_plain(
    src: &Arc<dyn ImageSource>,
    extent: Extent,
    name: &str,
    to: &Path,
    interrupt: &AtomicBool,
) -> Result<ExportedVolume, Failure> {
    let err = |e: std::io::Error| Failure(format!("{}: {e}", to.display()));
    // Never over an earlier export: its hashes are in the custody log.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(err)?;
    let mut hasher = MultiHasher::new(Algorithms::ALL);
    let mut bad: Vec<Extent> = Vec::new();
    let mut at = extent.start;
    while at < extent.end() {
        if interrupt.load(Ordering::Relaxed) {
            return Err(Failure(format!(
                "{}: interrupted; the partial file stays",
                to.display()
            )));
        }
        let n = (extent.end() - at).min(4 << 20) as usize;
        let mut buf = vec![0u8; n];
        let r = src.read_at(at, &mut buf).map_err(fail)?;
        for s in &r.synthesized {
            let e = Extent::new(s.extent.start - extent.start, s.extent.len);
            match bad.last_mut() {
                Some(l) if l.end() == e.start => l.len += e.len,
                _ => bad.push(e),
            }
        }
        f.write_all(&buf).map_err(err)?;
        hasher.update(Arc::new(buf));
        at += n as u64;
    }
    f.sync_all().map_err(err)?;
    if !bad.is_empty() {
        let mut blocks = Vec::new();
        let mut pos = 0;
        for b in &bad {
            if b.start > pos {
                blocks.push(MapBlock::new(pos, b.start - pos, MapStatus::Finished));
            }
            blocks.push(MapBlock::new(b.start, b.len, MapStatus::BadSector));
            pos = b.end();
        }
        if pos < extent.len {
            blocks.push(MapBlock::new(pos, extent.len - pos, MapStatus::Finished));
        }
        let map = Mapfile {
            preamble: vec![format!(
                "# plaintext of {name} written by dredge export-volume: '-' bytes could not be decrypted (their ciphertext was unreadable)"
            )],
            current_pos: 0,
            current_status: '+',
            current_pass: Some(1),
            status_trailing: String::new(),
            blocks,
            tail: Vec::new(),
            final_newline: true,
        };
        let mp = PathBuf::from(format!("{}.map", to.display()));
        std::fs::write(&mp, map.to_string())
            .map_err(|e| Failure(format!("{}: {e}", mp.display())))?;
    }
    let d = hasher.finish();
    Ok(ExportedVolume {
        volume: name.to_string(),
        path: to.to_path_buf(),
        size: extent.len,
        md5: d.md5.unwrap_or_default(),
        sha1: d.sha1.unwrap_or_default(),
        sha256: d.sha256.unwrap_or_default(),
        unreadable: bad.iter().map(|b| b.len).sum(),
    })
}
