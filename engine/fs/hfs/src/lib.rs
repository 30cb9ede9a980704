//! HFS+ and HFSX, read-only and forensic (issue 15): the volume header at
//! byte 1024 (its alternate copy 1024 bytes before the volume's end when the
//! first is damaged), the catalog B-tree walked leaf by leaf, every folder
//! and file with its times and BSD kind, data forks and resource forks (as
//! `name:rsrc`) laid out from their extents and the extents-overflow file,
//! file hard links through the private `iNode<N>` files, and free space from
//! the allocation file. Layout: Apple's Technical Note TN1150.
//!
//! Extended attributes from the attributes B-tree are streams of their own
//! (`name:<attribute>`).
//!
//! decmpfs-compressed files are decoded as they are read (dredge-decmpfs),
//! their stored streams listed too.
//!
//! Deleted folders and files come from catalog records the live tree no
//! longer holds: node copies in the journal and catalog nodes the tree let go
//! (`deleted.rs`); a deleted fork's extents past its eighth from the extents
//! overflow tree's records found the same ways (`overflow.rs`).
//!
//! An HFS+ volume inside an HFS wrapper is read where the wrapper's master
//! directory block puts it.

mod attrs;
mod btree;
mod catalog;
mod deleted;
mod fork;
mod journal;
mod overflow;
mod streams;

use btree::{Tree, TreeShape};
use catalog::{item, key, Item};
use dredge_core::bytes::be16;
use dredge_core::{Entry, EntryKind, Extent, FileSystem, Finding, Recovery, Run, VolumeReader};
use fork::Fork;
use overflow::Overflow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// A big-endian u32 (HFS+ is big-endian throughout).
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    dredge_core::bytes::be32(b, at)
}

/// Folder depth a path is built through (a loop in parent links stops here).
const MAX_DEPTH: usize = 512;
/// The name macOS gives the folder of hard-linked files' inodes.
const PRIVATE: &str = "\0\0\0\0HFS+ Private Data";

#[derive(Clone, Debug)]
struct Header {
    hfsx: bool,
    /// The volume header's attributes (journaled: bit 13).
    flags: u32,
    /// The journal info block's allocation block (0: none).
    journal_info: u32,
    block: u64,
    total_blocks: u32,
    allocation: Fork,
    extents: Fork,
    catalog: Fork,
    attributes: Fork,
}

fn parse_header(h: &[u8]) -> Result<Header, String> {
    let (sig, ver) = (&h[0..2], be16::<u16>(h, 2));
    let hfsx = match (sig, ver) {
        (b"H+", 4) => false,
        (b"HX", 5) => true,
        _ => {
            // Bytes, not text: a destroyed header holds anything.
            return Err(format!(
                "signature {:02x}{:02x} version {ver}, expected 482b (\"H+\") version 4 or 4858 (\"HX\") version 5",
                sig[0], sig[1]
            ));
        }
    };
    let block = u64::from(be32(h, 40));
    if !(512..=1 << 20).contains(&block) || !block.is_power_of_two() {
        return Err(format!("block size {block}"));
    }
    Ok(Header {
        hfsx,
        flags: be32(h, 4),
        journal_info: be32(h, 12),
        block,
        total_blocks: be32(h, 44),
        allocation: Fork::parse(h, 112),
        extents: Fork::parse(h, 192),
        catalog: Fork::parse(h, 272),
        attributes: Fork::parse(h, 352),
    })
}

/// The HFS+ volume inside an HFS wrapper (how classic Mac OS formatted HFS+,
/// so that older systems saw an HFS volume holding one file): the wrapper's
/// master directory block at byte 1024 ('BD') names an embedded 'H+' volume
/// by an extent of its allocation blocks. (offset, length) in the volume.
fn wrapped(m: &[u8; 512], vol_len: u64) -> Option<(u64, u64)> {
    if &m[0..2] != b"BD" || &m[124..126] != b"H+" {
        return None;
    }
    let block = u64::from(be32(m, 20));
    let first = u64::from(be16::<u16>(m, 28)) * 512;
    let (start, count) = (
        u64::from(be16::<u16>(m, 126)),
        u64::from(be16::<u16>(m, 128)),
    );
    if block == 0 || block % 512 != 0 || count == 0 {
        return None;
    }
    let off = first + start * block;
    // The embedded volume lies past the wrapper's own master directory block
    // (a forged extent at 0 would name the wrapper itself).
    if off < 1536 {
        return None;
    }
    Some((off, (count * block).min(vol_len.saturating_sub(off))))
}

/// The 512 bytes at 1024 (an HFS+ volume header or an HFS wrapper's master
/// directory block), and whether they read clean.
fn block_at_1024(vol: &VolumeReader) -> ([u8; 512], bool) {
    let mut h = [0u8; 512];
    let clean = vol.read_at(1024, &mut h).is_ok_and(|r| r.is_clean());
    (h, clean)
}

/// Whether the volume holds an HFS+ or HFSX volume header at byte 1024 (or
/// inside the HFS wrapper there), or, with that one wiped (zeros), unreadable
/// or damaged under its signature, the alternate copy 1024 bytes before the
/// volume's end. Other volumes (whose bytes at 1024 are their own data) cost
/// no second read.
pub fn probe(vol: &VolumeReader) -> bool {
    let (h, clean) = block_at_1024(vol);
    if let Some(inner) = clean
        .then(|| wrapped(&h, vol.len()))
        .flatten()
        .and_then(|(off, len)| vol.inner(off, len))
    {
        let (h, clean) = block_at_1024(&inner);
        return probe_bare(&inner, &h, clean);
    }
    probe_bare(vol, &h, clean)
}

/// [`probe`] of a volume that is not a wrapper, given its bytes at 1024.
fn probe_bare(vol: &VolumeReader, h: &[u8; 512], clean: bool) -> bool {
    if clean && parse_header(h).is_ok() {
        return true;
    }
    let damaged = !clean || h.iter().all(|&b| b == 0) || matches!(&h[..2], b"H+" | b"HX");
    let at = vol.len().saturating_sub(1024);
    let mut a = [0u8; 512];
    if at < 1536 || !vol.read_at(at, &mut a).is_ok_and(|r| r.is_clean()) {
        return false;
    }
    // A primary overwritten with other bytes (not zeros, no signature) is
    // believed gone only when the alternate copy gives this volume's exact
    // size: a stale copy left at the end by an earlier format of a
    // partition whose size changed does not claim it. That costs every
    // volume that is not HFS+ one sector read at its end.
    parse_header(&a).is_ok_and(|alt| {
        damaged || u64::from(alt.total_blocks).checked_mul(alt.block) == Some(vol.len())
    })
}

pub struct HfsFs {
    vol: VolumeReader,
    head: Header,
    /// Overflow extents: (file, fork type 0 data / 0xFF resource) → (first
    /// block of the record, its extents), in key order.
    overflow: Overflow,
    /// The extents overflow tree's node size and count, and its live leaves.
    ext_tree: TreeShape,
    /// Deleted forks' overflow records, found outside the live tree; set
    /// once, by the deleted walk, before it lays out any deleted fork (no
    /// live file's key is in it: only files no live record holds).
    gone_overflow: OnceLock<Overflow>,
    label: Option<String>,
    /// Extended attributes by file.
    attrs: attrs::Attrs,
    /// The attributes tree's node size and count, and its live leaves.
    attr_tree: TreeShape,
    findings: Vec<Finding>,
}

impl HfsFs {
    pub fn open(vol: VolumeReader) -> Result<HfsFs, Finding> {
        let mut findings = Vec::new();
        let mut m = [0u8; 512];
        let first = vol.read_at(1024, &mut m).map_err(|e| e.to_string());
        let embedded = first
            .as_ref()
            .is_ok_and(|r| r.is_clean())
            .then(|| wrapped(&m, vol.len()))
            .flatten();
        let (vol, primary) = match embedded.and_then(|(off, len)| Some((off, vol.inner(off, len)?)))
        {
            Some((off, inner)) => {
                findings.push(Finding::new(
                    vol.base() + 1024,
                    format!("HFS+ volume inside an HFS wrapper: the embedded volume's {} bytes at byte {} of the wrapper are read", inner.len(), off),
                ));
                let mut h = [0u8; 512];
                let primary = inner
                    .read_at(1024, &mut h)
                    .map_err(|e| e.to_string())
                    .and_then(|_| parse_header(&h));
                (inner, primary)
            }
            // The header read once serves (a volume costs no second read).
            None => (vol, first.and_then(|_| parse_header(&m))),
        };
        let base = vol.base();
        let head = match primary {
            Ok(head) => head,
            Err(why) => {
                // The alternate header, 1024 bytes before the end.
                let at = vol.len().saturating_sub(1024);
                let mut a = [0u8; 512];
                let alt = vol
                    .read_at(at, &mut a)
                    .map_err(|e| e.to_string())
                    .and_then(|_| parse_header(&a));
                match alt {
                    Ok(head) => {
                        findings.push(Finding::new(
                            base + 1024,
                            format!("HFS+ volume header damaged ({why}); the alternate copy at byte {at} is read"),
                        ));
                        head
                    }
                    Err(_) => {
                        return Err(Finding::new(
                            base + 1024,
                            format!("no HFS+ volume header: {why}"),
                        ))
                    }
                }
            }
        };
        let mut fs = HfsFs {
            vol,
            head,
            overflow: HashMap::new(),
            ext_tree: TreeShape::default(),
            gone_overflow: OnceLock::new(),
            label: None,
            attrs: attrs::Attrs::new(),
            attr_tree: TreeShape::default(),
            findings,
        };
        fs.read_overflow();
        let cat = fs.complete(fs.head.catalog.clone(), 4, 0);
        fs.head.catalog = cat;
        // The root folder's record (parent 1) comes first: its name is the
        // volume's.
        let mut name = None;
        let mut none = Vec::new();
        fs.catalog(
            &mut |k, it, _| {
                if it.folder && it.cnid == 2 {
                    name = Some(k.name);
                }
                name.is_none()
            },
            &mut none,
        );
        fs.label = name;
        let mut f = Vec::new();
        (fs.attrs, fs.attr_tree) = attrs::read(&fs, &mut f);
        fs.findings.extend(f);
        Ok(fs)
    }

    fn runs(&self, fork: &Fork, file: u32, kind: u8) -> (u64, Vec<Run>) {
        let f = self.complete(fork.clone(), file, kind);
        (f.logical_size, f.runs(self.vol.base(), self.head.block))
    }

    /// The extended attributes of `file`: the live tree's, else those `gone`
    /// holds (a deleted file's, from the journal).
    fn attrs_of<'a>(&'a self, file: u32, gone: &'a attrs::Attrs) -> &'a [(String, attrs::Value)] {
        self.attrs
            .get(&file)
            .or_else(|| gone.get(&file))
            .map_or(&[], Vec::as_slice)
    }

    /// A decmpfs-compressed file's size and runs: its `com.apple.decmpfs`
    /// attribute (among `attrs`, the file's), and its resource fork where the
    /// data is there.
    fn decompressed(
        &self,
        file: u32,
        rsrc: &Fork,
        attrs: &[(String, attrs::Value)],
    ) -> Result<(u64, Vec<Run>), String> {
        let attr = attrs
            .iter()
            .find(|(n, _)| n == "com.apple.decmpfs")
            .ok_or("no com.apple.decmpfs attribute")?;
        let attrs::Value::Inline(attr) = &attr.1 else {
            return Err("a com.apple.decmpfs attribute stored as a fork".into());
        };
        dredge_decmpfs::content(attr, || {
            (rsrc.logical_size > 0).then(|| {
                let (len, runs) = self.runs(rsrc, file, 0xFF);
                (Arc::clone(self.vol.source()), runs, len)
            })
        })
    }

    /// The catalog's leaf records, as (key, item, record offset), while
    /// `visit` returns true; which nodes were read as live leaves.
    fn catalog(
        &self,
        visit: &mut dyn FnMut(catalog::Key, Item, u64) -> bool,
        findings: &mut Vec<Finding>,
    ) -> Vec<bool> {
        let tree = match Tree::open(
            &self.vol,
            self.head.catalog.clone(),
            self.head.block,
            "catalog",
        ) {
            Ok(t) => t,
            Err(f) => {
                findings.push(f);
                return Vec::new();
            }
        };
        tree.leaves(
            "catalog",
            &mut |r| match (key(&r.key), item(&r.data)) {
                (Some(k), Some(it)) => visit(k, it, r.at),
                _ => true,
            },
            findings,
        )
    }

    /// The path of folder `cnid` ("" for the root), or `None` where the
    /// chain of parents breaks or loops.
    fn path_of(folders: &HashMap<u32, (u32, String)>, mut cnid: u32) -> Option<String> {
        let mut parts = Vec::new();
        for _ in 0..MAX_DEPTH {
            if cnid == 2 {
                parts.reverse();
                return Some(parts.iter().map(|p| format!("/{p}")).collect());
            }
            let (parent, name) = folders.get(&cnid)?;
            parts.push(name.as_str());
            cnid = *parent;
        }
        None
    }
}

impl FileSystem for HfsFs {
    fn type_name(&self) -> &'static str {
        if self.head.hfsx {
            "hfsx"
        } else {
            "hfsplus"
        }
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn walk(&self, visit: &mut dyn FnMut(Entry), findings: &mut Vec<Finding>) {
        // First pass: every folder's parent and name, the private folder of
        // hard-linked inodes, and those inodes' forks.
        let mut folders: HashMap<u32, (u32, String)> = HashMap::new();
        let mut private = None;
        let mut inodes: HashMap<u32, (u32, Fork, Fork, bool)> = HashMap::new();
        let mut cnids = std::collections::HashSet::new();
        let live_nodes = self.catalog(
            &mut |k, it, _| {
                cnids.insert(it.cnid);
                if it.folder {
                    if k.parent == 2 && k.name == PRIVATE {
                        private = Some(it.cnid);
                    }
                    folders.insert(it.cnid, (k.parent, k.name));
                } else if Some(k.parent) == private {
                    if let Some(n) = k.name.strip_prefix("iNode").and_then(|n| n.parse().ok()) {
                        inodes.insert(n, (it.cnid, it.data, it.rsrc, it.compressed));
                    }
                }
                true
            },
            findings,
        );
        let mut compressed = 0u64;
        let (mut not_decoded, mut first_why) = (0u64, None);
        let mut orphans = 0u64;
        let mut scratch = Vec::new();
        let none = attrs::Attrs::new();
        self.catalog(
            &mut |k, it, at| {
                if it.cnid == 2 && it.folder {
                    return true;
                }
                let dir = match Self::path_of(&folders, k.parent) {
                    Some(d) => d,
                    None => {
                        orphans += 1;
                        format!("/$OrphanFiles/parent-{}", k.parent)
                    }
                };
                let path = format!("{dir}/{}", k.name);
                // A hard link's content, compressed or not, is its iNode file's.
                let (file, data, rsrc, packed, other) =
                    match it.link_to.and_then(|n| inodes.get(&n)) {
                        Some((cnid, d, r, c)) => (
                            *cnid,
                            d.clone(),
                            r.clone(),
                            *c,
                            vec![format!("iNode{}", it.link_to.unwrap_or(0))],
                        ),
                        None => (
                            it.cnid,
                            it.data.clone(),
                            it.rsrc.clone(),
                            it.compressed,
                            Vec::new(),
                        ),
                    };
                if packed {
                    compressed += 1;
                }
                let (size, runs) = if it.folder {
                    (0, Vec::new())
                } else if packed {
                    self.decompressed(file, &rsrc, self.attrs_of(file, &none))
                        .unwrap_or_else(|why| {
                            not_decoded += 1;
                            first_why.get_or_insert(why);
                            self.runs(&data, file, 0)
                        })
                } else {
                    self.runs(&data, file, 0)
                };
                visit(Entry {
                    id: u64::from(it.cnid),
                    path: path.clone(),
                    other_names: other,
                    kind: it.kind,
                    deleted: false,
                    size,
                    times: it.times.clone(),
                    runs,
                    recovery: Recovery::Allocated,
                    meta_offset: at,
                });
                // The resource fork and extended attributes, each a stream.
                let owner = streams::Owner {
                    file,
                    cnid: it.cnid,
                    path: &path,
                    times: &it.times,
                    at,
                    deleted: false,
                    attrs: self.attrs_of(file, &none),
                };
                self.side_streams(&owner, &rsrc, visit);
                true
            },
            &mut scratch,
        );
        self.walk_deleted(
            deleted::Live {
                folders: &folders,
                cnids: &cnids,
                nodes: &live_nodes,
                inodes: &inodes,
                private,
            },
            visit,
            findings,
        );
        if compressed > 0 {
            findings.push(Finding::new(
                self.vol.base(),
                format!("HFS+: {compressed} file(s) are compressed (decmpfs): their content is decoded as they are read, their stored streams (name:rsrc, name:com.apple.decmpfs) listed too"),
            ));
        }
        if not_decoded > 0 {
            findings.push(Finding::new(
                self.vol.base(),
                format!(
                    "HFS+: {not_decoded} compressed file(s) whose content could not be decoded (the first: {}): listed with their stored streams",
                    first_why.unwrap_or_default()
                ),
            ));
        }
        if orphans > 0 {
            findings.push(Finding::new(
                self.vol.base(),
                format!("HFS+: {orphans} catalog record(s) whose parent folders are missing, listed under /$OrphanFiles"),
            ));
        }
        // The special files, as The Sleuth Kit lists them.
        for (id, name, fork) in [
            (3u32, "$ExtentsFile", &self.head.extents),
            (4, "$CatalogFile", &self.head.catalog),
            (6, "$AllocationFile", &self.head.allocation),
            (8, "$AttributesFile", &self.head.attributes),
        ] {
            if id == 8 && fork.logical_size == 0 {
                continue;
            }
            let (size, runs) = self.runs(fork, id, 0);
            visit(Entry {
                id: u64::from(id),
                path: format!("/{name}"),
                other_names: Vec::new(),
                kind: EntryKind::File,
                deleted: false,
                size,
                times: Vec::new(),
                runs,
                recovery: Recovery::Allocated,
                meta_offset: self.vol.base() + 1024,
            });
        }
    }

    fn unallocated(&self, findings: &mut Vec<Finding>) -> Vec<Extent> {
        let bs = self.head.block;
        // Blocks past the volume are not in the image, whatever the header says.
        let total = u64::from(self.head.total_blocks).min(self.vol.len() / bs);
        let bitmap = self.complete(self.head.allocation.clone(), 6, 0);
        let volume = Extent::new(self.vol.base(), self.vol.len());
        let mut out: Vec<Extent> = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        let mut block = 0u64;
        while block < total {
            let off = block / 8;
            let n = ((total - block).div_ceil(8)).min(chunk.len() as u64) as usize;
            if bitmap.read(&self.vol, bs, off, &mut chunk[..n]).is_none() {
                findings.push(Finding::new(
                    self.vol.base(),
                    format!("HFS+ allocation file unreadable at byte {off}: the rest of the volume is carved as if free"),
                ));
                // What cannot be told free is carved: a live file found
                // there again is dropped as a duplicate, a lost one is kept.
                if let Some(x) = Extent::new(self.vol.base() + block * bs, (total - block) * bs)
                    .intersect(&volume)
                {
                    match out.last_mut() {
                        Some(l) if l.end() == x.start => l.len += x.len,
                        _ => out.push(x),
                    }
                }
                break;
            }
            for (i, &byte) in chunk[..n].iter().enumerate() {
                if byte == 0xFF {
                    continue;
                }
                for bit in 0..8u64 {
                    let b = block + i as u64 * 8 + bit;
                    if b >= total || byte & (0x80 >> bit) != 0 {
                        continue;
                    }
                    let Some(x) = Extent::new(self.vol.base() + b * bs, bs).intersect(&volume)
                    else {
                        continue;
                    };
                    match out.last_mut() {
                        Some(l) if l.end() == x.start => l.len += x.len,
                        _ => out.push(x),
                    }
                }
            }
            block += n as u64 * 8;
        }
        dredge_core::free_past_end(out, volume, self.span().unwrap_or(u64::MAX))
    }

    fn span(&self) -> Option<u64> {
        // The end of the last allocation block.
        Some(u64::from(self.head.total_blocks) * self.head.block)
    }

    fn open_findings(&self) -> Vec<Finding> {
        self.findings.clone()
    }
}
