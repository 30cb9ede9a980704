//! `dredge batch`: three items, one of them garbage; the other two are finished and
//! reported, the bad one is recorded, the exit code says an item failed.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn events(o: &std::process::Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn setup(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages");
    std::fs::copy(root.join("sample/usb-stick.img"), dir.join("stick.img")).unwrap();
    std::fs::copy(root.join("sample/usb-stick.map"), dir.join("stick.map")).unwrap();
    std::fs::copy(root.join("exfat/small.img"), dir.join("card.img")).unwrap();
    // Not an E01 at all: random bytes with the name of one.
    std::fs::write(dir.join("garbage.E01"), noise(70_000, 9)).unwrap();
}

#[test]
fn a_failing_item_is_recorded_and_the_batch_goes_on() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let job = d.path().join("job.toml");
    std::fs::write(
        &job,
        r#"
cases_dir = "cases"
examiner = "Lab robot"
case_number = "2026-0117"
threads = 2
reports = ["html", "dfxml"]

[[item]]
image = "stick.img"
map = "stick.map"

[[item]]
image = "garbage.E01"

[[item]]
image = "card.img"
carve = "none"
"#,
    )
    .unwrap();
    let o = run(&["batch", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let ev = events(&o);
    let ends: Vec<&Value> = ev
        .iter()
        .filter(|e| e["event"] == "batch.item.end")
        .collect();
    assert_eq!(ends.len(), 3);
    assert_eq!(ends[0]["status"], "complete-with-gaps", "{}", ends[0]);
    assert_eq!(ends[1]["status"], "failed");
    let why = ends[1]["error"].as_str().unwrap();
    assert!(why.contains("garbage.E01"), "{why}");
    assert_eq!(ends[2]["status"], "complete", "{}", ends[2]);
    // Progress came as JSON lines too, and a summary closes the run.
    assert!(ev.iter().any(|e| e["event"] == "progress"));
    let summary = ev.last().unwrap();
    assert_eq!(summary["event"], "batch.summary");
    assert_eq!(summary["exit_code"], 2);
    // The good items have their cases, files and reports.
    for (name, file) in [("stick.img", "/NOTES.TXT"), ("card.img", "/")] {
        let case = d.path().join("cases").join(name);
        let arts = ls_json(&case);
        assert!(
            arts.iter()
                .any(|a| a["path"].as_str().unwrap().starts_with(file)),
            "{name}"
        );
        let reports: Vec<String> = std::fs::read_dir(case.join("reports"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(reports.iter().any(|r| r.ends_with(".html")), "{reports:?}");
        assert!(reports.iter().any(|r| r.ends_with(".dfxml")), "{reports:?}");
    }
    // The bad item's case records the failed session.
    let db = rusqlite::Connection::open(d.path().join("cases/garbage.E01/case.sqlite")).unwrap();
    let failed: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE command = 'add' AND status = 'failed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(failed, 1);
}

#[test]
fn one_shared_case_holds_every_good_item() {
    let d = tempfile::tempdir().unwrap();
    setup(d.path());
    let job = d.path().join("job.toml");
    std::fs::write(
        &job,
        "case = \"all\"\nexaminer = \"Lab robot\"\nreports = [\"csv\"]\n\n[[item]]\nimage = \"card.img\"\n\n[[item]]\nimage = \"stick.img\"\nmap = \"stick.map\"\n",
    )
    .unwrap();
    let o = run(&["batch", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let case = d.path().join("all");
    let evidence: i64 = rusqlite::Connection::open(case.join("case.sqlite"))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM evidence", [], |r| r.get(0))
        .unwrap();
    assert_eq!(evidence, 2);
    let csv = std::fs::read_dir(case.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .expect("one CSV report for the shared case");
    let text = std::fs::read_to_string(csv).unwrap();
    assert!(text.contains("\nev1,") && text.contains("\nev2,"));
    let v = run(&["--progress", "none", "verify", case.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stdout(&v));
}

#[test]
fn a_bad_job_file_fails_before_anything_runs() {
    let d = tempfile::tempdir().unwrap();
    let job = d.path().join("job.toml");
    std::fs::write(
        &job,
        "case = \"c\"\n[[item]]\nimage = \"x.img\"\ncarvve = \"all\"\n",
    )
    .unwrap();
    let o = run(&["batch", job.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("job.toml") && e.contains("byte offset"), "{e}");
    assert!(!d.path().join("c").exists());
}
