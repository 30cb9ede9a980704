//! FAT12/16/32, read-only and forensic: deleted entries and their long names,
//! deleted files traced through the FAT or through free clusters, the FAT32 backup
//! boot sector, and every FAT copy. Written here rather than using the `fatfs` crate,
//! which needs write access, writes FSInfo on drop and cannot see deleted entries
//! (docs/decisions/0005-own-fat-parser.md).

mod bpb;
mod dir;
mod geometry;
mod joint;
mod layout;
mod orphan;
mod table;

pub use bpb::{Bpb, FatType};
use dredge_core::dirqueue::DirQueue;
use dredge_core::{
    Entry, EntryKind, Extent, FileSystem, Finding, Recovery, Run, RunData, VolumeReader,
};
use joint::Plan;
use orphan::Orphans;

/// What the first walk of the tree gathers.
#[derive(Default)]
struct Gathered {
    /// Deleted files: (start cluster, clusters needed).
    deleted: Vec<(u32, u64)>,
    /// Every entry's start cluster, live or deleted, file or directory.
    starts: Vec<u32>,
}

/// What the second walk uses: the deleted files' plan, and (made when first
/// needed) which clusters a FAT link or an entry names, so the heads of
/// chains no entry names can be told (for a live file whose start cluster
/// was damaged).
struct Joint {
    plan: Plan,
    starts: Vec<u32>,
    linked: std::cell::OnceCell<Vec<u64>>,
    /// Unnamed chain heads taken for a live file whose start was damaged (not
    /// lost chains, then).
    taken_heads: std::cell::RefCell<Vec<u32>>,
    /// Links the size-field repair may still follow (`FatFs::size_for`).
    size_budget: std::cell::Cell<u64>,
}
use table::Table;

/// Clusters the joint plan of deleted files may assign per volume.
const PLAN_BUDGET: u64 = 1 << 26;

/// Cluster links the size-field repair may follow per volume.
const SIZE_BUDGET: u64 = 1 << 26;

/// A directory holds at most 65 536 entries (FAT specification).
const MAX_DIR_BYTES: u64 = 65_536 * 32;
/// Directory nesting we follow; deeper is damage or a loop.
const MAX_DEPTH: usize = 64;

pub struct FatFs {
    vol: VolumeReader,
    bpb: Bpb,
    fat: Table,
    findings: Vec<Finding>,
}

fn read_boot(vol: &VolumeReader, at: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; 512];
    let r = vol.read_at(at, &mut b).ok()?;
    (r.len == 512).then_some(b)
}

/// Cheap check: does the volume start with a FAT boot sector (or keep a FAT32
/// backup at sector 6)?
pub fn probe(vol: &VolumeReader) -> bool {
    [0u64, 6 * 512]
        .iter()
        .filter_map(|&at| read_boot(vol, at).map(|b| (at, b)))
        .any(|(at, b)| {
            let p = Bpb::parse(&b, vol.base(), at);
            p.is_ok_and(|p| at == 0 || p.fat_type == FatType::Fat32)
                || (at == 0 && geometry::looks_like_fat_boot(&b))
        })
}

impl FatFs {
    pub fn open(vol: VolumeReader) -> Result<FatFs, Finding> {
        let mut findings = Vec::new();
        let primary = read_boot(&vol, 0)
            .ok_or_else(|| Finding::new(vol.base(), "volume too small for a boot sector"))
            .and_then(|b| Bpb::parse(&b, vol.base(), 0));
        // A boot sector whose geometry puts no FAT (or no subdirectory) where
        // it says, or that does not parse, is repaired by probing when it can
        // be (geometry.rs); the FAT32 backup is tried before that.
        let boot = read_boot(&vol, 0);
        let repaired = || boot.as_deref().and_then(|s| geometry::repair(&vol, s));
        let primary = match primary {
            Ok(b) if !geometry::sane(&vol, &b) => match repaired() {
                Some((r, notes)) => {
                    findings.extend(notes);
                    Ok(r)
                }
                None => Ok(b),
            },
            other => other,
        };
        let bpb = match primary {
            Ok(b) => b,
            Err(f) => {
                // FAT32 keeps a copy of the boot sector at sector 6.
                let backup = read_boot(&vol, 6 * 512)
                    .and_then(|b| Bpb::parse(&b, vol.base(), 6 * 512).ok())
                    .filter(|b| b.fat_type == FatType::Fat32);
                match backup {
                    Some(b) => {
                        findings.push(f);
                        findings.push(Finding::new(
                            vol.base() + 6 * 512,
                            "primary boot sector unusable; FAT32 backup boot sector (sector 6) used",
                        ));
                        b
                    }
                    None => match repaired() {
                        Some((r, notes)) => {
                            findings.push(f);
                            findings.extend(notes);
                            r
                        }
                        None => return Err(f),
                    },
                }
            }
        };
        if let Some(claimed) = bpb.claimed_sectors {
            findings.push(
                Finding::new(
                    vol.base() + 19,
                    "FAT boot sector's total sector count needs more clusters than the FAT holds; the clusters the FAT holds were used",
                )
                .expected(format!("<= {} sectors", bpb.total_sectors), claimed),
            );
        }
        let fat = Table::load(&vol, &bpb, &mut findings)?;
        if bpb.total_sectors * u64::from(bpb.bytes_per_sector) > vol.len() {
            findings.push(
                Finding::new(
                    vol.base(),
                    "FAT volume is larger than the space it was found in",
                )
                .expected(
                    format!("<= {} bytes", vol.len()),
                    bpb.total_sectors * u64::from(bpb.bytes_per_sector),
                ),
            );
        }
        Ok(FatFs {
            vol,
            bpb,
            fat,
            findings,
        })
    }

    pub fn bpb(&self) -> &Bpb {
        &self.bpb
    }

    fn abs(&self, vol_off: u64) -> u64 {
        self.vol.base() + vol_off
    }

    fn cluster_runs(&self, clusters: &[u32], size: u64) -> Vec<Run> {
        let cs = self.bpb.cluster_size();
        let mut runs: Vec<Run> = Vec::new();
        let mut file_off = 0u64;
        for &c in clusters {
            if file_off >= size {
                break;
            }
            let len = cs.min(size - file_off);
            let img = self.abs(self.bpb.cluster_offset(c));
            match runs.last_mut() {
                Some(Run {
                    data: RunData::Image(start),
                    len: l,
                    ..
                }) if *start + *l == img => *l += len,
                _ => runs.push(Run {
                    file_offset: file_off,
                    len,
                    data: RunData::Image(img),
                }),
            }
            file_off += len;
        }
        runs
    }

    /// What following `what`'s chain found: the copy chosen when it was not
    /// the first, and why a chain does not fit (`need` clusters for a file).
    fn chain_findings(
        &self,
        p: &table::Picked,
        name: &str,
        what: &str,
        meta: u64,
        need: u64,
        findings: &mut Vec<Finding>,
    ) {
        let first = self.bpb.active_fat.unwrap_or(0) + 1;
        match p.from {
            table::ChainFrom::Other(n) => findings.push(Finding::new(
                meta,
                format!(
                    "{what} {name}: FAT {first} breaks its chain{}; FAT {}'s chain fits and was used",
                    p.stop.as_deref().map(|s| format!(" ({s})")).unwrap_or_default(),
                    n + 1
                ),
            )),
            table::ChainFrom::Merged(n) => findings.push(Finding::new(
                meta,
                format!(
                    "{what} {name}: neither FAT copy alone gives a chain that fits; FAT {first} and FAT {} merged link by link",
                    n + 1
                ),
            )),
            table::ChainFrom::First => {
                if let Some(s) = &p.stop {
                    findings.push(Finding::new(meta, format!("{what} {name}: {s}")));
                } else if what == "file" && (p.clusters.len() as u64) < need {
                    findings.push(
                        Finding::new(
                            meta,
                            format!("file {name}: cluster chain shorter than the file size"),
                        )
                        .expected(format!("{need} clusters"), p.clusters.len()),
                    );
                } else if what == "file" && !p.fits {
                    findings.push(
                        Finding::new(
                            meta,
                            format!("file {name}: cluster chain longer than the file size (cut to it)"),
                        )
                        .expected(format!("end of chain after {need} clusters"), "more"),
                    );
                }
            }
        }
    }

    /// A directory's clusters and their data.
    fn dir_data(&self, clusters: &[u32], findings: &mut Vec<Finding>) -> (Vec<u8>, Vec<u64>) {
        let cs = self.bpb.cluster_size();
        let mut data = Vec::new();
        let mut starts = Vec::new();
        for &c in clusters {
            let off = self.bpb.cluster_offset(c);
            match self.vol.read_vec(off, cs, MAX_DIR_BYTES) {
                Ok((v, rep)) => {
                    if !rep.is_clean() {
                        findings.push(Finding::new(self.abs(off), format!("directory cluster {c} is partly unreadable; its entries there are lost")));
                    }
                    starts.push(self.abs(off));
                    data.extend_from_slice(&v);
                }
                Err(e) => findings.push(Finding::new(
                    self.abs(off),
                    format!("cannot read directory cluster {c}: {e}"),
                )),
            }
        }
        (data, starts)
    }

    /// The root directory's data, chunk starts and (FAT32) clusters.
    fn root(&self, findings: &mut Vec<Finding>) -> (Vec<u8>, Vec<u64>, Vec<u32>) {
        if self.bpb.fat_type == FatType::Fat32 {
            let limit = MAX_DIR_BYTES / self.bpb.cluster_size() + 1;
            let p = self.fat.pick(self.bpb.root_cluster, None, limit);
            let at = self.abs(self.bpb.cluster_offset(self.bpb.root_cluster));
            self.chain_findings(&p, "the root directory", "directory", at, 0, findings);
            let (data, starts) = self.dir_data(&p.clusters, findings);
            return (data, starts, p.clusters);
        }
        let off = self.bpb.root_dir_offset();
        match self
            .vol
            .read_vec(off, self.bpb.root_dir_bytes(), MAX_DIR_BYTES)
        {
            Ok((v, rep)) => {
                if !rep.is_clean() {
                    findings.push(Finding::new(
                        self.abs(off),
                        "root directory is partly unreadable",
                    ));
                }
                (v, vec![self.abs(off)], Vec::new())
            }
            Err(e) => {
                findings.push(Finding::new(
                    self.abs(off),
                    format!("cannot read root directory: {e}"),
                ));
                (Vec::new(), Vec::new(), Vec::new())
            }
        }
    }

    /// Image offset of slot `slot` in a directory made of chunks starting at `starts`.
    fn slot_offset(&self, starts: &[u64], slot: usize, chunk: u64) -> u64 {
        let byte = slot as u64 * 32;
        let i = (byte / chunk) as usize;
        starts.get(i).map_or(0, |s| s + byte % chunk)
    }
}

impl FatFs {
    /// The directory tree, entry by entry. With `collect`, only the deleted
    /// files' (start cluster, clusters needed) are gathered (nothing is
    /// visited and no allocated file's chain is followed).
    fn walk_dirs(
        &self,
        joint: Option<&Joint>,
        mut collect: Option<&mut Gathered>,
        orphans: &Orphans,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let cs = self.bpb.cluster_size();
        let vol_bytes = self.vol.len();
        let fat32 = self.bpb.fat_type == FatType::Fat32;
        // Folders are read when their turn comes, plainest claim first, each
        // cluster once (DirQueue); the root first.
        let mut queue: DirQueue<u32, (String, usize, u64)> = DirQueue::default();
        // (directory data, chunk starts, chunk size, path, depth, deleted parent)
        let (root, root_starts, root_clusters) = self.root(findings);
        queue.mark_read(root_clusters);
        let root_chunk = if fat32 { cs } else { root.len().max(1) as u64 };
        let mut first = Some((root, root_starts, root_chunk, String::new(), 0usize, false));
        let mut tops = orphans.dirs.iter();
        let mut lost_dirs = 0;
        loop {
            let (data, starts, chunk, path, depth, parent_deleted) = match first.take() {
                Some(x) => x,
                None => {
                    let Some(turn) = queue.take() else {
                        // The tree from the root is read; the folders no
                        // entry names next, each read once.
                        let Some(d) = tops.next() else {
                            break;
                        };
                        if !queue.was_read(&d.cluster) {
                            lost_dirs += 1;
                            let (e, clusters) = self.orphan_dir(d, findings);
                            queue.push(false, clusters, (e.path.clone(), 1, e.meta_offset));
                            visit(e);
                        }
                        continue;
                    };
                    let (full, depth, meta) = turn.item;
                    if let Some(c) = turn.cut_at {
                        findings.push(Finding::new(
                            meta,
                            if turn.clusters.is_empty() {
                                format!("directory {full} points to a directory already visited (cluster {c}); not entered again")
                            } else {
                                format!("directory {full} runs into clusters already read as a directory at cluster {c}; read up to there")
                            },
                        ));
                    }
                    if turn.clusters.is_empty() {
                        continue;
                    }
                    let (d, s) = self.dir_data(&turn.clusters, findings);
                    // Every subdirectory begins with its "." and ".." entries
                    // (a deleted one keeps them). A cluster that does not is no
                    // directory: overwritten, or a damaged entry's pointer into
                    // data. Read as one, random bytes give thousands of
                    // nonsense "entries" pointing to more of them.
                    if !dir::starts_with_dots(&d) {
                        findings.push(Finding::new(
                            s.first().copied().unwrap_or(meta),
                            format!(
                                "directory {full}: its cluster {} does not begin with the \".\" and \"..\" entries every directory has; not read as a directory",
                                turn.clusters[0]
                            ),
                        ));
                        continue;
                    }
                    (d, s, cs, full, depth, turn.deleted)
                }
            };
            for e in dir::parse(&data, self.fat.max_cluster(), vol_bytes, fat32) {
                let meta = self.slot_offset(&starts, e.slot, chunk);
                let deleted = e.deleted || parent_deleted;
                let full = format!("{path}/{}", e.name());
                if let Some(r) = &e.repaired {
                    findings.push(Finding::new(meta, format!("{full}: {r}")));
                }
                let mut other_names = Vec::new();
                if e.long_name.is_some() {
                    other_names.push(e.short_name.clone());
                }
                if e.is_dir() {
                    if let Some(c) = collect.as_deref_mut() {
                        c.starts.push(e.start_cluster);
                    }
                    let (clusters, recovery) = if e.deleted {
                        self.deleted_dir(&e)
                    } else {
                        let p = self.fat.pick(e.start_cluster, None, MAX_DIR_BYTES / cs + 1);
                        self.chain_findings(&p, &full, "directory", meta, 0, findings);
                        (
                            p.clusters,
                            if parent_deleted {
                                Recovery::Intact
                            } else {
                                Recovery::Allocated
                            },
                        )
                    };
                    let size = clusters.len() as u64 * cs;
                    visit(Entry {
                        id: (meta - self.vol.base()) / 32,
                        path: full.clone(),
                        other_names,
                        kind: EntryKind::Directory,
                        deleted,
                        size,
                        times: e.times.clone(),
                        runs: self.cluster_runs(&clusters, size),
                        recovery,
                        meta_offset: meta,
                    });
                    if clusters.is_empty() {
                    } else if depth + 1 >= MAX_DEPTH {
                        findings.push(Finding::new(
                            meta,
                            format!(
                                "directory {full} is nested deeper than {MAX_DEPTH}; not entered"
                            ),
                        ));
                    } else {
                        queue.push(deleted, clusters, (full, depth + 1, meta));
                    }
                    continue;
                }
                let mut size = u64::from(e.size);
                if let Some(c) = collect.as_deref_mut() {
                    c.starts.push(e.start_cluster);
                    if e.deleted || parent_deleted {
                        c.deleted.push((e.start_cluster, size.div_ceil(cs)));
                    }
                    continue;
                }
                let (clusters, recovery) = if e.deleted || parent_deleted {
                    self.deleted_layout(&e, joint.map(|j| &j.plan))
                } else if size == 0 {
                    (Vec::new(), Recovery::Allocated)
                } else {
                    let mut need = size.div_ceil(cs);
                    let mut p = self.fat.pick(e.start_cluster, Some(need), need);
                    if !p.fits {
                        // A damaged start cluster: a chain no entry names, of
                        // exactly the file's size, whose first cluster differs
                        // from the recorded one in one byte.
                        if let Some((h, q)) = joint.and_then(|j| {
                            let linked = j.linked.get_or_init(|| self.fat.linked(&j.starts));
                            self.head_for(linked, e.start_cluster, need)
                        }) {
                            if let Some(j) = joint {
                                j.taken_heads.borrow_mut().push(h);
                            }
                            findings.push(Finding::new(
                                meta + 26,
                                format!("file {full}: its start cluster {} heads no chain of its size; cluster {h}, one byte away, heads a chain no entry names of exactly its size, and was used", e.start_cluster),
                            ));
                            p = q;
                        } else if let Some((fixed, byte, q)) =
                            joint.and_then(|j| self.size_for(e.start_cluster, size, &j.size_budget))
                        {
                            // A damaged size field: the chain is whole and
                            // one size a byte away fits it.
                            findings.push(
                                Finding::new(
                                    meta + 28 + byte,
                                    format!("file {full}: its size field does not fit its whole cluster chain ({} clusters, in every FAT copy); the one size that differs in a single byte and fits it was used", q.clusters.len()),
                                )
                                .expected(fixed, size),
                            );
                            size = fixed;
                            need = size.div_ceil(cs);
                            p = q;
                        }
                    }
                    self.chain_findings(&p, &full, "file", meta, need, findings);
                    (p.clusters, Recovery::Allocated)
                };
                visit(Entry {
                    id: (meta - self.vol.base()) / 32,
                    path: full,
                    other_names,
                    kind: EntryKind::File,
                    deleted,
                    size,
                    times: e.times.clone(),
                    runs: self.cluster_runs(&clusters, size),
                    recovery,
                    meta_offset: meta,
                });
            }
        }
        if let (None, Some(j)) = (collect, joint) {
            let taken = j.taken_heads.borrow();
            let lost: Vec<u32> = orphans
                .chains
                .iter()
                .copied()
                .filter(|h| !taken.contains(h))
                .collect();
            self.orphan_files(lost_dirs, &lost, visit, findings);
        }
    }
}

impl FileSystem for FatFs {
    fn type_name(&self) -> &'static str {
        self.bpb.fat_type.name()
    }

    fn label(&self) -> Option<String> {
        self.bpb.label.clone()
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }

    /// Two walks of the directory tree: the first only gathers the deleted
    /// files' starts and sizes, so their layouts are planned together
    /// (joint.rs); the second reports every entry.
    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        let mut g = Gathered::default();
        let none = Orphans::default();
        self.walk_dirs(None, Some(&mut g), &none, &mut |_| {}, &mut Vec::new());
        // Chains no entry names: lost folders are walked too (the first walk
        // again, so their deleted files join the plan); the files found in
        // them are no longer lost chains.
        let linked = self.fat.linked(&g.starts);
        let mut orphans = self.orphans(&linked, findings);
        let mut linked = std::cell::OnceCell::from(linked);
        if !orphans.dirs.is_empty() {
            g = Gathered::default();
            self.walk_dirs(None, Some(&mut g), &orphans, &mut |_| {}, &mut Vec::new());
            let named: std::collections::HashSet<u32> = g.starts.iter().copied().collect();
            orphans.chains.retain(|c| !named.contains(c));
            linked = std::cell::OnceCell::new();
        }
        let plan = Plan::new(
            &g.deleted,
            &|c| self.fat.is_free(c),
            self.fat.max_cluster(),
            PLAN_BUDGET,
        );
        let joint = Joint {
            plan,
            starts: g.starts,
            linked,
            taken_heads: Default::default(),
            size_budget: std::cell::Cell::new(SIZE_BUDGET),
        };
        self.walk_dirs(Some(&joint), None, &orphans, visit, findings);
    }

    fn unallocated(&self, _findings: &mut Vec<Finding>) -> Vec<Extent> {
        let cs = self.bpb.cluster_size();
        let mut out: Vec<Extent> = Vec::new();
        // A damaged or truncated volume can claim clusters beyond the space it was
        // found in; free space is only reported where there are bytes to carve.
        let volume = Extent::new(self.vol.base(), self.vol.len());
        for c in 2..=self.fat.max_cluster() {
            if self.bpb.cluster_offset(c) >= self.vol.len() {
                break;
            }
            if !self.fat.is_free(c) {
                continue;
            }
            let at = self.abs(self.bpb.cluster_offset(c));
            let Some(x) = Extent::new(at, cs).intersect(&volume) else {
                continue;
            };
            match out.last_mut() {
                Some(l) if l.end() == x.start => l.len += x.len,
                _ => out.push(x),
            }
        }
        dredge_core::free_past_end(out, volume, self.span().unwrap_or(u64::MAX))
    }

    fn span(&self) -> Option<u64> {
        // The end of the last cluster.
        Some(self.bpb.data_offset() + self.bpb.cluster_count() * self.bpb.cluster_size())
    }
}
