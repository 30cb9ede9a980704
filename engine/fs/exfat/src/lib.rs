//! exFAT, read-only and forensic: allocated and deleted entry sets (a deleted set is
//! the same entries with their in-use bits cleared; its checksum, recomputed with the
//! bits restored, confirms it), contiguous (NoFatChain) and chained files, bytes past
//! the valid data length as zeros, the backup boot region when the main one is
//! damaged, and deleted files' clusters checked against the allocation bitmap.

use dredge_core::bytes::{le32, le64};
use dredge_core::dirqueue::DirQueue;
use dredge_core::{
    Entry, EntryKind, Extent, FileSystem, Finding, Recovery, Run, RunData, VolumeReader,
};
use std::collections::HashSet;
use std::sync::OnceLock;

mod entries;
mod orphan;
use entries::{expand_upcase, name_hash, parse_dir, Stream};
use orphan::Reached;

const MAX_DIR_BYTES: u64 = 256 << 20;
const MAX_DEPTH: usize = 256;

#[derive(Clone, Debug)]
struct Boot {
    sector: u64,
    cluster: u64,
    fat_offset: u64,
    heap_offset: u64,
    cluster_count: u64,
    root_cluster: u64,
    volume_bytes: u64,
}

fn parse_boot(s: &[u8], at: u64) -> Result<Boot, Finding> {
    if s.len() < 512 || &s[3..11] != b"EXFAT   " {
        return Err(
            Finding::new(at + 3, "exFAT boot sector signature missing").expected(
                "\"EXFAT   \"",
                String::from_utf8_lossy(&s[3..11]).escape_debug(),
            ),
        );
    }
    let bps_shift = u32::from(s[108]);
    let spc_shift = u32::from(s[109]);
    if !(9..=12).contains(&bps_shift) || bps_shift + spc_shift > 25 {
        return Err(
            Finding::new(at + 108, "exFAT sector or cluster size invalid").expected(
                "sector 2^9..2^12, cluster <= 32 MiB",
                format!("2^{bps_shift}, 2^{spc_shift} sectors"),
            ),
        );
    }
    let sector = 1u64 << bps_shift;
    let cluster = sector << spc_shift;
    let volume_sectors = le64(s, 72);
    let fat_offset = le32::<u64>(s, 80) * sector;
    let heap_offset = le32::<u64>(s, 88) * sector;
    let cluster_count = le32(s, 92);
    let root_cluster = le32(s, 96);
    if volume_sectors > 1 << 48
        || cluster_count == 0
        || root_cluster < 2
        || root_cluster > cluster_count + 1
        || heap_offset == 0
        || fat_offset == 0
    {
        return Err(Finding::new(at + 72, "exFAT geometry invalid").expected(
            "a root cluster inside the heap",
            format!("{cluster_count} clusters, root {root_cluster}"),
        ));
    }
    Ok(Boot {
        sector,
        cluster,
        fat_offset,
        heap_offset,
        cluster_count,
        root_cluster,
        volume_bytes: volume_sectors * sector,
    })
}

fn read(vol: &VolumeReader, at: u64, len: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len as usize];
    vol.read_at(at, &mut b).ok()?;
    Some(b)
}

pub fn probe(vol: &VolumeReader) -> bool {
    [0u64, 12 * 512, 12 * 4096]
        .iter()
        .any(|&at| read(vol, at, 512).is_some_and(|b| parse_boot(&b, at).is_ok()))
}

pub struct ExFatFs {
    vol: VolumeReader,
    boot: Boot,
    fat: Vec<u32>,
    label: Option<String>,
    findings: Vec<Finding>,
    bitmap: OnceLock<Vec<u8>>,
    upcase: OnceLock<Vec<u16>>,
}

impl ExFatFs {
    pub fn open(vol: VolumeReader) -> Result<ExFatFs, Finding> {
        let mut findings = Vec::new();
        let primary = read(&vol, 0, 512)
            .ok_or_else(|| Finding::new(vol.base(), "exFAT boot sector unreadable"))
            .and_then(|b| parse_boot(&b, vol.base()));
        let boot = match primary {
            Ok(b) => b,
            Err(e) => {
                let backup = [512u64, 4096].iter().find_map(|&ss| {
                    read(&vol, 12 * ss, 512)
                        .and_then(|b| parse_boot(&b, vol.base() + 12 * ss).ok())
                        .filter(|b| b.sector == ss)
                        .map(|b| (ss, b))
                });
                match backup {
                    Some((ss, b)) => {
                        findings.push(e);
                        findings.push(Finding::new(
                            vol.base() + 12 * ss,
                            "exFAT main boot region unusable; backup boot region (sector 12) used",
                        ));
                        b
                    }
                    None => return Err(e),
                }
            }
        };
        let fat_bytes = (boot.cluster_count + 2) * 4;
        if fat_bytes > vol.len() {
            return Err(Finding::new(
                vol.base() + boot.fat_offset,
                "exFAT FAT larger than the volume",
            )
            .expected(format!("<= {}", vol.len()), fat_bytes));
        }
        // Only what the image holds: a FAT claimed past the end reads as zeros
        // (free clusters), and allocating for it would let a small image claim
        // a gigabyte.
        let in_image = fat_bytes.min(vol.readable_len().saturating_sub(boot.fat_offset));
        let (raw, rep) = vol
            .read_vec(boot.fat_offset, in_image, 1 << 30)
            .map_err(|e| {
                Finding::new(
                    vol.base() + boot.fat_offset,
                    format!("cannot read the FAT: {e}"),
                )
            })?;
        if !rep.is_clean() {
            findings.push(Finding::new(
                vol.base() + boot.fat_offset,
                "parts of the exFAT FAT are unreadable; chains through them end early",
            ));
        }
        let fat = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut fs = ExFatFs {
            vol,
            boot,
            fat,
            label: None,
            findings,
            bitmap: OnceLock::new(),
            upcase: OnceLock::new(),
        };
        // The label lives in the root directory.
        let root = fs
            .chain(fs.boot.root_cluster, MAX_DIR_BYTES / fs.boot.cluster + 1)
            .0;
        let data = fs.read_clusters(&root, u64::MAX);
        for e in data.chunks_exact(32) {
            if e[0] == 0 {
                break;
            }
            if e[0] == 0x83 {
                let n = (e[1] as usize).min(11);
                let u: Vec<u16> = e[2..2 + n * 2]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                fs.label = Some(String::from_utf16_lossy(&u));
            }
        }
        Ok(fs)
    }

    fn valid_cluster(&self, c: u64) -> bool {
        c >= 2 && c < self.boot.cluster_count + 2
    }

    fn cluster_offset(&self, c: u64) -> u64 {
        self.boot.heap_offset + (c - 2) * self.boot.cluster
    }

    fn chain(&self, start: u64, limit: u64) -> (Vec<u64>, Option<String>) {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut c = start;
        loop {
            if !self.valid_cluster(c) {
                return (out, Some(format!("cluster {c} is outside the heap")));
            }
            if !seen.insert(c) {
                return (out, Some(format!("chain loops back to cluster {c}")));
            }
            out.push(c);
            if out.len() as u64 >= limit {
                return (out, None);
            }
            match self.fat.get(c as usize).copied().unwrap_or(0) {
                0xFFFF_FFFF => return (out, None),
                0xFFFF_FFF7 => {
                    return (
                        out,
                        Some(format!("chain runs into a bad cluster after {c}")),
                    )
                }
                n if self.valid_cluster(u64::from(n)) => c = u64::from(n),
                n => {
                    return (
                        out,
                        Some(format!("cluster {c} links to invalid value {n:#x}")),
                    )
                }
            }
        }
    }

    fn read_clusters(&self, clusters: &[u64], limit: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for &c in clusters {
            if out.len() as u64 >= limit.min(MAX_DIR_BYTES) {
                break;
            }
            if let Some(b) = read(&self.vol, self.cluster_offset(c), self.boot.cluster) {
                out.extend(b);
            }
        }
        out
    }

    /// The data of the first root-directory entry of type `ty` (allocation bitmap
    /// 0x81, up-case table 0x82): its first cluster and length, at most `max` bytes.
    fn root_entry_data(&self, ty: u8, max: u64) -> Option<Vec<u8>> {
        let root = self
            .chain(
                self.boot.root_cluster,
                MAX_DIR_BYTES / self.boot.cluster + 1,
            )
            .0;
        let data = self.read_clusters(&root, u64::MAX);
        let e = data
            .chunks_exact(32)
            .take_while(|e| e[0] != 0)
            // The first allocation bitmap (flag bit 0 clear) belongs to the first FAT.
            .find(|e| e[0] == ty && (ty != 0x81 || e[1] & 1 == 0))?;
        let len = le64(e, 24).min(max);
        let (ch, _) = self.chain(le32(e, 20), len.div_ceil(self.boot.cluster).max(1));
        let mut b = self.read_clusters_all(&ch);
        b.truncate(len as usize);
        Some(b)
    }

    fn bitmap(&self) -> &Vec<u8> {
        self.bitmap.get_or_init(|| {
            self.root_entry_data(0x81, self.boot.cluster_count.div_ceil(8))
                .unwrap_or_default()
        })
    }

    /// The volume's up-case table (entry 0x82 of the root directory), expanded.
    fn upcase(&self) -> &Vec<u16> {
        self.upcase.get_or_init(|| {
            self.root_entry_data(0x82, 1 << 17)
                .map(|b| expand_upcase(&b))
                .unwrap_or_default()
        })
    }

    fn read_clusters_all(&self, clusters: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        for &c in clusters {
            out.extend(
                read(&self.vol, self.cluster_offset(c), self.boot.cluster)
                    .unwrap_or_else(|| vec![0; self.boot.cluster as usize]),
            );
        }
        out
    }

    fn allocated(&self, c: u64) -> bool {
        let i = c.saturating_sub(2);
        self.bitmap()
            .get((i / 8) as usize)
            .is_some_and(|b| b >> (i % 8) & 1 == 1)
    }

    /// Clusters of a stream, and how they were traced.
    fn clusters(&self, s: &Stream, deleted: bool) -> (Vec<u64>, Option<String>) {
        let need = s.size.div_ceil(self.boot.cluster);
        if need == 0 {
            return (Vec::new(), None);
        }
        if !self.valid_cluster(s.first_cluster) {
            return (
                Vec::new(),
                Some(format!(
                    "first cluster {} is outside the heap",
                    s.first_cluster
                )),
            );
        }
        if s.no_fat_chain || deleted {
            // Contiguous by declaration (NoFatChain); for deleted chained files the FAT
            // may no longer be trustworthy, so its chain is used only if it is whole.
            if deleted && !s.no_fat_chain {
                let (ch, stop) = self.chain(s.first_cluster, need);
                if stop.is_none() && ch.len() as u64 == need {
                    return (ch, None);
                }
            }
            let last = (s.first_cluster + need).min(self.boot.cluster_count + 2);
            return ((s.first_cluster..last).collect(), None);
        }
        self.chain(s.first_cluster, need)
    }

    /// Reads the folders of `queue` and the folders they hold, listing every
    /// entry set; each cluster met (folders' and files') is marked `reached`.
    fn drain(
        &self,
        queue: &mut DirQueue<u64, (String, usize, u64)>,
        reached: &mut Reached,
        visit: &mut dyn FnMut(Entry),
        findings: &mut Vec<Finding>,
    ) {
        let cs = self.boot.cluster;
        while let Some(turn) = queue.take() {
            let (path, depth, meta) = turn.item;
            let (clusters, parent_deleted) = (turn.clusters, turn.deleted);
            if let Some(c) = turn.cut_at {
                let what = if clusters.is_empty() {
                    "was already read as another directory; not read again".to_string()
                } else {
                    format!("runs into clusters already read as a directory at cluster {c}; read up to there")
                };
                findings.push(Finding::new(meta, format!("directory {path} {what}")));
            }
            if clusters.is_empty() {
                continue;
            }
            for &c in &clusters {
                reached.mark(c);
            }
            let data = self.read_clusters(&clusters, u64::MAX);
            let (sets, _) = parse_dir(&data);
            for set in sets {
                let Some(s) = &set.stream else { continue };
                let slot_cluster = clusters.get(set.offset / cs as usize).copied().unwrap_or(0);
                let meta = self.vol.base()
                    + self.cluster_offset(slot_cluster.max(2))
                    + (set.offset as u64 % cs);
                let full = format!("{path}/{}", set.name);
                let deleted = set.deleted || parent_deleted;
                if !set.checksum_ok {
                    findings.push(Finding::new(
                        meta,
                        format!("{full}: entry set checksum mismatch"),
                    ));
                }
                // The stored hash is over the up-cased name: a mismatch means the name
                // entries were damaged (or belong to another set).
                let up = self.upcase();
                let h = name_hash(&set.name, up);
                if !up.is_empty() && h != s.name_hash {
                    findings.push(
                        Finding::new(
                            meta,
                            format!("{full}: name does not match its stored name hash"),
                        )
                        .expected(format!("{:#06x}", s.name_hash), format!("{h:#06x}")),
                    );
                }
                let is_dir = set.attrs & 0x10 != 0;
                let (cl, problem) = self.clusters(s, deleted);
                // A deleted file's clusters may be a lost folder's now.
                if !deleted {
                    for &c in &cl {
                        reached.mark(c);
                    }
                }
                if let Some(p) = problem {
                    findings.push(Finding::new(meta, format!("{full}: {p}")));
                }
                let recovery = if !deleted {
                    Recovery::Allocated
                } else if cl.iter().any(|&c| self.allocated(c)) {
                    Recovery::Overwritten(
                        "some of its clusters are allocated again (allocation bitmap)".into(),
                    )
                } else if s.no_fat_chain {
                    Recovery::Intact
                } else {
                    Recovery::Assumed("clusters from the FAT chain if whole, else contiguous from the first cluster".into())
                };
                visit(Entry {
                    id: (meta - self.vol.base()) / 32,
                    path: full.clone(),
                    other_names: Vec::new(),
                    kind: if is_dir {
                        EntryKind::Directory
                    } else {
                        EntryKind::File
                    },
                    deleted,
                    size: if is_dir { 0 } else { s.size },
                    times: set.times.clone(),
                    runs: if is_dir {
                        Vec::new()
                    } else {
                        self.runs(&cl, s)
                    },
                    recovery,
                    meta_offset: meta,
                });
                if is_dir && depth + 1 < MAX_DEPTH {
                    queue.push(deleted, cl, (full, depth + 1, meta));
                }
            }
        }
    }

    fn runs(&self, clusters: &[u64], s: &Stream) -> Vec<Run> {
        let cs = self.boot.cluster;
        let mut out: Vec<Run> = Vec::new();
        let mut pos = 0u64;
        for &c in clusters {
            if pos >= s.size {
                break;
            }
            let len = cs.min(s.size - pos);
            let img = self.vol.base() + self.cluster_offset(c);
            match out.last_mut() {
                Some(Run {
                    data: RunData::Image(a),
                    len: l,
                    ..
                }) if *a + *l == img => *l += len,
                _ => out.push(Run {
                    file_offset: pos,
                    len,
                    data: RunData::Image(img),
                }),
            }
            pos += len;
        }
        // Past the valid data length the content is defined as zeros.
        if s.valid < s.size {
            let mut cut = Vec::new();
            for r in out {
                if r.file_offset >= s.valid {
                    cut.push(Run {
                        data: RunData::Sparse,
                        ..r
                    });
                } else if r.file_offset + r.len > s.valid {
                    let keep = s.valid - r.file_offset;
                    cut.push(Run {
                        len: keep,
                        ..r.clone()
                    });
                    cut.push(Run {
                        file_offset: s.valid,
                        len: r.len - keep,
                        data: RunData::Sparse,
                    });
                } else {
                    cut.push(r);
                }
            }
            out = cut;
        }
        out
    }
}

impl FileSystem for ExFatFs {
    fn type_name(&self) -> &'static str {
        "exfat"
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }

    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        self.walk_reaching(visit, findings);
    }

    fn unallocated(&self, _findings: &mut Vec<Finding>) -> Vec<Extent> {
        let cs = self.boot.cluster;
        let volume = Extent::new(self.vol.base(), self.vol.len());
        let mut out: Vec<Extent> = Vec::new();
        // Free is what the allocation bitmap says; when the bitmap is lost
        // with the root directory, every cluster no entry reaches (lost
        // folders' files included) is carved, not nothing and not all.
        let reached = self
            .bitmap()
            .is_empty()
            .then(|| self.walk_reaching(&mut |_| {}, &mut Vec::new()));
        for c in 2..self.boot.cluster_count + 2 {
            let used = match &reached {
                Some(r) => r.has(c),
                None => self.allocated(c),
            };
            if used {
                continue;
            }
            let Some(x) =
                Extent::new(self.vol.base() + self.cluster_offset(c), cs).intersect(&volume)
            else {
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
        // The end of the cluster heap.
        Some(self.boot.heap_offset + self.boot.cluster_count.saturating_mul(self.boot.cluster))
    }
}

impl ExFatFs {
    /// The walk, returning the clusters its entries reach.
    fn walk_reaching(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) -> Reached {
        let cs = self.boot.cluster;
        let (root, stop) = self.chain(self.boot.root_cluster, MAX_DIR_BYTES / cs + 1);
        if let Some(s) = stop {
            findings.push(Finding::new(
                self.vol.base() + self.cluster_offset(self.boot.root_cluster),
                format!("root directory: {s}"),
            ));
        }
        let mut reached = Reached::new(self.boot.cluster_count + 2, self.fat.len() as u64);
        // Folders are read plainest claim first, each cluster once (DirQueue).
        let mut queue: DirQueue<u64, (String, usize, u64)> = DirQueue::default();
        queue.push(false, root, (String::new(), 0, 0));
        self.drain(&mut queue, &mut reached, visit, findings);
        self.lost_folders(&mut queue, &mut reached, visit, findings);
        reached
    }
}

impl ExFatFs {
    pub fn volume_bytes(&self) -> u64 {
        self.boot.volume_bytes
    }

    pub fn sector_size(&self) -> u64 {
        self.boot.sector
    }
}
