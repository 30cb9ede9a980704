//! The Apple Partition Map: maps `parted` writes (`mklabel mac`), read as The
//! Sleuth Kit's `mmls` reads them (an oracle sharing no code with dredge),
//! then damaged: a lost entry ends the map with a finding, a wild entry
//! count is bounded, and 2 400 mutations of the map never panic and leave
//! volumes that tile the image or findings that say why not.

use dredge_core::VolumeKind;
use dredge_image::{MemDevice, Sectored};
use dredge_volume::{detect, Layout, Scheme};
use std::path::Path;
use std::process::Command;

fn have(t: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {t}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("DREDGE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "{t} missing"
        );
        eprintln!("SKIPPED: {t} missing");
    }
    ok
}

fn layout(d: Vec<u8>) -> Layout {
    detect(&Sectored::new(MemDevice::new(d))).unwrap()
}

fn tiles(l: &Layout, size: u64) -> bool {
    let mut pos = 0;
    for v in &l.volumes {
        if v.extent.start != pos {
            return false;
        }
        pos = v.extent.end();
    }
    pos == size
}

/// A 1 MiB map with three partitions (HFS+, FAT, a named one) and free
/// space between and after them (small: the mutation test copies it).
fn parted_image(dir: &Path) -> Vec<u8> {
    let p = dir.join("apm.img");
    std::fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
    let o = Command::new("parted")
        .args(["-s"])
        .arg(&p)
        .args([
            "unit", "s", "mklabel", "mac", "mkpart", "primary", "hfs+", "100", "599", "mkpart",
            "primary", "fat32", "700", "1199", "mkpart", "evidence", "ext2", "1300", "1799",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(&p).unwrap()
}

/// (start, length) in sectors of each partition `mmls` lists, less the
/// map itself and free space.
fn mmls(img: &Path) -> Vec<(u64, u64)> {
    let o = Command::new("mmls").arg(img).output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(':') && !l.contains("Meta") && !l.contains("-------"))
        .filter(|l| !l.contains("Apple_Free") && !l.contains("Apple_partition_map"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.get(2)?.parse().ok()?, f.get(4)?.parse().ok()?))
        })
        .collect()
}

#[test]
fn a_map_parted_writes_reads_as_mmls_reads_it() {
    if !have("parted") || !have("mmls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = parted_image(dir.path());
    let l = layout(d.clone());
    assert_eq!(l.scheme, Scheme::Apm);
    let ours: Vec<(u64, u64)> = l
        .partitions()
        .map(|v| (v.extent.start / 512, v.extent.len / 512))
        .collect();
    let want = mmls(&dir.path().join("apm.img"));
    assert_eq!(ours.len(), 3);
    assert_eq!(ours, want);
    assert!(l.findings.is_empty(), "{:?}", l.findings);
    assert!(tiles(&l, d.len() as u64));
    assert!(l
        .volumes
        .iter()
        .any(|v| v.kind == VolumeKind::Meta && v.description.starts_with("Apple_partition_map")));
    assert!(l
        .partitions()
        .any(|v| v.description.contains("\"evidence\"")));

    // The third partition's entry loses its signature: the map ends there,
    // with a finding; the first two stay.
    let e = (1..64)
        .find(|&i| d[i * 512 + 16..i * 512 + 24] == *b"evidence")
        .unwrap();
    let mut bad = d.clone();
    bad[e * 512..e * 512 + 2].copy_from_slice(b"XX");
    let l = layout(bad.clone());
    assert_eq!(l.partitions().count(), 2, "{:?}", l.volumes);
    assert!(l
        .findings
        .iter()
        .any(|f| f.what.contains("no PM signature")));
    assert!(tiles(&l, bad.len() as u64));

    // An entry count of four billion is a finding, not four billion reads.
    let mut bad = d.clone();
    bad[512 + 4..512 + 8].copy_from_slice(&u32::MAX.to_be_bytes());
    let l = layout(bad.clone());
    assert_eq!(l.partitions().count(), 3);
    assert!(l.findings.iter().any(|f| f.what.contains("entry count")));
}

#[test]
fn mutated_maps_never_panic_and_tile_or_say_why_not() {
    if !have("parted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = parted_image(dir.path());
    let size = base.len() as u64;
    let (mut r, cases) = dredge_testkit::mutation_setup(0x4150_4D21);
    let mut fewer = 0;
    for _ in 0..cases {
        let mut d = base.clone();
        for _ in 0..1 + r.below(6) {
            // The descriptor and the entries' fields.
            let i = r.below(8 * 512) as usize & !3;
            d[i..i + 4].copy_from_slice(&(r.next() as u32).to_be_bytes());
        }
        let l = layout(d);
        // Entries that overlap or run past the end are kept as written,
        // each with a finding; otherwise the volumes tile the image.
        assert!(tiles(&l, size) || !l.findings.is_empty(), "{:?}", l.volumes);
        if l.partitions().count() < 3 {
            fewer += 1;
        }
    }
    assert!(fewer > 0 && fewer < cases);
}
