//! `--hash` (issue 18): the examiner chooses the evidence digests. Only those are
//! computed, recorded (in the evidence row and its custody event) and checked by
//! every later scan and verify; a scan that could check none of them refuses.

mod common;

use common::*;
use md5::Digest;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The custody events with `action`, as JSON.
fn events(case: &Path, action: &str) -> Vec<Value> {
    let o = run(&["log", case.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["action"] == action)
        .collect()
}

fn md5_file(p: &Path) -> String {
    hex::encode(md5::Md5::digest(std::fs::read(p).unwrap()))
}

#[test]
fn carve_with_sha256_only_records_and_checks_only_sha256() {
    let d = tempfile::tempdir().unwrap();
    let img = repo("testimages/carving/ground-truth.img");
    let case = d.path().join("c");
    let o = run(&[
        "carve",
        img.to_str().unwrap(),
        "--out",
        case.to_str().unwrap(),
        "--hash",
        "sha256",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let added = &events(&case, "evidence.add")[0]["params"];
    assert_eq!(added["hashes"], serde_json::json!(["sha256"]));
    assert!(added["md5"].is_null() && added["sha1"].is_null());
    assert_eq!(added["sha256"], sha256_file(&img).as_str());
    let scan = events(&case, "session.start")
        .into_iter()
        .find(|e| e["params"]["command"] == "scan")
        .expect("carve runs a scan session");
    assert_eq!(
        scan["params"]["args"]["hash"],
        serde_json::json!(["sha256"])
    );
    let proved = &events(&case, "scan.evidence")[0]["params"];
    assert_eq!(
        proved["sha256_before_and_after"],
        sha256_file(&img).as_str()
    );
    assert!(proved["digests_before_and_after"]["md5"].is_null());

    let v = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("ev1: SHA-256 match"), "{}", stdout(&v));
    let verified = events(&case, "session.end")
        .into_iter()
        .rev()
        .find(|e| e["params"]["summary"]["evidence"].is_array())
        .unwrap();
    assert_eq!(
        verified["params"]["summary"]["evidence"][0],
        serde_json::json!({"label": "ev1", "result": "Match", "digests": ["sha256"]})
    );

    // A scan that could check none of the recorded digests proves nothing: refused.
    let s = run(&["scan", case.to_str().unwrap(), "--hash", "md5"]);
    assert_eq!(s.status.code(), Some(2));
    let err = stderr(&s);
    assert!(
        err.contains("ev1") && err.contains("registered with sha256") && err.contains("md5"),
        "{err}"
    );

    // Reports say which digests were not computed instead of printing blanks.
    let r = run(&["report", case.to_str().unwrap(), "--format", "html"]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let html = std::fs::read_dir(case.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "html"))
        .unwrap();
    let text = std::fs::read_to_string(html).unwrap();
    assert!(text.contains("not computed (--hash)"));
    assert!(text.contains(&sha256_file(&img)));
}

#[test]
fn a_scan_checks_the_chosen_digests_and_catches_a_changed_image_by_them() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("e.img");
    std::fs::copy(repo("testimages/carving/ground-truth.img"), &img).unwrap();
    let case = d.path().join("c");
    let c = case.to_str().unwrap();
    assert_eq!(
        run(&["case", "new", c, "--examiner", "t"]).status.code(),
        Some(0)
    );
    let a = run(&["add", c, img.to_str().unwrap(), "--hash", "md5,sha1"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert!(stdout(&a).contains(&md5_file(&img)));
    assert!(!stdout(&a).contains("SHA-256"), "{}", stdout(&a));
    let added = &events(&case, "evidence.add")[0]["params"];
    assert_eq!(added["hashes"], serde_json::json!(["md5", "sha1"]));
    assert_eq!(added["md5"], md5_file(&img).as_str());

    // One byte of the image changes after registration: the scan's MD5 differs.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[100_000] ^= 0x5a;
    std::fs::write(&img, &bytes).unwrap();
    let s = run(&["scan", c, "--carve", "none"]);
    assert_eq!(s.status.code(), Some(2), "{}", stdout(&s));
    assert!(
        stderr(&s).contains("is not the evidence registered") && stderr(&s).contains("MD5"),
        "{}",
        stderr(&s)
    );
    let v = run(&["verify", c]);
    assert_eq!(v.status.code(), Some(2));
    assert!(stdout(&v).contains("ev1: MD5 MISMATCH"), "{}", stdout(&v));
}

#[test]
fn an_unknown_or_empty_hash_choice_is_refused_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let case = d.path().join("c");
    for bad in ["crc32", ","] {
        let o = run(&[
            "carve",
            repo("testimages/carving/ground-truth.img")
                .to_str()
                .unwrap(),
            "--out",
            case.to_str().unwrap(),
            "--hash",
            bad,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("--hash"), "{}", stderr(&o));
        assert!(!case.exists(), "no case is left behind by a refused option");
    }
}

#[test]
fn acquire_computes_the_chosen_digests_and_an_e01_always_gets_md5_and_sha1() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src.bin");
    std::fs::write(&src, noise(3 << 20, 7)).unwrap();
    let case = d.path().join("c");
    let c = case.to_str().unwrap();
    assert_eq!(
        run(&["case", "new", c, "--examiner", "t"]).status.code(),
        Some(0)
    );
    let raw = d.path().join("out.raw");
    let o = run(&[
        "acquire",
        src.to_str().unwrap(),
        raw.to_str().unwrap(),
        "--case",
        c,
        "--hash",
        "sha1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e01 = d.path().join("out.E01");
    let o = run(&[
        "acquire",
        src.to_str().unwrap(),
        e01.to_str().unwrap(),
        "--case",
        c,
        "--format",
        "e01",
        "--hash",
        "sha256",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let added = events(&case, "evidence.add");
    assert_eq!(added[0]["params"]["hashes"], serde_json::json!(["sha1"]));
    assert_eq!(
        added[1]["params"]["hashes"],
        serde_json::json!(["md5", "sha1", "sha256"])
    );
    assert_eq!(added[1]["params"]["md5"], md5_file(&src).as_str());
    let v = run(&["verify", c]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains("ev1: SHA-1 match"), "{}", stdout(&v));
}
