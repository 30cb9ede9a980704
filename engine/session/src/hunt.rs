//! Blocks filesystems asked the pass to look at ([`dredge_core::Hunt`]): the
//! pass's blocks are tested as they go by, on the reading thread, so finding
//! metadata a filesystem let go in its free space costs no read of its own.

use crate::analysis::Hunting;
use crate::files::PlanSink;
use crate::fsunits::{Place, UnitWork};
use crate::Failure;
use dredge_core::{Extent, Finding, Hunt};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

/// What a hunt found: the blocks its test accepted (at most its limit), and
/// how many more it accepted past the limit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub blocks: Vec<u64>,
    pub more: u64,
}

/// A filesystem of the analysis: its volume's start and kind, and the index of
/// its reader among those that accept the volume. Not the volume's index: a
/// second analysis that finds lost partitions numbers the volumes after them
/// differently.
pub(crate) type Key = (u64, &'static str, usize);

impl Found {
    /// The finding that more blocks passed the test than were kept, if so.
    pub(crate) fn past_limit(&self, fs: &str, at: u64) -> Option<Finding> {
        (self.more > 0).then(|| {
            Finding::new(
                at,
                format!(
                    "{fs}: {} more blocks of its free space look like metadata it let go than the {} read",
                    self.more,
                    self.blocks.len()
                ),
            )
        })
    }
}

/// The blocks each hunt found, by filesystem.
pub(crate) type Hunted = BTreeMap<Key, Found>;

pub(crate) struct HuntScan<'h> {
    hunts: &'h [Hunt],
    found: Vec<Found>,
    size: u64,
}

impl<'h> HuntScan<'h> {
    /// `hunts` are tested within an image of `size` bytes.
    pub(crate) fn new(hunts: &'h [Hunt], size: u64) -> Self {
        HuntScan {
            hunts,
            found: vec![Found::default(); hunts.len()],
            size,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.hunts.is_empty()
    }

    /// The image's bytes at `at`, and those right after them (`next`: the next
    /// block, empty at the end of the image). Fed in order, without gaps.
    pub(crate) fn feed(&mut self, at: u64, bytes: &[u8], next: &[u8]) {
        let here = Extent::new(at, bytes.len() as u64);
        let have = at + (bytes.len() + next.len()) as u64;
        for (h, found) in self.hunts.iter().zip(&mut self.found) {
            if h.unit == 0 || h.unit > 1 << 20 {
                continue;
            }
            let mut i = h.extents.partition_point(|x| x.end() <= here.start);
            while let Some(x) = h.extents.get(i).filter(|x| x.start < here.end()) {
                i += 1;
                let end = x.end().min(self.size).min(have);
                // The first block of the hunt's grid that starts in this block.
                let from = here.start.max(x.start).max(h.origin);
                let mut p = h.origin + (from - h.origin).div_ceil(h.unit) * h.unit;
                while p < here.end() && p + h.unit <= end {
                    let off = (p - at) as usize;
                    let unit = h.unit as usize;
                    let hit = if off + unit <= bytes.len() {
                        (h.test)(&bytes[off..off + unit])
                    } else {
                        // A block crossing into the next one is copied.
                        let mut w = bytes[off..].to_vec();
                        w.extend_from_slice(&next[..unit - w.len()]);
                        (h.test)(&w)
                    };
                    if hit {
                        if found.blocks.len() < h.limit {
                            found.blocks.push(p);
                        } else {
                            found.more += 1;
                        }
                    }
                    p += h.unit;
                }
            }
        }
    }

    /// Per hunt, in the order given.
    pub(crate) fn finish(self) -> Vec<Found> {
        self.found
    }
}

/// After the pass: each reader is told what its hunt found and walked for
/// what that adds alone. Those files are planned into `sink` after every file
/// planned before the pass, named by the planner of the reader's first walk
/// (so no copy takes a name already given), as the `extra` files of the
/// reader's place in `work`.
pub(crate) fn plan_found(
    found_by: Vec<(Hunting, Found)>,
    work: &mut [UnitWork],
    label: &str,
    sink: &mut PlanSink,
    interrupt: &AtomicBool,
) -> Result<(), Failure> {
    for (h, f) in found_by {
        let Some(u) = work.get_mut(h.unit) else {
            continue;
        };
        let Some(d) = u.fss.get_mut(h.fs_index) else {
            continue;
        };
        let Some(planner) = d.planner.take() else {
            continue;
        };
        u.findings
            .extend(f.past_limit(h.fs.type_name(), h.vol.start));
        h.fs.hunted(f.blocks);
        let place = Place {
            label,
            vol_idx: h.vol_idx,
            out_dir: &h.out_dir,
            vol: h.vol,
            src: &h.src,
        };
        let mut budget = crate::copybudget::OutputBudget::for_volume(h.vol.len);
        let (range, _) = place.plan(
            &*h.fs,
            true,
            planner,
            interrupt,
            &mut budget,
            sink,
            &mut u.findings,
        )?;
        d.extra = range;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(b: &[u8]) -> bool {
        b.len() == 4096 && b[0] == 0xAB && b[4095] == 0xCD
    }

    #[test]
    fn every_block_of_the_grid_inside_the_extents_is_tested_once_across_pass_blocks() {
        // Units of 4 KiB from origin 512; marks in units 1, 7 (which crosses
        // the pass's block boundary at 30 000), 8, 20 and 40.
        let (origin, unit) = (512u64, 4096u64);
        let mut img = vec![0u8; 250_000];
        for u in [1u64, 7, 8, 20, 40] {
            let s = (origin + u * unit) as usize;
            img[s] = 0xAB;
            img[s + 4095] = 0xCD;
        }
        // Unit 40 lies outside the extents; the second extent runs past the
        // image's end.
        let hunts = [Hunt {
            extents: vec![
                Extent::new(origin + unit, 25 * unit),
                Extent::new(origin + 50 * unit, 20 * unit),
            ],
            origin,
            unit,
            test: marked,
            limit: 3,
        }];
        let mut scan = HuntScan::new(&hunts, img.len() as u64);
        let block = 30_000;
        let mut at = 0;
        while at < img.len() {
            let end = (at + block).min(img.len());
            let next_end = (end + block).min(img.len());
            scan.feed(at as u64, &img[at..end], &img[end..next_end]);
            at = end;
        }
        let f = scan.finish();
        let at = |u: u64| origin + u * unit;
        assert_eq!(f[0].blocks, vec![at(1), at(7), at(8)]);
        assert_eq!(f[0].more, 1, "unit 20, past the limit");
    }
}
