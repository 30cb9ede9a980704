//! APFS objects: the 32-byte header every metadata block starts with, the
//! Fletcher-64 checksum over the rest of the block, and block reads that say
//! why a block could not be used.

use dredge_core::bytes::{le32, le64};
use dredge_core::VolumeReader;

/// Object types (the low 16 bits of `o_type`).
pub(crate) const NX_SUPERBLOCK: u32 = 0x01;
pub(crate) const BTREE: u32 = 0x02;
pub(crate) const BTREE_NODE: u32 = 0x03;
pub(crate) const SPACEMAN: u32 = 0x05;
pub(crate) const SPACEMAN_CIB: u32 = 0x07;
pub(crate) const OMAP: u32 = 0x0b;
pub(crate) const CHECKPOINT_MAP: u32 = 0x0c;
pub(crate) const FS: u32 = 0x0d;

/// The largest block size APFS allows (64 KiB); the smallest is 4 KiB.
pub(crate) const MAX_BLOCK: u64 = 65536;

/// Fletcher-64 over 32-bit little-endian words of `b[8..]`, as Apple's
/// reference defines the object checksum.
pub(crate) fn fletcher64(b: &[u8]) -> u64 {
    const M: u64 = 0xFFFF_FFFF;
    let (mut s1, mut s2) = (0u64, 0u64);
    for w in b[8..].chunks_exact(4) {
        s1 = (s1 + u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))) % M;
        s2 = (s2 + s1) % M;
    }
    let c1 = M - ((s1 + s2) % M);
    let c2 = M - ((s1 + c1) % M);
    (c2 << 32) | c1
}

/// An object header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub xid: u64,
    pub otype: u32,
    pub sum_ok: bool,
}

pub(crate) fn head(b: &[u8]) -> Head {
    Head {
        xid: le64(b, 16),
        otype: le32::<u32>(b, 24) & 0xFFFF,
        sum_ok: le64(b, 0) == fletcher64(b) && le64(b, 0) != 0,
    }
}

/// Physical blocks of a container.
#[derive(Clone)]
pub(crate) struct Blocks {
    pub vol: VolumeReader,
    pub size: u64,
    pub count: u64,
}

impl Blocks {
    /// Image offset of block `n`.
    pub fn offset(&self, n: u64) -> u64 {
        self.vol.base() + n * self.size
    }

    /// Block `n`, cleanly read, or why not.
    pub fn read(&self, n: u64) -> Result<Vec<u8>, String> {
        if n >= self.count || n.saturating_mul(self.size) >= self.vol.len() {
            return Err(format!(
                "block {n} is outside the container ({} blocks)",
                self.count
            ));
        }
        let mut b = vec![0u8; self.size as usize];
        match self.vol.read_at(n * self.size, &mut b) {
            Ok(r) if r.is_clean() => Ok(b),
            Ok(_) => Err(format!("block {n} is unreadable (bad sectors)")),
            Err(e) => Err(format!("block {n}: {e}")),
        }
    }

    /// Block `n` as an object of type `otype`. A wrong checksum is counted in
    /// `bad` and the object still used where its type matches.
    pub fn object(&self, n: u64, otype: u32, bad: &mut Bad) -> Result<(Head, Vec<u8>), String> {
        let b = self.read(n)?;
        let h = head(&b);
        if h.otype != otype {
            return Err(format!(
                "block {n}: object type {:#x}, expected {otype:#x}",
                h.otype
            ));
        }
        if !h.sum_ok {
            bad.note(self.offset(n));
        }
        Ok((h, b))
    }
}

/// Objects whose checksum is wrong, used anyway where they parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bad {
    pub count: u64,
    pub first: Option<u64>,
}

impl Bad {
    pub fn note(&mut self, at: u64) {
        self.count += 1;
        self.first.get_or_insert(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fletcher64_of_a_block_is_stored_in_its_first_eight_bytes() {
        let mut b = vec![0u8; 4096];
        for (i, x) in b.iter_mut().enumerate().skip(8) {
            *x = (i * 7 % 251) as u8;
        }
        let c = fletcher64(&b);
        b[..8].copy_from_slice(&c.to_le_bytes());
        assert!(head(&b).sum_ok);
        b[100] ^= 1;
        assert!(!head(&b).sum_ok);
    }
}
