//! `dredge tui [CASE_DIR]`: the technician's screen. The UI thread waits on input and
//! a tick together (crossbeam `select!`), so nothing it shows can block it; the
//! terminal is restored on exit, on panic and on SIGTERM/SIGINT.

mod app;
mod data;

pub use app::{App, Key, View};
pub use data::CaseData;

use crossbeam_channel::{select, tick, unbounded};
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::ExecutableCommand;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::stdout;
use std::path::Path;
use std::time::Duration;

/// Colour unless `NO_COLOR` is set (to anything), as no-color.org asks.
pub fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = stdout().execute(LeaveAlternateScreen);
    let _ = stdout().execute(crossterm::cursor::Show);
}

pub fn map_key(code: KeyCode, mods: KeyModifiers) -> Option<Key> {
    Some(match code {
        KeyCode::Char('c') if mods.contains(KeyModifiers::CONTROL) => Key::Char('q'),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Tab => Key::Tab,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// Runs the UI on the case until the user quits. `stop` is raised by a signal
/// handler (SIGINT/SIGTERM): the loop notices it on the next tick and restores the
/// terminal.
pub fn run(case_dir: &Path, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    let case = CaseData::load(case_dir)?;
    let mut app = App::new(case, color_wanted());
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
    }));
    enable_raw_mode().map_err(|e| format!("cannot use the terminal: {e}"))?;
    stdout()
        .execute(EnterAlternateScreen)
        .map_err(|e| format!("cannot use the terminal: {e}"))?;
    let result = (|| -> Result<(), String> {
        let mut term = Terminal::new(CrosstermBackend::new(stdout())).map_err(|e| e.to_string())?;
        let (tx, keys) = unbounded();
        std::thread::spawn(move || {
            while let Ok(e) = event::read() {
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
        let ticks = tick(Duration::from_millis(200));
        loop {
            term.draw(|f| app.draw(f)).map_err(|e| e.to_string())?;
            select! {
                recv(keys) -> e => match e {
                    Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                        if let Some(k) = map_key(k.code, k.modifiers) {
                            app.key(k);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                },
                recv(ticks) -> _ => {}
            }
            if app.quit || stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
        }
        Ok(())
    })();
    restore();
    result
}
