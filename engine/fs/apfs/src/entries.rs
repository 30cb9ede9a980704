//! A filesystem tree's records as entries: paths from directory records,
//! kinds from modes, extents as runs (holes sparse, blocks past the
//! container cut), symlink targets inline, decmpfs-compressed content
//! decoded as it is read, and each file's attributes as streams of their own
//! (`name:rsrc`, `name:<attribute>`).
//!
//! The same code lists the live tree, snapshots, and older checkpoints'
//! trees; for those a `base` (the live records) stands in for the parts of
//! the tree a walk skipped because they are shared, and `keep` says which
//! inodes are listed and how.

use crate::fs::{self, Inode, Records, XValue};
use crate::obj::Blocks;
use dredge_core::{Entry, EntryKind, Finding, Recovery, Run, RunData, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;

/// Folder depth a path is built through (a loop in parent links stops here).
const MAX_DEPTH: usize = 1024;
/// The root directory's inode number, and the parent it names.
pub(crate) const ROOT: u64 = 2;
const ROOT_PARENT: u64 = 1;
/// `UF_COMPRESSED`.
const COMPRESSED: u32 = 0x20;
/// Extended attributes given ids of their own per inode (slots 2..16).
const MAX_XATTR_SLOTS: usize = 14;

/// One path component: APFS names may not hold '/', but evidence may.
pub(crate) fn clean(name: &str) -> String {
    name.replace('/', ":")
}

/// Where a tree's entries go.
pub(crate) struct Ctx<'a> {
    pub blocks: &'a Blocks,
    pub vol_index: usize,
    /// 0 the live tree, 1.. snapshots, 2048.. older checkpoints.
    pub tree: u64,
    pub prefix: &'a str,
    /// The live tree's records, for what a pruned walk did not read again.
    pub base: Option<&'a Records>,
    /// Image offset findings are reported at.
    pub at: u64,
}

/// Decides, for an inode and its content's runs, whether it is listed:
/// `None` skips it, else (deleted, how its content was traced).
pub(crate) type Keep<'k> = dyn FnMut(u64, &Inode, &[Run]) -> Option<(bool, Recovery)> + 'k;

struct Names<'r> {
    dirs: HashMap<u64, (u64, &'r str)>,
    names: HashMap<u64, Vec<&'r fs::Drec>>,
    order: Vec<u64>,
}

fn names(recs: &Records) -> Names<'_> {
    let mut n = Names {
        dirs: HashMap::new(),
        names: HashMap::new(),
        order: Vec::new(),
    };
    for d in &recs.drecs {
        if d.dtype == 4 {
            n.dirs.entry(d.file).or_insert((d.parent, d.name.as_str()));
        }
        let e = n.names.entry(d.file).or_default();
        if e.is_empty() {
            n.order.push(d.file);
        }
        e.push(d);
    }
    // A directory whose record is lost still names itself and its parent in
    // its inode.
    for (&id, ino) in &recs.inodes {
        if let (0o040000, Some(name)) = (ino.mode & 0o170000, &ino.name) {
            n.dirs.entry(id).or_insert((ino.parent, name.as_str()));
        }
    }
    n
}

fn kind(ino: &Inode, dtype: Option<u16>) -> EntryKind {
    match ino.mode & 0o170000 {
        0o040000 => EntryKind::Directory,
        0o100000 => EntryKind::File,
        0o120000 => EntryKind::Symlink,
        0o020000 | 0o060000 => EntryKind::Device,
        0o010000 => EntryKind::Fifo,
        0o140000 => EntryKind::Socket,
        _ => match dtype {
            Some(4) => EntryKind::Directory,
            Some(8) => EntryKind::File,
            Some(10) => EntryKind::Symlink,
            _ => EntryKind::Other,
        },
    }
}

fn times(ino: &Inode) -> Vec<Timestamp> {
    ["apfs.create", "apfs.modify", "apfs.change", "apfs.access"]
        .iter()
        .zip(ino.times)
        .filter(|(_, t)| *t != 0)
        .map(|(s, t)| Timestamp {
            source: s,
            secs: (t / 1_000_000_000) as i64,
            nanos: (t % 1_000_000_000) as u32,
        })
        .collect()
}

fn inline(b: &[u8]) -> Vec<Run> {
    if b.is_empty() {
        return Vec::new();
    }
    vec![Run {
        file_offset: 0,
        len: b.len() as u64,
        data: RunData::Inline(Arc::from(b)),
    }]
}

/// Runs of the extents owned by `owner`, up to `size`.
pub(crate) fn layout(blocks: &Blocks, ext: Option<&Vec<fs::FileExtent>>, size: u64) -> Vec<Run> {
    let (bs, base, limit) = (blocks.size, blocks.vol.base(), blocks.count);
    let mut ext: Vec<fs::FileExtent> = ext.cloned().unwrap_or_default();
    ext.sort_unstable();
    let mut runs = Vec::new();
    let mut have = 0u64;
    for (off, len, phys) in ext {
        if off < have || off >= size || len == 0 {
            continue;
        }
        if off > have {
            runs.push(Run {
                file_offset: have,
                len: off - have,
                data: RunData::Sparse,
            });
        }
        let len = len.min(size - off);
        let data = if phys == 0 {
            RunData::Sparse
        } else if phys
            .checked_add(len.div_ceil(bs))
            .is_some_and(|e| e <= limit)
        {
            RunData::Image(base + phys * bs)
        } else {
            // Blocks claimed past the container: not read, a gap.
            break;
        };
        runs.push(Run {
            file_offset: off,
            len,
            data,
        });
        have = off + len;
    }
    runs
}

/// The size and runs of a decmpfs-compressed file: its
/// `com.apple.decmpfs` attribute, and its resource fork where the data is
/// there.
fn decompressed<'r>(
    cx: &Ctx,
    xattrs: &[fs::Xattr],
    extents: &dyn Fn(u64) -> Option<&'r Vec<fs::FileExtent>>,
) -> Result<(u64, Vec<Run>), String> {
    let attr = match xattrs.iter().find(|x| x.name == "com.apple.decmpfs") {
        Some(fs::Xattr {
            value: XValue::Embedded(b),
            ..
        }) => b,
        Some(_) => return Err("a com.apple.decmpfs attribute stored as a stream".into()),
        None => return Err("no com.apple.decmpfs attribute".into()),
    };
    dredge_decmpfs::content(attr, || {
        let fork = xattrs.iter().find(|x| x.name == "com.apple.ResourceFork")?;
        let (len, runs) = match &fork.value {
            XValue::Embedded(b) => (b.len() as u64, inline(b)),
            XValue::Stream(owner, size) => (*size, layout(cx.blocks, extents(*owner), *size)),
        };
        Some((Arc::clone(cx.blocks.vol.source()), runs, len))
    })
}

/// Visits the entries of `recs` that `keep` lets through.
pub(crate) fn emit(
    cx: &Ctx,
    recs: &Records,
    keep: &mut Keep,
    visit: &mut dyn FnMut(Entry),
    findings: &mut Vec<Finding>,
) {
    let prefix = cx.prefix;
    let id = |ino: u64, slot: u64| {
        ((cx.vol_index as u64) << 56) | (cx.tree << 44) | (slot << 40) | (ino & ((1 << 40) - 1))
    };
    let own = names(recs);
    let based = cx.base.map(names);
    let dir_of = |d: u64| {
        own.dirs
            .get(&d)
            .or_else(|| based.as_ref().and_then(|b| b.dirs.get(&d)))
    };
    let path_of = |mut dir: u64| -> Option<String> {
        let mut parts: Vec<&str> = Vec::new();
        for _ in 0..MAX_DEPTH {
            if dir == ROOT || dir == ROOT_PARENT {
                parts.reverse();
                return Some(parts.iter().map(|p| format!("/{}", clean(p))).collect());
            }
            let (parent, name) = dir_of(dir)?;
            parts.push(name);
            dir = *parent;
        }
        None
    };
    let (mut orphans, mut compressed, mut nameless, mut many_xattrs) = (0u64, 0u64, 0u64, 0u64);
    let (mut not_decoded, mut first_why) = (0u64, None);
    let full = |d: &fs::Drec, orphans: &mut u64| -> String {
        // The root itself is the prefix; the other children of the root's
        // parent (the private directory) are named as TSK names its
        // special files.
        if d.parent == ROOT_PARENT {
            return if d.file == ROOT {
                prefix.to_string()
            } else {
                format!("{prefix}/${}", clean(&d.name))
            };
        }
        let dir = path_of(d.parent).unwrap_or_else(|| {
            *orphans += 1;
            format!("/$OrphanFiles/parent-{}", d.parent)
        });
        format!("{prefix}{dir}/{}", clean(&d.name))
    };
    let extents = |owner: u64| {
        recs.extents
            .get(&owner)
            .or_else(|| cx.base.and_then(|b| b.extents.get(&owner)))
    };
    // Named inodes in tree order, then inodes no record names, by number.
    let mut order = own.order.clone();
    let mut unnamed: Vec<u64> = recs
        .inodes
        .keys()
        .copied()
        .filter(|i| !own.names.contains_key(i))
        .collect();
    unnamed.sort_unstable();
    order.extend(unnamed);
    for file in order {
        let Some(ino) = recs.inodes.get(&file) else {
            continue;
        };
        let ds: &[&fs::Drec] = own
            .names
            .get(&file)
            .or_else(|| based.as_ref().and_then(|b| b.names.get(&file)))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let (path, other) = match ds.split_first() {
            Some((first, rest)) => (
                full(first, &mut orphans),
                rest.iter().map(|d| full(d, &mut orphans)).collect(),
            ),
            None => {
                nameless += 1;
                let dir = path_of(ino.parent).unwrap_or_else(|| "/$OrphanFiles".into());
                let name = ino.name.clone().unwrap_or_else(|| format!("inode-{file}"));
                (format!("{prefix}{dir}/{}", clean(&name)), Vec::new())
            }
        };
        let kind = kind(ino, ds.first().map(|d| d.dtype));
        let xattrs = recs
            .xattrs
            .get(&file)
            .or_else(|| cx.base.and_then(|b| b.xattrs.get(&file)))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut undecoded = None;
        let (size, runs) = match kind {
            EntryKind::File if ino.bsd_flags & COMPRESSED != 0 => {
                match decompressed(cx, xattrs, &extents) {
                    Ok(x) => x,
                    Err(why) => {
                        undecoded = Some(why);
                        let size = ino.size.unwrap_or(0);
                        (size, layout(cx.blocks, extents(ino.private_id), size))
                    }
                }
            }
            EntryKind::File => {
                let size = ino.size.unwrap_or(0);
                (size, layout(cx.blocks, extents(ino.private_id), size))
            }
            EntryKind::Symlink => match xattrs.iter().find(|x| x.name == "com.apple.fs.symlink") {
                Some(fs::Xattr {
                    value: XValue::Embedded(t),
                    ..
                }) => {
                    let t = t.split(|&c| c == 0).next().unwrap_or(&[]);
                    (t.len() as u64, inline(t))
                }
                _ => (0, Vec::new()),
            },
            _ => (0, Vec::new()),
        };
        let Some((deleted, recovery)) = keep(file, ino, &runs) else {
            continue;
        };
        if ino.bsd_flags & COMPRESSED != 0 {
            compressed += 1;
        }
        if let Some(why) = undecoded {
            not_decoded += 1;
            first_why.get_or_insert(why);
        }
        let times = times(ino);
        // The root is the volume itself: only its attributes are listed.
        if file != ROOT {
            visit(Entry {
                id: id(file, 0),
                path: path.clone(),
                other_names: other,
                kind,
                deleted,
                size,
                times: times.clone(),
                runs,
                recovery: recovery.clone(),
                meta_offset: ino.at,
            });
        }
        // Attributes: the resource fork, then the others in tree order (the
        // symlink target is the link's content, not listed again).
        let mut slot = 2u64;
        for x in xattrs {
            if x.name == "com.apple.fs.symlink" {
                continue;
            }
            let (name, s) = if x.name == "com.apple.ResourceFork" {
                ("rsrc".to_string(), 1)
            } else {
                if slot as usize >= 2 + MAX_XATTR_SLOTS {
                    many_xattrs += 1;
                    continue;
                }
                slot += 1;
                (clean(&x.name), slot - 1)
            };
            let (size, runs) = match &x.value {
                XValue::Embedded(b) => (b.len() as u64, inline(b)),
                XValue::Stream(owner, size) => (*size, layout(cx.blocks, extents(*owner), *size)),
            };
            visit(Entry {
                id: id(file, s),
                path: format!("{path}:{name}"),
                other_names: Vec::new(),
                kind: EntryKind::File,
                deleted,
                size,
                times: times.clone(),
                runs,
                recovery: recovery.clone(),
                meta_offset: ino.at,
            });
        }
    }
    for (n, what) in [
        (orphans, "name(s) whose parent directories are missing, listed under $OrphanFiles"),
        (nameless, "inode(s) no directory record names, listed by the name in the inode"),
        (compressed, "file(s) are compressed (decmpfs): their content is decoded as they are read, their stored streams listed too"),
        (not_decoded, &format!("compressed file(s) whose content could not be decoded (the first: {}): listed with their stored streams", first_why.unwrap_or_default())),
        (many_xattrs, "extended attribute(s) past the 14 each file is listed with"),
    ] {
        if n > 0 {
            findings.push(Finding::new(cx.at, format!("APFS {prefix}: {n} {what}")));
        }
    }
}
