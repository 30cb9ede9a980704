//! Comparing two cases as a single run and a sharded run of one job write them.

use std::collections::BTreeMap;
use std::path::Path;

/// The three sample items the batch tests run: the sample stick (with its
/// mapfile), the exFAT card and dfvfs's HFS+ DMG, as stick.img, stick.map,
/// card.img and mac.dmg in `dir`.
pub fn copy_items(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testimages");
    for (from, to) in [
        ("sample/usb-stick.img", "stick.img"),
        ("sample/usb-stick.map", "stick.map"),
        ("exfat/small.img", "card.img"),
        ("external/dfvfs/hfsplus_zlib.dmg", "mac.dmg"),
    ] {
        std::fs::copy(root.join(from), dir.join(to)).unwrap();
    }
}

/// Columns that differ between two runs by design: the custody event a row
/// points to (a merged chain holds `shard.merge` events between the shards'),
/// and wall-clock times.
const LEFT_OUT: &[(&str, &str)] = &[
    ("evidence", "added_event"),
    ("scan_units", "done_event"),
    ("sessions", "started_utc"),
    ("sessions", "ended_utc"),
];

/// Every row of every table a scan writes, sorted, minus [`LEFT_OUT`].
pub fn case_rows(case: &Path) -> BTreeMap<String, Vec<String>> {
    let c = rusqlite::Connection::open_with_flags(
        case.join("case.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for t in [
        "evidence",
        "evidence_gaps",
        "volumes",
        "filesystems",
        "findings",
        "artifacts",
        "artifact_runs",
        "artifact_gaps",
        "artifact_times",
        "scan_units",
        "sessions",
    ] {
        // Reports and verifications run on the written case (a report's file
        // name holds the time it was written).
        let filter = if t == "sessions" {
            " WHERE command NOT IN ('report', 'verify')"
        } else {
            ""
        };
        let mut st = c.prepare(&format!("SELECT * FROM {t}{filter}")).unwrap();
        let names: Vec<String> = st.column_names().map(|s| s.to_string()).collect();
        let n = names.len();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for (i, name) in names.iter().enumerate().take(n) {
                    if LEFT_OUT.contains(&(t, name.as_str())) {
                        continue;
                    }
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(format!("{name}={v:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.insert(t.to_string(), rows);
    }
    out
}

/// The custody actions in order, without `shard.merge`, and without the reports
/// and verifications run after the case was written.
pub fn case_actions(case: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open_with_flags(
        case.join("case.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = c
        .prepare("SELECT action FROM custody WHERE action != 'shard.merge' ORDER BY seq")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// SHA-256 of every file under `files/` and `carved/`, by path in the case.
pub fn case_files(case: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, super::sha256_file(&p));
            }
        }
    }
    let mut out = BTreeMap::new();
    for sub in ["files", "carved"] {
        walk(case, &case.join(sub), &mut out);
    }
    out
}

/// The CSV report of a case (one row per artifact: ids, paths, hashes, status).
pub fn csv_report(case: &Path) -> String {
    let dir = case.join("reports");
    let mut csvs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    csvs.sort();
    std::fs::read_to_string(csvs.last().expect("a CSV report")).unwrap()
}

/// Asserts that two cases hold the same rows, files, CSV report and (minus
/// merge events) custody actions.
pub fn assert_same_case(single: &Path, merged: &Path) {
    let (a, b) = (case_rows(single), case_rows(merged));
    for (t, rows) in &a {
        assert_eq!(
            rows, &b[t],
            "table {t} differs between {single:?} and {merged:?}"
        );
    }
    assert!(!a["artifacts"].is_empty(), "the job recovered nothing");
    assert_eq!(
        case_files(single),
        case_files(merged),
        "extracted files differ"
    );
    assert_eq!(csv_report(single), csv_report(merged), "CSV reports differ");
    assert_eq!(
        case_actions(single),
        case_actions(merged),
        "custody actions differ"
    );
}

/// Starts `dredge batch JOB --shard SPEC` and kills it (SIGKILL) once its
/// first progress line is in `shard_case/progress.jsonl`: a shard cut off
/// mid-run, as a node failure or `scancel` leaves it.
pub fn kill_shard_mid_run(job: &Path, spec: &str, shard_case: &Path) {
    let mut child = super::dredge()
        .args(["batch", job.to_str().unwrap(), "--shard", spec])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let progress = shard_case.join("progress.jsonl");
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&progress).is_ok_and(|s| s.contains("\"progress\"")) {
        assert!(t0.elapsed().as_secs() < 60, "no progress from the shard");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
