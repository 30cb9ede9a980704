//! The boot sector's BIOS parameter block: the volume's geometry.

use dredge_core::bytes::{le16, le32};
use dredge_core::Finding;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatType {
    Fat12,
    Fat16,
    Fat32,
}

impl FatType {
    pub fn name(&self) -> &'static str {
        match self {
            FatType::Fat12 => "fat12",
            FatType::Fat16 => "fat16",
            FatType::Fat32 => "fat32",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Bpb {
    pub bytes_per_sector: u32,
    pub sectors_per_cluster: u32,
    pub reserved_sectors: u32,
    pub num_fats: u32,
    pub root_entries: u32,
    pub total_sectors: u64,
    pub fat_sectors: u64,
    pub root_cluster: u32,
    pub fat_type: FatType,
    pub label: Option<String>,
    pub volume_id: u32,
    /// FAT32: which FAT is active when mirroring is off (ext_flags bit 7).
    pub active_fat: Option<u32>,
    /// The total sector count the boot sector claims, when the FAT cannot
    /// hold that many clusters and `total_sectors` was cut to what it holds.
    pub claimed_sectors: Option<u64>,
}

impl Bpb {
    pub fn cluster_size(&self) -> u64 {
        u64::from(self.bytes_per_sector) * u64::from(self.sectors_per_cluster)
    }

    pub fn fat_offset(&self, n: u32) -> u64 {
        (u64::from(self.reserved_sectors) + u64::from(n) * self.fat_sectors)
            * u64::from(self.bytes_per_sector)
    }

    pub fn root_dir_offset(&self) -> u64 {
        self.fat_offset(self.num_fats)
    }

    pub fn root_dir_bytes(&self) -> u64 {
        u64::from(self.root_entries) * 32
    }

    pub fn data_offset(&self) -> u64 {
        self.root_dir_offset()
            + self
                .root_dir_bytes()
                .div_ceil(u64::from(self.bytes_per_sector))
                * u64::from(self.bytes_per_sector)
    }

    /// Number of data clusters (cluster numbers 2 ..= cluster_count + 1).
    pub fn cluster_count(&self) -> u64 {
        let data_sectors = self
            .total_sectors
            .saturating_sub(self.data_offset() / u64::from(self.bytes_per_sector));
        data_sectors / u64::from(self.sectors_per_cluster)
    }

    /// Volume-relative offset of a data cluster.
    pub fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset() + u64::from(c.saturating_sub(2)) * self.cluster_size()
    }

    /// Parses and checks a boot sector found at volume offset `at` (for findings,
    /// `base` is the volume's image offset).
    pub fn parse(s: &[u8], base: u64, at: u64) -> Result<Bpb, Finding> {
        let f = |o: u64, what: &str| Finding::new(base + at + o, what.to_string());
        if s.len() < 512 {
            return Err(f(0, "boot sector too short"));
        }
        // 0x60 is the 68000's BRA.S of an Atari ST boot sector (`mkfs.fat -A`,
        // which Linux mounts); its BPB is the same.
        if !(s[0] == 0xEB || s[0] == 0xE9 || s[0] == 0xE8 || s[0] == 0x60) {
            return Err(f(0, "FAT boot sector has no jump instruction")
                .expected("EB xx 90, E9 xx xx or 60 xx", format!("{:02X}", s[0])));
        }
        let bps = le16(s, 11);
        if !matches!(bps, 512 | 1024 | 2048 | 4096) {
            return Err(
                f(11, "FAT bytes per sector invalid").expected("512, 1024, 2048 or 4096", bps)
            );
        }
        let spc = u32::from(s[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(
                f(13, "FAT sectors per cluster invalid").expected("a power of two 1..128", spc)
            );
        }
        let reserved = le16(s, 14);
        if reserved == 0 {
            return Err(f(14, "FAT reserved sector count is 0").expected(">= 1", 0));
        }
        let num_fats = u32::from(s[16]);
        if !(1..=4).contains(&num_fats) {
            return Err(f(16, "FAT count invalid").expected("1..4", num_fats));
        }
        let root_entries = le16(s, 17);
        let total16 = le16::<u32>(s, 19);
        let total = if total16 != 0 {
            u64::from(total16)
        } else {
            u64::from(le32::<u32>(s, 32))
        };
        if total == 0 {
            return Err(f(19, "FAT total sector count is 0"));
        }
        let fat16_size = le16::<u32>(s, 22);
        let is32 = fat16_size == 0;
        let fat_sectors = if is32 {
            u64::from(le32::<u32>(s, 36))
        } else {
            u64::from(fat16_size)
        };
        if fat_sectors == 0 {
            return Err(f(36, "FAT size is 0"));
        }
        let mut b = Bpb {
            bytes_per_sector: bps,
            sectors_per_cluster: spc,
            reserved_sectors: reserved,
            num_fats,
            root_entries,
            total_sectors: total,
            fat_sectors,
            root_cluster: if is32 { le32(s, 44) } else { 0 },
            fat_type: FatType::Fat12,
            label: None,
            volume_id: 0,
            active_fat: None,
            claimed_sectors: None,
        };
        if b.data_offset() / u64::from(bps) >= total {
            return Err(f(19, "FAT metadata is larger than the volume").expected(
                format!("data start < {total} sectors"),
                b.data_offset() / u64::from(bps),
            ));
        }
        // The type follows from the cluster count (Microsoft's FAT specification).
        let clusters = b.cluster_count();
        b.fat_type = if is32 {
            FatType::Fat32
        } else if clusters < 4085 {
            FatType::Fat12
        } else {
            FatType::Fat16
        };
        if is32 && root_entries != 0 {
            return Err(f(17, "FAT32 volume with a fixed root directory").expected(0, root_entries));
        }
        let entry_bits: u64 = match b.fat_type {
            FatType::Fat12 => 12,
            FatType::Fat16 => 16,
            FatType::Fat32 => 32,
        };
        let needed = (clusters + 2) * entry_bits / 8;
        let fat_bytes = fat_sectors * u64::from(bps);
        if fat_bytes < needed {
            // A damaged total sector count (or a FAT size a few sectors
            // short): the clusters are those the FAT can describe, as other
            // readers take them; `claimed_sectors` keeps what was claimed.
            let capacity = (fat_bytes * 8 / entry_bits).saturating_sub(2);
            if capacity == 0 {
                return Err(f(22, "FAT is too small for the cluster count")
                    .expected(format!(">= {needed} bytes"), fat_bytes));
            }
            b.claimed_sectors = Some(total);
            b.total_sectors = b.data_offset() / u64::from(bps) + capacity * u64::from(spc);
        }
        let (label_at, id_at, sig_at) = if is32 { (71, 67, 66) } else { (43, 39, 38) };
        if s[sig_at] == 0x29 {
            b.volume_id = le32(s, id_at);
            let raw = &s[label_at..label_at + 11];
            let l: String = raw
                .iter()
                .map(|&c| char::from(c))
                .collect::<String>()
                .trim_end()
                .to_string();
            if !l.is_empty() && l != "NO NAME" {
                b.label = Some(l);
            }
        }
        if is32 {
            let ext = le16::<u32>(s, 40);
            if ext & 0x80 != 0 {
                b.active_fat = Some(ext & 0x0F);
            }
        }
        Ok(b)
    }
}
