//! Golden outputs: the store's rows, `ls --json` and every text report (HTML,
//! DFXML, CASE, CSV, bodyfile) of the sample stick (`recover`, with its bad-sector
//! map) and of the carving ground truth (`carve`), compared byte for byte with the
//! files in `tests/golden/`. What differs from run to run is replaced by a
//! placeholder first: times of this run, the case's UUID and directory, the custody
//! hashes (they chain the times), the report's own hashes. Times read from the
//! evidence stay. The thread count is given (`--threads 2`): it is recorded
//! among the options, and the default is the machine's core count.
//!
//! A change that is not meant to alter what dredge records or reports (a
//! refactor) must pass this unchanged. A change that is meant to alter it
//! rewrites the files with `DREDGE_BLESS=1 cargo test --test golden`, and the
//! diff of `tests/golden/` shows exactly what changed.

mod common;
use common::*;
use rusqlite::types::ValueRef;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every row of every table, tables by name, values tab-separated (blobs as
/// hex), each row through `normal`, then sorted: the order rows are inserted in
/// follows the workers' timing; their values do not.
fn rows(case: &Path, normal: impl Fn(&str) -> String) -> String {
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        out += &format!("== {t}\n");
        let mut st = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut q = st.query([]).unwrap();
        let mut lines = Vec::new();
        while let Some(r) = q.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| match r.get_ref(i).unwrap() {
                    ValueRef::Null => "NULL".into(),
                    ValueRef::Integer(v) => v.to_string(),
                    ValueRef::Real(v) => v.to_string(),
                    ValueRef::Text(v) => String::from_utf8_lossy(v).into_owned(),
                    ValueRef::Blob(v) => hex::encode(v),
                })
                .collect();
            lines.push(normal(&cells.join("\t")));
        }
        lines.sort();
        for l in lines {
            out += &l;
            out += "\n";
        }
    }
    out
}

/// What a run of the same command on the same evidence may change, as
/// (value, placeholder), longest first so no value is cut by a shorter one.
fn run_values(case: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(case.join("case.sqlite")).unwrap();
    let mut v: Vec<(String, String)> = vec![
        (case.display().to_string(), "<case>".into()),
        (root().display().to_string(), "<repo>".into()),
        (
            db.query_row("SELECT uuid FROM case_info", [], |r| r.get(0))
                .unwrap(),
            "<uuid>".into(),
        ),
    ];
    let mut st = db
        .prepare("SELECT seq, hash, params FROM custody ORDER BY seq")
        .unwrap();
    let events: Vec<(i64, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (seq, hash, params) in events {
        v.push((hash, format!("<hash {seq}>")));
        // A report's own digest covers its times.
        let p: serde_json::Value = serde_json::from_str(&params).unwrap();
        if p["format"].is_string() {
            if let Some(h) = p["sha256"].as_str() {
                v.push((h.to_string(), format!("<report sha256 {seq}>")));
            }
            // Its size too: it holds the case's and the repository's paths.
            if let Some(n) = p["bytes"].as_u64() {
                for q in ["\"", "&quot;"] {
                    v.push((
                        format!("{q}bytes{q}:{n},"),
                        format!("{q}bytes{q}:<report bytes {seq}>,"),
                    ));
                }
            }
        }
    }
    for s in db
        .prepare("SELECT signature FROM head_signatures")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
    {
        v.push((s.unwrap(), "<signature>".into()));
    }
    v.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    v
}

/// `s` with the run's values and times replaced. A time of this run is one whose
/// date is one of `dates` (the days the test ran on); the evidence's own times are
/// years older and stay.
fn normalize(s: &str, values: &[(String, String)], dates: &[String]) -> String {
    let mut s = s.to_string();
    for (v, p) in values {
        s = s.replace(v.as_str(), p);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = dates
        .iter()
        .filter_map(|d| rest.find(&format!("{d}T")))
        .min()
    {
        out += &rest[..i];
        let t = &rest[i..];
        // YYYY-MM-DDTHH:MM:SS, then any fraction and zone.
        let mut end = 19.min(t.len());
        let digits = |from: usize| from + t[from..].bytes().take_while(u8::is_ascii_digit).count();
        if t[end..].starts_with('.') && digits(end + 1) > end + 1 {
            end = digits(end + 1);
        }
        if t[end..].starts_with('Z') {
            end += 1;
        }
        out += "<now>";
        rest = &t[end..];
    }
    out + rest
}

/// `YYYY-MM-DD` (UTC) now.
fn today() -> String {
    dredge_core::time::utc_now()[..10].to_string()
}

/// Every golden output of one case: name -> normalized text.
fn outputs(case: &Path, dates: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let ls = run(&["--progress", "json", "ls", case.to_str().unwrap()]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    out.push(("ls.jsonl".into(), stdout(&ls)));
    for (format, ext) in [
        ("html", "html"),
        ("dfxml", "dfxml"),
        ("case", "jsonld"),
        ("csv", "csv"),
        ("bodyfile", "body"),
    ] {
        let file = case.join(format!("golden.{ext}"));
        let o = report(case, format, &file);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        out.push((
            format!("report.{ext}"),
            std::fs::read_to_string(&file).unwrap(),
        ));
    }
    // The rows last: they hold the report events just written.
    let values = run_values(case);
    out.push(("rows".into(), rows(case, |l| normalize(l, &values, dates))));
    out.into_iter()
        .map(|(n, s)| (n, normalize(&s, &values, dates)))
        .collect()
}

fn check(name: &str, case: &Path, dates: &[String]) {
    let dir = root().join("tests/golden").join(name);
    let bless = std::env::var_os("DREDGE_BLESS").is_some();
    let mut differ = Vec::new();
    for (file, text) in outputs(case, dates) {
        let path = dir.join(&file);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (DREDGE_BLESS=1 writes it)", path.display()));
        if want != text {
            let line = want
                .lines()
                .zip(text.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(text.lines().count()));
            differ.push(format!(
                "{name}/{file}: first difference at line {}:\n  golden: {}\n  now:    {}",
                line + 1,
                want.lines().nth(line).unwrap_or("<end>"),
                text.lines().nth(line).unwrap_or("<end>")
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn the_sample_and_the_carving_ground_truth_give_the_golden_rows_and_reports() {
    let start = today();
    let d = tempfile::tempdir().unwrap();
    let sample = root().join("testimages/sample");
    let case = d.path().join("sample");
    let o = one_shot(
        "recover",
        &sample.join("usb-stick.img"),
        Some(&sample.join("usb-stick.map")),
        &case,
        &["--examiner", "Det. Ada Example", "--threads", "2"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let carving = d.path().join("carving");
    let o = one_shot(
        "carve",
        &root().join("testimages/carving/ground-truth.img"),
        None,
        &carving,
        &["--threads", "2"],
    );
    assert!(matches!(o.status.code(), Some(0 | 3)), "{}", stderr(&o));
    let mut dates = vec![start, today()];
    dates.dedup();
    check("sample", &case, &dates);
    check("carving", &carving, &dates);
}

#[test]
fn placeholders_replace_only_what_a_run_changes() {
    let values = vec![("/tmp/x".to_string(), "<case>".to_string())];
    let dates = vec!["2026-12-03".to_string()];
    assert_eq!(
        normalize(
            "at /tmp/x/f 2026-12-03T09:30:07.123456Z and 2019-05-01T10:00:00Z, 2026-12-03T10:00:00Z.",
            &values,
            &dates
        ),
        "at <case>/f <now> and 2019-05-01T10:00:00Z, <now>."
    );
}
