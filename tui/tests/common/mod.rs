//! What the TUI tests share: the scanned sample case, rendering to a TestBackend as
//! text, snapshots, and typing keys.
#![allow(dead_code)]

use dredge_session::{self as session, CaseInfo, ScanOptions};
use dredge_tui::{App, Key};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub fn sample_case(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/sample");
    let case = dir.join("case");
    let info = CaseInfo {
        case_number: Some("TUI-1".into()),
        examiner: "Screen Test".into(),
        description: None,
    };
    session::case_new(&case, &info).unwrap();
    let stop = AtomicBool::new(false);
    session::add_evidence(
        &case,
        &root.join("usb-stick.img"),
        Some(&root.join("usb-stick.map")),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    let opts = ScanOptions {
        threads: 2,
        ..Default::default()
    };
    session::scan(&case, &opts, &stop, &mut |_| {}).unwrap();
    case
}

pub fn render(app: &mut App, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.draw(f)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    (s, buf)
}

pub fn snapshot(name: &str, screen: &str) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var("DREDGE_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, screen).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&p).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with DREDGE_UPDATE_SNAPSHOTS=1",
            p.display()
        )
    });
    assert_eq!(screen, want, "screen {name} differs from its snapshot");
}

pub fn keys(app: &mut App, ks: &str) {
    for c in ks.chars() {
        app.key(Key::Char(c));
    }
}

pub fn sample_image() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testimages/sample");
    (root.join("usb-stick.img"), root.join("usb-stick.map"))
}

/// A case with nothing in it yet.
pub fn empty_case(dir: &Path) -> PathBuf {
    let case = dir.join("case");
    let info = CaseInfo {
        case_number: Some("TUI-2".into()),
        examiner: "Screen Test".into(),
        description: None,
    };
    session::case_new(&case, &info).unwrap();
    case
}

/// Types into whatever has the keyboard (a form field, the search line).
pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.key(Key::Char(c));
    }
}

/// Waits for the running job to end, as the UI loop would (polling its channel).
pub fn wait_job(app: &mut App) {
    let start = std::time::Instant::now();
    while !app.poll_jobs() {
        assert!(app.busy(), "no job running");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "job did not end"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Masks what changes from run to run: times, and the path of the checkout in the
/// recorded arguments (the rest of such a line is cut, as its width depends on it).
pub fn masked(screen: &str) -> String {
    screen
        .lines()
        .map(|l| {
            let mut l = l.to_string();
            for mark in ["image=", "bytes  /"] {
                if let Some(i) = l.find(mark) {
                    l.truncate(i);
                    l.push_str(mark);
                    l.push('…');
                }
            }
            let b = l.as_bytes();
            let mut out = String::new();
            let mut i = 0;
            while i < l.len() {
                let ts = b.len() >= i + 19
                    && l.is_char_boundary(i)
                    && l.is_char_boundary(i + 19)
                    && b[i + 4] == b'-'
                    && b[i + 10] == b'T'
                    && b[i..i + 4].iter().all(u8::is_ascii_digit);
                if ts {
                    out.push_str("YYYY-MM-DDTHH:MM:SS");
                    i += 19;
                } else {
                    let c = l[i..].chars().next().unwrap();
                    out.push(c);
                    i += c.len_utf8();
                }
            }
            out + "\n"
        })
        .collect()
}
