//! Walks a carved SQLite database's b-trees (the file format's pages, from the
//! SQLite documentation's "Database File Format"), through a `Splice`: page 1's
//! schema table, then every table and index whose root page the schema names.
//! Each b-tree page must have a valid header, cell pointers inside its content
//! area, and cells that parse: a child page number within the database, a
//! payload whose record header sums to its size, an overflow chain of exactly
//! the pages the payload needs, ending in zero. The freelist's trunk pages must
//! chain within the database. A page reached twice is a cycle.
//!
//! A database in fragments carved as one piece fails here at the first walked
//! page past the cut (every page after it is shifted by the gap), and the pages
//! that fail tell where to look for the cut (`super::bifragment`).

use crate::{Reader, Splice};

/// What the walk found wrong, or what it accounted for.
pub(super) enum Walk {
    /// Every walked page checked out; `last` is whether page `pages` (the last)
    /// was among them as a b-tree page, whose every cell was parsed (an
    /// overflow or trunk page is checked in its first bytes only).
    Ok { last: bool },
    /// The lowest-numbered page that did not check out, what it was reached
    /// as, and the highest page below it that did (0: none). A page under one
    /// that failed is not walked.
    Bad { page: u32, role: Role, below: u32 },
}

/// What a page was reached as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Role {
    /// A node of a table's (or an index's) b-tree.
    Tree { table: bool },
    /// A page of an overflow chain, the chain's last or not.
    Overflow { last: bool },
    /// A freelist trunk page.
    Trunk,
}

pub(super) struct Db {
    pub(super) page_size: u64,
    /// Usable bytes per page (page size less the reserved bytes).
    pub(super) usable: u64,
    pub(super) pages: u32,
}

/// Depth bound: a b-tree of 4-byte page numbers is never deeper than this.
const MAX_DEPTH: u32 = 40;

struct Walker<'r, 'a> {
    r: &'r mut Reader<'a>,
    sp: Splice,
    db: &'r Db,
    seen: Pages,
    good: Pages,
    bad: Option<(u32, Role)>,
    /// Check one page: no children, no overflow chains.
    shallow: bool,
    /// The last page checked out as a b-tree page.
    last_tree: bool,
    /// Stop at the first page that fails (a search only needs pass or fail).
    quick: bool,
    page: Vec<u8>,
}

/// The big-endian page number at `at` in `b`.
fn be32(b: &[u8], at: usize) -> u32 {
    crate::uint(b, at, 4, true) as u32
}

/// A set of page numbers (1-based), as bits grown as far as the highest page
/// set: a walk of one page costs one word, a whole walk a bit a page.
#[derive(Default)]
struct Pages(Vec<u64>);

impl Pages {
    fn has(&self, page: u32) -> bool {
        let i = page.saturating_sub(1) as usize;
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, page: u32) {
        let i = page.saturating_sub(1) as usize;
        if self.0.len() <= i / 64 {
            self.0.resize(i / 64 + 1, 0);
        }
        self.0[i / 64] |= 1 << (i % 64);
    }
}

fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let x = *b.get(at + i)?;
        if i == 8 {
            return Some((v << 8 | u64::from(x), 9));
        }
        v = v << 7 | u64::from(x & 0x7F);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// The content size of a record column of serial type `t`.
fn serial_len(t: u64) -> u64 {
    match t {
        0 | 8 | 9 | 10 | 11 => 0,
        1..=4 => t,
        5 => 6,
        6 | 7 => 8,
        _ => (t - 12) / 2,
    }
}

impl Walker<'_, '_> {
    fn fail(&mut self, page: u32, role: Role) -> bool {
        if self.bad.is_none_or(|(b, _)| page < b) {
            self.bad = Some((page, role));
        }
        false
    }

    fn passed(&mut self, page: u32) {
        if (1..=self.db.pages).contains(&page) {
            self.good.set(page);
        }
    }

    /// Marks `page` used; false when it is out of range or used already.
    fn take(&mut self, page: u32) -> bool {
        if page == 0 || page > self.db.pages || self.seen.has(page) {
            return false;
        }
        self.seen.set(page);
        true
    }

    fn load(&mut self, page: u32) -> bool {
        let at = u64::from(page - 1) * self.db.page_size;
        match self.sp.read(self.r, at, self.db.page_size as usize) {
            Some(b) => {
                self.page = b;
                true
            }
            None => false,
        }
    }

    /// Checks a record's header against its payload (the local part of it).
    fn record_ok(local: &[u8], payload: u64) -> bool {
        let Some((hlen, n)) = varint(local, 0) else {
            return false;
        };
        if hlen < n as u64 || hlen > payload || hlen > local.len() as u64 {
            return false;
        }
        let (mut at, mut body) = (n, 0u64);
        while (at as u64) < hlen {
            let Some((t, k)) = varint(local, at) else {
                return false;
            };
            body += serial_len(t);
            at += k;
        }
        at as u64 == hlen && hlen + body == payload
    }

    /// Follows a payload's overflow chain: `need` pages, the last pointing to 0.
    /// A page number out of range, or met before, is the fault of the page
    /// that names it (`owner`, as `owner_role`, then each page of the chain).
    fn overflow(&mut self, first: u32, need: u64, owner: u32, owner_role: Role) -> bool {
        let (mut next, mut from) = (first, (owner, owner_role));
        for i in 0..need {
            let last = i + 1 == need;
            if !self.take(next) {
                return self.fail(from.0, from.1);
            }
            // Only its next pointer is checked: read that, not the page (the
            // page being walked stays loaded).
            let at = u64::from(next - 1) * self.db.page_size;
            let Some(ptr) = self.sp.read(self.r, at, 4).map(|b| be32(&b, 0)) else {
                return self.fail(next, Role::Overflow { last });
            };
            if (ptr == 0) != last {
                return self.fail(next, Role::Overflow { last });
            }
            self.passed(next);
            from = (next, Role::Overflow { last });
            next = ptr;
        }
        true
    }

    /// The payload's local size and whether it checks out, for a cell whose
    /// payload of `size` bytes starts at `at` in the loaded page of `page`.
    fn payload(&mut self, page: u32, at: usize, size: u64, table: bool, table_leaf: bool) -> bool {
        let role = Role::Tree { table };
        let u = self.db.usable;
        let x = if table_leaf {
            u - 35
        } else {
            (u - 12) * 64 / 255 - 23
        };
        let m = (u - 12) * 32 / 255 - 23;
        let local = if size <= x {
            size
        } else {
            let k = m + (size - m) % (u - 4);
            if k <= x {
                k
            } else {
                m
            }
        };
        let end = at as u64 + local;
        if end > u || (local < size && end + 4 > u) {
            return self.fail(page, role);
        }
        if !Self::record_ok(&self.page[at..end as usize], size) {
            return self.fail(page, role);
        }
        if local < size {
            let first = be32(&self.page, end as usize);
            let need = (size - local).div_ceil(u - 4);
            // A broken chain is that chain's pages' fault, not this page's.
            if !self.shallow {
                self.overflow(first, need, page, role);
            }
        }
        true
    }

    /// Walks the b-tree rooted at `page`; `table` whether it is a table's.
    /// With `roots`, the schema's root pages are collected from its leaves.
    /// A table's rowids must rise through each page and lie in `keys` (above
    /// the first, at most the second), the range its parent's keys give the
    /// page: a page of another table, or of another database made alike
    /// (same schema, rowids from 1), holds rowids the parent did not send it.
    fn tree(
        &mut self,
        page: u32,
        table: bool,
        depth: u32,
        roots: &mut Option<Vec<u32>>,
        keys: Keys,
    ) -> bool {
        if self.quick && self.bad.is_some() {
            return false;
        }
        let role = Role::Tree { table };
        if depth > MAX_DEPTH || !self.take(page) || !self.load(page) {
            return self.fail(page.max(1), role);
        }
        let h = if page == 1 { 100 } else { 0 };
        let u = self.db.usable as usize;
        let kind = self.page[h];
        let (interior, ok_kind) = match (kind, table) {
            (0x05, true) | (0x02, false) => (true, true),
            (0x0D, true) | (0x0A, false) => (false, true),
            _ => (false, false),
        };
        let hdr = if interior { 12 } else { 8 };
        let be16 = |b: &[u8], o: usize| usize::from(u16::from_be_bytes([b[o], b[o + 1]]));
        let cells = be16(&self.page, h + 3);
        let content = match be16(&self.page, h + 5) {
            0 => 65536,
            c => c,
        };
        let ptrs = h + hdr;
        if !ok_kind
            || ptrs + 2 * cells > u
            || (cells > 0 && content < ptrs + 2 * cells)
            || content > u.max(ptrs)
            || self.page[h + 7] > 60
        {
            return self.fail(page, role);
        }
        // (child, the keys it may hold), in key order; the right-most last.
        let mut children = Vec::new();
        let mut prev = keys.0;
        for i in 0..cells {
            let at = be16(&self.page, ptrs + 2 * i);
            if at < content || at >= u {
                return self.fail(page, role);
            }
            let mut c = at;
            if interior {
                if c + 4 > u {
                    return self.fail(page, role);
                }
                let child = be32(&self.page, c);
                c += 4;
                if table {
                    let Some((key, _)) = varint(&self.page[..u], c) else {
                        return self.fail(page, role);
                    };
                    let key = key as i64;
                    if !in_keys(key, (prev, keys.1)) {
                        return self.fail(page, role);
                    }
                    children.push((child, (prev, Some(key))));
                    prev = Some(key);
                    continue;
                }
                children.push((child, (None, None)));
            }
            let Some((size, n)) = varint(&self.page[..u], c) else {
                return self.fail(page, role);
            };
            c += n;
            if table {
                let Some((rowid, n)) = varint(&self.page[..u], c) else {
                    return self.fail(page, role);
                };
                let rowid = rowid as i64;
                if !in_keys(rowid, (prev, keys.1)) {
                    return self.fail(page, role);
                }
                prev = Some(rowid);
                c += n;
            }
            if let Some(roots) = roots.as_mut().filter(|_| !interior) {
                if let Some(root) = schema_root(&self.page[c..u]) {
                    roots.push(root);
                }
            }
            if !self.payload(page, c, size, table, table && !interior) {
                return false;
            }
        }
        if interior {
            let last = if table { (prev, keys.1) } else { (None, None) };
            children.push((be32(&self.page, h + 8), last));
        }
        if children.iter().any(|&(c, _)| c == 0 || c > self.db.pages) {
            return self.fail(page, role);
        }
        self.passed(page);
        self.last_tree |= page == self.db.pages;
        if self.shallow {
            return true;
        }
        for (child, keys) in children {
            self.tree(child, table, depth + 1, roots, keys);
        }
        true
    }

    /// The freelist's trunk pages: each names the next trunk and its leaves.
    fn freelist(&mut self, mut trunk: u32) -> bool {
        let per = (self.db.usable / 4).saturating_sub(2);
        // The header (page 1) names the first trunk; each trunk the next.
        let mut from = (1, Role::Tree { table: true });
        while trunk != 0 {
            if !self.take(trunk) {
                return self.fail(from.0, from.1);
            }
            if !self.load(trunk) {
                return self.fail(trunk, Role::Trunk);
            }
            let b = &self.page;
            let next = be32(b, 0);
            let leaves = u64::from(be32(b, 4));
            if leaves > per {
                return self.fail(trunk, Role::Trunk);
            }
            for i in 0..leaves as usize {
                let o = 8 + 4 * i;
                let leaf = be32(b, o);
                if leaf == 0 || leaf > self.db.pages {
                    return self.fail(trunk, Role::Trunk);
                }
            }
            self.passed(trunk);
            from = (trunk, Role::Trunk);
            trunk = next;
        }
        true
    }
}

/// The root page a schema row names (its fourth column), from the local part of
/// its record; None for a row without one (a view, a trigger) or one that does
/// not parse.
fn schema_root(rec: &[u8]) -> Option<u32> {
    let (hlen, mut at) = varint(rec, 0)?;
    let mut types = Vec::new();
    while (at as u64) < hlen && types.len() < 5 {
        let (t, k) = varint(rec, at)?;
        types.push(t);
        at += k;
    }
    let mut body = usize::try_from(hlen).ok()?;
    for t in types.iter().take(3) {
        body += usize::try_from(serial_len(*t)).ok()?;
    }
    let t = *types.get(3)?;
    let n = usize::try_from(serial_len(t)).ok()?;
    if !(1..=4).contains(&t) {
        return None;
    }
    let v = rec
        .get(body..body + n)?
        .iter()
        .fold(0u64, |v, &x| v << 8 | u64::from(x));
    u32::try_from(v).ok().filter(|&p| p > 0)
}

impl<'r, 'a> Walker<'r, 'a> {
    fn new(r: &'r mut Reader<'a>, sp: Splice, db: &'r Db, shallow: bool, quick: bool) -> Self {
        Walker {
            r,
            sp,
            db,
            seen: Pages::default(),
            good: Pages::default(),
            bad: None,
            shallow,
            last_tree: false,
            quick,
            page: Vec::new(),
        }
    }
}

/// A range of rowids: above the first (none: no floor), at most the second.
type Keys = (Option<i64>, Option<i64>);

/// Every rowid.
const ALL_KEYS: Keys = (None, None);

fn in_keys(k: i64, (lo, hi): Keys) -> bool {
    lo.is_none_or(|lo| k > lo) && hi.is_none_or(|hi| k <= hi)
}

/// Walks the database laid out by `sp`; `quick`: stop at the first failure.
pub(super) fn walk(r: &mut Reader<'_>, sp: Splice, db: &Db, freelist: u32, quick: bool) -> Walk {
    let mut w = Walker::new(r, sp, db, false, quick);
    let mut roots = Some(Vec::new());
    w.tree(1, true, 0, &mut roots, ALL_KEYS);
    for root in roots.unwrap_or_default() {
        // A root named twice is walked once; whether it is a table's or an
        // index's, its first page says.
        if root == 0 || root > db.pages || w.seen.has(root) {
            continue;
        }
        let at = u64::from(root - 1) * db.page_size;
        let table = !matches!(w.sp.read(w.r, at, 1).as_deref(), Some([0x02 | 0x0A]));
        w.tree(root, table, 0, &mut None, ALL_KEYS);
    }
    w.freelist(freelist);
    match w.bad {
        Some((page, role)) => Walk::Bad {
            page,
            role,
            below: (1..page.min(db.pages))
                .rev()
                .find(|&p| w.good.has(p))
                .unwrap_or(0),
        },
        None => Walk::Ok { last: w.last_tree },
    }
}

/// Whether page `page` checks out as `role` where `sp` puts it, alone: a b-tree
/// page's header, cell pointers and cells (not its children or overflow
/// chains), an overflow page's next pointer, a trunk page's leaves.
pub(super) fn page_ok(r: &mut Reader<'_>, sp: Splice, db: &Db, page: u32, role: Role) -> bool {
    let mut w = Walker::new(r, sp, db, true, true);
    match role {
        Role::Tree { table } => w.tree(page, table, 0, &mut None, ALL_KEYS),
        Role::Trunk => w.freelist(page) && w.bad.is_none(),
        Role::Overflow { last } => {
            if page == 0 || page > db.pages {
                return false;
            }
            let at = u64::from(page - 1) * db.page_size;
            match w.sp.read(w.r, at, 4) {
                Some(b) => {
                    let next = be32(&b, 0);
                    (next == 0) == last && next <= db.pages
                }
                None => false,
            }
        }
    }
}
