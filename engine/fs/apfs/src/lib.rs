//! APFS, read-only and forensic (issue 15): the container superblock and its
//! checkpoint ring (the newest checkpoint whose superblock checks and whose
//! volumes resolve; older ones when it does not), object maps, and every
//! volume's filesystem tree: directories, files with their extents (holes as
//! sparse runs), symlinks (recorded with their target, never followed), hard
//! links (one entry, the other names listed), extended attributes and
//! resource forks (`name:<attribute>`, `name:rsrc`), times in nanoseconds.
//! Snapshots are listed from each volume's snapshot metadata tree and their
//! trees read as of their transaction, under `/<volume>/snapshot:<name>`.
//! Every object's Fletcher-64 checksum is checked; a wrong one is a finding
//! and the object is still used where it parses. Free space comes from the
//! space manager's bitmaps. Layout: Apple File System Reference (2020).
//!
//! Deleted files and older versions come from the trees of older checkpoints
//! (`history`) and from orphaned filesystem-tree nodes the pass finds in free
//! space (`orphans`). decmpfs compression is decoded as files are read.
//!
//! FileVault: an encrypted volume's key bags are read and its protectors
//! named (`keybag`); with a key the examiner gives, `unlock` makes a
//! decrypted layer of the container, through which the volume's tree
//! nodes pass their checksums and are read like any others.

mod btree;
mod container;
mod entries;
mod fs;
mod history;
mod keybag;
mod obj;
mod omap;
mod orphans;
mod space;
mod unlock;

use container::{parse_apsb, Apsb, Container, UNENCRYPTED};
use dredge_core::bytes::{le16, le64};
use dredge_core::{Entry, Extent, FileSystem, Finding, Hunt, Recovery, VolumeReader};
use entries::{clean, Ctx};
use fs::Records;
use obj::{Bad, FS};
use omap::Omap;
use std::collections::HashSet;
use std::sync::OnceLock;

pub use keybag::{Protector, VolumeKeys, Wrapped};
pub use unlock::{crack_lines, encrypted_volumes, unlock};

/// Snapshots read per volume (each is a tree of its own in the ids).
const MAX_SNAPSHOTS: usize = 2047;

/// Whether the volume holds an APFS container.
pub fn probe(vol: &VolumeReader) -> bool {
    container::probe(vol)
}

/// A snapshot of a volume.
#[derive(Clone, Debug)]
struct Snap {
    xid: u64,
    name: String,
    sb_at: u64,
}

struct Vol {
    index: usize,
    sb: Apsb,
    omap: Option<Omap>,
    snaps: Vec<Snap>,
}

pub struct ApfsFs {
    c: Container,
    vols: Vec<Vol>,
    findings: Vec<Finding>,
    /// Image offsets of the orphaned filesystem-tree nodes the pass found.
    orphans: OnceLock<Vec<u64>>,
    /// The space manager's free extents, read once (every volume's older
    /// checkpoints and orphaned nodes ask, and the hunt).
    free: OnceLock<Result<Vec<Extent>, String>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl ApfsFs {
    pub fn open(vol: VolumeReader) -> Result<ApfsFs, Finding> {
        let mut c = Container::open(vol)?;
        let mut findings = std::mem::take(&mut c.findings);
        let mut bad = std::mem::take(&mut c.bad);
        let mut vols = Vec::new();
        let mut keys: Option<Vec<VolumeKeys>> = None;
        for (index, sb) in c.volumes.clone() {
            let at = c.blocks.offset(sb.at);
            let omap = match Omap::load(
                &c.blocks,
                sb.omap_oid,
                "volume object map",
                &mut bad,
                &mut findings,
            ) {
                Ok(m) => Some(m),
                Err(why) => {
                    findings.push(Finding::new(
                        at,
                        format!(
                            "APFS volume \"{}\": {why}; its files cannot be listed",
                            sb.name
                        ),
                    ));
                    None
                }
            };
            if sb.fs_flags & UNENCRYPTED == 0 {
                let readable = omap
                    .as_ref()
                    .is_some_and(|m| plaintext_root(&c, m, sb.root_tree_oid));
                let what = if readable {
                    format!(
                        "APFS volume \"{}\" (uuid {}) is encrypted (FileVault) and read through its volume key",
                        sb.name,
                        hex(&sb.uuid)
                    )
                } else {
                    let keys = keys.get_or_insert_with(|| keybag::read_keys(&c));
                    let prot = keys.iter().find(|k| k.uuid == sb.uuid).map_or_else(
                        || "its key bags do not read".to_string(),
                        VolumeKeys::describe,
                    );
                    format!(
                        "APFS volume \"{}\" (uuid {}) is encrypted (FileVault); {prot}. Its files need the volume key: scan with --key password=… (a user's password or the recovery key) or --key master-key=HEX; `dredge hashes` gives a hashcat line (mode 18300)",
                        sb.name,
                        hex(&sb.uuid)
                    )
                };
                findings.push(Finding::new(at, what));
            }
            let snaps = if sb.snap_meta_tree_oid != 0 {
                snapshots(&c, &sb, &mut bad, &mut findings)
            } else {
                Vec::new()
            };
            vols.push(Vol {
                index,
                sb,
                omap,
                snaps,
            });
        }
        c.bad = bad;
        Ok(ApfsFs {
            c,
            vols,
            findings,
            orphans: OnceLock::new(),
            free: OnceLock::new(),
        })
    }

    /// Reads one filesystem tree (the volume's, a snapshot's, an older
    /// checkpoint's) as of transaction `xid` through `omap`; `None` (with a
    /// finding) where its root cannot be found or is encrypted.
    #[allow(clippy::too_many_arguments)]
    fn read_tree(
        &self,
        v: &Vol,
        omap: &Omap,
        root_oid: u64,
        xid: u64,
        prefix: &str,
        prune: btree::Prune,
        bad: &mut Bad,
        findings: &mut Vec<Finding>,
    ) -> Option<Records> {
        let at = self.c.blocks.offset(v.sb.at);
        let Some((root, flags)) = omap.get(root_oid, xid) else {
            findings.push(Finding::new(at, format!("APFS {prefix}: the filesystem tree's root (oid {root_oid:#x}) is not in the object map at transaction {xid}")));
            return None;
        };
        // Ciphertext fails its checksum; read through an unlocked layer,
        // the node is plaintext and is read like any other.
        if flags & omap::ENCRYPTED != 0 && !checks(&self.c.blocks, root) {
            findings.push(Finding::new(
                at,
                format!("APFS {prefix}: the filesystem tree is encrypted; nothing of it is listed"),
            ));
            return None;
        }
        let mut recs = Records::default();
        btree::walk_with(
            &self.c.blocks,
            root,
            &format!("filesystem tree of {prefix}"),
            &|oid| omap.get(oid, xid).map(|x| x.0),
            &mut |at, k, val| {
                recs.add(at, k, val);
                true
            },
            prune,
            bad,
            findings,
        );
        if recs.dropped > 0 {
            findings.push(Finding::new(
                at,
                format!(
                    "APFS {prefix}: {} filesystem records did not parse or were past the limit",
                    recs.dropped
                ),
            ));
        }
        Some(recs)
    }

    /// Every tree of every volume; with `for_orphans`, only what the older
    /// checkpoints and orphaned nodes are read against (snapshots skipped).
    fn walk_all(
        &self,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
        for_orphans: bool,
    ) {
        let mut bad = Bad::default();
        let all =
            &mut |_: u64, _: &fs::Inode, _: &[dredge_core::Run]| Some((false, Recovery::Allocated));
        let mut orphans = orphans::Orphans::new(self);
        for v in &self.vols {
            // Versions listed as deleted, by older checkpoints then orphans.
            let mut versions = history::Versions::new();
            let Some(omap) = &v.omap else { continue };
            let prefix = format!("/{}", clean(&v.sb.name));
            // Blocks of the live tree: older trees share them where nothing
            // changed, and are read only where something did.
            let mut shared = HashSet::new();
            let prune = btree::Prune {
                shared: Some(&mut shared),
                strict: false,
            };
            let live = self.read_tree(
                v,
                omap,
                v.sb.root_tree_oid,
                self.c.nx.xid,
                &prefix,
                prune,
                &mut bad,
                findings,
            );
            if let Some(recs) = &live {
                entries::emit(&self.ctx(v, 0, &prefix, None), recs, all, visit, findings);
            }
            let snaps = if for_orphans { &[][..] } else { &v.snaps[..] };
            for (i, s) in snaps.iter().enumerate() {
                let sp = format!("{prefix}/snapshot:{}", clean(&s.name));
                let sb = self
                    .c
                    .blocks
                    .object(s.sb_at, FS, &mut bad)
                    .and_then(|(_, b)| parse_apsb(&b, s.sb_at));
                match sb {
                    Ok(sb) => {
                        if let Some(recs) = self.read_tree(
                            v,
                            omap,
                            sb.root_tree_oid,
                            s.xid,
                            &sp,
                            btree::Prune::default(),
                            &mut bad,
                            findings,
                        ) {
                            entries::emit(
                                &self.ctx(v, i as u64 + 1, &sp, None),
                                &recs,
                                all,
                                visit,
                                findings,
                            );
                        }
                    }
                    Err(why) => findings.push(Finding::new(
                        self.c.blocks.offset(v.sb.at),
                        format!(
                            "APFS snapshot \"{}\" (transaction {}): its volume superblock: {why}",
                            s.name, s.xid
                        ),
                    )),
                }
            }
            if let Some(live) = &live {
                history::older(
                    self,
                    v,
                    &prefix,
                    live,
                    &mut shared,
                    &mut versions,
                    visit,
                    findings,
                );
                if let Some(o) = orphans.as_mut() {
                    o.emit(
                        self,
                        v,
                        &prefix,
                        live,
                        &shared,
                        &mut versions,
                        visit,
                        findings,
                        false,
                    );
                }
            }
        }
        // Nodes no volume took (every record of a deleted file, in a
        // container of several volumes): listed apart, not guessed into one.
        if let Some(o) = orphans.as_mut().filter(|o| o.unplaced() > 0) {
            let n = o.unplaced();
            if let Some(v) = self.vols.iter().find(|v| v.omap.is_some()) {
                o.emit(
                    self,
                    v,
                    orphans::UNPLACED_PREFIX,
                    &Records::default(),
                    &HashSet::new(),
                    &mut history::Versions::new(),
                    visit,
                    findings,
                    true,
                );
            }
            findings.push(Finding::new(
                self.c.blocks.vol.base(),
                format!("APFS: {n} orphaned filesystem-tree node(s) in free space share no record with any volume's current tree; what they hold is listed under {} (which volume it was on is unknown)", orphans::UNPLACED_PREFIX),
            ));
        }
        let all = Bad {
            count: bad.count + self.c.bad.count,
            first: self.c.bad.first.or(bad.first),
        };
        if let Some(first) = all.first {
            findings.push(Finding::new(first, format!("APFS: {} object(s) fail their Fletcher-64 checksum (the first here); each was used where it parsed", all.count)));
        }
    }

    /// The container's free extents, or why the space manager is unreadable.
    fn free_space(&self) -> Result<&[Extent], &str> {
        self.free
            .get_or_init(|| space::free(&self.c, &mut Bad::default()))
            .as_deref()
            .map_err(String::as_str)
    }

    fn ctx<'a>(
        &'a self,
        v: &Vol,
        tree: u64,
        prefix: &'a str,
        base: Option<&'a Records>,
    ) -> Ctx<'a> {
        Ctx {
            blocks: &self.c.blocks,
            vol_index: v.index,
            tree,
            prefix,
            base,
            at: self.c.blocks.offset(v.sb.at),
        }
    }
}

/// Whether the volume's live tree root (encrypted, by its object map) reads
/// as plaintext: through an unlocked layer its checksum holds.
fn plaintext_root(c: &Container, omap: &Omap, root_oid: u64) -> bool {
    omap.get(root_oid, c.nx.xid)
        .is_some_and(|(n, _)| checks(&c.blocks, n))
}

/// Whether block `n` reads whole with a Fletcher-64 that holds (ciphertext
/// does not; the same node read through an unlocked layer does).
fn checks(blocks: &obj::Blocks, n: u64) -> bool {
    blocks.read(n).is_ok_and(|b| obj::head(&b).sum_ok)
}

/// The snapshots in a volume's snapshot metadata tree, oldest first.
fn snapshots(c: &Container, sb: &Apsb, bad: &mut Bad, findings: &mut Vec<Finding>) -> Vec<Snap> {
    let mut out = Vec::new();
    btree::walk(
        &c.blocks,
        sb.snap_meta_tree_oid,
        "snapshot metadata tree",
        &|oid| Some(oid),
        &mut |_, k, v| {
            let hdr = le64(k, 0);
            if hdr >> 60 == 1 && v.len() >= 50 && out.len() < MAX_SNAPSHOTS {
                let n = usize::from(le16::<u16>(v, 48));
                let raw = v.get(50..50 + n).unwrap_or(&[]);
                let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                out.push(Snap {
                    xid: hdr & ((1 << 60) - 1),
                    name: String::from_utf8_lossy(&raw[..end]).into_owned(),
                    sb_at: le64(v, 8),
                });
            }
            true
        },
        bad,
        findings,
    );
    out
}

impl FileSystem for ApfsFs {
    fn type_name(&self) -> &'static str {
        "apfs"
    }

    fn label(&self) -> Option<String> {
        let names: Vec<&str> = self.vols.iter().map(|v| v.sb.name.as_str()).collect();
        (!names.is_empty()).then(|| names.join(", "))
    }

    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        self.walk_all(visit, findings, false);
    }

    fn unallocated(&self, findings: &mut Vec<Finding>) -> Vec<Extent> {
        match self.free_space() {
            Ok(x) => x.to_vec(),
            Err(why) => {
                let vol = &self.c.blocks.vol;
                findings.push(Finding::new(
                    vol.base(),
                    format!("APFS space manager unreadable ({why}): the whole container is carved"),
                ));
                vec![Extent::new(vol.base(), vol.len())]
            }
        }
    }

    fn hunt(&self) -> Option<Hunt> {
        if self.vols.iter().all(|v| v.omap.is_none()) {
            return None;
        }
        let free = self.free_space().ok()?;
        (!free.is_empty()).then(|| Hunt {
            extents: free.to_vec(),
            origin: self.c.blocks.vol.base(),
            unit: self.c.blocks.size,
            test: orphans::is_fs_leaf,
            limit: orphans::MAX_NODES,
        })
    }

    fn hunted(&self, found: Vec<u64>) {
        let _ = self.orphans.set(found);
    }

    fn walk_hunted(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        if self.orphans.get().is_none_or(Vec::is_empty) {
            return;
        }
        // The whole walk, for the live trees the orphans are read against;
        // only what they add is handed on, and only their findings kept.
        let mut all = Vec::new();
        self.walk_all(
            &mut |e| {
                if orphans::is_orphan_id(e.id) {
                    visit(e)
                }
            },
            &mut all,
            true,
        );
        findings.extend(
            all.into_iter()
                .filter(|f| f.what.contains("orphaned filesystem-tree node")),
        );
    }

    fn open_findings(&self) -> Vec<Finding> {
        let mut f = self.findings.clone();
        for v in &self.vols {
            let snaps: Vec<String> = v
                .snaps
                .iter()
                .map(|s| format!("{} (transaction {})", s.name, s.xid))
                .collect();
            f.push(Finding::new(
                self.c.blocks.offset(v.sb.at),
                format!(
                    "APFS container {}: volume {} \"{}\" uuid {} role {:#x}, {} file(s) by its count, {}",
                    hex(&self.c.nx.uuid),
                    v.index,
                    v.sb.name,
                    hex(&v.sb.uuid),
                    v.sb.role,
                    v.sb.num_files,
                    if snaps.is_empty() {
                        "no snapshots".to_string()
                    } else {
                        format!("snapshots: {}", snaps.join(", "))
                    }
                ),
            ));
        }
        f
    }
}
