//! The superblock and group descriptors, with fallback to backup superblocks (in
//! groups 1, 3, 5, 7, 9, 25, 27, … with sparse_super) when the primary is damaged.

pub(crate) use dredge_core::bytes::{le16, le32};
use dredge_core::checksum::crc32c_update;
use dredge_core::{Finding, VolumeReader};

pub const INCOMPAT_EXTENTS: u32 = 0x40;
pub const INCOMPAT_64BIT: u32 = 0x80;
pub const INCOMPAT_META_BG: u32 = 0x10;
pub const INCOMPAT_INLINE_DATA: u32 = 0x8000;
pub const INCOMPAT_CSUM_SEED: u32 = 0x2000;
pub const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
pub const COMPAT_HAS_JOURNAL: u32 = 0x4;
const COMPAT_SPARSE_SUPER2: u32 = 0x200;
const RO_COMPAT_SPARSE_SUPER: u32 = 0x1;
/// Allocation in clusters of 2^n blocks: the block bitmap has a bit per cluster,
/// and a group holds `clusters per group` × that many blocks.
pub const RO_COMPAT_BIGALLOC: u32 = 0x200;

#[derive(Clone, Debug)]
pub struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u64,
    pub first_data_block: u32,
    pub block_size: u64,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub inode_size: u32,
    pub rev_level: u32,
    pub compat: u32,
    pub incompat: u32,
    pub ro_compat: u32,
    pub desc_size: u32,
    pub label: Option<String>,
    pub journal_inum: u32,
    pub group_nr: u32,
    /// First non-reserved inode (11 before revision 1).
    pub first_ino: u32,
    /// Blocks per allocation cluster (1 without bigalloc).
    pub cluster_ratio: u64,
    /// With meta_bg: descriptor blocks before this one are laid out after the
    /// superblock as without it; the rest each sit in their meta-group's first group.
    pub first_meta_bg: u32,
    /// With sparse_super2: the only two groups holding backup superblocks.
    pub backup_bgs: [u32; 2],
    /// Seed of the metadata checksums (crc32c of the UUID, or stored with
    /// csum_seed), which the block bitmaps' checksums start from.
    pub csum_seed: u32,
    /// Descriptor blocks kept free for growth after each descriptor table copy.
    pub reserved_gdt_blocks: u32,
}

impl Superblock {
    pub fn group_count(&self) -> u64 {
        (self
            .blocks_count
            .saturating_sub(u64::from(self.first_data_block)))
        .div_ceil(u64::from(self.blocks_per_group))
    }

    pub fn has(&self, incompat: u32) -> bool {
        self.incompat & incompat != 0
    }

    /// The first block of group `g`.
    pub fn group_start(&self, g: u64) -> u64 {
        u64::from(self.first_data_block)
            .saturating_add(g.saturating_mul(u64::from(self.blocks_per_group)))
    }

    /// Whether group `g` begins with a copy of the superblock (and, outside
    /// meta_bg, of the group descriptors), as the kernel's `ext4_bg_has_super`.
    pub fn has_super(&self, g: u64) -> bool {
        if self.compat & COMPAT_SPARSE_SUPER2 != 0 {
            return g == 0 || self.backup_bgs.iter().any(|&b| b != 0 && u64::from(b) == g);
        }
        if g <= 1 || self.ro_compat & RO_COMPAT_SPARSE_SUPER == 0 {
            return true;
        }
        g % 2 == 1 && [3u64, 5, 7].iter().any(|&p| is_power_of(g, p))
    }

    /// "ext2", "ext3" or "ext4" from the features, as the tools name them.
    pub fn type_name(&self) -> &'static str {
        if self.incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | 0x200 | INCOMPAT_INLINE_DATA) != 0
            || self.ro_compat & (RO_COMPAT_METADATA_CSUM | 0x8 | 0x10 | 0x20 | 0x40) != 0
        {
            "ext4"
        } else if self.compat & COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }

    /// Parses a 1024-byte superblock; `at` is its image offset for findings.
    pub fn parse(s: &[u8], at: u64) -> Result<Superblock, Finding> {
        if s.len() < 1024 {
            return Err(Finding::new(at, "ext superblock too short"));
        }
        let magic = le16::<u32>(s, 56);
        if magic != 0xEF53 {
            return Err(Finding::new(at + 56, "ext superblock magic missing")
                .expected("0xef53", format!("{magic:#06x}")));
        }
        let log = le32::<u32>(s, 24);
        if log > 6 {
            return Err(Finding::new(at + 24, "ext block size out of range")
                .expected("log2(size/1024) <= 6", log));
        }
        let block_size = 1024u64 << log;
        let rev = le32(s, 76);
        let inode_size: u32 = if rev == 0 { 128 } else { le16(s, 88) };
        if inode_size < 128 || !inode_size.is_power_of_two() || u64::from(inode_size) > block_size {
            return Err(Finding::new(at + 88, "ext inode size invalid")
                .expected("power of two, 128..=block size", inode_size));
        }
        let incompat = if rev == 0 { 0 } else { le32(s, 96) };
        let blocks_hi = if incompat & INCOMPAT_64BIT != 0 {
            u64::from(le32::<u32>(s, 336))
        } else {
            0
        };
        let blocks_count = u64::from(le32::<u32>(s, 4)) | blocks_hi << 32;
        let bpg = le32(s, 32);
        let ipg = le32(s, 40);
        let first_data_block = le32(s, 20);
        let ro_compat = if rev == 0 { 0 } else { le32(s, 100) };
        let cluster_ratio = if ro_compat & RO_COMPAT_BIGALLOC != 0 {
            // A cluster is 2^(log cluster size - log block size) blocks, and its
            // group holds 8 × block size clusters at most (one bitmap block).
            let log_cluster = le32::<u32>(s, 28);
            let cpg = le32::<u32>(s, 36);
            if log_cluster < log
                || log_cluster - log > 16
                || cpg == 0
                || u64::from(cpg) > 8 * block_size
                || u64::from(cpg) << (log_cluster - log) != u64::from(bpg)
            {
                return Err(Finding::new(at + 28, "ext bigalloc cluster geometry invalid")
                    .expected(
                        "cluster >= block, clusters per group × blocks per cluster = blocks per group",
                        format!("log cluster {log_cluster}, log block {log}, {cpg} clusters, {bpg} blocks per group"),
                    ));
            }
            1u64 << (log_cluster - log)
        } else {
            1
        };
        if bpg == 0
            || u64::from(bpg) > 8 * block_size * cluster_ratio
            || ipg == 0
            || blocks_count == 0
            || first_data_block > 1
        {
            return Err(Finding::new(at, "ext superblock geometry invalid").expected(
                format!("blocks per group 1..={}, inodes per group > 0, blocks > 0, first data block 0 or 1", 8 * block_size * cluster_ratio),
                format!("{bpg}, {ipg}, {blocks_count}, {first_data_block}"),
            ));
        }
        let desc_size = if incompat & INCOMPAT_64BIT != 0 {
            le16::<u32>(s, 254).max(32)
        } else {
            32
        };
        if !(32..=1024).contains(&desc_size) || !desc_size.is_power_of_two() {
            return Err(Finding::new(at + 254, "ext group descriptor size invalid")
                .expected("32..1024, power of two", desc_size));
        }
        let label_raw = &s[120..136];
        let end = label_raw.iter().position(|&b| b == 0).unwrap_or(16);
        let label = String::from_utf8_lossy(&label_raw[..end]).to_string();
        Ok(Superblock {
            inodes_count: le32(s, 0),
            blocks_count,
            first_data_block,
            block_size,
            blocks_per_group: bpg,
            inodes_per_group: ipg,
            inode_size,
            rev_level: rev,
            compat: if rev == 0 { 0 } else { le32(s, 92) },
            incompat,
            ro_compat,
            desc_size,
            label: (!label.is_empty()).then_some(label),
            journal_inum: if rev == 0 { 0 } else { le32(s, 224) },
            group_nr: le16(s, 90),
            first_ino: if rev == 0 {
                11
            } else {
                le32::<u32>(s, 84).clamp(3, 1 << 20)
            },
            cluster_ratio,
            first_meta_bg: if rev == 0 { 0 } else { le32(s, 260) },
            backup_bgs: [le32(s, 588), le32(s, 592)],
            csum_seed: if incompat & INCOMPAT_CSUM_SEED != 0 {
                le32(s, 624)
            } else {
                crc32c_update(!0, &s[104..120])
            },
            reserved_gdt_blocks: if rev == 0 { 0 } else { le16(s, 206) },
        })
    }
}

fn read_1k(vol: &VolumeReader, at: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; 1024];
    let r = vol.read_at(at, &mut b).ok()?;
    (r.len == 1024 && r.is_clean()).then_some(b)
}

fn is_power_of(mut g: u64, p: u64) -> bool {
    while g > 1 && g.is_multiple_of(p) {
        g /= p;
    }
    g == 1
}

/// Groups that hold backup superblocks with sparse_super: 1 and powers of 3, 5, 7.
pub fn backup_groups(limit: u64) -> Vec<u64> {
    let mut g = vec![1u64];
    for base in [3u64, 5, 7] {
        let mut p = base;
        while p < limit {
            g.push(p);
            p *= base;
        }
    }
    g.sort_unstable();
    g.dedup();
    g
}

/// The primary superblock, or the first backup that parses. Returns it with the
/// group it came from (0 = primary).
pub fn find(vol: &VolumeReader, findings: &mut Vec<Finding>) -> Result<Superblock, Finding> {
    let primary = read_1k(vol, 1024)
        .ok_or_else(|| Finding::new(vol.base() + 1024, "ext primary superblock unreadable"))
        .and_then(|b| Superblock::parse(&b, vol.base() + 1024));
    let err = match primary {
        Ok(sb) => return Ok(sb),
        Err(e) => e,
    };
    // Block size and group size are unknown: try the usual geometries
    // (blocks per group = 8 × block size).
    // A bigalloc group is 8 × block size clusters of 2^n blocks each.
    let geometries = [1024u64, 2048, 4096, 8192, 16384, 32768, 65536]
        .into_iter()
        .flat_map(|bs| (0..=16).map(move |n| (bs, (8 * bs) << n)));
    for (bs, bpg) in geometries {
        let first = u64::from(bs == 1024);
        for g in backup_groups(64 * 1024) {
            let at = (g * bpg + first) * bs;
            if at + 1024 > vol.len() {
                break;
            }
            let Some(b) = read_1k(vol, at) else { continue };
            let Ok(sb) = Superblock::parse(&b, vol.base() + at) else {
                continue;
            };
            if sb.block_size == bs
                && u64::from(sb.group_nr) == g
                && u64::from(sb.blocks_per_group) == bpg
            {
                findings.push(err);
                findings.push(Finding::new(
                    vol.base() + at,
                    format!("ext primary superblock unusable; backup superblock of group {g} used"),
                ));
                return Ok(sb);
            }
        }
    }
    Err(err)
}
