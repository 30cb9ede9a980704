//! Extended attributes: the attributes B-tree, keyed by (file CNID, start
//! block, name). A value is inline in the record (type 0x10) or a fork of
//! its own (0x20, its eight extents; a longer attribute continues in 0x30
//! records, which are not followed: the value then stops at its gap).

use crate::btree::Tree;
use crate::fork::Fork;
use crate::{be32, HfsFs};
use dredge_core::bytes::be16;
use dredge_core::Finding;
use std::collections::HashMap;

/// Attributes read per volume: past it, the rest is a finding.
const MAX_ATTRS: usize = 1 << 22;

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Inline(Vec<u8>),
    Fork(Fork),
}

/// File CNID → its attributes (name, value), in key order.
pub(crate) type Attrs = HashMap<u32, Vec<(String, Value)>>;

fn name(k: &[u8]) -> Option<String> {
    // Key (after its length): pad, file id, start block, name length, name.
    let n = usize::from(be16::<u16>(k, 10));
    let units: Vec<u16> = (0..n)
        .map(|i| k.get(12 + 2 * i..14 + 2 * i).map(|u| be16(u, 0)))
        .collect::<Option<_>>()?;
    Some(
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
    )
}

/// Every attribute of the volume.
pub(crate) fn read(fs: &HfsFs, findings: &mut Vec<Finding>) -> Attrs {
    let mut out = Attrs::new();
    if fs.head.attributes.logical_size == 0 {
        return out;
    }
    let fork = fs.complete(fs.head.attributes.clone(), 8, 0);
    let tree = match Tree::open(&fs.vol, fork, fs.head.block, "attributes file") {
        Ok(t) => t,
        Err(f) => {
            findings.push(f);
            return out;
        }
    };
    let mut n = 0usize;
    tree.leaves(
        "attributes file",
        &mut |r| {
            if r.key.len() < 12 || r.data.len() < 16 {
                return true;
            }
            let Some(name) = name(&r.key) else {
                return true;
            };
            let value = match be32(&r.data, 0) {
                0x10 => {
                    let size = be32(&r.data, 12) as usize;
                    Value::Inline(r.data[16..(16 + size).min(r.data.len())].to_vec())
                }
                0x20 if r.data.len() >= 88 => Value::Fork(Fork::parse(&r.data, 8)),
                _ => return true,
            };
            n += 1;
            out.entry(be32(&r.key, 2)).or_default().push((name, value));
            n < MAX_ATTRS
        },
        findings,
    );
    if n >= MAX_ATTRS {
        findings.push(Finding::new(
            fs.vol.base(),
            format!("HFS+: more than {MAX_ATTRS} extended attributes; the rest are not listed"),
        ));
    }
    out
}
