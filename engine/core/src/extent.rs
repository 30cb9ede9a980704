use std::fmt;

/// A byte range `[start, start + len)` of an image. Lengths come from evidence,
/// so arithmetic saturates instead of overflowing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extent {
    pub start: u64,
    pub len: u64,
}

impl Extent {
    pub const fn new(start: u64, len: u64) -> Self {
        Extent { start, len }
    }

    /// Builds from `[start, end)`; an inverted range is empty.
    pub fn from_bounds(start: u64, end: u64) -> Self {
        Extent {
            start,
            len: end.saturating_sub(start),
        }
    }

    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, offset: u64) -> bool {
        offset >= self.start && offset < self.end()
    }

    pub fn intersect(&self, other: &Extent) -> Option<Extent> {
        let s = self.start.max(other.start);
        let e = self.end().min(other.end());
        (e > s).then(|| Extent::from_bounds(s, e))
    }

    pub fn overlaps(&self, other: &Extent) -> bool {
        self.intersect(other).is_some()
    }
}

/// A filesystem's free space with the part of its volume past the filesystem's
/// end added (`fs_len`: the bytes the filesystem spans from the volume's start):
/// nothing of the filesystem is there, so it is free as far as the filesystem
/// is concerned, and where a reformatted medium keeps what the earlier, larger
/// filesystem held. `free` is sorted; the tail joins its last extent when they
/// touch.
pub fn free_past_end(mut free: Vec<Extent>, volume: Extent, fs_len: u64) -> Vec<Extent> {
    if fs_len >= volume.len {
        return free;
    }
    let tail = Extent::from_bounds(volume.start + fs_len, volume.end());
    match free.last_mut() {
        Some(l) if l.end() >= tail.start => {
            *l = Extent::from_bounds(l.start, tail.end().max(l.end()))
        }
        _ => free.push(tail),
    }
    free
}

impl fmt::Display for Extent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{} ({} bytes)", self.start, self.end(), self.len)
    }
}

/// A sorted set of disjoint, non-adjacent extents (adjacent ones are merged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtentSet {
    runs: Vec<Extent>,
}

impl ExtentSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn as_slice(&self) -> &[Extent] {
        &self.runs
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    pub fn total(&self) -> u64 {
        self.runs.iter().map(|e| e.len).sum()
    }

    /// Inserts `e`, merging with every run it overlaps or touches.
    pub fn insert(&mut self, e: Extent) {
        if e.is_empty() {
            return;
        }
        let mut start = e.start;
        let mut end = e.end();
        // First run that could touch e: the first whose end >= start.
        let first = self.runs.partition_point(|r| r.end() < start);
        let mut last = first;
        while last < self.runs.len() && self.runs[last].start <= end {
            start = start.min(self.runs[last].start);
            end = end.max(self.runs[last].end());
            last += 1;
        }
        self.runs.splice(
            first..last,
            std::iter::once(Extent::from_bounds(start, end)),
        );
    }

    /// Bytes of `e` covered by this set.
    pub fn covered(&self, e: &Extent) -> u64 {
        let first = self.runs.partition_point(|r| r.end() <= e.start);
        self.runs[first..]
            .iter()
            .take_while(|r| r.start < e.end())
            .filter_map(|r| r.intersect(e))
            .map(|i| i.len)
            .sum()
    }
}

impl FromIterator<Extent> for ExtentSet {
    fn from_iter<T: IntoIterator<Item = Extent>>(iter: T) -> Self {
        let mut s = ExtentSet::new();
        for e in iter {
            s.insert(e);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_merges_overlapping_and_adjacent_runs() {
        let mut s = ExtentSet::new();
        s.insert(Extent::new(10, 5));
        s.insert(Extent::new(30, 5));
        s.insert(Extent::new(15, 5)); // adjacent to the first
        assert_eq!(s.as_slice(), &[Extent::new(10, 10), Extent::new(30, 5)]);
        s.insert(Extent::new(18, 14)); // bridges both
        assert_eq!(s.as_slice(), &[Extent::new(10, 25)]);
        s.insert(Extent::new(0, 0));
        assert_eq!(s.total(), 25);
    }

    #[test]
    fn covered_counts_only_the_intersection() {
        let s: ExtentSet = [Extent::new(0, 10), Extent::new(20, 10)]
            .into_iter()
            .collect();
        assert_eq!(s.covered(&Extent::new(5, 20)), 10);
        assert_eq!(s.covered(&Extent::new(10, 10)), 0);
    }

    #[test]
    fn end_saturates_on_hostile_lengths() {
        let e = Extent::new(u64::MAX - 1, 10);
        assert_eq!(e.end(), u64::MAX);
        assert!(Extent::from_bounds(10, 5).is_empty());
    }
}
