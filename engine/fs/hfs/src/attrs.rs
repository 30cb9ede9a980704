//! Extended attributes: the attributes B-tree, keyed by (file CNID, name,
//! start block). A value is inline in the record (type 0x10) or a fork of
//! its own (0x20, its first eight extents); a fork in more extents goes on in
//! extents records (0x30), keyed by the fork's block where each begins.
//!
//! The same records are read from the live tree and, for deleted files, from
//! the tree's node copies in the journal (`deleted.rs`).

use crate::btree::{Tree, TreeShape};
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

/// One attributes-tree leaf record.
pub(crate) struct Record {
    pub file: u32,
    pub name: String,
    /// The fork block an extents record begins at (0 for the others).
    pub start: u32,
    pub body: Body,
}

pub(crate) enum Body {
    Value(Value),
    /// An extents record's (start block, count) pairs, none empty.
    Extents(Vec<(u32, u32)>),
}

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

/// A record from its key (after the key length) and data; `None` for what is
/// not an attribute record (a catalog record in a node copy among them, a
/// record too short for its type).
pub(crate) fn record(key: &[u8], data: &[u8]) -> Option<Record> {
    if key.len() < 12 || data.len() < 16 {
        return None;
    }
    let body = match be32(data, 0) {
        0x10 => {
            let size = be32(data, 12) as usize;
            Body::Value(Value::Inline(
                data[16..16usize.saturating_add(size).min(data.len())].to_vec(),
            ))
        }
        0x20 if data.len() >= 88 => Body::Value(Value::Fork(Fork::parse(data, 8))),
        0x30 if data.len() >= 72 => Body::Extents(
            (0..8)
                .map(|e| (be32(data, 8 + 8 * e), be32(data, 12 + 8 * e)))
                .take_while(|&(_, c)| c != 0)
                .collect(),
        ),
        _ => return None,
    };
    Some(Record {
        file: be32(key, 2),
        name: name(key)?,
        start: be32(key, 6),
        body,
    })
}

/// Builds [`Attrs`] from records given in key order (file, name, start).
#[derive(Default)]
pub(crate) struct Assembler {
    pub out: Attrs,
    pub count: usize,
    /// The fork record an extents record may continue: (file, name, where in
    /// `out` its value is).
    last_fork: Option<(u32, String, usize)>,
}

impl Assembler {
    pub fn push(&mut self, r: Record) {
        match r.body {
            Body::Value(value) => {
                self.count += 1;
                let list = self.out.entry(r.file).or_default();
                self.last_fork =
                    matches!(value, Value::Fork(_)).then(|| (r.file, r.name.clone(), list.len()));
                list.push((r.name, value));
            }
            Body::Extents(more) => self.more_extents(r.file, &r.name, r.start, more),
        }
    }

    /// Adds an extents record's extents to the fork record before it. Only a
    /// record that takes up exactly where the fork's extents end counts: one
    /// out of place (a stale record, a forged key) would put foreign blocks
    /// inside the value, and the value then stops at its gap instead.
    fn more_extents(&mut self, file: u32, name: &str, start: u32, more: Vec<(u32, u32)>) {
        let Some((f, n, i)) = &self.last_fork else {
            return;
        };
        if (*f, n.as_str()) != (file, name) {
            return;
        }
        let Some((_, Value::Fork(fork))) = self.out.get_mut(&file).and_then(|l| l.get_mut(*i))
        else {
            return;
        };
        if fork.blocks() != u64::from(start) || fork.extents.len() + more.len() > MAX_EXTENTS {
            return;
        }
        fork.extents.extend(more);
    }
}

/// Every attribute of the volume, and the tree's shape.
pub(crate) fn read(fs: &HfsFs, findings: &mut Vec<Finding>) -> (Attrs, TreeShape) {
    if fs.head.attributes.logical_size == 0 {
        return (Attrs::new(), TreeShape::default());
    }
    let fork = fs.complete(fs.head.attributes.clone(), 8, 0);
    let tree = match Tree::open(&fs.vol, fork, fs.head.block, "attributes file") {
        Ok(t) => t,
        Err(f) => {
            findings.push(f);
            return (Attrs::new(), TreeShape::default());
        }
    };
    let mut a = Assembler::default();
    let live = tree.leaves(
        "attributes file",
        &mut |r| {
            if let Some(rec) = record(&r.key, &r.data) {
                a.push(rec);
            }
            a.count < MAX_ATTRS
        },
        findings,
    );
    if a.count >= MAX_ATTRS {
        findings.push(Finding::new(
            fs.vol.base(),
            format!("HFS+: more than {MAX_ATTRS} extended attributes; the rest are not listed"),
        ));
    }
    let shape = TreeShape {
        shape: Some((tree.node_size, tree.total_nodes)),
        live,
    };
    (a.out, shape)
}
