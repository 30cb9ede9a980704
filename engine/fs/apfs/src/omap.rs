//! Object maps: virtual object id and transaction → block. A container has
//! one for its volume superblocks, each volume one for its filesystem tree.
//! Older transactions' mappings stay while snapshots (or an older checkpoint)
//! still need them, so a lookup asks for the newest mapping at or before a
//! transaction.

use crate::btree;
use crate::obj::{Bad, Blocks, OMAP};
use dredge_core::bytes::{le32, le64};
use dredge_core::Finding;
use std::collections::HashMap;

/// `OMAP_VAL_DELETED`: the object was deleted in this transaction.
const DELETED: u32 = 1;
/// `OMAP_VAL_ENCRYPTED`: the object is encrypted with the volume key.
pub(crate) const ENCRYPTED: u32 = 4;

#[derive(Clone, Debug, Default)]
pub(crate) struct Omap {
    /// oid → (xid, block, flags), ascending by xid.
    map: HashMap<u64, Vec<(u64, u64, u32)>>,
}

impl Omap {
    /// The object map whose `omap_phys_t` is at block `at`.
    pub fn load(
        blocks: &Blocks,
        at: u64,
        what: &str,
        bad: &mut Bad,
        findings: &mut Vec<Finding>,
    ) -> Result<Omap, String> {
        let (_, b) = blocks.object(at, OMAP, bad)?;
        let tree = le64(&b, 48);
        let mut map: HashMap<u64, Vec<(u64, u64, u32)>> = HashMap::new();
        let mut n = 0u64;
        btree::walk(
            blocks,
            tree,
            what,
            &|c| Some(c),
            &mut |_, k, v| {
                if k.len() >= 16 && v.len() >= 16 {
                    let paddr = le64(v, 8);
                    if paddr < blocks.count {
                        map.entry(le64(k, 0))
                            .or_default()
                            .push((le64(k, 8), paddr, le32(v, 0)));
                        n += 1;
                    }
                }
                true
            },
            bad,
            findings,
        );
        if n == 0 {
            return Err(format!("{what} at block {at} maps nothing"));
        }
        for v in map.values_mut() {
            v.sort_unstable();
        }
        Ok(Omap { map })
    }

    /// Whether the map has any mapping of `oid`, of any transaction.
    pub fn knows(&self, oid: u64) -> bool {
        self.map.contains_key(&oid)
    }

    /// The block of `oid` as of transaction `xid`, with its flags.
    pub fn get(&self, oid: u64, xid: u64) -> Option<(u64, u32)> {
        let v = self.map.get(&oid)?;
        let &(_, at, flags) = v.iter().rev().find(|e| e.0 <= xid)?;
        (flags & DELETED == 0).then_some((at, flags))
    }

    /// Every block some mapping (of any transaction) with all of `flags`
    /// points at, with its object id; each block once, in block order.
    pub fn blocks_flagged(&self, flags: u32) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = self
            .map
            .iter()
            .flat_map(|(&oid, es)| {
                es.iter()
                    .filter(move |e| e.2 & flags == flags)
                    .map(move |e| (e.1, oid))
            })
            .collect();
        v.sort_unstable();
        v.dedup_by_key(|e| e.0);
        v
    }
}
