//! Every recorded fact is sealed: changing any value of any row, or deleting any
//! row, of any table of a finished case makes `dredge verify` exit 2 and name what
//! changed. The case is the sample stick recovered with its mapfile (deleted files,
//! unreadable ranges, findings, carved files).

mod common;

use common::*;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The sample stick recovered with its mapfile into DIR/case (exit 3: it has
/// unreadable sectors).
fn sample_case(dir: &Path, extra: &[&str]) -> PathBuf {
    let case = dir.join("case");
    let o = one_shot(
        "recover",
        &repo("testimages/sample/usb-stick.img"),
        Some(&repo("testimages/sample/usb-stick.map")),
        &case,
        extra,
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    case
}

fn copy_case(from: &Path, to: &Path) {
    assert!(sh(&format!(
        "rm -rf '{0}' && cp -a '{1}' '{0}'",
        to.display(),
        from.display()
    )));
}

/// The tables and their columns, with declared types.
fn schema(db: &Path) -> Vec<(String, Vec<(String, String)>)> {
    let c = Connection::open(db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let cols = c
                .prepare(&format!("PRAGMA table_info({t})"))
                .unwrap()
                .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (t, cols)
        })
        .collect()
}

/// Applies `sql` to a copy of the case (the append-only triggers dropped, as a
/// determined editor would) and returns verify's exit code and output.
fn verify_after(case: &Path, work: &Path, sql: &str) -> Option<(i32, String)> {
    copy_case(case, work);
    let c = Connection::open(work.join("case.sqlite")).unwrap();
    c.execute_batch(
        "PRAGMA foreign_keys = OFF; DROP TRIGGER IF EXISTS custody_no_update; DROP TRIGGER IF EXISTS custody_no_delete;",
    )
    .unwrap();
    let n = c.execute(sql, []).unwrap_or(0);
    drop(c);
    if n == 0 {
        return None; // nothing to change (an empty table, or a value that stays)
    }
    let o = run(&["verify", work.to_str().unwrap()]);
    Some((o.status.code().unwrap_or(-1), stdout(&o) + &stderr(&o)))
}

#[test]
fn any_change_to_any_row_of_any_table_is_caught_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let case = sample_case(dir.path(), &["--carve", "all"]);
    let v = run(&["verify", case.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));

    let work = dir.path().join("work");
    let mut tried = 0;
    let mut missed = Vec::new();
    for (table, cols) in schema(&case.join("case.sqlite")) {
        // Each row position that matters: the first and the last.
        for pick in ["min", "max"] {
            let row = format!("rowid = (SELECT {pick}(rowid) FROM {table})");
            for (col, ty) in &cols {
                let new = match ty.as_str() {
                    "INTEGER" => format!("COALESCE({col}, 0) + 1"),
                    _ => format!("COALESCE({col}, '') || 'x'"),
                };
                let sql = format!("UPDATE {table} SET {col} = {new} WHERE {row}");
                if let Some((code, out)) = verify_after(&case, &work, &sql) {
                    tried += 1;
                    if code != 2 {
                        missed.push(format!("{sql}: exit {code}"));
                    } else {
                        assert!(
                            out.contains("BROKEN")
                                || out.contains("FAIL")
                                || out.contains("mismatch")
                                || out.contains("no longer match")
                                || out.contains("altered")
                                || out.contains("changed"),
                            "{sql}: {out}"
                        );
                    }
                }
            }
            let sql = format!("DELETE FROM {table} WHERE {row}");
            if let Some((code, _)) = verify_after(&case, &work, &sql) {
                tried += 1;
                if code != 2 {
                    missed.push(format!("{sql}: exit {code}"));
                }
            }
        }
    }
    assert!(tried > 150, "only {tried} changes tried");
    assert!(
        missed.is_empty(),
        "verify missed {} of {tried} changes:\n{}",
        missed.len(),
        missed.join("\n")
    );
}

#[test]
fn a_head_copied_from_a_report_is_checked_against_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let case = sample_case(dir.path(), &[]);
    let head = std::fs::read_to_string(case.join("custody.head")).unwrap();
    let (seq, hash) = head.trim().split_once(' ').unwrap();
    let c = case.to_str().unwrap();
    let good = format!("{seq}:{hash}");
    let v = run(&["verify", c, "--head", &good]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    let other = format!("{seq}:{}", "0".repeat(64));
    let v = run(&["verify", c, "--head", &other]);
    assert_eq!(v.status.code(), Some(2));
    assert!(stdout(&v).contains("does not match"), "{}", stdout(&v));
    let gone = format!("99999:{hash}");
    let v = run(&["verify", c, "--head", &gone]);
    assert_eq!(v.status.code(), Some(2));
    assert!(stdout(&v).contains("no longer has"), "{}", stdout(&v));
    let v = run(&["verify", c, "--head", "twelve"]);
    assert_eq!(v.status.code(), Some(2));
    assert_eq!(stderr(&v).lines().count(), 1, "{}", stderr(&v));
}

/// A case made with the examiner's key: every event signed, checked against the
/// public key held outside the case; without the key nothing more is recorded,
/// but anyone can still verify it.
#[test]
fn a_signed_case_needs_its_key_to_grow_and_is_checked_against_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("examiner.key");
    let k = run(&["--progress", "json", "key", "new", key.to_str().unwrap()]);
    assert_eq!(k.status.code(), Some(0), "{}", stderr(&k));
    let made: serde_json::Value = serde_json::from_str(stdout(&k).trim()).unwrap();
    let public = made["public_key"].as_str().unwrap().to_string();
    let fp = made["fingerprint"].as_str().unwrap().to_string();
    let case = sample_case(dir.path(), &["--signing-key", key.to_str().unwrap()]);
    let c = case.to_str().unwrap();
    let v = run(&["verify", c, "--public-key", &public]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(stdout(&v).contains(&format!("every event signed by key {fp}")));
    let v = run(&["verify", c, "--public-key", &fp]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    // The report names the key, for a reader to compare with the examiner's.
    let html = dir.path().join("r.html");
    let r = run(&[
        "report",
        c,
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0), "{}", stderr(&r));
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains(&format!("Ed25519 key {fp} ({public})")));
    // Someone else's key, and an unsigned case, are both refused.
    let other = dir.path().join("other.key");
    let o = run(&["--progress", "json", "key", "new", other.to_str().unwrap()]);
    let theirs: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let v = run(&[
        "verify",
        c,
        "--public-key",
        theirs["public_key"].as_str().unwrap(),
    ]);
    assert_eq!(v.status.code(), Some(2));
    assert!(
        stdout(&v).contains("signed again by another key"),
        "{}",
        stdout(&v)
    );
    let plain = sample_case(&dir.path().join("plain"), &[]);
    let v = run(&["verify", plain.to_str().unwrap(), "--public-key", &public]);
    assert_eq!(v.status.code(), Some(2));
    assert!(
        stdout(&v).contains("the case is not signed"),
        "{}",
        stdout(&v)
    );
    // The key taken away: verify still works (and says it is not recorded); a
    // scan is refused with one line, and the case is unchanged.
    let aside = dir.path().join("usb-token.key");
    std::fs::rename(&key, &aside).unwrap();
    let before = std::fs::read_to_string(case.join("custody.head")).unwrap();
    let v = run(&["verify", c]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("not recorded in the case"),
        "{}",
        stdout(&v)
    );
    let s = run(&["scan", c]);
    assert_eq!(s.status.code(), Some(2));
    assert!(stderr(&s).contains("this case is signed"), "{}", stderr(&s));
    assert_eq!(stderr(&s).trim().lines().count(), 1, "{}", stderr(&s));
    assert_eq!(
        std::fs::read_to_string(case.join("custody.head")).unwrap(),
        before
    );
    // Pointed at where the key is now, the examiner can record again.
    let v = dredge()
        .args(["verify", c])
        .env("DREDGE_SIGNING_KEY", &aside)
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(!stdout(&v).contains("not recorded"));
    assert_ne!(
        std::fs::read_to_string(case.join("custody.head")).unwrap(),
        before
    );
    let v = run(&["verify", c, "--public-key", &public]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
}

#[test]
fn an_altered_store_still_gets_its_reports_and_listing_which_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let case = sample_case(dir.path(), &[]);
    let work = dir.path().join("work");
    copy_case(&case, &work);
    let c = Connection::open(work.join("case.sqlite")).unwrap();
    // Words dredge never writes: one artifact's status, one unreadable range's reason.
    let victim: String = c
        .query_row(
            "SELECT id FROM artifacts WHERE kind = 'file' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE artifacts SET status = 'genuine' WHERE id = ?1",
        [&victim],
    )
    .unwrap();
    assert_eq!(
        c.execute(
            "UPDATE evidence_gaps SET why = 'trusted' WHERE rowid = (SELECT min(rowid) FROM evidence_gaps)",
            []
        )
        .unwrap(),
        1
    );
    let total: i64 = c
        .query_row("SELECT COUNT(*) FROM artifacts", [], |r| r.get(0))
        .unwrap();
    drop(c);
    let w = work.to_str().unwrap();
    for format in ["html", "pdf", "csv", "dfxml", "case", "bodyfile"] {
        let out = dir.path().join(format!("r.{format}"));
        let r = run(&[
            "report",
            w,
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        // Written, and the command fails naming what was left out.
        assert_eq!(r.status.code(), Some(2), "{format}: {}", stderr(&r));
        assert!(out.is_file(), "{format}: no report");
        let err = stderr(&r);
        assert!(err.contains("FAILED"), "{format}: {err}");
        assert!(err.contains("1 artifact rows"), "{format}: {err}");
        assert!(err.contains("unreadable ranges of ev1"), "{format}: {err}");
    }
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(
        html.contains("left out of this report"),
        "the report says so itself"
    );
    // The listing shows every other row, and says one is left out.
    let o = run(&["ls", w]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 artifact rows hold values dredge never writes"));
    let listed = stdout(&o).lines().filter(|l| !l.starts_with("== ")).count();
    assert_eq!(listed as i64, total - 1);
    let victim_name = victim.rsplit('/').next().unwrap();
    assert!(!stdout(&o).contains(&format!(" {victim_name}:\t")));
}
