//! `dredge list`: every entry of every filesystem in an image, without a case
//! (triage, and the comparison with `fls -r`). Volumes, lost filesystems and
//! unlocked encrypted volumes are found as a scan finds them; nothing is read
//! in a pass and nothing is stored.

use crate::scan::{accepting, layout, registry, stop_if_cut, Laid, Lost};
use crate::unit::{contain_reading, cut_short, volume_budget};
use crate::{fail, Failure};
use dredge_core::{memory, Entry, Finding, ImageSource, VolumeReader};
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
    interrupt: &AtomicBool,
    sink: &mut dyn FnMut(usize, &str, &Entry),
) -> Result<Vec<Finding>, Failure> {
    let opened = open_evidence(image, map).map_err(fail)?;
    let src: Arc<dyn ImageSource> = Arc::from(opened.source);
    // Without a case the evidence's label is its place on the command line.
    let unlocked = crate::unlock::unlock(&src, "ev1", keys, interrupt)?;
    let (stored, src) = (src, unlocked.src);
    let reg = registry();
    let Laid {
        vols, mut findings, ..
    } = layout(&stored, &reg, interrupt, Lost::Now)?;
    // The layout's volumes first, then lost filesystems past the ends of
    // the filesystems in them (as the scan's pass finds them, in the same
    // order), then opened volumes' plaintext and the logical volumes in it:
    // the indices a scan gives.
    let mut tails = Vec::new();
    for (i, v) in vols.iter().enumerate() {
        let ends = list_volume(i, v, &stored, &src, &reg, interrupt, sink, &mut findings);
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
        list_volume(
            first + k,
            v,
            &stored,
            &src,
            &reg,
            interrupt,
            sink,
            &mut findings,
        );
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
    interrupt: &AtomicBool,
    sink: &mut dyn FnMut(usize, &str, &Entry),
    findings: &mut Vec<Finding>,
) -> Vec<Option<u64>> {
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
