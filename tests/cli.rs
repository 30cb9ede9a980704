mod common;

use common::*;
use rusqlite::Connection;
use std::path::Path;
use std::time::{Duration, Instant};

fn new_case(dir: &Path) -> String {
    let case = dir.join("case");
    let o = run(&[
        "case",
        "new",
        case.to_str().unwrap(),
        "--examiner",
        "Test Examiner",
        "--case-number",
        "T-1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    case.display().to_string()
}

/// One line on stderr, naming what was wrong; exit 2; no panic.
fn assert_clean_failure(o: &std::process::Output, must_name: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(err.starts_with("dredge: error: "), "{err}");
    assert!(
        err.contains(must_name),
        "error should name {must_name}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gives_one_line_exit_2_and_leaves_evidence_alone() {
    let d = tempfile::tempdir().unwrap();
    let case = new_case(d.path());
    let img = d.path().join("good.img");
    std::fs::write(&img, noise(64 * 1024, 1)).unwrap();
    let empty = d.path().join("empty.img");
    std::fs::write(&empty, b"").unwrap();
    let garbage = d.path().join("garbage.map");
    std::fs::write(&garbage, b"PK\x03\x04 definitely not a mapfile\n\x00\xff").unwrap();
    let text_garbage = d.path().join("text.map");
    std::fs::write(&text_garbage, "0x0 + 1\n0x0 0x1000 +\nthis line is wrong\n").unwrap();
    let long = d.path().join("long.map");
    write_bad_map(&long, 128 * 1024, &[(4096, 512)]);
    let not_case = d.path().join("not-a-case");
    std::fs::create_dir(&not_case).unwrap();
    std::fs::write(not_case.join("notes.txt"), "hello").unwrap();
    let witness = ReadOnlyWitness::new(&[&img, &empty, &garbage, &text_garbage, &long]);

    let missing = d.path().join("missing.img");
    let s = |p: &Path| p.display().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec!["add".into(), case.clone(), s(&missing)], s(&missing)),
        (
            vec!["add".into(), case.clone(), s(d.path())],
            "is a directory".into(),
        ),
        (vec!["add".into(), case.clone(), s(&empty)], s(&empty)),
        (
            vec![
                "add".into(),
                case.clone(),
                s(&img),
                "--map".into(),
                s(&garbage),
            ],
            s(&garbage),
        ),
        (
            vec![
                "add".into(),
                case.clone(),
                s(&img),
                "--map".into(),
                s(&text_garbage),
            ],
            "byte offset 21".into(),
        ),
        (
            vec![
                "add".into(),
                case.clone(),
                s(&img),
                "--map".into(),
                s(&long),
            ],
            s(&long),
        ),
        (vec!["add".into(), s(&not_case), s(&img)], s(&not_case)),
        (
            vec!["verify".into(), s(&not_case)],
            "is not a dredge case".into(),
        ),
        (
            vec!["log".into(), s(&d.path().join("nope"))],
            "no such case directory".into(),
        ),
        (
            vec!["acquire".into(), s(&missing), s(&d.path().join("out.img"))],
            s(&missing),
        ),
        (
            vec!["acquire".into(), s(&empty), s(&d.path().join("out.img"))],
            s(&empty),
        ),
        (
            vec!["acquire".into(), s(&img), s(&img)],
            "overwrite the source".into(),
        ),
        (
            vec![
                "case".into(),
                "new".into(),
                case.clone(),
                "--examiner".into(),
                "X".into(),
            ],
            "already a case".into(),
        ),
    ];
    for (args, name) in &cases {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = run(&a);
        assert_clean_failure(&o, name);
    }
    witness.assert_unchanged();
    assert!(
        !d.path().join("out.img").exists()
            || std::fs::metadata(d.path().join("out.img")).unwrap().len() == 0
    );

    // Failed sessions are recorded and the store stays consistent.
    let o = run(&["verify", &case]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = run(&["--progress", "json", "case", "show", &case]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let statuses: Vec<&str> = v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.iter().filter(|s| **s == "failed").count() >= 5,
        "{statuses:?}"
    );
    assert!(v["evidence"].as_array().unwrap().is_empty());
}

#[test]
fn add_with_a_mapfile_records_the_unreadable_ranges_and_exits_3() {
    let d = tempfile::tempdir().unwrap();
    let case = new_case(d.path());
    let img = d.path().join("disk.img");
    std::fs::write(&img, noise(256 * 1024, 2)).unwrap();
    let map = d.path().join("disk.map");
    write_bad_map(&map, 256 * 1024, &[(8192, 1024), (100_000, 4096)]);
    let witness = ReadOnlyWitness::new(&[&img, &map]);
    let o = run(&[
        "--progress",
        "json",
        "add",
        &case,
        img.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r: serde_json::Value = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["event"] == "result")
        .unwrap();
    assert_eq!(r["bad_bytes"], 1024 + 4096);
    assert_eq!(r["unreadable"][0]["start"], 8192);
    assert_eq!(r["unreadable"][1]["len"], 4096);
    assert_eq!(r["unreadable"][1]["why"], "map-bad-sector");
    // The hash is over the image as read through the map: bad ranges as zeros.
    let mut expect = std::fs::read(&img).unwrap();
    expect[8192..9216].fill(0);
    expect[100_000..104_096].fill(0);
    use sha2::Digest;
    assert_eq!(r["sha256"], hex::encode(sha2::Sha256::digest(&expect)));

    let o = run(&["verify", &case]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("ev1: MD5, SHA-1 and SHA-256 match"));
    witness.assert_unchanged();
}

#[test]
fn tampering_with_any_custody_row_makes_verify_fail_naming_the_event() {
    let d = tempfile::tempdir().unwrap();
    let case = new_case(d.path());
    let img = d.path().join("disk.img");
    std::fs::write(&img, noise(32 * 1024, 3)).unwrap();
    let o = run(&["add", &case, img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let db = Path::new(&case).join("case.sqlite");
    let pristine = d.path().join("pristine");
    copy_dir(Path::new(&case), &pristine);
    let n: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM custody", [], |r| r.get(0))
        .unwrap();
    assert!(n >= 4);
    for seq in 1..=n {
        // Restore, then change one byte of this event's parameters.
        let _ = std::fs::remove_dir_all(&case);
        copy_dir(&pristine, Path::new(&case));
        let c = Connection::open(&db).unwrap();
        c.execute_batch("DROP TRIGGER custody_no_update").unwrap();
        let params: String = c
            .query_row("SELECT params FROM custody WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .unwrap();
        let i = params.find(':').unwrap() + 1;
        let changed = format!("{} {}", &params[..i], &params[i..]); // one added byte, same JSON
        c.execute(
            "UPDATE custody SET params = ?1 WHERE seq = ?2",
            rusqlite::params![changed, seq],
        )
        .unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        drop(c);
        let o = run(&["verify", &case]);
        assert_clean_failure(&o, &format!("custody event {seq}"));
        assert!(
            stdout(&o).contains(&format!("BROKEN at event {seq}")),
            "{}",
            stdout(&o)
        );
    }
    // A changed byte in the evidence file itself is a hash mismatch.
    let _ = std::fs::remove_dir_all(&case);
    copy_dir(&pristine, Path::new(&case));
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&img, bytes).unwrap();
    let o = run(&["verify", &case]);
    assert_clean_failure(&o, "evidence ev1");
    assert!(stdout(&o).contains("ev1: MD5 MISMATCH"), "{}", stdout(&o));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

#[test]
fn ctrl_c_closes_the_session_as_interrupted_never_as_success() {
    let d = tempfile::tempdir().unwrap();
    let case = new_case(d.path());
    // Big enough that a 512-byte-cluster acquisition is still running when signalled.
    let src = d.path().join("big.img");
    let f = std::fs::File::create(&src).unwrap();
    f.set_len(2 << 30).unwrap();
    drop(f);
    let out = d.path().join("out.img");
    let child = dredge()
        .args([
            "--progress",
            "json",
            "acquire",
            "--cluster-size",
            "512",
            "--case",
            &case,
        ])
        .arg(&src)
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is working, then send SIGINT as Ctrl-C does.
    let map = d.path().join("out.img.map");
    let t = Instant::now();
    while !map.exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let r: serde_json::Value = stdout(&o)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v["event"] == "result")
        .unwrap();
    assert_eq!(r["outcome"], "Interrupted");
    assert!(
        r["sha256"].is_null(),
        "an interrupted acquisition has no image hash"
    );
    let o = run(&["--progress", "json", "case", "show", &case]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let last = v["sessions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["command"], "acquire");
    assert_eq!(last["status"], "interrupted");
    assert!(
        v["evidence"].as_array().unwrap().is_empty(),
        "an interrupted image is not registered"
    );
    let o = run(&["log", &case]);
    assert!(stdout(&o).contains("\"status\":\"interrupted\""));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        &["--help"][..],
        &["case", "new", "--help"],
        &["case", "show", "--help"],
        &["add", "--help"],
        &["acquire", "--help"],
        &["verify", "--help"],
        &["log", "--help"],
    ] {
        let o = run(cmd);
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
        assert!(stdout(&o).contains("Usage:"), "{cmd:?}");
    }
}

#[test]
fn list_shows_allocated_and_deleted_entries_without_a_case() {
    let img =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages/sample/usb-stick.img");
    let witness = ReadOnlyWitness::new(&[&img]);
    let o = run(&["list", img.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.lines()
            .any(|l| l.starts_with("r/r v0/fat16/") && l.ends_with("\t/NOTES.TXT")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("r/r * ") && l.ends_with("\t/secret plans.txt")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("d/d ") && l.ends_with("\t/ledger")),
        "{out}"
    );
    let o = run(&["--progress", "json", "list", img.to_str().unwrap()]);
    let v: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.iter().filter(|e| e["deleted"] == true).count(), 2);
    assert!(v.iter().all(|e| e["fs"] == "fat16"));
    witness.assert_unchanged();
}
