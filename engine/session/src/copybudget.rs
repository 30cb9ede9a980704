//! What a volume's copies may hold beyond the bytes stored for them (decision
//! 0013). Holes are written as holes but hashed as zeros, and a compressed stream
//! decodes to more than it stores: many files, each under the per-file cap, could
//! still cost hours of hashing nothing, or decode one stored cluster once per file
//! that maps it. A file past its budget is listed with its metadata, not
//! extracted.

use dredge_core::{Entry, RunData};
use std::collections::{BTreeMap, HashMap};

/// Bytes decoded that no stored byte of their own pays for, per volume, beyond
/// the volume's length.
const SHARED_SLACK: u64 = 64 << 20;

pub(crate) struct OutputBudget {
    /// Bytes no stored byte backs (holes, the tail past a file's runs, a
    /// stream's bytes past where its layout is trusted): 4 × the volume + 4 GiB.
    holes: u64,
    /// Decoded bytes beyond what the file's own stored bytes may honestly
    /// decode to: the volume + 64 MiB. An honest stream pays for itself (LZNT1
    /// decodes at most 16 clusters from one), whatever else is on the volume;
    /// only streams mapping stored bytes another file was credited with (or
    /// decoders claiming more than their ratio) draw on this.
    shared: u64,
    /// Stored (image) ranges already credited to a stream: start -> end.
    credited: BTreeMap<u64, u64>,
}

/// What each stream of a walk may decode on its own stored bytes: entry index
/// -> bytes (stored bytes first credited to it × its decoder's ratio).
pub(crate) type Paid = HashMap<usize, u64>;

impl OutputBudget {
    /// One budget per volume, like its read budget: a unit is done or redone
    /// whole, so a resumed scan plans the same copies.
    pub(crate) fn for_volume(len: u64) -> OutputBudget {
        OutputBudget {
            holes: len.saturating_mul(4).saturating_add(4 << 30),
            shared: len.saturating_add(SHARED_SLACK),
            credited: BTreeMap::new(),
        }
    }

    /// Credits each stored byte to the first stream that maps it: the files to
    /// be extracted (`copies`) in walk order, allocated ones before deleted
    /// ones (a deleted file's clusters may hold a live file's stream now).
    /// A file mapping one stored range twice is credited once.
    pub(crate) fn credit(&mut self, entries: &[&Entry], copies: &dyn Fn(&Entry) -> bool) -> Paid {
        let mut paid = Paid::new();
        let order = (entries.iter().enumerate().filter(|(_, e)| !e.deleted))
            .chain(entries.iter().enumerate().filter(|(_, e)| e.deleted));
        for (i, e) in order {
            if !copies(e) {
                continue;
            }
            for r in &e.runs {
                let RunData::Decoded(d) = &r.data else {
                    continue;
                };
                let mut stored: Vec<(u64, u64)> = (d.0.stored().iter())
                    .filter_map(|s| match s.data {
                        RunData::Image(at) => Some((at, at.saturating_add(s.len))),
                        _ => None,
                    })
                    .collect();
                stored.sort_unstable();
                let mut own = 0u64;
                for (a, b) in stored {
                    own = own.saturating_add(claim(&mut self.credited, a, b));
                }
                let p = paid.entry(i).or_insert(0);
                *p = p.saturating_add(own.saturating_mul(d.0.max_ratio()));
            }
        }
        paid
    }

    /// Charges one file's copy (`paid`: what its own stored bytes pay for, from
    /// `credit`); the reason it does not fit (nothing charged).
    pub(crate) fn charge(&mut self, e: &Entry, paid: u64) -> Result<(), String> {
        let (mut backed, mut decoded) = (0u64, 0u64);
        for r in &e.runs {
            match &r.data {
                RunData::Sparse => {}
                RunData::Decoded(d) => {
                    let made = r.len.min(d.0.made_len());
                    backed = backed.saturating_add(made);
                    decoded = decoded.saturating_add(made);
                }
                _ => backed = backed.saturating_add(r.len),
            }
        }
        let holes = e.size.saturating_sub(backed);
        if holes > self.holes {
            return Err(format!(
                "{holes} of its {} bytes are holes, past what this volume's copies may hold ({} left of 4 × the volume + 4 GiB)",
                e.size, self.holes
            ));
        }
        let unpaid = decoded.saturating_sub(paid);
        if unpaid > self.shared {
            return Err(format!(
                "it decodes to {decoded} bytes, {unpaid} more than its own stored bytes make (they were credited to other files first), past what this volume's copies may hold ({} left of the volume + 64 MiB)",
                self.shared
            ));
        }
        self.holes -= holes;
        self.shared -= unpaid;
        Ok(())
    }
}

/// Adds `a..b` to a set of disjoint ranges; the bytes of it not already there.
fn claim(set: &mut BTreeMap<u64, u64>, a: u64, b: u64) -> u64 {
    if a >= b {
        return 0;
    }
    // Ranges overlapping or touching a..b: sorted and disjoint, so their ends
    // fall as their starts do.
    let hit: Vec<(u64, u64)> = (set.range(..=b).rev())
        .take_while(|(_, &e)| e >= a)
        .map(|(&s, &e)| (s, e))
        .collect();
    let (mut lo, mut hi, mut had) = (a, b, 0u64);
    for (s, e) in hit {
        had += e.min(b).saturating_sub(s.max(a));
        lo = lo.min(s);
        hi = hi.max(e);
        set.remove(&s);
    }
    set.insert(lo, hi);
    (b - a) - had
}

#[cfg(test)]
mod tests {
    use super::{claim, OutputBudget};
    use dredge_core::{Decode, Decoded, Entry, EntryKind, Recovery, Run, RunData, Why};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// A stream of `.1` decoded bytes from `.0` stored ones, at LZNT1's ratio.
    #[derive(Debug)]
    struct Expands(Vec<Run>, u64);

    impl Decode for Expands {
        fn kind(&self) -> &'static str {
            "test"
        }
        fn read_at(&self, _: u64, _: &mut [u8]) -> Vec<(u64, u64, Why)> {
            Vec::new()
        }
        fn stored(&self) -> &[Run] {
            &self.0
        }
        fn made_len(&self) -> u64 {
            self.1
        }
        fn max_ratio(&self) -> u64 {
            16
        }
    }

    fn file(size: u64, runs: Vec<Run>, deleted: bool) -> Entry {
        Entry {
            id: 1,
            path: "/f".into(),
            other_names: Vec::new(),
            kind: EntryKind::File,
            deleted,
            size,
            times: Vec::new(),
            runs,
            recovery: Recovery::Allocated,
            meta_offset: 0,
        }
    }

    fn run(at: u64, len: u64, data: RunData) -> Run {
        Run {
            file_offset: at,
            len,
            data,
        }
    }

    /// A file of `len` bytes decoded from `stored` (image ranges).
    fn stream(len: u64, stored: &[(u64, u64)], deleted: bool) -> Entry {
        let runs = stored
            .iter()
            .scan(0, |o, &(at, n)| {
                *o += n;
                Some(run(*o - n, n, RunData::Image(at)))
            })
            .collect();
        let d = Decoded(Arc::new(Expands(runs, len)));
        file(len, vec![run(0, len, RunData::Decoded(d))], deleted)
    }

    #[test]
    fn holes_and_the_tail_past_the_runs_are_charged_until_the_volume_budget_ends() {
        const GIB: u64 = 1 << 30;
        // A 1 GiB volume: 8 GiB of holes.
        let mut b = OutputBudget::for_volume(GIB);
        let sparse = |size| file(size, vec![run(0, 4096, RunData::Image(0))], false);
        assert!(b.charge(&sparse(3 * GIB + 4096), 0).is_ok());
        assert!(b.charge(&sparse(3 * GIB + 4096), 0).is_ok());
        // 2 GiB left: a 3 GiB file is refused and costs nothing, a 2 GiB one fits.
        let why = b.charge(&sparse(3 * GIB + 4096), 0).unwrap_err();
        assert!(why.contains("holes"), "{why}");
        assert!(b.charge(&sparse(2 * GIB + 4096), 0).is_ok());
        assert!(b.charge(&sparse(4096 + 1), 0).is_err());
        // A file its runs back whole costs nothing.
        assert!(b.charge(&sparse(4096), 0).is_ok());
    }

    #[test]
    fn streams_pay_for_themselves_and_sharing_ones_draw_on_the_volume() {
        const MIB: u64 = 1 << 20;
        let mut b = OutputBudget::for_volume(64 * MIB);
        // Thirty streams decoding 16 MiB each from the same 1 MiB, the one that
        // owns it last in walk order but the only one allocated; then honest
        // streams at 16:1 that share nothing.
        let mut files: Vec<Entry> = (0..30)
            .map(|_| stream(16 * MIB, &[(0, MIB)], true))
            .collect();
        files.push(stream(16 * MIB, &[(0, MIB)], false));
        for k in 1..=40 {
            files.push(stream(16 * MIB, &[(k * MIB, MIB)], false));
        }
        let paid = b.credit(&files.iter().collect::<Vec<_>>(), &|_| true);
        let ok: Vec<bool> = (files.iter().enumerate())
            .map(|(i, f)| b.charge(f, paid.get(&i).copied().unwrap_or(0)).is_ok())
            .collect();
        // The live owner and every honest stream, whatever came before them; of
        // the sharing ones, what 64 MiB + 64 MiB holds (8 × 16 MiB).
        assert!(ok[30..].iter().all(|&k| k));
        assert_eq!(ok[..30].iter().filter(|&&k| k).count(), 8);
        let why = b.charge(&files[0], 0).unwrap_err();
        assert!(why.contains("credited to other files"), "{why}");
        // A stream mapping one stored range twice is credited for it once.
        let mut b = OutputBudget::for_volume(0);
        let twice = stream(96 * MIB, &[(0, MIB), (0, MIB)], false);
        let paid = b.credit(&[&twice], &|_| true);
        assert_eq!(paid[&0], 16 * MIB);
        assert!(b.charge(&twice, paid[&0]).is_err());
        // Bytes past where the layout is trusted are not decoded: they are holes.
        let d = Decoded(Arc::new(Expands(Vec::new(), 0)));
        let cut = file(4 << 30, vec![run(0, 4 << 30, RunData::Decoded(d))], false);
        assert!(b.charge(&cut, 0).is_ok());
        assert!(b.charge(&cut, 0).unwrap_err().contains("holes"));
    }

    #[test]
    fn claimed_ranges_merge_and_count_only_new_bytes() {
        let mut s = BTreeMap::new();
        assert_eq!(claim(&mut s, 10, 20), 10);
        assert_eq!(claim(&mut s, 30, 40), 10);
        assert_eq!(claim(&mut s, 15, 35), 10);
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![(10, 40)]);
        let mut s = BTreeMap::new();
        assert_eq!(claim(&mut s, 10, 20), 10);
        assert_eq!(claim(&mut s, 20, 30), 10);
        assert_eq!(claim(&mut s, 0, 50), 30);
        assert_eq!(claim(&mut s, 5, 5), 0);
        assert_eq!(s.into_iter().collect::<Vec<_>>(), vec![(0, 50)]);
    }
}
