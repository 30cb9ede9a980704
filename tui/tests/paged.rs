//! The TUI does not hold the case's artifacts (issue 18): the store filters and
//! sorts, the browser keeps the row ids it shows and fetches the rows it draws.
//! Two cases of 1 000 and 6 000 files (ext4 made by `mkfs.ext4 -d`, recovered
//! through the session) are opened, their files shown, searched, sorted every way
//! and shown as a tree; what the TUI holds at each step is counted with the
//! counting allocator the `dredge` binary installs (`dredge_core::memory`).

mod common;
use common::keys;
use dredge_core::memory::{self, Counting};
use dredge_session::{self as session, CarveScope, CaseInfo, ScanOptions};
use dredge_testkit::have_tool;
use dredge_tui::{App, CaseData, Key, Row};
use std::alloc::System;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;

#[global_allocator]
static GLOBAL: Counting<System> = Counting(System);

/// A case holding an ext4 image of `files` small files in folders of 500.
fn case(dir: &Path, files: usize) -> PathBuf {
    let tree = dir.join(format!("tree-{files}"));
    for i in 0..files {
        let d = tree.join(format!("folder-{:03}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("file-{i:06}.txt")), format!("{i}\n")).unwrap();
    }
    let img = dir.join(format!("ext4-{files}.img"));
    let o = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-N", &(files + 2000).to_string(), "-d"])
        .arg(&tree)
        .arg(&img)
        .arg(format!("{}M", files / 100 + 16))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let case = dir.join(format!("case-{files}"));
    let info = CaseInfo {
        case_number: None,
        examiner: "Paged".into(),
        description: None,
    };
    session::case_new(&case, &info).unwrap();
    let stop = AtomicBool::new(false);
    session::add_evidence(&case, &img, None, &stop, &mut |_| {}).unwrap();
    let opts = ScanOptions {
        carve: CarveScope::None,
        threads: 2,
        ..Default::default()
    };
    session::scan(&case, &opts, &stop, &mut |_| {}).unwrap();
    case
}

/// The most the TUI holds (bytes, this thread) from opening the case through a
/// search, every sort and the tree; with how many files its list showed.
fn held_while_browsing(case: &Path) -> (u64, usize) {
    let base = memory::held();
    let mut most = 0i64;
    let mut at = || most = most.max(memory::held() - base);
    let mut app = App::new(CaseData::load(case).unwrap(), false);
    app.case.wait_runs();
    at();
    keys(&mut app, "2");
    let shown = app.files.shown.len();
    at();
    app.key(Key::Char('/'));
    keys(&mut app, "file-0");
    app.key(Key::Enter);
    assert!(app.files.shown.len() > 100, "the search matched too little");
    at();
    for _ in 0..5 {
        keys(&mut app, "s");
        at();
    }
    keys(&mut app, "t");
    assert!(app.files.rows.len() > 1, "the tree shows folders");
    at();
    // Opening and closing a folder reads only its contents: the rows must be
    // those of the whole tree built again.
    for open in [true, true, false] {
        // The first folder below the top that is closed (to open) or open.
        let at_dir = |app: &App, open: bool| {
            app.files.rows.iter().enumerate().filter(|(_, r)| {
                matches!(r, Row::Dir { open: o, depth, .. } if *o != open && *depth > 0)
            }).map(|(i, _)| i).next()
        };
        let Some(i) = at_dir(&app, open) else {
            panic!("no folder to {}", if open { "open" } else { "close" });
        };
        app.files.sel = i;
        app.key(if open { Key::Right } else { Key::Left });
        let folded = app.files.rows.clone();
        app.refilter();
        assert_eq!(folded, app.files.rows, "open: {open}");
        at();
    }
    keys(&mut app, "t");
    at();
    drop(app);
    (u64::try_from(most).unwrap_or(0), shown)
}

#[test]
fn the_browser_holds_row_ids_not_rows() {
    if !have_tool("mkfs.ext4", "-V") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (case(dir.path(), 1_000), case(dir.path(), 6_000));
    // Warm what is made once per process (SQLite's own caches, functions).
    held_while_browsing(&small);
    let (s, sn) = held_while_browsing(&small);
    let (l, ln) = held_while_browsing(&large);
    assert!(sn > 1_000 && ln > 6_000, "{sn} and {ln} files listed");
    let per_file = l.saturating_sub(s) / 5_000;
    eprintln!("{s} bytes held for 1 000 files, {l} for 6 000: {per_file} a file");
    // Row ids shown (8 bytes), the store order's ranks (4) and the sector map's
    // runs (24) a file; SQLite's caches are its own (C) allocations, bounded by
    // its cache size. Holding every row, as the browser did before, costs about
    // 2 000 bytes a file; ids collected in place from the sort's (key, rank, id)
    // buffer kept up to 40 more.
    assert!(per_file < 48, "{per_file} bytes a file");
}
