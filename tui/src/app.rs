//! Screen state, keys and drawing. Nothing here parses evidence: the case is read
//! through the session API (`data.rs`), and every name from evidence is shown through
//! `visible`, so control characters and escape sequences never reach the terminal.

use crate::data::{CaseData, Evidence};
use crate::form::{Form, FormResult};
use crate::jobs::{Msg, Running};
use crate::query::Query;
use crate::tree::{self, Row};
use dredge_session::{
    allocation, hms, human_bytes, visible, ArtifactRecord, Job, Outcome, ScanOptions,
};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;
use std::os::unix::fs::FileExt;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Tab,
    Backspace,
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
                    && (!f.carved || a.origin == "carved")
                    && (!f.partial || a.status != "complete")
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

    fn key_jobs(&mut self, k: Key) {
        let n = self.case.sessions.len();
        match k {
            Key::Up | Key::Char('k') => self.jobs_sel = self.jobs_sel.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.jobs_sel = (self.jobs_sel + 1).min(n.saturating_sub(1))
            }
            Key::Home | Key::Char('g') => self.jobs_sel = 0,
            Key::End | Key::Char('G') => self.jobs_sel = n.saturating_sub(1),
            Key::Char('a') => self.open_form(Form::add()),
            Key::Char('s') => self.open_form(Form::scan(ScanOptions::default().threads)),
            Key::Char('A') => self.open_form(Form::acquire()),
            Key::Char('r') => self.open_form(Form::report()),
            Key::Char('p') => match &self.running {
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
            Key::Char('x') => match &self.running {
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

    fn key_evidence(&mut self, k: Key) {
        let n = self.case.evidence.len();
        match k {
            Key::Up | Key::Char('k') => {
                self.ev_sel = self.ev_sel.saturating_sub(1);
                (self.map_zoom, self.map_off) = (0, 0);
            }
            Key::Down | Key::Char('j') => {
                self.ev_sel = (self.ev_sel + 1).min(n.saturating_sub(1));
                (self.map_zoom, self.map_off) = (0, 0);
            }
            Key::Char('+') => self.map_zoom = (self.map_zoom / 2).max(1),
            Key::Char('-') => self.map_zoom = self.map_zoom.saturating_mul(2).min(1 << 40),
            Key::Left | Key::Char('h') => {
                self.map_off = self.map_off.saturating_sub(self.map_zoom * 64)
            }
            Key::Right | Key::Char('l') => {
                let size = self
                    .case
                    .evidence
                    .get(self.ev_sel)
                    .map_or(0, |e| e.row.size);
                self.map_off = (self.map_off + self.map_zoom * 64).min(size.saturating_sub(1));
            }
            Key::Home | Key::Char('g') => self.map_off = 0,
            Key::Enter | Key::Char('x') => self.open_image_hex(),
            _ => {}
        }
    }

    fn key_files(&mut self, k: Key) {
        let n = self.sel_len();
        let before = self.file_sel;
        if self.tree {
            match k {
                Key::Enter if self.fold(None) => return,
                Key::Right | Key::Char('l') => {
                    self.fold(Some(true));
                    return;
                }
                Key::Left | Key::Char('h') => {
                    let open = matches!(
                        self.rows.get(self.file_sel),
                        Some(Row::Dir { open: true, .. })
                    );
                    if open {
                        self.fold(Some(false));
                    } else {
                        self.select_parent();
                        self.load_detail();
                    }
                    return;
                }
                _ => {}
            }
        }
        match k {
            Key::Char('t') => {
                self.tree = !self.tree;
                if self.tree && self.open.is_empty() {
                    self.open = tree::roots(&self.case, &self.shown).into_iter().collect();
                }
                self.file_sel = 0;
                self.refilter();
                return;
            }
            Key::Up | Key::Char('k') => self.file_sel = self.file_sel.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.file_sel = (self.file_sel + 1).min(n.saturating_sub(1))
            }
            Key::PageUp => self.file_sel = self.file_sel.saturating_sub(10),
            Key::PageDown => self.file_sel = (self.file_sel + 10).min(n.saturating_sub(1)),
            Key::Home | Key::Char('g') => self.file_sel = 0,
            Key::End | Key::Char('G') => self.file_sel = n.saturating_sub(1),
            Key::Char('/') => {
                self.typing = true;
                self.search.clear();
            }
            Key::Char('d') => {
                self.filters.deleted = !self.filters.deleted;
                self.refilter();
            }
            Key::Char('c') => {
                self.filters.carved = !self.filters.carved;
                self.refilter();
            }
            Key::Char('p') => {
                self.filters.partial = !self.filters.partial;
                self.refilter();
            }
            Key::Char('s') => {
                self.sort = match self.sort {
                    Sort::Path => Sort::Size,
                    Sort::Size => Sort::Position,
                    Sort::Position => Sort::Time,
                    Sort::Time => Sort::Type,
                    Sort::Type => Sort::Path,
                };
                self.refilter();
            }
            Key::Char('e') => self.export(),
            Key::Char(' ') => {
                if let Some(id) = self
                    .selected_art()
                    .map(|i| self.case.artifacts[i].id.clone())
                {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.file_sel = (self.file_sel + 1).min(n.saturating_sub(1));
                }
            }
            Key::Char('u') => self.marked.clear(),
            Key::Enter | Key::Char('x') => {
                if self.detail.as_ref().is_some_and(|d| d.extracted.is_some()) {
                    self.hex_off = 0;
                    self.hex_image = None;
                    self.view = View::Hex;
                } else {
                    self.status = "no extracted content for this entry".into();
                }
            }
            _ => {}
        }
        if self.file_sel != before {
            self.load_detail();
        }
    }

    /// Exports the selected file to CASE/exports with a hash manifest, through the
    /// session (recorded in the custody log, copy checked against the case's hash).
    fn export(&mut self) {
        let ids: Vec<String> = if self.marked.is_empty() {
            self.detail.iter().map(|a| a.id.clone()).collect()
        } else {
            self.marked.iter().cloned().collect()
        };
        if ids.is_empty() {
            self.status = "nothing selected to export".into();
            return;
        }
        let dest = self.case.dir.join("exports");
        self.start(Job::Export { ids, dest });
        if self.running.is_some() {
            self.marked.clear();
        }
    }

    /// Size of what the hex view shows.
    fn hex_size(&self) -> u64 {
        match &self.hex_image {
            Some((_, v)) => v.size,
            None => self.detail.as_ref().map_or(0, |d| d.size),
        }
    }

    fn hex_last(&self) -> u64 {
        self.hex_size().saturating_sub(1) / 16 * 16
    }

    fn leave_hex(&mut self) {
        self.view = if self.hex_image.take().is_some() {
            View::Evidence
        } else {
            View::Files
        };
    }

    /// Opens the hex view on the selected evidence image, at the sector map's offset.
    fn open_image_hex(&mut self) {
        let Some(e) = self.case.evidence.get(self.ev_sel) else {
            return;
        };
        match dredge_session::open_image(&e.row) {
            Ok(v) => {
                self.hex_image = Some((e.row.label.clone(), v));
                self.hex_off = self.map_off / 16 * 16;
                self.view = View::Hex;
            }
            Err(f) => self.status = format!("cannot open the image: {}", visible(&f.0)),
        }
    }

    fn key_hex(&mut self, k: Key) {
        let last = self.hex_last();
        if self.hex_text {
            let steps = match k {
                Key::Down | Key::Char('j') => Some((true, 1)),
                Key::Up | Key::Char('k') => Some((false, 1)),
                Key::PageDown => Some((true, 16)),
                Key::PageUp => Some((false, 16)),
                _ => None,
            };
            if let Some((down, n)) = steps {
                for _ in 0..n {
                    self.hex_off = self.text_step(down);
                }
                return;
            }
        }
        match k {
            Key::Char('t') => {
                self.hex_text = !self.hex_text;
                self.hex_off = self.hex_off / 16 * 16;
            }
            Key::Esc | Key::Char('h') | Key::Left => self.leave_hex(),
            Key::Up | Key::Char('k') => self.hex_off = self.hex_off.saturating_sub(16),
            Key::Down | Key::Char('j') => self.hex_off = (self.hex_off + 16).min(last),
            Key::PageUp => self.hex_off = self.hex_off.saturating_sub(16 * 16),
            Key::PageDown => self.hex_off = (self.hex_off + 16 * 16).min(last),
            Key::Home | Key::Char('g') => self.hex_off = 0,
            Key::End | Key::Char('G') => self.hex_off = last,
            Key::Char('o') => self.goto = Some(String::new()),
            _ => {}
        }
    }

    fn key_log(&mut self, k: Key) {
        let n = self.case.events.len();
        match k {
            Key::Up | Key::Char('k') => self.log_top = self.log_top.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.log_top = (self.log_top + 1).min(n.saturating_sub(1))
            }
            Key::PageUp => self.log_top = self.log_top.saturating_sub(10),
            Key::PageDown => self.log_top = (self.log_top + 10).min(n.saturating_sub(1)),
            Key::Char('r') => self.open_form(Form::report()),
            Key::Char('v') => {
                self.verified = Some("verifying…".into());
                self.start(Job::Verify);
            }
            _ => {}
        }
    }

    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        let rows = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(1),
                Constraint::Min(3),
                Constraint::Length(1),
            ])
            .split(area);
        self.draw_top(f, rows[0]);
        if self.map_zoom == 0 {
            // The map's cells, as draw_evidence lays them out.
            let cells = u64::from(area.width.saturating_sub(20))
                * u64::from(area.height.saturating_sub(14)).max(1);
            let size = self
                .case
                .evidence
                .get(self.ev_sel)
                .map_or(0, |e| e.row.size);
            self.map_zoom = size.div_ceil(cells.max(1)).max(1);
        }
        match self.view {
            View::Evidence => self.draw_evidence(f, rows[1]),
            View::Files => self.draw_files(f, rows[1]),
            View::Hex => self.draw_hex(f, rows[1]),
            View::Log => self.draw_log(f, rows[1]),
            View::Jobs => self.draw_jobs(f, rows[1]),
        }
        let hint = if let Some(g) = &self.goto {
            format!("go to offset (decimal or 0x hex): {g}▏ (Enter go, Esc cancel)")
        } else if self.typing {
            format!(
                "search: {}▏ {}",
                visible(&self.search),
                match &self.search_error {
                    Some(e) => format!("({})", visible(e)),
                    None => "(words, type:jpg size>1M time:2024-05 after: before:; Esc clears)"
                        .to_string(),
                }
            )
        } else if !self.status.is_empty() {
            self.status.clone()
        } else {
            match self.view {
                View::Evidence => {
                    "j/k evidence  +/- zoom  h/l move  Enter hex  1-4/Tab views  ? help"
                }
                View::Files => {
                    "j/k move  Enter hex  e export  / search  d/c/p filter  s sort  t tree  ?"
                }
                View::Hex => {
                    "j/k line  PgUp/PgDn page  g/G start/end  o offset  t text  Esc back  ?"
                }
                View::Log => "j/k scroll  v verify  r reports  ? help  q quit",
                View::Jobs => "a add  s scan  A acquire  r reports  p pause  x cancel  R resume  ?",
            }
            .to_string()
        };
        let mut bottom = Vec::new();
        if let Some(r) = &self.running {
            // Whatever the screen, a running job shows here first.
            let pct = r
                .last
                .as_ref()
                .filter(|p| p.total > 0)
                .map_or(String::new(), |p| format!(" {:.0}%", p.fraction() * 100.0));
            let state = if r.is_paused() { " paused" } else { "" };
            bottom.push(Span::styled(
                format!("▶ {}{pct}{state} │ ", r.job.name()),
                self.style(Color::Cyan).add_modifier(Modifier::BOLD),
            ));
        }
        bottom.push(Span::styled(
            hint,
            Style::default().add_modifier(Modifier::DIM),
        ));
        f.render_widget(Paragraph::new(Line::from(bottom)), rows[2]);
        if self.help {
            self.draw_help(f, area);
        }
        if let Some(form) = &self.form {
            form.draw(f, area);
        }
    }

    fn draw_top(&self, f: &mut Frame, r: Rect) {
        let tab = |n: &str, v: View| {
            let from = if self.hex_image.is_some() {
                View::Evidence
            } else {
                View::Files
            };
            let on = self.view == v || (v == from && self.view == View::Hex);
            let st = if on {
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::default()
            };
            Span::styled(format!(" {n} "), st)
        };
        let line = Line::from(vec![
            Span::styled(
                format!(
                    " dredge · case {} · {} ",
                    visible(&self.case.title),
                    visible(&self.case.examiner)
                ),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            tab("1 Evidence", View::Evidence),
            tab("2 Files", View::Files),
            tab("3 Log", View::Log),
            tab("4 Jobs", View::Jobs),
        ]);
        f.render_widget(Paragraph::new(line), r);
    }

    fn draw_evidence(&self, f: &mut Frame, r: Rect) {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(18), Constraint::Min(20)])
            .split(r);
        let items: Vec<ListItem> = self
            .case
            .evidence
            .iter()
            .map(|e| {
                let mark = if e.row.bad_bytes > 0 { " !" } else { "" };
                ListItem::new(format!("{}{mark}", visible(&e.row.label)))
            })
            .collect();
        let mut st = ListState::default().with_selected(Some(self.ev_sel));
        f.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title("Evidence"))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            cols[0],
            &mut st,
        );
        let Some(e) = self.case.evidence.get(self.ev_sel) else {
            f.render_widget(
                Paragraph::new(
                    "No evidence in this case yet: 4 then a adds an image, A acquires a device.",
                )
                .block(Block::default().borders(Borders::ALL)),
                cols[1],
            );
            return;
        };
        let right = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(9), Constraint::Min(4)])
            .split(cols[1]);
        let r0 = &e.row;
        let mut lines = vec![
            Line::from(format!(
                "{}  {} bytes  {}",
                visible(&r0.kind),
                r0.size,
                visible(&r0.path)
            )),
            Line::from(format!("MD5     {}", digest(&r0.md5))),
            Line::from(format!("SHA-1   {}", digest(&r0.sha1))),
            Line::from(format!("SHA-256 {}", digest(&r0.sha256))),
            Line::from(Span::styled(
                format!(
                    "unreadable {} bytes in {} ranges",
                    r0.bad_bytes,
                    e.gaps.len()
                ),
                if r0.bad_bytes > 0 {
                    self.style(Color::Red)
                } else {
                    Style::default()
                },
            )),
        ];
        for v in e.volumes.iter().take(2) {
            let fs: Vec<String> = v.filesystems.iter().map(|(t, _)| t.clone()).collect();
            lines.push(Line::from(format!(
                "vol{} @{} +{} {} {}",
                v.idx,
                v.start,
                v.len,
                visible(&v.kind),
                fs.join(",")
            )));
        }
        if e.volumes.len() > 2 {
            lines.push(Line::from(format!(
                "… {} more volumes",
                e.volumes.len() - 2
            )));
        }
        f.render_widget(
            Paragraph::new(lines).block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(visible(&r0.label).into_owned()),
            ),
            right[0],
        );
        self.draw_map(f, right[1], e);
    }

    /// One character per `map_zoom` bytes from `map_off`: unreadable, carved, deleted,
    /// allocated or free, whichever touches the cell first in that order.
    fn draw_map(&self, f: &mut Frame, r: Rect, e: &Evidence) {
        let inner_w = r.width.saturating_sub(2) as u64;
        let inner_h = r.height.saturating_sub(3) as u64;
        let cells = (inner_w * inner_h) as usize;
        let z = self.map_zoom.max(1);
        let start = self.map_off;
        let mut map = vec![Cell::Free; cells];
        let mut mark = |o: u64, l: u64, c: Cell| {
            if l == 0 || o + l <= start {
                return;
            }
            let a = (o.max(start) - start) / z;
            let b = (o + l - 1 - start.min(o + l - 1)) / z;
            for i in a..=b.min(cells as u64 - 1) {
                if let Some(m) = map.get_mut(i as usize) {
                    *m = (*m).max(c);
                }
            }
        };
        if cells > 0 {
            for (o, l, origin, deleted) in &e.runs {
                let c = if origin == "carved" {
                    Cell::Carved
                } else if *deleted {
                    Cell::Deleted
                } else {
                    Cell::Allocated
                };
                mark(*o, *l, c);
            }
            for (o, l, _) in &e.gaps {
                mark(*o, *l, Cell::Unreadable);
            }
        }
        let size = e.row.size;
        let mut lines: Vec<Line> = Vec::new();
        for row in 0..inner_h as usize {
            let mut spans = Vec::new();
            for col in 0..inner_w as usize {
                let i = row * inner_w as usize + col;
                let at = start + i as u64 * z;
                let (ch, c) = if at >= size {
                    (' ', Color::Reset)
                } else {
                    match map[i] {
                        Cell::Free => ('·', Color::DarkGray),
                        Cell::Allocated => ('#', Color::Green),
                        Cell::Deleted => ('d', Color::Yellow),
                        Cell::Carved => ('c', Color::Cyan),
                        Cell::Unreadable => ('X', Color::Red),
                    }
                };
                spans.push(Span::styled(ch.to_string(), self.style(c)));
            }
            lines.push(Line::from(spans));
        }
        let end = (start + cells as u64 * z).min(size);
        lines.push(Line::from(format!(
            "# file  d deleted  c carved  X unreadable  · free   {start}..{end} · {z} B/cell"
        )));
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title("Sector map")),
            r,
        );
    }

    fn draw_files(&self, f: &mut Frame, r: Rect) {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
            .split(r);
        let arts = &self.case.artifacts;
        // Only the rows in view are built: cases hold hundreds of thousands of files.
        let height = cols[0].height.saturating_sub(2) as usize;
        let top = self.file_sel.saturating_sub(height.saturating_sub(1));
        let marks = |a: &ArtifactRecord| {
            let x = if self.marked.contains(&a.id) {
                '+'
            } else {
                ' '
            };
            let (m, c) = match allocation(a) {
                "carved" => ('C', Color::Cyan),
                "deleted" => ('*', Color::Yellow),
                _ => (' ', Color::Reset),
            };
            let p = if a.status != "complete" { '!' } else { ' ' };
            Span::styled(format!("{x}{m}{p}"), self.style(c))
        };
        let dim = Style::default().add_modifier(Modifier::DIM);
        let items: Vec<ListItem> = if self.tree {
            self.rows
                .iter()
                .skip(top)
                .take(height)
                .map(|row| match row {
                    Row::Dir {
                        name,
                        depth,
                        files,
                        deleted,
                        open,
                        art,
                        ..
                    } => {
                        let m = match art {
                            Some(i) => marks(&arts[*i]),
                            None => Span::raw("   "),
                        };
                        ListItem::new(Line::from(vec![
                            m,
                            Span::raw(format!(
                                "{}{} {}/ ",
                                "  ".repeat(*depth),
                                if *open { '▾' } else { '▸' },
                                visible(name)
                            )),
                            Span::styled(folder_counts(*files, *deleted), dim),
                        ]))
                    }
                    Row::File { art, name, depth } => {
                        let a = &arts[*art];
                        ListItem::new(Line::from(vec![
                            marks(a),
                            Span::raw(format!("{}  {} ", "  ".repeat(*depth), visible(name))),
                            Span::styled(a.size.to_string(), dim),
                        ]))
                    }
                })
                .collect()
        } else {
            self.shown
                .iter()
                .skip(top)
                .take(height)
                .map(|&i| {
                    let a = &arts[i];
                    ListItem::new(Line::from(vec![
                        marks(a),
                        Span::raw(format!("{} ", visible(&a.path))),
                        Span::styled(
                            match self.sort {
                                Sort::Time => {
                                    self.case.mtime[i].as_ref().map_or("-".to_string(), |t| {
                                        t.get(..19).unwrap_or(t).replace('T', " ")
                                    })
                                }
                                _ => format!("{}", a.size),
                            },
                            dim,
                        ),
                    ]))
                })
                .collect()
        };
        let f_on = |b: bool, s: &str| if b { format!("[{s}]") } else { String::new() };
        let title = format!(
            "Files {}/{}{} {}{}{}{}{}",
            self.shown.len(),
            arts.len(),
            if self.marked.is_empty() {
                String::new()
            } else {
                format!(" +{}", self.marked.len())
            },
            if self.tree {
                "tree".to_string()
            } else {
                format!("sort:{:?}", self.sort)
            },
            f_on(self.filters.deleted, "deleted"),
            f_on(self.filters.carved, "carved"),
            f_on(self.filters.partial, "partial"),
            if self.search.is_empty() {
                String::new()
            } else {
                format!(" /{}", visible(&self.search))
            }
        );
        let mut st = ListState::default().with_selected(Some(self.file_sel - top));
        f.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title(title))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            cols[0],
            &mut st,
        );
        let folder = match self.rows.get(self.file_sel) {
            Some(Row::Dir {
                name,
                files,
                deleted,
                ..
            }) if self.tree => Some(vec![
                Line::from(Span::styled(
                    format!("{}/", visible(name)),
                    Style::default().add_modifier(Modifier::BOLD),
                )),
                Line::from(format!(
                    "{} below it (no entry of its own)",
                    folder_counts(*files, *deleted)
                )),
            ]),
            _ => None,
        };
        let text = match &self.detail {
            None => folder.unwrap_or_else(|| vec![Line::from("nothing selected")]),
            Some(a) => self.detail_lines(a),
        };
        f.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title("Details")),
            cols[1],
        );
    }

    fn detail_lines(&self, a: &ArtifactRecord) -> Vec<Line<'static>> {
        let mut l = vec![
            Line::from(Span::styled(
                visible(&a.path).into_owned(),
                Style::default().add_modifier(Modifier::BOLD),
            )),
            Line::from(visible(&a.forensic_path).into_owned()),
        ];
        for n in &a.other_names {
            l.push(Line::from(format!("also {}", visible(n))));
        }
        // Upper case: the one state an examiner must not miss in the pane.
        let state = match allocation(a) {
            "deleted" => "DELETED",
            s => s,
        };
        l.push(Line::from(format!(
            "{state} · {} · {} bytes · {}",
            a.status,
            a.size,
            a.recovery_detail.as_deref().unwrap_or(&a.recovery)
        )));
        for (src, utc) in &a.times {
            l.push(Line::from(format!("{utc} {src}")));
        }
        if let Some((m, s1, s2)) = &a.digests {
            l.push(Line::from(format!("MD5 {m}")));
            l.push(Line::from(format!("SHA-1 {s1}")));
            l.push(Line::from(format!("SHA-256 {s2}")));
        }
        for r in a.runs.iter().take(8) {
            l.push(Line::from(format!(
                "run {}+{} {} {}",
                r.file_offset,
                r.len,
                r.kind,
                r.image_offset.map_or(String::new(), |o| format!("@{o}"))
            )));
        }
        if a.runs.len() > 8 {
            l.push(Line::from(format!("… {} more runs", a.runs.len() - 8)));
        }
        for (o, len, why) in &a.gaps {
            l.push(Line::from(Span::styled(
                format!("UNREADABLE {o}+{len} ({why})"),
                self.style(Color::Red),
            )));
        }
        l
    }

    /// Sixteen bytes a line, from the extracted copy; bytes that were unreadable on
    /// the medium are `??` (they are zeros in the copy, but not real zeros).
    /// Bytes of what the hex view shows (the image, or the file's extracted copy),
    /// the unreadable ranges among them in the same offsets, and a read error if any.
    fn hex_read(&self, off: u64, want: usize) -> (Vec<u8>, Vec<(u64, u64)>, String) {
        match &self.hex_image {
            Some((_, v)) => match v.read(off, want) {
                Ok((b, bad)) => (b, bad, String::new()),
                Err(e) => (Vec::new(), Vec::new(), format!(" · {}", visible(&e.0))),
            },
            None => {
                let Some(a) = &self.detail else {
                    return (Vec::new(), Vec::new(), String::new());
                };
                let mut buf = vec![0u8; want];
                let got = a
                    .extracted
                    .as_ref()
                    .and_then(|rel| std::fs::File::open(self.case.dir.join(rel)).ok())
                    .and_then(|file| file.read_at(&mut buf, off).ok())
                    .unwrap_or(0);
                buf.truncate(got);
                // The extracted copy has zeros where the medium could not be read.
                let bad = a.gaps.iter().map(|(s, l, _)| (*s, *l)).collect();
                (buf, bad, String::new())
            }
        }
    }

    /// The bytes as text lines: control characters escaped like names, bytes that
    /// were unreadable as red `░`.
    fn text_lines(&self, buf: &[u8], bad: &[(u64, u64)], rows: usize) -> Vec<Line<'static>> {
        let is_bad = |o: u64| bad.iter().any(|&(s, l)| o >= s && o < s + l);
        let mut lines = Vec::new();
        let mut start = 0usize;
        for line in buf.split_inclusive(|&b| b == b'\n').take(rows) {
            let mut spans = Vec::new();
            let mut i = 0;
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            while i < body.len() {
                let here = is_bad(self.hex_off + (start + i) as u64);
                let mut j = i;
                while j < body.len() && is_bad(self.hex_off + (start + j) as u64) == here {
                    j += 1;
                }
                if here {
                    spans.push(Span::styled(
                        "░".repeat(j - i),
                        self.style(Color::Red).add_modifier(Modifier::BOLD),
                    ));
                } else {
                    let t = String::from_utf8_lossy(&body[i..j]).replace('\t', "    ");
                    spans.push(Span::raw(visible(&t).into_owned()));
                }
                i = j;
            }
            start += line.len();
            lines.push(Line::from(spans));
        }
        lines
    }

    /// Where the next (`down`) or previous text line starts from `hex_off`.
    fn text_step(&self, down: bool) -> u64 {
        if down {
            let (buf, _, _) = self.hex_read(self.hex_off, 4096);
            let n = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len().min(80), |p| p + 1);
            (self.hex_off + n as u64).min(self.hex_size().saturating_sub(1))
        } else {
            let from = self.hex_off.saturating_sub(4096);
            let (buf, _, _) = self.hex_read(from, (self.hex_off - from) as usize);
            // Skip the newline ending the previous line, then find the one before it.
            let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match body.iter().rposition(|&b| b == b'\n') {
                Some(p) => from + p as u64 + 1,
                None => from,
            }
        }
    }

    fn draw_hex(&self, f: &mut Frame, r: Rect) {
        let rows = r.height.saturating_sub(2) as u64;
        let want = if self.hex_text {
            (rows * u64::from(r.width)) as usize
        } else {
            (rows * 16) as usize
        };
        let (buf, bad, err) = self.hex_read(self.hex_off, want);
        let size = self.hex_size();
        let title = match &self.hex_image {
            Some((label, _)) => format!(
                "{} · {} image · offset {} of {size} · {} = unreadable{err}",
                if self.hex_text { "Text" } else { "Hex" },
                visible(label),
                self.hex_off,
                if self.hex_text { "░" } else { "??" },
            ),
            None => format!(
                "{} · {} · {size} bytes · {} = unreadable on the medium{err}",
                if self.hex_text { "Text" } else { "Hex" },
                self.detail
                    .as_ref()
                    .map_or(String::new(), |a| visible(&a.path).into_owned()),
                if self.hex_text { "░" } else { "??" },
            ),
        };
        if self.hex_text {
            let lines = self.text_lines(&buf, &bad, rows as usize);
            f.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::default().borders(Borders::ALL).title(title)),
                r,
            );
            return;
        }
        let is_bad = |o: u64| bad.iter().any(|&(s, l): &(u64, u64)| o >= s && o < s + l);
        let mut lines = Vec::new();
        for row in 0..rows {
            let base = self.hex_off + row * 16;
            if base >= size || (row * 16) as usize >= buf.len() {
                break;
            }
            let mut spans = vec![Span::raw(format!("{base:010x}  "))];
            let mut text = String::new();
            for i in 0..16u64 {
                let o = base + i;
                let k = (row * 16 + i) as usize;
                if o >= size || k >= buf.len() {
                    spans.push(Span::raw("   "));
                    continue;
                }
                if is_bad(o) {
                    spans.push(Span::styled(
                        "?? ",
                        self.style(Color::Red).add_modifier(Modifier::BOLD),
                    ));
                    text.push('░');
                } else {
                    let b = buf[k];
                    spans.push(Span::raw(format!("{b:02x} ")));
                    text.push(if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    });
                }
            }
            spans.push(Span::raw(format!(" {text}")));
            lines.push(Line::from(spans));
        }
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
            r,
        );
    }

    fn draw_log(&self, f: &mut Frame, r: Rect) {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(3), Constraint::Min(3)])
            .split(r);
        let v = self
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
            .skip(self.log_top)
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

    /// The running job's progress, and every session the case has recorded with the
    /// unfinished ones marked.
    fn draw_jobs(&self, f: &mut Frame, r: Rect) {
        let parts = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(7),
                Constraint::Min(3),
                Constraint::Length(5),
            ])
            .split(r);
        let lines: Vec<Line> = match &self.running {
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
                let st = match s.status.as_str() {
                    "failed" => self.style(Color::Red),
                    "interrupted" | "running" => self.style(Color::Yellow),
                    "complete-with-gaps" => self.style(Color::Magenta),
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
        let mut st = ListState::default().with_selected(Some(self.jobs_sel));
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
            .get(self.jobs_sel)
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

    fn draw_help(&self, f: &mut Frame, area: Rect) {
        let keys: &[(&str, &str)] = match self.view {
            View::Evidence => &[
                ("j/k, ↑/↓", "select evidence item"),
                ("+ / -", "zoom the sector map in / out"),
                ("h/l, ←/→", "move along the medium"),
                ("g", "back to offset 0"),
                ("Enter, x", "hex view of the image from the map's offset"),
            ],
            View::Files => &[
                ("j/k, ↑/↓", "move"),
                ("PgUp/PgDn, g/G", "page, first, last"),
                ("Enter, x", "hex view of the file"),
                ("e", "export it (or the marked) to CASE/exports"),
                ("Space / u", "mark for export, move on / unmark all"),
                ("/", "search: words, type:jpg size>1M size<4k"),
                ("", "  time:2024-05 after:2024-01 before:2025"),
                ("d / c / p", "only deleted / carved / partial"),
                ("s", "sort: path, size, position, time, type"),
                ("t", "tree: folders per filesystem, carved by type"),
                ("Enter, l / h", "tree: open / close a folder, h to parent"),
            ],
            View::Hex => &[
                ("j/k, ↑/↓", "line"),
                ("PgUp/PgDn", "page"),
                ("g/G", "start, end"),
                ("o", "go to an offset (decimal or 0x hex)"),
                ("t", "text / hex (unreadable bytes: ░ / ??)"),
                ("Esc, h, q", "back"),
            ],
            View::Log => &[
                ("j/k, PgUp/PgDn", "scroll"),
                ("v", "verify the custody record"),
                ("r", "reports: HTML, PDF/A, DFXML, CASE, CSV, body file"),
            ],
            View::Jobs => &[
                ("a", "add evidence (image, optional mapfile)"),
                ("s", "scan: filesystems, then carving"),
                ("A", "acquire a device into an image"),
                ("p", "pause / continue the running job"),
                ("x", "cancel it (recorded as interrupted)"),
                ("R", "resume the selected unfinished job"),
                ("r", "reports: HTML, PDF/A, DFXML, CASE, CSV, body file"),
                ("j/k, ↑/↓", "move through the sessions"),
            ],
        };
        let mut lines: Vec<Line> = keys
            .iter()
            .map(|(k, d)| Line::from(format!("{k:<16} {d}")))
            .collect();
        lines.push(Line::from(""));
        lines.push(Line::from("1 2 3 4, Tab     Evidence, Files, Log, Jobs"));
        lines.push(Line::from("?                this help (any key closes)"));
        lines.push(Line::from("q                quit (from hex: back)"));
        let w = 66.min(area.width);
        let h = (lines.len() as u16 + 2).min(area.height);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        f.render_widget(Clear, r);
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title("Keys")),
            r,
        );
    }
}

/// An evidence digest, or why there is none (the examiner chose other hashes).
fn digest(d: &Option<String>) -> &str {
    d.as_deref().unwrap_or("not computed (--hash)")
}
