//! Deleted files laid out together. Deletion clears a file's FAT chain, so
//! its clusters are a guess from its start cluster and size. Guessed one file
//! at a time ("contiguous from the start, skipping allocated clusters") two
//! files written at the same time, whose clusters alternate, both come back
//! wrong: the free cluster after A's start may be B's. Taken together:
//! - a cluster where another deleted file starts is not yours;
//! - deleted files whose starts are evenly spaced, each needing more clusters
//!   than the spacing, are files written at once: the allocator handed out
//!   their clusters in turn, one spacing-long run each, each file leaving the
//!   turn when it has its size (the layout two interleaved writes leave);
//! - every other deleted file takes the free clusters from its start that no
//!   other deleted file starts at and no group above took.
//!
//! The plan is a guess, and says so: each layout carries its reasoning for
//! the artifact's recovery detail.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Deleted files in one group at most (beyond that, starts that happen to be
/// evenly spaced are more likely chance than one burst of writes).
const GROUP_MAX: usize = 16;

/// A layout per deleted start cluster, with how it was reasoned.
#[derive(Default)]
pub struct Plan {
    layouts: HashMap<u32, (Vec<u32>, String)>,
}

impl Plan {
    /// The planned clusters of the deleted file that starts at `start` and
    /// needs `need` clusters (a prefix when files of different sizes share
    /// the start).
    pub fn layout(&self, start: u32, need: u64) -> Option<(Vec<u32>, &str)> {
        let (c, how) = self.layouts.get(&start)?;
        let n = usize::try_from(need).ok()?.min(c.len());
        Some((c[..n].to_vec(), how))
    }

    /// Plans `files` (start cluster, clusters needed), whose starts are free
    /// (`is_free`), over clusters up to `max_cluster`. At most `budget`
    /// clusters are assigned in all; past it, files are left to the
    /// one-at-a-time guess.
    pub fn new(
        files: &[(u32, u64)],
        is_free: &dyn Fn(u32) -> bool,
        max_cluster: u32,
        budget: u64,
    ) -> Plan {
        // One need per start: the largest (a shorter file at the same start
        // takes a prefix).
        let mut need: BTreeMap<u32, u64> = BTreeMap::new();
        for &(s, n) in files {
            if n > 0 && is_free(s) {
                let e = need.entry(s).or_insert(0);
                *e = (*e).max(n);
            }
        }
        let starts: BTreeSet<u32> = need.keys().copied().collect();
        let mut taken: BTreeSet<u32> = BTreeSet::new();
        let mut plan = Plan::default();
        let mut left = budget;
        let list: Vec<(u32, u64)> = need.iter().map(|(&s, &n)| (s, n)).collect();
        // Groups: maximal runs of evenly spaced starts where every file but
        // the last needs more clusters than the spacing.
        let mut i = 0;
        let mut grouped: BTreeSet<u32> = BTreeSet::new();
        while i + 1 < list.len() {
            let r = list[i + 1].0 - list[i].0;
            let mut j = i + 1;
            while j < list.len()
                && j - i < GROUP_MAX
                && list[j].0 - list[j - 1].0 == r
                && list[j - 1].1 > u64::from(r)
            {
                j += 1;
            }
            if j - i >= 2 && list[i].1 > u64::from(r) {
                let group = &list[i..j];
                let Some(assigned) = round_robin(group, r, is_free, max_cluster, &mut left) else {
                    break;
                };
                let names: Vec<String> = group.iter().map(|g| g.0.to_string()).collect();
                for (k, clusters) in assigned.into_iter().enumerate() {
                    taken.extend(clusters.iter().copied());
                    grouped.insert(group[k].0);
                    let how = format!(
                        "deleted files starting at clusters {} are interleaved (each runs into the next one's start): clusters handed to them in turn, {r} at a time, as two files written at once are allocated (the FAT chain was cleared)",
                        names.join(", ")
                    );
                    plan.layouts.insert(group[k].0, (clusters, how));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        // The rest, one at a time, around the starts and the groups.
        for &(s, n) in &list {
            if grouped.contains(&s) {
                continue;
            }
            let mut out = vec![s];
            let mut skipped = 0u64;
            let mut c = s;
            while (out.len() as u64) < n && c < max_cluster && left > 0 {
                c += 1;
                left -= 1;
                if is_free(c) && !starts.contains(&c) && !taken.contains(&c) {
                    out.push(c);
                } else if starts.contains(&c) || taken.contains(&c) {
                    skipped += 1;
                }
            }
            if skipped > 0 && out.len() as u64 == n {
                let how = format!(
                    "free clusters from the start cluster, skipping allocated ones and {skipped} that other deleted files start at or were given (the FAT chain was cleared)"
                );
                plan.layouts.insert(s, (out, how));
            }
        }
        plan
    }
}

/// Hands the free clusters from the group's first start to its files in
/// turn, `r` at a time, each file leaving the turn when it has its need.
/// `None` when the budget runs out or the volume ends first.
fn round_robin(
    group: &[(u32, u64)],
    r: u32,
    is_free: &dyn Fn(u32) -> bool,
    max_cluster: u32,
    left: &mut u64,
) -> Option<Vec<Vec<u32>>> {
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); group.len()];
    let mut active: Vec<usize> = (0..group.len()).collect();
    let mut c = group[0].0;
    let mut turn = 0usize;
    let mut in_run = 0u32;
    while !active.is_empty() {
        if c > max_cluster || *left == 0 {
            return None;
        }
        *left -= 1;
        if is_free(c) {
            let k = active[turn % active.len()];
            // A file's first cluster is its start: a turn that reaches
            // another member's start before that member has begun gives it
            // to that member.
            let owner = group
                .iter()
                .position(|g| g.0 == c)
                .filter(|&m| out[m].is_empty())
                .unwrap_or(k);
            out[owner].push(c);
            if owner == k {
                in_run += 1;
            }
            if out[owner].len() as u64 >= group[owner].1 {
                if let Some(p) = active.iter().position(|&a| a == owner) {
                    active.remove(p);
                    if owner == k {
                        in_run = 0;
                    }
                }
            } else if in_run >= r {
                in_run = 0;
                turn += 1;
            }
        }
        c += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_files_written_at_once_alternate() {
        // A at 10, B at 11, three clusters each: A B A B A B.
        let p = Plan::new(&[(10, 3), (11, 3)], &|_| true, 100, 1000);
        assert_eq!(p.layout(10, 3).unwrap().0, vec![10, 12, 14]);
        assert_eq!(p.layout(11, 3).unwrap().0, vec![11, 13, 15]);
        // In runs of two: A A B B A A B B.
        let p = Plan::new(&[(10, 4), (12, 4)], &|_| true, 100, 1000);
        assert_eq!(p.layout(10, 4).unwrap().0, vec![10, 11, 14, 15]);
        assert_eq!(p.layout(12, 4).unwrap().0, vec![12, 13, 16, 17]);
        // Different sizes: once B has its two, A goes on alone.
        let p = Plan::new(&[(10, 5), (11, 2)], &|_| true, 100, 1000);
        assert_eq!(p.layout(10, 5).unwrap().0, vec![10, 12, 14, 15, 16]);
        assert_eq!(p.layout(11, 2).unwrap().0, vec![11, 13]);
        // Allocated clusters are nobody's.
        let p = Plan::new(&[(10, 3), (11, 3)], &|c| c != 12, 100, 1000);
        assert_eq!(p.layout(10, 3).unwrap().0, vec![10, 13, 15]);
        assert_eq!(p.layout(11, 3).unwrap().0, vec![11, 14, 16]);
    }

    #[test]
    fn files_that_do_not_run_into_each_other_are_left_alone() {
        // A fits before B starts: no plan (the one-at-a-time guess stands).
        let p = Plan::new(&[(10, 2), (12, 3)], &|_| true, 100, 1000);
        assert!(p.layout(10, 2).is_none() && p.layout(12, 3).is_none());
        // A runs into B's start and B is not evenly placed for a group:
        // A skips B's start.
        let p = Plan::new(&[(10, 4), (12, 1)], &|_| true, 100, 1000);
        assert_eq!(p.layout(10, 4).unwrap().0, vec![10, 11, 13, 14]);
        // Allocated starts are not planned; the budget bounds the work.
        let p = Plan::new(&[(10, 3), (11, 3)], &|c| c != 10, 100, 1000);
        assert!(p.layout(10, 3).is_none());
        let p = Plan::new(&[(10, 3), (11, 3)], &|_| true, 100, 2);
        assert!(p.layout(10, 3).is_none());
    }
}
