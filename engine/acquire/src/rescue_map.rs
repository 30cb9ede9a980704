//! The in-memory map of an acquisition: every byte of the source has exactly one
//! status at all times. A BTreeMap keeps updates logarithmic when a badly failing
//! drive leaves hundreds of thousands of blocks.

use dredge_core::Extent;
use dredge_image::{MapBlock, MapStatus, Mapfile};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct RescueMap {
    size: u64,
    /// start -> (len, status); contiguous, covering [0, size), neighbours differ.
    blocks: BTreeMap<u64, (u64, MapStatus)>,
}

impl RescueMap {
    pub fn new(size: u64) -> Self {
        let mut blocks = BTreeMap::new();
        if size > 0 {
            blocks.insert(0, (size, MapStatus::NonTried));
        }
        RescueMap { size, blocks }
    }

    /// Adopts a mapfile from an earlier run. It must describe exactly `[0, size)`
    /// with no holes, as ddrescue's and ours do.
    pub fn from_mapfile(m: &Mapfile, size: u64) -> Result<Self, String> {
        let mut map = RescueMap {
            size,
            blocks: BTreeMap::new(),
        };
        let mut expect = 0u64;
        for b in &m.blocks {
            if b.size == 0 {
                continue;
            }
            if b.pos != expect {
                return Err(format!(
                    "mapfile has a hole or overlap at {:#x} (line byte offset {}); it was not written for this source",
                    expect, b.line_offset
                ));
            }
            expect = b.pos + b.size;
            map.blocks.insert(b.pos, (b.size, b.status));
        }
        if expect != size {
            return Err(format!(
                "mapfile describes {expect} bytes but the source has {size} bytes; it was not written for this source"
            ));
        }
        map.merge_all();
        Ok(map)
    }

    fn merge_all(&mut self) {
        let old = std::mem::take(&mut self.blocks);
        for (s, (l, st)) in old {
            match self.blocks.iter_mut().next_back() {
                Some((ps, (pl, pst))) if *pst == st && ps + *pl == s => *pl += l,
                _ => {
                    self.blocks.insert(s, (l, st));
                }
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Gives `e` (clipped to the source) the status `st`.
    pub fn set(&mut self, e: Extent, st: MapStatus) {
        let e = match e.intersect(&Extent::new(0, self.size)) {
            Some(e) => e,
            None => return,
        };
        // Blocks overlapping e: the one containing e.start, and all starting inside e.
        let first = self
            .blocks
            .range(..=e.start)
            .next_back()
            .map(|(s, _)| *s)
            .unwrap_or(0);
        let touched: Vec<(u64, (u64, MapStatus))> = self
            .blocks
            .range(first..e.end())
            .map(|(s, v)| (*s, *v))
            .collect();
        for (s, _) in &touched {
            self.blocks.remove(s);
        }
        if let Some(&(s, (_, old))) = touched.first() {
            if s < e.start {
                self.blocks.insert(s, (e.start - s, old));
            }
        }
        if let Some(&(s, (l, old))) = touched.last() {
            if s + l > e.end() {
                self.blocks.insert(e.end(), (s + l - e.end(), old));
            }
        }
        self.blocks.insert(e.start, (e.len, st));
        self.merge_around(e.start);
    }

    fn merge_around(&mut self, start: u64) {
        let Some(&(len, st)) = self.blocks.get(&start) else {
            return;
        };
        let mut start = start;
        let mut len = len;
        if let Some((&ps, &(pl, pst))) = self.blocks.range(..start).next_back() {
            if pst == st && ps + pl == start {
                self.blocks.remove(&start);
                start = ps;
                len += pl;
                self.blocks.insert(start, (len, st));
            }
        }
        let next = start + len;
        if let Some(&(nl, nst)) = self.blocks.get(&next) {
            if nst == st {
                self.blocks.remove(&next);
                self.blocks.insert(start, (len + nl, st));
            }
        }
    }

    pub fn status_at(&self, pos: u64) -> Option<(Extent, MapStatus)> {
        self.blocks
            .range(..=pos)
            .next_back()
            .map(|(s, (l, st))| (Extent::new(*s, *l), *st))
            .filter(|(e, _)| e.contains(pos))
    }

    /// Extents with the given status, in order (a snapshot: the map may change while
    /// the caller works through them).
    pub fn extents_with(&self, st: MapStatus) -> Vec<Extent> {
        self.blocks
            .iter()
            .filter(|(_, (_, s))| *s == st)
            .map(|(s, (l, _))| Extent::new(*s, *l))
            .collect()
    }

    pub fn bytes_with(&self, st: MapStatus) -> u64 {
        self.blocks
            .values()
            .filter(|(_, s)| *s == st)
            .map(|(l, _)| l)
            .sum()
    }

    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    pub fn to_mapfile(&self, comments: Vec<String>, pos: u64, status: char, pass: u32) -> Mapfile {
        let blocks = self
            .blocks
            .iter()
            .map(|(s, (l, st))| MapBlock::new(*s, *l, *st))
            .collect();
        Mapfile::from_blocks(comments, pos, status, pass, blocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(m: &RescueMap) -> Vec<(u64, u64, char)> {
        m.blocks
            .iter()
            .map(|(s, (l, st))| (*s, *l, st.as_char()))
            .collect()
    }

    #[test]
    fn set_splits_and_merges() {
        let mut m = RescueMap::new(100);
        m.set(Extent::new(10, 10), MapStatus::Finished);
        assert_eq!(dump(&m), [(0, 10, '?'), (10, 10, '+'), (20, 80, '?')]);
        m.set(Extent::new(0, 10), MapStatus::Finished);
        assert_eq!(dump(&m), [(0, 20, '+'), (20, 80, '?')]);
        m.set(Extent::new(15, 30), MapStatus::BadSector);
        assert_eq!(dump(&m), [(0, 15, '+'), (15, 30, '-'), (45, 55, '?')]);
        m.set(Extent::new(15, 30), MapStatus::NonTried);
        assert_eq!(dump(&m), [(0, 15, '+'), (15, 85, '?')]);
        m.set(Extent::new(90, 50), MapStatus::Finished);
        assert_eq!(dump(&m), [(0, 15, '+'), (15, 75, '?'), (90, 10, '+')]);
        m.set(Extent::new(0, 100), MapStatus::Finished);
        assert_eq!(dump(&m), [(0, 100, '+')]);
        assert_eq!(m.bytes_with(MapStatus::Finished), 100);
    }

    #[test]
    fn adopts_only_mapfiles_for_the_same_size() {
        let mf = Mapfile::parse("0x0 + 1\n0x0 0x10 +\n0x10 0x10 +\n0x20 0x20 -\n").unwrap();
        let m = RescueMap::from_mapfile(&mf, 0x40).unwrap();
        assert_eq!(dump(&m), [(0, 0x20, '+'), (0x20, 0x20, '-')]);
        assert!(RescueMap::from_mapfile(&mf, 0x80).is_err());
        let holey = Mapfile::parse("0x0 + 1\n0x0 0x10 +\n0x20 0x20 -\n").unwrap();
        assert!(RescueMap::from_mapfile(&holey, 0x40).is_err());
    }
}
