//! Times what a technician does on a large case, frame by frame: opening it, every
//! screen, moving, searching (each typed character refilters), the tree, sorting.
//! Run it under `/usr/bin/time -v` for the peak RSS.
//! Used by scripts/bench-tui.sh; prints one line per action and the worst frame.
//! Usage: cargo run --release -p dredge-tui --example frames CASE_DIR

use dredge_tui::{App, CaseData, Key};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, Instant};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: frames CASE_DIR");
        std::process::exit(2);
    };
    let t = Instant::now();
    let case = match CaseData::load(std::path::Path::new(&dir)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("frames: {dir}: {e}");
            std::process::exit(2);
        }
    };
    let n = case.total;
    let mut app = App::new(case, true);
    let mut term = Terminal::new(TestBackend::new(160, 50)).expect("test backend");
    term.draw(|f| app.draw(f)).expect("draw");
    println!("open: {n} artifacts, first frame after {:?}", t.elapsed());
    app.case.wait_runs();
    println!(
        "every file placed on the sector map after {:?}",
        t.elapsed()
    );
    let mut worst = (Duration::ZERO, String::new());
    let mut step = |app: &mut App, what: &str, keys: &[Key]| {
        let t = Instant::now();
        for k in keys {
            app.key(*k);
        }
        term.draw(|f| app.draw(f)).expect("draw");
        let el = t.elapsed();
        println!("{what:<40} {el:>12.2?}");
        if el > worst.0 {
            worst = (el, what.to_string());
        }
    };
    let c = Key::Char;
    step(&mut app, "evidence screen", &[c('1')]);
    step(&mut app, "files screen", &[c('2')]);
    step(&mut app, "move down", &[Key::Down]);
    step(&mut app, "page down", &[Key::PageDown]);
    step(&mut app, "end", &[c('G')]);
    step(&mut app, "start search", &[c('/')]);
    for (i, ch) in "file-0099".chars().enumerate() {
        step(&mut app, &format!("type search char {}", i + 1), &[c(ch)]);
    }
    step(&mut app, "apply search", &[Key::Enter]);
    step(&mut app, "clear search", &[c('/'), Key::Esc]);
    step(&mut app, "sort by size", &[c('s')]);
    step(&mut app, "sort by position", &[c('s')]);
    step(&mut app, "sort by time", &[c('s')]);
    step(&mut app, "sort by type", &[c('s')]);
    step(&mut app, "sort by path", &[c('s')]);
    step(&mut app, "filter deleted", &[c('d')]);
    step(&mut app, "filter off", &[c('d')]);
    step(&mut app, "tree", &[c('t')]);
    step(&mut app, "open a folder", &[Key::Down, Key::Enter]);
    step(&mut app, "tree off", &[c('t')]);
    step(&mut app, "hex of a file", &[Key::Enter]);
    step(&mut app, "log screen", &[Key::Esc, c('3')]);
    step(&mut app, "jobs screen", &[c('4')]);
    println!("worst frame: {:?} ({})", worst.0, worst.1);
}
