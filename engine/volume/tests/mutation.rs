//! Damaged partition tables must never crash the layout: MBR chains (the dfvfs image
//! with an extended partition) and GPT (made here, primary and backup) are mutated
//! thousands of ways where the tables are, then detected. The layout must still tile
//! the image, and nothing may point past it. `DREDGE_MUTATION_CASES` /
//! `DREDGE_MUTATION_SEED` set the count and the generator (engine/testkit).

use dredge_core::checksum::crc32;
use dredge_core::ImageSource;
use dredge_image::{MemDevice, Sectored};
use dredge_volume::detect;
use std::path::Path;
use std::process::Command;

fn gunzip(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata")
        .join(rel);
    let out = Command::new("gzip").arg("-dc").arg(p).output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A 4 MiB disk with a protective MBR and a GPT of three partitions, primary at
/// LBA 1 and backup at the end, CRCs correct.
fn gpt_disk() -> Vec<u8> {
    let sectors = 8192u64;
    let mut d = vec![0u8; (sectors * 512) as usize];
    // Protective MBR.
    d[446 + 4] = 0xEE;
    d[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
    d[446 + 12..446 + 16].copy_from_slice(&((sectors - 1) as u32).to_le_bytes());
    d[510] = 0x55;
    d[511] = 0xAA;
    let mut entries = vec![0u8; 128 * 128];
    for (i, (first, last)) in [(34u64, 2047u64), (2048, 4095), (4096, 8000)]
        .iter()
        .enumerate()
    {
        let e = &mut entries[i * 128..(i + 1) * 128];
        e[0..16].copy_from_slice(&[
            0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26,
            0x99, 0xC7,
        ]);
        e[16] = i as u8 + 1;
        e[32..40].copy_from_slice(&first.to_le_bytes());
        e[40..48].copy_from_slice(&last.to_le_bytes());
    }
    let ecrc = crc32(&entries);
    let header = |mine: u64, other: u64, table: u64| {
        let mut h = vec![0u8; 92];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&mine.to_le_bytes());
        h[32..40].copy_from_slice(&other.to_le_bytes());
        h[40..48].copy_from_slice(&34u64.to_le_bytes());
        h[48..56].copy_from_slice(&(sectors - 34).to_le_bytes());
        h[72..80].copy_from_slice(&table.to_le_bytes());
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        h[88..92].copy_from_slice(&ecrc.to_le_bytes());
        let c = crc32(&h);
        h[16..20].copy_from_slice(&c.to_le_bytes());
        h
    };
    let put = |d: &mut Vec<u8>, lba: u64, b: &[u8]| {
        let at = (lba * 512) as usize;
        d[at..at + b.len()].copy_from_slice(b);
    };
    put(&mut d, 1, &header(1, sectors - 1, 2));
    put(&mut d, 2, &entries);
    put(&mut d, sectors - 33, &entries);
    put(&mut d, sectors - 1, &header(sectors - 1, 1, sectors - 33));
    d
}

/// Byte ranges that hold tables: the first 34 sectors, the last 33, and the
/// partition-table area of every sector that ends in the 0x55AA signature (EBRs).
fn hot(d: &[u8]) -> Vec<(usize, usize)> {
    let mut h = vec![(0, 34 * 512), (d.len() - 33 * 512, d.len())];
    for s in (512..d.len()).step_by(512) {
        if d[s - 2] == 0x55 && d[s - 1] == 0xAA {
            h.push((s - 66, s));
        }
    }
    h
}

#[test]
fn mutated_partition_tables_never_panic_and_the_layout_tiles_the_image() {
    let (mut r, cases) = dredge_testkit::mutation_setup(0x94D0_49BB_1331_11EB);
    let bases = [gunzip("dfvfs/mbr.raw.gz"), gpt_disk()];
    let hots: Vec<Vec<(usize, usize)>> = bases.iter().map(|b| hot(b)).collect();
    // The unmutated GPT disk reads as made.
    let l = detect(&Sectored::new(MemDevice::new(bases[1].clone()))).unwrap();
    assert_eq!(l.partitions().count(), 3);
    for case in 0..cases {
        let k = case % bases.len();
        let mut b = bases[k].clone();
        for _ in 0..1 + r.below(8) {
            let (lo, hi) = hots[k][r.below(hots[k].len() as u64) as usize];
            let i = lo + r.below((hi - lo) as u64) as usize;
            b[i] = match r.below(5) {
                0 => 0,
                1 => 0xFF,
                2 => b[i] ^ 0x80,
                _ => r.next() as u8,
            };
        }
        if case % 97 == 0 {
            let cut = r.below(b.len() as u64) as usize;
            b.truncate(cut.max(512));
        }
        let size = b.len() as u64;
        let src = Sectored::new(MemDevice::new(b));
        assert_eq!(src.size(), size);
        let Ok(l) = detect(&src) else {
            continue;
        };
        // A damaged table may claim partitions past the end or overlapping; they
        // are kept, with findings (a truncated image of a disk: their bytes past
        // the end read as synthesized). But no extent wraps, and together the
        // volumes cover all of the image, so no byte escapes the scan.
        let mut pos = 0;
        for v in &l.volumes {
            assert!(
                v.extent.start.checked_add(v.extent.len).is_some(),
                "case {case}: {v:?}"
            );
            assert!(
                v.extent.start <= pos || v.extent.start >= size,
                "case {case}: bytes {pos}..{} in no volume: {:?}",
                v.extent.start,
                l.volumes
            );
            pos = pos.max(v.extent.end());
        }
        assert!(pos >= size, "case {case}: bytes {pos}..{size} in no volume");
        let past: Vec<_> = l.partitions().filter(|v| v.extent.end() > size).collect();
        assert!(
            past.is_empty() || l.findings.iter().any(|f| f.what.contains("past the end")),
            "case {case}: partitions past the end without a finding"
        );
    }
}
