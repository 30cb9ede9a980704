//! ISO 9660 image validator (ECMA-119): CD and DVD images, installer ISOs,
//! hybrid ISOs written to USB sticks.

use crate::{partial, Carver, Reader, Verdict};

/// ISO 9660: the primary volume descriptor 32 KiB in (after the system area),
/// its both-endian fields agreeing, a logical block of 512–2048 bytes; the
/// descriptor set (boot record, supplementary ones such as Joliet) ending in its
/// terminator within 64 blocks; the root directory inside the volume, beginning
/// with its own "." record. The image is the volume space size times the block
/// size. Nothing in it carries a checksum: `Unverified`.
pub struct Iso9660;

/// Where the primary volume descriptor lies: after 16 blocks of 2048 bytes.
const PVD: u64 = 16 * 2048;

impl Carver for Iso9660 {
    fn name(&self) -> &'static str {
        "iso9660"
    }
    fn extension(&self, _: Option<&'static str>) -> &'static str {
        "iso"
    }
    fn headers(&self) -> &'static [&'static [u8]] {
        &[b"\x01CD001\x01\x00"]
    }
    fn header_offset(&self) -> u64 {
        PVD
    }
    fn min_size(&self) -> u64 {
        PVD + 3 * 2048
    }
    fn max_size(&self) -> u64 {
        1 << 40
    }
    fn check(&self, r: &mut Reader<'_>) -> Verdict {
        let Some(p) = r.get(PVD, 2048).map(<[u8]>::to_vec) else {
            return Verdict::Reject;
        };
        let le32 = |i: usize| u64::from(u32::from_le_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]));
        let be32 =
            |i: usize| u64::from(u32::from_be_bytes([p[i + 4], p[i + 5], p[i + 6], p[i + 7]]));
        let le16 = |i: usize| u64::from(u16::from_le_bytes([p[i], p[i + 1]]));
        let be16 = |i: usize| u64::from(u16::from_be_bytes([p[i + 2], p[i + 3]]));
        let (blocks, block) = (le32(80), le16(128));
        let both = blocks == be32(80) && block == be16(128) && le16(120) == be16(120);
        if !both || !matches!(block, 512 | 1024 | 2048) || blocks * block < PVD + 3 * 2048 {
            return Verdict::Reject;
        }
        let len = blocks * block;
        // The descriptor set: each descriptor names CD001, until the terminator.
        let mut at = PVD + 2048;
        loop {
            let Some(d) = r.get(at, 7) else {
                return Verdict::Reject;
            };
            if &d[1..6] != b"CD001" || at > PVD + 64 * 2048 {
                return Verdict::Reject;
            }
            if d[0] == 255 {
                break;
            }
            at += 2048;
        }
        // The root directory's record, and the "." record its extent begins with.
        let root = &p[156..190];
        let extent = u64::from(u32::from_le_bytes([root[2], root[3], root[4], root[5]])) * block;
        let size = u64::from(u32::from_le_bytes([root[10], root[11], root[12], root[13]]));
        if root[0] < 34 || extent <= at || extent + size > len {
            return Verdict::Reject;
        }
        if len > r.limit() {
            return partial(r.limit(), "the volume runs past what is readable");
        }
        match r.get(extent, 34) {
            Some(dot)
                if dot[0] >= 34 && dot[32] == 1 && dot[33] == 0 && dot[2..6] == root[2..6] =>
            {
                Verdict::Unverified { len, subtype: None }
            }
            _ => partial(extent, "the root directory is not where the volume says"),
        }
    }
}
