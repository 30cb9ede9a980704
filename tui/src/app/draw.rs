//! The frame: the tab bar, the view's area, the help overlay.

use super::{App, View};
use dredge_session::visible;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

impl App {
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
        if self.evidence.map_zoom == 0 {
            // The map's cells, as draw_evidence lays them out.
            let cells = u64::from(area.width.saturating_sub(20))
                * u64::from(area.height.saturating_sub(14)).max(1);
            let size = self
                .case
                .evidence
                .get(self.evidence.sel)
                .map_or(0, |e| e.row.size);
            self.evidence.map_zoom = size.div_ceil(cells.max(1)).max(1);
        }
        match self.view {
            View::Evidence => self.draw_evidence(f, rows[1]),
            View::Files => self.draw_files(f, rows[1]),
            View::Hex => self.draw_hex(f, rows[1]),
            View::Log => self.draw_log(f, rows[1]),
            View::Jobs => self.draw_jobs(f, rows[1]),
        }
        let hint = if let Some(g) = &self.hex.goto {
            format!("go to offset (decimal or 0x hex): {g}▏ (Enter go, Esc cancel)")
        } else if self.files.typing {
            format!(
                "search: {}▏ {}",
                visible(&self.files.search),
                match &self.files.search_error {
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
        if let Some(r) = &self.jobs.running {
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

    pub(super) fn draw_top(&self, f: &mut Frame, r: Rect) {
        let tab = |n: &str, v: View| {
            let from = if self.hex.image.is_some() {
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

    pub(super) fn draw_help(&self, f: &mut Frame, area: Rect) {
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
