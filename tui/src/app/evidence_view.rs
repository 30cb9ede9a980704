//! The evidence view: each evidence with its checks, and its sector map.

use super::{App, Cell};
use crate::data::Evidence;
use crate::key::Key;
use dredge_session::{visible, VolumeKind};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

/// The evidence list and its sector map.
#[derive(Default)]
pub struct EvidenceView {
    pub sel: usize,
    /// Bytes a map cell stands for; 0 fits the whole medium on the first draw.
    pub map_zoom: u64,
    pub map_off: u64,
}

impl App {
    pub(super) fn key_evidence(&mut self, k: Key) {
        let n = self.case.evidence.len();
        match k {
            Key::Up | Key::Char('k') => {
                self.evidence.sel = self.evidence.sel.saturating_sub(1);
                (self.evidence.map_zoom, self.evidence.map_off) = (0, 0);
            }
            Key::Down | Key::Char('j') => {
                self.evidence.sel = (self.evidence.sel + 1).min(n.saturating_sub(1));
                (self.evidence.map_zoom, self.evidence.map_off) = (0, 0);
            }
            Key::Char('+') => self.evidence.map_zoom = (self.evidence.map_zoom / 2).max(1),
            Key::Char('-') => {
                self.evidence.map_zoom = self.evidence.map_zoom.saturating_mul(2).min(1 << 40)
            }
            Key::Left | Key::Char('h') => {
                self.evidence.map_off = self
                    .evidence
                    .map_off
                    .saturating_sub(self.evidence.map_zoom * 64)
            }
            Key::Right | Key::Char('l') => {
                let size = self
                    .case
                    .evidence
                    .get(self.evidence.sel)
                    .map_or(0, |e| e.row.size);
                self.evidence.map_off = (self.evidence.map_off + self.evidence.map_zoom * 64)
                    .min(size.saturating_sub(1));
            }
            Key::Home | Key::Char('g') => self.evidence.map_off = 0,
            Key::Enter | Key::Char('x') => self.open_image_hex(),
            _ => {}
        }
    }

    pub(super) fn draw_evidence(&self, f: &mut Frame, r: Rect) {
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
        let mut st = ListState::default().with_selected(Some(self.evidence.sel));
        f.render_stateful_widget(
            List::new(items)
                .block(Block::default().borders(Borders::ALL).title("Evidence"))
                .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
            cols[0],
            &mut st,
        );
        let Some(e) = self.case.evidence.get(self.evidence.sel) else {
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
        // Encrypted volumes first (locked or opened, with their protectors),
        // then the rest, as many as the panel holds.
        let mut shown = 0;
        for c in &e.encrypted {
            if shown == 2 {
                break;
            }
            let state = match c.opened_as {
                Some(d) => format!("opened as vol{d}"),
                None if c.what.starts_with("possible") => "no key given".to_string(),
                None => "locked".to_string(),
            };
            let prot = if c.protectors.is_empty() {
                String::new()
            } else {
                format!(" · {}", c.protectors.join(", "))
            };
            lines.push(Line::from(Span::styled(
                format!("vol{} {} encrypted, {state}{prot}", c.idx, c.what),
                self.style(Color::Magenta),
            )));
            shown += 1;
        }
        let plain: Vec<_> = e
            .volumes
            .iter()
            .filter(|v| !e.encrypted.iter().any(|c| c.idx == v.idx))
            .collect();
        for v in plain.iter().take(2 - shown) {
            let fs: Vec<String> = v.filesystems.iter().map(|(t, _)| t.clone()).collect();
            lines.push(Line::from(format!(
                "vol{} @{} +{} {} {}",
                v.idx,
                v.start,
                v.len,
                visible(&v.kind),
                fs.join(",")
            )));
            shown += 1;
        }
        let rest =
            e.volumes.len() + e.encrypted.len().saturating_sub(2) - shown.min(e.volumes.len());
        let rest = rest.min(e.volumes.len().saturating_sub(shown));
        if rest > 0 {
            lines.push(Line::from(format!("… {rest} more volumes")));
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
    pub(super) fn draw_map(&self, f: &mut Frame, r: Rect, e: &Evidence) {
        let inner_w = r.width.saturating_sub(2) as u64;
        let inner_h = r.height.saturating_sub(3) as u64;
        let cells = (inner_w * inner_h) as usize;
        let z = self.evidence.map_zoom.max(1);
        let start = self.evidence.map_off;
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
            // Beneath the files: locked ciphertext, and opened plaintext.
            for c in e.encrypted.iter().filter(|c| c.opened_as.is_none()) {
                if !c.what.starts_with("possible") {
                    mark(c.start, c.len, Cell::Locked);
                }
            }
            for v in e
                .volumes
                .iter()
                .filter(|v| v.volume_kind() == Some(VolumeKind::Decrypted))
            {
                mark(v.start, v.len, Cell::Decrypted);
            }
            for r in &e.runs {
                let c = if r.origin == Some(dredge_session::ArtifactOrigin::Carved) {
                    Cell::Carved
                } else if r.deleted {
                    Cell::Deleted
                } else {
                    Cell::Allocated
                };
                mark(r.offset, r.len, c);
            }
            for (o, l) in e.gaps.iter().map(|g| (&g.offset, &g.len)) {
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
                        Cell::Locked => ('E', Color::Magenta),
                        Cell::Decrypted => ('+', Color::Blue),
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
        // The encrypted marks are named only where there are some.
        let crypt = if e.encrypted.iter().any(|c| !c.what.starts_with("possible")) {
            "E locked  + decrypted  "
        } else {
            ""
        };
        lines.push(Line::from(format!(
            "# file  d deleted  c carved  X unreadable  {crypt}· free   {start}..{end} · {z} B/cell"
        )));
        f.render_widget(
            Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(
                if self.case.runs_pending() {
                    "Sector map (placing the files…)"
                } else {
                    "Sector map"
                },
            )),
            r,
        );
    }
}

/// An evidence digest, or why there is none (the examiner chose other hashes).
fn digest(d: &Option<String>) -> &str {
    d.as_deref().unwrap_or("not computed (--hash)")
}
