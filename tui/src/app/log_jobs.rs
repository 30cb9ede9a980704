//! The custody log view and the jobs view (running and finished work, forms).

use super::App;
use crate::data::CaseData;
use crate::form::Form;
use crate::jobs::Running;
use crate::key::Key;
use dredge_session::SessionStatus;
use dredge_session::{hms, human_bytes, visible, Job, ScanOptions};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

/// The custody log view.
#[derive(Default)]
pub struct LogView {
    pub top: usize,
    pub verified: Option<String>,
}

/// The jobs view and the job running now.
#[derive(Default)]
pub struct JobsView {
    pub running: Option<Running>,
    pub sel: usize,
    /// How the running job ended, once its last message is in.
    pub(crate) job_end: Option<Result<dredge_session::JobEnd, dredge_session::Failure>>,
    /// The case being read again after a job, off the UI thread.
    pub(crate) reloading: Option<crossbeam_channel::Receiver<Result<CaseData, String>>>,
    /// How the last job ended, shown once its results are in.
    pub(crate) ended: String,
}

impl App {
    pub(super) fn key_log(&mut self, k: Key) {
        let n = self.case.events.len();
        match k {
            Key::Up | Key::Char('k') => self.log.top = self.log.top.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.log.top = (self.log.top + 1).min(n.saturating_sub(1))
            }
            Key::PageUp => self.log.top = self.log.top.saturating_sub(10),
            Key::PageDown => self.log.top = (self.log.top + 10).min(n.saturating_sub(1)),
            Key::Char('r') => self.open_form(Form::report()),
            Key::Char('v') => {
                self.log.verified = Some("verifying…".into());
                self.start(Job::Verify);
            }
            _ => {}
        }
    }

    pub(super) fn draw_log(&self, f: &mut Frame, r: Rect) {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(3), Constraint::Min(3)])
            .split(r);
        let v = self
            .log
            .verified
            .clone()
            .unwrap_or_else(|| "press v to verify the custody record".into());
        let vs = if v.starts_with("VERIFICATION FAILED") {
            self.style(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        f.render_widget(
            Paragraph::new(Span::styled(v, vs))
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL).title("Verification")),
            parts[0],
        );
        let lines: Vec<Line> = self
            .case
            .events
            .iter()
            .skip(self.log.top)
            .take(parts[1].height as usize)
            .map(|e| {
                Line::from(format!(
                    "{:>4} {} {:<16} {} {}",
                    e.seq,
                    e.time_utc.get(..19).unwrap_or(&e.time_utc),
                    e.action,
                    &e.hash[..12.min(e.hash.len())],
                    visible(&e.params)
                ))
            })
            .collect();
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!("Custody log ({} events)", self.case.events.len())),
            ),
            parts[1],
        );
    }

    pub(super) fn key_jobs(&mut self, k: Key) {
        let n = self.case.sessions.len();
        match k {
            Key::Up | Key::Char('k') => self.jobs.sel = self.jobs.sel.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.jobs.sel = (self.jobs.sel + 1).min(n.saturating_sub(1))
            }
            Key::Home | Key::Char('g') => self.jobs.sel = 0,
            Key::End | Key::Char('G') => self.jobs.sel = n.saturating_sub(1),
            Key::Char('a') => self.open_form(Form::add()),
            Key::Char('s') => self.open_form(Form::scan(ScanOptions::default().threads)),
            Key::Char('A') => self.open_form(Form::acquire()),
            Key::Char('r') => self.open_form(Form::report()),
            Key::Char('p') => match &self.jobs.running {
                Some(r) => {
                    self.status = if r.toggle_pause() {
                        "paused (takes effect at the job's next progress report); p continues"
                    } else {
                        "continuing"
                    }
                    .into()
                }
                None => self.status = "no job is running".into(),
            },
            Key::Char('x') => match &self.jobs.running {
                Some(r) => {
                    r.cancel();
                    self.status =
                        "cancelling: the job ends as interrupted; R resumes it later".into();
                }
                None => self.status = "no job is running".into(),
            },
            Key::Char('R') => self.resume(),
            _ => {}
        }
    }

    /// The running job's progress, and every session the case has recorded with the
    /// unfinished ones marked.
    pub(super) fn draw_jobs(&self, f: &mut Frame, r: Rect) {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(7),
                Constraint::Min(3),
                Constraint::Length(5),
            ])
            .split(r);
        let lines: Vec<Line> = match &self.jobs.running {
            None if self.case.busy_elsewhere => vec![
                Line::from(Span::styled(
                    "Another process (the CLI, a batch, another TUI) is running a job on this case.",
                    self.style(Color::Yellow).add_modifier(Modifier::BOLD),
                )),
                Line::from("Its progress is not shown here; new jobs are refused until it ends."),
            ],
            None => vec![
                Line::from("No job running."),
                Line::from("a add evidence · s scan · A acquire · R resume an unfinished job"),
            ],
            Some(run) => {
                let mut l = vec![Line::from(Span::styled(
                    visible(&run.job.describe()).into_owned(),
                    Style::default().add_modifier(Modifier::BOLD),
                ))];
                match &run.last {
                    None => l.push(Line::from("starting…")),
                    Some(p) => {
                        let w = (r.width as usize).saturating_sub(72).clamp(10, 40);
                        let amount = |n: u64| {
                            if p.unit == "bytes" {
                                human_bytes(n)
                            } else {
                                format!("{n} {}", p.unit)
                            }
                        };
                        l.push(Line::from(visible(&p.phase).into_owned()));
                        l.push(Line::from(format!(
                            "[{}] {:5.1}%  {} / {}  {}/s  left {}",
                            p.bar(w),
                            p.fraction() * 100.0,
                            amount(p.done),
                            amount(p.total),
                            amount(p.rate as u64),
                            p.eta().map_or("-".into(), |d| hms(d.as_secs()))
                        )));
                        l.push(Line::from(vec![
                            Span::raw(format!(
                                "found {}  elapsed {}  ",
                                p.found,
                                hms(run.started.elapsed().as_secs())
                            )),
                            Span::styled(
                                format!("unreadable {}", human_bytes(p.unreadable)),
                                if p.unreadable > 0 {
                                    self.style(Color::Red)
                                } else {
                                    Style::default()
                                },
                            ),
                        ]));
                    }
                }
                if run.cancelling() {
                    l.push(Line::from("CANCELLING…"));
                } else if run.is_paused() {
                    l.push(Line::from("PAUSED — p continues"));
                }
                l
            }
        };
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title("Job")),
            parts[0],
        );
        let unfinished: Vec<i64> = self.case.unfinished.iter().map(|(s, _)| s.id).collect();
        let items: Vec<ListItem> = self
            .case
            .sessions
            .iter()
            .map(|s| {
                let un = unfinished.contains(&s.id);
                let st = match s.status_word() {
                    Some(SessionStatus::Failed) => self.style(Color::Red),
                    Some(SessionStatus::Interrupted | SessionStatus::Running) => {
                        self.style(Color::Yellow)
                    }
                    Some(SessionStatus::CompleteWithGaps) => self.style(Color::Magenta),
                    _ => Style::default(),
                };
                ListItem::new(Line::from(vec![
                    Span::raw(format!(
                        "{:>3} {} {:<8} ",
                        s.id,
                        s.started_utc.get(..19).unwrap_or(&s.started_utc),
                        visible(&s.command)
                    )),
                    Span::styled(format!("{:<19}", s.status), st),
                    Span::styled(
                        if un { "UNFINISHED (R) " } else { "" },
                        self.style(Color::Yellow).add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(visible(&dredge_session::args_line(s)).into_owned()),
                ]))
            })
            .collect();
        let mut st = ListState::default().with_selected(Some(self.jobs.sel));
        f.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title(format!(
                    "Sessions ({}, {} unfinished)",
                    self.case.sessions.len(),
                    unfinished.len()
                )))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            parts[1],
            &mut st,
        );
        // The selected session in full: its exact options, for the examiner's notes.
        let sel = self
            .case
            .sessions
            .get(self.jobs.sel)
            .map_or(String::new(), |s| {
                format!(
                    "session {} {} · {} → {} · {}",
                    s.id,
                    visible(&s.command),
                    s.started_utc.get(..19).unwrap_or(&s.started_utc),
                    s.ended_utc
                        .as_deref()
                        .map_or("(no end recorded)", |e| e.get(..19).unwrap_or(e)),
                    visible(&s.args.to_string())
                )
            });
        f.render_widget(
            Paragraph::new(sel).wrap(Wrap { trim: false }).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title("Selected session"),
            ),
            parts[2],
        );
    }
}
