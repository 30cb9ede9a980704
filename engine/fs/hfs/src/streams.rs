//! A file's streams beside its data fork, for live and deleted files alike:
//! the resource fork (`name:rsrc`) and each extended attribute
//! (`name:<attribute>`).

use crate::fork::Fork;
use crate::{attrs, HfsFs};
use dredge_core::{Entry, EntryKind, Recovery, Run, RunData, Timestamp};
use std::sync::Arc;

impl HfsFs {
    /// The resource fork of `file` (the inode's, for a hard link), if it has
    /// one, as the stream `path:rsrc` of `cnid`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rsrc_entry(
        &self,
        rsrc: &Fork,
        file: u32,
        cnid: u32,
        path: &str,
        times: &[Timestamp],
        at: u64,
        deleted: bool,
        visit: &mut dyn FnMut(Entry),
    ) {
        if rsrc.logical_size == 0 {
            return;
        }
        let (size, runs) = self.runs(rsrc, file, 0xFF);
        visit(Entry {
            id: u64::from(cnid) | 1 << 48,
            path: format!("{path}:rsrc"),
            other_names: Vec::new(),
            kind: EntryKind::File,
            deleted,
            size,
            times: times.to_vec(),
            runs,
            recovery: if deleted {
                self.recovery(rsrc, file, 0xFF)
            } else {
                Recovery::Allocated
            },
            meta_offset: at,
        });
    }

    /// The extended attributes of `file` (the inode's, for a hard link) as
    /// streams of `cnid` at `path`, each `name:<attribute>`. A deleted file's
    /// attributes are listed when their records outlived it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attr_entries(
        &self,
        file: u32,
        cnid: u32,
        path: &str,
        times: &[Timestamp],
        at: u64,
        deleted: bool,
        visit: &mut dyn FnMut(Entry),
    ) {
        for (i, (name, value)) in self.attrs.get(&file).into_iter().flatten().enumerate() {
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
                    if deleted {
                        self.recovery(f, file, 1)
                    } else {
                        Recovery::Intact
                    },
                ),
            };
            visit(Entry {
                id: u64::from(cnid) | (2 + i as u64) << 48,
                path: format!("{path}:{}", name.replace('/', ":")),
                other_names: Vec::new(),
                kind: EntryKind::File,
                deleted,
                size,
                times: times.to_vec(),
                runs,
                recovery: if deleted {
                    recovery
                } else {
                    Recovery::Allocated
                },
                meta_offset: at,
            });
        }
    }
}
