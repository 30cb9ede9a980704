use dredge_core::{Extent, ImageSource, SourceErrorKind, Why};
use dredge_image::{
    open_evidence, read_mapfile, MapOverlay, MapStatus, Mapfile, MemDevice, Sectored,
};
use std::path::{Path, PathBuf};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata")
        .join(rel)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 512) as u8 | 1).collect()
}

#[test]
fn every_ddrescue_testsuite_mapfile_round_trips_exactly() {
    let dir = shared("ddrescue-testsuite");
    if !dir.exists() {
        panic!("shared test data missing at {}", dir.display());
    }
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mapfile") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        let m = Mapfile::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            m.to_string().as_bytes(),
            &bytes[..],
            "{name} did not round-trip"
        );
        n += 1;
    }
    assert_eq!(
        n, 9,
        "expected the nine mapfiles of the ddrescue test suite"
    );
}

#[test]
fn testsuite_rescues_equal_the_original_where_the_map_says_finished() {
    // test2.txt is a partial rescue described by mapfile2 (finished blocks equal test.txt).
    let orig = std::fs::read(shared("ddrescue-testsuite/test.txt")).unwrap();
    let m = read_mapfile(&shared("ddrescue-testsuite/mapfile2")).unwrap();
    assert_eq!(m.end(), orig.len() as u64);
    let ev = open_evidence(
        &shared("ddrescue-testsuite/test2.txt"),
        Some(&shared("ddrescue-testsuite/mapfile2")),
    )
    .unwrap();
    let mut buf = vec![0u8; orig.len()];
    let r = ev.source.read_at(0, &mut buf).unwrap();
    let mut expect_synth = 0;
    for b in &m.blocks {
        let range = b.pos as usize..(b.pos + b.size) as usize;
        if b.status == MapStatus::Finished {
            assert_eq!(
                &buf[range.clone()],
                &orig[range],
                "finished block at {:#x}",
                b.pos
            );
        } else {
            assert!(buf[range].iter().all(|&x| x == 0));
            expect_synth += b.size;
        }
    }
    assert_eq!(r.synthesized_bytes(), expect_synth);
    assert!(r.synthesized.iter().all(|s| s.why == Why::NotTried));
}

#[test]
fn media_errors_are_narrowed_to_the_failing_sectors() {
    let data = pattern(64 * 1024);
    let dev = MemDevice::new(data.clone())
        .with_bad(Extent::new(5 * 512 + 100, 10))
        .with_bad(Extent::new(40 * 512, 1024));
    let src = Sectored::new(dev);
    let mut buf = vec![0xAAu8; 64 * 1024];
    let r = src.read_at(0, &mut buf).unwrap();
    assert_eq!(r.len, 64 * 1024);
    let got: Vec<(u64, u64)> = r
        .synthesized
        .iter()
        .map(|s| (s.extent.start, s.extent.len))
        .collect();
    assert_eq!(got, vec![(5 * 512, 512), (40 * 512, 1024)]);
    assert!(r.synthesized.iter().all(|s| s.why == Why::Unreadable));
    for (i, (&a, &b)) in buf.iter().zip(&data).enumerate() {
        let bad = (5 * 512..6 * 512).contains(&i) || (40 * 512..42 * 512).contains(&i);
        if bad {
            assert_eq!(a, 0, "byte {i} should be zero-filled");
        } else {
            assert_eq!(a, b, "byte {i} should be real data");
        }
    }
}

#[test]
fn unaligned_reads_and_reads_past_end() {
    let data = pattern(4096);
    let src = Sectored::new(MemDevice::new(data.clone()).with_bad(Extent::new(1024, 512)));
    let mut buf = vec![0xFFu8; 1000];
    let r = src.read_at(3700, &mut buf).unwrap();
    assert_eq!(r.len, 396);
    assert_eq!(&buf[..396], &data[3700..]);
    assert!(buf[396..].iter().all(|&b| b == 0));
    assert_eq!(r.synthesized.len(), 1);
    assert_eq!(r.synthesized[0].why, Why::PastEnd);
    assert_eq!(r.synthesized[0].extent, Extent::new(4096, 604));

    let mut buf = vec![0xFFu8; 300];
    let r = src.read_at(1300, &mut buf).unwrap();
    // 1300..1536 lies in the bad sector, 1536..1600 is good.
    assert_eq!(r.synthesized[0].extent, Extent::new(1300, 236));
    assert_eq!(&buf[236..], &data[1536..1600]);

    let r = src.read_at(1 << 40, &mut buf).unwrap();
    assert_eq!(r.len, 0);
    assert_eq!(r.synthesized_bytes(), 300);
}

#[test]
fn a_vanished_device_is_an_error_with_offset() {
    let src = Sectored::new(MemDevice::new(pattern(8192)).vanishing_after(1));
    let mut buf = vec![0u8; 512];
    src.read_at(0, &mut buf).unwrap();
    let e = src.read_at(4096, &mut buf).unwrap_err();
    assert_eq!(e.kind, SourceErrorKind::Gone);
    assert_eq!(e.offset, 4096);
    assert!(e.to_string().contains("byte offset 4096"));
}

#[test]
fn overlay_does_not_read_unrescued_ranges_and_reports_their_status() {
    let data = pattern(8192);
    // The device fails everywhere except the first 2 KiB: an overlay must not touch it.
    let dev = MemDevice::new(data.clone()).with_bad(Extent::new(2048, 8192 - 2048));
    let map = Mapfile::parse(
        "0x0 + 1\n0x0 0x800 +\n0x800 0x200 -\n0xA00 0x400 /\n0xE00 0x200 *\n0x1000 0x800 ?\n",
    )
    .unwrap();
    let src = MapOverlay::new(Sectored::new(dev), map);
    let mut buf = vec![0xEEu8; 8192];
    let r = src.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..2048], &data[..2048]);
    assert!(buf[2048..].iter().all(|&b| b == 0));
    let whys: Vec<(Why, u64)> = r
        .synthesized
        .iter()
        .map(|s| (s.why, s.extent.len))
        .collect();
    assert_eq!(
        whys,
        vec![
            (Why::BadSector, 0x200),
            (Why::NotScraped, 0x400),
            (Why::NotTrimmed, 0x200),
            (Why::NotTried, 0x800),
            (Why::NotInMap, 0x800),
        ]
    );
}

#[test]
fn split_sets_read_as_one_image_across_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(10_000);
    for (name, range) in [
        ("img.001", 0..4000),
        ("img.002", 4000..8000),
        ("img.003", 8000..10_000),
    ] {
        std::fs::write(dir.path().join(name), &data[range]).unwrap();
    }
    let ev = open_evidence(&dir.path().join("img.001"), None).unwrap();
    assert_eq!(ev.segments.len(), 3);
    assert_eq!(ev.source.size(), 10_000);
    let mut buf = vec![0u8; 6000];
    let r = ev.source.read_at(3000, &mut buf).unwrap();
    assert!(r.is_clean());
    assert_eq!(&buf[..], &data[3000..9000]);

    let e = open_evidence(&dir.path().join("img.002"), None)
        .err()
        .unwrap();
    assert!(e.to_string().contains("later segment"), "{e}");

    for (name, range) in [("x.aa", 0..6000), ("x.ab", 6000..10_000)] {
        std::fs::write(dir.path().join(name), &data[range]).unwrap();
    }
    let ev = open_evidence(&dir.path().join("x.aa"), None).unwrap();
    assert_eq!(ev.segments.len(), 2);
    let mut all = vec![0u8; 10_000];
    ev.source.read_at(0, &mut all).unwrap();
    assert_eq!(all, data);
}

#[test]
fn bad_evidence_paths_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_evidence(&dir.path().join("nope.img"), None)
        .err()
        .unwrap();
    assert!(e.to_string().contains("no such file"), "{e}");
    let e = open_evidence(dir.path(), None).err().unwrap();
    assert!(e.to_string().contains("is a directory"), "{e}");
    let empty = dir.path().join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let e = open_evidence(&empty, None).err().unwrap();
    assert!(e.to_string().contains("empty"), "{e}");

    let img = dir.path().join("small.img");
    std::fs::write(&img, vec![1u8; 4096]).unwrap();
    let long_map = dir.path().join("long.map");
    std::fs::write(&long_map, "0x0 + 1\n0x0 0x2000 +\n").unwrap();
    let e = open_evidence(&img, Some(&long_map)).err().unwrap();
    assert!(
        e.to_string().contains("8192") && e.to_string().contains("4096"),
        "{e}"
    );
    let garbage = dir.path().join("garbage.map");
    std::fs::write(&garbage, b"\x00\x01binary junk\xff").unwrap();
    let e = open_evidence(&img, Some(&garbage)).err().unwrap();
    assert!(
        e.to_string().contains("garbage.map") && e.to_string().contains("byte offset"),
        "{e}"
    );
}

/// Found by the `ewf` fuzz target: a table whose base offset is near 2^64 and a
/// sectors section whose size runs past 2^64 made the offset sums overflow (a
/// panic with overflow checks, a wrapped offset without).
#[test]
fn an_e01_table_base_near_2_pow_64_does_not_overflow() {
    let hex = "455646090d0aff000000005a007461626c650000000000000000000000001a0000000000000000000000040000000000000000000000005e00000000000000000000000000000000000000000000000e0e0e0e0e0e0e0e0e0e0e00000000000000ffffffffffffffffffffffffffffffffffffffff0000000000000000000000000d0aff000000005a007461626c65000000000000000000000000000e0e0e0e0e0e0e0e0e0e0e00000000000000000000000000000000000000006060606060606060606060606060606060606060606060606020606060606060606060606000001f3d";
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("crash.E01");
    std::fs::write(&p, &bytes).unwrap();
    if let Ok(src) = dredge_image::EwfSource::open(&p) {
        let mut buf = vec![0u8; 4096];
        let _ = dredge_core::ImageSource::read_at(&src, 0, &mut buf);
    }
}
