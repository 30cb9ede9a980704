//! E01 (EWF) evidence: the dfvfs public sets, sets made by ewfacquire with every
//! compression level, chunk sizes and segment splitting (checked against ewfexport
//! and the raw original), a corrupted chunk, and damaged headers and tables.

mod common;

use common::*;
use dredge_core::{ImageSource, Why};
use dredge_image::{open_evidence, EwfSource};
use std::path::{Path, PathBuf};
use std::process::Command;

fn read_all(src: &dyn ImageSource) -> (Vec<u8>, dredge_core::ReadReport) {
    let mut b = vec![0u8; src.size() as usize];
    let r = src.read_at(0, &mut b).unwrap();
    (b, r)
}

fn md5(b: &[u8]) -> String {
    let mut c = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), b).unwrap();
    String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn dfvfs_e01_and_split_set_read_to_the_published_md5() {
    let raw = gunzip(&shared("dfvfs/ext2.raw.gz"));
    for f in ["dfvfs/ext2.E01", "dfvfs/ext2.split.E01"] {
        let ev = open_evidence(&shared(f), None).unwrap();
        let (b, r) = read_all(&*ev.source);
        assert!(r.is_clean(), "{f}: {:?}", r.synthesized);
        assert_eq!(md5(&b), "196066add11fb71c4c49cf1bb50d6d24", "{f}");
        assert!(b == raw, "{f} differs from ext2.raw");
        let m = ev.ewf.unwrap();
        assert_eq!(
            m.stored_md5.as_deref(),
            Some("196066add11fb71c4c49cf1bb50d6d24"),
            "{f}"
        );
        assert!(
            m.header.contains(&("examiner".into(), "examiner".into())),
            "{f}: {:?}",
            m.header
        );
    }
    let split = open_evidence(&shared("dfvfs/ext2.split.E01"), None).unwrap();
    assert_eq!(split.segments.len(), 2);
    let e = open_evidence(&shared("dfvfs/ext2.split.E02"), None)
        .err()
        .unwrap();
    assert!(e.to_string().contains("later segment"), "{e}");
}

fn acquire(dir: &Path, raw: &Path, name: &str, args: &[&str]) -> PathBuf {
    let target = dir.join(name);
    let o = Command::new("ewfacquire")
        .args(["-u", "-t"])
        .arg(&target)
        .args([
            "-C",
            "C-42",
            "-D",
            "test media",
            "-E",
            "EV1",
            "-e",
            "Examiner X",
            "-N",
            "notes",
            "-f",
            "encase6",
        ])
        .args(args)
        .arg(raw)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ewfacquire {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    target.with_extension("E01")
}

fn ewfexport(dir: &Path, e01: &Path) -> Vec<u8> {
    let out = dir.join(format!(
        "{}-export",
        e01.file_stem().unwrap().to_string_lossy()
    ));
    let o = Command::new("ewfexport")
        .args(["-u", "-f", "raw", "-t"])
        .arg(&out)
        .arg(e01)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ewfexport: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out.with_extension("raw")).unwrap()
}

#[test]
fn ewfacquire_sets_read_exactly_as_ewfexport_and_the_original() {
    if !tools(&["ewfacquire", "ewfexport"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let raw = d.path().join("media.raw");
    // Random data and zeros (which compress to almost nothing), whole sectors.
    let mut data = noise(3_000_000, 5);
    data.resize(5_000_192, 0);
    std::fs::write(&raw, &data).unwrap();
    for (name, args) in [
        ("none", &["-c", "none", "-b", "64"][..]),
        ("fast", &["-c", "fast", "-b", "64", "-S", "1MiB"][..]),
        ("best", &["-c", "best", "-b", "128", "-S", "1MiB"][..]),
        ("big", &["-c", "best", "-b", "1024"][..]),
    ] {
        let e01 = acquire(d.path(), &raw, name, args);
        let exported = ewfexport(d.path(), &e01);
        let ev = open_evidence(&e01, None).unwrap();
        let (b, r) = read_all(&*ev.source);
        assert!(r.is_clean(), "{name}: {:?}", r.synthesized);
        assert!(
            b == exported,
            "{name}: differs from ewfexport ({} vs {} bytes)",
            b.len(),
            exported.len()
        );
        assert!(b == data, "{name}: differs from the original");
        let m = ev.ewf.unwrap();
        assert_eq!(m.stored_md5.as_deref(), Some(md5(&b).as_str()), "{name}");
        assert!(
            m.header.contains(&("case_number".into(), "C-42".into())),
            "{name}: {:?}",
            m.header
        );
        if name != "none" && name != "big" {
            assert!(m.segments.len() > 1, "{name}: expected several segments");
        }
    }

    // Media whose size is not a multiple of 512: ewfacquire counts whole sectors
    // in the volume section, but its last chunk holds the tail too and its MD5
    // covers every input byte. ewfexport stops at the sector count; dredge reads
    // the stored bytes (issue 17), so the stored MD5 verifies, and says so.
    let odd = d.path().join("odd.raw");
    let mut od = data.clone();
    od.extend_from_slice(b"tail");
    std::fs::write(&odd, &od).unwrap();
    let e01 = acquire(d.path(), &odd, "odd", &["-c", "best", "-b", "64"]);
    let exported = ewfexport(d.path(), &e01);
    let ev = open_evidence(&e01, None).unwrap();
    let (b, _) = read_all(&*ev.source);
    assert!(b == od, "odd: differs from the original");
    assert_eq!(
        &b[..exported.len()],
        &exported[..],
        "odd: ewfexport's bytes are a prefix"
    );
    assert_eq!(exported.len() % 512, 0);
    let m = ev.ewf.unwrap();
    assert_eq!(
        m.stored_md5.as_deref(),
        Some(md5(&b).as_str()),
        "ewfacquire hashed the input, and the stored bytes are the input"
    );
    assert!(
        m.problems
            .iter()
            .any(|p| p.contains("the last chunk holds")),
        "{:?}",
        m.problems
    );
}

#[test]
fn a_corrupted_chunk_reads_as_a_gap_and_verify_reports_the_stored_hash_mismatch() {
    if !tools(&["ewfacquire", "ewfexport"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let raw = d.path().join("media.raw");
    std::fs::write(&raw, noise(2 << 20, 9)).unwrap();
    let e01 = acquire(d.path(), &raw, "one", &["-c", "none", "-b", "64"]);
    let good = std::fs::read(&raw).unwrap();
    // Flip a byte in the middle of the sectors section (uncompressed chunks carry an
    // Adler-32 each, so exactly one chunk fails).
    let mut bytes = std::fs::read(&e01).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&e01, &bytes).unwrap();
    let src = EwfSource::open(&e01).unwrap();
    let (b, r) = read_all(&src);
    assert_eq!(r.synthesized.len(), 1, "{:?}", r.synthesized);
    let bad = r.synthesized[0];
    assert_eq!(bad.why, Why::BadChunk);
    assert_eq!(bad.extent.len, 64 * 512);
    let (s, e) = (bad.extent.start as usize, bad.extent.end() as usize);
    assert!(
        b[..s] == good[..s] && b[e..] == good[e..],
        "only the bad chunk may differ"
    );
    assert!(b[s..e].iter().all(|&x| x == 0));

    // Through the CLI: add reports the gap (exit 3), verify names the stored MD5.
    let case = d.path().join("case");
    assert!(
        run(&["case", "new", case.to_str().unwrap(), "--examiner", "T"])
            .status
            .success()
    );
    let o = run(&["add", case.to_str().unwrap(), e01.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ewf-bad-chunk"), "{}", stdout(&o));
    assert!(stdout(&o).contains("does NOT match"), "{}", stdout(&o));
    let o = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("MD5 stored in the E01 MISMATCH"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn damaged_e01_headers_and_tables_never_panic() {
    let base = std::fs::read(shared("dfvfs/ext2.E01")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.E01");
    let (mut r, cases) = dredge_testkit::mutation_setup(0xC2B2_AE3D_27D4_EB4F);
    // Section descriptors, volume, table and hash sections (see the offsets of the
    // sections in this file): everything but the chunk data.
    let hot: Vec<(usize, usize)> = vec![(0, 1871 + 76), (9574, base.len())];
    for case in 0..cases {
        let mut b = base.clone();
        for _ in 0..1 + r.next() % 6 {
            let (lo, hi) = hot[(r.next() % 2) as usize];
            let i = lo + (r.next() as usize) % (hi - lo);
            b[i] = match r.next() % 4 {
                0 => 0,
                1 => 0xFF,
                _ => r.next() as u8,
            };
        }
        if case % 50 == 0 {
            let cut = (r.next() as usize) % b.len();
            b.truncate(cut.max(13));
        }
        std::fs::write(&p, &b).unwrap();
        if let Ok(src) = EwfSource::open(&p) {
            // Sizes come from evidence: read in bounded pieces.
            let size = src.size().min(64 << 20);
            let mut buf = vec![0u8; 1 << 20];
            let mut off = 0;
            while off < size {
                src.read_at(off, &mut buf).unwrap();
                off += 1 << 20;
            }
        }
    }
}

#[test]
fn scanning_the_e01_gives_the_same_artifacts_as_the_raw_image() {
    let d = tempfile::tempdir().unwrap();
    let raw = d.path().join("ext2.raw");
    std::fs::write(&raw, gunzip(&shared("dfvfs/ext2.raw.gz"))).unwrap();
    let mut listings = Vec::new();
    for (name, img) in [
        ("raw", raw.clone()),
        ("e01", shared("dfvfs/ext2.E01")),
        ("split", shared("dfvfs/ext2.split.E01")),
    ] {
        let out = d.path().join(name);
        let o = one_shot("recover", &img, None, &out, &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let arts = ls_json(&out);
        assert!(arts.len() >= 6, "{name}");
        listings.push(arts);
    }
    assert_eq!(listings[0], listings[1], "E01 differs from raw");
    assert_eq!(listings[0], listings[2], "split E01 differs from raw");
}

#[test]
fn acquire_to_e01_passes_ewfverify_and_carries_the_case_metadata() {
    if !tools(&["ewfverify", "ewfinfo", "ewfexport"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("disk.raw");
    let mut data = noise(3 << 20, 21);
    data.extend(std::iter::repeat_n(0u8, 1 << 20));
    std::fs::write(&src, &data).unwrap();
    let witness = ReadOnlyWitness::new(&[&src]);
    let case = d.path().join("case");
    assert!(run(&[
        "case",
        "new",
        case.to_str().unwrap(),
        "--examiner",
        "Jane Doe",
        "--case-number",
        "2026-77"
    ])
    .status
    .success());
    for comp in ["none", "fast", "best"] {
        let out = d.path().join(format!("{comp}.E01"));
        let o = run(&[
            "--progress",
            "none",
            "acquire",
            src.to_str().unwrap(),
            out.to_str().unwrap(),
            "--format",
            "e01",
            "--segment-size",
            "1MiB",
            "--compression",
            comp,
            "--case",
            case.to_str().unwrap(),
            "--evidence-number",
            "EV-9",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{comp}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let v = Command::new("ewfverify").arg(&out).output().unwrap();
        assert!(
            v.status.success(),
            "{comp}: ewfverify: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        let info =
            String::from_utf8_lossy(&Command::new("ewfinfo").arg(&out).output().unwrap().stdout)
                .to_string();
        assert!(
            info.contains("Jane Doe") && info.contains("2026-77") && info.contains("EV-9"),
            "{info}"
        );
        assert!(
            ewfexport(d.path(), &out) == data,
            "{comp}: ewfexport differs from the source"
        );
        assert!(
            out.with_extension("E02").exists(),
            "{comp}: expected several segments"
        );
        assert!(
            !d.path().join(format!("{comp}.E01.partial.raw")).exists(),
            "working image left behind"
        );
    }
    let o = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    witness.assert_unchanged();
}

#[test]
fn a_failing_drive_acquired_to_e01_keeps_its_unreadable_sectors_in_error2() {
    if !tools(&["nbdkit", "nbdfuse", "fusermount3", "ewfverify", "ewfinfo"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("original.img");
    let data = noise(8 << 20, 33);
    std::fs::write(&img, &data).unwrap();
    let faults = d.path().join("faults.map");
    let bad = [(1u64 << 20, 8192u64), (5 << 20, 4096)];
    write_bad_map(&faults, 8 << 20, &bad);
    let disk = FailingDisk::mount(d.path(), &img, &faults, &[]);
    let out = d.path().join("drive.E01");
    let o = run(&[
        "--progress",
        "none",
        "acquire",
        disk.file.to_str().unwrap(),
        out.to_str().unwrap(),
        "--format",
        "e01",
    ]);
    drop(disk);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let v = Command::new("ewfverify").arg(&out).output().unwrap();
    assert!(
        v.status.success(),
        "ewfverify: {}",
        String::from_utf8_lossy(&v.stdout)
    );
    let info = String::from_utf8_lossy(&Command::new("ewfinfo").arg(&out).output().unwrap().stdout)
        .to_string();
    assert!(
        info.contains("Read errors during acquiry") || info.contains("read errors"),
        "{info}"
    );
    // dredge reads the E01's error2 list back as unreadable ranges.
    let src = EwfSource::open(&out).unwrap();
    let (b, r) = read_all(&src);
    let got: Vec<(u64, u64)> = r
        .synthesized
        .iter()
        .map(|s| (s.extent.start, s.extent.len))
        .collect();
    assert_eq!(got, bad.to_vec());
    assert!(r.synthesized.iter().all(|s| s.why == Why::AcquisitionError));
    for &(s, l) in &bad {
        assert!(b[s as usize..(s + l) as usize].iter().all(|&x| x == 0));
    }
    assert!(b[..1 << 20] == data[..1 << 20]);
}

#[test]
fn a_missing_segment_is_named_and_its_bytes_are_gaps() {
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(shared("dfvfs/ext2.split.E01"), d.path().join("x.E01")).unwrap();
    // The second segment is missing.
    let src = EwfSource::open(&d.path().join("x.E01")).unwrap();
    assert!(
        src.meta()
            .problems
            .iter()
            .any(|p| p.contains("x.E02") && p.contains("missing")),
        "{:?}",
        src.meta().problems
    );
    let (b, r) = read_all(&src);
    assert_eq!(b.len(), 4 << 20);
    assert!(!r.synthesized.is_empty());
    assert!(
        r.synthesized.iter().all(|s| s.why == Why::MissingSegment),
        "{:?}",
        r.synthesized
    );
    let raw = gunzip(&shared("dfvfs/ext2.raw.gz"));
    let first_gap = r.synthesized[0].extent.start as usize;
    assert!(
        first_gap > 0 && b[..first_gap] == raw[..first_gap],
        "the first segment's bytes are intact"
    );
    // Through the CLI: registered with the gap, exit 3, the problem named.
    let case = d.path().join("case");
    assert!(
        run(&["case", "new", case.to_str().unwrap(), "--examiner", "T"])
            .status
            .success()
    );
    let o = run(&[
        "add",
        case.to_str().unwrap(),
        d.path().join("x.E01").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("x.E02 is missing"), "{}", stdout(&o));
}

/// Media that is not a whole number of sectors: ewfacquire counts 8 sectors for a
/// 4 097-byte file, but its last chunk holds all 4 097 bytes and the stored MD5
/// covers them. The stored bytes are read, verify against the stored hash, and the
/// difference is recorded.
#[test]
fn media_with_a_partial_last_sector_reads_the_stored_bytes() {
    if !tools(&["ewfacquire"]) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for (len, compression) in [(4097usize, "none"), (4097, "best"), (70_000, "fast")] {
        let raw = d.path().join(format!("odd-{len}-{compression}.raw"));
        let data = noise(len, len as u64);
        std::fs::write(&raw, &data).unwrap();
        let e01 = acquire(
            d.path(),
            &raw,
            &format!("odd-{len}-{compression}"),
            &["-c", compression],
        );
        let src = EwfSource::open(&e01).unwrap();
        assert_eq!(src.size(), len as u64);
        let mut buf = vec![0u8; len];
        let r = src.read_at(0, &mut buf).unwrap();
        assert!(r.synthesized.is_empty(), "{:?}", r.synthesized);
        assert_eq!(buf, data);
        assert!(
            src.meta()
                .problems
                .iter()
                .any(|p| p.contains("the last chunk holds")),
            "{:?}",
            src.meta().problems
        );
        // The registered hashes are those of the stored bytes, and match the
        // stored MD5 (a mismatch would fail the add).
        let case = d.path().join(format!("case-{len}-{compression}"));
        assert!(
            run(&["case", "new", case.to_str().unwrap(), "--examiner", "T"])
                .status
                .success()
        );
        let o = run(&[
            "--progress",
            "none",
            "add",
            case.to_str().unwrap(),
            e01.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let c = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
        let (size, sha): (i64, String) = c
            .query_row("SELECT size, sha256 FROM evidence", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(size as usize, len);
        assert_eq!(
            sha,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data))
        );
    }
}
