//! A file's streams beside its data fork, for live and deleted files alike:
//! the resource fork (`name:rsrc`) and each extended attribute
//! (`name:<attribute>`).

use crate::fork::Fork;
use crate::{attrs, HfsFs};
use dredge_core::{Entry, EntryKind, Recovery, Run, RunData, Timestamp};
use std::sync::Arc;

/// The file whose streams are listed.
pub(crate) struct Owner<'a> {
    /// Where the content lives: the inode's CNID, for a hard link.
    pub file: u32,
    /// The CNID the streams' ids are made from.
    pub cnid: u32,
    pub path: &'a str,
    pub times: &'a [Timestamp],
    /// Volume offset of its catalog record.
    pub at: u64,
    pub deleted: bool,
    /// Its extended attributes.
    pub attrs: &'a [(String, attrs::Value)],
}

impl HfsFs {
    /// The resource fork `rsrc` of `o`, if it has one, then its extended
    /// attributes. A deleted file's attributes are listed where their records
    /// outlived it; each deleted stream says how far its blocks can be trusted.
    pub(crate) fn side_streams(&self, o: &Owner<'_>, rsrc: &Fork, visit: &mut dyn FnMut(Entry)) {
        let stream = |n: u64, name: String, size, runs, recovery| Entry {
            id: u64::from(o.cnid) | n << 48,
            path: format!("{}:{name}", o.path),
            other_names: Vec::new(),
            kind: EntryKind::File,
            deleted: o.deleted,
            size,
            times: o.times.to_vec(),
            runs,
            recovery: if o.deleted {
                recovery
            } else {
                Recovery::Allocated
            },
            meta_offset: o.at,
        };
        if rsrc.logical_size > 0 {
            let (size, runs) = self.runs(rsrc, o.file, 0xFF);
            let recovery = if o.deleted {
                self.recovery(rsrc, o.file, 0xFF)
            } else {
                Recovery::Allocated
            };
            visit(stream(1, "rsrc".into(), size, runs, recovery));
        }
        for (i, (name, value)) in o.attrs.iter().enumerate() {
            let (size, runs, recovery) = match value {
                attrs::Value::Inline(b) if b.is_empty() => (0, Vec::new(), Recovery::Intact),
                attrs::Value::Inline(b) => (
                    b.len() as u64,
                    vec![Run {
                        file_offset: 0,
                        len: b.len() as u64,
                        data: RunData::Inline(Arc::from(b.as_slice())),
                    }],
                    Recovery::Intact,
                ),
                attrs::Value::Fork(f) => (
                    f.logical_size,
                    f.runs(self.vol.base(), self.head.block),
                    if o.deleted {
                        self.recovery(f, o.file, 1)
                    } else {
                        Recovery::Intact
                    },
                ),
            };
            let name = name.replace('/', ":");
            visit(stream(2 + i as u64, name, size, runs, recovery));
        }
    }
}
