//! The Sleuth Kit's body file (3.x: `MD5|name|inode|mode|UID|GID|size|atime|mtime|
//! ctime|crtime`), for `mactime` timelines. Every artifact with at least one time is
//! a line; NTFS $FILE_NAME times are a second line named `… ($FILE_NAME)`, as `fls -m`
//! writes them. Deleted entries are named `… (deleted)`.

use crate::text::{entry_number, macb, unix_seconds, visible};
use crate::Model;
use dredge_store::{ArtifactRecord, Store, StoreError};
use std::io::Write;

/// The body file's separator and line ends cannot appear in a name.
fn name(s: &str) -> String {
    visible(s).replace('|', "\\x7c")
}

/// (atime, mtime, ctime, crtime) from the sources `keep` accepts; None without any.
fn times(a: &ArtifactRecord, keep: impl Fn(&str) -> bool) -> Option<[i64; 4]> {
    let mut t = [0i64; 4];
    let mut any = false;
    for (src, utc) in a.times.iter().filter(|(s, _)| keep(s)) {
        let i = match macb(src) {
            Some('a') => 0,
            Some('m') => 1,
            Some('c') => 2,
            Some('b') => 3,
            _ => continue,
        };
        if let Some(secs) = unix_seconds(utc) {
            if t[i] == 0 {
                t[i] = secs;
                any = true;
            }
        }
    }
    any.then_some(t)
}

pub fn write(store: &Store, _model: &Model, out: &mut dyn Write) -> Result<(), StoreError> {
    store.each_artifact(None, &mut |a| {
        let md5 = a.digests.as_ref().map_or("0", |d| d.0.as_str());
        let inode = entry_number(&a.forensic_path).unwrap_or(0);
        let mode = if a.kind == dredge_core::EntryKind::Directory {
            "d/d---------"
        } else {
            "r/r---------"
        };
        let base = format!(
            "{}{}",
            name(&a.path),
            if a.deleted { " (deleted)" } else { "" }
        );
        let lines = [
            (base.clone(), times(&a, |s| !s.contains(".fn."))),
            (
                format!("{base} ($FILE_NAME)"),
                times(&a, |s| s.contains(".fn.")),
            ),
        ];
        for (n, t) in lines {
            if let Some([at, mt, ct, bt]) = t {
                writeln!(
                    out,
                    "{md5}|{n}|{inode}|{mode}|0|0|{}|{at}|{mt}|{ct}|{bt}",
                    a.size
                )?;
            }
        }
        Ok(())
    })?;
    Ok(())
}
