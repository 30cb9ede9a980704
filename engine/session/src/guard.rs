//! Cheap before/after checks of evidence files around a command: size, modification
//! and status-change times. A full re-hash is what `verify` does; this catches a
//! write to the evidence during a command without reading terabytes twice.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn stamp(p: &Path) -> std::io::Result<Stamp> {
    let m = std::fs::metadata(p)?;
    Ok(Stamp {
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

pub struct EvidenceGuard {
    files: Vec<(PathBuf, Stamp)>,
}

impl EvidenceGuard {
    pub fn capture(paths: &[PathBuf]) -> Result<Self, String> {
        let mut files = Vec::new();
        for p in paths {
            let s = stamp(p).map_err(|e| format!("{}: {e}", p.display()))?;
            files.push((p.clone(), s));
        }
        Ok(EvidenceGuard { files })
    }

    /// Fails naming the first file whose metadata changed since `capture`.
    pub fn check(&self) -> Result<(), String> {
        for (p, before) in &self.files {
            let after = stamp(p).map_err(|e| format!("{}: {e}", p.display()))?;
            if &after != before {
                return Err(format!(
                    "{}: evidence changed while it was being read (size {} -> {}, mtime {:?} -> {:?})",
                    p.display(),
                    before.len,
                    after.len,
                    before.mtime,
                    after.mtime
                ));
            }
        }
        Ok(())
    }
}
