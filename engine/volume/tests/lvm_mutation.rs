//! Damaged LVM metadata must cost only what it described: the first MiB of a
//! physical volume LVM's tools made (testimages/lvm, with every metadata
//! generation in its ring) is mutated thousands of ways in its label, PV
//! header, metadata area header and texts, then read. Nothing may panic, and
//! every logical volume found must lie inside the physical volume.
//! `DREDGE_MUTATION_CASES` / `DREDGE_MUTATION_SEED` set the count and the
//! generator (engine/testkit).

use dredge_core::{Extent, Volume, VolumeKind};
use dredge_image::{MemDevice, Sectored};
use std::path::Path;
use std::process::Command;

fn head() -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testimages/lvm/pv-head.bin.gz");
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The physical volume as the whole of a 96 MiB image, of which only the
/// first MiB is held (the rest reads as past the end: no data is needed).
fn find(b: Vec<u8>) -> (Vec<Volume>, Vec<dredge_core::Finding>) {
    let src = Sectored::new(MemDevice::new(b));
    let pv = Volume {
        extent: Extent::new(0, 96 << 20),
        kind: VolumeKind::Whole,
        description: String::new(),
        slot: None,
    };
    let mut findings = Vec::new();
    let f = dredge_volume::lvm::find(
        &src,
        &[pv],
        |_| true,
        VolumeKind::Logical,
        VolumeKind::Recovered,
        &mut findings,
    )
    .unwrap();
    (f.volumes, findings)
}

#[test]
fn the_made_volume_group_reads_as_lvm_wrote_it() {
    let (vols, findings) = find(head());
    let named = |n: &str| vols.iter().find(|v| v.description.contains(n)).unwrap();
    // 1 MiB extents after a 1 MiB metadata area: root 0-15, home 16-23 and
    // 32-35, data 24-31, old (removed) 36-43.
    assert_eq!(named("vgmut/root").extent, Extent::new(1 << 20, 16 << 20));
    assert_eq!(named("vgmut/home").extent, Extent::new(17 << 20, 8 << 20));
    assert_eq!(named("vgmut/data").extent, Extent::new(25 << 20, 8 << 20));
    let old = named("vgmut/old");
    assert_eq!(
        (old.extent, old.kind),
        (Extent::new(37 << 20, 8 << 20), VolumeKind::Recovered)
    );
    assert!(findings
        .iter()
        .any(|f| f.what.contains("vgmut/home lies in 2 pieces")));
    assert_eq!(vols.len(), 4, "{vols:?}");
}

#[test]
fn mutated_lvm_metadata_never_panics_and_volumes_stay_inside() {
    let (mut r, cases) = dredge_testkit::mutation_setup(0x1F83_D9AB_5BE0_CD19);
    let base = head();
    // Where the structures are: label sector, the area's header, and the
    // texts (the first 16 KiB of the ring hold every generation).
    let hot = [(512usize, 1024usize), (4096, 4608), (4608, 4096 + 16384)];
    for case in 0..cases {
        let mut b = base.clone();
        for _ in 0..1 + r.below(8) {
            let (lo, hi) = hot[r.below(hot.len() as u64) as usize];
            let i = lo + r.below((hi - lo) as u64) as usize;
            b[i] = match r.below(6) {
                0 => 0,
                1 => 0xFF,
                2 => b[i] ^ 0x80,
                3 => b"{}[]\"=#\n0123456789"[r.below(18) as usize],
                _ => r.next() as u8,
            };
        }
        if case % 97 == 0 {
            let cut = r.below(b.len() as u64) as usize;
            b.truncate(cut.max(512));
        }
        let (vols, _) = find(b);
        for v in &vols {
            assert!(
                v.extent.end() <= 96 << 20 && v.extent.len > 0,
                "case {case}: {v:?}"
            );
        }
    }
}
