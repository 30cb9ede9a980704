//! The hex and text view of a file's copy or of the evidence itself.

use super::{App, View};
use crate::key::Key;
use dredge_session::visible;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use std::os::unix::fs::FileExt;

/// The hex view: of the selected file, or of an evidence image when `image` is set.
#[derive(Default)]
pub struct HexView {
    pub off: u64,
    pub image: Option<(String, dredge_session::ImageView)>,
    /// Text instead of hex (`t`).
    pub text: bool,
    /// An offset being typed (`o`), decimal or 0x hex.
    pub goto: Option<String>,
}

impl App {
    /// Size of what the hex view shows.
    pub(super) fn hex_size(&self) -> u64 {
        match &self.hex.image {
            Some((_, v)) => v.size,
            None => self.files.detail.as_ref().map_or(0, |d| d.size),
        }
    }

    pub(super) fn hex_last(&self) -> u64 {
        self.hex_size().saturating_sub(1) / 16 * 16
    }

    pub(super) fn leave_hex(&mut self) {
        self.view = if self.hex.image.take().is_some() {
            View::Evidence
        } else {
            View::Files
        };
    }

    /// Opens the hex view on the selected evidence image, at the sector map's offset.
    pub(super) fn open_image_hex(&mut self) {
        let Some(e) = self.case.evidence.get(self.evidence.sel) else {
            return;
        };
        match dredge_session::open_image(&e.row) {
            Ok(v) => {
                self.hex.image = Some((e.row.label.clone(), v));
                self.hex.off = self.evidence.map_off / 16 * 16;
                self.view = View::Hex;
            }
            Err(f) => self.status = format!("cannot open the image: {}", visible(&f.0)),
        }
    }

    pub(super) fn key_hex(&mut self, k: Key) {
        let last = self.hex_last();
        if self.hex.text {
            let steps = match k {
                Key::Down | Key::Char('j') => Some((true, 1)),
                Key::Up | Key::Char('k') => Some((false, 1)),
                Key::PageDown => Some((true, 16)),
                Key::PageUp => Some((false, 16)),
                _ => None,
            };
            if let Some((down, n)) = steps {
                for _ in 0..n {
                    self.hex.off = self.text_step(down);
                }
                return;
            }
        }
        match k {
            Key::Char('t') => {
                self.hex.text = !self.hex.text;
                self.hex.off = self.hex.off / 16 * 16;
            }
            Key::Esc | Key::Char('h') | Key::Left => self.leave_hex(),
            Key::Up | Key::Char('k') => self.hex.off = self.hex.off.saturating_sub(16),
            Key::Down | Key::Char('j') => self.hex.off = (self.hex.off + 16).min(last),
            Key::PageUp => self.hex.off = self.hex.off.saturating_sub(16 * 16),
            Key::PageDown => self.hex.off = (self.hex.off + 16 * 16).min(last),
            Key::Home | Key::Char('g') => self.hex.off = 0,
            Key::End | Key::Char('G') => self.hex.off = last,
            Key::Char('o') => self.hex.goto = Some(String::new()),
            _ => {}
        }
    }

    /// Sixteen bytes a line, from the extracted copy; bytes that were unreadable on
    /// the medium are `??` (they are zeros in the copy, but not real zeros).
    /// Bytes of what the hex view shows (the image, or the file's extracted copy),
    /// the unreadable ranges among them in the same offsets, and a read error if any.
    pub(super) fn hex_read(&self, off: u64, want: usize) -> (Vec<u8>, Vec<(u64, u64)>, String) {
        match &self.hex.image {
            Some((_, v)) => match v.read(off, want) {
                Ok((b, bad)) => (b, bad, String::new()),
                Err(e) => (Vec::new(), Vec::new(), format!(" · {}", visible(&e.0))),
            },
            None => {
                let Some(a) = &self.files.detail else {
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
                let bad = a.gaps.iter().map(|g| (g.offset, g.len)).collect();
                (buf, bad, String::new())
            }
        }
    }

    /// The bytes as text lines: control characters escaped like names, bytes that
    /// were unreadable as red `░`.
    pub(super) fn text_lines(
        &self,
        buf: &[u8],
        bad: &[(u64, u64)],
        rows: usize,
    ) -> Vec<Line<'static>> {
        let is_bad = |o: u64| bad.iter().any(|&(s, l)| o >= s && o < s + l);
        let mut lines = Vec::new();
        let mut start = 0usize;
        for line in buf.split_inclusive(|&b| b == b'\n').take(rows) {
            let mut spans = Vec::new();
            let mut i = 0;
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            while i < body.len() {
                let here = is_bad(self.hex.off + (start + i) as u64);
                let mut j = i;
                while j < body.len() && is_bad(self.hex.off + (start + j) as u64) == here {
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
    pub(super) fn text_step(&self, down: bool) -> u64 {
        if down {
            let (buf, _, _) = self.hex_read(self.hex.off, 4096);
            let n = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len().min(80), |p| p + 1);
            (self.hex.off + n as u64).min(self.hex_size().saturating_sub(1))
        } else {
            let from = self.hex.off.saturating_sub(4096);
            let (buf, _, _) = self.hex_read(from, (self.hex.off - from) as usize);
            // Skip the newline ending the previous line, then find the one before it.
            let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match body.iter().rposition(|&b| b == b'\n') {
                Some(p) => from + p as u64 + 1,
                None => from,
            }
        }
    }

    pub(super) fn draw_hex(&self, f: &mut Frame, r: Rect) {
        let rows = r.height.saturating_sub(2) as u64;
        let want = if self.hex.text {
            (rows * u64::from(r.width)) as usize
        } else {
            (rows * 16) as usize
        };
        let (buf, bad, err) = self.hex_read(self.hex.off, want);
        let size = self.hex_size();
        let title = match &self.hex.image {
            Some((label, _)) => format!(
                "{} · {} image · offset {} of {size} · {} = unreadable{err}",
                if self.hex.text { "Text" } else { "Hex" },
                visible(label),
                self.hex.off,
                if self.hex.text { "░" } else { "??" },
            ),
            None => format!(
                "{} · {} · {size} bytes · {} = unreadable on the medium{err}",
                if self.hex.text { "Text" } else { "Hex" },
                self.files
                    .detail
                    .as_ref()
                    .map_or(String::new(), |a| visible(&a.path).into_owned()),
                if self.hex.text { "░" } else { "??" },
            ),
        };
        if self.hex.text {
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
            let base = self.hex.off + row * 16;
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
}
