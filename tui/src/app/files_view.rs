//! The files view: the tree of folders and files, filters, a file's detail, export.

use super::Filters;
use super::{folder_counts, App, Sort, View};
use crate::key::Key;
use crate::tree::Row;
use dredge_session::{allocation, visible, ArtifactRecord, ArtifactStatus, Job};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

/// The file browser: list or tree, filters, search, marks, detail.
#[derive(Default)]
pub struct FilesView {
    pub filters: Filters,
    pub sort: Sort,
    pub search: String,
    /// A search term that does not parse (yet), shown under the search line.
    pub search_error: Option<String>,
    pub typing: bool,
    /// Row ids of the artifacts shown (list), as the store filtered and sorted them.
    pub shown: Vec<i64>,
    /// How many artifacts pass the filters (list or tree).
    pub matched: usize,
    /// Index into `shown` (list) or `rows` (tree).
    pub sel: usize,
    pub detail: Option<ArtifactRecord>,
    /// The browser shows folders (t toggles) instead of the flat list.
    pub tree: bool,
    pub open: std::collections::HashSet<String>,
    /// Artifacts marked (Space) for export, by id: marks outlive the case being read
    /// again after a job, which can renumber the list.
    pub marked: std::collections::BTreeSet<String>,
    pub rows: Vec<Row>,
    /// The tree is being shown for the first time: its top-level folders open.
    pub open_roots: bool,
    /// The case was read again and the list not yet made from it.
    pub stale: bool,
}

impl App {
    pub(super) fn key_files(&mut self, k: Key) {
        let n = self.sel_len();
        let before = self.files.sel;
        if self.files.tree {
            match k {
                Key::Enter if self.fold(None) => return,
                Key::Right | Key::Char('l') => {
                    self.fold(Some(true));
                    return;
                }
                Key::Left | Key::Char('h') => {
                    let open = matches!(
                        self.files.rows.get(self.files.sel),
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
                self.files.tree = !self.files.tree;
                self.files.open_roots = self.files.tree && self.files.open.is_empty();
                self.files.sel = 0;
                self.refilter();
                return;
            }
            Key::Up | Key::Char('k') => self.files.sel = self.files.sel.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                self.files.sel = (self.files.sel + 1).min(n.saturating_sub(1))
            }
            Key::PageUp => self.files.sel = self.files.sel.saturating_sub(10),
            Key::PageDown => self.files.sel = (self.files.sel + 10).min(n.saturating_sub(1)),
            Key::Home | Key::Char('g') => self.files.sel = 0,
            Key::End | Key::Char('G') => self.files.sel = n.saturating_sub(1),
            Key::Char('/') => {
                self.files.typing = true;
                if !self.files.search.is_empty() {
                    self.files.search.clear();
                    self.refilter();
                }
            }
            Key::Char('d') => {
                self.files.filters.deleted = !self.files.filters.deleted;
                self.refilter();
            }
            Key::Char('c') => {
                self.files.filters.carved = !self.files.filters.carved;
                self.refilter();
            }
            Key::Char('p') => {
                self.files.filters.partial = !self.files.filters.partial;
                self.refilter();
            }
            Key::Char('s') => {
                self.files.sort = match self.files.sort {
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
                    .and_then(|i| self.case.artifact(i))
                    .map(|a| a.id)
                {
                    if !self.files.marked.remove(&id) {
                        self.files.marked.insert(id);
                    }
                    self.files.sel = (self.files.sel + 1).min(n.saturating_sub(1));
                }
            }
            Key::Char('u') => self.files.marked.clear(),
            Key::Enter | Key::Char('x') => {
                if self
                    .files
                    .detail
                    .as_ref()
                    .is_some_and(|d| d.extracted.is_some())
                {
                    self.hex.off = 0;
                    self.hex.image = None;
                    self.view = View::Hex;
                } else {
                    self.status = "no extracted content for this entry".into();
                }
            }
            _ => {}
        }
        if self.files.sel != before {
            self.load_detail();
        }
    }

    /// Exports the selected file to CASE/exports with a hash manifest, through the
    /// session (recorded in the custody log, copy checked against the case's hash).
    pub(super) fn export(&mut self) {
        let ids: Vec<String> = if self.files.marked.is_empty() {
            self.files.detail.iter().map(|a| a.id.clone()).collect()
        } else {
            self.files.marked.iter().cloned().collect()
        };
        if ids.is_empty() {
            self.status = "nothing selected to export".into();
            return;
        }
        let dest = self.case.dir.join("exports");
        self.start(Job::Export { ids, dest });
        if self.jobs.running.is_some() {
            self.files.marked.clear();
        }
    }

    pub(super) fn draw_files(&self, f: &mut Frame, r: Rect) {
        let cols = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(55), Constraint::Percentage(45)])
            .split(r);
        // Only the rows in view are fetched from the store and built: cases hold
        // a million files.
        let height = cols[0].height.saturating_sub(2) as usize;
        let top = self.files.sel.saturating_sub(height.saturating_sub(1));
        let view = |n: usize| top.min(n)..(top + height).min(n);
        let rows_in_view = &self.files.rows[view(self.files.rows.len())];
        let shown_in_view = &self.files.shown[view(self.files.shown.len())];
        let arts = if self.files.tree {
            let ids: Vec<i64> = rows_in_view.iter().filter_map(Row::art).collect();
            self.case.window(&ids)
        } else {
            self.case.window(shown_in_view)
        };
        let gone = ArtifactRecord {
            path: "(no longer in the case)".into(),
            ..Default::default()
        };
        let art = |i: &i64| arts.get(i).unwrap_or(&gone);
        let marks = |a: &ArtifactRecord| {
            let x = if self.files.marked.contains(&a.id) {
                '+'
            } else {
                ' '
            };
            let (m, c) = match allocation(a) {
                "carved" => ('C', Color::Cyan),
                "deleted" => ('*', Color::Yellow),
                _ => (' ', Color::Reset),
            };
            let p = if a.status != ArtifactStatus::Complete {
                '!'
            } else {
                ' '
            };
            Span::styled(format!("{x}{m}{p}"), self.style(c))
        };
        let dim = Style::default().add_modifier(Modifier::DIM);
        let items: Vec<ListItem> = if self.files.tree {
            rows_in_view
                .iter()
                .map(|row| match row {
                    Row::Dir {
                        name,
                        depth,
                        files,
                        deleted,
                        open,
                        art: own,
                        ..
                    } => {
                        let m = match own {
                            Some(i) => marks(art(i)),
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
                    Row::File {
                        art: i,
                        name,
                        depth,
                    } => {
                        let a = art(i);
                        ListItem::new(Line::from(vec![
                            marks(a),
                            Span::raw(format!("{}  {} ", "  ".repeat(*depth), visible(name))),
                            Span::styled(a.size.to_string(), dim),
                        ]))
                    }
                })
                .collect()
        } else {
            shown_in_view
                .iter()
                .map(|i| {
                    let a = art(i);
                    ListItem::new(Line::from(vec![
                        marks(a),
                        Span::raw(format!("{} ", visible(&a.path))),
                        Span::styled(
                            match self.files.sort {
                                Sort::Time => self.case.mtime(a).map_or("-".to_string(), |t| {
                                    t.get(..19).unwrap_or(&t).replace('T', " ")
                                }),
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
            self.files.matched,
            self.case.total,
            if self.files.marked.is_empty() {
                String::new()
            } else {
                format!(" +{}", self.files.marked.len())
            },
            if self.files.tree {
                "tree".to_string()
            } else {
                format!("sort:{:?}", self.files.sort)
            },
            f_on(self.files.filters.deleted, "deleted"),
            f_on(self.files.filters.carved, "carved"),
            f_on(self.files.filters.partial, "partial"),
            if self.files.search.is_empty() {
                String::new()
            } else {
                format!(" /{}", visible(&self.files.search))
            }
        );
        let mut st = ListState::default().with_selected(Some(self.files.sel - top));
        f.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title(title))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            cols[0],
            &mut st,
        );
        let folder = match self.files.rows.get(self.files.sel) {
            Some(Row::Dir {
                name,
                files,
                deleted,
                ..
            }) if self.files.tree => Some(vec![
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
        let text = match &self.files.detail {
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

    pub(super) fn detail_lines(&self, a: &ArtifactRecord) -> Vec<Line<'static>> {
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
            a.recovery_detail.as_deref().unwrap_or(a.recovery.as_str())
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
        for g in &a.gaps {
            l.push(Line::from(Span::styled(
                format!("UNREADABLE {}+{} ({})", g.offset, g.len, g.why),
                self.style(Color::Red),
            )));
        }
        l
    }
}
