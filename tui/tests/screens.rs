//! Every screen rendered with ratatui's TestBackend on a real case (the sample stick,
//! scanned with its bad-sector map). Stable screens are compared with snapshots in
//! tests/snapshots (DREDGE_UPDATE_SNAPSHOTS=1 rewrites them); the others are checked
//! for what they must show.

mod common;
use common::*;
use dredge_session::{self as session, CaseInfo, ScanOptions};
use dredge_tui::{App, CaseData, Key, View};
use ratatui::style::Color;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn select(app: &mut App, path: &str) {
    app.view = View::Files;
    app.key(Key::Char('g'));
    for _ in 0..app.files.shown.len() {
        if app.files.detail.as_ref().is_some_and(|d| d.path == path) {
            return;
        }
        app.key(Key::Down);
    }
    panic!("{path} not in the file list");
}

#[test]
fn every_view_on_the_sample_case() {
    let d = tempfile::tempdir().unwrap();
    let case = sample_case(d.path());
    let mut app = App::new(CaseData::load(&case).unwrap(), true);

    // Evidence: hashes, unreadable summary, and the sector map with both bad areas.
    let (s, buf) = render(&mut app, 80, 24);
    for want in [
        "case TUI-1",
        "ev1 !",
        "SHA-256",
        "unreadable 20480 bytes in 2 ranges",
        "Sector map",
        "fat16",
    ] {
        assert!(s.contains(want), "evidence view lacks {want:?}:\n{s}");
    }
    let reds = (0..80u16)
        .flat_map(|x| (0..24u16).map(move |y| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].symbol() == "X" && buf[(x, y)].fg == Color::Red)
        .count();
    assert!(reds >= 2, "the two unreadable areas are red X cells:\n{s}");
    snapshot("evidence-80x24", &masked(&s));
    // Zooming in shows fewer bytes per cell.
    let before = app.evidence.map_zoom;
    app.key(Key::Char('+'));
    assert!(app.evidence.map_zoom < before);

    // Hex of the image itself: the boot sector at 0, and the first unreadable range
    // (zero-filled by the reader) as ?? after typing its offset.
    app.key(Key::Enter);
    assert_eq!(app.view, View::Hex);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("Hex · ev1 image · offset 0 of 4194304"), "{s}");
    assert!(s.contains("0000000000  eb 3c 90"), "{s}");
    let g = app.case.evidence[0].gaps[0];
    let (bad_at, bad_len) = (g.offset, g.len);
    app.key(Key::Char('o'));
    type_text(&mut app, &format!("{:#x}", bad_at - 32));
    app.key(Key::Enter);
    let (s, _) = render(&mut app, 80, 24);
    let first_bad = format!("{:010x}  ?? ?? ??", bad_at);
    assert!(s.contains(&first_bad), "{s}");
    assert!(!s.contains(&format!("{:010x}  ??", bad_at - 16)), "{s}");
    assert!(bad_len >= 512);
    snapshot("hex-image-80x24", &s);
    app.key(Key::Esc);
    assert_eq!(app.view, View::Evidence);

    // Files: deleted entries marked, partial PHOTO.RAW marked, details of a deleted file.
    keys(&mut app, "2");
    select(&mut app, "/secret plans.txt");
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("* /secret plans.txt"), "{s}");
    assert!(s.contains(" !/PHOTO.RAW"), "{s}");
    assert!(s.contains("DELETED"), "{s}");
    snapshot("files-80x24", &s);

    // Sorts: position, then time (newest first), then type (grouped by extension).
    keys(&mut app, "sss");
    let t = |i: i64| app.case.mtime_of(i);
    assert!(app.files.shown.iter().filter(|&&i| t(i).is_some()).count() >= 4);
    assert!(
        app.files.shown.windows(2).all(|w| t(w[0]) >= t(w[1])),
        "not newest first"
    );
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("sort:Time"), "{s}");
    keys(&mut app, "s");
    let ext = |i: i64| {
        let p = app.case.artifact(i).unwrap().path;
        p.rsplit_once('.')
            .map(|(_, e)| e.to_lowercase())
            .unwrap_or_default()
    };
    assert!(
        app.files.shown.windows(2).all(|w| ext(w[0]) <= ext(w[1])),
        "not by type"
    );
    keys(&mut app, "s");
    assert!(render(&mut app, 80, 24).0.contains("sort:Path"));
    select(&mut app, "/secret plans.txt");

    // The tree: one folder per filesystem, folders open and close.
    keys(&mut app, "t");
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("▾ ev1 vol0@0 fat16/"), "{s}");
    assert!(s.contains("▸ ledger/"), "{s}");
    assert!(s.contains("*     secret plans.txt"), "{s}");
    snapshot("tree-80x24", &s);
    let ledger = app
        .files
        .rows
        .iter()
        .position(|r| matches!(r, dredge_tui::Row::Dir { name, .. } if name == "ledger"))
        .unwrap();
    let before = app.files.rows.len();
    app.files.sel = ledger;
    app.key(Key::Enter);
    assert!(app.files.rows.len() > before, "ledger/ did not open");
    assert!(render(&mut app, 80, 24).0.contains("▾ ledger/"));
    app.key(Key::Char('j'));
    app.key(Key::Char('h'));
    assert_eq!(app.files.sel, ledger, "h goes to the parent folder");
    app.key(Key::Char('h'));
    assert_eq!(app.files.rows.len(), before, "h closes it");
    keys(&mut app, "t");
    select(&mut app, "/secret plans.txt");

    // Filters: only deleted files.
    keys(&mut app, "d");
    assert!(app
        .files
        .shown
        .iter()
        .all(|&i| app.case.artifact(i).unwrap().deleted));
    assert_eq!(app.files.shown.len(), 2);
    keys(&mut app, "d");
    // Search.
    app.key(Key::Char('/'));
    keys(&mut app, "ledger");
    app.key(Key::Enter);
    assert!(app
        .files
        .shown
        .iter()
        .all(|&i| app.case.artifact(i).unwrap().path.contains("ledger")));
    // Search terms narrow by type, size and time.
    app.key(Key::Char('/'));
    app.key(Key::Esc);
    app.key(Key::Char('/'));
    type_text(&mut app, "type:txt size>100");
    app.key(Key::Enter);
    let names: Vec<String> = app
        .files
        .shown
        .iter()
        .map(|&i| app.case.artifact(i).unwrap().path)
        .collect();
    assert_eq!(names, ["/secret plans.txt"]);
    let secret = app.files.shown[0];
    let when = app.case.mtime_of(secret).unwrap();
    app.key(Key::Char('/'));
    type_text(&mut app, &format!("time:{}", &when[..10]));
    app.key(Key::Enter);
    assert!(app.files.shown.contains(&secret), "{when}");
    assert!(app.files.shown.iter().all(|&i| app
        .case
        .mtime_of(i)
        .unwrap()
        .starts_with(&when[..10])));
    app.key(Key::Char('/'));
    type_text(&mut app, "size>");
    assert!(
        app.files.search_error.is_some(),
        "a half-typed term is named"
    );
    app.key(Key::Esc);
    assert_eq!(app.files.shown.len() as u64, app.case.total);

    // Hex: PHOTO.RAW's unreadable bytes are ?? (not 00), real zeros stay 00.
    select(&mut app, "/PHOTO.RAW");
    app.key(Key::Enter);
    assert_eq!(app.view, View::Hex);
    app.hex.off = 20480 - 32;
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("0000005000  ?? ?? ??"), "{s}");
    assert!(s.contains("?? = unreadable"), "{s}");
    snapshot("hex-80x24", &s);
    // As text: the unreadable bytes are red ░, not NULs or spaces.
    app.key(Key::Char('t'));
    let (s, buf) = render(&mut app, 80, 24);
    assert!(s.contains("Text · /PHOTO.RAW"), "{s}");
    let reds = buf
        .content()
        .iter()
        .filter(|c| c.symbol() == "░" && c.fg == Color::Red)
        .count();
    assert!(reds > 100, "{s}");
    app.key(Key::Char('t'));
    app.key(Key::Esc);
    assert_eq!(app.view, View::Files);
    // A text file reads as text, line by line.
    select(&mut app, "/NOTES.TXT");
    let notes = std::fs::read_to_string(
        case.join(
            app.files
                .detail
                .as_ref()
                .unwrap()
                .extracted
                .as_ref()
                .unwrap(),
        ),
    )
    .unwrap();
    app.key(Key::Enter);
    app.key(Key::Char('t'));
    let (s, _) = render(&mut app, 80, 24);
    let first = notes.lines().next().unwrap();
    assert!(s.contains(first.trim_end()), "{first:?} not in\n{s}");
    if let Some(second) = notes.lines().nth(1) {
        app.key(Key::Char('j'));
        assert_eq!(app.hex.off as usize, first.len() + 1);
        let (s, _) = render(&mut app, 80, 24);
        assert!(s.lines().nth(2).unwrap().contains(second.trim_end()), "{s}");
        app.key(Key::Char('k'));
        assert_eq!(app.hex.off, 0);
    }
    app.key(Key::Char('t'));
    app.key(Key::Esc);

    // Log and verification.
    keys(&mut app, "3v");
    wait_job(&mut app);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("custody record verified"), "{s}");
    assert!(s.contains("case.create"), "{s}");
    // The log's events in order (times masked; hashes and parameters, which hold
    // times and paths, cut).
    let log: String = masked(&s)
        .lines()
        .map(|l| {
            let cut: String = l
                .chars()
                .take(if l.contains("YYYY") { 43 } else { 80 })
                .collect();
            cut + "\n"
        })
        .collect();
    snapshot("log-80x24", &log);
    // Reports from the UI land in CASE/reports, hashed, and in the log.
    keys(&mut app, "r");
    app.key(Key::Char(' ')); // "all six"
    app.key(Key::Enter);
    wait_job(&mut app);
    assert!(app.status.starts_with("reports written"), "{}", app.status);
    let written: Vec<String> = std::fs::read_dir(case.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for ext in [".html", ".pdf", ".dfxml", ".jsonld", ".csv", ".body"] {
        assert!(
            written.iter().any(|n| n.ends_with(ext)),
            "no {ext} report: {written:?}"
        );
    }
    assert!(app
        .case
        .events
        .iter()
        .any(|e| e.action == "report.generate"));

    // Help lists the keys of the current screen.
    keys(&mut app, "2?");
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("only deleted / carved / partial"), "{s}");
    snapshot("help-files-80x24", &s);
    app.key(Key::Esc);
    assert!(!app.help);

    // Scales up.
    let (s, _) = render(&mut app, 160, 50);
    assert!(s.contains("secret plans.txt"));
    keys(&mut app, "q");
    assert!(app.quit);
}

#[test]
fn no_color_means_no_colours() {
    let d = tempfile::tempdir().unwrap();
    let case = sample_case(d.path());
    let mut app = App::new(CaseData::load(&case).unwrap(), false);
    for v in ["1", "2", "3", "4"] {
        keys(&mut app, v);
        let (_, buf) = render(&mut app, 80, 24);
        for c in buf.content() {
            assert!(
                c.fg == Color::Reset && c.bg == Color::Reset,
                "coloured cell {c:?}"
            );
        }
    }
}

#[test]
fn a_tampered_case_shows_failed_verification() {
    let d = tempfile::tempdir().unwrap();
    let case = sample_case(d.path());
    let db = rusqlite_free_edit(&case);
    assert!(db);
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    keys(&mut app, "3v");
    wait_job(&mut app);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("VERIFICATION FAILED"), "{s}");
}

/// Edits one artifact row through the sqlite3 tool (the TUI crate has no SQLite of
/// its own): the sealed digest no longer matches.
fn rusqlite_free_edit(case: &Path) -> bool {
    std::process::Command::new("sqlite3")
        .arg(case.join("case.sqlite"))
        .arg("UPDATE artifacts SET size = size + 1 WHERE path = '/NOTES.TXT'")
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn hostile_names_are_shown_escaped() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let name = "bad\x1b[31mred\nline\x07\x7f\u{9b}\u{202e}gpj\u{200b}.txt";
    std::fs::write(src.join(name), b"x").unwrap();
    let img = d.path().join("evil.img");
    let ok = std::process::Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&src)
        .arg(&img)
        .arg("4M")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        assert_ne!(
            std::env::var("DREDGE_REQUIRE_TOOLS").as_deref(),
            Ok("1"),
            "mkfs.ext4 missing"
        );
        eprintln!("SKIPPED: mkfs.ext4 missing");
        return;
    }
    let case = d.path().join("case");
    session::case_new(
        &case,
        &CaseInfo {
            case_number: None,
            examiner: "T".into(),
            description: None,
        },
    )
    .unwrap();
    let stop = AtomicBool::new(false);
    session::add_evidence(&case, &img, None, &stop, &mut |_| {}).unwrap();
    session::scan(&case, &ScanOptions::default(), &stop, &mut |_| {}).unwrap();
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    keys(&mut app, "2");
    select(&mut app, &format!("/{name}"));
    let (s, _) = render(&mut app, 140, 30);
    assert!(
        !s.contains(['\x1b', '\x07', '\x7f', '\u{9b}', '\u{202e}', '\u{200b}'])
            && !s.contains("red\nline"),
        "raw control or format characters reached the screen"
    );
    assert!(
        s.contains("bad\\x1b[31mred\\x0aline\\x07\\x7f\\u{9b}\\u{202e}gpj\\u{200b}.txt"),
        "{s}"
    );
}

#[test]
fn the_tree_groups_carved_files_by_type() {
    let d = tempfile::tempdir().unwrap();
    let case = empty_case(d.path());
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/carving/ground-truth.img");
    let stop = AtomicBool::new(false);
    session::add_evidence(&case, &img, None, &stop, &mut |_| {}).unwrap();
    let opts = ScanOptions {
        carve: session::CarveScope::All,
        filesystems: false,
        ..Default::default()
    };
    session::scan(&case, &opts, &stop, &mut |_| {}).unwrap();
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    keys(&mut app, "2t");
    let (s, _) = render(&mut app, 100, 30);
    assert!(s.contains("▾ ev1 carved/"), "{s}");
    let types: Vec<String> = app
        .files
        .rows
        .iter()
        .filter_map(|r| match r {
            dredge_tui::Row::Dir { name, depth: 1, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    for t in ["jpg", "png", "zip", "pdf", "doc"] {
        assert!(types.iter().any(|x| x == t), "no {t} group in {types:?}");
    }
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(types, sorted);
    // Every carved file is under its type.
    let carved = app
        .case
        .store
        .artifacts(None)
        .unwrap()
        .into_iter()
        .filter(|a| a.origin == dredge_session::ArtifactOrigin::Carved)
        .count();
    let in_groups: usize = app
        .files
        .rows
        .iter()
        .filter_map(|r| match r {
            dredge_tui::Row::Dir {
                depth: 1, files, ..
            } => Some(*files),
            _ => None,
        })
        .sum();
    assert_eq!(in_groups, carved);
}

#[test]
fn verification_rehashes_evidence_and_extracted_files() {
    let d = tempfile::tempdir().unwrap();
    let case = sample_case(d.path());
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    keys(&mut app, "3v");
    wait_job(&mut app);
    let v = app.log.verified.clone().unwrap();
    assert!(
        v.contains("1 evidence items match") && v.contains("extracted files match"),
        "{v}"
    );
    // An extracted copy changed on disk is named.
    let notes = app
        .case
        .store
        .artifacts(None)
        .unwrap()
        .into_iter()
        .find(|a| a.path == "/NOTES.TXT")
        .unwrap();
    let copy = case.join(notes.extracted.as_ref().unwrap());
    std::fs::write(&copy, b"changed").unwrap();
    keys(&mut app, "v");
    wait_job(&mut app);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("VERIFICATION FAILED"), "{s}");
    assert!(
        app.log.verified.as_ref().unwrap().contains("NOTES"),
        "{:?}",
        app.log.verified
    );
}

#[test]
fn marked_files_are_exported_together_with_one_manifest() {
    let d = tempfile::tempdir().unwrap();
    let case = sample_case(d.path());
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    keys(&mut app, "2");
    select(&mut app, "/NOTES.TXT");
    app.key(Key::Char(' '));
    select(&mut app, "/secret plans.txt");
    app.key(Key::Char(' '));
    assert_eq!(app.files.marked.len(), 2);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("Files 6/6 +2"), "{s}");
    assert!(s.contains("+* /secret plans.txt"), "{s}");
    // Marks outlive the case being read again after a job.
    keys(&mut app, "3v");
    wait_job(&mut app);
    keys(&mut app, "2");
    assert_eq!(app.files.marked.len(), 2);
    keys(&mut app, "e");
    wait_job(&mut app);
    assert!(app.status.starts_with("exported 2 files"), "{}", app.status);
    assert!(app.files.marked.is_empty());
    let manifest = std::fs::read_to_string(case.join("exports/MANIFEST.sha256")).unwrap();
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
    for line in manifest.lines() {
        let (sha, name) = line.split_once("  ").unwrap();
        let data = std::fs::read(case.join("exports").join(name)).unwrap();
        let a = app
            .case
            .store
            .artifacts(None)
            .unwrap()
            .into_iter()
            .find(|a| a.path.ends_with(name))
            .unwrap();
        assert_eq!(a.digests.as_ref().unwrap().2, sha);
        assert_eq!(data.len() as u64, a.size);
    }
}
