//! `dredge list`: every entry of every filesystem in an image, without a case
//! (triage, and the comparison with `fls -r`). Volumes, lost filesystems and
//! unlocked encrypted volumes are found as a scan finds them; nothing is read
//! in a pass and nothing is stored. With `deep`, the free space each
//! filesystem asks a pass to look at (its hunt) is read here instead.

/// Bytes of free space read at a time for a hunt.
const HUNT_CHUNK: u64 = 4 << 20;

use crate::hunt::{Found, HuntScan};
use crate::scan::{accepting, layout, registry, stop_if_cut, Laid, Lost};
use crate::unit::{contain_reading, cut_short, volume_budget};
use crate::{fail, Failure};
use dredge_core::{memory, Entry, Finding, Hunt, ImageSource, VolumeReader};
use dredge_image::open_evidence;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Lists every entry of every filesystem in an image, without a case: for triage
/// and for comparing with `fls -r`. `sink` gets (volume index, fs type, entry).
pub fn list_image(
    image: &Path,
    map: Option<&Path>,
    keys: &[dredge_crypt::KeySpec],
    deep: bool,
    interrupt: &AtomicBool,
    sink: &mut dyn FnMut(usize, &str, &Entry),
) -> Result<Vec<Finding>, Failure> {
    let ctx = Ctx { deep, interrupt };
    let opened = open_evidence(image, map).map_err(fail)?;
    let src: Arc<dyn ImageSource> = Arc::from(opened.source);
    // Without a case the evidence's label is its place on the command line.
    let unlocked = crate::unlock::unlock(&src, "ev1", keys, interrupt)?;
    let (stored, src) = (src, unlocked.src);
    let reg = registry();
    let Laid {
        vols, mut findings, ..
    } = layout(&stored, &reg, interrupt, Lost::Now)?;
    findings.extend(unlocked.notes);
    // The layout's volumes first, then lost filesystems past the ends of
    // the filesystems in them (as the scan's pass finds them, in the same
    // order), then opened volumes' plaintext and the logical volumes in it:
    // the indices a scan gives.
    let mut tails = Vec::new();
    for (i, v) in vols.iter().enumerate() {
        let ends = list_volume(i, v, &stored, &src, &reg, &ctx, sink, &mut findings);
        if interrupt.load(Ordering::Relaxed) {
            return Ok(findings);
        }
        tails.extend(crate::analysis::past_end(v, &ends));
    }
    let found = crate::layout::scan_now(&stored, &tails, interrupt, &mut findings)?;
    let lost = crate::layout::recovered_volumes(&stored, &reg, &tails, &found, &mut findings);
    let (logical, notes) = crate::lvm::in_plaintext(&*src, &unlocked.plain);
    findings.extend(notes.into_iter().map(|(_, f)| f));
    let first = vols.len();
    let more: Vec<_> = lost
        .into_iter()
        .chain(unlocked.plain)
        .chain(logical)
        .collect();
    for (k, v) in more.iter().enumerate() {
        list_volume(first + k, v, &stored, &src, &reg, &ctx, sink, &mut findings);
        if interrupt.load(Ordering::Relaxed) {
            return Ok(findings);
        }
    }
    Ok(findings)
}

/// Lists the filesystems of volume `i`; where each that opened ends (for
/// the space past them).
#[allow(clippy::too_many_arguments)]
fn list_volume(
    i: usize,
    v: &dredge_core::Volume,
    stored: &Arc<dyn ImageSource>,
    src: &Arc<dyn ImageSource>,
    reg: &[crate::layout::FsKind],
    ctx: &Ctx,
    sink: &mut dyn FnMut(usize, &str, &Entry),
    findings: &mut Vec<Finding>,
) -> Vec<Option<u64>> {
    let interrupt = ctx.interrupt;
    let mut ends = Vec::new();
    if !v.kind.holds_files() {
        return ends;
    }
    // Only a decrypted volume reads through its layer (as in a scan).
    let vsrc = if v.kind == dredge_core::VolumeKind::Decrypted {
        src
    } else {
        stored
    };
    let reader =
        VolumeReader::new(Arc::clone(vsrc), v.extent).with_budget(volume_budget(v.extent.len));
    for kind in accepting(&reader, reg, findings) {
        let mut walked = Vec::new();
        let r = contain_reading(v.extent.len, || match (kind.open)(reader.clone()) {
            Ok(fs) => {
                walked.extend(fs.open_findings());
                ends.push(fs.span());
                let ty = fs.type_name();
                if ctx.deep {
                    if let Some(h) = fs.hunt() {
                        let found = hunt_now(&h, &reader, interrupt);
                        walked.extend(found.past_limit(ty, v.extent.start));
                        fs.hunted(found.blocks);
                    }
                }
                fs.walk(
                    &mut |e| {
                        stop_if_cut(interrupt);
                        memory::uncounted(|| sink(i, ty, &e))
                    },
                    &mut walked,
                );
            }
            Err(f) => walked.push(f),
        });
        findings.append(&mut walked);
        if let Err(why) = r {
            if interrupt.load(Ordering::Relaxed) {
                return ends;
            }
            findings.push(cut_short(
                v.extent.start,
                &format!("{} reader", kind.name),
                &why,
            ));
        }
    }
    ends
}

/// What `list_image` was asked for, beside the image.
struct Ctx<'a> {
    deep: bool,
    interrupt: &'a AtomicBool,
}

/// A hunt run by reading its blocks through the volume's reader (plaintext
/// where the volume is decrypted), as the pass would have tested them: every
/// block of its grid wholly inside its extents, in order, up to its limit.
fn hunt_now(h: &Hunt, reader: &VolumeReader, interrupt: &AtomicBool) -> Found {
    let unit = h.unit;
    if unit == 0 || unit > 1 << 20 {
        return Found::default();
    }
    // The pass's own tester, fed chunks of whole grid blocks (none crosses
    // a chunk's end, so no next bytes are needed).
    let hunts = std::slice::from_ref(h);
    let mut scan = HuntScan::new(hunts, u64::MAX);
    let chunk = (HUNT_CHUNK / unit).max(1) * unit;
    let mut buf = vec![0u8; chunk as usize];
    'extents: for x in &h.extents {
        // The first block of the grid in the extent.
        let mut p = h.origin + x.start.saturating_sub(h.origin).div_ceil(unit) * unit;
        while p + unit <= x.end() {
            if interrupt.load(Ordering::Relaxed) {
                break 'extents;
            }
            let n = ((x.end() - p) / unit * unit).min(chunk) as usize;
            let Some(rel) = p.checked_sub(reader.base()) else {
                break;
            };
            if reader.read_at(rel, &mut buf[..n]).is_ok() {
                scan.feed(p, &buf[..n], &[]);
            }
            p += n as u64;
        }
    }
    scan.finish().pop().unwrap_or_default()
}
