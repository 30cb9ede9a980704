//! The container: its superblock (`NXSB`) at block 0 and the copies written
//! at every checkpoint into the checkpoint descriptor ring, the checkpoint
//! map of ephemeral objects (the space manager), the container object map,
//! and the volume superblocks (`APSB`) it leads to. The newest checkpoint
//! whose superblock checks and whose volumes resolve is used; an older one
//! when it does not, with a finding that says which.

use crate::obj::{head, Bad, Blocks, CHECKPOINT_MAP, FS, MAX_BLOCK, NX_SUPERBLOCK};
use crate::omap::Omap;
use dredge_core::bytes::{le16, le32, le64};
use dredge_core::{Finding, VolumeReader};
use std::collections::HashMap;

/// Blocks scanned for a superblock copy when block 0 is unusable.
const SCAN_BLOCKS: u64 = 4096;
/// Volumes a container can hold (`NX_MAX_FILE_SYSTEMS`).
const MAX_VOLUMES: usize = 100;

/// A container superblock.
#[derive(Clone, Debug)]
pub(crate) struct Nx {
    /// The block it was read from.
    pub at: u64,
    pub xid: u64,
    pub block_size: u64,
    pub block_count: u64,
    pub uuid: [u8; 16],
    pub desc_base: u64,
    pub desc_blocks: u64,
    pub spaceman_oid: u64,
    pub omap_oid: u64,
    pub fs_oids: Vec<u64>,
    /// `nx_keylocker`: where the container keybag is (first block, block
    /// count); (0, 0) without one.
    pub keylocker: (u64, u64),
    pub sum_ok: bool,
}

pub(crate) fn parse_nx(b: &[u8], at: u64) -> Result<Nx, String> {
    if &b[32..36] != b"NXSB" {
        return Err(format!("magic {:02x?}, expected \"NXSB\"", &b[32..36]));
    }
    let h = head(b);
    let block_size = u64::from(le32::<u32>(b, 36));
    if !(4096..=MAX_BLOCK).contains(&block_size) || !block_size.is_power_of_two() {
        return Err(format!("block size {block_size}"));
    }
    let max = (le32::<u32>(b, 180) as usize).clamp(1, MAX_VOLUMES);
    let fs_oids = (0..max)
        .map(|i| le64(b, 184 + 8 * i))
        .filter(|&o| o != 0)
        .collect();
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&b[72..88]);
    Ok(Nx {
        at,
        xid: h.xid,
        block_size,
        block_count: le64(b, 40),
        uuid,
        desc_base: le64(b, 112),
        desc_blocks: u64::from(le32::<u32>(b, 104)),
        spaceman_oid: le64(b, 152),
        omap_oid: le64(b, 160),
        fs_oids,
        keylocker: (le64(b, 1296), le64(b, 1304)),
        sum_ok: h.sum_ok && h.otype == NX_SUPERBLOCK,
    })
}

/// Blocks after block 0 the probe looks through for a checkpoint's copy of
/// the superblock when block 0 is damaged (the descriptor ring follows it).
const PROBE_BLOCKS: u64 = 255;

/// Whether `vol` starts with a container superblock, or, with block 0
/// damaged, holds a checksummed copy of one in its first megabyte.
///
/// The megabyte is read only when block 0 is APFS-like (its magic, or zeroed
/// or unreadable as a wiped or failed superblock is): every volume is probed
/// by every reader, and a FAT or NTFS volume must not cost an extra megabyte.
pub(crate) fn probe(vol: &VolumeReader) -> bool {
    // One sector first: it decides for every volume that is not APFS.
    let mut b = vec![0u8; 4096];
    let clean = vol.read_at(0, &mut b[..512]).is_ok_and(|r| r.is_clean());
    let magic = &b[32..36] == b"NXSB";
    let blank = b[..512].iter().all(|&c| c == 0);
    if clean && !magic && !blank && !ring_starts_at_block_1(vol) {
        return false;
    }
    if magic && vol.read_at(0, &mut b).is_ok_and(|r| r.is_clean()) && parse_nx(&b, 0).is_ok() {
        return true;
    }
    // A zero first sector is also HFS+'s boot blocks (its header is at
    // 1024): only a block zero throughout reads as a wiped superblock. A
    // block 0 overwritten with other bytes is believed destroyed when block 1,
    // where the checkpoint descriptor ring starts, holds a checkpoint map or
    // superblock copy whose checksum holds: one block more for a volume
    // whose first sector is blank (with a first sector of other bytes, the
    // test above already found it so).
    if clean && !magic && blank {
        let whole = vol.read_at(0, &mut b).is_ok_and(|r| r.is_clean());
        if whole && b.iter().any(|&c| c != 0) && !ring_starts_at_block_1(vol) {
            return false;
        }
    }
    let mut ring = vec![0u8; (PROBE_BLOCKS * 4096) as usize];
    if vol.read_at(4096, &mut ring).is_err() {
        return false;
    }
    ring.chunks_exact(4096).any(|b| {
        let h = head(b);
        h.otype == NX_SUPERBLOCK && h.sum_ok && parse_nx(b, 0).is_ok()
    })
}

/// Whether block 1 (4096 bytes in, where containers keep their checkpoint
/// descriptor ring) is a checkpoint map or a container superblock copy whose
/// Fletcher-64 checksum holds: one block read, and what tells a container
/// whose block 0 was overwritten from any other volume.
fn ring_starts_at_block_1(vol: &VolumeReader) -> bool {
    let mut b = vec![0u8; 4096];
    if !vol.read_at(4096, &mut b).is_ok_and(|r| r.is_clean()) {
        return false;
    }
    let h = head(&b);
    h.sum_ok && (h.otype == NX_SUPERBLOCK || h.otype == CHECKPOINT_MAP)
}

/// A volume superblock.
#[derive(Clone, Debug)]
pub(crate) struct Apsb {
    /// Block it was read from.
    pub at: u64,
    pub omap_oid: u64,
    pub root_tree_oid: u64,
    pub snap_meta_tree_oid: u64,
    pub fs_flags: u64,
    pub name: String,
    pub uuid: [u8; 16],
    pub role: u16,
    pub num_files: u64,
}

/// `APFS_FS_UNENCRYPTED`.
pub(crate) const UNENCRYPTED: u64 = 1;

pub(crate) fn parse_apsb(b: &[u8], at: u64) -> Result<Apsb, String> {
    if &b[32..36] != b"APSB" {
        return Err(format!("magic {:02x?}, expected \"APSB\"", &b[32..36]));
    }
    let raw = &b[704..960];
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&b[240..256]);
    Ok(Apsb {
        at,
        omap_oid: le64(b, 128),
        root_tree_oid: le64(b, 136),
        snap_meta_tree_oid: le64(b, 152),
        fs_flags: le64(b, 264),
        name: String::from_utf8_lossy(&raw[..end]).into_owned(),
        uuid,
        role: le16(b, 964),
        num_files: le64(b, 184),
    })
}

/// The container as of one checkpoint.
pub(crate) struct Container {
    pub blocks: Blocks,
    pub nx: Nx,
    /// Ephemeral object id → (block, bytes), from the checkpoint map.
    pub ephemeral: HashMap<u64, (u64, u64)>,
    /// Each volume's superblock, in the container's order, and its index there.
    pub volumes: Vec<(usize, Apsb)>,
    pub bad: Bad,
    pub findings: Vec<Finding>,
    /// Superblocks of checkpoints older than the one used, newest first.
    pub older: Vec<Nx>,
}

/// Every checksummed superblock copy the container holds, newest first.
fn candidates(vol: &VolumeReader, findings: &mut Vec<Finding>) -> Result<Vec<Nx>, Finding> {
    let base = vol.base();
    let mut b0 = vec![0u8; 4096];
    let first = match vol.read_at(0, &mut b0) {
        Ok(r) if r.is_clean() => parse_nx(&b0, 0),
        Ok(_) => Err("unreadable (bad sectors)".into()),
        Err(e) => Err(e.to_string()),
    };
    let mut found = Vec::new();
    let (bs, scan) = match &first {
        Ok(nx) => {
            let mut b = vec![0u8; nx.block_size as usize];
            let _ = vol.read_at(0, &mut b);
            let nx = parse_nx(&b, 0).unwrap_or_else(|_| nx.clone());
            // A descriptor area kept as a tree (high bit) is not read: block
            // 0 alone is used.
            let ring = if nx.desc_blocks & 0x8000_0000 == 0 {
                (nx.desc_base, nx.desc_blocks.min(SCAN_BLOCKS))
            } else {
                (0, 0)
            };
            let bs = nx.block_size;
            if nx.sum_ok {
                found.push(nx);
            } else {
                findings.push(Finding::new(base, "APFS container superblock at block 0 fails its Fletcher-64 checksum: the checkpoint copies decide"));
            }
            (bs, ring)
        }
        Err(why) => {
            findings.push(Finding::new(base, format!("APFS container superblock at block 0 damaged ({why}): the first {SCAN_BLOCKS} blocks are searched for checkpoint copies")));
            (4096, (1, SCAN_BLOCKS))
        }
    };
    let total = vol.len() / bs;
    let mut b = vec![0u8; bs as usize];
    for n in scan.0..scan.0.saturating_add(scan.1).min(total) {
        if !vol.read_at(n * bs, &mut b).is_ok_and(|r| r.is_clean()) {
            continue;
        }
        let h = head(&b);
        if h.otype != NX_SUPERBLOCK || !h.sum_ok {
            continue;
        }
        if let Ok(nx) = parse_nx(&b, n) {
            if nx.block_size == bs {
                found.push(nx);
            }
        }
    }
    if found.is_empty() {
        return Err(Finding::new(
            base,
            "no APFS container superblock with a valid checksum".to_string(),
        ));
    }
    found.sort_by(|a, b| b.xid.cmp(&a.xid).then(a.at.cmp(&b.at)));
    found.dedup_by_key(|n| n.xid);
    Ok(found)
}

impl Container {
    pub fn open(vol: VolumeReader) -> Result<Container, Finding> {
        let base = vol.base();
        let mut findings = Vec::new();
        let cands = candidates(&vol, &mut findings)?;
        let mut why_not = Vec::new();
        for (i, nx) in cands.iter().enumerate() {
            let blocks = Blocks {
                vol: vol.clone(),
                size: nx.block_size,
                count: nx.block_count.min(vol.len() / nx.block_size),
            };
            let mut bad = Bad::default();
            let mut f = Vec::new();
            let omap = match Omap::load(
                &blocks,
                nx.omap_oid,
                "container object map",
                &mut bad,
                &mut f,
            ) {
                Ok(m) => m,
                Err(why) => {
                    why_not.push(format!("xid {}: {why}", nx.xid));
                    continue;
                }
            };
            let mut volumes = Vec::new();
            for (idx, &oid) in nx.fs_oids.iter().enumerate() {
                let got = omap
                    .get(oid, nx.xid)
                    .ok_or_else(|| format!("volume {idx} (oid {oid:#x}) is not in the object map"))
                    .and_then(|(at, _)| {
                        let (_, b) = blocks.object(at, FS, &mut bad)?;
                        parse_apsb(&b, at)
                    });
                match got {
                    Ok(a) => volumes.push((idx, a)),
                    Err(why) => f.push(Finding::new(base, format!("APFS volume {idx}: {why}"))),
                }
            }
            if volumes.is_empty() && !nx.fs_oids.is_empty() {
                why_not.push(format!("xid {}: no volume superblock resolves", nx.xid));
                continue;
            }
            if i == 0 && nx.at != 0 {
                findings.push(Finding::new(
                    blocks.offset(nx.at),
                    format!(
                        "APFS: the checkpoint of transaction {} (superblock copy at block {}) is read",
                        nx.xid, nx.at
                    ),
                ));
            }
            if i > 0 {
                findings.push(Finding::new(
                    blocks.offset(nx.at),
                    format!(
                        "APFS: the newest checkpoint is unusable ({}); the checkpoint of transaction {} (superblock copy at block {}) is read",
                        why_not.join("; "),
                        nx.xid,
                        nx.at
                    ),
                ));
            }
            findings.extend(f);
            let ephemeral = checkpoint_map(&blocks, nx, &mut bad);
            return Ok(Container {
                blocks,
                nx: nx.clone(),
                ephemeral,
                volumes,
                bad,
                findings,
                older: cands[i + 1..].to_vec(),
            });
        }
        Err(Finding::new(
            base,
            format!("no usable APFS checkpoint: {}", why_not.join("; ")),
        ))
    }
}

/// The checkpoint map blocks of `nx`'s transaction in its descriptor ring:
/// ephemeral object id → (block, bytes).
fn checkpoint_map(blocks: &Blocks, nx: &Nx, bad: &mut Bad) -> HashMap<u64, (u64, u64)> {
    let mut out = HashMap::new();
    if nx.desc_blocks & 0x8000_0000 != 0 {
        return out;
    }
    for n in nx.desc_base..nx.desc_base.saturating_add(nx.desc_blocks.min(SCAN_BLOCKS)) {
        let Ok(b) = blocks.read(n) else { continue };
        let h = head(&b);
        if h.otype != CHECKPOINT_MAP || h.xid != nx.xid {
            continue;
        }
        if !h.sum_ok {
            bad.note(blocks.offset(n));
        }
        let count = (le32::<u32>(&b, 36) as usize).min((b.len() - 40) / 40);
        for i in 0..count {
            let e = 40 + 40 * i;
            out.insert(
                le64(&b, e + 24),
                (le64(&b, e + 32), u64::from(le32::<u32>(&b, e + 8))),
            );
        }
    }
    out
}
