//! Linux LVM inside a case's volumes: a partition (or the whole image, or
//! the plaintext of an opened LUKS volume) that is an LVM physical volume
//! holds logical volumes, each a volume of its own for the filesystem readers
//! (dredge_volume::lvm). The physical volume itself is then no volume to read
//! or scan whole: what lies in it outside every logical volume (its label and
//! metadata, free extents, pieces of volumes not read as one) is carved and
//! scanned for lost filesystems instead.

use crate::unit::{contain, cut_short};
use crate::{fail, Failure};
use dredge_core::{Extent, Finding, ImageSource, Volume, VolumeKind};

const SLOT: &str = "lvm:";

/// Whether `v` is one of LVM's logical volumes.
pub(crate) fn is_logical(v: &Volume) -> bool {
    v.slot.as_deref().is_some_and(|s| s.starts_with(SLOT))
}

/// The logical volumes inside `v` among `vols`.
fn children<'a>(v: &'a Volume, vols: &'a [Volume]) -> impl Iterator<Item = &'a Volume> {
    vols.iter()
        .filter(move |c| is_logical(c) && !is_logical(v) && c.extent.start >= v.extent.start)
        .filter(move |c| c.extent.end() <= v.extent.end() && c.extent != v.extent)
}

/// Whether `v` is a physical volume some logical volume lies in.
pub(crate) fn is_physical(v: &Volume, vols: &[Volume]) -> bool {
    children(v, vols).next().is_some()
}

/// What of physical volume `v` no logical volume holds.
pub(crate) fn outside_logical(v: &Volume, vols: &[Volume]) -> Vec<Extent> {
    let mut inner: Vec<Extent> = children(v, vols).map(|c| c.extent).collect();
    inner.sort();
    let mut out = Vec::new();
    let mut pos = v.extent.start;
    for e in inner {
        if e.start > pos {
            out.push(Extent::from_bounds(pos, e.start));
        }
        pos = pos.max(e.end());
    }
    if pos < v.extent.end() {
        out.push(Extent::from_bounds(pos, v.extent.end()));
    }
    out
}

/// The logical volumes of the physical volumes among a layout's partitions
/// (or whole image), read as stored.
pub(crate) fn in_layout(
    src: &dyn ImageSource,
    vols: &[Volume],
    findings: &mut Vec<Finding>,
) -> Result<Vec<Volume>, Failure> {
    let mut found = Vec::new();
    let r = contain(|| {
        dredge_volume::lvm::find(
            src,
            vols,
            |v| matches!(v.kind, VolumeKind::Partition | VolumeKind::Whole),
            VolumeKind::Logical,
            VolumeKind::Recovered,
            &mut found,
        )
    });
    findings.append(&mut found);
    match r {
        Ok(f) => Ok(f.map_err(fail)?.volumes),
        Err(why) => {
            findings.push(cut_short(0, "LVM reader", &why));
            Ok(Vec::new())
        }
    }
}

/// The logical volumes inside the plaintext of opened volumes (`plain`),
/// read through their layers; each with the index in `plain` of the volume
/// it lies in, whose unit its findings belong to (the layout's unit is sealed
/// without the plaintext a later scan with a key adds). They are `decrypted`
/// volumes too: read through the layer, sealed by their own units.
pub(crate) fn in_plaintext(
    src: &dyn ImageSource,
    plain: &[Volume],
) -> (Vec<Volume>, Vec<(usize, Finding)>) {
    let (mut vols, mut notes) = (Vec::new(), Vec::new());
    for (i, p) in plain.iter().enumerate() {
        let mut findings = Vec::new();
        let r = contain(|| {
            dredge_volume::lvm::find(
                src,
                std::slice::from_ref(p),
                |_| true,
                VolumeKind::Decrypted,
                VolumeKind::Decrypted,
                &mut findings,
            )
        });
        match r {
            Ok(Ok(f)) => vols.extend(f.volumes),
            // Unreadable plaintext: the volume's own reader says so.
            Ok(Err(_)) => {}
            Err(why) => findings.push(cut_short(p.extent.start, "LVM reader", &why)),
        }
        notes.extend(findings.into_iter().map(|f| (i, f)));
    }
    (vols, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(start: u64, len: u64, kind: VolumeKind, slot: Option<&str>) -> Volume {
        Volume {
            extent: Extent::new(start, len),
            kind,
            description: String::new(),
            slot: slot.map(Into::into),
        }
    }

    #[test]
    fn what_no_logical_volume_holds_is_the_rest_of_its_physical_volume() {
        let pv = vol(100, 1000, VolumeKind::Partition, Some("mbr:1"));
        let vols = vec![
            pv.clone(),
            vol(200, 100, VolumeKind::Logical, Some("lvm:vg/a")),
            vol(500, 600, VolumeKind::Logical, Some("lvm:vg/b")),
            vol(5000, 10, VolumeKind::Logical, Some("lvm:vg/elsewhere")),
        ];
        assert!(is_physical(&pv, &vols));
        assert!(!is_physical(&vols[1], &vols));
        assert_eq!(
            outside_logical(&pv, &vols),
            vec![Extent::from_bounds(100, 200), Extent::from_bounds(300, 500)]
        );
    }
}
