//! The superblock and group descriptors, with fallback to backup superblocks (in
//! groups 1, 3, 5, 7, 9, 25, 27, … with sparse_super) when the primary is damaged.

pub(crate) use dredge_core::bytes::{le16, le32};
use dredge_core::{Finding, VolumeReader};

pub const INCOMPAT_EXTENTS: u32 = 0x40;
pub const INCOMPAT_64BIT: u32 = 0x80;
pub const INCOMPAT_META_BG: u32 = 0x10;
pub const INCOMPAT_INLINE_DATA: u32 = 0x8000;
pub const RO_COMPAT_METADATA_CSUM: u32 = 0x400;
pub const COMPAT_HAS_JOURNAL: u32 = 0x4;

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
        if bpg == 0
            || u64::from(bpg) > 8 * block_size
            || ipg == 0
            || blocks_count == 0
            || first_data_block > 1
        {
            return Err(Finding::new(at, "ext superblock geometry invalid").expected(
                format!("blocks per group 1..={}, inodes per group > 0, blocks > 0, first data block 0 or 1", 8 * block_size),
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
            ro_compat: if rev == 0 { 0 } else { le32(s, 100) },
            desc_size,
            label: (!label.is_empty()).then_some(label),
            journal_inum: if rev == 0 { 0 } else { le32(s, 224) },
            group_nr: le16(s, 90),
            first_ino: if rev == 0 {
                11
            } else {
                le32::<u32>(s, 84).clamp(3, 1 << 20)
            },
        })
    }
}

fn read_1k(vol: &VolumeReader, at: u64) -> Option<Vec<u8>> {
    let mut b = vec![0u8; 1024];
    let r = vol.read_at(at, &mut b).ok()?;
    (r.len == 1024 && r.is_clean()).then_some(b)
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
    for bs in [1024u64, 2048, 4096, 8192, 16384, 32768, 65536] {
        let bpg = 8 * bs;
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

#[derive(Clone, Debug, Default)]
pub struct Group {
    pub block_bitmap: u64,
    pub inode_bitmap: u64,
    pub inode_table: u64,
    pub flags: u32,
    pub itable_unused: u32,
}

pub const BG_INODE_UNINIT: u32 = 0x1;
pub const BG_BLOCK_UNINIT: u32 = 0x2;

/// Group descriptors: the primary table (after the primary superblock), or a backup
/// table (after a backup superblock) when the primary is unreadable or implausible.
pub fn groups(
    vol: &VolumeReader,
    sb: &Superblock,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Group>, Finding> {
    let n = sb.group_count();
    let ds = u64::from(sb.desc_size);
    let bytes = n * ds;
    if bytes > 256 << 20 {
        return Err(Finding::new(
            vol.base() + 1024,
            "ext group descriptor table implausibly large",
        )
        .expected("<= 256 MiB", bytes));
    }
    if sb.has(INCOMPAT_META_BG) {
        findings.push(Finding::new(
            vol.base() + 1024,
            "ext meta_bg layout: only the first descriptor block is read in place",
        ));
    }
    let candidates = std::iter::once(0u64).chain(backup_groups(n));
    let mut first_err = None;
    for g in candidates {
        let gstart = u64::from(sb.first_data_block) + g * u64::from(sb.blocks_per_group);
        let at = (gstart + 1) * sb.block_size;
        let (buf, rep) = match vol.read_vec(at, bytes, 256 << 20) {
            Ok(x) => x,
            Err(e) => {
                return Err(Finding::new(
                    vol.base() + at,
                    format!("cannot read group descriptors: {e}"),
                ))
            }
        };
        let parsed: Vec<Group> = (0..n as usize)
            .map(|i| {
                let d = &buf[i * ds as usize..(i + 1) * ds as usize];
                let hi = |o: usize| {
                    if ds >= 64 {
                        u64::from(le32::<u32>(d, o)) << 32
                    } else {
                        0
                    }
                };
                Group {
                    block_bitmap: u64::from(le32::<u32>(d, 0)) | hi(32),
                    inode_bitmap: u64::from(le32::<u32>(d, 4)) | hi(36),
                    inode_table: u64::from(le32::<u32>(d, 8)) | hi(40),
                    flags: le16(d, 18),
                    itable_unused: le16(d, 28),
                }
            })
            .collect();
        let sane = rep.is_clean()
            && parsed.iter().all(|gr| {
                gr.inode_table > 0
                    && gr.inode_table < sb.blocks_count
                    && gr.block_bitmap < sb.blocks_count
                    && gr.inode_bitmap < sb.blocks_count
            });
        if sane {
            if g != 0 {
                findings.push(Finding::new(
                    vol.base() + at,
                    format!("primary group descriptors unusable; backup copy in group {g} used"),
                ));
            }
            return Ok(parsed);
        }
        if first_err.is_none() {
            first_err = Some(Finding::new(
                vol.base() + at,
                "ext group descriptors unreadable or point outside the filesystem",
            ));
        }
        if g > 0 && gr_count_exceeded(g, n) {
            break;
        }
    }
    Err(first_err.unwrap_or_else(|| Finding::new(vol.base(), "no usable group descriptors")))
}

fn gr_count_exceeded(g: u64, n: u64) -> bool {
    g >= n
}
