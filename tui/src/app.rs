//! Screen state, keys and drawing. Nothing here parses evidence: the case is read
//! through the session API (`data.rs`), and every name from evidence is shown through
//! `visible`, so control characters and escape sequences never reach the terminal.

use crate::data::CaseData;
use crate::form::{Form, FormResult};
use crate::jobs::{Msg, Running};
use crate::key::Key;
use crate::query::Query;
use crate::tree::{self, Row};
use dredge_session::{visible, ArtifactRecord, ArtifactStatus, Job, Outcome};
use ratatui::style::{Color, Style};

// Each view's keys and drawing live in their own file (issue 12); they are
// `impl App` blocks, so the state stays one struct.
mod draw;
mod evidence_view;
mod files_view;
mod hex_view;
mod log_jobs;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Evidence,
    Files,
    Hex,
    Log,
    Jobs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Path,
    Size,
    /// Where the entry's metadata lies on the medium.
    Position,
    /// Modification time, newest first (entries without one last).
    Time,
    /// File type (extension; carved files by format), then path: groups them.
    Type,
}

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
    // Evidence view.
    pub ev_sel: usize,
    pub map_zoom: u64,
    pub map_off: u64,
    // Files view.
    pub filters: Filters,
    pub sort: Sort,
    pub search: String,
    /// A search term that does not parse (yet), shown under the search line.
    pub search_error: Option<String>,
    pub typing: bool,
    /// Indices into `case.artifacts`, as filtered and sorted.
    pub shown: Vec<usize>,
    /// Index into `shown` (list) or `rows` (tree).
    pub file_sel: usize,
    pub detail: Option<ArtifactRecord>,
    /// The browser shows folders (t toggles) instead of the flat list.
    pub tree: bool,
    pub open: std::collections::HashSet<String>,
    /// Artifacts marked (Space) for export, by id: marks outlive the case being read
    /// again after a job, which can renumber the list.
    pub marked: std::collections::BTreeSet<String>,
    pub rows: Vec<Row>,
    // Hex view: of the selected file, or of an evidence image when `hex_image` is set.
    pub hex_off: u64,
    pub hex_image: Option<(String, dredge_session::ImageView)>,
    /// Text instead of hex (`t`).
    pub hex_text: bool,
    /// An offset being typed (`o`), decimal or 0x hex.
    pub goto: Option<String>,
    // Log view.
    pub log_top: usize,
    pub verified: Option<String>,
    // Jobs view.
    pub running: Option<Running>,
    pub form: Option<Form>,
    pub jobs_sel: usize,
    /// q was pressed once while a job ran: the next q cancels it and quits.
    pub quit_armed: bool,
    /// How the running job ended, once its last message is in.
    job_end: Option<Result<dredge_session::JobEnd, dredge_session::Failure>>,
    /// The case being read again after a job, off the UI thread.
    reloading: Option<crossbeam_channel::Receiver<Result<CaseData, String>>>,
    /// How the last job ended, shown once its results are in.
    ended: String,
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
            ev_sel: 0,
            // 0: fit the whole medium on the first draw.
            map_zoom: 0,
            map_off: 0,
            filters: Filters::default(),
            sort: Sort::Path,
            search: String::new(),
            search_error: None,
            typing: false,
            shown: Vec::new(),
            file_sel: 0,
            detail: None,
            tree: false,
            open: Default::default(),
            marked: Default::default(),
            rows: Vec::new(),
            hex_off: 0,
            hex_image: None,
            hex_text: false,
            goto: None,
            log_top: 0,
            verified: None,
            running: None,
            form: None,
            jobs_sel: 0,
            quit_armed: false,
            job_end: None,
            reloading: None,
            ended: String::new(),
        };
        app.refilter();
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

    /// Applies search, filters and sort to the file list; keeps the selection in range.
    pub fn refilter(&mut self) {
        let (query, bad) = Query::parse(&self.search);
        self.search_error = bad;
        let f = self.filters;
        let c = &self.case;
        let arts = &c.artifacts;
        let mut shown: Vec<usize> = (0..arts.len())
            .filter(|&i| {
                let a = &arts[i];
                (!f.deleted || a.deleted)
                    && (!f.carved || a.origin == dredge_session::ArtifactOrigin::Carved)
                    && (!f.partial || a.status != ArtifactStatus::Complete)
                    && query.matches(a, &c.lower[i], &c.types[i], c.mtime[i].as_deref())
            })
            .collect();
        match self.sort {
            Sort::Path => {}
            Sort::Size => shown.sort_by_key(|&i| std::cmp::Reverse(arts[i].size)),
            Sort::Position => shown.sort_by_key(|&i| arts[i].meta_offset),
            Sort::Time => shown.sort_by(|&a, &b| c.mtime[b].cmp(&c.mtime[a])),
            Sort::Type => shown.sort_by(|&a, &b| c.types[a].cmp(&c.types[b]).then(a.cmp(&b))),
        }
        self.shown = shown;
        if self.tree {
            self.rows = tree::build(&self.case, &self.shown, &self.open);
        }
        self.file_sel = self.file_sel.min(self.sel_len().saturating_sub(1));
        self.load_detail();
    }

    /// How many rows the browser has: files (list) or folders and files (tree).
    fn sel_len(&self) -> usize {
        if self.tree {
            self.rows.len()
        } else {
            self.shown.len()
        }
    }

    fn selected_art(&self) -> Option<usize> {
        if self.tree {
            self.rows.get(self.file_sel).and_then(Row::art)
        } else {
            self.shown.get(self.file_sel).copied()
        }
    }

    fn load_detail(&mut self) {
        self.detail = self.selected_art().and_then(|i| self.case.details(i));
    }

    /// Opens or closes the selected folder (`want`: None toggles). Returns false when
    /// the selection is not a folder.
    fn fold(&mut self, want: Option<bool>) -> bool {
        let Some(Row::Dir { key, open, .. }) = self.rows.get(self.file_sel) else {
            return false;
        };
        let (key, now) = (key.clone(), *open);
        if want.unwrap_or(!now) {
            self.open.insert(key);
        } else {
            self.open.remove(&key);
        }
        self.refilter();
        true
    }

    /// Moves to the folder holding the selected row.
    fn select_parent(&mut self) {
        let depth = |r: &Row| match r {
            Row::Dir { depth, .. } | Row::File { depth, .. } => *depth,
        };
        let Some(d) = self.rows.get(self.file_sel).map(depth) else {
            return;
        };
        if let Some(p) = (0..self.file_sel).rev().find(|&i| depth(&self.rows[i]) < d) {
            self.file_sel = p;
        }
    }

    pub fn key(&mut self, k: Key) {
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
        if let Some(g) = &mut self.goto {
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
                        Some(v) => self.hex_off = (v / 16 * 16).min(self.hex_last()),
                        None => self.status = format!("not an offset: {t:?}"),
                    }
                    self.goto = None;
                }
                Key::Esc => self.goto = None,
                _ => {}
            }
            return;
        }
        if self.typing {
            match k {
                Key::Char(c) => self.search.push(c),
                Key::Backspace => {
                    self.search.pop();
                }
                Key::Enter => self.typing = false,
                Key::Esc => {
                    self.typing = false;
                    self.search.clear();
                }
                _ => {}
            }
            self.refilter();
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
                } else if self.running.is_some() && !armed {
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
        if self.running.is_some() {
            self.status = "a job is already running: wait for it, or x cancels it".into();
        } else {
            self.form = Some(f);
        }
    }

    /// Resumes the selected session's job if it is unfinished, else the oldest
    /// unfinished one.
    fn resume(&mut self) {
        let sel = self.case.sessions.get(self.jobs_sel).map(|s| s.id);
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
                if self.running.is_some() {
                    self.status = format!("resuming the job of session {id}");
                }
            }
        }
    }

    /// Starts a job on a worker thread; its progress comes in through `poll_jobs`.
    pub fn start(&mut self, job: Job) {
        if self.running.is_some() {
            self.status = "a job is already running: wait for it, or x cancels it".into();
            return;
        }
        let quick = matches!(job, Job::Verify | Job::Export { .. });
        self.running = Some(Running::start(self.case.dir.clone(), job));
        if !quick {
            // Verification and export show their result where they were asked for.
            self.view = View::Jobs;
        }
    }

    /// The running job's channel, for the UI loop's `select!`.
    pub fn job_events(&self) -> Option<crossbeam_channel::Receiver<Msg>> {
        self.running.as_ref().map(|r| r.rx.clone())
    }

    /// Takes in one message from the running job.
    pub fn job_message(&mut self, m: Msg) {
        match m {
            Msg::Progress(p) => {
                if let Some(r) = &mut self.running {
                    r.last = Some(p);
                }
            }
            Msg::Done(d) => self.job_end = Some(d),
        }
    }

    /// Takes in what the running job has sent. When it has ended, the case is read
    /// again on a thread of its own (a case can hold hundreds of thousands of files)
    /// and swapped in when ready. Returns true when that has happened: the job is
    /// over and the screens show its results.
    pub fn poll_jobs(&mut self) -> bool {
        while let Some(m) = self.running.as_ref().and_then(|r| r.rx.try_recv().ok()) {
            self.job_message(m);
        }
        if let Some(end) = self.job_end.take() {
            let job = self.running.take().map(|r| {
                let j = r.job.clone();
                r.join();
                j
            });
            if job == Some(Job::Verify) {
                self.verified = Some(match &end {
                    Ok(e) => visible(&e.summary).into_owned(),
                    Err(f) => visible(&f.0).into_owned(),
                });
            }
            self.ended = match end {
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
            self.reloading = Some(rx);
        }
        let Some(Ok(loaded)) = self.reloading.as_ref().map(|r| r.try_recv()) else {
            return false;
        };
        self.reloading = None;
        self.status = std::mem::take(&mut self.ended);
        match loaded {
            Ok(c) => {
                self.case = c;
                self.ev_sel = self.ev_sel.min(self.case.evidence.len().saturating_sub(1));
                (self.map_zoom, self.map_off) = (0, 0);
                self.jobs_sel = self.case.sessions.len().saturating_sub(1);
                self.refilter();
            }
            Err(e) => self.status = format!("cannot read the case again: {}", visible(&e)),
        }
        true
    }

    /// A job is running, or its results are still being read in.
    pub fn busy(&self) -> bool {
        self.running.is_some() || self.reloading.is_some()
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
