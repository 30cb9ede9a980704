//! Jobs from the UI: evidence added, scans and an acquisition started from forms,
//! their progress shown, a scan paused, cancelled (recorded as interrupted) and
//! resumed after the case is opened again.

mod common;
use common::*;
use dredge_tui::{create_case, is_case, App, CaseData, Form, Key, View};
use std::time::{Duration, Instant};

/// The status of every session, oldest first.
fn statuses(app: &App) -> Vec<&str> {
    app.case
        .sessions
        .iter()
        .map(|s| s.status.as_str())
        .collect()
}

#[test]
fn add_and_scan_from_the_ui_then_pause_cancel_and_resume() {
    let d = tempfile::tempdir().unwrap();
    let case = empty_case(d.path());
    let (img, map) = sample_image();
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("No evidence in this case yet"), "{s}");

    // Add the stick with its mapfile through the form.
    keys(&mut app, "4a");
    let (s, _) = render(&mut app, 80, 24);
    snapshot("form-add-80x24", &s);
    type_text(&mut app, img.to_str().unwrap());
    app.key(Key::Tab);
    type_text(&mut app, map.to_str().unwrap());
    app.key(Key::Enter);
    assert!(app.form.is_none() && app.jobs.running.is_some());
    wait_job(&mut app);
    assert!(
        app.status.contains("ev1 registered") && app.status.contains("20480 unreadable"),
        "{}",
        app.status
    );
    assert_eq!(app.case.evidence.len(), 1);

    // A scan, paused at its first progress report: nothing moves while paused.
    keys(&mut app, "s");
    let (s, _) = render(&mut app, 80, 24);
    for want in [
        "carve",
        "< unallocated >",
        "re-hash before/after",
        "threads",
    ] {
        assert!(s.contains(want), "scan form lacks {want:?}:\n{s}");
    }
    // Two threads whatever the machine, so the recorded options (and the
    // snapshot of them below) are the same everywhere.
    for _ in 0..3 {
        app.key(Key::Tab);
    }
    for _ in 0..4 {
        app.key(Key::Backspace);
    }
    type_text(&mut app, "2");
    app.key(Key::Enter);
    keys(&mut app, "p");
    let start = Instant::now();
    while app.jobs.running.as_ref().unwrap().last.is_none() {
        assert!(!app.poll_jobs(), "the scan ended although paused");
        assert!(start.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = app.jobs.running.as_ref().unwrap().last.clone().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(!app.poll_jobs(), "the scan ended although paused");
    let now = app.jobs.running.as_ref().unwrap().last.clone().unwrap();
    assert_eq!(
        (now.phase.as_str(), now.done),
        (seen.phase.as_str(), seen.done)
    );
    let (s, _) = render(&mut app, 80, 24);
    for want in ["▶ scan", "PAUSED", "re-hash", "found ", "unreadable"] {
        assert!(s.contains(want), "paused job lacks {want:?}:\n{s}");
    }
    // Cancelled: recorded as interrupted, and offered for resuming.
    keys(&mut app, "x");
    wait_job(&mut app);
    assert!(app.status.contains("interrupted"), "{}", app.status);
    assert_eq!(app.case.sessions.last().unwrap().status, "interrupted");
    assert_eq!(app.case.unfinished.len(), 1);

    // Opened again: every earlier session is listed, the scan marked unfinished.
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    assert!(app.status.contains("1 unfinished job"), "{}", app.status);
    keys(&mut app, "4j");
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("UNFINISHED (R)"), "{s}");
    assert!(s.contains("session 2 scan"), "{s}");
    snapshot("jobs-80x24", &masked(&s));
    // R resumes it to the end.
    keys(&mut app, "R");
    wait_job(&mut app);
    assert!(app.status.starts_with("scan complete"), "{}", app.status);
    assert!(app.case.unfinished.is_empty());
    let secret = app
        .case
        .store
        .artifacts(None)
        .unwrap()
        .into_iter()
        .find(|a| a.path == "/secret plans.txt")
        .expect("deleted file found by the resumed scan");
    assert!(secret.deleted);
    assert_eq!(
        statuses(&app),
        ["complete-with-gaps", "interrupted", "complete-with-gaps"]
    );
}

#[test]
fn forms_create_a_case_refuse_bad_input_and_acquire() {
    let d = tempfile::tempdir().unwrap();
    // The new-case form, as `dredge tui` shows it where there is no case.
    let dir = d.path().join("new");
    let mut form = Form::new_case("", "");
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    term.draw(|f| form.draw(f, f.area())).unwrap();
    let buf = term.backend().buffer().clone();
    let s: String = (0..24u16)
        .map(|y| (0..80u16).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect();
    snapshot("form-new-case-80x24", &s);
    for c in dir.to_str().unwrap().chars() {
        form.key(Key::Char(c));
    }
    form.key(Key::Tab);
    let e = create_case(&form).unwrap_err();
    assert!(e.contains("examiner"), "{e}");
    assert!(!is_case(&dir));
    for c in "Ann Examiner".chars() {
        form.key(Key::Char(c));
    }
    form.key(Key::Tab);
    for c in "2026-042".chars() {
        form.key(Key::Char(c));
    }
    assert_eq!(create_case(&form).unwrap(), dir);
    assert!(is_case(&dir));
    let mut app = App::new(CaseData::load(&dir).unwrap(), true);
    assert_eq!(app.case.title, "2026-042");
    assert_eq!(app.case.examiner, "Ann Examiner");
    // With a signing key: the case is signed with it; a bad key file is refused
    // with its path, and no case is left behind.
    let key = d.path().join("examiner.key");
    let public = dredge_session::sign::new_key_file(&key).unwrap();
    let mut signed = Form::new_case(d.path().join("signed").to_str().unwrap(), "Ann");
    for _ in 0..3 {
        signed.key(Key::Tab);
    }
    for c in key.to_str().unwrap().chars() {
        signed.key(Key::Char(c));
    }
    let sdir = create_case(&signed).unwrap();
    let store = dredge_session::open_case(&sdir).unwrap();
    assert_eq!(store.signing_public_key().unwrap(), Some(public));
    let mut bad = Form::new_case(d.path().join("bad").to_str().unwrap(), "Ann");
    for _ in 0..3 {
        bad.key(Key::Tab);
    }
    for c in "/nonexistent/examiner.key".chars() {
        bad.key(Key::Char(c));
    }
    let e = create_case(&bad).unwrap_err();
    assert!(e.contains("/nonexistent/examiner.key"), "{e}");
    assert!(!is_case(&d.path().join("bad")));

    // A path that does not exist keeps the form open, saying which.
    keys(&mut app, "4a");
    type_text(&mut app, "/nonexistent/disk.img");
    app.key(Key::Enter);
    let err = app.form.as_ref().and_then(|f| f.error.clone()).unwrap();
    assert!(err.contains("/nonexistent/disk.img"), "{err}");
    assert!(app.jobs.running.is_none());
    app.key(Key::Esc);
    assert!(app.form.is_none());

    // Acquire the stick (a file stands in for the device) into the case.
    let (img, _) = sample_image();
    let out = d.path().join("acquired.img");
    keys(&mut app, "A");
    type_text(&mut app, img.to_str().unwrap());
    app.key(Key::Tab);
    type_text(&mut app, out.to_str().unwrap());
    app.key(Key::Enter);
    assert_eq!(app.view, View::Jobs);
    wait_job(&mut app);
    assert!(app.status.starts_with("acquire complete"), "{}", app.status);
    let ev = &app.case.evidence[0].row;
    assert_eq!(ev.kind, "acquired");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&img).unwrap(),
        "the acquired image is the source"
    );
    assert!(out.with_extension("img.map").exists());

    // And as an E01 set; a raw image named .E01 is refused first.
    let e01 = d.path().join("stick.E01");
    keys(&mut app, "A");
    type_text(&mut app, img.to_str().unwrap());
    app.key(Key::Tab);
    type_text(&mut app, e01.to_str().unwrap());
    app.key(Key::Enter);
    let err = app.form.as_ref().and_then(|f| f.error.clone()).unwrap();
    assert!(err.contains(".E01"), "{err}");
    for _ in 0..5 {
        app.key(Key::Tab);
    }
    app.key(Key::Char(' ')); // format: e01
    app.key(Key::Tab);
    app.key(Key::Char(' ')); // compression: best
    app.key(Key::Enter);
    assert!(
        app.form.is_none(),
        "{:?}",
        app.form.as_ref().map(|f| &f.error)
    );
    let started = app.jobs.running.as_ref().unwrap().job.clone();
    wait_job(&mut app);
    assert!(app.status.starts_with("acquire complete"), "{}", app.status);
    let ev = &app.case.evidence[1].row;
    assert_eq!(ev.kind, "ewf");
    assert_eq!(ev.sha256, app.case.evidence[0].row.sha256);
    // The session records enough to run the same job again.
    let last = app.case.sessions.last().unwrap();
    assert_eq!(
        dredge_session::Job::from_session(last).as_ref(),
        Some(&started)
    );
}

#[test]
fn a_killed_scan_is_resumed_but_not_while_another_job_holds_the_case() {
    let d = tempfile::tempdir().unwrap();
    let case = empty_case(d.path());
    let (img, map) = sample_image();
    let stop = std::sync::atomic::AtomicBool::new(false);
    dredge_session::add_evidence(&case, &img, Some(&map), &stop, &mut |_| {}).unwrap();
    // A scan whose process died: its session stays marked running.
    let opts = dredge_session::ScanOptions {
        threads: 1,
        ..Default::default()
    };
    let mut store = dredge_session::open_case(&case).unwrap();
    store
        .begin_session(dredge_session::SessionCommand::Scan, opts.to_args())
        .unwrap();
    drop(store);

    // While another job holds the case, that session may be it: not offered, and a
    // job started anyway is refused with a clear line.
    let lock = dredge_session::CaseLock::acquire(&case).unwrap();
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    assert!(app.case.unfinished.is_empty());
    keys(&mut app, "4");
    let (s, _) = render(&mut app, 80, 24);
    assert!(s.contains("Another process"), "{s}");
    app.start(dredge_session::Job::Scan(opts.clone()));
    wait_job(&mut app);
    assert!(
        app.status.contains("another dredge job") && app.status.contains("running on this case"),
        "{}",
        app.status
    );
    drop(lock);

    // Once the case is free, it is unfinished, and R resumes it with its options.
    let mut app = App::new(CaseData::load(&case).unwrap(), true);
    assert_eq!(app.case.unfinished.len(), 1);
    assert_eq!(app.case.unfinished[0].1, dredge_session::Job::Scan(opts));
    keys(&mut app, "4R");
    wait_job(&mut app);
    assert!(app.status.starts_with("scan complete"), "{}", app.status);
    assert!(app.case.unfinished.is_empty());
    assert!(app
        .case
        .store
        .artifacts(None)
        .unwrap()
        .into_iter()
        .any(|a| a.path == "/secret plans.txt"));
    // The dead session is now recorded as interrupted, not left running.
    assert_eq!(
        statuses(&app),
        ["complete-with-gaps", "interrupted", "complete-with-gaps"]
    );
}
