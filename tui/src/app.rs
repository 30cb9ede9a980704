//! Screen state, keys and drawing. Nothing here parses evidence: the case is read
//! through the session API (`data.rs`), and every name from evidence is shown through
//! `visible`, so control characters and escape sequences never reach the terminal.

use crate::data::CaseData;
use crate::form::{Form, FormResult};
use crate::jobs::{Msg, Running};
use crate::key::Key;
use crate::query::Query;
use crate::tree::{self, Row};
use dredge_session::{visible, Job, Outcome};
use ratatui::style::{Color, Style};

// Each view's keys and drawing live in their own file (issue 12); they are
// `impl App` blocks, so the state stays one struct.
mod draw;
mod evidence_view;
mod files_view;
mod hex_view;
mod log_jobs;

pub use evidence_view::EvidenceView;
pub use files_view::FilesView;
pub use hex_view::HexView;
pub use log_jobs::{JobsView, LogView};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Evidence,
    Files,
    Hex,
    Log,
    Jobs,
}

/// The list's order: path, size (largest first), where the entry's metadata lies,
/// modification time (newest first, entries without one last), file type (carved
/// files by format) then path. The store sorts.
pub use dredge_session::BrowseOrder as Sort;

#[derive(Default, Clone, Copy)]
pub struct Filters {
    pub deleted: bool,
    pub carved: bool,
    pub partial: bool,
}

pub struct App {
    pub case: CaseData,
    pub view: View,
    pub help: bool,
    pub color: bool,
    pub status: String,
    pub quit: bool,
    /// The form being filled (new case, add, acquire, scan, report, …), over
    /// whichever view is shown.
    pub form: Option<Form>,
    /// q was pressed once while a job ran: the next q cancels it and quits.
    pub quit_armed: bool,
    /// Each view's own state.
    pub evidence: EvidenceView,
    pub files: FilesView,
    pub hex: HexView,
    pub log: LogView,
    pub jobs: JobsView,
}

fn folder_counts(files: usize, deleted: usize) -> String {
    let f = if files == 1 { "file" } else { "files" };
    if deleted > 0 {
        format!("{files} {f}, {deleted} deleted")
    } else {
        format!("{files} {f}")
    }
}

/// Byte states on the sector map, in order of precedence.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Cell {
    Free,
    /// Ciphertext of an encrypted volume no key has opened.
    Locked,
    /// An opened encrypted volume's plaintext (free, or files not yet placed).
    Decrypted,
    Allocated,
    Deleted,
    Carved,
    Unreadable,
}

impl App {
    pub fn new(case: CaseData, color: bool) -> App {
        let mut app = App {
            case,
            view: View::Evidence,
            help: false,
            color,
            status: String::new(),
            quit: false,
            form: None,
            quit_armed: false,

            evidence: EvidenceView::default(),
            files: FilesView::default(),
            hex: HexView::default(),
            log: LogView::default(),
            jobs: JobsView::default(),
        };
        // The file list is made when the files view is first shown: a large
        // case's evidence screen does not wait for it.
        app.files.stale = true;
        let n = app.case.unfinished.len();
        if n > 0 {
            app.status = format!(
                "{n} unfinished job{} (interrupted or killed): 4 lists them, R resumes",
                if n == 1 { "" } else { "s" }
            );
        }
        app
    }

    fn style(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    /// What the browser asks the store for: its filters, search and sort.
    fn browse(&mut self) -> dredge_session::Browse {
        let (query, bad) = Query::parse(&self.files.search);
        self.files.search_error = bad;
        let f = self.files.filters;
        dredge_session::Browse {
            deleted: f.deleted,
            carved: f.carved,
            partial: f.partial,
            terms: query.0,
            order: self.files.sort,
        }
    }

    /// Applies search, filters and sort to the file list (in the store); keeps the
    /// selection in range.
    pub fn refilter(&mut self) {
        self.files.stale = false;
        let b = self.browse();
        if self.files.tree {
            let open_roots = std::mem::take(&mut self.files.open_roots);
            let b = dredge_session::Browse {
                order: Sort::Path,
                ..b
            };
            match tree::build(&self.case, &b, &self.files.open, open_roots) {
                Ok(t) => {
                    if open_roots {
                        self.files.open.extend(t.roots);
                    }
                    self.files.rows = t.rows;
                    self.files.matched = t.matched;
                }
                Err(e) => self.status = format!("the case could not be read: {e}"),
            }
        } else {
            match self.case.browse(&b) {
                Ok(ids) => {
                    self.files.matched = ids.len();
                    self.files.shown = ids;
                }
                Err(e) => self.status = format!("the case could not be read: {e}"),
            }
        }
        self.files.sel = self.files.sel.min(self.sel_len().saturating_sub(1));
        self.load_detail();
    }

    /// How many rows the browser has: files (list) or folders and files (tree).
    fn sel_len(&self) -> usize {
        if self.files.tree {
            self.files.rows.len()
        } else {
            self.files.shown.len()
        }
    }

    fn selected_art(&self) -> Option<i64> {
        if self.files.tree {
            self.files.rows.get(self.files.sel).and_then(Row::art)
        } else {
            self.files.shown.get(self.files.sel).copied()
        }
    }

    fn load_detail(&mut self) {
        self.files.detail = self.selected_art().and_then(|i| self.case.details(i));
    }

    /// Opens or closes the selected folder (`want`: None toggles). Returns false when
    /// the selection is not a folder.
    fn fold(&mut self, want: Option<bool>) -> bool {
        let Some(Row::Dir { key, open, .. }) = self.files.rows.get(self.files.sel) else {
            return false;
        };
        let (key, now) = (key.clone(), *open);
        let opening = want.unwrap_or(!now);
        if opening == now {
            return true;
        }
        let sel = self.files.sel;
        let depth = |r: &Row| match r {
            Row::Dir { depth, .. } | Row::File { depth, .. } => *depth,
        };
        let d = depth(&self.files.rows[sel]);
        // The rows below it are shown until the next row no deeper than it.
        let end = (sel + 1..self.files.rows.len())
            .find(|&i| depth(&self.files.rows[i]) <= d)
            .unwrap_or(self.files.rows.len());
        if opening {
            self.files.open.insert(key.clone());
            let b = dredge_session::Browse {
                order: Sort::Path,
                ..self.browse()
            };
            match tree::below(&self.case, &b, &self.files.open, &key) {
                Ok(rows) => {
                    self.files.rows.splice(sel + 1..end, rows);
                }
                Err(e) => self.status = format!("the case could not be read: {e}"),
            }
        } else {
            self.files.open.remove(&key);
            self.files.rows.drain(sel + 1..end);
        }
        if let Some(Row::Dir { open, .. }) = self.files.rows.get_mut(sel) {
            *open = opening;
        }
        self.load_detail();
        true
    }

    /// Moves to the folder holding the selected row.
    fn select_parent(&mut self) {
        let depth = |r: &Row| match r {
            Row::Dir { depth, .. } | Row::File { depth, .. } => *depth,
        };
        let Some(d) = self.files.rows.get(self.files.sel).map(depth) else {
            return;
        };
        if let Some(p) = (0..self.files.sel)
            .rev()
            .find(|&i| depth(&self.files.rows[i]) < d)
        {
            self.files.sel = p;
        }
    }

    /// Makes the file list if it was put off and the files view is shown.
    fn files_fresh(&mut self) {
        if self.files.stale && self.view == View::Files {
            self.refilter();
        }
    }

    pub fn key(&mut self, k: Key) {
        self.files_fresh();
        self.key_handled(k);
        self.files_fresh();
    }

    fn key_handled(&mut self, k: Key) {
        // A message lasts until the next key.
        self.status.clear();
        if let Some(form) = &mut self.form {
            match form.key(k) {
                FormResult::Editing => {}
                FormResult::Cancel => self.form = None,
                FormResult::Submit => self.submit_form(),
            }
            return;
        }
        let armed = std::mem::take(&mut self.quit_armed);
        if let Some(g) = &mut self.hex.goto {
            match k {
                Key::Char(c) if c.is_ascii_hexdigit() || c == 'x' => g.push(c),
                Key::Backspace => {
                    g.pop();
                }
                Key::Enter => {
                    let t = g.trim().to_ascii_lowercase();
                    let v = match t.strip_prefix("0x") {
                        Some(h) => u64::from_str_radix(h, 16).ok(),
                        None => t.parse().ok(),
                    };
                    match v {
                        Some(v) => self.hex.off = (v / 16 * 16).min(self.hex_last()),
                        None => self.status = format!("not an offset: {t:?}"),
                    }
                    self.hex.goto = None;
                }
                Key::Esc => self.hex.goto = None,
                _ => {}
            }
            return;
        }
        if self.files.typing {
            let before = self.files.search.clone();
            match k {
                Key::Char(c) => self.files.search.push(c),
                Key::Backspace => {
                    self.files.search.pop();
                }
                Key::Enter => self.files.typing = false,
                Key::Esc => {
                    self.files.typing = false;
                    self.files.search.clear();
                }
                _ => {}
            }
            // Enter keeps the list the last character made.
            if self.files.search != before {
                self.refilter();
            }
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        match k {
            Key::Char('q') => {
                if self.view == View::Hex {
                    self.leave_hex();
                } else if self.jobs.running.is_some() && !armed {
                    self.quit_armed = true;
                    self.status = "a job is running: q again cancels it (recorded as interrupted, R resumes it later) and quits".into();
                } else {
                    self.quit = true;
                }
            }
            Key::Char('?') => self.help = true,
            Key::Char('1') => self.view = View::Evidence,
            Key::Char('2') => self.view = View::Files,
            Key::Char('3') => self.view = View::Log,
            Key::Char('4') => self.view = View::Jobs,
            Key::Tab => {
                self.view = match self.view {
                    View::Evidence => View::Files,
                    View::Files | View::Hex => View::Log,
                    View::Log => View::Jobs,
                    View::Jobs => View::Evidence,
                }
            }
            _ => match self.view {
                View::Evidence => self.key_evidence(k),
                View::Files => self.key_files(k),
                View::Hex => self.key_hex(k),
                View::Log => self.key_log(k),
                View::Jobs => self.key_jobs(k),
            },
        }
    }

    fn open_form(&mut self, f: Form) {
        if self.jobs.running.is_some() {
            self.status = "a job is already running: wait for it, or x cancels it".into();
        } else {
            self.form = Some(f);
        }
    }

    /// Resumes the selected session's job if it is unfinished, else the oldest
    /// unfinished one.
    fn resume(&mut self) {
        let sel = self.case.sessions.get(self.jobs.sel).map(|s| s.id);
        let pick = self
            .case
            .unfinished
            .iter()
            .find(|(s, _)| Some(s.id) == sel)
            .or_else(|| self.case.unfinished.first())
            .map(|(s, j)| (s.id, j.clone()));
        match pick {
            None => self.status = "no unfinished job to resume".into(),
            Some((id, job)) => {
                self.start(job);
                if self.jobs.running.is_some() {
                    self.status = format!("resuming the job of session {id}");
                }
            }
        }
    }

    /// Starts a job on a worker thread; its progress comes in through `poll_jobs`.
    pub fn start(&mut self, job: Job) {
        if self.jobs.running.is_some() {
            self.status = "a job is already running: wait for it, or x cancels it".into();
            return;
        }
        let quick = matches!(job, Job::Verify | Job::Export { .. });
        self.jobs.running = Some(Running::start(self.case.dir.clone(), job));
        if !quick {
            // Verification and export show their result where they were asked for.
            self.view = View::Jobs;
        }
    }

    /// The running job's channel, for the UI loop's `select!`.
    pub fn job_events(&self) -> Option<crossbeam_channel::Receiver<Msg>> {
        self.jobs.running.as_ref().map(|r| r.rx.clone())
    }

    /// Takes in one message from the running job.
    pub fn job_message(&mut self, m: Msg) {
        match m {
            Msg::Progress(p) => {
                if let Some(r) = &mut self.jobs.running {
                    r.last = Some(p);
                }
            }
            Msg::Done(d) => self.jobs.job_end = Some(d),
        }
    }

    /// Takes in what the running job has sent. When it has ended, the case is read
    /// again on a thread of its own (a case can hold hundreds of thousands of files)
    /// and swapped in when ready. Returns true when that has happened: the job is
    /// over and the screens show its results.
    pub fn poll_jobs(&mut self) -> bool {
        while let Some(m) = self
            .jobs
            .running
            .as_ref()
            .and_then(|r| r.rx.try_recv().ok())
        {
            self.job_message(m);
        }
        if let Some(end) = self.jobs.job_end.take() {
            let job = self.jobs.running.take().map(|r| {
                let j = r.job.clone();
                r.join();
                j
            });
            if job == Some(Job::Verify) {
                self.log.verified = Some(match &end {
                    Ok(e) => visible(&e.summary).into_owned(),
                    Err(f) => visible(&f.0).into_owned(),
                });
            }
            self.jobs.ended = match end {
                Ok(e) => match e.outcome {
                    Outcome::Interrupted => format!("{} — R resumes", visible(&e.summary)),
                    _ => visible(&e.summary).into_owned(),
                },
                Err(f) => format!("job failed: {}", visible(&f.0)),
            };
            self.status = "job ended; reading the case again…".into();
            let (tx, rx) = crossbeam_channel::bounded(1);
            let dir = self.case.dir.clone();
            std::thread::spawn(move || {
                let _ = tx.send(CaseData::load(&dir));
            });
            self.jobs.reloading = Some(rx);
        }
        let Some(Ok(loaded)) = self.jobs.reloading.as_ref().map(|r| r.try_recv()) else {
            return false;
        };
        self.jobs.reloading = None;
        self.status = std::mem::take(&mut self.jobs.ended);
        match loaded {
            Ok(c) => {
                self.case = c;
                self.evidence.sel = self
                    .evidence
                    .sel
                    .min(self.case.evidence.len().saturating_sub(1));
                (self.evidence.map_zoom, self.evidence.map_off) = (0, 0);
                self.jobs.sel = self.case.sessions.len().saturating_sub(1);
                self.files.stale = true;
                self.files_fresh();
            }
            Err(e) => self.status = format!("cannot read the case again: {}", visible(&e)),
        }
        true
    }

    /// A job is running, or its results are still being read in.
    pub fn busy(&self) -> bool {
        self.jobs.running.is_some() || self.jobs.reloading.is_some()
    }

    fn submit_form(&mut self) {
        let Some(form) = self.form.take() else {
            return;
        };
        match form.job() {
            Ok(job) => self.start(job),
            Err(e) => {
                let mut form = form;
                form.error = Some(e);
                self.form = Some(form);
            }
        }
    }
}
