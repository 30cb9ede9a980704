//! Older checkpoints: the container keeps the superblocks of its last
//! checkpoints in the descriptor ring, and until their blocks are reused
//! their object maps still lead to the filesystem trees of those
//! transactions. A file deleted since, or an older version of one changed
//! since, is still there. Each older tree is walked only where it differs
//! from newer ones (copy-on-write: a shared block is the same subtree), and
//! only through objects whose checksum holds, since any of them may have been
//! reused. What it holds that the current tree does not is listed as deleted,
//! under its old path, with the transaction it came from.

use crate::btree::Prune;
use crate::container::{parse_apsb, Apsb, Container, Nx};
use crate::entries::{self, Ctx};
use crate::fs::{Inode, Records};
use crate::obj::{Bad, FS};
use crate::omap::Omap;
use crate::{ApfsFs, Vol};
use dredge_core::{Entry, Extent, Finding, Recovery, Run, RunData};
use std::collections::HashSet;

/// Older checkpoints read per volume (the ring rarely holds more).
pub(crate) const MAX_OLDER: usize = 64;
/// Tree numbers of older checkpoints in entry ids start here.
const FIRST_TREE: u64 = 2048;

/// File versions listed as deleted so far: (inode, size, first block's offset).
pub(crate) type Versions = HashSet<(u64, u64, u64)>;

/// Whether `ino` (inode `file`) is the version the live tree holds: the same
/// data stream, size and extents.
pub(crate) fn same_as_live(live: &Records, recs: &Records, file: u64, ino: &Inode) -> bool {
    let Some(l) = live.inodes.get(&file) else {
        return false;
    };
    let own = recs.extents.get(&ino.private_id);
    l.private_id == ino.private_id
        && l.size == ino.size
        && (own.is_none() || own == live.extents.get(&l.private_id))
}

/// The image offset of the first stored byte of `runs` (0 when none is).
pub(crate) fn first_byte(runs: &[Run]) -> u64 {
    runs.iter()
        .find_map(|r| match r.data {
            RunData::Image(a) => Some(a),
            _ => None,
        })
        .unwrap_or(0)
}

/// How a file version found `from` somewhere is recovered, with `used` of
/// its bytes in blocks in use now.
pub(crate) fn recovery(from: &str, used: u64) -> Recovery {
    if used == 0 {
        Recovery::Assumed(format!(
            "{from}; its blocks are free now, nothing says they were not reused"
        ))
    } else {
        Recovery::Overwritten(format!(
            "{from}; {used} bytes of it are in blocks in use now"
        ))
    }
}

/// Bytes of `runs` that lie in blocks in use now.
pub(crate) fn in_use(runs: &[Run], free: &[Extent]) -> u64 {
    let mut used = 0;
    for r in runs {
        let RunData::Image(at) = r.data else { continue };
        let (mut s, e) = (at, at + r.len);
        let mut i = free.partition_point(|x| x.end() <= s);
        while s < e {
            match free.get(i) {
                Some(x) if x.start <= s => {
                    s = x.end().min(e);
                    i += 1;
                }
                Some(x) if x.start < e => {
                    used += x.start - s;
                    s = x.start;
                }
                _ => {
                    used += e - s;
                    s = e;
                }
            }
        }
    }
    used
}

/// The superblock and object map of volume `index` (UUID `uuid`) as the
/// older checkpoint `nx` left them, when every object on the way checks.
pub(crate) fn older_volume(
    c: &Container,
    nx: &Nx,
    index: usize,
    uuid: &[u8; 16],
) -> Option<(Apsb, Omap)> {
    let (mut bad, mut quiet) = (Bad::default(), Vec::new());
    let cmap = Omap::load(
        &c.blocks,
        nx.omap_oid,
        "older object map",
        &mut bad,
        &mut quiet,
    )
    .ok()?;
    let &oid = nx.fs_oids.get(index)?;
    let (at, _) = cmap.get(oid, nx.xid)?;
    let (h, b) = c.blocks.object(at, FS, &mut bad).ok()?;
    let sb = parse_apsb(&b, at).ok()?;
    if !h.sum_ok || &sb.uuid != uuid {
        return None;
    }
    let vomap = Omap::load(
        &c.blocks,
        sb.omap_oid,
        "older object map",
        &mut bad,
        &mut quiet,
    )
    .ok()?;
    (bad.count == 0).then_some((sb, vomap))
}

/// Lists what older checkpoints hold of volume `v` that `live` does not.
#[allow(clippy::too_many_arguments)]
pub(crate) fn older(
    fs: &ApfsFs,
    v: &Vol,
    prefix: &str,
    live: &Records,
    shared: &mut HashSet<u64>,
    versions: &mut Versions,
    visit: &mut dyn FnMut(Entry),
    findings: &mut Vec<Finding>,
) {
    let blocks = &fs.c.blocks;
    let free = fs.free_space().unwrap_or_default();
    let (mut listed, mut xids) = (0u64, Vec::new());
    for (k, nx) in fs.c.older.iter().enumerate().take(MAX_OLDER) {
        // Damage in old structures is expected (their blocks are free to be
        // reused): it costs the checkpoint, and is not reported.
        let Some((sb, vomap)) = older_volume(&fs.c, nx, v.index, &v.sb.uuid) else {
            continue;
        };
        let (mut bad, mut quiet) = (Bad::default(), Vec::new());
        let what = format!("{prefix} at transaction {}", nx.xid);
        let prune = Prune {
            shared: Some(&mut *shared),
            strict: true,
        };
        let Some(recs) = fs.read_tree(
            v,
            &vomap,
            sb.root_tree_oid,
            nx.xid,
            &what,
            prune,
            &mut bad,
            &mut quiet,
        ) else {
            continue;
        };
        let xid = nx.xid;
        let before = listed;
        let mut keep = |file: u64, ino: &Inode, runs: &[Run]| -> Option<(bool, Recovery)> {
            let size = ino.size.unwrap_or(0);
            if ino.mode & 0o170000 != 0o100000 || size == 0 {
                return None;
            }
            if same_as_live(live, &recs, file, ino)
                || !versions.insert((file, size, first_byte(runs)))
            {
                return None;
            }
            listed += 1;
            let from = format!("from the filesystem tree of checkpoint transaction {xid}");
            Some((true, recovery(&from, in_use(runs, free))))
        };
        let cx = Ctx {
            blocks,
            vol_index: v.index,
            tree: FIRST_TREE + k as u64,
            prefix,
            base: Some(live),
            at: blocks.offset(sb.at),
        };
        entries::emit(&cx, &recs, &mut keep, visit, &mut quiet);
        if listed > before {
            xids.push(xid);
        }
    }
    if listed > 0 {
        findings.push(Finding::new(
            blocks.offset(v.sb.at),
            format!(
                "APFS {prefix}: {listed} file version(s) that the current tree no longer holds, from the trees of older checkpoints (transactions {}), listed as deleted",
                xids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
}
