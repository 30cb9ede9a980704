//! Extended attributes: the attributes B-tree, keyed by (file CNID, start
//! block, name). A value is inline in the record (type 0x10) or a fork of
//! its own (0x20, its first eight extents); a fork in more extents goes on in
//! extents records (0x30), keyed by the fork's block where each begins.

use crate::btree::Tree;
use crate::fork::{Fork, MAX_EXTENTS};
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

/// Adds the extents of an extents record (`data`, for `file`'s attribute
/// `name`, keyed at fork block `start`) to the fork record before it. Only a
/// record that takes up exactly where the fork's extents end counts: one out
/// of place (a stale record, a forged key) would put foreign blocks inside
/// the value, and the value then stops at its gap instead.
fn more_extents(
    out: &mut Attrs,
    last: &Option<(u32, String, usize)>,
    file: u32,
    name: &str,
    start: u32,
    data: &[u8],
) {
    let Some((f, n, i)) = last else { return };
    if (*f, n.as_str()) != (file, name) {
        return;
    }
    let Some((_, Value::Fork(fork))) = out.get_mut(&file).and_then(|l| l.get_mut(*i)) else {
        return;
    };
    if fork.blocks() != u64::from(start) || fork.extents.len() >= MAX_EXTENTS {
        return;
    }
    for e in 0..8 {
        let (s, c) = (be32(data, 8 + 8 * e), be32(data, 12 + 8 * e));
        if c == 0 {
            break;
        }
        fork.extents.push((s, c));
    }
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
    // The fork record an extents record may continue: (file, name, where in
    // `out` its value is). Records come in key order (file, name, start
    // block), so a fork's extents records follow it.
    let mut last_fork: Option<(u32, String, usize)> = None;
    tree.leaves(
        "attributes file",
        &mut |r| {
            if r.key.len() < 12 || r.data.len() < 16 {
                return true;
            }
            let Some(name) = name(&r.key) else {
                return true;
            };
            let file = be32(&r.key, 2);
            let value = match be32(&r.data, 0) {
                0x30 if r.data.len() >= 72 => {
                    more_extents(&mut out, &last_fork, file, &name, be32(&r.key, 6), &r.data);
                    return true;
                }
                0x10 => {
                    let size = be32(&r.data, 12) as usize;
                    Value::Inline(r.data[16..(16 + size).min(r.data.len())].to_vec())
                }
                0x20 if r.data.len() >= 88 => Value::Fork(Fork::parse(&r.data, 8)),
                _ => return true,
            };
            n += 1;
            let list = out.entry(file).or_default();
            last_fork = matches!(value, Value::Fork(_)).then(|| (file, name.clone(), list.len()));
            list.push((name, value));
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
