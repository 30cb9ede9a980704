//! `dredge tui [CASE_DIR]`: the technician's screen. The UI thread waits on input and
//! a tick together (crossbeam `select!`), so nothing it shows can block it; the
//! terminal is restored on exit, on panic and on SIGTERM/SIGINT.

mod app;
mod crypt;
mod data;
mod form;
mod jobs;
mod key;
mod query;
mod tree;

pub use app::{App, View};
pub use data::CaseData;
pub use form::{Form, FormKind, FormResult};
pub use jobs::{Msg, Running};
pub use key::{map_key, Key};
pub use tree::Row;

use crossbeam_channel::{select, tick, unbounded};
use crossterm::event::{self, Event, KeyEventKind};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::ExecutableCommand;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::stdout;
use std::path::{Path, PathBuf};
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

/// Whether `dir` holds a case (else the UI starts with the new-case form).
pub fn is_case(dir: &Path) -> bool {
    dir.join(dredge_session::CASE_DB).is_file()
}

/// Creates the case a filled new-case form describes; returns its directory.
pub fn create_case(form: &Form) -> Result<PathBuf, String> {
    let dir = PathBuf::from(form.value(0));
    if form.value(0).is_empty() {
        return Err("case directory: a path is needed".into());
    }
    if form.value(1).is_empty() {
        return Err("examiner: a name is needed (it goes into every report)".into());
    }
    let opt = |i: usize| (!form.value(i).is_empty()).then(|| form.value(i).to_string());
    // With the examiner's key (`dredge key new`), every custody event is signed.
    let key = opt(4).map(PathBuf::from);
    dredge_session::case_new_signed(
        &dir,
        &dredge_session::CaseInfo {
            examiner: form.value(1).to_string(),
            case_number: opt(2),
            description: opt(3),
        },
        key.as_deref(),
    )
    .map_err(|e| e.0)?;
    Ok(dir)
}

fn terminal_error(e: impl std::fmt::Display) -> String {
    format!("cannot use the terminal: {e}")
}

/// Runs the UI until the user quits: on the case in `case_dir`, or first through
/// the new-case form when there is none there (or no directory was given). `stop`
/// is raised by a signal handler (SIGINT/SIGTERM): the loop notices it on the next
/// tick, cancels a running job (recorded as interrupted) and restores the terminal.
pub fn run(case_dir: Option<&Path>, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    // Opened before the terminal is taken, so a bad case is a plain error line;
    // once, as a large case takes a moment to open.
    let mut opened = match case_dir.filter(|d| is_case(d)) {
        Some(d) => Some(CaseData::load(d)?),
        None => None,
    };
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A job's panic is caught and reported on the screen; only the UI thread's
        // own ends the program and must give the terminal back.
        if std::thread::current().name() != Some(jobs::JOB_THREAD) {
            restore();
            prev(info);
        }
    }));
    enable_raw_mode().map_err(terminal_error)?;
    stdout()
        .execute(EnterAlternateScreen)
        .map_err(terminal_error)?;
    let result = (|| -> Result<(), String> {
        let mut term = Terminal::new(CrosstermBackend::new(stdout())).map_err(terminal_error)?;
        let (tx, keys) = unbounded();
        std::thread::spawn(move || {
            while let Ok(e) = event::read() {
                if tx.send(e).is_err() {
                    break;
                }
            }
        });
        let ticks = tick(Duration::from_millis(200));
        let next_key = |stopped: &dyn Fn() -> bool| -> Option<Key> {
            loop {
                select! {
                    recv(keys) -> e => match e {
                        Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => {
                            if let Some(k) = map_key(k.code, k.modifiers) {
                                return Some(k);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return None,
                    },
                    recv(ticks) -> _ => if stopped() { return None },
                }
            }
        };
        let stopped = || stop.load(std::sync::atomic::Ordering::Relaxed);
        let case = match opened.take() {
            Some(c) => c,
            None => {
                let user = std::env::var("USER").unwrap_or_default();
                let shown = case_dir.map_or(String::new(), |d| d.display().to_string());
                let mut form = Form::new_case(&shown, &user);
                loop {
                    term.draw(|f| {
                        f.render_widget(
                            ratatui::widgets::Paragraph::new(
                                " dredge · no case here yet: fill in the form to create one",
                            ),
                            f.area(),
                        );
                        form.draw(f, f.area());
                    })
                    .map_err(terminal_error)?;
                    let Some(k) = next_key(&stopped) else {
                        return Ok(());
                    };
                    match form.key(k) {
                        FormResult::Editing => {}
                        FormResult::Cancel => return Ok(()),
                        FormResult::Submit => match create_case(&form) {
                            Ok(d) => break CaseData::load(&d)?,
                            Err(e) => form.error = Some(e),
                        },
                    }
                }
            }
        };
        let mut app = App::new(case, color_wanted());
        loop {
            app.case.runs_ready();
            term.draw(|f| app.draw(f)).map_err(terminal_error)?;
            let jobs = app.job_events().unwrap_or_else(crossbeam_channel::never);
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
                recv(jobs) -> m => if let Ok(m) = m { app.job_message(m) },
                recv(ticks) -> _ => {}
            }
            app.poll_jobs();
            if app.quit || stopped() {
                break;
            }
        }
        if let Some(mut r) = app.jobs.running.take() {
            // The session must end recorded (interrupted), not be left running.
            r.cancel_and_wait();
        }
        Ok(())
    })();
    restore();
    result
}
